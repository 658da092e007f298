#![warn(missing_docs)]
//! Synthetic left-hand PA radiographs with ground truth: one job — turn (bone age, sex, seed)
//! into an image that looks, to a bone age model, like an RSNA radiograph of that maturity,
//! plus its hand mask, the three registration keypoints and a per-bone table.
//!
//! The pipeline reads top to bottom in [`generate`]:
//!
//! 1. [`anatomy::Individual`] — build that age does not explain (size, finger ratios, bone
//!    widths, soft tissue, cortex, maturation tempo), drawn from the image's RNG;
//! 2. [`pose::Pose`] — spread, thumb, flexion, wrist tilt, rotation, scale, translation;
//! 3. [`anatomy::build`] — bones (shafts, epiphyses, carpals, sesamoid) and soft tissue in the
//!    hand frame, matured by [`maturation`];
//! 4. [`pose::place`] — into the image;
//! 5. [`render::render`] — attenuation, scatter, noise, heel effect, windowing, collimation,
//!    lead marker and labels, inversion.
//!
//! [`dataset::write_dataset`] writes an RSNA-layout set in parallel (byte-identical for a seed
//! whatever the thread count: image `i` uses its own ChaCha8 stream `(seed, i)`), and
//! [`contact::contact_sheet`] lays out phantoms from birth to 19 years for both sexes.
//!
//! Coordinates: images are row-major, `(x, y)` with `y` down, pixel `(x, y)` centred at
//! `(x, y)`; the left hand is displayed as in a PA radiograph (thumb on the right).

pub mod ages;
pub mod anatomy;
pub mod bones;
pub mod contact;
pub mod dataset;
pub mod font;
pub mod maturation;
pub mod pose;
pub mod render;
pub mod rng;
pub mod shapes;

pub use ages::{AgeSource, Subject};
pub use anatomy::{Bone, Individual};
pub use pose::{Pose, PoseConfig};
pub use render::RenderConfig;

use boneage_core::DatasetError;
use boneage_imaging::GrayImage;
use maturation::{CentreState, EpiphysisState};
use rand::Rng;
use shapes::Placed;
use std::path::PathBuf;

/// Smallest image width that still shows a hand's bones.
pub const MIN_WIDTH: usize = 64;
/// Smallest image height that still shows a hand's bones.
pub const MIN_HEIGHT: usize = 64;
/// Largest image side accepted.
pub const MAX_SIDE: usize = 8192;
/// Largest bone age accepted, months.
pub const MAX_AGE_MONTHS: f64 = 300.0;

/// What can go wrong making phantoms. Every variant says what and, where there is one, which
/// file.
#[derive(Debug, thiserror::Error)]
pub enum PhantomError {
    /// Zero images asked for.
    #[error("the number of images must be at least 1 (got 0)")]
    ZeroCount,
    #[error(
        "image size {width}x{height} is too small to draw a hand; the least is \
         {MIN_WIDTH}x{MIN_HEIGHT}"
    )]
    /// A size too small to draw a hand in.
    SizeTooSmall {
        /// Width asked for.
        width: usize,
        /// Height asked for.
        height: usize,
    },
    /// A side longer than the limit.
    #[error("image size {width}x{height} is too large; each side must be at most {MAX_SIDE}")]
    SizeTooLarge {
        /// Width asked for.
        width: usize,
        /// Height asked for.
        height: usize,
    },
    /// A size that is not `WIDTHxHEIGHT`.
    #[error("bad image size {0:?}: expected WIDTHxHEIGHT, e.g. 512x640")]
    BadSize(String),
    /// A bone age outside the ages drawn.
    #[error("bone age {0} months is not an age in 0-{MAX_AGE_MONTHS} months")]
    BadAge(f64),
    /// The ages table cannot be used.
    #[error("cannot use the ages table: {cause}")]
    Ages {
        /// What reading the table said.
        cause: DatasetError,
    },
    /// The ages table has no rows.
    #[error("{path}: the ages table has no rows")]
    EmptyAges {
        /// The table.
        path: PathBuf,
    },
    /// An output folder cannot be created.
    #[error("{path}: cannot create the folder: {source}")]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// An output file cannot be written.
    #[error("{path}: cannot write: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
}

