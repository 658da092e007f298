//! Training pairs: the hand cut to its bounding box and letterboxed into the net's input,
//! its keypoints moved with it, and their augmentation.

use super::*;
use rand::{Rng, SeedableRng};

/// A training pair at the net's input size: the hand image (values in [0, 1], not yet
/// standardised) and its keypoints in input pixels.
#[derive(Debug, Clone)]
pub struct KeypointPair {
    /// Image id.
    pub id: String,
    /// The hand image, letterboxed to the net's input.
    pub image: GrayImage,
    /// Middle finger tip, thumb tip, capitate, input pixels.
    pub points: Keypoints,
    /// The same hand in a tight frame ([`tight_frame`]), letterboxed the same way, with its
    /// points; made when the config's `augment.tight_frame` is above 0.
    pub framed: Option<(GrayImage, Keypoints)>,
}

impl KeypointPair {
    /// Cuts the hand out of a hand image (segmented, equalised; any size), shrinks it into the
    /// input and moves its keypoints (source pixels) with it.
    pub fn new(id: &str, hand: &GrayImage, points: &Keypoints, cfg: &KeypointConfig) -> Self {
        let (w, h) = cfg.size();
        let letterboxed = |hand: &GrayImage| {
            let (input, map) = to_input(hand, w, h);
            let moved = points.map(|p| {
                let (x, y) = map.apply(p[0], p[1]);
                [x, y]
            });
            (input, moved)
        };
        let (image, moved) = letterboxed(hand);
        // One tight frame per hand, drawn from its id so a training run repeats.
        let framed = (cfg.augment.tight_frame > 0.0).then(|| {
            let seed = id.bytes().fold(0xcbf29ce484222325u64, |h, b| {
                (h ^ b as u64).wrapping_mul(0x100000001b3)
            });
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ cfg.seed);
            letterboxed(&tight_frame(hand, points, &mut rng))
        });
        KeypointPair {
            id: id.to_string(),
            image,
            points: moved,
            framed,
        }
    }

    /// A randomly augmented copy: the standardised image and the moved points.
    pub(super) fn augmented(
        &self,
        a: &KeypointAugment,
        rng: &mut ChaCha8Rng,
    ) -> (GrayImage, Keypoints) {
        let (image, points) = match &self.framed {
            Some((img, pts)) if rng.gen::<f64>() < a.tight_frame => (img, pts),
            _ => (&self.image, &self.points),
        };
        let forward = a.affine().draw_for(rng, image.width, image.height);
        let to_source = forward.inverse().expect("scale is positive");
        let mut img = warp(image, image.width, image.height, &to_source, 0.0);
        a.intensity().draw(rng).apply(&mut img);
        standardize(&mut img);
        let points = points.map(|p| {
            let (x, y) = forward.apply(p[0], p[1]);
            [x, y]
        });
        (img, points)
    }
}

/// The hand image (black outside the hand) cut as a film edge close to the hand would cut it:
/// below the capitate by 10-60% of the tip-capitate length (the forearm and part of the wrist
/// gone), and on each side, half the time, anywhere between the hand's edge and 4% of that
/// length outside the outermost keypoint. The keypoints themselves stay on the film.
pub(super) fn tight_frame(hand: &GrayImage, points: &Keypoints, rng: &mut ChaCha8Rng) -> GrayImage {
    let (w, h) = (hand.width, hand.height);
    let length = ((points[0][0] - points[2][0]).powi(2) + (points[0][1] - points[2][1]).powi(2))
        .sqrt()
        .max(1.0);
    let margin = 0.04 * length;
    let (bx0, bx1) = match hand_box(hand) {
        Some((x0, _, x1, _)) => (x0 as f64, x1 as f64),
        None => (0.0, w as f64 - 1.0),
    };
    let kx0 = points.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min) - margin;
    let kx1 = points
        .iter()
        .map(|p| p[0])
        .fold(f64::NEG_INFINITY, f64::max)
        + margin;
    let bottom = points[2][1] + length * rng.gen_range(0.1..0.6);
    let mut cut = |from: f64, to: f64| {
        if rng.gen::<f64>() < 0.5 && to > from {
            rng.gen_range(from..to)
        } else {
            from
        }
    };
    let left = cut(bx0, kx0);
    let right = -cut(-bx1, -kx1);
    let mut out = hand.clone();
    for y in 0..h {
        for x in 0..w {
            let (xf, yf) = (x as f64, y as f64);
            if yf > bottom || xf < left || xf > right {
                out.data[y * w + x] = 0.0;
            }
        }
    }
    out
}

