//! Dataset tables: the three RSNA label formats, the project's phantom labels and a plain
//! manifest, with image path resolution.
//!
//! | format | header | notes |
//! |---|---|---|
//! | [`TableFormat::RsnaTrain`] | `id,boneage,male` | Kaggle's `boneage-training-dataset.csv` |
//! | [`TableFormat::RsnaValidation`] | `id,male,boneage` | the same columns in another order |
//! | [`TableFormat::RsnaTest`] | `image_ID,dir,patient_ID,sex,bone_age` | sex `M`/`F`, decimal ages |
//! | [`TableFormat::Phantom`] | `id,boneage,male,chronological_age` | written by `boneage phantom` |
//! | [`TableFormat::Manifest`] | `path,boneage,male` | any layout; paths relative to the table |
//!
//! Columns are found by name, so their order does not matter and extra columns are ignored.
//! Every bad row (missing value, non-numeric or negative age, unknown sex, duplicate id) and
//! every image that cannot be found is an error naming the table file and its line.

use crate::sex::Sex;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Largest bone age accepted, in months (25 years). The RSNA tables stop at 228; anything far
/// above is most likely an age in days or a typo, and is refused rather than trained on.
pub const MAX_AGE_MONTHS: f64 = 300.0;

/// Image file extensions looked for when a table gives only an id, in order of preference.
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "dcm", "dicom"];

/// Which table layout a file uses; detected from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// RSNA training table: `id,boneage,male`.
    RsnaTrain,
    /// RSNA validation table: `id,male,boneage`.
    RsnaValidation,
    /// RSNA test table: `image_ID,dir,patient_ID,sex,bone_age`.
    RsnaTest,
    /// A phantom set's table (`boneage phantom`), with chronological ages.
    Phantom,
    /// The plain manifest: `path,boneage,male` (image paths instead of ids).
    Manifest,
}

impl fmt::Display for TableFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TableFormat::RsnaTrain => "RSNA training table (id,boneage,male)",
            TableFormat::RsnaValidation => "RSNA validation table (id,male,boneage)",
            TableFormat::RsnaTest => "RSNA test table (image_ID,dir,patient_ID,sex,bone_age)",
            TableFormat::Phantom => "phantom labels (id,boneage,male,chronological_age)",
            TableFormat::Manifest => "manifest (path,boneage,male)",
        })
    }
}

/// One labelled radiograph.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Identifier, unique within its table (the RSNA id, or the manifest path).
    pub id: String,
    /// Bone age in months (reference reading).
    pub bone_age_months: f64,
    /// Sex of the patient.
    pub sex: Sex,
    /// Chronological age in months, where the table has one (phantom labels).
    pub chronological_age_months: Option<f64>,
    /// Where the table says the image is, relative to the image folder (test table's
    /// `dir/image_ID`) or to the table's own folder (manifest `path`).
    pub image_hint: Option<PathBuf>,
    /// The image file, once [`Dataset::resolve_images`] found it.
    pub image: Option<PathBuf>,
    /// 1-based line in the table, for messages.
    pub line: u64,
}

/// A label table read from disk.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The table it was read from.
    pub path: PathBuf,
    /// Which table format it was.
    pub format: TableFormat,
    /// The rows, in table order.
    pub samples: Vec<Sample>,
}

