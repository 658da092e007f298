//! The limits on input, in one place. Every reader checks them from headers, before it
//! allocates for the image: a file that claims more is refused with an error naming the file
//! and the limit, never read into memory first. The defaults fit every real radiograph (hand
//! films are at most about 6000x6000 pixels, 16-bit, a few tens of MB, sequences nested a few
//! levels deep) with room to spare. The service reads through the same readers, so the same
//! limits hold there (on top of its own upload cap).

/// Largest input file read, bytes (a 16-bit 8000x8000 film uncompressed is 128 MB).
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// Longest image side, pixels.
pub const MAX_SIDE: usize = 16_384;
/// Most pixels in one image (8000x8000); samples per pixel and frames count too where the
/// whole buffer is decoded at once.
pub const MAX_PIXELS: u64 = 64_000_000;
/// Deepest nesting of DICOM sequences (real files: a few levels).
pub const MAX_DICOM_DEPTH: usize = 32;
/// Largest label table or keypoint table read, bytes (RSNA's 12,611 rows are 170 KB).
pub const MAX_TABLE_BYTES: u64 = 256 << 20;

/// Most weights in one network (a VGG-style age net here has about 1 M, the full
/// Inception-v3 24 M): 300 M f32 values are 1.2 GB.
pub const MAX_MODEL_PARAMETERS: u64 = 300_000_000;
/// Most bytes of feature maps one training batch may need (an estimate from the config:
/// every convolution's output, kept for the backward pass, about three copies each).
pub const MAX_BATCH_ACTIVATION_BYTES: u64 = 16 << 30;
/// Most pooling blocks of a VGG-style net (4096 px halved 12 times is 1 px).
pub const MAX_BLOCKS: usize = 12;
/// Most convolutions in one block, channels of a layer, dense width, epochs and batch size.
pub const MAX_CONVS_PER_BLOCK: usize = 16;
/// Most channels of one convolution.
pub const MAX_CHANNELS: i64 = 4096;
/// Widest dense layer or sex embedding.
pub const MAX_DENSE: i64 = 65_536;
/// Most epochs of one training run.
pub const MAX_EPOCHS: usize = 100_000;
/// Largest training batch.
pub const MAX_BATCH_SIZE: usize = 4096;

/// A file's bytes, at most `max` of them: a longer file, or anything but a regular file (a
/// device that never ends, a pipe, a folder), is an error that says so.
pub fn read_bounded(path: &std::path::Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(std::io::Error::other(
            "not a regular file (a device, pipe or folder is not read)",
        ));
    }
    let mut bytes = Vec::with_capacity(metadata.len().min(max) as usize);
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::other(format!(
            "the file is larger than the {max} bytes read"
        )));
    }
    Ok(bytes)
}

/// Whether an image of `width` x `height` with `samples` values per pixel may be decoded; the
/// error says which limit it passes.
pub fn check_image_size(width: u64, height: u64, samples: u64) -> Result<(), String> {
    if width > MAX_SIDE as u64 || height > MAX_SIDE as u64 {
        return Err(format!(
            "the header says {width}x{height} pixels; the longest side read is {MAX_SIDE}"
        ));
    }
    let pixels = width.saturating_mul(height).saturating_mul(samples.max(1));
    if pixels > MAX_PIXELS {
        return Err(format!(
            "the header says {width}x{height} pixels{}: {pixels} values, more than the {MAX_PIXELS} read",
            if samples > 1 {
                format!(" x {samples} samples")
            } else {
                String::new()
            }
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_films_pass_and_bombs_do_not() {
        assert!(check_image_size(6000, 6000, 1).is_ok());
        assert!(check_image_size(4320, 3556, 3).is_ok());
        let e = check_image_size(60_000, 60_000, 1).unwrap_err();
        assert!(e.contains("60000x60000") && e.contains("16384"), "{e}");
        let e = check_image_size(16_000, 16_000, 1).unwrap_err();
        assert!(e.contains("256000000 values"), "{e}");
        assert!(check_image_size(u64::MAX, u64::MAX, u64::MAX).is_err());
    }
}