/// The bounding box `(x0, y0, x1, y1)` (inclusive) of the hand's non-black pixels; `None` for an
/// all-black image.
fn hand_box(hand: &GrayImage) -> Option<(usize, usize, usize, usize)> {
    let w = hand.width;
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for (y, row) in hand.data.chunks_exact(w.max(1)).enumerate() {
        for (x, &v) in row.iter().enumerate() {
            if v > 0.0 {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x);
                y1 = y1.max(y);
            }
        }
    }
    (x0 != usize::MAX).then_some((x0, y0, x1, y1))
}

/// The net's view of a hand image: the bounding box of the hand (non-black pixels) with a 4%
/// margin, letterboxed into `w x h`, so the hand fills the input whatever its size and place
/// on the film. Returns the input and the map from hand-image pixels to input pixels.
pub(super) fn to_input(hand: &GrayImage, w: usize, h: usize) -> (GrayImage, Affine) {
    let (hw, hh) = (hand.width, hand.height);
    let (x0, y0, x1, y1) = if let Some((x0, y0, x1, y1)) = hand_box(hand) {
        let m = ((x1 - x0).max(y1 - y0) as f64 * 0.04).ceil() as usize;
        (
            x0.saturating_sub(m),
            y0.saturating_sub(m),
            (x1 + m).min(hw - 1),
            (y1 + m).min(hh - 1),
        )
    } else {
        (0, 0, hw - 1, hh - 1)
    };
    let (cw, ch) = (x1 - x0 + 1, y1 - y0 + 1);
    let mut crop = GrayImage::new(cw, ch, 0.0);
    for y in 0..ch {
        crop.data[y * cw..(y + 1) * cw]
            .copy_from_slice(&hand.data[(y0 + y) * hw + x0..(y0 + y) * hw + x0 + cw]);
    }
    let lb = Letterbox::new(cw, ch, w, h);
    let map = lb
        .source_to_input()
        .after(&Affine::translate(-(x0 as f64), -(y0 as f64)));
    (lb.place(&crop, w, h, 0.0), map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tight_frame_cuts_below_the_wrist_and_beside_the_hand_but_keeps_the_keypoints() {
        // A hand-shaped block with a forearm down to the film's lower edge.
        let (w, h) = (200, 300);
        let mut hand = GrayImage::new(w, h, 0.0);
        for y in 20..300 {
            for x in 40..170 {
                hand.data[y * w + x] = 0.5;
            }
        }
        let points: Keypoints = [[100.0, 25.0], [160.0, 120.0], [100.0, 185.0]];
        let length = 160.0;
        let (mut cut_below, mut cut_beside) = (0, 0);
        for seed in 0..200 {
            let framed = tight_frame(&hand, &points, &mut ChaCha8Rng::seed_from_u64(seed));
            // Every keypoint, and 4% of the length around it, stays on the film.
            for p in points {
                for (dx, dy) in [(-6.0, 0.0), (6.0, 0.0), (0.0, 0.0)] {
                    let (x, y) = ((p[0] + dx) as usize, (p[1] + dy) as usize);
                    assert!(framed.data[y * w + x] > 0.0, "seed {seed}: keypoint cut");
                }
            }
            // The forearm goes: nothing of the hand is left 60% of the length below the
            // capitate, everything is left 10% below it.
            let row = |y: f64| {
                (40..170)
                    .filter(|&x| framed.data[y as usize * w + x] > 0.0)
                    .count()
            };
            assert_eq!(row(185.0 + 0.6 * length + 1.0), 0, "seed {seed}");
            assert!(row(185.0 + 0.1 * length - 1.0) > 0, "seed {seed}");
            cut_below += 1;
            if row(100.0) < 130 {
                cut_beside += 1;
            }
            // Nothing is added: what is left is the hand as it was.
            assert!(framed
                .data
                .iter()
                .zip(&hand.data)
                .all(|(a, b)| *a == 0.0 || a == b));
        }
        assert_eq!(cut_below, 200);
        // Each side is cut half the time: about three frames in four lose a side.
        assert!((110..190).contains(&cut_beside), "{cut_beside}");
    }
}
