//! The service's bounded worker pool: each worker thread owns one loaded pipeline and takes
//! jobs from one bounded queue. A full queue is the caller's 503; a job whose caller has gone
//! (timed out, disconnected) is dropped unread.

use crate::app::answer::assessment_json;
use crate::app::clinical_report::{self, Rendered};
use boneage_imaging::io::ReadError;
use boneage_pipeline::{Given, Pipeline, PipelineError};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// One radiograph to assess.
pub struct Job {
    /// What the client called the file (a label only, never a path on this machine).
    pub name: String,
    /// The radiograph's bytes (PNG, JPEG or DICOM), decoded in memory.
    pub bytes: Vec<u8>,
    /// What the client said about the patient.
    pub given: Given,
    /// Views per region; `None`: the bundle's default.
    pub tta: Option<usize>,
    /// Occlusion maps in the answer and the report.
    pub saliency: bool,
    /// Render the report (not when the service keeps none).
    pub report: bool,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<Done, JobError>>,
}

/// An assessed radiograph: the JSON answer (as `boneage predict` prints it) and its report.
pub struct Done {
    /// The answer.
    pub json: serde_json::Value,
    /// The report (HTML, PDF, pictures), when reports are kept.
    pub report: Option<Rendered>,
    /// Whether the quality gate rejected the film.
    pub rejected: bool,
}

/// Why a job gave no answer, with the HTTP status it maps to.
#[derive(Debug)]
pub struct JobError {
    /// 400 (broken input), 415 (not an image format we read), 500 (our fault).
    pub status: u16,
    /// A short machine-readable name.
    pub code: &'static str,
    /// What went wrong, naming the upload.
    pub message: String,
}

impl JobError {
    fn from_pipeline(e: PipelineError) -> JobError {
        let (status, code) = match &e {
            PipelineError::Read(ReadError::UnknownFormat { .. }) => (415, "unsupported_format"),
            PipelineError::Read(_) => (400, "unreadable_image"),
            PipelineError::InFile { error, .. } if matches!(**error, PipelineError::NoSex) => {
                return JobError {
                    status: 400,
                    code: "no_sex",
                    message: format!(
                        "{}: no sex given (form field `sex`: M or F) and none in the file header",
                        match &e {
                            PipelineError::InFile { path, .. } => path.as_str(),
                            _ => "",
                        }
                    ),
                };
            }
            PipelineError::InFile { .. } | PipelineError::NoSex | PipelineError::BadAge(_) => {
                (400, "bad_input")
            }
            PipelineError::NoRegistration => (422, "no_hand"),
        };
        JobError {
            status,
            code,
            message: e.to_string(),
        }
    }
}

/// The queue's sending side, shared by the request handlers.
pub struct Pool {
    sender: SyncSender<Job>,
    depth: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
    /// Worker threads.
    pub workers: usize,
    /// Jobs that may wait.
    pub capacity: usize,
}

/// Why a job was not queued.
pub enum Refused {
    /// Every worker is busy and the queue is full.
    Full,
    /// The workers have stopped (shutting down).
    Closed,
}

impl Pool {
    /// Starts one worker thread per pipeline; `capacity` jobs may wait beyond those running.
    pub fn start(pipelines: Vec<Pipeline>, capacity: usize) -> Pool {
        let (sender, receiver) = mpsc::sync_channel::<Job>(capacity);
        let receiver = Arc::new(Mutex::new(receiver));
        let depth = Arc::new(AtomicUsize::new(0));
        let running = Arc::new(AtomicUsize::new(0));
        let workers = pipelines.len();
        for (k, pipeline) in pipelines.into_iter().enumerate() {
            let (receiver, depth, running) = (receiver.clone(), depth.clone(), running.clone());
            std::thread::Builder::new()
                .name(format!("assess-{k}"))
                .spawn(move || work(pipeline, &receiver, &depth, &running))
                .expect("cannot start a worker thread");
        }
        Pool {
            sender,
            depth,
            running,
            workers,
            capacity,
        }
    }

    /// Queues a job, or says why not (at once: never waits for room).
    pub fn submit(&self, job: Job) -> Result<(), Refused> {
        self.depth.fetch_add(1, Ordering::SeqCst);
        match self.sender.try_send(job) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.depth.fetch_sub(1, Ordering::SeqCst);
                Err(match e {
                    TrySendError::Full(_) => Refused::Full,
                    TrySendError::Disconnected(_) => Refused::Closed,
                })
            }
        }
    }

    /// Jobs queued and not yet taken by a worker.
    pub fn depth(&self) -> usize {
        self.depth.load(Ordering::SeqCst)
    }

    /// Assessments running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }
}

fn work(
    mut pipeline: Pipeline,
    receiver: &Mutex<Receiver<Job>>,
    depth: &AtomicUsize,
    running: &AtomicUsize,
) {
    let default_tta = pipeline.tta;
    loop {
        let job = {
            let Ok(r) = receiver.lock() else { return };
            match r.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        depth.fetch_sub(1, Ordering::SeqCst);
        if job.reply.is_closed() {
            continue;
        }
        pipeline.tta = job.tta.unwrap_or(default_tta);
        running.fetch_add(1, Ordering::SeqCst);
        let answer =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| assess(&pipeline, &job)))
                .unwrap_or_else(|_| {
                    Err(JobError {
                        status: 500,
                        code: "internal",
                        message: format!("{}: the assessment failed unexpectedly", job.name),
                    })
                });
        running.fetch_sub(1, Ordering::SeqCst);
        let _ = job.reply.send(answer);
    }
}

fn assess(pipeline: &Pipeline, job: &Job) -> Result<Done, JobError> {
    let name = PathBuf::from(&job.name);
    let (r, a) = pipeline
        .assess_bytes(&name, &job.bytes, job.given)
        .map_err(JobError::from_pipeline)?;
    let saliency = if job.saliency {
        pipeline.explain(&a)
    } else {
        Vec::new()
    };
    let json = assessment_json(&job.name, &a, pipeline, &saliency);
    let report = if job.report {
        Some(
            clinical_report::render(&name, &r, &a, pipeline, job.given, &saliency).map_err(
                |e| JobError {
                    status: 500,
                    code: "report_failed",
                    message: format!("{}: cannot render the report: {e:#}", job.name),
                },
            )?,
        )
    } else {
        None
    };
    Ok(Done {
        json,
        report,
        rejected: a.prediction.is_none(),
    })
}
