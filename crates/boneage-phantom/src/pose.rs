//! How the hand lies on the detector: finger spread, thumb abduction, slight finger flexion,
//! wrist tilt, then rotation, scale and translation into the image.
//!
//! The hand is built in the *hand frame* (millimetres, origin at the centre of the capitate,
//! `x` towards the thumb, `y` towards the forearm, as the left hand of a PA radiograph is
//! displayed); [`place`] finds the similarity that puts it in the image so that it fills most
//! of the frame with the forearm leaving through the bottom edge.

use crate::rng::{normal_clamped, uniform};
use crate::shapes::Frame;
use rand::Rng;

/// Ranges of the pose parameters. Defaults in parentheses.
#[derive(Debug, Clone, PartialEq)]
pub struct PoseConfig {
    /// SD of the in-plane rotation, degrees (default 10).
    pub rotation_sd_deg: f32,
    /// Largest in-plane rotation either way, degrees (default 30).
    pub rotation_max_deg: f32,
    /// Finger spread factor range (0 = fingers along their metacarpals, 1 = a typical spread,
    /// negative = fingers closer together) (default -0.2, 1.5).
    pub spread: (f32, f32),
    /// SD of each finger's own deviation, degrees (default 3).
    pub finger_jitter_deg: f32,
    /// SD of the thumb's abduction around its typical angle, degrees (default 6).
    pub thumb_sd_deg: f32,
    /// Largest radial/ulnar tilt of the wrist, degrees (default 8).
    pub wrist_tilt_max_deg: f32,
    /// Chance that a finger is slightly flexed (foreshortened middle and distal phalanges)
    /// (default 0.25).
    pub flex_probability: f32,
    /// Height of the hand (fingertips to wrist) over the image height (default 0.66, 0.86).
    pub fill: (f32, f32),
    /// Horizontal margin kept free on each side, fraction of the width (default 0.03).
    pub margin: f32,
}

impl Default for PoseConfig {
    fn default() -> Self {
        PoseConfig {
            rotation_sd_deg: 10.0,
            rotation_max_deg: 30.0,
            spread: (-0.2, 1.5),
            finger_jitter_deg: 3.0,
            thumb_sd_deg: 6.0,
            wrist_tilt_max_deg: 8.0,
            flex_probability: 0.25,
            fill: (0.66, 0.86),
            margin: 0.03,
        }
    }
}

impl PoseConfig {
    /// An upright, centred hand with a typical spread and no jitter (contact sheets, tests).
    pub fn neutral() -> Self {
        PoseConfig {
            rotation_sd_deg: 0.0,
            rotation_max_deg: 0.0,
            spread: (1.0, 1.0),
            finger_jitter_deg: 0.0,
            thumb_sd_deg: 0.0,
            wrist_tilt_max_deg: 0.0,
            flex_probability: 0.0,
            fill: (0.78, 0.78),
            margin: 0.03,
        }
    }
}

/// One drawn pose.
#[derive(Debug, Clone, PartialEq)]
pub struct Pose {
    /// In-plane rotation, degrees (positive turns the fingers towards the thumb side).
    pub rotation_deg: f32,
    /// Finger spread factor.
    pub spread: f32,
    /// Per-ray extra deviation at the metacarpophalangeal joint, degrees (index 0 = thumb).
    pub finger_deg: [f32; 5],
    /// Thumb abduction offset, degrees.
    pub thumb_deg: f32,
    /// Wrist tilt (forearm against hand), degrees.
    pub wrist_tilt_deg: f32,
    /// Flexion of each finger's interphalangeal joints, radians (foreshortens in PA view).
    pub flex: [f32; 5],
    /// Hand height over image height.
    pub fill: f32,
    /// Where the hand sits in the free space, `[0, 1]` each way.
    pub offset: [f32; 2],
}

impl Pose {
    /// Draws a pose.
    pub fn sample<R: Rng + ?Sized>(rng: &mut R, cfg: &PoseConfig) -> Pose {
        let rotation_deg = normal_clamped(rng, 0.0, cfg.rotation_sd_deg, cfg.rotation_max_deg);
        let spread = uniform(rng, cfg.spread.0, cfg.spread.1);
        let mut finger_deg = [0.0; 5];
        for f in finger_deg.iter_mut() {
            *f = normal_clamped(rng, 0.0, cfg.finger_jitter_deg, 3.0 * cfg.finger_jitter_deg);
        }
        let thumb_deg = normal_clamped(rng, 0.0, cfg.thumb_sd_deg, 2.5 * cfg.thumb_sd_deg);
        let wrist_tilt_deg = uniform(rng, -cfg.wrist_tilt_max_deg, cfg.wrist_tilt_max_deg);
        let mut flex = [0.0; 5];
        for f in flex.iter_mut().skip(1) {
            if rng.gen::<f32>() < cfg.flex_probability {
                *f = uniform(rng, 0.1, 0.45);
            }
        }
        let fill = uniform(rng, cfg.fill.0, cfg.fill.1);
        let offset = [rng.gen::<f32>(), rng.gen::<f32>()];
        Pose {
            rotation_deg,
            spread,
            finger_deg,
            thumb_deg,
            wrist_tilt_deg,
            flex,
            fill,
            offset,
        }
    }
}

