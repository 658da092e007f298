//! The full pipeline with a model bundle, end to end on small phantom sets: `register` →
//! `train` (three tiny region nets, one of them Inception-v3) → `bundle` → `predict` (PNG and
//! DICOM with the sex from its header, TTA, debug images) → `evaluate --model` (the results
//! table); and a bundle whose file was changed is refused by name.

mod common;
use common::{boneage, s, stderr};

use boneage_phantom::dataset::{write_dataset, DatasetSpec};
use boneage_phantom::{AgeSource, PhantomConfig};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn phantoms(dir: &Path, n: usize, seed: u64) {
    let spec = DatasetSpec {
        n,
        seed,
        config: PhantomConfig::with_size(256, 320),
        ages: AgeSource::Rsna,
        bit16: false,
    };
    write_dataset(dir, &spec, &|| {}).unwrap();
}

fn ok(args: &[&str]) -> String {
    let o = boneage(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const VGG: &str = r#"{
  "model": {"input_width": 48, "input_height": 64, "base_channels": 4, "max_channels": 16,
            "convs_per_block": [1, 1, 1], "dense": 16, "head": "HEAD"},
  "epochs": 2, "batch_size": 8, "seed": 3
}"#;

const INCEPTION: &str = r#"{
  "model": {"arch": "inception_v3", "width": 0.125, "input_width": 80, "input_height": 80,
            "sex_embedding": 8, "dense": 16, "dropout": 0.0, "head": "regression"},
  "epochs": 1, "batch_size": 8, "seed": 3
}"#;

/// Work folder with test phantoms and a bundle of three tiny members, made once.
struct World {
    dir: PathBuf,
    bundle: PathBuf,
    test: PathBuf,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    // (made once per process)
    W.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("boneage-bundle-cli-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (train, valid, test) = (dir.join("train"), dir.join("valid"), dir.join("test"));
        phantoms(&train, 64, 31);
        phantoms(&valid, 24, 32);
        phantoms(&test, 16, 33);
        for (set, reg) in [(&train, "reg-train"), (&valid, "reg-valid")] {
            ok(&[
                "register",
                "--data",
                s(set),
                "--out",
                s(&dir.join(reg)),
                "--device",
                "cpu",
            ]);
        }
        let mut members = Vec::new();
        for (region, name, cfg) in [
            ("A", "A-regression", VGG.replace("HEAD", "regression")),
            (
                "B",
                "B-classification",
                VGG.replace("HEAD", "classification"),
            ),
            ("A", "A-inception", INCEPTION.to_string()),
        ] {
            let c = dir.join(format!("{name}.json"));
            std::fs::write(&c, cfg).unwrap();
            let run = dir.join("runs").join(name);
            ok(&[
                "train",
                "--data",
                s(&dir.join(format!("reg-train/regions/{region}"))),
                "--valid",
                s(&dir.join(format!("reg-valid/regions/{region}"))),
                "--config",
                s(&c),
                "--out",
                s(&run),
                "--device",
                "cpu",
            ]);
            members.push(format!("{region}:{}", run.display()));
        }
        let bundle = dir.join("bundle");
        let mut args = vec!["bundle".to_string()];
        for m in &members {
            args.push("--member".into());
            args.push(m.clone());
        }
        for a in ["--valid", s(&dir.join("reg-valid")), "--out", s(&bundle)] {
            args.push(a.into());
        }
        args.extend(["--phantom-only".into(), "--label".into(), "test".into()]);
        let refs: Vec<&str> = args.iter().map(|a| a.as_str()).collect();
        let out = ok(&refs);
        assert!(out.contains("3 members"), "{out}");
        World { dir, bundle, test }
    })
}

/// `boneage predict --model BUNDLE --device cpu ARGS... IMAGE`, its one JSON line parsed.
fn predict(bundle: &Path, args: &[&str], image: &Path) -> serde_json::Value {
    let mut all = vec!["predict", "--model", s(bundle), "--device", "cpu"];
    all.extend_from_slice(args);
    all.push(s(image));
    serde_json::from_str(ok(&all).trim()).unwrap()
}

