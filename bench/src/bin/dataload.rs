//! The training data path: decode phantom PNGs, fit them into the 128x160 network input,
//! augment (affine, gamma, contrast, noise), standardise and batch, on 2 worker threads —
//! images per second over one epoch without the decode cache (every image decoded, as in the
//! first epoch). `bench/dataload.sh` compares it with a torch DataLoader doing the same work
//! (`bench/dataload_peer.py`).
//!
//! Usage: dataload DIR   (DIR = a phantom set: labels.csv + images/)

use boneage_core::Dataset;
use boneage_nn::data::{DataConfig, Loader};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "out/bench-phantoms".into()),
    );
    let mut ds = Dataset::read(dir.join("labels.csv"))?;
    ds.resolve_images(Some(&dir.join("images")))?;
    let cfg = DataConfig {
        workers: 2,
        cache_decoded: false,
        ..DataConfig::default()
    };
    let loader = Loader::new(&ds.samples, 128, 160, cfg, 1);
    // Warm-up epoch, then the timed ones.
    let _ = loader.epoch(0, 16, true, true).count();
    let mut rates = Vec::new();
    for epoch in 1..=3 {
        let t = Instant::now();
        let mut n = 0;
        for b in loader.epoch(epoch, 16, true, true) {
            n += b?.len();
        }
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({"impl": "boneage", "workers": 2, "images_per_s": rates[1], "n": ds.samples.len()})
    );
    Ok(())
}
