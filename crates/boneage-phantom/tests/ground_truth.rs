//! The ground truth agrees with the pixels: mask, keypoints, overlays.

use boneage_core::Sex;
use boneage_phantom::{generate_indexed, Bone, Phantom, PhantomConfig, RenderConfig, Subject};

fn subject(months: f64, sex: Sex) -> Subject {
    Subject {
        bone_age_months: months,
        sex,
        chronological_age_months: months,
    }
}

fn subjects() -> Vec<Subject> {
    (0..24)
        .map(|i| {
            subject(
                i as f64 * 9.5 + 0.5,
                if i % 2 == 0 { Sex::Female } else { Sex::Male },
            )
        })
        .collect()
}

#[test]
fn mask_covers_the_rendered_hand_and_nothing_else() {
    // A clean chain with the default pose and build: what is outside the mask is background.
    let config = PhantomConfig {
        render: RenderConfig::clean(),
        ..PhantomConfig::with_size(128, 160)
    };
    for (i, s) in subjects().iter().enumerate() {
        let p = generate_indexed(11, i as u64, s, &config).unwrap();
        let bg = 0.1f32; // RenderConfig::clean's background level
        let mut inside = 0.0f64;
        let mut n_in = 0usize;
        for (k, &m) in p.mask.iter().enumerate() {
            let v = p.image.data[k];
            if m == 0 {
                assert!(
                    (v - bg).abs() < 0.03,
                    "image {i}: pixel {k} outside the mask is {v}"
                );
            } else {
                inside += v as f64;
                n_in += 1;
            }
        }
        let frac = n_in as f64 / p.mask.len() as f64;
        assert!(
            (0.15..0.75).contains(&frac),
            "image {i}: hand covers {frac:.2} of the frame"
        );
        assert!(
            inside / n_in as f64 > bg as f64 + 0.15,
            "image {i}: the hand is not brighter than background"
        );
    }
}

#[test]
fn no_bone_pokes_out_of_the_skin() {
    // Many builds and poses through a clean chain: nothing bright outside the mask.
    let config = PhantomConfig {
        render: RenderConfig::clean(),
        ..PhantomConfig::with_size(80, 100)
    };
    for i in 0..150u64 {
        let s = subject(
            (i * 37 % 229) as f64,
            if i % 2 == 0 { Sex::Male } else { Sex::Female },
        );
        let p = generate_indexed(1000, i, &s, &config).unwrap();
        let worst = p
            .mask
            .iter()
            .zip(&p.image.data)
            .filter(|(m, _)| **m == 0)
            .map(|(_, v)| (v - 0.1).abs())
            .fold(0.0, f32::max);
        assert!(
            worst < 0.03,
            "image {i} ({} m): {worst} outside the mask",
            s.bone_age_months
        );
    }
}

#[test]
fn markers_and_labels_never_touch_the_mask() {
    let config = PhantomConfig {
        render: RenderConfig {
            marker_probability: 1.0,
            label_probability: 1.0,
            ..RenderConfig::default()
        },
        ..PhantomConfig::with_size(256, 320)
    };
    let mut with_overlay = 0;
    for (i, s) in subjects().iter().enumerate() {
        let p = generate_indexed(5, i as u64, s, &config).unwrap();
        let mut any = false;
        for (k, &o) in p.overlay.iter().enumerate() {
            if o != 0 {
                any = true;
                assert_eq!(
                    p.mask[k], 0,
                    "image {i}: overlay pixel {k} is in the hand mask"
                );
            }
        }
        with_overlay += any as usize;
    }
    assert!(
        with_overlay >= 18,
        "only {with_overlay} of 24 images got a marker"
    );
}

