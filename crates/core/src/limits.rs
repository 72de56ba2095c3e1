//! Bounds on the player and network model's settings, shared by the simulator's config and by the
//! `bench` and `play` flags that set them, so that all refuse the same typos with the same limits.

/// The largest round-trip time accepted, ms: a round trip over a minute is a typo, not a network.
pub const MAX_RTT_MS: f64 = 60_000.0;

/// The largest buffer cap accepted, seconds (a day; far beyond any video a session plays).
pub const MAX_BUFFER_CAP_S: f64 = 86_400.0;

/// The smallest payload fraction accepted: below 1 % of the link carrying payload, every trace
/// looks dead and the error would wrongly blame it.
pub const MIN_PAYLOAD_FRACTION: f64 = 0.01;

/// The shortest span a trace may cover, seconds: the simulator loops a trace, and a shorter one
/// would need millions of loops per chunk.
pub const MIN_TRACE_SPAN_S: f64 = 0.001;

/// Loops of the trace a download makes before the stall guard may give up: the simulator's
/// default `max_trace_loops`, and `play`'s.
pub const DEFAULT_MAX_TRACE_LOOPS: usize = 1000;

/// Trace time one chunk may take, seconds, before a download gives up on the link: a day.
pub const STALL_GIVE_UP_S: f64 = 86_400.0;

/// Trace intervals one download may walk at most, however short or dense the trace (a hard stop:
/// about a second of CPU). Above a day of a 1 ms, two-line trace (86.4 M intervals), so a
/// constant link gives up after the same day of trace time whatever its file's length.
pub const MAX_TRACE_STEPS_PER_CHUNK: u64 = 100_000_000;

/// The stall guard the simulator and `play`'s trace-shaped link share: a download is given up once
/// it has looped the trace more than `min_loops` times and either spent more than
/// [`STALL_GIVE_UP_S`] of trace time or walked more than [`MAX_TRACE_STEPS_PER_CHUNK`] trace
/// intervals. A short trace (a constant link a few ms long) loops many times and still delivers;
/// a dead one is given up.
pub fn download_is_stalled(loops: usize, min_loops: usize, trace_time_s: f64, steps: u64) -> bool {
    loops > min_loops && (trace_time_s > STALL_GIVE_UP_S || steps > MAX_TRACE_STEPS_PER_CHUNK)
}

/// The longest chunk (segment) a video may describe, seconds: an hour. Sleeping off a buffer
/// over its cap walks the trace for up to a chunk's duration.
pub const MAX_CHUNK_DURATION_S: f64 = 3600.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stall_guard_needs_the_loop_budget_and_then_a_day_or_the_step_cap() {
        // Within the loop budget nothing is given up, however long it took.
        assert!(!download_is_stalled(1000, 1000, 1e9, u64::MAX));
        // Past it: a short trace that is still within a day goes on...
        assert!(!download_is_stalled(50_000, 1000, 50.0, 50_000));
        // ...a day of trace time is a dead link...
        assert!(download_is_stalled(1001, 1000, STALL_GIVE_UP_S + 1.0, 1001));
        // ...and the step cap stops a trace too short or dense for time to add up.
        assert!(download_is_stalled(
            2000,
            1000,
            0.0,
            MAX_TRACE_STEPS_PER_CHUNK + 1
        ));
        // A day of a 1 ms two-line trace comes before the step cap.
        assert!((STALL_GIVE_UP_S / MIN_TRACE_SPAN_S) < MAX_TRACE_STEPS_PER_CHUNK as f64);
    }
}
