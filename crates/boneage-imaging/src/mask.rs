//! [`Mask`]: a binary hand mask, and [`MaskScore`]: the automatic plausibility check that
//! positive mining uses to keep or reject a predicted mask (area, shape, fingers, contrast
//! across the outline, agreement with the previous round).

use crate::components::{fill_holes_smaller_than, label};
use crate::gray::GrayImage;
use crate::morphology::{dilate, erode};
use serde::Serialize;

/// A binary mask, row-major, `true` on the hand.
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// `width * height` values, row-major, true on the hand.
    pub data: Vec<bool>,
}

impl Mask {
    /// An empty mask (no hand) of this size.
    pub fn new(width: usize, height: usize) -> Mask {
        Mask {
            width,
            height,
            data: vec![false; width * height],
        }
    }

    /// Wraps row-major data; panics if the length does not match.
    pub fn from_vec(width: usize, height: usize, data: Vec<bool>) -> Mask {
        assert_eq!(data.len(), width * height, "Mask::from_vec: size mismatch");
        Mask {
            width,
            height,
            data,
        }
    }

    /// Pixels of `img` at or above `t` (a probability map at 0.5, a grey mask PNG at 0.5).
    pub fn threshold(img: &GrayImage, t: f32) -> Mask {
        Mask::from_vec(
            img.width,
            img.height,
            img.data.iter().map(|&v| v >= t).collect(),
        )
    }

    /// Pixels on the hand.
    pub fn area(&self) -> usize {
        self.data.iter().filter(|b| **b).count()
    }

    /// Share of the image on the hand.
    pub fn fraction(&self) -> f64 {
        self.area() as f64 / self.data.len().max(1) as f64
    }

    /// Intersection over union with a mask of the same size; 1 when both are empty.
    pub fn iou(&self, other: &Mask) -> f64 {
        assert_eq!(
            (self.width, self.height),
            (other.width, other.height),
            "Mask::iou: size mismatch"
        );
        let (mut inter, mut union) = (0usize, 0usize);
        for (a, b) in self.data.iter().zip(&other.data) {
            inter += (*a && *b) as usize;
            union += (*a || *b) as usize;
        }
        if union == 0 {
            1.0
        } else {
            inter as f64 / union as f64
        }
    }

    /// As a float image (1 on the hand).
    pub fn to_gray(&self) -> GrayImage {
        GrayImage::from_vec(
            self.width,
            self.height,
            self.data.iter().map(|&b| b as u8 as f32).collect(),
        )
    }

    /// 8-bit PNG samples: 255 on the hand, 0 elsewhere.
    pub fn to_u8(&self) -> Vec<u8> {
        self.data.iter().map(|&b| if b { 255 } else { 0 }).collect()
    }

    /// Resized to `width x height` with smooth edges: the mask as a float image is resampled
    /// (area average down, bilinear up) and thresholded at one half.
    pub fn resize(&self, width: usize, height: usize) -> Mask {
        if (width, height) == (self.width, self.height) {
            return self.clone();
        }
        Mask::threshold(&self.to_gray().resize(width, height), 0.5)
    }

    /// Resized to `width x height` by nearest neighbour: each output pixel takes the mask pixel
    /// its centre falls in. Cheap (one row is built, repeated rows are copied); for a mask made
    /// at a working resolution and needed at the film's size.
    pub fn resize_nearest(&self, width: usize, height: usize) -> Mask {
        if (width, height) == (self.width, self.height) {
            return self.clone();
        }
        let mut out = Mask::new(width, height);
        if self.width == 0 || self.height == 0 || width == 0 || height == 0 {
            return out;
        }
        let src = |o: usize, n_out: usize, n_in: usize| {
            (((o as f64 + 0.5) * n_in as f64 / n_out as f64) as usize).min(n_in - 1)
        };
        let xs: Vec<usize> = (0..width).map(|x| src(x, width, self.width)).collect();
        let mut last: Option<usize> = None;
        for y in 0..height {
            let sy = src(y, height, self.height);
            if last == Some(sy) {
                out.data.copy_within((y - 1) * width..y * width, y * width);
            } else {
                let row = &self.data[sy * self.width..(sy + 1) * self.width];
                for (o, &x) in out.data[y * width..(y + 1) * width].iter_mut().zip(&xs) {
                    *o = row[x];
                }
            }
            last = Some(sy);
        }
        out
    }

