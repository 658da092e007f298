//! DICOM files, with or without the 128-byte preamble and DICM.
#![no_main]
mod common;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::read("fuzz.dcm", data);
});
