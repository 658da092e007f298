//! Binary morphology on `width * height` row-major masks with a disc structuring element:
//! dilation, erosion, opening and closing.
//!
//! Borders: outside the image counts as background for dilation and as foreground for erosion
//! (OpenCV's default for both), so a hand that leaves the image through its forearm is not
//! eaten away at the edge.
//!
//! Each output pixel looks at `2r + 1` row spans answered from per-row prefix sums, so the cost
//! is `O(width * height * r)` whatever the disc's area.

/// Half-widths of the disc's rows: `spans[dy + r]` is the largest `dx` with
/// `dx² + dy² <= r² + r` (the `+ r` rounds the disc like a digital circle: radius 1 is the
/// 3x3 square, radius 2 the 5x5 square without its corners).
fn disc_spans(r: usize) -> Vec<usize> {
    let r = r as i64;
    (-r..=r)
        .map(|dy| {
            let lim = r * r + r - dy * dy;
            let mut dx = 0i64;
            while (dx + 1) * (dx + 1) <= lim {
                dx += 1;
            }
            dx as usize
        })
        .collect()
}

/// Row prefix sums of `mask`: `p[y * (w + 1) + x]` = number of true pixels in row `y`, columns
/// `0..x`.
fn row_prefix(mask: &[bool], w: usize, h: usize) -> Vec<u32> {
    let mut p = vec![0u32; (w + 1) * h];
    for y in 0..h {
        let row = &mask[y * w..(y + 1) * w];
        let out = &mut p[y * (w + 1)..(y + 1) * (w + 1)];
        for x in 0..w {
            out[x + 1] = out[x] + row[x] as u32;
        }
    }
    p
}

/// Whether any pixel of `mask` within the disc of radius `r` around each pixel is true.
fn any_in_disc(mask: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    assert_eq!(mask.len(), w * h, "morphology: mask size mismatch");
    if r == 0 || w == 0 || h == 0 {
        return mask.to_vec();
    }
    let spans = disc_spans(r);
    let p = row_prefix(mask, w, h);
    let mut out = vec![false; w * h];
    use rayon::prelude::*;
    out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (x, o) in row.iter_mut().enumerate() {
            for (i, &s) in spans.iter().enumerate() {
                let yy = y as i64 + i as i64 - r as i64;
                if yy < 0 || yy >= h as i64 {
                    continue;
                }
                let x0 = x.saturating_sub(s);
                let x1 = (x + s + 1).min(w);
                let base = yy as usize * (w + 1);
                if p[base + x1] > p[base + x0] {
                    *o = true;
                    break;
                }
            }
        }
    });
    out
}

/// Dilation by a disc of radius `r` pixels.
pub fn dilate(mask: &[bool], width: usize, height: usize, r: usize) -> Vec<bool> {
    any_in_disc(mask, width, height, r)
}

/// Erosion by a disc of radius `r` pixels (outside the image counts as foreground).
pub fn erode(mask: &[bool], width: usize, height: usize, r: usize) -> Vec<bool> {
    let inv: Vec<bool> = mask.iter().map(|b| !b).collect();
    any_in_disc(&inv, width, height, r)
        .into_iter()
        .map(|b| !b)
        .collect()
}

/// Opening (erosion, then dilation): removes parts thinner than the disc, such as thin bridges
/// between the hand and a marker.
pub fn open(mask: &[bool], width: usize, height: usize, r: usize) -> Vec<bool> {
    dilate(&erode(mask, width, height, r), width, height, r)
}

/// Closing (dilation, then erosion): bridges gaps and notches narrower than the disc.
pub fn close(mask: &[bool], width: usize, height: usize, r: usize) -> Vec<bool> {
    erode(&dilate(mask, width, height, r), width, height, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(m: &[bool]) -> usize {
        m.iter().filter(|b| **b).count()
    }

    #[test]
    fn disc_shape() {
        assert_eq!(disc_spans(1), vec![1, 1, 1]);
        assert_eq!(disc_spans(2), vec![1, 2, 2, 2, 1]);
        // A dilated single pixel is the disc itself.
        let (w, h) = (11, 11);
        let mut m = vec![false; w * h];
        m[5 * w + 5] = true;
        let d = dilate(&m, w, h, 3);
        let spans = disc_spans(3);
        assert_eq!(count(&d), spans.iter().map(|s| 2 * s + 1).sum::<usize>());
        assert!(d[5 * w + 8] && d[2 * w + 5] && !d[2 * w + 8]);
    }

    #[test]
    fn erosion_is_dual_and_border_neutral() {
        let (w, h) = (20, 10);
        let all = vec![true; w * h];
        // Outside counts as foreground: a full mask stays full.
        assert_eq!(count(&erode(&all, w, h, 3)), w * h);
        let mut m = vec![false; w * h];
        for y in 2..8 {
            for x in 3..15 {
                m[y * w + x] = true;
            }
        }
        let e = erode(&m, w, h, 1);
        assert_eq!(count(&e), 4 * 10);
        // Opening removes a one-pixel bridge to a small blob, closing fills a one-pixel notch.
        let mut b = m.clone();
        for x in 15..18 {
            b[5 * w + x] = true;
        }
        let o = open(&b, w, h, 1);
        assert!(!o[5 * w + 16]);
        assert!(o[5 * w + 8]);
        let mut n = m.clone();
        n[5 * w + 9] = false;
        assert!(close(&n, w, h, 1)[5 * w + 9]);
    }
}
