//! The stress test: clinical image variations (after the Radiology: AI stress test of the RSNA
//! 2017 winner) at graded strengths applied to labelled radiographs, each variant read by the
//! whole pipeline and compared with the reading of the unchanged film.
//!
//! Per variation: the mean and 95th percentile of the absolute change of the predicted age, the
//! signed mean change, the MAE against the reference, and the share the quality gate rejected.
//! A variation passes when the films still read changed by at most the tolerance on average
//! (6 months by default); films the gate turns away are not counted as changes: declining to
//! read a film is a safe answer, a moved answer is not.
//!
//! Writes `stress.json`, `stress.html` (the table) and `changes.csv` (one row per film and
//! variation), each atomically.

use crate::app::data::open_dataset;
use crate::app::models::share_cores_with_overlap;
use crate::progress;
use crate::report::{esc, Page};
use anyhow::Context;
use boneage_core::stats;
use boneage_imaging::io::write_atomic;
use boneage_imaging::spatial::{warp, Affine};
use boneage_imaging::{intensity, GrayImage, Radiograph};
use boneage_pipeline::{Given, Patient, Pipeline};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Mutex;

/// One image variation at one strength.
#[derive(Debug, Clone, PartialEq)]
pub struct Variation {
    /// The transform's name (`rotate`, `jpeg`, …).
    pub transform: &'static str,
    /// Its strength as shown in the table (`30°`, `quality 10`, …).
    pub strength: String,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Degrees, counter-clockwise; the canvas grows to hold the whole film.
    Rotate(f64),
    FlipHorizontal,
    FlipVertical,
    /// Added to every value (the image is in [0, 1]).
    Brightness(f32),
    /// Factor around the image mean.
    Contrast(f32),
    Gamma(f32),
    Invert,
    /// Gaussian noise, SD in units of the full range.
    Noise(f32),
    /// Gaussian blur, sigma as a fraction of the longer side.
    Blur(f32),
    /// Fewer pixels: the film shrunk by this factor.
    Downscale(f64),
    /// Detail lost: shrunk by this factor, then enlarged back to its size.
    Rescale(f64),
    /// This fraction cut from each side.
    Crop(f64),
    /// Lead markers (letters in a frame) added in this many corners.
    Markers(usize),
    /// Saved as JPEG at this quality and read back.
    Jpeg(u8),
}

/// The variations the stress test applies, in table order.
pub fn variations() -> Vec<Variation> {
    let v = |transform, strength: String, kind| Variation {
        transform,
        strength,
        kind,
    };
    let mut out = Vec::new();
    for d in [10.0, 30.0, 90.0, 180.0] {
        out.push(v("rotate", format!("{d}°"), Kind::Rotate(d)));
    }
    out.push(v("flip", "left-right".into(), Kind::FlipHorizontal));
    out.push(v("flip", "top-bottom".into(), Kind::FlipVertical));
    for b in [-0.2f32, -0.1, 0.1, 0.2] {
        out.push(v("brightness", format!("{b:+}"), Kind::Brightness(b)));
    }
    for c in [0.5f32, 0.75, 1.5] {
        out.push(v("contrast", format!("x{c}"), Kind::Contrast(c)));
    }
    for g in [0.5f32, 0.7, 1.5, 2.0] {
        out.push(v("gamma", format!("{g}"), Kind::Gamma(g)));
    }
    out.push(v("invert", "negative".into(), Kind::Invert));
    for n in [0.02f32, 0.05, 0.1] {
        out.push(v("noise", format!("SD {n}"), Kind::Noise(n)));
    }
    for b in [0.0025f32, 0.005, 0.01] {
        out.push(v(
            "blur",
            format!("sigma {}% of the side", b * 100.0),
            Kind::Blur(b),
        ));
    }
    for f in [0.5, 0.25] {
        out.push(v("downscale", format!("x{f}"), Kind::Downscale(f)));
    }
    for f in [0.5, 0.25] {
        out.push(v("resolution", format!("x{f} and back"), Kind::Rescale(f)));
    }
    for c in [0.05, 0.1, 0.2] {
        out.push(v(
            "crop",
            format!("{}% each side", c * 100.0),
            Kind::Crop(c),
        ));
    }
    for m in [1usize, 2, 4] {
        out.push(v("markers", format!("{m}"), Kind::Markers(m)));
    }
    for q in [75u8, 40, 10] {
        out.push(v("jpeg", format!("quality {q}"), Kind::Jpeg(q)));
    }
    out
}

