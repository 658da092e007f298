//! Individual build that age does not explain, and growth with age.

use super::*;

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

pub(super) fn interp(table: &[(f32, f32)], x: f32) -> f32 {
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
