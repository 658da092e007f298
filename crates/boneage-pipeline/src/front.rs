//! The front half of the pipeline: radiograph → hand mask → enhanced hand → keypoints →
//! canonical frame, the checks on what it found, and the regions cut from the hand.
//!
//! `boneage register` (the training regions), `boneage segment`, `boneage keypoints` and the
//! full assessment ([`crate::Pipeline::assess`]) all go through these functions, so training
//! and prediction see regions made the same way.

use crate::PipelineError;
use boneage_imaging::clahe::ClaheConfig;
use boneage_imaging::hand_template::{HandScores, HandTemplate};
use boneage_imaging::mask::{MaskLimits, MaskScore};
use boneage_imaging::registration::{shared_shrink, Region};
use boneage_imaging::spatial::Affine;
use boneage_imaging::{GrayImage, Mask};
use boneage_nn::bundle::TtaConfig;
use boneage_nn::keypoints::{KeypointModel, Registration};
use boneage_nn::segmentation::SegModel;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// A thumb keypoint further than this from its canonical place after registration (canonical
/// pixels) is reported as a warning.
pub const THUMB_WARNING_PX: f64 = 250.0;

/// The registration rule's version, part of every `boneage register` record's cache key:
/// records made under an older rule (e.g. the first mirror check; rule 4: mask, keypoints and
/// the mirror check at the working resolution, one shared shrink for the regions; rule 5: a
/// hand found turned more than 20° read again upright; rule 6: a film whose forearm leaves by
/// the top read turned 180°; rule 7: a registered picture unlike a hand's read again turned
/// 90°, 180° and 270°; rule 8: that search also for a registered picture under
/// [`SEARCH_LOOK`]) are done again.
pub const REGISTRATION_RULE: &str = "rule=8";

/// A reading whose registered picture is less like a hand's than this (the template's look
/// score) is searched in the film's other orientations even when it passes the template's own
/// limit: real films read upside down scored 0.53–0.63, real films read the right way up
/// mostly above 0.7, and a turned reading is taken only when it scores clearly better
/// ([`TURN_LOOK_MARGIN`]).
pub const SEARCH_LOOK: f64 = 0.7;

/// A hand turned further than this from upright (degrees) is reported as a warning.
pub const ROTATION_WARNING_DEG: f64 = 45.0;

/// A reading of the film turned a quarter, a half or three quarters is taken over the one of
/// the film as it lies only when its registered picture is this much more like a hand's (the
/// hand template's look score, a correlation) ([`FrontEnd::analyse`]).
pub const TURN_LOOK_MARGIN: f64 = 0.05;

/// The models of the front half: the segmentation U-Net and the keypoint net, and the typical
/// registered hand that tells a hand read the right way up.
#[derive(Clone, Copy)]
pub struct FrontEnd<'m> {
    /// The hand-mask U-Net.
    pub segmentation: &'m SegModel,
    /// The keypoint net, with the mirror check's template.
    pub keypoints: &'m KeypointModel,
    /// The typical registered hand (the quality gate's); without it, no orientation search.
    pub template: Option<&'m HandTemplate>,
}

/// A radiograph taken through the front half.
pub struct Analysis {
    /// The hand mask, source size.
    pub mask: Mask,
    /// The hand image the regions are cut from (inversion undone, CLAHE, black outside the
    /// mask), source size.
    pub hand: GrayImage,
    /// Keypoints, the map into the canonical frame and the mirror check's reading.
    pub registration: Registration,
    /// The hand template's scores of the registered hand (`None` without a template).
    pub scores: Option<HandScores>,
    /// What the plausibility check measured on the mask ([`mask_score`]).
    pub mask_score: MaskScore,
    /// The plausibility check's problems with the mask (empty when it passes).
    pub mask_problems: Vec<String>,
    /// What makes the result doubtful (an implausible hand mask, a mirror image, a hand turned
    /// far from upright); empty when nothing was noticed.
    pub warnings: Vec<String>,
}

impl Analysis {
    /// Middle finger tip, thumb tip, capitate, in source pixels.
    pub fn keypoints(&self) -> [[f64; 2]; 3] {
        self.registration.keypoints
    }
    /// Source pixels → canonical frame.
    pub fn to_canonical(&self) -> Affine {
        self.registration.to_canonical
    }
}

