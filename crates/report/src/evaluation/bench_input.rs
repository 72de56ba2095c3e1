//! Rows from a `bench` results folder's `chunks.csv` (one row per chunk of every session, written
//! by `neuralstream-eval`), so `neuralstream report --results DIR` evaluates simulated sessions
//! exactly as `--telemetry` evaluates the events `bench --telemetry` writes for them: the same
//! arithmetic maps a chunk to its request and response times (`request_s * 1000`, plus
//! `delay_ms`).
//!
//! Columns are found by their header names, so added columns do not matter; fields follow RFC
//! 4180 quoting (what `csv_field` writes). Bad input is refused with the file, the line and the
//! column.

use super::{EventRow, RowKind};
use crate::ReportError;
use std::path::Path;

/// Largest `chunks.csv` read, bytes (a bound on what a wrong path can make us allocate).
pub const MAX_CHUNKS_CSV_BYTES: u64 = 1 << 30;

/// The columns read, by header name.
const NEEDED: [&str; 8] = [
    "algorithm",
    "trace",
    "chunk",
    "bitrate_kbps",
    "size_bytes",
    "delay_ms",
    "rebuffer_s",
    "request_s",
];

/// The session id of an algorithm's session on a trace in a results folder.
pub fn session_id(algorithm: &str, trace: &str) -> String {
    format!("{algorithm}/{trace}")
}

/// A CSV record: the line it starts on (1-based) and its fields.
type Record = (usize, Vec<String>);

/// Splits CSV text into records of fields (RFC 4180: quoted fields may hold commas, quotes
/// doubled, and line breaks), each with the line it starts on (1-based).
fn records(text: &str) -> Result<Vec<Record>, (usize, String)> {
    let mut out = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut start_line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => fields.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                fields.push(std::mem::take(&mut field));
                out.push((start_line, std::mem::take(&mut fields)));
                line += 1;
                start_line = line;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err((start_line, "a quoted field is never closed".into()));
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        out.push((start_line, fields));
    }
    Ok(out)
}

