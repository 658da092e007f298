//! Label statistics: the keys the seed's EDA reports, by sex and by stage, and their report
//! sections.

use super::*;

/// Label statistics: the keys the seed's EDA reports.
#[derive(Debug, Serialize)]
pub struct LabelSummary {
    pub n: usize,
    pub male_fraction: f64,
    pub divisible_by_6_fraction: f64,
    pub divisible_by_12_fraction: f64,
    pub min_months: f64,
    pub max_months: f64,
    pub mean_months: f64,
    pub sd_months: f64,
    pub median_months: f64,
    pub baseline_mae_months: f64,
}

impl LabelSummary {
    pub fn of(samples: &[Sample]) -> LabelSummary {
        let ages: Vec<f64> = samples.iter().map(|s| s.bone_age_months).collect();
        let n = ages.len();
        let divisible = |k: f64| {
            ages.iter()
                .filter(|a| a.fract() == 0.0 && (*a % k) == 0.0)
                .count() as f64
                / n as f64
        };
        let s = Summary::of(&ages);
        LabelSummary {
            n,
            male_fraction: samples.iter().filter(|s| s.sex.is_male()).count() as f64 / n as f64,
            divisible_by_6_fraction: divisible(6.0),
            divisible_by_12_fraction: divisible(12.0),
            min_months: s.min,
            max_months: s.max,
            mean_months: s.mean,
            sd_months: s.sd,
            median_months: s.median,
            baseline_mae_months: stats::mean_predictor_mae(&ages),
        }
    }
}

pub(crate) fn by_sex_json(samples: &[Sample]) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for sex in [Sex::Male, Sex::Female] {
        let ages: Vec<f64> = samples
            .iter()
            .filter(|s| s.sex == sex)
            .map(|s| s.bone_age_months)
            .collect();
        if ages.is_empty() {
            continue;
        }
        out.insert(
            sex.to_string(),
            serde_json::json!({
                "n": ages.len(),
                "mean_months": stats::mean(&ages),
                "sd_months": stats::sd(&ages),
                "baseline_mae_months": stats::mean_predictor_mae(&ages),
            }),
        );
    }
    serde_json::Value::Object(out)
}

pub(crate) fn stage_counts(samples: &[Sample]) -> BTreeMap<Stage, [usize; 2]> {
    let mut m: BTreeMap<Stage, [usize; 2]> = Stage::ALL.iter().map(|s| (*s, [0, 0])).collect();
    for s in samples {
        m.get_mut(&Stage::of(s.sex, s.bone_age_months))
            .expect("all stages present")[s.sex.is_male() as usize] += 1;
    }
    m
}

pub(crate) fn by_stage_json(samples: &[Sample]) -> serde_json::Value {
    let m: serde_json::Map<String, serde_json::Value> = stage_counts(samples)
        .into_iter()
        .map(|(st, [f, m])| {
            (
                serde_json::to_value(st)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
                serde_json::json!({"female": f, "male": m}),
            )
        })
        .collect();
    serde_json::Value::Object(m)
}