impl FrontEnd<'_> {
    /// Stage 2, segment: the hand mask (U-Net, cleaned to its largest component).
    pub fn segment(&self, img: &GrayImage) -> Mask {
        self.segmentation.mask(img)
    }

    /// Stage 3, enhance, with the default CLAHE (see [`enhance`]).
    pub fn enhance(&self, img: &GrayImage, mask: &Mask) -> GrayImage {
        enhance(img, mask, &ClaheConfig::default())
    }

    /// Stages 4 and 5, keypoints and registration: the three keypoints and the similarity into
    /// the canonical frame, mirror images read as left hands; an error when the keypoints
    /// coincide.
    ///
    /// A hand found turned more than [`UPRIGHT_AGAIN_DEG`] from upright is read a second time,
    /// turned upright by the first reading: the keypoint net is surest on hands near upright
    /// (a real film turned 30° was read months off before). The second reading is kept when
    /// it finds the upright hand nearer upright than the first found the film, with the same
    /// handedness.
    ///
    /// Before that, a film whose forearm clearly leaves by the top ([`forearm_turn`]: a film
    /// turned 180° or upside down) is turned so that it leaves by the bottom: the keypoint net
    /// only knows hands near upright.
    pub fn register(&self, hand: &GrayImage) -> Result<Registration, PipelineError> {
        let Some(deg) = forearm_turn(hand) else {
            return self.register_near_upright(hand);
        };
        let (upright, to_upright) = turned(hand, deg);
        let r = self.register_near_upright(&upright)?;
        Ok(back_from(r, &to_upright))
    }

    /// [`FrontEnd::register`] for a film whose forearm leaves by the bottom.
    fn register_near_upright(&self, hand: &GrayImage) -> Result<Registration, PipelineError> {
        let first = self
            .keypoints
            .register(hand)
            .ok_or(PipelineError::NoRegistration)?;
        let turn = rotation_deg(&first.to_canonical, first.mirrored);
        if turn.abs() <= UPRIGHT_AGAIN_DEG {
            return Ok(first);
        }
        let (upright, to_upright) = turned(hand, turn);
        let Some(second) = self.keypoints.register(&upright) else {
            return Ok(first);
        };
        // The upright reading must find the hand nearer upright, and the same hand: a mirror
        // reading it alone takes (on a hand it sees through a bad mask) is not trusted.
        if rotation_deg(&second.to_canonical, second.mirrored).abs() >= turn.abs()
            || second.mirrored != first.mirrored
        {
            return Ok(first);
        }
        Ok(back_from(second, &to_upright))
    }

    /// Stages 2–5 and the checks on what they found.
    ///
    /// Orientation search: a film whose reading is doubtful ([`FrontEnd::doubtful`]: the
    /// registered picture or outline unlike a hand's, the thumb far from its place, the hand
    /// far from upright) is read again whole, mask included, turned a quarter, a half and
    /// three quarters (exactly, pixel for pixel); the reading whose registered picture is most
    /// like a hand's (the template's look score) is taken when it beats the first by
    /// [`TURN_LOOK_MARGIN`]. The U-Net and the keypoint net know hands near upright: a film
    /// turned 90° lost half its hand mask, and one upside down whose forearm ends inside the
    /// film was read with the fingers at the wrist. Without a template there is no search.
    pub fn analyse(&self, img: &GrayImage) -> Result<Analysis, PipelineError> {
        let first = self.analyse_as_it_lies(img)?;
        if self.template.is_none() || !self.doubtful(&first) {
            return Ok(first);
        }
        let look = |a: &Analysis| a.scores.map_or(f64::NEG_INFINITY, |s| s.look);
        let mut best: Option<(usize, Analysis)> = None;
        for k in 1..4 {
            let (turned_img, _) = quarter_turn(img, k);
            let Ok(a) = self.analyse_as_it_lies(&turned_img) else {
                continue;
            };
            let to_beat = best
                .as_ref()
                .map_or(look(&first) + TURN_LOOK_MARGIN, |b| look(&b.1));
            if look(&a) > to_beat {
                best = Some((k, a));
            }
        }
        let Some((k, a)) = best else {
            return Ok(first);
        };
        // The turned reading brought back onto the film: its mask turned back, the hand
        // enhanced as the film lies (as every other film's), its registration through the turn.
        let (_, to_turned) = quarter_turn(img, k);
        let mask = quarter_turn_mask(&a.mask, 4 - k);
        let hand = self.enhance(img, &mask);
        Ok(self.finish(img, mask, hand, back_from(a.registration, &to_turned)))
    }

    /// Stages 2–5 on the film as it lies.
    fn analyse_as_it_lies(&self, img: &GrayImage) -> Result<Analysis, PipelineError> {
        let mask = self.segment(img);
        let hand = self.enhance(img, &mask);
        let registration = self.register(&hand)?;
        Ok(self.finish(img, mask, hand, registration))
    }

    /// The analysis of `img` from its mask, hand and registration: the template's scores and
    /// the warnings.
    fn finish(
        &self,
        img: &GrayImage,
        mask: Mask,
        hand: GrayImage,
        registration: Registration,
    ) -> Analysis {
        let scores = self
            .template
            .map(|t| t.scores(&hand, &registration.to_canonical));
        let mask_score = mask_score(img, &mask);
        let mask_problems = mask_score.problems(&MaskLimits::default());
        let warnings = warnings(&mask_problems, &registration);
        Analysis {
            mask,
            hand,
            registration,
            scores,
            mask_score,
            mask_problems,
            warnings,
        }
    }

    /// Whether a reading is doubtful enough to search the film's other orientations: the
    /// registered picture under the template's limit or [`SEARCH_LOOK`], whichever is
    /// higher, the registered outline under its limit, the thumb keypoint over
    /// [`THUMB_WARNING_PX`] from its place, or the hand turned over [`ROTATION_WARNING_DEG`].
    pub fn doubtful(&self, a: &Analysis) -> bool {
        let template_doubts = match (self.template, a.scores) {
            (Some(t), Some(s)) => s.look < t.look_min.max(SEARCH_LOOK) || s.shape < t.shape_min,
            _ => false,
        };
        template_doubts
            || a.registration.thumb_residual > THUMB_WARNING_PX
            || rotation_deg(&a.registration.to_canonical, a.registration.mirrored).abs()
                > ROTATION_WARNING_DEG
    }
}

