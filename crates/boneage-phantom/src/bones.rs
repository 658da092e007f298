//! The bones of the hand and wrist that the phantom draws.

use serde::Serialize;
use std::fmt;

/// A bone of the hand and wrist. Digits are numbered 1 (thumb) to 5 (little finger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Bone {
    /// Distal radius.
    Radius,
    /// Distal ulna.
    Ulna,
    /// Scaphoid (carpal).
    Scaphoid,
    /// Lunate (carpal).
    Lunate,
    /// Triquetrum (carpal).
    Triquetrum,
    /// Pisiform (carpal).
    Pisiform,
    /// Trapezium (carpal).
    Trapezium,
    /// Trapezoid (carpal).
    Trapezoid,
    /// Capitate (carpal; a registration keypoint).
    Capitate,
    /// Hamate (carpal).
    Hamate,
    /// Metacarpal of a digit, 1–5.
    Metacarpal(u8),
    /// Proximal phalanx of a digit, 1–5.
    Proximal(u8),
    /// Middle phalanx, digits 2-5 (the thumb has none).
    Middle(u8),
    /// Distal phalanx of a digit, 1–5.
    Distal(u8),
    /// The thumb's (adductor) sesamoid at its metacarpophalangeal joint.
    Sesamoid,
}

impl Bone {
    /// The eight carpal bones, proximal row (radial to ulnar) then distal row.
    pub const CARPALS: [Bone; 8] = [
        Bone::Scaphoid,
        Bone::Lunate,
        Bone::Triquetrum,
        Bone::Pisiform,
        Bone::Trapezium,
        Bone::Trapezoid,
        Bone::Capitate,
        Bone::Hamate,
    ];

    /// All 30 bones the phantom draws.
    pub fn all() -> Vec<Bone> {
        let mut v = vec![Bone::Radius, Bone::Ulna];
        v.extend(Bone::CARPALS);
        for d in 1..=5 {
            v.push(Bone::Metacarpal(d));
        }
        for d in 1..=5 {
            v.push(Bone::Proximal(d));
        }
        for d in 2..=5 {
            v.push(Bone::Middle(d));
        }
        for d in 1..=5 {
            v.push(Bone::Distal(d));
        }
        v.push(Bone::Sesamoid);
        v
    }

    /// Whether it is one of the eight carpal bones.
    pub fn is_carpal(self) -> bool {
        Bone::CARPALS.contains(&self)
    }

    /// Snake-case name, e.g. `metacarpal_3`, `distal_phalanx_1`.
    pub fn name(self) -> String {
        match self {
            Bone::Metacarpal(d) => format!("metacarpal_{d}"),
            Bone::Proximal(d) => format!("proximal_phalanx_{d}"),
            Bone::Middle(d) => format!("middle_phalanx_{d}"),
            Bone::Distal(d) => format!("distal_phalanx_{d}"),
            other => format!("{other:?}").to_ascii_lowercase(),
        }
    }
}

impl fmt::Display for Bone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}