/// The chunk rows of `path` (a `chunks.csv`): source `bench`, session [`session_id`].
pub fn read_chunks_csv(path: &Path) -> Result<Vec<EventRow>, ReportError> {
    let bad = |line: usize, problem: String| ReportError::Input {
        path: path.to_path_buf(),
        line,
        problem,
    };
    let io = |source: std::io::Error| ReportError::Read {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_CHUNKS_CSV_BYTES {
        return Err(bad(
            0,
            format!("{size} bytes, over the {MAX_CHUNKS_CSV_BYTES}-byte limit"),
        ));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        bad(
            0,
            format!(
                "not UTF-8 text (byte {}): is this a chunks.csv?",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    let mut recs = records(&text)
        .map_err(|(line, p)| bad(line, p))?
        .into_iter();
    let Some((_, header)) = recs.next() else {
        return Err(bad(
            1,
            "empty file; expected the header of a bench chunks.csv".into(),
        ));
    };
    let mut at = [0usize; NEEDED.len()];
    for (slot, name) in at.iter_mut().zip(NEEDED) {
        *slot = header.iter().position(|h| h == name).ok_or_else(|| {
            bad(
                1,
                format!("no `{name}` column; expected the header of a bench chunks.csv"),
            )
        })?;
    }
    let mut rows = Vec::new();
    for (line, fields) in recs {
        if fields.len() == 1 && fields[0].is_empty() {
            continue;
        }
        if fields.len() != header.len() {
            return Err(bad(
                line,
                format!(
                    "{} fields where the header has {}",
                    fields.len(),
                    header.len()
                ),
            ));
        }
        let field = |k: usize| fields[at[k]].as_str();
        let number = |k: usize| -> Result<f64, ReportError> {
            let v: f64 = field(k).parse().map_err(|_| {
                bad(
                    line,
                    format!("`{}` is not a number: `{}`", NEEDED[k], excerpt(field(k))),
                )
            })?;
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(bad(
                    line,
                    format!("`{}` must be a finite number >= 0, got {v}", NEEDED[k]),
                ))
            }
        };
        let integer = |k: usize| -> Result<u64, ReportError> {
            field(k).parse().map_err(|_| {
                bad(
                    line,
                    format!(
                        "`{}` is not a whole number >= 0: `{}`",
                        NEEDED[k],
                        excerpt(field(k))
                    ),
                )
            })
        };
        let chunk = u32::try_from(integer(2)?)
            .map_err(|_| bad(line, "`chunk` is over 2^32".to_string()))?;
        let request_ms = number(7)? * 1000.0;
        let mut r = EventRow::new(RowKind::Chunk, "bench", &session_id(field(0), field(1)));
        r.algorithm = Some(field(0).to_string());
        r.chunk = Some(chunk);
        r.bitrate_kbps = Some(number(3)?);
        r.size_bytes = Some(integer(4)?);
        r.request_start_ms = Some(request_ms);
        r.response_end_ms = Some(request_ms + number(5)?);
        r.rebuffer_s = Some(number(6)?);
        rows.push(r);
    }
    Ok(rows)
}

/// At most 40 characters of `s`, for messages.
fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "algorithm,trace,chunk,level,bitrate_kbps,size_bytes,delay_ms,sleep_ms,rebuffer_s,buffer_s,request_s,finish_s,throughput_kbps,reward,predicted_throughput_kbps,buffer_target_s";

    fn file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("chunks.csv");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    #[test]
    fn rows_follow_the_telemetry_mapping_and_quoted_names() {
        let (_d, p) = file(&format!(
            "{HEADER}\nbb,\"a,b\"\"c\",0,1,750,93750,1080.5,0,1.5,2.5,0,1.08,694.1,0.1,,\r\nbb,t2,1,0,300,1,80,0,0,4,1.25,1.3,0.1,0.3,300,\n"
        ));
        let rows = read_chunks_csv(&p).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].session, "bb/a,b\"c");
        assert_eq!(rows[0].algorithm.as_deref(), Some("bb"));
        assert_eq!(rows[0].size_bytes, Some(93750));
        assert_eq!(rows[0].rebuffer_s, Some(1.5));
        assert_eq!(rows[0].response_end_ms, Some(1080.5));
        assert_eq!(rows[1].request_start_ms, Some(1250.0));
        assert_eq!(rows[1].response_end_ms, Some(1250.0 + 80.0));
        assert_eq!(rows[1].chunk, Some(1));
    }

    #[test]
    fn bad_input_names_the_file_line_and_column() {
        let (_d, p) = file(&format!("{HEADER}\nbb,t,0,0,300,1,-5,0,0,4,0,0,0,0,,\n"));
        let msg = read_chunks_csv(&p).unwrap_err().to_string();
        assert!(
            msg.contains("chunks.csv") && msg.contains("line 2") && msg.contains("delay_ms"),
            "{msg}"
        );
        let (_d, p) = file(&format!("{HEADER}\nbb,t,zero,0,300,1,5,0,0,4,0,0,0,0,,\n"));
        let msg = read_chunks_csv(&p).unwrap_err().to_string();
        assert!(msg.contains("line 2") && msg.contains("`chunk`"), "{msg}");
        let (_d, p) = file("algorithm,trace\nbb,t\n");
        assert!(read_chunks_csv(&p)
            .unwrap_err()
            .to_string()
            .contains("no `chunk` column"));
        let (_d, p) = file(&format!("{HEADER}\nbb,t,0\n"));
        assert!(read_chunks_csv(&p)
            .unwrap_err()
            .to_string()
            .contains("3 fields"));
        let (_d, p) = file(&format!("{HEADER}\nbb,\"t,0\n"));
        assert!(read_chunks_csv(&p)
            .unwrap_err()
            .to_string()
            .contains("never closed"));
        let (_d, p) = file("");
        assert!(read_chunks_csv(&p)
            .unwrap_err()
            .to_string()
            .contains("empty file"));
        let (_d, p) = file("\u{0}\u{ff}");
        std::fs::write(&p, [0xffu8, 0xfe, 0x00]).unwrap();
        assert!(read_chunks_csv(&p)
            .unwrap_err()
            .to_string()
            .contains("not UTF-8"));
    }
}
