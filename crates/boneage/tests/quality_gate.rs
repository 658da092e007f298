//! The quality gate through `boneage predict` with the built-in bundle: pictures that are not
//! hand radiographs (blank, noise, a page of text-like marks, blobs, far too small), and real
//! films cut so that the hand is missing, are answered `status: "rejected"` with reasons and
//! no bone age; real hand radiographs and phantoms are read (`status: "ok"`).

mod common;
use common::{boneage, s, stderr};

use boneage_imaging::io::write_png_gray8;
use boneage_imaging::GrayImage;
use boneage_phantom::dataset::{write_dataset, DatasetSpec};
use boneage_phantom::{AgeSource, PhantomConfig};
use std::path::{Path, PathBuf};

/// `boneage predict --sex F IMAGES...`: one JSON object per image.
fn predict(images: &[PathBuf]) -> Vec<serde_json::Value> {
    let mut args = vec!["predict", "--sex", "F"];
    args.extend(images.iter().map(|p| s(p)));
    let o = boneage(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn assert_rejected(v: &serde_json::Value) {
    assert_eq!(v["status"], "rejected", "{v}");
    assert!(
        v.get("bone_age_months").is_none(),
        "a rejected film has no age: {v}"
    );
    let reasons = v["reasons"].as_array().unwrap();
    assert!(!reasons.is_empty(), "{v}");
}

/// The real sample radiographs (PNG, sorted), or `None` (the test says it was skipped, for
/// `what`) where the real data is not there.
fn sample_films(what: &str) -> Option<Vec<PathBuf>> {
    let dir = boneage_core::real_data::for_test("rsna-sample/images", what)?;
    let mut films: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    films.sort();
    Some(films)
}

/// The first `n` films, each changed by `make` into named variants, written as 8-bit PNGs
/// `<k>-<name>.png` into `dir`, in order.
fn write_variants(
    films: &[PathBuf],
    n: usize,
    dir: &Path,
    mut make: impl FnMut(GrayImage) -> Vec<(&'static str, GrayImage)>,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for (k, f) in films.iter().take(n).enumerate() {
        let img = boneage_imaging::read_radiograph(f).unwrap().image;
        for (name, variant) in make(img) {
            let p = dir.join(format!("{k}-{name}.png"));
            write_png_gray8(&p, &variant).unwrap();
            out.push(p);
        }
    }
    out
}

/// A deterministic pseudo-random stream in [0, 1).
fn noise(seed: u64) -> impl FnMut() -> f32 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 40) as f32 / (1u64 << 24) as f32
    }
}

fn non_hands(dir: &Path) -> Vec<(String, GrayImage)> {
    let (w, h) = (600, 760);
    let mut r = noise(7);
    let blank = GrayImage::new(w, h, 0.8);
    let white_noise = GrayImage::from_vec(w, h, (0..w * h).map(|_| r()).collect());
    // Blurred noise: large soft blobs over the whole picture.
    let coarse: Vec<f32> = (0..(w / 40 + 2) * (h / 40 + 2)).map(|_| r()).collect();
    let cw = w / 40 + 2;
    let smooth = GrayImage::from_vec(
        w,
        h,
        (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32 / 40.0, (i / w) as f32 / 40.0);
                let (x0, y0) = (x as usize, y as usize);
                let (fx, fy) = (x - x0 as f32, y - y0 as f32);
                let c = |a: usize, b: usize| coarse[b * cw + a];
                (c(x0, y0) * (1.0 - fx) + c(x0 + 1, y0) * fx) * (1.0 - fy)
                    + (c(x0, y0 + 1) * (1.0 - fx) + c(x0 + 1, y0 + 1) * fx) * fy
            })
            .collect(),
    );
    // A page of text-like marks: rows of short bright strokes on a dark ground.
    let mut page = GrayImage::new(w, h, 0.1);
    for line in 0..14 {
        let y0 = 40 + line * 50;
        let mut x = 30;
        while x < w - 40 {
            let len = 6 + (r() * 14.0) as usize;
            for y in y0..y0 + 22 {
                for xx in x..(x + len).min(w) {
                    if (xx + y) % 3 != 0 {
                        page.data[y * w + xx] = 0.9;
                    }
                }
            }
            x += len + 4 + (r() * 10.0) as usize;
        }
    }
    // Bright ellipses scattered over the picture.
    let mut blobs = GrayImage::new(w, h, 0.1);
    for _ in 0..9 {
        let (cx, cy, rx, ry, v) = (
            r() * w as f32,
            r() * h as f32,
            20.0 + r() * 110.0,
            20.0 + r() * 110.0,
            0.4 + r() * 0.5,
        );
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = ((x as f32 - cx) / rx, (y as f32 - cy) / ry);
                if dx * dx + dy * dy < 1.0 {
                    blobs.data[y * w + x] = v;
                }
            }
        }
    }
    let tiny = GrayImage::from_vec(60, 80, (0..60 * 80).map(|_| r()).collect());
    let set = vec![
        ("blank".to_string(), blank),
        ("noise".into(), white_noise),
        ("smooth-noise".into(), smooth),
        ("text-page".into(), page),
        ("blobs".into(), blobs),
        ("tiny".into(), tiny),
    ];
    std::fs::create_dir_all(dir).unwrap();
    set
}

