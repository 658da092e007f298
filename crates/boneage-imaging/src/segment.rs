//! The classical hand mask that seeds positive mining (no network).
//!
//! The hand's outline is the skin: soft tissue against air, far fainter than bone. Steps, on a
//! copy at most [`BOOTSTRAP_SIZE`] pixels on its longer side:
//!
//! 1. the grey scale is turned back if it looks inverted, and collimated (bright, unexposed)
//!    border lines are left out;
//! 2. the air's level is flattened: a quadratic surface fitted to the air by sigma clipping is
//!    taken away (heel effect, scatter glow, a light plate behind the hand);
//! 3. Otsu's method splits twice — bone and dense tissue from the rest, then, among the darker
//!    pixels, tissue from air — and the mask grows from that split into fainter pixels (finger
//!    tips) down to the air's own spread, within a short reach;
//! 4. a component that fills its bounding box is an exposure field: the split is repeated
//!    inside it;
//! 5. an opening by reconstruction cuts thin bridges to markers and labels, the largest
//!    component is kept, a small closing smooths the edge and holes are filled; the mask is
//!    resampled to the input's size with smooth edges.
//!
//! It is right on 19 of the 20 real RSNA samples and on most phantoms; positive mining keeps
//! only the masks that pass [`crate::mask::MaskScore`]'s check.

use crate::components::{label, largest_component};
use crate::gray::GrayImage;
use crate::mask::Mask;
use crate::morphology::{close, dilate, erode, open};
use crate::quality::{blank_collimation, looks_inverted};
use crate::threshold::{histogram, otsu_from_histogram};

/// Size (longer side) at which the bootstrap works.
pub const BOOTSTRAP_SIZE: usize = 384;

/// A classical hand mask and what was seen while finding it.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    /// Same size as the input, `true` on the hand.
    pub mask: Mask,
    /// The grey scale looked inverted (air bright); the mask is of the hand either way.
    pub inverted: bool,
    /// The hand lay inside an exposure field that was split off first.
    pub exposure_field: bool,
}

/// Finds the hand in `img` without a network.
pub fn bootstrap_mask(img: &GrayImage) -> Bootstrap {
    let (w, h) = img.fit_within(BOOTSTRAP_SIZE, BOOTSTRAP_SIZE);
    let mut small = if w < img.width {
        img.resize(w, h)
    } else {
        img.clone()
    };
    let (w, h) = (small.width, small.height);
    let inverted = looks_inverted(&small);
    if inverted {
        small.data.iter_mut().for_each(|v| *v = 1.0 - *v);
    }
    let t0 = otsu_from_histogram(&histogram(&small, None));
    let (mut work, _) = blank_collimation(&small, t0);
    let valid: Vec<bool> = work.data.iter().map(|v| *v >= 0.0).collect();
    // Uneven exposure (heel effect, scatter) moves the air's level across the image: fit a
    // smooth surface to the air and take it away before splitting.
    flatten_air(&mut work, &valid);
    let mut raw = skin_split(&work, &valid, false);
    // Finger tips: thin soft tissue is fainter than the palm, so the mask grows into pixels
    // above a lower threshold, but only within a short distance of what Otsu's split found
    // (bones and palm): a glow of scatter or a heel-effect ramp in the air above the lower
    // threshold cannot run off across the image.
    let reach = ((w.min(h) as f32 * 0.03).round() as usize).max(1);
    let near = dilate(&raw, w, h, reach);
    let faint = skin_split(&work, &valid, true);
    raw = faint.iter().zip(&near).map(|(f, n)| *f && *n).collect();
    let mut exposure_field = false;
    for _ in 0..2 {
        let (labels, comps) = label(&raw, w, h);
        let Some(c) = comps.first() else { break };
        let bbox = (c.bbox[2] - c.bbox[0] + 1) * (c.bbox[3] - c.bbox[1] + 1);
        if (c.area as f64) < 0.85 * bbox as f64 {
            break;
        }
        // An exposure field: look for the hand inside it, away from the field's edge.
        let field: Vec<bool> = labels.iter().map(|&l| l == c.label).collect();
        let inner = erode(&field, w, h, 2);
        let inside = skin_split(&work, &inner, true);
        if inside.iter().filter(|b| **b).count() < c.area / 20 {
            break;
        }
        exposure_field = true;
        raw = inside;
    }
    // Opening by reconstruction: the opening's largest piece, regrown inside the raw mask,
    // keeps the finger tips but not what hung on by a thin bridge.
    let r = ((w.min(h) as f32 * 0.012).round() as usize).max(1);
    let core = largest_component(&open(&raw, w, h, r), w, h);
    let grown = dilate(&core, w, h, r + 1);
    let kept: Vec<bool> = raw.iter().zip(&grown).map(|(a, b)| *a && *b).collect();
    let smooth = close(&largest_component(&kept, w, h), w, h, 1);
    let small_mask = Mask::from_vec(w, h, smooth).cleaned(0.02);
    Bootstrap {
        mask: small_mask.resize(img.width, img.height),
        inverted,
        exposure_field,
    }
}

