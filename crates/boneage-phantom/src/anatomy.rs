//! Bone and soft-tissue geometry of a left hand by bone age, sex and individual build.
//!
//! The reference is an adult male hand in the *hand frame* (mm; origin at the centre of the
//! capitate, `x` towards the thumb, `y` towards the forearm): metacarpal bases fanned around
//! the distal carpal row, phalanges continuing each ray, eight carpals in two rows, the distal
//! radius and ulna entering from below. A child's hand is that hand scaled by
//! [`growth_fraction`] (girls end at 0.91 of the boys' size), with individual variation
//! ([`Individual`]) in size, finger ratios, bone widths, soft tissue and cortex.
//!
//! Every tubular bone is a cartilage model of length `L` with an epiphyseal zone at one end
//! (the base of the phalanges and of the thumb's metacarpal, the head of metacarpals II-V, the
//! distal end of radius and ulna). What is drawn is what has ossified: the shaft (always
//! there), the epiphysis once it appears ([`crate::maturation`]), and during fusion a bridge
//! across the physis that ends as a fading line. Carpal bones grow from a small round nucleus
//! at the centre of their cartilage anlage to their adult shape.

use crate::maturation::{self, CentreState, EpiphysisState, Tempo};
use crate::pose::{up_dir, Pose, Similarity};
use crate::rng::normal_clamped;
use crate::shapes::{Blob, Frame, Placed, Polygon, Shape, Tube, LUT_N};
use boneage_core::Sex;
use rand::Rng;
use serde::Serialize;
use std::fmt;

/// A bone of the hand and wrist. Digits are numbered 1 (thumb) to 5 (little finger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Bone {
    Radius,
    Ulna,
    Scaphoid,
    Lunate,
    Triquetrum,
    Pisiform,
    Trapezium,
    Trapezoid,
    Capitate,
    Hamate,
    Metacarpal(u8),
    Proximal(u8),
    /// Middle phalanx, digits 2-5 (the thumb has none).
    Middle(u8),
    Distal(u8),
    /// The thumb's (adductor) sesamoid at its metacarpophalangeal joint.
    Sesamoid,
}

impl Bone {
    /// The eight carpal bones, proximal row (radial to ulnar) then distal row.
    pub const CARPALS: [Bone; 8] = [
        Bone::Scaphoid,
        Bone::Lunate,
        Bone::Triquetrum,
        Bone::Pisiform,
        Bone::Trapezium,
        Bone::Trapezoid,
        Bone::Capitate,
        Bone::Hamate,
    ];

    /// All 30 bones the phantom draws.
    pub fn all() -> Vec<Bone> {
        let mut v = vec![Bone::Radius, Bone::Ulna];
        v.extend(Bone::CARPALS);
        for d in 1..=5 {
            v.push(Bone::Metacarpal(d));
        }
        for d in 1..=5 {
            v.push(Bone::Proximal(d));
        }
        for d in 2..=5 {
            v.push(Bone::Middle(d));
        }
        for d in 1..=5 {
            v.push(Bone::Distal(d));
        }
        v.push(Bone::Sesamoid);
        v
    }

    pub fn is_carpal(self) -> bool {
        Bone::CARPALS.contains(&self)
    }

    /// Snake-case name, e.g. `metacarpal_3`, `distal_phalanx_1`.
    pub fn name(self) -> String {
        match self {
            Bone::Metacarpal(d) => format!("metacarpal_{d}"),
            Bone::Proximal(d) => format!("proximal_phalanx_{d}"),
            Bone::Middle(d) => format!("middle_phalanx_{d}"),
            Bone::Distal(d) => format!("distal_phalanx_{d}"),
            other => format!("{other:?}").to_ascii_lowercase(),
        }
    }
}

impl fmt::Display for Bone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Individual build that bone age does not explain. All factors are 1 for [`Individual::typical`].
#[derive(Debug, Clone, PartialEq)]
pub struct Individual {
    /// Hand size around the norm for sex and bone age (SD 0.06).
    pub size: f32,
    /// Bone widths (robust/gracile, SD 0.07).
    pub bone_width: f32,
    /// Palm breadth (spacing of the rays, SD 0.04).
    pub palm_width: f32,
    /// Length of each ray's phalanges (finger ratios), thumb first (SD 0.035).
    pub ray_length: [f32; 5],
    /// Metacarpals against phalanges (SD 0.03).
    pub metacarpal_length: f32,
    /// Soft tissue width and thickness (SD 0.1).
    pub soft: f32,
    /// Cortical thickness (SD 0.15).
    pub cortex: f32,
    /// Bone mineral density (SD 0.08).
    pub density: f32,
    /// Ulnar variance: how far the ulna's head sits from the radius', mm (SD 1.2).
    pub ulnar_variance: f32,
    /// Carpal size against the rest (SD 0.05).
    pub carpal_size: f32,
    /// Maturation tempo of the carpals, epiphyses and fusion.
    pub tempo: Tempo,
}

impl Individual {
    /// The reference build, maturing exactly on schedule.
    pub fn typical() -> Individual {
        Individual {
            size: 1.0,
            bone_width: 1.0,
            palm_width: 1.0,
            ray_length: [1.0; 5],
            metacarpal_length: 1.0,
            soft: 1.0,
            cortex: 1.0,
            density: 1.0,
            ulnar_variance: 0.0,
            carpal_size: 1.0,
            tempo: Tempo::TYPICAL,
        }
    }

    /// Draws a build (every factor clamped to about ±2.5 SD).
    pub fn sample<R: Rng + ?Sized>(rng: &mut R) -> Individual {
        let mut n = |sd: f32| normal_clamped(rng, 1.0, sd, 2.5 * sd);
        let size = n(0.06);
        let bone_width = n(0.07);
        let palm_width = n(0.04);
        let mut ray_length = [1.0; 5];
        for r in ray_length.iter_mut() {
            *r = n(0.035);
        }
        let metacarpal_length = n(0.03);
        let soft = n(0.1);
        let cortex = n(0.15);
        let density = n(0.08);
        // N(0, 1.2) mm, clamped to ±3 mm.
        let ulnar_variance = n(1.2) - 1.0;
        let carpal_size = n(0.05);
        let ct = maturation::CARPAL_TEMPO_MAX;
        let et = maturation::EPIPHYSIS_TEMPO_MAX;
        let ft = maturation::FUSION_TEMPO_MAX;
        let tempo = Tempo {
            carpal: normal_clamped(rng, 1.0, ct / 2.5, ct),
            epiphysis: normal_clamped(rng, 1.0, et / 2.5, et),
            fusion: normal_clamped(rng, 1.0, ft / 2.5, ft),
        };
        Individual {
            size,
            bone_width,
            palm_width,
            ray_length,
            metacarpal_length,
            soft,
            cortex,
            density,
            ulnar_variance,
            carpal_size,
            tempo,
        }
    }
}

