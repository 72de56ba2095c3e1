//! Imputation of missing intervals, and network traces in Pensieve's cooked format.
//!
//! **Missing chunks** (a report lost, an event dropped by cleaning): a gap of at most
//! [`MAX_IMPUTED_GAP_CHUNKS`] chunks is filled by interpolating the throughput **linearly in its
//! logarithm** between the chunks on either side (a geometric interpolation: throughput varies by
//! ratios, and the log-linear path never overshoots either neighbour), with the size of the
//! neighbours' mean and the time between them split evenly. Filled chunks are marked `imputed`:
//! they may appear in a predictor's history, but never as its target, so no error is measured
//! against a made-up value. A longer gap says too little about the link in between: the session
//! is split there into parts (`SESSION#1`, `SESSION#2`, ...).
//!
//! **Idle intervals** (the player's buffer was full, nothing was downloading): a download measures
//! the link only while it runs. A trace is a regular grid of [`TRACE_STEP_S`] seconds; a cell
//! overlapped by downloads takes their overlap-weighted mean throughput, and a cell no download
//! overlapped is interpolated linearly in time between the nearest measured cells (the nearest one
//! at either end). Linear interpolation is unbiased for a link that drifts slowly and adds no
//! variance that was not measured; carrying the last value forward would shift every change to the
//! end of the idle period.

use crate::clean::{ChunkObs, CleanReport, SessionSeries};

/// Longest run of missing chunks filled in; longer gaps split the session.
pub const MAX_IMPUTED_GAP_CHUNKS: u32 = 2;

/// Step of the traces' time grid, seconds.
pub const TRACE_STEP_S: f64 = 1.0;

/// Fills short gaps and splits sessions at long ones; counts both in `report`.
pub fn fill_gaps(series: Vec<SessionSeries>, report: &mut CleanReport) -> Vec<SessionSeries> {
    let mut out = Vec::with_capacity(series.len());
    for s in series {
        let mut parts: Vec<Vec<ChunkObs>> = vec![Vec::new()];
        let SessionSeries {
            session,
            source,
            algorithm,
            client,
            chunks,
        } = s;
        for c in chunks {
            let part = parts.last_mut().expect("never empty");
            if let Some(prev) = part.last().cloned() {
                let missing = c.chunk.saturating_sub(prev.chunk + 1);
                if missing > MAX_IMPUTED_GAP_CHUNKS {
                    parts.push(vec![c]);
                    continue;
                }
                for k in 1..=missing {
                    part.push(interpolate(&prev, &c, k, missing + 1));
                    report.chunks_imputed += 1;
                }
            }
            part.push(c);
        }
        let n = parts.len();
        if n > 1 {
            report.sessions_split += 1;
        }
        for (k, chunks) in parts.into_iter().enumerate() {
            out.push(SessionSeries {
                session: if n > 1 {
                    format!("{session}#{}", k + 1)
                } else {
                    session.clone()
                },
                source: source.clone(),
                algorithm: algorithm.clone(),
                client: client.clone(),
                chunks,
            });
        }
    }
    out
}

/// The k-th of `steps - 1` chunks between `a` and `b` (`0 < k < steps`).
fn interpolate(a: &ChunkObs, b: &ChunkObs, k: u32, steps: u32) -> ChunkObs {
    let w = k as f64 / steps as f64;
    let ln = (1.0 - w) * a.throughput_kbps.ln() + w * b.throughput_kbps.ln();
    let throughput_kbps = ln.exp();
    let size_bytes = (a.size_bytes + b.size_bytes) / 2.0;
    // Place it evenly between a's end and b's start, lasting what its size takes.
    let gap_ms = (b.start_ms - a.end_ms).max(0.0);
    let start_ms = a.end_ms + gap_ms * (k as f64 - 0.5) / (steps as f64 - 1.0).max(1.0);
    let start_ms = start_ms.max(a.end_ms);
    ChunkObs {
        chunk: a.chunk + k,
        start_ms,
        end_ms: start_ms + size_bytes * 8.0 / throughput_kbps,
        size_bytes,
        throughput_kbps,
        imputed: true,
    }
}