/// Parses `WIDTHxHEIGHT` (also `WIDTHXHEIGHT`, `WIDTH,HEIGHT`) and checks the limits.
pub fn parse_size(s: &str) -> Result<(usize, usize), PhantomError> {
    let bad = || PhantomError::BadSize(s.to_string());
    let mut it = s.trim().split(['x', 'X', ',']);
    let w: usize = it
        .next()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(bad)?;
    let h: usize = it
        .next()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(bad)?;
    if it.next().is_some() {
        return Err(bad());
    }
    check_size(w, h)?;
    Ok((w, h))
}

fn check_size(width: usize, height: usize) -> Result<(), PhantomError> {
    if width < MIN_WIDTH || height < MIN_HEIGHT {
        return Err(PhantomError::SizeTooSmall { width, height });
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(PhantomError::SizeTooLarge { width, height });
    }
    Ok(())
}

/// Everything that shapes a phantom besides its subject and seed. Defaults in parentheses.
#[derive(Debug, Clone, PartialEq)]
pub struct PhantomConfig {
    /// Image width, pixels (default 512).
    pub width: usize,
    /// Image height, pixels (default 640: 4:5, the RSNA samples' 500x625 aspect).
    pub height: usize,
    /// Pose ranges (default [`PoseConfig::default`]).
    pub pose: PoseConfig,
    /// Imaging chain (default [`RenderConfig::default`]).
    pub render: RenderConfig,
    /// Draw an individual build per image (default true); false uses [`Individual::typical`].
    pub individual_variation: bool,
}

impl Default for PhantomConfig {
    fn default() -> Self {
        PhantomConfig {
            width: 512,
            height: 640,
            pose: PoseConfig::default(),
            render: RenderConfig::default(),
            individual_variation: true,
        }
    }
}

impl PhantomConfig {
    /// The default configuration at another size.
    pub fn with_size(width: usize, height: usize) -> Self {
        PhantomConfig {
            width,
            height,
            ..PhantomConfig::default()
        }
    }

    /// A typical hand in a neutral pose through a clean imaging chain (no noise, artefacts or
    /// markers): for tests and atlas-like contact sheets.
    pub fn clean(width: usize, height: usize) -> Self {
        PhantomConfig {
            width,
            height,
            pose: PoseConfig::neutral(),
            render: RenderConfig::clean(),
            individual_variation: false,
        }
    }

    /// Checks the size.
    pub fn validate(&self) -> Result<(), PhantomError> {
        check_size(self.width, self.height)
    }
}

/// One bone of a phantom: its maturity and its geometry in image pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct BoneRecord {
    /// Which bone.
    pub bone: Bone,
    /// Whether any of it is ossified and drawn (shafts always; carpals and the sesamoid once
    /// their centre has appeared).
    pub present: bool,
    /// Whether its physis has closed (bones with an epiphysis only).
    pub fused: bool,
    /// Its epiphysis, for radius, ulna, metacarpals and phalanges.
    pub epiphysis: Option<EpiphysisState>,
    /// Its ossification centre, for carpals and the sesamoid.
    pub centre: Option<CentreState>,
    /// The drawn (ossified) parts, image pixels.
    pub parts: Vec<Placed>,
    /// The whole cartilage model, ossified or not (image pixels).
    pub anlage: Vec<Placed>,
}

impl BoneRecord {
    /// Whether an image point lies in the ossified bone.
    pub fn contains(&self, p: [f32; 2]) -> bool {
        self.parts.iter().any(|s| s.contains(p))
    }

    /// Whether an image point lies in the bone's cartilage model.
    pub fn anlage_contains(&self, p: [f32; 2]) -> bool {
        self.anlage.iter().any(|s| s.contains(p))
    }

    /// Whether the epiphysis has appeared (`false` for bones without one).
    pub fn epiphysis_present(&self) -> bool {
        self.epiphysis.is_some_and(|e| e.present)
    }
}

/// A rendered phantom with its ground truth.
#[derive(Debug, Clone)]
pub struct Phantom {
    /// Bone age, sex and chronological age.
    pub subject: Subject,
    /// The radiograph, `[0, 1]`, bone bright unless `inverted`.
    pub image: GrayImage,
    /// Hand mask, 255 = hand, row-major, same size.
    pub mask: Vec<u8>,
    /// 255 where a marker plate or text label was burnt in.
    pub overlay: Vec<u8>,
    /// Tip of the middle finger's distal phalanx, tip of the thumb's distal phalanx, centre of
    /// the capitate; image pixels `(x, y)`.
    pub keypoints: [[f32; 2]; 3],
    /// Every bone, in [`Bone::all`] order.
    pub bones: Vec<BoneRecord>,
    /// Whether the image was stored inverted (bone dark).
    pub inverted: bool,
    /// Pixels per millimetre of the hand.
    pub px_per_mm: f32,
    /// The individual's build (proportions, tempo, density).
    pub individual: Individual,
    /// Where and how the hand lies on the film.
    pub pose: Pose,
}

