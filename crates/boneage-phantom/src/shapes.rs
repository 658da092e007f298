//! Shape primitives the phantom is built from, and their projection through the beam.
//!
//! Every bone part and every piece of soft tissue is one of three shapes, each placed by a
//! [`Frame`] (a similarity map from local millimetres to image pixels):
//!
//! - [`Tube`]: a body of revolution along its local `u` axis with a half-width profile, rounded
//!   ends, a cortical shell and a core density profile (shafts of long bones, fingers);
//! - [`Blob`]: a superellipse (ellipse to squircle) with taper and bend, a cortical shell and a
//!   core (carpal bones, epiphyses, sesamoid, the thenar bulge);
//! - [`Polygon`]: a flat slab with rounded edges (palm, forearm), in image pixels.
//!
//! Each shape answers, for a point, the path length of the beam through it (`outer`, mm) and
//! through its inner core (`inner`, mm): a cylinder of half-width `r` seen at distance `d` from
//! its axis has chord `2 sqrt(r² - d²)`, which is what makes cortices bright at bone edges.

/// Number of stations in a [`Tube`] profile look-up table.
pub const LUT_N: usize = 17;

/// A similarity frame: local `(u, v)` in millimetres to image `(x, y)` in pixels, `y` down.
/// `u` runs along `axis`; `v` along `axis` turned by +90° in image coordinates, `(-ay, ax)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    /// Image position of the local origin (pixels, or mm in the hand frame).
    pub origin: [f32; 2],
    /// Unit vector of the local `u` axis.
    pub axis: [f32; 2],
    /// Pixels per millimetre (1 in the hand frame).
    pub scale: f32,
}

impl Frame {
    /// A frame at `origin` whose `u` axis points along `axis` (normalised here).
    pub fn new(origin: [f32; 2], axis: [f32; 2], scale: f32) -> Frame {
        let n = (axis[0] * axis[0] + axis[1] * axis[1]).sqrt().max(1e-12);
        Frame {
            origin,
            axis: [axis[0] / n, axis[1] / n],
            scale,
        }
    }

    /// Local `(u, v)` (mm) of an image point.
    #[inline]
    pub fn to_local(&self, p: [f32; 2]) -> [f32; 2] {
        let dx = (p[0] - self.origin[0]) / self.scale;
        let dy = (p[1] - self.origin[1]) / self.scale;
        [
            dx * self.axis[0] + dy * self.axis[1],
            -dx * self.axis[1] + dy * self.axis[0],
        ]
    }

    /// Image point of local `(u, v)` (mm).
    #[inline]
    pub fn to_image(&self, l: [f32; 2]) -> [f32; 2] {
        let (ax, ay) = (self.axis[0], self.axis[1]);
        [
            self.origin[0] + self.scale * (l[0] * ax - l[1] * ay),
            self.origin[1] + self.scale * (l[0] * ay + l[1] * ax),
        ]
    }
}

/// What the beam crosses at one point of a shape, in millimetres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chord {
    /// Path length through the whole shape.
    pub outer: f32,
    /// Path length through its core (medulla or trabecular bone); `outer - inner` is cortex.
    pub inner: f32,
    /// Relative density of the core at this point (trabecular ends ~1, marrow ~0.3).
    pub core: f32,
}

/// A tapered body of revolution along `u`, occupying `u0 <= u < u1` (mm).
#[derive(Debug, Clone, PartialEq)]
pub struct Tube {
    /// Start of the tube along `u`, mm.
    pub u0: f32,
    /// End of the tube along `u`, mm.
    pub u1: f32,
    /// Half-width (mm) at `LUT_N` evenly spaced stations over `[u0, u1]`.
    pub half_width: [f32; LUT_N],
    /// Cortical thickness (mm) at the same stations; rounded ends get an end plate of half the
    /// end station's value.
    pub cortex: [f32; LUT_N],
    /// Core density at the same stations.
    pub core: [f32; LUT_N],
    /// Length (mm) of the elliptical rounding at the `u0` end (0 = cut flat).
    pub cap0: f32,
    /// Length (mm) of the elliptical rounding at the `u1` end.
    pub cap1: f32,
    /// Beam-direction thickness over width (1 = round section).
    pub depth: f32,
}

