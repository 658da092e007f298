//! When each ossification centre appears, grows, caps and fuses, by bone age and sex.
//!
//! The schedule follows the milestones in `shared/reference/README.md` (Gray's Anatomy, Cardoso &
//! Severino, Bass; Greulich & Pyle for the order within a group), in months of bone age:
//!
//! - carpal centres (boys / girls): capitate 3 / 2, hamate 4 / 3, triquetrum 24 / 18,
//!   lunate 48 / 30, scaphoid 66 / 48, trapezium 72 / 50, trapezoid 74 / 52 (the README gives
//!   4 years for all three in girls; they are spread by 2 months to keep one order), pisiform
//!   138 / 111; the thumb's adductor sesamoid 156 / 132 (puberty);
//! - epiphyses of the distal radius 12 / 10, distal ulna 72 / 60; phalangeal and metacarpal
//!   epiphyses in the order proximal phalanges, metacarpals, middle, distal, over 14-36 months
//!   in boys and 10-24 in girls;
//! - each epiphysis widens to the width of its metaphysis, caps it, then fuses: distal
//!   phalanges first (girls 148-160, boys 180-192), then proximal, metacarpals and middle
//!   phalanges, the distal radius (girls 170-198, boys 198-222) and the distal ulna last
//!   (girls 176-204, boys 204-228). The fused physis leaves a thin line that fades over
//!   [`SCAR_FADE_MONTHS`].
//!
//! An individual's tempo shifts the carpal and epiphyseal clocks a little (the carpals are the
//! most variable); fusion varies least, by at most [`FUSION_TEMPO_MAX`].

use crate::bones::Bone;
use boneage_core::Sex;

/// Largest relative shift of an individual's fusion clock: no physis starts fusing before
/// `fuse_start * (1 - FUSION_TEMPO_MAX)` months of bone age.
pub const FUSION_TEMPO_MAX: f32 = 0.03;
/// Largest relative shift of an individual's epiphyseal (appearance, widening) clock.
pub const EPIPHYSIS_TEMPO_MAX: f32 = 0.10;
/// Largest relative shift of an individual's carpal clock.
pub const CARPAL_TEMPO_MAX: f32 = 0.15;
/// Months after complete fusion over which the physis line fades away.
pub const SCAR_FADE_MONTHS: f32 = 36.0;

/// Milestones of one epiphysis, months of bone age.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpiphysisSchedule {
    /// The ossification centre appears.
    pub appear: f32,
    /// It is as wide as its metaphysis.
    pub equal_width: f32,
    /// It caps the metaphysis (its sides curl over it).
    pub cap: f32,
    /// The physis starts to bridge.
    pub fuse_start: f32,
    /// The physis is closed.
    pub fuse_end: f32,
}

/// Which group of tubular bones an epiphysis belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Proximal,
    Metacarpal,
    Middle,
    Distal,
}

/// Order within a group (fraction of the group's appearance window), by digit 1..=5.
fn digit_offset(digit: u8) -> f32 {
    match digit {
        3 => 0.0,
        2 => 0.2,
        4 => 0.35,
        5 => 0.7,
        _ => 0.9,
    }
}

fn group_schedule(group: Group, digit: u8, sex: Sex) -> EpiphysisSchedule {
    // (appearance window lo, hi, equal width, cap, fuse start, fuse end)
    let (lo, hi, w, c, f0, f1) = match (sex, group) {
        (Sex::Female, Group::Proximal) => (10.0, 14.0, 90.0, 132.0, 154.0, 168.0),
        (Sex::Female, Group::Metacarpal) => (13.0, 18.0, 96.0, 138.0, 156.0, 172.0),
        (Sex::Female, Group::Middle) => (15.0, 21.0, 96.0, 134.0, 158.0, 172.0),
        (Sex::Female, Group::Distal) => (17.0, 24.0, 90.0, 126.0, 148.0, 160.0),
        (Sex::Male, Group::Proximal) => (14.0, 20.0, 114.0, 156.0, 186.0, 200.0),
        (Sex::Male, Group::Metacarpal) => (18.0, 26.0, 120.0, 162.0, 186.0, 202.0),
        (Sex::Male, Group::Middle) => (22.0, 30.0, 120.0, 158.0, 188.0, 204.0),
        (Sex::Male, Group::Distal) => (26.0, 36.0, 114.0, 150.0, 180.0, 192.0),
    };
    EpiphysisSchedule {
        appear: lo + (hi - lo) * digit_offset(digit),
        equal_width: w,
        cap: c,
        fuse_start: f0,
        fuse_end: f1,
    }
}

