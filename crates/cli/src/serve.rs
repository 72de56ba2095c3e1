//! `neuralstream serve`: flags in, a [`neuralstream_server::ServerConfig`] out, then
//! [`neuralstream_server::run_blocking`] until Ctrl-C or SIGTERM.
//!
//! **Key design decision:** the command only translates flags; every check (media folders,
//! algorithms, certificates) happens in the server library, which names the file or flag to fix.

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use neuralstream_server::{LogFormat, ServerConfig, TlsMode};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Shortest `--session-idle-s` accepted: below it sessions vanish between two chunks.
const MIN_SESSION_IDLE_S: f64 = 0.1;
/// Longest `--session-idle-s` accepted (about 116 days).
const MAX_SESSION_IDLE_S: f64 = 1e7;

/// Log line format of `serve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    /// Human-readable lines on stderr.
    Text,
    /// One JSON object per line on stderr.
    Json,
}

/// Arguments of `neuralstream serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub telemetry: crate::telemetry::TelemetryFlag,
    /// Packaged media folder (made by `neuralstream package`, holds video.json and manifests);
    /// repeat for several videos. Served under /media/FOLDER_NAME/. Optional with
    /// --rt-controllers (a server for real-time sessions alone).
    #[arg(long, value_name = "DIR")]
    pub media: Vec<PathBuf>,
    /// Comma-separated algorithms clients may ask for (the first is the default); `learned:PATH`
    /// serves a policy written by `neuralstream train`, `mpc-rf:MODEL` MPC over a random forest
    /// written by `neuralstream dataset eval-predictors`. See `neuralstream algorithms`.
    #[arg(long, default_value = "robustmpc", value_name = "LIST")]
    pub abr: String,
    /// Port to listen on; 0 picks a free one (printed on the `listening on` line). Default: 8443,
    /// or 8333 with --pensieve-compat (the port Pensieve's client hard-codes).
    #[arg(long)]
    pub port: Option<u16>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: IpAddr,
    /// PEM certificate chain (with --tls-key). Without both, a self-signed certificate is
    /// generated in --state-dir on first start and reused.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP instead of HTTPS (for local benchmarks and proxies that terminate TLS).
    /// HTTPS is the default; this is the only way to turn it off.
    #[arg(long = "http", alias = "insecure-http", conflicts_with_all = ["tls_cert", "tls_key"])]
    pub insecure_http: bool,
    /// Folder for server state (the self-signed cert.pem and key.pem).
    #[arg(long, default_value = "out/serve", value_name = "DIR")]
    pub state_dir: PathBuf,
    /// Folder served at / (the web player); default web/dist when it exists, else a page saying
    /// how to build it.
    #[arg(long, value_name = "DIR")]
    pub web_root: Option<PathBuf>,
    /// QoE model of the `qoe_so_far` answers and metrics: lin, log or hd, or ssim, vmaf or psnr
    /// (per-segment quality scores from `package`). QoE_lin's stall penalty is each served video's
    /// top bitrate in Mbit/s unless given (`lin:4.3`).
    #[arg(long, default_value = "lin", value_name = "MODEL")]
    pub qoe: String,
    /// A decision session unused for this long is dropped, seconds (0.1 to 1e7).
    #[arg(
        long,
        default_value_t = 300.0,
        value_name = "S",
        allow_negative_numbers = true
    )]
    pub session_idle_s: f64,
    /// Most decision sessions kept at once (new ones beyond it get 503).
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub max_sessions: usize,
    /// Memory budget of all decision sessions' histories together, MiB (each session reserves its
    /// worst case; new ones beyond it get 503). Default: a quarter of the memory available at
    /// start, between 64 MiB and 16 GiB.
    #[arg(long, value_name = "MIB")]
    pub session_memory_mb: Option<u64>,
    /// Comma-separated origins besides the page's own that browsers may call the server from
    /// (CORS), e.g. <https://player.example:8080>; `*` allows any.
    #[arg(long, value_name = "ORIGIN,...", value_delimiter = ',')]
    pub cors: Vec<String>,
    /// Most connections open at once; more get a 503 saying so and are closed (lowered, with a
    /// warning, when the open-file limit cannot hold them).
    #[arg(long, default_value_t = neuralstream_server::connections::DEFAULT_MAX_CONNECTIONS, value_name = "N")]
    pub max_connections: usize,
    /// A connection (HTTP/1.1 or HTTP/2) with no request in flight for this long is closed,
    /// seconds (0.1 to 1e7).
    #[arg(long, default_value_t = neuralstream_server::connections::DEFAULT_IDLE.as_secs_f64(), value_name = "S", allow_negative_numbers = true)]
    pub idle_timeout_s: f64,
    /// Log format (logs go to stderr; filter with NEURALSTREAM_LOG, e.g. debug).
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormatArg,
    // --- Pensieve-compatible mode (issue 24) ---
    /// Also answer Pensieve's dash.js client (its `rl_server` protocol): `POST /` with its flat
    /// report, a plain-text level or REFRESH, decided by the default --abr algorithm. Implies plain
    /// HTTP (--http) and port 8333 unless --port is given. See docs/pensieve_client.md.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    pub pensieve_compat: bool,
    /// With --pensieve-compat: the folder of Pensieve's client (myindex_RL.html, dash.all.min.js),
    /// served at / with /Manifest.mpd and its segments from the first --media folder.
    #[arg(long, value_name = "DIR", requires = "pensieve_compat")]
    pub pensieve_client: Option<PathBuf>,
    // --- end of the Pensieve-compatible mode's flags ---
    /// Real-time sessions over WebSocket.
    #[command(flatten)]
    pub rt: RtServeArgs,
    /// Online training of the real-time learned controller (`--rt-train`, crate::serve_rt_train).
    #[command(flatten)]
    pub rt_train: crate::serve_rt_train::RtTrainArgs,
    // -- issue 22 (engineer `multi`): server-side bandwidth allocation.
    /// Egress capacity, Mbit/s: --allocator splits it among the sessions by capping their levels
    /// (each decision carries its cap and the reason; /metrics reports Jain's fairness index).
    /// Default: no allocation.
    #[arg(long, value_name = "MBPS", allow_negative_numbers = true)]
    pub egress_mbps: Option<f64>,
    /// Allocator of --egress-mbps: none, equal, maxmin (max-min fairness on QoE), utility or
    /// fair (its caps and floors: it raises a session behind whose buffer and share allow it;
    /// its link weights are shown in the cap reason, not applied).
    #[arg(
        long,
        default_value = "maxmin",
        value_name = "NAME",
        requires = "egress_mbps"
    )]
    pub allocator: String,
}

