//! # neuralstream-protocol
//!
//! The wire types of NeuralStream's ABR decision API (`POST /api/v1/sessions/{id}/decision`), shared
//! by the server (`neuralstream-server`), the native player (`neuralstream-player`) and documented for
//! the web player.
//!
//! **Key design decision:** one schema, two spellings. The project's own field names (units in the
//! name: `_ms`, `_s`, `_bytes`) are canonical; the camelCase names a Pensieve-style dash.js client
//! sends (`lastquality`, `buffer`, `RebufferTime`, `lastRequest`, `lastChunkStartTime`,
//! `lastChunkFinishTime`, `lastChunkSize`) are accepted too, so both kinds of client talk to the
//! same handler: the chunk report's fields as serde aliases, and the request's few fields whose
//! meaning differs (`RebufferTime` in ms, `lastRequest` naming the chunk just fetched) through one
//! `PensieveRequest` translation in [`DecisionRequest::from_json`]. This crate has no I/O and no
//! dependency on the server or the algorithms; validation happens here so every consumer refuses the
//! same bad input with the same message.

use serde::{Deserialize, Serialize};

/// Path of the decision endpoint, with `{id}` the client-chosen session id.
pub const DECISION_PATH: &str = "/api/v1/sessions/{id}/decision";

/// Longest session id accepted (characters).
pub const MAX_SESSION_ID_LEN: usize = 128;

/// Path of the list of videos (`GET`, answers `Vec<VideoInfo>`).
pub const VIDEOS_PATH: &str = "/api/v1/videos";

/// Path of the list of enabled algorithms (`GET`, answers [`AlgorithmList`]).
pub const ALGORITHMS_PATH: &str = "/api/v1/algorithms";

/// Path of the OpenAPI 3 document of the API.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// The decision path for session `id` (the id is not escaped; check it with [`validate_session_id`]).
pub fn decision_path(id: &str) -> String {
    DECISION_PATH.replace("{id}", id)
}

/// One served video, as `GET /api/v1/videos` lists it. Paths are absolute on the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoInfo {
    /// Media id: the packaged folder's name; what a decision request's `video` names.
    pub name: String,
    /// DASH manifest path (`/media/<name>/manifest.mpd`), if the folder has one.
    pub mpd: Option<String>,
    /// HLS master playlist path (`/media/<name>/master.m3u8`), if the folder has one.
    pub hls: Option<String>,
    /// Video descriptor path (`/media/<name>/video.json`): ladder and every chunk's size.
    pub descriptor: String,
    /// Ladder, kbps, lowest first.
    pub levels: Vec<f64>,
    /// Number of chunks.
    pub chunks: usize,
    /// Duration of one chunk, seconds.
    #[serde(default)]
    pub chunk_duration_s: f64,
}

/// One algorithm a client may ask for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlgorithmInfo {
    /// Name to send as `algorithm` in a decision request.
    pub name: String,
    /// One line saying what it is.
    pub description: String,
}

/// Answer of `GET /api/v1/algorithms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlgorithmList {
    /// Algorithm used when a request names none.
    pub default: String,
    /// Every algorithm this server enables.
    pub algorithms: Vec<AlgorithmInfo>,
}

/// The chunk the client finished downloading last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkReport {
    /// Index of the chunk in the video, from 0.
    #[serde(alias = "lastRequest")]
    pub index: usize,
    /// Ladder level it was fetched at (0 = lowest bitrate).
    #[serde(alias = "lastquality", alias = "lastQuality")]
    pub level: usize,
    /// Bytes downloaded.
    #[serde(alias = "lastChunkSize")]
    pub size_bytes: u64,
    /// When the request was sent, ms on the client's clock (any epoch; only differences matter).
    #[serde(alias = "lastChunkStartTime")]
    pub request_start_ms: f64,
    /// When the last byte arrived, ms on the same clock.
    #[serde(alias = "lastChunkFinishTime")]
    pub request_finish_ms: f64,
    /// Measured round-trip time, ms, if the client knows it.
    #[serde(default, alias = "rtt", skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
}

impl ChunkReport {
    /// Download duration, ms (finish minus start).
    pub fn download_ms(&self) -> f64 {
        self.request_finish_ms - self.request_start_ms
    }
}

