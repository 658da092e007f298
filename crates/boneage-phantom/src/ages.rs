//! Who is imaged: bone age and sex drawn from the RSNA training distribution, uniformly, or
//! taken from a label table; and a chronological age drawn around the bone age with the
//! Brush-table SD.

use crate::rng::{normal_clamped, uniform};
use crate::PhantomError;
use boneage_core::reference::BrushTable;
use boneage_core::{Dataset, Sex};
use rand::Rng;
use std::path::Path;

/// Oldest bone age drawn, months (the RSNA tables stop at 228).
pub const MAX_BONE_AGE_MONTHS: f64 = 228.0;

/// Half-width (months) of the uniform jitter added to ages drawn from the RSNA distribution,
/// whose integer values cluster at whole and half years.
pub const RSNA_AGE_JITTER_MONTHS: f64 = 3.0;

/// The subject of one phantom radiograph.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Subject {
    /// Bone age (the label), months.
    pub bone_age_months: f64,
    /// Sex of the subject.
    pub sex: Sex,
    /// Chronological age, months.
    pub chronological_age_months: f64,
}

/// One row of a label table given with `--ages FILE`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgeRow {
    /// Bone age (the label), months.
    pub bone_age_months: f64,
    /// Sex.
    pub sex: Sex,
    /// Chronological age, months, when the table has one.
    pub chronological_age_months: Option<f64>,
}

/// Where ages and sexes come from.
#[derive(Debug, Clone, PartialEq)]
pub enum AgeSource {
    /// The bone age and sex distribution of the RSNA training table (embedded), with a
    /// uniform jitter of ±[`RSNA_AGE_JITTER_MONTHS`].
    Rsna,
    /// Bone age uniform in 0-228 months, sex 50/50.
    Uniform,
    /// Rows of a label table, used in order (cycled if more images are asked for).
    Table(Vec<AgeRow>),
}

impl AgeSource {
    /// Reads a label table in any format [`boneage_core::Dataset`] reads.
    pub fn from_table(path: &Path) -> Result<AgeSource, PhantomError> {
        let ds = Dataset::read(path).map_err(|cause| PhantomError::Ages { cause })?;
        let rows: Vec<AgeRow> = ds
            .samples
            .iter()
            .map(|s| AgeRow {
                bone_age_months: s.bone_age_months,
                sex: s.sex,
                chronological_age_months: s.chronological_age_months,
            })
            .collect();
        if rows.is_empty() {
            return Err(PhantomError::EmptyAges {
                path: path.to_path_buf(),
            });
        }
        Ok(AgeSource::Table(rows))
    }

    /// Number of rows for a table source.
    pub fn rows(&self) -> Option<usize> {
        match self {
            AgeSource::Table(r) => Some(r.len()),
            _ => None,
        }
    }

    /// The subject of image `index`.
    pub fn subject<R: Rng + ?Sized>(
        &self,
        index: usize,
        rng: &mut R,
        brush: &BrushTable,
    ) -> Subject {
        let (bone_age, sex, chrono) = match self {
            AgeSource::Rsna => {
                let (ba, sex) = draw_rsna(rng);
                (ba, sex, None)
            }
            AgeSource::Uniform => {
                let ba = rng.gen::<f64>() * MAX_BONE_AGE_MONTHS;
                let sex = Sex::from_is_male(rng.gen::<bool>());
                (ba, sex, None)
            }
            AgeSource::Table(rows) => {
                let r = rows[index % rows.len()];
                (r.bone_age_months, r.sex, r.chronological_age_months)
            }
        };
        let chronological_age_months = match chrono {
            Some(c) => c,
            None => chronological_age(bone_age, sex, rng, brush),
        };
        Subject {
            bone_age_months: bone_age,
            sex,
            chronological_age_months,
        }
    }
}

/// Draws (bone age, sex) from the RSNA training distribution.
fn draw_rsna<R: Rng + ?Sized>(rng: &mut R) -> (f64, Sex) {
    let girls: u32 = RSNA_TRAIN_AGES.iter().map(|r| r.1 as u32).sum();
    let boys: u32 = RSNA_TRAIN_AGES.iter().map(|r| r.2 as u32).sum();
    let male = rng.gen_range(0..girls + boys) >= girls;
    let total = if male { boys } else { girls };
    let mut k = rng.gen_range(0..total);
    let mut age = RSNA_TRAIN_AGES[RSNA_TRAIN_AGES.len() - 1].0;
    for &(a, g, b) in RSNA_TRAIN_AGES {
        let c = if male { b } else { g } as u32;
        if k < c {
            age = a;
            break;
        }
        k -= c;
    }
    let j = uniform(
        rng,
        -RSNA_AGE_JITTER_MONTHS as f32,
        RSNA_AGE_JITTER_MONTHS as f32,
    ) as f64;
    (
        (age as f64 + j).clamp(0.0, MAX_BONE_AGE_MONTHS),
        Sex::from_is_male(male),
    )
}

