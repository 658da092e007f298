//! Helpers shared by the command-line tests: run the built binary, paths as arguments, stderr
//! as text.
#![allow(dead_code)]

pub mod http;

use std::path::Path;
use std::process::{Command, Output};

/// Runs the `boneage` binary built for these tests.
pub fn boneage(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_boneage"))
        .args(args)
        .output()
        .expect("the boneage binary runs")
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes `img` as a 12-bit MONOCHROME2 DX DICOM file with PatientSex `sex` and the birth and
/// study dates (YYYYMMDD).
pub fn write_dicom(
    img: &boneage_imaging::GrayImage,
    path: &Path,
    sex: &str,
    birth: &str,
    study: &str,
) {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::{tags, uids};
    use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
    let mut obj = InMemDicomObject::new_empty();
    let put = |o: &mut InMemDicomObject, t, vr, v: &str| {
        o.put(DataElement::new(t, vr, PrimitiveValue::from(v)));
    };
    put(
        &mut obj,
        tags::SOP_CLASS_UID,
        VR::UI,
        uids::DIGITAL_X_RAY_IMAGE_STORAGE_FOR_PRESENTATION,
    );
    put(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, "2.25.987654321");
    put(&mut obj, tags::MODALITY, VR::CS, "DX");
    put(&mut obj, tags::PATIENT_SEX, VR::CS, sex);
    put(&mut obj, tags::PATIENT_BIRTH_DATE, VR::DA, birth);
    put(&mut obj, tags::STUDY_DATE, VR::DA, study);
    put(
        &mut obj,
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        "MONOCHROME2",
    );
    for (t, v) in [
        (tags::SAMPLES_PER_PIXEL, 1u16),
        (tags::ROWS, img.height as u16),
        (tags::COLUMNS, img.width as u16),
        (tags::BITS_ALLOCATED, 16),
        (tags::BITS_STORED, 12),
        (tags::HIGH_BIT, 11),
        (tags::PIXEL_REPRESENTATION, 0),
    ] {
        obj.put(DataElement::new(t, VR::US, PrimitiveValue::from(v)));
    }
    let px: Vec<u16> = img
        .data
        .iter()
        .map(|v| (v * 4095.0).round() as u16)
        .collect();
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::U16(px.into()),
    ));
    let file = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))
        .unwrap();
    let mut bytes = Vec::new();
    file.write_all(&mut bytes).unwrap();
    std::fs::write(path, bytes).unwrap();
}
