//! Where frozen time comes from (issue 18): the learned controller and GCC on the train and
//! validation Mahimahi traces (never test), freeze by freeze.
//!
//! ```text
//! cargo run --release -p neuralstream-rt --example freeze_analysis -- \
//!     ../shared/data/rtc out/rt-dqn/model.safetensors [SEEDS] [--all]
//! ```
//!
//! For every session it lists the link's **outages** (stretches of at least [`OUTAGE_MS`] with no
//! delivery opportunity) and every **freeze** (WebRTC's rule, recomputed from the rendered frames
//! with the receiver's constants), and ties each freeze to the outage it overlaps. Per freeze:
//! when it starts and ends, the outage's start and length, how long after capacity returned the
//! first frame was shown (`recover`), what was queued at the outage's start (packets in the
//! bottleneck and the pacer, i.e. sent or captured before it and leaving after it), the target in
//! force, the key frames sent and frames lost inside the freeze. Then a per-trace table of frozen
//! time in outages and elsewhere, for both controllers. With `--all` every freeze is printed;
//! otherwise only those where the two controllers' frozen time differs by more than 50 ms.
//! SEEDS (default 1) runs that many simulator seeds and sums.
//!
//! Environment: `FPS_CAP_BELOW_KBPS=300` (or `0`) runs the learned controller with that
//! frame-rate ceiling (without one) whatever the file says; `DUMP=TRACE:FROM_MS:TO_MS` prints the frames (and
//! their packets) captured in that window of that trace, seed 1, for both controllers.

use neuralstream_rt::dqn::DqnModel;
use neuralstream_rt::receiver::{
    FREEZE_AVG_FRAMES, FREEZE_EXTRA_MS, FREEZE_FACTOR, FREEZE_MIN_FRAMES,
};
use neuralstream_rt::{
    read_trace_dir, run_session, ControllerSpec, LinkTrace, MahimahiOptions, RtConfig, SessionLog,
    Split,
};
use std::path::Path;
use std::sync::Arc;

/// Shortest stretch without a delivery opportunity counted as an outage, ms.
const OUTAGE_MS: f64 = 100.0;

/// Outages at least this long are "long" in the breakdown, ms.
const LONG_OUTAGE_MS: f64 = 300.0;

/// A freeze: the render interval `[from, to]`.
#[derive(Debug, Clone, Copy)]
struct Freeze {
    from_ms: f64,
    to_ms: f64,
}

/// WebRTC's freeze rule over the rendered frames, as `receiver` applies it.
fn freezes(log: &SessionLog) -> Vec<Freeze> {
    let mut out = Vec::new();
    let mut intervals: std::collections::VecDeque<f64> = Default::default();
    let mut sum = 0.0;
    let judge =
        |iv: f64, n_rendered: usize, intervals: &std::collections::VecDeque<f64>, sum: f64| {
            if n_rendered < FREEZE_MIN_FRAMES || intervals.is_empty() {
                return false;
            }
            let avg = sum / intervals.len() as f64;
            iv >= (FREEZE_FACTOR * avg).max(avg + FREEZE_EXTRA_MS)
        };
    for (i, w) in log.rendered.windows(2).enumerate() {
        let iv = w[1].render_ms - w[0].render_ms;
        if judge(iv, i + 1, &intervals, sum) {
            out.push(Freeze {
                from_ms: w[0].render_ms,
                to_ms: w[1].render_ms,
            });
        }
        intervals.push_back(iv);
        sum += iv;
        if intervals.len() > FREEZE_AVG_FRAMES {
            sum -= intervals.pop_front().unwrap_or(0.0);
        }
    }
    if let Some(last) = log.rendered.last() {
        let gap = log.duration_ms - last.render_ms;
        if gap > 0.0 && judge(gap, log.rendered.len(), &intervals, sum) {
            out.push(Freeze {
                from_ms: last.render_ms,
                to_ms: log.duration_ms,
            });
        }
    }
    out
}

/// Stretches of at least [`OUTAGE_MS`] with capacity 0 within `[0, until_ms)`: `(start, end)`.
fn outages(trace: &LinkTrace, until_ms: f64) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    let period = trace.duration_ms();
    let mut base = 0.0;
    while base < until_ms {
        for s in trace.segments() {
            if s.capacity_kbps > 0.0 || base + s.start_ms >= until_ms {
                continue;
            }
            let (a, b) = (base + s.start_ms, base + s.end_ms);
            match out.last_mut() {
                Some(last) if (last.1 - a).abs() < 1e-9 => last.1 = b,
                _ => out.push((a, b)),
            }
        }
        base += period;
    }
    out.retain(|(a, b)| b - a >= OUTAGE_MS);
    out
}

/// What one freeze looked like.
#[derive(Debug, Clone, Copy)]
struct FreezeInfo {
    f: Freeze,
    outage: Option<(f64, f64)>,
    queued_packets: usize,
    queued_bytes: u64,
    target_kbps: f64,
    fps: u32,
    key_frames: usize,
    lost_frames: usize,
    drops: usize,
}