// ---- real-time sessions (issue 21): flags of /api/v1/rt/metrics ----

/// Flags of the real-time WebSocket endpoint (`/api/v1/rt/metrics`, docs/rt_dataset.md).
#[derive(Debug, Args)]
pub struct RtServeArgs {
    /// Comma-separated real-time controllers clients may choose on /api/v1/rt/metrics (the first
    /// is the default): gcc, fixed or fixed:KBPS, learned:PATH (a model from `rt train`). Without it
    /// real-time sessions are off.
    #[arg(long, value_name = "LIST")]
    pub rt_controllers: Option<String>,
    /// Record every real-time interval to this folder as JSON lines (one file per UTC hour), the
    /// input of `rt train --dataset`.
    #[arg(long, value_name = "DIR", requires = "rt_controllers")]
    pub rt_dataset: Option<PathBuf>,
    /// Most real-time sessions live at once (one more is closed with code 1013).
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub rt_max_sessions: usize,
    /// A real-time session with no report for this long is closed (code 4000), seconds.
    #[arg(long, default_value_t = 30.0, value_name = "S")]
    pub rt_idle_s: f64,
    /// Largest real-time message, bytes (larger: code 1009).
    #[arg(long, default_value_t = 256 * 1024, value_name = "BYTES")]
    pub rt_max_message_bytes: usize,
    /// Reports per second a real-time session may send on average (one per 50 ms is 20; more:
    /// code 1008); bursts of twice this many are allowed.
    #[arg(long, default_value_t = 100.0, value_name = "N")]
    pub rt_max_reports_per_s: f64,
}

