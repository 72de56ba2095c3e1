//! Cutting long traces into session-sized windows.
//!
//! Pensieve's training traces run up to 4000 s, but a session lasts a few minutes and the offline
//! optimum solves from a trace's start only. Cutting each long trace into overlapping windows (like
//! the 320 s Norway test traces) turns one trace into many diverse sessions, each starting at time 0.

use neuralstream_core::Trace;

/// The part of `trace` between `start_s` and `start_s + len_s` (samples at or after `start_s` and
/// at or before the end), re-timed to start at 0 and named `<name>@<start>s`. `None` when fewer
/// than two samples fall in the window, they span under a millisecond
/// ([`neuralstream_core::MIN_TRACE_SPAN_S`]) or the window carries no capacity.
pub fn window_trace(trace: &Trace, start_s: f64, len_s: f64) -> Option<Trace> {
    let end_s = start_s + len_s;
    let (time_s, bw): (Vec<f64>, Vec<f64>) = trace
        .time_s
        .iter()
        .zip(&trace.bandwidth_mbps)
        .filter(|(&t, _)| t >= start_s && t <= end_s)
        .map(|(&t, &b)| (t, b))
        .unzip();
    Trace::new(format!("{}@{start_s:.0}s", trace.name), time_s, bw).ok()
}

/// Windows of `window_s` seconds every `hop_s` seconds over `trace`, starting at 0; a trace no
/// longer than `window_s` is returned whole. Windows without capacity are skipped.
///
/// # Panics
/// If `window_s` or `hop_s` is not positive.
pub fn windows(trace: &Trace, window_s: f64, hop_s: f64) -> Vec<Trace> {
    assert!(
        window_s > 0.0 && hop_s > 0.0,
        "window and hop must be positive"
    );
    let duration_s = trace.duration_s();
    if duration_s <= window_s {
        return vec![trace.clone()];
    }
    let mut out = Vec::new();
    let mut start_s = 0.0;
    while start_s + window_s <= duration_s + 1e-9 {
        if let Some(w) = window_trace(trace, start_s, window_s) {
            out.push(w);
        }
        start_s += hop_s;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(n: usize) -> Trace {
        let t: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let b: Vec<f64> = (0..n).map(|i| 1.0 + i as f64).collect();
        Trace::new("ramp", t, b).unwrap()
    }

    #[test]
    fn window_is_retimed_and_named() {
        let w = window_trace(&ramp(100), 10.0, 20.0).unwrap();
        assert_eq!(w.time_s.first(), Some(&0.0));
        assert_eq!(w.duration_s(), 20.0);
        assert_eq!(w.bandwidth_mbps[0], 11.0);
        assert_eq!(w.name, "ramp@10s");
    }

    #[test]
    fn windows_cover_with_hop() {
        let ws = windows(&ramp(101), 40.0, 20.0); // duration 100: starts 0, 20, 40, 60
        assert_eq!(ws.len(), 4);
        assert_eq!(windows(&ramp(10), 40.0, 20.0).len(), 1);
    }
}
