//! `neuralstream play` (skeleton: being written).

use anyhow::Result;
use clap::Args;

/// Arguments of `neuralstream play`.
#[derive(Debug, Args)]
pub struct PlayArgs {}

/// Runs `neuralstream play`.
pub fn run(_args: PlayArgs) -> Result<()> {
    anyhow::bail!("not yet implemented")
}
