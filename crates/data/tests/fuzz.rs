//! Fuzz targets of the parsers that read outside files: traces (cooked, Mahimahi, auto-detected),
//! the JSON video descriptor and Pensieve's `video_size_*` files. Each runs
//! `NEURALSTREAM_FUZZ_ITERS` cases (see `support/mutate.rs`) of arbitrary bytes and mutated valid
//! files and checks that nothing panics, that every error names the file, and that every message
//! stays short; what is accepted must be a valid trace or video.

#[path = "support/mutate.rs"]
mod mutate;

use mutate::{config, inputs, MAX_MESSAGE_BYTES};
use neuralstream_data::{load_video, read_trace, TraceFormat};
use proptest::prelude::*;
use std::path::Path;

const COOKED: &str = "0.0\t1.5\n1.0\t2.25\n2.5\t0.0\n# comment\n\n4.0 12.5\n";
const MAHIMAHI: &str = "1\n1\n3\n7\n7\n7\n250\n999\n1000\n1001\n2500\n";
const TRACE_TOKENS: &[&str] = &["604800001", "0 0", "1 -3", "0\n0\n", "1.0e-300"];

const DESCRIPTOR: &str = r#"{
  "format": "neuralstream-video",
  "version": 1,
  "name": "fuzz",
  "chunk_duration_s": 4.0,
  "ladder": [
    { "bitrate_kbps": 300, "width": 426, "height": 240 },
    { "bitrate_kbps": 750, "width": 640, "height": 360 }
  ],
  "chunk_bytes": [ [ 150000, 149000, 151000 ], [ 375000, 370000, 380000 ] ],
  "quality": [ { "metric": "ssim", "scores": [ [ 0.91, 0.92, 0.9 ], [ 0.95, 0.96, 0.94 ] ] } ]
}"#;
const JSON_TOKENS: &[&str] = &[
    "null",
    "true",
    "[]",
    "{}",
    "\"format\": \"x\",",
    "\"extra\": 1,",
    "1e999",
    "-0.0",
];

const LEVEL: &str = "375000\n370000\n380000\n";
const LEVEL_TOKENS: &[&str] = &["0", "+5", "0x10", "1e6"];

fn check_error(e: impl std::fmt::Display, path: &Path) {
    let msg = e.to_string();
    assert!(
        msg.starts_with(&path.display().to_string()),
        "the error does not name {}: {msg}",
        path.display()
    );
    assert!(msg.len() <= MAX_MESSAGE_BYTES, "{} bytes: {msg}", msg.len());
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn traces(bytes in inputs(&[COOKED, MAHIMAHI], TRACE_TOKENS), format in 0..3usize) {
        let format = [TraceFormat::Auto, TraceFormat::Cooked, TraceFormat::Mahimahi][format];
        let path = Path::new("fuzz.trace");
        match read_trace(path, &bytes[..], format) {
            Ok(t) => {
                prop_assert!(!t.time_s.is_empty() && t.time_s.len() == t.bandwidth_mbps.len());
                prop_assert!(t.bandwidth_mbps.iter().all(|b| b.is_finite() && *b >= 0.0));
                prop_assert!(t.time_s.windows(2).all(|w| w[0] < w[1]));
            }
            Err(e) => check_error(e, path),
        }
    }

    #[test]
    fn video_descriptors(bytes in inputs(&[DESCRIPTOR], JSON_TOKENS)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("video.json");
        std::fs::write(&path, &bytes).unwrap();
        match load_video(&path) {
            Ok(v) => prop_assert!(v.num_levels() >= 1 && v.num_chunks() >= 1),
            Err(e) => check_error(e, &path),
        }
    }

    #[test]
    fn pensieve_level_files(bytes in inputs(&[LEVEL], LEVEL_TOKENS), which in 0..2usize) {
        let dir = tempfile::tempdir().unwrap();
        // One level file mutated, the other valid; the error names the folder or one of its files.
        std::fs::write(dir.path().join("video_size_0"), "150000\n149000\n151000\n").unwrap();
        std::fs::write(dir.path().join("video_size_1"), LEVEL).unwrap();
        std::fs::write(dir.path().join(format!("video_size_{which}")), &bytes).unwrap();
        match load_video(dir.path()) {
            Ok(v) => prop_assert_eq!(v.num_levels(), 2),
            Err(e) => check_error(e, dir.path()),
        }
    }
}
