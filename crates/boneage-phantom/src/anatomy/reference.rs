//! The adult male reference hand: rays, bone profiles, carpals, forearm (hand frame, mm).

use super::*;

// Reference geometry (adult male, mm).

pub(super) struct RayRef {
    /// Metacarpal base (proximal articular point).
    pub(super) base: [f32; 2],
    /// Metacarpal direction, degrees from "up" towards the thumb.
    pub(super) angle: f32,
    pub(super) mc_len: f32,
    pub(super) mc_w: f32,
    /// Proximal, middle, distal phalanx (length, shaft width); the thumb has no middle.
    pub(super) phal: [(f32, f32); 3],
    /// Finger soft-tissue width.
    pub(super) soft_w: f32,
    /// Deviation of the finger from its metacarpal at a typical spread, degrees.
    pub(super) spread: f32,
}

pub(super) const RAYS: [RayRef; 5] = [
    RayRef {
        base: [28.5, -10.5],
        angle: 40.0,
        mc_len: 46.0,
        mc_w: 9.4,
        phal: [(31.0, 9.4), (0.0, 0.0), (23.0, 7.8)],
        soft_w: 22.0,
        spread: -6.0,
    },
    RayRef {
        base: [12.5, -15.0],
        angle: 7.0,
        mc_len: 65.0,
        mc_w: 8.8,
        phal: [(40.0, 8.8), (23.0, 7.6), (17.0, 6.2)],
        soft_w: 18.5,
        spread: 5.0,
    },
    RayRef {
        base: [0.0, -14.0],
        angle: 0.0,
        mc_len: 64.0,
        mc_w: 9.0,
        phal: [(45.0, 9.2), (28.0, 8.2), (19.0, 6.4)],
        soft_w: 19.0,
        spread: 0.0,
    },
    RayRef {
        base: [-12.5, -12.5],
        angle: -8.0,
        mc_len: 58.0,
        mc_w: 7.8,
        phal: [(42.0, 8.5), (26.0, 7.6), (18.0, 6.0)],
        soft_w: 17.5,
        spread: -5.0,
    },
    RayRef {
        base: [-23.5, -9.0],
        angle: -17.0,
        mc_len: 52.0,
        mc_w: 7.4,
        phal: [(33.0, 7.5), (18.0, 6.6), (16.0, 5.4)],
        soft_w: 15.5,
        spread: -9.0,
    },
];

/// Half-width profiles `(t along the bone 0..1, half-width / shaft width)`.
pub(super) const PROFILE_PROXIMAL: &[(f32, f32)] = &[
    (0.0, 0.65),
    (0.1, 0.56),
    (0.3, 0.44),
    (0.55, 0.40),
    (0.8, 0.44),
    (0.93, 0.52),
    (1.0, 0.50),
];
pub(super) const PROFILE_MIDDLE: &[(f32, f32)] = &[
    (0.0, 0.64),
    (0.12, 0.55),
    (0.35, 0.42),
    (0.6, 0.40),
    (0.85, 0.46),
    (1.0, 0.50),
];
pub(super) const PROFILE_DISTAL: &[(f32, f32)] = &[
    (0.0, 0.62),
    (0.15, 0.50),
    (0.45, 0.34),
    (0.75, 0.31),
    (0.9, 0.40),
    (1.0, 0.38),
];
pub(super) const PROFILE_MC: &[(f32, f32)] = &[
    (0.0, 0.60),
    (0.1, 0.54),
    (0.3, 0.40),
    (0.6, 0.38),
    (0.8, 0.45),
    (0.92, 0.58),
    (1.0, 0.58),
];
pub(super) const PROFILE_MC1: &[(f32, f32)] = &[
    (0.0, 0.62),
    (0.15, 0.52),
    (0.4, 0.42),
    (0.7, 0.44),
    (0.9, 0.56),
    (1.0, 0.54),
];
/// Distal radius and ulna metaphyses (from the physis over `META_LEN`), shaft after.
pub(super) const PROFILE_RADIUS_META: &[(f32, f32)] = &[
    (0.0, 0.98),
    (0.15, 0.90),
    (0.4, 0.68),
    (0.7, 0.55),
    (1.0, 0.50),
];
pub(super) const PROFILE_ULNA_META: &[(f32, f32)] =
    &[(0.0, 0.62), (0.25, 0.56), (0.6, 0.47), (1.0, 0.44)];

