//! The answer about one assessed radiograph as JSON: what `boneage predict` prints (one line per
//! image) and what `boneage serve` answers to `POST /v1/assess`, built in one place so that
//! both give the same fields and numbers.

use boneage_pipeline::saliency::RegionSaliency;
use boneage_pipeline::{Assessment, Pipeline};

/// The JSON answer for the radiograph labelled `image` (its path, or an upload's name), assessed
/// as `a`, with the occlusion maps `saliency` when they were asked for (else empty).
pub fn assessment_json(
    image: &str,
    a: &Assessment,
    pipeline: &Pipeline,
    saliency: &[RegionSaliency],
) -> serde_json::Value {
    let (bundle, t) = (&pipeline.bundle, a.timings);
    let round2 = |v: f64| (v * 100.0).round() / 100.0;
    let mut obj = serde_json::json!({
        "image": image,
        "status": a.status(),
        "sex": a.patient.sex.letter(),
        "warnings": a.warnings(),
        "hand_scores": a.verdict.scores.map(|s| serde_json::json!({
            "shape": round2(s.shape), "look": round2(s.look),
            "fine_detail": a.verdict.fine_detail.map(|d| (d * 1000.0).round() / 1000.0),
        })),
        "bundle": bundle.manifest.id,
        "notice": bundle.manifest.notice,
        "trained_on": bundle.manifest.trained_on,
        "bundle_valid_mae_months": round2(bundle.manifest.ensemble.valid_mae_months),
        "bundle_test_mae_months": bundle.manifest.test.as_ref().map(|t| round2(t.ensemble.overall.mae_months)),
        "seconds": {
            "read": round3(t.read),
            "segment_keypoints": round3(t.front),
            "regions": round3(t.regions),
            "nets": round3(t.nets),
            "total": round3(t.read + t.front + t.regions + t.nets),
        },
    });
    let extend = |obj: &mut serde_json::Value, fields: serde_json::Value| {
        if let (Some(o), Some(f)) = (obj.as_object_mut(), fields.as_object()) {
            o.extend(f.clone());
        }
    };
    if let Some(kp) = a.analysis.as_ref().map(|x| x.registration) {
        extend(
            &mut obj,
            serde_json::json!({
                "keypoints": kp.keypoints.map(|k| [round2(k[0]), round2(k[1])]),
                "thumb_residual_px": round2(kp.thumb_residual),
                "mirrored": kp.mirrored,
            }),
        );
    }
    if !saliency.is_empty() {
        let maps: serde_json::Map<String, serde_json::Value> = saliency
            .iter()
            .map(|m| {
                let grid: Vec<Vec<f64>> = m
                    .months
                    .data
                    .chunks(m.months.width)
                    .map(|row| row.iter().map(|&v| round2(v as f64)).collect())
                    .collect();
                (
                    m.region.name().to_string(),
                    serde_json::json!({
                        "base_months": round2(m.base_months),
                        "max_months": round2(m.max_months()),
                        "grid_months": grid,
                    }),
                )
            })
            .collect();
        extend(&mut obj, serde_json::json!({ "saliency": maps }));
    }
    let Some(p) = &a.prediction else {
        // Rejected by the quality gate: the reasons, no bone age.
        extend(
            &mut obj,
            serde_json::json!({ "reasons": a.verdict.rejection_reasons() }),
        );
        return obj;
    };
    extend(
        &mut obj,
        serde_json::json!({
            "bone_age_months": round2(p.bone_age_months),
            "bone_age_years": round2(p.bone_age_months / 12.0),
            "spread_months": round2(p.spread_months),
            "by_region": p.by_region.iter().map(|(k, v)| (k.clone(), round2(*v))).collect::<std::collections::BTreeMap<_, _>>(),
            "by_head": p.by_head.iter().map(|(k, v)| (k.clone(), round2(*v))).collect::<std::collections::BTreeMap<_, _>>(),
            "members": p.members.iter().map(|m| serde_json::json!({
                "name": m.name, "region": m.region, "head": m.head,
                "bone_age_months": round2(m.bone_age_months),
                "tta_sd_months": round2(m.tta_sd_months), "weight": m.weight,
            })).collect::<Vec<_>>(),
            "tta": p.tta,
            "interval_months": p.interval_months.map(|[lo, hi]| [round2(lo), round2(hi)]),
        }),
    );
    if let Some(c) = &a.reading {
        // Stage 9: the bone age against the chronological age.
        let round = |v: Option<f64>| v.map(round2);
        let fields = serde_json::json!({
            "chronological_age_months": round2(c.chronological_age_months),
            "bone_age_minus_chronological_months": round2(c.bone_age_minus_chronological_months),
            "sds": c.sds.map(|v| (v * 1000.0).round() / 1000.0),
            "reading": c.reading,
            "reference": c.reference,
            "reference_mean_months": round(c.reference_mean_months),
            "reference_sd_months": round(c.reference_sd_months),
            "reading_unavailable": c.unavailable,
        });
        extend(&mut obj, fields);
    }
    obj
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
