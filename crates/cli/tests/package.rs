//! End-to-end tests of `neuralstream package` and `neuralstream sample-video` through the real
//! binary: short clips (10 s, 360p and below, fast presets) in H.264 (from a sample-video file,
//! with audio) and VP9 (from --synthetic), checked independently of the packager's own checks:
//! both manifests parse, every representation has the expected segment count, every segment starts
//! with a key frame (ffprobe), descriptor sizes equal file sizes, the descriptor runs in the
//! simulator and in `bench --qoe ssim`, and SSIM rises with bitrate. Bad input gets clear errors
//! and leaves nothing behind.
//!
//! Tests that need FFmpeg are skipped with a message when it is absent, unless
//! NEURALSTREAM_REQUIRE_FFMPEG=1.

use neuralstream_core::Trace;
use neuralstream_media::manifest::{read_hls, read_mpd};
use neuralstream_sim::{run_session, SessionLog, SimConfig, StartPosition};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_neuralstream"))
}

fn ffmpeg_available() -> bool {
    let ok = ["ffmpeg", "ffprobe"].iter().all(|p| {
        Command::new(p)
            .arg("-version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    });
    if !ok {
        assert!(
            std::env::var("NEURALSTREAM_REQUIRE_FFMPEG").as_deref() != Ok("1"),
            "NEURALSTREAM_REQUIRE_FFMPEG=1 but ffmpeg/ffprobe cannot be run"
        );
        eprintln!("skipped: ffmpeg/ffprobe not found (apt-get install ffmpeg)");
    }
    ok
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("the binary runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn run_err(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the binary runs");
    assert!(!out.status.success(), "{cmd:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// First packet of `init + segment` is a key frame.
fn starts_with_key_frame(dir: &Path, init: &str, segment: &str) -> bool {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=flags",
            "-of",
            "csv=p=0",
            &format!("concat:{init}|{segment}"),
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().next().is_some_and(|l| l.starts_with('K'))
}

/// Checks a package made from a 10 s source with 4 s segments and `levels` rungs.
fn check_package(dir: &Path, levels: usize, codecs_prefix: &str) {
    let mpd = read_mpd(&dir.join("manifest.mpd")).unwrap();
    let hls = read_hls(&dir.join("master.m3u8")).unwrap();
    assert_eq!(mpd.representations.len(), levels);
    assert_eq!(hls.representations.len(), levels);
    assert_eq!(mpd.audio.len(), 1, "audio in its own adaptation set");
    assert_eq!(mpd.segment_duration_s, 4.0);
    let video = neuralstream_data::load_video(&dir.join("video.json")).unwrap();
    assert_eq!(video.num_levels(), levels);
    assert_eq!(video.chunk_duration_s, 4.0);
    for (l, r) in mpd.representations.iter().enumerate() {
        assert!(r.codecs.starts_with(codecs_prefix), "{}", r.codecs);
        // 10 s in 4 s segments: 4 + 4 + 2.
        assert_eq!(r.segment_urls.len(), 3, "representation {}", r.id);
        let h = &hls.representations[l];
        assert_eq!(
            (&h.init_url, &h.segment_urls),
            (&r.init_url, &r.segment_urls)
        );
        for (c, seg) in r.segment_urls.iter().enumerate() {
            assert!(
                starts_with_key_frame(dir, &r.init_url, seg),
                "{seg} does not start with a key frame"
            );
            let bytes = std::fs::metadata(dir.join(seg)).unwrap().len();
            assert_eq!(video.chunk_bytes[l][c], bytes, "{seg}");
        }
        assert_eq!(video.ladder.levels[l].height, r.height);
    }
    // SSIM rises with bitrate, on average and in every chunk.
    let ssim = video.quality("ssim").expect("ssim table");
    let psnr = video.quality("psnr_db").expect("psnr table");
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    for l in 1..levels {
        assert!(
            mean(&ssim.scores[l]) > mean(&ssim.scores[l - 1]),
            "{:?}",
            ssim.scores
        );
        assert!(
            mean(&psnr.scores[l]) > mean(&psnr.scores[l - 1]),
            "{:?}",
            psnr.scores
        );
        for c in 0..video.num_chunks() {
            assert!(
                ssim.scores[l][c] > ssim.scores[l - 1][c],
                "{:?}",
                ssim.scores
            );
        }
    }
    assert!(ssim.scores.iter().flatten().all(|&s| s > 0.5 && s <= 1.0));
    // The descriptor plays in the simulator.
    let trace = Trace::new("flat", vec![0.0, 1000.0], vec![1.0, 1.0]).unwrap();
    let cfg = SimConfig {
        max_chunks: None,
        ..SimConfig::pensieve()
    };
    let mut abr = neuralstream_abr::create("robustmpc").unwrap();
    let mut log = SessionLog::default();
    run_session(
        &cfg,
        &trace,
        &video,
        abr.as_mut(),
        StartPosition::Beginning,
        None,
        &mut log,
    )
    .unwrap();
    assert_eq!(log.records.len(), 3);
    // ... and in `bench` with the quality-based QoE.
    let out = dir.parent().unwrap().join(format!(
        "bench-{}",
        dir.file_name().unwrap().to_string_lossy()
    ));
    let stdout = run_ok(bin().args([
        "bench",
        "--video",
        &dir.join("video.json").to_string_lossy(),
        "--qoe",
        "ssim",
        "--abr",
        "bb,robustmpc,optimum",
        "--synthetic-traces",
        "3",
        "--no-charts",
        "--out",
        &out.to_string_lossy(),
    ]))
    .stdout;
    let stdout = String::from_utf8_lossy(&stdout);
    assert!(stdout.contains("QoE model: ssim"), "{stdout}");
    // Nothing is left beside the package but what the test made.
    let partial = dir.with_file_name(format!(
        ".{}.partial",
        dir.file_name().unwrap().to_string_lossy()
    ));
    assert!(!partial.exists());
}

#[test]
fn h264_from_a_sample_video_file() {
    if !ffmpeg_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src/sample.mp4");
    run_ok(
        bin()
            .args(["sample-video", "--seconds", "10", "--height", "360"])
            .arg(&src),
    );
    assert!(src.is_file());
    let out = tmp.path().join("h264");
    let stdout = run_ok(
        bin()
            .arg("package")
            .arg(&src)
            .args(["--out", &out.to_string_lossy()])
            .args([
                "--ladder",
                "144p@150k,240p@300k,360p@600k",
                "--codec",
                "h264",
            ]),
    )
    .stdout;
    let stdout = String::from_utf8_lossy(&stdout);
    assert!(stdout.contains("packaged 3 chunks x 3 levels"), "{stdout}");
    check_package(&out, 3, "avc1.");

    // Re-packaging replaces the package in place (here with a 2-rung ladder, no quality).
    run_ok(
        bin()
            .arg("package")
            .arg(&src)
            .args(["--out", &out.to_string_lossy()])
            .args(["--ladder", "144p@150k,240p@300k", "--no-quality"]),
    );
    let v = neuralstream_data::load_video(&out.join("video.json")).unwrap();
    assert_eq!(v.num_levels(), 2);
    assert!(v.quality.is_empty());
    // Before: 3 video representations + audio (id 3); now 2 + audio (id 2).
    assert!(!out.join("init-3.m4s").exists(), "old files are gone");
}

#[test]
fn vp9_from_synthetic() {
    if !ffmpeg_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("vp9");
    run_ok(bin().args([
        "package",
        "--synthetic",
        "10",
        "--synthetic-height",
        "360",
        "--codec",
        "vp9",
        "--ladder",
        "144p@100k,240p@200k,360p@400k",
        "--out",
        &out.to_string_lossy(),
    ]));
    check_package(&out, 3, "vp09.");
}

#[test]
fn missing_ffmpeg_says_how_to_install() {
    let tmp = tempfile::tempdir().unwrap();
    let err = run_err(
        bin()
            .env("NEURALSTREAM_FFMPEG", "/nonexistent/ffmpeg")
            .args(["package", "--synthetic", "2", "--out"])
            .arg(tmp.path().join("x")),
    );
    assert!(err.contains("apt-get install ffmpeg"), "{err}");
    assert!(!tmp.path().join("x").exists());
    let err = run_err(bin().args(["package", "--out", "x"]));
    assert!(err.contains("<INPUT>"), "{err}");
}

#[test]
fn bad_input_gets_a_clear_error_and_leaves_nothing() {
    if !ffmpeg_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out: PathBuf = tmp.path().join("out");
    let package = |extra: &[&str]| {
        let mut c = bin();
        c.arg("package").args(extra).arg("--out").arg(&out);
        run_err(&mut c)
    };
    let err = package(&["/nonexistent/movie.mp4"]);
    assert!(
        err.contains("/nonexistent/movie.mp4") && err.contains("cannot read"),
        "{err}"
    );
    let text = tmp.path().join("notes.txt");
    std::fs::write(&text, "not a video").unwrap();
    let err = package(&[&text.to_string_lossy()]);
    assert!(
        err.contains("notes.txt") && err.contains("ffprobe cannot read it"),
        "{err}"
    );
    let err = package(&[
        "--synthetic",
        "2",
        "--synthetic-height",
        "240",
        "--ladder",
        "240p@300k,480p@1M",
    ]);
    assert!(
        err.contains("480p@1000k taller than the source") && err.contains("--skip-taller"),
        "{err}"
    );
    let err = package(&["--synthetic", "2"]);
    assert!(err.contains("less than one 4 s segment"), "{err}");
    let err = package(&["--synthetic", "2", "--codec", "mpeg2"]);
    assert!(err.contains("unsupported codec 'mpeg2'"), "{err}");
    let err = package(&["--synthetic", "2", "--codec", "vp9", "--preset", "veryfast"]);
    assert!(err.contains("--preset") && err.contains("0..8"), "{err}");

    // FFmpeg failing mid-way: its last lines are shown and no package appears.
    let fake = tmp.path().join("fake-ffmpeg");
    std::fs::write(
        &fake,
        "#!/bin/sh\ncase \"$*\" in *-version*|*-encoders*|*-filters*) exec ffmpeg \"$@\";; esac\necho 'frame=10 fps=5' >&2\necho 'No space left on device' >&2\nexit 1\n",
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&fake)
        .status()
        .unwrap();
    let err = package(&[
        "--synthetic",
        "4",
        "--synthetic-height",
        "240",
        "--ffmpeg",
        &fake.to_string_lossy(),
        "--ffprobe",
        "ffprobe",
    ]);
    assert!(
        err.contains("encoding the ladder") && err.contains("No space left on device"),
        "{err}"
    );
    assert!(err.contains("nothing was written there"), "{err}");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!left.iter().any(|n| n.contains("out")), "{left:?}");

    // A folder that is not a package is not replaced.
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("mine.txt"), "keep").unwrap();
    let err = package(&["--synthetic", "2"]);
    assert!(
        err.contains("(mine.txt)") && err.contains("refuses"),
        "{err}"
    );
    assert!(out.join("mine.txt").is_file());
}
