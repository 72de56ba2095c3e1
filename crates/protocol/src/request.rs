//! The decision request in the project's schema ([`DecisionRequest`], [`ChunkReport`]), its parse
//! from either accepted shape and the value checks both shapes share.

use crate::pensieve::parse_client_body;
use crate::ProtocolError;
use serde::{Deserialize, Serialize};

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

impl DecisionRequest {
    /// Parses a body in the project's schema or the Pensieve-style flat schema, then validates it.
    pub fn from_json(body: &[u8]) -> Result<Self, ProtocolError> {
        // Typed decoding straight from the bytes (no intermediate `Value`): one pass, and serde
        // refuses duplicate keys, which a `Value` would silently collapse to the last one.
        let project = || serde_json::from_slice::<DecisionRequest>(body);
        let looks_pensieve = contains(body, b"\"lastRequest\"")
            || contains(body, b"\"lastquality\"")
            || contains(body, b"\"lastQuality\"");
        if looks_pensieve {
            return match parse_client_body(body) {
                Err(ProtocolError::Malformed(e)) => {
                    // A project body whose strings merely mention a Pensieve key.
                    let r = project().map_err(|_| ProtocolError::Malformed(e))?;
                    r.validate()?;
                    Ok(r)
                }
                answer => answer,
            };
        }
        let request = project().map_err(|e| ProtocolError::Malformed(e.to_string()))?;
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
pub(crate) struct Spelling {
    pub(crate) buffer: &'static str,
    pub(crate) rebuffer: &'static str,
    pub(crate) total_rebuffer: &'static str,
    /// Units of the cumulative stall field per second (1000 for Pensieve's `RebufferTime` in ms).
    pub(crate) total_rebuffer_per_s: f64,
    pub(crate) start: &'static str,
    pub(crate) finish: &'static str,
}

const PROJECT_SPELLING: Spelling = Spelling {
    buffer: "buffer_s",
    rebuffer: "rebuffer_s",
    total_rebuffer: "total_rebuffer_s",
    total_rebuffer_per_s: 1.0,
    start: "last_chunk.request_start_ms",
    finish: "last_chunk.request_finish_ms",
};

/// The checks both spellings share. `total_rebuffer` is in the client's unit.
pub(crate) fn check_fields(
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

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
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
}
