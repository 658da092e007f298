//! JPEG: the bytes after the SOI marker (so every input is read as a JPEG).
#![no_main]
mod common;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut bytes = vec![0xFF, 0xD8];
    bytes.extend_from_slice(data.strip_prefix(&[0xFF, 0xD8]).unwrap_or(data));
    common::read("fuzz.jpg", &bytes);
});
