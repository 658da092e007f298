//! Maturity follows the schedule: carpal order by sex, no early fusion, girls ahead of boys.

use boneage_core::Sex;
use boneage_phantom::anatomy::{build, Bone, Individual};
use boneage_phantom::maturation::{epiphysis_schedule, FUSION_TEMPO_MAX};
use boneage_phantom::pose::{Pose, PoseConfig};
use boneage_phantom::rng::image_rng;

fn pose() -> Pose {
    Pose::sample(&mut image_rng(0, 0), &PoseConfig::neutral())
}

fn carpals_present(age: f32, sex: Sex, ind: &Individual) -> Vec<Bone> {
    let sk = build(age, sex, ind, &pose());
    Bone::CARPALS
        .into_iter()
        .filter(|&b| sk.bone(b).unwrap().present)
        .collect()
}

#[test]
fn carpals_appear_in_the_real_order_for_each_sex() {
    let expected = [
        Bone::Capitate,
        Bone::Hamate,
        Bone::Triquetrum,
        Bone::Lunate,
        Bone::Scaphoid,
        Bone::Trapezium,
        Bone::Trapezoid,
        Bone::Pisiform,
    ];
    for sex in [Sex::Female, Sex::Male] {
        let ind = Individual::typical();
        let mut order: Vec<Bone> = Vec::new();
        let mut last = 0;
        for m in 0..=228 {
            let present = carpals_present(m as f32, sex, &ind);
            assert!(
                present.len() >= last,
                "{sex}: carpal count fell at {m} months"
            );
            last = present.len();
            for b in present {
                if !order.contains(&b) {
                    order.push(b);
                }
            }
        }
        assert_eq!(order, expected, "{sex}");
        assert_eq!(last, 8, "{sex}: all eight carpals by 19 years");
        assert!(carpals_present(0.0, sex, &ind).is_empty());
    }
    // Milestones: girls ahead of boys.
    let t = Individual::typical();
    assert_eq!(carpals_present(36.0, Sex::Female, &t).len(), 4); // capitate, hamate, triquetrum, lunate
    assert_eq!(carpals_present(36.0, Sex::Male, &t).len(), 3);
    assert_eq!(carpals_present(60.0, Sex::Female, &t).len(), 7);
    assert_eq!(carpals_present(60.0, Sex::Male, &t).len(), 4);
    assert_eq!(carpals_present(120.0, Sex::Female, &t).len(), 8);
    assert_eq!(carpals_present(120.0, Sex::Male, &t).len(), 7);
}

#[test]
fn carpal_count_rises_with_age_for_every_individual() {
    let mut rng = image_rng(99, 0);
    for k in 0..20 {
        let ind = Individual::sample(&mut rng);
        let sex = if k % 2 == 0 { Sex::Female } else { Sex::Male };
        let mut last = 0;
        for m in (0..=228).step_by(3) {
            let n = carpals_present(m as f32, sex, &ind).len();
            assert!(n >= last, "individual {k}: count fell at {m} months");
            last = n;
        }
    }
}

#[test]
fn no_physis_fuses_before_its_fusion_age() {
    let mut rng = image_rng(5, 5);
    let pose = pose();
    for k in 0..30 {
        let ind = Individual::sample(&mut rng);
        let sex = if k % 2 == 0 { Sex::Female } else { Sex::Male };
        for m in (0..=228).step_by(4) {
            let sk = build(m as f32, sex, &ind, &pose);
            for b in &sk.bones {
                let Some(e) = b.epiphysis else { continue };
                let s = epiphysis_schedule(b.bone, sex).unwrap();
                let age = m as f32;
                if age < s.fuse_start * (1.0 - FUSION_TEMPO_MAX) {
                    assert_eq!(e.fusion, 0.0, "{} fusing at {m} months ({sex})", b.bone);
                }
                if e.fused() {
                    assert!(
                        age >= s.fuse_end * (1.0 - FUSION_TEMPO_MAX),
                        "{} fused at {m} months",
                        b.bone
                    );
                    assert!(e.present, "{} fused without an epiphysis", b.bone);
                }
                if e.fusion > 0.0 {
                    assert!(
                        e.present && e.width >= 1.0,
                        "{} fusing before it caps",
                        b.bone
                    );
                }
            }
        }
    }
}

#[test]
fn girls_fuse_earlier_and_everything_is_fused_at_19_years_for_girls() {
    let ind = Individual::typical();
    let p = pose();
    let fused = |m: f32, sex| {
        build(m, sex, &ind, &p)
            .bones
            .iter()
            .filter(|b| b.epiphysis.is_some_and(|e| e.fused()))
            .count()
    };
    assert_eq!(fused(140.0, Sex::Female), 0);
    assert!(fused(175.0, Sex::Female) > fused(175.0, Sex::Male));
    let with_epiphysis = build(0.0, Sex::Female, &ind, &p)
        .bones
        .iter()
        .filter(|b| b.epiphysis.is_some())
        .count();
    assert_eq!(
        with_epiphysis, 21,
        "radius, ulna, 5 metacarpals, 14 phalanges"
    );
    assert_eq!(fused(228.0, Sex::Female), with_epiphysis);
}

#[test]
fn epiphyses_appear_proximal_then_metacarpal_then_middle_then_distal() {
    for sex in [Sex::Female, Sex::Male] {
        let first = |b: Bone| epiphysis_schedule(b, sex).unwrap().appear;
        for d in 2..=5 {
            assert!(
                first(Bone::Proximal(d)) < first(Bone::Metacarpal(d)),
                "{sex} {d}"
            );
            assert!(
                first(Bone::Metacarpal(d)) < first(Bone::Middle(d)),
                "{sex} {d}"
            );
            assert!(first(Bone::Middle(d)) < first(Bone::Distal(d)), "{sex} {d}");
        }
    }
}

#[test]
fn the_sesamoid_comes_with_puberty() {
    let ind = Individual::typical();
    let p = pose();
    let present = |m: f32, sex| {
        build(m, sex, &ind, &p)
            .bone(Bone::Sesamoid)
            .unwrap()
            .present
    };
    assert!(!present(120.0, Sex::Female) && present(150.0, Sex::Female));
    assert!(!present(150.0, Sex::Male) && present(170.0, Sex::Male));
}
