//! Registration into the seed's canonical frame and the regions cut from it.
//!
//! The canonical frame is 1600 wide x 2080 high, middle finger vertical (pointing up), with the
//! three keypoints at fixed places: tip of the middle finger's distal phalanx (800, 130), tip of
//! the thumb's distal phalanx (1500, 850), centre of the capitate (800, 1600).
//!
//! **Similarity, not a full affine.** Three point pairs determine an affine map exactly, but the
//! thumb is the most mobile of the three (±60 px in the canonical frame between children): an
//! exact affine would turn thumb posture into shear and unequal scaling of the whole hand,
//! distorting the bone proportions the age models read. A weighted least-squares similarity
//! (rotation, one scale, shift; no reflection) keeps the hand's shape. The middle tip and the
//! capitate weigh 1 and the thumb 0.2 ([`KEYPOINT_WEIGHTS`]): the frame is defined by the middle
//! finger being vertical, so that axis sets rotation and scale, and the thumb's posture moves
//! the hand by little (with equal weights it pulled the true middle tip and capitate 2% of the
//! frame height off their places on phantoms; see the tests of `boneage register`).
//!
//! Regions, in canonical pixels (`[x0, y0, x1, y1)`, output size):
//! - **A**, whole hand: 1500x2000 centred at (800, 1040) → 375x500 (the open reference recipe);
//! - **B**, carpal bones with the distal radius and ulna: 800x800 centred at (800, 1620) → 256x256;
//! - **C**, metacarpals and proximal phalanges: 1200x960 centred at (780, 1000) → 320x256.

use crate::gray::GrayImage;
use crate::spatial::{warp, Affine};

/// Width of the canonical frame.
pub const CANONICAL_WIDTH: usize = 1600;
/// Height of the canonical frame.
pub const CANONICAL_HEIGHT: usize = 2080;
/// Canonical positions: middle finger tip, thumb tip, capitate centre (x, y).
pub const CANONICAL_KEYPOINTS: [[f64; 2]; 3] = [[800.0, 130.0], [1500.0, 850.0], [800.0, 1600.0]];

/// Least-squares similarity (rotation, uniform scale, translation; no reflection) taking `src`
/// points onto `dst` points. `None` when the source points coincide.
pub fn fit_similarity(src: &[[f64; 2]], dst: &[[f64; 2]]) -> Option<Affine> {
    fit_similarity_weighted(src, dst, &vec![1.0; src.len()])
}

/// Weighted least-squares similarity: minimises `Σ wᵢ |T(srcᵢ) − dstᵢ|²`.
pub fn fit_similarity_weighted(src: &[[f64; 2]], dst: &[[f64; 2]], w: &[f64]) -> Option<Affine> {
    assert!(
        src.len() == dst.len() && src.len() == w.len(),
        "fit_similarity: point counts differ"
    );
    let wsum: f64 = w.iter().sum();
    if src.len() < 2 || wsum <= 0.0 {
        return None;
    }
    let mean = |p: &[[f64; 2]]| {
        let (sx, sy) = p
            .iter()
            .zip(w)
            .fold((0.0, 0.0), |a, (q, wi)| (a.0 + wi * q[0], a.1 + wi * q[1]));
        (sx / wsum, sy / wsum)
    };
    let (msx, msy) = mean(src);
    let (mdx, mdy) = mean(dst);
    // For x' = a·x − b·y + tx, y' = b·x + a·y + ty on centred points:
    // a = Σw(x·x' + y·y') / Σw(x² + y²), b = Σw(x·y' − y·x') / Σw(x² + y²).
    let (mut sxx, mut num_a, mut num_b) = (0.0, 0.0, 0.0);
    for ((s, d), wi) in src.iter().zip(dst).zip(w) {
        let (x, y) = (s[0] - msx, s[1] - msy);
        let (u, v) = (d[0] - mdx, d[1] - mdy);
        sxx += wi * (x * x + y * y);
        num_a += wi * (x * u + y * v);
        num_b += wi * (x * v - y * u);
    }
    if sxx < 1e-12 {
        return None;
    }
    let (a, b) = (num_a / sxx, num_b / sxx);
    Some(Affine {
        m: [
            [a, -b, mdx - (a * msx - b * msy)],
            [b, a, mdy - (b * msx + a * msy)],
        ],
    })
}

/// Weights of the keypoints `[middle tip, thumb tip, capitate]` in the registration fit: the
/// middle-finger axis sets rotation and scale; the thumb, the most mobile, counts a fifth.
pub const KEYPOINT_WEIGHTS: [f64; 3] = [1.0, 0.2, 1.0];