fn describe(log: &SessionLog, outs: &[(f64, f64)], f: Freeze) -> FreezeInfo {
    let outage = outs
        .iter()
        .copied()
        .find(|&(a, b)| a < f.to_ms && b + 50.0 > f.from_ms);
    let at = outage.map_or(f.from_ms, |o| o.0);
    // In the bottleneck or the pacer at `at`: sent (or still to be sent) from frames captured
    // before `at`, and not yet delivered by then.
    let mut queued_packets = 0;
    let mut queued_bytes = 0;
    let mut drops = 0;
    for p in &log.packets {
        let captured = log.frames[p.frame].capture_ms;
        if captured >= at {
            continue;
        }
        match p.fate {
            neuralstream_rt::Fate::Delivered { departure_ms, .. } if departure_ms > at => {
                queued_packets += 1;
                queued_bytes += p.bytes as u64;
            }
            neuralstream_rt::Fate::Delivered { .. } => {}
            _ => {
                if p.send_ms >= at - 200.0 {
                    drops += 1
                }
            }
        }
    }
    let in_force = log.decisions.iter().take_while(|d| d.at_ms <= at).last();
    let target_kbps = in_force.map_or(0.0, |d| d.decision.target_bps / 1000.0);
    let fps = in_force.map_or(0, |d| d.decision.fps);
    let inside = |c: f64| c >= at - 200.0 && c <= f.to_ms;
    let key_frames = log
        .frames
        .iter()
        .filter(|x| inside(x.capture_ms) && x.key)
        .count();
    let lost_frames = log
        .frames
        .iter()
        .filter(|x| inside(x.capture_ms) && x.complete_ms.is_none())
        .count();
    FreezeInfo {
        f,
        outage,
        queued_packets,
        queued_bytes,
        target_kbps,
        fps,
        key_frames,
        lost_frames,
        drops,
    }
}

/// Frozen ms by class: `[no outage, outage < LONG_OUTAGE_MS, longer]` x `[30 fps or less, 60]`.
fn breakdown(infos: &[FreezeInfo], out: &mut [[f64; 2]; 3]) {
    for i in infos {
        let class = match i.outage {
            None => 0,
            Some((a, b)) if b - a < LONG_OUTAGE_MS => 1,
            Some(_) => 2,
        };
        out[class][usize::from(i.fps > 30)] += i.f.to_ms - i.f.from_ms;
    }
}

fn frozen_in_outages(infos: &[FreezeInfo]) -> (f64, f64) {
    let mut inside = 0.0;
    let mut outside = 0.0;
    for i in infos {
        let d = i.f.to_ms - i.f.from_ms;
        if i.outage.is_some() {
            inside += d;
        } else {
            outside += d;
        }
    }
    (inside, outside)
}