/// The real-time part of the server configuration.
fn rt_config(args: &RtServeArgs) -> Result<neuralstream_server::rt_ws::RtServeConfig> {
    let controllers: Vec<String> = args
        .rt_controllers
        .iter()
        .flat_map(|l| l.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if args.rt_controllers.is_some() && controllers.is_empty() {
        bail!(
            "--rt-controllers is empty; give e.g. --rt-controllers gcc,learned:model.safetensors"
        );
    }
    if !(MIN_SESSION_IDLE_S..=MAX_SESSION_IDLE_S).contains(&args.rt_idle_s) {
        bail!(
            "--rt-idle-s must be between {MIN_SESSION_IDLE_S} and {MAX_SESSION_IDLE_S:e} seconds, got {}",
            args.rt_idle_s
        );
    }
    if !(args.rt_max_reports_per_s.is_finite() && args.rt_max_reports_per_s >= 1.0) {
        bail!(
            "--rt-max-reports-per-s must be at least 1, got {}",
            args.rt_max_reports_per_s
        );
    }
    if args.rt_max_sessions == 0 || args.rt_max_message_bytes < 256 {
        bail!("--rt-max-sessions must be at least 1 and --rt-max-message-bytes at least 256");
    }
    Ok(neuralstream_server::rt_ws::RtServeConfig {
        controllers,
        dataset_dir: args.rt_dataset.clone(),
        limits: neuralstream_server::rt_ws::RtLimits {
            max_sessions: args.rt_max_sessions,
            idle: Duration::from_secs_f64(args.rt_idle_s),
            max_message_bytes: args.rt_max_message_bytes,
            max_reports_per_s: args.rt_max_reports_per_s,
            burst: 2.0 * args.rt_max_reports_per_s,
            ..Default::default()
        },
    })
}
// ---- end real-time sessions ----

/// Builds the server configuration from the flags.
pub fn config(args: &ServeArgs) -> Result<ServerConfig> {
    let algorithms: Vec<String> = args
        .abr
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if algorithms.is_empty() {
        bail!("--abr is empty; give e.g. --abr robustmpc,bb");
    }
    if !(MIN_SESSION_IDLE_S..=MAX_SESSION_IDLE_S).contains(&args.session_idle_s) {
        bail!(
            "--session-idle-s must be between {MIN_SESSION_IDLE_S} and {MAX_SESSION_IDLE_S:e} \
             seconds (a player silent that long has gone), got {}",
            args.session_idle_s
        );
    }
    if args.max_sessions == 0 {
        bail!("--max-sessions must be at least 1");
    }
    if args.session_memory_mb == Some(0) {
        bail!("--session-memory-mb must be at least 1");
    }
    if args.max_connections == 0 {
        bail!("--max-connections must be at least 1");
    }
    if !(MIN_SESSION_IDLE_S..=MAX_SESSION_IDLE_S).contains(&args.idle_timeout_s) {
        bail!(
            "--idle-timeout-s must be between {MIN_SESSION_IDLE_S} and {MAX_SESSION_IDLE_S:e} \
             seconds, got {}",
            args.idle_timeout_s
        );
    }
    if args.media.is_empty() && args.rt.rt_controllers.is_none() {
        bail!("give --media DIR (a folder made by `neuralstream package`), --rt-controllers gcc, or both");
    }
    let mut config = ServerConfig::new(args.media.clone(), algorithms);
    config.rt = rt_config(&args.rt)?;
    config.rt_train = crate::serve_rt_train::config(&args.rt_train)?;
    config.port = match (args.port, args.pensieve_compat) {
        (Some(port), _) => port,
        (None, true) => neuralstream_protocol::pensieve::CLIENT_PORT,
        (None, false) => 8443,
    };
    config.bind = args.bind;
    config.pensieve = args
        .pensieve_compat
        .then(|| neuralstream_server::PensieveConfig {
            client_dir: args.pensieve_client.clone(),
        });
    config.tls = match (&args.tls_cert, &args.tls_key, args.insecure_http) {
        // Pensieve's client posts to http://localhost:8333 (plain HTTP).
        _ if args.pensieve_compat => TlsMode::Insecure,
        (_, _, true) => TlsMode::Insecure,
        (Some(cert), Some(key), false) => TlsMode::Files {
            cert: cert.clone(),
            key: key.clone(),
        },
        _ => TlsMode::SelfSigned {
            state_dir: args.state_dir.clone(),
        },
    };
    config.web_root = match &args.web_root {
        Some(dir) => Some(dir.clone()),
        None if Path::new("web/dist").is_dir() => Some(PathBuf::from("web/dist")),
        None => None,
    };
    // Checked now; resolved per served video (QoE_lin's penalty is each video's top bitrate).
    neuralstream_core::QoeModel::from_name(&args.qoe).context("in --qoe")?;
    config.qoe = args.qoe.clone();
    config.session_idle = Duration::from_secs_f64(args.session_idle_s);
    config.max_sessions = args.max_sessions;
    if let Some(mib) = args.session_memory_mb {
        config.session_budget_bytes = mib.saturating_mul(1 << 20);
    }
    config.cors_origins = args.cors.clone();
    config.max_connections = args.max_connections;
    config.connection_idle = Duration::from_secs_f64(args.idle_timeout_s);
    // -- issue 22: the egress allocator (checked again by the server).
    if let Some(mbps) = args.egress_mbps {
        anyhow::ensure!(
            mbps.is_finite() && mbps > 0.0,
            "--egress-mbps must be Mbit/s > 0 (the capacity the allocator splits), got {mbps}"
        );
        neuralstream_alloc::create(&args.allocator).context("in --allocator")?;
    }
    config.egress_mbps = args.egress_mbps;
    config.allocator = args.allocator.clone();
    config.log_format = match args.log_format {
        LogFormatArg::Text => LogFormat::Text,
        LogFormatArg::Json => LogFormat::Json,
    };
    Ok(config)
}

/// Runs `neuralstream serve`.
pub fn run(args: ServeArgs) -> Result<()> {
    let mut config = config(&args)?;
    neuralstream_server::init_logging(config.log_format);
    let sink = args.telemetry.start(0)?;
    config.telemetry = sink.as_ref().map(|t| t.handle());
    neuralstream_server::run_blocking(config)?;
    crate::telemetry::finish(sink, "serve")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn config_of(flags: &[&str]) -> Result<ServerConfig> {
        let mut argv = vec!["serve", "--media", "m"];
        argv.extend_from_slice(flags);
        config(&Cli::try_parse_from(argv)?.serve)
    }

    #[test]
    fn cors_and_session_memory_flags_reach_the_config() {
        let c = config_of(&[
            "--cors",
            "https://a.example,https://b.example:8080",
            "--session-memory-mb",
            "64",
        ])
        .unwrap();
        assert_eq!(
            c.cors_origins,
            ["https://a.example", "https://b.example:8080"]
        );
        assert_eq!(c.session_budget_bytes, 64 << 20);
        // Defaults: the page's own origin only, a budget fitted to the machine.
        let c = config_of(&[]).unwrap();
        assert!(c.cors_origins.is_empty());
        assert!((64 << 20..=16 << 30).contains(&c.session_budget_bytes));
        let e = config_of(&["--session-memory-mb", "0"]).unwrap_err();
        assert!(e.to_string().contains("--session-memory-mb"), "{e}");
    }

    #[test]
    fn pensieve_compat_implies_plain_http_on_8333_unless_told_otherwise() {
        let c = config_of(&[]).unwrap();
        assert_eq!((c.port, c.pensieve.is_none()), (8443, true));
        assert!(matches!(c.tls, TlsMode::SelfSigned { .. }));
        let c = config_of(&["--pensieve-compat", "--pensieve-client", "client"]).unwrap();
        assert_eq!((c.port, &c.tls), (8333, &TlsMode::Insecure));
        assert_eq!(
            c.pensieve.unwrap().client_dir.as_deref(),
            Some(Path::new("client"))
        );
        let c = config_of(&["--pensieve-compat", "--port", "0"]).unwrap();
        assert_eq!(c.port, 0);
        assert_eq!(c.pensieve.unwrap().client_dir, None);
        // The client speaks plain HTTP only, and the folder means nothing without the mode.
        assert!(config_of(&["--pensieve-compat", "--tls-cert", "c", "--tls-key", "k"]).is_err());
        assert!(config_of(&["--pensieve-client", "client"]).is_err());
    }

    #[test]
    fn real_time_flags_reach_the_config_and_serve_needs_media_or_rt() {
        let argv = [
            "serve",
            "--rt-controllers",
            "gcc, fixed:800",
            "--rt-dataset",
            "d",
            "--rt-max-reports-per-s",
            "40",
        ];
        let c = config(&Cli::try_parse_from(argv).unwrap().serve).unwrap();
        assert_eq!(c.rt.controllers, ["gcc", "fixed:800"]);
        assert_eq!(c.rt.dataset_dir, Some(PathBuf::from("d")));
        assert_eq!(c.rt.limits.max_reports_per_s, 40.0);
        assert!(c.media_dirs.is_empty());
        let e = config(&Cli::try_parse_from(["serve"]).unwrap().serve).unwrap_err();
        assert!(e.to_string().contains("--rt-controllers"), "{e}");
        let e = config_of(&["--rt-controllers", "gcc", "--rt-idle-s", "0"]).unwrap_err();
        assert!(e.to_string().contains("--rt-idle-s"), "{e}");
    }
}