/// What the client reports to ask for its next level.
///
/// A Pensieve-style client sends a flat object with the last chunk's fields beside `buffer` and
/// `RebufferTime`; the project's schema nests them under `last_chunk`. Both deserialise into this
/// type through [`DecisionRequest::from_json`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// Media id (the packaged video's folder name) the session streams; default: the server's first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<String>,
    /// Algorithm to use for this session (fixed at its first request); default: the server's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// The chunk finished last; absent on the first request of a session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_chunk: Option<ChunkReport>,
    /// Playback buffer after the last chunk arrived, seconds.
    pub buffer_s: f64,
    /// Stall time accumulated while downloading the last chunk, seconds.
    #[serde(default)]
    pub rebuffer_s: f64,
    /// Cumulative stall time of the whole session so far, seconds. When present, the server derives
    /// the last chunk's stall from the difference to the previous report and ignores `rebuffer_s`
    /// (Pensieve-style clients send this, as `RebufferTime` in ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_rebuffer_s: Option<f64>,
    /// Index of the chunk the client will fetch next; default: last chunk's index + 1, or 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_chunk: Option<usize>,
}

/// A Pensieve-style flat request (dash.js `rl_server` clients).
#[derive(Debug, Clone, Deserialize)]
struct PensieveRequest {
    #[serde(rename = "lastquality", alias = "lastQuality", alias = "last_quality")]
    last_quality: usize,
    buffer: f64,
    #[serde(rename = "RebufferTime", default)]
    rebuffer_time: f64,
    #[serde(rename = "lastRequest")]
    last_request: usize,
    #[serde(rename = "lastChunkStartTime")]
    last_chunk_start_time: f64,
    #[serde(rename = "lastChunkFinishTime")]
    last_chunk_finish_time: f64,
    #[serde(rename = "lastChunkSize")]
    last_chunk_size: u64,
    #[serde(default)]
    video: Option<String>,
    #[serde(default)]
    algorithm: Option<String>,
}

/// Why a request was refused; the message names the field and says what is expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProtocolError {
    /// The body is not JSON of either accepted shape.
    #[error("request body is not a valid decision request: {0}. Expected {{\"buffer_s\": 12.0, \"last_chunk\": {{\"index\": 3, \"level\": 2, \"size_bytes\": 812345, \"request_start_ms\": 1000, \"request_finish_ms\": 1800}}}} or a Pensieve-style body with lastquality, buffer, RebufferTime, lastRequest, lastChunkStartTime, lastChunkFinishTime, lastChunkSize")]
    Malformed(String),
    /// A field has an impossible value.
    #[error("field `{field}`: {problem}")]
    Invalid {
        /// The offending field, as the client spelled it (the project's or Pensieve's name).
        field: &'static str,
        /// What is wrong and what is expected.
        problem: String,
    },
    /// The session id in the path is unusable.
    #[error("session id must be 1 to {MAX_SESSION_ID_LEN} characters of [A-Za-z0-9_.-], not only dots, got {0:?}")]
    BadSessionId(String),
}

impl DecisionRequest {
    /// Parses a body in the project's schema or the Pensieve-style flat schema, then validates it.
    pub fn from_json(body: &[u8]) -> Result<Self, ProtocolError> {
        // Typed decoding straight from the bytes (no intermediate `Value`): one pass, and serde
        // refuses duplicate keys, which a `Value` would silently collapse to the last one.
        let project = || serde_json::from_slice::<DecisionRequest>(body);
        let looks_pensieve = contains(body, b"\"lastRequest\"")
            || contains(body, b"\"lastquality\"")
            || contains(body, b"\"lastQuality\"");
        let request = if looks_pensieve {
            let p = match serde_json::from_slice::<PensieveRequest>(body) {
                Ok(p) => p,
                Err(e) => {
                    // A project body whose strings merely mention a Pensieve key.
                    let r = project().map_err(|_| ProtocolError::Malformed(e.to_string()))?;
                    r.validate()?;
                    return Ok(r);
                }
            };
            p.validate()?;
            DecisionRequest {
                video: p.video,
                algorithm: p.algorithm,
                last_chunk: Some(ChunkReport {
                    index: p.last_request,
                    level: p.last_quality,
                    size_bytes: p.last_chunk_size,
                    request_start_ms: p.last_chunk_start_time,
                    request_finish_ms: p.last_chunk_finish_time,
                    rtt_ms: None,
                }),
                buffer_s: p.buffer,
                rebuffer_s: 0.0,
                total_rebuffer_s: Some(p.rebuffer_time / 1000.0),
                next_chunk: Some(p.last_request.saturating_add(1)),
            }
        } else {
            project().map_err(|e| ProtocolError::Malformed(e.to_string()))?
        };
        request.validate()?;
        Ok(request)
    }

