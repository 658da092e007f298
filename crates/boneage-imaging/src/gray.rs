//! [`GrayImage`]: the single-channel `f32` image every step works on.

/// A single-channel image, row-major, values nominally in `[0, 1]` (bone bright).
#[derive(Debug, Clone, PartialEq)]
pub struct GrayImage {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// `height * width` values, row by row.
    pub data: Vec<f32>,
}

impl GrayImage {
    /// A `width x height` image filled with `value`.
    pub fn new(width: usize, height: usize, value: f32) -> GrayImage {
        GrayImage {
            width,
            height,
            data: vec![value; width * height],
        }
    }

    /// Wraps row-major data; panics if the length does not match.
    pub fn from_vec(width: usize, height: usize, data: Vec<f32>) -> GrayImage {
        assert_eq!(
            data.len(),
            width * height,
            "GrayImage::from_vec: size mismatch"
        );
        GrayImage {
            width,
            height,
            data,
        }
    }

    /// The value at `(x, y)`.
    #[inline]
    pub fn get(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.width + x]
    }

    /// Sets the value at `(x, y)`.
    #[inline]
    pub fn set(&mut self, x: usize, y: usize, v: f32) {
        self.data[y * self.width + x] = v;
    }

    /// Bilinear sample at continuous pixel coordinates (pixel centres at integers), clamped at
    /// the border.
    pub fn sample_bilinear(&self, x: f32, y: f32) -> f32 {
        let x = x.clamp(0.0, (self.width - 1) as f32);
        let y = y.clamp(0.0, (self.height - 1) as f32);
        let x0 = x.floor() as usize;
        let y0 = y.floor() as usize;
        let x1 = (x0 + 1).min(self.width - 1);
        let y1 = (y0 + 1).min(self.height - 1);
        let fx = x - x0 as f32;
        let fy = y - y0 as f32;
        let top = self.get(x0, y0) * (1.0 - fx) + self.get(x1, y0) * fx;
        let bot = self.get(x0, y1) * (1.0 - fx) + self.get(x1, y1) * fx;
        top * (1.0 - fy) + bot * fy
    }

    /// Resizes to `width x height` by area averaging when shrinking and bilinear
    /// interpolation when enlarging (what radiograph thumbnails and net inputs need).
    pub fn resize(&self, width: usize, height: usize) -> GrayImage {
        use rayon::prelude::*;
        assert!(width > 0 && height > 0, "resize to an empty image");
        let sx = self.width as f32 / width as f32;
        let sy = self.height as f32 / height as f32;
        let mut out = GrayImage::new(width, height, 0.0);
        if sx <= 1.0 && sy <= 1.0 {
            // Bilinear, as `sample_bilinear` at each output pixel centre, with the per-column
            // and per-row taps computed once (the same arithmetic, so the same values).
            let taps = |n: usize, s: f32, len: usize| -> Vec<(usize, usize, f32)> {
                (0..n)
                    .map(|i| {
                        let v = ((i as f32 + 0.5) * s - 0.5).clamp(0.0, (len - 1) as f32);
                        let i0 = v.floor() as usize;
                        (i0, (i0 + 1).min(len - 1), v - i0 as f32)
                    })
                    .collect()
            };
            let (cols, rows) = (taps(width, sx, self.width), taps(height, sy, self.height));
            out.data
                .par_chunks_mut(width)
                .zip(rows.par_iter())
                .for_each(|(line, &(y0, y1, fy))| {
                    let (r0, r1) = (
                        &self.data[y0 * self.width..(y0 + 1) * self.width],
                        &self.data[y1 * self.width..(y1 + 1) * self.width],
                    );
                    for (o, &(x0, x1, fx)) in line.iter_mut().zip(&cols) {
                        let top = r0[x0] * (1.0 - fx) + r0[x1] * fx;
                        let bot = r1[x0] * (1.0 - fx) + r1[x1] * fx;
                        *o = top * (1.0 - fy) + bot * fy;
                    }
                });
            return out;
        }
        // Box filter over the source footprint of each output pixel, with fractional edges,
        // done separably: each output row first sums its source rows, weighted, as whole rows
        // (vectorised), then each output pixel sums its columns of that row. The footprints'
        // first index and weights are computed once per column and row; the columns' weights
        // are padded with zeros to one count, so the inner sum has a fixed length.
        let spans = |n: usize, s: f32, len: usize| -> Vec<(usize, Vec<f32>)> {
            (0..n)
                .map(|i| {
                    let a = i as f32 * s;
                    let b = ((i + 1) as f32 * s).min(len as f32);
                    let first = a.floor() as usize;
                    let mut v = Vec::new();
                    let mut k = first;
                    while (k as f32) < b && k < len {
                        v.push(((k + 1) as f32).min(b) - (k as f32).max(a));
                        k += 1;
                    }
                    (first, v)
                })
                .collect()
        };
        let (cols, rows) = (spans(width, sx, self.width), spans(height, sy, self.height));
        let taps = cols.iter().map(|(_, v)| v.len()).max().unwrap_or(0).max(1);
        let mut col_w = vec![0.0f32; width * taps];
        for (c, (_, v)) in cols.iter().enumerate() {
            col_w[c * taps..c * taps + v.len()].copy_from_slice(v);
        }
        let col_first: Vec<usize> = cols.iter().map(|(f, _)| *f).collect();
        let col_total: Vec<f32> = cols.iter().map(|(_, v)| v.iter().sum()).collect();
        let sw = self.width;
        out.data
            .par_chunks_mut(width)
            .zip(rows.par_iter())
            .for_each_init(
                || vec![0.0f32; sw + taps],
                |acc, (line, (y0, wys))| {
                    acc.fill(0.0);
                    for (j, &wy) in wys.iter().enumerate() {
                        let row = &self.data[(y0 + j) * sw..(y0 + j + 1) * sw];
                        for (a, &v) in acc.iter_mut().zip(row) {
                            *a += v * wy;
                        }
                    }
                    let wy_total: f32 = wys.iter().sum();
                    for (c, o) in line.iter_mut().enumerate() {
                        let w = &col_w[c * taps..(c + 1) * taps];
                        let a = &acc[col_first[c]..col_first[c] + taps];
                        let sum: f32 = w.iter().zip(a).map(|(w, v)| w * v).sum();
                        let wsum = col_total[c] * wy_total;
                        *o = if wsum > 0.0 { sum / wsum } else { 0.0 };
                    }
                },
            );
        out
    }

    /// Gaussian blur with standard deviation `sigma` pixels: a separable kernel to 3 SD, the
    /// edges repeated. `sigma` at or below 0.05 gives the image unchanged.
    pub fn gaussian_blur(&self, sigma: f32) -> GrayImage {
        if sigma <= 0.05 || self.data.is_empty() {
            return self.clone();
        }
        let (k, r) = gaussian_kernel(sigma);
        use rayon::prelude::*;
        let w = self.width;
        // Horizontal pass on each row padded by its edge values, then the vertical pass as
        // whole rows weighted and summed, rows clamped at the edges: the same sums in the same
        // order as tap by tap, so the same values, vectorised and over rayon's threads.
        let mut tmp = vec![0.0f32; self.data.len()];
        tmp.par_chunks_mut(w)
            .zip(self.data.par_chunks(w))
            .for_each(|(dst, src)| {
                let mut padded = Vec::with_capacity(w + 2 * r);
                padded.extend(std::iter::repeat_n(src[0], r));
                padded.extend_from_slice(src);
                padded.extend(std::iter::repeat_n(src[w - 1], r));
                dst.fill(0.0);
                for (j, &kv) in k.iter().enumerate() {
                    for (d, &s) in dst.iter_mut().zip(&padded[j..j + w]) {
                        *d += kv * s;
                    }
                }
            });
        let mut out = GrayImage::new(self.width, self.height, 0.0);
        let last = self.height as isize - 1;
        out.data.par_chunks_mut(w).enumerate().for_each(|(y, dst)| {
            for (j, &kv) in k.iter().enumerate() {
                let sy = (y as isize + j as isize - r as isize).clamp(0, last) as usize;
                for (d, &s) in dst.iter_mut().zip(&tmp[sy * w..(sy + 1) * w]) {
                    *d += kv * s;
                }
            }
        });
        out
    }

    /// Largest size with the same aspect ratio that fits in `max_w x max_h`.
    pub fn fit_within(&self, max_w: usize, max_h: usize) -> (usize, usize) {
        let s = (max_w as f64 / self.width as f64).min(max_h as f64 / self.height as f64);
        (
            ((self.width as f64 * s).round() as usize).max(1),
            ((self.height as f64 * s).round() as usize).max(1),
        )
    }

    /// 8-bit quantisation (round to nearest, clamped), row-major.
    pub fn to_u8(&self) -> Vec<u8> {
        self.data
            .iter()
            .map(|v| (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8)
            .collect()
    }

    /// 16-bit quantisation (round to nearest, clamped), row-major.
    pub fn to_u16(&self) -> Vec<u16> {
        self.data
            .iter()
            .map(|v| (v.clamp(0.0, 1.0) * 65535.0 + 0.5) as u16)
            .collect()
    }
}

