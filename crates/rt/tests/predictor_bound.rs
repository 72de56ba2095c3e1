//! How far below an EWMA can a next-interval capacity predictor get on this data at all? Prints,
//! per family and split, the MAPE of the EWMA (smoothing chosen on validation), last value, a
//! *scaled* EWMA (smoothing and a factor chosen on validation: MAPE rewards predicting low on
//! bursty links) and an oracle-ish bound: a lookup table from a summary of the capacity history
//! (last value, last / previous, last / EWMA, each binned) to the MAPE-optimal ratio over the last
//! value, **fitted on the scored split itself** (in-sample, so optimistic for any predictor that
//! reads those summaries). As recorded in docs/benchmarks.md: `cargo test --release -p
//! neuralstream-rt --test predictor_bound -- --ignored --nocapture` (seconds; skipped without
//! `../shared`).

use neuralstream_rt::predictor::{capacity_series, ewma_mape, MIN_ACTUAL_KBPS, WARM_UP};
use neuralstream_rt::trace::Split;
use std::collections::HashMap;

/// (family, split, series) of every shared trace at 200 ms.
fn series() -> Option<Vec<(String, Split, Vec<f64>)>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/rtc");
    let traces = neuralstream_rt::read_trace_dir(&dir, Default::default()).ok()?;
    Some(
        traces
            .iter()
            .map(|t| {
                (
                    t.family.clone(),
                    t.split.unwrap_or(Split::Train),
                    capacity_series(t, 200.0),
                )
            })
            .collect(),
    )
}

/// Scored `(series index, t)` pairs, as the predictor module scores them.
fn scored(s: &[Vec<f64>]) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    for (i, x) in s.iter().enumerate() {
        for t in WARM_UP..x.len().saturating_sub(1) {
            if x[t + 1] >= MIN_ACTUAL_KBPS {
                v.push((i, t));
            }
        }
    }
    v
}

fn ewma(x: &[f64], alpha: f64) -> Vec<f64> {
    let mut p = x.first().copied().unwrap_or(0.0);
    x.iter()
        .map(|&v| {
            p = alpha * v + (1.0 - alpha) * p;
            p
        })
        .collect()
}

fn scaled_ewma_mape(s: &[Vec<f64>], alpha: f64, c: f64) -> f64 {
    let e: Vec<Vec<f64>> = s.iter().map(|x| ewma(x, alpha)).collect();
    let pts = scored(s);
    pts.iter()
        .map(|&(i, t)| (c * e[i][t] - s[i][t + 1]).abs() / s[i][t + 1])
        .sum::<f64>()
        / pts.len() as f64
}

/// The in-sample lookup bound described in the file's doc.
fn lookup_bound(s: &[Vec<f64>], alpha: f64) -> f64 {
    lookup(s, s, alpha)
}

/// The lookup table fitted on `fit`, scored on `s` (bins never seen in `fit`: last value).
fn lookup(fit: &[Vec<f64>], s: &[Vec<f64>], alpha: f64) -> f64 {
    let table = lookup_table(fit, alpha);
    let e: Vec<Vec<f64>> = s.iter().map(|x| ewma(x, alpha)).collect();
    scored(s)
        .iter()
        .map(|&(i, t)| {
            let r = table.get(&key(s, &e, i, t)).copied().unwrap_or(1.0);
            (s[i][t].max(1.0) * r - s[i][t + 1]).abs() / s[i][t + 1]
        })
        .sum::<f64>()
        / scored(s).len() as f64
}

type Key = (i64, usize, usize);

fn key(s: &[Vec<f64>], e: &[Vec<f64>], i: usize, t: usize) -> Key {
    let bin = |r: f64, edges: &[f64]| edges.iter().filter(|&&b| r > b).count();
    let last = s[i][t].max(1.0);
    (
        (last.log2().floor() as i64).clamp(0, 16),
        bin(
            last / s[i][t - 1].max(1.0),
            &[0.5, 0.8, 0.95, 1.05, 1.25, 2.0],
        ),
        bin(last / e[i][t].max(1.0), &[0.5, 0.8, 0.95, 1.05, 1.25, 2.0]),
    )
}

