//! Encapsulated pixel data: codestream checks before the codecs, and RLE Lossless.

use super::*;

/// Decodes the first frame of encapsulated pixel data with `dicom-pixeldata`.
///
/// `dicom-pixeldata` re-reads the image attributes and refuses files whose window or rescale
/// attributes have mismatched multiplicities, or that lack attributes this reader defaults.
/// Those attributes have already been read (see [`GreyTransforms`]), so they are removed and
/// the validated layout is written back before decoding.
pub(super) fn decode_encapsulated(
    path: &Path,
    obj: &mut DicomFile,
    layout: &PixelLayout,
    ts_uid: &str,
    warnings: &mut Vec<String>,
) -> Result<Samples<'static>, ReadError> {
    for tag in [
        tags::RESCALE_INTERCEPT,
        tags::RESCALE_SLOPE,
        tags::WINDOW_CENTER,
        tags::WINDOW_WIDTH,
        tags::VOILUT_FUNCTION,
        tags::VOILUT_SEQUENCE,
    ] {
        obj.remove_element(tag);
    }
    let us = |tag: Tag, v: u32| {
        DataElement::new(
            tag,
            VR::US,
            PrimitiveValue::from(v.min(u16::MAX as u32) as u16),
        )
    };
    obj.put(us(tags::SAMPLES_PER_PIXEL, layout.samples_per_pixel as u32));
    obj.put(us(tags::BITS_ALLOCATED, layout.bits_allocated));
    obj.put(us(tags::BITS_STORED, layout.bits_stored));
    obj.put(us(tags::HIGH_BIT, layout.high_bit));
    obj.put(us(tags::PIXEL_REPRESENTATION, layout.signed as u32));
    obj.put(us(tags::PLANAR_CONFIGURATION, layout.planar as u32));
    obj.put(DataElement::new(
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        PrimitiveValue::from(layout.photometric.as_str()),
    ));
    if obj.get(tags::NUMBER_OF_FRAMES).is_some()
        && int_attr(obj, tags::NUMBER_OF_FRAMES).is_none_or(|f| f < 1)
    {
        obj.remove_element(tags::NUMBER_OF_FRAMES);
    }
    check_codestream_size(path, obj, layout)?;
    check_stream_end(path, obj, warnings)?;
    if ts_uid == RLE_LOSSLESS {
        // Decoded here rather than by dicom-pixeldata, whose RLE reader indexes past the end
        // of short segments instead of reporting them.
        return match obj.get(tags::PIXEL_DATA).map(|e| e.value()) {
            Some(DicomValue::PixelSequence(seq)) => match seq.fragments().first() {
                Some(fragment) => decode_rle_frame(path, fragment, layout),
                None => Err(ReadError::NoPixelData {
                    path: path.to_path_buf(),
                }),
            },
            _ => Err(ReadError::NoPixelData {
                path: path.to_path_buf(),
            }),
        };
    }

    let decoded = obj.decode_pixel_data_frame(0).map_err(|e| {
        let detail = error_chain(&e);
        let lower = detail.to_ascii_lowercase();
        if lower.contains("unsupported transfersyntax")
            || lower.contains("unsupported transfer syntax")
            || lower.contains("unknown transfer syntax")
        {
            unsupported_ts(path, ts_uid)
        } else if is_eof(&e) {
            ReadError::Truncated {
                path: path.to_path_buf(),
                format: SourceFormat::Dicom,
                detail,
            }
        } else {
            decode_error(
                path,
                format!(
                    "{} pixel data: {detail}",
                    transfer_syntax_name(ts_uid).unwrap_or(ts_uid)
                ),
            )
        }
    })?;
    let width = (layout.bits_allocated / 8) as usize;
    let n = layout.rows * layout.cols * layout.samples_per_pixel;
    let data = decoded.data();
    let end = data.len().min(n * width);
    Ok(samples_from_le_bytes(&data[..end], layout.bits_allocated))
}

/// What a codestream header says about the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CodestreamInfo {
    pub(super) width: usize,
    pub(super) height: usize,
    pub(super) components: usize,
    /// Bits per sample (JPEG `P`; JPEG 2000 first component's precision).
    pub(super) precision: u32,
}

