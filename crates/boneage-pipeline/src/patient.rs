//! Who the film is of: the patient's sex and chronological age, from the caller and the file
//! header, and the warnings where the two disagree.

use crate::PipelineError;
use boneage_core::Sex;
use boneage_imaging::io::Radiograph;

/// What the pipeline needs to know about the patient besides the film.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Patient {
    /// From the caller, else from the file header ([`Patient::from_header`]).
    pub sex: Sex,
    /// Chronological age in months, when known (the clinical reading compares with it).
    pub chronological_age_months: Option<f64>,
}

impl Patient {
    /// The patient of a radiograph: what `given` says, the rest from the file header (DICOM:
    /// PatientSex; the age from PatientBirthDate and StudyDate, else PatientAge). A header age
    /// outside 0–20 years is an error.
    pub fn from_header(r: &Radiograph, given: Given) -> Result<Patient, PipelineError> {
        let header_age = match (given.chronological_age_months, r.meta.age_months) {
            (None, Some(m)) => Some(boneage_core::age::checked_months(m)?),
            _ => None,
        };
        Ok(Patient {
            sex: given.sex.or(r.meta.sex).ok_or(PipelineError::NoSex)?,
            chronological_age_months: given.chronological_age_months.or(header_age),
        })
    }

    /// What the reader noticed about the file (multi-frame, unequal colour channels, a window
    /// of width 0, …) and where the caller's word overrode the header's (a sex given as F for
    /// a header saying M; an age that differs by more than a month): the warnings every answer
    /// about the film carries.
    pub fn input_warnings(r: &Radiograph, given: Given) -> Vec<String> {
        let mut w = r.meta.warnings.clone();
        if let (Some(g), Some(h)) = (given.sex, r.meta.sex) {
            if g != h {
                w.push(format!(
                    "sex {} was given; the file header says {}: the given sex was used",
                    g.letter(),
                    h.letter()
                ));
            }
        }
        if let (Some(g), Some(h)) = (given.chronological_age_months, r.meta.age_months) {
            if (g - h).abs() > 1.0 {
                w.push(format!(
                    "chronological age {g:.1} months was given; the file header says {h:.1}: the given age was used"
                ));
            }
        }
        w
    }
}

/// What the caller says about the patient of a film; the file header fills in the rest.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Given {
    /// Sex, overriding the header's.
    pub sex: Option<Sex>,
    /// Chronological age in months (checked by the caller), overriding the header's.
    pub chronological_age_months: Option<f64>,
}

impl Given {
    /// Only the sex.
    pub fn sex(sex: Option<Sex>) -> Given {
        Given {
            sex,
            chronological_age_months: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use boneage_imaging::io::{Photometric, RadiographMeta, SourceFormat};
    use boneage_imaging::GrayImage;
    use std::path::Path;

    fn film(sex: Option<Sex>, age_months: Option<f64>) -> Radiograph {
        let mut meta = RadiographMeta::new(
            Path::new("hand.dcm"),
            SourceFormat::Dicom,
            12,
            Photometric::Monochrome2,
        );
        meta.sex = sex;
        meta.age_months = age_months;
        Radiograph {
            image: GrayImage::new(4, 4, 0.0),
            meta,
        }
    }

    #[test]
    fn the_patient_comes_from_the_caller_then_the_header() {
        let header = film(Some(Sex::Female), Some(121.5));
        let p = Patient::from_header(&header, Given::default()).unwrap();
        assert_eq!(p.sex, Sex::Female);
        assert_eq!(p.chronological_age_months, Some(121.5));
        let given = Given {
            sex: Some(Sex::Male),
            chronological_age_months: Some(60.0),
        };
        let p = Patient::from_header(&header, given).unwrap();
        assert_eq!((p.sex, p.chronological_age_months), (Sex::Male, Some(60.0)));
        // No sex anywhere; an adult's age in the header (PatientAge 045Y): clear errors.
        let e = Patient::from_header(&film(None, None), Given::default()).unwrap_err();
        assert!(e.to_string().contains("no sex"), "{e}");
        let e = Patient::from_header(&film(Some(Sex::Male), Some(540.0)), Given::default())
            .unwrap_err()
            .in_file(Path::new("hand.dcm"));
        assert!(
            e.to_string().contains("hand.dcm") && e.to_string().contains("540"),
            "{e}"
        );
        // The caller's age wins over a wrong header age.
        let p = Patient::from_header(&film(Some(Sex::Male), Some(540.0)), given).unwrap();
        assert_eq!(p.chronological_age_months, Some(60.0));
    }

    #[test]
    fn overriding_the_header_and_the_readers_doubts_are_warned_about() {
        let mut header = film(Some(Sex::Female), Some(121.5));
        assert!(Patient::input_warnings(&header, Given::default()).is_empty());
        let same = Given {
            sex: Some(Sex::Female),
            chronological_age_months: Some(121.0),
        };
        assert!(Patient::input_warnings(&header, same).is_empty());
        header
            .meta
            .warnings
            .push("hand.dcm: 3 frames; the first is read".into());
        let given = Given {
            sex: Some(Sex::Male),
            chronological_age_months: Some(60.0),
        };
        let w = Patient::input_warnings(&header, given);
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].contains("3 frames"), "{w:?}");
        assert!(
            w[1].contains("sex M was given; the file header says F"),
            "{w:?}"
        );
        assert!(w[2].contains("says 121.5"), "{w:?}");
    }
}
