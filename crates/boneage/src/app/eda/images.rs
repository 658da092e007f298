//! The image pass of the EDA: quality of every image, the flagged-image contact sheet and
//! the image sections of the report.

use super::*;

/// What the image pass learns about one image.
pub(crate) struct ImageRow {
    pub(crate) id: String,
    pub(crate) path: PathBuf,
    pub(crate) result: Result<(Radiograph, QualityReport, GrayImage, HandMask), String>,
}

/// Longest side of the thumbnails in the flagged-image contact sheet.
pub(crate) const THUMB: usize = 160;

pub(crate) fn analyse_images(ds: &Dataset, jobs: &JobsFlag) -> anyhow::Result<Vec<ImageRow>> {
    let pool = jobs.pool()?;
    let pb = progress::bar(ds.samples.len() as u64, "images");
    let cfg = QualityConfig::default();
    let rows = pool.install(|| {
        ds.samples
            .par_iter()
            .map(|s| {
                let path = s.image.clone().expect("images resolved before analysis");
                let result = boneage_imaging::read_radiograph(&path)
                    .map(|r| {
                        let (q, hand) = assess_with_hand(&r.image, &cfg);
                        let (w, h) = r.image.fit_within(THUMB, THUMB);
                        let thumb = r.image.resize(w, h);
                        (r, q, thumb, hand)
                    })
                    .map_err(|e| e.to_string());
                pb.inc(1);
                ImageRow {
                    id: s.id.clone(),
                    path,
                    result,
                }
            })
            .collect::<Vec<_>>()
    });
    pb.finish_and_clear();
    Ok(rows)
}

pub(crate) fn write_quality_csv(path: &Path, rows: &[ImageRow]) -> anyhow::Result<()> {
    let mut s = String::from(
        "id,path,width,height,bit_depth,photometric,mean,sd,p01,p50,p99,hand_area_fraction,\
         border_bright_fraction,marker_components,rotation_deg,flags,error\n",
    );
    let q = |v: &str| {
        if v.contains([',', '"', '\n']) {
            format!("\"{}\"", v.replace('"', "\"\""))
        } else {
            v.to_string()
        }
    };
    for r in rows {
        match &r.result {
            Ok((rad, qr, _, _)) => {
                let flags: Vec<&str> = qr.flags.iter().map(|f| f.name()).collect();
                let _ = writeln!(
                    s,
                    "{},{},{},{},{},{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{},{},{},",
                    q(&r.id),
                    q(&r.path.display().to_string()),
                    rad.image.width,
                    rad.image.height,
                    rad.meta.bit_depth,
                    serde_json::to_value(rad.meta.photometric)?
                        .as_str()
                        .unwrap_or(""),
                    qr.mean,
                    qr.sd,
                    qr.p01,
                    qr.p50,
                    qr.p99,
                    qr.hand_area_fraction,
                    qr.border_bright_fraction,
                    qr.marker_components,
                    qr.rotation_deg
                        .map(|d| format!("{d:.1}"))
                        .unwrap_or_default(),
                    flags.join(";"),
                );
            }
            Err(e) => {
                let _ = writeln!(
                    s,
                    "{},{},,,,,,,,,,,,,,unreadable,{}",
                    q(&r.id),
                    q(&r.path.display().to_string()),
                    q(e)
                );
            }
        }
    }
    write_atomic(path, s.as_bytes()).with_context(|| format!("{}: cannot write", path.display()))
}

/// Flags worth a look in the contact sheet: everything but `markers` and `collimation` (both
/// on most radiographs, and removed by segmentation).
pub(crate) fn is_flagged(q: &QualityReport) -> bool {
    q.flags
        .iter()
        .any(|f| !matches!(f, QualityFlag::Markers | QualityFlag::Collimation))
}

