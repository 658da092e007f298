//! CLAHE (contrast-limited adaptive histogram equalisation), bit-compatible with OpenCV's
//! `cv2.createCLAHE(clipLimit, tileGridSize).apply(img)` on 8-bit and 16-bit images.
//!
//! The algorithm follows OpenCV's `imgproc/src/clahe.cpp` step by step:
//!
//! 1. If the image size is not a multiple of the tile grid, the histograms are taken on the
//!    image padded at the right and bottom with `BORDER_REFLECT_101` by
//!    `tiles_x - width % tiles_x` columns and `tiles_y - height % tiles_y` rows. (Like OpenCV,
//!    when only one dimension is not divisible, the other is padded by a whole tile count too.)
//! 2. One histogram per tile (256 bins for 8-bit, 65536 for 16-bit), clipped at
//!    `max(trunc(clip_limit * tile_area / bins), 1)`; the clipped excess is spread as
//!    `excess / bins` per bin plus one more in every `max(bins / residual, 1)`-th bin from bin 0
//!    until the residual is used up.
//! 3. LUT = `round_half_even(cumsum * lut_scale)` saturated, with
//!    `lut_scale = (bins - 1) / tile_area` in `f32`.
//! 4. Each pixel of the (unpadded) image is mapped by bilinear interpolation between the LUTs
//!    of the four nearest tile centres, with OpenCV's `f32` coordinates
//!    (`txf = x * (1/tile_w) - 0.5`, weights `txf - floor(txf)`, tile indices clamped to the
//!    grid) and the same `f32` operation order, then rounded half-to-even and saturated.
//!
//! The agreement with OpenCV is checked against stored OpenCV outputs in
//! `tests/clahe_opencv.rs` (fixtures made by `bench/clahe_fixtures.py`).

use crate::gray::GrayImage;
use rayon::prelude::*;

/// CLAHE parameters with OpenCV's meaning (`createCLAHE(clipLimit, tileGridSize)`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClaheConfig {
    /// Contrast limit relative to a flat histogram (OpenCV `clipLimit`); default 2.0.
    pub clip_limit: f64,
    /// Tiles across (OpenCV `tileGridSize.width`); default 8.
    pub tiles_x: usize,
    /// Tiles down (OpenCV `tileGridSize.height`); default 8.
    pub tiles_y: usize,
}

impl Default for ClaheConfig {
    fn default() -> Self {
        ClaheConfig {
            clip_limit: 2.0,
            tiles_x: 8,
            tiles_y: 8,
        }
    }
}

/// Why a [`ClaheConfig`] cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClaheError {
    /// A tile grid with no tiles along one side.
    #[error("CLAHE tile grid must be at least 1x1, got {tiles_x}x{tiles_y}")]
    ZeroTiles {
        /// Tiles across.
        tiles_x: usize,
        /// Tiles down.
        tiles_y: usize,
    },
    /// A clip limit that is not a positive number.
    #[error("CLAHE clip limit must be a positive finite number, got {0}")]
    BadClipLimit(f64),
}

impl ClaheConfig {
    /// Checks the tile grid is non-empty and the clip limit positive and finite.
    pub fn validate(&self) -> Result<(), ClaheError> {
        if self.tiles_x == 0 || self.tiles_y == 0 {
            return Err(ClaheError::ZeroTiles {
                tiles_x: self.tiles_x,
                tiles_y: self.tiles_y,
            });
        }
        if !(self.clip_limit.is_finite() && self.clip_limit > 0.0) {
            return Err(ClaheError::BadClipLimit(self.clip_limit));
        }
        Ok(())
    }
}

/// Pixel types CLAHE runs on; `BINS` is the histogram size (OpenCV's `histSize`).
trait Pixel: Copy + Default + Send + Sync {
    const BINS: usize;
    fn index(self) -> usize;
    /// From an already rounded, non-negative integer value, saturating.
    fn from_rounded(v: u32) -> Self;
}

impl Pixel for u8 {
    const BINS: usize = 256;
    #[inline(always)]
    fn index(self) -> usize {
        self as usize
    }
    #[inline(always)]
    fn from_rounded(v: u32) -> Self {
        v.min(255) as u8
    }
}

impl Pixel for u16 {
    const BINS: usize = 65536;
    #[inline(always)]
    fn index(self) -> usize {
        self as usize
    }
    #[inline(always)]
    fn from_rounded(v: u32) -> Self {
        v.min(65535) as u16
    }
}

