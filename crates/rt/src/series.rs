//! Plain series of a session, for the charts of `rt bench` (frame-delay CDF per controller and a
//! session timeline). `neuralstream-report` draws them; it depends on core only and knows nothing
//! of this crate, so everything here is numbers: `(session time s, value)` points and lists of
//! values.
//!
//! Rates are binned over [`TimelineSeries`]'s bin (200 ms by default in `rt bench`): a per-packet
//! line would be unreadable and its SVG huge; the frame-delay line shows each bin's largest delay,
//! so a spike is never averaged away.

use crate::sim::SessionLog;
use crate::trace::LinkTrace;

/// Capture-to-display delay of every rendered frame, ms, in render order (what the p50 and p95 of
/// [`score`](mod@crate::score) are taken over).
pub fn frame_delays_ms(log: &SessionLog) -> Vec<f64> {
    log.rendered
        .iter()
        .map(|f| f.render_ms - f.capture_ms)
        .collect()
}

/// A session's timeline as step lines, x in session seconds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimelineSeries {
    /// Link capacity per bin, Mbit/s.
    pub capacity_mbps: Vec<(f64, f64)>,
    /// Encoder target in force, Mbit/s.
    pub target_mbps: Vec<(f64, f64)>,
    /// Bytes that arrived per bin, Mbit/s.
    pub delivered_mbps: Vec<(f64, f64)>,
    /// Largest capture-to-display delay of the frames rendered in each bin, ms (bins with no
    /// rendered frame are left out: the line jumps over a freeze).
    pub frame_delay_ms: Vec<(f64, f64)>,
    /// Encoded picture height (480, 720, 1080) in force.
    pub height: Vec<(f64, f64)>,
    /// Encoded frame rate in force.
    pub fps: Vec<(f64, f64)>,
}

/// Pushes a step from `a_s` to `b_s` at `y`.
fn step(out: &mut Vec<(f64, f64)>, a_s: f64, b_s: f64, y: f64) {
    out.push((a_s, y));
    out.push((b_s, y));
}

/// Step line of `(time ms, value)` changes held until the next change, ending at `end_ms`; a
/// value equal to the previous one adds no step.
fn held(changes: impl IntoIterator<Item = (f64, f64)>, end_ms: f64) -> Vec<(f64, f64)> {
    let mut kept: Vec<(f64, f64)> = Vec::new();
    for (t, v) in changes {
        if kept.last().is_none_or(|&(_, last)| last != v) {
            kept.push((t, v));
        }
    }
    let mut out = Vec::with_capacity(2 * kept.len());
    for (i, &(t, v)) in kept.iter().enumerate() {
        let until = kept.get(i + 1).map_or(end_ms, |n| n.0).max(t);
        step(&mut out, t / 1000.0, until / 1000.0, v);
    }
    out
}

impl TimelineSeries {
    /// The timeline of `log`, a session played over `trace`, rates binned over `bin_ms` (> 0).
    pub fn of(log: &SessionLog, trace: &LinkTrace, bin_ms: f64) -> Self {
        let bin_ms = if bin_ms.is_finite() && bin_ms > 0.0 {
            bin_ms
        } else {
            200.0
        };
        let end_ms = log.duration_ms.max(0.0);
        let bins = (end_ms / bin_ms).ceil() as usize;
        let mut delivered = vec![0u64; bins];
        for p in &log.packets {
            if let Some(a) = p.arrival_ms() {
                if let Some(b) = delivered.get_mut((a / bin_ms) as usize) {
                    *b += p.bytes as u64;
                }
            }
        }
        let mut worst = vec![f64::NAN; bins];
        for f in &log.rendered {
            if let Some(w) = worst.get_mut((f.render_ms / bin_ms) as usize) {
                let d = f.render_ms - f.capture_ms;
                *w = if w.is_nan() { d } else { w.max(d) };
            }
        }
        let mut s = TimelineSeries::default();
        for i in 0..bins {
            let (a, b) = (i as f64 * bin_ms, ((i + 1) as f64 * bin_ms).min(end_ms));
            let span = (b - a).max(1e-9);
            // bytes x 8 / ms = kbit/s; / 1000 = Mbit/s.
            let cap = trace.capacity_bytes_between(a, b) * 8.0 / span / 1000.0;
            step(&mut s.capacity_mbps, a / 1000.0, b / 1000.0, cap);
            let got = delivered[i] as f64 * 8.0 / span / 1000.0;
            step(&mut s.delivered_mbps, a / 1000.0, b / 1000.0, got);
            if worst[i].is_finite() {
                s.frame_delay_ms.push(((a + b) / 2000.0, worst[i]));
            }
        }
        s.target_mbps = held(
            log.decisions
                .iter()
                .map(|d| (d.at_ms, d.decision.target_bps / 1e6)),
            end_ms,
        );
        s.height = held(
            log.frames
                .iter()
                .map(|f| (f.capture_ms, f.resolution.height() as f64)),
            end_ms,
        );
        s.fps = held(
            log.frames.iter().map(|f| (f.capture_ms, f.fps as f64)),
            end_ms,
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::Fixed;
    use crate::sim::{run_session, RtConfig};

    #[test]
    fn timeline_of_a_fixed_session_on_a_constant_link() {
        let trace = LinkTrace::constant(4_000.0, 40.0, 10_000.0).unwrap();
        let cfg = RtConfig {
            duration_ms: 10_000.0,
            ..Default::default()
        };
        let log = run_session(&trace, &cfg, &mut Fixed::new(1.5e6)).unwrap();
        let s = TimelineSeries::of(&log, &trace, 200.0);
        assert_eq!(s.capacity_mbps.len(), 2 * 50);
        assert!(s.capacity_mbps.iter().all(|p| (p.1 - 4.0).abs() < 1e-6));
        assert_eq!(s.capacity_mbps.last().unwrap().0, 10.0);
        // One decision held all session: one step.
        assert_eq!(s.target_mbps, vec![(0.0, 1.5), (10.0, 1.5)]);
        // After start-up, about the target arrives (the encoder's noise averages out over 1 s).
        let late: Vec<f64> = s.delivered_mbps[20..].iter().map(|p| p.1).collect();
        let mean = late.iter().sum::<f64>() / late.len() as f64;
        assert!((mean - 1.5).abs() < 0.3, "{mean}");
        // Frame delays: one point per bin, each the largest in its bin, all at least the
        // propagation delay.
        assert!(s.frame_delay_ms.len() >= 45, "{}", s.frame_delay_ms.len());
        assert!(s.frame_delay_ms.iter().all(|p| p.1 >= 20.0));
        let all = frame_delays_ms(&log);
        let max_all = all.iter().copied().fold(0.0, f64::max);
        let max_bins = s.frame_delay_ms.iter().map(|p| p.1).fold(0.0, f64::max);
        assert_eq!(max_all, max_bins);
        assert_eq!(all.len(), log.rendered.len());
        // 1.5 Mbit/s is 720p at 30 fps on the default ladder; it never changes.
        assert_eq!(s.height, vec![(0.0, 720.0), (10.0, 720.0)]);
        assert_eq!(s.fps, vec![(0.0, 30.0), (10.0, 30.0)]);
    }

    #[test]
    fn held_merges_repeats_and_ends_at_the_session_end() {
        let h = held([(0.0, 1.0), (500.0, 1.0), (1000.0, 2.0)], 3000.0);
        assert_eq!(h, vec![(0.0, 1.0), (1.0, 1.0), (1.0, 2.0), (3.0, 2.0)]);
        assert!(held([], 1000.0).is_empty());
    }
}
