//! The bootstrap (classical) hand mask on the 20 real RSNA radiographs, and the automatic check
//! that positive mining filters it with: at least 18 masks accepted (19 when written), every
//! accepted one leaves the lead markers out, and the known failure (wandb_2b55…, a faint hand
//! inside a grey exposure field) is rejected rather than accepted wrong.
//!
//! `BONEAGE_LOOK=DIR cargo test -p boneage-imaging --test bootstrap_real` also writes each
//! overlay (`DIR/<id>.png`, outline white on the radiograph) to look at.

use boneage_imaging::mask::{MaskLimits, MaskScore};
use boneage_imaging::quality::{assess, QualityConfig};
use boneage_imaging::segment::bootstrap_mask;
use boneage_imaging::{io::write_png_gray8, read_radiograph};
use std::path::PathBuf;

fn samples() -> Option<Vec<PathBuf>> {
    let dir = boneage_core::real_data::for_test(
        "rsna-sample/images",
        "bootstrap masks on real radiographs",
    )?;
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    v.sort();
    Some(v)
}

#[test]
fn bootstrap_masks_on_real_radiographs() {
    let limits = MaskLimits::default();
    let look = std::env::var_os("BONEAGE_LOOK").map(PathBuf::from);
    let mut passed = 0;
    let mut lines = Vec::new();
    let mut marker_failures = Vec::new();
    let Some(samples) = samples() else { return };
    for p in samples {
        let id = p.file_stem().unwrap().to_string_lossy().to_string();
        let img = read_radiograph(&p).unwrap().image;
        let b = bootstrap_mask(&img);
        assert_eq!((b.mask.width, b.mask.height), (img.width, img.height));
        let score = MaskScore::compute(&img, &b.mask, None, &limits);
        let problems = score.problems(&limits);
        passed += problems.is_empty() as usize;
        if id.starts_with("wandb_2b55") {
            assert!(
                !problems.is_empty(),
                "{id}: the known-bad bootstrap mask was accepted"
            );
        }
        // Markers: no marker box found by the quality check may lie mostly inside the mask.
        let q = assess(&img, &QualityConfig::default());
        for bx in &q.marker_boxes {
            let (mut inside, mut n) = (0, 0);
            for y in bx[1]..=bx[3] {
                for x in bx[0]..=bx[2] {
                    n += 1;
                    inside += b.mask.data[y * img.width + x] as usize;
                }
            }
            if problems.is_empty() && inside as f64 >= 0.5 * n as f64 {
                marker_failures.push(format!("{id}: marker box {bx:?} inside the hand mask"));
            }
        }
        lines.push(format!("{id} {score:?} {problems:?}"));
        if let Some(dir) = &look {
            std::fs::create_dir_all(dir).unwrap();
            let mut over = img.clone();
            for (v, o) in over.data.iter_mut().zip(b.mask.outline()) {
                if o {
                    *v = 1.0;
                }
            }
            write_png_gray8(&dir.join(format!("{id}.png")), &over).unwrap();
        }
    }
    println!("{}", lines.join("\n"));
    assert!(marker_failures.is_empty(), "{marker_failures:?}");
    assert!(
        passed >= 18,
        "only {passed} of 20 bootstrap masks plausible:\n{}",
        lines.join("\n")
    );
}
