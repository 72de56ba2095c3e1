//! Bounds on the player and network model's settings, shared by the simulator's config and by the
//! `bench` and `play` flags that set them, so that all refuse the same typos with the same limits.

/// The largest round-trip time accepted, ms: a round trip over a minute is a typo, not a network.
pub const MAX_RTT_MS: f64 = 60_000.0;

/// The largest buffer cap accepted, seconds (a day; far beyond any video a session plays).
pub const MAX_BUFFER_CAP_S: f64 = 86_400.0;

/// The smallest payload fraction accepted: below 1 % of the link carrying payload, every trace
/// looks dead and the error would wrongly blame it.
pub const MIN_PAYLOAD_FRACTION: f64 = 0.01;