    /// Keeps the largest 8-connected component and fills holes smaller than `hole_fraction` of
    /// the image (a hand has no enclosed background; a gap between touching fingers can).
    pub fn cleaned(&self, hole_fraction: f64) -> Mask {
        let (w, h) = (self.width, self.height);
        let largest = crate::components::largest_component(&self.data, w, h);
        let max_hole = (hole_fraction * (w * h) as f64) as usize;
        Mask::from_vec(w, h, fill_holes_smaller_than(&largest, w, h, max_hole))
    }

    /// `img` with everything outside the mask set to `background`.
    pub fn apply(&self, img: &GrayImage, background: f32) -> GrayImage {
        assert_eq!((self.width, self.height), (img.width, img.height));
        GrayImage::from_vec(
            img.width,
            img.height,
            img.data
                .iter()
                .zip(&self.data)
                .map(|(&v, &m)| if m { v } else { background })
                .collect(),
        )
    }

    /// Pixels on the outline: in the mask with a 4-neighbour outside it (the image border
    /// counts as outside).
    pub fn outline(&self) -> Vec<bool> {
        let (w, h) = (self.width, self.height);
        let at = |x: usize, y: usize| self.data[y * w + x];
        let mut out = vec![false; w * h];
        for y in 0..h {
            for x in 0..w {
                out[y * w + x] = at(x, y)
                    && (x == 0
                        || y == 0
                        || x + 1 == w
                        || y + 1 == h
                        || !at(x - 1, y)
                        || !at(x + 1, y)
                        || !at(x, y - 1)
                        || !at(x, y + 1));
            }
        }
        out
    }
}

/// What the automatic check measures on a mask (all on a copy at most
/// [`MaskLimits::analysis_size`] pixels on its longer side).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MaskScore {
    /// Fraction of the image covered.
    pub area_fraction: f64,
    /// Connected components holding at least 1% of the mask (the hand alone: 1).
    pub components: usize,
    /// Mask area over its bounding-box area: a hand with spread fingers is well below 1, an
    /// exposure field or a blob near it.
    pub extent: f64,
    /// Fraction of the mask's rows (or columns, whichever is larger) that cross the mask at
    /// least twice: the fingers and the thumb (fingers held together still leave the thumb).
    pub finger_lines: f64,
    /// Mean brightness just inside the outline minus just outside, in units of the image's
    /// standard deviation, as an absolute value (inverted images have dark tissue): a mask on
    /// the skin edge sees tissue inside and air outside.
    pub edge_contrast: f64,
    /// Enclosed background over the mask's filled area: a hand has none (small gaps between
    /// touching fingers aside); an exposure field taken for the hand has the hand as a hole.
    pub holes: f64,
    /// Image sides along which the mask runs for more than 10% of the side: a hand leaves the
    /// image only through its forearm (one side); a mask that leaked into the background
    /// reaches more.
    pub border_sides: usize,
    /// IoU with the mask of the previous round (or the bootstrap), when there is one.
    pub agreement: Option<f64>,
}

/// Limits of a plausible hand mask, calibrated on the 900 real rsna-900 films (every flagged
/// mask and the borderline ones looked at; README "Segmentation, mirror check and registration
/// on real films"): correct hands cover 10–51% of a film, cross at most ~62% of their rows
/// twice (spread fingers), and keep an outline contrast of at least 0.13 SD even on dim films;
/// a forearm leaving through a corner touches two sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MaskLimits {
    /// Longest side of the copy the score is measured on, pixels.
    pub analysis_size: usize,
    /// Smallest plausible share of the image covered by the hand.
    pub min_area: f64,
    /// Largest plausible share.
    pub max_area: f64,
    /// Largest plausible mask area over bounding-box area (a hand with spread fingers is well below 1).
    pub max_extent: f64,
    /// Fewest rows (or columns) crossing the mask twice: fingers and thumb give some.
    pub min_finger_lines: f64,
    /// Above this the mask follows something besides the hand: the edge of an exposure field
    /// or a cassette frame taken in beside it (a strip along one side crosses every row).
    pub max_finger_lines: f64,
    /// Smallest outline contrast (image SDs) of a mask on the skin edge.
    pub min_edge_contrast: f64,
    /// Smallest IoU with the previous round's mask, when there is one.
    pub min_agreement: f64,
    /// Most image sides the mask may run along (a forearm through a corner touches two).
    pub max_border_sides: usize,
    /// Largest share of enclosed background in the mask's filled area.
    pub max_holes: f64,
}

