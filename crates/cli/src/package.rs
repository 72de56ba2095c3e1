//! `neuralstream package` and `neuralstream sample-video` (skeleton: being written).

use anyhow::Result;
use clap::Args;

/// Arguments of `neuralstream package`.
#[derive(Debug, Args)]
pub struct PackageArgs {}

/// Arguments of `neuralstream sample-video`.
#[derive(Debug, Args)]
pub struct SampleVideoArgs {}

/// Runs `neuralstream package`.
pub fn run(_args: PackageArgs) -> Result<()> {
    anyhow::bail!("not yet implemented")
}

/// Runs `neuralstream sample-video`.
pub fn run_sample(_args: SampleVideoArgs) -> Result<()> {
    anyhow::bail!("not yet implemented")
}
