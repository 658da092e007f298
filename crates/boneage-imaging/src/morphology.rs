//! Binary morphology on `width * height` row-major masks with a disc structuring element:
//! dilation, erosion, opening and closing.
//!
//! Borders: outside the image counts as background for dilation and as foreground for erosion
//! (OpenCV's default for both), so a hand that leaves the image through its forearm is not
//! eaten away at the edge.
//!
//! Each output row is the OR of `2r + 1` whole-row comparisons against per-row distances to
//! the nearest true pixel, so the cost is `O(width * height * r)` simple, vectorised steps
//! whatever the disc's area.

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

/// For each pixel, the distance along its row to the nearest true pixel of `mask` in that
/// row, capped at `cap` (rows without a true pixel, or with none within `cap`, read `cap`).
fn row_distance(mask: &[bool], w: usize, h: usize, cap: u16) -> Vec<u16> {
    use rayon::prelude::*;
    let mut d = vec![cap; w * h];
    d.par_chunks_mut(w).enumerate().for_each(|(y, out)| {
        let row = &mask[y * w..(y + 1) * w];
        let mut run = cap;
        for (o, &m) in out.iter_mut().zip(row) {
            run = if m { 0 } else { run.saturating_add(1).min(cap) };
            *o = run;
        }
        run = cap;
        for (o, &m) in out.iter_mut().zip(row).rev() {
            run = if m { 0 } else { run.saturating_add(1).min(cap) };
            *o = (*o).min(run);
        }
    });
    d
}

/// Whether any pixel of `mask` within the disc of radius `r` around each pixel is true.
///
/// A pixel's disc row `dy` holds a true pixel exactly when the row distance
/// ([`row_distance`]) of the pixel straight above or below by `dy` is at most the disc's
/// half-width there, so each output row is an OR of `2r + 1` comparisons of whole rows, which
/// the compiler vectorises.
fn any_in_disc(mask: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    assert_eq!(mask.len(), w * h, "morphology: mask size mismatch");
    if r == 0 || w == 0 || h == 0 {
        return mask.to_vec();
    }
    let spans = disc_spans(r);
    // Any half-width is at most r, so distances beyond r + 1 need not be told apart.
    let cap = u16::try_from(r + 1).unwrap_or(u16::MAX);
    let d = row_distance(mask, w, h, cap);
    let mut out = vec![false; w * h];
    use rayon::prelude::*;
    out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let mut acc = vec![0u8; w];
        for (i, &s) in spans.iter().enumerate() {
            let yy = y as i64 + i as i64 - r as i64;
            if yy < 0 || yy >= h as i64 {
                continue;
            }
            let s = u16::try_from(s).unwrap_or(u16::MAX);
            let dr = &d[yy as usize * w..(yy as usize + 1) * w];
            for (a, &v) in acc.iter_mut().zip(dr) {
                *a |= (v <= s) as u8;
            }
        }
        for (o, a) in row.iter_mut().zip(acc) {
            *o = a != 0;
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

    /// The plain definition: any true pixel `(x + dx, y + dy)` inside the image with
    /// `|dx| <= spans[dy + r]`.
    fn any_in_disc_by_definition(m: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
        let spans = disc_spans(r);
        let mut out = vec![false; w * h];
        for y in 0..h {
            for x in 0..w {
                out[y * w + x] = spans.iter().enumerate().any(|(i, &s)| {
                    let yy = y as i64 + i as i64 - r as i64;
                    (0..h as i64).contains(&yy)
                        && (x.saturating_sub(s)..(x + s + 1).min(w))
                            .any(|xx| m[yy as usize * w + xx])
                });
            }
        }
        out
    }

    #[test]
    fn dilation_and_erosion_match_the_definition() {
        let (w, h) = (53, 41);
        // Scattered pixels and a blob touching the border.
        let m: Vec<bool> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                (i * 7919) % 97 == 0 || (x < 9 && (12..20).contains(&y))
            })
            .collect();
        for r in [1, 2, 3, 5, 8, 30, 60] {
            assert_eq!(
                dilate(&m, w, h, r),
                any_in_disc_by_definition(&m, w, h, r),
                "r = {r}"
            );
            let inv: Vec<bool> = m.iter().map(|b| !b).collect();
            let want: Vec<bool> = any_in_disc_by_definition(&inv, w, h, r)
                .into_iter()
                .map(|b| !b)
                .collect();
            assert_eq!(erode(&m, w, h, r), want, "r = {r}");
        }
        let empty = vec![false; w * h];
        assert_eq!(dilate(&empty, w, h, 4), empty);
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
