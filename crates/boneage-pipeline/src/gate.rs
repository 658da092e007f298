//! The quality gate: whether a picture is a hand radiograph the pipeline can read. A film
//! that is not (blank, noise, a photo, a page of text, a chest film, a forearm without its
//! hand), whose hand is cut off so that a region is missing, or that is far too small is
//! answered `rejected` with its reasons and no bone age, rather than a confident number.
//!
//! Three kinds of finding:
//! - **reasons to reject outright**: an image far too small or blank; a JPEG saved at a very
//!   low quality (its quantisation table, [`jpeg_quality`]); no hand found (mask under 5% of
//!   the image, or keypoints on one spot); a hand too small to read (fingertip to capitate
//!   under 100 pixels); region B or C more than a quarter outside the film; a hand that fills
//!   the film (its mask over the plausible area or along three or more of the film's sides:
//!   a film cut down to the hand); a clipped exposure
//!   (over 6% of the hand pure black or pure white, [`clipped_shares`]); a blurred film or a
//!   very noisy one (too little or too much fine detail in the registered hand,
//!   [`fine_detail`]);
//! - **doubts**, each alone only a warning: the registered outline unlike a hand's and the
//!   registered picture unlike a hand's (the shipped [`HandTemplate`], limits fitted on the
//!   real training films), an implausible hand mask, a thumb keypoint far from its place, the
//!   middle fingertip at the film's edge (fingers that may be cut off);
//! - **two or more doubts** together reject: a real hand rarely fails two independent checks,
//!   a picture that is not a hand nearly always does;
//! - after the nets, **members that disagree** far more than on any real film
//!   ([`Gate::check_prediction`]): the regions cut from the film are not what the nets know
//!   (fingers cut off, a hand misread), and no single age is given; members that disagree
//!   over [`SPREAD_WARNING_MONTHS`] are one more doubt.

use crate::ensemble::SPREAD_WARNING_MONTHS;
use crate::front::THUMB_WARNING_PX;
use crate::{Analysis, Prediction};
use boneage_imaging::hand_template::{fine_detail, HandScores, HandTemplate};
#[cfg(doc)]
use boneage_imaging::io::jpeg_quality;
use boneage_imaging::io::{RadiographMeta, SourceFormat};
use boneage_imaging::mask::MaskLimits;
use boneage_imaging::registration::Region;
use boneage_imaging::{GrayImage, Mask};
use serde::Serialize;

/// The gate's limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateLimits {
    /// An image with a shorter side than this (pixels) is rejected. Default 160.
    pub min_side_px: usize,
    /// A hand mask covering less than this share of the image: no hand found. Default 0.05.
    pub min_mask_fraction: f64,
    /// Fingertip to capitate shorter than this (source pixels): too small to read. Default 100.
    pub min_hand_px: f64,
    /// Region B or C with more than this share outside the film: cut off. Default 0.25.
    pub max_region_outside: f64,
    /// This many doubts together reject. Default 2.
    pub doubts_to_reject: usize,
    /// A registered hand with less fine detail than this ([`fine_detail`]) is too blurred to
    /// read. Default 0.043: 300 real training films blurred after the fact (sigma 0.5% of the
    /// longer side) that kept more than 0.03 reached at most 0.041 and were read 11.7 months
    /// off on average; 5 of 806 readable real training and validation films (0.6%) have less
    /// (0.037–0.042) and are turned away with them.
    pub min_fine_detail: f64,
    /// A registered hand with more fine detail than this is mostly noise (quantum mottle of a
    /// very low dose, a noisy detector): the nets read noise as bone texture. Default 1.0 (the
    /// most of 806 readable real training and validation films: 0.67).
    pub max_fine_detail: f64,
    /// A hand with more than this share of its mask pure black, or pure white, is clipped: an
    /// exposure (or a window) that lost the bones' grey levels. Default 0.06 (the most of 808
    /// real training and validation films: 0.041 black, 0.022 white).
    pub max_clipped: f64,
    /// A JPEG saved at a lower quality than this (IJG scale) is rejected: its 8x8 blocks wipe
    /// out the edges of epiphyses and carpals. Default 15.
    pub min_jpeg_quality: u32,
    /// A middle fingertip nearer the film's edge than this share of the fingertip–capitate
    /// length (or beyond it) is a doubt: the fingers may be cut off, and the keypoints placed
    /// on a cut hand. Default 0.035 (8 of 809 real training and validation films are nearer).
    pub min_fingertip_margin: f64,
    /// Members whose estimates spread more than this (SD, months, [`Prediction::spread_months`])
    /// give no age. Default 30 (the most of 797 readable real training and validation films:
    /// 26.1; the 99th percentile 16.8).
    pub max_spread_months: f64,
}

