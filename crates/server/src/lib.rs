//! # neuralstream-server
//!
//! `neuralstream serve`: an HTTPS server (axum on tokio, rustls with ring; HTTP/1.1 and HTTP/2 by
//! ALPN) for media packaged by `neuralstream package`, with an ABR decision API that runs any of
//! the project's algorithms per client session: the Rust replacement for the Flask/`http.server`
//! decision servers of Pensieve-style systems.
//!
//! **Key design decision:** the server runs the *same* `Abr` implementations as the simulator, fed
//! an `Observation` rebuilt from the client's reports (the history of `ChunkRecord`s a simulated
//! player would have), so a decision over HTTP is the decision `bench` would make in the same state.
//! Everything on the request path is bounded: body size, handler time, header read time, TLS
//! handshake time, number of sessions and their memory, history length per session, open
//! connections and their idle time (see [`connections`]); static files are resolved against a
//! canonical root and never leave it, and dot-files, keys and the TLS state folder are never served
//! (see [`files`]).
//!
//! Library use: [`start`] returns a [`Running`] server (bound address, base URL, certificate);
//! [`run_blocking`] is what the CLI calls (prints the `listening on` line, stops on Ctrl-C/SIGTERM).
//!
//! Modules and what each imports of the others (no cycle; [`start`] in the crate root wires
//! them together):
//!
//! ```text
//! app        -> api, web, files, state, metrics, response,
//!               pensieve_compat                             (the router and its layers)
//! api        -> state, metrics, response                    (the API handlers)
//! pensieve_compat -> api, web, files, state, response       (`POST /` for Pensieve's client)
//! web        -> files, state, response                      (the page at /)
//! files      -> api (error_response)                        (static files)
//! state      -> sessions, metrics, logging                  (AppState)
//! sessions   -> algorithms, media, response, metrics, egress (per-client sessions)
//! egress     -> media                                       (--egress-mbps allocation)
//! algorithms -> media, error;  media -> error;  tls -> config, error;  logging -> config
//! rt_ws      -> state, metrics, response, error, rt_feed, rt_train (real-time WebSocket sessions)
//! rt_feed    -> state, files, response, rt_ws (limits)        (the live dashboard's feed, /rt)
//! rt_train   -> error                                         (--rt-train: online training)
//! response, metrics, error -> nothing of the crate;  config -> rt_ws, rt_train (settings types)
//! ```

pub mod algorithms;
pub mod api;
pub mod app;
pub mod config;
pub mod connections;
pub mod egress;
pub mod error;
pub mod files;
pub mod logging;
pub mod media;
pub mod metrics;
pub mod pensieve_compat;
pub mod response;
pub mod rt_feed;
pub mod rt_train;
pub mod rt_ws;
pub mod sessions;
pub mod state;
pub mod telemetry;
pub mod tls;
pub mod web;

pub use config::{LogFormat, PensieveConfig, ServerConfig, TlsMode};
pub use error::ServerError;
pub use logging::init_logging;
pub use tls::TlsSetup;

pub use state::AppState;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A started server.
#[derive(Debug)]
pub struct Running {
    /// The bound address (the real port when 0 was asked).
    pub addr: SocketAddr,
    /// Base URL, e.g. `https://127.0.0.1:8443/`.
    pub base_url: String,
    /// TLS details (`None` with plain HTTP).
    pub tls: Option<TlsSetup>,
    /// Shared state (sessions, metrics), for tests and embedding.
    pub state: Arc<AppState>,
    connections: connections::LimitAcceptor,
    handle: axum_server::Handle<SocketAddr>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    sweeper: tokio::task::JoinHandle<()>,
}

impl Running {
    /// The `listening on <URL>` line the CLI prints (tests parse it).
    pub fn listening_line(&self) -> String {
        format!("listening on {}", self.base_url)
    }

    /// The `certificate: <PEM> sha256 <fingerprint>` line, for TLS.
    pub fn certificate_line(&self) -> Option<String> {
        self.tls.as_ref().map(|t| {
            format!(
                "certificate: {} sha256 {}",
                t.cert_path.display(),
                t.fingerprint_sha256
            )
        })
    }

    /// Connections open now (TLS handshakes in progress included, refused ones not).
    pub fn open_connections(&self) -> usize {
        self.connections.open()
    }

    /// The connection cap in force (`max_connections`, lowered to fit the open-file limit).
    pub fn max_connections(&self) -> usize {
        self.connections.max_connections()
    }

