//! The shield's frame-rate ceiling on a trained network, on the train and validation splits only
//! (never test): GCC and the learned controller as trained, without the ceiling and with 30 fps
//! below 100 to 805 kbit/s (805: GCC's ladder with its climbing margin), and with 30 fps after 1 to
//! 5 recent pauses of the link (`fps_cap_after_pauses`), per family, means over simulator seeds
//! (default 3). How `fps_cap_below_kbps` and `fps_cap_after_pauses` were probed (issue 18).
//!
//! ```text
//! cargo run --release -p neuralstream-rt --example shield_probe -- \
//!     ../shared/data/rtc out/rt-dqn/model.safetensors [SEEDS]
//! ```

use neuralstream_rt::dqn::DqnModel;
use neuralstream_rt::{
    read_trace_dir, run_bench, ControllerSpec, LinkTrace, MahimahiOptions, RtConfig, Split, Summary,
};
use std::path::Path;
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(model)) = (args.first(), args.get(1)) else {
        return Err("usage: shield_probe TRACES_DIR MODEL [SEEDS]".into());
    };
    let seeds: u64 = args.get(2).map_or(Ok(3), |s| s.parse())?;
    let base = DqnModel::load(Path::new(model))?;
    let all = read_trace_dir(Path::new(dir), MahimahiOptions::default())?;
    let of = |split: Split| -> Vec<LinkTrace> {
        all.iter()
            .filter(|t| t.split == Some(split))
            .cloned()
            .collect()
    };
    // (name, fps_cap_below_kbps, fps_cap_after_pauses)
    type Variant = (String, Option<f64>, Option<usize>);
    let mut variants: Vec<Variant> = vec![(
        "as trained".to_owned(),
        base.meta.fps_cap_below_kbps,
        base.meta.fps_cap_after_pauses,
    )];
    for k in [
        None,
        Some(100.0),
        Some(200.0),
        Some(300.0),
        Some(500.0),
        Some(805.0),
    ] {
        let name = k.map_or("no fps cap".to_owned(), |k| {
            format!("30 fps below {k} kbps")
        });
        variants.push((name, k, None));
    }
    for n in [1, 2, 3, 5] {
        variants.push((format!("30 fps after {n} pauses"), None, Some(n)));
    }
    for (split_name, traces) in [
        ("validation", of(Split::Validation)),
        ("train", of(Split::Train)),
    ] {
        let mut specs = vec![ControllerSpec::Gcc];
        for (_, kbps, pauses) in &variants {
            let mut m = base.clone();
            m.meta.fps_cap_below_kbps = *kbps;
            m.meta.fps_cap_after_pauses = *pauses;
            specs.push(ControllerSpec::Learned(Arc::new(m)));
        }
        // Per spec and family: sums over seeds of (onl_qoe, p95, frozen).
        let mut sums: Vec<Vec<(String, f64, f64, f64)>> = vec![Vec::new(); specs.len()];
        for seed in 1..=seeds {
            let cfg = RtConfig {
                seed,
                ..Default::default()
            };
            let (report, _) = run_bench(&traces, &specs, &cfg, true, 2, false)?;
            // Sessions come in spec then trace order; every learned spec is named "learned", so
            // the summary is made per spec here.
            for (i, sessions) in report.sessions.chunks(traces.len()).enumerate() {
                let rows = neuralstream_rt::bench::report_of(sessions.to_vec()).summary;
                for r in rows.iter().filter(|r: &&Summary| r.family != "all") {
                    match sums[i].iter_mut().find(|x| x.0 == r.family) {
                        Some(x) => {
                            x.1 += r.onl_qoe;
                            x.2 += r.p95_frame_delay_ms;
                            x.3 += r.frozen_ratio;
                        }
                        None => sums[i].push((
                            r.family.clone(),
                            r.onl_qoe,
                            r.p95_frame_delay_ms,
                            r.frozen_ratio,
                        )),
                    }
                }
            }
        }
        println!(
            "\n{split_name} ({} traces), means over {seeds} seeds:",
            traces.len()
        );
        println!(
            "{:<26} {:<9} {:>8} {:>9} {:>8}",
            "controller", "family", "onl_qoe", "p95 ms", "frozen"
        );
        let n = seeds as f64;
        for (i, rows) in sums.iter().enumerate() {
            let name = if i == 0 {
                "gcc"
            } else {
                variants[i - 1].0.as_str()
            };
            for (fam, q, p, f) in rows {
                println!(
                    "{name:<26} {fam:<9} {:>8.2} {:>9.1} {:>8.4}",
                    q / n,
                    p / n,
                    f / n
                );
            }
        }
    }
    Ok(())
}
