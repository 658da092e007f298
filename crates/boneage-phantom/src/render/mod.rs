//! From geometry to pixels: attenuation through soft tissue and bone, then what the imaging
//! chain does to it.
//!
//! 1. Soft tissue thickness (mm) is the max over finger tubes, thenar blob, palm and forearm
//!    slabs; the hand mask is where it exceeds [`MASK_THRESHOLD_MM`] inside the exposed field.
//! 2. Bone adds attenuation per part: cortex (`outer - inner` chord) at `mu_cortex`, the core
//!    at `mu_core` × its density × a band-pass trabecular texture.
//! 3. Primary transmission `exp(-A)`, detector blur, scatter (a wide blur of the primary
//!    added back), heel-effect gradient, quantum noise, then log (bone bright).
//! 4. Automatic windowing (background and bright-bone percentiles) with a drawn offset, gamma,
//!    background level and top level; collimator shadow; lead "L" marker plate and text labels
//!    burnt in; display noise; sometimes inverted.

use crate::anatomy::Skeleton;
use crate::font;
use crate::rng::{fill_normal, uniform};
use boneage_imaging::GrayImage;
use rand::Rng;

mod overlays;
#[cfg(test)]
mod tests;
mod texture;

use overlays::*;
use texture::*;

/// Soft tissue thinner than this (mm) is not part of the hand mask.
pub const MASK_THRESHOLD_MM: f32 = 0.5;

/// Imaging chain settings. Ranges are drawn uniformly per image. Defaults in parentheses.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderConfig {
    /// Soft-tissue attenuation, per mm (default 0.016).
    pub mu_soft: f32,
    /// Cortical bone attenuation beyond soft tissue, per mm (default 0.12).
    pub mu_cortex: f32,
    /// Trabecular bone / marrow attenuation beyond soft tissue at core density 1, per mm
    /// (default 0.04).
    pub mu_core: f32,
    /// Relative amplitude of the trabecular texture (default 0.22).
    pub texture: f32,
    /// Scatter added back, fraction of the primary (default 0.03, 0.3).
    pub scatter: (f32, f32),
    /// Detector blur, mix of a 3x3 binomial blur (default 0.2, 1.0).
    pub blur: (f32, f32),
    /// Quantum noise variance per unit signal for an adult hand's contrast (default 1e-5,
    /// 1.2e-4); scaled with the square of the hand's log-signal range.
    pub noise: (f32, f32),
    /// Largest heel-effect gradient, relative exposure change across the image (default 0.25).
    pub heel: f32,
    /// Display level of the open background (default 0.0, 0.3).
    pub background: (f32, f32),
    /// Display level of the densest bone (default 0.7, 1.0); with `dim_probability` it is drawn
    /// from 0.3-0.6 instead (the dark images of the RSNA set).
    pub top: (f32, f32),
    /// Chance of a dim image (default 0.1).
    pub dim_probability: f32,
    /// Gamma of the display curve (default 0.7, 1.4).
    pub gamma: (f32, f32),
    /// Chance of collimator edges on some sides (default 0.35).
    pub collimation_probability: f32,
    /// Chance of a lead "L" marker plate (default 0.9).
    pub marker_probability: f32,
    /// Chance of an extra text label (default 0.4).
    pub label_probability: f32,
    /// Chance the image is stored inverted (bone dark) (default 0.03).
    pub invert_probability: f32,
    /// Display noise SD (default 0.0, 0.01).
    pub display_noise: (f32, f32),
    /// Unsharp-mask gain of the display processing (edge enhancement, as CR/DR consoles do)
    /// (default 0.0, 1.5).
    pub sharpen: (f32, f32),
    /// Shift of the window's low end (background), fraction of the automatic window
    /// (default -0.04, 0.08); positive clips the background to black.
    pub window_low: (f32, f32),
    /// Shift of the window's high end, fraction of the automatic window (default -0.04, 0.2);
    /// positive leaves the densest bone below `top`.
    pub window_high: (f32, f32),
}

