//! The keypoint net learns the three keypoints from phantoms: a tiny net trained for a few
//! epochs beats the mean-position predictor on held-out phantoms, keeps its best epoch, and
//! round-trips through save/load; configs that are not keypoint configs are refused by name.

use boneage_core::Sex;
use boneage_imaging::clahe::ClaheConfig;
use boneage_imaging::segment::hand_image;
use boneage_imaging::Mask;
use boneage_nn::folder::ModelFolder;
use boneage_nn::keypoints::{mean_distance, KeypointConfig, KeypointModel, KeypointPair};
use boneage_nn::vgg::{Head, VggConfig};
use boneage_phantom::{generate_indexed, PhantomConfig, Subject};
use tch::Device;

fn pairs(
    seed: u64,
    n: usize,
    cfg: &KeypointConfig,
) -> Vec<(KeypointPair, [[f64; 2]; 3], boneage_imaging::GrayImage)> {
    let pc = PhantomConfig::with_size(128, 160);
    (0..n)
        .map(|i| {
            let months = (i as f64 * 53.0) % 228.0 + 1.0;
            let s = Subject {
                bone_age_months: months,
                sex: if i % 2 == 0 { Sex::Female } else { Sex::Male },
                chronological_age_months: months,
            };
            let p = generate_indexed(seed, i as u64, &s, &pc).unwrap();
            let m = Mask::from_vec(128, 160, p.mask.iter().map(|&v| v > 127).collect());
            let hand = hand_image(&p.image, &m, &ClaheConfig::default());
            let kp = p.keypoints.map(|k| [k[0] as f64, k[1] as f64]);
            (KeypointPair::new(&i.to_string(), &hand, &kp, cfg), kp, hand)
        })
        .collect()
}

fn tiny() -> KeypointConfig {
    KeypointConfig {
        model: VggConfig {
            input_width: 64,
            input_height: 80,
            base_channels: 8,
            max_channels: 32,
            convs_per_block: vec![1, 1, 1, 1],
            pooled_size: 2,
            sex_embedding: 0,
            dense: 64,
            dropout: 0.0,
            head: Head::Keypoints,
            ..VggConfig::default()
        },
        epochs: 12,
        batch_size: 16,
        lr: 2e-3,
        ..KeypointConfig::default()
    }
}

#[test]
fn tiny_keypoint_net_beats_the_mean_position() {
    tch::set_num_threads(2);
    let cfg = tiny();
    let train: Vec<KeypointPair> = pairs(1, 160, &cfg).into_iter().map(|p| p.0).collect();
    let held = pairs(2, 24, &cfg);
    let valid: Vec<KeypointPair> = held.iter().map(|p| p.0.clone()).collect();
    let mut model = KeypointModel::new(&cfg, Device::Cpu).unwrap();
    let history = model.train(&train, &valid, &mut |_| {}).unwrap();
    let best = history
        .iter()
        .map(|e| e.valid_error)
        .fold(f64::INFINITY, f64::min);
    assert!((model.input_error(&valid) - best).abs() < 1e-9);
    // The mean-position predictor's error on the held-out set.
    let mut mean = [[0f64; 2]; 3];
    for p in &train {
        for k in 0..3 {
            for c in 0..2 {
                mean[k][c] += p.points[k][c] / train.len() as f64;
            }
        }
    }
    let baseline = valid
        .iter()
        .map(|p| mean_distance(&mean, &p.points))
        .sum::<f64>()
        / valid.len() as f64
        / 80.0;
    eprintln!(
        "held-out error {best:.4} of the input height; mean-position predictor {baseline:.4}"
    );
    assert!(best < 0.6 * baseline, "{best} vs baseline {baseline}");
    // Full-size prediction agrees with the input-size one.
    let (_, truth, hand) = &held[0];
    let p = model.predict(hand);
    assert!(mean_distance(&p, truth) / 160.0 < 3.0 * baseline);
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let loaded = KeypointModel::load(dir.path(), Device::Cpu).unwrap();
    assert_eq!(loaded.predict(hand), p);
}

#[test]
fn non_keypoint_configs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("kp.json");
    std::fs::write(
        &p,
        r#"{"model": {"head": "regression", "sex_embedding": 0}}"#,
    )
    .unwrap();
    let e = KeypointConfig::read(&p).unwrap_err().to_string();
    assert!(e.contains("kp.json") && e.contains("keypoints"), "{e}");
    std::fs::write(&p, r#"{"model": {"head": "keypoints"}}"#).unwrap();
    let e = KeypointConfig::read(&p).unwrap_err().to_string();
    assert!(e.contains("sex_embedding"), "{e}");
}
