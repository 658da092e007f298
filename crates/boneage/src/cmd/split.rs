//! `boneage split`: one fixed, reproducible train / validation / test split of a labelled set.
//!
//! ```text
//! boneage split --data DATASET --out DIR [--fractions 0.8,0.1,0.1] [--names train,valid,test]
//!               [--seed 900]
//! ```
//!
//! Stratified by sex and 24-month bone-age band (`boneage_core::split`); the result depends only
//! on the ids, labels, fractions and seed. Writes one label table per part, `DIR/<name>.csv`
//! (`id,boneage,male`; the images stay where they are: `boneage register --data DIR/train.csv
//! --data-images IMAGES`), and `DIR/split.json` (source, seed, fractions, counts, mean age per
//! part). Every file is written atomically.

use anyhow::{bail, Context};
use boneage_core::dataset::rsna_table;
use boneage_core::split::stratified_split;
use boneage_core::Dataset;
use boneage_imaging::io::write_atomic;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct SplitArgs {
    /// The labelled set: a label table (any format `boneage eda` reads) or a folder with one.
    #[arg(long)]
    pub data: PathBuf,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Fractions of the parts, summing to 1.
    #[arg(long, value_delimiter = ',', default_value = "0.8,0.1,0.1")]
    pub fractions: Vec<f64>,
    /// Names of the parts (one per fraction).
    #[arg(long, value_delimiter = ',', default_value = "train,valid,test")]
    pub names: Vec<String>,
    /// Seed of the shuffle inside each stratum.
    #[arg(long, default_value_t = 900)]
    pub seed: u64,
}

pub fn run(args: SplitArgs) -> anyhow::Result<()> {
    if args.fractions.len() != args.names.len() {
        bail!(
            "--fractions has {} values but --names {}",
            args.fractions.len(),
            args.names.len()
        );
    }
    let total: f64 = args.fractions.iter().sum();
    if args.fractions.iter().any(|f| !f.is_finite() || *f < 0.0) || (total - 1.0).abs() > 1e-6 {
        bail!(
            "--fractions must be non-negative and sum to 1 (got {:?})",
            args.fractions
        );
    }
    for n in &args.names {
        if n.is_empty()
            || !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            bail!("--names: {n:?} is not a plain name (letters, digits, - and _)");
        }
    }
    let table = if args.data.is_dir() {
        ["labels.csv", "manifest.csv", "train.csv"]
            .iter()
            .map(|n| args.data.join(n))
            .find(|p| p.is_file())
            .with_context(|| format!("{}: no label table in this folder", args.data.display()))?
    } else {
        args.data.clone()
    };
    let ds = Dataset::read(&table)?;
    if ds.samples.is_empty() {
        bail!("{}: the table has no rows", table.display());
    }
    let parts = stratified_split(&ds.samples, &args.fractions, args.seed);
    let folder = crate::app::out::OutFolder::create(&args.out)?;
    let mut summary = serde_json::Map::new();
    for (name, idx) in args.names.iter().zip(&parts) {
        let samples: Vec<_> = idx.iter().map(|&i| &ds.samples[i]).collect();
        let p = args.out.join(format!("{name}.csv"));
        write_atomic(&p, rsna_table(samples.iter().copied()).as_bytes())
            .with_context(|| format!("{}: cannot write", p.display()))?;
        let mean =
            samples.iter().map(|s| s.bone_age_months).sum::<f64>() / samples.len().max(1) as f64;
        let boys = samples.iter().filter(|s| s.sex.is_male()).count();
        println!(
            "{name:>8}: {:>6} images, {:5.1}% boys, mean bone age {:6.1} months -> {}",
            samples.len(),
            100.0 * boys as f64 / samples.len().max(1) as f64,
            mean,
            p.display()
        );
        summary.insert(
            name.clone(),
            serde_json::json!({"n": samples.len(), "boys": boys, "mean_months": mean}),
        );
    }
    let json = serde_json::json!({
        "source": table.display().to_string(),
        "n": ds.samples.len(),
        "seed": args.seed,
        "fractions": args.fractions,
        "stratified_by": "sex x 24-month bone-age band",
        "parts": summary,
    });
    let p = args.out.join("split.json");
    write_atomic(&p, serde_json::to_string_pretty(&json)?.as_bytes())
        .with_context(|| format!("{}: cannot write", p.display()))?;
    folder.keep();
    Ok(())
}
