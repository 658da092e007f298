//! `boneage inspect IMAGE...`: reads each radiograph and prints one JSON object per image with
//! its size, bit depth, photometric interpretation, header fields and quality measurements.

use anyhow::Context;
use boneage_imaging::quality::{assess, QualityConfig};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct InspectArgs {
    /// Radiographs (PNG, JPEG or DICOM).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
}

pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let cfg = QualityConfig::default();
    for path in &args.images {
        let r = boneage_imaging::read_radiograph(path)
            .with_context(|| format!("cannot inspect {}", path.display()))?;
        let q = assess(&r.image, &cfg);
        let obj = serde_json::json!({
            "path": path,
            "width": r.image.width,
            "height": r.image.height,
            "meta": r.meta,
            "quality": q,
        });
        println!("{}", serde_json::to_string(&obj)?);
    }
    Ok(())
}