impl Default for GateLimits {
    fn default() -> Self {
        GateLimits {
            min_side_px: 160,
            min_mask_fraction: 0.05,
            min_hand_px: 100.0,
            max_region_outside: 0.25,
            doubts_to_reject: 2,
            min_fine_detail: 0.043,
            max_fine_detail: 1.0,
            max_clipped: 0.06,
            min_jpeg_quality: 15,
            min_fingertip_margin: 0.035,
            max_spread_months: 30.0,
        }
    }
}

/// The gate: the typical registered hand and the limits.
#[derive(Debug, Clone)]
pub struct Gate {
    /// The typical registered hand (`data/hand_template.json`).
    pub template: HandTemplate,
    /// The limits.
    pub limits: GateLimits,
}

/// What the gate found about one radiograph.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Verdict {
    /// Reasons to reject outright (each alone enough).
    pub reasons: Vec<String>,
    /// Doubts (each alone a warning; [`GateLimits::doubts_to_reject`] of them reject).
    pub doubts: Vec<String>,
    /// The doubts that only the gate reports (the template's two scores); the others are
    /// among the front half's warnings already.
    pub notes: Vec<String>,
    /// The template's scores of the registered hand, once registered.
    pub scores: Option<HandScores>,
    /// The registered hand's fine detail ([`fine_detail`]), once registered.
    pub fine_detail: Option<f64>,
    /// Whether the gate turned the film away.
    pub rejected: bool,
}

impl Verdict {
    /// `"ok"` or `"rejected"`.
    pub fn status(&self) -> &'static str {
        if self.rejected {
            "rejected"
        } else {
            "ok"
        }
    }

    /// Why the film was rejected: the outright reasons, else the doubts; empty when it was not.
    pub fn rejection_reasons(&self) -> Vec<String> {
        if !self.rejected {
            Vec::new()
        } else if !self.reasons.is_empty() {
            self.reasons.clone()
        } else {
            self.doubts.clone()
        }
    }

    /// An outright reason to reject.
    pub fn reject(&mut self, reason: String) {
        self.reasons.push(reason);
        self.rejected = true;
    }

    fn doubt(&mut self, text: String, note: bool, limit: usize) {
        if note {
            self.notes.push(text.clone());
        }
        self.doubts.push(text);
        if self.doubts.len() >= limit {
            self.rejected = true;
        }
    }
}

impl Gate {
    /// The gate with the shipped template and the default limits.
    pub fn shipped() -> Gate {
        Gate {
            template: HandTemplate::shipped(),
            limits: GateLimits::default(),
        }
    }