/// `f32 -> u32`, rounding half to even like OpenCV's `cvRound` (`lrintf`), for
/// `0 <= v < 2^23`: adding `2^23` leaves a float whose unit in the last place is 1, so the
/// addition itself rounds (to nearest, ties to even) and the integer sits in the mantissa.
/// Negative inputs give 0.
#[inline(always)]
fn round_nonneg(v: f32) -> u32 {
    if v <= 0.0 {
        return 0;
    }
    let v = v.min(8_388_607.0);
    (v + 8_388_608.0).to_bits() & 0x007f_ffff
}

/// OpenCV's `borderInterpolate(p, len, BORDER_REFLECT_101)`.
fn reflect101(mut p: isize, len: usize) -> usize {
    let len = len as isize;
    if len == 1 {
        return 0;
    }
    while p < 0 || p >= len {
        if p < 0 {
            p = -p;
        } else {
            p = 2 * len - 2 - p;
        }
    }
    p as usize
}

/// CLAHE on an 8-bit image (row-major, `width * height` values), as OpenCV computes it.
///
/// Panics if `cfg` is invalid ([`ClaheConfig::validate`]) or `data.len() != width * height`.
pub fn clahe_u8(data: &[u8], width: usize, height: usize, cfg: &ClaheConfig) -> Vec<u8> {
    clahe_impl::<u8, u8, 256>(data, width, height, cfg, 1)
}

/// CLAHE on a 16-bit image (65536-bin histograms, like OpenCV on `CV_16U`).
///
/// Panics if `cfg` is invalid ([`ClaheConfig::validate`]) or `data.len() != width * height`.
pub fn clahe_u16(data: &[u16], width: usize, height: usize, cfg: &ClaheConfig) -> Vec<u16> {
    clahe_impl::<u16, u16, 65536>(data, width, height, cfg, 1)
}

/// CLAHE on an 8-bit image as a 16-bit one: the same values as [`clahe_u16`] on the image
/// widened to 16 bits (`v * 257`), computed on 256-entry tables. Only the 256 occupied bins
/// of the 65536 need their cumulative sums, and the clipped excess spread over the empty
/// bins has a closed form, so this is as fast as [`clahe_u8`].
///
/// Panics if `cfg` is invalid ([`ClaheConfig::validate`]) or `data.len() != width * height`.
pub fn clahe_u8_as_u16(data: &[u8], width: usize, height: usize, cfg: &ClaheConfig) -> Vec<u16> {
    clahe_impl::<u8, u16, 256>(data, width, height, cfg, 257)
}

/// CLAHE on a `[0, 1]` image: quantised to 8 bits (`round(v * 255)`) or, with
/// `sixteen_bit`, to 16 bits (`round(v * 65535)`), equalised, and scaled back to `[0, 1]`.
/// Values outside `[0, 1]` are clamped first.
///
/// Panics if `cfg` is invalid ([`ClaheConfig::validate`]).
pub fn clahe(img: &GrayImage, cfg: &ClaheConfig, sixteen_bit: bool) -> GrayImage {
    let (w, h) = (img.width, img.height);
    let data = if sixteen_bit {
        let q: Vec<u16> = img
            .data
            .iter()
            .map(|&v| (v.clamp(0.0, 1.0) * 65535.0).round() as u16)
            .collect();
        clahe_u16(&q, w, h, cfg)
            .into_iter()
            .map(|v| v as f32 / 65535.0)
            .collect()
    } else {
        let q: Vec<u8> = img
            .data
            .iter()
            .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect();
        clahe_u8(&q, w, h, cfg)
            .into_iter()
            .map(|v| v as f32 / 255.0)
            .collect()
    };
    GrayImage::from_vec(w, h, data)
}

