//! Renders a contact sheet and a few full-size phantoms for looking at.
//!
//! `cargo run -p boneage-phantom --release --example sheet -- OUT_DIR [seed]`

use boneage_core::Sex;
use boneage_phantom::contact::{contact_sheet, ContactSheet};
use boneage_phantom::{generate_indexed, PhantomConfig, Subject};
use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().unwrap_or_else(|| "phantom-look".into()));
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    std::fs::create_dir_all(&out).unwrap();
    for clean in [false, true] {
        let sheet = contact_sheet(&ContactSheet {
            clean,
            seed,
            ..ContactSheet::default()
        })
        .unwrap();
        let name = if clean {
            "sheet_clean.png"
        } else {
            "sheet.png"
        };
        boneage_imaging::io::write_png_gray8(&out.join(name), &sheet).unwrap();
    }
    for (i, (ba, sex)) in [
        (12.0, Sex::Female),
        (55.0, Sex::Female),
        (96.0, Sex::Male),
        (138.0, Sex::Male),
        (168.0, Sex::Male),
        (200.0, Sex::Male),
    ]
    .into_iter()
    .enumerate()
    {
        let s = Subject {
            bone_age_months: ba,
            sex,
            chronological_age_months: ba,
        };
        let p = generate_indexed(seed, i as u64, &s, &PhantomConfig::with_size(500, 625)).unwrap();
        boneage_imaging::io::write_png_gray8(&out.join(format!("full_{i}_{ba}.png")), &p.image)
            .unwrap();
        let c = generate_indexed(seed, i as u64, &s, &PhantomConfig::clean(500, 625)).unwrap();
        boneage_imaging::io::write_png_gray8(&out.join(format!("clean_{i}_{ba}.png")), &c.image)
            .unwrap();
    }
}
