//! `boneage phantom` (being written).
use clap::Args;

#[derive(Args)]
pub struct PhantomArgs {}

pub fn run(_args: PhantomArgs) -> anyhow::Result<()> {
    anyhow::bail!("boneage phantom is not built yet")
}