fn manifest(bundle: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(bundle.join("manifest.json")).unwrap()).unwrap()
}

fn bundle_holds_every_model_with_hashes_and_fitted_weights() {
    let w = world();
    let m = manifest(&w.bundle);
    assert_eq!(m["format"], "boneage-bundle/1");
    assert!(m["id"].as_str().unwrap().starts_with("test-"));
    assert_eq!(m["phantom_only"], true);
    assert!(m["notice"]
        .as_str()
        .unwrap()
        .contains("NOT for clinical use"));
    let files = m["files"].as_object().unwrap();
    // Segmentation, keypoints and three members: a config and the weights each.
    assert_eq!(files.len(), 10, "{files:?}");
    for (rel, h) in files {
        let bytes = std::fs::read(w.bundle.join(rel)).unwrap();
        assert_eq!(h["bytes"].as_u64().unwrap(), bytes.len() as u64, "{rel}");
        assert_eq!(h["sha256"].as_str().unwrap().len(), 64);
    }
    let members = m["members"].as_array().unwrap();
    let weights: Vec<f64> = members
        .iter()
        .map(|x| x["weight"].as_f64().unwrap())
        .collect();
    assert!(
        (weights.iter().sum::<f64>() - 1.0).abs() < 1e-9,
        "{weights:?}"
    );
    assert_eq!(members[2]["arch"], "inception_v3");
    assert_eq!(members[2]["input"], serde_json::json!([80, 80]));
    let ens = &m["ensemble"];
    // The weighting rule is chosen by leave-one-out and says so.
    assert!(
        ens["method"].as_str().unwrap().contains("leave-one-out"),
        "{ens}"
    );
    // A 95% interval fitted on the 24 validation films.
    let iv = &m["interval"];
    assert_eq!(iv["coverage"], 0.95, "{iv}");
    assert_eq!(iv["n_valid"], 24);
    assert!(iv["half_width_months"].as_f64().unwrap() > 0.0, "{iv}");
}

fn predict_runs_the_whole_pipeline() {
    let w = world();
    let img = w.test.join("images/1.png");
    let debug = w.dir.join("debug");
    let v = predict(
        &w.bundle,
        &["--sex", "F", "--tta", "3", "--debug-images", s(&debug)],
        &img,
    );
    let age = v["bone_age_months"].as_f64().unwrap();
    assert!((0.0..=240.0).contains(&age), "{v}");
    assert!(v["spread_months"].as_f64().unwrap() >= 0.0);
    let iv = v["interval_months"].as_array().unwrap();
    let (lo, hi) = (iv[0].as_f64().unwrap(), iv[1].as_f64().unwrap());
    assert!(lo <= age && age <= hi && hi > lo, "{v}");
    assert_eq!(v["tta"], 3);
    assert_eq!(v["members"].as_array().unwrap().len(), 3);
    assert!(v["by_region"]["A"].is_number() && v["by_region"]["B"].is_number());
    assert!(v["by_head"]["regression"].is_number() && v["by_head"]["classification"].is_number());
    assert_eq!(v["bundle"], manifest(&w.bundle)["id"]);
    assert!(v["members"][0]["tta_sd_months"].as_f64().unwrap() >= 0.0);
    for f in [
        "mask.png",
        "hand.png",
        "registered.png",
        "region_A.png",
        "region_B.png",
        "overview.png",
    ] {
        assert!(debug.join("1").join(f).is_file(), "{f}");
    }
    // The same image twice gives the same answer (TTA draws are seeded).
    let v2 = predict(&w.bundle, &["--sex", "F", "--tta", "3"], &img);
    assert_eq!(v["bone_age_months"], v2["bone_age_months"]);
    assert!(!v["warnings"].to_string().contains("colour"), "{v}");
    // A colour PNG with a tinted border: the reader's warning reaches the answer.
    let grey = image::open(&img).unwrap().to_luma8();
    let rgb = image::RgbImage::from_fn(grey.width(), grey.height(), |x, y| {
        let g = grey.get_pixel(x, y)[0];
        if x < 4 {
            image::Rgb([g, g / 2, g])
        } else {
            image::Rgb([g, g, g])
        }
    });
    let tinted = w.dir.join("tinted.png");
    rgb.save(&tinted).unwrap();
    let vt = predict(&w.bundle, &["--sex", "F"], &tinted);
    assert!(
        vt["warnings"]
            .to_string()
            .contains("colour image with unequal channels"),
        "{vt}"
    );
    // Sex matters to the nets.
    let vb = predict(&w.bundle, &["--sex", "M"], &img);
    assert_eq!(vb["sex"], "M");
}

