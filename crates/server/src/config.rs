//! [`ServerConfig`]: everything `neuralstream serve` can be told, with safe defaults.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

/// How the server speaks TLS.
#[derive(Debug, Clone, PartialEq)]
pub enum TlsMode {
    /// A self-signed certificate kept in `state_dir` (`cert.pem`, `key.pem`), generated on first start
    /// (SAN localhost, 127.0.0.1, ::1) and reused afterwards.
    SelfSigned {
        /// Folder holding the certificate and key.
        state_dir: PathBuf,
    },
    /// A certificate chain and private key given by the operator (PEM files).
    Files {
        /// PEM certificate chain, leaf first.
        cert: PathBuf,
        /// PEM private key (PKCS#8, PKCS#1 or SEC1).
        key: PathBuf,
    },
    /// Plain HTTP (only with `--http`).
    Insecure,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Configuration of a server instance.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Packaged media folders (each holds `video.json`); served under `/media/<folder name>/`.
    pub media_dirs: Vec<PathBuf>,
    /// Enabled algorithms (`--abr` names, or `learned:PATH`); the first is the default.
    pub algorithms: Vec<String>,
    /// Address to bind.
    pub bind: IpAddr,
    /// Port to bind; 0 picks a free one.
    pub port: u16,
    /// TLS mode.
    pub tls: TlsMode,
    /// Folder served at `/` (the web player); `None` serves a built-in page saying how to build it.
    pub web_root: Option<PathBuf>,
    /// QoE model of `qoe_so_far`, as a `--qoe` spec resolved per served video (QoE_lin's stall
    /// penalty is each video's top bitrate unless the spec gives one, e.g. `lin:4.3`).
    pub qoe: String,
    /// A session unused for this long is dropped.
    pub session_idle: Duration,
    /// Most sessions kept at once; new ones are refused with 503 beyond it.
    pub max_sessions: usize,
    /// Byte budget of all sessions' histories together (each session reserves its worst case,
    /// see [`crate::sessions`]); new sessions that do not fit are refused with 503.
    pub session_budget_bytes: u64,
    /// Origins, besides the page's own, that browsers may call the server from (CORS), e.g.
    /// `https://player.example:8080`; `*` allows any.
    pub cors_origins: Vec<String>,
    /// Largest decision request body accepted, bytes.
    pub body_limit_bytes: usize,
    /// Longest time a handler may take to produce a response (bodies stream afterwards).
    pub request_timeout: Duration,
    /// Longest time a client may take to send a request's headers (also bounds TLS handshakes).
    pub header_read_timeout: Duration,
    /// Level of chunk 0 when the client asks before any download (Pensieve's default: 1).
    pub startup_level: usize,
    /// Log line format (used by [`crate::init_logging`]).
    pub log_format: LogFormat,
    /// Most connections open at once; more get a `503` and are closed (lowered at start when the
    /// open-file limit cannot hold them).
    pub max_connections: usize,
    /// A connection with no request in flight for this long is closed (HTTP/1.1 and HTTP/2).
    pub connection_idle: Duration,
    /// Egress capacity, Mbit/s, that an allocator splits among the sessions by capping their
    /// levels (issue 22); `None`: no allocation.
    pub egress_mbps: Option<f64>,
    /// The allocator of `egress_mbps` (a `neuralstream_alloc` name; default `maxmin`).
    pub allocator: String,
    /// Telemetry sink the decisions emit to (`--telemetry`); `None` (the default) emits nothing.
    pub telemetry: Option<neuralstream_telemetry::TelemetryHandle>,
    /// Real-time sessions over WebSocket (off unless controllers are given).
    pub rt: crate::rt_ws::RtServeConfig,
    /// Online training of the real-time learned controller (`--rt-train`); off when `None`.
    pub rt_train: Option<crate::rt_train::RtTrainConfig>,
    /// The Pensieve-compatible mode (`POST /` for Pensieve's dash.js client), off when `None`.
    pub pensieve: Option<PensieveConfig>,
}

/// Settings of the Pensieve-compatible mode (see [`crate::pensieve_compat`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PensieveConfig {
    /// Folder of Pensieve's client (`myindex_RL.html`, `dash.all.min.js`) served at `/`, with
    /// `/Manifest.mpd` and the segments it names from the first media folder; `None` serves the
    /// usual page at `/`.
    pub client_dir: Option<PathBuf>,
}

impl ServerConfig {
    /// A configuration with the defaults of `neuralstream serve` for these media and algorithms:
    /// 127.0.0.1:8443, self-signed TLS in `out/serve`, QoE_lin, 300 s idle sessions, 100,000 sessions
    /// within [`default_session_budget_bytes`], CORS for the page's own origin only, 16 KiB
    /// bodies, 30 s request timeout, 10 s header timeout, 4096 connections closed after 60 s idle.
    pub fn new(media_dirs: Vec<PathBuf>, algorithms: Vec<String>) -> Self {
        ServerConfig {
            media_dirs,
            algorithms,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8443,
            tls: TlsMode::SelfSigned {
                state_dir: PathBuf::from("out/serve"),
            },
            web_root: None,
            qoe: "lin".to_owned(),
            session_idle: Duration::from_secs(300),
            max_sessions: 100_000,
            session_budget_bytes: default_session_budget_bytes(),
            cors_origins: Vec::new(),
            body_limit_bytes: 16 * 1024,
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            startup_level: 1,
            log_format: LogFormat::Text,
            max_connections: crate::connections::DEFAULT_MAX_CONNECTIONS,
            connection_idle: crate::connections::DEFAULT_IDLE,
            pensieve: None,
            rt: crate::rt_ws::RtServeConfig::default(),
            rt_train: None,
            telemetry: None,
            egress_mbps: None,
            allocator: "maxmin".into(),
        }
    }
}

/// Session budget where the machine's memory cannot be read: 1 GiB.
pub const FALLBACK_SESSION_BUDGET_BYTES: u64 = 1 << 30;

/// The default session budget, fitted to the machine: a quarter of the memory available at start
/// (`MemAvailable` in `/proc/meminfo`), kept between 64 MiB and 16 GiB;
/// [`FALLBACK_SESSION_BUDGET_BYTES`] where that cannot be read.
pub fn default_session_budget_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| mem_available_bytes(&text))
        .map_or(FALLBACK_SESSION_BUDGET_BYTES, |available| {
            (available / 4).clamp(64 << 20, 16 << 30)
        })
}

/// `MemAvailable` of a `/proc/meminfo` text, bytes.
fn mem_available_bytes(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_budget_is_a_quarter_of_available_memory_within_bounds() {
        let text = "MemTotal:       8000000 kB\nMemAvailable:    4194304 kB\n";
        assert_eq!(mem_available_bytes(text), Some(4 << 30));
        assert_eq!(mem_available_bytes("MemTotal: 1 kB"), None);
        let budget = default_session_budget_bytes();
        assert!((64 << 20..=16 << 30).contains(&budget), "{budget}");
    }
}
