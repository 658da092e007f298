//! A walk over a DICOM data set's element headers, without reading any value, that checks
//! what the parser would otherwise find out too late: sequences nested deeper than
//! [`MAX_DICOM_DEPTH`] (the parser recurses once per level, and ten thousand levels overflow
//! the stack), and element lengths beyond the bytes that remain (the parser allocates the
//! stated length before it reads). The walk keeps its own stack of open sequences and items,
//! so it never recurses itself.
//!
//! Only the structure is checked; a data set that passes may still be refused by the parser.

use crate::limits::MAX_DICOM_DEPTH;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::Tag;
use dicom_dictionary_std::StandardDataDictionary;

/// How a data set is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Explicit VR little endian (also every encapsulated transfer syntax).
    ExplicitLe,
    /// Implicit VR little endian.
    ImplicitLe,
    /// Explicit VR big endian (retired).
    ExplicitBe,
}

impl Encoding {
    /// The data set encoding of a transfer syntax UID; `None` for deflated data sets (which
    /// must be inflated first) and unknown UIDs.
    pub fn of_transfer_syntax(uid: &str) -> Option<Encoding> {
        match uid.trim_end_matches(['\0', ' ']) {
            "1.2.840.10008.1.2" => Some(Encoding::ImplicitLe),
            "1.2.840.10008.1.2.2" => Some(Encoding::ExplicitBe),
            // Deflated data sets: deflated explicit VR little endian, and JPIP referenced
            // deflate (found by fuzzing: read as plain explicit VR, its data set was inflated
            // by the parser without a cap, to 4 GB).
            "1.2.840.10008.1.2.1.99" | "1.2.840.10008.1.2.4.95" => None,
            // Explicit VR little endian and every encapsulated syntax (JPEG, RLE, J2K, ...).
            u if u.starts_with("1.2.840.10008.1.2") => Some(Encoding::ExplicitLe),
            _ => None,
        }
    }
}

/// Value representations whose explicit header has a 16-bit length. Every other one, an
/// unknown VR included (the parser reads an unknown VR as UN), has two reserved bytes and a
/// 32-bit length.
const SHORT_VRS: [&[u8; 2]; 21] = [
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN",
    b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US",
];

const ITEM: Tag = Tag(0xFFFE, 0xE000);
const ITEM_END: Tag = Tag(0xFFFE, 0xE00D);
const SEQUENCE_END: Tag = Tag(0xFFFE, 0xE0DD);
const PIXEL_DATA: Tag = Tag(0x7FE0, 0x0010);
const UNDEFINED: u32 = 0xFFFF_FFFF;

/// What the walk found wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// Past a limit (nesting depth).
    OverLimit(String),
    /// A length beyond the bytes that remain.
    Truncated(String),
    /// Delimiters or items where they cannot be.
    Malformed(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::OverLimit(s) | Problem::Truncated(s) | Problem::Malformed(s) => f.write_str(s),
        }
    }
}

enum Frame {
    /// A sequence: its end (defined length) and whether it holds pixel fragments.
    Sequence { end: Option<usize>, pixels: bool },
    /// An item of a sequence, with its end when its length is defined.
    Item { end: Option<usize> },
}

impl Frame {
    fn end(&self) -> Option<usize> {
        match self {
            Frame::Sequence { end, .. } | Frame::Item { end } => *end,
        }
    }
}

