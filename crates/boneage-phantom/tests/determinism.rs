//! Same seed, same bytes — whatever the thread count.

use boneage_core::reference::BrushTable;
use boneage_phantom::dataset::{make_one, write_dataset, DatasetSpec};
use boneage_phantom::{AgeSource, PhantomConfig};
use std::path::Path;

fn spec(n: usize, seed: u64) -> DatasetSpec {
    DatasetSpec {
        n,
        seed,
        config: PhantomConfig::with_size(128, 160),
        ages: AgeSource::Rsna,
        bit16: false,
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let brush = BrushTable::shipped();
    let s = spec(3, 42);
    for i in 0..3 {
        let a = make_one(&s, i, &brush).unwrap();
        let b = make_one(&s, i, &brush).unwrap();
        assert_eq!(a.image_png, b.image_png, "image {i}");
        assert_eq!(a.mask_png, b.mask_png, "mask {i}");
        assert_eq!(a.record, b.record);
    }
    let other = make_one(&spec(3, 43), 0, &brush).unwrap();
    assert_ne!(other.image_png, make_one(&s, 0, &brush).unwrap().image_png);
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in ["", "images", "masks"] {
        let d = dir.join(sub);
        let mut names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        for p in names {
            out.push((
                format!("{sub}/{}", p.file_name().unwrap().to_string_lossy()),
                std::fs::read(&p).unwrap(),
            ));
        }
    }
    out
}

#[test]
fn one_thread_and_two_threads_write_identical_sets() {
    let s = spec(8, 7);
    let tmp = tempfile::tempdir().unwrap();
    let mut sets = Vec::new();
    for threads in [1, 2] {
        let dir = tmp.path().join(format!("t{threads}"));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| write_dataset(&dir, &s, &|| {})).unwrap();
        sets.push(files(&dir));
    }
    assert_eq!(
        sets[0].len(),
        3 + 8 + 8,
        "labels, keypoints, manifest + images + masks"
    );
    for ((na, a), (nb, b)) in sets[0].iter().zip(&sets[1]) {
        assert_eq!(na, nb);
        assert!(a == b, "{na} differs between 1 and 2 threads");
    }
}
