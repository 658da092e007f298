//! Helpers shared by the command-line tests: run the built binary, paths as arguments, stderr
//! as text.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs the `boneage` binary built for these tests.
pub fn boneage(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_boneage"))
        .args(args)
        .output()
        .expect("the boneage binary runs")
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
