//! The report's growth chart: bone age against chronological age, the reference's mean with
//! its ±1 and ±2 SD bands for the child's sex (Greulich–Pyle ages with Brush's SDs), and the
//! child's point with the bone age's 95% interval. One geometry ([`GrowthChart`]), drawn as
//! inline SVG for the HTML page and as vector paths for the PDF.

use boneage_core::reference::BrushTable;
use boneage_core::Sex;
use std::fmt::Write as _;

/// What the chart shows, in months.
pub struct GrowthChart {
    /// (chronological, mean − 2 SD, mean − 1 SD, mean, mean + 1 SD, mean + 2 SD), every 3
    /// months over the table's range for the sex.
    pub rows: Vec<[f64; 6]>,
    /// The child: chronological age, bone age, and the interval (low, high) when known.
    pub child: Option<(f64, f64, Option<[f64; 2]>)>,
    /// Axis range in months (both axes), a whole number of years.
    pub max_months: f64,
    /// Title line.
    pub title: String,
}

/// Something to draw, in chart coordinates (months on both axes).
pub enum Mark {
    /// A filled polygon, RGB.
    Area(Vec<(f64, f64)>, [u8; 3]),
    /// A polyline: points, RGB, width in points/pixels, dashed.
    Line(Vec<(f64, f64)>, [u8; 3], f64, bool),
    /// A filled dot: centre, RGB, radius in points/pixels.
    Dot((f64, f64), [u8; 3], f64),
    /// A label: position, text, size, anchored at its middle (true) or start.
    Text((f64, f64), String, f64, bool),
}

const BAND2: [u8; 3] = [222, 232, 245];
const BAND1: [u8; 3] = [184, 205, 232];
const MEAN: [u8; 3] = [49, 104, 176];
const CHILD: [u8; 3] = [200, 40, 40];
const AXIS: [u8; 3] = [90, 90, 90];
const GRIDLINE: [u8; 3] = [225, 225, 225];

impl GrowthChart {
    /// The chart for `sex`, with the child's point when the chronological age is known.
    pub fn new(
        table: &BrushTable,
        sex: Sex,
        child: Option<(f64, f64, Option<[f64; 2]>)>,
    ) -> GrowthChart {
        let (lo, hi) = table.range(sex);
        let mut rows = Vec::new();
        let mut c = lo;
        while c <= hi + 1e-9 {
            if let Ok((m, s)) = table.at(sex, c) {
                rows.push([c, m - 2.0 * s, m - s, m, m + s, m + 2.0 * s]);
            }
            c += 3.0;
        }
        let top = rows.iter().map(|r| r[5]).fold(hi, f64::max);
        let child_top = child.map_or(0.0, |(c, b, i)| c.max(b).max(i.map_or(0.0, |i| i[1])));
        let max_months = ((top.max(child_top) / 12.0).ceil() * 12.0).clamp(24.0, 240.0);
        GrowthChart {
            rows,
            child,
            max_months,
            title: format!(
                "Bone age against chronological age ({}), reference mean and ±1/±2 SD",
                match sex {
                    Sex::Male => "boys",
                    Sex::Female => "girls",
                }
            ),
        }
    }