/// Checks an encapsulated first fragment against the header before a codec sees it.
///
/// The `dicom-rs` codecs write the decoded image into a buffer sized from Rows × Columns ×
/// SamplesPerPixel × BitsAllocated and index into it without checks, so a codestream whose
/// size or component count disagrees with the header would make them panic (or silently
/// leave zeros). Such files are refused here with a clear message; an RLE header whose
/// segment table does not fit is refused for the same reason.
pub(super) fn check_codestream_size(
    path: &Path,
    obj: &InMemDicomObject,
    layout: &PixelLayout,
) -> Result<(), ReadError> {
    let Some(DicomValue::PixelSequence(seq)) = obj.get(tags::PIXEL_DATA).map(|e| e.value()) else {
        return Ok(());
    };
    let Some(first) = seq.fragments().iter().find(|f| !f.is_empty()) else {
        return Ok(());
    };
    let info = if first.starts_with(&[0xFF, 0xD8]) {
        jpeg_frame_size(first)
    } else if first.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        j2k_frame_size(first)
    } else {
        None
    };
    let Some(info) = info else { return Ok(()) };
    let bytes_needed = if info.precision > 8 { 2 } else { 1 };
    if (info.width, info.height) != (layout.cols, layout.rows) {
        return Err(decode_error(
            path,
            format!(
                "the compressed image is {}x{} but the header says Columns {} x Rows {}",
                info.width, info.height, layout.cols, layout.rows
            ),
        ));
    }
    if info.components != layout.samples_per_pixel {
        return Err(decode_error(
            path,
            format!(
                "the compressed image has {} component(s) but SamplesPerPixel is {}",
                info.components, layout.samples_per_pixel
            ),
        ));
    }
    if bytes_needed * 8 > layout.bits_allocated {
        return Err(decode_error(
            path,
            format!(
                "the compressed image has {}-bit samples but BitsAllocated is {}",
                info.precision, layout.bits_allocated
            ),
        ));
    }
    Ok(())
}

/// Checks that the first frame's JPEG or JPEG 2000 stream ends with its end marker (`FFD9`
/// for both, after DICOM's zero padding). JPEG decoders fill a cut-off stream with grey, which
/// would hide missing rows of the hand, so a JPEG without it is refused as truncated, as plain
/// JPEG files are. OpenJPEG decodes a cut-off JPEG 2000 stream at lower quality and some
/// writers omit the EOC marker, so for JPEG 2000 this is only a warning.
pub(super) fn check_stream_end(
    path: &Path,
    obj: &InMemDicomObject,
    warnings: &mut Vec<String>,
) -> Result<(), ReadError> {
    let Some(DicomValue::PixelSequence(seq)) = obj.get(tags::PIXEL_DATA).map(|e| e.value()) else {
        return Ok(());
    };
    let fragments = seq.fragments();
    let frames = int_attr(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1) as usize;
    // The fragment that ends frame 0: the only one, the first of one-per-frame, or the last
    // of a single frame split over several.
    let last = if fragments.len() == frames {
        fragments.first()
    } else if frames == 1 {
        fragments.last()
    } else {
        None
    };
    let (Some(first), Some(last)) = (fragments.first(), last) else {
        return Ok(());
    };
    let mut end = last.len();
    while end > 0 && last[end - 1] == 0 {
        end -= 1;
    }
    if last[..end].ends_with(&[0xFF, 0xD9]) {
        return Ok(());
    }
    if first.starts_with(&[0xFF, 0xD8]) {
        return Err(ReadError::Truncated {
            path: path.to_path_buf(),
            format: SourceFormat::Dicom,
            detail: "the JPEG stream of the first frame has no end-of-image marker (FFD9)"
                .to_string(),
        });
    }
    if first.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        warnings.push(format!(
            "{}: the JPEG 2000 codestream has no end-of-codestream marker (FFD9); it may be cut \
             short",
            path.display()
        ));
    }
    Ok(())
}

