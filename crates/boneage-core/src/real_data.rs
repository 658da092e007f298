//! Where the real radiographs used by tests and model builds are found.
//!
//! The repository ships no real radiograph (RSNA's terms: research use). Tests and build
//! scripts that need real films look for them in one place: the folder named by the
//! environment variable `BONEAGE_REAL_DATA`, by default `../shared/data` beside the repository
//! (holding `rsna-sample/`, `rsna-900/`, `rsna-labels/`). When it is missing, a test skips its
//! real-data part and says so; with `BONEAGE_REQUIRE_REAL_DATA=1` (what CI sets) a missing
//! folder is a failure instead.

use std::path::PathBuf;

/// Environment variable naming the real-data folder.
pub const ENV_DIR: &str = "BONEAGE_REAL_DATA";
/// Environment variable that turns a missing real-data folder into a failure.
pub const ENV_REQUIRE: &str = "BONEAGE_REQUIRE_REAL_DATA";

/// The real-data folder: `$BONEAGE_REAL_DATA`, else `../shared/data` beside the repository.
pub fn dir() -> PathBuf {
    match std::env::var_os(ENV_DIR) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    }
}

/// Whether a missing real-data folder must fail (`BONEAGE_REQUIRE_REAL_DATA` set to anything
/// but empty or `0`).
pub fn required() -> bool {
    std::env::var(ENV_REQUIRE).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// For tests: `sub` inside the real-data folder (e.g. `rsna-sample/images`) when it exists.
/// When it does not, prints that `what` is skipped and why and returns `None` — or panics
/// when [`required`].
pub fn for_test(sub: &str, what: &str) -> Option<PathBuf> {
    let p = dir().join(sub);
    if p.exists() {
        return Some(p);
    }
    let msg = format!(
        "real data {} not found ({ENV_DIR} or ../shared/data beside the repository)",
        p.display()
    );
    if required() {
        panic!("{msg}, and {ENV_REQUIRE} is set: {what} must run");
    }
    eprintln!("SKIPPED {what}: {msg}");
    println!("SKIPPED {what}: {msg}");
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_folder_is_skipped_or_required() {
        // Only the pure part: a sub-folder that cannot exist is reported missing.
        if required() {
            let r = std::panic::catch_unwind(|| for_test("no-such-folder-here", "this check"));
            assert!(r.is_err());
        } else {
            assert!(for_test("no-such-folder-here", "this check").is_none());
        }
    }
}