impl Tube {
    /// Largest half-width, for bounding boxes.
    pub fn max_half_width(&self) -> f32 {
        self.half_width.iter().copied().fold(0.0, f32::max)
    }

    #[inline]
    fn lut(table: &[f32; LUT_N], t: f32) -> f32 {
        let x = t * (LUT_N - 1) as f32;
        let i = (x as usize).min(LUT_N - 2);
        let f = x - i as f32;
        table[i] + (table[i + 1] - table[i]) * f
    }

    /// The beam's chord at local `(u, v)`, or `None` outside.
    #[inline]
    pub fn chord(&self, u: f32, v: f32) -> Option<Chord> {
        if u < self.u0 || u >= self.u1 {
            return None;
        }
        let t = (u - self.u0) / (self.u1 - self.u0);
        let hw = Self::lut(&self.half_width, t);
        let d0 = u - self.u0;
        let d1 = self.u1 - u;
        let mut k = 1.0f32;
        if d0 < self.cap0 {
            let z = 1.0 - d0 / self.cap0;
            k *= (1.0 - z * z).max(0.0).sqrt();
        }
        if d1 < self.cap1 {
            let z = 1.0 - d1 / self.cap1;
            k *= (1.0 - z * z).max(0.0).sqrt();
        }
        let r = hw * k;
        let av = v.abs();
        if av >= r {
            return None;
        }
        let outer = 2.0 * self.depth * (r * r - v * v).sqrt();
        let ct = Self::lut(&self.cortex, t);
        // The core is the outline shrunk by the cortex, ends included (end plates).
        // Cut (cap 0) ends are open: a tube continued by another has no end plate there.
        let e0 = if self.cap0 > 0.0 {
            0.5 * self.cortex[0]
        } else {
            f32::MIN
        };
        let e1 = if self.cap1 > 0.0 {
            0.5 * self.cortex[LUT_N - 1]
        } else {
            f32::MIN
        };
        let (c0, c1) = (d0 - e0, d1 - e1);
        let mut inner = 0.0;
        if c0 > 0.0 && c1 > 0.0 {
            // The core's end rounding is the outline's, shrunk by the end plate (concentric).
            let mut ki = 1.0f32;
            let ci0 = (self.cap0 - e0).max(0.1 * self.cap0);
            let ci1 = (self.cap1 - e1).max(0.1 * self.cap1);
            if c0 < ci0 && self.cap0 > 0.0 {
                let z = 1.0 - c0 / ci0;
                ki *= (1.0 - z * z).max(0.0).sqrt();
            }
            if c1 < ci1 && self.cap1 > 0.0 {
                let z = 1.0 - c1 / ci1;
                ki *= (1.0 - z * z).max(0.0).sqrt();
            }
            let ri = (hw - ct).max(0.0) * ki;
            if av < ri {
                inner = 2.0 * self.depth * (ri * ri - v * v).sqrt();
            }
        }
        Some(Chord {
            outer,
            inner,
            core: Self::lut(&self.core, t),
        })
    }

    /// Local bounding box `(u_min, u_max, v_min, v_max)`.
    pub fn extent(&self) -> [f32; 4] {
        let r = self.max_half_width();
        [self.u0, self.u1, -r, r]
    }
}

/// A superellipse centred on the local origin, with half-length `b` along `u` and half-width
/// `a` along `v`, optionally tapered, bent and squared off.
#[derive(Debug, Clone, PartialEq)]
pub struct Blob {
    /// Half-width across (`v`), mm.
    pub a: f32,
    /// Half-length along (`u`), mm.
    pub b: f32,
    /// 0 = ellipse, 1 = squircle (`|x|⁴ + |y|⁴ = 1`).
    pub square: f32,
    /// The half-width scales by `1 + taper_u * u / b` (wedge along `u`).
    pub taper_u: f32,
    /// The half-length scales by `1 + taper_v * v / a` (wedge across).
    pub taper_v: f32,
    /// The sides move along `+u` by `bend * b * (v / a)²` (a cap or a crescent).
    pub bend: f32,
    /// Keep the `+u` face where it is when `taper_v` changes the half-length (a wedge with one
    /// flat side, as an epiphysis on its physis).
    pub anchor: bool,
    /// Half of the beam-direction thickness at the centre, mm.
    pub depth: f32,
    /// Cortical shell as a fraction of the radius (0 = none; near 1 = a thin ring).
    pub cortex: f32,
    /// Core density.
    pub core: f32,
}

