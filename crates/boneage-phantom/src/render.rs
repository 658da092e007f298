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

/// Collimator blocking factor per pixel (1 = fully blocked), or `None` without collimation.
fn collimation<R: Rng + ?Sized>(
    sk: &Skeleton,
    cfg: &RenderConfig,
    rng: &mut R,
    width: usize,
    height: usize,
) -> Option<Vec<f32>> {
    if rng.gen::<f32>() >= cfg.collimation_probability {
        return None;
    }
    let (w, h) = (width as f32, height as f32);
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in &sk.outline {
        x0 = x0.min(p[0]);
        x1 = x1.max(p[0]);
        y0 = y0.min(p[1]);
        y1 = y1.max(p[1]);
    }
    let pad = 0.03 * h;
    let tilt = uniform(rng, -0.015, 0.015);
    let (st, ct) = tilt.sin_cos();
    // (normal, point on the line): blocked where normal · (p - point) > 0.
    let mut edges: Vec<([f32; 2], [f32; 2])> = Vec::new();
    let candidates = [
        ([-1.0f32, 0.0f32], 0.0, x0 - pad, true),
        ([1.0, 0.0], x1 + pad, w, true),
        ([0.0, -1.0], 0.0, y0 - pad, false),
        ([0.0, 1.0], (y1 + pad).max(0.8 * h), h, false),
    ];
    for (normal, lo, hi, vertical) in candidates {
        if rng.gen::<f32>() < 0.6 && hi > lo {
            let pos = uniform(rng, lo, hi);
            let point = if vertical {
                [pos, h * 0.5]
            } else {
                [w * 0.5, pos]
            };
            let nrm = [
                normal[0] * ct - normal[1] * st,
                normal[0] * st + normal[1] * ct,
            ];
            edges.push((nrm, point));
        }
    }
    if edges.is_empty() {
        return None;
    }
    let pen = uniform(rng, 0.5, 2.5);
    let mut c = vec![0.0f32; width * height];
    for y in 0..height {
        for x in 0..width {
            let mut f = 0.0f32;
            for (nrm, pt) in &edges {
                let s = nrm[0] * (x as f32 - pt[0]) + nrm[1] * (y as f32 - pt[1]);
                f = f.max(((s + pen) / (2.0 * pen)).clamp(0.0, 1.0));
            }
            c[y * width + x] = f;
        }
    }
    Some(c)
}

/// A burnt-in overlay: display value and opacity per pixel of a small patch.
struct Patch {
    w: usize,
    h: usize,
    value: Vec<f32>,
    alpha: Vec<f32>,
}

struct Overlay {
    width: usize,
    height: usize,
    value: Vec<f32>,
    alpha: Vec<f32>,
}

impl Overlay {
    fn new(width: usize, height: usize) -> Overlay {
        Overlay {
            width,
            height,
            value: vec![0.0; width * height],
            alpha: vec![0.0; width * height],
        }
    }

    /// Puts a patch (possibly turned by 90°) where it overlaps nothing occupied (with a margin);
    /// gives up after a few tries.
    fn place<R: Rng + ?Sized>(
        &mut self,
        rng: &mut R,
        patch: &Patch,
        occupied: &mut [bool],
        margin: usize,
    ) {
        let turn = rng.gen::<f32>() < 0.15;
        let (pw, ph) = if turn {
            (patch.h, patch.w)
        } else {
            (patch.w, patch.h)
        };
        if pw + 2 * margin >= self.width || ph + 2 * margin >= self.height {
            return;
        }
        let integral = Integral::new(occupied, self.width, self.height);
        for _ in 0..40 {
            let x = margin + rng.gen_range(0..self.width - pw - 2 * margin);
            let y = margin + rng.gen_range(0..self.height - ph - 2 * margin);
            if integral.sum(x - margin, y - margin, x + pw + margin, y + ph + margin) > 0 {
                continue;
            }
            for py in 0..ph {
                for px in 0..pw {
                    let (sx, sy) = if turn {
                        (py, patch.h - 1 - px)
                    } else {
                        (px, py)
                    };
                    let a = patch.alpha[sy * patch.w + sx];
                    let i = (y + py) * self.width + x + px;
                    occupied[i] = true;
                    if a > 0.0 {
                        let v = patch.value[sy * patch.w + sx];
                        self.value[i] = v;
                        self.alpha[i] = a;
                    }
                }
            }
            return;
        }
    }

