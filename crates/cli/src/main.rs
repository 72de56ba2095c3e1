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

mod bench;
mod demo;
mod inputs;
mod package;
mod play;
mod serve;
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

#[derive(Debug, Subcommand)]
enum Command {
    /// Run ABR algorithms x traces in the simulator; print a table, write results and charts.
    Bench(Box<bench::BenchArgs>),
    /// Train a learned ABR policy (imitation of the offline optimum, then policy iteration);
    /// writes a checkpoint that `bench --abr learned:PATH` and `serve --abr learned:PATH` run.
    Train(Box<train::TrainArgs>),
    /// List the ABR algorithms `--abr` accepts.
    Algorithms,
    /// Write synthetic traces (Pensieve cooked format) to a folder.
    Traces(inputs::TracesArgs),
    /// Encode a video file into DASH and HLS ladders with FFmpeg, with per-segment size and quality.
    Package(Box<package::PackageArgs>),
    /// Make a deterministic synthetic source clip with FFmpeg's test generators.
    SampleVideo(Box<package::SampleVideoArgs>),
    /// Serve packaged media over HTTPS with an ABR decision API.
    Serve(Box<serve::ServeArgs>),
    /// Stream a DASH presentation headlessly, shaping downloads to follow a network trace.
    Play(Box<play::PlayArgs>),
    /// Package a synthetic clip (if needed), start the server with the web player, print the URL.
    Demo(Box<demo::DemoArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(args) => bench::run(*args),
        Command::Train(args) => train::run(*args),
        Command::Algorithms => {
            println!("{:<26} description", "name");
            for (name, about) in neuralstream_abr::ALGORITHMS {
                println!("{name:<26} {about}");
            }
            println!(
                "{:<26} offline optimum: dynamic program with perfect knowledge of the trace (upper bound)",
                neuralstream_eval::OPTIMUM
            );
            println!(
                "{:<26} a policy trained by `neuralstream train`, e.g. learned:out/train/policy.safetensors",
                "learned:PATH"
            );
            Ok(())
        }
        Command::Traces(args) => inputs::write_synthetic_traces(args),
        Command::Package(args) => package::run(*args),
        Command::SampleVideo(args) => package::run_sample(*args),
        Command::Serve(args) => serve::run(*args),
        Command::Play(args) => play::run(*args),
        Command::Demo(args) => demo::run(*args),
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
