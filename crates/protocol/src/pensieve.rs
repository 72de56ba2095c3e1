//! Pensieve's spelling of the decision request: the flat body a Pensieve-style dash.js client
//! (`rl_server`) sends, translated once into the project's [`DecisionRequest`], and the few
//! constants of that client's protocol (its port, path, `REFRESH` answer and manifest path) that
//! the server's Pensieve-compatible mode answers on.
//!
//! The reference client is the modified dash.js 2.x of `hongzimao/pensieve` (`video_server/`,
//! `dash.all.min.js`, `AbrController.js`). After every chunk it downloads, its RL rule (`abr_id` 4)
//! sends a synchronous `POST http://localhost:8333` (plain HTTP, `Content-Type:
//! text/plain;charset=UTF-8`) with this body, captured from that client in Chromium:
//!
//! ```json
//! {"nextChunkSize":[2177073,1300868,877771,571051,350812,139857],"lastquality":1,
//!  "buffer":7.929099,"bufferAdjusted":3.379098999999999,"bandwidthEst":32400.858425630948,
//!  "lastRequest":1,"RebufferTime":26,"lastChunkFinishTime":1796604954580,
//!  "lastChunkStartTime":1796604954527,"lastChunkSize":477893}
//! ```
//!
//! and reads the answer as plain text: the next chunk's quality index (`parseInt`), or
//! [`REFRESH`], on which it reloads the page. What each field means, and its quirks:
//!
//! | field | meaning | used as |
//! |---|---|---|
//! | `lastquality` | level the rule asked for the chunk just fetched (dash.js' quality index, 0 = lowest bitrate) | `last_chunk.level` |
//! | `buffer` | buffer after the chunk, s | `buffer_s` |
//! | `RebufferTime` | **cumulative** stall of the page so far, **ms** (start-up delay included) | `total_rebuffer_s` / 1000 |
//! | `lastRequest` | **0-based** index of the chunk just fetched: the client counts its calls, and it calls once per downloaded chunk, after the download; the first chunk is fetched at its start-up level before any call | `last_chunk.index`; the answer is for `lastRequest + 1` |
//! | `lastChunkStartTime`, `lastChunkFinishTime` | epoch ms of the chunk's *first response byte* (`tresponse`, so the request's round trip is not in the download time) and last byte | `request_start_ms`, `request_finish_ms` |
//! | `lastChunkSize` | bytes of the chunk | `size_bytes` |
//! | `nextChunkSize` | six sizes of chunk `lastRequest + 1`, highest level first, **from a table hard-coded for Pensieve's own 49-chunk video** (and `0` past its end) | ignored: the server knows the served video's real sizes |
//! | `bufferAdjusted`, `bandwidthEst` | buffer minus 4.55 s; the client's harmonic-mean throughput, kbit/s | ignored (the algorithms keep their own estimates) |
//! | `Type` | sent only by the client's other rules (`"BB"`, `"RB"`, ...), which ignore the answer | ignored |
//!
//! `lastRequest` reaches the video's last index (48 for Pensieve's 49-chunk video, the reference
//! server's `TOTAL_VIDEO_CHUNKS`) on the report of the last chunk; the reference server answers that
//! report with `REFRESH`.

use crate::request::{check_fields, Spelling};
use crate::{ChunkReport, DecisionRequest, ProtocolError};
use serde::de::IgnoredAny;
use serde::Deserialize;

/// Port the reference client posts to (hard-coded as `http://localhost:8333`).
pub const CLIENT_PORT: u16 = 8333;

/// Path the reference client posts its reports to: the server root.
pub const CLIENT_PATH: &str = "/";

/// The answer that tells the reference client the video is over (it reloads the page).
pub const REFRESH: &str = "REFRESH";

/// Root-relative manifest path the reference pages (`myindex_*.html`) load.
pub const MANIFEST_PATH: &str = "/Manifest.mpd";