/// Walks the data set in `bytes` from `start`. `meta`: the bytes begin with a file meta group
/// (group 0002, always explicit VR little endian) before the data set in `encoding`.
/// The error says what is wrong and at which byte.
pub fn check(bytes: &[u8], start: usize, meta: bool, encoding: Encoding) -> Result<(), Problem> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut depth = 0usize;
    let mut pos = start;
    let mut in_meta = meta;
    loop {
        // Close what ends here.
        while let Some(end) = stack.last().and_then(Frame::end) {
            if pos < end {
                break;
            }
            if pos > end {
                return Err(Problem::Malformed(format!(
                    "an element runs past the end of its sequence or item at byte {end}"
                )));
            }
            if let Some(Frame::Sequence { .. }) = stack.pop() {
                depth -= 1;
            }
        }
        if pos + 8 > bytes.len() {
            // The end (or a cut-off file: the parser names that).
            return Ok(());
        }
        let enc = if in_meta && u16_at(bytes, pos, Encoding::ExplicitLe) == 0x0002 {
            Encoding::ExplicitLe
        } else {
            in_meta = false;
            encoding
        };
        let tag = Tag(u16_at(bytes, pos, enc), u16_at(bytes, pos + 2, enc));
        let remaining = |from: usize| bytes.len().saturating_sub(from);
        if let Some(Frame::Sequence { pixels, .. }) = stack.last() {
            let pixels = *pixels;
            let len = u32_at(bytes, pos + 4, enc);
            pos += 8;
            match tag {
                SEQUENCE_END => {
                    stack.pop();
                    depth -= 1;
                }
                ITEM if pixels => {
                    if len == UNDEFINED || len as usize > remaining(pos) {
                        return Err(Problem::Truncated(format!(
                            "a pixel data fragment at byte {} says {len} bytes, but {} remain",
                            pos - 8,
                            remaining(pos)
                        )));
                    }
                    pos += len as usize;
                }
                ITEM => {
                    let end = if len == UNDEFINED {
                        None
                    } else if len as usize > remaining(pos) {
                        return Err(Problem::Truncated(format!(
                            "a sequence item at byte {} says {len} bytes, but {} remain",
                            pos - 8,
                            remaining(pos)
                        )));
                    } else {
                        Some(pos + len as usize)
                    };
                    stack.push(Frame::Item { end });
                }
                other => {
                    return Err(Problem::Malformed(format!(
                        "element {other} at byte {} where a sequence item must be",
                        pos - 8
                    )))
                }
            }
            continue;
        }
        if tag == ITEM_END {
            match stack.last() {
                Some(Frame::Item { end: None }) => {
                    stack.pop();
                    pos += 8;
                    continue;
                }
                _ => {
                    return Err(Problem::Malformed(format!(
                        "an item end at byte {pos} outside an item"
                    )))
                }
            }
        }
        if tag.0 == 0xFFFE {
            return Err(Problem::Malformed(format!(
                "a stray delimiter {tag} at byte {pos}"
            )));
        }
        let (vr, len, header): (Option<[u8; 2]>, u32, usize) = match enc {
            Encoding::ImplicitLe => (None, u32_at(bytes, pos + 4, enc), 8),
            _ => {
                let vr = [bytes[pos + 4], bytes[pos + 5]];
                if !SHORT_VRS.contains(&&vr) {
                    if pos + 12 > bytes.len() {
                        return Ok(());
                    }
                    (Some(vr), u32_at(bytes, pos + 8, enc), 12)
                } else {
                    (Some(vr), u16_at(bytes, pos + 6, enc) as u32, 8)
                }
            }
        };
        let element = pos;
        pos += header;
        // A number VR whose length is not a whole number of values: the parser reads only the
        // whole values and goes on from inside the element, out of step with this walk (found
        // by fuzzing: (0000,0000) with length 1 in implicit VR, then a 4 GB length the walk
        // never saw). Real files never have one.
        let width = match vr {
            Some(v) => number_width(&v),
            None => StandardDataDictionary
                .by_tag(tag)
                .and_then(|e| number_width(&e.vr().relaxed().to_bytes())),
        };
        // Odd-length pixel data that ends the file is tolerated (the parser loses its last byte
        // only; some modalities write it).
        let last_pixels = tag == PIXEL_DATA && pos + len as usize == bytes.len();
        if let Some(w) = width.filter(|_| !last_pixels) {
            if len != UNDEFINED && len % w != 0 {
                return Err(Problem::Malformed(format!(
                    "element {tag} at byte {element} holds numbers of {w} bytes but is {len} bytes long"
                )));
            }
        }
        let is_sequence = match vr {
            Some(vr) => &vr == b"SQ",
            None => StandardDataDictionary
                .by_tag(tag)
                .is_some_and(|e| e.vr().relaxed() == dicom_core::VR::SQ),
        };
        if len == UNDEFINED {
            // An undefined length opens a sequence, encapsulated pixel data, or (UN / implicit
            // VR) a sequence the dictionary does not know.
            let open = is_sequence
                || tag == PIXEL_DATA
                || vr.is_none()
                || vr.is_some_and(|v| &v == b"UN" || &v == b"OB" || &v == b"OW");
            if !open {
                return Err(Problem::Malformed(format!(
                    "element {tag} at byte {element} has an undefined length, which its VR {} cannot have",
                    String::from_utf8_lossy(&vr.unwrap_or(*b"??"))
                )));
            }
            depth += 1;
            if depth > MAX_DICOM_DEPTH {
                return Err(Problem::OverLimit(format!(
                    "sequences nested more than {MAX_DICOM_DEPTH} deep (at byte {element})"
                )));
            }
            stack.push(Frame::Sequence {
                end: None,
                pixels: tag == PIXEL_DATA,
            });
            continue;
        }
        if len as usize > remaining(pos) {
            return Err(Problem::Truncated(format!(
                "element {tag} at byte {element} says {len} bytes, but only {} remain in the file",
                remaining(pos)
            )));
        }
        if is_sequence {
            depth += 1;
            if depth > MAX_DICOM_DEPTH {
                return Err(Problem::OverLimit(format!(
                    "sequences nested more than {MAX_DICOM_DEPTH} deep (at byte {element})"
                )));
            }
            stack.push(Frame::Sequence {
                end: Some(pos + len as usize),
                pixels: false,
            });
            continue;
        }
        pos += len as usize;
    }
}