    /// Checks values a decoder cannot: finite, non-negative, at most [`MAX_SECONDS`], ordered times.
    pub fn validate(&self) -> Result<(), ProtocolError> {
        let c = self.last_chunk.as_ref();
        check_fields(
            &PROJECT_SPELLING,
            self.buffer_s,
            Some(self.rebuffer_s),
            self.total_rebuffer_s,
            c.map(|c| (c.request_start_ms, c.request_finish_ms)),
        )?;
        if let Some(rtt) = c.and_then(|c| c.rtt_ms) {
            if !(rtt.is_finite() && (0.0..=MAX_SECONDS * 1000.0).contains(&rtt)) {
                return Err(ProtocolError::Invalid {
                    field: "last_chunk.rtt_ms",
                    problem: format!(
                        "must be a finite number of ms from 0 to {:e}, got {rtt}",
                        MAX_SECONDS * 1000.0
                    ),
                });
            }
        }
        Ok(())
    }

    /// The chunk this request asks a level for.
    pub fn next_chunk_index(&self) -> usize {
        self.next_chunk.unwrap_or_else(|| {
            self.last_chunk
                .as_ref()
                .map_or(0, |c| c.index.saturating_add(1))
        })
    }
}

/// Largest buffer or stall duration a request may report, seconds (about 116 days): anything
/// longer is a client bug, and accepting it would overflow the QoE a session accumulates.
pub const MAX_SECONDS: f64 = 1e7;

/// How one kind of client spells the fields that [`check_fields`] checks, so an error names the
/// field the client actually sent.
struct Spelling {
    buffer: &'static str,
    rebuffer: &'static str,
    total_rebuffer: &'static str,
    /// Units of the cumulative stall field per second (1000 for Pensieve's `RebufferTime` in ms).
    total_rebuffer_per_s: f64,
    start: &'static str,
    finish: &'static str,
}

const PROJECT_SPELLING: Spelling = Spelling {
    buffer: "buffer_s",
    rebuffer: "rebuffer_s",
    total_rebuffer: "total_rebuffer_s",
    total_rebuffer_per_s: 1.0,
    start: "last_chunk.request_start_ms",
    finish: "last_chunk.request_finish_ms",
};

const PENSIEVE_SPELLING: Spelling = Spelling {
    buffer: "buffer",
    rebuffer: "rebuffer",
    total_rebuffer: "RebufferTime",
    total_rebuffer_per_s: 1000.0,
    start: "lastChunkStartTime",
    finish: "lastChunkFinishTime",
};

/// The checks both spellings share. `total_rebuffer` is in the client's unit.
fn check_fields(
    names: &Spelling,
    buffer: f64,
    rebuffer: Option<f64>,
    total_rebuffer: Option<f64>,
    times_ms: Option<(f64, f64)>,
) -> Result<(), ProtocolError> {
    let bounded = |field: &'static str, v: f64, per_s: f64| {
        let max = MAX_SECONDS * per_s;
        let unit = if per_s == 1.0 { "seconds" } else { "ms" };
        if v.is_finite() && (0.0..=max).contains(&v) {
            Ok(())
        } else {
            Err(ProtocolError::Invalid {
                field,
                problem: format!("must be a finite number of {unit} from 0 to {max:e}, got {v}"),
            })
        }
    };
    bounded(names.buffer, buffer, 1.0)?;
    if let Some(r) = rebuffer {
        bounded(names.rebuffer, r, 1.0)?;
    }
    if let Some(total) = total_rebuffer {
        bounded(names.total_rebuffer, total, names.total_rebuffer_per_s)?;
    }
    if let Some((start, finish)) = times_ms {
        if !start.is_finite() || !finish.is_finite() {
            return Err(ProtocolError::Invalid {
                field: if start.is_finite() {
                    names.finish
                } else {
                    names.start
                },
                problem: "request times must be finite numbers of milliseconds".into(),
            });
        }
        if finish < start {
            return Err(ProtocolError::Invalid {
                field: names.finish,
                problem: format!(
                    "finish ({finish}) is before start ({start}); send both on the same clock"
                ),
            });
        }
    }
    Ok(())
}

impl PensieveRequest {
    /// [`DecisionRequest::validate`]'s checks, with errors in the Pensieve client's field names.
    fn validate(&self) -> Result<(), ProtocolError> {
        check_fields(
            &PENSIEVE_SPELLING,
            self.buffer,
            None,
            Some(self.rebuffer_time),
            Some((self.last_chunk_start_time, self.last_chunk_finish_time)),
        )
    }
}