fn lookup_table(s: &[Vec<f64>], alpha: f64) -> HashMap<Key, f64> {
    let e: Vec<Vec<f64>> = s.iter().map(|x| ewma(x, alpha)).collect();
    let key = |i: usize, t: usize| key(s, &e, i, t);
    let pts = scored(s);
    // Per bin: (ratio actual / last, weight 1 / actual) pairs; MAPE-optimal = weighted median.
    let mut bins: HashMap<_, Vec<(f64, f64)>> = HashMap::new();
    for &(i, t) in &pts {
        let last = s[i][t].max(1.0);
        bins.entry(key(i, t))
            .or_default()
            .push((s[i][t + 1] / last, 1.0 / s[i][t + 1]));
    }
    let mut best = HashMap::new();
    for (k, mut v) in bins {
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        let half = v.iter().map(|p| p.1).sum::<f64>() / 2.0;
        let mut acc = 0.0;
        let r = v
            .iter()
            .find(|p| {
                acc += p.1;
                acc >= half
            })
            .map_or(1.0, |p| p.0);
        best.insert(k, r);
    }
    best
}

#[test]
#[ignore]
fn how_low_can_next_interval_mape_go() {
    let Some(all) = series() else {
        eprintln!("skipped: ../shared/data/rtc not readable");
        return;
    };
    let pick = |split: Split, family: Option<&str>| -> Vec<Vec<f64>> {
        all.iter()
            .filter(|(f, s, _)| *s == split && family.is_none_or(|x| x == f))
            .map(|(_, _, x)| x.clone())
            .collect()
    };
    let val = pick(Split::Validation, None);
    let train = pick(Split::Train, None);
    let alphas: Vec<f64> = (1..=10).map(|a| a as f64 / 10.0).collect();
    let alpha = alphas
        .iter()
        .copied()
        .min_by(|a, b| ewma_mape(&val, *a).total_cmp(&ewma_mape(&val, *b)))
        .unwrap();
    let (mut sa, mut sc, mut sm) = (1.0, 1.0, f64::INFINITY);
    for &a in &alphas {
        for c in (3..=12).map(|c| c as f64 / 10.0) {
            let m = scaled_ewma_mape(&val, a, c);
            if m < sm {
                (sa, sc, sm) = (a, c, m);
            }
        }
    }
    // How concentrated the test error is: the EWMA's 10 worst intervals' share of the sum.
    let test = pick(Split::Test, None);
    let e: Vec<Vec<f64>> = test.iter().map(|x| ewma(x, alpha)).collect();
    let mut ape: Vec<(f64, f64, f64)> = scored(&test)
        .iter()
        .map(|&(i, t)| {
            let a = test[i][t + 1];
            ((e[i][t] - a).abs() / a, a, e[i][t])
        })
        .collect();
    ape.sort_by(|a, b| b.0.total_cmp(&a.0));
    let sum: f64 = ape.iter().map(|a| a.0).sum();
    let top: f64 = ape[..10].iter().map(|a| a.0).sum();
    eprintln!(
        "test: {} scored intervals; the EWMA's 10 worst make {:.1} % of its MAPE sum (MAPE without their error: {:.4}); worst three (APE, actual kbit/s, EWMA kbit/s): {:?}",
        ape.len(),
        100.0 * top / sum,
        (sum - top) / ape.len() as f64,
        &ape[..3]
    );
    eprintln!("chosen on validation: EWMA alpha {alpha}; scaled EWMA alpha {sa} x {sc}");
    eprintln!(
        "{:<10} {:<10} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "split", "family", "n", "ewma", "last", "scaled", "bound", "bound/ewma", "lookup(train)"
    );
    for split in [Split::Validation, Split::Test] {
        for fam in [Some("mahimahi"), Some("onl-emu"), None] {
            let s = pick(split, fam);
            if s.is_empty() {
                continue;
            }
            let e = ewma_mape(&s, alpha);
            let b = lookup_bound(&s, alpha);
            eprintln!(
                "{:<10} {:<10} {:>6} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>8.3} {:>8.4}",
                format!("{split:?}"),
                fam.unwrap_or("all"),
                scored(&s).len(),
                e,
                ewma_mape(&s, 1.0),
                scaled_ewma_mape(&s, sa, sc),
                b,
                b / e,
                lookup(&train, &s, alpha)
            );
        }
    }
}

#[test]
#[ignore]
fn per_trace_capacity_and_ewma_error() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/rtc");
    let Ok(traces) = neuralstream_rt::read_trace_dir(&dir, Default::default()) else {
        return;
    };
    for t in &traces {
        let s = capacity_series(t, 200.0);
        let n = s.len() as f64;
        let low = s.iter().filter(|&&v| v < 200.0).count() as f64 / n;
        let mean = s.iter().sum::<f64>() / n;
        eprintln!(
            "{:<50} {:<9} {:<11} mean {:>8.0} kbit/s, <200 kbit/s {:>5.3}, ewma0.8 {:.4}",
            t.name,
            t.family,
            format!("{:?}", t.split),
            mean,
            low,
            ewma_mape(std::slice::from_ref(&s), 0.8)
        );
    }
}