/// The similarity taking the three keypoints `[middle tip, thumb tip, capitate]` (source
/// pixels) into the canonical frame.
pub fn to_canonical(keypoints: &[[f64; 2]; 3]) -> Option<Affine> {
    fit_similarity_weighted(keypoints, &CANONICAL_KEYPOINTS, &KEYPOINT_WEIGHTS)
}

/// How far each keypoint lands from its canonical place under `source_to_canonical`, in
/// canonical pixels: `[middle tip, thumb tip, capitate]`. A left hand seen palm down fits
/// within a few dozen pixels; keypoints put on the wrong fingers (a mirrored hand) fit far
/// worse.
pub fn keypoint_residuals(keypoints: &[[f64; 2]; 3], source_to_canonical: &Affine) -> [f64; 3] {
    let mut r = [0.0; 3];
    for (i, (k, c)) in keypoints.iter().zip(CANONICAL_KEYPOINTS).enumerate() {
        let (x, y) = source_to_canonical.apply(k[0], k[1]);
        r[i] = ((x - c[0]).powi(2) + (y - c[1]).powi(2)).sqrt();
    }
    r
}

/// Warps `img` into the canonical frame through `source_to_canonical` (bilinear, with an area
/// average first when the map shrinks the image by more than 2x, so fine texture does not
/// alias); outside the source is `fill`.
pub fn warp_to_canonical(img: &GrayImage, source_to_canonical: &Affine, fill: f32) -> GrayImage {
    warp_scaled(
        img,
        source_to_canonical,
        CANONICAL_WIDTH,
        CANONICAL_HEIGHT,
        fill,
    )
}

/// Scale of a map (square root of the area change).
fn map_scale(map: &Affine) -> f64 {
    let m = &map.m;
    (m[0][0] * m[1][1] - m[0][1] * m[1][0]).abs().sqrt()
}

/// Warps `img` into a `width x height` image through `map` (source → output pixels),
/// pre-shrinking the source when the map shrinks by more than 2x.
pub(crate) fn warp_scaled(
    img: &GrayImage,
    map: &Affine,
    width: usize,
    height: usize,
    fill: f32,
) -> GrayImage {
    let (src, full) = pre_shrink(img, map);
    let to_source = full.inverse().expect("registration maps are not singular");
    warp(&src, width, height, &to_source, fill)
}

/// The source shrunk by area averaging to about twice the scale of `map` when the map shrinks
/// by more than 2x (else the source itself), and the map from that image to the output.
fn pre_shrink<'a>(img: &'a GrayImage, map: &Affine) -> (std::borrow::Cow<'a, GrayImage>, Affine) {
    let (src, shrink) = shrink_for_scale(img, map_scale(map));
    (src, map.after(&shrink.inverse().expect("positive scale")))
}

/// `img` shrunk by area averaging to about twice `scale` when `scale` is under one half (else
/// `img` itself), and the map from `img`'s pixels to the returned image's.
fn shrink_for_scale(img: &GrayImage, scale: f64) -> (std::borrow::Cow<'_, GrayImage>, Affine) {
    if scale < 0.5 && img.width > 8 && img.height > 8 {
        let f = (2.0 * scale).max(1e-3);
        let (w, h) = (
            ((img.width as f64 * f).round() as usize).max(2),
            ((img.height as f64 * f).round() as usize).max(2),
        );
        let sx = w as f64 / img.width as f64;
        let sy = h as f64 / img.height as f64;
        // Pixel centres: x_small = (x + 0.5)·s − 0.5.
        let shrink = Affine {
            m: [[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5]],
        };
        (std::borrow::Cow::Owned(img.resize(w, h)), shrink)
    } else {
        (std::borrow::Cow::Borrowed(img), Affine::IDENTITY)
    }
}

/// One area shrink of `img` for cutting all of `regions` through `source_to_canonical`: to
/// about twice the scale of the region that shrinks least (the source itself when one does not
/// shrink by 2x). Returns the image and the map from `img`'s pixels to it; each region's
/// [`Region::prepare`] on it shrinks further only when it needs to.
pub fn shared_shrink<'a>(
    img: &'a GrayImage,
    regions: &[Region],
    source_to_canonical: &Affine,
) -> (std::borrow::Cow<'a, GrayImage>, Affine) {
    let scale = regions
        .iter()
        .map(|r| map_scale(&r.from_canonical().after(source_to_canonical)))
        .fold(0.0, f64::max);
    shrink_for_scale(img, scale)
}