/// `img` turned `k` quarter turns clockwise (on screen), pixel for pixel, and the map from
/// `img`'s pixels to the turned image's.
pub fn quarter_turn(img: &GrayImage, k: usize) -> (GrayImage, Affine) {
    let (data, w, h) = quarter_turn_data(&img.data, img.width, img.height, k);
    (
        GrayImage::from_vec(w, h, data),
        quarter_turn_map(img.width, img.height, k),
    )
}

fn quarter_turn_mask(m: &Mask, k: usize) -> Mask {
    let (data, width, height) = quarter_turn_data(&m.data, m.width, m.height, k);
    Mask {
        width,
        height,
        data,
    }
}

/// Row-major `w x h` values turned `k` quarter turns clockwise, with the new width and height.
fn quarter_turn_data<T: Copy>(data: &[T], w: usize, h: usize, k: usize) -> (Vec<T>, usize, usize) {
    match k % 4 {
        0 => (data.to_vec(), w, h),
        2 => (data.iter().rev().copied().collect(), w, h),
        q => {
            let mut out = Vec::with_capacity(data.len());
            for y in 0..w {
                for x in 0..h {
                    // Turned (x, y) comes from (y, h - 1 - x) for a quarter turn, from
                    // (w - 1 - y, x) for three.
                    let i = if q == 1 {
                        (h - 1 - x) * w + y
                    } else {
                        x * w + (w - 1 - y)
                    };
                    out.push(data[i]);
                }
            }
            (out, h, w)
        }
    }
}

