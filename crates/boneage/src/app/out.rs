//! Output folders and what a failed run leaves in them.
//!
//! Every file is written whole or not at all ([`boneage_imaging::io::write_atomic`]: a temporary
//! file, then a rename), so a killed run or a full disk never leaves a half-written file. On top
//! of that:
//! - a command that fills a folder in one go (eda, evaluate, stress, phantom, split, demo)
//!   holds an [`OutFolder`]: if it fails, the files it added are removed again, and the
//!   folder too when the run created it; files that were there before stay, each either as it
//!   was or wholly replaced;
//! - `train` keeps a failed run's folder once it holds a checkpoint (for `--resume`), and
//!   removes it otherwise; `report` keeps the reports of the films it finished (HTML and PDF
//!   together), and removes the folder it made when it finished none;
//! - a command that works image by image and resumes (segment, register) keeps every image it
//!   finished, and stops the whole batch, `--keep-going` or not, when an output cannot be
//!   written ([`ItemError::Output`]): every later image would fail the same way.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// An output folder filled by one run; see the module notes. Call [`OutFolder::keep`] when
/// the run has succeeded; dropped without it, the folder is put back as it was found.
#[must_use = "call keep() once the run has succeeded"]
pub struct OutFolder {
    path: PathBuf,
    /// `None`: the folder did not exist; else the files and folders it held (relative paths).
    before: Option<BTreeSet<PathBuf>>,
    /// The outermost folder this run created (the folder itself or one of its parents).
    created: Option<PathBuf>,
    kept: bool,
}

impl OutFolder {
    /// Creates `path` (and its parents) if needed and notes what it holds now.
    pub fn create(path: &Path) -> anyhow::Result<OutFolder> {
        use anyhow::Context;
        let created = path
            .ancestors()
            .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
            .last()
            .map(Path::to_path_buf);
        let before = if path.is_dir() {
            remove_stale_temporaries(path);
            Some(entries(path).with_context(|| format!("{}: cannot list", path.display()))?)
        } else {
            None
        };
        std::fs::create_dir_all(path)
            .with_context(|| format!("{}: cannot create the output folder", path.display()))?;
        Ok(OutFolder {
            path: path.to_path_buf(),
            before,
            created,
            kept: false,
        })
    }

    /// The run succeeded: keep what it wrote.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for OutFolder {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        match &self.before {
            None => {
                let _ = std::fs::remove_dir_all(self.created.as_ref().unwrap_or(&self.path));
            }
            Some(before) => {
                let Ok(now) = entries(&self.path) else { return };
                // Deepest first, so folders are empty when their turn comes.
                for rel in now.iter().rev().filter(|r| !before.contains(*r)) {
                    let p = self.path.join(rel);
                    if p.is_dir() {
                        let _ = std::fs::remove_dir(&p);
                    } else {
                        let _ = std::fs::remove_file(&p);
                    }
                }
            }
        }
    }
}

/// Removes the temporary files that runs killed while writing left under `dir` (hidden files
/// named `.<name>.<pid>.tmp…` whose process is gone), so a folder holds only whole files
/// again. Returns how many it removed.
pub fn remove_stale_temporaries(dir: &Path) -> usize {
    let Ok(all) = entries(dir) else { return 0 };
    let mut removed = 0;
    for rel in all {
        let Some(name) = rel.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let parts: Vec<&str> = name.split('.').collect();
        let pid = parts.windows(2).find_map(|w| {
            (w[1] == "tmp" && !w[0].is_empty() && w[0].bytes().all(|b| b.is_ascii_digit()))
                .then(|| w[0])
        });
        let Some(pid) = pid.filter(|_| name.starts_with('.')) else {
            continue;
        };
        let alive = Path::new("/proc").join(pid).exists();
        let p = dir.join(&rel);
        if !alive && p.is_file() && std::fs::remove_file(&p).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Every file and folder under `dir`, relative to it.
fn entries(dir: &Path) -> std::io::Result<BTreeSet<PathBuf>> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() && !p.is_symlink() {
                todo.push(p.clone());
            }
            out.insert(p.strip_prefix(dir).unwrap_or(&p).to_path_buf());
        }
    }
    Ok(out)
}

