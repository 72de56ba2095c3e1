//! The validation set of [`super::Selection::Grid`]: sessions from *every* trace of each
//! validation split, on videos of the generalisation grid's kinds that training never plays.
//!
//! The regret selection validated on 10 windows per trace set (a seeded subset of all the split's
//! windows: a few traces, 9 to 24 sessions per group) and on the training ladders only, while the
//! grid reports on a 10-level ladder, a 6-level ladder topping at 35 Mbit/s and a 5-level ladder
//! of 4 s chunks. So a checkpoint that won on validation need not win on the grid, and a group's
//! p10 was one session's stall. This builder fixes both:
//!
//! - [`round_robin_windows`]: the windows of every validation trace, taken round robin (the first
//!   window of every trace, then the second of every trace, ...) up to a cap per set, so every
//!   held-out trace counts and long traces do not crowd short ones out;
//! - [`ValidationSet`]: which videos validation plays (`val_videos`) and which of them are held
//!   out of training altogether (`held_out_videos`: never paired with a training window), and
//!   which trace sets only validation plays (`held_out_sets`). The caller gives the grid's *kinds*
//!   of ladder and network built from other bitrates and seeds, never the grid's own videos or
//!   traces (test data).
//!
//! Validation needs no optimum here (the selection compares with the rules, which are played once
//! per run and cached), so more sessions cost little: one play of the policy per session and
//! checkpoint.

use crate::windows::windows;
use neuralstream_core::Trace;

/// Which videos and windows validation uses (all empty / `false`: the regret selection's set,
/// every video and a seeded subset of windows).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationSet {
    /// Indices (into the videos given to the trainer) that validation plays; empty: every video.
    pub val_videos: Vec<usize>,
    /// Indices of videos that only validation plays: no training window is paired with them.
    pub held_out_videos: Vec<usize>,
    /// Take windows from every validation trace round robin ([`round_robin_windows`]) instead of
    /// a seeded subset of all windows.
    pub every_trace: bool,
    /// Indices of trace sets that only validation plays (every trace validates, none trains): a
    /// kind of network the grid reports on, generated with another seed than the grid's.
    pub held_out_sets: Vec<usize>,
}

impl ValidationSet {
    /// The videos training windows are paired with: every index below `n_videos` not held out.
    pub fn train_videos(&self, n_videos: usize) -> Vec<usize> {
        (0..n_videos)
            .filter(|v| !self.held_out_videos.contains(v))
            .collect()
    }

    /// The videos validation plays, in index order.
    pub fn validation_videos(&self, n_videos: usize) -> Vec<usize> {
        if self.val_videos.is_empty() {
            return (0..n_videos).collect();
        }
        let mut v: Vec<usize> = self
            .val_videos
            .iter()
            .copied()
            .filter(|&i| i < n_videos)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// The `window_s` windows every `hop_s` of every trace, round robin over the traces (each trace's
/// first window, then each trace's second, ...), at most `max` of them; in that order.
pub fn round_robin_windows(traces: &[Trace], window_s: f64, hop_s: f64, max: usize) -> Vec<Trace> {
    let per_trace: Vec<Vec<Trace>> = traces.iter().map(|t| windows(t, window_s, hop_s)).collect();
    let deepest = per_trace.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::new();
    for k in 0..deepest {
        for w in &per_trace {
            if out.len() >= max {
                return out;
            }
            if let Some(t) = w.get(k) {
                out.push(t.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(name: &str, duration_s: f64) -> Trace {
        let n = duration_s as usize + 1;
        Trace::new(name, (0..n).map(|i| i as f64).collect(), vec![2.0; n]).unwrap()
    }

    #[test]
    fn every_trace_gives_a_window_before_any_gives_two() {
        // Windows of 100 s every 50 s: 0-1000 s has 19, 0-200 s has 3, 0-80 s is whole (1).
        let traces = [
            trace("long", 1000.0),
            trace("mid", 200.0),
            trace("short", 80.0),
        ];
        let w = round_robin_windows(&traces, 100.0, 50.0, 5);
        let names: Vec<&str> = w.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            ["long@0s", "mid@0s", "short", "long@50s", "mid@50s"],
            "{names:?}"
        );
        // Without a binding cap every window of every trace is taken once.
        let all = round_robin_windows(&traces, 100.0, 50.0, usize::MAX);
        let expected: usize = traces.iter().map(|t| windows(t, 100.0, 50.0).len()).sum();
        assert_eq!(all.len(), expected);
        let mut names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), expected, "no window twice");
        assert!(round_robin_windows(&traces, 100.0, 50.0, 0).is_empty());
        assert!(round_robin_windows(&[], 100.0, 50.0, 9).is_empty());
    }

    #[test]
    fn held_out_videos_are_validated_and_never_trained_on() {
        let set = ValidationSet {
            val_videos: vec![5, 0, 4, 5, 9],
            held_out_videos: vec![4, 5],
            every_trace: true,
            held_out_sets: vec![],
        };
        assert_eq!(set.train_videos(6), vec![0, 1, 2, 3]);
        assert_eq!(
            set.validation_videos(6),
            vec![0, 4, 5],
            "sorted, deduplicated, in range"
        );
        let all = ValidationSet::default();
        assert_eq!(all.train_videos(3), vec![0, 1, 2]);
        assert_eq!(all.validation_videos(3), vec![0, 1, 2]);
    }
}