pub(crate) fn label_sections(
    page: &mut Page,
    ds: &Dataset,
    l: &LabelSummary,
) -> anyhow::Result<()> {
    page.p(&format!("Table {} ({}).", ds.path.display(), ds.format));
    let card = |label: &str, value: String| {
        format!(
            "<div class=\"card\"><div>{}</div><div class=\"num\">{}</div></div>",
            esc(label),
            esc(&value)
        )
    };
    page.raw(&format!(
        "<div class=\"cards\">{}{}{}{}{}</div>",
        card("radiographs", l.n.to_string()),
        card("boys", format!("{:.2}%", 100.0 * l.male_fraction)),
        card("mean bone age", format!("{:.1} mo", l.mean_months)),
        card("SD", format!("{:.1} mo", l.sd_months)),
        card("baseline MAE", format!("{:.2} mo", l.baseline_mae_months)),
    ));
    page.h2("Bone age");
    page.table(
        &["statistic", "value"],
        &[
            vec!["n".into(), l.n.to_string()],
            vec![
                "range (months)".into(),
                format!("{} – {}", l.min_months, l.max_months),
            ],
            vec!["mean (months)".into(), format!("{:.2}", l.mean_months)],
            vec!["SD (months)".into(), format!("{:.2}", l.sd_months)],
            vec!["median (months)".into(), format!("{:.1}", l.median_months)],
            vec![
                "ages divisible by 6".into(),
                format!("{:.2}%", 100.0 * l.divisible_by_6_fraction),
            ],
            vec![
                "ages divisible by 12".into(),
                format!("{:.2}%", 100.0 * l.divisible_by_12_fraction),
            ],
            vec![
                "baseline MAE (predict the mean)".into(),
                format!("{:.2} months", l.baseline_mae_months),
            ],
        ],
    );
    page.p(
        "Readers report bone age mostly in half-year steps, so most labels are multiples of 6 \
         months; a model's resolution finer than that is partly below the label noise.",
    );
    // Histogram by sex, 12-month bins up to 20 years (older ages fall into the last bin).
    let bins = 20;
    let hist = |sex: Sex| -> Vec<f64> {
        let ages: Vec<f64> = ds
            .samples
            .iter()
            .filter(|s| s.sex == sex)
            .map(|s| s.bone_age_months)
            .collect();
        stats::histogram(&ages, 0.0, 12.0, bins)
            .into_iter()
            .map(|c| c as f64)
            .collect()
    };
    let (m, f) = (hist(Sex::Male), hist(Sex::Female));
    let labels: Vec<String> = (0..bins).map(|i| format!("{i}–{}", i + 1)).collect();
    let svg = bar_chart_svg(
        "Bone age by sex",
        "bone age (years)",
        "radiographs",
        &labels,
        &[
            Series {
                name: "boys",
                color: MALE_COLOR,
                values: &m,
            },
            Series {
                name: "girls",
                color: FEMALE_COLOR,
                values: &f,
            },
        ],
        (900, 380),
    )?;
    page.figure(
        &svg,
        "Histogram of bone age in 12-month bins, boys and girls side by side.",
    );
    let nm = ds.samples.iter().filter(|s| s.sex.is_male()).count() as f64;
    let nf = ds.samples.len() as f64 - nm;
    let svg = bar_chart_svg(
        "Sex ratio",
        "",
        "radiographs",
        &["boys".into(), "girls".into()],
        &[Series {
            name: "n",
            color: GREY_COLOR,
            values: &[nm, nf],
        }],
        (360, 300),
    )?;
    page.figure(
        &svg,
        &format!(
            "{:.2}% boys, {:.2}% girls.",
            100.0 * nm / ds.samples.len() as f64,
            100.0 * nf / ds.samples.len() as f64
        ),
    );
    page.h2("Development stages");
    let rows: Vec<Vec<String>> = stage_counts(&ds.samples)
        .into_iter()
        .map(|(st, [f, m])| vec![st.to_string(), m.to_string(), f.to_string()])
        .collect();
    page.table(
        &["stage (Gilsanz & Ratib, by bone age)", "boys", "girls"],
        &rows,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_summary_on_a_small_table() {
        let ds = Dataset::parse(
            Path::new("t.csv"),
            b"id,boneage,male\n1,6,True\n2,12,False\n3,13,True\n4,24.5,False\n",
        )
        .unwrap();
        let l = LabelSummary::of(&ds.samples);
        assert_eq!(l.n, 4);
        assert_eq!(l.male_fraction, 0.5);
        assert_eq!(l.divisible_by_6_fraction, 0.5);
        assert_eq!(l.divisible_by_12_fraction, 0.25);
        assert_eq!((l.min_months, l.max_months), (6.0, 24.5));
        assert!((l.mean_months - 13.875).abs() < 1e-12);
    }
}
