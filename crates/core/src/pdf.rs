//! The statement (qaydnoma) as an A4 PDF, for offices that print from a PDF viewer or send the
//! file on: the same words and cells as the XLSX sheet (`statement::printed`), a table with
//! its header repeated on every page, the footer counts and the signature lines.
//!
//! Written with `pdf-writer` and a subset of DejaVu Sans Condensed embedded (`subsetter`,
//! `ttf-parser`), so Uzbek Latin (o‘, g‘), Cyrillic (ў, қ, ғ, ҳ) and Russian print the same on
//! every computer; the font file ships inside the binary (its licence: `fonts/DejaVu-LICENSE.txt`).

use std::collections::BTreeMap;
use std::path::Path;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use crate::error::{CoreError, Result};
use crate::statement::{Printed, Script, Statement, printed};

const FONT: &[u8] = include_bytes!("../fonts/DejaVuSansCondensed.ttf");
const FONT_NAME: &[u8] = b"DAFTAR+DejaVuSansCondensed";

/// A4 in points, and the margins.
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 36.0;

const TEXT: f32 = 9.0;
const CELL: f32 = 8.0;
const ROW_H: f32 = 14.0;

/// Text set in the embedded font: glyph ids are remapped to the subset's as they are used.
struct Fonts<'a> {
    face: ttf_parser::Face<'a>,
    remapper: subsetter::GlyphRemapper,
    /// New glyph id → the character it shows (for copy and search: ToUnicode).
    chars: BTreeMap<u16, char>,
    /// New glyph id → advance in 1/1000 em.
    widths: BTreeMap<u16, f32>,
}

impl Fonts<'_> {
    fn new() -> Result<Fonts<'static>> {
        let face = ttf_parser::Face::parse(FONT, 0).map_err(|e| {
            CoreError::invalid("font", format!("the statement font is damaged: {e}"))
        })?;
        let mut remapper = subsetter::GlyphRemapper::new();
        remapper.remap(0);
        Ok(Fonts {
            face,
            remapper,
            chars: BTreeMap::new(),
            widths: BTreeMap::new(),
        })
    }

    fn glyph(&self, c: char) -> ttf_parser::GlyphId {
        self.face
            .glyph_index(c)
            .or_else(|| self.face.glyph_index('?'))
            .unwrap_or(ttf_parser::GlyphId(0))
    }

    fn advance(&self, gid: ttf_parser::GlyphId) -> f32 {
        let upem = f32::from(self.face.units_per_em().max(1));
        f32::from(self.face.glyph_hor_advance(gid).unwrap_or(0)) * 1000.0 / upem
    }

    /// The width of `text` at `size`, in points.
    fn width(&self, text: &str, size: f32) -> f32 {
        text.chars()
            .map(|c| self.advance(self.glyph(c)))
            .sum::<f32>()
            * size
            / 1000.0
    }

    /// `text` as the two-byte glyph ids of the subset (Identity-H).
    fn encode(&mut self, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let gid = self.glyph(c);
            let new = self.remapper.remap(gid.0);
            self.chars.entry(new).or_insert(c);
            let w = self.advance(gid);
            self.widths.insert(new, w);
            out.extend_from_slice(&new.to_be_bytes());
        }
        out
    }

    /// `text` cut to fit `max` points at `size`, with an ellipsis when cut.
    fn fit(&self, text: &str, size: f32, max: f32) -> String {
        if self.width(text, size) <= max {
            return text.to_string();
        }
        let mut out = String::new();
        for c in text.chars() {
            if self.width(&format!("{out}{c}…"), size) > max {
                break;
            }
            out.push(c);
        }
        format!("{out}…")
    }

    /// `text` broken into lines of at most `max` points.
    fn wrap(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if self.width(&candidate, size) <= max || line.is_empty() {
                line = candidate;
            } else {
                lines.push(std::mem::take(&mut line));
                line = word.to_string();
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }
}

/// One page being drawn.
struct Page {
    content: Content,
}

impl Page {
    fn new() -> Page {
        let mut content = Content::new();
        content.set_line_width(0.5);
        Page { content }
    }

    fn text(&mut self, fonts: &mut Fonts<'_>, x: f32, y: f32, size: f32, text: &str) {
        let bytes = fonts.encode(text);
        self.content
            .begin_text()
            .set_font(Name(b"F1"), size)
            .next_line(x, y)
            .show(Str(&bytes))
            .end_text();
    }

