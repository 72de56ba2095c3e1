//! Video descriptions: Pensieve's `video_size_*` folders and NeuralStream JSON descriptors.
//!
//! A Pensieve folder holds one file per quality level, `video_size_0` (lowest) to
//! `video_size_<N-1>` (highest), each listing one chunk size in bytes per line. The files carry no
//! bitrate and no chunk duration, so the loader assumes both:
//!
//! * chunks are [`PENSIEVE_CHUNK_S`] (4 s) long;
//! * **six files** are read as Pensieve's own ladder, 300, 750, 1200, 1850, 2850 and 4300 kbit/s
//!   ([`Ladder::pensieve`]); each level's mean bitrate (mean bytes x 8 / 4 s) must lie within
//!   0.5x..2x of its nominal rung, or loading fails;
//! * **any other count** gets each level's bitrate from its mean chunk size over 4 s chunks.
//!
//! The levels must be numbered 0..N-1 without gaps, and every level's mean chunk size must be
//! strictly larger than the previous level's. To describe any other video (another ladder, another
//! chunk duration, quality scores), write a `video.json` descriptor (see [`crate::descriptor`]).

use crate::descriptor::parse_descriptor;
use crate::error::DataError;
use crate::lines::{excerpt, for_each_line, open_bounded, read_bounded, MAX_INPUT_FILE_BYTES};
use neuralstream_core::video::Ladder;
use neuralstream_core::Video;
use std::path::Path;

/// Chunk duration of Pensieve's test video, seconds.
pub const PENSIEVE_CHUNK_S: f64 = 4.0;

/// How far (as a factor, both ways) a level's measured mean bitrate may be from its nominal rung
/// in a six-file Pensieve folder.
pub const PENSIEVE_LADDER_TOLERANCE: f64 = 2.0;

/// Prefix of Pensieve's per-level chunk-size files.
const LEVEL_PREFIX: &str = "video_size_";

/// Loads a video from `path`: a `.json` descriptor, a folder holding `video.json`, or a folder of
/// Pensieve `video_size_0..N-1` files (see [`load_pensieve_video`] for what is assumed about those).
pub fn load_video(path: &Path) -> Result<Video, DataError> {
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    if meta.is_file() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with(LEVEL_PREFIX) {
            return Err(DataError::other(
                path,
                "this is one level's chunk-size file; pass the folder that holds the video_size_0..N-1 files",
            ));
        }
        let bytes = read_bounded(path, MAX_INPUT_FILE_BYTES)?;
        let looks_json =
            crate::without_bom(&String::from_utf8_lossy(&bytes[..bytes.len().min(64)]))
                .trim_start()
                .starts_with('{');
        let text = String::from_utf8(bytes)
            .ok()
            .filter(|_| looks_json)
            .ok_or_else(|| {
                DataError::other(
                    path,
                    "not a video descriptor (a video.json JSON object); for a media file run `neuralstream package` first and pass the video.json it writes",
                )
            })?;
        return parse_descriptor(path, &text);
    }
    let json = path.join("video.json");
    if json.is_file() {
        return load_video(&json);
    }
    if !scan_level_files(path)?.is_empty() {
        return load_pensieve_video(path);
    }
    Err(DataError::other(
        path,
        "not a video: expected a video.json descriptor or a folder with video.json or Pensieve's video_size_0..N-1 files",
    ))
}