/// Hand length as a fraction of the adult male hand, by bone age (months) and sex.
pub fn growth_fraction(age_months: f32, sex: Sex) -> f32 {
    const T: [(f32, f32); 13] = [
        (0.0, 0.34),
        (12.0, 0.45),
        (24.0, 0.51),
        (36.0, 0.56),
        (48.0, 0.60),
        (60.0, 0.64),
        (84.0, 0.71),
        (108.0, 0.77),
        (132.0, 0.83),
        (156.0, 0.90),
        (180.0, 0.96),
        (204.0, 0.99),
        (228.0, 1.0),
    ];
    let (a, adult) = match sex {
        Sex::Male => (age_months, 1.0),
        Sex::Female => (age_months * 1.1, 0.91),
    };
    let f = interp(&T, a);
    // Girls and boys start alike; girls end smaller.
    f * (1.0 + (adult - 1.0) * ((f - 0.34) / 0.66).clamp(0.0, 1.0))
}

fn interp(table: &[(f32, f32)], x: f32) -> f32 {
    if x <= table[0].0 {
        return table[0].1;
    }
    for w in table.windows(2) {
        if x <= w[1].0 {
            let t = (x - w[0].0) / (w[1].0 - w[0].0);
            return w[0].1 + t * (w[1].1 - w[0].1);
        }
    }
    table[table.len() - 1].1
}

/// One ossified part of a bone, in the hand frame, with its relative density.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub placed: Placed,
    /// Mineral density multiplier (1 = normal bone).
    pub density: f32,
}

/// A bone as built: its maturity and its parts (hand frame until [`Skeleton::transform`]).
#[derive(Debug, Clone, PartialEq)]
pub struct BoneModel {
    pub bone: Bone,
    /// Whether any of the bone is ossified (always for shafts; carpals and sesamoid once they
    /// appear).
    pub present: bool,
    /// Epiphysis state, for bones with one.
    pub epiphysis: Option<EpiphysisState>,
    /// Ossification centre state, for carpals and the sesamoid.
    pub centre: Option<CentreState>,
    /// What is drawn.
    pub parts: Vec<Part>,
    /// The whole cartilage model (the bone's full extent, ossified or not).
    pub anlage: Vec<Placed>,
}

/// Soft tissue: tubes and blobs (max-combined thickness) and rounded slabs.
#[derive(Debug, Clone, PartialEq)]
pub struct SoftTissue {
    pub shapes: Vec<Placed>,
    /// Polygons in the hand frame (mm); `edge` in mm until transformed to pixels.
    pub slabs: Vec<Polygon>,
}

/// A hand: bones, soft tissue, keypoints and the outline used to place it.
#[derive(Debug, Clone, PartialEq)]
pub struct Skeleton {
    pub bones: Vec<BoneModel>,
    pub soft: SoftTissue,
    /// Tip of the middle finger's distal phalanx, tip of the thumb's distal phalanx, centre of
    /// the capitate.
    pub keypoints: [[f32; 2]; 3],
    /// Points spanning the hand from fingertips to wrist (not the forearm).
    pub outline: Vec<[f32; 2]>,
    /// Pixels (after transform) or mm per mm: the scale of the frame the skeleton is in.
    pub scale: f32,
}

impl Skeleton {
    /// Maps everything through a similarity (hand frame mm -> image pixels).
    pub fn transform(&self, s: &Similarity) -> Skeleton {
        let map_placed = |p: &Placed| Placed {
            frame: s.apply_frame(&p.frame),
            shape: p.shape.clone(),
        };
        Skeleton {
            bones: self
                .bones
                .iter()
                .map(|b| BoneModel {
                    parts: b
                        .parts
                        .iter()
                        .map(|p| Part {
                            placed: map_placed(&p.placed),
                            density: p.density,
                        })
                        .collect(),
                    anlage: b.anlage.iter().map(map_placed).collect(),
                    ..b.clone()
                })
                .collect(),
            soft: SoftTissue {
                shapes: self.soft.shapes.iter().map(map_placed).collect(),
                slabs: self
                    .soft
                    .slabs
                    .iter()
                    .map(|p| Polygon {
                        points: p.points.iter().map(|&q| s.apply(q)).collect(),
                        thickness: p.thickness,
                        edge: p.edge * s.scale,
                    })
                    .collect(),
            },
            keypoints: self.keypoints.map(|k| s.apply(k)),
            outline: self.outline.iter().map(|&q| s.apply(q)).collect(),
            scale: self.scale * s.scale,
        }
    }

    /// The model of one bone.
    pub fn bone(&self, bone: Bone) -> Option<&BoneModel> {
        self.bones.iter().find(|b| b.bone == bone)
    }
}

// ---------------------------------------------------------------------------------------------
// Reference geometry (adult male, mm).

struct RayRef {
    /// Metacarpal base (proximal articular point).
    base: [f32; 2],
    /// Metacarpal direction, degrees from "up" towards the thumb.
    angle: f32,
    mc_len: f32,
    mc_w: f32,
    /// Proximal, middle, distal phalanx (length, shaft width); the thumb has no middle.
    phal: [(f32, f32); 3],
    /// Finger soft-tissue width.
    soft_w: f32,
    /// Deviation of the finger from its metacarpal at a typical spread, degrees.
    spread: f32,
}