/// Parses and validates a body as the reference client sends it (only that flat shape; see the
/// module doc for its fields), into the project's request. Fields the client sends that carry no
/// information the server lacks (`nextChunkSize`, `bufferAdjusted`, `bandwidthEst`, `Type`) are
/// accepted and ignored; unknown fields are accepted too (the JSON API accepts them in this
/// spelling); duplicate fields are refused.
pub fn parse_client_body(body: &[u8]) -> Result<DecisionRequest, ProtocolError> {
    let p: PensieveRequest =
        serde_json::from_slice(body).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
    p.validate()?;
    let request = p.into_request();
    request.validate()?;
    Ok(request)
}

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
    // Sent by the reference client and ignored (see the module doc); declared so a duplicate of
    // one is refused like any other field's.
    #[serde(rename = "nextChunkSize", default)]
    _next_chunk_size: Option<IgnoredAny>,
    #[serde(rename = "bufferAdjusted", default)]
    _buffer_adjusted: Option<IgnoredAny>,
    #[serde(rename = "bandwidthEst", default)]
    _bandwidth_est: Option<IgnoredAny>,
    #[serde(rename = "Type", default)]
    _rule_type: Option<IgnoredAny>,
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
    use super::parse_client_body;
    use crate::{DecisionRequest, ProtocolError};

    /// Bodies captured from the reference client (`myindex_RL.html` in Chromium, a 10-chunk
    /// six-level video): the first report, a later one, the last one, and one of its other rules.
    const FIRST: &str = r#"{"nextChunkSize":[2123065,1431809,957685,611087,398865,155580],"lastquality":1,"buffer":3.999999,"bufferAdjusted":-0.550001,"bandwidthEst":28113.36,"lastRequest":0,"RebufferTime":26,"lastChunkFinishTime":1796604954508,"lastChunkStartTime":1796604954505,"lastChunkSize":351417}"#;
    const LATER: &str = r#"{"nextChunkSize":[2160877,1520281,933276,617681,382355,155432],"lastquality":3,"buffer":11.814299,"bufferAdjusted":7.264298999999999,"bandwidthEst":40615.50770023408,"lastRequest":2,"RebufferTime":26,"lastChunkFinishTime":1796604954643,"lastChunkStartTime":1796604954629,"lastChunkSize":1029938}"#;
    const LAST: &str = r#"{"nextChunkSize":[2173522,1354548,939819,607410,353220,141840],"lastquality":5,"buffer":39.335699000000005,"bufferAdjusted":34.78569900000001,"bandwidthEst":57813.01333750691,"lastRequest":9,"RebufferTime":26,"lastChunkFinishTime":1796604955160,"lastChunkStartTime":1796604955146,"lastChunkSize":782153}"#;
    const BB_RULE: &str = r#"{"nextChunkSize":[0,0,0,0,0,0],"Type":"BB","lastquality":0,"buffer":2.5,"bufferAdjusted":-2.05,"bandwidthEst":900.5,"lastRequest":48,"RebufferTime":3120,"lastChunkFinishTime":1500,"lastChunkStartTime":1000,"lastChunkSize":98765}"#;

    #[test]
    fn bodies_captured_from_the_reference_client_translate_field_by_field() {
        let r = parse_client_body(FIRST.as_bytes()).unwrap();
        let c = r.last_chunk.as_ref().unwrap();
        assert_eq!((c.index, c.level, c.size_bytes), (0, 1, 351417));
        assert_eq!(
            (c.request_start_ms, c.request_finish_ms),
            (1796604954505.0, 1796604954508.0)
        );
        assert_eq!(r.buffer_s, 3.999999);
        // Cumulative ms (the start-up delay counts as stall) into cumulative seconds.
        assert_eq!(r.total_rebuffer_s, Some(0.026));
        assert_eq!(r.rebuffer_s, 0.0);
        // lastRequest names the chunk just fetched; the answer is for the next one.
        assert_eq!(r.next_chunk_index(), 1);
        assert_eq!((r.video.as_deref(), r.algorithm.as_deref()), (None, None));
        let r = parse_client_body(LATER.as_bytes()).unwrap();
        assert_eq!(r.next_chunk_index(), 3);
        assert_eq!(r.last_chunk.unwrap().level, 3);
        let r = parse_client_body(LAST.as_bytes()).unwrap();
        assert_eq!(r.last_chunk.unwrap().index, 9);
        let r = parse_client_body(BB_RULE.as_bytes()).unwrap();
        assert_eq!(r.total_rebuffer_s, Some(3.12));
        assert_eq!(r.next_chunk_index(), 49);
        // The JSON API reads the same bodies the same way.
        for body in [FIRST, LATER, LAST, BB_RULE] {
            assert_eq!(
                DecisionRequest::from_json(body.as_bytes()).unwrap(),
                parse_client_body(body.as_bytes()).unwrap()
            );
        }
    }

    #[test]
    fn hostile_client_bodies_are_refused_with_the_field_named() {
        let with = |from: &str, to: &str| {
            assert!(LATER.contains(from), "{from}");
            parse_client_body(LATER.replacen(from, to, 1).as_bytes())
        };
        let field_of = |r: Result<DecisionRequest, ProtocolError>| match r.unwrap_err() {
            ProtocolError::Invalid { field, .. } => field,
            e => panic!("expected a field error, got {e}"),
        };
        for (from, to, field) in [
            (r#""buffer":11.814299"#, r#""buffer":-1"#, "buffer"),
            (r#""buffer":11.814299"#, r#""buffer":1e8"#, "buffer"),
            (
                r#""RebufferTime":26"#,
                r#""RebufferTime":1e308"#,
                "RebufferTime",
            ),
            (
                r#""RebufferTime":26"#,
                r#""RebufferTime":-26"#,
                "RebufferTime",
            ),
            ("1796604954643", "1796604954000", "lastChunkFinishTime"),
        ] {
            assert_eq!(field_of(with(from, to)), field, "{to}");
        }
        let malformed = |r: Result<DecisionRequest, ProtocolError>| {
            assert!(matches!(r, Err(ProtocolError::Malformed(_))), "{r:?}");
            r.unwrap_err().to_string()
        };
        // JSON numbers a usize cannot hold, wrong types, missing fields, duplicates.
        malformed(with(r#""lastRequest":2"#, r#""lastRequest":-1"#));
        malformed(with(r#""lastRequest":2"#, r#""lastRequest":2.5"#));
        malformed(with(r#""lastquality":3"#, r#""lastquality":"3""#));
        malformed(with(r#""lastChunkSize":1029938"#, r#""lastChunkSize":-5"#));
        let e = malformed(with(r#""lastRequest":2,"#, ""));
        assert!(e.contains("lastRequest"), "{e}");
        let e = malformed(with(
            r#""bandwidthEst":"#,
            r#""nextChunkSize":[1],"bandwidthEst":"#,
        ));
        assert!(e.contains("duplicate field `nextChunkSize`"), "{e}");
        let e = malformed(with(r#""buffer":11.814299,"#, r#""buffer":1,"buffer":2,"#));
        assert!(e.contains("duplicate field"), "{e}");
        malformed(parse_client_body(b""));
        malformed(parse_client_body(b"REFRESH"));
        malformed(parse_client_body(&LATER.as_bytes()[..LATER.len() - 1]));
        // The project's own shape is not this client's body.
        malformed(parse_client_body(br#"{"buffer_s": 1}"#));
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
