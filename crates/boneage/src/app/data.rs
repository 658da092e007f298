//! Finding a dataset from the command line: a label table, or a folder holding one.

use anyhow::{bail, Context};
use boneage_core::Dataset;
use std::path::{Path, PathBuf};

/// Label table names looked for inside a dataset folder, in order.
const TABLE_NAMES: &[&str] = &["labels.csv", "manifest.csv", "train.csv"];

/// Reads a dataset given as a table file or as a folder (`labels.csv` plus `images/`, as
/// `boneage phantom` writes and the RSNA layout allows), with every image resolved.
/// `images` overrides where images are searched.
pub fn open_dataset(data: &Path, images: Option<&Path>) -> anyhow::Result<Dataset> {
    let (table, default_images): (PathBuf, PathBuf) = if data.is_dir() {
        let table = TABLE_NAMES
            .iter()
            .map(|n| data.join(n))
            .find(|p| p.is_file())
            .with_context(|| {
                format!(
                    "{}: no label table in this folder (looked for {})",
                    data.display(),
                    TABLE_NAMES.join(", ")
                )
            })?;
        let img = data.join("images");
        (
            table,
            if img.is_dir() {
                img
            } else {
                data.to_path_buf()
            },
        )
    } else if data.is_file() {
        let dir = data.parent().unwrap_or(Path::new(".")).to_path_buf();
        let img = dir.join("images");
        (data.to_path_buf(), if img.is_dir() { img } else { dir })
    } else {
        bail!("{}: no such dataset file or folder", data.display());
    };
    let mut ds = Dataset::read(&table)?;
    ds.resolve_images(Some(images.unwrap_or(&default_images)))?;
    Ok(ds)
}
