//! `neuralstream rt quality-fit` end to end: a tiny fit through the real binary and FFmpeg (skipped
//! with a message when ffmpeg is absent, unless NEURALSTREAM_REQUIRE_FFMPEG=1), and its refusals of
//! bad flags.

use neuralstream_rt::quality::{QualityModel, QualityTable};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_neuralstream"))
}

fn ffmpeg_available() -> bool {
    let ok = Command::new("ffmpeg")
        .arg("-version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var("NEURALSTREAM_REQUIRE_FFMPEG").as_deref() != Ok("1"),
            "NEURALSTREAM_REQUIRE_FFMPEG=1 but ffmpeg cannot be run"
        );
        eprintln!("skipped: ffmpeg not found (apt-get install ffmpeg)");
    }
    ok
}

#[test]
fn a_small_fit_measures_every_cell_and_more_bits_measure_better() {
    if !ffmpeg_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("table.json");
    let o = bin()
        .args([
            "rt",
            "quality-fit",
            "--duration-s",
            "0.5",
            "--bitrates-kbps",
            "150,4000",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let table: QualityTable =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(table.points.len(), 3 * 2 * 2);
    QualityModel::fit(&table).unwrap();
    for p in &table.points {
        assert!(p.ssim > 0.3 && p.ssim < 1.0, "{p:?}");
        assert!(p.psnr_db > 10.0 && p.psnr_db < 60.0, "{p:?}");
        // The encoder roughly meets its target (within a factor of 2).
        assert!(
            p.bitrate_kbps / p.target_kbps > 0.5 && p.bitrate_kbps / p.target_kbps < 2.0,
            "{p:?}"
        );
    }
    for lo in table.points.iter().filter(|p| p.target_kbps == 150.0) {
        let hi = table
            .points
            .iter()
            .find(|p| p.height == lo.height && p.fps == lo.fps && p.target_kbps == 4000.0)
            .unwrap();
        assert!(
            hi.ssim > lo.ssim && hi.psnr_db > lo.psnr_db,
            "{lo:?} vs {hi:?}"
        );
    }
    // The work folder (a temporary one) is gone: nothing but the table was left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn bad_flags_are_named() {
    for (flag, value, expect) in [
        ("--bitrates-kbps", "300,abc", "'abc'"),
        ("--bitrates-kbps", "300", "at least two"),
        ("--duration-s", "0.1", "--duration-s"),
    ] {
        let o = bin()
            .args([
                "rt",
                "quality-fit",
                flag,
                value,
                "--out",
                "/nonexistent/x.json",
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains(expect),
            "{flag} {value}: {err}"
        );
    }
}