/// The normalised Gaussian kernel of standard deviation `sigma` to 3 SD, and its radius.
fn gaussian_kernel(sigma: f32) -> (Vec<f32>, usize) {
    let r = (3.0 * sigma).ceil() as isize;
    let mut k: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
    (k, r as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The blur as first written, tap by tap with clamped indices: the fast one must give the
    /// same bits.
    fn blur_reference(img: &GrayImage, sigma: f32) -> GrayImage {
        let (k, r) = gaussian_kernel(sigma);
        let r = r as isize;
        let (w, h) = (img.width as isize, img.height as isize);
        let pass = |src: &[f32], dst: &mut [f32], along_x: bool| {
            for y in 0..h {
                for x in 0..w {
                    let mut acc = 0.0;
                    for (j, kv) in k.iter().enumerate() {
                        let d = j as isize - r;
                        let (sx, sy) = if along_x {
                            ((x + d).clamp(0, w - 1), y)
                        } else {
                            (x, (y + d).clamp(0, h - 1))
                        };
                        acc += kv * src[(sy * w + sx) as usize];
                    }
                    dst[(y * w + x) as usize] = acc;
                }
            }
        };
        let mut tmp = vec![0.0; img.data.len()];
        let mut out = GrayImage::new(img.width, img.height, 0.0);
        pass(&img.data, &mut tmp, true);
        pass(&tmp, &mut out.data, false);
        out
    }

    #[test]
    fn blur_gives_the_same_bits_as_tap_by_tap() {
        let img = GrayImage::from_vec(
            37,
            23,
            (0..37 * 23)
                .map(|i| ((i * 7919) % 101) as f32 / 100.0)
                .collect(),
        );
        // Kernels narrower and wider than the image.
        for sigma in [0.5, 2.0, 7.75, 12.0] {
            assert_eq!(
                img.gaussian_blur(sigma).data,
                blur_reference(&img, sigma).data,
                "{sigma}"
            );
        }
        let one = GrayImage::from_vec(1, 1, vec![0.25]);
        assert_eq!(one.gaussian_blur(3.0).data, blur_reference(&one, 3.0).data);
    }

    /// The resize as first written, pixel by pixel: the fast one must give the same bits when
    /// enlarging (bilinear) and the same values to float rounding when shrinking (the area
    /// average is summed separably, rows first).
    fn resize_reference(img: &GrayImage, width: usize, height: usize) -> GrayImage {
        let sx = img.width as f32 / width as f32;
        let sy = img.height as f32 / height as f32;
        let mut out = GrayImage::new(width, height, 0.0);
        if sx <= 1.0 && sy <= 1.0 {
            for y in 0..height {
                for x in 0..width {
                    let v = img
                        .sample_bilinear((x as f32 + 0.5) * sx - 0.5, (y as f32 + 0.5) * sy - 0.5);
                    out.set(x, y, v);
                }
            }
            return out;
        }
        for y in 0..height {
            let y0 = y as f32 * sy;
            let y1 = ((y + 1) as f32 * sy).min(img.height as f32);
            for x in 0..width {
                let x0 = x as f32 * sx;
                let x1 = ((x + 1) as f32 * sx).min(img.width as f32);
                let (mut acc, mut wsum) = (0.0f32, 0.0f32);
                let mut yy = y0.floor() as usize;
                while (yy as f32) < y1 && yy < img.height {
                    let wy = ((yy + 1) as f32).min(y1) - (yy as f32).max(y0);
                    let mut xx = x0.floor() as usize;
                    while (xx as f32) < x1 && xx < img.width {
                        let wx = ((xx + 1) as f32).min(x1) - (xx as f32).max(x0);
                        acc += img.get(xx, yy) * wx * wy;
                        wsum += wx * wy;
                        xx += 1;
                    }
                    yy += 1;
                }
                out.set(x, y, if wsum > 0.0 { acc / wsum } else { 0.0 });
            }
        }
        out
    }

    #[test]
    fn resize_matches_the_pixel_by_pixel_reference() {
        let img = GrayImage::from_vec(
            157,
            211,
            (0..157 * 211)
                .map(|i| ((i * 7919) % 1009) as f32 / 1009.0)
                .collect(),
        );
        for (w, h) in [
            (40, 50),
            (157, 211),
            (300, 411),
            (600, 700),
            (90, 400),
            (400, 90),
            (100, 137),
            (1, 1),
        ] {
            let (a, b) = (img.resize(w, h), resize_reference(&img, w, h));
            let enlarging = w >= img.width && h >= img.height;
            for (x, y) in a.data.iter().zip(&b.data) {
                if enlarging {
                    assert_eq!(x.to_bits(), y.to_bits(), "{w}x{h}");
                } else {
                    assert!((x - y).abs() <= 2e-6, "{w}x{h}: {x} against {y}");
                }
            }
        }
    }

    #[test]
    fn resize_keeps_mean_and_constant_images() {
        let mut img = GrayImage::new(40, 30, 0.0);
        for y in 0..30 {
            for x in 0..40 {
                img.set(x, y, ((x + y) % 7) as f32 / 7.0);
            }
        }
        let small = img.resize(10, 7);
        let m0: f32 = img.data.iter().sum::<f32>() / img.data.len() as f32;
        let m1: f32 = small.data.iter().sum::<f32>() / small.data.len() as f32;
        assert!((m0 - m1).abs() < 0.02, "{m0} {m1}");
        let c = GrayImage::new(5, 5, 0.25).resize(13, 11);
        assert!(c.data.iter().all(|v| (v - 0.25).abs() < 1e-6));
        assert_eq!(img.fit_within(20, 20), (20, 15));
    }
}
