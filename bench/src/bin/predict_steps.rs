//! Where the time of one full prediction goes: each step of `boneage predict` on one
//! radiograph with a model bundle, median milliseconds over repeated runs, 2 threads.
//!
//! Usage: predict_steps --bundle DIR --image FILE [--iters N] [--tta N]

use boneage_bench::{arg, median_seconds};
use boneage_imaging::clahe::ClaheConfig;
use boneage_imaging::mask::{MaskLimits, MaskScore};
use boneage_imaging::registration::to_canonical;
use boneage_nn::bundle::Bundle;
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
    let seg = &bundle.segmentation;
    out.push((
        "probability (U-Net, back to full size)",
        ms(&mut || {
            seg.probability(&img);
        }),
    ));
    let mask = seg.mask(&img);
    out.push((
        "mask (probability + threshold + clean)",
        ms(&mut || {
            seg.mask(&img);
        }),
    ));
    let cl = ClaheConfig::default();
    out.push((
        "hand image (inversion check, CLAHE, mask)",
        ms(&mut || {
            boneage_imaging::segment::hand_image(&img, &mask, &cl);
        }),
    ));
    let hand = boneage_imaging::segment::hand_image(&img, &mask, &cl);
    let limits = MaskLimits::default();
    out.push((
        "mask plausibility score",
        ms(&mut || {
            MaskScore::compute(&img, &mask, None, &limits);
        }),
    ));
    out.push((
        "keypoints",
        ms(&mut || {
            bundle.keypoints.predict(&hand);
        }),
    ));
    let kp = bundle.keypoints.predict(&hand);
    let _ = to_canonical(&kp);
    let a = bundle.analyse(&img)?;
    out.push((
        "analyse (all of the above)",
        ms(&mut || {
            bundle.analyse(&img).unwrap();
        }),
    ));
    out.push((
        "region views",
        ms(&mut || {
            bundle.region_views(&a, tta, 0);
        }),
    ));
    let views = bundle.region_views(&a, tta, 0);
    out.push((
        "member nets + ensemble",
        ms(&mut || {
            bundle.predict_views(&views, boneage_core::Sex::Male);
        }),
    ));
    let obj: serde_json::Map<String, serde_json::Value> = out
        .into_iter()
        .map(|(k, v)| (k.to_string(), serde_json::json!((v * 10.0).round() / 10.0)))
        .collect();
    println!("{}", serde_json::to_string_pretty(&obj)?);
    Ok(())
}