    /// Stops accepting, lets open requests finish for up to `grace`, then closes everything.
    pub async fn shutdown(self, grace: Duration) {
        self.handle.graceful_shutdown(Some(grace));
        match self.server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "server stopped with an error"),
            Err(e) => tracing::warn!(error = %e, "server task failed"),
        }
        self.sweeper.abort();
        // Sessions still playing end here (a `session_end` each with `--telemetry`, written
        // before the sink is finished).
        let ended = self.state.sessions.drain();
        if ended > 0 {
            tracing::info!(sessions = ended, "live sessions ended by the shutdown");
        }
        if let Some(rt) = &self.state.rt {
            let ended = rt.end_telemetry();
            if ended > 0 {
                tracing::info!(
                    sessions = ended,
                    "live real-time sessions ended by the shutdown"
                );
            }
            rt.finish_dataset();
            if let Some(t) = rt.trainer() {
                t.finish();
            }
        }
    }
}

/// The URL printed and returned for `addr`; an unspecified bind address (0.0.0.0, ::) is shown
/// as `localhost`, which the self-signed certificate names and a client can connect to.
fn base_url(addr: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    if addr.ip().is_unspecified() {
        return format!("{scheme}://localhost:{}/", addr.port());
    }
    match addr {
        SocketAddr::V4(a) => format!("{scheme}://{}:{}/", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("{scheme}://[{}]:{}/", a.ip(), a.port()),
    }
}

/// Builds the shared state: loads media and algorithms, checks the web root.
pub fn build_state(config: &ServerConfig) -> Result<AppState, ServerError> {
    let rt = rt_ws::RtState::new(&config.rt)?;
    let rt = rt_ws::RtState::attach_training(rt, config.rt_train.as_ref())?
        .map(|rt| Arc::new(rt.with_telemetry(config.telemetry.as_ref())));
    // Real-time sessions alone need no media.
    let media = if config.media_dirs.is_empty() && rt.is_some() {
        media::MediaLibrary::default()
    } else {
        media::MediaLibrary::load(&config.media_dirs, &config.qoe)?
    };
    let algorithms = algorithms::AlgorithmSet::new(&config.algorithms)?;
    let misfits = algorithms.check_fit(&media)?;
    if !misfits.is_empty() {
        let pairs: Vec<String> = misfits.iter().map(|m| m.to_string()).collect();
        tracing::warn!(
            pairs = %pairs.join(", "),
            "learned policies that do not fit a served video: their decisions for it are refused with 422"
        );
    }
    let web_root = match &config.web_root {
        None => None,
        Some(dir) => {
            let canonical = std::fs::canonicalize(dir).map_err(|e| ServerError::WebRoot {
                path: dir.clone(),
                reason: format!("{e}; build the web player (cd web && npm ci && npm run build) or omit --web-root"),
            })?;
            if !canonical.is_dir() {
                return Err(ServerError::WebRoot {
                    path: dir.clone(),
                    reason: "is not a folder".into(),
                });
            }
            Some(canonical)
        }
    };
    let pensieve = config
        .pensieve
        .as_ref()
        .map(|p| pensieve_compat::resolve(p, &media))
        .transpose()?;
    let videos: Vec<_> = media.iter().map(|m| m.info.clone()).collect();
    let videos_json = serde_json::to_vec(&videos).unwrap_or_default().into();
    let algorithms_json = serde_json::to_vec(&algorithms.list())
        .unwrap_or_default()
        .into();
    let egress = egress_allocator(config, &media)?;
    let mut sessions = sessions::SessionStore::new(
        config.max_sessions,
        config.session_budget_bytes,
        config.session_idle,
    );
    if let Some(sink) = &config.telemetry {
        let names = media.iter().map(|m| m.name.clone()).collect();
        sessions = sessions.with_end_hook(telemetry::end_hook(sink.clone(), names));
    }
    Ok(AppState {
        ctx: sessions::DecisionContext {
            media,
            algorithms,
            startup_level: config.startup_level,
            egress,
        },
        sessions,
        metrics: metrics::Metrics::default(),
        web_root,
        body_limit_bytes: config.body_limit_bytes,
        request_timeout: config.request_timeout,
        body_read_timeout: config.header_read_timeout.min(config.request_timeout),
        videos_json,
        algorithms_json,
        cors_origins: cors_origins(&config.cors_origins)?,
        server_error_warnings: logging::WarnLimiter::new(
            "server error answered",
            logging::WARN_BURST,
            logging::WARN_INTERVAL,
        ),
        pensieve,
        rt,
        telemetry: config.telemetry.clone(),
    })
}

/// The `--egress-mbps` allocator, if one is configured (issue 22).
fn egress_allocator(
    config: &ServerConfig,
    media: &media::MediaLibrary,
) -> Result<Option<egress::Egress>, ServerError> {
    let Some(mbps) = config.egress_mbps else {
        return Ok(None);
    };
    if !(mbps.is_finite() && mbps > 0.0) {
        return Err(ServerError::Egress(format!(
            "--egress-mbps must be Mbit/s > 0 (the capacity the allocator splits), got {mbps}"
        )));
    }
    let allocator = neuralstream_alloc::create(&config.allocator)
        .map_err(|e| ServerError::Egress(format!("--allocator: {e}")))?;
    Ok(Some(egress::Egress::new(
        mbps * 1000.0,
        allocator,
        media,
        config.session_idle,
    )))
}

/// The `--cors` origins as header values: `*`, or `scheme://host[:port]` each.
fn cors_origins(origins: &[String]) -> Result<Vec<axum::http::HeaderValue>, ServerError> {
    origins
        .iter()
        .map(|o| o.trim().trim_end_matches('/'))
        .filter(|o| !o.is_empty())
        .map(|o| {
            let plausible = o == "*"
                || ((o.starts_with("https://") || o.starts_with("http://"))
                    && !o.split_once("://").is_some_and(|(_, rest)| rest.is_empty() || rest.contains('/')));
            plausible
                .then(|| axum::http::HeaderValue::from_str(o).ok())
                .flatten()
                .ok_or_else(|| ServerError::Cors(format!(
                    "'{}' is not an origin; write scheme://host[:port] (e.g. https://player.example:8080) or *",
                    o.chars().take(100).collect::<String>()
                )))
        })
        .collect()
}

/// Starts a server on the current tokio runtime; returns once it is listening.
pub async fn start(config: ServerConfig) -> Result<Running, ServerError> {
    let state = Arc::new(build_state(&config)?);
    tls::check_not_served(&config.tls, &state)?;
    // Nothing is written before the listener is bound: a start that fails to bind leaves the
    // certificate of a running server alone.
    let tls_plan = tls::plan(&config.tls, config.bind)?;
    let wanted = SocketAddr::new(config.bind, config.port);
    let listener = std::net::TcpListener::bind(wanted).map_err(|source| ServerError::Bind {
        addr: wanted,
        source,
    })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: wanted,
        source,
    })?;
    let tls = tls_plan.commit()?;
    let io_err = |context: &str| {
        let context = context.to_string();
        move |source| ServerError::Io { context, source }
    };
    let (max_connections, warning) =
        connections::fit_cap(config.max_connections, connections::raise_open_file_limit());
    if let Some(warning) = warning {
        tracing::warn!("{warning}");
    }
    let limits = connections::LimitAcceptor::new(max_connections, config.connection_idle);
    let handle = axum_server::Handle::new();
    let app = app::router(state.clone());
    let mut server = axum_server::from_tcp(listener)
        .map_err(io_err("cannot use the listening socket"))?
        .handle(handle.clone())
        .first_request_timeout(config.header_read_timeout);
    server
        .http_builder()
        .http1()
        .header_read_timeout(config.header_read_timeout);
    // HTTP/2: a vanished client (no answer to pings) is dropped; streams per connection bounded.
    // A live but idle one is closed by `connections` (hyper has no HTTP/2 idle timeout).
    server
        .http_builder()
        .http2()
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(10))
        .max_concurrent_streams(256);
    let server = match &tls {
        Some(t) => {
            let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(
                axum_server::tls_rustls::RustlsConfig::from_config(t.config.clone()),
            )
            .handshake_timeout(config.header_read_timeout)
            .acceptor(limits.clone());
            tokio::spawn(server.acceptor(acceptor).serve(app.into_make_service()))
        }
        None => tokio::spawn(
            server
                .acceptor(limits.clone())
                .serve(app.into_make_service()),
        ),
    };
    let sweeper = {
        let state = state.clone();
        let period =
            (config.session_idle / 4).clamp(Duration::from_millis(20), Duration::from_secs(10));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                state.server_error_warnings.flush(false);
                let n = state.sessions.sweep();
                if n > 0 {
                    tracing::info!(
                        evicted = n,
                        active = state.sessions.active(),
                        "idle sessions evicted"
                    );
                }
            }
        })
    };
    let base_url = base_url(addr, tls.is_some());
    tracing::info!(
        url = %base_url,
        videos = %state.ctx.media.names(),
        algorithms = %state.ctx.algorithms.names(),
        rt_controllers = %state.rt.as_ref().map_or(String::new(), |rt| rt.names()),
        "server started"
    );
    Ok(Running {
        addr,
        base_url,
        tls,
        state,
        connections: limits,
        handle,
        server,
        sweeper,
    })
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Runs a server until Ctrl-C or SIGTERM: prints the certificate line (TLS) and the
/// `listening on <URL>` line to stdout, then shuts down gracefully (10 s for open requests).
pub fn run_blocking(config: ServerConfig) -> Result<(), ServerError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| ServerError::Io {
            context: "cannot start the async runtime".into(),
            source,
        })?;
    runtime.block_on(async {
        let running = start(config).await?;
        {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            if let Some(line) = running.certificate_line() {
                let _ = writeln!(out, "{line}");
            }
            let _ = writeln!(out, "{}", running.listening_line());
            let _ = out.flush();
        }
        wait_for_signal().await;
        tracing::info!("shutting down");
        running.shutdown(Duration::from_secs(10)).await;
        tracing::info!("stopped");
        Ok(())
    })
}