/// Prefix of a learned policy's algorithm name (`learned:PATH`).
pub const LEARNED_PREFIX: &str = "learned:";

/// The checkpoint path of a `learned:PATH` algorithm name, or `None` for any other name. The
/// prefix matches in any ASCII case (`Learned:p.safetensors`), as algorithm names do; the path is
/// returned as written, possibly empty.
pub fn learned_policy_path(name: &str) -> Option<&str> {
    let prefix = name.get(..LEARNED_PREFIX.len())?;
    prefix
        .eq_ignore_ascii_case(LEARNED_PREFIX)
        .then(|| &name[LEARNED_PREFIX.len()..])
}

/// The spelling one algorithm name has everywhere (result rows, `--timeline-abr`, the server's
/// list): built-in names in lower case, and `learned:PATH` with the prefix in lower case and the
/// path as written (paths are case-sensitive).
pub fn canonical_algorithm_name(name: &str) -> String {
    match learned_policy_path(name) {
        Some(path) => format!("{LEARNED_PREFIX}{path}"),
        None => name.to_ascii_lowercase(),
    }
}

/// Which of the `enabled` algorithm names a client's `asked` name means: the same name ignoring
/// ASCII case, or, for plain `learned`, the one learned policy when exactly one is enabled. The
/// server decides with it, and a player checks a name against `GET /api/v1/algorithms` with it.
pub fn resolve_algorithm_name<'a>(
    enabled: impl IntoIterator<Item = &'a str> + Clone,
    asked: &str,
) -> Option<&'a str> {
    // The exact name first (learned paths are case-sensitive), then one that differs in case only
    // when it is the only one.
    let canonical = canonical_algorithm_name(asked);
    if let Some(name) = enabled
        .clone()
        .into_iter()
        .find(|n| canonical_algorithm_name(n) == canonical)
    {
        return Some(name);
    }
    let mut loose = enabled
        .clone()
        .into_iter()
        .filter(|n| n.eq_ignore_ascii_case(asked));
    if let (Some(only), None) = (loose.next(), loose.next()) {
        return Some(only);
    }
    if asked.eq_ignore_ascii_case("learned") {
        let mut learned = enabled
            .into_iter()
            .filter(|n| learned_policy_path(n).is_some());
        if let (Some(only), None) = (learned.next(), learned.next()) {
            return Some(only);
        }
    }
    None
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Checks a client-chosen session id: 1 to [`MAX_SESSION_ID_LEN`] characters of
/// `[A-Za-z0-9_.-]`, not made of dots only (so it never reads like a path segment).
pub fn validate_session_id(id: &str) -> Result<(), ProtocolError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_SESSION_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !id.bytes().all(|b| b == b'.');
    if ok {
        Ok(())
    } else {
        Err(ProtocolError::BadSessionId(id.chars().take(160).collect()))
    }
}

