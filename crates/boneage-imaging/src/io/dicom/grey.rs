//! From stored values to `[0, 1]`: modality LUT or rescale, VOI window or LUT, MONOCHROME1,
//! and colour reduced to grey.

use super::*;

/// A lookup table from a LUT sequence item (modality or VOI).
#[derive(Debug, Clone)]
pub(super) struct Lut {
    pub(super) first_mapped: i64,
    pub(super) entries: Vec<f64>,
    /// Bits per entry from the descriptor (for scaling VOI output).
    pub(super) bits: u32,
}

impl Lut {
    /// Reads LUTDescriptor (0028,3002) and LUTData (0028,3006) from a sequence item.
    pub(super) fn from_item(item: &InMemDicomObject) -> Result<Lut, String> {
        let desc_el = item.get(tags::LUT_DESCRIPTOR).ok_or("no LUTDescriptor")?;
        let desc: Vec<i64> = desc_el
            .to_multi_int::<i64>()
            .map_err(|e| format!("unreadable LUTDescriptor: {e}"))?;
        if desc.len() != 3 {
            return Err(format!("LUTDescriptor has {} values, not 3", desc.len()));
        }
        if !(0..=65535).contains(&desc[0]) {
            return Err(format!(
                "LUTDescriptor entry count {} is out of range",
                desc[0]
            ));
        }
        let count = if desc[0] == 0 {
            65536
        } else {
            desc[0] as usize
        };
        let bits = desc[2].clamp(1, 16) as u32;
        let data_el = item.get(tags::LUT_DATA).ok_or("no LUTData")?;
        let entries: Vec<f64> = match data_el.value() {
            DicomValue::Primitive(PrimitiveValue::U16(v)) => v.iter().map(|&x| x as f64).collect(),
            DicomValue::Primitive(PrimitiveValue::I16(v)) => {
                v.iter().map(|&x| x as u16 as f64).collect()
            }
            DicomValue::Primitive(PrimitiveValue::U8(v)) => {
                if v.len() >= 2 * count {
                    v.chunks_exact(2)
                        .map(|b| u16::from_le_bytes([b[0], b[1]]) as f64)
                        .collect()
                } else {
                    v.iter().map(|&x| x as f64).collect()
                }
            }
            DicomValue::Primitive(p) => p
                .to_multi_int::<i64>()
                .map_err(|e| format!("unreadable LUTData: {e}"))?
                .into_iter()
                .map(|x| x as f64)
                .collect(),
            _ => return Err("LUTData is not a value".to_string()),
        };
        if entries.len() < count {
            return Err(format!(
                "LUTData has {} entries, the descriptor says {count}",
                entries.len()
            ));
        }
        let mut entries = entries;
        entries.truncate(count);
        Ok(Lut {
            first_mapped: desc[1],
            entries,
            bits,
        })
    }

    /// LUT output for input `x` (clamped to the first/last entry outside the table).
    pub(super) fn apply(&self, x: f64) -> f64 {
        let idx = (x.round() as i64).saturating_sub(self.first_mapped);
        let idx = idx.clamp(0, self.entries.len() as i64 - 1) as usize;
        self.entries[idx]
    }

    /// The first mapped value, read as signed when it was stored in a US field but the LUT's
    /// input can be negative (DICOM allows US or SS for it).
    pub(super) fn reinterpret_first_as_signed(&mut self) {
        if (32768..65536).contains(&self.first_mapped) {
            self.first_mapped -= 65536;
        }
    }
}

#[derive(Debug, Clone)]
pub(super) enum Modality {
    Rescale { slope: f64, intercept: f64 },
    Lut(Lut),
}