    fn burn(&self, out: &mut [f32]) {
        for ((o, &a), &v) in out.iter_mut().zip(&self.alpha).zip(&self.value) {
            if a > 0.0 {
                *o += (v - *o) * a;
            }
        }
    }

    fn coverage(&self) -> Vec<u8> {
        self.alpha
            .iter()
            .map(|&a| if a > 0.0 { 255 } else { 0 })
            .collect()
    }
}

/// Summed-area table of a boolean image.
struct Integral {
    w: usize,
    s: Vec<u32>,
}

impl Integral {
    fn new(b: &[bool], w: usize, h: usize) -> Integral {
        let mut s = vec![0u32; (w + 1) * (h + 1)];
        for y in 0..h {
            let mut row = 0u32;
            for x in 0..w {
                row += b[y * w + x] as u32;
                s[(y + 1) * (w + 1) + x + 1] = s[y * (w + 1) + x + 1] + row;
            }
        }
        Integral { w, s }
    }

    /// Count over `[x0, x1) x [y0, y1)`.
    fn sum(&self, x0: usize, y0: usize, x1: usize, y1: usize) -> u32 {
        let w = self.w + 1;
        self.s[y1 * w + x1] + self.s[y0 * w + x0] - self.s[y0 * w + x1] - self.s[y1 * w + x0]
    }
}

fn random_letters<R: Rng + ?Sized>(rng: &mut R, n: usize) -> String {
    (0..n)
        .map(|_| (b'A' + rng.gen_range(0..26u8)) as char)
        .collect()
}

/// The lead "L" marker: a plastic plate with a big L, initials below, sometimes a disc.
fn marker<R: Rng + ?Sized>(rng: &mut R, height: usize) -> Patch {
    let hl = (uniform(rng, 0.05, 0.1) * height as f32).max(7.0);
    let k = rng.gen_range(0..=3);
    let initials = random_letters(rng, k);
    let cell = ((hl * uniform(rng, 0.07, 0.1)).round() as usize).max(1);
    let text_w = font::text_cells(&initials) * cell;
    let text_h = if initials.is_empty() { 0 } else { 7 * cell };
    let pad = (hl * 0.25).round() as usize + 1;
    let disc = rng.gen::<f32>() < 0.2;
    let disc_d = if disc { (hl * 0.9) as usize } else { 0 };
    let lw = (hl * 0.62) as usize;
    let inner_w = lw.max(text_w).max(disc_d);
    let pw = inner_w + 2 * pad;
    let ph = hl as usize
        + pad * 2
        + if text_h > 0 { text_h + pad / 2 } else { 0 }
        + if disc { disc_d + pad / 2 } else { 0 };
    let plate = rng.gen::<f32>() < 0.8;
    let plate_level = uniform(rng, 0.05, 0.5);
    let plate_alpha = if plate { uniform(rng, 0.5, 1.0) } else { 0.0 };
    let ink = uniform(rng, 0.85, 1.0);
    let mut p = Patch {
        w: pw,
        h: ph,
        value: vec![plate_level; pw * ph],
        alpha: vec![plate_alpha; pw * ph],
    };
    // Plate border, slightly brighter.
    if plate {
        let edge = uniform(rng, 0.2, 0.7);
        for y in 0..ph {
            for x in 0..pw {
                if x == 0 || y == 0 || x == pw - 1 || y == ph - 1 {
                    p.value[y * pw + x] = edge;
                }
            }
        }
    }
    let put = |p: &mut Patch, x: usize, y: usize| {
        if x < pw && y < ph {
            p.value[y * pw + x] = ink;
            p.alpha[y * pw + x] = 1.0;
        }
    };
    // The L.
    let lx = pad + (inner_w - lw) / 2;
    let ly = pad;
    let stroke = (hl * 0.24).max(2.0) as usize;
    for y in 0..hl as usize {
        for x in 0..lw {
            if x < stroke || y + stroke >= hl as usize {
                put(&mut p, lx + x, ly + y);
            }
        }
    }
    let mut y = ly + hl as usize + pad / 2;
    if text_h > 0 {
        let tx = pad + (inner_w - text_w) / 2;
        let mut cells = Vec::new();
        font::draw_text(&initials, tx as isize, y as isize, cell, pw, ph, |i| {
            cells.push(i)
        });
        for i in cells {
            put(&mut p, i % pw, i / pw);
        }
        y += text_h + pad / 2;
    }
    if disc {
        let r = disc_d as f32 * 0.5;
        let cx = pad as f32 + inner_w as f32 * 0.5;
        let cy = y as f32 + r;
        for yy in 0..ph {
            for xx in 0..pw {
                let dx = xx as f32 + 0.5 - cx;
                let dy = yy as f32 + 0.5 - cy;
                if dx * dx + dy * dy <= r * r {
                    put(&mut p, xx, yy);
                }
            }
        }
    }
    if !plate {
        // Without a plate only the ink is opaque.
        for a in p.alpha.iter_mut() {
            if *a < 1.0 {
                *a = 0.0;
            }
        }
    }
    p
}