const RAYS: [RayRef; 5] = [
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
const PROFILE_PROXIMAL: &[(f32, f32)] = &[
    (0.0, 0.65),
    (0.1, 0.56),
    (0.3, 0.44),
    (0.55, 0.40),
    (0.8, 0.44),
    (0.93, 0.52),
    (1.0, 0.50),
];
const PROFILE_MIDDLE: &[(f32, f32)] = &[
    (0.0, 0.64),
    (0.12, 0.55),
    (0.35, 0.42),
    (0.6, 0.40),
    (0.85, 0.46),
    (1.0, 0.50),
];
const PROFILE_DISTAL: &[(f32, f32)] = &[
    (0.0, 0.62),
    (0.15, 0.50),
    (0.45, 0.34),
    (0.75, 0.31),
    (0.9, 0.40),
    (1.0, 0.38),
];
const PROFILE_MC: &[(f32, f32)] = &[
    (0.0, 0.60),
    (0.1, 0.54),
    (0.3, 0.40),
    (0.6, 0.38),
    (0.8, 0.45),
    (0.92, 0.58),
    (1.0, 0.58),
];
const PROFILE_MC1: &[(f32, f32)] = &[
    (0.0, 0.62),
    (0.15, 0.52),
    (0.4, 0.42),
    (0.7, 0.44),
    (0.9, 0.56),
    (1.0, 0.54),
];
/// Distal radius and ulna metaphyses (from the physis over `META_LEN`), shaft after.
const PROFILE_RADIUS_META: &[(f32, f32)] = &[
    (0.0, 0.98),
    (0.15, 0.90),
    (0.4, 0.68),
    (0.7, 0.55),
    (1.0, 0.50),
];
const PROFILE_ULNA_META: &[(f32, f32)] = &[(0.0, 0.62), (0.25, 0.56), (0.6, 0.47), (1.0, 0.44)];

struct CarpalRef {
    bone: Bone,
    centre: [f32; 2],
    /// Half-width across and half-length along the bone's axis.
    a: f32,
    b: f32,
    /// Axis direction, degrees from "down" (+y) towards +x.
    angle: f32,
    square: f32,
    taper_u: f32,
    taper_v: f32,
    bend: f32,
}

const CARPALS: [CarpalRef; 8] = [
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
const RADIUS_END: [f32; 2] = [6.0, 28.5];
const ULNA_END: [f32; 2] = [-20.0, 30.5];
/// Shaft widths of radius and ulna.
const RADIUS_W: f32 = 15.0;
const ULNA_W: f32 = 12.0;
/// Where the wrist tilts (hand frame, adult mm).
const WRIST_PIVOT: [f32; 2] = [0.0, 26.0];

// ---------------------------------------------------------------------------------------------

fn add(a: [f32; 2], b: [f32; 2]) -> [f32; 2] {
    [a[0] + b[0], a[1] + b[1]]
}
fn mul(a: [f32; 2], k: f32) -> [f32; 2] {
    [a[0] * k, a[1] * k]
}
fn lerp2(a: [f32; 2], b: [f32; 2], t: f32) -> [f32; 2] {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]
}
/// The perpendicular to a ray direction that points to the thumb side when the ray points up.
fn radial_perp(dir: [f32; 2]) -> [f32; 2] {
    [-dir[1], dir[0]]
}
fn lut_from<F: Fn(f32) -> f32>(f: F) -> [f32; LUT_N] {
    let mut t = [0.0; LUT_N];
    for (i, v) in t.iter_mut().enumerate() {
        *v = f(i as f32 / (LUT_N - 1) as f32);
    }
    t
}
/// Corner cutting (Chaikin) of a closed polygon, `iterations` times.
fn chaikin(points: &[[f32; 2]], iterations: usize) -> Vec<[f32; 2]> {
    let mut p = points.to_vec();
    for _ in 0..iterations {
        let n = p.len();
        let mut q = Vec::with_capacity(2 * n);
        for i in 0..n {
            let a = p[i];
            let b = p[(i + 1) % n];
            q.push(lerp2(a, b, 0.25));
            q.push(lerp2(a, b, 0.75));
        }
        p = q;
    }
    p
}

fn smooth(x: f32) -> f32 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

/// Everything the builder needs about age and build.
struct Ctx<'a> {
    sex: Sex,
    age: f32,
    ind: &'a Individual,
    /// Size factor (hand length / adult male's).
    s: f32,
    /// Width factor on top of `s`.
    w: f32,
    /// 1 in infancy falling to 0 by about 8 years (maturity-normalised).
    youth: f32,
    /// Mineral density.
    density: f32,
}

/// Where a tubular bone's epiphysis is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EpiEnd {
    /// At `u = 0` (the proximal end of phalanges and of the thumb's metacarpal; the distal
    /// articular end of radius and ulna, whose `u` runs up the forearm).
    Start,
    /// At `u = L` (heads of metacarpals II-V).
    End,
}

/// Shape family of an epiphysis.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EpiKind {
    /// Phalangeal base: a flat disc that caps.
    Base,
    /// Metacarpal head: a dome.
    Head,
    /// Distal radius: a wedge, tall on the radial (styloid) side.
    Radius,
    /// Distal ulna: a round head, taller on the styloid side.
    Ulna,
}

struct TubularSpec<'p> {
    bone: Bone,
    /// Articular point at `u = 0` and unit direction of `+u`.
    p0: [f32; 2],
    dir: [f32; 2],
    /// Cartilage model length (mm, sized).
    len: f32,
    /// Shaft width (mm, sized).
    width: f32,
    profile: &'p [(f32, f32)],
    epi: Option<(EpiEnd, EpiKind, f32)>,
    /// Rounding of the non-epiphyseal end, in half-widths.
    head_round: f32,
    /// Rounding of the far end of the shaft when it has no epiphysis there.
    base_round: f32,
    /// Beam depth over width.
    depth: f32,
    /// Mid-shaft cortical thickness over half-width, beyond a 0.05 base.
    cortex: f32,
    /// If set, the shaft is a metaphysis of this length (mm) followed by a long straight shaft
    /// (radius, ulna).
    meta_len: Option<f32>,
}

fn profile_at(profile: &[(f32, f32)], t: f32) -> f32 {
    interp(profile, t)
}

