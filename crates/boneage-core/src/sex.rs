//! The patient's sex, as the RSNA tables, DICOM headers and the command line spell it.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Sex of the patient. Bone age norms differ by sex, so every sample carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Sex {
    /// Female.
    Female,
    /// Male.
    Male,
}

impl Sex {
    /// `true` for [`Sex::Male`], the RSNA tables' `male` column.
    pub fn is_male(self) -> bool {
        self == Sex::Male
    }

    /// One letter, as DICOM's PatientSex (0010,0040) and the CLI write it.
    pub fn letter(self) -> &'static str {
        match self {
            Sex::Male => "M",
            Sex::Female => "F",
        }
    }

    /// [`Sex::Male`] for `true`, the RSNA tables' `male` column.
    pub fn from_is_male(male: bool) -> Sex {
        if male {
            Sex::Male
        } else {
            Sex::Female
        }
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sex::Male => "male",
            Sex::Female => "female",
        })
    }
}

/// Error for a sex spelling we do not recognise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown sex {0:?} (expected M/F, male/female, True/False or 1/0)")]
pub struct UnknownSex(pub String);

impl FromStr for Sex {
    type Err = UnknownSex;

    /// Accepts the spellings of the RSNA tables (`True`/`False` in the `male` column,
    /// `M`/`F` in the test table), DICOM (`M`/`F`) and people (`male`, `female`, `boy`, `girl`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "m" | "male" | "true" | "1" | "boy" => Ok(Sex::Male),
            "f" | "female" | "false" | "0" | "girl" => Ok(Sex::Female),
            _ => Err(UnknownSex(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_table_spelling() {
        for s in ["True", "M", "male", "1", " m "] {
            assert_eq!(s.parse::<Sex>().unwrap(), Sex::Male, "{s}");
        }
        for s in ["False", "F", "female", "0"] {
            assert_eq!(s.parse::<Sex>().unwrap(), Sex::Female, "{s}");
        }
        assert!("O".parse::<Sex>().is_err());
        assert!("".parse::<Sex>().is_err());
    }
}