/// What went wrong reading a table or finding its images. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The table cannot be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The table.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The table is not well-formed CSV.
    #[error("{path}:{line}: {message}")]
    Csv {
        /// The table.
        path: PathBuf,
        /// Line of the problem (1-based, the header is line 1).
        line: u64,
        /// What the CSV reader said.
        message: String,
    },
    #[error(
        "{path}: header {found:?} is not a known label table; expected one of: \
         id,boneage,male | id,male,boneage | image_ID,dir,patient_ID,sex,bone_age | \
         id,boneage,male,chronological_age | path,boneage,male"
    )]
    /// The header matches none of the known table formats.
    UnknownHeader {
        /// The table.
        path: PathBuf,
        /// The header's columns.
        found: Vec<String>,
    },
    /// A cell holds a value its column cannot take.
    #[error("{path}:{line}: column {column}: {reason} (value {value:?})")]
    BadValue {
        /// The table.
        path: PathBuf,
        /// Line of the row (1-based).
        line: u64,
        /// The column.
        column: String,
        /// The cell as written.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// An id that appears twice.
    #[error("{path}:{line}: duplicate id {id:?} (first seen on line {first_line})")]
    DuplicateId {
        /// The table.
        path: PathBuf,
        /// Line of the second appearance.
        line: u64,
        /// The id.
        id: String,
        /// Line of the first appearance.
        first_line: u64,
    },
    /// The table has a header but no rows.
    #[error("{path}: the table has a header but no rows")]
    Empty {
        /// The table.
        path: PathBuf,
    },
    /// No image file for a row's id.
    #[error("{path}:{line}: image for id {id:?} not found (looked for {looked_for})")]
    MissingImage {
        /// The table.
        path: PathBuf,
        /// Line of the row.
        line: u64,
        /// The id.
        id: String,
        /// Where the image was looked for.
        looked_for: String,
    },
    /// Two image files match one id.
    #[error("{path}:{line}: image for id {id:?} is ambiguous: {first} and {second}")]
    AmbiguousImage {
        /// The table.
        path: PathBuf,
        /// Line of the row.
        line: u64,
        /// The id.
        id: String,
        /// One matching file.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// The image folder cannot be listed.
    #[error("{dir}: image folder cannot be read: {source}")]
    ImageDir {
        /// The folder.
        dir: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
}

fn header_index(header: &[String], name: &str) -> Option<usize> {
    header.iter().position(|h| h.eq_ignore_ascii_case(name))
}

fn detect_format(header: &[String]) -> Option<TableFormat> {
    let has = |n: &str| header_index(header, n).is_some();
    if has("image_ID") && has("sex") && has("bone_age") {
        Some(TableFormat::RsnaTest)
    } else if has("path") && has("boneage") && has("male") {
        Some(TableFormat::Manifest)
    } else if has("id") && has("boneage") && has("male") {
        if has("chronological_age") {
            Some(TableFormat::Phantom)
        } else if header_index(header, "male") < header_index(header, "boneage") {
            Some(TableFormat::RsnaValidation)
        } else {
            Some(TableFormat::RsnaTrain)
        }
    } else {
        None
    }
}

struct RowReader<'a> {
    path: &'a Path,
    line: u64,
    record: &'a csv::StringRecord,
}

impl RowReader<'_> {
    fn field(&self, idx: usize, column: &str) -> Result<&str, DatasetError> {
        let value = self.record.get(idx).unwrap_or("").trim();
        if value.is_empty() {
            return Err(self.bad(column, value, "empty value"));
        }
        Ok(value)
    }

    fn bad(&self, column: &str, value: &str, reason: &str) -> DatasetError {
        DatasetError::BadValue {
            path: self.path.to_path_buf(),
            line: self.line,
            column: column.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        }
    }

    fn age(&self, idx: usize, column: &str) -> Result<f64, DatasetError> {
        let value = self.field(idx, column)?;
        let age: f64 = value
            .parse()
            .map_err(|_| self.bad(column, value, "not a number"))?;
        if !age.is_finite() {
            return Err(self.bad(column, value, "not a finite number"));
        }
        if age < 0.0 {
            return Err(self.bad(column, value, "negative age"));
        }
        if age > MAX_AGE_MONTHS {
            return Err(self.bad(
                column,
                value,
                &format!("age above {MAX_AGE_MONTHS} months; ages must be in months"),
            ));
        }
        Ok(age)
    }

    fn sex(&self, idx: usize, column: &str) -> Result<Sex, DatasetError> {
        let value = self.field(idx, column)?;
        value
            .parse()
            .map_err(|_| self.bad(column, value, "unknown sex (expected True/False or M/F)"))
    }
}

/// `samples` as a label table in the RSNA training format (`id,boneage,male`, sex as
/// `True`/`False`), which [`Dataset::read`] reads back to the same ids, ages and sexes.
pub fn rsna_table<'a>(samples: impl IntoIterator<Item = &'a Sample>) -> String {
    let mut t = String::from("id,boneage,male\n");
    for s in samples {
        t.push_str(&format!(
            "{},{},{}\n",
            s.id,
            s.bone_age_months,
            if s.sex.is_male() { "True" } else { "False" }
        ));
    }
    t
}

impl Dataset {
    /// Reads a label table, detecting its format from the header.
    pub fn read(path: impl AsRef<Path>) -> Result<Dataset, DatasetError> {
        let path = path.as_ref();
        let bytes = crate::limits::read_bounded(path, crate::limits::MAX_TABLE_BYTES).map_err(
            |source| DatasetError::Io {
                path: path.to_path_buf(),
                source,
            },
        )?;
        Self::parse(path, &bytes)
    }

