//! Per-image quality flags for a hand radiograph: exposure (too dark, too bright, low
//! contrast), a likely inverted grey scale, bright marker/label components outside the hand,
//! and an estimate of the hand's rotation.
//!
//! Everything is measured on a copy shrunk to [`QualityConfig::analysis_size`] pixels on its
//! longest side, so a 2000x2500 radiograph costs about as much as a thumbnail.
//!
//! On a normal (MONOCHROME2) radiograph air is the commonest grey level and darker than the
//! palm; when it is brighter the image is likely inverted. The hand is the largest component
//! above Otsu's threshold (split again when it swallows most of the image, as a light
//! background does), holes filled. Markers are very bright blobs outside the hand, grouped;
//! thin bright strips along the border are collimation.

use crate::components::{fill_holes_smaller_than, label};
use crate::gray::GrayImage;
use crate::threshold::{histogram, histogram_quantile, otsu_from_histogram};
use serde::Serialize;
use std::fmt;

/// Thresholds of the quality check; defaults calibrated on real RSNA radiographs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityConfig {
    /// Longest side of the analysis copy, pixels. Default 256.
    pub analysis_size: usize,
    /// "Too dark" when the 99th percentile (bone) is below this. Default 0.35.
    pub dark_p99: f32,
    /// "Too bright" when the 5th percentile (background) is above this. Default 0.5.
    pub bright_p05: f32,
    /// "Low contrast" when the 1st-99th percentile range is below this. Default 0.3.
    pub low_contrast_range: f32,
    /// "Likely inverted" when the commonest grey level (air) is brighter than the median of
    /// the image's central box (the palm) by more than this. Default 0.02.
    pub inverted_margin: f32,
    /// Very bright components outside the hand count as markers/labels from this fraction of
    /// the image area up to [`QualityConfig::marker_max_area`]. Default 0.0003.
    pub marker_min_area: f32,
    /// Largest area fraction for a marker/label component. Default 0.08.
    pub marker_max_area: f32,
    /// "Rotated" when the estimated hand axis is more than this many degrees from vertical.
    /// Default 20.
    pub rotation_flag_deg: f64,
    /// "Small image" below this many pixels on the shortest side. Default 256.
    pub min_side: usize,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            analysis_size: 256,
            dark_p99: 0.35,
            bright_p05: 0.5,
            low_contrast_range: 0.3,
            inverted_margin: 0.02,
            marker_min_area: 0.0003,
            marker_max_area: 0.08,
            rotation_flag_deg: 20.0,
            min_side: 256,
        }
    }
}

/// One quality problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityFlag {
    /// The bone is too dark: the 99th percentile is below `dark_p99`.
    TooDark,
    /// The background is too bright: the 5th percentile is above `bright_p05`.
    TooBright,
    /// The 1st–99th percentile range is below `low_contrast_range`.
    LowContrast,
    /// Air looks brighter than the palm: the grey scale is probably inverted.
    LikelyInverted,
    /// Bright components outside the hand (lead markers, labels).
    Markers,
    /// Bright strips along the border: collimation edges.
    Collimation,
    /// The hand's axis is more than `rotation_flag_deg` from vertical.
    Rotated,
    /// The shortest side is under `min_side` pixels.
    SmallImage,
    /// The hand (largest bright component) covers under 5% of the image.
    NoHand,
}

impl QualityFlag {
    /// Every flag, in report order.
    pub const ALL: [QualityFlag; 9] = [
        QualityFlag::TooDark,
        QualityFlag::TooBright,
        QualityFlag::LowContrast,
        QualityFlag::LikelyInverted,
        QualityFlag::Markers,
        QualityFlag::Collimation,
        QualityFlag::Rotated,
        QualityFlag::SmallImage,
        QualityFlag::NoHand,
    ];