/// Loads Pensieve's folder of `video_size_<level>` files (bytes per chunk, one integer per line).
///
/// The files must be numbered `video_size_0..video_size_<N-1>` without gaps (other files in the
/// folder are ignored), every level must have the same chunk count, and each level's mean chunk
/// size must be strictly larger than the previous level's.
///
/// The files carry no bitrate, so the ladder is assumed, with 4 s chunks ([`PENSIEVE_CHUNK_S`]):
///
/// * **six files** get Pensieve's ladder, 300, 750, 1200, 1850, 2850, 4300 kbit/s
///   ([`Ladder::pensieve`]); a level whose mean bitrate (mean bytes x 8 / 4 s) is not within
///   0.5x..2x of its rung is an error, since the folder is then not Pensieve's video;
/// * **any other count** gets each level's bitrate from its mean chunk size (mean bytes x 8 / 4 s).
///
/// For another ladder or chunk duration, write a `video.json` descriptor instead.
pub fn load_pensieve_video(dir: &Path) -> Result<Video, DataError> {
    let numbers = scan_level_files(dir)?;
    check_contiguous(dir, &numbers)?;
    let mut levels: Vec<Vec<u64>> = Vec::new();
    for level in 0..numbers.len() {
        let f = dir.join(level_name(level));
        let sizes = read_level_file(&f)?;
        if let Some(first) = levels.first() {
            if first.len() != sizes.len() {
                return Err(DataError::other(
                    &f,
                    format!(
                        "has {} chunks but video_size_0 has {}; every level needs the same chunk count",
                        sizes.len(),
                        first.len()
                    ),
                ));
            }
        }
        levels.push(sizes);
    }
    let mean_kbps: Vec<f64> = levels.iter().map(|s| mean_kbps(s)).collect();
    check_increasing(dir, &mean_kbps)?;
    let pensieve = Ladder::pensieve();
    let ladder = if levels.len() == pensieve.len() {
        check_pensieve_ladder(dir, &mean_kbps, &pensieve)?;
        pensieve
    } else {
        Ladder::from_kbps(&mean_kbps)
    };
    let folder = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = format!("pensieve-video_size ({folder})");
    Video::new(name, PENSIEVE_CHUNK_S, ladder, levels, vec![]).map_err(|source| {
        DataError::Invalid {
            path: dir.to_path_buf(),
            source,
        }
    })
}

fn level_name(level: usize) -> String {
    format!("{LEVEL_PREFIX}{level}")
}

/// Level numbers of every `video_size_<n>` entry in `dir`, sorted. Other names are ignored; a
/// number written with leading zeros or too large to be a level is an error.
fn scan_level_files(dir: &Path) -> Result<Vec<usize>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut numbers = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(digits) = name.strip_prefix(LEVEL_PREFIX) else {
            continue;
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let path = dir.join(name);
        let n: usize = digits.parse().map_err(|_| {
            DataError::other(
                &path,
                "the level number is too large: levels must be numbered video_size_0..video_size_<N-1> without gaps",
            )
        })?;
        if n.to_string() != digits {
            return Err(DataError::other(
                &path,
                format!(
                    "level numbers must be written without leading zeros: rename it to {}",
                    level_name(n)
                ),
            ));
        }
        numbers.push(n);
    }
    numbers.sort_unstable();
    Ok(numbers)
}

/// Checks that the sorted level numbers are exactly `0..N-1`; otherwise names each gap.
fn check_contiguous(dir: &Path, numbers: &[usize]) -> Result<(), DataError> {
    let Some(&max) = numbers.last() else {
        return Err(DataError::other(
            dir,
            "no video_size_<n> file: a Pensieve video folder holds video_size_0..video_size_<N-1>, one chunk size in bytes per line",
        ));
    };
    if max + 1 == numbers.len() {
        return Ok(());
    }
    // Describe every maximal run of missing numbers below the highest one found.
    let mut gaps = Vec::new();
    let mut expected = 0;
    for &n in numbers {
        if n > expected {
            let (a, b) = (expected, n - 1);
            let what = if a == b {
                format!("{} is missing", level_name(a))
            } else {
                format!("{}..{} are missing", level_name(a), level_name(b))
            };
            let where_ = if a == 0 {
                format!("below {}", level_name(n))
            } else {
                format!("between {} and {}", level_name(a - 1), level_name(n))
            };
            gaps.push(format!("{what} {where_}"));
        }
        expected = n + 1;
    }
    let found = numbers
        .iter()
        .map(|&n| level_name(n))
        .collect::<Vec<_>>()
        .join(", ");
    Err(DataError::other(
        dir,
        format!(
            "{}: levels must be numbered 0..N-1 without gaps (found {found}). Restore the missing \
             file(s), or renumber the files so they run video_size_0..{} from lowest to highest \
             quality; move a stray video_size_<n> that is not part of this video out of the folder",
            gaps.join("; "),
            level_name(numbers.len() - 1)
        ),
    ))
}

/// Reads one level file, streaming: one positive whole number of bytes per non-empty line.
fn read_level_file(f: &Path) -> Result<Vec<u64>, DataError> {
    let mut sizes = Vec::new();
    for_each_line(
        f,
        open_bounded(f, MAX_INPUT_FILE_BYTES)?,
        MAX_INPUT_FILE_BYTES,
        |line, l| {
            let v: u64 = l.parse().map_err(|_| {
                DataError::parse(
                    f,
                    line,
                    format!("'{}' is not a whole number of bytes", excerpt(l)),
                )
            })?;
            if v == 0 {
                return Err(DataError::parse(
                    f,
                    line,
                    "a chunk of 0 bytes is not a chunk",
                ));
            }
            sizes.push(v);
            Ok(())
        },
    )?;
    if sizes.is_empty() {
        return Err(DataError::other(
            f,
            "the file is empty; it must list one chunk size in bytes per line",
        ));
    }
    Ok(sizes)
}