/// Fits a quadratic surface `a + bx + cy + dx² + exy + fy²` to the air and subtracts it
/// (keeping the air's mean level). The air is found by sigma clipping: start from the darkest
/// 40% of the valid pixels, then refit to the pixels within 2.5 residual sds above the surface,
/// five times, so the hand (far above) drops out while a tilted or glowing background stays in.
fn flatten_air(img: &mut GrayImage, valid: &[bool]) {
    let (w, h) = (img.width, img.height);
    let hist = histogram(img, Some(valid));
    let q40 = crate::threshold::histogram_quantile(&hist, 0.4);
    let mut air: Vec<bool> = img
        .data
        .iter()
        .zip(valid)
        .map(|(&v, &ok)| ok && v <= q40)
        .collect();
    let mut surface = None;
    for _ in 0..5 {
        let Some(fit) = fit_quadratic(img, &air) else {
            return;
        };
        let (mut ss, mut n) = (0f64, 0usize);
        for k in 0..w * h {
            if air[k] {
                ss += ((img.data[k] - fit[k]) as f64).powi(2);
                n += 1;
            }
        }
        let sd = (ss / n.max(1) as f64).sqrt() as f32;
        air = (0..w * h)
            .map(|k| valid[k] && img.data[k] - fit[k] <= 2.5 * sd)
            .collect();
        surface = Some(fit);
    }
    let Some(surface) = surface else { return };
    let (sum, n) = (0..w * h)
        .filter(|&k| air[k])
        .fold((0f64, 0usize), |(s, n), k| (s + surface[k] as f64, n + 1));
    let level = (sum / n.max(1) as f64) as f32;
    for k in 0..w * h {
        if valid[k] {
            img.data[k] = (img.data[k] - surface[k] + level).clamp(0.0, 1.0);
        }
    }
}

/// Least-squares quadratic surface through the pixels of `img` where `on` is true (every
/// second row and column), evaluated everywhere; `None` with too few pixels (under 2% of the
/// image) or a singular system.
fn fit_quadratic(img: &GrayImage, on: &[bool]) -> Option<Vec<f32>> {
    let (w, h) = (img.width, img.height);
    let basis = |x: usize, y: usize| {
        let u = 2.0 * x as f64 / w as f64 - 1.0;
        let v = 2.0 * y as f64 / h as f64 - 1.0;
        [1.0, u, v, u * u, u * v, v * v]
    };
    let mut ata = [[0f64; 6]; 6];
    let mut atb = [0f64; 6];
    let mut n = 0usize;
    for y in (0..h).step_by(2) {
        for x in (0..w).step_by(2) {
            if !on[y * w + x] {
                continue;
            }
            let b = basis(x, y);
            let z = img.get(x, y) as f64;
            for i in 0..6 {
                atb[i] += b[i] * z;
                for j in 0..6 {
                    ata[i][j] += b[i] * b[j];
                }
            }
            n += 1;
        }
    }
    if n * 4 * 50 < w * h {
        return None;
    }
    let c = solve6(ata, atb)?;
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let b = basis(x, y);
            out.push((0..6).map(|i| c[i] * b[i]).sum::<f64>() as f32);
        }
    }
    Some(out)
}

