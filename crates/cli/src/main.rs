//! # neuralstream (the command)
//!
//! A thin command-line layer over the NeuralStream crates: it parses flags, loads inputs through
//! `neuralstream-data`, runs `neuralstream-eval`, and hands results to `neuralstream-report`.
//!
//! **Key design decision:** no domain logic lives here. Every subcommand is a few calls into library
//! crates, and every error reaches the user through `anyhow` with the file, line or flag that caused
//! it; the process exits non-zero and never panics on input.

mod bench;
mod inputs;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// NeuralStream: trace-driven simulation and benchmarking of adaptive-bitrate (ABR) video streaming.
///
/// Start with `neuralstream bench`, which runs every classic algorithm and the offline optimum on
/// built-in synthetic traces and video, prints a table and writes results and charts to out/bench.
/// Point it at real data with --traces and --video (e.g. Pensieve's traces and video_size_* files).
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
    /// List the ABR algorithms `--abr` accepts.
    Algorithms,
    /// Write synthetic traces (Pensieve cooked format) to a folder.
    Traces(inputs::TracesArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(args) => bench::run(*args),
        Command::Algorithms => {
            println!("{:<26} description", "name");
            for (name, about) in neuralstream_abr::ALGORITHMS {
                println!("{name:<26} {about}");
            }
            println!(
                "{:<26} offline optimum: dynamic program with perfect knowledge of the trace (upper bound)",
                neuralstream_eval::OPTIMUM
            );
            Ok(())
        }
        Command::Traces(args) => inputs::write_synthetic_traces(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