impl Default for RenderConfig {
    fn default() -> Self {
        RenderConfig {
            mu_soft: 0.016,
            mu_cortex: 0.12,
            mu_core: 0.04,
            texture: 0.22,
            scatter: (0.03, 0.3),
            blur: (0.2, 1.0),
            noise: (1e-5, 1.2e-4),
            heel: 0.25,
            background: (0.0, 0.3),
            top: (0.7, 1.0),
            dim_probability: 0.1,
            gamma: (0.7, 1.4),
            collimation_probability: 0.35,
            marker_probability: 0.9,
            label_probability: 0.4,
            invert_probability: 0.03,
            display_noise: (0.0, 0.01),
            sharpen: (0.0, 1.5),
            window_low: (-0.04, 0.08),
            window_high: (-0.04, 0.2),
        }
    }
}

impl RenderConfig {
    /// No noise, scatter, blur, edge enhancement, heel effect, markers, collimation or
    /// inversion; a fixed
    /// display curve (background 0.1, top 0.95, gamma 1). For tests and atlas-like sheets.
    pub fn clean() -> Self {
        RenderConfig {
            scatter: (0.0, 0.0),
            blur: (0.0, 0.0),
            noise: (0.0, 0.0),
            heel: 0.0,
            background: (0.1, 0.1),
            top: (0.95, 0.95),
            dim_probability: 0.0,
            gamma: (1.0, 1.0),
            collimation_probability: 0.0,
            marker_probability: 0.0,
            label_probability: 0.0,
            invert_probability: 0.0,
            display_noise: (0.0, 0.0),
            sharpen: (0.0, 0.0),
            window_low: (0.0, 0.0),
            window_high: (0.0, 0.0),
            ..RenderConfig::default()
        }
    }
}

/// What the renderer returns.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The radiograph, `[0, 1]`.
    pub image: GrayImage,
    /// Hand mask, 255 = hand, row-major.
    pub mask: Vec<u8>,
    /// 255 where a marker plate or label was burnt in.
    pub overlay: Vec<u8>,
    /// Whether the image was inverted.
    pub inverted: bool,
}

