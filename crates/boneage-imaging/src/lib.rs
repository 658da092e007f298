#![warn(missing_docs)]
//! Radiographs as pixels: reading PNG, JPEG and DICOM into one grayscale `f32` image type
//! ([`GrayImage`], [`Radiograph`]), writing PNGs atomically, and the classical image steps
//! that need no network: thresholds, connected components, per-image quality flags, affine
//! warps and intensity transforms.
//!
//! - [`clahe`]: CLAHE matching OpenCV's `createCLAHE(...).apply` on 8- and 16-bit images.
//! - [`morphology`]: dilation, erosion, opening, closing with a disc.
//! - [`mask`]: binary hand masks and the plausibility score positive mining filters with.
//! - [`segment`]: the classical (bootstrap) hand mask.
//! - [`registration`]: the similarity into the canonical frame and the regions A, B, C.
//! - [`handedness`]: a left hand or a mirror image, from the registered whole hand.
//! - [`limits`]: the limits on input every reader checks from headers before it allocates.
//!
//! Conventions: images are row-major, `(x, y)` with `y` pointing down, pixel values in
//! `[0, 1]` with bone bright (DICOM MONOCHROME2 display); MONOCHROME1 inputs are inverted on
//! reading.

pub mod clahe;
pub mod components;
pub mod gray;
pub mod hand_template;
pub mod handedness;
pub mod intensity;
pub mod io;
pub use boneage_core::limits;
pub mod mask;
pub mod morphology;
pub mod quality;
pub mod registration;
pub mod segment;
pub mod spatial;
pub mod threshold;

pub use gray::GrayImage;
pub use io::{read_radiograph, Photometric, Radiograph, RadiographMeta, ReadError, SourceFormat};
pub use mask::Mask;
