//! The random transforms every augmentation is made of, grouped by kind (as MONAI groups
//! them): one random similarity ([`RandomAffine`]), one random change of grey values
//! ([`IntensityJitter`]) and one random loss of sharpness ([`RandomDegrade`]: blur and lost
//! resolution, as a moved hand, a soft detector or a downscaled film give). The age nets' training augmentation, the segmentation and keypoint
//! augmentations and test-time augmentation all draw from these two; their configuration files
//! keep their own field names and defaults ([`crate::data::AugmentConfig`],
//! [`crate::segmentation::SegAugment`], [`crate::keypoints::KeypointAugment`],
//! [`crate::bundle::TtaConfig`]) and say which ranges they give these transforms.
//!
//! Draws are reproducible: the same generator state gives the same transform.

use boneage_imaging::intensity::{contrast, gamma};
use boneage_imaging::spatial::Affine;
use boneage_imaging::GrayImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A value drawn uniformly in ±`r` (0 without a draw when `r` is not positive).
fn symmetric(rng: &mut ChaCha8Rng, r: f64) -> f64 {
    if r > 0.0 {
        rng.gen_range(-r..=r)
    } else {
        0.0
    }
}

/// Ranges of a random similarity about an image's centre: rotation, shift, scale and an
/// optional left-right mirror.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RandomAffine {
    /// Rotation drawn uniformly in ±this, degrees.
    pub rotation_deg: f64,
    /// Shift drawn uniformly in ±this fraction of the width and of the height.
    pub shift_fraction: f64,
    /// Scale drawn uniformly in 1 ± this.
    pub scale: f64,
    /// Probability of a left-right mirror (0 for anything that must stay a left hand).
    pub flip: f64,
}

impl RandomAffine {
    /// Draws a transform (in the order rotation, shift x, shift y, scale, mirror; the mirror
    /// only when `flip > 0`): the map from pixels before to pixels after, about `centre`,
    /// shifts in units of `size`.
    pub fn draw(&self, rng: &mut ChaCha8Rng, centre: (f64, f64), size: (f64, f64)) -> Affine {
        let rotation = symmetric(rng, self.rotation_deg);
        let (dx, dy) = (
            symmetric(rng, self.shift_fraction) * size.0,
            symmetric(rng, self.shift_fraction) * size.1,
        );
        let s = 1.0 + symmetric(rng, self.scale);
        let mirror = if self.flip > 0.0 && rng.gen_bool(self.flip.min(1.0)) {
            -1.0
        } else {
            1.0
        };
        let (cx, cy) = centre;
        Affine::translate(cx + dx, cy + dy)
            .after(&Affine::rotate_deg(rotation))
            .after(&Affine::scale(s * mirror, s))
            .after(&Affine::translate(-cx, -cy))
    }

    /// [`RandomAffine::draw`] about the centre of a `width x height` image, shifts in its size.
    pub fn draw_for(&self, rng: &mut ChaCha8Rng, width: usize, height: usize) -> Affine {
        let (w, h) = (width as f64, height as f64);
        self.draw(rng, ((w - 1.0) / 2.0, (h - 1.0) / 2.0), (w, h))
    }
}

/// Ranges of a random change of grey values (on `[0, 1]`): gamma, contrast about the mean,
/// added Gaussian noise.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct IntensityJitter {
    /// Gamma drawn log-uniformly in `[1/(1+g), 1+g]`.
    pub gamma: f64,
    /// Contrast factor drawn uniformly in 1 ± this.
    pub contrast: f64,
    /// The noise's standard deviation is drawn uniformly up to this.
    pub noise_sd: f64,
}

/// One draw of an [`IntensityJitter`], to apply to an image now or later.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Jitter {
    /// Gamma exponent.
    pub gamma: f32,
    /// Contrast factor about the mean.
    pub contrast: f32,
    /// Noise standard deviation.
    pub noise_sd: f32,
    /// Seed of the noise field.
    pub noise_seed: u64,
}

impl IntensityJitter {
    /// Draws gamma, contrast, noise SD and the noise's seed, in that order.
    pub fn draw(&self, rng: &mut ChaCha8Rng) -> Jitter {
        let g = (1.0 + self.gamma.max(0.0)).ln();
        Jitter {
            gamma: symmetric(rng, g).exp() as f32,
            contrast: (1.0 + symmetric(rng, self.contrast)) as f32,
            noise_sd: rng.gen_range(0.0..=self.noise_sd.max(0.0)) as f32,
            noise_seed: rng.gen(),
        }
    }
}