    /// Parses table text; `path` is used for messages and to resolve manifest paths.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Dataset, DatasetError> {
        // Strip a UTF-8 byte-order mark that spreadsheet programs like to add.
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        // Line numbers are counted from the byte offset: the csv reader's own count is one
        // short on CRLF tables (RSNA's own are CRLF).
        // On CRLF tables a record's position is the '\n' that ends the line before it, so the
        // byte at the position is counted too.
        let line_at = |p: &csv::Position| {
            let at = (p.byte() as usize + 1).min(bytes.len());
            bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1
        };
        let csv_err = |e: csv::Error| {
            let line = e.position().map(line_at).unwrap_or(0);
            let message = match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => format!("row has {len} fields, the header has {expected_len}"),
                csv::ErrorKind::Utf8 { .. } => "not valid UTF-8 text".to_string(),
                _ => e.to_string(),
            };
            DatasetError::Csv {
                path: path.to_path_buf(),
                line,
                message,
            }
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(bytes);
        let header: Vec<String> = reader
            .headers()
            .map_err(csv_err)?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        let format = detect_format(&header).ok_or_else(|| DatasetError::UnknownHeader {
            path: path.to_path_buf(),
            found: header.clone(),
        })?;
        let col = |n: &str| header_index(&header, n).expect("format detection checked columns");
        let (id_col, age_col, sex_col, age_name, sex_name) = match format {
            TableFormat::RsnaTest => (
                col("image_ID"),
                col("bone_age"),
                col("sex"),
                "bone_age",
                "sex",
            ),
            TableFormat::Manifest => (col("path"), col("boneage"), col("male"), "boneage", "male"),
            _ => (col("id"), col("boneage"), col("male"), "boneage", "male"),
        };
        let chrono_col = header_index(&header, "chronological_age");
        let dir_col = header_index(&header, "dir");
        let base = path.parent().unwrap_or(Path::new("."));

        let mut samples = Vec::new();
        let mut seen: HashMap<String, u64> = HashMap::new();
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => return Err(csv_err(e)),
            }
            let line = record.position().map(line_at).unwrap_or(0);
            // A fully blank line (a trailing newline in a hand-edited file) is not a row.
            if record.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            let row = RowReader {
                path,
                line,
                record: &record,
            };
            let id_name = header[id_col].as_str();
            let raw_id = row.field(id_col, id_name)?.to_string();
            let bone_age_months = row.age(age_col, age_name)?;
            let sex = row.sex(sex_col, sex_name)?;
            let chronological_age_months = match chrono_col {
                Some(c) => Some(row.age(c, "chronological_age")?),
                None => None,
            };
            let (id, image_hint) = match format {
                TableFormat::RsnaTest => {
                    // image_ID is a file name ("4360.png"); the id is its stem.
                    let stem = Path::new(&raw_id)
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_else(|| raw_id.clone());
                    let dir = dir_col
                        .and_then(|c| record.get(c))
                        .map(str::trim)
                        .unwrap_or("");
                    let hint = if dir.is_empty() {
                        PathBuf::from(&raw_id)
                    } else {
                        Path::new(dir).join(&raw_id)
                    };
                    (stem, Some(hint))
                }
                TableFormat::Manifest => {
                    let p = PathBuf::from(&raw_id);
                    let p = if p.is_absolute() { p } else { base.join(p) };
                    (raw_id.clone(), Some(p))
                }
                _ => (raw_id.clone(), None),
            };
            if let Some(&first_line) = seen.get(&id) {
                return Err(DatasetError::DuplicateId {
                    path: path.to_path_buf(),
                    line,
                    id,
                    first_line,
                });
            }
            seen.insert(id.clone(), line);
            samples.push(Sample {
                id,
                bone_age_months,
                sex,
                chronological_age_months,
                image_hint,
                image: None,
                line,
            });
        }
        if samples.is_empty() {
            return Err(DatasetError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(Dataset {
            path: path.to_path_buf(),
            format,
            samples,
        })
    }

    /// Finds every sample's image file and stores it in [`Sample::image`].
    ///
    /// Manifest rows name their file themselves (relative to the table). For the other
    /// formats `images_dir` is searched up to three folders deep, so all of these work:
    /// `DIR/<id>.png`, the Kaggle layout
    /// `DIR/boneage-training-dataset/boneage-training-dataset/<id>.png`, the test table's
    /// `DIR/<dir>/<image_ID>`, and `.jpg`/`.dcm` files. A missing image is an error naming the
    /// table line; nothing is skipped silently.
    pub fn resolve_images(&mut self, images_dir: Option<&Path>) -> Result<(), DatasetError> {
        let index = match images_dir {
            Some(dir) => Some(ImageIndex::build(dir)?),
            None => None,
        };
        for s in &mut self.samples {
            let missing = |looked_for: String| DatasetError::MissingImage {
                path: self.path.clone(),
                line: s.line,
                id: s.id.clone(),
                looked_for,
            };
            if self.format == TableFormat::Manifest {
                let p = s.image_hint.clone().expect("manifest rows carry a path");
                if !p.is_file() {
                    return Err(missing(p.display().to_string()));
                }
                s.image = Some(p);
                continue;
            }
            let Some(index) = &index else {
                return Err(missing(
                    "an image folder; pass one (--images DIR) for this table".to_string(),
                ));
            };
            if let Some(hint) = &s.image_hint {
                let direct = index.root.join(hint);
                if direct.is_file() {
                    s.image = Some(direct);
                    continue;
                }
            }
            match index.lookup(&s.id) {
                Lookup::Found(p) => s.image = Some(p),
                Lookup::Ambiguous(a, b) => {
                    return Err(DatasetError::AmbiguousImage {
                        path: self.path.clone(),
                        line: s.line,
                        id: s.id.clone(),
                        first: a,
                        second: b,
                    })
                }
                Lookup::Missing => {
                    return Err(missing(format!(
                        "{}/**/{}.{{{}}}",
                        index.root.display(),
                        s.id,
                        IMAGE_EXTENSIONS.join(",")
                    )))
                }
            }
        }
        Ok(())
    }

    /// Fraction of samples that are boys.
    pub fn male_fraction(&self) -> f64 {
        let m = self.samples.iter().filter(|s| s.sex.is_male()).count();
        m as f64 / self.samples.len().max(1) as f64
    }

    /// Bone ages in months, in table order.
    pub fn ages(&self) -> Vec<f64> {
        self.samples.iter().map(|s| s.bone_age_months).collect()
    }
}