    /// Before the front half: the picture itself (size, blank).
    pub fn check_image(&self, img: &GrayImage) -> Verdict {
        let mut v = Verdict::default();
        let side = img.width.min(img.height);
        if side < self.limits.min_side_px {
            v.reject(format!(
                "the image is far too small: {}x{} pixels (a hand radiograph needs at least {} \
                 on its shorter side)",
                img.width, img.height, self.limits.min_side_px
            ));
        }
        let (lo, hi) = img
            .data
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| {
                (lo.min(x), hi.max(x))
            });
        if img.data.is_empty() || hi - lo < 0.02 {
            v.reject("the image is blank: one grey level throughout".into());
        }
        v
    }

    /// Before the front half: what the file says about how it was stored (a JPEG's quality).
    pub fn check_source(&self, meta: &RadiographMeta, v: &mut Verdict) {
        if meta.format != SourceFormat::Jpeg {
            return;
        }
        if let Some(q) = meta
            .jpeg_quality
            .filter(|&q| q < self.limits.min_jpeg_quality)
        {
            v.reject(format!(
                "the image is a JPEG of quality {q}: compressed too far to read the bones \
                 (at least {} needed; send the original, or a PNG or DICOM)",
                self.limits.min_jpeg_quality
            ));
        }
    }

    /// After the front half (mask, keypoints, registration): is there a readable hand?
    pub fn check_front(&self, img: &GrayImage, a: &Analysis, v: &mut Verdict) {
        let l = &self.limits;
        let fraction = a.mask.area() as f64 / (img.width * img.height).max(1) as f64;
        if fraction < l.min_mask_fraction {
            v.reject(format!(
                "no hand found: the hand mask covers {:.1}% of the image",
                fraction * 100.0
            ));
            return;
        }
        let [tip, _, capitate] = a.keypoints();
        let length = (tip[0] - capitate[0]).hypot(tip[1] - capitate[1]);
        if length < l.min_hand_px {
            v.reject(format!(
                "the hand is too small to read: {length:.0} pixels from middle fingertip to \
                 capitate (at least {:.0} needed)",
                l.min_hand_px
            ));
        }
        for region in [Region::B, Region::C] {
            let outside = outside_share(region, a, img);
            if outside > l.max_region_outside {
                v.reject(format!(
                    "the hand is cut off: {:.0}% of region {} ({}) lies outside the film",
                    outside * 100.0,
                    region.name(),
                    match region {
                        Region::B => "carpals",
                        _ => "metacarpals and proximal phalanges",
                    }
                ));
            }
        }
        // A whole-hand radiograph shows the film around the hand. A mask over the plausible
        // area or along more than two of the film's sides is a film cut down to the hand (or a
        // mask that took in the exposure field): no readable real training or validation film
        // has either, while 12 of the 39 real training films cropped by 20% on each side that
        // the other checks let through had one and were read 25 months off on average.
        let (m, ml) = (&a.mask_score, MaskLimits::default());
        if m.area_fraction > ml.max_area || m.border_sides > ml.max_border_sides {
            v.reject(format!(
                "the hand fills the film: its mask covers {:.0}% of the image and runs along {} \
                 of its sides (readable films: at most {:.0}% and {}); the film looks cut off",
                m.area_fraction * 100.0,
                m.border_sides,
                ml.max_area * 100.0,
                ml.max_border_sides
            ));
        }
        if v.rejected {
            return;
        }
        let s = a
            .scores
            .unwrap_or_else(|| self.template.scores(&a.hand, &a.to_canonical()));
        v.scores = Some(s);
        let detail = fine_detail(&a.hand, &a.to_canonical());
        v.fine_detail = Some(detail);
        if detail < l.min_fine_detail {
            v.reject(format!(
                "the film is too blurred to read the bones: fine detail {detail:.3} (readable \
                 films ≥ {:.3})",
                l.min_fine_detail
            ));
            return;
        }
        if detail > l.max_fine_detail {
            v.reject(format!(
                "the film is too noisy to read the bones: fine detail {detail:.2} (readable films \
                 ≤ {:.2})",
                l.max_fine_detail
            ));
            return;
        }
        let (black, white) = clipped_shares(img, &a.mask);
        if black.max(white) > l.max_clipped {
            let (share, tone) = if black >= white {
                (black, "pure black")
            } else {
                (white, "pure white")
            };
            v.reject(format!(
                "the exposure is clipped: {:.0}% of the hand is {tone} (readable films ≤ {:.0}%)",
                share * 100.0,
                l.max_clipped * 100.0
            ));
            return;
        }
        let limit = l.doubts_to_reject;
        if s.shape < self.template.shape_min {
            v.doubt(
                format!(
                    "the registered outline is unlike a hand's (shape {:.2}, real hands ≥ {:.2})",
                    s.shape, self.template.shape_min
                ),
                true,
                limit,
            );
        }
        if s.look < self.template.look_min {
            v.doubt(
                format!(
                    "the registered picture is unlike a hand radiograph (look {:.2}, real hands \
                     ≥ {:.2})",
                    s.look, self.template.look_min
                ),
                true,
                limit,
            );
        }
        if !a.mask_problems.is_empty() {
            v.doubt(
                format!("the hand mask looks wrong: {}", a.mask_problems.join("; ")),
                false,
                limit,
            );
        }
        if a.registration.thumb_residual > THUMB_WARNING_PX {
            v.doubt(
                format!(
                    "the thumb keypoint lands {:.0} px from its place after registration",
                    a.registration.thumb_residual
                ),
                false,
                limit,
            );
        }
        let margin = edge_margin(tip, img) / length.max(1.0);
        if margin < l.min_fingertip_margin {
            v.doubt(
                "the middle fingertip lies at the film's edge: the fingers may be cut off".into(),
                true,
                limit,
            );
        }
    }
}

