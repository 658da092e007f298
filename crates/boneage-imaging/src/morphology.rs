//! Binary morphology on `width * height` row-major masks with a disc structuring element:
//! dilation, erosion, opening and closing.
//!
//! Borders: outside the image counts as background for dilation and as foreground for erosion
//! (OpenCV's default for both), so a hand that leaves the image through its forearm is not
//! eaten away at the edge.
//!
//! Each output row is the union of the true runs of the `2r + 1` rows the disc covers, each
//! widened by the disc's half-width there, so the cost is `O(width * height)` plus the number
//! of runs times `2r + 1`, whatever the disc's area.

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

/// The runs of true pixels of each row of `mask`, as `[start, end)` column ranges.
fn row_runs(mask: &[bool], w: usize, h: usize) -> Vec<Vec<(usize, usize)>> {
    use rayon::prelude::*;
    (0..h)
        .into_par_iter()
        .map(|y| {
            let row = &mask[y * w..(y + 1) * w];
            let mut runs = Vec::new();
            let mut x = 0;
            while let Some(a) = row[x..].iter().position(|&m| m).map(|p| x + p) {
                let b = row[a..].iter().position(|&m| !m).map_or(w, |p| a + p);
                runs.push((a, b));
                x = b;
            }
            runs
        })
        .collect()
}

/// Whether any pixel of `mask` within the disc of radius `r` around a pixel is true, read at
/// every `step`-th pixel in row-major order (pixels `0, step, 2 * step, ...`, in that order;
/// `step` 1 reads them all).
///
/// Output row `y` is the union, over the disc's rows `dy`, of the true runs of row `y + dy`
/// widened by the disc's half-width there. The union is counted in a difference array over
/// the row's samples, so the cost per row is the number of widened runs plus the number of
/// samples, whatever the disc's area.
fn any_in_disc(mask: &[bool], w: usize, h: usize, r: usize, step: usize) -> Vec<bool> {
    use rayon::prelude::*;
    assert_eq!(mask.len(), w * h, "morphology: mask size mismatch");
    assert!(step > 0, "morphology: a zero step");
    if r == 0 || w == 0 || h == 0 {
        return mask.iter().step_by(step).copied().collect();
    }
    let spans = disc_spans(r);
    let runs = row_runs(mask, w, h);
    let rows: Vec<Vec<bool>> = (0..h)
        .into_par_iter()
        .map(|y| {
            // This row's samples: columns x0, x0 + step, ... (n of them).
            let x0 = (step - (y * w) % step) % step;
            let n = w.saturating_sub(x0).div_ceil(step);
            // The first sample at or after column x.
            let sample = |x: usize| x.saturating_sub(x0).div_ceil(step).min(n);
            let mut diff = vec![0i32; n + 1];
            for (i, &s) in spans.iter().enumerate() {
                let yy = y as i64 + i as i64 - r as i64;
                if yy < 0 || yy >= h as i64 {
                    continue;
                }
                for &(a, b) in &runs[yy as usize] {
                    let (from, to) = (sample(a.saturating_sub(s)), sample((b + s).min(w)));
                    if from < to {
                        diff[from] += 1;
                        diff[to] -= 1;
                    }
                }
            }
            let mut depth = 0;
            diff[..n]
                .iter()
                .map(|&d| {
                    depth += d;
                    depth > 0
                })
                .collect()
        })
        .collect();
    rows.concat()
}

/// Dilation by a disc of radius `r` pixels read only at every `step`-th pixel in row-major
/// order (pixels `0, step, 2 * step, ...`, in that order): the values [`dilate`] gives there,
/// for about a `step`-th of its work. For tests that sample a full-size mask sparsely.
pub fn dilate_every(mask: &[bool], w: usize, h: usize, r: usize, step: usize) -> Vec<bool> {
    any_in_disc(mask, w, h, r, step)
}

/// Dilation by a disc of radius `r` pixels.
pub fn dilate(mask: &[bool], width: usize, height: usize, r: usize) -> Vec<bool> {
    any_in_disc(mask, width, height, r, 1)
}

/// Erosion by a disc of radius `r` pixels (outside the image counts as foreground).
pub fn erode(mask: &[bool], width: usize, height: usize, r: usize) -> Vec<bool> {
    let inv: Vec<bool> = mask.iter().map(|b| !b).collect();
    any_in_disc(&inv, width, height, r, 1)
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
    fn dilation_read_every_few_pixels_is_the_dilation_there() {
        for (w, h) in [(53, 41), (60, 7), (2, 9), (1, 5)] {
            let m: Vec<bool> = (0..w * h)
                .map(|i| (i * 7919) % 89 == 0 || (i % w < 4 && (i / w) % 9 < 3))
                .collect();
            for r in [0, 1, 3, 8, 37] {
                let full = dilate(&m, w, h, r);
                for step in [1, 2, 3, 5] {
                    let want: Vec<bool> = full.iter().step_by(step).copied().collect();
                    assert_eq!(
                        dilate_every(&m, w, h, r, step),
                        want,
                        "{w}x{h}, r = {r}, step = {step}"
                    );
                }
            }
        }
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
