//! The Greulich-Pyle/Brush reference: mean bone age and SD by chronological age and sex, the
//! standard-deviation score (SDS) built on it, and the skeletal development stages used to
//! break down evaluations.
//!
//! The table ships inside the binary (`data/reference/greulich_pyle_brush_sd.csv` in the repo);
//! the female columns stop at 16 years, the male at 17.

use crate::sex::Sex;
use serde::Serialize;
use std::fmt;

const BRUSH_CSV: &str = include_str!("../../../data/reference/greulich_pyle_brush_sd.csv");

/// One row of the Brush table, ages in months.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Row {
    chronological: f64,
    mean: f64,
    sd: f64,
}

/// Mean bone age and SD by chronological age, one sex's column of the Brush table.
#[derive(Debug, Clone)]
pub struct BrushTable {
    male: Vec<Row>,
    female: Vec<Row>,
}

/// Why an SDS cannot be given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReferenceError {
    #[error(
        "chronological age {age_months} months is outside the {sex} reference \
         ({min}-{max} months)"
    )]
    /// The chronological age is outside the sex's table.
    OutOfRange {
        /// Sex whose table was used.
        sex: Sex,
        /// The chronological age asked for, months.
        age_months: f64,
        /// First age of the table, months.
        min: f64,
        /// Last age of the table, months.
        max: f64,
    },
    /// Not an age (negative or not a number).
    #[error("age {0} is not a valid age in months")]
    BadAge(f64),
}

/// A bone age read against the reference at one chronological age.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sds {
    /// Reference mean bone age at this chronological age, months.
    pub reference_mean_months: f64,
    /// Reference SD at this chronological age, months.
    pub reference_sd_months: f64,
    /// (bone age − mean) / SD.
    pub sds: f64,
    /// Delayed, normal or advanced.
    pub reading: Reading,
}

/// Clinical reading of an SDS: |SDS| ≤ 2 is normal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reading {
    /// SDS below −2.
    Delayed,
    /// SDS within ±2.
    Normal,
    /// SDS above +2.
    Advanced,
}

impl BrushTable {
    /// The table shipped with the project.
    pub fn shipped() -> BrushTable {
        let mut male = Vec::new();
        let mut female = Vec::new();
        for line in BRUSH_CSV.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
            let chronological = num(0).expect("shipped reference table is well formed");
            if let (Some(mean), Some(sd)) = (num(1), num(2)) {
                male.push(Row {
                    chronological,
                    mean,
                    sd,
                });
            }
            if let (Some(mean), Some(sd)) = (num(3), num(4)) {
                female.push(Row {
                    chronological,
                    mean,
                    sd,
                });
            }
        }
        BrushTable { male, female }
    }

    fn rows(&self, sex: Sex) -> &[Row] {
        match sex {
            Sex::Male => &self.male,
            Sex::Female => &self.female,
        }
    }

    /// Range of chronological ages the table covers for `sex`, months.
    pub fn range(&self, sex: Sex) -> (f64, f64) {
        let r = self.rows(sex);
        (r[0].chronological, r[r.len() - 1].chronological)
    }

    /// Reference (mean, SD) of bone age at a chronological age, linearly interpolated.
    pub fn at(&self, sex: Sex, chronological_months: f64) -> Result<(f64, f64), ReferenceError> {
        if !chronological_months.is_finite() || chronological_months < 0.0 {
            return Err(ReferenceError::BadAge(chronological_months));
        }
        let rows = self.rows(sex);
        let (min, max) = self.range(sex);
        if chronological_months < min || chronological_months > max {
            return Err(ReferenceError::OutOfRange {
                sex,
                age_months: chronological_months,
                min,
                max,
            });
        }
        let i = rows
            .windows(2)
            .position(|w| chronological_months <= w[1].chronological)
            .unwrap_or(rows.len() - 2);
        let (a, b) = (rows[i], rows[i + 1]);
        let t = (chronological_months - a.chronological) / (b.chronological - a.chronological);
        Ok((a.mean + t * (b.mean - a.mean), a.sd + t * (b.sd - a.sd)))
    }

    /// SDS of a bone age at a chronological age.
    pub fn sds(
        &self,
        sex: Sex,
        chronological_months: f64,
        bone_age_months: f64,
    ) -> Result<Sds, ReferenceError> {
        if !bone_age_months.is_finite() || bone_age_months < 0.0 {
            return Err(ReferenceError::BadAge(bone_age_months));
        }
        let (mean, sd) = self.at(sex, chronological_months)?;
        let sds = (bone_age_months - mean) / sd;
        let reading = if sds < -2.0 {
            Reading::Delayed
        } else if sds > 2.0 {
            Reading::Advanced
        } else {
            Reading::Normal
        };
        Ok(Sds {
            reference_mean_months: mean,
            reference_sd_months: sd,
            sds,
            reading,
        })
    }
}