/// The variations whose transform is named in `only` (all when empty); an unknown name is an
/// error listing the known ones.
pub fn select(only: &[String]) -> anyhow::Result<Vec<Variation>> {
    let all = variations();
    if only.is_empty() {
        return Ok(all);
    }
    let mut names: Vec<&str> = all.iter().map(|v| v.transform).collect();
    names.dedup();
    for o in only {
        anyhow::ensure!(
            names.contains(&o.as_str()),
            "--only {o}: no such transform (known: {})",
            names.join(", ")
        );
    }
    Ok(all
        .into_iter()
        .filter(|v| only.iter().any(|o| o == v.transform))
        .collect())
}

/// The median of the film's outermost rows and columns: the background a rotated film is
/// padded with.
fn border_value(img: &GrayImage) -> f32 {
    let (w, h) = (img.width, img.height);
    let mut v: Vec<f32> = (0..w)
        .flat_map(|x| [img.get(x, 0), img.get(x, h - 1)])
        .chain((0..h).flat_map(|y| [img.get(0, y), img.get(w - 1, y)]))
        .collect();
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

fn map_values(img: &GrayImage, f: impl Fn(f32) -> f32) -> GrayImage {
    GrayImage::from_vec(
        img.width,
        img.height,
        img.data.iter().map(|&v| f(v).clamp(0.0, 1.0)).collect(),
    )
}

/// Applies `v` to a film (values in [0, 1]); `seed` draws the noise.
pub fn apply(v: &Variation, img: &GrayImage, seed: u64) -> anyhow::Result<GrayImage> {
    let (w, h) = (img.width, img.height);
    Ok(match v.kind {
        Kind::Rotate(deg) => {
            let r = deg.to_radians();
            let (c, s) = (r.cos().abs(), r.sin().abs());
            let nw = ((w as f64 * c + h as f64 * s).round() as usize).max(1);
            let nh = ((w as f64 * s + h as f64 * c).round() as usize).max(1);
            let to_source = Affine::translate(w as f64 / 2.0, h as f64 / 2.0)
                .after(&Affine::rotate_deg(-deg))
                .after(&Affine::translate(-(nw as f64) / 2.0, -(nh as f64) / 2.0));
            warp(img, nw, nh, &to_source, border_value(img))
        }
        Kind::FlipHorizontal => {
            let mut out = img.clone();
            for row in out.data.chunks_mut(w) {
                row.reverse();
            }
            out
        }
        Kind::FlipVertical => {
            let data = img.data.chunks(w).rev().flatten().copied().collect();
            GrayImage::from_vec(w, h, data)
        }
        Kind::Brightness(b) => map_values(img, |x| x + b),
        Kind::Contrast(f) => {
            let mut out = img.clone();
            intensity::contrast(&mut out, f);
            map_values(&out, |x| x)
        }
        Kind::Gamma(g) => {
            let mut out = img.clone();
            intensity::gamma(&mut out, g);
            out
        }
        Kind::Invert => map_values(img, |x| 1.0 - x),
        Kind::Noise(sd) => {
            let mut rng = boneage_phantom::rng::image_rng(seed, 0x57e55);
            let mut noise = vec![0f32; img.data.len()];
            boneage_phantom::rng::fill_normal(&mut rng, &mut noise);
            let mut out = img.clone();
            intensity::add_noise(&mut out, noise.into_iter().map(|n| n * sd));
            map_values(&out, |x| x)
        }
        Kind::Blur(frac) => {
            let sigma = frac * w.max(h) as f32;
            let buf = image::ImageBuffer::<image::Luma<f32>, Vec<f32>>::from_raw(
                w as u32,
                h as u32,
                img.data.clone(),
            )
            .context("image buffer")?;
            let blurred = image::imageops::blur(&buf, sigma);
            GrayImage::from_vec(w, h, blurred.into_raw())
        }
        Kind::Downscale(f) => img.resize(
            ((w as f64 * f).round() as usize).max(1),
            ((h as f64 * f).round() as usize).max(1),
        ),
        Kind::Rescale(f) => img
            .resize(
                ((w as f64 * f).round() as usize).max(1),
                ((h as f64 * f).round() as usize).max(1),
            )
            .resize(w, h),
        Kind::Crop(frac) => {
            let (dx, dy) = (
                (w as f64 * frac).round() as usize,
                (h as f64 * frac).round() as usize,
            );
            let (nw, nh) = (w - 2 * dx, h - 2 * dy);
            let mut data = Vec::with_capacity(nw * nh);
            for y in dy..dy + nh {
                data.extend_from_slice(&img.data[y * w + dx..y * w + dx + nw]);
            }
            GrayImage::from_vec(nw, nh, data)
        }
        Kind::Markers(n) => {
            let mut out = img.clone();
            let cell = (w.min(h) / 80).max(1);
            let (mw, mh) = (cell * 12, cell * 11);
            let margin = cell * 3;
            let corners = [
                (w.saturating_sub(mw + margin), margin, "R"),
                (margin, margin, "L"),
                (
                    w.saturating_sub(mw + margin),
                    h.saturating_sub(mh + margin),
                    "PA",
                ),
                (margin, h.saturating_sub(mh + margin), "L"),
            ];
            for &(x0, y0, text) in corners.iter().take(n) {
                // A frame, and the letters in it, as bright as lead.
                for y in y0..(y0 + mh).min(h) {
                    for x in x0..(x0 + mw).min(w) {
                        let edge = y < y0 + cell
                            || y >= y0 + mh - cell
                            || x < x0 + cell
                            || x >= x0 + mw - cell;
                        if edge {
                            out.set(x, y, 1.0);
                        }
                    }
                }
                let tx = x0 + mw.saturating_sub(boneage_phantom::font::text_cells(text) * cell) / 2;
                let ty = y0 + mh.saturating_sub(7 * cell) / 2;
                boneage_phantom::font::draw_text(text, tx as isize, ty as isize, cell, w, h, |i| {
                    out.data[i] = 1.0
                });
            }
            out
        }
        Kind::Jpeg(q) => jpeg(img, q)?.image,
    })
}

/// Applies `v` to a radiograph: the pixels as [`apply`] changes them, with what the file
/// said about them; a JPEG variant is the film saved as a JPEG and read back, so the
/// pipeline sees the JPEG's own header (its quality) as it would a user's file.
pub fn apply_to_film(v: &Variation, r: &Radiograph, seed: u64) -> anyhow::Result<Radiograph> {
    Ok(match v.kind {
        Kind::Jpeg(q) => jpeg(&r.image, q)?,
        _ => Radiograph {
            image: apply(v, &r.image, seed)?,
            meta: r.meta.clone(),
        },
    })
}

/// `img` saved as an 8-bit JPEG of quality `q` and read back.
fn jpeg(img: &GrayImage, q: u8) -> anyhow::Result<Radiograph> {
    let bytes = boneage_imaging::io::encode_jpeg_gray8(img, q).context("JPEG encoding")?;
    Ok(boneage_imaging::io::decode_radiograph(
        Path::new("stress.jpg"),
        &bytes,
    )?)
}

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct VariationResult {
    pub transform: String,
    pub strength: String,
    /// Films whose unchanged version was read (the base of every figure here).
    pub n: usize,
    /// Of them, variants the quality gate rejected.
    pub rejected: usize,
    pub rejected_share: f64,
    /// Over the variants read: |variant − unchanged| in months.
    pub mean_abs_change_months: Option<f64>,
    pub p95_abs_change_months: Option<f64>,
    pub max_abs_change_months: Option<f64>,
    /// Signed mean change (a bias the variation introduces).
    pub mean_change_months: Option<f64>,
    /// MAE of the variants read against the reference, and of the same films unchanged.
    pub mae_months: Option<f64>,
    pub unchanged_mae_months: Option<f64>,
    /// Mean change within the tolerance, or every variant rejected.
    pub passes: bool,
    /// The first film under this variation, in `examples/`.
    pub example: String,
}

/// What `stress.json` holds.
#[derive(Debug, Clone, Serialize)]
pub struct StressReport {
    pub bundle: String,
    pub notice: String,
    pub data: String,
    pub films: usize,
    /// Unchanged films the gate rejected: left out of every row.
    pub unchanged_rejected: Vec<String>,
    pub unchanged_mae_months: f64,
    pub tolerance_months: f64,
    pub tta: usize,
    pub variations: Vec<VariationResult>,
    /// Every variation passes.
    pub all_pass: bool,
    pub seconds: f64,
}

/// One film's reading: the bone age, or the gate's reasons.
type Reading = Result<f64, String>;

/// Runs the stress test of `pipeline` on the labelled set `data` and writes it into `out`;
/// the example pictures of the first film fit in `example_size` pixels.
pub fn stress(
    pipeline: &Pipeline,
    data: &Path,
    images: Option<&Path>,
    out: &Path,
    chosen: &[Variation],
    limit: Option<usize>,
    tolerance: f64,
    example_size: usize,
) -> anyhow::Result<StressReport> {
    anyhow::ensure!(
        tolerance.is_finite() && tolerance > 0.0,
        "the tolerance must be a positive number of months, not {tolerance}"
    );
    let ds = open_dataset(data, images)?;
    let mut samples = ds.samples;
    if let Some(n) = limit {
        samples.truncate(n);
    }
    anyhow::ensure!(!samples.is_empty(), "{}: no images", data.display());
    for s in &samples {
        s.image
            .as_ref()
            .with_context(|| format!("{}: no image found for id {}", data.display(), s.id))?;
    }
    let started = std::time::Instant::now();
    let per_film = chosen.len() + 1;
    let bar = progress::bar((samples.len() * per_film) as u64, "stress");
    // The second thread reads each film and makes its variants; a read error stops it.
    let read_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let jobs =
        samples.iter().enumerate().flat_map(|(i, s)| {
            let path = s.image.clone().expect("checked above");
            let film = match boneage_imaging::read_radiograph(&path)
                .map_err(anyhow::Error::from)
                .and_then(|r| {
                    let patient = Patient::from_header(&r, Given::sex(Some(s.sex)))
                        .map_err(|e| e.in_file(&path))?;
                    Ok((r, patient))
                }) {
                Ok(f) => Some(f),
                Err(e) => {
                    *read_error.lock().expect("not poisoned") = Some(e);
                    None
                }
            };
            let read_error = &read_error;
            std::iter::once(None)
                .chain(chosen.iter().map(Some))
                .map_while(move |v| {
                    let (r, patient) = film.as_ref()?;
                    match v {
                        None => Some((r.clone(), *patient)),
                        Some(v) => match apply_to_film(v, r, i as u64) {
                            Ok(x) => Some((x, *patient)),
                            Err(e) => {
                                *read_error.lock().expect("not poisoned") = Some(e.context(
                                    format!("{}: {} {}", path.display(), v.transform, v.strength),
                                ));
                                None
                            }
                        },
                    }
                })
        });
    let mut readings: Vec<Reading> = Vec::with_capacity(samples.len() * per_film);
    let mut failure = None;
    share_cores_with_overlap();
    pipeline.assess_images(
        jobs.take_while(|_| read_error.lock().map(|e| e.is_none()).unwrap_or(false)),
        |result| match result {
            Ok(a) => {
                readings.push(
                    a.bone_age_months()
                        .ok_or_else(|| a.verdict.rejection_reasons().join("; ")),
                );
                bar.inc(1);
                true
            }
            Err(e) => {
                failure = Some(anyhow::Error::from(e));
                false
            }
        },
    );
    bar.finish_and_clear();
    if let Some(e) = read_error.into_inner().expect("not poisoned") {
        return Err(e);
    }
    if let Some(e) = failure {
        return Err(e);
    }
    anyhow::ensure!(
        readings.len() == samples.len() * per_film,
        "the stress run stopped early"
    );
    let mut unchanged_rejected = Vec::new();
    let mut rows_csv = String::from("id,transform,strength,reference_months,unchanged_months,variant_months,change_months,status\n");
    let mut results = Vec::new();
    let films: Vec<(usize, f64)> = samples
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match &readings[i * per_film] {
            Ok(a) => Some((i, *a)),
            Err(_) => {
                unchanged_rejected.push(s.id.clone());
                None
            }
        })
        .collect();
    let unchanged_mae = stats::mean(
        &films
            .iter()
            .map(|&(i, a)| (a - samples[i].bone_age_months).abs())
            .collect::<Vec<_>>(),
    );
    for (j, v) in chosen.iter().enumerate() {
        let mut changes = Vec::new();
        let mut errors = Vec::new();
        let mut unchanged_errors = Vec::new();
        let mut rejected = 0;
        for &(i, base) in &films {
            let s = &samples[i];
            match &readings[i * per_film + 1 + j] {
                Ok(a) => {
                    changes.push(a - base);
                    errors.push((a - s.bone_age_months).abs());
                    unchanged_errors.push((base - s.bone_age_months).abs());
                    let _ = writeln!(
                        rows_csv,
                        "{},{},{},{:.2},{:.2},{:.2},{:.2},ok",
                        csv_field(&s.id),
                        v.transform,
                        csv_field(&v.strength),
                        s.bone_age_months,
                        base,
                        a,
                        a - base
                    );
                }
                Err(_) => {
                    rejected += 1;
                    let _ = writeln!(
                        rows_csv,
                        "{},{},{},{:.2},{:.2},,,rejected",
                        csv_field(&s.id),
                        v.transform,
                        csv_field(&v.strength),
                        s.bone_age_months,
                        base
                    );
                }
            }
        }
        let abs: Vec<f64> = changes.iter().map(|c| c.abs()).collect();
        let some = |x: f64| (!abs.is_empty()).then_some(x);
        let mean_abs = some(stats::mean(&abs));
        results.push(VariationResult {
            transform: v.transform.into(),
            strength: v.strength.clone(),
            n: films.len(),
            rejected,
            rejected_share: rejected as f64 / films.len().max(1) as f64,
            mean_abs_change_months: mean_abs,
            p95_abs_change_months: some(stats::quantile(&abs, 0.95)),
            max_abs_change_months: some(abs.iter().copied().fold(0.0, f64::max)),
            mean_change_months: some(stats::mean(&changes)),
            mae_months: some(stats::mean(&errors)),
            unchanged_mae_months: some(stats::mean(&unchanged_errors)),
            passes: mean_abs.is_none_or(|m| m <= tolerance),
            example: example_name(j, v),
        });
    }
    let report = StressReport {
        bundle: pipeline.bundle.manifest.id.clone(),
        notice: pipeline.bundle.manifest.notice.clone(),
        data: data.display().to_string(),
        films: samples.len(),
        unchanged_rejected,
        unchanged_mae_months: unchanged_mae,
        tolerance_months: tolerance,
        tta: pipeline.tta,
        all_pass: results.iter().all(|r| r.passes),
        variations: results,
        seconds: started.elapsed().as_secs_f64(),
    };
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let w = |name: &str, bytes: &[u8]| {
        let p = out.join(name);
        write_atomic(&p, bytes).with_context(|| format!("{}: cannot write", p.display()))
    };
    // Every variation of the first film, to look at.
    let examples = out.join("examples");
    std::fs::create_dir_all(&examples)
        .with_context(|| format!("{}: cannot create", examples.display()))?;
    let first = boneage_imaging::read_radiograph(samples[0].image.as_ref().expect("checked"))?;
    for (j, v) in chosen.iter().enumerate() {
        let img = apply(v, &first.image, 0)?;
        let (tw, th) = if img.width.max(img.height) <= example_size {
            (img.width, img.height)
        } else {
            img.fit_within(example_size, example_size)
        };
        let small = if (tw, th) == (img.width, img.height) {
            img
        } else {
            img.resize(tw, th)
        };
        w(
            &format!("examples/{}", example_name(j, v)),
            &boneage_imaging::io::encode_png_gray8(tw, th, &small.to_u8()),
        )?;
    }
    w("changes.csv", rows_csv.as_bytes())?;
    w(
        "stress.json",
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    html(&report).write(&out.join("stress.html"))?;
    Ok(report)
}

/// The file name of variation `j`'s example picture.
fn example_name(j: usize, v: &Variation) -> String {
    let strength: String = v
        .strength
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{:02}-{}-{}.png", j + 1, v.transform, strength)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn html(r: &StressReport) -> Page {
    let mut page = Page::new("Bone age stress test");
    page.p(&format!(
        "Bundle {} ({}). {} films of {}; of them unchanged, {} rejected by the quality gate and left out. \
         Unchanged MAE {:.2} months. Each variation is read by the whole pipeline (TTA {}) and \
         compared with the reading of the same film unchanged; a variation passes when the \
         films still read moved by at most {} months on average (films the gate rejects are \
         not changes). {:.0} s.",
        esc(&r.bundle),
        esc(&r.notice),
        r.films,
        esc(&r.data),
        r.unchanged_rejected.len(),
        r.unchanged_mae_months,
        r.tta,
        r.tolerance_months,
        r.seconds
    ));
    let f = |v: Option<f64>| v.map_or("–".into(), |x| format!("{x:.2}"));
    let rows: Vec<Vec<String>> = r
        .variations
        .iter()
        .map(|v| {
            vec![
                format!(
                    "<img src=\"examples/{}\" alt=\"\" style=\"height:64px\">",
                    esc(&v.example)
                ),
                esc(&v.transform),
                esc(&v.strength),
                format!("{:.0}%", 100.0 * v.rejected_share),
                f(v.mean_abs_change_months),
                f(v.p95_abs_change_months),
                f(v.mean_change_months),
                f(v.mae_months),
                if v.passes {
                    "<span style=\"color:#1a7f37\">passes</span>".into()
                } else {
                    "<b style=\"color:#b42318\">over the tolerance</b>".into()
                },
            ]
        })
        .collect();
    page.raw_table(
        &[
            "first film",
            "transform",
            "strength",
            "rejected",
            "mean |change| (months)",
            "95th percentile |change|",
            "mean change",
            "MAE of the variants read",
            "verdict",
        ],
        &rows,
    );
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    fn film() -> GrayImage {
        let (w, h) = (60, 80);
        let data = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                if (20..40).contains(&x) && (10..70).contains(&y) {
                    0.8
                } else {
                    0.1 + 0.001 * x as f32
                }
            })
            .collect();
        GrayImage::from_vec(w, h, data)
    }

    fn by(transform: &str, strength: &str) -> Variation {
        variations()
            .into_iter()
            .find(|v| v.transform == transform && v.strength == strength)
            .unwrap_or_else(|| panic!("{transform} {strength}"))
    }

    #[test]
    fn every_variation_keeps_a_valid_film() {
        let img = film();
        for v in variations() {
            let out = apply(&v, &img, 1).unwrap();
            assert!(out.width > 0 && out.height > 0, "{v:?}");
            assert!(
                out.data
                    .iter()
                    .all(|x| x.is_finite() && (-0.01..=1.01).contains(x)),
                "{v:?}"
            );
        }
    }

    #[test]
    fn variations_do_what_they_say() {
        let img = film();
        let r90 = apply(&by("rotate", "90°"), &img, 0).unwrap();
        assert_eq!((r90.width, r90.height), (80, 60));
        let r180 = apply(&by("rotate", "180°"), &img, 0).unwrap();
        assert!((r180.get(5, 5) - img.get(54, 74)).abs() < 0.02);
        let fl = apply(&by("flip", "left-right"), &img, 0).unwrap();
        assert_eq!(fl.get(0, 3), img.get(59, 3));
        let fv = apply(&by("flip", "top-bottom"), &img, 0).unwrap();
        assert_eq!(fv.get(3, 0), img.get(3, 79));
        let inv = apply(&by("invert", "negative"), &img, 0).unwrap();
        assert!((inv.get(30, 30) - 0.2).abs() < 1e-6);
        let c = apply(&by("crop", "10% each side"), &img, 0).unwrap();
        assert_eq!((c.width, c.height), (48, 64));
        let d = apply(&by("downscale", "x0.5"), &img, 0).unwrap();
        assert_eq!((d.width, d.height), (30, 40));
        let m = apply(&by("markers", "4"), &img, 0).unwrap();
        let bright = |g: &GrayImage| g.data.iter().filter(|&&v| v >= 0.99).count();
        assert!(bright(&m) > bright(&img) + 40, "markers drawn");
        let j = apply(&by("jpeg", "quality 10"), &img, 0).unwrap();
        let err = stats::mean(
            &j.data
                .iter()
                .zip(&img.data)
                .map(|(a, b)| (a - b).abs() as f64)
                .collect::<Vec<_>>(),
        );
        assert!(err > 0.001 && err < 0.1, "JPEG error {err}");
        let n1 = apply(&by("noise", "SD 0.05"), &img, 1).unwrap();
        let n2 = apply(&by("noise", "SD 0.05"), &img, 1).unwrap();
        assert_eq!(n1.data, n2.data, "noise is seeded");
        let b = apply(&by("blur", "sigma 1% of the side"), &img, 0).unwrap();
        assert!(
            b.get(20, 40) < 0.8 && b.get(20, 40) > 0.1,
            "an edge is softened"
        );
    }

    #[test]
    fn select_names_the_known_transforms() {
        assert_eq!(select(&[]).unwrap().len(), variations().len());
        let j = select(&["jpeg".into(), "rotate".into()]).unwrap();
        assert_eq!(j.len(), 7);
        let e = select(&["sharpen".into()]).unwrap_err().to_string();
        assert!(e.contains("sharpen") && e.contains("jpeg"), "{e}");
    }
}
