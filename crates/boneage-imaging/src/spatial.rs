//! Spatial transforms: 2-D affine maps and warping an image through one.
//!
//! Coordinates are pixels, `(x, y)` with `y` down, pixel centres at integers.

use crate::gray::GrayImage;

/// The affine map `(x, y) → (a·x + b·y + c, d·x + e·y + f)`, i.e. the 2x3 matrix
/// `[[a, b, c], [d, e, f]]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    /// `[[a, b, c], [d, e, f]]`.
    pub m: [[f64; 3]; 2],
}

impl Affine {
    /// The map that leaves every point where it is.
    pub const IDENTITY: Affine = Affine {
        m: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
    };

    /// A shift by `(dx, dy)`.
    pub fn translate(dx: f64, dy: f64) -> Affine {
        Affine {
            m: [[1.0, 0.0, dx], [0.0, 1.0, dy]],
        }
    }

    /// A scaling about the origin.
    pub fn scale(sx: f64, sy: f64) -> Affine {
        Affine {
            m: [[sx, 0.0, 0.0], [0.0, sy, 0.0]],
        }
    }

    /// Rotation by `deg` degrees, clockwise on screen (y down), about the origin.
    pub fn rotate_deg(deg: f64) -> Affine {
        let (s, c) = deg.to_radians().sin_cos();
        Affine {
            m: [[c, -s, 0.0], [s, c, 0.0]],
        }
    }

    /// `self` after `first`: `(self ∘ first)(p) = self(first(p))`.
    pub fn after(&self, first: &Affine) -> Affine {
        let a = &self.m;
        let b = &first.m;
        Affine {
            m: [
                [
                    a[0][0] * b[0][0] + a[0][1] * b[1][0],
                    a[0][0] * b[0][1] + a[0][1] * b[1][1],
                    a[0][0] * b[0][2] + a[0][1] * b[1][2] + a[0][2],
                ],
                [
                    a[1][0] * b[0][0] + a[1][1] * b[1][0],
                    a[1][0] * b[0][1] + a[1][1] * b[1][1],
                    a[1][0] * b[0][2] + a[1][1] * b[1][2] + a[1][2],
                ],
            ],
        }
    }

    /// The image of the point `(x, y)`.
    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let m = &self.m;
        (
            m[0][0] * x + m[0][1] * y + m[0][2],
            m[1][0] * x + m[1][1] * y + m[1][2],
        )
    }

    /// The inverse map; `None` when singular.
    pub fn inverse(&self) -> Option<Affine> {
        let m = &self.m;
        let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
        if det.abs() < 1e-12 {
            return None;
        }
        let (a, b, d, e) = (m[1][1] / det, -m[0][1] / det, -m[1][0] / det, m[0][0] / det);
        Some(Affine {
            m: [
                [a, b, -(a * m[0][2] + b * m[1][2])],
                [d, e, -(d * m[0][2] + e * m[1][2])],
            ],
        })
    }
}

/// Warps `src` into a `width x height` image: output pixel `p` takes the bilinear sample of
/// `src` at `to_source(p)`; samples outside `src` get `fill`.
pub fn warp(
    src: &GrayImage,
    width: usize,
    height: usize,
    to_source: &Affine,
    fill: f32,
) -> GrayImage {
    use rayon::prelude::*;
    let mut out = GrayImage::new(width, height, fill);
    let (w, h) = (src.width as f64, src.height as f64);
    let m = &to_source.m;
    if width == 0 {
        return out;
    }
    // Rows over rayon's threads; each row is computed as it always was (the same values).
    out.data
        .par_chunks_mut(width)
        .enumerate()
        .for_each(|(y, row)| {
            let (yf, mut sx, mut sy) = (y as f64, 0.0, 0.0);
            for (x, v) in row.iter_mut().enumerate() {
                if x == 0 {
                    sx = m[0][1] * yf + m[0][2];
                    sy = m[1][1] * yf + m[1][2];
                } else {
                    sx += m[0][0];
                    sy += m[1][0];
                }
                if sx < -0.5 || sy < -0.5 || sx > w - 0.5 || sy > h - 0.5 {
                    continue;
                }
                *v = src.sample_bilinear(sx as f32, sy as f32);
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_and_invert() {
        let a = Affine::translate(3.0, -2.0)
            .after(&Affine::rotate_deg(30.0))
            .after(&Affine::scale(2.0, 2.0));
        let inv = a.inverse().unwrap();
        let (x, y) = a.apply(5.0, 7.0);
        let (bx, by) = inv.apply(x, y);
        assert!((bx - 5.0).abs() < 1e-9 && (by - 7.0).abs() < 1e-9);
        // Clockwise on screen: +x rotates towards +y (down).
        let (x, y) = Affine::rotate_deg(90.0).apply(1.0, 0.0);
        assert!(x.abs() < 1e-12 && (y - 1.0).abs() < 1e-12);
        assert!(Affine::scale(0.0, 1.0).inverse().is_none());
    }

    #[test]
    fn warp_identity_and_shift() {
        let mut img = GrayImage::new(8, 6, 0.0);
        img.set(3, 2, 1.0);
        assert_eq!(warp(&img, 8, 6, &Affine::IDENTITY, 0.5), img);
        // Output (4, 2) samples source (3, 2).
        let shifted = warp(&img, 8, 6, &Affine::translate(-1.0, 0.0), 0.5);
        assert_eq!(shifted.get(4, 2), 1.0);
        assert_eq!(shifted.get(0, 0), 0.5, "outside the source → fill");
    }
}
