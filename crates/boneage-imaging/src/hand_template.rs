//! Does a registered picture look like a hand? The quality gate's template of a typical left
//! hand in the canonical frame: where the hand mask lies (its outline: five fingers, palm,
//! wrist) and how the registered hand looks (a standardised thumbnail, bones bright in soft
//! tissue). A real hand registered by its keypoints lands on both; a photo, a page of text, a
//! chest film or a forearm without its hand, registered by whatever the keypoint net found,
//! does not.
//!
//! Two scores, each in [−1, 1]-ish and high for a hand:
//! - **shape**: intersection over union of the registered mask's occupancy ([`occupancy`],
//!   48x64 over region A's box, a cell counts when over half of it is hand) with the
//!   template's (cells that are hand in over half of the fitting hands);
//! - **look**: correlation of the standardised thumbnail ([`crate::handedness::thumbnail`])
//!   with the template's mean thumbnail.
//!
//! [`HandTemplate::fit`] takes both means over registered real hands and sets each score's
//! lower limit at a low quantile of the fitting hands' own scores; the fitted template
//! is shipped in `data/hand_template.json`.

use crate::handedness::{region_a_grid, thumbnail, THUMB_SIZE};
use crate::registration::warp_scaled;
use crate::spatial::Affine;
use crate::GrayImage;
use serde::{Deserialize, Serialize};

/// Size (width, height) of the occupancy grid over region A's box.
pub const OCCUPANCY_SIZE: (usize, usize) = (48, 64);

const SHIPPED: &str = include_str!("../../../data/hand_template.json");

/// The share of every cell of a 48x64 grid over region A's box (the whole hand in the canonical
/// frame) that is hand: pixels of `hand` above 0 (the enhanced hand image is black outside its
/// mask), mapped by `source_to_canonical`.
pub fn occupancy(hand: &GrayImage, source_to_canonical: &Affine) -> GrayImage {
    let inside = GrayImage::from_vec(
        hand.width,
        hand.height,
        hand.data
            .iter()
            .map(|&v| if v > 0.0 { 1.0 } else { 0.0 })
            .collect(),
    );
    let (w, h) = OCCUPANCY_SIZE;
    warp_scaled(
        &inside,
        &region_a_grid(w, h).after(source_to_canonical),
        w,
        h,
        0.0,
    )
}

/// The typical registered hand and the limits of the two scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandTemplate {
    /// Mean occupancy of the fitting hands, row-major, [`OCCUPANCY_SIZE`].
    pub occupancy: Vec<f32>,
    /// Mean standardised thumbnail of the fitting hands, row-major, [`THUMB_SIZE`].
    pub thumbnail: Vec<f32>,
    /// A shape score below this is unlike a hand.
    pub shape_min: f64,
    /// A look score below this is unlike a hand.
    pub look_min: f64,
    /// How it was fitted, in words.
    pub fitted_on: String,
}

/// Size (width, height) of the grid over region A's box on which [`fine_detail`] is measured:
/// a quarter of the canonical scale, whatever the film's own size.
pub const DETAIL_SIZE: (usize, usize) = (400, 520);

/// How much fine detail the registered hand holds: inside the hand (its edge left out), the
/// energy of the finest band (Gaussian blurs of 0.5 against 2 pixels on the [`DETAIL_SIZE`]
/// grid) over that of the next band (2 against 8 pixels). Bone edges and trabeculae keep it
/// above about 0.04 on real films; a blurred film (a moved hand, a soft detector, a film
/// enlarged from a thumbnail) has little of the first band left, whatever its contrast. 0 when
/// no hand is left inside.
pub fn fine_detail(hand: &GrayImage, source_to_canonical: &Affine) -> f64 {
    let (w, h) = DETAIL_SIZE;
    let grid = warp_scaled(
        hand,
        &region_a_grid(w, h).after(source_to_canonical),
        w,
        h,
        0.0,
    );
    let inside: Vec<bool> = grid.data.iter().map(|&v| v > 0.02).collect();
    let inside = crate::morphology::erode(&inside, w, h, 7);
    let (a, b) = (grid.gaussian_blur(0.5), grid.gaussian_blur(2.0));
    let c = b.gaussian_blur((8.0f32 * 8.0 - 2.0 * 2.0).sqrt());
    let (mut fine, mut next, mut n) = (0.0f64, 0.0f64, 0usize);
    for i in (0..w * h).filter(|&i| inside[i]) {
        fine += ((a.data[i] - b.data[i]) as f64).powi(2);
        next += ((b.data[i] - c.data[i]) as f64).powi(2);
        n += 1;
    }
    if n == 0 || next <= 0.0 {
        0.0
    } else {
        fine / next
    }
}

