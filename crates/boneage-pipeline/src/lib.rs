#![warn(missing_docs)]
//! The assessment pipeline: a left-hand radiograph and the patient's sex in, the bone age out,
//! every stage in order in one place. Every command, the benchmarks, the tests (and the
//! service and clinical report to come) call [`Pipeline::assess`]; nothing else chains the
//! stages.
//!
//! | stage | what | where |
//! |---|---|---|
//! | 1 read | PNG, JPEG or DICOM → grey image + header | [`read`] (`boneage_imaging::io`) |
//! | 2 segment | hand mask (U-Net) | [`FrontEnd::segment`] |
//! | 3 enhance | inversion undone, CLAHE, black outside the hand | [`FrontEnd::enhance`] |
//! | 4–5 keypoints, register | three keypoints, similarity into the canonical frame, mirror check | [`FrontEnd::register`] |
//! | checks | implausible mask, mirror image, pose | [`front::warnings`] |
//! | gate | not a hand, hand cut off, far too small: rejected, no bone age | [`gate::Gate`] |
//! | 6 regions | A whole hand, B carpals, C metacarpals + phalanges (+ TTA views) | [`cut_regions`] |
//! | 7 members | each age net on its region | [`ensemble::run_members`] |
//! | 8 ensemble | weighted mean, calibration line | [`ensemble::ensemble`] |
//! | 9 reading | against the chronological age: difference, SDS, delayed / normal / advanced | [`reading::read`] |
//! | explain (on request) | occlusion sensitivity of each region's nets | [`Pipeline::explain`] |
//!
//! To add a stage: give it a method here (or in [`front`] for image steps before the nets),
//! call it from [`Pipeline::assess`] in its place, and put what it finds into [`Assessment`].

pub mod ensemble;
pub mod front;
pub mod gate;
pub mod patient;
pub mod reading;
pub mod saliency;

pub use ensemble::{MemberValue, Prediction};
pub use front::{cut_regions, Analysis, FrontEnd};
pub use gate::{Gate, Verdict};
pub use patient::{Given, Patient};
pub use reading::ClinicalReading;

use boneage_core::reference::BrushTable;
use boneage_core::Sex;
use boneage_imaging::io::{Radiograph, ReadError};
use boneage_imaging::registration::Region;
use boneage_imaging::GrayImage;
use boneage_nn::bundle::{Bundle, TtaConfig};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Why a radiograph could not be assessed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The file could not be read or decoded (the error names the file).
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The keypoint net put its keypoints on one spot: there is no hand to register.
    #[error("the keypoints found coincide: no hand to register")]
    NoRegistration,
    /// No sex given and none in the file header.
    #[error("no sex given (--sex M|F) and none in the file header")]
    NoSex,
    /// The header's chronological age is not a child's (or not an age).
    #[error("the file header's patient age: {0}")]
    BadAge(#[from] boneage_core::age::AgeError),
    /// A stage failed on this file (the message says which file and what failed).
    #[error("{path}: {error}")]
    InFile {
        /// The file.
        path: String,
        /// What went wrong.
        error: Box<PipelineError>,
    },
}

impl PipelineError {
    /// This error, naming the file it happened on (read errors name it already).
    pub fn in_file(self, path: &Path) -> PipelineError {
        match self {
            e @ (PipelineError::Read(_) | PipelineError::InFile { .. }) => e,
            e => PipelineError::InFile {
                path: path.display().to_string(),
                error: Box::new(e),
            },
        }
    }
}

/// Seconds spent per part of an assessment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Reading and decoding the file (0 for an image given decoded).
    pub read: f64,
    /// Segmentation, enhancement, keypoints and registration.
    pub front: f64,
    /// Cutting the region views.
    pub regions: f64,
    /// The member nets and the ensemble.
    pub nets: f64,
}