    fn centered(&mut self, fonts: &mut Fonts<'_>, y: f32, size: f32, text: &str) {
        let w = fonts.width(text, size);
        self.text(fonts, (PAGE_W - w) / 2.0, y, size, text);
    }

    fn cell(&mut self, x: f32, y: f32, w: f32, h: f32) {
        self.content.rect(x, y, w, h).stroke();
    }
}

/// Column widths in points for the statement's columns (the name column takes what is left).
fn column_widths(columns: usize) -> Vec<f32> {
    let usable = PAGE_W - 2.0 * MARGIN;
    let fixed: Vec<f32> = if columns == 10 {
        vec![20.0, 0.0, 58.0, 32.0, 32.0, 40.0, 60.0, 38.0, 30.0, 58.0]
    } else {
        let mut v = vec![20.0, 0.0, 62.0];
        v.extend(std::iter::repeat_n(44.0, columns.saturating_sub(5)));
        v.extend([70.0, 64.0]);
        v.truncate(columns);
        v
    };
    let rest = usable - fixed.iter().sum::<f32>();
    fixed
        .into_iter()
        .map(|w| if w == 0.0 { rest.max(80.0) } else { w })
        .collect()
}

/// Writes the statement as an A4 PDF, in `script`.
pub fn write_statement_pdf(st: &Statement, script: Script, path: &Path) -> Result<()> {
    let p = printed(st, script);
    let bytes = render(&p)?;
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes).map_err(|e| CoreError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| CoreError::io(path, e))
}

