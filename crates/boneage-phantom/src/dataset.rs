//! Writing a phantom set in the RSNA layout:
//!
//! ```text
//! OUT/labels.csv      id,boneage,male,chronological_age   (male True/False, months)
//! OUT/keypoints.csv   id,x1,y1,x2,y2,x3,y3                (px: middle tip, thumb tip, capitate)
//! OUT/images/<id>.png 8-bit (or 16-bit) grey radiograph
//! OUT/masks/<id>.png  8-bit hand mask, hand = 255
//! OUT/phantom.json    how the set was made (seed, size, ages, count)
//! ```
//!
//! Images are made in parallel (rayon) and written atomically as they are done; the tables are
//! written atomically at the end. Image `i` (id `i + 1`) depends only on `(seed, i)` and the
//! configuration, so a set is byte-identical whatever the thread count.

use crate::ages::{AgeSource, Subject};
use crate::{generate, rng, PhantomConfig, PhantomError};
use boneage_core::reference::BrushTable;
use boneage_imaging::io::{encode_png_gray16, encode_png_gray8, write_atomic};
use rayon::prelude::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};

/// What to make.
#[derive(Debug, Clone)]
pub struct DatasetSpec {
    /// Number of images (at least 1).
    pub n: usize,
    /// Seed of the whole set.
    pub seed: u64,
    /// Image size and rendering settings.
    pub config: PhantomConfig,
    /// Where the ages and sexes come from.
    pub ages: AgeSource,
    /// Write 16-bit PNG radiographs instead of 8-bit.
    pub bit16: bool,
}

/// One written image's labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Image id (the file stem).
    pub id: String,
    /// Bone age, sex and chronological age.
    pub subject: Subject,
    /// Middle finger tip, thumb tip, capitate centre; image pixels `(x, y)`.
    pub keypoints: [[f32; 2]; 3],
    /// Whether the image was stored inverted (bone dark).
    pub inverted: bool,
}

/// The encoded files of one phantom.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// Its labels.
    pub record: Record,
    /// PNG bytes of the radiograph.
    pub image_png: Vec<u8>,
    /// PNG bytes of the mask.
    pub mask_png: Vec<u8>,
}

