use super::*;

fn parse(text: &str) -> Result<Dataset, DatasetError> {
    Dataset::parse(Path::new("labels.csv"), text.as_bytes())
}

#[test]
fn reads_all_three_rsna_formats() {
    let train = parse("id,boneage,male\n1377,180,False\n1378,12,True\n").unwrap();
    assert_eq!(train.format, TableFormat::RsnaTrain);
    assert_eq!(train.samples[0].id, "1377");
    assert_eq!(train.samples[0].bone_age_months, 180.0);
    assert_eq!(train.samples[1].sex, Sex::Male);

    let valid = parse("id,male,boneage\n1386,False,30\n").unwrap();
    assert_eq!(valid.format, TableFormat::RsnaValidation);
    assert_eq!(valid.samples[0].bone_age_months, 30.0);
    assert_eq!(valid.samples[0].sex, Sex::Female);

    let test =
        parse("image_ID,dir,patient_ID,sex,bone_age\n4360.png,bone_age,4360,M,168.93\n").unwrap();
    assert_eq!(test.format, TableFormat::RsnaTest);
    assert_eq!(test.samples[0].id, "4360");
    assert_eq!(test.samples[0].bone_age_months, 168.93);
    assert_eq!(
        test.samples[0].image_hint.as_deref(),
        Some(Path::new("bone_age/4360.png"))
    );
}

#[test]
fn phantom_and_manifest_formats() {
    let ph = parse("id,boneage,male,chronological_age\np1,24.5,True,26.0\n").unwrap();
    assert_eq!(ph.format, TableFormat::Phantom);
    assert_eq!(ph.samples[0].chronological_age_months, Some(26.0));
    let mf = Dataset::parse(
        Path::new("/data/set/manifest.csv"),
        b"path,boneage,male\nimg/a.png,10,0\n",
    )
    .unwrap();
    assert_eq!(mf.format, TableFormat::Manifest);
    assert_eq!(
        mf.samples[0].image_hint.as_deref(),
        Some(Path::new("/data/set/img/a.png"))
    );
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn bad_rows_name_file_line_and_problem() {
    let e = err("id,boneage,male\n1,12,True\n2,-3,False\n");
    assert!(
        e.contains("labels.csv:3") && e.contains("negative age"),
        "{e}"
    );
    let e = err("id,boneage,male\n1,twelve,True\n");
    assert!(
        e.contains("labels.csv:2") && e.contains("not a number"),
        "{e}"
    );
    let e = err("id,boneage,male\n1,12,Maybe\n");
    assert!(
        e.contains("labels.csv:2") && e.contains("unknown sex"),
        "{e}"
    );
    let e = err("id,boneage,male\n1,12,True\n1,14,False\n");
    assert!(
        e.contains("labels.csv:3") && e.contains("duplicate id") && e.contains("line 2"),
        "{e}"
    );
    let e = err("id,boneage,male\n1,,True\n");
    assert!(e.contains("empty value") && e.contains("boneage"), "{e}");
    let e = err("id,boneage,male\n1,12\n");
    assert!(e.contains("labels.csv:2") && e.contains("2 fields"), "{e}");
    let e = err("id,age,sex\n1,12,M\n");
    assert!(e.contains("not a known label table"), "{e}");
    let e = err("id,boneage,male\n");
    assert!(e.contains("no rows"), "{e}");
    let e = err("id,boneage,male\n1,2000,True\n");
    assert!(e.contains("in months"), "{e}");
}

#[test]
fn resolves_kaggle_nested_layout_and_reports_missing_images() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir
        .path()
        .join("boneage-training-dataset/boneage-training-dataset");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::write(nested.join("1377.png"), b"x").unwrap();
    std::fs::write(nested.join("notes.txt"), b"x").unwrap();
    let mut ds = parse("id,boneage,male\n1377,180,False\n").unwrap();
    ds.resolve_images(Some(dir.path())).unwrap();
    assert_eq!(
        ds.samples[0].image.as_deref(),
        Some(&*nested.join("1377.png"))
    );

    let mut ds = parse("id,boneage,male\n1377,180,False\n1378,12,True\n").unwrap();
    let e = ds.resolve_images(Some(dir.path())).unwrap_err().to_string();
    assert!(e.contains("labels.csv:3") && e.contains("\"1378\""), "{e}");

    let mut ds = parse("id,boneage,male\n1377,180,False\n").unwrap();
    let e = ds.resolve_images(None).unwrap_err().to_string();
    assert!(e.contains("--images"), "{e}");
}

#[test]
fn test_table_resolves_through_its_dir_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("bone_age")).unwrap();
    std::fs::write(dir.path().join("bone_age/4360.png"), b"x").unwrap();
    let mut ds =
        parse("image_ID,dir,patient_ID,sex,bone_age\n4360.png,bone_age,4360,M,168.93\n").unwrap();
    ds.resolve_images(Some(dir.path())).unwrap();
    assert!(ds.samples[0]
        .image
        .as_ref()
        .unwrap()
        .ends_with("bone_age/4360.png"));
}
