//! Building blocks of the HTML reports: a self-contained page (inline CSS, inline SVG plots),
//! tables, escaping, and bar charts drawn with plotters' SVG backend.

use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::Path;

/// Colours used for the sexes in every plot.
pub const MALE_COLOR: RGBColor = RGBColor(49, 104, 176);
pub const FEMALE_COLOR: RGBColor = RGBColor(214, 96, 77);
/// Colour of plots that are not split by sex.
pub const GREY_COLOR: RGBColor = RGBColor(110, 110, 110);

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A self-contained HTML page assembled section by section.
pub struct Page {
    title: String,
    body: String,
}

impl Page {
    pub fn new(title: &str) -> Page {
        Page {
            title: title.to_string(),
            body: String::new(),
        }
    }

    pub fn h2(&mut self, text: &str) {
        let _ = writeln!(self.body, "<h2>{}</h2>", esc(text));
    }

    pub fn p(&mut self, text: &str) {
        let _ = writeln!(self.body, "<p>{}</p>", esc(text));
    }

    /// Raw HTML (the caller escapes).
    pub fn raw(&mut self, html: &str) {
        self.body.push_str(html);
        self.body.push('\n');
    }

    /// A table with a header row; cells are escaped.
    pub fn table(&mut self, header: &[&str], rows: &[Vec<String>]) {
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| r.iter().map(|c| esc(c)).collect())
            .collect();
        self.raw_table(header, &rows);
    }

    /// A table whose cells are HTML already (the caller escapes); the header is escaped.
    pub fn raw_table(&mut self, header: &[&str], rows: &[Vec<String>]) {
        self.body.push_str("<table><thead><tr>");
        for h in header {
            let _ = write!(self.body, "<th>{}</th>", esc(h));
        }
        self.body.push_str("</tr></thead><tbody>");
        for r in rows {
            self.body.push_str("<tr>");
            for c in r {
                let _ = write!(self.body, "<td>{c}</td>");
            }
            self.body.push_str("</tr>");
        }
        self.body.push_str("</tbody></table>\n");
    }

    /// An inline SVG figure with a caption.
    pub fn figure(&mut self, svg: &str, caption: &str) {
        let _ = writeln!(
            self.body,
            "<figure>{svg}<figcaption>{}</figcaption></figure>",
            esc(caption)
        );
    }

    pub fn html(&self) -> String {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title><style>{CSS}</style></head>\
             <body><h1>{title}</h1>\n{body}\
             <footer>boneage {version}</footer></body></html>\n",
            title = esc(&self.title),
            body = self.body,
            version = env!("CARGO_PKG_VERSION"),
        )
    }

    /// Writes the page atomically.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        boneage_imaging::io::write_atomic(path, self.html().as_bytes())
            .map_err(|e| anyhow::anyhow!("{}: cannot write report: {e}", path.display()))
    }
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;\
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}h1{font-size:1.6em;border-bottom:2px solid #ddd;\
padding-bottom:.3em}h2{font-size:1.25em;margin-top:1.8em}table{border-collapse:collapse;margin:.6em 0;\
font-size:.92em}th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}th{background:#f4f4f4}\
td:first-child,th:first-child{text-align:left}figure{margin:1em 0}figcaption{color:#555;font-size:.9em}\
.grid{display:flex;flex-wrap:wrap;gap:10px}.cell{width:170px;font-size:.8em;text-align:center}\
.cell img{max-width:160px;max-height:200px;background:#000;display:block;margin:0 auto}\
.flag{display:inline-block;background:#fde2c4;border-radius:3px;padding:0 4px;margin:1px}\
.num{font-size:1.6em;font-weight:600}.cards{display:flex;gap:1.2em;flex-wrap:wrap}\
.card{border:1px solid #ddd;border-radius:6px;padding:.5em 1em;min-width:9em}\
footer{margin-top:3em;color:#888;font-size:.8em}";

/// One series of a bar chart.
pub struct Series<'a> {
    pub name: &'a str,
    pub color: RGBColor,
    pub values: &'a [f64],
}

/// A grouped bar chart as an SVG string: `labels[i]` under group `i`, one bar per series.
pub fn bar_chart_svg(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    labels: &[String],
    series: &[Series],
    size: (u32, u32),
) -> anyhow::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE)?;
        let ymax = series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .fold(0.0f64, f64::max)
            .max(1e-9)
            * 1.08;
        let n = labels.len();
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..n as f64, 0.0..ymax)?;
        let every = n.div_ceil(20).max(1);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .x_desc(x_desc)
            .y_desc(y_desc)
            .draw()?;
        // Category labels under the centre of each group, drawn on the root area.
        let style = ("sans-serif", 13).into_font().color(&BLACK);
        for (i, l) in labels.iter().enumerate().filter(|(i, _)| i % every == 0) {
            let (px, py) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            root.draw(&Text::new(
                l.clone(),
                (px, py + 6),
                style.clone().pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Top,
                )),
            ))?;
        }
        let k = series.len().max(1) as f64;
        let bar_w = 0.84 / k;
        for (si, s) in series.iter().enumerate() {
            let color = s.color;
            chart
                .draw_series(s.values.iter().enumerate().map(|(i, &v)| {
                    let x0 = i as f64 + 0.08 + si as f64 * bar_w;
                    Rectangle::new([(x0, 0.0), (x0 + bar_w, v)], color.filled())
                }))?
                .label(s.name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        if series.len() > 1 {
            draw_legend(&mut chart)?;
        }
        root.present()?;
    }
    Ok(svg)
}

/// The legend box every chart uses, in the upper left corner.
fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<
        'a,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(|e| anyhow::anyhow!("drawing a legend: {e}"))
}