/// A source image shrunk once for many cuts of one region at about the same map (test-time
/// augmentation views): [`Region::cut_prepared`] with the map it was made for gives exactly
/// [`Region::cut`]; nearby maps reuse the shrunk image.
pub struct PreparedSource<'a> {
    img: std::borrow::Cow<'a, GrayImage>,
    /// Shrunk-image pixels → region pixels, for the map it was prepared with.
    base: Affine,
    /// Region pixels → canonical pixels → source pixels of the base map.
    region_to_source: Affine,
}

/// One of the seed's regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Region {
    /// Whole hand.
    A,
    /// Carpal bones (with the distal radius and ulna).
    B,
    /// Metacarpals and proximal phalanges.
    C,
}

impl Region {
    /// Every region, A, B, C.
    pub const ALL: [Region; 3] = [Region::A, Region::B, Region::C];

    /// `A`, `B` or `C`.
    pub fn name(self) -> &'static str {
        match self {
            Region::A => "A",
            Region::B => "B",
            Region::C => "C",
        }
    }

    /// The box in canonical pixels `[x0, y0, x1, y1]` (exclusive ends).
    pub fn canonical_box(self) -> [f64; 4] {
        let (cx, cy, w, h) = match self {
            Region::A => (800.0, 1040.0, 1500.0, 2000.0),
            Region::B => (800.0, 1620.0, 800.0, 800.0),
            Region::C => (780.0, 1000.0, 1200.0, 960.0),
        };
        [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0]
    }

    /// Size of the region image (width, height).
    pub fn output_size(self) -> (usize, usize) {
        match self {
            Region::A => (375, 500),
            Region::B => (256, 256),
            Region::C => (320, 256),
        }
    }

    /// The map from canonical pixels to the region image's pixels.
    pub fn from_canonical(self) -> Affine {
        let [x0, y0, x1, y1] = self.canonical_box();
        let (w, h) = self.output_size();
        let (sx, sy) = (w as f64 / (x1 - x0), h as f64 / (y1 - y0));
        // Pixel centres: out = (c − x0 + 0.5)·s − 0.5.
        Affine {
            m: [
                [sx, 0.0, (0.5 - x0) * sx - 0.5],
                [0.0, sy, (0.5 - y0) * sy - 0.5],
            ],
        }
    }

    /// Shrinks `img` once for cuts of this region near `source_to_canonical`.
    pub fn prepare<'a>(
        self,
        img: &'a GrayImage,
        source_to_canonical: &Affine,
    ) -> PreparedSource<'a> {
        let map = self.from_canonical().after(source_to_canonical);
        let (img, base) = pre_shrink(img, &map);
        PreparedSource {
            img,
            base,
            region_to_source: map.inverse().expect("registration maps are not singular"),
        }
    }

    /// Cuts the region from a prepared source through `source_to_canonical` (bilinear from the
    /// shrunk image; identical to [`Region::cut`] for the map the source was prepared with).
    pub fn cut_prepared(
        self,
        p: &PreparedSource,
        source_to_canonical: &Affine,
        fill: f32,
    ) -> GrayImage {
        let (w, h) = self.output_size();
        let map = self.from_canonical().after(source_to_canonical);
        // Shrunk pixels → output: map ∘ (base map)⁻¹ ∘ base.
        let full = map.after(&p.region_to_source).after(&p.base);
        let to_small = full.inverse().expect("registration maps are not singular");
        warp(&p.img, w, h, &to_small, fill)
    }

    /// Cuts the region straight from a source image, given the source → canonical map (one
    /// resampling, not two).
    pub fn cut(self, img: &GrayImage, source_to_canonical: &Affine, fill: f32) -> GrayImage {
        let (w, h) = self.output_size();
        warp_scaled(
            img,
            &self.from_canonical().after(source_to_canonical),
            w,
            h,
            fill,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepared_cuts_match_direct_cuts() {
        let img = GrayImage::from_vec(
            1200,
            1600,
            (0..1200 * 1600)
                .map(|i| (((i % 1200) / 7 + (i / 1200) / 5) % 13) as f32 / 13.0)
                .collect(),
        );
        let map = to_canonical(&[[600.0, 150.0], [1050.0, 650.0], [600.0, 1200.0]]).unwrap();
        for r in Region::ALL {
            let p = r.prepare(&img, &map);
            let a = r.cut(&img, &map, 0.0);
            let b = r.cut_prepared(&p, &map, 0.0);
            assert_eq!(a.data.len(), b.data.len());
            let d = a
                .data
                .iter()
                .zip(&b.data)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            assert!(d < 1e-4, "region {}: {d}", r.name());
            // A nearby map (a TTA view) still gives the region at that map.
            let moved = Affine::translate(10.0, 0.0).after(&map);
            let c = r.cut_prepared(&p, &moved, 0.0);
            let e = r.cut(&img, &moved, 0.0);
            let mean = c
                .data
                .iter()
                .zip(&e.data)
                .map(|(x, y)| (x - y).abs())
                .sum::<f32>()
                / c.data.len() as f32;
            assert!(mean < 0.02, "region {}: {mean}", r.name());
        }
    }

    #[test]
    fn similarity_is_recovered_exactly() {
        let truth = Affine::translate(120.0, -40.0)
            .after(&Affine::rotate_deg(23.0))
            .after(&Affine::scale(0.37, 0.37));
        let src = [[10.0, 20.0], [300.0, 50.0], [120.0, 400.0], [5.0, 7.0]];
        let dst: Vec<[f64; 2]> = src
            .iter()
            .map(|p| {
                let (x, y) = truth.apply(p[0], p[1]);
                [x, y]
            })
            .collect();
        let fit = fit_similarity(&src, &dst).unwrap();
        for i in 0..2 {
            for j in 0..3 {
                assert!(
                    (fit.m[i][j] - truth.m[i][j]).abs() < 1e-9,
                    "{fit:?} vs {truth:?}"
                );
            }
        }
        assert!(fit_similarity(&[[1.0, 1.0], [1.0, 1.0]], &[[0.0, 0.0], [5.0, 5.0]]).is_none());
        // Canonical points map to themselves.
        let id = to_canonical(&CANONICAL_KEYPOINTS).unwrap();
        for i in 0..2 {
            for j in 0..3 {
                assert!((id.m[i][j] - Affine::IDENTITY.m[i][j]).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn a_moved_thumb_barely_moves_the_hand() {
        // Thumb 60 px off (the seed's spread): middle tip and capitate stay within 10 px.
        let mut kp = CANONICAL_KEYPOINTS;
        kp[1][0] += 60.0;
        let a = to_canonical(&kp).unwrap();
        for k in [0, 2] {
            let (x, y) = a.apply(kp[k][0], kp[k][1]);
            let d = ((x - CANONICAL_KEYPOINTS[k][0]).powi(2)
                + (y - CANONICAL_KEYPOINTS[k][1]).powi(2))
            .sqrt();
            assert!(d < 10.0, "keypoint {k} moved {d:.1} px");
        }
    }

    #[test]
    fn regions_lie_in_the_frame_and_cut_consistently() {
        for r in Region::ALL {
            let [x0, y0, x1, y1] = r.canonical_box();
            assert!(x0 >= 0.0 && y0 >= 0.0);
            assert!(x1 <= CANONICAL_WIDTH as f64 && y1 <= CANONICAL_HEIGHT as f64);
            // The box's outer edges (pixel centres at integers: pixel x0 starts at x0 − 0.5)
            // map to the region image's outer edges.
            let (w, h) = r.output_size();
            let (a, b) = r.from_canonical().apply(x0 - 0.5, y0 - 0.5);
            assert!((a + 0.5).abs() < 1e-9 && (b + 0.5).abs() < 1e-9);
            let (a, b) = r.from_canonical().apply(x1 - 0.5, y1 - 0.5);
            assert!((a - w as f64 + 0.5).abs() < 1e-9 && (b - h as f64 + 0.5).abs() < 1e-9);
        }
        // Cutting from the source equals cutting from the registered image, up to resampling.
        let mut img = GrayImage::new(400, 520, 0.0);
        for y in 0..520 {
            for x in 0..400 {
                img.set(x, y, ((x / 20 + y / 20) % 2) as f32);
            }
        }
        let map = Affine::scale(4.0, 4.0);
        let direct = Region::B.cut(&img, &map, 0.0);
        let canon = warp_to_canonical(&img, &map, 0.0);
        let via = Region::B.cut(&canon, &Affine::IDENTITY, 0.0);
        let diff: f32 = direct
            .data
            .iter()
            .zip(&via.data)
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / direct.data.len() as f32;
        assert!(diff < 0.05, "{diff}");
    }
}
