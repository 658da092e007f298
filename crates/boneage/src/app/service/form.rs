//! The assessment request's multipart form: its fields read and checked, the client's file
//! name reduced to a label.

use super::api::error;
use crate::app::flags::AgeFlags;
use axum::extract::Multipart;
use axum::http::StatusCode;
use axum::response::Response;

/// A client's file name reduced to a harmless label (never used as a path).
pub(super) fn upload_label(name: Option<&str>) -> String {
    let base = name
        .and_then(|n| n.rsplit(['/', '\\']).next())
        .unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(100)
        .collect();
    if clean.trim_matches('.').is_empty() {
        "upload".into()
    } else {
        clean
    }
}

/// The fields of an assessment request, as sent.
#[derive(Default)]
pub(super) struct Form {
    /// The image's label ([`upload_label`]) and bytes.
    pub image: Option<(String, Vec<u8>)>,
    /// `sex`, as sent.
    pub sex: Option<String>,
    /// `chronological_age_months`, or `birth_date` and `study_date`.
    pub age: AgeFlags,
    /// `tta`, as sent.
    pub tta: Option<String>,
    /// `saliency`, as sent.
    pub saliency: Option<String>,
}

/// Reads an assessment request's multipart form: the image (at most `limit` bytes) and the
/// text fields; an unknown or unreadable field is a 400 answer, an image over the limit a 413.
pub(super) async fn read_form(mut multipart: Multipart, limit: usize) -> Result<Form, Response> {
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the upload is larger than {} bytes", limit),
        )
    };
    let mut form = Form::default();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("cannot read the form: {}", e.body_text()),
                ))
            }
        };
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().map(str::to_string);
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("cannot read form field `{name}`: {}", e.body_text()),
                ))
            }
        };
        if name == "image" {
            if bytes.len() > limit {
                return Err(too_large());
            }
            form.image = Some((upload_label(file_name.as_deref()), bytes.to_vec()));
            continue;
        }
        let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("form field `{name}` is not text"),
            )
        })?;
        let text = text.trim().to_string();
        if text.is_empty() {
            continue;
        }
        match name.as_str() {
            "sex" => form.sex = Some(text),
            "chronological_age_months" => {
                form.age.chronological_age_months = Some(text.parse().map_err(|_| {
                    error(
                        StatusCode::BAD_REQUEST,
                        "bad_request",
                        format!("chronological_age_months: `{text}` is not a number"),
                    )
                })?)
            }
            "birth_date" => form.age.birth_date = Some(text),
            "study_date" => form.age.study_date = Some(text),
            "tta" => form.tta = Some(text),
            "saliency" => form.saliency = Some(text),
            other => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!(
                        "unknown form field `{}` (image, sex, chronological_age_months, \
                         birth_date, study_date, tta, saliency)",
                        upload_label(Some(other))
                    ),
                ))
            }
        }
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_names_become_harmless_labels() {
        assert_eq!(upload_label(Some("hand.png")), "hand.png");
        assert_eq!(upload_label(Some("../../etc/passwd")), "passwd");
        assert_eq!(upload_label(Some("C:\\films\\a b.dcm")), "ab.dcm");
        assert_eq!(upload_label(Some("..")), "upload");
        assert_eq!(upload_label(None), "upload");
        assert_eq!(upload_label(Some(&"x".repeat(500))).len(), 100);
    }
}
