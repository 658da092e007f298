//! Stage 9, the clinical reading: the estimated bone age against the child's chronological age
//! and the reference's spread (Greulich–Pyle atlas ages with Brush's SDs, shipped in the binary:
//! [`BrushTable::shipped`]): the difference, the SDS and delayed / normal / advanced.

use boneage_core::reference::{BrushTable, Reading};
use boneage_core::Sex;
use serde::Serialize;

/// The reference table the SDS is read against, in words.
pub const REFERENCE: &str = "Greulich-Pyle atlas with Brush standard deviations";

/// A bone age read against a chronological age.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClinicalReading {
    /// The child's age at the study, months.
    pub chronological_age_months: f64,
    /// Bone age minus chronological age.
    pub bone_age_minus_chronological_months: f64,
    /// (bone age − reference mean bone age at this chronological age) / reference SD; `None`
    /// when the chronological age is outside the table (see `unavailable`).
    pub sds: Option<f64>,
    /// `delayed` (SDS < −2), `normal`, `advanced` (SDS > +2); `None` without an SDS.
    pub reading: Option<Reading>,
    /// Reference mean bone age at this chronological age, months.
    pub reference_mean_months: Option<f64>,
    /// Reference SD of bone age at this chronological age, months.
    pub reference_sd_months: Option<f64>,
    /// Which reference.
    pub reference: &'static str,
    /// Why there is no SDS (e.g. an age beyond the table's last row).
    pub unavailable: Option<String>,
}

/// Reads `bone_age_months` of a child of `sex` and `chronological_age_months`.
pub fn read(
    table: &BrushTable,
    sex: Sex,
    chronological_age_months: f64,
    bone_age_months: f64,
) -> ClinicalReading {
    let mut r = ClinicalReading {
        chronological_age_months,
        bone_age_minus_chronological_months: bone_age_months - chronological_age_months,
        sds: None,
        reading: None,
        reference_mean_months: None,
        reference_sd_months: None,
        reference: REFERENCE,
        unavailable: None,
    };
    match table.sds(sex, chronological_age_months, bone_age_months) {
        Ok(s) => {
            r.sds = Some(s.sds);
            r.reading = Some(s.reading);
            r.reference_mean_months = Some(s.reference_mean_months);
            r.reference_sd_months = Some(s.reference_sd_months);
        }
        Err(e) => r.unavailable = Some(format!("no SDS: {e}")),
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_against_hand_computed_values() {
        let t = BrushTable::shipped();
        // Girl of 10 years (a table row): reference mean and SD straight from the table.
        let (mean, sd) = t.at(Sex::Female, 120.0).unwrap();
        let r = read(&t, Sex::Female, 120.0, mean + 1.0 * sd);
        assert!((r.sds.unwrap() - 1.0).abs() < 1e-9);
        assert_eq!(r.reading, Some(Reading::Normal));
        assert!((r.bone_age_minus_chronological_months - (mean + sd - 120.0)).abs() < 1e-9);
        let r = read(&t, Sex::Female, 120.0, mean - 2.5 * sd);
        assert_eq!(r.reading, Some(Reading::Delayed));
        let r = read(
            &t,
            Sex::Male,
            120.0,
            t.at(Sex::Male, 120.0).unwrap().0 + 3.0 * 12.0,
        );
        assert!(r.sds.unwrap() > 2.0);
        assert_eq!(r.reading, Some(Reading::Advanced));
        // Beyond the girls' table (16 years): the difference, but no SDS, and why.
        let (_, max) = t.range(Sex::Female);
        let r = read(&t, Sex::Female, max + 12.0, 200.0);
        assert_eq!(r.sds, None);
        assert!((r.bone_age_minus_chronological_months - (200.0 - max - 12.0)).abs() < 1e-9);
        assert!(
            r.unavailable.as_deref().unwrap().contains("outside"),
            "{r:?}"
        );
    }
}