/// CLAHE with `N`-entry tables indexed by the source pixel `S`; source value `v` stands in
/// the histogram for bin `v * spacing` of `(N - 1) * spacing + 1` bins, and the tables hold
/// values of `T` (`spacing` 257 reads 8-bit pixels as 16-bit ones).
fn clahe_impl<S: Pixel, T: Pixel, const N: usize>(
    data: &[S],
    width: usize,
    height: usize,
    cfg: &ClaheConfig,
    spacing: usize,
) -> Vec<T> {
    debug_assert_eq!(N, S::BINS);
    debug_assert_eq!((N - 1) * spacing + 1, T::BINS);
    if let Err(e) = cfg.validate() {
        panic!("clahe: {e}");
    }
    assert_eq!(
        data.len(),
        width * height,
        "clahe: data length != width * height"
    );
    if width == 0 || height == 0 {
        return Vec::new();
    }
    let (tiles_x, tiles_y) = (cfg.tiles_x, cfg.tiles_y);
    // Histogram source: the image, or its right/bottom BORDER_REFLECT_101 extension.
    let (ext_w, ext_h) = if width.is_multiple_of(tiles_x) && height.is_multiple_of(tiles_y) {
        (width, height)
    } else {
        (
            width + tiles_x - width % tiles_x,
            height + tiles_y - height % tiles_y,
        )
    };
    let tile_w = ext_w / tiles_x;
    let tile_h = ext_h / tiles_y;
    let lut = tile_luts::<S, T, N>(data, width, height, ext_w, tile_w, tile_h, cfg, spacing);
    interpolate::<S, T, N>(data, width, height, tile_w, tile_h, tiles_x, tiles_y, &lut)
}

/// The `tiles_y * tiles_x` LUTs of `N` entries each, tile `(tx, ty)` at `ty * tiles_x + tx`;
/// entry `v` is the table of the full histogram of `(N - 1) * spacing + 1` bins at bin
/// `v * spacing` (the other bins are empty).
#[allow(clippy::too_many_arguments)]
fn tile_luts<S: Pixel, T: Pixel, const N: usize>(
    data: &[S],
    width: usize,
    height: usize,
    ext_w: usize,
    tile_w: usize,
    tile_h: usize,
    cfg: &ClaheConfig,
    spacing: usize,
) -> Vec<T> {
    let (tiles_x, tiles_y) = (cfg.tiles_x, cfg.tiles_y);
    let area = tile_w * tile_h;
    let bins = (N - 1) * spacing + 1;
    let lut_scale = (bins - 1) as f32 / area as f32;
    let clip = ((cfg.clip_limit * area as f64 / bins as f64) as i64).max(1);
    // Source column of each column of the extended image.
    let xmap: Vec<usize> = (0..ext_w).map(|x| reflect101(x as isize, width)).collect();
    let mut lut = vec![T::default(); tiles_x * tiles_y * N];
    // Histograms of one row of tiles; for 8-bit, two interleaved copies per tile (even and
    // odd columns) so consecutive increments of the same bin do not wait on each other.
    let copies = if N <= 256 { 2 } else { 1 };
    // Rows of tiles are independent: one rayon task each, with its own histograms.
    lut.par_chunks_mut(tiles_x * N)
        .enumerate()
        .for_each(|(ty, lut_row)| {
            let mut hist = vec![0u32; tiles_x * N * copies];
            for py in ty * tile_h..(ty + 1) * tile_h {
                let sy = reflect101(py as isize, height);
                let row = &data[sy * width..(sy + 1) * width];
                for tx in 0..tiles_x {
                    let x0 = tx * tile_w;
                    let x1 = x0 + tile_w;
                    let hs = &mut hist[tx * N * copies..(tx + 1) * N * copies];
                    if x1 <= width {
                        let seg = &row[x0..x1];
                        if copies == 2 {
                            let (h0, h1) = hs.split_at_mut(N);
                            let mut pairs = seg.chunks_exact(2);
                            for p in &mut pairs {
                                h0[p[0].index()] += 1;
                                h1[p[1].index()] += 1;
                            }
                            for &v in pairs.remainder() {
                                h0[v.index()] += 1;
                            }
                        } else {
                            for &v in seg {
                                hs[v.index()] += 1;
                            }
                        }
                    } else {
                        for &sx in &xmap[x0..x1] {
                            hs[row[sx].index()] += 1;
                        }
                    }
                }
            }
            for tx in 0..tiles_x {
                let hs = &mut hist[tx * N * copies..(tx + 1) * N * copies];
                if copies == 2 {
                    let (h0, h1) = hs.split_at_mut(N);
                    for (a, b) in h0.iter_mut().zip(h1.iter()) {
                        *a += *b;
                    }
                }
                let h = &mut hs[..N];
                // Clip, counting the excess.
                let mut clipped: i64 = 0;
                for c in h.iter_mut() {
                    if *c as i64 > clip {
                        clipped += *c as i64 - clip;
                        *c = clip as u32;
                    }
                }
                // Redistribute: `batch` to every bin, then one more to bins 0, step, 2 step,
                // ... until the residual is used up; at bin `p` that adds
                // `batch * (p + 1) + min(residual, p / step + 1)` to the cumulative sum.
                let bins = bins as i64;
                let batch = clipped / bins;
                let residual = clipped - batch * bins;
                let step = if residual > 0 {
                    (bins / residual).max(1)
                } else {
                    1
                };
                // Cumulative sum to LUT.
                let out = &mut lut_row[tx * N..(tx + 1) * N];
                let mut sum: i64 = 0;
                for (v, (o, &c)) in out.iter_mut().zip(h.iter()).enumerate() {
                    sum += c as i64;
                    let p = (v * spacing) as i64;
                    let spread = batch * (p + 1) + residual.min(p / step + 1);
                    *o = T::from_rounded(round_nonneg((sum + spread) as f32 * lut_scale));
                }
            }
        });
    lut
}

