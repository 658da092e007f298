//! Phantom generation speed at 512x640 (the target: at least 20 images/s on 2 cores):
//! images per second on 1 and 2 threads for
//! - `render`: build + render one phantom (no encoding),
//! - `encode`: render + PNG encoding of image and mask (`dataset::make_one`),
//! - `write`: the whole `write_dataset` into a temporary folder (atomic, fsync'd files).
//!
//! Each figure is the median over `ITERS` timed batches of `BATCH` images after a warm-up
//! (`images_per_s`, wall clock), plus images per CPU-second of this process over all batches
//! (`images_per_cpu_s`, from `/proc/self/stat`; on a shared machine the wall-clock figure
//! drops, this one does not). No peer implementation exists, so the figures are reported
//! against the 20 images/s target.
//!
//! Usage: phantom [BATCH] [ITERS]   (defaults 40 and 5)

use boneage_bench::median_seconds;
use boneage_core::reference::BrushTable;
use boneage_phantom::dataset::{make_one, write_dataset, DatasetSpec};
use boneage_phantom::{generate, rng, AgeSource, PhantomConfig};
use rayon::prelude::*;

/// CPU seconds (user + system) this process has used, from `/proc/self/stat` (Linux; 100
/// ticks per second). `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Median wall seconds per batch and images per CPU-second over all `iters + 1` batches.
fn measure(iters: usize, batch: usize, f: impl FnMut()) -> (f64, Option<f64>) {
    let c0 = cpu_seconds();
    let wall = median_seconds(iters, f);
    let cpu = match (c0, cpu_seconds()) {
        (Some(a), Some(b)) if b > a => Some(((iters + 1) * batch) as f64 / (b - a)),
        _ => None,
    };
    (wall, cpu)
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let batch: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(40);
    let iters: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let spec = DatasetSpec {
        n: batch,
        seed: 1,
        config: PhantomConfig::with_size(512, 640),
        ages: AgeSource::Rsna,
        bit16: false,
    };
    let brush = BrushTable::shipped();
    let tmp = std::env::temp_dir().join(format!("boneage-bench-phantom-{}", std::process::id()));
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()?;
        let render = pool.install(|| {
            measure(iters, batch, || {
                (0..batch).into_par_iter().for_each(|i| {
                    let mut r = rng::image_rng(spec.seed, i as u64);
                    let s = spec.ages.subject(i, &mut r, &brush);
                    std::hint::black_box(generate(&s, &spec.config, &mut r).expect("valid config"));
                })
            })
        });
        let encode = pool.install(|| {
            measure(iters, batch, || {
                (0..batch).into_par_iter().for_each(|i| {
                    std::hint::black_box(make_one(&spec, i, &brush).expect("valid config"));
                })
            })
        });
        let write = pool.install(|| {
            measure(iters, batch, || {
                write_dataset(&tmp, &spec, &|| {}).expect("temporary folder is writable");
            })
        });
        for (stage, (secs, cpu)) in [("render", render), ("encode", encode), ("write", write)] {
            println!(
                "{}",
                serde_json::json!({
                    "impl": "boneage-phantom",
                    "size": "512x640",
                    "threads": threads,
                    "stage": stage,
                    "batch": batch,
                    "images_per_s": (batch as f64 / secs * 10.0).round() / 10.0,
                    "images_per_cpu_s": cpu.map(|c| (c * 10.0).round() / 10.0),
                    "target_images_per_s": 20,
                })
            );
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}