/// A chronological age for a child of bone age `bone_age` (months): the age at which the
/// Brush mean bone age equals it, plus a normal deviate with the table's SD there (clamped to
/// ±2.5 SD, never negative). Outside the table the mean is extended with slope 1 and the SD
/// kept (shrunk towards 0 near birth).
pub fn chronological_age<R: Rng + ?Sized>(
    bone_age: f64,
    sex: Sex,
    rng: &mut R,
    brush: &BrushTable,
) -> f64 {
    let (lo, hi) = brush.range(sex);
    let at = |c: f64| brush.at(sex, c).expect("inside the table's range");
    let (m_lo, sd_lo) = at(lo);
    let (m_hi, sd_hi) = at(hi);
    let (centre, sd) = if bone_age <= m_lo {
        (
            lo - (m_lo - bone_age),
            sd_lo * (bone_age / m_lo).clamp(0.15, 1.0),
        )
    } else if bone_age >= m_hi {
        (hi + (bone_age - m_hi), sd_hi)
    } else {
        let (mut a, mut b) = (lo, hi);
        for _ in 0..40 {
            let mid = 0.5 * (a + b);
            if at(mid).0 < bone_age {
                a = mid;
            } else {
                b = mid;
            }
        }
        let c = 0.5 * (a + b);
        (c, at(c).1)
    };
    let z = normal_clamped(rng, 0.0, 1.0, 2.5) as f64;
    (centre + sd * z).max(0.0)
}