/// The session's link as a cooked trace: `(time_s, throughput_mbps)` on a regular grid starting
/// at 0 (the first request). `None` with fewer than two grid cells measured.
pub fn trace_points(chunks: &[ChunkObs]) -> Option<Vec<(f64, f64)>> {
    let t0 = chunks
        .iter()
        .map(|c| c.start_ms)
        .fold(f64::INFINITY, f64::min);
    let t1 = chunks
        .iter()
        .map(|c| c.end_ms)
        .fold(f64::NEG_INFINITY, f64::max);
    if !(t0.is_finite() && t1 > t0) {
        return None;
    }
    let step_ms = TRACE_STEP_S * 1000.0;
    let cells = ((t1 - t0) / step_ms).ceil().max(1.0) as usize;
    let mut weighted = vec![0.0; cells];
    let mut covered = vec![0.0; cells];
    for c in chunks {
        let (a, b) = ((c.start_ms - t0) / step_ms, (c.end_ms - t0) / step_ms);
        let first = a.floor() as usize;
        let last = (b.ceil() as usize).min(cells);
        for (i, (w, cov)) in weighted
            .iter_mut()
            .zip(covered.iter_mut())
            .enumerate()
            .take(last)
            .skip(first)
        {
            let overlap = (b.min(i as f64 + 1.0) - a.max(i as f64)).max(0.0);
            *w += overlap * c.throughput_kbps;
            *cov += overlap;
        }
    }
    let measured: Vec<(usize, f64)> = (0..cells)
        .filter(|&i| covered[i] > 1e-9)
        .map(|i| (i, weighted[i] / covered[i]))
        .collect();
    if measured.len() < 2 {
        return None;
    }
    let mut values = vec![0.0; cells];
    let mut j = 0;
    for (i, v) in values.iter_mut().enumerate() {
        while j + 1 < measured.len() && measured[j + 1].0 <= i {
            j += 1;
        }
        let (ia, va) = measured[j];
        *v = if i <= ia || j + 1 == measured.len() {
            va
        } else {
            let (ib, vb) = measured[j + 1];
            va + (vb - va) * (i - ia) as f64 / (ib - ia) as f64
        };
    }
    Some(
        values
            .into_iter()
            .enumerate()
            .map(|(i, kbps)| (i as f64 * TRACE_STEP_S, kbps / 1000.0))
            .collect(),
    )
}

/// A trace's file text: one `time_s throughput_mbps` line per point, as Pensieve's cooked traces.
pub fn cooked_text(points: &[(f64, f64)]) -> String {
    let mut s = String::with_capacity(points.len() * 24);
    for (t, mbps) in points {
        s.push_str(&format!("{t} {mbps}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(chunk: u32, start_ms: f64, dur_ms: f64, kbps: f64) -> ChunkObs {
        ChunkObs {
            chunk,
            start_ms,
            end_ms: start_ms + dur_ms,
            size_bytes: kbps * dur_ms / 8.0,
            throughput_kbps: kbps,
            imputed: false,
        }
    }

    fn series(chunks: Vec<ChunkObs>) -> SessionSeries {
        SessionSeries {
            session: "s".into(),
            source: "bench".into(),
            algorithm: None,
            client: None,
            chunks,
        }
    }

    #[test]
    fn short_gaps_are_filled_geometrically_and_long_ones_split() {
        let s = series(vec![
            obs(0, 0.0, 1000.0, 1000.0),
            obs(2, 8000.0, 1000.0, 4000.0),
            obs(6, 24000.0, 1000.0, 4000.0),
        ]);
        let mut r = CleanReport::default();
        let out = fill_gaps(vec![s], &mut r);
        assert_eq!(r.chunks_imputed, 1);
        assert_eq!(r.sessions_split, 1);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].session, "s#1");
        let mid = &out[0].chunks[1];
        assert!(mid.imputed && mid.chunk == 1);
        assert!((mid.throughput_kbps - 2000.0).abs() < 1e-9);
        assert!(mid.start_ms >= 1000.0 && mid.end_ms <= 8000.0 + 1e-9);
        assert_eq!(out[1].chunks.len(), 1);
    }

    #[test]
    fn idle_cells_are_interpolated_in_time() {
        // 1 Mbit/s over [0, 2) s, idle [2, 4), 3 Mbit/s over [4, 6) s.
        let p =
            trace_points(&[obs(0, 0.0, 2000.0, 1000.0), obs(1, 4000.0, 2000.0, 3000.0)]).unwrap();
        let v: Vec<f64> = p.iter().map(|x| x.1).collect();
        assert_eq!(p.len(), 6);
        assert_eq!(p[5].0, 5.0);
        let want = [1.0, 1.0, 1.0 + 2.0 / 3.0, 1.0 + 4.0 / 3.0, 3.0, 3.0];
        for (a, b) in v.iter().zip(want) {
            assert!((a - b).abs() < 1e-9, "{v:?}");
        }
        assert_eq!(cooked_text(&p[..2]), "0 1\n1 1\n");
        assert!(trace_points(&[]).is_none());
    }

    proptest::proptest! {
        /// Whatever the downloads, a trace is a regular 1 s grid from 0 whose throughputs stay
        /// within the measured ones (overlap means and interpolation never leave that range).
        #[test]
        fn traces_stay_within_the_measured_range(
            spec in proptest::collection::vec((0.0f64..20_000.0, 50.0f64..5_000.0, 100.0f64..50_000.0), 2..30)
        ) {
            let mut t = 0.0;
            let chunks: Vec<ChunkObs> = spec
                .iter()
                .enumerate()
                .map(|(i, &(gap, dur, kbps))| {
                    t += gap;
                    let c = obs(i as u32, t, dur, kbps);
                    t += dur;
                    c
                })
                .collect();
            let lo = chunks.iter().map(|c| c.throughput_kbps).fold(f64::INFINITY, f64::min);
            let hi = chunks.iter().map(|c| c.throughput_kbps).fold(0.0, f64::max);
            if let Some(points) = trace_points(&chunks) {
                for (i, (time_s, mbps)) in points.iter().enumerate() {
                    proptest::prop_assert_eq!(*time_s, i as f64 * TRACE_STEP_S);
                    proptest::prop_assert!(*mbps * 1000.0 >= lo * (1.0 - 1e-9));
                    proptest::prop_assert!(*mbps * 1000.0 <= hi * (1.0 + 1e-9));
                }
            }
        }
    }
}
