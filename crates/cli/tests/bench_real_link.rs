//! `bench --rtt-advances-trace --init-segment-bytes N --trace-offset-s S` (the emulated player's
//! request model, docs/sim_to_real.md) through the real binary: it changes what it should, nothing
//! else, and refuses what it cannot do with a message naming the flag.

use std::path::Path;
use std::process::{Command, Output};

fn bench(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "bench",
        "--synthetic-traces",
        "3",
        "--abr",
        "bb,rate",
        "--no-charts",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_neuralstream"))
        .args(&args)
        .output()
        .expect("binary runs")
}

fn ok(out: &Path, extra: &[&str]) -> String {
    let o = bench(out, extra);
    assert!(
        o.status.success(),
        "{extra:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read_to_string(out.join("results.csv")).unwrap()
}

/// A column of `chunks.csv`, in file order.
fn column(out: &Path, name: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(out.join("chunks.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == name).unwrap();
    lines
        .map(|l| l.split(',').nth(col).unwrap().parse().unwrap())
        .collect()
}

fn delays_ms(out: &Path) -> Vec<f64> {
    column(out, "delay_ms")
}

#[test]
fn the_real_link_model_changes_delays_and_reduces_to_pensieve() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));

    // With no RTT, the RTT's place on the trace cannot matter: the same results.
    let plain = ok(&a, &["--rtt-ms", "0"]);
    let moved = ok(&b, &["--rtt-ms", "0", "--rtt-advances-trace"]);
    assert_eq!(plain, moved);

    // The whole model on a 10 Gbit/s link, where a chunk's bytes take a few ms: every chunk takes
    // its round trip and a few ms, chunk 0 and every switch one more round trip (the init
    // segment); Pensieve's chunks take one round trip each.
    let traces = dir.path().join("fast");
    std::fs::create_dir(&traces).unwrap();
    let rows: String = (0..400).map(|t| format!("{t}\t10000\n")).collect();
    std::fs::write(traces.join("gigabit"), rows).unwrap();
    let fast = ["--traces", traces.to_str().unwrap()];
    let pensieve = ok(&a, &fast);
    let real = ok(
        &b,
        &[
            &fast[..],
            &[
                "--rtt-advances-trace",
                "--init-segment-bytes",
                "900",
                "--trace-offset-s",
                "1.5",
            ],
        ]
        .concat(),
    );
    assert_ne!(pensieve, real);
    // results.json says how each was made; Pensieve's runs write what they always wrote.
    let simulator = |out: &Path| -> serde_json::Value {
        let text = std::fs::read_to_string(out.join("results.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["meta"]["simulator"].clone()
    };
    let (plain, model) = (simulator(&a), simulator(&b));
    for key in [
        "rtt_advances_trace",
        "init_segment_bytes",
        "trace_offset_ms",
    ] {
        assert!(plain.get(key).is_none(), "{key} in {plain}");
    }
    assert_eq!(model["rtt_advances_trace"], true);
    assert_eq!(model["init_segment_bytes"], 900);
    assert_eq!(model["trace_offset_ms"], 1500.0);
    assert!(delays_ms(&a).iter().all(|&d| (80.0..100.0).contains(&d)));
    let after = delays_ms(&b);
    let levels = column(&b, "level");
    for (k, d) in after.iter().enumerate() {
        // Rows are per algorithm, 48 chunks each: chunk 0 of each starts with an init segment.
        let switch = k % 48 == 0 || levels[k] != levels[k - 1];
        let rtts = if switch { 160.0 } else { 80.0 };
        assert!((rtts..rtts + 20.0).contains(d), "row {k}: {d} ms");
    }
}

#[test]
fn bad_settings_name_their_flag() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, expect) in [
        (&["--init-segment-bytes", "0"][..], "--init-segment-bytes"),
        (&["--trace-offset-s", "-1"][..], "--trace-offset-s"),
        (&["--trace-offset-s", "NaN"][..], "--trace-offset-s"),
        (
            &["--rtt-advances-trace", "--players", "2"][..],
            "single-player runs only",
        ),
    ] {
        let o = bench(&dir.path().join("x"), extra);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{extra:?} was accepted");
        assert!(!err.contains("panicked"), "{extra:?}: {err}");
        assert!(err.contains(expect), "{extra:?}: {err}");
    }
}
