//! Many players at once (tokio tasks), for load tests and trace sweeps: the media is loaded once,
//! then every (trace, client) pair is one player with its own HTTP client, link and session.

use crate::decider::Decider;
use crate::error::PlayerError;
use crate::http::{build_client_with, TlsTrust};
use crate::media::{load_media, Media};
use crate::player::{play, PlayOutcome, PlayerConfig};
use neuralstream_core::{Abr, Trace};
use reqwest::Url;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Makes a fresh algorithm instance for each player.
pub type AbrFactory = Arc<dyn Fn() -> Box<dyn Abr> + Send + Sync>;

/// Where decisions come from.
#[derive(Clone)]
pub enum DecisionSource {
    /// An algorithm in this process.
    Local {
        /// Builds one instance per player.
        factory: AbrFactory,
        /// Fixed level of chunk 0 (Pensieve: `Some(1)`), as the simulator does.
        startup_level: Option<usize>,
    },
    /// The server's decision API, asking for `algorithm` (`None`: the server's default).
    Server {
        /// Algorithm name sent with the first request.
        algorithm: Option<String>,
    },
}

/// Counters a caller can poll while a fleet runs (for a progress display).
#[derive(Debug, Default)]
pub struct Progress {
    /// Chunks downloaded so far, all players together.
    pub chunks_done: AtomicUsize,
    /// Players finished (successfully or not).
    pub players_done: AtomicUsize,
    /// Players that failed.
    pub players_failed: AtomicUsize,
}

impl Progress {
    /// Chunks downloaded so far.
    pub fn chunks(&self) -> usize {
        self.chunks_done.load(Ordering::Relaxed)
    }
}

/// A run of one or more players.
#[derive(Clone)]
pub struct FleetConfig {
    /// The MPD.
    pub mpd_url: Url,
    /// Certificates trusted.
    pub trust: TlsTrust,
    /// Network traces; every trace is played by `clients` players, each on its own link.
    pub traces: Vec<Arc<Trace>>,
    /// Players per trace.
    pub clients: usize,
    /// Player constants.
    pub player: PlayerConfig,
    /// Decisions.
    pub decisions: DecisionSource,
    /// Session ids are `{prefix}` (one player), else `{prefix}-t{trace}-c{client}`.
    pub session_prefix: String,
    /// Updated as players progress.
    pub progress: Arc<Progress>,
}

/// One player's result.
#[derive(Debug)]
pub struct FleetSession {
    /// Index into [`FleetConfig::traces`].
    pub trace_index: usize,
    /// Client number within the trace, from 0.
    pub client: usize,
    /// Session id used.
    pub session: String,
    /// What it played, or why it failed.
    pub outcome: Result<PlayOutcome, PlayerError>,
}

/// What a run produced.
#[derive(Debug)]
pub struct FleetOutcome {
    /// The media played.
    pub media: Media,
    /// One result per player, trace-major then client, in order.
    pub sessions: Vec<FleetSession>,
    /// Real seconds for all players (after the media was loaded).
    pub wall_s: f64,
}

impl FleetOutcome {
    /// Players that failed.
    pub fn errors(&self) -> usize {
        self.sessions.iter().filter(|s| s.outcome.is_err()).count()
    }
}

/// Session id of player (`trace`, `client`) in a fleet of `traces` x `clients`.
pub fn session_id(
    prefix: &str,
    traces: usize,
    clients: usize,
    trace: usize,
    client: usize,
) -> String {
    if traces == 1 && clients == 1 {
        prefix.to_string()
    } else {
        format!("{prefix}-t{trace}-c{client}")
    }
}

/// Checks that every session id [`session_id`] makes from `prefix` for a fleet of `traces` x
/// `clients` players is one the decision API accepts; the error explains the rule.
pub fn check_session_prefix(
    prefix: &str,
    traces: usize,
    clients: usize,
) -> Result<(), neuralstream_protocol::ProtocolError> {
    // The last player's id is the longest one; every suffix is made of [a-z0-9-].
    let longest = session_id(
        prefix,
        traces,
        clients,
        traces.saturating_sub(1),
        clients.saturating_sub(1),
    );
    neuralstream_protocol::validate_session_id(prefix)?;
    neuralstream_protocol::validate_session_id(&longest)
}

/// Loads the media once (the caller gets it before any player starts, e.g. to size a progress
/// bar, through [`load_fleet_media`]), then runs every player concurrently.
pub async fn run_fleet(cfg: FleetConfig) -> Result<FleetOutcome, PlayerError> {
    let media = load_fleet_media(&cfg).await?;
    run_fleet_with(cfg, media).await
}

/// Checks the configuration and loads the MPD and `video.json`.
pub async fn load_fleet_media(cfg: &FleetConfig) -> Result<Media, PlayerError> {
    cfg.player.validate()?;
    if cfg.clients == 0 {
        return Err(PlayerError::Config("--clients must be at least 1".into()));
    }
    if cfg.traces.is_empty() {
        return Err(PlayerError::Config("no trace to play; pass --trace".into()));
    }
    let setup = build_client_with(&cfg.trust, cfg.player.http1_only)?;
    let media = load_media(&setup, &cfg.mpd_url).await?;
    if let DecisionSource::Server {
        algorithm: Some(name),
    } = &cfg.decisions
    {
        check_server_algorithm(&setup, &cfg.mpd_url, name).await?;
    }
    Ok(media)
}

