//! PNG: the bytes after the PNG signature (so every input is read as a PNG).
#![no_main]
mod common;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend_from_slice(data.strip_prefix(b"\x89PNG\r\n\x1a\n").unwrap_or(data));
    common::read("fuzz.png", &bytes);
});