/// Everything the pipeline found about one radiograph. A film the quality gate rejects has no
/// prediction (and no regions; no analysis when no hand was found at all).
pub struct Assessment {
    /// Who the film is of.
    pub patient: Patient,
    /// Stages 2–5: mask, hand image, registration, warnings (`None` when the gate rejected the
    /// image before them or the keypoints found no hand).
    pub analysis: Option<Analysis>,
    /// Stage 6: the region views the nets read (`[region][view]`).
    pub views: Vec<(Region, Vec<GrayImage>)>,
    /// Stages 7–8 (`None` for a rejected film).
    pub prediction: Option<Prediction>,
    /// Stage 9, when the patient's chronological age is known and the film was read.
    pub reading: Option<ClinicalReading>,
    /// The quality gate's verdict.
    pub verdict: Verdict,
    /// Seconds per part.
    pub timings: Timings,
    /// What the reader noticed about the file and where the caller overrode its header
    /// ([`Patient::input_warnings`]; empty for an image given decoded).
    pub input_warnings: Vec<String>,
}

impl Assessment {
    /// The estimated bone age in months (`None` for a rejected film).
    pub fn bone_age_months(&self) -> Option<f64> {
        self.prediction.as_ref().map(|p| p.bone_age_months)
    }
    /// `"ok"` or `"rejected"`.
    pub fn status(&self) -> &'static str {
        self.verdict.status()
    }
    /// Every warning: the front half's, the gate's doubts and the ensemble's.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = self.input_warnings.clone();
        w.extend(
            self.analysis
                .as_ref()
                .map(|a| a.warnings.clone())
                .unwrap_or_default(),
        );
        w.extend(self.verdict.notes.iter().cloned());
        if let Some(p) = &self.prediction {
            w.extend(p.warnings());
        }
        w
    }
}

/// Stage 1, read: a radiograph file (PNG, JPEG or DICOM).
pub fn read(path: &Path) -> Result<Radiograph, PipelineError> {
    Ok(boneage_imaging::read_radiograph(path)?)
}

/// A model bundle and how to run it: the whole pipeline.
pub struct Pipeline {
    /// The models: segmentation, keypoints, member nets, ensemble weights.
    pub bundle: Bundle,
    /// Views per region (1 = no test-time augmentation).
    pub tta: usize,
    /// Seed of the TTA draws.
    pub seed: u64,
    /// The reference the clinical reading uses.
    pub reference: BrushTable,
    /// The quality gate.
    pub gate: Gate,
}

impl Pipeline {
    /// The pipeline of a bundle with the bundle's own TTA setting.
    pub fn new(bundle: Bundle) -> Pipeline {
        let tta = bundle.manifest.tta.views.max(1);
        Pipeline {
            bundle,
            tta,
            seed: 0,
            reference: BrushTable::shipped(),
            gate: Gate::shipped(),
        }
    }

    /// The same pipeline with `tta` views per region.
    pub fn with_tta(mut self, tta: usize) -> Pipeline {
        self.tta = tta.max(1);
        self
    }