/// Makes and encodes image `index` of a set (no files written).
pub fn make_one(
    spec: &DatasetSpec,
    index: usize,
    brush: &BrushTable,
) -> Result<Encoded, PhantomError> {
    let mut rng = rng::image_rng(spec.seed, index as u64);
    let subject = spec.ages.subject(index, &mut rng, brush);
    let ph = generate(&subject, &spec.config, &mut rng)?;
    let (w, h) = (ph.image.width, ph.image.height);
    let image_png = if spec.bit16 {
        encode_png_gray16(w, h, &ph.image.to_u16())
    } else {
        encode_png_gray8(w, h, &ph.image.to_u8())
    };
    let mask_png = encode_png_gray8(w, h, &ph.mask);
    Ok(Encoded {
        record: Record {
            id: (index + 1).to_string(),
            subject,
            keypoints: ph.keypoints,
            inverted: ph.inverted,
        },
        image_png,
        mask_png,
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), PhantomError> {
    write_atomic(path, bytes).map_err(|source| PhantomError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn create_dir(path: &Path) -> Result<(), PhantomError> {
    std::fs::create_dir_all(path).map_err(|source| PhantomError::CreateDir {
        path: path.to_path_buf(),
        source,
    })
}

/// Checks a spec before any work.
pub fn validate(spec: &DatasetSpec) -> Result<(), PhantomError> {
    if spec.n == 0 {
        return Err(PhantomError::ZeroCount);
    }
    spec.config.validate()
}

/// Threads that write (and fsync) files while the rayon workers render: writing is I/O-bound,
/// rendering CPU-bound.
const WRITERS: usize = 4;

/// A file for the writer threads; `done` marks an image's last file (for the progress count).
struct Job {
    path: PathBuf,
    bytes: Vec<u8>,
    done: bool,
}

/// Writes the set into `out` (created if needed) and returns its records in id order.
/// Images are rendered on the current rayon pool and written by [`WRITERS`] I/O threads;
/// `progress` is called once per written image, from those threads.
pub fn write_dataset(
    out: &Path,
    spec: &DatasetSpec,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<Record>, PhantomError> {
    validate(spec)?;
    let images = out.join("images");
    let masks = out.join("masks");
    create_dir(&images)?;
    create_dir(&masks)?;
    let brush = BrushTable::shipped();
    let write_error: Mutex<Option<PhantomError>> = Mutex::new(None);
    let failed = AtomicBool::new(false);
    let (tx, rx) = mpsc::sync_channel::<Job>(4 * WRITERS);
    let rx = Mutex::new(rx);
    let rendered = std::thread::scope(|scope| {
        for _ in 0..WRITERS {
            scope.spawn(|| loop {
                let job = match rx.lock() {
                    Ok(r) => r.recv(),
                    Err(_) => break,
                };
                // The queue closes when every sender is gone.
                let Ok(job) = job else { break };
                if failed.load(Ordering::Relaxed) {
                    continue;
                }
                match write(&job.path, &job.bytes) {
                    Ok(()) if job.done => progress(),
                    Ok(()) => {}
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        if let Ok(mut slot) = write_error.lock() {
                            slot.get_or_insert(e);
                        }
                    }
                }
            });
        }
        // `map_with` clones the sender into each rayon job and drops them all at the end, so
        // the writers drain the queue and stop before the scope ends.
        (0..spec.n)
            .into_par_iter()
            .map_with(tx, |tx, i| {
                if failed.load(Ordering::Relaxed) {
                    return Err(None);
                }
                let e = make_one(spec, i, &brush).map_err(Some)?;
                let id = &e.record.id;
                let files = [
                    (images.join(format!("{id}.png")), e.image_png, false),
                    (masks.join(format!("{id}.png")), e.mask_png, true),
                ];
                for (path, bytes, done) in files {
                    tx.send(Job { path, bytes, done }).map_err(|_| None)?;
                }
                Ok(e.record)
            })
            .collect::<Result<Vec<Record>, Option<PhantomError>>>()
    });
    if let Some(e) = write_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let records = match rendered {
        Ok(r) => r,
        Err(Some(e)) => return Err(e),
        Err(None) => unreachable!("a render stops without its own error only after a write error"),
    };
    write(&out.join("labels.csv"), labels_csv(&records).as_bytes())?;
    write(
        &out.join("keypoints.csv"),
        keypoints_csv(&records).as_bytes(),
    )?;
    write(&out.join("phantom.json"), manifest_json(spec).as_bytes())?;
    Ok(records)
}

/// `labels.csv` text: `id,boneage,male,chronological_age`.
pub fn labels_csv(records: &[Record]) -> String {
    let mut s = String::from("id,boneage,male,chronological_age\n");
    for r in records {
        let _ = writeln!(
            s,
            "{},{:.2},{},{:.2}",
            r.id,
            r.subject.bone_age_months,
            if r.subject.sex.is_male() {
                "True"
            } else {
                "False"
            },
            r.subject.chronological_age_months
        );
    }
    s
}

/// `keypoints.csv` text: `id,x1,y1,x2,y2,x3,y3` (pixels).
pub fn keypoints_csv(records: &[Record]) -> String {
    let mut s = String::from("id,x1,y1,x2,y2,x3,y3\n");
    for r in records {
        let k = r.keypoints;
        let _ = writeln!(
            s,
            "{},{:.2},{:.2},{:.2},{:.2},{:.2},{:.2}",
            r.id, k[0][0], k[0][1], k[1][0], k[1][1], k[2][0], k[2][1]
        );
    }
    s
}

fn manifest_json(spec: &DatasetSpec) -> String {
    let ages = match &spec.ages {
        AgeSource::Rsna => "\"rsna\"".to_string(),
        AgeSource::Uniform => "\"uniform\"".to_string(),
        AgeSource::Table(rows) => format!("{{\"table_rows\": {}}}", rows.len()),
    };
    format!(
        "{{\n  \"generator\": \"boneage-phantom {}\",\n  \"n\": {},\n  \"seed\": {},\n  \
         \"width\": {},\n  \"height\": {},\n  \"bit16\": {},\n  \"ages\": {}\n}}\n",
        env!("CARGO_PKG_VERSION"),
        spec.n,
        spec.seed,
        spec.config.width,
        spec.config.height,
        spec.bit16,
        ages
    )
}

/// Paths of image `id` inside a set folder.
pub fn image_paths(out: &Path, id: &str) -> (PathBuf, PathBuf) {
    (
        out.join("images").join(format!("{id}.png")),
        out.join("masks").join(format!("{id}.png")),
    )
}