/// Bilinear interpolation between tile LUTs, OpenCV's `CLAHE_Interpolation_Body`.
#[allow(clippy::too_many_arguments)]
fn interpolate<S: Pixel, T: Pixel, const N: usize>(
    data: &[S],
    width: usize,
    height: usize,
    tile_w: usize,
    tile_h: usize,
    tiles_x: usize,
    tiles_y: usize,
    lut: &[T],
) -> Vec<T> {
    let inv_tw = 1.0f32 / tile_w as f32;
    let inv_th = 1.0f32 / tile_h as f32;
    // Per column: the two tile columns and the weights. Columns with the same tile pair form
    // runs, so the inner loop indexes fixed `[T; N]` tables (no bounds checks).
    let mut xa = vec![0f32; width];
    let mut xa1 = vec![0f32; width];
    let mut runs: Vec<(usize, usize, usize, usize)> = Vec::new(); // (x0, x1, tx1, tx2)
    for x in 0..width {
        let txf = x as f32 * inv_tw - 0.5;
        let fl = txf.floor();
        let t1 = fl as isize;
        xa[x] = txf - fl;
        xa1[x] = 1.0 - xa[x];
        let tx1 = t1.max(0) as usize;
        let tx2 = ((t1 + 1).min(tiles_x as isize - 1)).max(0) as usize;
        match runs.last_mut() {
            Some(r) if r.2 == tx1 && r.3 == tx2 => r.1 = x + 1,
            _ => runs.push((x, x + 1, tx1, tx2)),
        }
    }
    let table = |t: usize| -> &[T; N] { lut[t * N..(t + 1) * N].try_into().unwrap() };
    let mut out = vec![T::default(); width * height];
    // Rows are independent: one rayon task per row.
    out.par_chunks_mut(width).enumerate().for_each(|(y, dst)| {
        let tyf = y as f32 * inv_th - 0.5;
        let fl = tyf.floor();
        let t1 = fl as isize;
        let ya = tyf - fl;
        let ya1 = 1.0 - ya;
        let ty1 = t1.max(0) as usize;
        let ty2 = ((t1 + 1).min(tiles_y as isize - 1)).max(0) as usize;
        let src = &data[y * width..(y + 1) * width];
        for &(x0, x1, tx1, tx2) in &runs {
            let a1 = table(ty1 * tiles_x + tx1);
            let a2 = table(ty1 * tiles_x + tx2);
            let b1 = table(ty2 * tiles_x + tx1);
            let b2 = table(ty2 * tiles_x + tx2);
            let it = src[x0..x1]
                .iter()
                .zip(dst[x0..x1].iter_mut())
                .zip(xa[x0..x1].iter().zip(xa1[x0..x1].iter()));
            for ((&s, d), (&wa, &wa1)) in it {
                let v = s.index();
                let res = (to_f32(a1[v]) * wa1 + to_f32(a2[v]) * wa) * ya1
                    + (to_f32(b1[v]) * wa1 + to_f32(b2[v]) * wa) * ya;
                // res >= 0 (non-negative LUTs and weights) and far below 2^23.
                *d = T::from_rounded((res + 8_388_608.0).to_bits() & 0x007f_ffff);
            }
        }
    });
    out
}

