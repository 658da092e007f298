//! Connected components of binary masks (8-connected), their statistics, the largest one, and
//! hole filling.

/// Statistics of one connected component.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Component {
    /// Label in the label image (1-based; 0 is background).
    pub label: u32,
    /// Pixels in it.
    pub area: usize,
    /// Bounding box `[x0, y0, x1, y1]`, inclusive.
    pub bbox: [usize; 4],
    /// Centroid `(x, y)` in pixels.
    pub centroid: (f64, f64),
}

/// Labels the 8-connected components of `mask` (`width * height`, row-major). Returns the label
/// image (0 = background) and the components sorted by decreasing area.
pub fn label(mask: &[bool], width: usize, height: usize) -> (Vec<u32>, Vec<Component>) {
    assert_eq!(mask.len(), width * height, "label: mask size mismatch");
    let mut labels = vec![0u32; mask.len()];
    let mut parent: Vec<u32> = vec![0];
    fn find(parent: &mut [u32], mut x: u32) -> u32 {
        while parent[x as usize] != x {
            parent[x as usize] = parent[parent[x as usize] as usize];
            x = parent[x as usize];
        }
        x
    }
    for y in 0..height {
        for x in 0..width {
            let i = y * width + x;
            if !mask[i] {
                continue;
            }
            let mut neighbours = [0u32; 4];
            let mut n = 0;
            if x > 0 && labels[i - 1] != 0 {
                neighbours[n] = labels[i - 1];
                n += 1;
            }
            if y > 0 {
                let up = i - width;
                if labels[up] != 0 {
                    neighbours[n] = labels[up];
                    n += 1;
                }
                if x > 0 && labels[up - 1] != 0 {
                    neighbours[n] = labels[up - 1];
                    n += 1;
                }
                if x + 1 < width && labels[up + 1] != 0 {
                    neighbours[n] = labels[up + 1];
                    n += 1;
                }
            }
            if n == 0 {
                let l = parent.len() as u32;
                parent.push(l);
                labels[i] = l;
            } else {
                let mut root = find(&mut parent, neighbours[0]);
                for &nb in &neighbours[1..n] {
                    let r = find(&mut parent, nb);
                    if r != root {
                        let (lo, hi) = if r < root { (r, root) } else { (root, r) };
                        parent[hi as usize] = lo;
                        root = lo;
                    }
                }
                labels[i] = root;
            }
        }
    }
    // Flatten to consecutive labels.
    let mut remap = vec![0u32; parent.len()];
    let mut next = 0u32;
    for l in 1..parent.len() as u32 {
        let r = find(&mut parent, l);
        if remap[r as usize] == 0 {
            next += 1;
            remap[r as usize] = next;
        }
        remap[l as usize] = remap[r as usize];
    }
    let mut stats: Vec<(usize, [usize; 4], f64, f64)> =
        vec![(0, [usize::MAX, usize::MAX, 0, 0], 0.0, 0.0); next as usize + 1];
    for y in 0..height {
        for x in 0..width {
            let i = y * width + x;
            if labels[i] == 0 {
                continue;
            }
            let l = remap[labels[i] as usize];
            labels[i] = l;
            let s = &mut stats[l as usize];
            s.0 += 1;
            s.1[0] = s.1[0].min(x);
            s.1[1] = s.1[1].min(y);
            s.1[2] = s.1[2].max(x);
            s.1[3] = s.1[3].max(y);
            s.2 += x as f64;
            s.3 += y as f64;
        }
    }
    let mut comps: Vec<Component> = stats
        .iter()
        .enumerate()
        .skip(1)
        .map(|(l, s)| Component {
            label: l as u32,
            area: s.0,
            bbox: s.1,
            centroid: (s.2 / s.0 as f64, s.3 / s.0 as f64),
        })
        .collect();
    comps.sort_by(|a, b| b.area.cmp(&a.area).then(a.label.cmp(&b.label)));
    (labels, comps)
}