/// A bare text label (initials, a side letter, a number).
fn label<R: Rng + ?Sized>(rng: &mut R, height: usize) -> Patch {
    let text = if rng.gen::<f32>() < 0.5 {
        let k = rng.gen_range(1..=3);
        random_letters(rng, k)
    } else {
        format!("{}", rng.gen_range(1..100))
    };
    let cell = ((uniform(rng, 0.004, 0.008) * height as f32).round() as usize).max(1);
    let pw = font::text_cells(&text) * cell + 2;
    let ph = 7 * cell + 2;
    let ink = uniform(rng, 0.75, 1.0);
    let mut p = Patch {
        w: pw,
        h: ph,
        value: vec![ink; pw * ph],
        alpha: vec![0.0; pw * ph],
    };
    let mut cells = Vec::new();
    font::draw_text(&text, 1, 1, cell, pw, ph, |i| cells.push(i));
    for i in cells {
        p.alpha[i] = 1.0;
    }
    p
}

/// Side of the (toroidal) trabecular texture tile; a power of two.
const TEX: usize = 256;

/// Band-pass noise with about unit SD at the scale of trabeculae (~0.3 mm), streaky along the
/// tile's `y`: a `TEX x TEX` tile that wraps around.
fn trabecular_texture<R: Rng + ?Sized>(rng: &mut R, px_per_mm: f32) -> Vec<f32> {
    let n = TEX * TEX;
    let white: Vec<f32> = (0..n).map(|_| rng.gen::<f32>() * 2.0 - 1.0).collect();
    let r1 = ((0.15 * px_per_mm).round() as usize).clamp(1, 8);
    let mut fine = white.clone();
    box_blur_wrap(&mut fine, TEX, r1, 3 * r1);
    let mut coarse = fine.clone();
    box_blur_wrap(&mut coarse, TEX, 3 * r1, 4 * r1);
    let mut t: Vec<f32> = fine.iter().zip(&coarse).map(|(a, b)| a - b).collect();
    let var = t.iter().map(|v| v * v).sum::<f32>() / n as f32;
    let k = 1.0 / var.sqrt().max(1e-6);
    for v in t.iter_mut() {
        *v = (*v * k).clamp(-2.5, 2.5);
    }
    t
}