/// A point of a scatter plot.
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub color: RGBColor,
}

/// A straight reference line of a scatter plot (identity, mean, limits of agreement).
pub struct Line {
    pub from: (f64, f64),
    pub to: (f64, f64),
    pub color: RGBColor,
    pub dashed: bool,
}

/// A scatter plot as an SVG string; axis ranges cover the points and lines with a margin.
pub fn scatter_svg(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    points: &[Point],
    lines: &[Line],
    legend: &[(&str, RGBColor)],
    size: (u32, u32),
) -> anyhow::Result<String> {
    let xs = points
        .iter()
        .map(|p| p.x)
        .chain(lines.iter().flat_map(|l| [l.from.0, l.to.0]));
    let ys = points
        .iter()
        .map(|p| p.y)
        .chain(lines.iter().flat_map(|l| [l.from.1, l.to.1]));
    let range = |v: &mut dyn Iterator<Item = f64>| {
        let (lo, hi) = v.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        if !lo.is_finite() {
            return (0.0, 1.0);
        }
        let pad = ((hi - lo) * 0.05).max(1.0);
        (lo - pad, hi + pad)
    };
    let (x0, x1) = range(&mut xs.into_iter());
    let (y0, y1) = range(&mut ys.into_iter());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .light_line_style(WHITE)
            .draw()?;
        for l in lines {
            if l.dashed {
                chart.draw_series(DashedLineSeries::new(
                    [l.from, l.to],
                    6,
                    4,
                    l.color.stroke_width(1),
                ))?;
            } else {
                chart.draw_series(LineSeries::new([l.from, l.to], l.color.stroke_width(1)))?;
            }
        }
        chart.draw_series(
            points
                .iter()
                .map(|p| Circle::new((p.x, p.y), 2, p.color.mix(0.7).filled())),
        )?;
        for (name, color) in legend {
            let c = *color;
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
                .label(*name)
                .legend(move |(x, y)| Circle::new((x + 6, y), 4, c.filled()));
        }
        if !legend.is_empty() {
            draw_legend(&mut chart)?;
        }
        root.present()?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_svg() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let svg = bar_chart_svg(
            "t",
            "x",
            "y",
            &["a".into(), "b".into()],
            &[Series {
                name: "s",
                color: MALE_COLOR,
                values: &[1.0, 2.0],
            }],
            (300, 200),
        )
        .unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<rect"), "{svg}");
    }
}
