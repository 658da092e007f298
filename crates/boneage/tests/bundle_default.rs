//! The built-in model bundle, trained on real RSNA radiographs: the seed's results table on the
//! held-out real test split (every film from the raw radiograph through the whole pipeline) —
//! the ensemble no worse than its best single net, far below the mean predictor, and the same
//! figures its manifest states; the pipeline on phantoms; plausible predictions on the real
//! samples, which say plainly that the bundle is for research use, not clinical use; mirrored
//! hands.

mod common;
use common::{boneage, s, stderr};

use boneage_phantom::dataset::{write_dataset, DatasetSpec};
use boneage_phantom::{AgeSource, PhantomConfig};
use std::path::Path;

fn repo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn manifest() -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(repo().join("models/bundle/manifest.json")).unwrap(),
    )
    .unwrap()
}

#[test]
fn default_bundle_results_table_on_the_real_test_split() {
    let Some(images) = boneage_core::real_data::for_test(
        "rsna-900/images",
        "the built-in bundle on the real test split",
    ) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("results");
    let test = repo().join("data/rsna-900-split/test.csv");
    let o = boneage(&[
        "evaluate",
        "--data",
        s(&test),
        "--data-images",
        s(&images),
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let ens = r["ensemble_mae_months"].as_f64().unwrap();
    let best = r["best_single_mae_months"].as_f64().unwrap();
    let rows = r["rows"].as_array().unwrap();
    let base = rows.last().unwrap()["evaluation"]["baseline_mae_months"]
        .as_f64()
        .unwrap();
    eprintln!("{}", String::from_utf8_lossy(&o.stdout));
    // The quality gate turns away at most three of the 91 films (2743: the U-Net finds no
    // hand on it; 1402: two exposures on one plate, too little fine detail once registered;
    // 4248: member nets that disagree with an SD of 33 months, read 41.6 months off; the
    // manifest's figure, made from the registered split, still counts them).
    let rejected = r["n_rejected"].as_u64().unwrap();
    assert_eq!(r["n"].as_u64().unwrap() + rejected, 91);
    assert!(rejected <= 3, "{}", r["rejected"]);
    assert!(
        ens <= best,
        "ensemble {ens:.2} worse than the best single net {best:.2}"
    );
    assert!(ens <= MAX_TEST_MAE, "ensemble test MAE {ens:.2}");
    assert!(
        ens < 0.4 * base,
        "ensemble {ens:.2} vs mean predictor {base:.2}"
    );
    // The manifest states what the pipeline gives on this split (all 91 films); on the films
    // the gate reads it is no worse, and better by no more than what leaving out three films
    // read badly can explain (9.04 on 91, 8.19 on 88).
    let m = manifest();
    let stated = m["test"]["ensemble"]["mae_months"].as_f64().unwrap();
    assert!(
        ens <= stated + 0.1 && stated - ens < 1.0,
        "manifest {stated:.2} vs {ens:.2}"
    );
    assert_eq!(m["phantom_only"], false);
    // The 95% interval held on the test split when the bundle was built, and holds through
    // the whole pipeline.
    let coverage = m["test"]["interval_coverage"].as_f64().unwrap();
    assert!(coverage >= 0.9, "interval coverage {coverage}");
    let seen = r["interval_coverage"].as_f64().unwrap();
    assert!(seen >= 0.9, "interval coverage through the pipeline {seen}");
    assert_eq!(r["interval_nominal"], 0.95);
    assert!(r["notice"]
        .as_str()
        .unwrap()
        .contains("NOT for clinical use"));
}

/// What the built-in bundle reached on the held-out real test split when it was built
/// (rounded up): a rebuild that does worse fails here.
const MAX_TEST_MAE: f64 = 9.5;

#[test]
fn default_bundle_runs_on_phantoms_without_any_real_data() {
    let work = tempfile::tempdir().unwrap();
    let set = work.path().join("set");
    let spec = DatasetSpec {
        n: 24,
        seed: 4343,
        config: PhantomConfig::with_size(384, 480),
        ages: AgeSource::Rsna,
        bit16: false,
    };
    write_dataset(&set, &spec, &|| {}).unwrap();
    let out = work.path().join("results");
    let o = boneage(&["evaluate", "--data", s(&set), "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.iter().filter(|x| x["kind"] == "single").count(), 11);
    let ens = r["ensemble_mae_months"].as_f64().unwrap();
    let base = rows.last().unwrap()["evaluation"]["baseline_mae_months"]
        .as_f64()
        .unwrap();
    eprintln!("phantoms: ensemble MAE {ens:.2}, mean predictor {base:.2}");
    assert!(ens < base, "ensemble {ens:.2} vs mean predictor {base:.2}");
    assert!(r["notice"]
        .as_str()
        .unwrap()
        .contains("NOT for clinical use"));

    // predict on a broken file among good ones: stops at it, or with --keep-going answers the
    // others, gives the broken one an error line, and exits with status 1.
    let imgs = set.join("images");
    let good = [imgs.join("1.png"), imgs.join("2.png")];
    let bytes = std::fs::read(&good[1]).unwrap();
    let broken = work.path().join("broken.png");
    std::fs::write(&broken, &bytes[..bytes.len() / 3]).unwrap();
    let (g0, g1, b) = (s(&good[0]), s(&good[1]), s(&broken));
    let o = boneage(&["predict", "--sex", "F", g0, b, g1]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("broken.png"), "{}", stderr(&o));
    let debug = work.path().join("debug");
    let o = boneage(&[
        "predict",
        "--sex",
        "F",
        "--keep-going",
        "--debug-images",
        s(&debug),
        g0,
        b,
        g1,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0]["bone_age_months"].is_number() && lines[2]["bone_age_months"].is_number());
    assert_eq!(lines[1]["status"], "error");
    assert!(
        lines[1]["error"].as_str().unwrap().contains("broken.png"),
        "{lines:?}"
    );
    assert!(
        debug.join("2/overview.png").is_file(),
        "the film after the broken one"
    );
    assert!(
        stderr(&o).contains("1 of 3 films could not be assessed"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn default_bundle_on_real_radiographs() {
    let Some(dir) = boneage_core::real_data::for_test(
        "rsna-sample/images",
        "the built-in bundle on the real sample radiographs",
    ) else {
        return;
    };
    let mut imgs: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".png"))
        .collect();
    imgs.sort();
    imgs.truncate(6);
    let mut args = vec!["predict", "--sex", "F", "--tta", "4"];
    args.extend(imgs.iter().map(|s| s.as_str()));
    let o = boneage(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("NOT for clinical use"),
        "{}",
        stderr(&o)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    for v in &lines {
        let age = v["bone_age_months"].as_f64().unwrap();
        assert!((0.0..=240.0).contains(&age), "{v}");
        assert_eq!(v["members"].as_array().unwrap().len(), 11);
        assert!(v["spread_months"].as_f64().unwrap() < 60.0, "{v}");
        assert!(v["bundle"].as_str().unwrap().starts_with("rsna-regions-"));
        let iv = v["interval_months"].as_array().unwrap();
        let (lo, hi) = (iv[0].as_f64().unwrap(), iv[1].as_f64().unwrap());
        assert!(lo <= age && age <= hi && hi - lo < 80.0, "{v}");
    }
}

#[test]
fn a_mirrored_hand_is_read_as_a_left_hand() {
    // A real left hand turned over (as a right hand or a film put in backwards looks): the
    // mirror image is found, registered as a left hand, and aged as the original.
    let Some(src) = boneage_core::real_data::for_test(
        "rsna-sample/images/wandb_3e18d6ecf396506ef7eb.png",
        "a mirrored real radiograph",
    ) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let img = boneage_imaging::read_radiograph(&src).unwrap().image;
    let mut flipped = img.clone();
    for row in flipped.data.chunks_mut(img.width) {
        row.reverse();
    }
    let m = work.path().join("mirrored.png");
    boneage_imaging::io::write_png_gray8(&m, &flipped).unwrap();
    let o = boneage(&["predict", "--sex", "F", s(&src), s(&m)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v[0]["mirrored"], false);
    assert_eq!(v[1]["mirrored"], true, "{}", v[1]);
    assert!(v[1]["warnings"][0]
        .as_str()
        .unwrap()
        .contains("mirror image"));
    let (a, b) = (
        v[0]["bone_age_months"].as_f64().unwrap(),
        v[1]["bone_age_months"].as_f64().unwrap(),
    );
    assert!((a - b).abs() < 3.0, "original {a}, mirrored {b}");
    // The thumb keypoint, given in the mirrored file's pixels, is on the other side.
    let w = img.width as f64;
    let (t0, t1) = (
        v[0]["keypoints"][1][0].as_f64().unwrap(),
        v[1]["keypoints"][1][0].as_f64().unwrap(),
    );
    assert!(
        (t0 - (w - 1.0 - t1)).abs() < 0.05 * w,
        "thumb x {t0} vs mirrored {t1}"
    );
}

#[test]
fn saliency_maps_show_where_the_nets_look() {
    // Occlusion maps per region: 8x8 cells of months moved, not flat (some cells matter far
    // more than the median cell), drawn over the registered hand with --debug-images.
    let work = tempfile::tempdir().unwrap();
    let set = work.path().join("set");
    let spec = DatasetSpec {
        n: 1,
        seed: 77,
        config: PhantomConfig::with_size(384, 480),
        ages: AgeSource::Rsna,
        bit16: false,
    };
    write_dataset(&set, &spec, &|| {}).unwrap();
    let img = set.join("images/1.png");
    let dbg = work.path().join("dbg");
    let o = boneage(&[
        "predict",
        "--sex",
        "M",
        "--saliency",
        "--debug-images",
        s(&dbg),
        s(&img),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let maps = v["saliency"].as_object().unwrap();
    assert_eq!(maps.len(), 3, "{v}");
    for (region, m) in maps {
        let grid = m["grid_months"].as_array().unwrap();
        assert_eq!(grid.len(), 8);
        let mut cells: Vec<f64> = grid
            .iter()
            .flat_map(|row| row.as_array().unwrap().iter().map(|c| c.as_f64().unwrap()))
            .collect();
        assert_eq!(cells.len(), 64);
        cells.sort_by(f64::total_cmp);
        let (median, max) = (cells[32], cells[63]);
        assert_eq!(max, m["max_months"].as_f64().unwrap());
        assert!(
            max > 1.0 && max > 3.0 * median,
            "{region}: max {max}, median {median}"
        );
    }
    assert!(dbg.join("1/saliency.png").exists());
}