impl Jitter {
    /// Gamma, then contrast, then the noise (Box-Muller draws from the noise seed).
    pub fn apply(&self, img: &mut GrayImage) {
        gamma(img, self.gamma);
        contrast(img, self.contrast);
        if self.noise_sd > 0.0 {
            let mut rng = ChaCha8Rng::seed_from_u64(self.noise_seed);
            for v in &mut img.data {
                let (u1, u2): (f32, f32) = (rng.gen_range(1e-7..1.0), rng.gen());
                *v += self.noise_sd * (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos();
            }
        }
    }
}

/// Ranges of a random loss of sharpness: the image shrunk and enlarged back (resolution lost),
/// then a Gaussian blur. Zero ranges draw nothing, so configurations without them give the same
/// draws as before they existed.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RandomDegrade {
    /// The blur's SD is drawn uniformly up to this, in pixels of the image it is applied to.
    pub blur_sigma: f64,
    /// The resolution kept is drawn uniformly in `[1 - resolution, 1]` (0 keeps it all).
    pub resolution: f64,
}

/// One draw of a [`RandomDegrade`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Degrade {
    /// Gaussian blur SD, pixels (0: none).
    pub blur_sigma: f32,
    /// Share of the resolution kept, in (0, 1] (1: none lost).
    pub keep: f32,
}

impl RandomDegrade {
    /// Draws the share of resolution kept, then the blur SD (each only when its range is set).
    pub fn draw(&self, rng: &mut ChaCha8Rng) -> Degrade {
        let keep = if self.resolution > 0.0 {
            1.0 - rng.gen_range(0.0..=self.resolution.min(0.9))
        } else {
            1.0
        };
        let blur_sigma = if self.blur_sigma > 0.0 {
            rng.gen_range(0.0..=self.blur_sigma)
        } else {
            0.0
        };
        Degrade {
            blur_sigma: blur_sigma as f32,
            keep: keep as f32,
        }
    }
}

impl Degrade {
    /// Shrinks to the kept share and enlarges back (area average, then bilinear), then blurs.
    pub fn apply(&self, img: &mut GrayImage) {
        if self.keep < 1.0 {
            let (w, h) = (img.width, img.height);
            let small = img.resize(
                ((w as f32 * self.keep).round() as usize).max(1),
                ((h as f32 * self.keep).round() as usize).max(1),
            );
            *img = small.resize(w, h);
        }
        if self.blur_sigma > 0.05 {
            *img = img.gaussian_blur(self.blur_sigma);
        }
    }
}

