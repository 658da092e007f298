//! A small A4 PDF writer over `pdf-writer` (the typst project's low-level PDF crate): pages of
//! text in the standard Helvetica faces (no font files needed), RGB pictures (deflated) and
//! vector drawings. Used by `boneage report`.

use crate::sheet::Canvas;
use miniz_oxide::deflate::compress_to_vec_zlib;
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};

/// A4 in points.
pub const A4: (f64, f64) = (595.0, 842.0);
/// The regular and the bold face.
pub const REGULAR: Name<'static> = Name(b"F1");
pub const BOLD: Name<'static> = Name(b"F2");

/// Text the standard PDF fonts can show: ASCII, with the few non-ASCII signs the reports use
/// spelled out.
pub fn latin(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            '–' | '—' | '−' => out.push('-'),
            '±' => out.push_str("+/-"),
            '≥' => out.push_str(">="),
            '≤' => out.push_str("<="),
            '°' => out.push_str(" deg"),
            '×' => out.push('x'),
            '’' | '‘' => out.push('\''),
            '“' | '”' => out.push('"'),
            _ => out.push('?'),
        }
    }
    out
}

/// One page being drawn: its content stream and the pictures it shows.
pub struct Page {
    pub content: Content,
    pictures: Vec<(Vec<u8>, usize, usize)>,
}

impl Page {
    /// A line of text at (`x`, `y`) from the page's lower left corner.
    pub fn text(&mut self, x: f64, y: f64, size: f64, bold: bool, text: &str) {
        self.content.set_fill_rgb(0.1, 0.1, 0.1);
        self.content
            .begin_text()
            .set_font(if bold { BOLD } else { REGULAR }, size as f32)
            .next_line(x as f32, y as f32)
            .show(Str(latin(text).as_bytes()))
            .end_text();
    }

    /// Text wrapped to `width` points (Helvetica's average width taken as half the size);
    /// returns the `y` below the last line.
    pub fn paragraph(&mut self, x: f64, mut y: f64, width: f64, size: f64, text: &str) -> f64 {
        let per_line = ((width / (0.5 * size)) as usize).max(10);
        let mut line = String::new();
        for word in text.split_whitespace() {
            if !line.is_empty() && line.len() + 1 + word.len() > per_line {
                self.text(x, y, size, false, &line);
                y -= size * 1.3;
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            self.text(x, y, size, false, &line);
            y -= size * 1.3;
        }
        y
    }

    /// A picture fitted into the `w x h` box at (`x`, `y`) (lower left), aspect kept; returns
    /// the height used.
    pub fn picture(&mut self, canvas: &Canvas, x: f64, y: f64, w: f64, h: f64) -> f64 {
        let scale = (w / canvas.width as f64).min(h / canvas.height as f64);
        let (pw, ph) = (canvas.width as f64 * scale, canvas.height as f64 * scale);
        let name = format!("Im{}", self.pictures.len() + 1);
        self.content.save_state();
        self.content.transform([
            pw as f32,
            0.0,
            0.0,
            ph as f32,
            x as f32,
            (y + h - ph) as f32,
        ]);
        self.content.x_object(Name(name.as_bytes()));
        self.content.restore_state();
        self.pictures
            .push((canvas.rgb.clone(), canvas.width, canvas.height));
        ph
    }
}

/// A document of A4 pages.
#[derive(Default)]
pub struct Document {
    pages: Vec<Page>,
}

impl Document {
    /// A new blank page to draw on.
    pub fn page(&mut self) -> &mut Page {
        self.pages.push(Page {
            content: Content::new(),
            pictures: Vec::new(),
        });
        self.pages.last_mut().expect("just pushed")
    }

    /// The PDF file's bytes.
    pub fn finish(self) -> Vec<u8> {
        let mut pdf = Pdf::new();
        let mut next = 1;
        let mut id = || {
            next += 1;
            Ref::new(next)
        };
        let (catalog, tree, regular, bold) = (Ref::new(1), id(), id(), id());
        pdf.catalog(catalog).pages(tree);
        pdf.type1_font(regular)
            .base_font(Name(b"Helvetica"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.type1_font(bold)
            .base_font(Name(b"Helvetica-Bold"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
        let mut kids = Vec::new();
        for page in self.pages {
            let (page_id, content_id) = (id(), id());
            let picture_ids: Vec<Ref> = page.pictures.iter().map(|_| id()).collect();
            kids.push(page_id);
            let mut p = pdf.page(page_id);
            p.media_box(Rect::new(0.0, 0.0, A4.0 as f32, A4.1 as f32));
            p.parent(tree);
            p.contents(content_id);
            {
                let mut resources = p.resources();
                resources.fonts().pair(REGULAR, regular).pair(BOLD, bold);
                let mut xo = resources.x_objects();
                for (k, pid) in picture_ids.iter().enumerate() {
                    let name = format!("Im{}", k + 1);
                    xo.pair(Name(name.as_bytes()), *pid);
                }
            }
            p.finish();
            for ((rgb, w, h), pid) in page.pictures.iter().zip(&picture_ids) {
                let data = compress_to_vec_zlib(rgb, 6);
                let mut img = pdf.image_xobject(*pid, &data);
                img.filter(Filter::FlateDecode);
                img.width(*w as i32);
                img.height(*h as i32);
                img.color_space().device_rgb();
                img.bits_per_component(8);
                img.finish();
            }
            pdf.stream(content_id, &page.content.finish());
        }
        let n = kids.len() as i32;
        pdf.pages(tree).kids(kids).count(n);
        pdf.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_with_text_and_a_picture_is_a_pdf() {
        let mut doc = Document::default();
        let page = doc.page();
        page.text(50.0, 800.0, 12.0, true, "Bone age ± 2 SD – test");
        let mut c = Canvas::new(4, 3, 128);
        c.put(1, 1, [255, 0, 0]);
        page.picture(&c, 50.0, 500.0, 200.0, 150.0);
        let bytes = doc.finish();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("%PDF-"));
        assert!(text.trim_end().ends_with("%%EOF"));
        assert!(text.contains("(Bone age +/- 2 SD - test) Tj"), "{text}");
        assert!(text.contains("/Subtype /Image") && text.contains("/Helvetica-Bold"));
        assert_eq!(latin("≥ 0.52 °"), ">= 0.52  deg");
    }
}
