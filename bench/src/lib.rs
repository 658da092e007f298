//! Shared helpers for the benchmark binaries in `src/bin/`.

use std::time::Instant;

/// Runs `f` `iters` times after one warm-up call and returns the median wall time in seconds.
pub fn median_seconds(iters: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..iters.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