impl Blob {
    /// A plain ellipse with the given half-axes, depth and shell.
    pub fn ellipse(a: f32, b: f32, depth: f32, cortex: f32, core: f32) -> Blob {
        Blob {
            a,
            b,
            square: 0.0,
            taper_u: 0.0,
            taper_v: 0.0,
            bend: 0.0,
            anchor: false,
            depth,
            cortex,
            core,
        }
    }

    /// Normalised radius of `(u, v)`: below 1 inside.
    #[inline]
    fn rho(&self, u: f32, v: f32) -> f32 {
        let y = v / self.a;
        let ub = u - self.bend * self.b * y * y;
        let aa = self.a * (1.0 + self.taper_u * ub / self.b).max(0.05);
        let bb = self.b * (1.0 + self.taper_v * y).max(0.05);
        let x = v / aa;
        let z = if self.anchor {
            (ub - (self.b - bb)) / bb
        } else {
            ub / bb
        };
        let r2 = x * x + z * z;
        if self.square > 0.0 {
            let r4 = (x * x * x * x + z * z * z * z).sqrt().sqrt();
            r2.sqrt() + (r4 - r2.sqrt()) * self.square
        } else {
            r2.sqrt()
        }
    }

    /// The beam's chord at local `(u, v)`, or `None` outside.
    #[inline]
    pub fn chord(&self, u: f32, v: f32) -> Option<Chord> {
        let rho = self.rho(u, v);
        if rho >= 1.0 {
            return None;
        }
        let outer = 2.0 * self.depth * (1.0 - rho * rho).sqrt();
        let shell = 1.0 - self.cortex;
        let ri = rho / shell.max(1e-3);
        let inner = if ri < 1.0 {
            2.0 * self.depth * shell * (1.0 - ri * ri).sqrt()
        } else {
            0.0
        };
        Some(Chord {
            outer,
            inner,
            core: self.core,
        })
    }

    /// Local bounding box `(u_min, u_max, v_min, v_max)` (conservative).
    pub fn extent(&self) -> [f32; 4] {
        let ra = self.a * (1.0 + self.taper_u.abs()) * 1.05;
        let rb = self.b * (1.0 + self.taper_v.abs()) * if self.anchor { 2.1 } else { 1.05 }
            + self.bend.abs() * self.b;
        [-rb, rb, -ra, ra]
    }
}

/// A local shape: tube or blob.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// A tapered tube (shafts, phalanges, soft-tissue fingers).
    Tube(Tube),
    /// A rounded blob (carpals, epiphyses).
    Blob(Blob),
}

impl Shape {
    /// The beam's chord at local `(u, v)`, or `None` outside.
    #[inline]
    pub fn chord(&self, u: f32, v: f32) -> Option<Chord> {
        match self {
            Shape::Tube(t) => t.chord(u, v),
            Shape::Blob(b) => b.chord(u, v),
        }
    }

    /// Local bounding box `(u_min, u_max, v_min, v_max)`.
    pub fn extent(&self) -> [f32; 4] {
        match self {
            Shape::Tube(t) => t.extent(),
            Shape::Blob(b) => b.extent(),
        }
    }
}

/// A shape placed by a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    /// Where the shape lies: local `(u, v)` axes in the image.
    pub frame: Frame,
    /// The shape in its local frame.
    pub shape: Shape,
}

impl Placed {
    /// Whether an image point lies inside the shape.
    pub fn contains(&self, p: [f32; 2]) -> bool {
        let l = self.frame.to_local(p);
        self.shape.chord(l[0], l[1]).is_some()
    }