    /// The front half's models.
    pub fn front(&self) -> FrontEnd<'_> {
        FrontEnd {
            segmentation: &self.bundle.segmentation,
            keypoints: &self.bundle.keypoints,
            template: Some(&self.gate.template),
        }
    }

    /// The regions the bundle's members read, in A, B, C order.
    pub fn regions(&self) -> Vec<Region> {
        Region::ALL
            .into_iter()
            .filter(|r| {
                self.bundle
                    .manifest
                    .members
                    .iter()
                    .any(|m| m.region == r.name())
            })
            .collect()
    }

    /// Stage 6 for an analysed radiograph: `views` views of every region the members read.
    pub fn cut_regions(&self, a: &Analysis, views: usize) -> Vec<(Region, Vec<GrayImage>)> {
        cut_regions(
            &a.hand,
            &a.to_canonical(),
            &self.regions(),
            views,
            &self.bundle.manifest.tta,
            self.seed,
        )
    }

    /// Stages 7–8 on region views.
    pub fn estimate(&self, views: &[(Region, Vec<GrayImage>)], sex: Sex) -> Prediction {
        let n = views.first().map_or(1, |(_, v)| v.len());
        ensemble::ensemble(
            &self.bundle,
            ensemble::run_members(&self.bundle, views, sex),
            n,
        )
    }

    /// Where the nets look: each region's occlusion map ([`saliency::occlusion`]) for an
    /// assessed film; none for a rejected one.
    pub fn explain(&self, a: &Assessment) -> Vec<saliency::RegionSaliency> {
        if a.prediction.is_none() {
            return Vec::new();
        }
        saliency::occlusion(&self.bundle, &a.views, a.patient.sex)
    }

    /// Stages 2–9 on a decoded radiograph (its pixels, and what its file said about how it
    /// was stored, e.g. a JPEG's quality).
    pub fn assess(&self, r: &Radiograph, patient: Patient) -> Result<Assessment, PipelineError> {
        let staged = self.stager().stage(r, patient)?;
        Ok(self.nets(staged))
    }

    /// What stages 1–6 need.
    fn stager(&self) -> Stager<'_> {
        Stager {
            front: self.front(),
            regions: self.regions(),
            tta: &self.bundle.manifest.tta,
            views: self.tta,
            seed: self.seed,
            gate: &self.gate,
        }
    }

    /// Stages 7–9 on a radiograph taken through stages 2–6 and the gate; nothing for a film
    /// the gate rejected, before the nets or after them (members that disagree far more than
    /// on any real film, [`Gate::check_prediction`]).
    fn nets(&self, staged: Staged) -> Assessment {
        let t0 = Instant::now();
        let mut verdict = staged.verdict;
        let mut prediction =
            (!verdict.rejected).then(|| self.estimate(&staged.views, staged.patient.sex));
        if let Some(p) = &prediction {
            self.gate.check_prediction(p, &mut verdict);
            if verdict.rejected {
                prediction = None;
            }
        }
        let reading = match (staged.patient.chronological_age_months, &prediction) {
            (Some(age), Some(p)) => Some(reading::read(
                &self.reference,
                staged.patient.sex,
                age,
                p.bone_age_months,
            )),
            _ => None,
        };
        Assessment {
            reading,
            input_warnings: staged.input_warnings,
            patient: staged.patient,
            analysis: staged.analysis,
            views: staged.views,
            prediction,
            verdict,
            timings: Timings {
                nets: t0.elapsed().as_secs_f64(),
                ..staged.timings
            },
        }
    }

    /// Stages 1–9 on a radiograph file; what `given` says about the patient overrides the
    /// header. Errors name the file.
    pub fn assess_file(
        &self,
        path: &Path,
        given: Given,
    ) -> Result<(Radiograph, Assessment), PipelineError> {
        let (r, staged) = self.stager().stage_file(path, given)?;
        Ok((r, self.nets(staged)))
    }

    /// Stages 1–9 on a radiograph's bytes (an upload, a received DICOM object), the same as
    /// [`Pipeline::assess_file`] on a file holding them: `name` names the radiograph in errors
    /// and metadata and is never opened.
    pub fn assess_bytes(
        &self,
        name: &Path,
        bytes: &[u8],
        given: Given,
    ) -> Result<(Radiograph, Assessment), PipelineError> {
        let t0 = Instant::now();
        let r = boneage_imaging::io::decode_radiograph(name, bytes)?;
        let (r, staged) = self.stager().stage_read(name, r, t0, given)?;
        Ok((r, self.nets(staged)))
    }

    /// Stages 1–9 on many radiograph files, overlapped: a second thread reads, segments,
    /// registers and cuts the regions of the next film while the member nets read this one
    /// (one film at most waits between the two). `on_result` gets every file's result in the
    /// order given, as [`Pipeline::assess_file`] would return it; when it returns `false` no
    /// further file is started. Results are the same as one by one.
    ///
    /// Each file comes with what the caller says about its patient (the header fills in the
    /// rest). On a CPU the two
    /// threads share the cores: libtorch's own threads are best set to about half of them
    /// (`tch::set_num_threads`) by the caller.
    pub fn assess_files<F>(&self, files: &[(PathBuf, Given)], mut on_result: F)
    where
        F: FnMut(&Path, Result<(Radiograph, Assessment), PipelineError>) -> bool,
    {
        let stager = self.stager();
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            scope.spawn(move || {
                for (path, given) in files {
                    let staged = stager.stage_file(path, *given);
                    if tx.send((path, staged)).is_err() {
                        break;
                    }
                }
            });
            for (path, staged) in rx {
                let result = staged.map(|(r, staged)| (r, self.nets(staged)));
                if !on_result(path, result) {
                    break;
                }
            }
        });
    }
}

