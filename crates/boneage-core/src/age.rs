//! Chronological age: from a birth date and a study date (day-exact), checked to be a child's.
//!
//! Dates are proleptic Gregorian `(year, month, day)`; text dates are `YYYY-MM-DD`, or DICOM's
//! `YYYYMMDD` (and the old `YYYY.MM.DD`).

/// Days per month used for every age conversion (365.25 / 12).
pub const DAYS_PER_MONTH: f64 = 30.4375;

/// The oldest chronological age a bone age is read against: 20 years (the reference tables
/// stop earlier; a hand is fully grown by then).
pub const MAX_CHRONOLOGICAL_MONTHS: f64 = 240.0;

/// A calendar date.
pub type Date = (i64, u32, u32);

/// Why a chronological age cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AgeError {
    /// A text that is not a calendar date.
    #[error("{0:?} is not a date (YYYY-MM-DD)")]
    BadDate(String),
    /// The study date comes before the birth date.
    #[error("the study date {study} is before the birth date {birth}")]
    StudyBeforeBirth {
        /// The birth date as given.
        birth: String,
        /// The study date as given.
        study: String,
    },
    #[error(
        "a chronological age of {0} months is not an age (it must be 0-240 months, 0-20 years)"
    )]
    /// Not an age in 0–240 months.
    OutOfRange(f64),
}

/// A text date (`YYYY-MM-DD`, `YYYYMMDD` or `YYYY.MM.DD`), checked to exist.
pub fn parse_date(s: &str) -> Option<Date> {
    let digits: String = s
        .trim()
        .chars()
        .filter(|c| *c != '.' && *c != '-')
        .collect();
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: i64 = digits[0..4].parse().ok()?;
    let m: u32 = digits[4..6].parse().ok()?;
    let d: u32 = digits[6..8].parse().ok()?;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d == 0 || d > month_days[(m - 1) as usize] {
        return None;
    }
    Some((y, m, d))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil((y, m, d): Date) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The proleptic Gregorian date `days` after 1970-01-01 (the inverse of [`days_from_civil`]).
pub fn civil_from_days(days: i64) -> Date {
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Months from `birth` to `study` (days / [`DAYS_PER_MONTH`]); `None` when the study is
/// before the birth.
pub fn months_between(birth: Date, study: Date) -> Option<f64> {
    let days = days_from_civil(study) - days_from_civil(birth);
    (days >= 0).then(|| days as f64 / DAYS_PER_MONTH)
}

/// A chronological age in months, checked: 0 to 240 months.
pub fn checked_months(months: f64) -> Result<f64, AgeError> {
    if months.is_finite() && (0.0..=MAX_CHRONOLOGICAL_MONTHS).contains(&months) {
        Ok(months)
    } else {
        Err(AgeError::OutOfRange(months))
    }
}

/// The chronological age at `study` of a child born on `birth` (text dates), checked.
pub fn chronological_months(birth: &str, study: &str) -> Result<f64, AgeError> {
    let b = parse_date(birth).ok_or_else(|| AgeError::BadDate(birth.into()))?;
    let s = parse_date(study).ok_or_else(|| AgeError::BadDate(study.into()))?;
    let months = months_between(b, s).ok_or_else(|| AgeError::StudyBeforeBirth {
        birth: birth.into(),
        study: study.into(),
    })?;
    checked_months(months)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_round_trip() {
        for days in [-800_000i64, -1, 0, 59, 60, 11_016, 20_454, 2_932_896] {
            assert_eq!(days_from_civil(civil_from_days(days)), days, "{days}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(
            civil_from_days(days_from_civil((2024, 2, 29))),
            (2024, 2, 29)
        );
    }

    #[test]
    fn dates_and_ages() {
        assert_eq!(parse_date("2020-02-29"), Some((2020, 2, 29)));
        assert_eq!(parse_date("20200229"), Some((2020, 2, 29)));
        assert_eq!(parse_date("2019-02-29"), None);
        assert_eq!(parse_date("2019-13-01"), None);
        assert_eq!(parse_date("tomorrow"), None);
        assert_eq!(days_from_civil((1970, 1, 1)), 0);
        // Ten years and one day, over two leap days: 3653 days.
        let m = chronological_months("2010-03-01", "2020-03-01").unwrap();
        assert!((m - 3653.0 / DAYS_PER_MONTH).abs() < 1e-9, "{m}");
        assert!((m - 120.0).abs() < 0.05);
        assert_eq!(chronological_months("2015-06-01", "2015-06-01"), Ok(0.0));
        assert!(matches!(
            chronological_months("2015-06-02", "2015-06-01"),
            Err(AgeError::StudyBeforeBirth { .. })
        ));
        assert!(matches!(
            chronological_months("1990-01-01", "2015-06-01"),
            Err(AgeError::OutOfRange(_))
        ));
        assert!(matches!(
            chronological_months("2015-06-01", "2015-06-xx"),
            Err(AgeError::BadDate(_))
        ));
        assert!(checked_months(-1.0).is_err());
        assert!(checked_months(241.0).is_err());
        assert!(checked_months(f64::NAN).is_err());
        assert_eq!(checked_months(240.0), Ok(240.0));
    }
}