/// The size of one value of a number VR, the "other" number VRs included, which the parser reads
/// value by value too (US, SS, OW: 2; UL, SL, FL, AT, OF, OL: 4; FD, SV, UV, OD, OV: 8).
fn number_width(vr: &[u8; 2]) -> Option<u32> {
    match vr {
        b"US" | b"SS" | b"OW" => Some(2),
        b"UL" | b"SL" | b"FL" | b"AT" | b"OF" | b"OL" => Some(4),
        b"FD" | b"SV" | b"UV" | b"OD" | b"OV" => Some(8),
        _ => None,
    }
}

/// Checks that every element of the file meta group starting at `start` (explicit VR little
/// endian, group 0002) fits in the bytes that remain, before the meta parser allocates what an
/// element's length says (found by fuzzing: a meta element claiming about 1 GB).
///
/// The group length (0002,0000), which the meta parser reads elements up to, must not claim
/// more than the group's elements take: found by fuzzing, a group length of 64 MB made the
/// parser read the data set as meta elements, into an unknown VR whose length it allocated
/// (3.5 GB for a 476-byte file).
pub fn check_meta(bytes: &[u8], start: usize) -> Result<(), Problem> {
    let mut pos = start;
    let mut group_lengths: Vec<(usize, usize)> = Vec::new();
    while pos + 8 <= bytes.len() && u16_at(bytes, pos, Encoding::ExplicitLe) == 0x0002 {
        let vr = [bytes[pos + 4], bytes[pos + 5]];
        let (len, header) = if !SHORT_VRS.contains(&&vr) {
            if pos + 12 > bytes.len() {
                return Ok(());
            }
            (u32_at(bytes, pos + 8, Encoding::ExplicitLe) as usize, 12)
        } else {
            (u16_at(bytes, pos + 6, Encoding::ExplicitLe) as usize, 8)
        };
        let remaining = bytes.len() - pos - header;
        if len > remaining {
            let tag = Tag(0x0002, u16_at(bytes, pos + 2, Encoding::ExplicitLe));
            return Err(Problem::Truncated(format!(
                "file meta element {tag} at byte {pos} says {len} bytes, but only {remaining} remain"
            )));
        }
        if u16_at(bytes, pos + 2, Encoding::ExplicitLe) == 0 && len == 4 {
            let value = u32_at(bytes, pos + header, Encoding::ExplicitLe) as usize;
            group_lengths.push((value, pos + header + len));
        }
        pos += header + len;
    }
    // Every one counts (found by fuzzing: a second group length, right after a first of
    // 1.3 GB, hid it).
    for (value, from) in group_lengths {
        let taken = pos - from;
        if value > taken {
            return Err(Problem::Malformed(format!(
                "the file meta group length (0002,0000) says {value} bytes, but the group's \
                 elements take {taken}"
            )));
        }
    }
    Ok(())
}

/// Where the file meta group that starts at `start` ends (explicit VR little endian, group
/// 0002), walking its elements; the end of `bytes` at most.
pub fn meta_end(bytes: &[u8], start: usize) -> usize {
    let mut pos = start;
    while pos + 8 <= bytes.len() && u16_at(bytes, pos, Encoding::ExplicitLe) == 0x0002 {
        let vr = [bytes[pos + 4], bytes[pos + 5]];
        let (len, header) = if !SHORT_VRS.contains(&&vr) {
            if pos + 12 > bytes.len() {
                return bytes.len();
            }
            (u32_at(bytes, pos + 8, Encoding::ExplicitLe) as usize, 12)
        } else {
            (u16_at(bytes, pos + 6, Encoding::ExplicitLe) as usize, 8)
        };
        pos = pos.saturating_add(header).saturating_add(len);
    }
    pos.min(bytes.len())
}

fn u16_at(b: &[u8], at: usize, enc: Encoding) -> u16 {
    let v = [b[at], b[at + 1]];
    match enc {
        Encoding::ExplicitBe => u16::from_be_bytes(v),
        _ => u16::from_le_bytes(v),
    }
}

