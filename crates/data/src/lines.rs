//! Bounded, streaming reads of the crate's input files, and short excerpts for error messages.
//!
//! Trace and video files are read line by line through a [`BufRead`] (never whole), each line
//! through a window of [`MAX_LINE_BYTES`] + 1 bytes, and a file stops being read after
//! [`MAX_INPUT_FILE_BYTES`]. So memory stays bounded by what the parsed result needs, whatever the
//! input (a 1 GB file with no newline costs a few KiB before it is refused), and every message
//! quotes at most [`EXCERPT_CHARS`] characters of the input ([`excerpt`]).

use crate::error::DataError;
use std::io::{BufRead, Read};
use std::path::Path;

/// Longest accepted line of a trace or video file, bytes (newline excluded). A real line is a few
/// dozen bytes (`12.5<TAB>3.1415`, a timestamp, a chunk size); a longer one is a wrong file.
pub const MAX_LINE_BYTES: usize = 4096;

/// Largest accepted trace or video file, bytes: 64 MiB. Real traces are far below (Pensieve's
/// cooked traces are a few KiB, the largest Mahimahi trace we know, TMobile-LTE-driving.down,
/// 3.4 MB, a two-hour video descriptor with ten levels and quality tables about 3 MB); the cap
/// bounds the memory a wrong or hostile file can make a loader use.
pub const MAX_INPUT_FILE_BYTES: u64 = 64 << 20;

/// Most characters of an input's text an error message quotes ([`excerpt`]).
pub const EXCERPT_CHARS: usize = 40;

/// At most [`EXCERPT_CHARS`] characters of `text`, followed by `...` when it was cut; control
/// characters become `?`, so a quoted excerpt is one short printable line.
pub fn excerpt(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(EXCERPT_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().nth(EXCERPT_CHARS).is_some() {
        out.push_str("...");
    }
    out
}

/// [`excerpt`] of bytes that may not be UTF-8 (invalid sequences become U+FFFD).
fn excerpt_bytes(bytes: &[u8]) -> String {
    // Four bytes per character at most: enough to fill an excerpt.
    excerpt(&String::from_utf8_lossy(
        &bytes[..bytes.len().min(4 * EXCERPT_CHARS + 4)],
    ))
}

/// Refuses a file larger than `max_bytes` from its metadata, before reading any of it.
pub(crate) fn check_file_size(
    path: &Path,
    len_bytes: u64,
    max_bytes: u64,
) -> Result<(), DataError> {
    if len_bytes > max_bytes {
        return Err(too_large(path, max_bytes));
    }
    Ok(())
}

fn too_large(path: &Path, max_bytes: u64) -> DataError {
    DataError::other(
        path,
        format!(
            "the file is larger than {} MiB, the limit for a trace or video file (real ones are a \
             few MiB at most); check that this is the right file, or split it",
            max_bytes >> 20
        ),
    )
}

/// Calls `f(line_number, line)` for every non-blank line of `reader`, trimmed, with a leading UTF-8
/// byte-order mark removed; `path` names the input in errors. Stops with an error naming the line
/// at a line longer than [`MAX_LINE_BYTES`], at invalid UTF-8, and once more than `max_bytes` have
/// been read; reads at most `max_bytes + MAX_LINE_BYTES + 1` bytes and holds one line at a time.
pub(crate) fn for_each_line<R: BufRead>(
    path: &Path,
    mut reader: R,
    max_bytes: u64,
    mut f: impl FnMut(usize, &str) -> Result<(), DataError>,
) -> Result<(), DataError> {
    let mut buf = Vec::with_capacity(128);
    let mut total_bytes: u64 = 0;
    let mut line = 0usize;
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| DataError::io(path, e))?;
        if n == 0 {
            return Ok(());
        }
        line += 1;
        total_bytes += n as u64;
        if total_bytes > max_bytes {
            return Err(too_large(path, max_bytes));
        }
        if buf.last() != Some(&b'\n') && n > MAX_LINE_BYTES {
            return Err(DataError::parse(
                path,
                line,
                format!(
                    "the line is longer than {MAX_LINE_BYTES} bytes (it starts '{}'); a trace or \
                     chunk-size file has short lines of numbers: check that this is the right file",
                    excerpt_bytes(&buf)
                ),
            ));
        }
        let text = std::str::from_utf8(&buf).map_err(|e| {
            DataError::parse(
                path,
                line,
                format!(
                    "not a text file (invalid UTF-8 at byte {} of the line, which starts '{}')",
                    e.valid_up_to() + 1,
                    excerpt_bytes(&buf)
                ),
            )
        })?;
        let text = if line == 1 {
            crate::without_bom(text)
        } else {
            text
        };
        let text = text.trim();
        if !text.is_empty() {
            f(line, text)?;
        }
    }
}

/// Reads a whole (non line-oriented) file such as a JSON descriptor into a string, refusing one
/// larger than `max_bytes` before reading it and stopping at `max_bytes` + 1 bytes if it grows.
pub(crate) fn read_bounded(path: &Path, max_bytes: u64) -> Result<Vec<u8>, DataError> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
    check_file_size(path, len, max_bytes)?;
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| DataError::io(path, e))?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large(path, max_bytes));
    }
    Ok(bytes)
}

/// Opens a line-oriented input file after checking its size (see [`for_each_line`]).
pub(crate) fn open_bounded(
    path: &Path,
    max_bytes: u64,
) -> Result<std::io::BufReader<std::fs::File>, DataError> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
    check_file_size(path, len, max_bytes)?;
    Ok(std::io::BufReader::new(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[u8]) -> Result<Vec<(usize, String)>, DataError> {
        let mut out = Vec::new();
        for_each_line(Path::new("f"), text, MAX_INPUT_FILE_BYTES, |n, l| {
            out.push((n, l.to_string()));
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn lines_are_trimmed_numbered_and_blank_ones_skipped() {
        let got = lines("\u{feff}a \r\n\n  b\nc".as_bytes()).unwrap();
        assert_eq!(got, [(1, "a".into()), (3, "b".into()), (4, "c".into())]);
    }

    #[test]
    fn a_line_of_exactly_the_limit_passes_and_one_byte_more_fails() {
        let ok = format!(
            "{}\n{}",
            "1".repeat(MAX_LINE_BYTES),
            "2".repeat(MAX_LINE_BYTES)
        );
        assert_eq!(lines(ok.as_bytes()).unwrap().len(), 2);
        let long = format!("1\n{}\n", "x".repeat(MAX_LINE_BYTES + 1));
        let e = lines(long.as_bytes()).unwrap_err().to_string();
        assert!(
            e.starts_with("f:2: the line is longer than 4096 bytes"),
            "{e}"
        );
        assert!(e.len() < 300, "{e}");
    }

    #[test]
    fn invalid_utf8_names_line_and_byte() {
        let e = lines(b"1\nab\xffc\n").unwrap_err().to_string();
        assert!(
            e.starts_with("f:2: not a text file (invalid UTF-8 at byte 3"),
            "{e}"
        );
    }

    #[test]
    fn excerpts_are_short_and_printable() {
        assert_eq!(excerpt("abc"), "abc");
        assert_eq!(excerpt("a\tb"), "a?b");
        let long = "é".repeat(1000);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 3);
        assert!(e.ends_with("..."));
    }

    #[test]
    fn the_byte_limit_counts_every_line() {
        let text = "1\n".repeat(100);
        let e = for_each_line(Path::new("f"), text.as_bytes(), 50, |_, _| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("larger than"), "{e}");
    }
}
