//! Trained networks compared on the validation (or train) split over more simulator seeds than
//! training's selection uses (never test): per network and family, means over seeds 1..=SEEDS of
//! the combined score, p95 frame delay and frozen-time ratio, and [`Selection`] against GCC over
//! the same seeds (bounded, smallest per-family gain, excess). How issue 18's candidates were
//! compared across training runs.
//!
//! ```text
//! cargo run --release -p neuralstream-rt --example select_probe -- \
//!     ../shared/data/rtc validation SEEDS out/run-a/model.safetensors out/run-b/model.safetensors ...
//! ```
//!
//! Environment: `CWND_MS=350` plays every session with WebRTC's congestion window
//! ([`neuralstream_rt::cwnd`]).

use neuralstream_rt::bench::report_of;
use neuralstream_rt::dqn::{DqnModel, Selection};
use neuralstream_rt::{
    read_trace_dir, run_bench, ControllerSpec, LinkTrace, MahimahiOptions, RtConfig, Split,
};
use std::path::Path;
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(split), Some(seeds), models) =
        (args.first(), args.get(1), args.get(2), args.get(3..))
    else {
        return Err("usage: select_probe TRACES_DIR validation|train SEEDS MODEL...".into());
    };
    let split = match split.as_str() {
        "validation" => Split::Validation,
        "train" => Split::Train,
        other => return Err(format!("split '{other}': use validation or train").into()),
    };
    let seeds: u64 = seeds.parse()?;
    let cwnd_queue_ms = match std::env::var("CWND_MS") {
        Ok(ms) => Some(ms.parse::<f64>()?),
        Err(_) => None,
    };
    let validation: Vec<LinkTrace> = read_trace_dir(Path::new(dir), MahimahiOptions::default())?
        .into_iter()
        .filter(|t| t.split == Some(split))
        .collect();
    let mut specs = vec![ControllerSpec::Gcc];
    for m in models.unwrap_or_default() {
        specs.push(ControllerSpec::Learned(Arc::new(DqnModel::load(
            Path::new(m),
        )?)));
    }
    // Sessions of every spec over every seed, in spec order.
    let mut per_spec = vec![Vec::new(); specs.len()];
    for seed in 1..=seeds {
        let cfg = RtConfig {
            seed,
            cwnd_queue_ms,
            ..Default::default()
        };
        let (report, _) = run_bench(&validation, &specs, &cfg, true, 2, false)?;
        for (i, sessions) in report.sessions.chunks(validation.len()).enumerate() {
            per_spec[i].extend(sessions.iter().cloned());
        }
    }
    let summaries: Vec<_> = per_spec.into_iter().map(|s| report_of(s).summary).collect();
    println!(
        "{split:?} ({} traces), means over seeds 1..={seeds}",
        validation.len()
    );
    println!(
        "{:<40} {:<9} {:>8} {:>9} {:>8}",
        "controller", "family", "onl_qoe", "p95 ms", "frozen"
    );
    for (i, rows) in summaries.iter().enumerate() {
        let name = if i == 0 {
            "gcc"
        } else {
            models.unwrap_or_default()[i - 1].as_str()
        };
        for r in rows.iter().filter(|r| r.family != "all") {
            println!(
                "{name:<40} {:<9} {:>8.2} {:>9.1} {:>8.4}",
                r.family, r.onl_qoe, r.p95_frame_delay_ms, r.frozen_ratio
            );
        }
        if i > 0 {
            let s = Selection::compare(rows, &summaries[0]);
            println!(
                "{name:<40} bounded {} min family gain {:.2} excess {:.4}",
                s.bounded, s.min_gain, s.excess
            );
        }
    }
    Ok(())
}