    /// Image-space bounding box `(x0, y0, x1, y1)` (inclusive pixel range, clipped to
    /// `width x height`), or `None` if off-image.
    pub fn pixel_box(&self, width: usize, height: usize) -> Option<[usize; 4]> {
        let [u0, u1, v0, v1] = self.shape.extent();
        let corners = [[u0, v0], [u0, v1], [u1, v0], [u1, v1]];
        let (mut xmin, mut ymin, mut xmax, mut ymax) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for c in corners {
            let p = self.frame.to_image(c);
            xmin = xmin.min(p[0]);
            xmax = xmax.max(p[0]);
            ymin = ymin.min(p[1]);
            ymax = ymax.max(p[1]);
        }
        let x0 = xmin.floor().max(0.0);
        let y0 = ymin.floor().max(0.0);
        let x1 = xmax.ceil().min(width as f32 - 1.0);
        let y1 = ymax.ceil().min(height as f32 - 1.0);
        if x1 < x0 || y1 < y0 || !x0.is_finite() || !y0.is_finite() {
            return None;
        }
        Some([x0 as usize, y0 as usize, x1 as usize, y1 as usize])
    }

    /// Calls `f(index, x, y, chord)` for every pixel centre (pixel `(x, y)` has its centre at
    /// `(x, y)`) inside the shape.
    #[inline]
    pub fn raster(
        &self,
        width: usize,
        height: usize,
        mut f: impl FnMut(usize, usize, usize, Chord),
    ) {
        let Some([x0, y0, x1, y1]) = self.pixel_box(width, height) else {
            return;
        };
        let fr = &self.frame;
        let inv = 1.0 / fr.scale;
        let (ax, ay) = (fr.axis[0] * inv, fr.axis[1] * inv);
        for y in y0..=y1 {
            let dy = y as f32 - fr.origin[1];
            let dx0 = x0 as f32 - fr.origin[0];
            let mut u = dx0 * ax + dy * ay;
            let mut v = -dx0 * ay + dy * ax;
            let row = y * width;
            for x in x0..=x1 {
                if let Some(c) = self.shape.chord(u, v) {
                    f(row + x, x, y, c);
                }
                u += ax;
                v -= ay;
            }
        }
    }
}

/// A flat slab with rounded edges bounded by a simple polygon, in image pixels: thickness
/// `thickness` (mm) inside, falling as a circular arc of radius `edge` (px) to 0 at the
/// boundary.
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon {
    /// Corners of the polygon, image pixels, in order.
    pub points: Vec<[f32; 2]>,
    /// Thickness in the middle, mm.
    pub thickness: f32,
    /// Edge rounding radius, pixels.
    pub edge: f32,
}

impl Polygon {
    /// Thickness (mm) at an image point, 0 outside.
    pub fn thickness_at(&self, p: [f32; 2]) -> f32 {
        let n = self.points.len();
        let mut inside = false;
        let mut dmin = f32::MAX;
        for i in 0..n {
            let a = self.points[i];
            let b = self.points[(i + 1) % n];
            if (a[1] > p[1]) != (b[1] > p[1]) {
                let xc = a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
                if p[0] < xc {
                    inside = !inside;
                }
            }
            dmin = dmin.min(seg_dist(p, a, b));
        }
        if !inside {
            return 0.0;
        }
        self.profile(dmin)
    }

    #[inline]
    fn profile(&self, d: f32) -> f32 {
        let z = (d / self.edge).min(1.0);
        self.thickness * (1.0 - (1.0 - z) * (1.0 - z)).sqrt()
    }

