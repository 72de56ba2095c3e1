//! Who chooses the next level: an algorithm in this process, or the server's decision API.

use crate::error::{from_reqwest, PlayerError};
use crate::http::check_status;
use neuralstream_core::{Abr, Decision, Observation};
use neuralstream_protocol::{ApiError, ChunkReport, DecisionRequest, DecisionResponse};
use reqwest::{Client, Url};

/// A decision and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    /// The level and the algorithm's reasons.
    pub decision: Decision,
    /// Name of the algorithm that decided (`startup` for the fixed first level).
    pub algorithm: String,
    /// True when the server's API answered.
    pub from_server: bool,
    /// The server's running QoE for the session, when it answered.
    pub server_qoe_so_far: Option<f64>,
    /// The level cap the server's egress allocator set for this decision (`serve
    /// --egress-mbps`), when it answered with one.
    pub cap_level: Option<usize>,
}

/// The decision maker of one player.
pub enum Decider {
    /// An [`Abr`] in this process; chunk 0 gets `startup_level` when set (Pensieve: level 1).
    Local {
        /// The algorithm.
        abr: Box<dyn Abr>,
        /// Fixed level of chunk 0, not asked of the algorithm.
        startup_level: Option<usize>,
    },
    /// `POST {base}/api/v1/sessions/{session}/decision` on the server.
    Server {
        /// HTTP client (shared with the downloads, so it uses the same connection pool).
        client: Client,
        /// The decision endpoint of this session.
        url: Url,
        /// Media name sent as `video`.
        video: Option<String>,
        /// Algorithm asked for (`None`: the server's default).
        algorithm: Option<String>,
    },
}

impl Decider {
    /// A server decider for session `session` on the server that serves `mpd_url`.
    pub fn server(
        client: Client,
        mpd_url: &Url,
        session: &str,
        video: Option<String>,
        algorithm: Option<String>,
    ) -> Result<Self, PlayerError> {
        neuralstream_protocol::validate_session_id(session)
            .map_err(|e| PlayerError::Config(format!("session id: {e}")))?;
        let path = neuralstream_protocol::DECISION_PATH.replace("{id}", session);
        let url = mpd_url.join(&path).map_err(|e| PlayerError::BadUrl {
            url: mpd_url.to_string(),
            reason: format!("cannot form the decision URL {path}: {e}"),
        })?;
        Ok(Decider::Server {
            client,
            url,
            video,
            algorithm,
        })
    }

    /// Resets per-session state before the first chunk.
    pub fn reset(&mut self) {
        if let Decider::Local { abr, .. } = self {
            abr.reset();
        }
    }

    /// Name of the decision maker for logs before any decision came back.
    pub fn label(&self) -> String {
        match self {
            Decider::Local { abr, .. } => abr.name(),
            Decider::Server { algorithm, .. } => {
                format!("server:{}", algorithm.as_deref().unwrap_or("default"))
            }
        }
    }