impl Default for MaskLimits {
    fn default() -> Self {
        MaskLimits {
            analysis_size: 256,
            min_area: 0.10,
            max_area: 0.55,
            max_extent: 0.7,
            min_finger_lines: 0.1,
            max_finger_lines: 0.65,
            min_edge_contrast: 0.13,
            min_agreement: 0.9,
            max_border_sides: 2,
            max_holes: 0.05,
        }
    }
}

impl MaskScore {
    /// Scores `mask` on `img` (same size), optionally against a previous mask.
    pub fn compute(
        img: &GrayImage,
        mask: &Mask,
        previous: Option<&Mask>,
        limits: &MaskLimits,
    ) -> MaskScore {
        assert_eq!((img.width, img.height), (mask.width, mask.height));
        let agreement = previous.map(|p| {
            if (p.width, p.height) == (mask.width, mask.height) {
                mask.iou(p)
            } else {
                mask.iou(&p.resize(mask.width, mask.height))
            }
        });
        let (w, h) = img.fit_within(limits.analysis_size, limits.analysis_size);
        let (img, mask) = if w < img.width {
            (img.resize(w, h), mask.resize(w, h))
        } else {
            (img.clone(), mask.clone())
        };
        let (w, h) = (img.width, img.height);
        let area = mask.area();
        let (_, comps) = label(&mask.data, w, h);
        let components = comps.iter().filter(|c| c.area * 100 >= area.max(1)).count();
        let extent = comps.first().map_or(0.0, |c| {
            let bbox = (c.bbox[2] - c.bbox[0] + 1) * (c.bbox[3] - c.bbox[1] + 1);
            area as f64 / bbox as f64
        });
        MaskScore {
            area_fraction: area as f64 / (w * h) as f64,
            components,
            extent,
            finger_lines: finger_lines(&mask),
            edge_contrast: edge_contrast(&img, &mask),
            border_sides: border_sides(&mask),
            holes: {
                let filled = crate::components::fill_holes(&mask.data, w, h);
                let f = filled.iter().filter(|b| **b).count();
                (f - area) as f64 / f.max(1) as f64
            },
            agreement,
        }
    }

    /// Why the mask is implausible; empty when it passes.
    pub fn problems(&self, limits: &MaskLimits) -> Vec<String> {
        let mut p = Vec::new();
        if self.area_fraction < limits.min_area {
            p.push(format!("area {:.1}% too small", 100.0 * self.area_fraction));
        }
        if self.area_fraction > limits.max_area {
            p.push(format!("area {:.1}% too large", 100.0 * self.area_fraction));
        }
        if self.components != 1 {
            p.push(format!("{} pieces", self.components));
        }
        if self.extent > limits.max_extent {
            p.push(format!("fills {:.0}% of its box", 100.0 * self.extent));
        }
        if self.finger_lines < limits.min_finger_lines {
            p.push(format!("no fingers ({:.2})", self.finger_lines));
        }
        if self.finger_lines > limits.max_finger_lines {
            p.push(format!(
                "outline crossed too often ({:.2}: a field edge or frame in the mask)",
                self.finger_lines
            ));
        }
        if self.edge_contrast < limits.min_edge_contrast {
            p.push(format!("weak edge ({:.2})", self.edge_contrast));
        }
        if self.holes > limits.max_holes {
            p.push(format!("holes {:.0}%", 100.0 * self.holes));
        }
        if self.border_sides > limits.max_border_sides {
            p.push(format!("touches {} sides", self.border_sides));
        }
        if let Some(a) = self.agreement {
            if a < limits.min_agreement {
                p.push(format!("changed (IoU {a:.3})"));
            }
        }
        p
    }
}