/// Pixels of a `w x h` image → pixels of it turned `k` quarter turns clockwise.
fn quarter_turn_map(w: usize, h: usize, k: usize) -> Affine {
    let (w1, h1) = (w as f64 - 1.0, h as f64 - 1.0);
    Affine {
        m: match k % 4 {
            0 => [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
            1 => [[0.0, -1.0, h1], [1.0, 0.0, 0.0]],
            2 => [[-1.0, 0.0, w1], [0.0, -1.0, h1]],
            _ => [[0.0, 1.0, 0.0], [-1.0, 0.0, w1]],
        },
    }
}

/// A registration of `img` turned by `to_turned` ([`turned`]), as a registration of `img`.
fn back_from(r: Registration, to_turned: &Affine) -> Registration {
    let back = to_turned.inverse().expect("a rotation is invertible");
    Registration {
        keypoints: r.keypoints.map(|k| {
            let (x, y) = back.apply(k[0], k[1]);
            [x, y]
        }),
        to_canonical: r.to_canonical.after(to_turned),
        ..r
    }
}

/// 180 when the hand (pixels of `hand` above 0) clearly leaves the film by the top — a film
/// upside down or turned 180° — so that turning it brings the forearm to the bottom: the top
/// touched along at least a tenth of its width and three times as much as the bottom. `None`
/// otherwise, also when the forearm ends inside the film. A forearm leaving by a side is not
/// turned: hands posed 30° from upright leave that way too, and the keypoint net reads them
/// better as they are. On the 809 real training and validation films it is `None` for every
/// one.
pub fn forearm_turn(hand: &GrayImage) -> Option<f64> {
    let (w, h) = (hand.width, hand.height);
    if w == 0 || h == 0 {
        return None;
    }
    let strip = (w.min(h) / 50).max(2).min(h);
    let touched = |ys: std::ops::Range<usize>| {
        (0..w)
            .filter(|&x| ys.clone().any(|y| hand.data[y * w + x] > 0.0))
            .count() as f64
            / w as f64
    };
    let (top, bottom) = (touched(0..strip), touched(h - strip..h));
    (top >= 0.1 && top >= 3.0 * bottom).then_some(180.0)
}

/// A hand the keypoints find turned further than this from upright (degrees) is read again,
/// turned upright ([`FrontEnd::register`]).
pub const UPRIGHT_AGAIN_DEG: f64 = 20.0;

/// `img` turned by `deg` (clockwise on screen) about its centre on a canvas that holds all
/// of it (black outside), and the map from `img`'s pixels to the turned image's.
pub fn turned(img: &GrayImage, deg: f64) -> (GrayImage, Affine) {
    let (w, h) = (img.width as f64, img.height as f64);
    let (s, c) = deg.to_radians().sin_cos();
    let nw = (w * c.abs() + h * s.abs()).round().max(1.0);
    let nh = (w * s.abs() + h * c.abs()).round().max(1.0);
    let forward = Affine::translate(nw / 2.0, nh / 2.0)
        .after(&Affine::rotate_deg(deg))
        .after(&Affine::translate(-w / 2.0, -h / 2.0));
    let to_source = forward.inverse().expect("a rotation is invertible");
    (
        boneage_imaging::spatial::warp(img, nw as usize, nh as usize, &to_source, 0.0),
        forward,
    )
}

/// Stage 3, enhance: grey scale turned back if inverted, CLAHE over the whole radiograph,
/// black outside the mask.
pub fn enhance(img: &GrayImage, mask: &Mask, clahe: &ClaheConfig) -> GrayImage {
    boneage_imaging::segment::hand_image(img, mask, clahe)
}

/// What the plausibility check measures on the mask (see [`MaskScore`]; its problems under
/// the default [`MaskLimits`]).
pub fn mask_score(img: &GrayImage, mask: &Mask) -> MaskScore {
    MaskScore::compute(img, mask, None, &MaskLimits::default())
}

/// Rotation of the hand from upright (degrees) that a source → canonical map implies, a
/// mirrored hand's reflection taken out.
pub fn rotation_deg(to_canonical: &Affine, mirrored: bool) -> f64 {
    let m = to_canonical.m;
    let a = if mirrored { -m[0][0] } else { m[0][0] };
    m[1][0].atan2(a).to_degrees()
}

/// Scale of a source → canonical map (canonical pixels per source pixel).
pub fn scale(to_canonical: &Affine) -> f64 {
    let m = to_canonical.m;
    (m[0][0] * m[0][0] + m[1][0] * m[1][0]).sqrt()
}

/// The warnings about a radiograph's front half: an implausible mask (its problems, from
/// [`mask_score`]), a mirror image, a thumb far from its place, a hand turned far from
/// upright.
pub fn warnings(mask_problems: &[String], reg: &Registration) -> Vec<String> {
    let mut w: Vec<String> = mask_problems
        .iter()
        .map(|p| format!("hand mask looks wrong: {p}"))
        .collect();
    if reg.mirrored {
        w.push(
            "the hand is a mirror image (a right hand, or the film turned over): read as a left \
             hand"
                .into(),
        );
    }
    if reg.thumb_residual > THUMB_WARNING_PX {
        w.push(format!(
            "the thumb keypoint lands {:.0} px (of 2080) from its place after registration: \
             check the keypoints",
            reg.thumb_residual
        ));
    }
    let rotation = rotation_deg(&reg.to_canonical, reg.mirrored);
    if rotation.abs() > ROTATION_WARNING_DEG {
        w.push(format!(
            "hand turned {rotation:.0}° from upright: check the keypoints"
        ));
    }
    w
}

/// Pixel values as they come back from an 8-bit PNG: the registration cache the nets were
/// trained on stores regions that way.
fn quantize8(img: &mut GrayImage) {
    for v in &mut img.data {
        *v = (v.clamp(0.0, 1.0) * 255.0 + 0.5).floor() / 255.0;
    }
}

/// The canonical-frame move of TTA draw `k` (0 = none) for a region.
pub fn tta_move(cfg: &TtaConfig, region: Region, k: usize, seed: u64) -> Affine {
    if k == 0 {
        return Affine::IDENTITY;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let b = region.canonical_box();
    let centre = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
    cfg.affine()
        .draw(&mut rng, centre, (b[2] - b[0], b[3] - b[1]))
}

/// Stage 6, regions: `views` images of each region (`[region][view]`, the region's full size,
/// 8-bit values), view 0 unmoved and views 1.. moved by the TTA draws of `tta`. The hand is
/// shrunk once for all regions (to twice the scale of the region that shrinks least), again
/// for a region that shrinks more, and every view cut from that. `boneage register` writes view 0 as the
/// training regions.
pub fn cut_regions(
    hand: &GrayImage,
    to_canonical: &Affine,
    regions: &[Region],
    views: usize,
    tta: &TtaConfig,
    seed: u64,
) -> Vec<(Region, Vec<GrayImage>)> {
    let views = views.max(1);
    let jobs: Vec<(usize, usize)> = (0..regions.len())
        .flat_map(|i| (0..views).map(move |k| (i, k)))
        .collect();
    // One area shrink of the hand for all regions, then a smaller one per region that needs it.
    let (small, to_small) = shared_shrink(hand, regions, to_canonical);
    let small_to_canonical = to_canonical.after(&to_small.inverse().expect("positive scale"));
    let prepared: Vec<_> = regions
        .par_iter()
        .map(|r| r.prepare(&small, &small_to_canonical))
        .collect();
    let cuts: Vec<GrayImage> = jobs
        .par_iter()
        .map(|&(i, k)| {
            let r = regions[i];
            let map = tta_move(tta, r, k, seed).after(&small_to_canonical);
            let mut c = r.cut_prepared(&prepared[i], &map, 0.0);
            quantize8(&mut c);
            c
        })
        .collect();
    let mut cuts = cuts.into_iter();
    regions
        .iter()
        .map(|&r| (r, cuts.by_ref().take(views).collect()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarter_turns_move_every_pixel_where_their_map_says() {
        let (w, h) = (5usize, 3usize);
        let img = GrayImage::from_vec(w, h, (0..w * h).map(|i| i as f32).collect());
        for k in 0..4 {
            let (t, map) = quarter_turn(&img, k);
            assert_eq!(t.data.len(), w * h);
            for y in 0..h {
                for x in 0..w {
                    let (tx, ty) = map.apply(x as f64, y as f64);
                    let (tx, ty) = (tx.round() as usize, ty.round() as usize);
                    assert_eq!(t.data[ty * t.width + tx], img.data[y * w + x], "k {k}");
                }
            }
            // Turning back by the rest of a full turn gives the image again.
            let m = Mask {
                width: t.width,
                height: t.height,
                data: t.data.iter().map(|v| *v as usize % 3 == 0).collect(),
            };
            let back = quarter_turn_mask(&m, (4 - k) % 4);
            let want: Vec<bool> = img.data.iter().map(|v| *v as usize % 3 == 0).collect();
            assert_eq!((back.width, back.height, back.data), (w, h, want));
        }
        // One quarter clockwise: the top-left corner goes to the top right.
        assert_eq!(quarter_turn(&img, 1).0.data[h - 1], 0.0);
    }

    #[test]
    fn the_forearm_side_gives_the_turn() {
        // A hand whose forearm leaves by the bottom: a block touching the bottom edge.
        let (w, h) = (60usize, 80usize);
        let mut up = GrayImage::new(w, h, 0.0);
        for y in 20..h {
            for x in 20..40 {
                up.data[y * w + x] = 0.5;
            }
        }
        assert_eq!(forearm_turn(&up), None);
        let mut down = up.clone();
        down.data.reverse();
        assert_eq!(forearm_turn(&down), Some(180.0));
        // Turned 90° either way, the forearm leaves by a side: left as it is (hands posed 30°
        // from upright leave that way too).
        let (left, _) = turned(&up, 90.0);
        assert_eq!(forearm_turn(&left), None);
        let (t, _) = turned(&down, 180.0);
        assert_eq!(
            forearm_turn(&t),
            None,
            "turned by the answer, the forearm is at the bottom"
        );
        // A hand inside the film (no edge touched) is left alone.
        let mut inside = GrayImage::new(w, h, 0.0);
        inside.data[40 * w + 30] = 1.0;
        assert_eq!(forearm_turn(&inside), None);
    }

    #[test]
    fn tta_moves_are_small_and_the_first_is_none() {
        let cfg = TtaConfig::default();
        assert_eq!(tta_move(&cfg, Region::A, 0, 7), Affine::IDENTITY);
        let b = Region::B.canonical_box();
        let c = [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0];
        for k in 1..20 {
            let m = tta_move(&cfg, Region::B, k, 7);
            let p = m.apply(c[0], c[1]);
            assert!((p.0 - c[0]).abs() <= 0.031 * 800.0 && (p.1 - c[1]).abs() <= 0.031 * 800.0);
            let scale = (m.m[0][0].powi(2) + m.m[1][0].powi(2)).sqrt();
            assert!((scale - 1.0).abs() <= 0.051);
        }
        assert_ne!(
            tta_move(&cfg, Region::B, 1, 7),
            tta_move(&cfg, Region::B, 2, 7)
        );
    }

    #[test]
    fn regions_are_cut_at_their_size_and_view_zero_is_the_plain_cut() {
        let img = GrayImage::from_vec(
            600,
            800,
            (0..600 * 800)
                .map(|i| (((i % 600) / 7 + (i / 600) / 5) % 13) as f32 / 13.0)
                .collect(),
        );
        let map = boneage_imaging::registration::to_canonical(&[
            [300.0, 80.0],
            [520.0, 330.0],
            [300.0, 600.0],
        ])
        .unwrap();
        let cfg = TtaConfig::default();
        let cuts = cut_regions(&img, &map, &Region::ALL, 3, &cfg, 0);
        assert_eq!(cuts.len(), 3);
        for (r, v) in &cuts {
            assert_eq!(v.len(), 3);
            let (w, h) = r.output_size();
            assert!(v.iter().all(|c| (c.width, c.height) == (w, h)));
            // View 0 is the region cut straight from the source, in 8-bit steps.
            let mut direct = r.cut(&img, &map, 0.0);
            quantize8(&mut direct);
            let diff = v[0]
                .data
                .iter()
                .zip(&direct.data)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(diff <= 1.5 / 255.0, "{r:?}: {diff}");
            assert_ne!(v[1].data, v[0].data, "a TTA view is moved");
        }
    }

    #[test]
    fn rotation_and_scale_of_a_map() {
        let m = Affine::rotate_deg(30.0).after(&Affine::scale(2.0, 2.0));
        assert!((rotation_deg(&m, false) - 30.0).abs() < 1e-9);
        assert!((scale(&m) - 2.0).abs() < 1e-9);
        let reflect = Affine {
            m: [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
        };
        // A mirror reading maps the film's reflection by `m`: turned 30° in the reflection is
        // turned −30° on the film as it lies.
        assert!((rotation_deg(&m.after(&reflect), true) + 30.0).abs() < 1e-9);
    }
}