    /// Chooses the level of `obs.next_chunk`.
    pub async fn decide(&mut self, obs: &Observation<'_>) -> Result<Decided, PlayerError> {
        let levels = obs.video.num_levels();
        let decided = match self {
            Decider::Local { abr, startup_level } => {
                if let (0, Some(l)) = (obs.next_chunk, *startup_level) {
                    Decided {
                        decision: Decision::level(l.min(levels - 1)),
                        algorithm: "startup".into(),
                        from_server: false,
                        cap_level: None,
                        server_qoe_so_far: None,
                    }
                } else {
                    let decision = abr.choose(obs);
                    Decided {
                        decision,
                        algorithm: abr.name(),
                        from_server: false,
                        cap_level: None,
                        server_qoe_so_far: None,
                    }
                }
            }
            Decider::Server {
                client,
                url,
                video,
                algorithm,
            } => {
                let body = request_body(obs, video.clone(), algorithm.clone());
                let r = match ask_server(client, url, &body).await {
                    Ok(r) => r,
                    // The server does not know this session (it restarted, or the request reached
                    // another replica: docs/deploy.md, "Sessions and affinity"): start it again there
                    // at the chunk about to be fetched, under the same id.
                    Err(Refused::UnknownSession(_)) if body.last_chunk.is_some() => {
                        ask_server(client, url, &restart_request(&body)).await?
                    }
                    Err(e) => return Err(e.into()),
                };
                if r.chunk != obs.next_chunk {
                    return Err(PlayerError::Decision {
                        url: url.to_string(),
                        problem: format!(
                            "answered for chunk {} but chunk {} was asked",
                            r.chunk, obs.next_chunk
                        ),
                    });
                }
                Decided {
                    decision: Decision {
                        level: r.level,
                        predicted_throughput_kbps: r.reasons.predicted_throughput_kbps,
                        buffer_target_s: r.reasons.buffer_target_s,
                    },
                    algorithm: r.algorithm,
                    from_server: true,
                    server_qoe_so_far: Some(r.qoe_so_far),
                    cap_level: r.reasons.cap_level,
                }
            }
        };
        if decided.decision.level >= levels {
            return Err(PlayerError::Decision {
                url: match self {
                    Decider::Server { url, .. } => url.to_string(),
                    Decider::Local { .. } => "local algorithm".into(),
                },
                problem: format!(
                    "{} chose level {} for chunk {} but the video has {levels} levels (0..{})",
                    decided.algorithm,
                    decided.decision.level,
                    obs.next_chunk,
                    levels - 1
                ),
            });
        }
        Ok(decided)
    }

    /// Ends the session: a local algorithm is told (RobustMPC records its last error); the server
    /// gets a last report (its answer is for chunk `total_chunks`, which is not played) so that its
    /// running QoE covers every chunk. Returns the server's final `qoe_so_far`, if it was asked.
    pub async fn finish(&mut self, obs: &Observation<'_>) -> Result<Option<f64>, PlayerError> {
        match self {
            Decider::Local { abr, .. } => {
                abr.session_finished(obs);
                Ok(None)
            }
            Decider::Server {
                client,
                url,
                video,
                algorithm,
            } => {
                if obs.history.is_empty() {
                    return Ok(None);
                }
                let body = request_body(obs, video.clone(), algorithm.clone());
                match ask_server(client, url, &body).await {
                    Ok(r) => Ok(Some(r.qoe_so_far)),
                    // A server that lost the session has no running QoE to give.
                    Err(Refused::UnknownSession(_)) => Ok(None),
                    Err(Refused::Other(e)) => Err(e),
                }
            }
        }
    }
}

/// The project-schema request for `obs` (the last chunk reported with its own stall).
pub fn request_body(
    obs: &Observation<'_>,
    video: Option<String>,
    algorithm: Option<String>,
) -> DecisionRequest {
    let last = obs.history.last();
    DecisionRequest {
        video,
        algorithm,
        last_chunk: last.map(|r| ChunkReport {
            index: r.index,
            level: r.level,
            size_bytes: r.size_bytes,
            request_start_ms: r.request_s * 1000.0,
            request_finish_ms: r.finish_s * 1000.0,
            rtt_ms: None,
        }),
        buffer_s: obs.buffer_s.max(0.0),
        rebuffer_s: last.map_or(0.0, |r| r.rebuffer_s),
        total_rebuffer_s: None,
        next_chunk: Some(obs.next_chunk),
    }
}

/// The request that starts a session the server lost again, at the chunk `body` asks for: the
/// same request without the last chunk's report (the server starts a session at `next_chunk`
/// when no `last_chunk` comes with it).
pub fn restart_request(body: &DecisionRequest) -> DecisionRequest {
    DecisionRequest {
        last_chunk: None,
        rebuffer_s: 0.0,
        ..body.clone()
    }
}