impl Phantom {
    /// The record of one bone.
    pub fn bone(&self, bone: Bone) -> &BoneRecord {
        self.bones
            .iter()
            .find(|b| b.bone == bone)
            .expect("every bone has a record")
    }

    /// Carpal bones whose centre has appeared.
    pub fn carpals_present(&self) -> Vec<Bone> {
        Bone::CARPALS
            .into_iter()
            .filter(|&b| self.bone(b).present)
            .collect()
    }

    /// The mask as an image (hand = 1).
    pub fn mask_image(&self) -> GrayImage {
        GrayImage::from_vec(
            self.image.width,
            self.image.height,
            self.mask.iter().map(|&m| m as f32 / 255.0).collect(),
        )
    }
}

/// Renders one phantom of `subject`, drawing build, pose and imaging from `rng`.
pub fn generate<R: Rng + ?Sized>(
    subject: &Subject,
    config: &PhantomConfig,
    rng: &mut R,
) -> Result<Phantom, PhantomError> {
    config.validate()?;
    let ba = subject.bone_age_months;
    if !ba.is_finite() || !(0.0..=MAX_AGE_MONTHS).contains(&ba) {
        return Err(PhantomError::BadAge(ba));
    }
    let individual = if config.individual_variation {
        Individual::sample(rng)
    } else {
        Individual::typical()
    };
    let pose = Pose::sample(rng, &config.pose);
    let hand = anatomy::build(ba as f32, subject.sex, &individual, &pose);
    let sim = pose::place(
        &hand.outline,
        &pose,
        config.pose.margin,
        config.width,
        config.height,
    );
    let placed = hand.transform(&sim);
    let r = render::render(&placed, &config.render, rng, config.width, config.height);
    let order = Bone::all();
    let mut bones: Vec<BoneRecord> = placed
        .bones
        .into_iter()
        .map(|b| BoneRecord {
            bone: b.bone,
            present: b.present,
            fused: b.epiphysis.is_some_and(|e| e.fused()),
            epiphysis: b.epiphysis,
            centre: b.centre,
            parts: b.parts.into_iter().map(|p| p.placed).collect(),
            anlage: b.anlage,
        })
        .collect();
    bones.sort_by_key(|b| order.iter().position(|&o| o == b.bone));
    Ok(Phantom {
        subject: *subject,
        image: r.image,
        mask: r.mask,
        overlay: r.overlay,
        keypoints: placed.keypoints,
        bones,
        inverted: r.inverted,
        px_per_mm: placed.scale,
        individual,
        pose,
    })
}

/// Renders phantom `index` of a set made with `seed`: the RNG is the ChaCha8 stream
/// `(seed, index)`, so the result depends on nothing else.
pub fn generate_indexed(
    seed: u64,
    index: u64,
    subject: &Subject,
    config: &PhantomConfig,
) -> Result<Phantom, PhantomError> {
    let mut rng = rng::image_rng(seed, index);
    generate(subject, config, &mut rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use boneage_core::Sex;

    #[test]
    fn sizes_parse_and_are_checked() {
        assert_eq!(parse_size("512x640").unwrap(), (512, 640));
        assert_eq!(parse_size(" 128X160 ").unwrap(), (128, 160));
        assert!(matches!(
            parse_size("20x30"),
            Err(PhantomError::SizeTooSmall { .. })
        ));
        assert!(matches!(parse_size("512"), Err(PhantomError::BadSize(_))));
        assert!(matches!(parse_size("axb"), Err(PhantomError::BadSize(_))));
        let e = parse_size("32x40").unwrap_err().to_string();
        assert!(e.contains("too small") && e.contains("64x64"), "{e}");
    }

    #[test]
    fn bad_ages_are_refused() {
        let cfg = PhantomConfig::clean(96, 120);
        for ba in [-1.0, f64::NAN, 400.0] {
            let s = Subject {
                bone_age_months: ba,
                sex: Sex::Male,
                chronological_age_months: 10.0,
            };
            assert!(matches!(
                generate_indexed(1, 0, &s, &cfg),
                Err(PhantomError::BadAge(_))
            ));
        }
    }
}
