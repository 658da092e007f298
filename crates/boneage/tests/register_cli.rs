//! `boneage register` with the built-in models: keypoint error and registration accuracy on
//! held-out phantoms (rotations within ±30°), an image already in the canonical frame coming
//! back nearly unchanged, the cache, region folders ready for training, the real samples, and
//! clear errors.

mod common;
use common::{boneage, s, stderr};

use boneage_imaging::{read_radiograph, GrayImage};
use boneage_phantom::dataset::{write_dataset, DatasetSpec};
use boneage_phantom::{AgeSource, PhantomConfig};
use std::path::{Path, PathBuf};

fn record(out: &Path, id: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join(format!("{id}.json"))).unwrap()).unwrap()
}

fn apply(a: &serde_json::Value, p: [f64; 2]) -> [f64; 2] {
    let m = |i: usize, j: usize| a[i][j].as_f64().unwrap();
    [
        m(0, 0) * p[0] + m(0, 1) * p[1] + m(0, 2),
        m(1, 0) * p[0] + m(1, 1) * p[1] + m(1, 2),
    ]
}

fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

#[test]
fn register_held_out_phantoms() {
    let work = tempfile::tempdir().unwrap();
    let set = work.path().join("set");
    // Unseen seed and size; phantom poses rotate by SD 10° within ±30°.
    let spec = DatasetSpec {
        n: 40,
        seed: 777,
        config: PhantomConfig::with_size(384, 480),
        ages: AgeSource::Rsna,
        bit16: false,
    };
    write_dataset(&set, &spec, &|| {}).unwrap();
    let out = work.path().join("reg");
    let o = boneage(&["register", "--out", s(&out), "--data", s(&set)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let truth = boneage_core::keypoints::read_keypoints(&set.join("keypoints.csv")).unwrap();
    let canonical = boneage_imaging::registration::CANONICAL_KEYPOINTS;
    let (mut errors, mut landed) = (Vec::new(), Vec::new());
    for (id, kp) in &truth {
        let rec = record(&out, id);
        // Hand height: the true mask's bounding-box height.
        let mask = read_radiograph(&set.join(format!("masks/{id}.png")))
            .unwrap()
            .image;
        let rows: Vec<usize> = (0..mask.height)
            .filter(|&y| (0..mask.width).any(|x| mask.get(x, y) > 0.5))
            .collect();
        let hand_h = (rows.last().unwrap() - rows[0] + 1) as f64;
        let found: Vec<[f64; 2]> = (0..3)
            .map(|k| {
                [
                    rec["keypoints"][k][0].as_f64().unwrap(),
                    rec["keypoints"][k][1].as_f64().unwrap(),
                ]
            })
            .collect();
        let e = (0..3).map(|k| dist(found[k], kp[k])).sum::<f64>() / 3.0 / hand_h;
        errors.push(e);
        // The true middle tip and capitate after registration, as a fraction of the frame
        // height (the thumb is fitted in the least-squares sense and varies by anatomy).
        for k in [0, 2] {
            landed.push(dist(apply(&rec["affine"], kp[k]), canonical[k]) / 2080.0);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    eprintln!(
        "keypoint error {:.4} of hand height (max {:.4}); true points land {:.4} of the frame \
         height from canonical (max {:.4})",
        mean(&errors),
        errors.iter().cloned().fold(0.0, f64::max),
        mean(&landed),
        landed.iter().cloned().fold(0.0, f64::max)
    );
    assert!(mean(&errors) <= 0.02, "{errors:?}");
    assert!(mean(&landed) <= 0.02, "{landed:?}");
    // Every output is there and sized; regions carry the label table for training.
    for r in ["A", "B", "C"] {
        assert!(out.join(format!("regions/{r}/labels.csv")).is_file());
    }
    let a = read_radiograph(&out.join("regions/A/1.png")).unwrap().image;
    assert_eq!((a.width, a.height), (375, 500));
    let reg = read_radiograph(&out.join("registered/1.png"))
        .unwrap()
        .image;
    assert_eq!((reg.width, reg.height), (1600, 2080));
    assert!(out.join("contact.png").is_file());

    // The cache: a second run does nothing new.
    let o = boneage(&["register", "--out", s(&out), "--data", s(&set)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        said.contains("registered 0 images") && said.contains("40 already there"),
        "{said}"
    );

    // An image already in the canonical frame comes back nearly unchanged.
    let canon_dir = work.path().join("canon");
    std::fs::create_dir_all(&canon_dir).unwrap();
    std::fs::copy(out.join("registered/1.png"), canon_dir.join("c.png")).unwrap();
    let out2 = work.path().join("reg2");
    let o = boneage(&["register", "--out", s(&out2), s(&canon_dir)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rec = record(&out2, "c");
    let (scale, rot) = (
        rec["scale"].as_f64().unwrap(),
        rec["rotation_deg"].as_f64().unwrap(),
    );
    let shift = dist(apply(&rec["affine"], [800.0, 1040.0]), [800.0, 1040.0]);
    eprintln!("canonical input: scale {scale:.4}, rotation {rot:.2}°, centre moved {shift:.1} px");
    assert!(
        (scale - 1.0).abs() < 0.03 && rot.abs() < 2.0 && shift < 40.0,
        "{rec}"
    );
    // Measured: the canonical middle tip and capitate move by ~1% of the frame height.
    for k in [0, 2] {
        let moved = dist(apply(&rec["affine"], canonical[k]), canonical[k]) / 2080.0;
        assert!(
            moved < 0.02,
            "canonical keypoint {k} moved {moved:.4} of the frame height"
        );
    }
    // The hand sits where it was: its silhouette (CLAHE runs again, so grey levels move)
    // overlaps itself (0.92 measured; a 1% shift costs thin fingers their edges).
    let again = read_radiograph(&out2.join("registered/c.png"))
        .unwrap()
        .image;
    let iou = silhouette_iou(&reg, &again);
    eprintln!("canonical input: silhouette IoU {iou:.4}");
    assert!(iou > 0.85, "silhouette IoU {iou}");
}

fn silhouette_iou(a: &GrayImage, b: &GrayImage) -> f64 {
    let (mut i, mut u) = (0usize, 0usize);
    for (x, y) in a.data.iter().zip(&b.data) {
        let (p, q) = (*x > 0.01, *y > 0.01);
        i += (p && q) as usize;
        u += (p || q) as usize;
    }
    i as f64 / u.max(1) as f64
}

#[test]
fn register_hands_turned_to_30_degrees() {
    // Phantoms posed at the edge of the range: rotation drawn with SD 60° and clamped to ±30°,
    // so most hands lie at ±30°.
    let work = tempfile::tempdir().unwrap();
    let set = work.path().join("set");
    let mut config = PhantomConfig::with_size(384, 480);
    config.pose.rotation_sd_deg = 60.0;
    config.pose.rotation_max_deg = 30.0;
    let spec = DatasetSpec {
        n: 24,
        seed: 778,
        config,
        ages: AgeSource::Rsna,
        bit16: false,
    };
    write_dataset(&set, &spec, &|| {}).unwrap();
    let out = work.path().join("reg");
    let o = boneage(&["register", "--out", s(&out), "--data", s(&set)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let truth = boneage_core::keypoints::read_keypoints(&set.join("keypoints.csv")).unwrap();
    let (mut errors, mut turns) = (Vec::new(), Vec::new());
    for (id, kp) in &truth {
        let rec = record(&out, id);
        turns.push(rec["rotation_deg"].as_f64().unwrap().abs());
        // Hand height: middle tip to capitate over its share of a hand (1470 of ~1900
        // canonical pixels from finger tip to wrist).
        let hand_h = dist(kp[0], kp[2]) / (1470.0 / 1900.0);
        let e = (0..3)
            .map(|k| {
                let f = [
                    rec["keypoints"][k][0].as_f64().unwrap(),
                    rec["keypoints"][k][1].as_f64().unwrap(),
                ];
                dist(f, kp[k])
            })
            .sum::<f64>()
            / 3.0
            / hand_h;
        errors.push(e);
    }
    let mean = errors.iter().sum::<f64>() / errors.len() as f64;
    let turned = turns.iter().filter(|t| **t > 20.0).count();
    eprintln!(
        "posed to ±30°: {turned} of {} turned back by more than 20°; keypoint error {mean:.4} of \
         hand height, max {:.4}",
        turns.len(),
        errors.iter().cloned().fold(0.0, f64::max)
    );
    assert!(turned >= 12, "{turns:?}");
    assert!(mean <= 0.02, "{errors:?}");
}

#[test]
fn register_real_samples() {
    let Some(dir) = boneage_core::real_data::for_test(
        "rsna-sample/images",
        "registration of the real sample radiographs",
    ) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("reg");
    let o = boneage(&["register", "--out", s(&out), s(&dir)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut scales = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let id = e
            .unwrap()
            .path()
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let rec = record(&out, &id);
        scales.push(rec["scale"].as_f64().unwrap());
        // Real hands are held roughly upright: the registration turns them by little.
        assert!(
            rec["rotation_deg"].as_f64().unwrap().abs() < 35.0,
            "{id}: {rec}"
        );
    }
    assert_eq!(scales.len(), 20);
    // Same-sized films of hands: the registration scales are alike.
    let (lo, hi) = scales
        .iter()
        .fold((f64::MAX, 0f64), |(a, b), &v| (a.min(v), b.max(v)));
    assert!(hi / lo < 2.0, "{scales:?}");
}

#[test]
fn register_stops_on_a_truncated_file_or_goes_on_with_keep_going() {
    let work = tempfile::tempdir().unwrap();
    let ph = work.path().join("ph");
    let o = boneage(&[
        "phantom",
        "--n",
        "1",
        "--out",
        s(&ph),
        "--seed",
        "5",
        "--size",
        "256x320",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let good = std::fs::read_dir(ph.join("images"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let imgs = work.path().join("imgs");
    std::fs::create_dir_all(&imgs).unwrap();
    std::fs::copy(&good, imgs.join("good.png")).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(imgs.join("broken.png"), &bytes[..bytes.len() / 3]).unwrap();
    let o = boneage(&["register", "--out", s(&work.path().join("r2")), s(&imgs)]);
    assert!(
        !o.status.success() && stderr(&o).contains("broken.png"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("registered so far are kept"),
        "{}",
        stderr(&o)
    );
    let o = boneage(&[
        "register",
        "--keep-going",
        "--out",
        s(&work.path().join("r3")),
        s(&imgs),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(work.path().join("r3/good.json").is_file());
    assert!(!work.path().join("r3/broken.json").exists());
}

#[test]
fn mirror_check_on_real_films_and_their_mirror_images() {
    // The validation split of the real films, as they are and flipped left-right. RSNA films
    // are left hands, but 1879 is itself a mirror image (thumb and radius on the left, looked
    // at): it must be read as mirrored, and its flipped copy not. No other film may be read
    // as mirrored; most flipped copies must be found (at the build: 84 of 88; the misses are
    // two films whose hand mask fails, 1422 and 3339, and two weak scores).
    let Some(images) =
        boneage_core::real_data::for_test("rsna-900/images", "the mirror check on real films")
    else {
        return;
    };
    let valid =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/rsna-900-split/valid.csv");
    let work = tempfile::tempdir().unwrap();
    let read = |flip: bool| -> Vec<(String, bool)> {
        let out = work.path().join(if flip { "flipped" } else { "as-is" });
        let mut args = vec!["register", "--data", s(&valid), "--data-images", s(&images)];
        if flip {
            args.push("--mirror-images");
        }
        args.extend(["--out", s(&out)]);
        let o = boneage(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let mut v: Vec<(String, bool)> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .map(|p| {
                let r: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
                (r["id"].as_str().unwrap().to_string(), r["mirrored"] == true)
            })
            .collect();
        v.sort();
        v
    };
    let as_is = read(false);
    assert_eq!(as_is.len(), 89);
    let mirrored: Vec<&str> = as_is.iter().filter(|r| r.1).map(|r| r.0.as_str()).collect();
    assert_eq!(mirrored, ["1879"], "left hands read as mirror images");
    let flipped = read(true);
    let found = flipped.iter().filter(|r| r.1 && r.0 != "1879").count();
    assert!(
        found >= 80,
        "{found} of 88 mirror images found: {flipped:?}"
    );
    assert!(flipped.iter().any(|r| r.0 == "1879" && !r.1));
}