/// Writes a contact sheet: the flagged images first (framed in red), then, up to 100 images
/// in all, the others, so the sheet also shows what the check saw on good images. The hand
/// outline found is drawn in green, marker boxes in yellow. Returns how many were flagged.
pub(crate) fn write_contact_sheet(path: &Path, rows: &[ImageRow]) -> anyhow::Result<usize> {
    let mut ok: Vec<_> = rows
        .iter()
        .filter_map(|r| {
            r.result
                .as_ref()
                .ok()
                .map(|(rad, q, t, hand)| (q, t, rad, hand))
        })
        .collect();
    let n_flagged = ok.iter().filter(|x| is_flagged(x.0)).count();
    ok.sort_by_key(|x| !is_flagged(x.0));
    let limit = if n_flagged > 100 {
        n_flagged.min(200)
    } else {
        100
    };
    let shown = &ok[..ok.len().min(limit)];
    if shown.is_empty() {
        return Ok(0);
    }
    let tiles: Vec<Tile> = shown
        .iter()
        .map(|(q, thumb, rad, hand)| Tile {
            thumb: (*thumb).clone(),
            source_size: (rad.image.width, rad.image.height),
            outline: Some((
                Mask::from_vec(hand.width, hand.height, hand.mask.clone()),
                sheet::GREEN,
            )),
            boxes: q.marker_boxes.iter().map(|b| (*b, sheet::YELLOW)).collect(),
            frame: is_flagged(q).then_some(sheet::RED),
            caption: String::new(),
            heat: None,
        })
        .collect();
    sheet::write_sheet(path, &tiles, THUMB, 10)?;
    Ok(n_flagged)
}

pub(crate) fn image_json(rows: &[ImageRow], flagged: usize) -> serde_json::Value {
    let ok: Vec<(&Radiograph, &QualityReport)> = rows
        .iter()
        .filter_map(|r| r.result.as_ref().ok().map(|(a, b, _, _)| (a, b)))
        .collect();
    let mut sizes: BTreeMap<String, usize> = BTreeMap::new();
    let mut depths: BTreeMap<String, usize> = BTreeMap::new();
    let mut flags: BTreeMap<&str, usize> = QualityFlag::ALL.iter().map(|f| (f.name(), 0)).collect();
    for (r, q) in &ok {
        *sizes
            .entry(format!("{}x{}", r.image.width, r.image.height))
            .or_default() += 1;
        *depths.entry(r.meta.bit_depth.to_string()).or_default() += 1;
        for f in &q.flags {
            *flags.get_mut(f.name()).expect("all flags listed") += 1;
        }
    }
    let means: Vec<f64> = ok.iter().map(|(_, q)| q.mean as f64).collect();
    let rot: Vec<f64> = ok.iter().filter_map(|(_, q)| q.rotation_deg).collect();
    serde_json::json!({
        "n": rows.len(),
        "unreadable": rows.len() - ok.len(),
        "flagged": flagged,
        "sizes": sizes,
        "bit_depths": depths,
        "flag_counts": flags,
        "mean_intensity": Summary::of(&means),
        "rotation_deg": if rot.is_empty() { serde_json::Value::Null } else { serde_json::to_value(Summary::of(&rot)).unwrap_or_default() },
    })
}