    /// Everything to draw, back to front; axes and labels in chart coordinates (labels of
    /// the x axis sit below 0, of the y axis left of 0).
    pub fn marks(&self) -> Vec<Mark> {
        let m = self.max_months;
        let mut out = Vec::new();
        let band = |a: usize, b: usize| -> Vec<(f64, f64)> {
            let mut pts: Vec<(f64, f64)> =
                self.rows.iter().map(|r| (r[0], r[a].max(0.0))).collect();
            pts.extend(self.rows.iter().rev().map(|r| (r[0], r[b].min(m))));
            pts
        };
        for y in (0..=(m / 12.0) as usize).step_by(2) {
            let v = y as f64 * 12.0;
            out.push(Mark::Line(vec![(0.0, v), (m, v)], GRIDLINE, 0.5, false));
            out.push(Mark::Line(vec![(v, 0.0), (v, m)], GRIDLINE, 0.5, false));
            out.push(Mark::Text((v, -m * 0.045), y.to_string(), 9.0, true));
            out.push(Mark::Text(
                (-m * 0.04, v - m * 0.012),
                y.to_string(),
                9.0,
                true,
            ));
        }
        if !self.rows.is_empty() {
            out.push(Mark::Area(band(1, 5), BAND2));
            out.push(Mark::Area(band(2, 4), BAND1));
            out.push(Mark::Line(
                self.rows.iter().map(|r| (r[0], r[3])).collect(),
                MEAN,
                1.5,
                false,
            ));
        }
        out.push(Mark::Line(vec![(0.0, 0.0), (m, m)], AXIS, 0.7, true));
        out.push(Mark::Line(
            vec![(0.0, m), (0.0, 0.0), (m, 0.0)],
            AXIS,
            1.0,
            false,
        ));
        out.push(Mark::Text(
            (m / 2.0, -m * 0.095),
            "chronological age (years)".into(),
            10.0,
            true,
        ));
        out.push(Mark::Text(
            (m * 0.02, m * 0.96),
            "bone age (years)".into(),
            10.0,
            false,
        ));
        if let Some((c, b, interval)) = self.child {
            if let Some([lo, hi]) = interval {
                out.push(Mark::Line(
                    vec![(c, lo.max(0.0)), (c, hi.min(m))],
                    CHILD,
                    1.5,
                    false,
                ));
            }
            out.push(Mark::Dot((c, b), CHILD, 4.0));
        }
        out
    }

    /// Inline SVG, `w x h` pixels.
    pub fn svg(&self, w: f64, h: f64) -> String {
        let f = Frame::new(self.max_months, w, h, true);
        let rgb = |c: [u8; 3]| format!("rgb({},{},{})", c[0], c[1], c[2]);
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\">\
             <rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>"
        );
        for mark in self.marks() {
            match mark {
                Mark::Area(pts, c) => {
                    let p: Vec<String> = pts
                        .iter()
                        .map(|&(x, y)| {
                            let (a, b) = f.at(x, y);
                            format!("{a:.1},{b:.1}")
                        })
                        .collect();
                    let _ = write!(
                        s,
                        "<polygon points=\"{}\" fill=\"{}\"/>",
                        p.join(" "),
                        rgb(c)
                    );
                }
                Mark::Line(pts, c, width, dashed) => {
                    let p: Vec<String> = pts
                        .iter()
                        .map(|&(x, y)| {
                            let (a, b) = f.at(x, y);
                            format!("{a:.1},{b:.1}")
                        })
                        .collect();
                    let _ = write!(
                        s,
                        "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{width}\"{}/>",
                        p.join(" "),
                        rgb(c),
                        if dashed { " stroke-dasharray=\"4 3\"" } else { "" }
                    );
                }
                Mark::Dot(p, c, r) => {
                    let (a, b) = f.at(p.0, p.1);
                    let _ = write!(
                        s,
                        "<circle cx=\"{a:.1}\" cy=\"{b:.1}\" r=\"{r}\" fill=\"{}\"/>",
                        rgb(c)
                    );
                }
                Mark::Text(p, text, size, middle) => {
                    let (a, b) = f.at(p.0, p.1);
                    let _ = write!(
                        s,
                        "<text x=\"{a:.1}\" y=\"{b:.1}\" font-size=\"{size}\" fill=\"#333\"{}>{}</text>",
                        if middle { " text-anchor=\"middle\"" } else { "" },
                        crate::report::esc(&text)
                    );
                }
            }
        }
        s.push_str("</svg>");
        s
    }

    /// The same marks as PDF drawing operations into a `w x h` point box whose lower left
    /// corner is (`x0`, `y0`); text with font `font`.
    pub fn pdf(
        &self,
        content: &mut pdf_writer::Content,
        font: pdf_writer::Name,
        x0: f64,
        y0: f64,
        w: f64,
        h: f64,
    ) {
        let f = Frame::new(self.max_months, w, h, false);
        let at = |x: f64, y: f64| {
            let (a, b) = f.at(x, y);
            ((x0 + a) as f32, (y0 + b) as f32)
        };
        let col = |c: [u8; 3]| {
            (
                c[0] as f32 / 255.0,
                c[1] as f32 / 255.0,
                c[2] as f32 / 255.0,
            )
        };
        for mark in self.marks() {
            match mark {
                Mark::Area(pts, c) => {
                    let (r, g, b) = col(c);
                    content.set_fill_rgb(r, g, b);
                    for (k, &(x, y)) in pts.iter().enumerate() {
                        let (a, b) = at(x, y);
                        if k == 0 {
                            content.move_to(a, b);
                        } else {
                            content.line_to(a, b);
                        }
                    }
                    content.close_path().fill_nonzero();
                }
                Mark::Line(pts, c, width, dashed) => {
                    let (r, g, b) = col(c);
                    content.save_state();
                    content.set_stroke_rgb(r, g, b).set_line_width(width as f32);
                    if dashed {
                        content.set_dash_pattern([4.0, 3.0], 0.0);
                    }
                    for (k, &(x, y)) in pts.iter().enumerate() {
                        let (a, b) = at(x, y);
                        if k == 0 {
                            content.move_to(a, b);
                        } else {
                            content.line_to(a, b);
                        }
                    }
                    content.stroke();
                    content.restore_state();
                }
                Mark::Dot(p, c, radius) => {
                    let (r, g, b) = col(c);
                    let (a, bb) = at(p.0, p.1);
                    let rr = radius as f32;
                    content.set_fill_rgb(r, g, b);
                    content
                        .rect(a - rr, bb - rr, 2.0 * rr, 2.0 * rr)
                        .fill_nonzero();
                }
                Mark::Text(p, text, size, middle) => {
                    let (mut a, b) = at(p.0, p.1);
                    if middle {
                        a -= 0.25 * size as f32 * text.chars().count() as f32;
                    }
                    content.set_fill_rgb(0.2, 0.2, 0.2);
                    content
                        .begin_text()
                        .set_font(font, size as f32)
                        .next_line(a, b)
                        .show(pdf_writer::Str(crate::app::pdf::latin(&text).as_bytes()))
                        .end_text();
                }
            }
        }
    }
}