/// In-place box blur of a square `side x side` tile that wraps around, radius `rx` across and
/// `ry` down.
fn box_blur_wrap(v: &mut [f32], side: usize, rx: usize, ry: usize) {
    let mut line = vec![0.0f32; side];
    let m = side as isize;
    for (r, horizontal) in [(rx, true), (ry, false)] {
        if r == 0 {
            continue;
        }
        let norm = 1.0 / (2 * r + 1) as f32;
        for a in 0..side {
            for b in 0..side {
                line[b] = if horizontal {
                    v[a * side + b]
                } else {
                    v[b * side + a]
                };
            }
            let at = |i: isize| line[i.rem_euclid(m) as usize];
            let mut acc: f32 = (-(r as isize)..=r as isize).map(at).sum();
            for b in 0..side {
                let idx = if horizontal {
                    a * side + b
                } else {
                    b * side + a
                };
                v[idx] = acc * norm;
                acc += at(b as isize + r as isize + 1) - at(b as isize - r as isize);
            }
        }
    }
}

/// Multiplies `v` by `1 + amp * n(x, y)`, `n` a smooth noise in `[-1, 1]` with correlation
/// length `scale` pixels (value noise on a coarse grid, smoothstep-interpolated).
fn modulate_smoothly<R: Rng + ?Sized>(
    rng: &mut R,
    v: &mut [f32],
    width: usize,
    height: usize,
    scale: f32,
    amp: f32,
) {
    let gw = (width as f32 / scale).ceil() as usize + 2;
    let gh = (height as f32 / scale).ceil() as usize + 2;
    let g: Vec<f32> = (0..gw * gh).map(|_| rng.gen::<f32>() * 2.0 - 1.0).collect();
    for y in 0..height {
        let fy = y as f32 / scale;
        let iy = fy as usize;
        let ty = fy - iy as f32;
        let ty = ty * ty * (3.0 - 2.0 * ty);
        for x in 0..width {
            let k = y * width + x;
            if v[k] == 0.0 {
                continue;
            }
            let fx = x as f32 / scale;
            let ix = fx as usize;
            let tx = fx - ix as f32;
            let tx = tx * tx * (3.0 - 2.0 * tx);
            let a = g[iy * gw + ix];
            let b = g[iy * gw + ix + 1];
            let c = g[(iy + 1) * gw + ix];
            let d = g[(iy + 1) * gw + ix + 1];
            let nv = (a + (b - a) * tx) * (1.0 - ty) + (c + (d - c) * tx) * ty;
            v[k] *= 1.0 + amp * nv;
        }
    }
}

/// Mixes `v` towards its 3x3 binomial blur by `alpha` (edges clamped), in place.
fn binomial3_mix(v: &mut [f32], w: usize, h: usize, alpha: f32) {
    let mut tmp = vec![0.0f32; v.len()];
    for y in 0..h {
        let row = &v[y * w..(y + 1) * w];
        let out = &mut tmp[y * w..(y + 1) * w];
        for x in 0..w {
            let l = row[x.saturating_sub(1)];
            let r = row[(x + 1).min(w - 1)];
            out[x] = 0.25 * l + 0.5 * row[x] + 0.25 * r;
        }
    }
    for y in 0..h {
        let (up, dn) = (y.saturating_sub(1) * w, (y + 1).min(h - 1) * w);
        let row = y * w;
        for x in 0..w {
            let b = 0.25 * tmp[up + x] + 0.5 * tmp[row + x] + 0.25 * tmp[dn + x];
            let o = &mut v[row + x];
            *o += (b - *o) * alpha;
        }
    }
}