fn render(p: &Printed) -> Result<Vec<u8>> {
    let mut fonts = Fonts::new()?;
    let widths = column_widths(p.columns.len());
    // Each header in its column: words wrapped, and set smaller when one word is wider.
    let header_lines: Vec<(f32, Vec<String>)> = p
        .columns
        .iter()
        .zip(&widths)
        .map(|(c, w)| {
            let widest = c
                .split_whitespace()
                .map(|word| fonts.width(word, CELL))
                .fold(0.01, f32::max);
            let size = (CELL * (w - 4.0) / widest).clamp(5.5, CELL);
            (size, fonts.wrap(c, size, w - 4.0))
        })
        .collect();
    let header_h = header_lines
        .iter()
        .map(|(size, lines)| lines.len() as f32 * (size + 2.0))
        .fold(CELL, f32::max)
        + 6.0;

    let mut pages: Vec<Page> = Vec::new();
    let mut page = Page::new();
    let mut y = PAGE_H - MARGIN;
    // The title block, on the first page.
    let form_w = fonts.width(&p.form, TEXT);
    page.text(
        &mut fonts,
        PAGE_W - MARGIN - form_w,
        y - TEXT,
        TEXT,
        &p.form,
    );
    y -= 20.0;
    page.centered(&mut fonts, y - 11.0, 11.0, &p.university);
    y -= 18.0;
    page.centered(&mut fonts, y - 12.0, 12.0, &p.title);
    y -= 24.0;
    for line in &p.lines {
        let line = fonts.fit(line, TEXT, PAGE_W - 2.0 * MARGIN);
        page.text(&mut fonts, MARGIN, y - TEXT, TEXT, &line);
        y -= TEXT + 6.0;
    }
    y -= 6.0;

    let draw_header = |page: &mut Page, fonts: &mut Fonts<'_>, y: f32| {
        let mut x = MARGIN;
        for ((size, lines), w) in header_lines.iter().zip(&widths) {
            page.cell(x, y - header_h, *w, header_h);
            let mut ty = y - 4.0 - size;
            for l in lines {
                let lw = fonts.width(l, *size);
                page.text(fonts, x + (w - lw) / 2.0, ty, *size, l);
                ty -= size + 2.0;
            }
            x += w;
        }
        y - header_h
    };
    y = draw_header(&mut page, &mut fonts, y);
    for row in &p.rows {
        if y - ROW_H < MARGIN {
            pages.push(std::mem::replace(&mut page, Page::new()));
            y = draw_header(&mut page, &mut fonts, PAGE_H - MARGIN);
        }
        let mut x = MARGIN;
        for (c, (v, w)) in row.iter().zip(&widths).enumerate() {
            page.cell(x, y - ROW_H, *w, ROW_H);
            // A long word ("ruxsat etilmagan") is set smaller before anything is cut.
            let natural = fonts.width(v, CELL).max(0.01);
            let size = (CELL * (w - 4.0) / natural).clamp(5.5, CELL);
            let v = fonts.fit(v, size, w - 4.0);
            let tx = if c == 1 {
                x + 3.0
            } else {
                x + (w - fonts.width(&v, size)) / 2.0
            };
            page.text(&mut fonts, tx, y - ROW_H + 4.0, size, &v);
            x += w;
        }
        y -= ROW_H;
    }
    // The counts and the signatures stay together, on a new page if they must.
    let tail = 24.0 + p.signatures.len() as f32 * 26.0;
    if y - tail < MARGIN {
        pages.push(std::mem::replace(&mut page, Page::new()));
        y = PAGE_H - MARGIN;
    }
    y -= 18.0;
    for line in fonts.wrap(&p.footer, TEXT, PAGE_W - 2.0 * MARGIN) {
        page.text(&mut fonts, MARGIN, y, TEXT, &line);
        y -= TEXT + 4.0;
    }
    y -= 12.0;
    for line in &p.signatures {
        page.text(&mut fonts, MARGIN, y, TEXT, line);
        y -= 26.0;
    }
    pages.push(page);

    // The document: catalog, pages, the font (Type0 over a CID TrueType subset).
    let mut pdf = Pdf::new();
    let mut next = Ref::new(1);
    let mut alloc = || next.bump();
    let catalog = alloc();
    let tree = alloc();
    let type0 = alloc();
    let cid = alloc();
    let descriptor = alloc();
    let file = alloc();
    let cmap_ref = alloc();
    let page_refs: Vec<(Ref, Ref)> = pages.iter().map(|_| (alloc(), alloc())).collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_refs.iter().map(|(p, _)| *p))
        .count(page_refs.len() as i32);
    for (page, (page_ref, content_ref)) in pages.into_iter().zip(&page_refs) {
        let mut pg = pdf.page(*page_ref);
        pg.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
        pg.parent(tree);
        pg.contents(*content_ref);
        pg.resources().fonts().pair(Name(b"F1"), type0);
        pg.finish();
        pdf.stream(*content_ref, &page.content.finish());
    }
    let info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    pdf.type0_font(type0)
        .base_font(Name(FONT_NAME))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(cmap_ref);
    {
        let mut font = pdf.cid_font(cid);
        font.subtype(CidFontType::Type2)
            .base_font(Name(FONT_NAME))
            .system_info(info)
            .font_descriptor(descriptor)
            .default_width(0.0)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        let mut w = font.widths();
        for (gid, width) in &fonts.widths {
            w.consecutive(*gid, [*width]);
        }
    }
    let upem = f32::from(fonts.face.units_per_em().max(1));
    let scale = |v: i16| f32::from(v) * 1000.0 / upem;
    let bbox = fonts.face.global_bounding_box();
    pdf.font_descriptor(descriptor)
        .name(Name(FONT_NAME))
        .flags(FontFlags::NON_SYMBOLIC)
        .bbox(Rect::new(
            scale(bbox.x_min),
            scale(bbox.y_min),
            scale(bbox.x_max),
            scale(bbox.y_max),
        ))
        .italic_angle(0.0)
        .ascent(scale(fonts.face.ascender()))
        .descent(scale(fonts.face.descender()))
        .cap_height(scale(
            fonts.face.capital_height().unwrap_or(fonts.face.ascender()),
        ))
        .stem_v(80.0)
        .font_file2(file);
    let subset = subsetter::subset(FONT, 0, &fonts.remapper).map_err(|e| {
        CoreError::invalid(
            "font",
            format!("the statement font could not be subset: {e:?}"),
        )
    })?;
    pdf.stream(file, &subset);
    let mut cmap = pdf_writer::types::UnicodeCmap::new(Name(b"Custom"), info);
    for (gid, c) in &fonts.chars {
        cmap.pair(*gid, *c);
    }
    pdf.cmap(cmap_ref, &cmap.finish()).system_info(info);
    Ok(pdf.finish())
}
