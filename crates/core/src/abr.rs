//! The [`Abr`] trait and what an algorithm observes.

use crate::video::Video;
use serde::{Deserialize, Serialize};

/// What happened to one downloaded chunk: the per-chunk session log row.
///
/// `Default` is the all-zero row, for building records field by field
/// (`ChunkRecord { level: 2, ..ChunkRecord::default() }`); it is not a download that happened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ChunkRecord {
    /// Chunk index in the video (0-based).
    pub index: usize,
    /// Level it was fetched at.
    pub level: usize,
    /// Nominal bitrate of that level, kbit/s.
    pub bitrate_kbps: f64,
    /// Bytes downloaded.
    pub size_bytes: u64,
    /// Time from request to last byte, including the round trip (and noise in training mode), ms.
    pub delay_ms: f64,
    /// Time the player idled after the download because its buffer was full, ms.
    pub sleep_ms: f64,
    /// Playback stall caused by this download, seconds (for chunk 0 this is the startup delay).
    pub rebuffer_s: f64,
    /// Buffer after the download and any sleep, seconds.
    pub buffer_s: f64,
    /// Session clock when the request was sent, seconds.
    pub request_s: f64,
    /// Session clock when the last byte arrived, seconds.
    pub finish_s: f64,
}

impl ChunkRecord {
    /// Throughput the player measured for this chunk (bytes over the whole delay), kbit/s.
    #[inline]
    pub fn throughput_kbps(&self) -> f64 {
        self.size_bytes as f64 * 8.0 / self.delay_ms
    }
}

/// Everything an ABR algorithm may look at before choosing the level of the next chunk.
///
/// It is what a real player knows: its own download history for this session, its buffer, the
/// ladder, and every chunk's size at every level (from the manifest). It never sees the network trace.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// The video being played.
    pub video: &'a Video,
    /// Index of the chunk whose level is being chosen.
    pub next_chunk: usize,
    /// Number of chunks this session plays (may be fewer than the video describes).
    pub total_chunks: usize,
    /// Buffer level now, seconds.
    pub buffer_s: f64,
    /// Level of the last downloaded chunk (the startup level before any download).
    pub last_level: usize,
    /// This session's downloads so far, oldest first.
    ///
    /// Within one session it only grows at the end, so an algorithm may fold records in
    /// incrementally and count how many it has seen. A host that has to rewrite it (the server
    /// replacing a retried report, or cutting a looping client's history back) builds a fresh
    /// instance instead of passing the rewritten history to the old one.
    pub history: &'a [ChunkRecord],
}

impl Observation<'_> {
    /// Chunks left to download, including the one being chosen.
    #[inline]
    pub fn chunks_left(&self) -> usize {
        self.total_chunks - self.next_chunk
    }
}

/// An algorithm's choice for the next chunk, with its reasons when it has them.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Decision {
    /// Level to fetch.
    pub level: usize,
    /// Throughput the algorithm planned with, kbit/s.
    pub predicted_throughput_kbps: Option<f64>,
    /// Buffer level the algorithm is steering towards, seconds.
    pub buffer_target_s: Option<f64>,
}

impl Decision {
    /// A bare decision with no reasons attached.
    #[inline]
    pub fn level(level: usize) -> Self {
        Decision {
            level,
            ..Default::default()
        }
    }
}

/// An adaptive-bitrate algorithm: chooses the level of each chunk from what the player observed.
///
/// One instance serves one player. The runner calls [`Abr::reset`] when a new session (video) starts,
/// then [`Abr::choose`] before each chunk whose level is not fixed by the start-up rule.
pub trait Abr: Send {
    /// Short identifier, as accepted by `--abr` (e.g. `"bb"`, `"robustmpc"`).
    fn name(&self) -> String;

    /// Forget per-session state; called before each session's first decision.
    fn reset(&mut self) {}

    /// Chooses the level of chunk `obs.next_chunk`. Must return a level below `obs.video.num_levels()`.
    fn choose(&mut self, obs: &Observation<'_>) -> Decision;

    /// Called once after the session's last download, with `obs.next_chunk == obs.total_chunks`.
    /// Nothing is chosen; algorithms that learn across sessions may update their state here
    /// (Pensieve's RobustMPC records the last chunk's throughput error at this point).
    fn session_finished(&mut self, _obs: &Observation<'_>) {}

    /// True when results depend on the order in which sessions are played (state kept across
    /// [`Abr::reset`], as Pensieve's RobustMPC does); such algorithms are never run out of order.
    fn carries_state_across_sessions(&self) -> bool {
        false
    }
}