/// Why one image of a batch failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemError {
    /// The image itself (unreadable, no hand found): `--keep-going` goes on past it.
    Input(String),
    /// Its output could not be written (a full or read-only disk): the batch stops.
    Output(String),
}

impl ItemError {
    /// Whether writing failed.
    pub fn is_output(&self) -> bool {
        matches!(self, ItemError::Output(_))
    }

    /// What a stopped batch says after the error: why it stopped.
    pub fn stop_reason(&self) -> &'static str {
        match self {
            ItemError::Input(_) => "use --keep-going to go on past bad images",
            ItemError::Output(_) => {
                "the output cannot be written: free space or make the folder writable, then run \
                 the command again"
            }
        }
    }
}

impl std::fmt::Display for ItemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ItemError::Input(s) | ItemError::Output(s) => f.write_str(s),
        }
    }
}

impl From<String> for ItemError {
    fn from(s: String) -> Self {
        ItemError::Input(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_run_leaves_the_folder_as_it_found_it() {
        let root = tempfile::tempdir().unwrap();
        // A new folder goes away entirely.
        let new = root.path().join("a/new");
        {
            let _f = OutFolder::create(&new).unwrap();
            std::fs::create_dir_all(new.join("sub")).unwrap();
            std::fs::write(new.join("sub/x.png"), b"x").unwrap();
        }
        assert!(
            !root.path().join("a").exists(),
            "the parent it made goes too"
        );
        // An existing folder keeps its files; only what the run added goes.
        let old = root.path().join("old");
        std::fs::create_dir_all(old.join("keep")).unwrap();
        std::fs::write(old.join("keep/a.csv"), b"a").unwrap();
        {
            let _f = OutFolder::create(&old).unwrap();
            std::fs::write(old.join("keep/b.csv"), b"b").unwrap();
            std::fs::create_dir_all(old.join("more")).unwrap();
            std::fs::write(old.join("more/c.csv"), b"c").unwrap();
        }
        assert_eq!(std::fs::read(old.join("keep/a.csv")).unwrap(), b"a");
        assert!(!old.join("keep/b.csv").exists() && !old.join("more").exists());
        // A kept run keeps everything.
        let f = OutFolder::create(&new).unwrap();
        std::fs::write(new.join("y.json"), b"{}").unwrap();
        f.keep();
        assert!(new.join("y.json").is_file());
    }

    #[test]
    fn temporaries_of_killed_runs_are_removed() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("images")).unwrap();
        let dead = ".1.png.999999999.tmp";
        let own = format!(".2.png.{}.tmp", std::process::id());
        for f in [
            dead.to_string(),
            own.clone(),
            "images/.3.png.999999998.tmp".into(),
            ".last.safetensors.999999997.tmp.safetensors".into(),
            "keep.tmp".into(),
            "a.999.tmp.png".into(),
        ] {
            std::fs::write(d.path().join(f), b"x").unwrap();
        }
        assert_eq!(remove_stale_temporaries(d.path()), 3);
        assert!(!d.path().join(dead).exists());
        assert!(d.path().join(&own).exists(), "a live run's file stays");
        assert!(d.path().join("keep.tmp").exists() && d.path().join("a.999.tmp.png").exists());
    }

    #[test]
    fn output_errors_stop_a_batch_and_say_why() {
        let e = ItemError::Output("x.png: cannot write: No space left on device".into());
        assert!(e.is_output() && e.stop_reason().contains("free space"));
        let i: ItemError = "bad.png: not a PNG".to_string().into();
        assert!(!i.is_output() && i.stop_reason().contains("--keep-going"));
        assert_eq!(i.to_string(), "bad.png: not a PNG");
    }
}
