//! What a command works on: images and folders named on the command line, a dataset's images,
//! and mask files.

use anyhow::{bail, Context};
use boneage_imaging::io::write_atomic;
use boneage_imaging::{read_radiograph, Mask};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// An image to work on: its id (file stem or dataset id) and path.
#[derive(Debug, Clone)]
pub struct Input {
    pub id: String,
    pub path: PathBuf,
}

const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "dcm", "dicom"];

/// Images named on the command line (files, or folders searched one level deep for PNG, JPEG
/// and DICOM files) and the images of a dataset, with unique ids.
pub fn collect_inputs(
    paths: &[PathBuf],
    data: Option<&Path>,
    images: Option<&Path>,
) -> anyhow::Result<Vec<Input>> {
    let mut out = Vec::new();
    if let Some(d) = data {
        let ds = crate::app::data::open_dataset(d, images)?;
        for s in ds.samples {
            let path = s
                .image
                .with_context(|| format!("{}: no image found for {}", d.display(), s.id))?;
            out.push(Input { id: s.id, path });
        }
    }
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("{}: cannot list", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.is_file()
                        && f.extension().is_some_and(|e| {
                            IMAGE_EXTENSIONS.contains(&e.to_string_lossy().to_lowercase().as_str())
                        })
                })
                .collect();
            files.sort();
            if files.is_empty() {
                bail!(
                    "{}: no PNG, JPEG or DICOM files in this folder",
                    p.display()
                );
            }
            out.extend(files.into_iter().map(|f| Input {
                id: stem(&f),
                path: f,
            }));
        } else if p.is_file() {
            out.push(Input {
                id: stem(p),
                path: p.clone(),
            });
        } else {
            bail!("{}: no such file or folder", p.display());
        }
    }
    let mut seen: BTreeMap<&str, &Path> = BTreeMap::new();
    for i in &out {
        if let Some(prev) = seen.insert(&i.id, &i.path) {
            bail!(
                "two images with the id {}: {} and {} (ids are file names without extension)",
                i.id,
                prev.display(),
                i.path.display()
            );
        }
    }
    Ok(out)
}

pub fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// Reads a mask PNG (any grey or colour depth; hand where the value is at least one half).
pub fn read_mask(path: &Path) -> anyhow::Result<Mask> {
    // The reader's error already names the file and the cause.
    let r = read_radiograph(path).map_err(|e| anyhow::anyhow!("cannot read mask: {e}"))?;
    Ok(Mask::threshold(&r.image, 0.5))
}

/// Writes a mask as an 8-bit PNG (hand = 255), atomically.
pub fn write_mask(path: &Path, mask: &Mask) -> anyhow::Result<()> {
    let bytes = boneage_imaging::io::encode_png_gray8(mask.width, mask.height, &mask.to_u8());
    write_atomic(path, &bytes).with_context(|| format!("{}: cannot write", path.display()))
}

/// The registered whole-hand images (`registered/<id>.png`, canonical frame) of the hands that
/// `boneage register` registered without a reflection (`mirrored: false`) into each folder,
/// sorted; a folder with none is an error.
pub fn registered_hands(dirs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut registered = Vec::new();
    for dir in dirs {
        let mut n = 0;
        for e in
            std::fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))?
        {
            let p = e?.path();
            if p.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(&p)
                    .with_context(|| format!("{}: cannot read", p.display()))?,
            )
            .with_context(|| format!("{}: not a registration record", p.display()))?;
            let Some(id) = v["id"].as_str() else {
                bail!("{}: not a registration record (no id)", p.display());
            };
            if v["mirrored"].as_bool() == Some(false) {
                registered.push(dir.join("registered").join(format!("{id}.png")));
                n += 1;
            }
        }
        if n == 0 {
            bail!(
                "{}: no hands registered without a reflection here",
                dir.display()
            );
        }
    }
    registered.sort();
    Ok(registered)
}
