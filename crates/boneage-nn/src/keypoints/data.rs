//! Training pairs: the hand cut to its bounding box and letterboxed into the net's input,
//! its keypoints moved with it, and their augmentation.

use super::*;

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
}

impl KeypointPair {
    /// Cuts the hand out of a hand image (segmented, equalised; any size), shrinks it into the
    /// input and moves its keypoints (source pixels) with it.
    pub fn new(id: &str, hand: &GrayImage, points: &Keypoints, cfg: &KeypointConfig) -> Self {
        let (w, h) = cfg.size();
        let (input, map) = to_input(hand, w, h);
        KeypointPair {
            id: id.to_string(),
            image: input,
            points: points.map(|p| {
                let (x, y) = map.apply(p[0], p[1]);
                [x, y]
            }),
        }
    }

    /// A randomly augmented copy: the standardised image and the moved points.
    pub(super) fn augmented(
        &self,
        a: &KeypointAugment,
        rng: &mut ChaCha8Rng,
    ) -> (GrayImage, Keypoints) {
        let forward = a
            .affine()
            .draw_for(rng, self.image.width, self.image.height);
        let to_source = forward.inverse().expect("scale is positive");
        let mut img = warp(
            &self.image,
            self.image.width,
            self.image.height,
            &to_source,
            0.0,
        );
        a.intensity().draw(rng).apply(&mut img);
        standardize(&mut img);
        let points = self.points.map(|p| {
            let (x, y) = forward.apply(p[0], p[1]);
            [x, y]
        });
        (img, points)
    }
}

/// The net's view of a hand image: the bounding box of the hand (non-black pixels) with a 4%
/// margin, letterboxed into `w x h`, so the hand fills the input whatever its size and place
/// on the film. Returns the input and the map from hand-image pixels to input pixels.
pub(super) fn to_input(hand: &GrayImage, w: usize, h: usize) -> (GrayImage, Affine) {
    let (hw, hh) = (hand.width, hand.height);
    let (mut x0, mut y0, mut x1, mut y1) = (hw, hh, 0, 0);
    for y in 0..hh {
        for x in 0..hw {
            if hand.data[y * hw + x] > 0.0 {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x);
                y1 = y1.max(y);
            }
        }
    }
    let (x0, y0, x1, y1) = if x1 < x0 {
        (0, 0, hw - 1, hh - 1)
    } else {
        let m = ((x1 - x0).max(y1 - y0) as f64 * 0.04).ceil() as usize;
        (
            x0.saturating_sub(m),
            y0.saturating_sub(m),
            (x1 + m).min(hw - 1),
            (y1 + m).min(hh - 1),
        )
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