/// In-place separable box blur of radius `r` (edges clamped).
fn box_blur(v: &mut [f32], w: usize, h: usize, r: usize) {
    if r == 0 {
        return;
    }
    let norm = 1.0 / (2 * r + 1) as f32;
    let ri = r as isize;
    // Horizontal, row by row, into `tmp`.
    let mut tmp = vec![0.0f32; v.len()];
    for y in 0..h {
        let row = &v[y * w..(y + 1) * w];
        let at = |i: isize| row[i.clamp(0, w as isize - 1) as usize];
        let mut acc: f32 = (-ri..=ri).map(at).sum();
        let out = &mut tmp[y * w..(y + 1) * w];
        for (x, o) in out.iter_mut().enumerate() {
            *o = acc * norm;
            acc += at(x as isize + ri + 1) - at(x as isize - ri);
        }
    }
    // Vertical, with one running sum per column, back into `v`.
    let row = |y: isize| y.clamp(0, h as isize - 1) as usize * w;
    let mut acc = vec![0.0f32; w];
    for k in -ri..=ri {
        let o = row(k);
        for (a, t) in acc.iter_mut().zip(&tmp[o..o + w]) {
            *a += t;
        }
    }
    for y in 0..h {
        let (add, sub) = (row(y as isize + ri + 1), row(y as isize - ri));
        let out = &mut v[y * w..(y + 1) * w];
        for x in 0..w {
            out[x] = acc[x] * norm;
            acc[x] += tmp[add + x] - tmp[sub + x];
        }
    }
}

/// Adds `k` times a wide blur (the scatter kernel, about `sigma` pixels) of `v` to itself,
/// computed at an eighth of the resolution.
fn add_scatter(v: &mut [f32], w: usize, h: usize, sigma: f32, k: f32) {
    let f = 8usize;
    let (lw, lh) = (w.div_ceil(f), h.div_ceil(f));
    let mut low = vec![0.0f32; lw * lh];
    let mut cnt = vec![0.0f32; lw * lh];
    for y in 0..h {
        let lrow = (y / f) * lw;
        for x in 0..w {
            low[lrow + x / f] += v[y * w + x];
            cnt[lrow + x / f] += 1.0;
        }
    }
    for (a, c) in low.iter_mut().zip(&cnt) {
        *a *= k / c;
    }
    let r = ((sigma / f as f32) * 0.58).round().max(1.0) as usize;
    for _ in 0..3 {
        box_blur(&mut low, lw, lh, r);
    }
    // Bilinear upsampling, added in place.
    let xs: Vec<(usize, usize, f32)> = (0..w)
        .map(|x| {
            let fx = ((x as f32 + 0.5) / f as f32 - 0.5).clamp(0.0, (lw - 1) as f32);
            let x0 = fx as usize;
            (x0, (x0 + 1).min(lw - 1), fx - x0 as f32)
        })
        .collect();
    for y in 0..h {
        let fy = ((y as f32 + 0.5) / f as f32 - 0.5).clamp(0.0, (lh - 1) as f32);
        let y0 = fy as usize;
        let y1 = (y0 + 1).min(lh - 1);
        let ty = fy - y0 as f32;
        let (r0, r1) = (&low[y0 * lw..(y0 + 1) * lw], &low[y1 * lw..(y1 + 1) * lw]);
        let out = &mut v[y * w..(y + 1) * w];
        for (o, &(x0, x1, tx)) in out.iter_mut().zip(&xs) {
            let a = r0[x0] + (r0[x1] - r0[x0]) * tx;
            let b = r1[x0] + (r1[x1] - r1[x0]) * tx;
            *o += a + (b - a) * ty;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_blur_keeps_constants_and_mass() {
        let mut v = vec![2.0f32; 30 * 20];
        box_blur(&mut v, 30, 20, 3);
        assert!(v.iter().all(|x| (x - 2.0).abs() < 1e-5));
    }

    #[test]
    fn integral_counts() {
        let mut b = vec![false; 10 * 8];
        b[3 * 10 + 4] = true;
        b[7 * 10 + 9] = true;
        let s = Integral::new(&b, 10, 8);
        assert_eq!(s.sum(0, 0, 10, 8), 2);
        assert_eq!(s.sum(4, 3, 5, 4), 1);
        assert_eq!(s.sum(0, 0, 4, 3), 0);
    }

    #[test]
    fn percentile_picks_order_statistics() {
        let mut v: Vec<f32> = (0..101).rev().map(|x| x as f32).collect();
        assert_eq!(percentile(&mut v, 0.5), Some(50.0));
        assert_eq!(percentile(&mut v, 1.0), Some(100.0));
        assert_eq!(percentile(&mut [], 0.5), None);
    }
}
