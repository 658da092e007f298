use super::*;
use boneage_core::Sex;

fn write_set(dir: &std::path::Path, n: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| {
            let mut img = GrayImage::new(40, 50, 0.1);
            for y in 10..40 {
                for x in 10..30 {
                    img.set(x, y, 0.3 + 0.01 * i as f32);
                }
            }
            let p = dir.join(format!("{i}.png"));
            boneage_imaging::io::write_png_gray8(&p, &img).unwrap();
            Sample {
                id: i.to_string(),
                bone_age_months: 10.0 * i as f64,
                sex: Sex::from_is_male(i % 2 == 0),
                chronological_age_months: None,
                image_hint: None,
                image: Some(p),
                line: i as u64 + 2,
            }
        })
        .collect()
}

#[test]
fn batches_are_ordered_complete_and_thread_count_independent() {
    let dir = tempfile::tempdir().unwrap();
    let samples = write_set(dir.path(), 10);
    let run = |workers: usize| -> Vec<Batch> {
        let cfg = DataConfig {
            workers,
            ..Default::default()
        };
        let l = Loader::new(&samples, 16, 16, cfg, 7);
        l.epoch(3, 4, true, true).map(|b| b.unwrap()).collect()
    };
    let a = run(1);
    let b = run(3);
    assert_eq!(a.len(), 3);
    assert_eq!(a.iter().map(|b| b.len()).sum::<usize>(), 10);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.ids, y.ids);
        assert_eq!(x.images, y.images, "same pixels whatever the worker count");
    }
    let mut ids: Vec<String> = a.iter().flat_map(|b| b.ids.clone()).collect();
    ids.sort();
    assert_eq!(ids.len(), 10);
    let t = a[0].images_tensor();
    assert_eq!(t.size(), vec![4, 1, 16, 16]);
    assert_eq!(a[0].cumulative_tensor().size(), vec![4, 240]);
    // Standardised.
    let img = &a[0].images[..256];
    let m = img.iter().sum::<f32>() / 256.0;
    assert!(m.abs() < 1e-3, "{m}");
}

#[test]
fn bad_image_stops_or_is_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let samples = write_set(dir.path(), 5);
    std::fs::write(
        samples[2].image.as_ref().unwrap(),
        b"\x89PNG\r\n\x1a\nbroken",
    )
    .unwrap();
    let l = Loader::new(&samples, 16, 16, DataConfig::default(), 1);
    let err = l
        .epoch(0, 5, false, false)
        .find_map(|b| b.err())
        .expect("an error");
    assert!(err.to_string().contains("2.png"), "{err}");
    let cfg = DataConfig {
        on_bad_image: OnBadImage::Skip,
        ..Default::default()
    };
    let l = Loader::new(&samples, 16, 16, cfg, 1);
    for epoch in 0..2 {
        let n: usize = l
            .epoch(epoch, 2, true, true)
            .map(|b| b.unwrap().len())
            .sum();
        assert_eq!(n, 4);
    }
    assert_eq!(l.skipped(), 1, "counted once, not once per epoch");
}

#[test]
fn inverted_images_are_turned_back() {
    let dir = tempfile::tempdir().unwrap();
    let samples = write_set(dir.path(), 2);
    let p = samples[1].image.as_ref().unwrap();
    let img = boneage_imaging::read_radiograph(p).unwrap().image;
    let inv = GrayImage::from_vec(
        img.width,
        img.height,
        img.data.iter().map(|v| 1.0 - v).collect(),
    );
    boneage_imaging::io::write_png_gray8(p, &inv).unwrap();
    let mut a = samples.clone();
    a[1].image = samples[0].image.clone();
    let same = |s: &[Sample]| -> Vec<f32> {
        Loader::new(s, 16, 16, DataConfig::default(), 1)
            .epoch(0, 2, false, false)
            .next()
            .unwrap()
            .unwrap()
            .images
    };
    // Sample 1 inverted reads like its original, which differs from sample 0 by 0.01 only.
    let (x, y) = (same(&samples), same(&a));
    let d: f32 = x[256..]
        .iter()
        .zip(&y[256..])
        .map(|(p, q)| (p - q).abs())
        .sum::<f32>()
        / 256.0;
    assert!(d < 0.1, "{d}");
}

#[test]
fn letterbox_keeps_aspect() {
    let img = GrayImage::new(100, 50, 1.0);
    let f = fit_letterbox(&img, 20, 20);
    assert_eq!((f.width, f.height), (20, 20));
    assert_eq!(f.get(10, 0), 0.0);
    assert_eq!(f.get(10, 10), 1.0);
}
