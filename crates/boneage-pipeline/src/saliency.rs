//! Explanation, on request: where in each region the nets look. **Occlusion sensitivity**
//! (Zeiler and Fergus): the region image is covered cell by cell (an 8x8 grid, each cell
//! painted with the region's mean grey) and every member net of the region reads each covered
//! copy; a cell's saliency is how far the region's ensemble estimate moves, in months, when
//! that cell is hidden. Model-agnostic (VGG regression, 240-bin classification and Inception
//! alike) and in the units a reader understands. The maps are in region pixels; each region's
//! box in the canonical frame places them over the registered hand.

use boneage_core::Sex;
use boneage_imaging::registration::Region;
use boneage_imaging::GrayImage;
use boneage_nn::bundle::Bundle;
use rayon::prelude::*;

/// Cells per side of the occlusion grid.
pub const GRID: usize = 8;

/// One region's occlusion map.
#[derive(Debug, Clone)]
pub struct RegionSaliency {
    /// The region.
    pub region: Region,
    /// `GRID x GRID` cells, row-major: months the region's estimate moves when the cell is
    /// hidden (members weighted as in the ensemble).
    pub months: GrayImage,
    /// The region's estimate with nothing hidden.
    pub base_months: f64,
}

impl RegionSaliency {
    /// The largest move of any cell (months).
    pub fn max_months(&self) -> f64 {
        self.months
            .data
            .iter()
            .fold(0.0f64, |m, &v| m.max(v as f64))
    }
}

/// The region image with cell `(cx, cy)` of the grid painted `fill`.
fn covered(img: &GrayImage, cx: usize, cy: usize, fill: f32) -> GrayImage {
    let mut out = img.clone();
    let (x0, x1) = (cx * img.width / GRID, (cx + 1) * img.width / GRID);
    let (y0, y1) = (cy * img.height / GRID, (cy + 1) * img.height / GRID);
    for y in y0..y1 {
        out.data[y * img.width + x0..y * img.width + x1].fill(fill);
    }
    out
}

/// Occlusion maps of every region the bundle reads, from the first (unmoved) view of each.
pub fn occlusion(
    bundle: &Bundle,
    views: &[(Region, Vec<GrayImage>)],
    sex: Sex,
) -> Vec<RegionSaliency> {
    let mut maps = Vec::new();
    for (region, imgs) in views {
        let Some(img) = imgs.first() else { continue };
        let mean = img.data.iter().map(|&v| v as f64).sum::<f64>() / img.data.len().max(1) as f64;
        let copies: Vec<GrayImage> = (0..GRID * GRID)
            .into_par_iter()
            .map(|k| covered(img, k % GRID, k / GRID, mean as f32))
            .collect();
        let (mut moved, mut base, mut weight) = (vec![0.0f64; GRID * GRID], 0.0f64, 0.0f64);
        let members: Vec<_> = bundle
            .manifest
            .members
            .iter()
            .zip(&bundle.members)
            .filter(|(m, _)| m.region == region.name())
            .collect();
        let all_zero = members.iter().all(|(m, _)| m.weight <= 0.0);
        for (m, run) in members {
            let w_m = if all_zero { 1.0 } else { m.weight.max(0.0) };
            if w_m == 0.0 {
                continue;
            }
            let (w, h) = (
                run.config.model.input_width as usize,
                run.config.model.input_height as usize,
            );
            let invert =
                run.config.data.fix_inverted && boneage_imaging::quality::looks_inverted(img);
            let input =
                |g: &GrayImage| boneage_nn::data::network_input_inverted(g.clone(), invert, w, h);
            let b = run.predict_inputs(&[input(img)], sex.is_male())[0];
            let inputs: Vec<GrayImage> = copies.par_iter().map(input).collect();
            let ages = run.predict_inputs(&inputs, sex.is_male());
            for (acc, a) in moved.iter_mut().zip(&ages) {
                *acc += w_m * (a - b).abs();
            }
            base += w_m * b;
            weight += w_m;
        }
        if weight > 0.0 {
            maps.push(RegionSaliency {
                region: *region,
                months: GrayImage::from_vec(
                    GRID,
                    GRID,
                    moved.iter().map(|v| (v / weight) as f32).collect(),
                ),
                base_months: base / weight,
            });
        }
    }
    maps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_covered_cell_is_painted_and_nothing_else() {
        let img = GrayImage::from_vec(16, 24, (0..16 * 24).map(|i| (i % 7) as f32 / 7.0).collect());
        let c = covered(&img, 1, 2, 0.5);
        for y in 0..24 {
            for x in 0..16 {
                let inside = (2..4).contains(&x) && (6..9).contains(&y);
                let v = c.data[y * 16 + x];
                if inside {
                    assert_eq!(v, 0.5);
                } else {
                    assert_eq!(v, img.data[y * 16 + x]);
                }
            }
        }
    }
}