fn u32_at(b: &[u8], at: usize, enc: Encoding) -> u32 {
    let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    match enc {
        Encoding::ExplicitBe => u32::from_be_bytes(v),
        _ => u32::from_le_bytes(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(tag: (u16, u16), vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&tag.0.to_le_bytes());
        v.extend_from_slice(&tag.1.to_le_bytes());
        v.extend_from_slice(vr);
        if !SHORT_VRS.contains(&vr) {
            v.extend_from_slice(&[0, 0]);
            v.extend_from_slice(&(value.len() as u32).to_le_bytes());
        } else {
            v.extend_from_slice(&(value.len() as u16).to_le_bytes());
        }
        v.extend_from_slice(value);
        v
    }

    fn nested(levels: usize) -> Vec<u8> {
        let mut v = Vec::new();
        for _ in 0..levels {
            v.extend_from_slice(&[0x08, 0x00, 0x40, 0x11, b'S', b'Q', 0, 0]);
            v.extend_from_slice(&UNDEFINED.to_le_bytes());
            v.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
            v.extend_from_slice(&UNDEFINED.to_le_bytes());
        }
        for _ in 0..levels {
            v.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
            v.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        }
        v
    }

    #[test]
    fn plain_and_modestly_nested_data_sets_pass() {
        let mut v = el((0x0010, 0x0010), b"PN", b"Doe^Jane");
        v.extend(nested(5));
        v.extend(el((0x0028, 0x0010), b"US", &[4, 0]));
        v.extend(el((0x7FE0, 0x0010), b"OW", &[0; 8]));
        assert_eq!(check(&v, 0, false, Encoding::ExplicitLe), Ok(()));
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let e = check(&nested(10_000), 0, false, Encoding::ExplicitLe).unwrap_err();
        assert!(matches!(e, Problem::OverLimit(_)), "{e}");
        assert!(e.to_string().contains("nested more than 32"), "{e}");
        assert!(check(&nested(32), 0, false, Encoding::ExplicitLe).is_ok());
        assert!(check(&nested(33), 0, false, Encoding::ExplicitLe).is_err());
    }

    #[test]
    fn lengths_beyond_the_file_are_refused() {
        let mut v = el((0x0010, 0x0010), b"OB", b"ab");
        v[8..12].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        let e = check(&v, 0, false, Encoding::ExplicitLe).unwrap_err();
        let e = e.to_string();
        assert!(
            e.contains("4294967280 bytes") && e.contains("(0010,0010)"),
            "{e}"
        );
        // An unknown VR is read by the parser as UN, with a 32-bit length: found by fuzzing,
        // a mutated VR ":S" whose reserved bytes and length said 2 GB, allocated before the
        // parser found the file too short.
        let mut v = el((0x0028, 0x0102), b"US", &[7, 0]);
        v.extend_from_slice(&[0x28, 0x00, 0x03, 0x01, b':', b'S', 0x02, 0x00]);
        v.extend_from_slice(&0x7FE0_0000u32.to_le_bytes());
        v.extend_from_slice(&[7; 40]);
        let e = check(&v, 0, false, Encoding::ExplicitLe).unwrap_err();
        assert!(e.to_string().contains("(0028,0103)"), "{e}");
        // Found by fuzzing too: a UL of length 1 (the parser reads no value and goes on from
        // inside it, into a length of 4 GB).
        let bytes: Vec<u8> = ["08000096000000000000c8000000000000000000010000000000a6012fffffffff"]
            .concat()
            .as_bytes()
            .chunks(2)
            .map(|h| u8::from_str_radix(std::str::from_utf8(h).unwrap(), 16).unwrap())
            .collect();
        let e = check(&bytes, 0, false, Encoding::ImplicitLe).unwrap_err();
        assert!(
            e.to_string().contains("(0000,0000)") && e.to_string().contains("1 bytes"),
            "{e}"
        );
        // A file meta element longer than the file.
        let mut meta = b"DICM".to_vec();
        meta.extend(el((0x0002, 0x0001), b"OB", &[0, 1]));
        let at = meta.len();
        meta.extend(el((0x0002, 0x0002), b"UI", b"1.2"));
        assert_eq!(check_meta(&meta, 4), Ok(()));
        meta[at + 6..at + 8].copy_from_slice(&0xFFF0u16.to_le_bytes());
        let e = check_meta(&meta, 4).unwrap_err();
        assert!(
            e.to_string().contains("(0002,0002)") && e.to_string().contains("65520"),
            "{e}"
        );
        // A group length that claims more than the group's elements (found by fuzzing: 64 MB,
        // so the parser read the data set as meta elements); the right one passes.
        let mut meta = b"DICM".to_vec();
        meta.extend(el((0x0002, 0x0000), b"UL", &0x0400_001Cu32.to_le_bytes()));
        let elements = [
            el((0x0002, 0x0010), b"UI", b"1.2.840.10008.1.2.1\0"),
            el((0x0002, 0x0001), b"OB", &[0, 1]),
        ]
        .concat();
        meta.extend(&elements);
        meta.extend(el((0x0028, 0x0002), b"US", &[1, 0]));
        let e = check_meta(&meta, 4).unwrap_err();
        assert!(
            e.to_string().contains("67108892")
                && e.to_string().contains(&format!("take {}", elements.len())),
            "{e}"
        );
        meta[12..16].copy_from_slice(&(elements.len() as u32).to_le_bytes());
        assert_eq!(check_meta(&meta, 4), Ok(()));
        // A second, right length after a first that claims 1.3 GB does not hide the first.
        let mut two = b"DICM".to_vec();
        two.extend(el((0x0002, 0x0000), b"UL", b"DICM"));
        two.extend(el(
            (0x0002, 0x0000),
            b"UL",
            &(elements.len() as u32).to_le_bytes(),
        ));
        two.extend(&elements);
        let e = check_meta(&two, 4).unwrap_err();
        assert!(e.to_string().contains("1296255300"), "{e}");
    }

    #[test]
    fn other_number_vrs_of_a_partial_value_are_refused() {
        // Found by fuzzing: a bare data set whose first element is an OD of 67 bytes. The
        // parser read eight values (64 bytes) and went on from inside the element, into an
        // undefined-length UN it then read to about 4 GB.
        let hex = "020000004f44000043000000";
        let mut bytes: Vec<u8> = hex
            .as_bytes()
            .chunks(2)
            .map(|h| u8::from_str_radix(std::str::from_utf8(h).unwrap(), 16).unwrap())
            .collect();
        bytes.extend_from_slice(&[0xE8; 67]);
        bytes.extend_from_slice(&[0; 23]);
        let e = check(&bytes, 0, false, Encoding::ExplicitLe).unwrap_err();
        assert!(
            e.to_string().contains("(0002,0000)") && e.to_string().contains("67 bytes long"),
            "{e}"
        );
        for (vr, bad) in [(b"OW", 3usize), (b"OF", 6), (b"OL", 2), (b"OV", 12)] {
            let v = el((0x0009, 0x1010), vr, &vec![0; bad]);
            assert!(check(&v, 0, false, Encoding::ExplicitLe).is_err(), "{vr:?}");
            let ok = el((0x0009, 0x1010), vr, &[0; 24]);
            assert_eq!(check(&ok, 0, false, Encoding::ExplicitLe), Ok(()));
        }
        // Odd pixel data at the very end still passes; in the middle it does not.
        let mut v = el((0x0028, 0x0010), b"US", &[3, 0]);
        v.extend(el((0x7FE0, 0x0010), b"OW", &[1, 2, 3]));
        assert_eq!(check(&v, 0, false, Encoding::ExplicitLe), Ok(()));
        v.extend(el((0xFFFA, 0xFFFA), b"OB", &[0, 0]));
        assert!(check(&v, 0, false, Encoding::ExplicitLe).is_err());
    }

    #[test]
    fn deflated_syntaxes_are_inflated_first() {
        for uid in ["1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.4.95\0"] {
            assert_eq!(Encoding::of_transfer_syntax(uid), None, "{uid}");
        }
        // Found by fuzzing: a JPIP referenced deflate file (184 bytes) whose data set the
        // parser inflated to 4 GB; now inflated first, with the cap, and refused.
        let bytes = include_bytes!("../../../tests/fixtures/jpip-deflate-bomb.dcm");
        let e = crate::io::decode_radiograph(std::path::Path::new("bomb.dcm"), bytes).unwrap_err();
        assert!(e.to_string().contains("deflated data set"), "{e}");
    }

    #[test]
    fn encapsulated_pixel_fragments_are_walked() {
        let mut v = Vec::new();
        v.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0]);
        v.extend_from_slice(&UNDEFINED.to_le_bytes());
        for frag in [&[][..], &[1, 2, 3, 4][..]] {
            v.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
            v.extend_from_slice(&(frag.len() as u32).to_le_bytes());
            v.extend_from_slice(frag);
        }
        v.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        assert_eq!(check(&v, 0, false, Encoding::ExplicitLe), Ok(()));
        // A fragment longer than the file.
        let n = v.len();
        v[n - 16..n - 12].copy_from_slice(&1000u32.to_le_bytes());
        assert!(check(&v, 0, false, Encoding::ExplicitLe).is_err());
    }
}