fn predict_reads_the_sex_from_a_dicom_header() {
    let w = world();
    let img = boneage_imaging::read_radiograph(&w.test.join("images/2.png"))
        .unwrap()
        .image;
    let dcm = w.dir.join("hand.dcm");
    common::write_dicom(&img, &dcm, "F", "20100315", "20200315");
    let v = predict(&w.bundle, &[], &dcm);
    assert_eq!(v["sex"], "F");
    // Born 2010-03-15, imaged 2020-03-15: 3653 days, 120.0 months; the reading is made.
    let age = v["chronological_age_months"].as_f64().unwrap();
    assert!((age - 3653.0 / 30.4375).abs() < 0.01, "{v}");
    assert!(v["sds"].as_f64().is_some(), "{v}");
    // The flag overrides the header.
    let v60 = predict(&w.bundle, &["--chronological-age-months", "60"], &dcm);
    assert_eq!(v60["chronological_age_months"], 60.0);
    assert!(
        v60["warnings"]
            .to_string()
            .contains("chronological age 60.0 months was given; the file header says 120.0"),
        "{v60}"
    );
    // Overriding the header's sex is done, and said.
    let vm = predict(&w.bundle, &["--sex", "M"], &dcm);
    assert_eq!(vm["sex"], "M");
    assert!(
        vm["warnings"]
            .to_string()
            .contains("sex M was given; the file header says F: the given sex was used"),
        "{vm}"
    );
    assert!(!v["warnings"].to_string().contains("was given"), "{v}");
    // The same pixels as PNG, sex given: the same estimate.
    let vp = predict(&w.bundle, &["--sex", "F"], &w.test.join("images/2.png"));
    let (a, b) = (
        v["bone_age_months"].as_f64().unwrap(),
        vp["bone_age_months"].as_f64().unwrap(),
    );
    assert!((a - b).abs() < 3.0, "DICOM {a} vs PNG {b}");
}

