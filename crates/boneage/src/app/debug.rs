//! What the pipeline saw, as pictures: `boneage predict --debug-images` and the demo.

use crate::sheet::{self, Canvas, Tile};
use anyhow::Context;
use boneage_imaging::io::write_png_gray8;
use boneage_imaging::registration::{warp_to_canonical, Region, CANONICAL_HEIGHT, CANONICAL_WIDTH};
use boneage_imaging::GrayImage;
use boneage_pipeline::saliency::{RegionSaliency, GRID};
use boneage_pipeline::Assessment;
use std::path::Path;

/// The file name without extension ("image" when there is none).
pub fn stem_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into())
}

/// What the pipeline saw, drawn: the overview sheet (radiograph with mask outline and
/// keypoints, registered hand with the regions, the regions as the nets see them; the
/// radiograph alone when no hand was found), the occlusion maps over the registered hand
/// (when given), and the registered hand itself.
pub struct Pictures {
    pub overview: Canvas,
    pub saliency: Option<Canvas>,
    pub registered: Option<GrayImage>,
}

/// Size of one tile of the sheets.
const TILE: usize = 320;

/// The pictures of one assessed radiograph (`path` names it in the caption).
pub fn pictures(
    path: &Path,
    img: &GrayImage,
    assessment: &Assessment,
    saliency: &[RegionSaliency],
) -> Pictures {
    let stem = stem_of(path);
    let caption = match assessment.bone_age_months() {
        Some(age) => format!("{stem}: {age:.1} months"),
        None => format!("{stem}: rejected"),
    };
    let size = TILE;
    let Some(a) = &assessment.analysis else {
        // Rejected before a hand was found: the radiograph alone.
        let mut t = Tile::of(img, size);
        t.caption = caption;
        return Pictures {
            overview: sheet::render(&[t], size, 1),
            saliency: None,
            registered: None,
        };
    };
    let (keypoints, to_canonical) = (a.keypoints(), a.to_canonical());
    let registered = warp_to_canonical(&a.hand, &to_canonical, 0.0);
    let mut first = Tile::of(img, size);
    first.outline = Some((
        a.mask.resize(first.thumb.width, first.thumb.height),
        sheet::GREEN,
    ));
    first.boxes = keypoints
        .iter()
        .map(|k| {
            let r = (img.width.max(img.height) / 80).max(2) as f64;
            let b = [k[0] - r, k[1] - r, k[0] + r, k[1] + r].map(|v| v.max(0.0) as usize);
            (b, sheet::YELLOW)
        })
        .collect();
    first.caption = caption;
    let mut reg = Tile::of(&registered, size);
    reg.source_size = (CANONICAL_WIDTH, CANONICAL_HEIGHT);
    reg.boxes = Region::ALL
        .iter()
        .zip([sheet::GREEN, sheet::RED, [60, 140, 255]])
        .map(|(r, c)| {
            let b = r.canonical_box();
            ([b[0], b[1], b[2] - 1.0, b[3] - 1.0].map(|v| v as usize), c)
        })
        .collect();
    reg.caption = "registered".into();
    let mut tiles = vec![first, reg];
    for (r, v) in &assessment.views {
        if let Some(v0) = v.first() {
            let mut t = Tile::of(v0, size);
            t.caption = format!("region {}", r.name());
            tiles.push(t);
        }
    }
    Pictures {
        overview: sheet::render(&tiles, size, tiles.len()),
        saliency: (!saliency.is_empty()).then(|| saliency_sheet(&registered, saliency, size)),
        registered: Some(registered),
    }
}

/// Into folder `d`: mask.png, hand.png, registered.png, region_<R>.png (first view),
/// overview.png and, with occlusion maps, saliency.png ([`pictures`]).
pub fn write_debug(
    d: &Path,
    path: &Path,
    img: &GrayImage,
    assessment: &Assessment,
    saliency: &[RegionSaliency],
) -> anyhow::Result<()> {
    let d = d.to_path_buf();
    std::fs::create_dir_all(&d).with_context(|| format!("{}: cannot create", d.display()))?;
    let pics = pictures(path, img, assessment, saliency);
    pics.overview.write_png(&d.join("overview.png"))?;
    if let Some(s) = &pics.saliency {
        s.write_png(&d.join("saliency.png"))?;
    }
    let (Some(a), Some(registered)) = (&assessment.analysis, &pics.registered) else {
        return Ok(());
    };
    let mask_img = GrayImage {
        width: a.mask.width,
        height: a.mask.height,
        data: a.mask.data.iter().map(|&m| m as u8 as f32).collect(),
    };
    write_png_gray8(&d.join("mask.png"), &mask_img)?;
    write_png_gray8(&d.join("hand.png"), &a.hand)?;
    write_png_gray8(&d.join("registered.png"), registered)?;
    for (r, v) in &assessment.views {
        if let Some(v0) = v.first() {
            write_png_gray8(&d.join(format!("region_{}.png", r.name())), v0)?;
        }
    }
    Ok(())
}

/// One panel per region: the registered hand with the region's occlusion map in orange over
/// its box (each panel scaled to its own largest move, which the caption gives in months).
fn saliency_sheet(registered: &GrayImage, maps: &[RegionSaliency], size: usize) -> Canvas {
    let tiles: Vec<Tile> = maps
        .iter()
        .map(|m| {
            let mut t = Tile::of(registered, size);
            let (tw, th) = (t.thumb.width, t.thumb.height);
            let [x0, y0, x1, y1] = m.region.canonical_box();
            let top = m.max_months().max(1e-9);
            let mut heat = GrayImage::new(tw, th, 0.0);
            for y in 0..th {
                for x in 0..tw {
                    let cx = (x as f64 + 0.5) * CANONICAL_WIDTH as f64 / tw as f64;
                    let cy = (y as f64 + 0.5) * CANONICAL_HEIGHT as f64 / th as f64;
                    if cx < x0 || cx >= x1 || cy < y0 || cy >= y1 {
                        continue;
                    }
                    let gx = (((cx - x0) / (x1 - x0)) * GRID as f64) as usize;
                    let gy = (((cy - y0) / (y1 - y0)) * GRID as f64) as usize;
                    let v = m.months.get(gx.min(GRID - 1), gy.min(GRID - 1)) as f64 / top;
                    heat.data[y * tw + x] = v as f32;
                }
            }
            t.heat = Some(heat);
            t.boxes = vec![(
                [x0, y0, x1 - 1.0, y1 - 1.0].map(|v| v.max(0.0) as usize),
                sheet::YELLOW,
            )];
            t.caption = format!(
                "region {}: {:.0} mo, up to {:.1} mo",
                m.region.name(),
                m.base_months,
                m.max_months()
            );
            t
        })
        .collect();
    sheet::render(&tiles, size, tiles.len())
}