#[test]
fn pictures_that_are_not_hands_are_rejected_without_an_age() {
    let work = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (name, img) in non_hands(work.path()) {
        let p = work.path().join(format!("{name}.png"));
        write_png_gray8(&p, &img).unwrap();
        paths.push(p);
    }
    let out = predict(&paths);
    assert_eq!(out.len(), paths.len());
    for v in &out {
        assert_rejected(v);
    }
    let reasons = |i: usize| out[i]["reasons"].to_string();
    assert!(reasons(0).contains("blank"), "{}", reasons(0));
    assert!(reasons(5).contains("too small"), "{}", reasons(5));
}

#[test]
fn phantom_hands_are_read() {
    let work = tempfile::tempdir().unwrap();
    let set = work.path().join("set");
    let spec = DatasetSpec {
        n: 6,
        seed: 515,
        config: PhantomConfig::with_size(384, 480),
        ages: AgeSource::Rsna,
        bit16: false,
    };
    write_dataset(&set, &spec, &|| {}).unwrap();
    let paths: Vec<PathBuf> = (1..=6)
        .map(|i| set.join(format!("images/{i}.png")))
        .collect();
    for v in predict(&paths) {
        assert_eq!(v["status"], "ok", "{v}");
        assert!(v["bone_age_months"].is_number(), "{v}");
        let scores = &v["hand_scores"];
        assert!(scores["shape"].as_f64().unwrap() > 0.6, "{v}");
    }
}

#[test]
fn real_hands_are_read_and_real_films_without_their_hand_are_rejected() {
    let Some(films) = sample_films("the quality gate on the real sample radiographs") else {
        return;
    };
    // Every real sample radiograph is read.
    for v in predict(&films) {
        assert_eq!(v["status"], "ok", "{v}");
        assert!(v["bone_age_months"].is_number(), "{v}");
    }
    // The same films cut as in the measured non-hand set (scripts/non-hand-set.py): the
    // forearm alone (bottom 28%) and the fingertips alone (top 30%): the hand is missing.
    let work = tempfile::tempdir().unwrap();
    let cuts = write_variants(&films, 4, work.path(), |img| {
        let (w, h) = (img.width, img.height);
        [("forearm", h * 72 / 100, h), ("fingertips", 0, h * 3 / 10)]
            .map(|(name, y0, y1)| {
                let rows = img.data[y0 * w..y1 * w].to_vec();
                (name, GrayImage::from_vec(w, y1 - y0, rows))
            })
            .into()
    });
    for v in predict(&cuts) {
        assert_rejected(&v);
        assert!(!v["reasons"].to_string().contains("far too small"), "{v}");
    }
}

#[test]
fn real_films_cut_down_to_the_hand_are_rejected() {
    let Some(films) =
        sample_films("the cut-off check of the quality gate on the real sample radiographs")
    else {
        return;
    };
    // Each sample film with a fifth of its width and height cut from every side (the stress
    // test's strongest crop): the hand now fills the film and meets its edges. The gate says
    // so, rather than reading what is left of the fingers and the wrist.
    let work = tempfile::tempdir().unwrap();
    let cut = write_variants(&films, films.len(), work.path(), |img| {
        let (w, h) = (img.width, img.height);
        let (dx, dy) = (w / 5, h / 5);
        let mut rows = Vec::new();
        for y in dy..h - dy {
            rows.extend_from_slice(&img.data[y * w + dx..y * w + w - dx]);
        }
        vec![("cut", GrayImage::from_vec(w - 2 * dx, h - 2 * dy, rows))]
    });
    let read = predict(&cut);
    let fills = read
        .iter()
        .filter(|v| v["reasons"].to_string().contains("the hand fills the film"))
        .count();
    assert!(
        fills >= 15,
        "{fills} of {} said the hand fills the film",
        read.len()
    );
    for v in read.iter().filter(|v| v["status"] == "rejected") {
        assert_rejected(v);
    }
}

