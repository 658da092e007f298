//! Trabecular texture, smooth modulation, blurs and scatter glow.

use super::*;

/// Side of the (toroidal) trabecular texture tile; a power of two.
pub(super) const TEX: usize = 256;

/// Band-pass noise with about unit SD at the scale of trabeculae (~0.3 mm), streaky along the
/// tile's `y`: a `TEX x TEX` tile that wraps around.
pub(super) fn trabecular_texture<R: Rng + ?Sized>(rng: &mut R, px_per_mm: f32) -> Vec<f32> {
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
pub(super) fn box_blur_wrap(v: &mut [f32], side: usize, rx: usize, ry: usize) {
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
pub(super) fn modulate_smoothly<R: Rng + ?Sized>(
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
pub(super) fn binomial3_mix(v: &mut [f32], w: usize, h: usize, alpha: f32) {
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
pub(super) fn box_blur(v: &mut [f32], w: usize, h: usize, r: usize) {
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
pub(super) fn add_scatter(v: &mut [f32], w: usize, h: usize, sigma: f32, k: f32) {
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