/// Gives a configuration struct with the fields `rotation_deg`, `shift_fraction`, `scale`,
/// `gamma`, `contrast` and `noise_sd` the methods `affine()` and `intensity()`: the shared
/// transforms its ranges describe. The second argument gives the mirror probability.
macro_rules! transform_ranges {
    ($config:ty, $flip:expr) => {
        impl $config {
            /// The similarity these ranges describe ([`crate::transforms::RandomAffine`]).
            pub fn affine(&self) -> $crate::transforms::RandomAffine {
                $crate::transforms::RandomAffine {
                    rotation_deg: self.rotation_deg,
                    shift_fraction: self.shift_fraction,
                    scale: self.scale,
                    flip: ($flip)(self),
                }
            }
            /// The grey-value jitter these ranges describe
            /// ([`crate::transforms::IntensityJitter`]).
            pub fn intensity(&self) -> $crate::transforms::IntensityJitter {
                $crate::transforms::IntensityJitter {
                    gamma: self.gamma,
                    contrast: self.contrast,
                    noise_sd: self.noise_sd,
                }
            }
        }
    };
}
pub(crate) use transform_ranges;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_draws_stay_in_their_ranges_and_repeat_with_the_seed() {
        let t = RandomAffine {
            rotation_deg: 10.0,
            shift_fraction: 0.05,
            scale: 0.1,
            flip: 0.0,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..200 {
            let m = t.draw_for(&mut rng, 100, 200);
            let s = (m.m[0][0].powi(2) + m.m[1][0].powi(2)).sqrt();
            assert!((0.9 - 1e-9..=1.1 + 1e-9).contains(&s), "{s}");
            let rot = m.m[1][0].atan2(m.m[0][0]).to_degrees();
            assert!(rot.abs() <= 10.0 + 1e-9, "{rot}");
            // The centre moves by the shift only.
            let (x, y) = m.apply(49.5, 99.5);
            assert!((x - 49.5).abs() <= 5.0 + 1e-9 && (y - 99.5).abs() <= 10.0 + 1e-9);
            // No mirror: the determinant stays positive.
            assert!(m.m[0][0] * m.m[1][1] - m.m[0][1] * m.m[1][0] > 0.0);
        }
        let a = t.draw_for(&mut ChaCha8Rng::seed_from_u64(9), 64, 64);
        let b = t.draw_for(&mut ChaCha8Rng::seed_from_u64(9), 64, 64);
        assert_eq!(a, b);
        let always = RandomAffine { flip: 1.0, ..t };
        let m = always.draw_for(&mut rng, 64, 64);
        assert!(
            m.m[0][0] * m.m[1][1] - m.m[0][1] * m.m[1][0] < 0.0,
            "mirrored"
        );
    }

    #[test]
    fn degrade_blurs_and_loses_resolution_but_keeps_the_mean() {
        let none = RandomDegrade::default();
        let mut a = ChaCha8Rng::seed_from_u64(4);
        let b = a.clone();
        assert_eq!(
            none.draw(&mut a),
            Degrade {
                blur_sigma: 0.0,
                keep: 1.0
            }
        );
        assert_eq!(a, b, "zero ranges draw nothing");
        let d = RandomDegrade {
            blur_sigma: 2.0,
            resolution: 0.5,
        };
        for _ in 0..100 {
            let g = d.draw(&mut a);
            assert!((0.0..=2.0).contains(&g.blur_sigma) && (0.5..=1.0).contains(&g.keep));
        }
        // A checkerboard of 1-pixel squares: blur and lost resolution both flatten it.
        let img = GrayImage::from_vec(
            40,
            40,
            (0..1600).map(|i| ((i % 40 + i / 40) % 2) as f32).collect(),
        );
        let contrast = |m: &GrayImage| {
            let mean = m.data.iter().sum::<f32>() / m.data.len() as f32;
            let sd = (m.data.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 1600.0).sqrt();
            (mean, sd)
        };
        for g in [
            Degrade {
                blur_sigma: 1.5,
                keep: 1.0,
            },
            Degrade {
                blur_sigma: 0.0,
                keep: 0.5,
            },
        ] {
            let mut m = img.clone();
            g.apply(&mut m);
            let (mean, sd) = contrast(&m);
            assert!((mean - 0.5).abs() < 0.02, "{g:?}: mean {mean}");
            assert!(sd < 0.1, "{g:?}: SD {sd} (was 0.5)");
        }
        let mut same = img.clone();
        Degrade {
            blur_sigma: 0.0,
            keep: 1.0,
        }
        .apply(&mut same);
        assert_eq!(same.data, img.data);
    }

    #[test]
    fn jitter_changes_grey_values_within_its_ranges() {
        let j = IntensityJitter {
            gamma: 0.3,
            contrast: 0.2,
            noise_sd: 0.02,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..100 {
            let d = j.draw(&mut rng);
            assert!((1.0 / 1.3 - 1e-6..=1.3 + 1e-6).contains(&(d.gamma as f64)));
            assert!((0.8 - 1e-6..=1.2 + 1e-6).contains(&(d.contrast as f64)));
            assert!((0.0..=0.02 + 1e-6).contains(&(d.noise_sd as f64)));
        }
        let img = GrayImage::from_vec(32, 32, (0..1024).map(|i| (i % 32) as f32 / 31.0).collect());
        let d = Jitter {
            gamma: 1.0,
            contrast: 1.0,
            noise_sd: 0.05,
            noise_seed: 1,
        };
        let (mut a, mut b) = (img.clone(), img.clone());
        d.apply(&mut a);
        d.apply(&mut b);
        assert_eq!(a.data, b.data, "the same draw gives the same image");
        let diff: Vec<f32> = a.data.iter().zip(&img.data).map(|(x, y)| x - y).collect();
        let sd = (diff.iter().map(|v| v * v).sum::<f32>() / diff.len() as f32).sqrt();
        assert!((0.04..0.06).contains(&sd), "noise SD {sd}");
    }
}