/// Chart months → drawing units inside a box with margins for the axis labels.
struct Frame {
    max: f64,
    left: f64,
    bottom: f64,
    width: f64,
    height: f64,
    total_h: f64,
    y_down: bool,
}

impl Frame {
    fn new(max: f64, w: f64, h: f64, y_down: bool) -> Frame {
        let (left, bottom, right, top) = (0.09 * w, 0.13 * h, 0.03 * w, 0.03 * h);
        Frame {
            max,
            left,
            bottom,
            width: w - left - right,
            height: h - bottom - top,
            total_h: h,
            y_down,
        }
    }

    fn at(&self, x: f64, y: f64) -> (f64, f64) {
        let px = self.left + x / self.max * self.width;
        let py = self.bottom + y / self.max * self.height;
        (px, if self.y_down { self.total_h - py } else { py })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_follow_the_table_and_the_child_is_on_the_chart() {
        let t = BrushTable::shipped();
        let c = GrowthChart::new(&t, Sex::Female, Some((120.0, 150.0, Some([120.0, 180.0]))));
        let (lo, hi) = t.range(Sex::Female);
        assert_eq!(c.rows.first().unwrap()[0], lo);
        assert!(c.rows.last().unwrap()[0] <= hi);
        let (m, s) = t.at(Sex::Female, 120.0).unwrap();
        let row = c.rows.iter().find(|r| (r[0] - 120.0).abs() < 1e-9).unwrap();
        assert!((row[3] - m).abs() < 1e-9 && (row[4] - (m + s)).abs() < 1e-9);
        assert!(c.max_months >= 180.0 && c.max_months % 12.0 == 0.0);
        let svg = c.svg(480.0, 360.0);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<polygon").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 1);
        let none = GrowthChart::new(&t, Sex::Male, None);
        assert_eq!(none.svg(480.0, 360.0).matches("<circle").count(), 0);
    }
}