/// A registered picture's two scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HandScores {
    /// Outline against the typical hand's (IoU, 0–1).
    pub shape: f64,
    /// Picture against the typical hand's (correlation).
    pub look: f64,
}

impl HandTemplate {
    /// The template shipped with the project (fitted on the registered real training films).
    pub fn shipped() -> HandTemplate {
        serde_json::from_str(SHIPPED).expect("the shipped hand template is well formed")
    }

    /// Shape score of an occupancy grid ([`occupancy`]).
    pub fn shape(&self, occupancy: &GrayImage) -> f64 {
        let (mut both, mut either) = (0usize, 0usize);
        for (&a, &b) in occupancy.data.iter().zip(&self.occupancy) {
            let (a, b) = (a > 0.5, b > 0.5);
            both += (a && b) as usize;
            either += (a || b) as usize;
        }
        both as f64 / either.max(1) as f64
    }

    /// Look score of a standardised thumbnail ([`thumbnail`]).
    pub fn look(&self, thumb: &GrayImage) -> f64 {
        let n = self.thumbnail.len().max(1) as f64;
        let mean = self.thumbnail.iter().map(|&v| v as f64).sum::<f64>() / n;
        let sd = (self
            .thumbnail
            .iter()
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        let dot = thumb
            .data
            .iter()
            .zip(&self.thumbnail)
            .map(|(&a, &b)| a as f64 * (b as f64 - mean))
            .sum::<f64>();
        dot / n / (sd + 1e-9)
    }

    /// Both scores of an enhanced hand image and its map into the canonical frame.
    pub fn scores(&self, hand: &GrayImage, source_to_canonical: &Affine) -> HandScores {
        HandScores {
            shape: self.shape(&occupancy(hand, source_to_canonical)),
            look: self.look(&thumbnail(hand, source_to_canonical)),
        }
    }

    /// The template of registered hands (each given as its occupancy grid and thumbnail): the
    /// means, and each score's limit at quantile `q` of the hands' own scores (e.g. 0.005: one
    /// fitting hand in 200 falls below). `None` without hands.
    pub fn fit(hands: &[(GrayImage, GrayImage)], q: f64) -> Option<HandTemplate> {
        let n = hands.len();
        if n == 0 {
            return None;
        }
        let mean_of = |len: usize, pick: &dyn Fn(&(GrayImage, GrayImage)) -> &GrayImage| {
            let mut m = vec![0.0f64; len];
            for h in hands {
                for (a, &v) in m.iter_mut().zip(&pick(h).data) {
                    *a += v as f64 / n as f64;
                }
            }
            m.into_iter().map(|v| v as f32).collect::<Vec<f32>>()
        };
        let (ow, oh) = OCCUPANCY_SIZE;
        let (tw, th) = THUMB_SIZE;
        let mut t = HandTemplate {
            occupancy: mean_of(ow * oh, &|h| &h.0),
            thumbnail: mean_of(tw * th, &|h| &h.1),
            shape_min: 0.0,
            look_min: 0.0,
            fitted_on: String::new(),
        };
        let quantile = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[((v.len() - 1) as f64 * q.clamp(0.0, 1.0)).floor() as usize]
        };
        t.shape_min = quantile(hands.iter().map(|h| t.shape(&h.0)).collect());
        t.look_min = quantile(hands.iter().map(|h| t.look(&h.1)).collect());
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in hand in the canonical frame: a palm and four fingers, scaled by `s`.
    fn hand(shift: f64) -> GrayImage {
        let (w, h) = (1600usize, 2080usize);
        let mut img = GrayImage::new(w / 8, h / 8, 0.0);
        for y in 0..h / 8 {
            for x in 0..w / 8 {
                let (xf, yf) = (x as f64 * 8.0 - shift, y as f64 * 8.0);
                let palm = (500.0..1150.0).contains(&xf) && (900.0..1700.0).contains(&yf);
                let finger = (0..4).any(|k| {
                    let cx = 560.0 + k as f64 * 170.0;
                    (xf - cx).abs() < 60.0 && (200.0..900.0).contains(&yf)
                });
                if palm || finger {
                    img.data[y * (w / 8) + x] = if (xf as i64 / 40) % 2 == 0 { 0.8 } else { 0.5 };
                }
            }
        }
        img
    }

    #[test]
    fn fine_detail_falls_with_blur_and_not_with_contrast() {
        // A film of 800x1040 (half the canonical scale): a hand-sized block of fine texture
        // and bone-like bars.
        let (w, h) = (800usize, 1040usize);
        let mut state = 12345u32;
        let mut film = GrayImage::new(w, h, 0.0);
        for y in 100..1000 {
            for x in 150..650 {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let grain = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                let bar = if (x / 25) % 3 == 0 { 0.2 } else { 0.0 };
                film.data[y * w + x] = 0.5 + bar + 0.05 * grain;
            }
        }
        let to_canonical = Affine::scale(2.0, 2.0);
        let sharp = fine_detail(&film, &to_canonical);
        let mut soft = film.gaussian_blur(5.0);
        // The blur spreads the hand onto the background: cut it back to the same outline.
        for (v, &o) in soft.data.iter_mut().zip(&film.data) {
            if o == 0.0 {
                *v = 0.0;
            }
        }
        let blurred = fine_detail(&soft, &to_canonical);
        let mut dim = film.clone();
        dim.data.iter_mut().for_each(|v| *v *= 0.5);
        let dimmer = fine_detail(&dim, &to_canonical);
        assert!(sharp > 0.05, "sharp {sharp}");
        assert!(blurred < sharp / 10.0, "blurred {blurred} against {sharp}");
        assert!(
            (dimmer - sharp).abs() < 0.05 * sharp,
            "{dimmer} against {sharp}"
        );
        assert_eq!(fine_detail(&GrayImage::new(w, h, 0.0), &to_canonical), 0.0);
    }

    #[test]
    fn a_hand_scores_high_and_a_blob_or_nothing_low() {
        let to_canonical = Affine::scale(8.0, 8.0);
        let hands: Vec<_> = (0..6)
            .map(|k| {
                let h = hand(k as f64 * 10.0 - 30.0);
                (occupancy(&h, &to_canonical), thumbnail(&h, &to_canonical))
            })
            .collect();
        let t = HandTemplate::fit(&hands, 0.0).unwrap();
        assert!(
            t.shape_min > 0.7 && t.look_min > 0.5,
            "{} {}",
            t.shape_min,
            t.look_min
        );
        let s = t.scores(&hand(15.0), &to_canonical);
        assert!(s.shape >= t.shape_min - 0.05 && s.look > 0.5, "{s:?}");
        // A round blob where the palm is: no fingers.
        let mut blob = GrayImage::new(200, 260, 0.0);
        for y in 0..260 {
            for x in 0..200 {
                if ((x as f64 - 100.0).powi(2) + (y as f64 - 150.0).powi(2)).sqrt() < 70.0 {
                    blob.data[y * 200 + x] = 0.7;
                }
            }
        }
        let b = t.scores(&blob, &to_canonical);
        assert!(b.shape < t.shape_min - 0.2, "{b:?} vs {}", t.shape_min);
        let empty = t.scores(&GrayImage::new(200, 260, 0.0), &to_canonical);
        assert_eq!(empty.shape, 0.0);
        assert!(HandTemplate::fit(&[], 0.01).is_none());
    }

    #[test]
    fn the_shipped_template_reads() {
        let t = HandTemplate::shipped();
        assert_eq!(t.occupancy.len(), OCCUPANCY_SIZE.0 * OCCUPANCY_SIZE.1);
        assert_eq!(t.thumbnail.len(), THUMB_SIZE.0 * THUMB_SIZE.1);
        assert!(t.shape_min > 0.3 && t.shape_min < 0.8, "{}", t.shape_min);
        assert!(!t.fitted_on.is_empty());
    }
}
