//! What every image target does with the bytes: decode them as the named file, and on a small
//! enough image run the quality checks every command runs first. Anything but a clean `Ok` or
//! `Err` (a panic, an abort, a hang, memory beyond libFuzzer's limit) is a finding.

use std::path::Path;

pub fn read(name: &str, bytes: &[u8]) {
    if let Ok(r) = boneage_imaging::io::decode_radiograph(Path::new(name), bytes) {
        let img = &r.image;
        assert!(img.width > 0 && img.height > 0);
        assert_eq!(img.data.len(), img.width * img.height);
        if img.width * img.height <= 512 * 512 {
            let cfg = boneage_imaging::quality::QualityConfig::default();
            let _ = boneage_imaging::quality::assess(img, &cfg);
        }
    }
}