/// Size, components and precision from a JPEG stream's SOFn marker.
pub(super) fn jpeg_frame_size(data: &[u8]) -> Option<CodestreamInfo> {
    let mut i = 2;
    while i + 4 <= data.len() {
        if data[i] != 0xFF {
            return None;
        }
        let marker = data[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = u16::from_be_bytes([data[i + 2], data[i + 3]]) as usize;
        let is_sof = (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker);
        if is_sof {
            // P(1) Y(2) X(2) Nf(1)
            let seg = data.get(i + 4..i + 10)?;
            let height = u16::from_be_bytes([seg[1], seg[2]]) as usize;
            let width = u16::from_be_bytes([seg[3], seg[4]]) as usize;
            // A height of 0 means "given by a DNL marker later"; not checked.
            return (height > 0).then_some(CodestreamInfo {
                width,
                height,
                components: seg[5] as usize,
                precision: seg[0] as u32,
            });
        }
        if marker == 0xDA {
            return None;
        }
        i += 2 + len;
    }
    None
}

/// Size, components and precision from a JPEG 2000 codestream's SIZ marker.
pub(super) fn j2k_frame_size(data: &[u8]) -> Option<CodestreamInfo> {
    // FF4F FF51 Lsiz(2) Rsiz(2) Xsiz Ysiz XOsiz YOsiz XTsiz YTsiz XTOsiz YTOsiz Csiz(2) Ssiz…
    let siz = data.get(4..43)?;
    let rd = |o: usize| u32::from_be_bytes([siz[o], siz[o + 1], siz[o + 2], siz[o + 3]]) as usize;
    let (x, y, xo, yo) = (rd(4), rd(8), rd(12), rd(16));
    Some(CodestreamInfo {
        width: x.checked_sub(xo)?,
        height: y.checked_sub(yo)?,
        components: u16::from_be_bytes([siz[36], siz[37]]) as usize,
        precision: (siz[38] & 0x7F) as u32 + 1,
    })
}

/// Decodes one RLE Lossless frame (PS3.5 Annex G): a 64-byte header with the segment count
/// and offsets, then one PackBits segment per byte plane (most significant byte first, sample
/// by sample). Samples come back interleaved, like every other decoder's output.
pub(super) fn decode_rle_frame(
    path: &Path,
    fragment: &[u8],
    layout: &PixelLayout,
) -> Result<Samples<'static>, ReadError> {
    let bad = |what: String| decode_error(path, format!("bad RLE Lossless data: {what}"));
    if fragment.len() < 64 {
        return Err(bad(format!(
            "the frame is {} bytes, shorter than the 64-byte header",
            fragment.len()
        )));
    }
    let word = |i: usize| {
        u32::from_le_bytes([
            fragment[4 * i],
            fragment[4 * i + 1],
            fragment[4 * i + 2],
            fragment[4 * i + 3],
        ]) as usize
    };
    let segments = word(0);
    let bytes_per_sample = layout.bits_allocated as usize / 8;
    let expected = layout.samples_per_pixel * bytes_per_sample;
    if segments != expected {
        return Err(bad(format!(
            "{segments} segments, but {} sample(s) of {} bits need {expected}",
            layout.samples_per_pixel, layout.bits_allocated
        )));
    }
    let mut bounds = Vec::with_capacity(segments + 1);
    for i in 1..=segments {
        let off = word(i);
        let prev = bounds.last().copied().unwrap_or(64);
        if off < prev || off > fragment.len() {
            return Err(bad(format!(
                "segment {i} starts at byte {off}, outside {prev}..={}",
                fragment.len()
            )));
        }
        bounds.push(off);
    }
    bounds.push(fragment.len());

    let pixels = layout.rows * layout.cols;
    let mut planes: Vec<Vec<u8>> = Vec::with_capacity(segments);
    for i in 0..segments {
        let plane = unpack_bits(&fragment[bounds[i]..bounds[i + 1]], pixels);
        if plane.len() < pixels {
            return Err(ReadError::Truncated {
                path: path.to_path_buf(),
                format: SourceFormat::Dicom,
                detail: format!(
                    "RLE segment {} decodes to {} bytes; {}x{} pixels need {pixels}",
                    i + 1,
                    plane.len(),
                    layout.cols,
                    layout.rows
                ),
            });
        }
        planes.push(plane);
    }
    let spp = layout.samples_per_pixel;
    let n = pixels * spp;
    // Plane index of sample s, byte b (0 = most significant).
    let plane = |s: usize, b: usize| &planes[s * bytes_per_sample + b];
    Ok(match bytes_per_sample {
        1 => Samples::U8(Cow::Owned(
            (0..n).map(|i| plane(i % spp, 0)[i / spp]).collect(),
        )),
        2 => Samples::U16(Cow::Owned(
            (0..n)
                .map(|i| {
                    let (s, p) = (i % spp, i / spp);
                    u16::from_be_bytes([plane(s, 0)[p], plane(s, 1)[p]])
                })
                .collect(),
        )),
        _ => Samples::U32(Cow::Owned(
            (0..n)
                .map(|i| {
                    let (s, p) = (i % spp, i / spp);
                    u32::from_be_bytes([
                        plane(s, 0)[p],
                        plane(s, 1)[p],
                        plane(s, 2)[p],
                        plane(s, 3)[p],
                    ])
                })
                .collect(),
        )),
    })
}

/// PackBits decoding of one segment, stopping after `limit` bytes (a short result means the
/// segment ran out).
pub(super) fn unpack_bits(segment: &[u8], limit: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(limit);
    let mut i = 0;
    while i < segment.len() && out.len() < limit {
        let header = segment[i] as i8;
        i += 1;
        if header >= 0 {
            let end = (i + header as usize + 1).min(segment.len());
            out.extend_from_slice(&segment[i..end]);
            i = end;
        } else if header != -128 {
            let Some(&byte) = segment.get(i) else { break };
            i += 1;
            let run = (1 - header as isize) as usize;
            out.resize(out.len() + run, byte);
        }
    }
    out.truncate(limit);
    out
}

// ---------------------------------------------------------------------------------------------
// Grey pipeline
// ---------------------------------------------------------------------------------------------