/// Fraction of rows (or columns) of the mask's extent that cross it at least twice, with
/// runs and gaps of at least 1% of the image side counted.
fn finger_lines(mask: &Mask) -> f64 {
    let (w, h) = (mask.width, mask.height);
    let at = |x: usize, y: usize| mask.data[y * w + x];
    // Runs of the mask along a line, runs closer than `min_run` merged, shorter ones dropped.
    let count = |len: usize, get: &dyn Fn(usize) -> bool, min_run: usize| {
        let mut runs: Vec<(usize, usize)> = Vec::new();
        let mut start = None;
        for i in 0..=len {
            let v = i < len && get(i);
            match (v, start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    match runs.last_mut() {
                        Some(last) if s - last.1 < min_run => last.1 = i,
                        _ => runs.push((s, i)),
                    }
                    start = None;
                }
                _ => {}
            }
        }
        runs.iter().filter(|r| r.1 - r.0 >= min_run).count()
    };
    let min_run = (w.min(h) / 100).max(1);
    let mut rows = (0usize, 0usize);
    for y in 0..h {
        let n = count(w, &|x| at(x, y), min_run);
        rows.0 += (n > 0) as usize;
        rows.1 += (n >= 2) as usize;
    }
    let mut cols = (0usize, 0usize);
    for x in 0..w {
        let n = count(h, &|y| at(x, y), min_run);
        cols.0 += (n > 0) as usize;
        cols.1 += (n >= 2) as usize;
    }
    let frac = |c: (usize, usize)| {
        if c.0 == 0 {
            0.0
        } else {
            c.1 as f64 / c.0 as f64
        }
    };
    frac(rows).max(frac(cols))
}

/// Sides of the image along which the mask covers more than 10% of the side's pixels.
fn border_sides(mask: &Mask) -> usize {
    let (w, h) = (mask.width, mask.height);
    let at = |x: usize, y: usize| mask.data[y * w + x] as usize;
    let top: usize = (0..w).map(|x| at(x, 0)).sum();
    let bottom: usize = (0..w).map(|x| at(x, h - 1)).sum();
    let left: usize = (0..h).map(|y| at(0, y)).sum();
    let right: usize = (0..h).map(|y| at(w - 1, y)).sum();
    [(top, w), (bottom, w), (left, h), (right, h)]
        .iter()
        .filter(|(n, len)| *n * 10 > *len)
        .count()
}

