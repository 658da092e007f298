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

mod individual;
mod models;
mod reference;
#[cfg(test)]
mod tests;

pub use crate::bones::Bone;
use individual::interp;
pub use individual::{growth_fraction, Individual};
use models::*;
use reference::*;

/// One ossified part of a bone, in the hand frame, with its relative density.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// Its shape, placed in the hand frame.
    pub placed: Placed,
    /// Mineral density multiplier (1 = normal bone).
    pub density: f32,
}

/// A bone as built: its maturity and its parts (hand frame until [`Skeleton::transform`]).
#[derive(Debug, Clone, PartialEq)]
pub struct BoneModel {
    /// Which bone.
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
    /// Tubes and blobs of soft tissue.
    pub shapes: Vec<Placed>,
    /// Polygons in the hand frame (mm); `edge` in mm until transformed to pixels.
    pub slabs: Vec<Polygon>,
}

/// A hand: bones, soft tissue, keypoints and the outline used to place it.
#[derive(Debug, Clone, PartialEq)]
pub struct Skeleton {
    /// Every bone, in [`Bone::all`] order.
    pub bones: Vec<BoneModel>,
    /// The soft tissue around them.
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