/// A similarity map `p -> t + s R p` (rotation by `angle`, `y` down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    /// Cosine of the rotation angle.
    pub cos: f32,
    /// Sine of the rotation angle.
    pub sin: f32,
    /// Scale factor.
    pub scale: f32,
    /// Translation.
    pub t: [f32; 2],
}

impl Similarity {
    /// Rotation by `deg` degrees about `pivot` (scale 1).
    pub fn rotation_about(pivot: [f32; 2], deg: f32) -> Similarity {
        let (sin, cos) = deg.to_radians().sin_cos();
        let r = [
            cos * pivot[0] - sin * pivot[1],
            sin * pivot[0] + cos * pivot[1],
        ];
        Similarity {
            cos,
            sin,
            scale: 1.0,
            t: [pivot[0] - r[0], pivot[1] - r[1]],
        }
    }

    /// The image of point `p`.
    #[inline]
    pub fn apply(&self, p: [f32; 2]) -> [f32; 2] {
        [
            self.t[0] + self.scale * (self.cos * p[0] - self.sin * p[1]),
            self.t[1] + self.scale * (self.sin * p[0] + self.cos * p[1]),
        ]
    }

    /// The same map applied to a frame (its origin, axis and scale).
    pub fn apply_frame(&self, f: &Frame) -> Frame {
        Frame {
            origin: self.apply(f.origin),
            axis: [
                self.cos * f.axis[0] - self.sin * f.axis[1],
                self.sin * f.axis[0] + self.cos * f.axis[1],
            ],
            scale: f.scale * self.scale,
        }
    }
}

/// Rotates a unit direction by `deg` degrees; positive turns "up" (`-y`) towards `+x`.
pub fn turn(dir: [f32; 2], deg: f32) -> [f32; 2] {
    let (s, c) = deg.to_radians().sin_cos();
    // In y-down image coordinates a clockwise turn on screen is +angle here.
    [c * dir[0] - s * dir[1], s * dir[0] + c * dir[1]]
}

/// Unit direction at `deg` degrees from "up" (`-y`) towards `+x`.
pub fn up_dir(deg: f32) -> [f32; 2] {
    let (s, c) = deg.to_radians().sin_cos();
    [s, -c]
}

/// The similarity that puts a hand whose outline (hand frame, mm) is `outline` into a
/// `width x height` image: rotated by the pose, scaled so its height is `fill` of the image
/// (less if it would not fit across), and shifted within the free space by `offset`.
pub fn place(
    outline: &[[f32; 2]],
    pose: &Pose,
    margin: f32,
    width: usize,
    height: usize,
) -> Similarity {
    let (w, h) = (width as f32, height as f32);
    let rot = Similarity {
        scale: 1.0,
        t: [0.0, 0.0],
        ..Similarity::rotation_about([0.0, 0.0], pose.rotation_deg)
    };
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for &p in outline {
        let q = rot.apply(p);
        x0 = x0.min(q[0]);
        x1 = x1.max(q[0]);
        y0 = y0.min(q[1]);
        y1 = y1.max(q[1]);
    }
    let (bw, bh) = ((x1 - x0).max(1.0), (y1 - y0).max(1.0));
    let free_w = w * (1.0 - 2.0 * margin);
    let scale = (pose.fill * h / bh).min(free_w / bw);
    let (sw, sh) = (bw * scale, bh * scale);
    // Horizontal: anywhere in the free width. Vertical: the top margin is 2-8% of the height,
    // or less if the hand is tall; the wrist stays inside.
    let left = margin * w + (free_w - sw).max(0.0) * pose.offset[0];
    let top_room = (h * 0.985 - sh).max(0.0);
    let top =
        (0.02 * h).min(top_room) + (top_room - 0.02 * h).clamp(0.0, 0.06 * h) * pose.offset[1];
    Similarity {
        cos: rot.cos,
        sin: rot.sin,
        scale,
        t: [left - x0 * scale, top - y0 * scale],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_and_frames_agree() {
        let s = Similarity {
            scale: 2.0,
            t: [5.0, 7.0],
            ..Similarity::rotation_about([0.0, 0.0], 20.0)
        };
        let f = Frame::new([3.0, 4.0], [0.0, 1.0], 1.0);
        let g = s.apply_frame(&f);
        let l = [2.0, -1.0];
        let a = s.apply(f.to_image(l));
        let b = g.to_image(l);
        assert!((a[0] - b[0]).abs() < 1e-4 && (a[1] - b[1]).abs() < 1e-4);
    }

    #[test]
    fn up_dir_turns_towards_plus_x() {
        let d = up_dir(90.0);
        assert!((d[0] - 1.0).abs() < 1e-6 && d[1].abs() < 1e-6);
        let t = turn(up_dir(0.0), 90.0);
        assert!((t[0] - 1.0).abs() < 1e-6 && t[1].abs() < 1e-6);
    }

    #[test]
    fn placed_outline_fits_the_image() {
        let outline = [[-40.0, -170.0], [85.0, -90.0], [-40.0, 40.0], [35.0, 40.0]];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        use rand::SeedableRng;
        for _ in 0..50 {
            let pose = Pose::sample(&mut rng, &PoseConfig::default());
            let s = place(&outline, &pose, 0.03, 512, 640);
            for p in outline {
                let q = s.apply(p);
                assert!(
                    q[0] >= 0.0 && q[0] <= 512.0 && q[1] >= 0.0 && q[1] <= 640.0,
                    "{q:?}"
                );
            }
        }
    }
}
