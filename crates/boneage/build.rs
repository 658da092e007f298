//! Embeds libtorch's folder (when built with the `torch` feature) as an rpath in the `boneage`
//! binary and its tests, so they run without LD_LIBRARY_PATH; lists the default model bundle's
//! files (models/bundle/, made by scripts/build-bundle.sh) for `include_bytes!`.
use std::path::{Path, PathBuf};

fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, root, out);
        } else if let Ok(rel) = p.strip_prefix(root) {
            out.push((rel.to_string_lossy().replace('\\', "/"), p.clone()));
        }
    }
}

fn main() {
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let bundle = manifest_dir.join("../../models/bundle");
    println!("cargo:rerun-if-changed={}", bundle.display());
    let mut files = Vec::new();
    walk(&bundle, &bundle, &mut files);
    for (_, p) in &files {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    let mut code = String::from("/// Files of models/bundle/ at build time (path inside the bundle, bytes).\npub const BUNDLE_FILES: &[(&str, &[u8])] = &[\n");
    for (rel, p) in &files {
        code.push_str(&format!(
            "    ({rel:?}, include_bytes!({:?})),\n",
            p.display().to_string()
        ));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("bundle_files.rs");
    std::fs::write(out, code).unwrap();
}
