//! The clinical report of one assessed radiograph, as a self-contained HTML page and an A4 PDF:
//! patient and study fields, the result (bone age with its 95% interval, chronological age,
//! difference, SDS and reading against the Greulich–Pyle/Brush reference), the growth chart,
//! the radiograph with mask outline, keypoints and regions, the occlusion maps, the per-region
//! and per-net estimates, warnings, the bundle and its notice. A film the quality gate rejects
//! gets a report that says so, with the reasons and no bone age. `boneage report` writes them
//! to files; `boneage serve` answers them over HTTP.

use crate::app::debug::{pictures, stem_of, Pictures};
use crate::app::growth_chart::GrowthChart;
use crate::app::pdf::{self, Document};
use crate::report::{esc, Page};
use boneage_core::reference::Reading;
use boneage_core::Sex;
use boneage_imaging::io::Radiograph;
use boneage_pipeline::saliency::RegionSaliency;
use boneage_pipeline::{Assessment, Given, Pipeline};
use std::path::Path;

/// A rendered report.
pub struct Rendered {
    /// One line: the bone age, SDS and reading, or "rejected by the quality gate".
    pub headline: String,
    /// The self-contained HTML page (pictures inlined).
    pub html: String,
    /// The A4 PDF (two pages).
    pub pdf: Vec<u8>,
    /// The radiograph with mask outline and keypoints, the registered hand with its regions
    /// and the regions, as one PNG.
    pub overview_png: Vec<u8>,
    /// The growth chart (SVG), when the chronological age is known and a bone age was read.
    pub chart_svg: Option<String>,
}

/// The report of radiograph `path` (named by it; the file is not read again), assessed as `a`
/// with the occlusion maps `saliency` (`Pipeline::explain`, may be empty).
pub fn render(
    path: &Path,
    r: &Radiograph,
    a: &Assessment,
    pipeline: &Pipeline,
    given: Given,
    saliency: &[RegionSaliency],
) -> anyhow::Result<Rendered> {
    let pics = pictures(path, &r.image, a, saliency);
    let facts = Facts::of(path, r, a, pipeline, given);
    let chart = GrowthChart::new(
        &pipeline.reference,
        a.patient.sex,
        match (a.patient.chronological_age_months, &a.prediction) {
            (Some(c), Some(p)) => Some((c, p.bone_age_months, p.interval_months)),
            _ => None,
        },
    );
    let chart_svg = (!facts.result.is_empty()).then(|| chart.svg(560.0, 420.0));
    // Encoded once, for the page and for whoever asks for the picture alone.
    let overview_png = pics.overview.png_bytes()?;
    Ok(Rendered {
        html: html(&facts, &chart, &pics, &overview_png)?.html(),
        pdf: pdf_bytes(&facts, &chart, &pics),
        overview_png,
        chart_svg,
        headline: facts.headline,
    })
}

/// What a report says, once, for both the HTML page and the PDF.
struct Facts {
    title: String,
    notice: String,
    /// One line: the bone age and reading, or "rejected".
    headline: String,
    patient: Vec<(String, String)>,
    /// The result lines (empty for a rejected film).
    result: Vec<(String, String)>,
    rejected: Vec<String>,
    regions: Vec<(String, String)>,
    members: Vec<[String; 4]>,
    warnings: Vec<String>,
    bundle: Vec<(String, String)>,
}

fn months_years(m: f64) -> String {
    format!("{m:.1} months ({:.1} years)", m / 12.0)
}

