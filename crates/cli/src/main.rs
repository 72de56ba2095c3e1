//! # neuralstream (the command)
//!
//! A thin command-line layer over the NeuralStream crates: it parses flags, loads inputs through
//! `neuralstream-data`, and hands the work to the crate that owns it: `bench` to
//! `neuralstream-eval` and `neuralstream-report`, `train` to `neuralstream-learn`, `package` and
//! `sample-video` to `neuralstream-media`, `serve` and `demo` to `neuralstream-server`, `play` to
//! `neuralstream-player`; a learned policy is loaded through `neuralstream-policy`.
//!
//! **Key design decision:** no domain logic lives here. Every subcommand is a few calls into library
//! crates, and every error reaches the user through `anyhow` with the file, line or flag that caused
//! it; the process exits non-zero and never panics on input.

/// `println!` for the human-readable report on stdout, ignoring a closed or full stdout
/// (`neuralstream bench | head -1`, `> /dev/full`): the results are in the files the command writes,
/// and a closed pipe must not turn a finished run into a panic (exit 101).
macro_rules! say {
    () => {
        say!("")
    };
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod bench;
mod dataset;
mod demo;
// issue 22, item 3 (engineer `netns`): real TCP through emulated links.
mod emulate;
mod grid;
mod inputs;
mod package;
mod play;
mod progress;
mod report_cmd;
mod rt;
mod rt_client;
mod rt_quality;
mod serve;
mod serve_rt_train;
mod shared_link;
mod telemetry;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// NeuralStream: learned and classic adaptive-bitrate (ABR) video streaming, from simulation to a
/// real HTTPS server and players.
///
/// Start with `neuralstream bench`, which runs every classic algorithm and the offline optimum on
/// built-in synthetic traces and video, prints a table and writes results and charts to out/bench.
/// Point it at real data with --traces and --video (e.g. Pensieve's traces and video_size_* files).
/// `train` learns a policy; `package`, `serve`, `play` and `demo` take any algorithm to real video
/// (FFmpeg), an HTTPS server, a headless player and a web page.
#[derive(Debug, Parser)]
#[command(name = "neuralstream", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Examples printed at the end of each subcommand's --help (`after_help`).
const BENCH_EXAMPLES: &str = "Examples:
  neuralstream bench                       # built-in traces and video; results in out/bench
  neuralstream bench --traces ../shared/data/pensieve/sim/cooked_test_traces \\
      --video ../shared/data/pensieve/sim --abr robustmpc-pensieve,bola,optimum
  neuralstream bench --abr all --qoe hd --out out/hd
  neuralstream bench --abr learned:out/train/policy.safetensors,robustmpc,optimum";

const TRAIN_EXAMPLES: &str = "Examples:
  neuralstream train                       # built-in synthetic traces; policy in out/train
  neuralstream train --traces ../shared/data/pensieve/sim/cooked_traces \\
      --video ../shared/data/pensieve/sim --out out/train
  neuralstream train --resume out/train/last.safetensors --stages api --out out/more
  neuralstream train --algo ppo --seed 2 --out out/ppo
  neuralstream train --agnostic --out out/agnostic   # one policy for ladders of 2-16 levels
  neuralstream train --agnostic --agnostic-select grid --agnostic-teacher A.safetensors+B.safetensors \
      --agnostic-home-teacher out/train/policy.safetensors --out out/distilled";

const TRACES_EXAMPLES: &str = "Example:
  neuralstream traces --count 50 --seed 7 --out out/traces";

const PACKAGE_EXAMPLES: &str = "Examples:
  neuralstream package talk.mp4 --out media/talk
  neuralstream package talk.mp4 --ladder 360p@800k,720p@2.5M,1080p@5M --codec hevc --out media/talk-hevc
  neuralstream package --synthetic 60 --out media/synthetic";

const SAMPLEVIDEO_EXAMPLES: &str = "Example:
  neuralstream sample-video clip.mp4 --seconds 30 --height 1080";

const SERVE_EXAMPLES: &str = "Examples:
  neuralstream serve --media media --abr robustmpc,bola,learned:out/train/policy.safetensors
  neuralstream serve --media media --http --port 8080      # plain HTTP, e.g. behind a proxy";

const PLAY_EXAMPLES: &str = "Examples:
  neuralstream play https://127.0.0.1:8443/media/talk/manifest.mpd \\
      --trace ../shared/data/pensieve/sim/cooked_test_traces/norway_tram_27 \\
      --abr robustmpc --ca-cert out/serve/cert.pem
  neuralstream play URL --trace TRACES_DIR --server-decisions --clients 20 --speed 4 --ca-cert PEM";

const DEMO_EXAMPLES: &str = "Example:
  neuralstream demo                        # then open the printed URL";

#[derive(Debug, Subcommand)]
enum Command {
    /// Run ABR algorithms x traces in the simulator; print a table, write results and charts.
    #[command(after_help = BENCH_EXAMPLES)]
    Bench(Box<bench::BenchArgs>),
    /// Train a learned ABR policy (imitation of the offline optimum, then policy iteration);
    /// writes a checkpoint that `bench --abr learned:PATH` and `serve --abr learned:PATH` run.
    #[command(after_help = TRAIN_EXAMPLES)]
    Train(Box<train::TrainArgs>),
    /// List the ABR algorithms `--abr` accepts.
    Algorithms,
    /// Write synthetic traces (Pensieve cooked format) to a folder.
    #[command(after_help = TRACES_EXAMPLES)]
    Traces(inputs::TracesArgs),
    /// Encode a video file into DASH and HLS ladders with FFmpeg, with per-segment size and quality.
    #[command(after_help = PACKAGE_EXAMPLES)]
    Package(Box<package::PackageArgs>),
    /// Make a deterministic synthetic source clip with FFmpeg's test generators.
    #[command(after_help = SAMPLEVIDEO_EXAMPLES)]
    SampleVideo(Box<package::SampleVideoArgs>),
    /// Serve packaged media over HTTPS with an ABR decision API.
    #[command(after_help = SERVE_EXAMPLES)]
    Serve(Box<serve::ServeArgs>),
    /// Stream a DASH presentation headlessly, shaping downloads to follow a network trace.
    #[command(after_help = PLAY_EXAMPLES)]
    Play(Box<play::PlayArgs>),
    /// Real-time mode (live video, cloud gaming): frame-level simulator and rate controllers.
    Rt(Box<rt::RtArgs>),
    /// Package a synthetic clip (if needed), start the server with the web player, print the URL.
    #[command(after_help = DEMO_EXAMPLES)]
    Demo(Box<demo::DemoArgs>),
    /// Telemetry: move a Kafka topic into Parquet files (`consume`), read a telemetry folder (`show`).
    Telemetry(Box<telemetry::TelemetryArgs>),
    /// Telemetry into training data (`build`: windows, traces) and throughput predictors compared
    /// on held-out sessions (`eval-predictors`: harmonic mean, EWMA, random forest).
    Dataset(Box<dataset::DatasetArgs>),
    /// Evaluation report from telemetry or bench results: quality, startup and decision latency,
    /// buffering ratio, stalls per hour, QoE and a satisfaction estimate, per session, algorithm
    /// and network class (Markdown, CSV, JSON, charts).
    #[command(after_help = REPORT_EXAMPLES)]
    Report(Box<report_cmd::ReportArgs>),
    // -- issue 22, item 3 (engineer `netns`).
    /// Real TCP through emulated links (root): `serve` and players in network namespaces, each
    /// link shaped by tc from a trace; `--cleanup` removes a killed run's leftovers.
    #[command(after_help = EMULATE_EXAMPLES)]
    Emulate(Box<emulate::EmulateArgs>),
}

const REPORT_EXAMPLES: &str = "Examples:
  neuralstream bench --telemetry out/telemetry && neuralstream report --telemetry out/telemetry
  neuralstream report --results out/bench --out out/bench-report
  neuralstream report --telemetry out/telemetry --video media/talk --classes-kbps 1500,3000,6000";

const EMULATE_EXAMPLES: &str = "Examples:
  neuralstream emulate --media media/pensieve --trace TRACE --abr robustmpc,bba,bola-e --speed 4
  neuralstream emulate --media media/clip --trace TRACE --client chromium --abr robustmpc
  neuralstream emulate --media media/pensieve --trace TRACE --players 20 --egress-mbps 20
  neuralstream emulate --cleanup";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(args) => bench::run(*args),
        Command::Train(args) => train::run(*args),
        Command::Algorithms => {
            say!("{:<26} description", "name");
            for (name, about) in neuralstream_abr::ALGORITHMS {
                say!("{name:<26} {about}");
            }
            say!(
                "{:<26} offline optimum: dynamic program with perfect knowledge of the trace (upper bound)",
                neuralstream_eval::OPTIMUM
            );
            say!(
                "{:<26} a policy trained by `neuralstream train`, e.g. learned:out/train/policy.safetensors",
                "learned:PATH"
            );
            say!(
                "{:<26} MPC over a random forest's throughput distribution (Fugu-like), e.g. mpc-rf:out/predictors/rf.json",
                "mpc-rf:MODEL"
            );
            Ok(())
        }
        Command::Traces(args) => inputs::write_synthetic_traces(args),
        Command::Package(args) => package::run(*args),
        Command::SampleVideo(args) => package::run_sample(*args),
        Command::Serve(args) => serve::run(*args),
        Command::Play(args) => play::run(*args),
        Command::Demo(args) => demo::run(*args),
        Command::Rt(args) => rt::run(*args),
        Command::Telemetry(args) => telemetry::run(*args),
        Command::Dataset(args) => dataset::run(*args),
        Command::Report(args) => report_cmd::run(*args),
        Command::Emulate(args) => emulate::run(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, outermost first. Library errors often quote their cause in
/// their own message as well as exposing it as the source; a cause already quoted is not repeated.
fn describe(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn causes_already_quoted_are_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        #[derive(Debug, thiserror::Error)]
        #[error("f.txt: I/O error: {source}")]
        struct Quoting {
            source: std::io::Error,
        }
        let e = anyhow::Error::new(Quoting { source: io }).context("in --traces f.txt");
        assert_eq!(
            describe(&e),
            "in --traces f.txt: f.txt: I/O error: No such file"
        );
    }
}