/// Renders a skeleton already placed in image pixels.
pub fn render<R: Rng + ?Sized>(
    sk: &Skeleton,
    cfg: &RenderConfig,
    rng: &mut R,
    width: usize,
    height: usize,
) -> Rendered {
    let n = width * height;
    let px_per_mm = sk.scale;

    // 1. Soft tissue.
    let mut soft = vec![0.0f32; n];
    for slab in &sk.soft.slabs {
        slab.raster(width, height, |i, t| {
            if t > soft[i] {
                soft[i] = t;
            }
        });
    }
    for s in &sk.soft.shapes {
        s.raster(width, height, |i, _, _, c| {
            if c.outer > soft[i] {
                soft[i] = c.outer;
            }
        });
    }
    // Slow variation of tissue density (fat, muscle), +-5%.
    modulate_smoothly(
        rng,
        &mut soft,
        width,
        height,
        (24.0 * px_per_mm).max(8.0),
        0.05,
    );

    // 2. Collimation: edges only outside the hand (its outline box), the bottom one below the
    // wrist.
    let coll = collimation(sk, cfg, rng, width, height);
    let hand = |i: usize| soft[i] > MASK_THRESHOLD_MM;
    let mask: Vec<u8> = (0..n)
        .map(|i| {
            if hand(i) && coll.as_ref().is_none_or(|c| c[i] < 0.5) {
                255
            } else {
                0
            }
        })
        .collect();

    // 3. Marker plate and labels, in free space.
    let mut occupied: Vec<bool> = (0..n)
        .map(|i| soft[i] > 0.0 || coll.as_ref().is_some_and(|c| c[i] > 0.05))
        .collect();
    let mut overlay = Overlay::new(width, height);
    if rng.gen::<f32>() < cfg.marker_probability {
        let m = marker(rng, height);
        overlay.place(
            rng,
            &m,
            &mut occupied,
            (3.0 + 0.01 * height as f32) as usize,
        );
    }
    if rng.gen::<f32>() < cfg.label_probability {
        let m = label(rng, height);
        overlay.place(
            rng,
            &m,
            &mut occupied,
            (3.0 + 0.01 * height as f32) as usize,
        );
    }

    // 4. Bone. Trabeculae run along the bones: streaks along the hand's axis (capitate to
    // middle tip).
    let tex = trabecular_texture(rng, px_per_mm);
    let axis = {
        let [tip, _, cap] = sk.keypoints;
        let (dx, dy) = (tip[0] - cap[0], tip[1] - cap[1]);
        let l = (dx * dx + dy * dy).sqrt().max(1e-3);
        [dx / l, dy / l]
    };
    // `e` holds bone attenuation, then the detector signal, then its log.
    let mut e = vec![0.0f32; n];
    let (mc, mt, ta) = (cfg.mu_cortex, cfg.mu_core, cfg.texture);
    let mask_t = TEX - 1;
    for b in &sk.bones {
        for part in &b.parts {
            let d = part.density;
            part.placed.raster(width, height, |i, x, y, c| {
                let (x, y) = (x as f32, y as f32);
                // Tile coordinates: ty along the hand axis, tx across.
                let tx = (x * -axis[1] + y * axis[0]) as i32 as usize & mask_t;
                let ty = (x * axis[0] + y * axis[1]) as i32 as usize & mask_t;
                let t = tex[ty * TEX + tx];
                e[i] += d * (mc * (c.outer - c.inner) + mt * c.core * c.inner * (1.0 + ta * t));
            });
        }
    }

    // 5. Transmission, detector blur, scatter, heel, noise, log.
    for (v, s) in e.iter_mut().zip(&soft) {
        *v = (-(cfg.mu_soft * s + *v)).exp();
    }
    drop(soft);
    let blur_mix = uniform(rng, cfg.blur.0, cfg.blur.1);
    if blur_mix > 0.0 {
        binomial3_mix(&mut e, width, height, blur_mix);
    }
    let scatter = uniform(rng, cfg.scatter.0, cfg.scatter.1);
    if scatter > 0.0 {
        add_scatter(&mut e, width, height, (18.0 * px_per_mm).max(6.0), scatter);
    }
    if cfg.heel > 0.0 {
        let h = uniform(rng, -cfg.heel, cfg.heel);
        // Mostly along the image's long axis.
        let ang: f32 = if rng.gen::<f32>() < 0.8 { 0.0 } else { 1.0 } * std::f32::consts::FRAC_PI_2
            + uniform(rng, -0.3, 0.3);
        let (sa, ca) = ang.sin_cos();
        for y in 0..height {
            let base = (y as f32 / height as f32 - 0.5) * ca;
            for x in 0..width {
                let t = ((x as f32 / width as f32 - 0.5) * sa + base).clamp(-0.71, 0.71);
                e[y * width + x] *= 1.0 + h * t;
            }
        }
    }
    let mut q = uniform(rng, cfg.noise.0, cfg.noise.1);
    if q > 0.0 {
        // Noise is set against the contrast of the image (an exposure that makes a thin infant
        // hand needs no more quanta per contrast step than an adult's): scale the variance by
        // the square of the hand's log-signal range over an adult's (~0.9).
        let mut logs: Vec<f32> = (0..n)
            .step_by(7)
            .filter(|&i| mask[i] != 0)
            .map(|i| -(e[i].max(1e-4)).ln())
            .collect();
        if let (Some(lo), Some(hi)) = (percentile(&mut logs, 0.02), percentile(&mut logs, 0.98)) {
            q *= ((hi - lo) / 0.9).clamp(0.2, 1.5).powi(2);
        }
    }
    if q > 0.0 {
        let mut z = [0.0f32; 2];
        for pair in e.chunks_mut(2) {
            fill_normal(rng, &mut z);
            for (v, zv) in pair.iter_mut().zip(z) {
                *v += (v.max(0.0) * q).sqrt() * zv;
            }
        }
    }
    for v in e.iter_mut() {
        *v = -(v.max(1e-4)).ln();
    }
    let d = e;

    // 6. Windowing and display curve.
    let mut bg_samples = Vec::with_capacity(n / 3);
    let mut hand_samples = Vec::with_capacity(n / 3);
    for i in (0..n).step_by(3) {
        if mask[i] != 0 {
            hand_samples.push(d[i]);
        } else if !occupied[i] {
            bg_samples.push(d[i]);
        }
    }
    let lo_auto = percentile(&mut bg_samples, 0.5)
        .unwrap_or_else(|| d.iter().copied().fold(f32::MAX, f32::min));
    let hi_auto = percentile(&mut hand_samples, 0.98)
        .unwrap_or(lo_auto + 1.0)
        .max(lo_auto + 0.05);
    let span = hi_auto - lo_auto;
    let lo = lo_auto + span * uniform(rng, cfg.window_low.0, cfg.window_low.1);
    let hi = hi_auto + span * uniform(rng, cfg.window_high.0, cfg.window_high.1);
    let gamma = uniform(rng, cfg.gamma.0, cfg.gamma.1);
    // Most backgrounds are near black.
    let u: f32 = rng.gen();
    let b0 = cfg.background.0 + (cfg.background.1 - cfg.background.0) * u * u;
    let top = if rng.gen::<f32>() < cfg.dim_probability {
        uniform(rng, 0.3, 0.6)
    } else {
        uniform(rng, cfg.top.0, cfg.top.1)
    };
    let inv_span = 1.0 / (hi - lo).max(1e-3);
    let curve = Curve::new(gamma, b0, top);
    let mut out = d;
    for v in out.iter_mut() {
        *v = curve.at((*v - lo) * inv_span);
    }

    // Edge enhancement (unsharp mask over ~1.2 mm).
    let gain = uniform(rng, cfg.sharpen.0, cfg.sharpen.1);
    if gain > 0.0 {
        let mut low = out.clone();
        let r = ((1.2 * px_per_mm).round() as usize).max(1);
        box_blur(&mut low, width, height, r);
        box_blur(&mut low, width, height, r);
        for (v, l) in out.iter_mut().zip(&low) {
            *v += gain * (*v - l);
        }
    }

    // 7. Collimator shadow, burnt-in overlays, display noise, inversion.
    if let Some(c) = &coll {
        let level = uniform(rng, 0.45, 1.0);
        for (v, &cv) in out.iter_mut().zip(c) {
            if cv > 0.0 {
                *v += (level - *v) * cv;
            }
        }
    }
    overlay.burn(&mut out);
    let dn = uniform(rng, cfg.display_noise.0, cfg.display_noise.1);
    if dn > 0.0 {
        for v in out.iter_mut() {
            let u: f32 = rng.gen::<f32>() + rng.gen::<f32>() - 1.0;
            *v += dn * 2.45 * u;
        }
    }
    let inverted = rng.gen::<f32>() < cfg.invert_probability;
    for v in out.iter_mut() {
        *v = v.clamp(0.0, 1.0);
        if inverted {
            *v = 1.0 - *v;
        }
    }
    Rendered {
        image: GrayImage::from_vec(width, height, out),
        mask,
        overlay: overlay.coverage(),
        inverted,
    }
}

/// The display curve `b0 + (top - b0) * x^gamma` on `[0, 1]` (clamped), tabulated.
struct Curve {
    table: Vec<f32>,
}

impl Curve {
    const N: usize = 1024;

    fn new(gamma: f32, b0: f32, top: f32) -> Curve {
        let table = (0..=Self::N)
            .map(|k| b0 + (top - b0) * (k as f32 / Self::N as f32).powf(gamma))
            .collect();
        Curve { table }
    }

    #[inline]
    fn at(&self, x: f32) -> f32 {
        let f = x.clamp(0.0, 1.0) * Self::N as f32;
        let i = (f as usize).min(Self::N - 1);
        let t = f - i as f32;
        self.table[i] + (self.table[i + 1] - self.table[i]) * t
    }
}

/// Value at quantile `q` of `v` (reordered), or `None` if empty.
fn percentile(v: &mut [f32], q: f32) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    let k = ((v.len() - 1) as f32 * q).round() as usize;
    let (_, x, _) = v.select_nth_unstable_by(k, f32::total_cmp);
    Some(*x)
}
