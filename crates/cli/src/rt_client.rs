//! `neuralstream rt client`: headless real-time senders. Each runs `neuralstream-rt`'s frame
//! source, encoder model and trace-shaped link ([`neuralstream_rt::run_session`]) paced to the
//! wall clock (or `--speed` times faster), and asks for its settings either from a server's
//! `/api/v1/rt/metrics` WebSocket (`--server ws://...` or `wss://...`) or from a local controller
//! (no `--server`); it writes the same result files as `rt bench`.
//!
//! **Key design decision:** the network client is a [`Controller`]: the simulator calls it once
//! per feedback interval exactly as it calls GCC in `rt bench`, and it waits until that interval's
//! time has come, sends the report and returns the server's answer. So `rt client` and `rt bench`
//! differ only by where the decision is made and the real time it takes (`docs/sim_to_real.md`).

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use neuralstream_rt::dataset::{DecisionMessage, IntervalReport, SCHEMA_VERSION};
use neuralstream_rt::receiver::RenderedFrame;
use neuralstream_rt::{
    bench, Controller, Decision, Feedback, LinkTrace, MahimahiOptions, RtConfig,
};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

const RT_CLIENT_EXAMPLES: &str = "Examples:
  neuralstream serve --rt-controllers gcc,learned:out/rt-dqn/model.safetensors --rt-dataset out/rt-data
  neuralstream rt client --server wss://127.0.0.1:8443/api/v1/rt/metrics --ca-cert out/serve/cert.pem \\
      --traces ../shared/data/rtc --split test --controller gcc,learned --clients 4 --speed 10
  neuralstream rt client --traces ../shared/data/rtc --split test --controller gcc --speed 10   (local)";

/// Flags of `neuralstream rt client`.
#[derive(Debug, Args)]
#[command(after_help = RT_CLIENT_EXAMPLES)]
pub struct RtClientArgs {
    /// The server's real-time WebSocket, ws://HOST:PORT/api/v1/rt/metrics (with `serve --http`) or
    /// wss://...; without it the controllers run here (local mode, for comparison).
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Folder of traces (as for `rt bench`); client i plays trace i modulo their number.
    #[arg(long, value_name = "DIR")]
    traces: PathBuf,
    /// Which traces: all, train, validation or test.
    #[arg(long, default_value = "all", value_name = "SPLIT")]
    split: String,
    /// Comma-separated controllers, given to the clients in turn: names the server enables
    /// (gcc, fixed:KBPS, learned or learned:PATH), or any `rt bench` controller in local mode.
    #[arg(long, default_value = "gcc", value_name = "LIST")]
    controller: String,
    /// Concurrent clients (one thread and one connection each).
    #[arg(long, default_value_t = 1, value_name = "N")]
    clients: usize,
    /// PEM certificate to trust for wss:// (the server's self-signed cert.pem).
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// Speed-up over real time (1: real time; 10: a 60 s session in 6 s).
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    speed: f64,
    /// Session length, s; default: one loop of each trace.
    #[arg(long, value_name = "S")]
    duration_s: Option<f64>,
    /// Capture rate, 30 or 60 fps.
    #[arg(long, default_value_t = 60, value_name = "FPS")]
    fps: u32,
    /// Seed of the simulated source and link.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output folder (the files `rt bench` writes).
    #[arg(long, default_value = "out/rt-client", value_name = "DIR")]
    out: PathBuf,
}

/// Waits until a session's simulated time has come on the wall clock.
#[derive(Debug, Clone, Copy)]
struct Pacer {
    start: Instant,
    speed: f64,
}

impl Pacer {
    fn wait(&self, now_ms: f64) {
        let due = Duration::from_secs_f64((now_ms / 1000.0 / self.speed).max(0.0));
        if let Some(left) = due.checked_sub(self.start.elapsed()) {
            std::thread::sleep(left);
        }
    }
}

/// A local controller run at the wall clock's pace (local mode).
struct Paced {
    inner: Box<dyn Controller>,
    pacer: Pacer,
}

impl Controller for Paced {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn start(&mut self, source_fps: u32) -> Decision {
        self.pacer.start = Instant::now();
        self.inner.start(source_fps)
    }
    fn on_feedback(&mut self, feedback: &Feedback) -> Decision {
        self.pacer.wait(feedback.now_ms);
        self.inner.on_feedback(feedback)
    }
    fn estimate_kbps(&self) -> Option<f64> {
        self.inner.estimate_kbps()
    }
}

/// A byte stream a WebSocket can run over (TCP or TLS over TCP).
trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// The server as a controller: one WebSocket session.
struct Remote {
    ws: WebSocket<Box<dyn Stream>>,
    name: String,
    pacer: Pacer,
    opening: Decision,
    applied: Decision,
    seq: u64,
    answered: u64,
    error: Option<anyhow::Error>,
    /// Capture-to-display delays of the frames the simulated receiver displayed since the last
    /// report, ms (sent as the report's `frame_delay_p50_ms` / `frame_delay_max_ms`).
    frame_delays_ms: Vec<f64>,
}