impl Modality {
    pub(super) fn apply(&self, v: f64) -> f64 {
        match self {
            Modality::Rescale { slope, intercept } => v * slope + intercept,
            Modality::Lut(lut) => lut.apply(v),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum VoiFunction {
    Linear,
    LinearExact,
    Sigmoid,
}

#[derive(Debug, Clone)]
pub(super) enum Voi {
    Window {
        center: f64,
        width: f64,
        function: VoiFunction,
    },
    Lut(Lut),
    /// Min..max of the frame's modality values to 0..1.
    FullRange,
}

impl Voi {
    /// VOI output in `[0, 1]` for a modality value. `lo`/`hi` are the frame's extremes (used
    /// by [`Voi::FullRange`] only).
    pub(super) fn apply(&self, x: f64, lo: f64, hi: f64) -> f64 {
        let y = match self {
            Voi::Window {
                center: c,
                width: w,
                function,
            } => match function {
                VoiFunction::Linear => {
                    // PS3.3 C.11.2.1.2.1; w >= 1 is checked when the window is read.
                    let below = c - 0.5 - (w - 1.0) / 2.0;
                    let above = c - 0.5 + (w - 1.0) / 2.0;
                    if x <= below {
                        0.0
                    } else if x > above {
                        1.0
                    } else {
                        (x - (c - 0.5)) / (w - 1.0) + 0.5
                    }
                }
                VoiFunction::LinearExact => (x - c) / w + 0.5,
                VoiFunction::Sigmoid => 1.0 / (1.0 + (-4.0 * (x - c) / w).exp()),
            },
            Voi::Lut(lut) => {
                let max = ((1u64 << lut.bits) - 1) as f64;
                let out = lut.apply(x);
                // Some writers put 16-bit values in a LUT that says 8 bits per entry.
                let max = if out > max { 65535.0 } else { max };
                out / max
            }
            Voi::FullRange => {
                if hi > lo {
                    (x - lo) / (hi - lo)
                } else {
                    0.0
                }
            }
        };
        y.clamp(0.0, 1.0)
    }
}

/// Modality and VOI transforms of a grey image, read from the header.
#[derive(Debug, Clone)]
pub(super) struct GreyTransforms {
    pub(super) modality: Modality,
    pub(super) voi: Voi,
}

impl GreyTransforms {
    pub(super) fn from_object(
        path: &Path,
        obj: &InMemDicomObject,
        warnings: &mut Vec<String>,
    ) -> GreyTransforms {
        let modality = Self::read_modality(path, obj, warnings);
        let voi = Self::read_voi(path, obj, warnings);
        GreyTransforms { modality, voi }
    }

    pub(super) fn read_modality(
        path: &Path,
        obj: &InMemDicomObject,
        warnings: &mut Vec<String>,
    ) -> Modality {
        if let Some(items) = obj.get(tags::MODALITY_LUT_SEQUENCE).and_then(|e| e.items()) {
            match items.first().map(Lut::from_item) {
                Some(Ok(lut)) => return Modality::Lut(lut),
                Some(Err(e)) => warnings.push(format!(
                    "{}: Modality LUT Sequence ignored ({e}); using RescaleSlope/Intercept",
                    path.display()
                )),
                None => {}
            }
        }
        let slope = floats_attr(obj, tags::RESCALE_SLOPE).map(|v| v[0]);
        let intercept = floats_attr(obj, tags::RESCALE_INTERCEPT).map(|v| v[0]);
        let slope = match slope {
            Some(s) if s.is_finite() && s != 0.0 => s,
            Some(s) => {
                warnings.push(format!(
                    "{}: RescaleSlope {s} ignored; using 1",
                    path.display()
                ));
                1.0
            }
            None => 1.0,
        };
        let intercept = match intercept {
            Some(i) if i.is_finite() => i,
            Some(i) => {
                warnings.push(format!(
                    "{}: RescaleIntercept {i} ignored; using 0",
                    path.display()
                ));
                0.0
            }
            None => 0.0,
        };
        Modality::Rescale { slope, intercept }
    }

    pub(super) fn read_voi(path: &Path, obj: &InMemDicomObject, warnings: &mut Vec<String>) -> Voi {
        let centers = floats_attr(obj, tags::WINDOW_CENTER);
        let widths = floats_attr(obj, tags::WINDOW_WIDTH);
        if let (Some(c), Some(w)) = (&centers, &widths) {
            let (center, width) = (c[0], w[0]);
            let function =
                match str_attr(obj, tags::VOILUT_FUNCTION).map(|s| s.to_ascii_uppercase()) {
                    None => VoiFunction::Linear,
                    Some(f) if f == "LINEAR" => VoiFunction::Linear,
                    Some(f) if f == "LINEAR_EXACT" => VoiFunction::LinearExact,
                    Some(f) if f == "SIGMOID" => VoiFunction::Sigmoid,
                    Some(f) => {
                        warnings.push(format!(
                            "{}: unknown VOI LUT Function {f}; using LINEAR",
                            path.display()
                        ));
                        VoiFunction::Linear
                    }
                };
            let min_width = if function == VoiFunction::Linear {
                1.0
            } else {
                f64::MIN_POSITIVE
            };
            if center.is_finite() && width.is_finite() && width >= min_width {
                return Voi::Window {
                    center,
                    width,
                    function,
                };
            }
            warnings.push(format!(
                "{}: window center {center} / width {width} is unusable; ignored",
                path.display()
            ));
        } else if centers.is_some() != widths.is_some() {
            warnings.push(format!(
                "{}: WindowCenter and WindowWidth must come together; window ignored",
                path.display()
            ));
        }
        if let Some(items) = obj.get(tags::VOILUT_SEQUENCE).and_then(|e| e.items()) {
            match items.first().map(Lut::from_item) {
                Some(Ok(lut)) => return Voi::Lut(lut),
                Some(Err(e)) => warnings.push(format!(
                    "{}: VOI LUT Sequence ignored ({e})",
                    path.display()
                )),
                None => {}
            }
        }
        Voi::FullRange
    }
}

/// Runs the grey pipeline over the first `n` samples: the affine fast path when it applies,
/// else the general one.
pub(super) fn grey_pixels(
    path: &Path,
    samples: &Samples<'_>,
    n: usize,
    layout: &PixelLayout,
    shift: u32,
    transforms: &GreyTransforms,
    warnings: &mut Vec<String>,
) -> Vec<f32> {
    affine_grey_pixels(path, samples, n, layout, shift, transforms, warnings)
        .unwrap_or_else(|| lut_grey_pixels(path, samples, n, layout, shift, transforms, warnings))
}

/// The general grey pipeline: any modality LUT, VOI function or LUT. Up to 16 stored bits,
/// every step is folded into one table indexed by the stored value; above that, each pixel is
/// computed in `f64`.
pub(super) fn lut_grey_pixels(
    path: &Path,
    samples: &Samples<'_>,
    n: usize,
    layout: &PixelLayout,
    shift: u32,
    transforms: &GreyTransforms,
    warnings: &mut Vec<String>,
) -> Vec<f32> {
    let bits = layout.bits_stored;
    let mask: u32 = if bits >= 32 {
        u32::MAX
    } else {
        (1u32 << bits) - 1
    };
    let signed = layout.signed;
    let stored = move |raw: u32| -> i64 {
        let v = (raw >> shift) & mask;
        if signed && bits < 64 && (v >> (bits - 1)) & 1 == 1 {
            v as i64 - (1i64 << bits)
        } else {
            v as i64
        }
    };
    let invert = layout.photometric == "MONOCHROME1";
    let mut modality = transforms.modality.clone();
    let mut voi = transforms.voi.clone();

    if bits <= 16 {
        // One table over every possible stored value: modality first, then (after the frame's
        // extremes are known) VOI and inversion.
        let size = 1usize << bits;
        let stored_of = |idx: usize| stored(((idx as u32) & mask) << shift);
        if signed {
            if let Modality::Lut(lut) = &mut modality {
                lut.reinterpret_first_as_signed();
            }
        }
        let mod_lut: Vec<f64> = (0..size)
            .map(|i| modality.apply(stored_of(i) as f64))
            .collect();
        if let Voi::Lut(lut) = &mut voi {
            if mod_lut.iter().any(|&m| m < 0.0) {
                lut.reinterpret_first_as_signed();
            }
        }
        let index = |raw: u32| ((raw >> shift) & mask) as usize;
        let (lo, hi) = if matches!(voi, Voi::FullRange) {
            frame_extremes(samples, n, |raw| mod_lut[index(raw)])
        } else {
            (0.0, 0.0)
        };
        if matches!(voi, Voi::FullRange) && hi <= lo {
            warnings.push(format!(
                "{}: every pixel has the same value; the image is uniform",
                path.display()
            ));
        }
        let lut: Vec<f32> = mod_lut
            .iter()
            .map(|&m| {
                let y = voi.apply(m, lo, hi);
                (if invert { 1.0 - y } else { y }) as f32
            })
            .collect();
        map_samples(samples, n, |raw| lut[index(raw)])
    } else {
        let value = |raw: u32| modality.apply(stored(raw) as f64);
        let (lo, hi) = if matches!(voi, Voi::FullRange) {
            frame_extremes(samples, n, value)
        } else {
            (0.0, 0.0)
        };
        if matches!(voi, Voi::FullRange) && hi <= lo {
            warnings.push(format!(
                "{}: every pixel has the same value; the image is uniform",
                path.display()
            ));
        }
        map_samples(samples, n, |raw| {
            let y = voi.apply(value(raw), lo, hi);
            (if invert { 1.0 - y } else { y }) as f32
        })
    }
}

/// The common case without tables: up to 16 stored bits, a linear rescale, and a full-range
/// or linear window VOI. The whole chain is then affine in the stored value (clamped to
/// `[0, 1]`), which the compiler vectorises; [`lut_grey_pixels`]' table look-ups cannot be.
/// Returns `None` when the case does not apply. Full range is computed on stored values
/// (`(v - min) / (max - min)`, flipped for a negative slope), which equals the range of the
/// rescaled values because the rescale is affine, and gives exactly 0 and 1 at the extremes.
pub(super) fn affine_grey_pixels(
    path: &Path,
    samples: &Samples<'_>,
    n: usize,
    layout: &PixelLayout,
    shift: u32,
    transforms: &GreyTransforms,
    warnings: &mut Vec<String>,
) -> Option<Vec<f32>> {
    let bits = layout.bits_stored;
    let Modality::Rescale { slope, intercept } = transforms.modality else {
        return None;
    };
    if bits > 16 {
        return None;
    }
    let mask = (1u32 << bits) - 1;
    let sext = 32 - bits;
    let signed = layout.signed;
    let stored = move |raw: u32| -> i32 {
        let v = ((raw >> shift) & mask) as i32;
        if signed {
            (v << sext) >> sext
        } else {
            v
        }
    };
    let invert = layout.photometric == "MONOCHROME1";
    let finish = move |y: f32| if invert { 1.0 - y } else { y };
    match transforms.voi {
        Voi::FullRange => {
            let (lo, hi) = stored_extremes(samples, n, stored);
            if hi <= lo {
                warnings.push(format!(
                    "{}: every pixel has the same value; the image is uniform",
                    path.display()
                ));
            }
            let span = (hi - lo).max(1) as f32;
            let (base, dir) = if slope > 0.0 { (lo, 1) } else { (hi, -1) };
            Some(map_samples(samples, n, move |raw| {
                finish((dir * (stored(raw) - base)) as f32 / span)
            }))
        }
        Voi::Window {
            center,
            width,
            function,
        } => {
            // y = (m - c') / w' + 0.5 with m = slope * v + intercept.
            let (c, w) = match function {
                VoiFunction::Linear if width > 1.0 => (center - 0.5, width - 1.0),
                VoiFunction::LinearExact => (center, width),
                _ => return None,
            };
            let a = (slope / w) as f32;
            let b = ((intercept - c) / w + 0.5) as f32;
            Some(map_samples(samples, n, move |raw| {
                finish((stored(raw) as f32 * a + b).clamp(0.0, 1.0))
            }))
        }
        Voi::Lut(_) => None,
    }
}

/// Minimum and maximum stored value over the first `n` samples.
pub(super) fn stored_extremes(
    samples: &Samples<'_>,
    n: usize,
    stored: impl Fn(u32) -> i32 + Copy,
) -> (i32, i32) {
    let fold = move |(lo, hi): (i32, i32), v: u32| {
        let x = stored(v);
        (lo.min(x), hi.max(x))
    };
    let init = (i32::MAX, i32::MIN);
    with_raw!(
        samples,
        n,
        |it| it.fold(init, fold),
        le16 | b | {
            let mut acc = init;
            le16_blocks(b, n, |blk| {
                acc = blk.iter().map(|&v| v as u32).fold(acc, fold)
            });
            acc
        }
    )
}

/// Minimum and maximum of `f(sample)` over the first `n` samples.
pub(super) fn frame_extremes(
    samples: &Samples<'_>,
    n: usize,
    f: impl Fn(u32) -> f64 + Copy,
) -> (f64, f64) {
    let fold = move |(lo, hi): (f64, f64), v: u32| {
        let m = f(v);
        (lo.min(m), hi.max(m))
    };
    let init = (f64::INFINITY, f64::NEG_INFINITY);
    with_raw!(
        samples,
        n,
        |it| it.fold(init, fold),
        le16 | b | {
            let mut acc = init;
            le16_blocks(b, n, |blk| {
                acc = blk.iter().map(|&v| v as u32).fold(acc, fold)
            });
            acc
        }
    )
}

/// `f(sample)` for the first `n` samples. `f` is taken by value into each loop (it is `Copy`)
/// so that its captures stay in registers and the loop vectorises.
pub(super) fn map_samples(
    samples: &Samples<'_>,
    n: usize,
    f: impl Fn(u32) -> f32 + Copy,
) -> Vec<f32> {
    with_raw!(
        samples,
        n,
        |it| it.map(f).collect(),
        le16 | b | {
            let mut out = Vec::with_capacity(n);
            le16_blocks(b, n, |blk| out.extend(blk.iter().map(|&v| f(v as u32))));
            out
        }
    )
}

// ---------------------------------------------------------------------------------------------
// Colour
// ---------------------------------------------------------------------------------------------

/// Reduces a three-sample frame to grey. The JPEG family decoders hand back RGB whatever the
/// stored photometric interpretation; native and RLE YBR_FULL data is converted here.
pub(super) fn colour_pixels(
    path: &Path,
    samples: &Samples<'_>,
    n: usize,
    layout: &PixelLayout,
    encapsulated: bool,
    ts_uid: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<f32>, ReadError> {
    let max = if layout.bits_stored >= 32 {
        u32::MAX as f32
    } else {
        ((1u64 << layout.bits_stored) - 1) as f32
    };
    let mask = if layout.bits_stored >= 32 {
        u32::MAX
    } else {
        (1u32 << layout.bits_stored) - 1
    };
    let pixels = layout.rows * layout.cols;
    // Interleave (R, G, B) per pixel, keeping the stored bits only.
    let mut rgb: Vec<f32> = Vec::with_capacity(n);
    for p in 0..pixels {
        for c in 0..3 {
            let i = if layout.planar && !encapsulated {
                c * pixels + p
            } else {
                3 * p + c
            };
            rgb.push((samples.get(i) & mask) as f32);
        }
    }
    let converted_by_codec = encapsulated && ts_uid != RLE_LOSSLESS;
    match layout.photometric.as_str() {
        "RGB" => {}
        "YBR_FULL" if !converted_by_codec => {
            let mid = (max + 1.0) / 2.0;
            for px in rgb.chunks_exact_mut(3) {
                let (y, cb, cr) = (px[0], px[1] - mid, px[2] - mid);
                px[0] = (y + 1.402 * cr).clamp(0.0, max);
                px[1] = (y - 0.344136 * cb - 0.714136 * cr).clamp(0.0, max);
                px[2] = (y + 1.772 * cb).clamp(0.0, max);
            }
        }
        _ if converted_by_codec => {}
        other => {
            return Err(unsupported_pixels(
                path,
                format!(
                    "{other} colour data in this transfer syntax (only RGB and YBR_FULL are read)"
                ),
            ))
        }
    }
    warnings.push(format!(
        "{}: colour DICOM ({}); reduced to grey",
        path.display(),
        layout.photometric
    ));
    Ok(rgb_to_gray(path, &rgb, 3, max, warnings, |v| v))
}

// ---------------------------------------------------------------------------------------------
// Header fields: spacing, sex, age
// ---------------------------------------------------------------------------------------------