/// Why the decision API gave no decision.
enum Refused {
    /// HTTP 404 with the API's own JSON error: the server does not know this session.
    UnknownSession(PlayerError),
    /// Anything else (the error says what).
    Other(PlayerError),
}

impl From<Refused> for PlayerError {
    fn from(r: Refused) -> Self {
        match r {
            Refused::UnknownSession(e) | Refused::Other(e) => e,
        }
    }
}

impl From<PlayerError> for Refused {
    fn from(e: PlayerError) -> Self {
        Refused::Other(e)
    }
}

/// Classifies a non-success answer of the decision API (`text` is its body).
fn refusal(url: &Url, status: u16, text: &str) -> Refused {
    let api_error = serde_json::from_str::<ApiError>(text).ok();
    let problem = match &api_error {
        Some(e) => format!("HTTP {status}: {}", e.error),
        None => {
            let excerpt: String = text.trim().chars().take(300).collect();
            if status == 404 {
                format!("HTTP 404 ({excerpt}); does this server have the decision API? Start it with `neuralstream serve`, or play without --server-decisions")
            } else {
                format!("HTTP {status}: {excerpt}")
            }
        }
    };
    let error = PlayerError::Decision {
        url: url.to_string(),
        problem,
    };
    if status == 404 && api_error.is_some() {
        Refused::UnknownSession(error)
    } else {
        Refused::Other(error)
    }
}

async fn ask_server(
    client: &Client,
    url: &Url,
    body: &DecisionRequest,
) -> Result<DecisionResponse, Refused> {
    let resp = client
        .post(url.clone())
        .json(body)
        .send()
        .await
        .map_err(|e| from_reqwest(url.as_str(), &e))?;
    if !resp.status().is_success() {
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        return Err(refusal(url, status, &text));
    }
    let resp = check_status(url, resp).await?;
    let text = resp
        .bytes()
        .await
        .map_err(|e| from_reqwest(url.as_str(), &e))?;
    serde_json::from_slice(&text).map_err(|e| {
        Refused::Other(PlayerError::Decision {
            url: url.to_string(),
            problem: format!("the answer is not a decision response: {e}"),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("https://127.0.0.1:8443/api/v1/sessions/s1/decision").unwrap()
    }

    #[test]
    fn only_the_apis_own_404_means_the_session_is_unknown() {
        let api_404 = r#"{"error": "unknown session 's1': it never started on this server"}"#;
        assert!(matches!(
            refusal(&url(), 404, api_404),
            Refused::UnknownSession(_)
        ));
        // A 404 that is not the API's (no decision API there at all) is not retried.
        match refusal(&url(), 404, "<html>Not Found</html>") {
            Refused::Other(PlayerError::Decision { problem, .. }) => {
                assert!(problem.contains("--server-decisions"), "{problem}")
            }
            _ => panic!("a plain 404 must not be taken for a lost session"),
        }
        assert!(matches!(
            refusal(&url(), 503, r#"{"error": "busy"}"#),
            Refused::Other(_)
        ));
    }

    #[test]
    fn a_restart_asks_for_the_same_chunk_without_the_last_report() {
        let body = DecisionRequest {
            video: Some("clip".into()),
            algorithm: Some("robustmpc".into()),
            last_chunk: Some(ChunkReport {
                index: 4,
                level: 2,
                size_bytes: 500_000,
                request_start_ms: 1000.0,
                request_finish_ms: 1400.0,
                rtt_ms: None,
            }),
            buffer_s: 7.5,
            rebuffer_s: 0.3,
            total_rebuffer_s: None,
            next_chunk: Some(5),
        };
        let again = restart_request(&body);
        assert_eq!(again.last_chunk, None);
        assert_eq!(again.next_chunk, Some(5));
        assert_eq!((again.buffer_s, again.rebuffer_s), (7.5, 0.0));
        assert_eq!(again.video, body.video);
        assert_eq!(again.algorithm, body.algorithm);
    }
}