fn check_keypoints(p: &Phantom, tag: &str) {
    let [middle, thumb, capitate] = p.keypoints;
    let (w, h) = (p.image.width as f32, p.image.height as f32);
    for k in p.keypoints {
        assert!(
            k[0] >= 0.0 && k[0] < w && k[1] >= 0.0 && k[1] < h,
            "{tag}: keypoint {k:?} off the image"
        );
    }
    assert!(
        p.bone(Bone::Distal(3)).contains(middle),
        "{tag}: keypoint 1 not in the middle distal phalanx"
    );
    assert!(
        p.bone(Bone::Distal(1)).contains(thumb),
        "{tag}: keypoint 2 not in the thumb's distal phalanx"
    );
    let cap = p.bone(Bone::Capitate);
    assert!(
        cap.anlage_contains(capitate),
        "{tag}: keypoint 3 not in the capitate"
    );
    if cap.present {
        assert!(
            cap.contains(capitate),
            "{tag}: keypoint 3 not in the ossified capitate"
        );
    }
    // The tips are ends of their bones: the middle tip is the bone point farthest from the
    // capitate along the finger, so a step further along leaves the bone.
    let (dx, dy) = (middle[0] - capitate[0], middle[1] - capitate[1]);
    let l = (dx * dx + dy * dy).sqrt();
    let beyond = [middle[0] + 2.0 * dx / l, middle[1] + 2.0 * dy / l];
    assert!(
        !p.bone(Bone::Distal(3)).contains(beyond),
        "{tag}: keypoint 1 is not at the tip"
    );
    let idx = |q: [f32; 2]| q[1].round() as usize * p.image.width + q[0].round() as usize;
    for k in p.keypoints {
        assert_eq!(
            p.mask[idx(k)],
            255,
            "{tag}: keypoint {k:?} outside the hand mask"
        );
    }
}

#[test]
fn keypoints_lie_in_their_bones() {
    let config = PhantomConfig::with_size(128, 160);
    for (i, s) in subjects().iter().enumerate() {
        let p = generate_indexed(3, i as u64, s, &config).unwrap();
        check_keypoints(&p, &format!("default #{i} ({} m)", s.bone_age_months));
    }
    let clean = PhantomConfig::clean(128, 160);
    for months in [0.0, 1.0, 30.0, 120.0, 228.0] {
        for sex in [Sex::Female, Sex::Male] {
            let p = generate_indexed(0, 0, &subject(months, sex), &clean).unwrap();
            check_keypoints(&p, &format!("clean {sex} {months} m"));
        }
    }
}

#[test]
fn keypoints_sit_where_the_design_frame_puts_them() {
    // Upright hand: middle tip above the capitate, thumb tip up and to the right.
    let p = generate_indexed(
        0,
        0,
        &subject(180.0, Sex::Male),
        &PhantomConfig::clean(512, 640),
    )
    .unwrap();
    let [m, t, c] = p.keypoints;
    let r = c[1] - m[1];
    assert!(
        r > 250.0 && (m[0] - c[0]).abs() < 0.05 * r,
        "{:?}",
        p.keypoints
    );
    assert!(
        ((t[0] - c[0]) / r - 0.476).abs() < 0.12,
        "{:?}",
        p.keypoints
    );
    assert!(((c[1] - t[1]) / r - 0.51).abs() < 0.12, "{:?}", p.keypoints);
}

#[test]
fn sixteen_bit_output_keeps_the_image() {
    use boneage_core::reference::BrushTable;
    use boneage_phantom::dataset::{make_one, DatasetSpec};
    let spec = |bit16| DatasetSpec {
        n: 1,
        seed: 1,
        config: PhantomConfig::with_size(96, 120),
        ages: boneage_phantom::AgeSource::Uniform,
        bit16,
    };
    let brush = BrushTable::shipped();
    let a = make_one(&spec(false), 0, &brush).unwrap();
    let b = make_one(&spec(true), 0, &brush).unwrap();
    assert_eq!(a.record, b.record);
    let r8 = boneage_imaging::io::decode_radiograph(std::path::Path::new("a.png"), &a.image_png)
        .unwrap();
    let r16 = boneage_imaging::io::decode_radiograph(std::path::Path::new("b.png"), &b.image_png)
        .unwrap();
    assert_eq!((r8.meta.bit_depth, r16.meta.bit_depth), (8, 16));
    let diff = r8
        .image
        .data
        .iter()
        .zip(&r16.image.data)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(diff <= 0.5 / 255.0 + 1e-4, "{diff}");
}