impl Facts {
    fn of(path: &Path, r: &Radiograph, a: &Assessment, p: &Pipeline, given: Given) -> Facts {
        let m = &p.bundle.manifest;
        let sex_source = if given.sex.is_some() {
            "given"
        } else {
            "file header"
        };
        let mut patient = vec![
            ("Radiograph".to_string(), path.display().to_string()),
            (
                "Image".into(),
                format!(
                    "{} {}x{}, {} bits",
                    r.meta.format, r.image.width, r.image.height, r.meta.bit_depth
                ),
            ),
            (
                "Sex".into(),
                format!(
                    "{} ({sex_source})",
                    match a.patient.sex {
                        Sex::Male => "male",
                        Sex::Female => "female",
                    }
                ),
            ),
        ];
        if let Some(s) = r.meta.pixel_spacing_mm {
            patient.push((
                "Pixel spacing".into(),
                format!("{:.3} x {:.3} mm", s[0], s[1]),
            ));
        }
        patient.push((
            "Chronological age".into(),
            match a.patient.chronological_age_months {
                Some(c) => format!(
                    "{} ({})",
                    months_years(c),
                    if given.chronological_age_months.is_some() {
                        "given"
                    } else {
                        "file header"
                    }
                ),
                None => "not known (no SDS or reading)".into(),
            },
        ));
        let mut result = Vec::new();
        let mut regions = Vec::new();
        let mut members = Vec::new();
        let headline;
        if let Some(pr) = &a.prediction {
            result.push(("Bone age".to_string(), months_years(pr.bone_age_months)));
            if let Some([lo, hi]) = pr.interval_months {
                result.push(("95% interval".into(), format!("{lo:.1} to {hi:.1} months")));
            }
            result.push((
                "Spread of the nets".into(),
                format!("SD {:.1} months", pr.spread_months),
            ));
            let mut head = format!("bone age {:.1} months", pr.bone_age_months);
            if let Some(c) = &a.reading {
                result.push((
                    "Bone age minus chronological age".into(),
                    format!("{:+.1} months", c.bone_age_minus_chronological_months),
                ));
                match (c.sds, c.reading) {
                    (Some(s), Some(rd)) => {
                        let word = match rd {
                            Reading::Delayed => "delayed (SDS below -2)",
                            Reading::Normal => "normal (SDS within +/-2)",
                            Reading::Advanced => "advanced (SDS above +2)",
                        };
                        result.push(("SDS".into(), format!("{s:+.2}")));
                        result.push(("Reading".into(), word.into()));
                        if let (Some(mean), Some(sd)) =
                            (c.reference_mean_months, c.reference_sd_months)
                        {
                            result.push((
                                "Reference at this age".into(),
                                format!("mean {mean:.1}, SD {sd:.1} months ({})", c.reference),
                            ));
                        }
                        head.push_str(&format!(
                            ", SDS {s:+.2}, {}",
                            word.split(' ').next().unwrap_or("")
                        ));
                    }
                    _ => result.push((
                        "SDS".into(),
                        c.unavailable
                            .clone()
                            .unwrap_or_else(|| "not available".into()),
                    )),
                }
            }
            headline = head;
            for (k, v) in &pr.by_region {
                let what = match k.as_str() {
                    "A" => "A, whole hand",
                    "B" => "B, carpals + distal radius",
                    "C" => "C, metacarpals + phalanges",
                    other => other,
                };
                regions.push((what.to_string(), format!("{v:.1} months")));
            }
            for (k, v) in &pr.by_head {
                regions.push((format!("{k} nets"), format!("{v:.1} months")));
            }
            for mv in &pr.members {
                members.push([
                    mv.name.clone(),
                    mv.region.clone(),
                    format!("{:.1}", mv.bone_age_months),
                    format!("{:.3}", mv.weight),
                ]);
            }
        } else {
            headline = "rejected by the quality gate".into();
        }
        let bundle = vec![
            ("Bundle".to_string(), m.id.clone()),
            ("Trained on".into(), m.trained_on.clone()),
            (
                "Validation / test MAE".into(),
                format!(
                    "{:.2} / {} months",
                    m.ensemble.valid_mae_months,
                    m.test.as_ref().map_or("-".into(), |t| format!(
                        "{:.2}",
                        t.ensemble.overall.mae_months
                    ))
                ),
            ),
        ];
        Facts {
            title: format!("Bone age report: {}", stem_of(path)),
            notice: m.notice.clone(),
            headline,
            patient,
            result,
            rejected: a.verdict.rejection_reasons(),
            regions,
            members,
            warnings: a.warnings(),
            bundle,
        }
    }
}

fn png_data_uri(c: &crate::sheet::Canvas) -> anyhow::Result<String> {
    Ok(format!("data:image/png;base64,{}", base64(&c.png_bytes()?)))
}

