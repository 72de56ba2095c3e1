//! What the server answers: a decision ([`DecisionResponse`] with its [`Reasons`]) or, for every
//! refusal, an [`ApiError`].

use serde::{Deserialize, Serialize};

/// The algorithm's reasons for a decision, when it has them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reasons {
    /// Throughput the algorithm expects for the next chunk, kbps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_throughput_kbps: Option<f64>,
    /// Buffer level the algorithm aims for, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffer_target_s: Option<f64>,
    /// Highest level the server's egress allocator allows this session (`serve --egress-mbps`);
    /// `level` is at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap_level: Option<usize>,
    /// That cap's bitrate, kbps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap_kbps: Option<f64>,
    /// Why the allocator set that cap, for people (e.g. `max-min QoE: projected 1.200 per chunk
    /// (floor 1.100)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap_reason: Option<String>,
    /// Lowest level the server's egress allocator has this session fetch, when it raises it
    /// (`serve --egress-mbps --allocator fair`: the session is behind, its buffer deep and its
    /// share of the egress carries the level); `level` is at least this and at most `cap_level`.
    /// Added after `cap_level`; a client that does not know it obeys it all the same by fetching
    /// `level`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_level: Option<usize>,
    /// That floor's bitrate, kbps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_kbps: Option<f64>,
    /// Why the allocator set that floor, for people (e.g. `behind with room: QoE 0.500 per chunk
    /// (mean 1.000), buffer 20.0 s, share 1500 kbit/s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_reason: Option<String>,
}

/// The server's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionResponse {
    /// Session id echoed back.
    pub session: String,
    /// Algorithm that decided.
    pub algorithm: String,
    /// Chunk index the level is for. Equal to the video's chunk count when the report was for the
    /// last chunk: the video is finished and `level` repeats the last level.
    pub chunk: usize,
    /// Ladder level to fetch next (0 = lowest bitrate).
    pub level: usize,
    /// That level's bitrate, kbps.
    pub bitrate_kbps: f64,
    /// Why.
    pub reasons: Reasons,
    /// Session QoE so far under the server's QoE model: the sum of per-chunk rewards over the
    /// reported chunks, the first (start-up) chunk excluded as `bench` and Pensieve score it.
    pub qoe_so_far: f64,
    /// Time the server spent deciding, microseconds.
    pub decision_us: f64,
}

/// Body of every 4xx/5xx answer of the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    /// What went wrong and how to fix it.
    pub error: String,
}
