//! Label tables (RSNA's `id,boneage,male` and the variants the reader takes).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(ds) = boneage_core::Dataset::parse(std::path::Path::new("labels.csv"), data) {
        for s in &ds.samples {
            assert!(s.bone_age_months.is_finite());
        }
    }
});