/// Standard base64 (RFC 4648) of `bytes`.
fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(T[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn pairs_table(page: &mut Page, rows: &[(String, String)]) {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(k, v)| vec![k.clone(), v.clone()])
        .collect();
    page.table(&["", ""], &rows);
}

fn html(
    f: &Facts,
    chart: &GrowthChart,
    pics: &Pictures,
    overview_png: &[u8],
) -> anyhow::Result<Page> {
    let mut page = Page::new(&f.title);
    page.raw(&format!("<p><b>{}</b></p>", esc(&f.notice)));
    page.h2("Patient and study");
    pairs_table(&mut page, &f.patient);
    page.h2("Result");
    if f.result.is_empty() {
        page.raw("<p><b>Rejected by the quality gate: no bone age.</b></p><ul>");
        for r in &f.rejected {
            page.raw(&format!("<li>{}</li>", esc(r)));
        }
        page.raw("</ul>");
    } else {
        pairs_table(&mut page, &f.result);
        page.figure(&chart.svg(560.0, 420.0), &chart.title);
    }
    page.h2("What the pipeline saw");
    let overview_uri = format!("data:image/png;base64,{}", base64(overview_png));
    page.raw(&format!(
        "<figure><img style=\"max-width:100%\" alt=\"radiograph with mask outline and keypoints, registered hand with regions, regions\" src=\"{}\"><figcaption>Radiograph with the hand mask's outline (green) and the keypoints (yellow); the hand registered into the canonical frame with regions A (green), B (red), C (blue); the regions as the nets see them.</figcaption></figure>",
        overview_uri
    ));
    if let Some(s) = &pics.saliency {
        page.raw(&format!(
            "<figure><img style=\"max-width:100%\" alt=\"occlusion maps\" src=\"{}\"><figcaption>Where the nets look: for each region, how far its estimate moves (orange, scaled per panel) when a cell of an 8x8 grid is hidden.</figcaption></figure>",
            png_data_uri(s)?
        ));
    }
    if !f.regions.is_empty() {
        page.h2("Estimates by region and by net");
        pairs_table(&mut page, &f.regions);
        let rows: Vec<Vec<String>> = f.members.iter().map(|m| m.to_vec()).collect();
        page.table(&["net", "region", "bone age (months)", "weight"], &rows);
    }
    page.h2("Warnings");
    if f.warnings.is_empty() {
        page.p("None.");
    } else {
        page.raw("<ul>");
        for w in &f.warnings {
            page.raw(&format!("<li>{}</li>", esc(w)));
        }
        page.raw("</ul>");
    }
    page.h2("Model");
    pairs_table(&mut page, &f.bundle);
    page.raw(&format!("<p><b>{}</b></p>", esc(&f.notice)));
    Ok(page)
}

fn pdf_bytes(f: &Facts, chart: &GrowthChart, pics: &Pictures) -> Vec<u8> {
    let mut doc = Document::default();
    let (w, h) = pdf::A4;
    let (left, right) = (50.0, w - 50.0);
    let page = doc.page();
    let mut y = h - 60.0;
    page.text(left, y, 17.0, true, &f.title);
    y -= 18.0;
    y = page.paragraph(left, y, right - left, 8.5, &f.notice) - 8.0;
    let section = |page: &mut pdf::Page, y: &mut f64, title: &str, rows: &[(String, String)]| {
        page.text(left, *y, 12.0, true, title);
        *y -= 16.0;
        for (k, v) in rows {
            page.text(left, *y, 9.5, true, k);
            *y = page.paragraph(left + 170.0, *y, right - left - 170.0, 9.5, v) - 2.0;
        }
        *y -= 8.0;
    };
    section(page, &mut y, "Patient and study", &f.patient);
    if f.result.is_empty() {
        page.text(
            left,
            y,
            12.0,
            true,
            "Rejected by the quality gate: no bone age",
        );
        y -= 16.0;
        for r in &f.rejected {
            y = page.paragraph(left, y, right - left, 9.5, &format!("- {r}")) - 2.0;
        }
    } else {
        section(page, &mut y, "Result", &f.result);
        let ch = (y - 60.0).min(330.0);
        if ch > 150.0 {
            page.text(left, y, 9.0, false, &chart.title);
            chart.pdf(
                &mut page.content,
                pdf::REGULAR,
                left,
                y - 10.0 - ch,
                ch * 1.33,
                ch,
            );
        }
    }
    let page = doc.page();
    let mut y = h - 60.0;
    page.text(left, y, 12.0, true, "What the pipeline saw");
    y -= 10.0;
    y -= page.picture(&pics.overview, left, y - 170.0, right - left, 170.0) + 14.0;
    y = page.paragraph(
        left,
        y,
        right - left,
        8.0,
        "Radiograph with the hand mask's outline (green) and keypoints (yellow); the registered hand with regions A (green), B (red), C (blue); the regions as the nets see them.",
    ) - 8.0;
    if let Some(s) = &pics.saliency {
        y -= page.picture(s, left, y - 180.0, right - left, 180.0) + 14.0;
        y = page.paragraph(
            left,
            y,
            right - left,
            8.0,
            "Where the nets look: how far each region's estimate moves (orange, scaled per panel) when a cell of an 8x8 grid is hidden.",
        ) - 8.0;
    }
    if !f.regions.is_empty() {
        section(page, &mut y, "Estimates by region and head", &f.regions);
    }
    page.text(left, y, 12.0, true, "Warnings");
    y -= 14.0;
    if f.warnings.is_empty() {
        page.text(left, y, 9.5, false, "None.");
        y -= 14.0;
    }
    for wn in &f.warnings {
        y = page.paragraph(left, y, right - left, 9.0, &format!("- {wn}")) - 2.0;
    }
    y -= 8.0;
    section(page, &mut y, "Model", &f.bundle);
    let _ = page.paragraph(left, y, right - left, 8.5, &f.notice);
    doc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_examples() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded);
        }
    }
}