#[test]
fn blurred_or_very_noisy_real_films_are_rejected() {
    let Some(films) = sample_films(
        "the blur and noise checks of the quality gate on the real sample radiographs",
    ) else {
        return;
    };
    // Blurred as a moved hand or a soft detector blurs, by 1% of the film's longer side (the
    // stress test's strongest blur, which moved the age by 22 months before this check).
    let work = tempfile::tempdir().unwrap();
    let blurred = write_variants(&films, 6, work.path(), |img| {
        let sigma = 0.01 * img.width.max(img.height) as f32;
        vec![("blurred", img.gaussian_blur(sigma))]
    });
    for v in predict(&blurred) {
        assert_rejected(&v);
        assert!(v["reasons"].to_string().contains("too blurred"), "{v}");
    }
    // The same films unblurred have fine detail well inside the limits.
    for v in predict(&films[..6]) {
        let d = v["hand_scores"]["fine_detail"].as_f64().unwrap();
        assert!(d > 0.043 && d < 0.8, "{v}");
    }
    // Heavy noise (SD a fifth of the grey range) is turned away as too noisy.
    let mut next = noise(11);
    let noisy = write_variants(&films, 3, work.path(), |mut img| {
        for v in &mut img.data {
            let gauss: f32 = (0..12).map(|_| next()).sum::<f32>() - 6.0;
            *v = (*v + 0.2 * gauss).clamp(0.0, 1.0);
        }
        vec![("noisy", img)]
    });
    for v in predict(&noisy) {
        assert_rejected(&v);
        assert!(v["reasons"].to_string().contains("too noisy"), "{v}");
    }
}

#[test]
fn clipped_exposures_and_very_low_quality_jpegs_are_rejected() {
    let Some(films) = sample_films(
        "the clipping and JPEG-quality checks of the quality gate on the real sample radiographs",
    ) else {
        return;
    };
    // Over- and under-exposed: moved up until the film's brightest tenth is pure white (the
    // bones), or down until its darkest four fifths are pure black (background and soft
    // tissue, and the edges of the bones). The grey levels the nets read are lost.
    let work = tempfile::tempdir().unwrap();
    let clipped = write_variants(&films, 4, work.path(), |img| {
        let mut sorted = img.data.clone();
        sorted.sort_by(f32::total_cmp);
        let quantile = |q: f64| sorted[((sorted.len() - 1) as f64 * q) as usize];
        [("dark", -quantile(0.8)), ("bright", 1.0 - quantile(0.9))]
            .map(|(name, shift)| {
                let mut out = img.clone();
                for v in &mut out.data {
                    *v = (*v + shift).clamp(0.0, 1.0);
                }
                (name, out)
            })
            .into()
    });
    let read = predict(&clipped);
    for v in &read {
        assert_rejected(v);
        // A hand whose bones went white has lost its fine detail too: some are turned away
        // as blurred first.
        let reasons = v["reasons"].to_string();
        assert!(
            reasons.contains("the exposure is clipped") || reasons.contains("too blurred"),
            "{v}"
        );
    }
    let clipped_reasons = read
        .iter()
        .filter(|v| v["reasons"].to_string().contains("the exposure is clipped"))
        .count();
    assert!(clipped_reasons >= 6, "{clipped_reasons} of 8 said clipped");
    // The first film saved as a JPEG of quality 8 is turned away by its quantisation table;
    // at quality 60 it is read.
    let img = boneage_imaging::read_radiograph(&films[0]).unwrap().image;
    let mut jpegs = Vec::new();
    for q in [8u8, 60] {
        let bytes = boneage_imaging::io::encode_jpeg_gray8(&img, q).unwrap();
        let p = work.path().join(format!("q{q}.jpg"));
        std::fs::write(&p, bytes).unwrap();
        jpegs.push(p);
    }
    let read = predict(&jpegs);
    assert_rejected(&read[0]);
    assert!(
        read[0]["reasons"].to_string().contains("JPEG of quality 8"),
        "{}",
        read[0]
    );
    assert_eq!(read[1]["status"], "ok", "{}", read[1]);
    assert!(read[1]["bone_age_months"].is_number(), "{}", read[1]);
}