/// Mean of `img` in a thin band inside the outline minus a thin band outside, over the image's
/// standard deviation. Bands are 2 pixels wide at the analysis size; pixels on the image border
/// are ignored (a forearm leaving the image has no outside).
fn edge_contrast(img: &GrayImage, mask: &Mask) -> f64 {
    let (w, h) = (img.width, img.height);
    let r = 2;
    let inner = erode(&mask.data, w, h, r);
    let outer = dilate(&mask.data, w, h, r);
    let (mut si, mut ni, mut so, mut no) = (0f64, 0usize, 0f64, 0usize);
    for y in r..h.saturating_sub(r) {
        for x in r..w.saturating_sub(r) {
            let i = y * w + x;
            let v = img.data[i] as f64;
            if mask.data[i] && !inner[i] {
                si += v;
                ni += 1;
            } else if !mask.data[i] && outer[i] {
                so += v;
                no += 1;
            }
        }
    }
    if ni == 0 || no == 0 {
        return 0.0;
    }
    let n = img.data.len() as f64;
    let mean = img.data.iter().map(|&v| v as f64).sum::<f64>() / n;
    let sd = (img
        .data
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt()
        .max(1e-6);
    ((si / ni as f64 - so / no as f64) / sd).abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A crude hand: palm block with four finger bars and a thumb, bright on dark.
    fn toy_hand(w: usize, h: usize) -> (GrayImage, Mask) {
        let mut m = Mask::new(w, h);
        for y in 0..h {
            for x in 0..w {
                // Palm, four fingers, and a thumb sticking out sideways: a hand's mask fills
                // about half of its bounding box.
                let palm = (w / 9..w * 7 / 9).contains(&x) && y >= h / 2 && y < h * 7 / 8;
                let finger = y >= h / 16 && y < h / 2 && (x * 9 / w) % 2 == 1 && x < w * 7 / 9;
                let thumb = (h / 2..h * 5 / 8).contains(&y) && x >= w * 7 / 9;
                m.data[y * w + x] = palm || finger || thumb;
            }
        }
        let img = GrayImage::from_vec(
            w,
            h,
            m.data.iter().map(|&b| if b { 0.6 } else { 0.1 }).collect(),
        );
        (img, m)
    }

    #[test]
    fn nearest_resize_keeps_the_hand_and_its_place() {
        let (_, hand) = toy_hand(90, 120);
        let big = hand.resize_nearest(300, 400);
        assert_eq!((big.width, big.height), (300, 400));
        // Every output pixel takes the source pixel its centre falls in.
        for &(x, y) in &[(0, 0), (299, 399), (150, 200), (17, 333), (260, 60)] {
            let (sx, sy) = (x * 90 / 300, y * 120 / 400);
            assert_eq!(big.data[y * 300 + x], hand.data[sy * 90 + sx], "({x}, {y})");
        }
        assert!((big.fraction() - hand.fraction()).abs() < 0.01);
        // Back down at the same size: the original.
        assert_eq!(big.resize_nearest(90, 120).data, hand.data);
        assert_eq!(hand.resize_nearest(90, 120).data, hand.data);
    }

    #[test]
    fn a_hand_passes_and_broken_masks_fail() {
        let limits = MaskLimits::default();
        let (img, hand) = toy_hand(200, 250);
        let s = MaskScore::compute(&img, &hand, Some(&hand), &limits);
        assert!(s.problems(&limits).is_empty(), "{s:?}");
        assert!(s.finger_lines > 0.2, "{s:?}");
        assert_eq!(s.agreement, Some(1.0));

        // The whole exposure field: fills its box, no fingers.
        let mut field = Mask::new(200, 250);
        for y in 20..230 {
            for x in 20..180 {
                field.data[y * 200 + x] = true;
            }
        }
        let p = MaskScore::compute(&img, &field, None, &limits).problems(&limits);
        assert!(p.iter().any(|s| s.contains("box")), "{p:?}");
        assert!(p.iter().any(|s| s.contains("fingers")), "{p:?}");

        // The same outline shifted: low agreement with the previous round.
        let mut shifted = Mask::new(200, 250);
        for y in 0..250 {
            for x in 12..200 {
                shifted.data[y * 200 + x] = hand.data[y * 200 + x - 12];
            }
        }
        let p = MaskScore::compute(&img, &shifted, Some(&hand), &limits).problems(&limits);
        assert!(p.iter().any(|s| s.contains("changed")), "{p:?}");
        // A hand-shaped mask on an image with nothing at its outline: weak edge.
        let mut flat = GrayImage::new(200, 250, 0.2);
        flat.data[0] = 0.9;
        let p = MaskScore::compute(&flat, &hand, None, &limits).problems(&limits);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("edge"), "{p:?}");

        // The hand with the exposure field's edge taken in beside it (a strip along one side,
        // joined to the palm as on real films): every row crosses the mask twice.
        let mut strip = hand.clone();
        for y in 5..235 {
            for x in 2..8 {
                strip.data[y * 200 + x] = true;
            }
        }
        for y in 200..205 {
            for x in 8..30 {
                strip.data[y * 200 + x] = true;
            }
        }
        let s = MaskScore::compute(&img, &strip, None, &limits);
        let p = s.problems(&limits);
        assert!(p.iter().any(|s| s.contains("field edge")), "{s:?} {p:?}");
    }

    #[test]
    fn resize_and_iou() {
        let (_, hand) = toy_hand(100, 120);
        let big = hand.resize(200, 240);
        assert!((big.fraction() - hand.fraction()).abs() < 0.02);
        assert!(big.resize(100, 120).iou(&hand) > 0.95);
        let cleaned = hand.cleaned(0.01);
        assert_eq!(cleaned, hand);
    }
}
