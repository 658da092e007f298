//! A contact sheet of phantoms from birth to 19 years for both sexes, to look at beside real
//! radiographs: four rows (girls 0-9, girls 10-19, boys 0-9, boys 10-19 years of bone age),
//! each tile captioned with sex and age.

use crate::ages::Subject;
use crate::{font, generate_indexed, PhantomConfig, PhantomError};
use boneage_core::Sex;
use boneage_imaging::GrayImage;
use rayon::prelude::*;

/// Contact sheet settings. Defaults in parentheses.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactSheet {
    /// Tile width, pixels (default 200).
    pub tile_width: usize,
    /// Tile height, pixels (default 250).
    pub tile_height: usize,
    /// Neutral pose, typical build and a clean imaging chain (default false).
    pub clean: bool,
    /// Seed of the tiles (default 0).
    pub seed: u64,
}

impl Default for ContactSheet {
    fn default() -> Self {
        ContactSheet {
            tile_width: 200,
            tile_height: 250,
            clean: false,
            seed: 0,
        }
    }
}

/// Height of the caption strip above each tile.
const CAPTION: usize = 14;

/// Renders the sheet: 10 columns x 4 rows of tiles, 20 ages (0-19 years) per sex.
pub fn contact_sheet(opts: &ContactSheet) -> Result<GrayImage, PhantomError> {
    let (tw, th) = (opts.tile_width, opts.tile_height);
    let config = if opts.clean {
        PhantomConfig::clean(tw, th)
    } else {
        PhantomConfig::with_size(tw, th)
    };
    config.validate()?;
    let cells: Vec<(Sex, u32)> = [Sex::Female, Sex::Male]
        .into_iter()
        .flat_map(|s| (0..20u32).map(move |y| (s, y)))
        .collect();
    let tiles: Vec<GrayImage> = cells
        .par_iter()
        .enumerate()
        .map(|(i, &(sex, years))| {
            let months = (years * 12) as f64;
            let subject = Subject {
                bone_age_months: months,
                sex,
                chronological_age_months: months,
            };
            generate_indexed(opts.seed, i as u64, &subject, &config).map(|p| p.image)
        })
        .collect::<Result<_, _>>()?;
    let gap = 2;
    let cols = 10;
    let rows = 4;
    let sw = cols * (tw + gap) + gap;
    let sh = rows * (th + CAPTION + gap) + gap;
    let mut sheet = GrayImage::new(sw, sh, 0.15);
    for (i, (tile, &(sex, years))) in tiles.iter().zip(&cells).enumerate() {
        let col = i % cols;
        let row = i / cols;
        let x0 = gap + col * (tw + gap);
        let y0 = gap + row * (th + CAPTION + gap);
        let caption = format!("{} {}Y", if sex == Sex::Male { "M" } else { "F" }, years);
        font::draw_text(&caption, x0 as isize + 3, y0 as isize + 2, 1, sw, sh, |k| {
            sheet.data[k] = 1.0
        });
        for y in 0..th {
            for x in 0..tw {
                sheet.set(x0 + x, y0 + CAPTION + y, tile.get(x, y));
            }
        }
    }
    Ok(sheet)
}
