//! `play.json`: what a run of players did, session by session, beside `bench`'s result files.
//!
//! It carries what `bench` has no column for: the player's own QoE tally and the server's (so a
//! test can check that the three accountings agree; they do when `play --skip-chunks` is 1 and
//! `--qoe` names the server's model, since the server always scores from chunk 1 with its own
//! `--qoe`), the playhead's stall time, where decisions came from, decision latency, init
//! requests and errors.

use crate::player::PlayOutcome;
use serde::Serialize;

/// One player.
#[derive(Debug, Clone, Serialize)]
pub struct SessionSummary {
    /// Session id.
    pub session: String,
    /// Trace name (with `#c{client}` when several clients play it).
    pub trace: String,
    /// Client number within the trace.
    pub client: usize,
    /// Why the player failed; the fields of [`PlayedSession`] are absent then (not zeros, which
    /// would read as a session that played and scored 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the session did; `None` for a failed session.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub played: Option<PlayedSession>,
}

/// What a finished session did (flattened into its [`SessionSummary`]'s JSON object).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PlayedSession {
    /// Decision maker.
    pub algorithm: String,
    /// Chunks downloaded.
    pub chunks_played: usize,
    /// Chunks the session was to play.
    pub chunks_expected: usize,
    /// True when every decision came from the server's API.
    pub all_decisions_from_server: bool,
    /// Decisions the server made.
    pub decisions_from_server: usize,
    /// Decisions that carried a level cap from the server's egress allocator (`serve
    /// --egress-mbps`).
    pub decisions_with_cap: usize,
    /// Decisions whose level was above the cap they carried (0 when the server kept its caps).
    pub decisions_above_cap: usize,
    /// QoE of the per-chunk log, scored like `bench` (what results.csv says).
    pub qoe: f64,
    /// The player's running QoE tally.
    pub qoe_player_running: f64,
    /// The server's QoE for the session (its answer to the final report), under the server's
    /// `--qoe` and from chunk 1 on, whatever this run's `--qoe` and `--skip-chunks`.
    pub qoe_server: Option<f64>,
    /// Sum of per-chunk stalls of the log, seconds.
    pub rebuffer_s: f64,
    /// Stall time of the independent playhead tracker, seconds.
    pub stall_s_playhead: f64,
    /// Segments whose size differed from `video.json`.
    pub size_mismatches: usize,
    /// HTTP requests (init and media).
    pub requests: usize,
    /// Init-segment requests.
    pub init_requests: usize,
    /// Requests sent again after failing in transit (each retry counted).
    pub retries: u32,
    /// Body bytes downloaded.
    pub bytes: u64,
    /// Median decision latency, real ms.
    pub decision_ms_p50: f64,
    /// 99th percentile decision latency, real ms.
    pub decision_ms_p99: f64,
    /// Session seconds at the end.
    pub session_s: f64,
    /// Real seconds.
    pub wall_s: f64,
}

impl SessionSummary {
    /// Summarises a finished session whose log scored `qoe`.
    pub fn of(o: &PlayOutcome, trace: String, client: usize, expected: usize, qoe: f64) -> Self {
        let mut lat = o.decision_ms.clone();
        lat.sort_by(f64::total_cmp);
        let played = PlayedSession {
            algorithm: o.algorithm.clone(),
            chunks_played: o.records.len(),
            chunks_expected: expected,
            all_decisions_from_server: o.all_from_server(),
            decisions_from_server: o.decisions.iter().filter(|d| d.from_server).count(),
            decisions_with_cap: o.decisions.iter().filter(|d| d.cap_level.is_some()).count(),
            decisions_above_cap: o
                .decisions
                .iter()
                .filter(|d| d.cap_level.is_some_and(|c| d.decision.level > c))
                .count(),
            qoe,
            qoe_player_running: o.qoe_running,
            qoe_server: o.server_qoe,
            rebuffer_s: o.records.iter().map(|r| r.rebuffer_s).sum(),
            stall_s_playhead: o.stall_s,
            size_mismatches: o.size_mismatches,
            requests: o.requests.len(),
            init_requests: o.requests.iter().filter(|r| r.kind == "init").count(),
            retries: o.requests.iter().map(|r| r.transfer.retries).sum(),
            bytes: o.requests.iter().map(|r| r.transfer.bytes).sum(),
            decision_ms_p50: percentile(&lat, 0.5),
            decision_ms_p99: percentile(&lat, 0.99),
            session_s: o.session_s,
            wall_s: o.wall_s,
        };
        SessionSummary {
            session: o.session.clone(),
            trace,
            client,
            error: None,
            played: Some(played),
        }
    }

    /// A failed session.
    pub fn failed(session: String, trace: String, client: usize, error: String) -> Self {
        SessionSummary {
            session,
            trace,
            client,
            error: Some(error),
            played: None,
        }
    }
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// The MPD played.
    pub url: String,
    /// The `--trace` given.
    pub trace: String,
    /// The `--abr` given.
    pub abr: String,
    /// Decisions from the server's API.
    pub server_decisions: bool,
    /// Players per trace.
    pub clients_per_trace: usize,
    /// Players in all.
    pub players: usize,
    /// Players that failed.
    pub errors: usize,
    /// Players that finished without error but with fewer chunks than expected. A player either
    /// plays every chunk or fails with an error (counted in `errors`), so this is a consistency
    /// check that stays 0 unless the player has a bug.
    pub incomplete_sessions: usize,
    /// Speed factor.
    pub speed: f64,
    /// `transfer` or `wall`.
    pub trace_clock: String,
    /// Init segments fetched once per level.
    pub cache_init: bool,
    /// Real seconds for all players.
    pub wall_s: f64,
    /// Body bytes downloaded by all players.
    pub bytes_downloaded: u64,
    /// Median decision latency over every decision, real ms.
    pub decision_ms_p50: f64,
    /// 99th percentile decision latency over every decision, real ms.
    pub decision_ms_p99: f64,
    /// Every player, in order.
    pub sessions: Vec<SessionSummary>,
}

impl RunSummary {
    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

/// The `q` quantile (0..=1) of sorted values, nearest rank; 0 when empty.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_nearest_rank() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.5), 2.0);
        assert_eq!(percentile(&v, 0.99), 4.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn failed_sessions_serialise_their_error() {
        let s = SessionSummary::failed("p".into(), "t".into(), 0, "boom".into());
        let j: serde_json::Value = serde_json::to_value(&s).unwrap();
        assert_eq!(j["error"], "boom");
        // No zeros that would read as a session that played and scored 0.
        for absent in ["qoe", "chunks_played", "rebuffer_s", "algorithm"] {
            assert!(j.get(absent).is_none(), "{absent} in {j}");
        }
        let ok = SessionSummary {
            error: None,
            played: Some(PlayedSession {
                qoe: 12.5,
                ..PlayedSession::default()
            }),
            ..s
        };
        let j = serde_json::to_value(&ok).unwrap();
        assert!(j.get("error").is_none(), "{j}");
        assert_eq!(
            j["qoe"], 12.5,
            "the played fields sit beside session and trace: {j}"
        );
        assert_eq!(j["session"], "p");
    }
}