enum Lookup {
    Found(PathBuf),
    Ambiguous(PathBuf, PathBuf),
    Missing,
}

/// Image files under a folder, by file stem, with their depth below the folder.
struct ImageIndex {
    root: PathBuf,
    by_stem: HashMap<String, Vec<(usize, usize, PathBuf)>>,
}

impl ImageIndex {
    const MAX_DEPTH: usize = 3;

    fn build(root: &Path) -> Result<ImageIndex, DatasetError> {
        let mut by_stem: HashMap<String, Vec<(usize, usize, PathBuf)>> = HashMap::new();
        let mut stack = vec![(root.to_path_buf(), 0usize)];
        while let Some((dir, depth)) = stack.pop() {
            let entries = std::fs::read_dir(&dir).map_err(|source| DatasetError::ImageDir {
                dir: dir.clone(),
                source,
            })?;
            for entry in entries {
                let entry = entry.map_err(|source| DatasetError::ImageDir {
                    dir: dir.clone(),
                    source,
                })?;
                let p = entry.path();
                if p.is_dir() {
                    if depth < Self::MAX_DEPTH {
                        stack.push((p, depth + 1));
                    }
                    continue;
                }
                let ext = p
                    .extension()
                    .map(|e| e.to_string_lossy().to_ascii_lowercase())
                    .unwrap_or_default();
                let Some(rank) = IMAGE_EXTENSIONS.iter().position(|e| *e == ext) else {
                    continue;
                };
                if let Some(stem) = p.file_stem() {
                    by_stem
                        .entry(stem.to_string_lossy().into_owned())
                        .or_default()
                        .push((depth, rank, p));
                }
            }
        }
        for v in by_stem.values_mut() {
            v.sort();
        }
        Ok(ImageIndex {
            root: root.to_path_buf(),
            by_stem,
        })
    }

    fn lookup(&self, id: &str) -> Lookup {
        match self.by_stem.get(id).map(Vec::as_slice) {
            None | Some([]) => Lookup::Missing,
            Some([(_, _, p)]) => Lookup::Found(p.clone()),
            Some([(d0, r0, p0), (d1, r1, p1), ..]) => {
                if d0 == d1 && r0 == r1 {
                    Lookup::Ambiguous(p0.clone(), p1.clone())
                } else {
                    // The shallowest file, then the preferred extension, wins.
                    Lookup::Found(p0.clone())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