pub(super) struct CarpalRef {
    pub(super) bone: Bone,
    pub(super) centre: [f32; 2],
    /// Half-width across and half-length along the bone's axis.
    pub(super) a: f32,
    pub(super) b: f32,
    /// Axis direction, degrees from "down" (+y) towards +x.
    pub(super) angle: f32,
    pub(super) square: f32,
    pub(super) taper_u: f32,
    pub(super) taper_v: f32,
    pub(super) bend: f32,
}

pub(super) const CARPALS: [CarpalRef; 8] = [
    CarpalRef {
        bone: Bone::Capitate,
        centre: [0.0, 0.0],
        a: 7.6,
        b: 12.5,
        angle: 0.0,
        square: 0.55,
        taper_u: -0.1,
        taper_v: 0.0,
        bend: 0.0,
    },
    CarpalRef {
        bone: Bone::Hamate,
        centre: [-16.5, -1.5],
        a: 7.0,
        b: 10.0,
        angle: -12.0,
        square: 0.45,
        taper_u: -0.3,
        taper_v: 0.0,
        bend: 0.0,
    },
    CarpalRef {
        bone: Bone::Trapezoid,
        centre: [13.0, -7.5],
        a: 5.3,
        b: 6.3,
        angle: 15.0,
        square: 0.6,
        taper_u: -0.2,
        taper_v: 0.0,
        bend: 0.0,
    },
    CarpalRef {
        bone: Bone::Trapezium,
        centre: [24.0, -3.0],
        a: 7.0,
        b: 7.5,
        angle: -35.0,
        square: 0.5,
        taper_u: 0.1,
        taper_v: 0.0,
        bend: 0.0,
    },
    CarpalRef {
        bone: Bone::Scaphoid,
        centre: [14.5, 14.5],
        a: 6.0,
        b: 12.0,
        angle: -45.0,
        square: 0.2,
        taper_u: 0.1,
        taper_v: 0.0,
        bend: 0.18,
    },
    CarpalRef {
        bone: Bone::Lunate,
        centre: [-2.0, 19.5],
        a: 7.5,
        b: 6.5,
        angle: 5.0,
        square: 0.3,
        taper_u: 0.0,
        taper_v: 0.1,
        bend: -0.3,
    },
    CarpalRef {
        bone: Bone::Triquetrum,
        centre: [-16.5, 13.5],
        a: 6.0,
        b: 6.5,
        angle: 35.0,
        square: 0.4,
        taper_u: -0.3,
        taper_v: 0.0,
        bend: 0.0,
    },
    CarpalRef {
        bone: Bone::Pisiform,
        centre: [-19.0, 15.5],
        a: 4.5,
        b: 5.0,
        angle: 20.0,
        square: 0.0,
        taper_u: 0.0,
        taper_v: 0.0,
        bend: 0.0,
    },
];

/// Distal articular centre of the radius and ulna (adult male, mm).
pub(super) const RADIUS_END: [f32; 2] = [6.0, 28.5];
pub(super) const ULNA_END: [f32; 2] = [-20.0, 30.5];
/// Shaft widths of radius and ulna.
pub(super) const RADIUS_W: f32 = 15.0;
pub(super) const ULNA_W: f32 = 12.0;
/// Where the wrist tilts (hand frame, adult mm).
pub(super) const WRIST_PIVOT: [f32; 2] = [0.0, 26.0];