fn tubular(c: &Ctx, spec: &TubularSpec) -> BoneModel {
    let l = spec.len;
    let w = spec.width;
    let epi_state = maturation::epiphysis_state(spec.bone, c.sex, c.age, &c.ind.tempo);
    // Metaphyses flare a little less in infancy.
    let flare = 0.12 * c.youth;
    let waist = spec.profile.iter().map(|p| p.1).fold(f32::MAX, f32::min);
    let hw_at = |t: f32| -> f32 {
        let p = profile_at(spec.profile, t);
        w * (p + (waist * 1.05 - p) * flare)
    };
    // The physis (growth plate) narrows as the epiphysis caps, then closes by fusion.
    let cap_now = epi_state.map_or(0.0, |e| e.cap);
    let physis_gap0 = (0.35 + 0.9 * c.s) * (1.0 - 0.45 * cap_now);
    let end_cart = l * 0.06 * (c.youth * c.youth);
    let mut parts = Vec::new();
    let dens = c.density;

    // Epiphyseal zone and shaft extent along u.
    let (epi_len, fusion) = match (&spec.epi, &epi_state) {
        (Some((_, _, frac)), Some(st)) => {
            let el = if spec.meta_len.is_some() {
                *frac * c.s
            } else {
                *frac * l
            };
            (el, st.fusion)
        }
        _ => (0.0, 0.0),
    };
    let gap = physis_gap0 * (1.0 - fusion);
    let (mut u0, mut u1) = (end_cart, l - end_cart);
    let epi_end = spec.epi.map(|e| e.0);
    match epi_end {
        Some(EpiEnd::Start) => u0 = epi_len + gap * 0.5,
        Some(EpiEnd::End) => u1 = l - epi_len - gap * 0.5,
        None => {}
    }
    // The physis side of the shaft is cut almost flat, the other end is rounded.
    let (cap0, cap1) = {
        let h0 = hw_at(u0 / l);
        let h1 = hw_at((u1 / l).min(1.0));
        // Once the physis bridges, the shaft's end plate there goes (an open end).
        let plate = if fusion > 0.5 { 0.0 } else { 0.12 };
        match epi_end {
            Some(EpiEnd::Start) => (plate * h0, spec.head_round * h1),
            Some(EpiEnd::End) => (spec.base_round * h0, plate * h1),
            None => (spec.base_round * h0, spec.head_round * h1),
        }
    };
    let cortex_frac = spec.cortex * c.ind.cortex * (0.75 + 0.25 * (1.0 - c.youth));
    let mid = |t: f32| smooth((t - 0.08) / 0.25) * smooth((0.92 - t) / 0.25);
    let frame = Frame::new(spec.p0, spec.dir, 1.0);
    if let Some(meta) = spec.meta_len {
        // Radius / ulna: a flared metaphysis then a straight shaft running off the image.
        let m_end = u0 + meta * c.s;
        let meta_hw =
            |u: f32| w * profile_at(spec.profile, ((u - u0) / (meta * c.s)).clamp(0.0, 1.0));
        let span = m_end - u0;
        let tube_meta = Tube {
            u0,
            u1: m_end,
            half_width: lut_from(|t| meta_hw(u0 + t * span)),
            cortex: lut_from(|t| {
                meta_hw(u0 + t * span) * (0.05 + cortex_frac * 0.9 * smooth(t * 1.3))
            }),
            core: lut_from(|t| 0.7 - 0.25 * smooth(t * 1.2)),
            cap0,
            cap1: 0.0,
            depth: spec.depth,
        };
        let shaft_hw = meta_hw(m_end);
        let far = 320.0 * c.s.max(0.5);
        let tube_shaft = Tube {
            u0: m_end,
            u1: far,
            half_width: [shaft_hw; LUT_N],
            cortex: lut_from(|_| shaft_hw * (0.05 + cortex_frac * 0.9)),
            core: [0.45; LUT_N],
            cap0: 0.0,
            cap1: 0.0,
            depth: spec.depth,
        };
        parts.push(Part {
            placed: Placed {
                frame,
                shape: Shape::Tube(tube_meta),
            },
            density: dens,
        });
        parts.push(Part {
            placed: Placed {
                frame,
                shape: Shape::Tube(tube_shaft),
            },
            density: dens,
        });
    } else {
        let span = u1 - u0;
        let tube = Tube {
            u0,
            u1,
            half_width: lut_from(|t| hw_at((u0 + t * span) / l)),
            cortex: lut_from(|t| {
                let tt = (u0 + t * span) / l;
                hw_at(tt) * (0.05 + cortex_frac * mid(tt))
            }),
            core: lut_from(|t| {
                let tt = (u0 + t * span) / l;
                0.8 - 0.6 * mid(tt)
            }),
            cap0,
            cap1,
            depth: spec.depth,
        };
        parts.push(Part {
            placed: Placed {
                frame,
                shape: Shape::Tube(tube),
            },
            density: dens,
        });
    }

    // The epiphysis and, during fusion, the bridge across the physis.
    if let (Some((end, kind, _)), Some(st)) = (spec.epi, epi_state) {
        let physis_u = match end {
            EpiEnd::Start => epi_len,
            EpiEnd::End => l - epi_len,
        };
        let meta_hw = match spec.meta_len {
            Some(_) => w * profile_at(spec.profile, 0.0),
            None => hw_at(physis_u / l),
        };
        // Toward the metaphysis.
        let to_meta = match end {
            EpiEnd::Start => spec.dir,
            EpiEnd::End => mul(spec.dir, -1.0),
        };
        if st.present {
            let zone = (epi_len - physis_gap0 * 0.5).max(0.3);
            let b_full = zone * 0.5;
            let b = b_full * st.height;
            let a = meta_hw * st.width;
            // Centre of the nucleus: mid-zone while small, against the physis once grown.
            let from_physis = physis_gap0 * 0.5 * (1.0 - st.fusion) + b + (b_full - b) * 0.6;
            let centre_u = match end {
                EpiEnd::Start => physis_u - from_physis,
                EpiEnd::End => physis_u + from_physis,
            };
            let centre = add(spec.p0, mul(spec.dir, centre_u));
            // Sign that makes +v the thumb (radial) side in this epiphysis frame.
            let perp = radial_perp(to_meta);
            let v_radial = if perp[0] >= 0.0 { 1.0 } else { -1.0 };
            let shape = st.shape;
            // The epiphysis' own shell thins as it merges with the shaft.
            let epi_cortex = 0.18 * (1.0 - 0.8 * st.fusion);
            let blob = match kind {
                EpiKind::Base => Blob {
                    a,
                    b,
                    square: 0.25 + 0.55 * shape,
                    taper_u: 0.08 * shape,
                    taper_v: 0.0,
                    bend: 0.45 * st.cap,
                    anchor: true,
                    depth: a * 0.62,
                    cortex: epi_cortex,
                    core: 0.7,
                },
                EpiKind::Head => Blob {
                    a,
                    b,
                    square: 0.15 + 0.25 * shape,
                    taper_u: 0.3 * shape,
                    taper_v: 0.0,
                    bend: 0.3 * st.cap,
                    anchor: true,
                    depth: a * 0.7,
                    cortex: epi_cortex,
                    core: 0.7,
                },
                EpiKind::Radius => Blob {
                    a,
                    b,
                    square: 0.3 + 0.5 * shape,
                    taper_u: 0.05,
                    taper_v: 0.5 * shape * v_radial,
                    bend: 0.25 * st.cap,
                    anchor: true,
                    depth: a * 0.42,
                    cortex: epi_cortex * 0.8,
                    core: 0.65,
                },
                EpiKind::Ulna => Blob {
                    a,
                    b,
                    square: 0.2 + 0.2 * shape,
                    taper_u: 0.15 * shape,
                    taper_v: -0.3 * shape * v_radial,
                    bend: 0.2 * st.cap,
                    anchor: true,
                    depth: a * 0.65,
                    cortex: epi_cortex,
                    core: 0.7,
                },
            };
            parts.push(Part {
                placed: Placed {
                    frame: Frame::new(centre, to_meta, 1.0),
                    shape: Shape::Blob(blob),
                },
                density: dens,
            });
        }
        if st.fusion > 0.0 {
            // Bridge across what is left of the physis; after closure a fading dense line.
            let remaining = physis_gap0 * (1.0 - st.fusion);
            let half = (remaining * 0.5).max(0.25 * c.s.max(0.6));
            let centre = add(spec.p0, mul(spec.dir, physis_u));
            let bridge = Blob {
                a: meta_hw * 0.97,
                b: half + 0.15,
                square: 1.0,
                taper_u: 0.0,
                taper_v: 0.0,
                bend: 0.3 * st.cap,
                anchor: false,
                depth: meta_hw * 0.55,
                cortex: 0.1,
                core: 1.0,
            };
            let density = if st.fusion < 1.0 {
                st.fusion * 0.8
            } else {
                0.25 * st.scar
            };
            if density > 0.0 {
                parts.push(Part {
                    placed: Placed {
                        frame: Frame::new(centre, to_meta, 1.0),
                        shape: Shape::Blob(bridge),
                    },
                    density: density * dens,
                });
            }
        }
    }

    // The cartilage model: the full length, drawn with the mature profile.
    let anlage = Placed {
        frame,
        shape: Shape::Tube(Tube {
            u0: 0.0,
            u1: if spec.meta_len.is_some() {
                60.0 * c.s
            } else {
                l
            },
            half_width: lut_from(|t| w * profile_at(spec.profile, t) * 1.02),
            cortex: [0.0; LUT_N],
            core: [1.0; LUT_N],
            cap0: 0.3 * w,
            cap1: 0.3 * w,
            depth: spec.depth,
        }),
    };
    BoneModel {
        bone: spec.bone,
        present: true,
        epiphysis: epi_state,
        centre: None,
        parts,
        anlage: vec![anlage],
    }
}

