//! Header fields bone age needs: pixel spacing, patient age (PatientAge or dates).

use super::*;
pub(super) use boneage_core::age::{days_from_civil, parse_date as parse_da};

pub(super) fn read_header_fields(
    path: &Path,
    obj: &InMemDicomObject,
    meta: &mut RadiographMeta,
    warnings: &mut Vec<String>,
) {
    meta.pixel_spacing_mm = read_spacing(path, obj, warnings);
    meta.sex = match str_attr(obj, tags::PATIENT_SEX).map(|s| s.to_ascii_uppercase()) {
        Some(s) if s == "M" => Some(Sex::Male),
        Some(s) if s == "F" => Some(Sex::Female),
        Some(s) if s == "O" => None,
        None => None,
        Some(other) => {
            warnings.push(format!(
                "{}: PatientSex {other:?} is not M, F or O; sex unknown",
                path.display()
            ));
            None
        }
    };
    meta.age_months = read_age(path, obj, warnings);
}

pub(super) fn read_spacing(
    path: &Path,
    obj: &InMemDicomObject,
    warnings: &mut Vec<String>,
) -> Option<[f64; 2]> {
    for (tag, name) in [
        (tags::PIXEL_SPACING, "PixelSpacing"),
        (tags::IMAGER_PIXEL_SPACING, "ImagerPixelSpacing"),
    ] {
        if obj.get(tag).is_none() {
            continue;
        }
        match floats_attr(obj, tag) {
            Some(v) if v.len() >= 2 && v[..2].iter().all(|x| x.is_finite() && *x > 0.0) => {
                return Some([v[0], v[1]]);
            }
            _ => warnings.push(format!("{}: {name} is malformed; ignored", path.display())),
        }
    }
    None
}

/// Age in months from the birth date and the first study date found (day-exact), else from
/// PatientAge (whole years for children over two, too coarse for an SDS when the dates exist).
pub(super) fn read_age(
    path: &Path,
    obj: &InMemDicomObject,
    warnings: &mut Vec<String>,
) -> Option<f64> {
    let from_age = str_attr(obj, tags::PATIENT_AGE).and_then(|age| {
        let m = parse_age_string(&age);
        if m.is_none() {
            warnings.push(format!(
                "{}: PatientAge {age:?} is not nnnD/W/M/Y; ignored",
                path.display()
            ));
        }
        m
    });
    age_from_dates(path, obj, warnings).or(from_age)
}

/// Age in months from PatientBirthDate and StudyDate (or AcquisitionDate, ContentDate).
pub(super) fn age_from_dates(
    path: &Path,
    obj: &InMemDicomObject,
    warnings: &mut Vec<String>,
) -> Option<f64> {
    let birth_raw = str_attr(obj, tags::PATIENT_BIRTH_DATE)?;
    let Some(birth) = parse_da(&birth_raw) else {
        warnings.push(format!(
            "{}: PatientBirthDate {birth_raw:?} is not a date; age unknown",
            path.display()
        ));
        return None;
    };
    for (tag, name) in [
        (tags::STUDY_DATE, "StudyDate"),
        (tags::ACQUISITION_DATE, "AcquisitionDate"),
        (tags::CONTENT_DATE, "ContentDate"),
    ] {
        let Some(raw) = str_attr(obj, tag) else {
            continue;
        };
        let Some(date) = parse_da(&raw) else {
            warnings.push(format!(
                "{}: {name} {raw:?} is not a date; ignored",
                path.display()
            ));
            continue;
        };
        let days = days_from_civil(date) - days_from_civil(birth);
        if days < 0 {
            warnings.push(format!(
                "{}: PatientBirthDate {birth_raw} is after {name} {raw}; age unknown",
                path.display()
            ));
            return None;
        }
        return Some(days as f64 / DAYS_PER_MONTH);
    }
    None
}

/// `nnnD`, `nnnW`, `nnnM`, `nnnY` (DICOM AS; 1–3 digits accepted) to months.
pub(super) fn parse_age_string(s: &str) -> Option<f64> {
    let s = s.trim();
    let unit = s.chars().last()?.to_ascii_uppercase();
    let digits = &s[..s.len() - 1];
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: f64 = digits.parse().ok()?;
    match unit {
        'D' => Some(n / DAYS_PER_MONTH),
        'W' => Some(n * 7.0 / DAYS_PER_MONTH),
        'M' => Some(n),
        'Y' => Some(n * 12.0),
        _ => None,
    }
}