/// Skeletal development stages (Gilsanz & Ratib), as the seed reports errors by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Under 10 months (girls) / 14 months (boys).
    Infancy,
    /// Up to 2 years (girls) / 3 years (boys).
    Toddlers,
    /// Up to 7 years (girls) / 9 years (boys).
    PrePuberty,
    /// Up to 13 years (girls) / 14 years (boys).
    EarlyMidPuberty,
    /// Up to 15 years (girls) / 16 years (boys).
    LatePuberty,
    /// Older.
    PostPuberty,
}

impl Stage {
    /// Every stage, youngest first.
    pub const ALL: [Stage; 6] = [
        Stage::Infancy,
        Stage::Toddlers,
        Stage::PrePuberty,
        Stage::EarlyMidPuberty,
        Stage::LatePuberty,
        Stage::PostPuberty,
    ];

    /// Stage of a (bone) age in months for a sex. Upper bounds, months:
    /// girls 10 / 24 / 84 / 156 / 180 / –, boys 14 / 36 / 108 / 168 / 192 / –.
    pub fn of(sex: Sex, age_months: f64) -> Stage {
        let bounds: [f64; 5] = match sex {
            Sex::Female => [10.0, 24.0, 84.0, 156.0, 180.0],
            Sex::Male => [14.0, 36.0, 108.0, 168.0, 192.0],
        };
        let i = bounds.iter().position(|b| age_months < *b).unwrap_or(5);
        Stage::ALL[i]
    }

    /// The stage's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Infancy => "infancy",
            Stage::Toddlers => "toddlers",
            Stage::PrePuberty => "pre-puberty",
            Stage::EarlyMidPuberty => "early and mid puberty",
            Stage::LatePuberty => "late puberty",
            Stage::PostPuberty => "post-puberty",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_values_and_interpolation() {
        let t = BrushTable::shipped();
        assert_eq!(t.range(Sex::Male), (3.0, 204.0));
        assert_eq!(t.range(Sex::Female), (3.0, 192.0));
        let (m, sd) = t.at(Sex::Male, 120.0).unwrap();
        assert_eq!((m, sd), (125.68, 9.79));
        let (m, _) = t.at(Sex::Female, 66.0).unwrap();
        assert!((m - (66.21 + 78.50) / 2.0).abs() < 1e-9);
        assert!(matches!(
            t.at(Sex::Female, 200.0),
            Err(ReferenceError::OutOfRange { .. })
        ));
        assert!(matches!(
            t.at(Sex::Male, -1.0),
            Err(ReferenceError::BadAge(_))
        ));
    }

    #[test]
    fn sds_reading() {
        let t = BrushTable::shipped();
        let s = t.sds(Sex::Male, 120.0, 125.68 + 2.5 * 9.79).unwrap();
        assert!((s.sds - 2.5).abs() < 1e-9);
        assert_eq!(s.reading, Reading::Advanced);
        assert_eq!(
            t.sds(Sex::Male, 120.0, 100.0).unwrap().reading,
            Reading::Delayed
        );
        assert_eq!(
            t.sds(Sex::Male, 120.0, 126.0).unwrap().reading,
            Reading::Normal
        );
    }

    #[test]
    fn stages_follow_the_sex_specific_bounds() {
        assert_eq!(Stage::of(Sex::Female, 9.0), Stage::Infancy);
        assert_eq!(Stage::of(Sex::Male, 12.0), Stage::Infancy);
        assert_eq!(Stage::of(Sex::Female, 12.0), Stage::Toddlers);
        assert_eq!(Stage::of(Sex::Female, 100.0), Stage::EarlyMidPuberty);
        assert_eq!(Stage::of(Sex::Male, 100.0), Stage::PrePuberty);
        assert_eq!(Stage::of(Sex::Male, 228.0), Stage::PostPuberty);
    }
}