/// The epiphysis schedule of a bone for a sex; `None` for bones without an epiphysis
/// (carpals, sesamoid).
pub fn epiphysis_schedule(bone: Bone, sex: Sex) -> Option<EpiphysisSchedule> {
    let female = sex == Sex::Female;
    Some(match bone {
        Bone::Radius => {
            if female {
                EpiphysisSchedule {
                    appear: 10.0,
                    equal_width: 108.0,
                    cap: 144.0,
                    fuse_start: 170.0,
                    fuse_end: 198.0,
                }
            } else {
                EpiphysisSchedule {
                    appear: 12.0,
                    equal_width: 132.0,
                    cap: 168.0,
                    fuse_start: 198.0,
                    fuse_end: 222.0,
                }
            }
        }
        Bone::Ulna => {
            if female {
                EpiphysisSchedule {
                    appear: 60.0,
                    equal_width: 120.0,
                    cap: 156.0,
                    fuse_start: 176.0,
                    fuse_end: 204.0,
                }
            } else {
                EpiphysisSchedule {
                    appear: 72.0,
                    equal_width: 144.0,
                    cap: 180.0,
                    fuse_start: 204.0,
                    fuse_end: 228.0,
                }
            }
        }
        Bone::Metacarpal(1) => {
            let mut s = group_schedule(Group::Metacarpal, 1, sex);
            // The thumb's metacarpal epiphysis is at its base and comes a little later.
            s.appear = if female { 18.0 } else { 28.0 };
            s
        }
        Bone::Metacarpal(d) => group_schedule(Group::Metacarpal, d, sex),
        Bone::Proximal(d) => group_schedule(Group::Proximal, d, sex),
        Bone::Middle(d) => group_schedule(Group::Middle, d, sex),
        Bone::Distal(d) => group_schedule(Group::Distal, d, sex),
        _ => return None,
    })
}

/// Typical age (months of bone age) at which the bone's own ossification centre appears;
/// `None` for bones whose shaft is ossified at birth.
pub fn appearance_months(bone: Bone, sex: Sex) -> Option<f32> {
    let (boys, girls) = match bone {
        Bone::Capitate => (3.0, 2.0),
        Bone::Hamate => (4.0, 3.0),
        Bone::Triquetrum => (24.0, 18.0),
        Bone::Lunate => (48.0, 30.0),
        Bone::Scaphoid => (66.0, 48.0),
        Bone::Trapezium => (72.0, 50.0),
        Bone::Trapezoid => (74.0, 52.0),
        Bone::Pisiform => (138.0, 111.0),
        Bone::Sesamoid => (156.0, 132.0),
        _ => return None,
    };
    Some(if sex == Sex::Male { boys } else { girls })
}

/// Bone age (months) at which the carpal bones reach their adult size and shape.
pub fn carpal_mature_months(sex: Sex) -> f32 {
    match sex {
        Sex::Male => 192.0,
        Sex::Female => 168.0,
    }
}

/// An individual's maturation tempo: multipliers on the schedule's ages (1 = typical).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tempo {
    /// On the carpal centres' appearance ages.
    pub carpal: f32,
    /// On the epiphyses' appearance and growth.
    pub epiphysis: f32,
    /// On the physes' fusion.
    pub fusion: f32,
}

impl Tempo {
    /// Exactly on schedule.
    pub const TYPICAL: Tempo = Tempo {
        carpal: 1.0,
        epiphysis: 1.0,
        fusion: 1.0,
    };
}

/// State of one epiphysis at a bone age.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct EpiphysisState {
    /// The ossification centre is visible.
    pub present: bool,
    /// Width over the metaphysis width (0 before it appears; ~1.05 once capping).
    pub width: f32,
    /// Height over the height of the mature epiphysis.
    pub height: f32,
    /// Squareness of its outline, 0 (round nucleus) to 1 (mature shape).
    pub shape: f32,
    /// Capping, 0 to 1.
    pub cap: f32,
    /// Fusion of the physis, 0 (open) to 1 (closed).
    pub fusion: f32,
    /// What is left of the physis line after closure, 1 at closure fading to 0.
    pub scar: f32,
}

impl EpiphysisState {
    /// Whether the physis has closed.
    pub fn fused(&self) -> bool {
        self.fusion >= 1.0
    }
}