/// `%XX`-encodes a query value (letters, digits and `-._~:/` stay).
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~:/".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The rustls configuration trusting `ca` (PEM).
fn tls_config(ca: &std::path::Path) -> Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca)
        .with_context(|| format!("--ca-cert {}", ca.display()))?
    {
        let cert =
            cert.with_context(|| format!("--ca-cert {}: not a PEM certificate", ca.display()))?;
        roots
            .add(cert)
            .with_context(|| format!("--ca-cert {}", ca.display()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn decision_of(msg: &DecisionMessage) -> Result<Decision> {
    msg.next
        .decision()
        .ok_or_else(|| anyhow!("the server answered a height of {}", msg.next.height))
}

/// Reads the next decision; a close frame becomes an error with its code and reason.
fn read_decision(ws: &mut WebSocket<Box<dyn Stream>>) -> Result<DecisionMessage> {
    loop {
        match ws.read().context("reading the server's answer")? {
            Message::Text(t) => {
                return serde_json::from_str(t.as_str())
                    .with_context(|| format!("the server's answer is not a decision: {t}"))
            }
            Message::Close(Some(f)) => {
                bail!(
                    "the server closed the session: {} {}",
                    u16::from(f.code),
                    f.reason
                )
            }
            Message::Close(None) => bail!("the server closed the session"),
            _ => continue,
        }
    }
}

impl Remote {
    /// Opens a session at `server` and reads the opening decision.
    fn connect(
        server: &str,
        tls: Option<&Arc<rustls::ClientConfig>>,
        session: &str,
        controller: &str,
        fps: u32,
        speed: f64,
    ) -> Result<Self> {
        let (secure, rest) = if let Some(r) = server.strip_prefix("wss://") {
            (true, r)
        } else if let Some(r) = server.strip_prefix("ws://") {
            (false, r)
        } else {
            bail!("--server {server}: use ws://HOST:PORT/api/v1/rt/metrics or wss://...");
        };
        let authority = rest.split('/').next().unwrap_or("");
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (
                h.trim_start_matches('[').trim_end_matches(']'),
                p.parse::<u16>()
                    .with_context(|| format!("--server {server}: bad port"))?,
            ),
            None => (authority, if secure { 443 } else { 80 }),
        };
        let tcp = TcpStream::connect((host, port))
            .with_context(|| format!("--server {server}: cannot connect"))?;
        tcp.set_nodelay(true)?;
        let stream: Box<dyn Stream> = if secure {
            let config = tls.ok_or_else(|| {
                anyhow!("--server {server}: wss:// needs --ca-cert (the server's cert.pem)")
            })?;
            let name = rustls::pki_types::ServerName::try_from(host.to_string())
                .with_context(|| format!("--server {server}: bad host name"))?;
            let conn = rustls::ClientConnection::new(config.clone(), name)?;
            Box::new(rustls::StreamOwned::new(conn, tcp))
        } else {
            Box::new(tcp)
        };
        let sep = if server.contains('?') { '&' } else { '?' };
        let url = format!(
            "{server}{sep}session={}&controller={}&fps={fps}",
            encode(session),
            encode(controller)
        );
        let (mut ws, _) = tungstenite::client(url.as_str(), stream)
            .map_err(|e| anyhow!("--server {server}: WebSocket handshake failed: {e}"))?;
        let opening = read_decision(&mut ws)?;
        let decision = decision_of(&opening)?;
        Ok(Remote {
            ws,
            name: controller.to_string(),
            pacer: Pacer {
                start: Instant::now(),
                speed,
            },
            opening: decision,
            applied: decision,
            seq: 0,
            answered: 0,
            error: None,
            frame_delays_ms: Vec::new(),
        })
    }

    fn exchange(&mut self, feedback: &Feedback) -> Result<Decision> {
        self.seq += 1;
        let report = IntervalReport::new(self.seq, feedback, &self.applied)
            .with_frame_delays(&self.frame_delays_ms);
        self.frame_delays_ms.clear();
        self.ws
            .send(Message::text(serde_json::to_string(&report)?))
            .context("sending a report")?;
        let answer = read_decision(&mut self.ws)?;
        if answer.v != SCHEMA_VERSION || answer.seq != self.seq {
            bail!(
                "the server answered seq {} (v {}) to report {}",
                answer.seq,
                answer.v,
                self.seq
            );
        }
        self.answered += 1;
        decision_of(&answer)
    }
}

impl Controller for Remote {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn start(&mut self, _source_fps: u32) -> Decision {
        self.pacer.start = Instant::now();
        self.opening
    }
    fn on_displayed(&mut self, frames: &[RenderedFrame]) {
        self.frame_delays_ms
            .extend(frames.iter().map(|f| f.render_ms - f.capture_ms));
    }
    fn on_feedback(&mut self, feedback: &Feedback) -> Decision {
        if self.error.is_none() {
            self.pacer.wait(feedback.now_ms);
            match self.exchange(feedback) {
                Ok(d) => self.applied = d,
                Err(e) => self.error = Some(e),
            }
        }
        self.applied
    }
}

/// One client's session: its score, and reports answered of reports sent.
fn run_one(
    a: &RtClientArgs,
    tls: Option<&Arc<rustls::ClientConfig>>,
    trace: &LinkTrace,
    controller: &str,
    index: usize,
) -> Result<(neuralstream_rt::SessionScore, u64, u64)> {
    let config = RtConfig {
        source_fps: a.fps,
        duration_ms: a
            .duration_s
            .map_or(trace.duration_ms().max(1000.0), |s| s * 1000.0),
        seed: a.seed,
        ..Default::default()
    };
    let log = match &a.server {
        Some(server) => {
            let session = format!("c{index}-{}-{}", std::process::id(), a.seed);
            let mut remote = Remote::connect(server, tls, &session, controller, a.fps, a.speed)?;
            let log = neuralstream_rt::run_session(trace, &config, &mut remote)?;
            let _ = remote.ws.close(None);
            let _ = remote.ws.flush();
            if let Some(e) = remote.error {
                return Err(e.context(format!(
                    "client {index} ({controller} on {}) after {} answers",
                    trace.name, remote.answered
                )));
            }
            return Ok((
                neuralstream_rt::score(&log, config.max_bps),
                remote.answered,
                remote.seq,
            ));
        }
        None => {
            let spec = bench::ControllerSpec::parse(controller)?;
            let mut paced = Paced {
                inner: spec.build(trace),
                pacer: Pacer {
                    start: Instant::now(),
                    speed: a.speed,
                },
            };
            neuralstream_rt::run_session(trace, &config, &mut paced)?
        }
    };
    let n = log.decisions.len().saturating_sub(1) as u64;
    Ok((neuralstream_rt::score(&log, config.max_bps), n, n))
}

/// Runs `neuralstream rt client`.
pub fn run_client(a: RtClientArgs) -> Result<()> {
    anyhow::ensure!(a.fps == 30 || a.fps == 60, "--fps {}: use 30 or 60", a.fps);
    anyhow::ensure!(
        a.speed.is_finite() && (0.01..=10_000.0).contains(&a.speed),
        "--speed {}: use 0.01 to 10000",
        a.speed
    );
    anyhow::ensure!(
        (1..=10_000).contains(&a.clients),
        "--clients must be between 1 and 10000"
    );
    if let Some(d) = a.duration_s {
        anyhow::ensure!(
            d.is_finite() && (1.0..=86_400.0).contains(&d),
            "--duration-s {d}: use 1 to 86400 seconds"
        );
    }
    let controllers: Vec<&str> = a
        .controller
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    anyhow::ensure!(!controllers.is_empty(), "--controller is empty; e.g. gcc");
    let traces = neuralstream_rt::read_trace_dir(&a.traces, MahimahiOptions::default())
        .with_context(|| format!("--traces {}", a.traces.display()))?;
    let traces = neuralstream_rt::select_split(traces, &a.split, &a.traces)
        .with_context(|| format!("--split {}", a.split))?;
    let tls = a.ca_cert.as_deref().map(tls_config).transpose()?;
    let started = Instant::now();
    let results: Vec<Result<(neuralstream_rt::SessionScore, u64, u64)>> =
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..a.clients)
                .map(|i| {
                    let (trace, controller) = (
                        &traces[i % traces.len()],
                        controllers[i % controllers.len()],
                    );
                    let (a, tls) = (&a, tls.as_ref());
                    scope.spawn(move || run_one(a, tls, trace, controller, i))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow!("a client thread panicked")))
                })
                .collect()
        });
    let (mut sessions, mut answered, mut sent) = (Vec::new(), 0, 0);
    for r in results {
        let (s, a_n, s_n) = r?;
        sessions.push(s);
        answered += a_n;
        sent += s_n;
    }
    let report = bench::report_of(sessions);
    say!("{}", bench::table(&report));
    let paths = neuralstream_rt::write_results(&report, &a.out)?;
    say!(
        "{} clients ({}), {answered} of {sent} intervals answered, in {:.2} s; wrote {}",
        a.clients,
        a.server.as_deref().unwrap_or("local controllers"),
        started.elapsed().as_secs_f64(),
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    anyhow::ensure!(
        answered == sent,
        "{} intervals were not answered",
        sent - answered
    );
    Ok(())
}