    /// The flag's name in reports (`too_dark`, ...).
    pub fn name(self) -> &'static str {
        match self {
            QualityFlag::TooDark => "too_dark",
            QualityFlag::TooBright => "too_bright",
            QualityFlag::LowContrast => "low_contrast",
            QualityFlag::LikelyInverted => "likely_inverted",
            QualityFlag::Markers => "markers",
            QualityFlag::Collimation => "collimation",
            QualityFlag::Rotated => "rotated",
            QualityFlag::SmallImage => "small_image",
            QualityFlag::NoHand => "no_hand",
        }
    }
}

impl fmt::Display for QualityFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Measurements and flags for one image. Intensities are in `[0, 1]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityReport {
    /// Mean grey level.
    pub mean: f32,
    /// Standard deviation of the grey levels.
    pub sd: f32,
    /// 1st percentile.
    pub p01: f32,
    /// 5th percentile.
    pub p05: f32,
    /// Median.
    pub p50: f32,
    /// 99th percentile.
    pub p99: f32,
    /// Otsu threshold between hand and background.
    pub otsu: f32,
    /// Area of the hand (largest bright component, holes filled) over the image area.
    pub hand_area_fraction: f32,
    /// Fraction of the outer border ring that is brighter than the hand threshold.
    pub border_bright_fraction: f32,
    /// Commonest grey level (taken as air), before any inversion.
    pub air_level: f32,
    /// Median of the image's central box (the palm, usually), before any inversion.
    pub centre_level: f32,
    /// Bright components outside the hand big enough to be a marker or label.
    pub marker_components: usize,
    /// Bounding boxes of those components in source pixels `[x0, y0, x1, y1]`.
    pub marker_boxes: Vec<[usize; 4]>,
    /// Angle of the hand's long axis from vertical, degrees, positive when the fingers lean
    /// to the right (clockwise on screen); `None` when the hand's shape gives no clear axis.
    pub rotation_deg: Option<f64>,
    /// The problems found.
    pub flags: Vec<QualityFlag>,
}

/// Measures one image.
pub fn assess(img: &GrayImage, cfg: &QualityConfig) -> QualityReport {
    assess_with_hand(img, cfg).0
}

/// The hand outline found by the quality check, at the analysis size.
#[derive(Debug, Clone, PartialEq)]
pub struct HandMask {
    /// Columns (the analysis size).
    pub width: usize,
    /// Rows (the analysis size).
    pub height: usize,
    /// `width * height`, row-major, true on the hand.
    pub mask: Vec<bool>,
}

/// Measures one image and also returns the hand mask it found (to draw or check).
pub fn assess_with_hand(img: &GrayImage, cfg: &QualityConfig) -> (QualityReport, HandMask) {
    let (w, h) = img.fit_within(cfg.analysis_size, cfg.analysis_size);
    let small = if w < img.width {
        img.resize(w, h)
    } else {
        img.clone()
    };
    let (w, h) = (small.width, small.height);
    let n = (w * h) as f32;
    let hist = histogram(&small, None);
    let p01 = histogram_quantile(&hist, 0.01);
    let p05 = histogram_quantile(&hist, 0.05);
    let p50 = histogram_quantile(&hist, 0.50);
    let p99 = histogram_quantile(&hist, 0.99);
    let mean = small.data.iter().sum::<f32>() / n;
    let sd = (small
        .data
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum::<f32>()
        / n)
        .sqrt();

    // Inversion: air is the commonest grey level and, on a normal radiograph, darker than the
    // middle of the image (the palm). Collimation frames do not move the mode.
    let air = histogram_mode(&hist);
    let centre = centre_median(&small);
    let inverted = air > centre + cfg.inverted_margin;
    let work = if inverted {
        GrayImage::from_vec(w, h, small.data.iter().map(|v| 1.0 - v).collect())
    } else {
        small.clone()
    };

    // Hand: largest component above Otsu's threshold, found after blanking collimated border
    // lines. When the component swallows most of the image (a light background) or fills its
    // bounding box (an exposure field), split again above the first threshold. Only small holes are filled: a hand has no large enclosed
    // background.
    let t0 = otsu_from_histogram(&histogram(&work, None));
    let (work, collimated) = blank_collimation(&work, t0);
    let valid: Vec<bool> = work.data.iter().map(|v| *v >= 0.0).collect();
    let mut t = otsu_from_histogram(&histogram(&work, Some(&valid)));
    let mut hand_mask = vec![false; w * h];
    for _ in 0..3 {
        let fg: Vec<bool> = work.data.iter().map(|&v| v > t).collect();
        let (labels, comps) = label(&fg, w, h);
        let Some(hand) = comps.first() else { break };
        if (hand.area as f32) < 0.05 * n && hand_mask.iter().any(|b| *b) {
            // The split lost the hand (a faint hand in an exposure field): keep the field.
            break;
        }
        hand_mask = labels.iter().map(|&l| l == hand.label).collect();
        // A hand with its fingers never fills most of its bounding box; a field of uniform
        // exposure does.
        let bbox_area = (hand.bbox[2] - hand.bbox[0] + 1) * (hand.bbox[3] - hand.bbox[1] + 1);
        if (hand.area as f32) < 0.6 * n && (hand.area as f32) < 0.85 * bbox_area as f32 {
            break;
        }
        let t_next = otsu_from_histogram(&histogram(&work, Some(&fg)));
        if t_next <= t {
            break;
        }
        t = t_next;
    }
    let hand_mask = fill_holes_smaller_than(&hand_mask, w, h, (0.02 * n) as usize);
    let hand_area_fraction = hand_mask.iter().filter(|b| **b).count() as f32 / n;
    let rotation_deg = principal_axis_deg(&hand_mask, w, h);

    // Border ring, 3% of the shorter side thick: how much of it is brighter than the hand
    // threshold (collimation or an inverted background).
    let ring = ((w.min(h) as f32 * 0.03).ceil() as usize).max(1);
    let in_ring = |x: usize, y: usize| x < ring || y < ring || x >= w - ring || y >= h - ring;
    let (mut ring_n, mut ring_bright) = (0usize, 0usize);
    for y in 0..h {
        for x in 0..w {
            if in_ring(x, y) {
                ring_n += 1;
                ring_bright += (small.get(x, y) > t) as usize;
            }
        }
    }
    let border_bright_fraction = ring_bright as f32 / ring_n.max(1) as f32;

    let (marker_boxes, strips) = find_markers(&work, &hand_mask, t, cfg);
    let collimation = strips || collimated;
    let sx = img.width as f64 / w as f64;
    let sy = img.height as f64 / h as f64;
    let marker_boxes: Vec<[usize; 4]> = marker_boxes
        .iter()
        .map(|b| {
            [
                (b[0] as f64 * sx) as usize,
                (b[1] as f64 * sy) as usize,
                ((((b[2] + 1) as f64 * sx) as usize).min(img.width)).saturating_sub(1),
                ((((b[3] + 1) as f64 * sy) as usize).min(img.height)).saturating_sub(1),
            ]
        })
        .collect();

    let mut flags = Vec::new();
    if hand_area_fraction < 0.05 {
        flags.push(QualityFlag::NoHand);
    }
    if p99 < cfg.dark_p99 {
        flags.push(QualityFlag::TooDark);
    }
    if p05 > cfg.bright_p05 && !inverted {
        flags.push(QualityFlag::TooBright);
    }
    if p99 - p01 < cfg.low_contrast_range {
        flags.push(QualityFlag::LowContrast);
    }
    if inverted {
        flags.push(QualityFlag::LikelyInverted);
    }
    if !marker_boxes.is_empty() {
        flags.push(QualityFlag::Markers);
    }
    if collimation {
        flags.push(QualityFlag::Collimation);
    }
    if rotation_deg.is_some_and(|r| r.abs() > cfg.rotation_flag_deg) {
        flags.push(QualityFlag::Rotated);
    }
    if img.width.min(img.height) < cfg.min_side {
        flags.push(QualityFlag::SmallImage);
    }
    let report = QualityReport {
        mean,
        sd,
        p01,
        p05,
        p50,
        p99,
        otsu: t,
        hand_area_fraction,
        border_bright_fraction,
        air_level: air,
        centre_level: centre,
        marker_components: marker_boxes.len(),
        marker_boxes,
        rotation_deg,
        flags,
    };
    (
        report,
        HandMask {
            width: w,
            height: h,
            mask: hand_mask,
        },
    )
}

/// Collimation: border lines (rows or columns, scanning inward up to 15% of the size) that are
/// mostly (> 70%) brighter than `t` are exposure-free film, not anatomy. Returns a copy with
/// those lines set to -1 (excluded from thresholds and never foreground) and whether any were
/// found.
pub(crate) fn blank_collimation(img: &GrayImage, t: f32) -> (GrayImage, bool) {
    let (w, h) = (img.width, img.height);
    let mut out = img.clone();
    let mut found = false;
    let row_bright = |y: usize| (0..w).filter(|&x| img.get(x, y) > t).count() as f32 / w as f32;
    let col_bright = |x: usize| (0..h).filter(|&y| img.get(x, y) > t).count() as f32 / h as f32;
    let (lim_y, lim_x) = ((h * 15 / 100).max(1), (w * 15 / 100).max(1));
    let mut blank_rows = |range: &mut dyn Iterator<Item = usize>, out: &mut GrayImage| {
        for y in range {
            if row_bright(y) <= 0.7 {
                break;
            }
            found = true;
            for x in 0..w {
                out.set(x, y, -1.0);
            }
        }
    };
    blank_rows(&mut (0..lim_y), &mut out);
    blank_rows(&mut (h - lim_y..h).rev(), &mut out);
    let mut found_cols = false;
    let mut blank_cols = |range: &mut dyn Iterator<Item = usize>, out: &mut GrayImage| {
        for x in range {
            if col_bright(x) <= 0.7 {
                break;
            }
            found_cols = true;
            for y in 0..h {
                out.set(x, y, -1.0);
            }
        }
    };
    blank_cols(&mut (0..lim_x), &mut out);
    blank_cols(&mut (w - lim_x..w).rev(), &mut out);
    (out, found || found_cols)
}

/// Whether an image looks inverted (air brighter than the palm), with the default margin —
/// the same test as the `likely_inverted` flag, cheap enough to run on every image a model
/// reads.
pub fn looks_inverted(img: &GrayImage) -> bool {
    let cfg = QualityConfig::default();
    let (w, h) = img.fit_within(cfg.analysis_size, cfg.analysis_size);
    let small = if w < img.width {
        img.resize(w, h)
    } else {
        img.clone()
    };
    histogram_mode(&histogram(&small, None)) > centre_median(&small) + cfg.inverted_margin
}

/// The most common grey level, from a histogram smoothed over 9 bins.
fn histogram_mode(h: &[u64; crate::threshold::BINS]) -> f32 {
    let n = h.len();
    let (mut best, mut best_i) = (0u64, 0usize);
    for i in 0..n {
        let s: u64 = h[i.saturating_sub(4)..(i + 5).min(n)].iter().sum();
        if s > best {
            best = s;
            best_i = i;
        }
    }
    best_i as f32 / (n - 1) as f32
}

/// Median of the central box (middle 40% in each direction), where the palm usually lies.
fn centre_median(img: &GrayImage) -> f32 {
    let (w, h) = (img.width, img.height);
    let mut v: Vec<f32> = Vec::new();
    for y in h * 3 / 10..(h * 7 / 10).max(h * 3 / 10 + 1).min(h) {
        for x in w * 3 / 10..(w * 7 / 10).max(w * 3 / 10 + 1).min(w) {
            v.push(img.get(x, y));
        }
    }
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

/// Markers and labels: very bright components (brighter than nearly all of the hand, as lead
/// letters are) outside the hand, grouped when close (the letters of one marker). Thin bright
/// strips along the border are collimation, reported separately. Boxes are in `work` pixels.
fn find_markers(
    work: &GrayImage,
    hand: &[bool],
    t: f32,
    cfg: &QualityConfig,
) -> (Vec<[usize; 4]>, bool) {
    let (w, h) = (work.width, work.height);
    let n = (w * h) as f32;
    let hand_hist = histogram(work, Some(hand));
    let level = histogram_quantile(&hand_hist, 0.98).max(t);
    let bright: Vec<bool> = work.data.iter().map(|&v| v > level).collect();
    let (_, comps) = label(&bright, w, h);
    let mut boxes: Vec<[usize; 4]> = Vec::new();
    let mut collimation = false;
    for c in &comps {
        let a = c.area as f32 / n;
        let (bw, bh) = (c.bbox[2] - c.bbox[0] + 1, c.bbox[3] - c.bbox[1] + 1);
        let touches = c.bbox[0] == 0 || c.bbox[1] == 0 || c.bbox[2] + 1 == w || c.bbox[3] + 1 == h;
        if touches && bw.max(bh) >= 6 * bw.min(bh) && bw.max(bh) > w.min(h) / 4 {
            collimation = true;
            continue;
        }
        if a < cfg.marker_min_area || a > cfg.marker_max_area {
            continue;
        }
        // Inside (or touching) the hand outline: bone, not a marker.
        let mut inside = 0usize;
        for y in c.bbox[1]..=c.bbox[3] {
            for x in c.bbox[0]..=c.bbox[2] {
                inside += hand[y * w + x] as usize;
            }
        }
        if inside as f32 > 0.2 * (bw * bh) as f32 {
            continue;
        }
        boxes.push(c.bbox);
    }
    // Group boxes closer than 4% of the image's shorter side.
    let gap = (w.min(h) as f32 * 0.04) as isize;
    let mut merged = true;
    while merged {
        merged = false;
        'outer: for i in 0..boxes.len() {
            for j in i + 1..boxes.len() {
                let (a, b) = (boxes[i], boxes[j]);
                let dx = (b[0] as isize - a[2] as isize).max(a[0] as isize - b[2] as isize);
                let dy = (b[1] as isize - a[3] as isize).max(a[1] as isize - b[3] as isize);
                if dx <= gap && dy <= gap {
                    boxes[i] = [
                        a[0].min(b[0]),
                        a[1].min(b[1]),
                        a[2].max(b[2]),
                        a[3].max(b[3]),
                    ];
                    boxes.remove(j);
                    merged = true;
                    break 'outer;
                }
            }
        }
    }
    (boxes, collimation)
}

/// Angle of a mask's principal (long) axis from vertical in degrees, positive clockwise on
/// screen (y down); `None` for an empty or nearly round mask.
pub fn principal_axis_deg(mask: &[bool], w: usize, h: usize) -> Option<f64> {
    let (mut n, mut sx, mut sy) = (0f64, 0f64, 0f64);
    for y in 0..h {
        for x in 0..w {
            if mask[y * w + x] {
                n += 1.0;
                sx += x as f64;
                sy += y as f64;
            }
        }
    }
    if n < 10.0 {
        return None;
    }
    let (cx, cy) = (sx / n, sy / n);
    let (mut mxx, mut myy, mut mxy) = (0f64, 0f64, 0f64);
    for y in 0..h {
        for x in 0..w {
            if mask[y * w + x] {
                let (dx, dy) = (x as f64 - cx, y as f64 - cy);
                mxx += dx * dx;
                myy += dy * dy;
                mxy += dx * dy;
            }
        }
    }
    let (mxx, myy, mxy) = (mxx / n, myy / n, mxy / n);
    // Eigenvalues of the covariance: a clear axis needs an elongated shape.
    let tr = mxx + myy;
    let det = mxx * myy - mxy * mxy;
    let disc = ((tr * tr / 4.0) - det).max(0.0).sqrt();
    let (l1, l2) = (tr / 2.0 + disc, tr / 2.0 - disc);
    if l2 <= 0.0 || l1 / l2 < 1.15 {
        return None;
    }
    // Angle of the major axis from +x (y down), then from vertical.
    let theta = 0.5 * (2.0 * mxy).atan2(mxx - myy);
    let mut deg = theta.to_degrees() - 90.0;
    while deg <= -90.0 {
        deg += 180.0;
    }
    while deg > 90.0 {
        deg -= 180.0;
    }
    // With y down, a line leaning right (top to the right) has theta in (-90, 0), which the
    // shift above maps to a positive angle.
    Some(deg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A crude hand: a bright vertical bar (forearm + palm + fingers) on dark air, with a small
    /// bright square (marker) in a corner.
    fn synthetic(angle_deg: f64, invert: bool) -> GrayImage {
        let (w, h) = (200, 250);
        let mut img = GrayImage::new(w, h, 0.1);
        let a = angle_deg.to_radians();
        let (cx, cy) = (100.0, 140.0);
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (x as f64 - cx, y as f64 - cy);
                // Rotate the point back into the bar's frame (clockwise positive on screen).
                let u = dx * a.cos() + dy * a.sin();
                let v = -dx * a.sin() + dy * a.cos();
                if u.abs() < 30.0 && v.abs() < 90.0 {
                    img.set(x, y, 0.6 + 0.2 * ((x / 7 + y / 5) % 2) as f32);
                }
            }
        }
        for y in 10..22 {
            for x in 10..22 {
                img.set(x, y, 0.95);
            }
        }
        if invert {
            img.data.iter_mut().for_each(|v| *v = 1.0 - *v);
        }
        img
    }

    #[test]
    fn upright_hand_with_marker() {
        let q = assess(&synthetic(0.0, false), &QualityConfig::default());
        assert!(q.rotation_deg.unwrap().abs() < 3.0, "{q:?}");
        assert_eq!(q.marker_components, 1, "{q:?}");
        assert!(q.flags.contains(&QualityFlag::Markers));
        assert!(!q.flags.contains(&QualityFlag::LikelyInverted));
        assert!(q.flags.contains(&QualityFlag::SmallImage));
    }

    #[test]
    fn rotation_sign_and_size() {
        let q = assess(&synthetic(25.0, false), &QualityConfig::default());
        let r = q.rotation_deg.unwrap();
        assert!((r - 25.0).abs() < 4.0, "{r}");
        assert!(q.flags.contains(&QualityFlag::Rotated));
        let r = assess(&synthetic(-15.0, false), &QualityConfig::default())
            .rotation_deg
            .unwrap();
        assert!((r + 15.0).abs() < 4.0, "{r}");
    }

    #[test]
    fn inverted_and_exposure_flags() {
        let q = assess(&synthetic(0.0, true), &QualityConfig::default());
        assert!(q.flags.contains(&QualityFlag::LikelyInverted), "{q:?}");
        let dark = GrayImage::from_vec(
            300,
            300,
            synthetic(0.0, false)
                .resize(300, 300)
                .data
                .iter()
                .map(|v| v * 0.3)
                .collect(),
        );
        let q = assess(&dark, &QualityConfig::default());
        assert!(q.flags.contains(&QualityFlag::TooDark), "{q:?}");
        assert!(q.flags.contains(&QualityFlag::LowContrast), "{q:?}");
        let flat = GrayImage::new(300, 300, 0.5);
        let q = assess(&flat, &QualityConfig::default());
        assert!(q.flags.contains(&QualityFlag::LowContrast), "{q:?}");
    }
}