/// `(bone age months, girls, boys)`: counts of each bone age in the RSNA training table
/// (`data/rsna/train.csv`, 12,611 radiographs).
pub const RSNA_TRAIN_AGES: &[(u16, u16, u16)] = &[
    (1, 0, 1),
    (4, 1, 0),
    (6, 2, 0),
    (9, 2, 3),
    (10, 2, 2),
    (12, 5, 6),
    (13, 1, 1),
    (14, 0, 1),
    (15, 6, 10),
    (16, 1, 2),
    (17, 0, 2),
    (18, 13, 14),
    (20, 0, 1),
    (21, 5, 10),
    (24, 35, 42),
    (27, 6, 3),
    (28, 0, 10),
    (29, 1, 0),
    (30, 37, 1),
    (32, 2, 22),
    (33, 12, 1),
    (34, 0, 3),
    (36, 68, 38),
    (37, 0, 1),
    (38, 0, 1),
    (39, 8, 8),
    (40, 0, 2),
    (42, 41, 48),
    (43, 1, 0),
    (45, 2, 8),
    (46, 5, 0),
    (48, 8, 63),
    (49, 1, 0),
    (50, 95, 0),
    (51, 0, 11),
    (52, 0, 1),
    (54, 3, 86),
    (55, 12, 0),
    (56, 0, 2),
    (57, 0, 18),
    (58, 0, 4),
    (60, 138, 140),
    (62, 1, 2),
    (63, 0, 2),
    (64, 6, 1),
    (65, 2, 0),
    (66, 0, 39),
    (67, 2, 1),
    (69, 190, 3),
    (70, 4, 0),
    (72, 30, 224),
    (74, 1, 0),
    (75, 12, 3),
    (76, 24, 1),
    (77, 1, 0),
    (78, 2, 53),
    (80, 0, 1),
    (81, 1, 1),
    (82, 380, 5),
    (84, 49, 225),
    (86, 1, 0),
    (87, 2, 1),
    (88, 53, 2),
    (90, 6, 43),
    (91, 2, 0),
    (93, 0, 1),
    (94, 490, 2),
    (96, 54, 248),
    (100, 57, 3),
    (101, 2, 2),
    (102, 1, 45),
    (103, 1, 0),
    (104, 2, 1),
    (105, 0, 1),
    (106, 474, 4),
    (107, 1, 0),
    (108, 2, 310),
    (109, 1, 0),
    (110, 1, 0),
    (111, 2, 0),
    (112, 7, 1),
    (113, 48, 0),
    (114, 7, 56),
    (115, 4, 1),
    (116, 0, 1),
    (117, 1, 0),
    (118, 1, 1),
    (120, 635, 357),
    (121, 1, 1),
    (123, 2, 0),
    (124, 0, 4),
    (125, 4, 2),
    (126, 124, 74),
    (128, 1, 2),
    (129, 0, 1),
    (130, 1, 1),
    (132, 689, 395),
    (133, 0, 1),
    (134, 0, 3),
    (135, 1, 26),
    (136, 4, 2),
    (137, 3, 1),
    (138, 101, 428),
    (139, 1, 2),
    (140, 4, 0),
    (141, 0, 2),
    (142, 0, 1),
    (143, 0, 1),
    (144, 542, 115),
    (146, 0, 3),
    (147, 3, 5),
    (148, 1, 0),
    (149, 0, 2),
    (150, 83, 595),
    (151, 0, 1),
    (152, 3, 2),
    (153, 1, 41),
    (154, 0, 3),
    (156, 388, 725),
    (158, 0, 4),
    (159, 29, 40),
    (160, 1, 2),
    (161, 0, 1),
    (162, 191, 491),
    (163, 1, 1),
    (164, 1, 5),
    (165, 16, 48),
    (166, 2, 0),
    (167, 1, 0),
    (168, 154, 738),
    (169, 1, 1),
    (170, 0, 3),
    (171, 1, 0),
    (172, 0, 1),
    (173, 0, 1),
    (174, 24, 73),
    (176, 0, 3),
    (177, 0, 1),
    (179, 0, 1),
    (180, 204, 214),
    (182, 0, 1),
    (183, 1, 4),
    (184, 0, 3),
    (186, 11, 127),
    (188, 1, 0),
    (189, 0, 15),
    (192, 60, 112),
    (194, 0, 1),
    (196, 0, 2),
    (197, 1, 0),
    (198, 3, 28),
    (200, 0, 2),
    (204, 27, 173),
    (206, 0, 1),
    (210, 2, 10),
    (212, 0, 2),
    (214, 0, 1),
    (216, 16, 56),
    (222, 0, 2),
    (228, 0, 19),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::image_rng;

    #[test]
    fn embedded_table_matches_the_repo_csv() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/rsna/train.csv");
        let Ok(text) = std::fs::read_to_string(path) else {
            return; // Not in a full checkout.
        };
        let mut counts = std::collections::BTreeMap::new();
        for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split(',').collect();
            let age = f[1].trim().parse::<f64>().unwrap() as u16;
            let male = f[2].trim() == "True";
            let e = counts.entry(age).or_insert((0u16, 0u16));
            if male {
                e.1 += 1
            } else {
                e.0 += 1
            }
        }
        let embedded: Vec<(u16, u16, u16)> =
            counts.into_iter().map(|(a, (g, b))| (a, g, b)).collect();
        assert_eq!(embedded, RSNA_TRAIN_AGES);
    }

    #[test]
    fn rsna_draws_follow_the_table() {
        let mut rng = image_rng(5, 0);
        let brush = BrushTable::shipped();
        let n = 4000;
        let subs: Vec<Subject> = (0..n)
            .map(|i| AgeSource::Rsna.subject(i, &mut rng, &brush))
            .collect();
        let male = subs.iter().filter(|s| s.sex == Sex::Male).count() as f64 / n as f64;
        assert!((male - 6833.0 / 12611.0).abs() < 0.03, "{male}");
        let mean = subs.iter().map(|s| s.bone_age_months).sum::<f64>() / n as f64;
        assert!((mean - 127.3).abs() < 4.0, "{mean}");
        assert!(subs
            .iter()
            .all(|s| (0.0..=228.0).contains(&s.bone_age_months)));
    }

    #[test]
    fn chronological_age_centres_on_the_brush_mean() {
        let brush = BrushTable::shipped();
        let mut rng = image_rng(9, 1);
        let n = 3000;
        let mean = (0..n)
            .map(|_| chronological_age(125.68, Sex::Male, &mut rng, &brush))
            .sum::<f64>()
            / n as f64;
        assert!((mean - 120.0).abs() < 1.0, "{mean}");
        assert!(chronological_age(0.5, Sex::Female, &mut rng, &brush) >= 0.0);
        assert!(chronological_age(228.0, Sex::Female, &mut rng, &brush) > 200.0);
    }
}
