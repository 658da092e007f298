//! Keypoint tables: `id,x1,y1,x2,y2,x3,y3` — tip of the middle finger's distal phalanx, tip of
//! the thumb's distal phalanx, centre of the capitate, in the pixels of the image `id`
//! (`x` right, `y` down). `boneage phantom` writes one as `keypoints.csv`; users can add their
//! own for real radiographs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `[middle tip, thumb tip, capitate]`, each `[x, y]` in pixels.
pub type Keypoints = [[f64; 2]; 3];

/// Why a keypoint table cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeypointError {
    /// The file cannot be read (the file, what the system said).
    #[error("{0}: cannot read: {1}")]
    Io(PathBuf, std::io::Error),
    /// A line that is not a keypoint record.
    #[error("{path}:{line}: {msg}")]
    Bad {
        /// The file.
        path: PathBuf,
        /// Line of the problem (1-based).
        line: usize,
        /// What is wrong with it.
        msg: String,
    },
}

const COLUMNS: [&str; 7] = ["id", "x1", "y1", "x2", "y2", "x3", "y3"];

/// Reads a keypoint table. Every row needs all seven columns, finite non-negative coordinates
/// and a unique id; anything else is an error naming the file and line.
pub fn read_keypoints(path: &Path) -> Result<BTreeMap<String, Keypoints>, KeypointError> {
    let bytes = crate::limits::read_bounded(path, crate::limits::MAX_TABLE_BYTES)
        .map_err(|e| KeypointError::Io(path.to_path_buf(), e))?;
    let bad = |line: usize, msg: String| KeypointError::Bad {
        path: path.to_path_buf(),
        line,
        msg,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(bytes.as_slice());
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| bad(1, e.to_string()))?
        .iter()
        .map(|h| h.to_lowercase())
        .collect();
    let idx: Vec<usize> = COLUMNS
        .iter()
        .map(|c| {
            header.iter().position(|h| h == c).ok_or_else(|| {
                bad(
                    1,
                    format!(
                        "no column {c:?} (a keypoint table has columns {})",
                        COLUMNS.join(",")
                    ),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    let mut out = BTreeMap::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| bad(line, e.to_string()))?;
        let get = |k: usize| rec.get(idx[k]).unwrap_or("");
        let id = get(0).to_string();
        if id.is_empty() {
            return Err(bad(line, "empty id".into()));
        }
        let mut v = [0f64; 6];
        for (k, slot) in v.iter_mut().enumerate() {
            let text = get(k + 1);
            let x: f64 = text.parse().map_err(|_| {
                bad(
                    line,
                    format!("{}: {text:?} is not a number", COLUMNS[k + 1]),
                )
            })?;
            if !x.is_finite() || x < 0.0 {
                return Err(bad(
                    line,
                    format!("{}: {x} is not a pixel coordinate (>= 0)", COLUMNS[k + 1]),
                ));
            }
            *slot = x;
        }
        let kp = [[v[0], v[1]], [v[2], v[3]], [v[4], v[5]]];
        if out.insert(id.clone(), kp).is_some() {
            return Err(bad(line, format!("id {id} appears twice")));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_rejects() {
        let dir = std::env::temp_dir().join(format!("kp-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("k.csv");
        std::fs::write(
            &p,
            "id,x1,y1,x2,y2,x3,y3\na,1,2,3,4,5,6\nb, 10.5,0,1,1,2,2\n",
        )
        .unwrap();
        let t = read_keypoints(&p).unwrap();
        assert_eq!(t["a"], [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
        assert_eq!(t["b"][0], [10.5, 0.0]);
        for (text, want) in [
            ("id,x1,y1\na,1,2\n", "no column \"x2\""),
            ("id,x1,y1,x2,y2,x3,y3\na,1,2,3,4,5,x\n", ":2: y3"),
            ("id,x1,y1,x2,y2,x3,y3\na,1,2,3,4,5,-6\n", "y3: -6"),
            (
                "id,x1,y1,x2,y2,x3,y3\na,1,2,3,4,5,6\na,1,2,3,4,5,6\n",
                ":3: id a appears twice",
            ),
        ] {
            std::fs::write(&p, text).unwrap();
            let e = read_keypoints(&p).unwrap_err().to_string();
            assert!(
                e.contains("k.csv") && e.contains(want),
                "{e} (wanted {want})"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
