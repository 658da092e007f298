//! Which way round a registered hand is: a left hand seen palm down (thumb on the right of the
//! canonical frame), or a mirror image of one (a right hand, a film put in backwards, or a left
//! hand registered through a reflection by mistake).
//!
//! The keypoint net alone cannot tell: on a mirror image it puts its "thumb" on the little
//! finger, which fits the canonical frame about as well as a real, widely spread thumb does (on
//! real films the two readings' thumb fits overlap for about 4% of left hands). What differs is
//! the picture: the thumb's bones and the thenar mass on one side of the finger axis. A linear
//! score over a small, standardised thumbnail of region A (the whole hand in the canonical
//! frame) tells them apart; it is fitted by logistic regression ([`HandednessTemplate::fit`])
//! on registered left hands and on registered mirror images of left hands (`boneage register
//! --mirror-images`), each also flipped as an example of the other side.

use crate::registration::Region;
use crate::spatial::Affine;
use crate::GrayImage;
use serde::{Deserialize, Serialize};

/// Thumbnail size (width, height) the template reads.
pub const THUMB_SIZE: (usize, usize) = (24, 32);

/// The whole hand (region A's box of the canonical frame) as a small thumbnail, standardised
/// (mean 0, SD 1), from an image and its map into the canonical frame.
pub fn thumbnail(img: &GrayImage, source_to_canonical: &Affine) -> GrayImage {
    let (w, h) = THUMB_SIZE;
    let to_thumb = region_a_grid(w, h);
    let mut t =
        crate::registration::warp_scaled(img, &to_thumb.after(source_to_canonical), w, h, 0.0);
    let n = t.data.len() as f64;
    let mean = t.data.iter().map(|&v| v as f64).sum::<f64>() / n;
    let sd = (t
        .data
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    for v in &mut t.data {
        *v = ((*v as f64 - mean) / (sd + 1e-6)) as f32;
    }
    t
}

/// Canonical frame → a `w x h` grid over region A's box (pixel centres).
pub(crate) fn region_a_grid(w: usize, h: usize) -> Affine {
    let [x0, y0, x1, y1] = Region::A.canonical_box();
    let (sx, sy) = (w as f64 / (x1 - x0), h as f64 / (y1 - y0));
    Affine {
        m: [
            [sx, 0.0, (0.5 - x0) * sx - 0.5],
            [0.0, sy, (0.5 - y0) * sy - 0.5],
        ],
    }
}

fn flipped(t: &GrayImage) -> GrayImage {
    let mut f = t.clone();
    for row in f.data.chunks_mut(t.width.max(1)) {
        row.reverse();
    }
    f
}

/// The fitted template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandednessTemplate {
    /// Weights over the thumbnail, row-major, [`THUMB_SIZE`].
    pub weights: Vec<f32>,
    /// Added to the weighted sum: the score is `weights · thumbnail + bias`.
    pub bias: f64,
    /// A reading counts as a mirror image only when its score is below −threshold (and the
    /// other reading's above +threshold).
    pub threshold: f64,
    /// How it was fitted, in words.
    pub fitted_on: String,
}

impl HandednessTemplate {
    /// The log-odds that a registered hand is a left hand seen the right way round (positive)
    /// rather than a mirror image (negative); a thumbnail from [`thumbnail`].
    pub fn margin(&self, thumb: &GrayImage) -> f64 {
        self.bias
            + self
                .weights
                .iter()
                .zip(&thumb.data)
                .map(|(&w, &a)| w as f64 * a as f64)
                .sum::<f64>()
    }

    /// Logistic regression (L2 `lambda`, `iterations` of full-batch gradient descent): the
    /// thumbnails of registered left hands (label 1) and of registered mirror images (label 0),
    /// each also flipped left-right as an example of the other label.
    pub fn fit(
        left_hands: &[GrayImage],
        mirror_images: &[GrayImage],
        lambda: f64,
        iterations: usize,
    ) -> HandednessTemplate {
        let (w, h) = THUMB_SIZE;
        let n_feat = w * h;
        let mut xs: Vec<(Vec<f64>, f64)> = Vec::new();
        for (set, label) in [(left_hands, 1.0), (mirror_images, 0.0)] {
            for t in set {
                xs.push((t.data.iter().map(|&v| v as f64).collect(), label));
                xs.push((
                    flipped(t).data.iter().map(|&v| v as f64).collect(),
                    1.0 - label,
                ));
            }
        }
        let n = xs.len().max(1) as f64;
        // Step 1/L for the logistic loss: L <= mean |x|^2 / 4 (+1 for the bias) + lambda.
        let lip = xs
            .iter()
            .map(|(x, _)| x.iter().map(|v| v * v).sum::<f64>() + 1.0)
            .sum::<f64>()
            / n
            / 4.0
            + lambda;
        let step = 1.0 / lip.max(1e-9);
        let (mut wt, mut b) = (vec![0.0f64; n_feat], 0.0f64);
        for _ in 0..iterations {
            let (mut grad, mut gb) = (vec![0.0f64; n_feat], 0.0f64);
            for (x, y) in &xs {
                let z: f64 = b + x.iter().zip(&wt).map(|(a, c)| a * c).sum::<f64>();
                let g = 1.0 / (1.0 + (-z).exp()) - y;
                gb += g;
                for (gi, xi) in grad.iter_mut().zip(x) {
                    *gi += g * xi;
                }
            }
            for (wi, gi) in wt.iter_mut().zip(&grad) {
                *wi -= step * (gi / n + lambda * *wi);
            }
            b -= step * gb / n;
        }
        HandednessTemplate {
            weights: wt.iter().map(|&v| v as f32).collect(),
            bias: b,
            threshold: 0.0,
            fitted_on: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in "hand": a bright vertical bar (the fingers) and a blob to its right (the
    /// thumb), in the canonical frame.
    fn hand(thumb_right: bool, shift: f64) -> GrayImage {
        let mut img = GrayImage::new(160, 208, 0.0);
        for y in 0..208 {
            for x in 0..160 {
                let (xf, yf) = (x as f64 - shift, y as f64);
                let bar = (xf - 80.0).abs() < 20.0 && yf > 15.0 && yf < 180.0;
                let tx = if thumb_right { 135.0 } else { 25.0 };
                let thumb = ((xf - tx).powi(2) + (yf - 110.0).powi(2)).sqrt() < 14.0;
                if bar || thumb {
                    img.data[y * 160 + x] = 1.0;
                }
            }
        }
        img
    }

    #[test]
    fn template_tells_a_left_hand_from_its_mirror_image() {
        let to_canonical = Affine::scale(10.0, 10.0);
        let train: Vec<GrayImage> = (0..8)
            .map(|k| thumbnail(&hand(true, k as f64 - 4.0), &to_canonical))
            .collect();
        let mirrors: Vec<GrayImage> = (0..8)
            .map(|k| thumbnail(&hand(false, k as f64 - 3.0), &to_canonical))
            .collect();
        let t = HandednessTemplate::fit(&train, &mirrors, 1e-3, 200);
        let left = t.margin(&thumbnail(&hand(true, 2.5), &to_canonical));
        let right = t.margin(&thumbnail(&hand(false, -2.5), &to_canonical));
        assert!(left > 0.5, "left hand margin {left}");
        assert!(right < -0.5, "mirror image margin {right}");
    }
}
