//! Pensieve's spelling of the decision request: the flat body a Pensieve-style dash.js client
//! (`rl_server`) sends, translated once into the project's [`DecisionRequest`].

use crate::request::{check_fields, Spelling};
use crate::{ChunkReport, DecisionRequest, ProtocolError};
use serde::Deserialize;

/// A Pensieve-style flat request (dash.js `rl_server` clients).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PensieveRequest {
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

pub(crate) const PENSIEVE_SPELLING: Spelling = Spelling {
    buffer: "buffer",
    rebuffer: "rebuffer",
    total_rebuffer: "RebufferTime",
    total_rebuffer_per_s: 1000.0,
    start: "lastChunkStartTime",
    finish: "lastChunkFinishTime",
};

impl PensieveRequest {
    /// [`DecisionRequest::validate`]'s checks, with errors in the Pensieve client's field names.
    pub(crate) fn validate(&self) -> Result<(), ProtocolError> {
        check_fields(
            &PENSIEVE_SPELLING,
            self.buffer,
            None,
            Some(self.rebuffer_time),
            Some((self.last_chunk_start_time, self.last_chunk_finish_time)),
        )
    }

    /// The same request in the project's schema: `lastRequest` names the chunk just fetched (so
    /// the next is one more) and `RebufferTime` is the session's cumulative stall in ms.
    pub(crate) fn into_request(self) -> DecisionRequest {
        DecisionRequest {
            video: self.video,
            algorithm: self.algorithm,
            last_chunk: Some(ChunkReport {
                index: self.last_request,
                level: self.last_quality,
                size_bytes: self.last_chunk_size,
                request_start_ms: self.last_chunk_start_time,
                request_finish_ms: self.last_chunk_finish_time,
                rtt_ms: None,
            }),
            buffer_s: self.buffer,
            rebuffer_s: 0.0,
            total_rebuffer_s: Some(self.rebuffer_time / 1000.0),
            next_chunk: Some(self.last_request.saturating_add(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::DecisionRequest;

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
}