/// Asks the server which algorithms it enables and refuses `name` if it is not one of them, so
/// that no player starts (and no results are written) for sessions the server would refuse. A
/// server without the list (not NeuralStream's) is not checked.
async fn check_server_algorithm(
    client: &reqwest::Client,
    mpd_url: &reqwest::Url,
    name: &str,
) -> Result<(), PlayerError> {
    let Ok(url) = mpd_url.join(neuralstream_protocol::ALGORITHMS_PATH) else {
        return Ok(());
    };
    let Some(bytes) = crate::http::get_optional(client, &url).await? else {
        return Ok(());
    };
    let Ok(list) = serde_json::from_slice::<neuralstream_protocol::AlgorithmList>(&bytes) else {
        return Ok(());
    };
    // The server's own matching.
    let enabled = list.algorithms.iter().map(|a| a.name.as_str());
    if neuralstream_protocol::resolve_algorithm_name(enabled, name).is_some() {
        return Ok(());
    }
    Err(PlayerError::Config(format!(
        "--abr {name}: the server does not enable it; it enables {} (start it with `serve --abr {name},...` or pick one of those)",
        list.algorithms
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// Runs every player of `cfg` on already loaded `media`.
pub async fn run_fleet_with(cfg: FleetConfig, media: Media) -> Result<FleetOutcome, PlayerError> {
    cfg.player.validate()?;
    let media = Arc::new(media);
    let started = Instant::now();
    let n_traces = cfg.traces.len();
    let mut tasks = Vec::with_capacity(n_traces * cfg.clients);
    for t in 0..n_traces {
        for c in 0..cfg.clients {
            let media = media.clone();
            let cfg = cfg.clone();
            let session = session_id(&cfg.session_prefix, n_traces, cfg.clients, t, c);
            let task_session = session.clone();
            let handle = tokio::spawn(async move {
                let session = task_session;
                let progress = cfg.progress.clone();
                let r = async {
                    let client = build_client_with(&cfg.trust, cfg.player.http1_only)?;
                    // Like a real player, fetch the MPD on this player's own connection before
                    // playback starts: the TLS handshake is then not part of chunk 0's delay.
                    crate::http::get(&client, &cfg.mpd_url).await?;
                    let decider = match &cfg.decisions {
                        DecisionSource::Local {
                            factory,
                            startup_level,
                        } => Decider::Local {
                            abr: factory(),
                            startup_level: *startup_level,
                        },
                        DecisionSource::Server { algorithm } => Decider::server(
                            client.clone(),
                            &cfg.mpd_url,
                            &session,
                            media.name.clone(),
                            algorithm.clone(),
                        )?,
                    };
                    play(
                        &media,
                        cfg.traces[t].clone(),
                        decider,
                        &client,
                        &cfg.player,
                        &session,
                        Some(&progress.chunks_done),
                    )
                    .await
                }
                .await;
                progress.players_done.fetch_add(1, Ordering::Relaxed);
                if r.is_err() {
                    progress.players_failed.fetch_add(1, Ordering::Relaxed);
                }
                r
            });
            tasks.push((t, c, session, handle));
        }
    }
    let mut sessions = Vec::with_capacity(tasks.len());
    for (trace_index, client, session, handle) in tasks {
        let outcome = match handle.await {
            Ok(r) => r,
            Err(e) => Err(PlayerError::Config(format!("player task failed: {e}"))),
        };
        sessions.push(FleetSession {
            trace_index,
            client,
            session,
            outcome,
        });
    }
    let wall_s = started.elapsed().as_secs_f64();
    let media = Arc::try_unwrap(media).unwrap_or_else(|m| (*m).clone());
    Ok(FleetOutcome {
        media,
        sessions,
        wall_s,
    })
}

/// A multi-threaded tokio runtime for synchronous callers (the CLI).
pub fn runtime() -> Result<tokio::runtime::Runtime, PlayerError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| PlayerError::Config(format!("cannot start the async runtime: {e}")))
}

/// [`run_fleet`] on a new runtime, for synchronous callers.
pub fn run_fleet_blocking(cfg: FleetConfig) -> Result<FleetOutcome, PlayerError> {
    runtime()?.block_on(run_fleet(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_prefixes_are_checked_with_their_longest_suffix() {
        assert!(check_session_prefix("run-1", 3, 4).is_ok());
        assert!(check_session_prefix("bad/id", 1, 1).is_err());
        assert!(check_session_prefix("..", 1, 1).is_err());
        let long = "p".repeat(neuralstream_protocol::MAX_SESSION_ID_LEN);
        assert!(check_session_prefix(&long, 1, 1).is_ok());
        assert!(check_session_prefix(&long, 2, 1).is_err());
    }

    #[test]
    fn session_ids_are_plain_for_one_player_and_unique_otherwise() {
        assert_eq!(session_id("p", 1, 1, 0, 0), "p");
        let mut ids: Vec<String> = (0..3)
            .flat_map(|t| (0..4).map(move |c| session_id("p", 3, 4, t, c)))
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 12);
        assert!(ids
            .iter()
            .all(|i| neuralstream_protocol::validate_session_id(i).is_ok()));
    }
}
