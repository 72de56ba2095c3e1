//! `neuralstream serve` (skeleton: being written).

use anyhow::Result;
use clap::Args;

/// Arguments of `neuralstream serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {}

/// Runs `neuralstream serve`.
pub fn run(_args: ServeArgs) -> Result<()> {
    anyhow::bail!("not yet implemented")
}