fn carpal(c: &Ctx, r: &CarpalRef, tilt: &Similarity) -> BoneModel {
    let st = maturation::centre_state(r.bone, c.sex, c.age, &c.ind.tempo).expect("carpal");
    let k = 1.16 * c.s * c.ind.carpal_size;
    let centre = [r.centre[0] * c.s * c.ind.palm_width, r.centre[1] * c.s];
    let axis = [r.angle.to_radians().sin(), r.angle.to_radians().cos()];
    let mut frame = Frame::new(centre, axis, 1.0);
    let (a, b) = (r.a * k * c.w.sqrt(), r.b * k);
    // The proximal row moves a little with the forearm when the wrist tilts.
    if matches!(
        r.bone,
        Bone::Lunate | Bone::Scaphoid | Bone::Triquetrum | Bone::Pisiform
    ) {
        let half = Similarity::rotation_about(tilt_pivot(c), tilt_deg(tilt) * 0.4);
        frame = half.apply_frame(&frame);
    }
    let anlage = Placed {
        frame,
        shape: Shape::Blob(Blob {
            a: a * 1.05,
            b: b * 1.05,
            square: r.square,
            taper_u: r.taper_u,
            taper_v: r.taper_v,
            bend: r.bend,
            anchor: false,
            depth: a.min(b),
            cortex: 0.0,
            core: 1.0,
        }),
    };
    let mut parts = Vec::new();
    if st.present {
        let z = st.size;
        let m = st.shape;
        let (oa, ob) = (a * z, b * z * (0.7 + 0.3 * m) + a * z * 0.3 * (1.0 - m));
        parts.push(Part {
            placed: Placed {
                frame,
                shape: Shape::Blob(Blob {
                    a: oa,
                    b: ob,
                    square: r.square * m,
                    taper_u: r.taper_u * m,
                    taper_v: r.taper_v * m,
                    bend: r.bend * m,
                    anchor: false,
                    depth: oa.min(ob) * 0.58,
                    cortex: 0.07 + 0.02 * m,
                    core: 0.75,
                }),
            },
            density: c.density,
        });
        // The hook of the hamate shows as a ring late in childhood.
        if r.bone == Bone::Hamate && m > 0.55 {
            let ring = Blob::ellipse(a * 0.26, b * 0.24, a * 0.25, 0.35, 0.0);
            let hook_centre = frame.to_image([b * 0.05, -a * 0.12]);
            parts.push(Part {
                placed: Placed {
                    frame: Frame::new(hook_centre, axis, 1.0),
                    shape: Shape::Blob(ring),
                },
                density: c.density * ((m - 0.55) / 0.3).clamp(0.0, 1.0) * 0.5,
            });
        }
    }
    BoneModel {
        bone: r.bone,
        present: st.present,
        epiphysis: None,
        centre: Some(st),
        parts,
        anlage: vec![anlage],
    }
}

