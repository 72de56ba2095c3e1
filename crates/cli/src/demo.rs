//! `neuralstream demo` (skeleton: being written).

use anyhow::Result;
use clap::Args;

/// Arguments of `neuralstream demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {}

/// Runs `neuralstream demo`.
pub fn run(_args: DemoArgs) -> Result<()> {
    anyhow::bail!("not yet implemented")
}
