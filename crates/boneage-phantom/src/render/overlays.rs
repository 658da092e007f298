//! What lies on the film besides the hand: the collimated exposure field, lead markers and
//! labels.

use super::*;

/// Collimator blocking factor per pixel (1 = fully blocked), or `None` without collimation.
pub(super) fn collimation<R: Rng + ?Sized>(
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
pub(super) struct Patch {
    pub(super) w: usize,
    pub(super) h: usize,
    pub(super) value: Vec<f32>,
    pub(super) alpha: Vec<f32>,
}

pub(super) struct Overlay {
    pub(super) width: usize,
    pub(super) height: usize,
    pub(super) value: Vec<f32>,
    pub(super) alpha: Vec<f32>,
}

impl Overlay {
    pub(super) fn new(width: usize, height: usize) -> Overlay {
        Overlay {
            width,
            height,
            value: vec![0.0; width * height],
            alpha: vec![0.0; width * height],
        }
    }

    /// Puts a patch (possibly turned by 90°) where it overlaps nothing occupied (with a margin);
    /// gives up after a few tries.
    pub(super) fn place<R: Rng + ?Sized>(
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

    pub(super) fn burn(&self, out: &mut [f32]) {
        for ((o, &a), &v) in out.iter_mut().zip(&self.alpha).zip(&self.value) {
            if a > 0.0 {
                *o += (v - *o) * a;
            }
        }
    }

    pub(super) fn coverage(&self) -> Vec<u8> {
        self.alpha
            .iter()
            .map(|&a| if a > 0.0 { 255 } else { 0 })
            .collect()
    }
}

/// Summed-area table of a boolean image.
pub(super) struct Integral {
    pub(super) w: usize,
    pub(super) s: Vec<u32>,
}

impl Integral {
    pub(super) fn new(b: &[bool], w: usize, h: usize) -> Integral {
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
    pub(super) fn sum(&self, x0: usize, y0: usize, x1: usize, y1: usize) -> u32 {
        let w = self.w + 1;
        self.s[y1 * w + x1] + self.s[y0 * w + x0] - self.s[y0 * w + x1] - self.s[y1 * w + x0]
    }
}

pub(super) fn random_letters<R: Rng + ?Sized>(rng: &mut R, n: usize) -> String {
    (0..n)
        .map(|_| (b'A' + rng.gen_range(0..26u8)) as char)
        .collect()
}

/// The lead "L" marker: a plastic plate with a big L, initials below, sometimes a disc.
pub(super) fn marker<R: Rng + ?Sized>(rng: &mut R, height: usize) -> Patch {
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
pub(super) fn label<R: Rng + ?Sized>(rng: &mut R, height: usize) -> Patch {
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