/// Solves a 6x6 linear system by Gaussian elimination with partial pivoting.
fn solve6(mut a: [[f64; 6]; 6], mut b: [f64; 6]) -> Option<[f64; 6]> {
    for col in 0..6 {
        let piv = (col..6).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        for r in col + 1..6 {
            let f = a[r][col] / a[col][col];
            for k in col..6 {
                a[r][k] -= f * a[col][k];
            }
            b[r] -= f * b[col];
        }
    }
    let mut x = [0f64; 6];
    for r in (0..6).rev() {
        let s: f64 = (r + 1..6).map(|k| a[r][k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    Some(x)
}

/// Pixels of `img` (within `valid`) brighter than the air/soft-tissue threshold. Otsu's
/// threshold among the pixels below Otsu's threshold separates air from the palm, but thin
/// soft tissue (finger tips) is fainter than the palm: the threshold is lowered towards the
/// air's own spread, `mode + 4 sd` (the sd read off the dark side of the air peak), but kept
/// at least a fifth of the way from the air to that split. `faint: false` keeps Otsu's split
/// (a conservative first look, to find the air).
fn skin_split(img: &GrayImage, valid: &[bool], faint: bool) -> Vec<bool> {
    let hist = histogram(img, Some(valid));
    let t0 = otsu_from_histogram(&hist);
    let dark: Vec<bool> = img
        .data
        .iter()
        .zip(valid)
        .map(|(&v, &ok)| ok && v <= t0)
        .collect();
    let dark_hist = histogram(img, Some(&dark));
    let t1 = otsu_from_histogram(&dark_hist);
    let t = match air_level(&dark_hist) {
        Some((mode, sd)) if faint && mode < t1 => {
            (mode + 4.0 * sd).clamp(mode + 0.2 * (t1 - mode), t1)
        }
        _ => t1,
    };
    img.data
        .iter()
        .zip(valid)
        .map(|(&v, &ok)| ok && v > t)
        .collect()
}

/// The air peak of a histogram: its mode and the spread of its dark side (the distance from
/// the mode down to where the count falls to 61% of the peak, one sd for a Gaussian).
fn air_level(h: &[u64; crate::threshold::BINS]) -> Option<(f32, f32)> {
    let n = h.len();
    let (mode, &peak) = h.iter().enumerate().max_by_key(|(_, c)| **c)?;
    if peak == 0 {
        return None;
    }
    let mut k = mode;
    while k > 0 && h[k] as f64 > 0.6065 * peak as f64 {
        k -= 1;
    }
    let sd = ((mode - k).max(1)) as f32 / (n - 1) as f32;
    Some((mode as f32 / (n - 1) as f32, sd))
}

/// Whether a film is a negative, judged next to the hand: on a normal film the hand
/// attenuates and is brighter than the air right around it (a ring a 40th of the shorter side
/// wide outside `mask`), on a negative it is darker. Unlike the whole-film test
/// ([`looks_inverted`]: the most common grey against the centre), a wide light collimation
/// border or a film turned on a light background does not fool it. `None` when the mask or the
/// ring is too small to judge.
pub fn inverted_around(img: &GrayImage, mask: &Mask) -> Option<bool> {
    let (w, h) = (img.width, img.height);
    if mask.width != w || mask.height != h {
        return None;
    }
    let r = (w.min(h) / 40).max(2);
    // Every third pixel is enough to judge, so the ring is dilated only there.
    let grown = crate::morphology::dilate_every(&mask.data, w, h, r, 3);
    let (mut inside, mut ring) = (Vec::new(), Vec::new());
    for (i, &near) in (0..w * h).step_by(3).zip(&grown) {
        if mask.data[i] {
            inside.push(img.data[i]);
        } else if near {
            ring.push(img.data[i]);
        }
    }
    if inside.len() < 100 || ring.len() < 100 {
        return None;
    }
    let median = |v: &mut Vec<f32>| {
        let k = v.len() / 2;
        *v.select_nth_unstable_by(k, f32::total_cmp).1
    };
    Some(median(&mut ring) > median(&mut inside) + 0.02)
}

/// The hand as the later steps see it: the grey scale turned back if the film is a negative
/// ([`inverted_around`]), read at 8 bits (256 levels), CLAHE over the whole radiograph (16-bit
/// histograms), and black outside `mask`.
///
/// The 8-bit step makes the enhancement the same for every film whatever its bit depth or
/// history. With 65536 bins and OpenCV's clip limit (`2 x tile area / 65536`, at least 1 per
/// bin), an 8-bit film's 256 occupied bins are clipped hard and the mapping stays close to the
/// identity, while a film with continuous values (16-bit, resampled, rotated, noisy) fills the
/// bins thinly, escapes the clip and is fully equalised: the same hand rotated by 10° once
/// read 13 months older (`boneage stress`). Every net here was trained on 8-bit films.
pub fn hand_image(img: &GrayImage, mask: &Mask, cfg: &crate::clahe::ClaheConfig) -> GrayImage {
    let inverted = inverted_around(img, mask).unwrap_or_else(|| looks_inverted(img));
    // Rounded half away from zero as `f32::round`, computed without a libm call: adding one
    // half to the level in f64 is exact, so truncating it rounds the same way.
    let levels: Vec<u8> = img
        .data
        .iter()
        .map(|&v| {
            let v = if inverted { 1.0 - v } else { v };
            ((v.clamp(0.0, 1.0) * 255.0) as f64 + 0.5) as u8
        })
        .collect();
    let eq = crate::clahe::clahe_u8_as_u16(&levels, img.width, img.height, cfg);
    assert_eq!((mask.width, mask.height), (img.width, img.height));
    GrayImage::from_vec(
        img.width,
        img.height,
        eq.iter()
            .zip(&mask.data)
            .map(|(&v, &m)| if m { v as f32 / 65535.0 } else { 0.0 })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A film of 8-bit levels: a bright hand-like bar on a darker, graded background.
    fn film() -> GrayImage {
        let (w, h) = (96, 128);
        let data = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                let v = if (30..66).contains(&x) && (20..110).contains(&y) {
                    0.55 + 0.002 * y as f32
                } else {
                    0.15 + 0.001 * x as f32
                };
                (v * 255.0).round() / 255.0
            })
            .collect();
        GrayImage::from_vec(w, h, data)
    }

    #[test]
    fn levels_round_as_f32_round_does() {
        for v in [
            0.0f32,
            0.5 / 255.0,
            0.49999997 / 255.0,
            127.5 / 255.0,
            0.3,
            1.0,
        ] {
            for x in [
                v,
                f32::from_bits(v.to_bits() + 1),
                f32::from_bits(v.to_bits().max(1) - 1),
            ] {
                let level = x.clamp(0.0, 1.0) * 255.0;
                assert_eq!((level as f64 + 0.5) as u8, level.round() as u8, "{x}");
            }
        }
    }

    #[test]
    fn the_enhancement_does_not_depend_on_how_finely_the_values_are_stored() {
        let img = film();
        let mut all = Mask::new(img.width, img.height);
        all.data.iter_mut().for_each(|m| *m = true);
        let cfg = crate::clahe::ClaheConfig::default();
        let base = hand_image(&img, &all, &cfg);
        // The same film with its values moved by less than half an 8-bit level (as a 16-bit
        // copy or a resampled film holds them): the same hand image.
        let fine = GrayImage::from_vec(
            img.width,
            img.height,
            img.data
                .iter()
                .enumerate()
                .map(|(i, v)| v + ((i * 7919 % 13) as f32 - 6.0) / 6.0 * 0.45 / 255.0)
                .collect(),
        );
        assert_eq!(hand_image(&fine, &all, &cfg).data, base.data);
    }
}