/// The distal tip of a tubular bone's shaft, a little inside its rounded end.
fn shaft_tip(model: &BoneModel) -> [f32; 2] {
    let part = &model.parts[0].placed;
    match &part.shape {
        Shape::Tube(t) => part.frame.to_image([t.u1 - (0.25 * t.cap1).min(0.4), 0.0]),
        Shape::Blob(_) => part.frame.origin,
    }
}

fn tilt_pivot(c: &Ctx) -> [f32; 2] {
    mul(WRIST_PIVOT, c.s)
}
fn tilt_deg(t: &Similarity) -> f32 {
    t.sin.atan2(t.cos).to_degrees()
}

/// Builds the hand of a `sex` child at `age_months` of bone age with build `ind` in pose
/// `pose` (only the hand-internal part of the pose: spread, thumb, flexion, wrist tilt).
pub fn build(age_months: f32, sex: Sex, ind: &Individual, pose: &Pose) -> Skeleton {
    let age = age_months.max(0.0);
    let s = growth_fraction(age, sex) * ind.size;
    let ma = match sex {
        Sex::Male => age,
        Sex::Female => age * 1.1,
    };
    let youth = (1.0 - ma / 96.0).clamp(0.0, 1.0);
    let sex_w = match sex {
        Sex::Male => 1.0,
        Sex::Female => 0.95,
    };
    let c = Ctx {
        sex,
        age,
        ind,
        s,
        w: ind.bone_width * sex_w * (0.94 + 0.06 * (1.0 - youth)),
        youth,
        density: ind.density * (0.72 + 0.28 * ((ma / 180.0).clamp(0.0, 1.0))),
    };
    let tilt = Similarity::rotation_about(tilt_pivot(&c), pose.wrist_tilt_deg);
    let mut bones = Vec::new();
    let mut soft_shapes = Vec::new();
    let joint = 0.5 + 1.1 * s;
    // Tubular bones of the hand are stockier in childhood.
    let hand_w = 1.12 + 0.25 * youth;

    // --- Rays: metacarpal + phalanges, and finger soft tissue.
    let mut mc_geom = [([0.0f32; 2], [0.0f32; 2], 0.0f32, 0.0f32); 5]; // base, dir, len, width
    let mut prox_geom = [([0.0f32; 2], [0.0f32; 2], 0.0f32); 5]; // base, dir, len
    let mut tips = [[0.0f32; 2]; 5];
    let mut soft_tips = [[0.0f32; 2]; 5];
    let mut finger_w = [0.0f32; 5];
    for (ri, r) in RAYS.iter().enumerate() {
        let digit = ri as u8 + 1;
        let base = [r.base[0] * s * ind.palm_width, r.base[1] * s];
        let mc_angle = r.angle + if digit == 1 { pose.thumb_deg } else { 0.0 };
        let dir = up_dir(mc_angle);
        let mc_len = r.mc_len * s * ind.metacarpal_length * (0.97 + 0.03 * (1.0 - youth));
        let mc_w = r.mc_w * s * c.w * hand_w;
        mc_geom[ri] = (base, dir, mc_len, mc_w);
        let mc_spec = TubularSpec {
            bone: Bone::Metacarpal(digit),
            p0: base,
            dir,
            len: mc_len,
            width: mc_w,
            profile: if digit == 1 { PROFILE_MC1 } else { PROFILE_MC },
            epi: Some(if digit == 1 {
                (EpiEnd::Start, EpiKind::Base, 0.14)
            } else {
                (EpiEnd::End, EpiKind::Head, 0.17)
            }),
            head_round: if digit == 1 { 0.7 } else { 0.35 },
            base_round: 0.35,
            depth: 0.9,
            cortex: 0.25,
            meta_len: None,
        };
        bones.push(tubular(&c, &mc_spec));

        // Phalanges.
        let finger_angle = mc_angle + r.spread * pose.spread + pose.finger_deg[ri];
        let mut p = add(base, mul(dir, mc_len + joint));
        let mut fdir = up_dir(finger_angle);
        let fw = r.soft_w * 0.95 * s * ind.soft.sqrt() * (1.0 + 0.18 * youth) * c.w.sqrt();
        finger_w[ri] = fw;
        let mut joints = vec![add(base, mul(dir, mc_len))];
        let rows: &[(usize, Bone)] = if digit == 1 {
            &[(0, Bone::Proximal(1)), (2, Bone::Distal(1))]
        } else {
            &[
                (0, Bone::Proximal(digit)),
                (1, Bone::Middle(digit)),
                (2, Bone::Distal(digit)),
            ]
        };
        let mut last_dir = fdir;
        for (k, &(row, bone)) in rows.iter().enumerate() {
            let (ref_len, ref_w) = r.phal[row];
            let flex = if row > 0 { pose.flex[ri].cos() } else { 1.0 };
            // Infants' fingers are short against the palm.
            let len = ref_len * s * ind.ray_length[ri] * flex * (1.0 - 0.1 * youth);
            let width = ref_w * s * c.w * hand_w;
            if k > 0 {
                // Small alternating deviation at interphalangeal joints.
                let dev = if k % 2 == 1 { 1.5 } else { -1.0 } * pose.finger_deg[ri].signum();
                fdir = crate::pose::turn(fdir, dev);
            }
            if row == 0 {
                prox_geom[ri] = (p, fdir, len);
            }
            let (profile, epi_frac) = match row {
                0 => (PROFILE_PROXIMAL, 0.14),
                1 => (PROFILE_MIDDLE, 0.16),
                _ => (PROFILE_DISTAL, 0.2),
            };
            let spec = TubularSpec {
                bone,
                p0: p,
                dir: fdir,
                len,
                width,
                profile,
                epi: Some((EpiEnd::Start, EpiKind::Base, epi_frac)),
                head_round: if row == 2 { 0.7 } else { 0.5 },
                base_round: 0.3,
                depth: 0.82,
                cortex: 0.18,
                meta_len: None,
            };
            bones.push(tubular(&c, &spec));
            p = add(p, mul(fdir, len));
            joints.push(p);
            p = add(p, mul(fdir, joint * 0.9));
            last_dir = fdir;
        }
        // Tip of the distal phalanx's ossified tuft (just inside it).
        tips[ri] = shaft_tip(bones.last().expect("distal phalanx just built"));
        let pad = 0.2 * fw + 1.5 * s;
        soft_tips[ri] = add(joints[joints.len() - 1], mul(last_dir, pad));

        // Finger soft tissue: one tube along the metacarpal's distal part, then one per
        // phalanx, overlapping at the joints.
        let n = joints.len();
        {
            let half = fw * 0.5;
            let start = if digit == 1 { 1.15 } else { 1.0 };
            let a0 = add(joints[0], mul(dir, -0.45 * mc_len));
            let a1 = add(joints[0], mul(dir, 0.6 * joint + 0.5));
            let seg = [a1[0] - a0[0], a1[1] - a0[1]];
            let seg_len = (seg[0] * seg[0] + seg[1] * seg[1]).sqrt();
            soft_shapes.push(Placed {
                frame: Frame::new(a0, seg, 1.0),
                shape: Shape::Tube(Tube {
                    u0: 0.0,
                    u1: seg_len,
                    half_width: lut_from(|t| half * (start + (1.0 - start) * t)),
                    cortex: [0.0; LUT_N],
                    core: [0.0; LUT_N],
                    cap0: 0.0,
                    cap1: half * 0.5,
                    depth: 0.85,
                }),
            });
        }
        for k in 0..n - 1 {
            let a0 = if k == 0 {
                add(joints[0], mul(dir, -0.5))
            } else {
                add(joints[k], mul(last_dir, -1.0))
            };
            let a1 = if k == n - 2 {
                soft_tips[ri]
            } else {
                add(joints[k + 1], mul(last_dir, 1.5))
            };
            let seg = [a1[0] - a0[0], a1[1] - a0[1]];
            let seg_len = (seg[0] * seg[0] + seg[1] * seg[1]).sqrt();
            let segs = (n - 1) as f32;
            let w0 = 1.0 - 0.1 * (k as f32 / segs);
            let w1 = 1.0 - 0.1 * ((k + 1) as f32 / segs) - if k == n - 2 { 0.08 } else { 0.0 };
            let half = fw * 0.5;
            let tube = Tube {
                u0: 0.0,
                u1: seg_len,
                half_width: lut_from(|t| {
                    // Slimmer between the joints, a knuckle bulge before the next one.
                    let bulge = -0.04 * (1.0 - (2.0 * t - 1.0).abs()).powi(2)
                        + 0.03 * smooth((t - 0.8) / 0.2);
                    half * (w0 + (w1 - w0) * t + bulge)
                }),
                cortex: [0.0; LUT_N],
                core: [0.0; LUT_N],
                cap0: 0.0,
                cap1: if k == n - 2 { half * 0.9 } else { 0.0 },
                depth: 0.85,
            };
            soft_shapes.push(Placed {
                frame: Frame::new(a0, seg, 1.0),
                shape: Shape::Tube(tube),
            });
        }
    }

    // --- Carpals.
    for r in &CARPALS {
        bones.push(carpal(&c, r, &tilt));
    }

    // --- Radius and ulna (tilted with the forearm).
    let radius_end = add(
        [RADIUS_END[0] * s * ind.palm_width, RADIUS_END[1] * s],
        [0.0, 0.0],
    );
    let ulna_end = [
        ULNA_END[0] * s * ind.palm_width,
        (ULNA_END[1] + ind.ulnar_variance) * s,
    ];
    let forearm_dir = [0.0, 1.0];
    for (bone, end, width, profile, kind, epi_mm, meta, angle) in [
        (
            Bone::Radius,
            radius_end,
            RADIUS_W,
            PROFILE_RADIUS_META,
            EpiKind::Radius,
            11.0,
            40.0,
            -1.0f32,
        ),
        (
            Bone::Ulna,
            ulna_end,
            ULNA_W,
            PROFILE_ULNA_META,
            EpiKind::Ulna,
            7.0,
            30.0,
            1.0,
        ),
    ] {
        let dir = crate::pose::turn(forearm_dir, angle);
        let spec = TubularSpec {
            bone,
            p0: end,
            dir,
            len: 400.0,
            width: width * s * c.w,
            profile,
            epi: Some((EpiEnd::Start, kind, epi_mm)),
            head_round: 0.0,
            base_round: 0.0,
            depth: if bone == Bone::Radius { 0.55 } else { 0.7 },
            cortex: 0.22,
            meta_len: Some(meta),
        };
        let mut model = tubular(&c, &spec);
        for p in model.parts.iter_mut() {
            p.placed.frame = tilt.apply_frame(&p.placed.frame);
        }
        for p in model.anlage.iter_mut() {
            p.frame = tilt.apply_frame(&p.frame);
        }
        bones.push(model);
    }

    // --- Sesamoid at the thumb's metacarpophalangeal joint (ulnar, palmar side).
    {
        let (base, dir, len, w) = mc_geom[0];
        let st = maturation::centre_state(Bone::Sesamoid, sex, age, &ind.tempo).expect("sesamoid");
        let centre = add(
            add(base, mul(dir, len * 0.93)),
            mul(radial_perp(dir), -0.28 * w),
        );
        let r = 2.6 * s * st.size.max(0.0);
        let frame = Frame::new(centre, dir, 1.0);
        let mut parts = Vec::new();
        if st.present {
            parts.push(Part {
                placed: Placed {
                    frame,
                    shape: Shape::Blob(Blob::ellipse(r * 0.9, r, r * 0.9, 0.25, 0.9)),
                },
                density: c.density,
            });
        }
        bones.push(BoneModel {
            bone: Bone::Sesamoid,
            present: st.present,
            epiphysis: None,
            centre: Some(st),
            parts,
            anlage: vec![Placed {
                frame,
                shape: Shape::Blob(Blob::ellipse(2.4 * s, 2.7 * s, 2.4 * s, 0.0, 1.0)),
            }],
        });
    }

    // --- Palm, thenar, forearm.
    let soft_k = ind.soft * (1.0 + 0.15 * youth);
    let mc_pt = |ri: usize, t: f32, off: f32| -> [f32; 2] {
        let (b, d, l, _) = mc_geom[ri];
        add(add(b, mul(d, l * t)), mul(radial_perp(d), off * s))
    };
    let prox_pt = |ri: usize, t: f32, off: f32| -> [f32; 2] {
        let (b, d, l) = prox_geom[ri];
        add(add(b, mul(d, l * t)), mul(radial_perp(d), off * s))
    };
    let wrist_y = radius_end[1];
    let radial_wrist = tilt.apply([
        radius_end[0] + (RADIUS_W * 0.55 + 7.0) * s,
        wrist_y + 6.0 * s,
    ]);
    let ulnar_wrist = tilt.apply([ulna_end[0] - (ULNA_W * 0.5 + 7.5) * s, wrist_y + 6.0 * s]);
    let radial_low = tilt.apply([
        radius_end[0] + (RADIUS_W * 0.55 + 8.0) * s,
        wrist_y + 40.0 * s,
    ]);
    let ulnar_low = tilt.apply([ulna_end[0] - (ULNA_W * 0.5 + 8.0) * s, wrist_y + 40.0 * s]);
    let web = |a: usize, b: usize| -> [f32; 2] {
        let p = lerp2(prox_pt(a, 0.3, 0.0), prox_pt(b, 0.3, 0.0), 0.5);
        // Webs sit a little proximal to the line between the fingers.
        add(p, [0.0, 2.0 * s])
    };
    let first_a = mc_pt(1, 0.86, 8.5 * soft_k);
    let first_c = prox_pt(0, 0.3, -7.0 * soft_k);
    let first_mid = lerp2(lerp2(first_a, first_c, 0.5), [0.0, 0.0], 0.14);
    let palm_pts = vec![
        ulnar_low,
        ulnar_wrist,
        mc_pt(4, 0.05, -12.0 * soft_k),
        mc_pt(4, 0.5, -11.5 * soft_k),
        mc_pt(4, 0.92, -9.0 * soft_k),
        prox_pt(4, 0.2, -7.0 * soft_k),
        web(4, 3),
        web(3, 2),
        web(2, 1),
        prox_pt(1, 0.22, 8.0 * soft_k),
        first_a,
        first_mid,
        first_c,
        mc_pt(0, 0.8, 9.5 * soft_k),
        mc_pt(0, 0.4, 12.0 * soft_k),
        mc_pt(0, 0.0, 11.0 * soft_k),
        radial_wrist,
        radial_low,
    ];
    let outline_pts: Vec<[f32; 2]> = palm_pts[1..palm_pts.len() - 1].to_vec();
    let palm = Polygon {
        points: chaikin(&palm_pts, 2),
        thickness: 27.0 * s * soft_k,
        edge: 9.0 * s * soft_k,
    };
    // Forearm: an elliptical cylinder widening proximally, its rounded top hidden in the palm.
    {
        let left = ulna_end[0] - (ULNA_W * 0.5 + 12.0) * s;
        let right = radius_end[0] + (RADIUS_W * 0.55 + 12.0) * s;
        let top = [0.5 * (left + right), wrist_y - 22.0 * s];
        let half = 0.5 * (right - left) * ind.soft.sqrt();
        let len = 420.0 * s;
        let frame = tilt.apply_frame(&Frame::new(top, [0.0, 1.0], 1.0));
        soft_shapes.push(Placed {
            frame,
            shape: Shape::Tube(Tube {
                u0: 0.0,
                u1: len,
                half_width: lut_from(|t| half * (1.0 + 0.35 * (t * 4.0).min(1.0))),
                cortex: [0.0; LUT_N],
                core: [0.0; LUT_N],
                cap0: 40.0 * s,
                cap1: 0.0,
                depth: 0.55 * soft_k.sqrt(),
            }),
        });
    }
    // Thenar eminence: thicker soft tissue over the thumb's metacarpal.
    {
        let (b, d, l, _) = mc_geom[0];
        let centre = add(add(b, mul(d, l * 0.35)), mul(radial_perp(d), -3.0 * s));
        soft_shapes.push(Placed {
            frame: Frame::new(centre, d, 1.0),
            shape: Shape::Blob(Blob::ellipse(
                14.0 * s * soft_k,
                22.0 * s,
                15.0 * s * soft_k,
                0.0,
                0.0,
            )),
        });
    }

    let capitate = [0.0, 0.0];
    let mut outline = outline_pts;
    outline.extend(soft_tips.iter().copied());
    Skeleton {
        bones,
        soft: SoftTissue {
            shapes: soft_shapes,
            slabs: vec![palm],
        },
        keypoints: [tips[2], tips[0], capitate],
        outline,
        scale: 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pose::PoseConfig;

    fn neutral_pose() -> Pose {
        let mut rng = crate::rng::image_rng(0, 0);
        Pose::sample(&mut rng, &PoseConfig::neutral())
    }

    #[test]
    fn thirty_bones() {
        assert_eq!(Bone::all().len(), 30);
        let sk = build(120.0, Sex::Male, &Individual::typical(), &neutral_pose());
        assert_eq!(sk.bones.len(), 30);
    }

    #[test]
    fn boys_end_larger_and_hands_grow() {
        assert!(growth_fraction(228.0, Sex::Male) > growth_fraction(228.0, Sex::Female));
        let mut last = 0.0;
        for m in (0..=228).step_by(6) {
            let g = growth_fraction(m as f32, Sex::Female);
            assert!(g >= last && (m > 200 || g > last), "{m}");
            last = g;
        }
    }

    #[test]
    fn keypoints_in_hand_frame_are_where_the_design_says() {
        let sk = build(200.0, Sex::Male, &Individual::typical(), &neutral_pose());
        let [middle, thumb, cap] = sk.keypoints;
        assert_eq!(cap, [0.0, 0.0]);
        // Middle finger up, thumb up and to the thumb side (DESIGN: ~(0,-1470) and (700,-750)
        // in a frame where the middle tip is 1470 above the capitate).
        assert!(middle[1] < -150.0 && middle[0].abs() < 10.0, "{middle:?}");
        let r = -middle[1];
        assert!((thumb[0] / r - 0.476).abs() < 0.12, "{thumb:?}");
        assert!((-thumb[1] / r - 0.51).abs() < 0.12, "{thumb:?}");
    }
}