fn line(who: &str, i: &FreezeInfo) -> String {
    let (o, recover) = match i.outage {
        Some((a, b)) => (
            format!("outage {:>8.0}+{:>5.0}", a, b - a),
            format!("{:>6.0}", i.f.to_ms - b),
        ),
        None => ("no outage           ".into(), "     -".into()),
    };
    format!(
        "  {who:<7} freeze {:>8.0}..{:>8.0} ({:>5.0} ms)  {o}  recover {recover} ms  queued {:>3} pkts {:>6} B  target {:>5.0} kbps {:>2} fps  keys {:>2} lost frames {:>3} drops {:>3}",
        i.f.from_ms,
        i.f.to_ms,
        i.f.to_ms - i.f.from_ms,
        i.queued_packets,
        i.queued_bytes,
        i.target_kbps,
        i.fps,
        i.key_frames,
        i.lost_frames,
        i.drops
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let all = args.iter().any(|a| a == "--all");
    let args: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let (Some(dir), Some(model)) = (args.first(), args.get(1)) else {
        return Err("usage: freeze_analysis TRACES_DIR MODEL [SEEDS] [--all]".into());
    };
    let seeds: u64 = args.get(2).map_or(Ok(1), |s| s.parse())?;
    let mut model = DqnModel::load(Path::new(model.as_str()))?;
    // The shield's frame-rate ceiling other than the file's, to compare: FPS_CAP_BELOW_KBPS=300
    // (or 0: off).
    if let Ok(v) = std::env::var("FPS_CAP_BELOW_KBPS") {
        model.meta.fps_cap_below_kbps = v.parse().ok().filter(|&k: &f64| k > 0.0);
    }
    let model = Arc::new(model);
    let traces: Vec<LinkTrace> =
        read_trace_dir(Path::new(dir.as_str()), MahimahiOptions::default())?
            .into_iter()
            .filter(|t| {
                t.family == "mahimahi" && matches!(t.split, Some(Split::Train | Split::Validation))
            })
            .collect();
    let specs = [
        ("learned", ControllerSpec::Learned(model)),
        ("gcc", ControllerSpec::Gcc),
    ];
    println!(
        "{:<34} {:>5} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8}",
        "trace (split)", "seed", "L in out", "L other", "G in out", "G other", "L ratio", "G ratio"
    );
    let mut total = [[0.0f64; 2]; 2];
    let mut classes = [[[0.0f64; 2]; 3]; 2];
    let mut details = Vec::new();
    for t in &traces {
        for seed in 1..=seeds {
            let cfg = RtConfig {
                seed,
                duration_ms: t.duration_ms().max(1000.0),
                ..Default::default()
            };
            let outs = outages(t, cfg.duration_ms);
            let mut per = Vec::new();
            for (name, spec) in &specs {
                let mut c = spec.build(t);
                let log = run_session(t, &cfg, c.as_mut())?;
                if let Ok(w) = std::env::var("DUMP") {
                    let (n, a, b) = {
                        let v: Vec<&str> = w.split(':').collect();
                        (v[0].to_owned(), v[1].parse::<f64>()?, v[2].parse::<f64>()?)
                    };
                    if n == t.name && seed == 1 {
                        println!("{name} on {n}:");
                        dump(&log, a, b);
                    }
                }
                let infos: Vec<FreezeInfo> = freezes(&log)
                    .into_iter()
                    .map(|f| describe(&log, &outs, f))
                    .collect();
                per.push((*name, log.frozen_ms, infos));
            }
            breakdown(&per[0].2, &mut classes[0]);
            breakdown(&per[1].2, &mut classes[1]);
            let (li, lo) = frozen_in_outages(&per[0].2);
            let (gi, go) = frozen_in_outages(&per[1].2);
            total[0][0] += li;
            total[0][1] += lo;
            total[1][0] += gi;
            total[1][1] += go;
            println!(
                "{:<34} {:>5} {:>10.0} {:>10.0} {:>10.0} {:>10.0} {:>8.4} {:>8.4}",
                format!("{} ({:?})", t.name, t.split.unwrap_or(Split::Train)),
                seed,
                li,
                lo,
                gi,
                go,
                per[0].1 / cfg.duration_ms,
                per[1].1 / cfg.duration_ms
            );
            details.push((t.name.clone(), seed, outs.len(), per));
        }
    }
    println!(
        "total frozen ms: learned {:.0} in outages + {:.0} elsewhere; gcc {:.0} + {:.0}",
        total[0][0], total[0][1], total[1][0], total[1][1]
    );
    for (c, name) in ["learned", "gcc"].iter().enumerate() {
        let k = &classes[c];
        println!(
            "{name:<7} frozen ms: no outage {:.0} (<=30 fps) + {:.0} (60 fps); outages < {LONG_OUTAGE_MS} ms {:.0} + {:.0}; longer {:.0} + {:.0}",
            k[0][0], k[0][1], k[1][0], k[1][1], k[2][0], k[2][1]
        );
    }
    for (name, seed, n_outages, per) in details {
        println!("\n{name} seed {seed}: {n_outages} outages >= {OUTAGE_MS} ms");
        // Pair freezes by outage; print where the two differ.
        let mut keys: Vec<Option<(i64, i64)>> = per
            .iter()
            .flat_map(|p| {
                p.2.iter()
                    .map(|i| i.outage.map(|o| (o.0 as i64, o.1 as i64)))
            })
            .collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            let of = |j: usize| -> Vec<&FreezeInfo> {
                per[j]
                    .2
                    .iter()
                    .filter(|i| i.outage.map(|o| (o.0 as i64, o.1 as i64)) == k)
                    .collect()
            };
            let (l, g) = (of(0), of(1));
            let sum = |v: &[&FreezeInfo]| v.iter().map(|i| i.f.to_ms - i.f.from_ms).sum::<f64>();
            if !all && (sum(&l) - sum(&g)).abs() <= 50.0 && k.is_some() {
                continue;
            }
            for i in &l {
                println!("{}", line("learned", i));
            }
            for i in &g {
                println!("{}", line("gcc", i));
            }
        }
    }
    Ok(())
}

/// Prints the frames of `log` captured in `[from, to]`, each with its packets' sizes, send and
/// departure times.
fn dump(log: &SessionLog, from: f64, to: f64) {
    for (i, f) in log.frames.iter().enumerate() {
        if f.capture_ms < from || f.capture_ms > to {
            continue;
        }
        let pk: Vec<String> = log
            .packets
            .iter()
            .filter(|p| p.frame == i)
            .map(|p| match p.fate {
                neuralstream_rt::Fate::Delivered { departure_ms, .. } => {
                    format!("{}B s{:.0} d{:.0}", p.bytes, p.send_ms, departure_ms)
                }
                x => format!("{x:?}"),
            })
            .collect();
        println!(
            "    cap {:>9.1} {:>5.0} B key {} fps {} tgt {:>5.0} complete {:?} render {:?} | {}",
            f.capture_ms,
            f.bytes,
            f.key,
            f.fps,
            f.target_bps / 1000.0,
            f.complete_ms.map(|x| x.round()),
            f.render_ms.map(|x| x.round()),
            pk.join(", ")
        );
    }
}