fn predict_reads_the_bone_age_against_the_chronological_age() {
    use boneage_core::reference::BrushTable;
    use boneage_core::Sex;
    let w = world();
    let img = w.test.join("images/3.png");
    // No age given: no reading.
    let v = predict(&w.bundle, &["--sex", "F"], &img);
    assert!(v.get("sds").is_none(), "{v}");
    let t = BrushTable::shipped();
    for (sex, flags) in [
        (
            Sex::Female,
            vec!["--sex", "F", "--chronological-age-months", "100"],
        ),
        (
            Sex::Male,
            vec![
                "--sex",
                "M",
                "--birth-date",
                "2011-05-20",
                "--study-date",
                "2019-09-20",
            ],
        ),
    ] {
        let v = predict(&w.bundle, &flags, &img);
        let ba = v["bone_age_months"].as_f64().unwrap();
        let age = v["chronological_age_months"].as_f64().unwrap();
        if sex == Sex::Female {
            assert_eq!(age, 100.0);
        } else {
            // 2011-05-20 to 2019-09-20: 3045 days.
            assert!((age - 3045.0 / 30.4375).abs() < 0.01, "{age}");
        }
        let (mean, sd) = t.at(sex, age).unwrap();
        let sds = (ba - mean) / sd;
        assert!((v["sds"].as_f64().unwrap() - sds).abs() < 0.01, "{v}");
        let reading = if sds < -2.0 {
            "delayed"
        } else if sds > 2.0 {
            "advanced"
        } else {
            "normal"
        };
        assert_eq!(v["reading"], reading, "{v}");
        assert!(
            (v["bone_age_minus_chronological_months"].as_f64().unwrap() - (ba - age)).abs() < 0.02
        );
        assert!(v["reference"].as_str().unwrap().contains("Greulich"));
    }
    // Beyond the girls' table: the difference, no SDS, and why.
    let v = predict(
        &w.bundle,
        &["--sex", "F", "--chronological-age-months", "220"],
        &img,
    );
    assert!(v["sds"].is_null(), "{v}");
    assert!(
        v["reading_unavailable"]
            .as_str()
            .unwrap()
            .contains("outside"),
        "{v}"
    );
    // Ages that are not a child's, dates the wrong way round: clear errors, nothing printed.
    for (flags, says) in [
        (vec!["--chronological-age-months", "300"], "not an age"),
        (vec!["--chronological-age-months", "-3"], "not an age"),
        (
            vec!["--birth-date", "2015-01-01", "--study-date", "2014-12-31"],
            "before the birth date",
        ),
        (
            vec!["--birth-date", "2015-02-30", "--study-date", "2016-01-01"],
            "not a date",
        ),
    ] {
        let mut args = vec!["predict", "--model", s(&w.bundle), "--sex", "F"];
        args.extend(flags.iter().copied());
        args.push(s(&img));
        let o = boneage(&args);
        assert!(!o.status.success(), "{flags:?}");
        assert!(stderr(&o).contains(says), "{flags:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
}

fn results_table_covers_regions_heads_sexes_and_stages() {
    let w = world();
    let out = w.dir.join("results");
    ok(&[
        "evaluate",
        "--model",
        s(&w.bundle),
        "--data",
        s(&w.test),
        "--out",
        s(&out),
        "--device",
        "cpu",
    ]);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(r["n"], 16);
    let rows = r["rows"].as_array().unwrap();
    let kinds: Vec<&str> = rows.iter().map(|x| x["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "single").count(), 3);
    assert_eq!(kinds.iter().filter(|k| **k == "region").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == "head").count(), 2);
    assert_eq!(kinds.last(), Some(&"ensemble"));
    let ens = rows.last().unwrap();
    assert!(ens["evaluation"]["by_sex"].as_object().unwrap().len() >= 1);
    assert!(!ens["evaluation"]["by_stage"]
        .as_object()
        .unwrap()
        .is_empty());
    let html = std::fs::read_to_string(out.join("results.html")).unwrap();
    assert!(html.contains("Results table") && html.contains("A-inception"));
    let csv = std::fs::read_to_string(out.join("predictions.csv")).unwrap();
    assert_eq!(csv.lines().count(), 17);
}

fn a_changed_bundle_file_is_refused_by_name() {
    let w = world();
    let bad = w.dir.join("bad-bundle");
    let _ = std::fs::remove_dir_all(&bad);
    copy_dir(&w.bundle, &bad);
    let f = bad.join("members/B-classification/model.safetensors");
    let mut bytes = std::fs::read(&f).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0x5a;
    std::fs::write(&f, bytes).unwrap();
    let img = w.test.join("images/1.png");
    let o = boneage(&[
        "predict",
        "--model",
        s(&bad),
        "--sex",
        "M",
        "--device",
        "cpu",
        s(&img),
    ]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("members/B-classification/model.safetensors") && e.contains("SHA-256"),
        "{e}"
    );
    assert!(o.stdout.is_empty());
    // A folder that is no bundle, and a bad --tta.
    let o = boneage(&["predict", "--model", s(&w.dir), "--sex", "M", s(&img)]);
    assert!(stderr(&o).contains("not a model bundle"), "{}", stderr(&o));
    let o = boneage(&[
        "predict",
        "--model",
        s(&w.bundle),
        "--sex",
        "M",
        "--tta",
        "0",
        s(&img),
    ]);
    assert!(!o.status.success() && stderr(&o).contains("--tta"));
    // No sex anywhere.
    let o = boneage(&[
        "predict",
        "--model",
        s(&w.bundle),
        "--device",
        "cpu",
        s(&img),
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("no sex given"),
        "{}",
        stderr(&o)
    );
}

/// A bundle edited to attack the reader: each is refused with a message naming the problem,
/// before the file in question is read.
fn a_hostile_bundle_is_refused_before_it_is_read() {
    let w = world();
    let img = w.test.join("images/1.png");
    let attempt = |name: &str, edit: &dyn Fn(&Path, &mut serde_json::Value)| -> String {
        let bad = w.dir.join(name);
        let _ = std::fs::remove_dir_all(&bad);
        copy_dir(&w.bundle, &bad);
        let mut m = manifest(&bad);
        edit(&bad, &mut m);
        std::fs::write(
            bad.join("manifest.json"),
            serde_json::to_string_pretty(&m).unwrap(),
        )
        .unwrap();
        let o = boneage(&["predict", "--model", s(&bad), "--sex", "M", s(&img)]);
        assert!(!o.status.success(), "{name}: accepted");
        assert!(o.stdout.is_empty(), "{name}: printed an answer");
        stderr(&o)
    };
    // 1e8 TTA views (12 GB once).
    let e = attempt("tta", &|_, m| m["tta"]["views"] = 100_000_000.into());
    assert!(e.contains("tta.views 100000000"), "{e}");
    // A negative weight, the weights still summing to 1.
    let e = attempt("weights", &|_, m| {
        let ms = m["members"].as_array_mut().unwrap();
        let w0 = ms[0]["weight"].as_f64().unwrap();
        ms[0]["weight"] = (-0.5).into();
        ms[1]["weight"] = (ms[1]["weight"].as_f64().unwrap() + w0 + 0.5).into();
    });
    assert!(e.contains("weight -0.5") && !e.contains("sum to 1"), "{e}");
    // A member whose net reads another size than the manifest says.
    let e = attempt("input", &|_, m| {
        m["members"][0]["input"] = serde_json::json!([40, 40])
    });
    assert!(
        e.contains("reads 40x40 in the manifest but its config says"),
        "{e}"
    );
    // A member file that is a link to an endless device.
    let e = attempt("device", &|dir, _| {
        let f = dir.join("members/B-classification/model.safetensors");
        std::fs::remove_file(&f).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &f).unwrap();
    });
    assert!(
        e.contains("members/B-classification/model.safetensors")
            && e.contains("not a regular file"),
        "{e}"
    );
    // A file entry outside the bundle, listed with a matching id.
    let e = attempt("outside", &|_, m| {
        let mut files: std::collections::BTreeMap<String, boneage_nn::bundle::FileHash> =
            serde_json::from_value(m["files"].clone()).unwrap();
        files.insert(
            "../../../../etc/passwd".into(),
            boneage_nn::bundle::FileHash {
                bytes: 10,
                sha256: "0".repeat(64),
            },
        );
        let id = m["id"].as_str().unwrap().to_string();
        let label = &id[..id.rfind('-').unwrap()];
        m["id"] = boneage_nn::bundle::Manifest::make_id(label, &files).into();
        m["files"] = serde_json::to_value(&files).unwrap();
    });
    assert!(
        e.contains("etc/passwd") && e.contains("inside the bundle folder") && !e.contains("root:"),
        "{e}"
    );
}

/// One test: the world (phantoms, registration, three trained nets, the bundle) is made once and
/// each part reads it; the test runner gives every test its own process.
#[test]
fn bundle_pipeline_end_to_end() {
    bundle_holds_every_model_with_hashes_and_fitted_weights();
    predict_runs_the_whole_pipeline();
    predict_reads_the_sex_from_a_dicom_header();
    predict_reads_the_bone_age_against_the_chronological_age();
    results_table_covers_regions_heads_sexes_and_stages();
    a_changed_bundle_file_is_refused_by_name();
    a_hostile_bundle_is_refused_before_it_is_read();
    let _ = std::fs::remove_dir_all(&world().dir);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}