impl Gate {
    /// After the nets: whether their answers agree enough to give one age. Members that
    /// disagree over [`SPREAD_WARNING_MONTHS`] are a doubt, which with one doubt of the front
    /// half rejects: of 300 real training films cropped by 20% on each side, one read 85 months
    /// off had a thumb keypoint far from its place and an SD of 28.7; no readable real training
    /// film among 300 has both (two have an SD over 24 and no other doubt).
    pub fn check_prediction(&self, p: &Prediction, v: &mut Verdict) {
        if p.spread_months > SPREAD_WARNING_MONTHS
            && p.spread_months <= self.limits.max_spread_months
        {
            v.doubt(
                format!(
                    "the nets disagree: SD {:.1} months between members",
                    p.spread_months
                ),
                false,
                self.limits.doubts_to_reject,
            );
        }
        if p.spread_months > self.limits.max_spread_months {
            v.reject(format!(
                "the nets disagree too much to give one age: SD {:.0} months between members \
                 (readable films ≤ {:.0}); the regions cut from this film are unlike those of a \
                 whole, readable hand",
                p.spread_months, self.limits.max_spread_months
            ));
        }
    }
}

/// The shares of the hand mask's pixels that are pure black and pure white (0 and 255 in 8
/// bits): a clipped exposure. Zeros when the mask is empty.
pub fn clipped_shares(img: &GrayImage, mask: &Mask) -> (f64, f64) {
    let (mut n, mut black, mut white) = (0usize, 0usize, 0usize);
    for (&v, &m) in img.data.iter().zip(&mask.data) {
        if m {
            n += 1;
            black += usize::from(v <= 0.5 / 255.0);
            white += usize::from(v >= 254.5 / 255.0);
        }
    }
    if n == 0 {
        return (0.0, 0.0);
    }
    (black as f64 / n as f64, white as f64 / n as f64)
}

/// How far a point lies inside the film, to its nearest edge (pixels; negative outside).
fn edge_margin(p: [f64; 2], img: &GrayImage) -> f64 {
    let (w, h) = (img.width as f64 - 1.0, img.height as f64 - 1.0);
    p[0].min(p[1]).min(w - p[0]).min(h - p[1])
}