pub(crate) fn image_sections(
    page: &mut Page,
    rows: &[ImageRow],
    flagged: usize,
) -> anyhow::Result<String> {
    let ok: Vec<(&ImageRow, &Radiograph, &QualityReport)> = rows
        .iter()
        .filter_map(|r| r.result.as_ref().ok().map(|(a, b, _, _)| (r, a, b)))
        .collect();
    let mut text = String::new();
    page.h2("Images");
    let mut sizes: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    let mut depths: BTreeMap<(u8, String), usize> = BTreeMap::new();
    for (_, r, _) in &ok {
        *sizes.entry((r.image.width, r.image.height)).or_default() += 1;
        let ph = serde_json::to_value(r.meta.photometric)?
            .as_str()
            .unwrap_or("")
            .to_string();
        *depths.entry((r.meta.bit_depth, ph)).or_default() += 1;
    }
    page.table(
        &["size (w x h)", "images"],
        &sizes
            .iter()
            .map(|((w, h), n)| vec![format!("{w} x {h}"), n.to_string()])
            .collect::<Vec<_>>(),
    );
    page.table(
        &["bit depth", "photometric", "images"],
        &depths
            .iter()
            .map(|((d, p), n)| vec![d.to_string(), p.clone(), n.to_string()])
            .collect::<Vec<_>>(),
    );
    let col = |f: &dyn Fn(&QualityReport) -> f32| -> Vec<f64> {
        ok.iter().map(|(_, _, q)| f(q) as f64).collect()
    };
    let stat_row = |name: &str, v: Vec<f64>| {
        let s = Summary::of(&v);
        vec![
            name.to_string(),
            format!("{:.3}", s.mean),
            format!("{:.3}", s.sd),
            format!("{:.3}", s.min),
            format!("{:.3}", s.median),
            format!("{:.3}", s.max),
        ]
    };
    page.p(
        "Intensity statistics per image (values in [0, 1], bone bright), summarised over images:",
    );
    page.table(
        &["per-image value", "mean", "SD", "min", "median", "max"],
        &[
            stat_row("mean intensity", col(&|q| q.mean)),
            stat_row("SD of intensity", col(&|q| q.sd)),
            stat_row("1st percentile", col(&|q| q.p01)),
            stat_row("median", col(&|q| q.p50)),
            stat_row("99th percentile", col(&|q| q.p99)),
            stat_row("hand area fraction", col(&|q| q.hand_area_fraction)),
        ],
    );
    page.h2("Quality flags");
    let mut counts: BTreeMap<QualityFlag, usize> = BTreeMap::new();
    for (_, _, q) in &ok {
        for f in &q.flags {
            *counts.entry(*f).or_default() += 1;
        }
    }
    let unreadable = rows.len() - ok.len();
    let mut flag_rows: Vec<Vec<String>> = QualityFlag::ALL
        .iter()
        .map(|f| {
            vec![
                f.name().to_string(),
                counts.get(f).copied().unwrap_or(0).to_string(),
            ]
        })
        .collect();
    flag_rows.push(vec!["unreadable".into(), unreadable.to_string()]);
    page.table(&["flag", "images"], &flag_rows);
    page.p(
        "too_dark: 99th percentile below 0.35; too_bright: 5th percentile above 0.5; \
         low_contrast: 1st–99th percentile range below 0.3; likely_inverted: the commonest grey \
         (air) is brighter than the middle of the image (palm); markers: very bright blobs \
         outside the hand (lead letters, labels); collimation: thin bright strips along the \
         border; rotated: the hand's long axis more than 20° from vertical (estimate from the \
         hand outline's second moments).",
    );
    let _ = writeln!(
        text,
        "  images: {} read, {} unreadable, {} flagged (besides markers); flags: {}",
        ok.len(),
        unreadable,
        flagged,
        counts
            .iter()
            .map(|(f, n)| format!("{f} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    page.raw(&format!(
        "<p>Contact sheet (<code>flagged.png</code>): {}. Flagged images come first, framed in red; \
         the hand outline found is drawn in green, marker boxes in yellow.</p>\
         <img src=\"flagged.png\" style=\"max-width:100%\" alt=\"contact sheet\">",
        if flagged > 0 { format!("{flagged} flagged image(s)") } else { "no image flagged besides markers and collimation".into() }
    ));
    page.h2("Per image");
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| match &r.result {
            Ok((rad, q, _, _)) => vec![
                r.id.clone(),
                format!("{}x{}", rad.image.width, rad.image.height),
                rad.meta.bit_depth.to_string(),
                format!("{:.2}", q.mean),
                format!("{:.2}–{:.2}", q.p01, q.p99),
                q.rotation_deg
                    .map(|d| format!("{d:+.0}°"))
                    .unwrap_or_else(|| "–".into()),
                q.marker_components.to_string(),
                q.flags
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(" "),
            ],
            Err(e) => vec![
                r.id.clone(),
                "".into(),
                "".into(),
                "".into(),
                "".into(),
                "".into(),
                "".into(),
                format!("unreadable: {e}"),
            ],
        })
        .take(500)
        .collect();
    page.table(
        &[
            "id",
            "size",
            "bits",
            "mean",
            "p01–p99",
            "rotation",
            "markers",
            "flags",
        ],
        &table_rows,
    );
    if rows.len() > 500 {
        page.p(&format!(
            "First 500 of {} images; all are in quality.csv.",
            rows.len()
        ));
    }
    Ok(text)
}