    /// Calls `f(index, thickness_mm)` for every pixel centre inside the polygon. Rows are
    /// scanned with their edge crossings; only edges within `edge` pixels of a row are
    /// measured for the distance to the boundary.
    pub fn raster(&self, width: usize, height: usize, mut f: impl FnMut(usize, f32)) {
        let n = self.points.len();
        if n < 3 {
            return;
        }
        let ymin = self.points.iter().map(|p| p[1]).fold(f32::MAX, f32::min);
        let ymax = self.points.iter().map(|p| p[1]).fold(f32::MIN, f32::max);
        let y0 = ymin.ceil().max(0.0) as usize;
        let y1f = ymax.floor().min(height as f32 - 1.0);
        if y1f < 0.0 {
            return;
        }
        let y1 = y1f as usize;
        let mut xs: Vec<f32> = Vec::with_capacity(n);
        let mut near: Vec<usize> = Vec::with_capacity(n);
        for y in y0..=y1 {
            let yf = y as f32;
            xs.clear();
            near.clear();
            for i in 0..n {
                let a = self.points[i];
                let b = self.points[(i + 1) % n];
                if (a[1] > yf) != (b[1] > yf) {
                    xs.push(a[0] + (yf - a[1]) / (b[1] - a[1]) * (b[0] - a[0]));
                }
                if yf >= a[1].min(b[1]) - self.edge && yf <= a[1].max(b[1]) + self.edge {
                    near.push(i);
                }
            }
            xs.sort_by(f32::total_cmp);
            for pair in xs.chunks_exact(2) {
                let xa = pair[0].ceil().max(0.0) as usize;
                let xbf = pair[1].floor().min(width as f32 - 1.0);
                if xbf < 0.0 {
                    continue;
                }
                let xb = xbf as usize;
                for x in xa..=xb.max(xa).min(width - 1) {
                    if (x as f32) > pair[1] {
                        break;
                    }
                    let p = [x as f32, yf];
                    let mut d = self.edge;
                    for &i in &near {
                        d = d.min(seg_dist(p, self.points[i], self.points[(i + 1) % n]));
                    }
                    f(y * width + x, self.profile(d));
                }
            }
        }
    }
}

/// Distance from `p` to the segment `a`-`b`.
#[inline]
pub fn seg_dist(p: [f32; 2], a: [f32; 2], b: [f32; 2]) -> f32 {
    let (abx, aby) = (b[0] - a[0], b[1] - a[1]);
    let (apx, apy) = (p[0] - a[0], p[1] - a[1]);
    let l2 = abx * abx + aby * aby;
    let t = if l2 > 0.0 {
        ((apx * abx + apy * aby) / l2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (dx, dy) = (apx - t * abx, apy - t * aby);
    (dx * dx + dy * dy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trips() {
        let f = Frame::new([10.0, 20.0], [0.6, -0.8], 2.5);
        let l = [3.0, -1.5];
        let p = f.to_image(l);
        let back = f.to_local(p);
        assert!((back[0] - l[0]).abs() < 1e-4 && (back[1] - l[1]).abs() < 1e-4);
    }

    #[test]
    fn tube_cortex_is_brightest_near_the_edge() {
        let t = Tube {
            u0: 0.0,
            u1: 40.0,
            half_width: [4.0; LUT_N],
            cortex: [1.2; LUT_N],
            core: [0.5; LUT_N],
            cap0: 1.0,
            cap1: 3.0,
            depth: 1.0,
        };
        let centre = t.chord(20.0, 0.0).unwrap();
        let edge = t.chord(20.0, 3.0).unwrap();
        assert!(edge.outer - edge.inner > centre.outer - centre.inner);
        assert!(t.chord(20.0, 4.1).is_none());
        assert!(t.chord(-0.1, 0.0).is_none() && t.chord(40.0, 0.0).is_none());
    }

    #[test]
    fn blob_is_inside_its_extent() {
        let b = Blob {
            a: 5.0,
            b: 8.0,
            square: 0.5,
            taper_u: 0.3,
            taper_v: -0.2,
            bend: 0.3,
            anchor: true,
            depth: 4.0,
            cortex: 0.2,
            core: 1.0,
        };
        let [u0, u1, v0, v1] = b.extent();
        for i in 0..200 {
            for j in 0..200 {
                let u = -20.0 + 40.0 * i as f32 / 199.0;
                let v = -20.0 + 40.0 * j as f32 / 199.0;
                if b.chord(u, v).is_some() {
                    assert!(u >= u0 && u <= u1 && v >= v0 && v <= v1, "{u} {v}");
                }
            }
        }
    }

    #[test]
    fn polygon_raster_matches_point_queries() {
        let poly = Polygon {
            points: vec![[5.0, 5.0], [40.0, 8.0], [35.0, 30.0], [8.0, 25.0]],
            thickness: 10.0,
            edge: 6.0,
        };
        let mut img = vec![0.0f32; 50 * 40];
        poly.raster(50, 40, |i, t| img[i] = t);
        for y in 0..40 {
            for x in 0..50 {
                let want = poly.thickness_at([x as f32, y as f32]);
                assert!((img[y * 50 + x] - want).abs() < 1e-4, "{x},{y}");
            }
        }
    }
}