/// The share of a region's canonical box that lies outside the film (sampled on a 16x16 grid).
fn outside_share(region: Region, a: &Analysis, img: &GrayImage) -> f64 {
    let Some(back) = a.to_canonical().inverse() else {
        return 1.0;
    };
    let [x0, y0, x1, y1] = region.canonical_box();
    let n = 16;
    let mut outside = 0;
    for i in 0..n {
        for j in 0..n {
            let x = x0 + (x1 - x0) * (i as f64 + 0.5) / n as f64;
            let y = y0 + (y1 - y0) * (j as f64 + 0.5) / n as f64;
            let (sx, sy) = back.apply(x, y);
            if sx < 0.0 || sy < 0.0 || sx >= img.width as f64 || sy >= img.height as f64 {
                outside += 1;
            }
        }
    }
    outside as f64 / (n * n) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_and_blank_images_are_rejected_before_anything_runs() {
        let gate = Gate::shipped();
        let v = gate.check_image(&GrayImage::new(120, 90, 0.3));
        assert!(v.rejected);
        assert_eq!(v.reasons.len(), 2, "{:?}", v.reasons);
        assert!(v.reasons[0].contains("120x90") && v.reasons[1].contains("blank"));
        let mut ramp = GrayImage::new(400, 500, 0.0);
        for (i, x) in ramp.data.iter_mut().enumerate() {
            *x = (i % 400) as f32 / 400.0;
        }
        let v = gate.check_image(&ramp);
        assert!(!v.rejected && v.reasons.is_empty() && v.status() == "ok");
    }

    #[test]
    fn clipping_is_the_share_of_the_hand_at_pure_black_or_white() {
        let mut img = GrayImage::new(10, 10, 0.5);
        let mut mask = Mask::new(10, 10);
        for y in 0..10 {
            for x in 0..5 {
                mask.data[y * 10 + x] = true;
            }
        }
        assert_eq!(clipped_shares(&img, &mask), (0.0, 0.0));
        // Black outside the hand does not count; inside it does.
        for y in 0..10 {
            img.data[y * 10 + 9] = 0.0;
            img.data[y * 10] = 0.0;
            img.data[y * 10 + 1] = 1.0;
        }
        let (black, white) = clipped_shares(&img, &mask);
        assert!((black - 0.2).abs() < 1e-9 && (white - 0.2).abs() < 1e-9);
        assert_eq!(clipped_shares(&img, &Mask::new(10, 10)), (0.0, 0.0));
    }

    #[test]
    fn a_very_low_quality_jpeg_is_rejected_before_anything_runs() {
        use boneage_imaging::io::Photometric;
        use std::path::Path;
        let gate = Gate::shipped();
        let mut meta = RadiographMeta::new(
            Path::new("a.jpg"),
            SourceFormat::Jpeg,
            8,
            Photometric::Monochrome2,
        );
        for (q, rejected) in [
            (Some(8), true),
            (Some(15), false),
            (Some(90), false),
            (None, false),
        ] {
            meta.jpeg_quality = q;
            let mut v = Verdict::default();
            gate.check_source(&meta, &mut v);
            assert_eq!(v.rejected, rejected, "{q:?}");
        }
        meta.jpeg_quality = Some(8);
        let mut v = Verdict::default();
        gate.check_source(&meta, &mut v);
        assert!(
            v.reasons[0].contains("JPEG of quality 8"),
            "{:?}",
            v.reasons
        );
        // Only a JPEG's quality counts.
        meta.format = SourceFormat::Png;
        let mut v = Verdict::default();
        gate.check_source(&meta, &mut v);
        assert!(!v.rejected);
    }

    #[test]
    fn members_that_disagree_far_more_than_on_real_films_give_no_age() {
        let gate = Gate::shipped();
        let p = |spread_months| Prediction {
            bone_age_months: 100.0,
            spread_months,
            by_region: Default::default(),
            by_head: Default::default(),
            members: Vec::new(),
            tta: 1,
            interval_months: None,
        };
        let mut v = Verdict::default();
        gate.check_prediction(&p(26.1), &mut v);
        assert!(!v.rejected, "the most of the real films");
        assert_eq!(v.doubts.len(), 1, "over 24 months it is a doubt");
        // With a doubt of the front half it rejects.
        let mut v = Verdict::default();
        v.doubt(
            "the thumb keypoint lands 305 px from its place".into(),
            false,
            2,
        );
        gate.check_prediction(&p(20.0), &mut v);
        assert!(!v.rejected, "an SD of 20 months is no doubt");
        gate.check_prediction(&p(28.7), &mut v);
        assert!(v.rejected);
        assert!(
            v.rejection_reasons()[1].contains("SD 28.7"),
            "{:?}",
            v.doubts
        );
        gate.check_prediction(&p(53.9), &mut v);
        assert!(v.rejected);
        assert!(v.reasons[0].contains("SD 54 months"), "{:?}", v.reasons);
    }

    #[test]
    fn two_doubts_reject_and_one_only_warns() {
        let mut v = Verdict::default();
        v.doubt("first".into(), true, 2);
        assert!(!v.rejected && v.rejection_reasons().is_empty());
        v.doubt("second".into(), false, 2);
        assert!(v.rejected);
        assert_eq!(v.rejection_reasons(), vec!["first", "second"]);
        assert_eq!(v.notes, vec!["first"]);
        assert_eq!(v.status(), "rejected");
    }
}