/// The algorithm's reasons for a decision, when it has them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reasons {
    /// Throughput the algorithm expects for the next chunk, kbps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_throughput_kbps: Option<f64>,
    /// Buffer level the algorithm aims for, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffer_target_s: Option<f64>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_schema_parses_and_defaults_next_chunk() {
        let body = br#"{"buffer_s": 8.5, "last_chunk": {"index": 3, "level": 2, "size_bytes": 1000,
            "request_start_ms": 10.0, "request_finish_ms": 110.0}}"#;
        let r = DecisionRequest::from_json(body).unwrap();
        assert_eq!(r.next_chunk_index(), 4);
        assert_eq!(r.last_chunk.as_ref().unwrap().download_ms(), 100.0);
        assert_eq!(r.rebuffer_s, 0.0);
    }

    #[test]
    fn first_request_has_no_chunk() {
        let r = DecisionRequest::from_json(br#"{"buffer_s": 0}"#).unwrap();
        assert_eq!(r.next_chunk_index(), 0);
        assert!(r.last_chunk.is_none());
    }

    #[test]
    fn pensieve_schema_maps_onto_the_same_type() {
        let body = br#"{"lastquality": 1, "buffer": 4.2, "RebufferTime": 1500, "lastRequest": 5,
            "lastChunkStartTime": 1000, "lastChunkFinishTime": 1900, "lastChunkSize": 51234,
            "bufferAdjusted": 4.0}"#;
        let r = DecisionRequest::from_json(body).unwrap();
        let c = r.last_chunk.as_ref().unwrap();
        assert_eq!((c.index, c.level, c.size_bytes), (5, 1, 51234));
        assert_eq!(r.total_rebuffer_s, Some(1.5));
        assert_eq!(r.next_chunk_index(), 6);
    }

    #[test]
    fn bad_bodies_name_the_problem() {
        let e = DecisionRequest::from_json(b"not json").unwrap_err();
        assert!(matches!(e, ProtocolError::Malformed(_)));
        let e = DecisionRequest::from_json(br#"{"buffer_s": -1}"#).unwrap_err();
        assert!(e.to_string().contains("buffer_s"), "{e}");
        let e = DecisionRequest::from_json(br#"{"buffer_s": 1, "buffer_s": 2}"#).unwrap_err();
        assert!(e.to_string().contains("duplicate field"), "{e}");
        let e = DecisionRequest::from_json(br#"{"lastquality": 1, "lastquality": 2}"#).unwrap_err();
        assert!(e.to_string().contains("duplicate field"), "{e}");
        let r = DecisionRequest::from_json(br#"{"buffer_s": 1, "video": "lastRequest"}"#).unwrap();
        assert_eq!(r.video.as_deref(), Some("lastRequest"));
        let e = DecisionRequest::from_json(br#"{"buffer_s": 1, "bogus": 2}"#).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = DecisionRequest::from_json(
            br#"{"buffer_s": 1, "last_chunk": {"index": 0, "level": 0, "size_bytes": 1,
            "request_start_ms": 100, "request_finish_ms": 50}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("request_finish_ms"), "{e}");
    }

    #[test]
    fn pensieve_errors_name_the_pensieve_fields() {
        let pensieve = |extra: &str| {
            let body = format!(
                r#"{{"lastquality": 1, "buffer": 4.2, "RebufferTime": 0, "lastRequest": 5,
                "lastChunkStartTime": 1000, "lastChunkFinishTime": 1900, "lastChunkSize": 51234{extra}}}"#
            );
            DecisionRequest::from_json(body.as_bytes())
        };
        // Later keys override nothing (serde refuses duplicates), so build each bad body whole.
        let bad = |body: &str| {
            DecisionRequest::from_json(body.as_bytes())
                .unwrap_err()
                .to_string()
        };
        let e = bad(
            r#"{"lastquality": 1, "buffer": -2, "RebufferTime": 0, "lastRequest": 5,
            "lastChunkStartTime": 1000, "lastChunkFinishTime": 1900, "lastChunkSize": 5}"#,
        );
        assert!(e.starts_with("field `buffer`:"), "{e}");
        let e = bad(
            r#"{"lastquality": 1, "buffer": 2, "RebufferTime": -5, "lastRequest": 5,
            "lastChunkStartTime": 1000, "lastChunkFinishTime": 1900, "lastChunkSize": 5}"#,
        );
        assert!(e.starts_with("field `RebufferTime`:"), "{e}");
        assert!(e.contains("ms") && e.contains("got -5"), "{e}");
        let e = bad(
            r#"{"lastquality": 1, "buffer": 2, "RebufferTime": 0, "lastRequest": 5,
            "lastChunkStartTime": 1000, "lastChunkFinishTime": 900, "lastChunkSize": 5}"#,
        );
        assert!(e.starts_with("field `lastChunkFinishTime`:"), "{e}");
        // dash.js spells it lastQuality in places; both spellings take the Pensieve path.
        let r = DecisionRequest::from_json(
            br#"{"lastQuality": 2, "buffer": 1, "RebufferTime": 0, "lastRequest": 0,
            "lastChunkStartTime": 0, "lastChunkFinishTime": 5, "lastChunkSize": 9}"#,
        )
        .unwrap();
        assert_eq!(r.last_chunk.unwrap().level, 2);
        assert!(pensieve("").is_ok());
        let e = pensieve(r#", "lastRequest": 1"#).unwrap_err();
        assert!(e.to_string().contains("duplicate field"), "{e}");
        // A missing level names the name clients send.
        let e = bad(r#"{"buffer": 1, "RebufferTime": 0, "lastRequest": 0,
            "lastChunkStartTime": 0, "lastChunkFinishTime": 5, "lastChunkSize": 9}"#);
        assert!(e.contains("lastquality"), "{e}");
    }

    #[test]
    fn absurd_durations_are_refused_and_indices_do_not_overflow() {
        let e = DecisionRequest::from_json(br#"{"buffer_s": 1, "rebuffer_s": 1e308}"#).unwrap_err();
        assert!(e.to_string().starts_with("field `rebuffer_s`:"), "{e}");
        let e = DecisionRequest::from_json(br#"{"buffer_s": 1e8}"#).unwrap_err();
        assert!(e.to_string().starts_with("field `buffer_s`:"), "{e}");
        let e =
            DecisionRequest::from_json(br#"{"buffer_s": 1, "total_rebuffer_s": 2e7}"#).unwrap_err();
        assert!(
            e.to_string().starts_with("field `total_rebuffer_s`:"),
            "{e}"
        );
        assert!(DecisionRequest::from_json(br#"{"buffer_s": 1e7}"#).is_ok());
        let r = DecisionRequest::from_json(
            br#"{"lastquality": 1, "buffer": 1, "RebufferTime": 0, "lastRequest": 18446744073709551615,
            "lastChunkStartTime": 0, "lastChunkFinishTime": 5, "lastChunkSize": 9}"#,
        )
        .unwrap();
        assert_eq!(r.next_chunk_index(), usize::MAX);
        let r = DecisionRequest::from_json(
            br#"{"buffer_s": 1, "last_chunk": {"index": 18446744073709551615, "level": 0,
            "size_bytes": 1, "request_start_ms": 0, "request_finish_ms": 1}}"#,
        )
        .unwrap();
        assert_eq!(r.next_chunk_index(), usize::MAX);
    }

    #[test]
    fn algorithm_names_resolve_ignoring_case_and_learned_names_the_only_policy() {
        let one = ["robustmpc", "bb", "learned:p.safetensors"];
        assert_eq!(resolve_algorithm_name(one, "RobustMPC"), Some("robustmpc"));
        assert_eq!(
            resolve_algorithm_name(one, "learned"),
            Some("learned:p.safetensors")
        );
        assert_eq!(resolve_algorithm_name(one, "nope"), None);
        let two = ["learned:a", "learned:b"];
        assert_eq!(resolve_algorithm_name(two, "learned"), None);
        assert_eq!(resolve_algorithm_name(two, "LEARNED:b"), Some("learned:b"));
        // Paths differing in case only are different policies: the exact one is chosen, and a
        // path matching neither exactly is ambiguous.
        let cased = ["learned:a/P.st", "learned:a/p.st"];
        assert_eq!(
            resolve_algorithm_name(cased, "learned:a/p.st"),
            Some("learned:a/p.st")
        );
        assert_eq!(resolve_algorithm_name(cased, "learned:A/p.st"), None);
    }

    #[test]
    fn learned_names_give_their_path_in_any_case() {
        assert_eq!(learned_policy_path("learned:a/p.st"), Some("a/p.st"));
        assert_eq!(learned_policy_path("Learned:A/P.st"), Some("A/P.st"));
        assert_eq!(learned_policy_path("learned:"), Some(""));
        assert_eq!(learned_policy_path("learned"), None);
        assert_eq!(learned_policy_path("robustmpc"), None);
        // A multi-byte character across the prefix's end (byte 8 falls inside the e-acute) is not
        // a panic.
        assert_eq!(learned_policy_path("learned\u{e9}x"), None);
        assert_eq!(canonical_algorithm_name("RobustMPC"), "robustmpc");
        assert_eq!(
            canonical_algorithm_name("LEARNED:Out/P.st"),
            "learned:Out/P.st"
        );
    }

    #[test]
    fn decision_path_fills_the_id() {
        assert_eq!(decision_path("s1"), "/api/v1/sessions/s1/decision");
    }

    #[test]
    fn video_info_round_trips() {
        let v = VideoInfo {
            name: "clip".into(),
            mpd: Some("/media/clip/manifest.mpd".into()),
            hls: None,
            descriptor: "/media/clip/video.json".into(),
            levels: vec![300.0, 750.0],
            chunks: 48,
            chunk_duration_s: 4.0,
        };
        let text = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<VideoInfo>(&text).unwrap(), v);
    }

    #[test]
    fn session_ids_are_checked() {
        assert!(validate_session_id("abc-1_2.x").is_ok());
        assert!(validate_session_id("").is_err());
        assert!(validate_session_id("../etc").is_err());
        assert!(validate_session_id("..").is_err());
        assert!(validate_session_id(".").is_err());
        assert!(validate_session_id(&"a".repeat(MAX_SESSION_ID_LEN + 1)).is_err());
    }
}
