//! `boneage report` with the built-in bundle: per radiograph a self-contained HTML page and a
//! PDF with the patient fields, the result (bone age, interval, chronological age, difference,
//! SDS, reading), growth chart, pictures, per-region estimates, warnings and the bundle notice;
//! a DICOM file's header gives sex and dates; a rejected film's report says so and gives no
//! age; bad input is a clear error and leaves nothing half-written.

mod common;
use common::{boneage, s, stderr};

use boneage_imaging::io::write_png_gray8;
use boneage_imaging::GrayImage;
use boneage_phantom::dataset::{write_dataset, DatasetSpec};
use boneage_phantom::{AgeSource, PhantomConfig};
use std::path::Path;

fn phantom(dir: &Path) -> std::path::PathBuf {
    let spec = DatasetSpec {
        n: 1,
        seed: 2024,
        config: PhantomConfig::with_size(384, 480),
        ages: AgeSource::Rsna,
        bit16: false,
    };
    write_dataset(dir, &spec, &|| {}).unwrap();
    dir.join("images/1.png")
}

/// The text a PDF page shows (the content streams are not compressed).
fn shown(pdf: &[u8]) -> String {
    String::from_utf8_lossy(pdf).into_owned()
}

#[test]
fn report_of_a_film_with_its_chronological_age() {
    let work = tempfile::tempdir().unwrap();
    let img = phantom(&work.path().join("set"));
    let out = work.path().join("out");
    let o = boneage(&[
        "report",
        "--sex",
        "F",
        "--chronological-age-months",
        "100",
        "--out",
        s(&out),
        s(&img),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(out.join("1.html")).unwrap();
    for field in [
        "Patient and study",
        "Bone age",
        "95% interval",
        "Chronological age",
        "100.0 months",
        "Bone age minus chronological age",
        "SDS",
        "Reading",
        "Greulich-Pyle",
        "<svg",
        "data:image/png;base64,",
        "Estimates by region",
        "Warnings",
        "rsna-regions-",
        "NOT for clinical use",
    ] {
        assert!(html.contains(field), "HTML lacks {field}");
    }
    assert!(html.contains("<td>Bone age</td>"));
    // Self-contained: nothing fetched from elsewhere.
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    let pdf = std::fs::read(out.join("1.pdf")).unwrap();
    let text = shown(&pdf);
    assert!(text.starts_with("%PDF-") && text.trim_end().ends_with("%%EOF"));
    assert_eq!(text.matches("/MediaBox").count(), 2, "two pages");
    for field in [
        "(Patient and study) Tj",
        "(Bone age) Tj",
        "(95% interval) Tj",
        "(Chronological age) Tj",
        "(SDS) Tj",
        "(Reading) Tj",
        "(Warnings) Tj",
        "(Estimates by region and head) Tj",
        "/Subtype /Image",
    ] {
        assert!(text.contains(field), "PDF lacks {field}");
    }
    assert!(text.contains("NOT for clinical use"));
    // Where poppler is installed, the PDF also renders: two pages.
    let pages = work.path().join("page");
    match std::process::Command::new("pdftoppm")
        .args(["-r", "30", "-png", s(&out.join("1.pdf")), s(&pages)])
        .output()
    {
        Ok(r) => {
            assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
            assert!(
                work.path().join("page-1.png").exists() && work.path().join("page-2.png").exists()
            );
        }
        Err(_) => eprintln!("pdftoppm not installed: the PDF was checked by its structure only"),
    }
}

#[test]
fn report_from_a_dicom_header_and_of_a_rejected_picture() {
    let work = tempfile::tempdir().unwrap();
    let img = phantom(&work.path().join("set"));
    let film = boneage_imaging::read_radiograph(&img).unwrap().image;
    let dcm = work.path().join("hand.dcm");
    common::write_dicom(&film, &dcm, "M", "20120601", "20200601");
    let blank = work.path().join("blank.png");
    write_png_gray8(&blank, &GrayImage::new(500, 600, 0.5)).unwrap();
    let out = work.path().join("out");
    let o = boneage(&["report", "--out", s(&out), s(&dcm), s(&blank)]);
    // The blank picture has no sex in its file: the run stops there with a clear error, after
    // the DICOM film's report is written.
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no sex"), "{}", stderr(&o));
    let html = std::fs::read_to_string(out.join("hand.html")).unwrap();
    assert!(html.contains("male (file header)"), "sex from the header");
    assert!(html.contains("(file header)") && html.contains("SDS"));
    // Born 2012-06-01, imaged 2020-06-01: 2922 days = 96.0 months.
    assert!(html.contains("96.0 months (8.0 years) (file header)"));
    assert!(!out.join("blank.html").exists() && !out.join("blank.pdf").exists());
    // With the sex given, the blank picture is reported as rejected, without an age.
    let o = boneage(&["report", "--sex", "F", "--out", s(&out), s(&blank)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(out.join("blank.html")).unwrap();
    assert!(html.contains("Rejected by the quality gate"));
    assert!(html.contains("one grey level"));
    assert!(!html.contains("<td>Bone age</td>") && !html.contains("<td>SDS</td>"));
    let text = shown(&std::fs::read(out.join("blank.pdf")).unwrap());
    assert!(text.contains("(Rejected by the quality gate: no bone age) Tj"));
    assert!(!text.contains("(Bone age) Tj"));
}

#[test]
fn report_refuses_bad_input_clearly() {
    let work = tempfile::tempdir().unwrap();
    let img = phantom(&work.path().join("set"));
    let bytes = std::fs::read(&img).unwrap();
    let cut = work.path().join("cut.png");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = work.path().join("out");
    let o = boneage(&["report", "--sex", "F", "--out", s(&out), s(&cut)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("cut.png"), "{}", stderr(&o));
    assert!(!out.join("cut.html").exists() && !out.join("cut.pdf").exists());
    let o = boneage(&[
        "report",
        "--sex",
        "F",
        "--chronological-age-months",
        "-3",
        "--out",
        s(&out),
        s(&img),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("--chronological-age-months"),
        "{}",
        stderr(&o)
    );
    let o = boneage(&["report", "--sex", "X", "--out", s(&out), s(&img)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--sex X"), "{}", stderr(&o));
}
