//! A data set as the DICOM node receives it (no file meta), in the transfer syntax the first
//! byte picks, through the structure check that runs before the parser.
#![no_main]
const SYNTAXES: [&str; 4] = [
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.1.99",
];
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let _ = boneage_imaging::io::check_dicom_data_set(rest, SYNTAXES[pick as usize % 4]);
});