#[inline(always)]
fn to_f32<T: Pixel>(v: T) -> f32 {
    v.index() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(w: usize, h: usize) -> Vec<u8> {
        (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                ((x * 3 + y * 5 + (x * y) % 17) % 256) as u8
            })
            .collect()
    }

    #[test]
    fn eight_bit_read_as_sixteen_matches_the_widened_image() {
        // Small tiles (clip of 1, excess spread as a residual only) and large ones with a high
        // clip limit (a whole batch per bin as well).
        for (w, h, tiles, clip) in [
            (96, 80, 8, 2.0),
            (101, 67, 3, 4.0),
            (640, 480, 2, 40.0),
            (640, 480, 2, 10.0),
        ] {
            let data = ramp(w, h);
            let wide: Vec<u16> = data.iter().map(|&v| v as u16 * 257).collect();
            let cfg = ClaheConfig {
                clip_limit: clip,
                tiles_x: tiles,
                tiles_y: tiles,
            };
            assert_eq!(
                clahe_u8_as_u16(&data, w, h, &cfg),
                clahe_u16(&wide, w, h, &cfg),
                "{w}x{h}, {tiles} tiles, clip {clip}"
            );
        }
        // A [0, 1] image of 8-bit levels quantised to 16 bits is the widened 8-bit image.
        for k in 0..=255u16 {
            let v = k as f32 / 255.0;
            assert_eq!((v.clamp(0.0, 1.0) * 65535.0).round() as u16, k * 257);
        }
    }

    #[test]
    fn constant_image_stays_constant() {
        let data = vec![100u8; 64 * 48];
        let out = clahe_u8(&data, 64, 48, &ClaheConfig::default());
        let (lo, hi) = (out.iter().min().unwrap(), out.iter().max().unwrap());
        assert_eq!(lo, hi, "constant input must give constant output");
        let data16 = vec![30000u16; 40 * 40];
        let out16 = clahe_u16(&data16, 40, 40, &ClaheConfig::default());
        assert!(out16.iter().all(|&v| v == out16[0]));
    }

    #[test]
    fn output_range_and_spread() {
        let (w, h) = (96, 80);
        let data: Vec<u8> = ramp(w, h).iter().map(|v| 100 + v / 8).collect();
        let out = clahe_u8(&data, w, h, &ClaheConfig::default());
        assert_eq!(out.len(), w * h);
        let spread_in = data.iter().max().unwrap() - data.iter().min().unwrap();
        let spread_out = out.iter().max().unwrap() - out.iter().min().unwrap();
        assert!(spread_out > spread_in, "{spread_out} <= {spread_in}");
        let img = GrayImage::from_vec(w, h, data.iter().map(|&v| v as f32 / 255.0).collect());
        for sixteen in [false, true] {
            let o = clahe(&img, &ClaheConfig::default(), sixteen);
            assert!(o.data.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }

    #[test]
    fn non_divisible_sizes_work() {
        for (w, h) in [(97, 61), (5, 3), (1, 1), (13, 64), (64, 13), (1, 50)] {
            let data = ramp(w, h);
            let cfg = ClaheConfig {
                clip_limit: 3.0,
                tiles_x: 4,
                tiles_y: 6,
            };
            assert_eq!(clahe_u8(&data, w, h, &cfg).len(), w * h);
            let d16: Vec<u16> = data.iter().map(|&v| v as u16 * 257).collect();
            assert_eq!(clahe_u16(&d16, w, h, &cfg).len(), w * h);
        }
    }

    #[test]
    fn config_errors() {
        let cfg = ClaheConfig {
            tiles_x: 0,
            ..Default::default()
        };
        assert!(matches!(cfg.validate(), Err(ClaheError::ZeroTiles { .. })));
        let cfg = ClaheConfig {
            clip_limit: 0.0,
            ..Default::default()
        };
        assert_eq!(cfg.validate(), Err(ClaheError::BadClipLimit(0.0)));
        assert!(ClaheConfig::default().validate().is_ok());
    }

    #[test]
    fn reflect101_matches_opencv() {
        assert_eq!(reflect101(5, 5), 3);
        assert_eq!(reflect101(6, 5), 2);
        assert_eq!(reflect101(-1, 5), 1);
        assert_eq!(reflect101(4, 3), 0);
        assert_eq!(reflect101(7, 1), 0);
    }

    #[test]
    fn rounding_is_half_to_even() {
        assert_eq!(round_nonneg(0.5), 0);
        assert_eq!(round_nonneg(1.5), 2);
        assert_eq!(round_nonneg(2.5), 2);
        assert_eq!(round_nonneg(2.51), 3);
        assert_eq!(round_nonneg(254.49), 254);
        assert_eq!(round_nonneg(-3.0), 0);
    }
}