/// State of a round ossification centre (carpal, sesamoid) at a bone age.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CentreState {
    /// The centre is visible.
    pub present: bool,
    /// Size over the adult size, 0 to 1.
    pub size: f32,
    /// 0 (round nucleus) to 1 (adult shape with facets).
    pub shape: f32,
}

fn smooth(x: f32) -> f32 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

fn ease_out(x: f32, p: f32) -> f32 {
    1.0 - (1.0 - x.clamp(0.0, 1.0)).powf(p)
}

/// The epiphysis of `bone` at `age` months of bone age, or `None` if the bone has none.
pub fn epiphysis_state(bone: Bone, sex: Sex, age: f32, tempo: &Tempo) -> Option<EpiphysisState> {
    let s = epiphysis_schedule(bone, sex)?;
    let ae = age / tempo.epiphysis;
    let af = age / tempo.fusion;
    let present = ae >= s.appear;
    if !present {
        return Some(EpiphysisState {
            present: false,
            width: 0.0,
            height: 0.0,
            shape: 0.0,
            cap: 0.0,
            fusion: 0.0,
            scar: 0.0,
        });
    }
    let grow = ease_out((ae - s.appear) / (s.equal_width - s.appear), 2.0);
    let width = 0.25 + 0.75 * grow + 0.05 * smooth((ae - s.equal_width) / (s.cap - s.equal_width));
    let height = 0.45 + 0.55 * ease_out((ae - s.appear) / (s.cap - s.appear), 2.2);
    let shape = smooth((ae - s.appear) / (s.equal_width - s.appear));
    let cap = smooth((ae - s.equal_width) / (s.cap - s.equal_width));
    let fusion = if af <= s.fuse_start {
        0.0
    } else if af >= s.fuse_end {
        1.0
    } else {
        (af - s.fuse_start) / (s.fuse_end - s.fuse_start)
    };
    let scar = if fusion >= 1.0 {
        (1.0 - (af - s.fuse_end) / SCAR_FADE_MONTHS).clamp(0.0, 1.0)
    } else {
        0.0
    };
    Some(EpiphysisState {
        present,
        width,
        height,
        shape,
        cap,
        fusion,
        scar,
    })
}

/// The ossification centre of a carpal bone or the sesamoid at `age`, or `None` for bones
/// present at birth.
pub fn centre_state(bone: Bone, sex: Sex, age: f32, tempo: &Tempo) -> Option<CentreState> {
    let appear = appearance_months(bone, sex)?;
    let a = age / tempo.carpal;
    if a < appear {
        return Some(CentreState {
            present: false,
            size: 0.0,
            shape: 0.0,
        });
    }
    let mature = carpal_mature_months(sex).max(appear + 60.0);
    let x = (a - appear) / (mature - appear);
    Some(CentreState {
        present: true,
        size: 0.2 + 0.8 * ease_out(x, 2.2),
        shape: smooth(x * 1.2).powf(0.8),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_order_is_distal_first_ulna_last() {
        for sex in [Sex::Male, Sex::Female] {
            let f = |b| epiphysis_schedule(b, sex).unwrap().fuse_start;
            assert!(f(Bone::Distal(3)) < f(Bone::Proximal(3)));
            assert!(f(Bone::Proximal(3)) < f(Bone::Radius));
            assert!(f(Bone::Radius) < f(Bone::Ulna));
        }
    }

    #[test]
    fn girls_fuse_earlier() {
        for b in [
            Bone::Distal(3),
            Bone::Metacarpal(2),
            Bone::Radius,
            Bone::Ulna,
        ] {
            let g = epiphysis_schedule(b, Sex::Female).unwrap();
            let m = epiphysis_schedule(b, Sex::Male).unwrap();
            assert!(g.fuse_start < m.fuse_start && g.appear < m.appear, "{b:?}");
        }
    }

    #[test]
    fn states_are_monotone_in_age() {
        let t = Tempo::TYPICAL;
        let mut last = epiphysis_state(Bone::Proximal(2), Sex::Male, 0.0, &t).unwrap();
        for m in 1..=240 {
            let s = epiphysis_state(Bone::Proximal(2), Sex::Male, m as f32, &t).unwrap();
            assert!(s.width >= last.width && s.fusion >= last.fusion && s.cap >= last.cap);
            last = s;
        }
        assert!(last.fused());
    }
}
