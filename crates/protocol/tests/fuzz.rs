//! Fuzz targets of the decision API's inputs, read as the server reads them: request bodies through
//! [`DecisionRequest::from_json`] (both the project's and Pensieve's shapes) and session ids from
//! the path through [`validate_session_id`]. `NEURALSTREAM_FUZZ_ITERS` cases each of arbitrary
//! bytes and mutated valid bodies (harness in `crates/data/tests/support/mutate.rs`). Nothing may
//! panic, an accepted request is valid, and a refusal says what is wrong: the body as a whole or
//! the field by name.

#[path = "../../data/tests/support/mutate.rs"]
mod mutate;

use mutate::{config, inputs};
use neuralstream_protocol::{validate_session_id, DecisionRequest, ProtocolError};
use proptest::prelude::*;

const PROJECT: &str = r#"{"video": "clip", "algorithm": "mpc", "buffer_s": 12.5, "rebuffer_s": 0.25,
 "last_chunk": {"index": 3, "level": 2, "size_bytes": 812345, "request_start_ms": 1000.5,
 "request_finish_ms": 1800.25, "rtt_ms": 40}, "next_chunk": 4}"#;
const FIRST: &str = r#"{"buffer_s": 0}"#;
const PENSIEVE: &str = r#"{"lastquality": 1, "buffer": 7.2, "RebufferTime": 350, "lastRequest": 5,
 "lastChunkStartTime": 1700000000000, "lastChunkFinishTime": 1700000000800, "lastChunkSize": 401234,
 "video": "clip"}"#;
const TOKENS: &[&str] = &[
    "null",
    "true",
    "[]",
    "{}",
    "1e999",
    "-0.0",
    "\"lastRequest\"",
    "\"lastquality\": 1,",
    "\"total_rebuffer_s\": 5,",
    "\"rtt_ms\": -1,",
    "\"buffer_s\": 1,",
    "18446744073709551615",
    "10000001",
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn decision_bodies(body in inputs(&[PROJECT, FIRST, PENSIEVE], TOKENS)) {
        match DecisionRequest::from_json(&body) {
            Ok(r) => {
                prop_assert!(r.validate().is_ok(), "accepted but invalid: {r:?}");
                let _ = r.next_chunk_index();
            }
            Err(ProtocolError::Invalid { field, problem }) => {
                prop_assert!(!field.is_empty() && !problem.is_empty());
            }
            Err(e @ ProtocolError::Malformed(_)) => {
                let msg = e.to_string();
                prop_assert!(msg.starts_with("request body is not a valid decision request"), "{msg}");
                // serde quotes at most the offending token of the body.
                prop_assert!(msg.len() <= 1500 + body.len(), "{} bytes: {msg}", msg.len());
            }
            Err(other) => prop_assert!(false, "a body refused as {other:?}"),
        }
    }

    #[test]
    fn session_ids(id in inputs(&["session-1", "a.b_c-D9"], &["..", "/", "%2e", "\u{202e}"])) {
        let id = String::from_utf8_lossy(&id);
        match validate_session_id(&id) {
            Ok(()) => prop_assert!(
                (1..=neuralstream_protocol::MAX_SESSION_ID_LEN).contains(&id.len())
                    && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
                    && !id.bytes().all(|b| b == b'.'),
                "accepted {id:?}"
            ),
            Err(e) => prop_assert!(matches!(e, ProtocolError::BadSessionId(_)), "{e:?}"),
        }
    }
}
