//! The quality check on the 20 real RSNA radiographs in ../shared/data/rsna-sample: what it
//! says must be right on real hands, not only on synthetic shapes.

use boneage_imaging::quality::{assess, QualityConfig, QualityFlag};
use boneage_imaging::{read_radiograph, GrayImage};
use std::path::PathBuf;

fn samples() -> Option<Vec<PathBuf>> {
    let dir = boneage_core::real_data::for_test(
        "rsna-sample/images",
        "quality flags on real radiographs",
    )?;
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    v.sort();
    assert_eq!(v.len(), 20);
    Some(v)
}

/// Rotates clockwise on screen by `deg` about the centre, filling with `fill`.
fn rotate(img: &GrayImage, deg: f32, fill: f32) -> GrayImage {
    let (c, s) = (deg.to_radians().cos(), deg.to_radians().sin());
    let (cx, cy) = (img.width as f32 / 2.0, img.height as f32 / 2.0);
    let mut out = GrayImage::new(img.width, img.height, fill);
    for y in 0..img.height {
        for x in 0..img.width {
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            // Inverse map: rotate the output point back by -deg.
            let sx = c * dx + s * dy + cx;
            let sy = -s * dx + c * dy + cy;
            if sx >= 0.0
                && sy >= 0.0
                && sx <= (img.width - 1) as f32
                && sy <= (img.height - 1) as f32
            {
                out.set(x, y, img.sample_bilinear(sx, sy));
            }
        }
    }
    out
}

#[test]
fn real_radiographs_are_read_and_assessed_sensibly() {
    let cfg = QualityConfig::default();
    let mut with_markers = 0;
    let Some(samples) = samples() else { return };
    for p in samples {
        let r = read_radiograph(&p).unwrap();
        assert_eq!(
            (r.image.width, r.image.height),
            (500, 625),
            "{}",
            p.display()
        );
        assert!(
            r.meta.warnings.is_empty(),
            "grey stored as RGB reads without warning"
        );
        let q = assess(&r.image, &cfg);
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            !q.flags.contains(&QualityFlag::LikelyInverted),
            "{name}: {q:?}"
        );
        assert!(!q.flags.contains(&QualityFlag::NoHand), "{name}: {q:?}");
        assert!(
            (0.12..0.55).contains(&q.hand_area_fraction),
            "{name}: hand area {}",
            q.hand_area_fraction
        );
        // These hands are all roughly upright.
        let rot = q.rotation_deg.expect("an upright hand has a clear axis");
        assert!(rot.abs() < 20.0, "{name}: rotation {rot}");
        with_markers += q.flags.contains(&QualityFlag::Markers) as usize;

        // The same image with its grey scale inverted is flagged.
        let inv = GrayImage::from_vec(500, 625, r.image.data.iter().map(|v| 1.0 - v).collect());
        let qi = assess(&inv, &cfg);
        assert!(
            qi.flags.contains(&QualityFlag::LikelyInverted),
            "{name} inverted: {qi:?}"
        );
    }
    // Every sample carries a lead marker; the check must find nearly all of them.
    assert!(with_markers >= 18, "markers found on {with_markers} of 20");
}

#[test]
fn rotation_estimate_follows_a_rotated_real_hand() {
    let cfg = QualityConfig::default();
    let Some(samples) = samples() else { return };
    for p in samples.iter().take(6) {
        let r = read_radiograph(p).unwrap();
        let base = assess(&r.image, &cfg).rotation_deg.unwrap();
        let fill = assess(&r.image, &cfg).p05;
        for deg in [-25.0f32, 25.0] {
            let q = assess(&rotate(&r.image, deg, fill), &cfg);
            let est = q.rotation_deg.unwrap();
            assert!(
                (est - base - deg as f64).abs() < 8.0,
                "{}: rotated {deg}: estimate {est}, upright {base}",
                p.display()
            );
            assert!(q.flags.contains(&QualityFlag::Rotated) || (base + deg as f64).abs() < 22.0);
        }
    }
}
