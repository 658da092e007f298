//! Bad requests get clear, typed errors.

use boneage_phantom::dataset::{write_dataset, DatasetSpec};
use boneage_phantom::{parse_size, AgeSource, PhantomConfig, PhantomError};

#[test]
fn zero_images_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("set");
    let spec = DatasetSpec {
        n: 0,
        seed: 1,
        config: PhantomConfig::with_size(128, 160),
        ages: AgeSource::Rsna,
        bit16: false,
    };
    let e = write_dataset(&out, &spec, &|| {}).unwrap_err();
    assert!(matches!(e, PhantomError::ZeroCount));
    assert!(e.to_string().contains("at least 1"), "{e}");
    assert!(!out.exists());
}

#[test]
fn a_size_too_small_for_a_hand_is_refused() {
    let e = parse_size("40x50").unwrap_err();
    assert!(matches!(
        e,
        PhantomError::SizeTooSmall {
            width: 40,
            height: 50
        }
    ));
    assert!(e.to_string().contains("too small to draw a hand"), "{e}");
    let spec = DatasetSpec {
        n: 1,
        seed: 1,
        config: PhantomConfig::with_size(32, 500),
        ages: AgeSource::Rsna,
        bit16: false,
    };
    let tmp = tempfile::tempdir().unwrap();
    assert!(matches!(
        write_dataset(tmp.path(), &spec, &|| {}),
        Err(PhantomError::SizeTooSmall { .. })
    ));
    assert!(matches!(parse_size("wide"), Err(PhantomError::BadSize(_))));
}

#[test]
fn unreadable_or_empty_ages_tables_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-ages.csv");
    let e = AgeSource::from_table(&missing).unwrap_err();
    assert!(matches!(e, PhantomError::Ages { .. }));
    assert!(e.to_string().contains("no-such-ages.csv"), "{e}");

    let bad = tmp.path().join("bad.csv");
    std::fs::write(&bad, "foo,bar\n1,2\n").unwrap();
    let e = AgeSource::from_table(&bad).unwrap_err();
    assert!(e.to_string().contains("bad.csv"), "{e}");

    let empty = tmp.path().join("empty.csv");
    std::fs::write(&empty, "id,boneage,male\n").unwrap();
    let e = AgeSource::from_table(&empty).unwrap_err();
    assert!(e.to_string().contains("empty.csv"), "{e}");
}

#[test]
fn a_label_table_gives_its_ages_and_sexes_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().join("ages.csv");
    std::fs::write(
        &t,
        "id,boneage,male,chronological_age\na,12,True,13.5\nb,150,False,140\n",
    )
    .unwrap();
    let src = AgeSource::from_table(&t).unwrap();
    assert_eq!(src.rows(), Some(2));
    let out = tmp.path().join("set");
    let spec = DatasetSpec {
        n: 3,
        seed: 2,
        config: PhantomConfig::with_size(96, 120),
        ages: src,
        bit16: false,
    };
    let recs = write_dataset(&out, &spec, &|| {}).unwrap();
    let ages: Vec<(f64, bool, f64)> = recs
        .iter()
        .map(|r| {
            (
                r.subject.bone_age_months,
                r.subject.sex.is_male(),
                r.subject.chronological_age_months,
            )
        })
        .collect();
    assert_eq!(
        ages,
        vec![
            (12.0, true, 13.5),
            (150.0, false, 140.0),
            (12.0, true, 13.5)
        ]
    );
    // The written labels read back as a phantom table.
    let ds = boneage_core::Dataset::read(out.join("labels.csv")).unwrap();
    assert_eq!(ds.format, boneage_core::TableFormat::Phantom);
    assert_eq!(ds.samples.len(), 3);
    assert_eq!(ds.samples[1].chronological_age_months, Some(140.0));
}

#[test]
fn a_file_that_cannot_be_written_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("set");
    // A non-empty folder where image 2 should go: the atomic rename onto it fails.
    std::fs::create_dir_all(out.join("images/2.png/blocker")).unwrap();
    let spec = DatasetSpec {
        n: 4,
        seed: 1,
        config: PhantomConfig::with_size(96, 120),
        ages: AgeSource::Rsna,
        bit16: false,
    };
    let e = write_dataset(&out, &spec, &|| {}).unwrap_err();
    assert!(matches!(e, PhantomError::Write { .. }), "{e}");
    assert!(e.to_string().contains("2.png"), "{e}");
    assert!(
        !out.join("labels.csv").exists(),
        "no tables after a failed write"
    );
}