/// Keeps only the largest 8-connected component of `mask`; all false if the mask is empty.
pub fn largest_component(mask: &[bool], width: usize, height: usize) -> Vec<bool> {
    let (labels, comps) = label(mask, width, height);
    match comps.first() {
        Some(c) => labels.iter().map(|&l| l == c.label).collect(),
        None => vec![false; mask.len()],
    }
}

/// Fills holes: background regions not 4-connected to the image border become foreground.
pub fn fill_holes(mask: &[bool], width: usize, height: usize) -> Vec<bool> {
    fill_holes_smaller_than(mask, width, height, usize::MAX)
}

/// Fills only the holes (enclosed background regions, 8-connected) of fewer than `max_area`
/// pixels; larger enclosed regions stay background.
pub fn fill_holes_smaller_than(
    mask: &[bool],
    width: usize,
    height: usize,
    max_area: usize,
) -> Vec<bool> {
    let filled = fill_all_holes(mask, width, height);
    if max_area == usize::MAX {
        return filled;
    }
    let holes: Vec<bool> = filled.iter().zip(mask).map(|(f, m)| *f && !*m).collect();
    let (labels, comps) = label(&holes, width, height);
    let mut out = mask.to_vec();
    let small: std::collections::HashSet<u32> = comps
        .iter()
        .filter(|c| c.area < max_area)
        .map(|c| c.label)
        .collect();
    for (o, l) in out.iter_mut().zip(&labels) {
        if *l != 0 && small.contains(l) {
            *o = true;
        }
    }
    out
}

fn fill_all_holes(mask: &[bool], width: usize, height: usize) -> Vec<bool> {
    assert_eq!(mask.len(), width * height, "fill_holes: mask size mismatch");
    let mut outside = vec![false; mask.len()];
    let mut stack = Vec::new();
    for x in 0..width {
        stack.push(x);
        stack.push((height - 1) * width + x);
    }
    for y in 0..height {
        stack.push(y * width);
        stack.push(y * width + width - 1);
    }
    while let Some(i) = stack.pop() {
        if mask[i] || outside[i] {
            continue;
        }
        outside[i] = true;
        let (x, y) = (i % width, i / width);
        if x > 0 {
            stack.push(i - 1);
        }
        if x + 1 < width {
            stack.push(i + 1);
        }
        if y > 0 {
            stack.push(i - width);
        }
        if y + 1 < height {
            stack.push(i + width);
        }
    }
    outside.iter().map(|o| !o).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(rows: &[&str]) -> (Vec<bool>, usize, usize) {
        let w = rows[0].len();
        let m = rows
            .iter()
            .flat_map(|r| r.chars().map(|c| c == '#'))
            .collect();
        (m, w, rows.len())
    }

    #[test]
    fn labels_components_by_area_with_8_connectivity() {
        let (m, w, h) = parse(&[
            "##....#", //
            "##...#.", //
            "......#", //
            "###....", //
        ]);
        let (_, comps) = label(&m, w, h);
        assert_eq!(
            comps.iter().map(|c| c.area).collect::<Vec<_>>(),
            vec![4, 3, 3]
        );
        let big = &comps[0];
        assert_eq!(big.bbox, [0, 0, 1, 1]);
        assert_eq!(big.centroid, (0.5, 0.5));
        let l = largest_component(&m, w, h);
        assert_eq!(l.iter().filter(|b| **b).count(), 4);
    }

    #[test]
    fn u_shapes_merge_into_one_component() {
        let (m, w, h) = parse(&["#.#.#", "#.#.#", "#####"]);
        assert_eq!(label(&m, w, h).1.len(), 1);
    }

    #[test]
    fn fills_enclosed_holes_only() {
        let (m, w, h) = parse(&["#####.", "#..#..", "#####.", "......"]);
        let f = fill_holes(&m, w, h);
        assert!(f[w + 1] && f[w + 2], "enclosed hole filled");
        assert!(!f[w + 4] && !f[5], "open background stays");
        let g = fill_holes_smaller_than(&m, w, h, 2);
        assert!(
            !g[w + 1] && !g[w + 2],
            "a 2-pixel hole is not smaller than 2"
        );
        assert!(fill_holes_smaller_than(&m, w, h, 3)[w + 1]);
    }
}
