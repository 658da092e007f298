//! The keypoints of a hand image, and its registration into the canonical frame with the
//! mirror check.

use super::*;

impl KeypointModel {
    pub(super) fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let sex = Tensor::zeros([x.size()[0], 1], (Kind::Float, x.device()));
        self.net.forward(x, &sex, train)
    }

    /// Keypoints (input pixels) of standardised input-size images.
    pub(super) fn predict_inputs(&self, imgs: &[GrayImage]) -> Vec<Keypoints> {
        let (w, h) = self.config.size();
        let refs: Vec<&GrayImage> = imgs.iter().collect();
        let x = crate::tensor::batch_to_tensor(&refs)
            .expect("same-size inputs")
            .to_device(self.vs.device());
        let out = tch::no_grad(|| self.forward(&x, false))
            .to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .contiguous();
        let flat: Vec<f32> = Vec::<f32>::try_from(out.view([-1])).expect("float tensor");
        flat.chunks(6)
            .map(|c| {
                [0, 1, 2].map(|k| [c[2 * k] as f64 * w as f64, c[2 * k + 1] as f64 * h as f64])
            })
            .collect()
    }

    /// The keypoints of a hand image (segmented, equalised; any size), in its pixels.
    pub fn predict(&self, hand: &GrayImage) -> Keypoints {
        let (w, h) = self.config.size();
        let (mut input, map) = to_input(hand, w, h);
        standardize(&mut input);
        let to_source = map.inverse().expect("positive scale");
        self.predict_inputs(&[input])[0].map(|p| {
            let (x, y) = to_source.apply(p[0], p[1]);
            [x, y]
        })
    }
}

/// A hand's keypoints and its map into the canonical frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Registration {
    /// Middle finger tip, thumb tip, capitate, in the hand image's pixels.
    pub keypoints: Keypoints,
    /// Hand-image pixels → canonical frame (with a reflection when `mirrored`).
    pub to_canonical: Affine,
    /// Distance of the thumb keypoint from its canonical place after registration (canonical
    /// pixels; the frame is 2080 high).
    pub thumb_residual: f64,
    /// The hand was a mirror image (a right hand, or a film put in backwards) and is read as a
    /// left hand.
    pub mirrored: bool,
    /// Where the thumb keypoint lands in the canonical frame (its canonical place is
    /// (1500, 850)).
    pub thumb_canonical: [f64; 2],
    /// The reading not taken (the mirror image's for a left hand, the unmirrored one's for a
    /// mirrored hand): its thumb's place in the canonical frame; `None` when it had no fit.
    pub other_thumb_canonical: Option<[f64; 2]>,
    /// The handedness template's margin for the reading taken (positive: a left hand) and for
    /// the other one; `None` without a template.
    pub handedness_margin: Option<f64>,
    /// The handedness margin of the reading not taken.
    pub other_handedness_margin: Option<f64>,
}

/// Without a handedness template: a hand whose thumb keypoint lands within this of its
/// canonical place (canonical pixels, of 2080) is read as a left hand, whatever the mirror
/// image does.
pub const MIRROR_MIN_THUMB_RESIDUAL: f64 = 200.0;

/// Without a handedness template: the mirror image's thumb must fit at least this much better
/// (residual ratio) to be taken.
pub const MIRROR_RESIDUAL_RATIO: f64 = 0.5;

/// Mirroring moves the thumb only: the mirror image's middle finger tip and capitate (brought
/// back into the original's pixels) must lie within this fraction of the tip–capitate distance
/// of the original reading's. A mirror reading that turns the hand upside down (tip and
/// capitate swapped, a rotation near 180°) fails this.
pub const MIRROR_AXIS_TOLERANCE: f64 = 0.2;

/// Whether two readings of the same hand agree on its middle finger tip and capitate (see
/// [`MIRROR_AXIS_TOLERANCE`]); keypoints in the same image's pixels.
pub fn axes_agree(a: &Keypoints, b: &Keypoints) -> bool {
    let dist = |p: [f64; 2], q: [f64; 2]| ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt();
    let axis = dist(a[0], a[2]);
    axis > 0.0
        && dist(a[0], b[0]) < MIRROR_AXIS_TOLERANCE * axis
        && dist(a[2], b[2]) < MIRROR_AXIS_TOLERANCE * axis
}

/// The thumb-fit rule used without a handedness template: the original's thumb fits badly and
/// the mirror's fits under half as far.
pub fn thumb_fit_prefers_mirror(t_orig: f64, t_mirror: f64) -> bool {
    t_orig > MIRROR_MIN_THUMB_RESIDUAL && t_mirror < MIRROR_RESIDUAL_RATIO * t_orig
}

