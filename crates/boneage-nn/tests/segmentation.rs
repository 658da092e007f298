//! The U-Net learns hand masks from phantoms: a tiny net at 64x80 trained for a few epochs
//! reaches a useful IoU on held-out phantoms at their full size, handles an inverted copy the
//! same way, survives a save/load round trip bit for bit, and rejects bad configs by name.

use boneage_core::Sex;
use boneage_imaging::{GrayImage, Mask};
use boneage_nn::folder::ModelFolder;
use boneage_nn::segmentation::{SegConfig, SegModel, SegPair};
use boneage_nn::unet::UNetConfig;
use boneage_phantom::{generate_indexed, PhantomConfig, Subject};
use tch::Device;

fn phantoms(seed: u64, n: usize, w: usize, h: usize) -> Vec<(String, GrayImage, Mask)> {
    let config = PhantomConfig::with_size(w, h);
    (0..n)
        .map(|i| {
            let months = (i as f64 * 41.0) % 228.0 + 1.0;
            let s = Subject {
                bone_age_months: months,
                sex: if i % 2 == 0 { Sex::Female } else { Sex::Male },
                chronological_age_months: months,
            };
            let p = generate_indexed(seed, i as u64, &s, &config).unwrap();
            let m = Mask::from_vec(w, h, p.mask.iter().map(|&v| v > 127).collect());
            (format!("{seed}-{i}"), p.image, m)
        })
        .collect()
}

fn tiny() -> SegConfig {
    SegConfig {
        model: UNetConfig {
            input_width: 64,
            input_height: 80,
            base_channels: 6,
            depth: 3,
        },
        epochs: 12,
        batch_size: 8,
        lr: 3e-3,
        ..SegConfig::default()
    }
}

#[test]
fn tiny_unet_learns_phantom_masks() {
    tch::set_num_threads(2);
    let cfg = tiny();
    let train: Vec<SegPair> = phantoms(1, 96, 128, 160)
        .iter()
        .map(|(id, img, m)| SegPair::new(id, img, m, &cfg))
        .collect();
    let valid_set = phantoms(2, 16, 128, 160);
    let valid: Vec<SegPair> = valid_set
        .iter()
        .map(|(id, img, m)| SegPair::new(id, img, m, &cfg))
        .collect();
    let mut model = SegModel::new(&cfg, Device::Cpu).unwrap();
    let before = model.input_iou(&valid);
    let mut seen = 0;
    let history = model.train(&train, &valid, &mut |_| seen += 1).unwrap();
    assert_eq!(seen, cfg.epochs);
    assert!(
        history.last().unwrap().loss < history[0].loss,
        "{history:?}"
    );
    let after = model.input_iou(&valid);
    // The best epoch's weights are the ones kept.
    let best = history.iter().map(|e| e.valid_iou).fold(0.0, f64::max);
    assert!((after - best).abs() < 1e-9, "{after} vs best {best}");
    assert!(
        after > 0.85 && after > before + 0.2,
        "IoU {before:.3} -> {after:.3}"
    );

    // Full-size masks of held-out phantoms.
    let mut ious = Vec::new();
    for (_, img, truth) in &valid_set {
        let m = model.mask(img);
        assert_eq!((m.width, m.height), (img.width, img.height));
        ious.push(m.iou(truth));
        // An inverted copy gives (nearly) the same mask: the grey scale is turned back first.
        let inv = GrayImage::from_vec(
            img.width,
            img.height,
            img.data.iter().map(|v| 1.0 - v).collect(),
        );
        assert!(model.mask(&inv).iou(&m) > 0.9);
    }
    let mean = ious.iter().sum::<f64>() / ious.len() as f64;
    eprintln!("input-size IoU {before:.3} -> {after:.3}; full-size mean {mean:.3}");
    assert!(mean > 0.85, "full-size IoU {mean:.3}: {ious:?}");

    // Save and load: the same probabilities.
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let loaded = SegModel::load(dir.path(), Device::Cpu).unwrap();
    assert_eq!(loaded.config, cfg);
    let img = &valid_set[0].1;
    assert_eq!(model.probability(img).data, loaded.probability(img).data);
}

#[test]
fn shipped_segmentation_config_is_the_default() {
    let p =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/segmentation.json");
    assert_eq!(SegConfig::read(&p).unwrap(), SegConfig::default());
}

#[test]
fn bad_segmentation_configs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("seg.json");
    std::fs::write(&p, r#"{"model": {"input_width": 100}}"#).unwrap();
    let e = SegConfig::read(&p).unwrap_err().to_string();
    assert!(
        e.contains("seg.json") && e.contains("multiple of 16"),
        "{e}"
    );
    std::fs::write(&p, r#"{"epoch": 3}"#).unwrap();
    let e = SegConfig::read(&p).unwrap_err().to_string();
    assert!(e.contains("seg.json") && e.contains("epoch"), "{e}");
    let e = match SegModel::load(dir.path(), Device::Cpu) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("loaded a folder without a model"),
    };
    assert!(e.contains("not a segmentation model"), "{e}");
}
