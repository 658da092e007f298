//! Shared helpers for the benchmark binaries in `src/bin/`.

use std::time::Instant;

/// The value after `--name` on the command line, or `default`.
pub fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

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

/// What a file-based benchmark binary was asked to do.
pub enum Mode {
    /// `--make DIR`: write the benchmark's input files into DIR.
    Make(std::path::PathBuf),
    /// `[--iters N] DIR`: time on the files in DIR, median of `iters` runs.
    Time {
        dir: std::path::PathBuf,
        iters: usize,
    },
    /// `--help` was printed.
    Help,
}

/// Parses `NAME --make DIR | NAME [--iters N] DIR` (the arguments after the program name).
pub fn parse_mode(name: &str, args: &[String], default_iters: usize) -> anyhow::Result<Mode> {
    use anyhow::Context;
    let usage = format!("usage: {name} --make DIR | {name} [--iters N] DIR");
    let (mut iters, mut make, mut dir) = (default_iters, None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--make" => make = Some(it.next().context("--make needs a folder")?.into()),
            "--iters" => {
                let v = it.next().context("--iters needs a number")?;
                iters = v
                    .parse()
                    .with_context(|| format!("--iters {v:?} is not a number"))?;
            }
            "-h" | "--help" => {
                println!("{usage}");
                return Ok(Mode::Help);
            }
            other if !other.starts_with('-') => dir = Some(other.into()),
            other => anyhow::bail!("unknown argument {other:?}; {usage}"),
        }
    }
    match (make, dir) {
        (Some(d), _) => Ok(Mode::Make(d)),
        (None, Some(dir)) => Ok(Mode::Time { dir, iters }),
        (None, None) => anyhow::bail!("{usage}"),
    }
}