impl KeypointModel {
    /// Keypoints and the map into the canonical frame, mirrored hands included: the net knows
    /// left hands only, so the mirror image is read too. It is taken only when both readings
    /// agree on the middle finger tip and the capitate ([`axes_agree`]) and the picture says
    /// so: with the model's handedness template (`boneage handedness`), the original reading's
    /// whole hand must score as a mirror image and the mirror reading's as a left hand, each
    /// beyond the template's threshold; without one, the thumb keypoint's fit decides
    /// ([`thumb_fit_prefers_mirror`]). `None` when the keypoints coincide.
    pub fn register(&self, hand: &GrayImage) -> Option<Registration> {
        let (w, h) = crate::segmentation::working_size(hand.width, hand.height);
        if (w, h) == (hand.width, hand.height) {
            return self.register_working(hand);
        }
        // Both readings and the handedness thumbnails at the working resolution (the net's
        // input and the thumbnails are smaller still), mapped back to the hand's pixels.
        let (sx, sy) = (w as f64 / hand.width as f64, h as f64 / hand.height as f64);
        let to_small = Affine {
            m: [[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5]],
        };
        let to_hand = to_small.inverse().expect("positive scale");
        let reg = self.register_working(&hand.resize(w, h))?;
        Some(Registration {
            keypoints: reg.keypoints.map(|k| {
                let (x, y) = to_hand.apply(k[0], k[1]);
                [x, y]
            }),
            to_canonical: reg.to_canonical.after(&to_small),
            ..reg
        })
    }

    /// [`KeypointModel::register`] on the image as it is.
    fn register_working(&self, hand: &GrayImage) -> Option<Registration> {
        use boneage_imaging::handedness::thumbnail;
        use boneage_imaging::registration::{keypoint_residuals, to_canonical};
        let keypoints = self.predict(hand);
        let map = to_canonical(&keypoints)?;
        let at = |m: &Affine, k: &Keypoints| {
            let (x, y) = m.apply(k[1][0], k[1][1]);
            [x, y]
        };
        let template = self.config.handedness.as_ref();
        let margin = |m: &Affine| template.map(|t| t.margin(&thumbnail(hand, m)));
        let mut best = Registration {
            keypoints,
            to_canonical: map,
            thumb_residual: keypoint_residuals(&keypoints, &map)[1],
            mirrored: false,
            thumb_canonical: at(&map, &keypoints),
            other_thumb_canonical: None,
            handedness_margin: margin(&map),
            other_handedness_margin: None,
        };
        let mut flipped = hand.clone();
        for row in flipped.data.chunks_mut(hand.width.max(1)) {
            row.reverse();
        }
        let kp = self.predict(&flipped);
        if let Some(m) = to_canonical(&kp) {
            let t = keypoint_residuals(&kp, &m)[1];
            let w = (hand.width as f64 - 1.0).max(0.0);
            let back = kp.map(|k| [w - k[0], k[1]]);
            // Hand x → mirrored x → canonical.
            let reflect = Affine {
                m: [[-1.0, 0.0, w], [0.0, 1.0, 0.0]],
            };
            let mirror_map = m.after(&reflect);
            let mirror_margin = margin(&mirror_map);
            let pictures_say_mirror = match (template, best.handedness_margin, mirror_margin) {
                (Some(tp), Some(mo), Some(mm)) => mo < -tp.threshold && mm > tp.threshold,
                _ => thumb_fit_prefers_mirror(best.thumb_residual, t),
            };
            if axes_agree(&best.keypoints, &back) && pictures_say_mirror {
                best = Registration {
                    keypoints: back,
                    to_canonical: mirror_map,
                    thumb_residual: t,
                    mirrored: true,
                    thumb_canonical: at(&m, &kp),
                    other_thumb_canonical: Some(best.thumb_canonical),
                    handedness_margin: mirror_margin,
                    other_handedness_margin: best.handedness_margin,
                };
            } else {
                best.other_thumb_canonical = Some(at(&m, &kp));
                best.other_handedness_margin = mirror_margin;
            }
        }
        Some(best)
    }
}

/// Mean Euclidean distance between corresponding keypoints.
pub fn mean_distance(a: &Keypoints, b: &Keypoints) -> f64 {
    (0..3)
        .map(|k| ((a[k][0] - b[k][0]).powi(2) + (a[k][1] - b[k][1]).powi(2)).sqrt())
        .sum::<f64>()
        / 3.0
}