impl Pipeline {
    /// Stages 2–9 on many decoded radiographs, overlapped as in [`Pipeline::assess_files`]:
    /// `images` is drawn on a second thread (so whatever makes each image, e.g. a transform,
    /// runs there too) which also segments, registers and cuts the regions, while this thread
    /// runs the nets. `on_result` gets every result in order; `false` stops.
    pub fn assess_images<I, F>(&self, images: I, mut on_result: F)
    where
        I: Iterator<Item = (Radiograph, Patient)> + Send,
        F: FnMut(Result<Assessment, PipelineError>) -> bool,
    {
        let stager = self.stager();
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            scope.spawn(move || {
                for (r, patient) in images {
                    if tx.send(stager.stage(&r, patient)).is_err() {
                        break;
                    }
                }
            });
            for staged in rx {
                if !on_result(staged.map(|s| self.nets(s))) {
                    break;
                }
            }
        });
    }
}

/// A radiograph taken through stages 2–6, waiting for the nets.
struct Staged {
    patient: Patient,
    input_warnings: Vec<String>,
    analysis: Option<Analysis>,
    verdict: Verdict,
    views: Vec<(Region, Vec<GrayImage>)>,
    timings: Timings,
}

/// What stages 1–6 need: the front half's models and how to cut the regions. The folder
/// pipeline ([`Pipeline::assess_files`]) moves it to its second thread.
struct Stager<'a> {
    front: FrontEnd<'a>,
    regions: Vec<Region>,
    tta: &'a TtaConfig,
    views: usize,
    seed: u64,
    gate: &'a Gate,
}

// SAFETY: `tch` does not mark tensors `Sync` (a tensor can be changed in place), so a
// `&Pipeline` cannot cross threads. A `Stager` reaches only the segmentation and keypoint
// models, and plain data; the pipeline changes no weight after loading, and those models are
// only run forward without autograd (`tch::no_grad`, batch norm in evaluation mode), which
// libtorch allows from several threads at once. While `assess_files` has the `Stager` on its
// second thread, its own thread runs only the member nets.
unsafe impl Send for Stager<'_> {}

impl Stager<'_> {
    /// Stages 2–6 and the gate: a film the gate rejects stops where it was rejected.
    fn stage(&self, r: &Radiograph, patient: Patient) -> Result<Staged, PipelineError> {
        let t0 = Instant::now();
        let img = &r.image;
        let mut verdict = self.gate.check_image(img);
        self.gate.check_source(&r.meta, &mut verdict);
        let analysis = if verdict.rejected {
            None
        } else {
            match self.front.analyse(img) {
                Ok(a) => Some(a),
                Err(PipelineError::NoRegistration) => {
                    verdict.reject("no hand found: the keypoints fall on one spot".into());
                    None
                }
                Err(e) => return Err(e),
            }
        };
        if let Some(a) = &analysis {
            self.gate.check_front(img, a, &mut verdict);
        }
        let t1 = Instant::now();
        let views = match &analysis {
            Some(a) if !verdict.rejected => cut_regions(
                &a.hand,
                &a.to_canonical(),
                &self.regions,
                self.views,
                self.tta,
                self.seed,
            ),
            _ => Vec::new(),
        };
        let t2 = Instant::now();
        Ok(Staged {
            patient,
            input_warnings: Vec::new(),
            analysis,
            verdict,
            views,
            timings: Timings {
                read: 0.0,
                front: (t1 - t0).as_secs_f64(),
                regions: (t2 - t1).as_secs_f64(),
                nets: 0.0,
            },
        })
    }

    /// Stages 1–6 on a radiograph file; errors name the file.
    fn stage_file(&self, path: &Path, given: Given) -> Result<(Radiograph, Staged), PipelineError> {
        let t0 = Instant::now();
        let r = read(path)?;
        self.stage_read(path, r, t0, given)
    }

    /// Stages 2–6 on a radiograph read since `t0`; errors name `path`.
    fn stage_read(
        &self,
        path: &Path,
        r: Radiograph,
        t0: Instant,
        given: Given,
    ) -> Result<(Radiograph, Staged), PipelineError> {
        let read_s = t0.elapsed().as_secs_f64();
        let patient = Patient::from_header(&r, given).map_err(|e| e.in_file(path))?;
        let mut staged = self.stage(&r, patient).map_err(|e| e.in_file(path))?;
        staged.timings.read = read_s;
        staged.input_warnings = Patient::input_warnings(&r, given);
        Ok((r, staged))
    }
}
