//! Where the time of one full prediction goes: each step of `boneage predict` on one
//! radiograph with a model bundle, median milliseconds over repeated runs, 2 threads.
//!
//! Usage: predict_steps --bundle DIR --image FILE [--iters N] [--tta N]

use boneage_bench::{arg, median_seconds};
use boneage_nn::bundle::Bundle;
use boneage_pipeline::Pipeline;
use tch::Device;

fn main() -> anyhow::Result<()> {
    tch::set_num_threads(arg("--threads", "2").parse()?);
    let iters: usize = arg("--iters", "7").parse()?;
    let tta: usize = arg("--tta", "1").parse()?;
    let bundle = Bundle::load(
        std::path::Path::new(&arg("--bundle", "models/bundle")),
        Device::Cpu,
    )?;
    let path = std::path::PathBuf::from(arg("--image", ""));
    let img = boneage_imaging::read_radiograph(&path)?.image;
    let ms = |f: &mut dyn FnMut()| 1000.0 * median_seconds(iters, f);
    let mut out = Vec::new();
    out.push((
        "read",
        ms(&mut || {
            boneage_imaging::read_radiograph(&path).unwrap();
        }),
    ));
    let pipeline = Pipeline::new(bundle).with_tta(tta);
    let front = pipeline.front();
    out.push((
        "probability (U-Net, back to full size)",
        ms(&mut || {
            front.segmentation.probability(&img);
        }),
    ));
    out.push((
        "segment (probability + threshold + clean)",
        ms(&mut || {
            front.segment(&img);
        }),
    ));
    let mask = front.segment(&img);
    out.push((
        "enhance (inversion check, CLAHE, mask)",
        ms(&mut || {
            front.enhance(&img, &mask);
        }),
    ));
    out.push((
        "  of which the inversion check",
        ms(&mut || {
            boneage_imaging::segment::inverted_around(&img, &mask);
        }),
    ));
    let hand = front.enhance(&img, &mask);
    out.push((
        "mask plausibility score",
        ms(&mut || {
            boneage_pipeline::front::mask_score(&img, &mask);
        }),
    ));
    out.push((
        "keypoints + register (mirror check)",
        ms(&mut || {
            front.register(&hand).unwrap();
        }),
    ));
    out.push((
        "front half (all of the above)",
        ms(&mut || {
            front.analyse(&img).unwrap();
        }),
    ));
    let a = front.analyse(&img)?;
    out.push((
        "quality gate (before and after the front half)",
        ms(&mut || {
            let mut v = pipeline.gate.check_image(&img);
            pipeline.gate.check_front(&img, &a, &mut v);
        }),
    ));
    out.push((
        "region views",
        ms(&mut || {
            pipeline.cut_regions(&a, tta);
        }),
    ));
    let views = pipeline.cut_regions(&a, tta);
    out.push((
        "member nets + ensemble",
        ms(&mut || {
            pipeline.estimate(&views, boneage_core::Sex::Male);
        }),
    ));
    let obj: serde_json::Map<String, serde_json::Value> = out
        .into_iter()
        .map(|(k, v)| (k.to_string(), serde_json::json!((v * 10.0).round() / 10.0)))
        .collect();
    println!("{}", serde_json::to_string_pretty(&obj)?);
    Ok(())
}