/// Mean bitrate of a level, kbit/s: mean chunk bytes x 8 / [`PENSIEVE_CHUNK_S`].
fn mean_kbps(sizes: &[u64]) -> f64 {
    let total: u128 = sizes.iter().map(|&b| u128::from(b)).sum();
    total as f64 / sizes.len() as f64 * 8.0 / PENSIEVE_CHUNK_S / 1000.0
}

/// Checks that every level's mean size is strictly larger than the previous level's.
fn check_increasing(dir: &Path, mean_kbps: &[f64]) -> Result<(), DataError> {
    for k in 1..mean_kbps.len() {
        if mean_kbps[k] > mean_kbps[k - 1] {
            continue;
        }
        return Err(DataError::other(
            &dir.join(level_name(k)),
            format!(
                "mean chunk size {:.0} kbit/s (at {PENSIEVE_CHUNK_S} s chunks) is not larger than \
                 {}'s {:.0} kbit/s: level {k} must be larger than level {} (sizes increase with the \
                 level). The files may be swapped or misnumbered: video_size_0 must hold the \
                 smallest chunks and the highest number the largest",
                mean_kbps[k],
                level_name(k - 1),
                mean_kbps[k - 1],
                k - 1
            ),
        ));
    }
    Ok(())
}

/// Checks a six-level folder against Pensieve's nominal ladder it is read as.
fn check_pensieve_ladder(dir: &Path, mean_kbps: &[f64], ladder: &Ladder) -> Result<(), DataError> {
    for (k, (&measured, nominal)) in mean_kbps.iter().zip(ladder.bitrates_kbps()).enumerate() {
        let ratio = measured / nominal;
        if (1.0 / PENSIEVE_LADDER_TOLERANCE..=PENSIEVE_LADDER_TOLERANCE).contains(&ratio) {
            continue;
        }
        return Err(DataError::other(
            &dir.join(level_name(k)),
            format!(
                "mean bitrate {measured:.0} kbit/s (mean chunk bytes x 8 / {PENSIEVE_CHUNK_S} s) is \
                 far from the nominal {nominal:.0} kbit/s of level {k} (must be within {:.1}x..{:.0}x): \
                 a folder of six video_size files is read as Pensieve's ladder (300, 750, 1200, 1850, \
                 2850, 4300 kbit/s, {PENSIEVE_CHUNK_S} s chunks). To use another ladder, write a \
                 video.json descriptor in the folder",
                1.0 / PENSIEVE_LADDER_TOLERANCE,
                PENSIEVE_LADDER_TOLERANCE
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `video_size_<n>` with `chunks` chunks of `bytes` each.
    fn write_level(dir: &Path, n: usize, bytes: u64, chunks: usize) {
        let text: String = (0..chunks).map(|_| format!("{bytes}\n")).collect();
        std::fs::write(dir.join(level_name(n)), text).unwrap();
    }

    /// Bytes of a 4 s chunk at `kbps`.
    fn bytes_at(kbps: f64) -> u64 {
        (kbps * 1000.0 / 8.0 * PENSIEVE_CHUNK_S) as u64
    }

    /// A folder with Pensieve's six levels at their nominal bitrates.
    fn pensieve_like() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (n, kbps) in Ladder::pensieve().bitrates_kbps().into_iter().enumerate() {
            write_level(d.path(), n, bytes_at(kbps), 3);
        }
        d
    }

    #[test]
    fn wrong_kinds_of_video_input_say_what_to_pass() {
        let d = pensieve_like();
        let e = load_video(&d.path().join("video_size_0"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("pass the folder"), "{e}");
        let mp4 = d.path().join("clip.mp4");
        std::fs::write(&mp4, [0u8, 0, 0, 0x20, b'f', b't', b'y', b'p', 0xff, 0xfe]).unwrap();
        let e = load_video(&mp4).unwrap_err().to_string();
        assert!(e.contains("neuralstream package"), "{e}");
        // A byte-order mark is not an error, in a level file or a descriptor.
        let text = std::fs::read_to_string(d.path().join("video_size_0")).unwrap();
        std::fs::write(d.path().join("video_size_0"), format!("\u{feff}{text}")).unwrap();
        let v = load_video(d.path()).unwrap();
        let json = d.path().join("v.json");
        crate::descriptor::write_descriptor(&json, &v).unwrap();
        let text = std::fs::read_to_string(&json).unwrap();
        std::fs::write(&json, format!("\u{feff}{text}")).unwrap();
        assert_eq!(load_video(&json).unwrap().num_chunks(), v.num_chunks());
    }

    #[test]
    fn pensieve_folder_errors_name_file_and_line() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("video_size_0"), "100\n200\n").unwrap();
        std::fs::write(d.path().join("video_size_1"), "300\nabc\n").unwrap();
        let e = load_video(d.path()).unwrap_err().to_string();
        assert!(
            e.ends_with("video_size_1:2: 'abc' is not a whole number of bytes"),
            "{e}"
        );
        std::fs::write(d.path().join("video_size_1"), "300\n").unwrap();
        let e = load_video(d.path()).unwrap_err().to_string();
        assert!(e.contains("has 1 chunks but video_size_0 has 2"), "{e}");
        std::fs::write(d.path().join("video_size_1"), "300\n400\n").unwrap();
        let v = load_video(d.path()).unwrap();
        assert_eq!(v.num_levels(), 2);
        assert_eq!(v.num_chunks(), 2);
    }

    #[test]
    fn pensieve_like_folder_loads_with_nominal_ladder_and_ignores_other_files() {
        let d = pensieve_like();
        std::fs::write(d.path().join("README"), "notes").unwrap();
        std::fs::write(d.path().join("video_size_x"), "junk").unwrap();
        std::fs::write(d.path().join("video_size_3.bak"), "junk").unwrap();
        let v = load_video(d.path()).unwrap();
        assert_eq!(v.num_levels(), 6);
        assert_eq!(v.num_chunks(), 3);
        assert_eq!(v.ladder, Ladder::pensieve());
    }

    #[test]
    fn other_level_counts_get_bitrates_from_mean_size() {
        let d = tempfile::tempdir().unwrap();
        for (n, kbps) in [500.0, 1000.0, 2000.0].into_iter().enumerate() {
            write_level(d.path(), n, bytes_at(kbps), 2);
        }
        let v = load_video(d.path()).unwrap();
        assert_eq!(v.ladder.bitrates_kbps(), vec![500.0, 1000.0, 2000.0]);
    }

    #[test]
    fn gap_is_an_error_naming_the_missing_file() {
        let d = pensieve_like();
        std::fs::remove_file(d.path().join("video_size_3")).unwrap();
        let e = load_video(d.path()).unwrap_err().to_string();
        assert!(e.contains(&d.path().display().to_string()), "{e}");
        assert!(
            e.contains("video_size_3 is missing between video_size_2 and video_size_4"),
            "{e}"
        );
        assert!(e.contains("without gaps"), "{e}");
    }

    #[test]
    fn missing_level_0_is_an_error_not_a_non_video() {
        let d = tempfile::tempdir().unwrap();
        write_level(d.path(), 1, 1000, 2);
        write_level(d.path(), 2, 2000, 2);
        let e = load_video(d.path()).unwrap_err().to_string();
        assert!(
            e.contains("video_size_0 is missing below video_size_1"),
            "{e}"
        );
    }

    #[test]
    fn stray_file_beyond_a_gap_is_an_error() {
        let d = pensieve_like();
        write_level(d.path(), 7, bytes_at(9000.0), 3);
        let e = load_video(d.path()).unwrap_err().to_string();
        assert!(e.contains(&d.path().display().to_string()), "{e}");
        assert!(
            e.contains("video_size_6 is missing between video_size_5 and video_size_7"),
            "{e}"
        );
        // Several gaps are all named.
        std::fs::remove_file(d.path().join("video_size_2")).unwrap();
        std::fs::remove_file(d.path().join("video_size_3")).unwrap();
        let e = load_video(d.path()).unwrap_err().to_string();
        assert!(
            e.contains(
                "video_size_2..video_size_3 are missing between video_size_1 and video_size_4"
            ),
            "{e}"
        );
        assert!(e.contains("video_size_6 is missing"), "{e}");
    }

    #[test]
    fn leading_zeros_are_an_error() {
        let d = pensieve_like();
        write_level(d.path(), 0, 100, 3);
        std::fs::rename(
            d.path().join("video_size_0"),
            d.path().join("video_size_00"),
        )
        .unwrap();
        let e = load_video(d.path()).unwrap_err().to_string();
        assert!(e.contains("video_size_00"), "{e}");
        assert!(e.contains("rename it to video_size_0"), "{e}");
    }

    #[test]
    fn swapped_levels_are_an_error_naming_both_files() {
        let d = pensieve_like();
        write_level(d.path(), 0, bytes_at(4300.0), 3);
        write_level(d.path(), 5, bytes_at(300.0), 3);
        let e = load_video(d.path()).unwrap_err().to_string();
        assert!(
            e.contains(&d.path().join("video_size_1").display().to_string()),
            "{e}"
        );
        assert!(
            e.contains("750 kbit/s (at 4 s chunks) is not larger than video_size_0's 4300 kbit/s"),
            "{e}"
        );
        assert!(e.contains("level 1 must be larger than level 0"), "{e}");
        assert!(e.contains("swapped or misnumbered"), "{e}");
    }

    #[test]
    fn equal_levels_give_a_rounded_message_not_raw_floats() {
        // Five levels (estimated ladder), two with the same mean: caught here with whole kbit/s
        // before core's ladder check would print raw floats.
        let d = tempfile::tempdir().unwrap();
        for (n, bytes) in [1000, 2000, 2000, 3000, 4001].into_iter().enumerate() {
            write_level(d.path(), n, bytes, 7);
        }
        let e = load_video(d.path()).unwrap_err().to_string();
        assert!(
            e.contains(&d.path().join("video_size_2").display().to_string()),
            "{e}"
        );
        assert!(
            e.contains("mean chunk size 4 kbit/s (at 4 s chunks) is not larger than video_size_1's 4 kbit/s"),
            "{e}"
        );
        assert!(!e.contains("4.0") && !e.contains("kbps after"), "{e}");
    }

    #[test]
    fn six_files_far_from_pensieve_ladder_are_an_error() {
        let d = tempfile::tempdir().unwrap();
        // Increasing, but ten times Pensieve's bitrates.
        for (n, kbps) in Ladder::pensieve().bitrates_kbps().into_iter().enumerate() {
            write_level(d.path(), n, bytes_at(kbps * 10.0), 3);
        }
        let e = load_video(d.path()).unwrap_err().to_string();
        assert!(
            e.contains(&d.path().join("video_size_0").display().to_string()),
            "{e}"
        );
        assert!(e.contains("mean bitrate 3000 kbit/s"), "{e}");
        assert!(e.contains("nominal 300 kbit/s of level 0"), "{e}");
        assert!(e.contains("read as Pensieve's ladder"), "{e}");
        assert!(e.contains("video.json"), "{e}");
        // Only one level off (level 4 at 1.5x: fine; level 5 at 3x: not).
        let d = pensieve_like();
        write_level(d.path(), 4, bytes_at(2850.0 * 1.5), 3);
        write_level(d.path(), 5, bytes_at(4300.0 * 3.0), 3);
        let e = load_video(d.path()).unwrap_err().to_string();
        assert!(
            e.contains(&d.path().join("video_size_5").display().to_string()),
            "{e}"
        );
        assert!(e.contains("mean bitrate 12900 kbit/s"), "{e}");
        assert!(e.contains("nominal 4300 kbit/s of level 5"), "{e}");
    }

    #[test]
    fn shared_pensieve_video_still_loads() {
        let Some(shared) = crate::shared_dir_for_tests(Path::new(env!("CARGO_MANIFEST_DIR")))
        else {
            eprintln!("note: shared data folder not found; skipping the real Pensieve video check");
            return;
        };
        let sim = shared.join("data/pensieve/sim");
        let v = load_video(&sim).unwrap();
        assert_eq!(v.num_levels(), 6);
        assert_eq!(v.num_chunks(), 49);
        assert_eq!(v.ladder, Ladder::pensieve());
        let level0: u64 = v.chunk_bytes[0].iter().sum();
        assert_eq!(level0, 7_404_071);
        assert_eq!(mean_kbps(&v.chunk_bytes[0]).round(), 302.0);
        assert_eq!(mean_kbps(&v.chunk_bytes[5]).round(), 4279.0);
    }
}
