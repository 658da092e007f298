//! One bone's model at an age: tubular bones (shaft, epiphysis, fusion) and carpals.

use super::*;

pub(super) fn add(a: [f32; 2], b: [f32; 2]) -> [f32; 2] {
    [a[0] + b[0], a[1] + b[1]]
}
pub(super) fn mul(a: [f32; 2], k: f32) -> [f32; 2] {
    [a[0] * k, a[1] * k]
}
pub(super) fn lerp2(a: [f32; 2], b: [f32; 2], t: f32) -> [f32; 2] {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]
}
/// The perpendicular to a ray direction that points to the thumb side when the ray points up.
pub(super) fn radial_perp(dir: [f32; 2]) -> [f32; 2] {
    [-dir[1], dir[0]]
}
pub(super) fn lut_from<F: Fn(f32) -> f32>(f: F) -> [f32; LUT_N] {
    let mut t = [0.0; LUT_N];
    for (i, v) in t.iter_mut().enumerate() {
        *v = f(i as f32 / (LUT_N - 1) as f32);
    }
    t
}
/// Corner cutting (Chaikin) of a closed polygon, `iterations` times.
pub(super) fn chaikin(points: &[[f32; 2]], iterations: usize) -> Vec<[f32; 2]> {
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

pub(super) fn smooth(x: f32) -> f32 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

/// Everything the builder needs about age and build.
pub(super) struct Ctx<'a> {
    pub(super) sex: Sex,
    pub(super) age: f32,
    pub(super) ind: &'a Individual,
    /// Size factor (hand length / adult male's).
    pub(super) s: f32,
    /// Width factor on top of `s`.
    pub(super) w: f32,
    /// 1 in infancy falling to 0 by about 8 years (maturity-normalised).
    pub(super) youth: f32,
    /// Mineral density.
    pub(super) density: f32,
}

/// Where a tubular bone's epiphysis is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum EpiEnd {
    /// At `u = 0` (the proximal end of phalanges and of the thumb's metacarpal; the distal
    /// articular end of radius and ulna, whose `u` runs up the forearm).
    Start,
    /// At `u = L` (heads of metacarpals II-V).
    End,
}

/// Shape family of an epiphysis.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum EpiKind {
    /// Phalangeal base: a flat disc that caps.
    Base,
    /// Metacarpal head: a dome.
    Head,
    /// Distal radius: a wedge, tall on the radial (styloid) side.
    Radius,
    /// Distal ulna: a round head, taller on the styloid side.
    Ulna,
}

pub(super) struct TubularSpec<'p> {
    pub(super) bone: Bone,
    /// Articular point at `u = 0` and unit direction of `+u`.
    pub(super) p0: [f32; 2],
    pub(super) dir: [f32; 2],
    /// Cartilage model length (mm, sized).
    pub(super) len: f32,
    /// Shaft width (mm, sized).
    pub(super) width: f32,
    pub(super) profile: &'p [(f32, f32)],
    pub(super) epi: Option<(EpiEnd, EpiKind, f32)>,
    /// Rounding of the non-epiphyseal end, in half-widths.
    pub(super) head_round: f32,
    /// Rounding of the far end of the shaft when it has no epiphysis there.
    pub(super) base_round: f32,
    /// Beam depth over width.
    pub(super) depth: f32,
    /// Mid-shaft cortical thickness over half-width, beyond a 0.05 base.
    pub(super) cortex: f32,
    /// If set, the shaft is a metaphysis of this length (mm) followed by a long straight shaft
    /// (radius, ulna).
    pub(super) meta_len: Option<f32>,
}

pub(super) fn profile_at(profile: &[(f32, f32)], t: f32) -> f32 {
    interp(profile, t)
}

pub(super) fn tubular(c: &Ctx, spec: &TubularSpec) -> BoneModel {
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

pub(super) fn carpal(c: &Ctx, r: &CarpalRef, tilt: &Similarity) -> BoneModel {
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
pub(super) fn shaft_tip(model: &BoneModel) -> [f32; 2] {
    let part = &model.parts[0].placed;
    match &part.shape {
        Shape::Tube(t) => part.frame.to_image([t.u1 - (0.25 * t.cap1).min(0.4), 0.0]),
        Shape::Blob(_) => part.frame.origin,
    }
}

pub(super) fn tilt_pivot(c: &Ctx) -> [f32; 2] {
    mul(WRIST_PIVOT, c.s)
}
pub(super) fn tilt_deg(t: &Similarity) -> f32 {
    t.sin.atan2(t.cos).to_degrees()
}
