//! One layout for every document we print: a header with the kind and number, dates, the
//! seller and the buyer side by side, a table of lines, totals, shaded panels (payment, KSeF)
//! and a note. Each kind of document fills a [`Sheet`]; [`draw`] lays it out on A4 pages.

use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};
use std::sync::OnceLock;

const REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

/// What a page says, already in words and formatted amounts.
pub(crate) struct Sheet {
    /// The PDF's title (metadata), e.g. `Faktura VAT FV/2026/02/0001`.
    pub title: String,
    /// `Faktura VAT`, `Faktura pro forma`, …
    pub kind: &'static str,
    pub number: String,
    /// Label and value, one row each (issue date, period, …).
    pub dates: Vec<(&'static str, String)>,
    pub seller: Party,
    pub buyer: Party,
    /// The heading of the quantity column (`Licencje`, `Ilość (szt.)`).
    pub quantity: &'static str,
    pub rows: Vec<Row>,
    pub totals: Totals,
    pub panels: Vec<Panel>,
    pub note: Option<&'static str>,
}

pub(crate) struct Party {
    pub name: String,
    pub address: Vec<String>,
    pub nip: Option<String>,
}

pub(crate) struct Row {
    pub name: String,
    /// A smaller grey line under the name (product code, period).
    pub detail: Option<String>,
    pub seats: String,
    pub unit_net: String,
    pub net: String,
    pub vat_rate: &'static str,
}

pub(crate) struct Totals {
    pub net: String,
    pub vat: String,
    pub gross: String,
    /// The gross amount in words, printed under the totals when given.
    pub in_words: Option<String>,
}

/// A shaded box with a heading, label–value rows (bold rows stand out) and, on the right, a
/// QR code with its caption.
pub(crate) struct Panel {
    pub heading: &'static str,
    pub rows: Vec<(&'static str, String, bool)>,
    pub qr: Option<Qr>,
}

/// A QR code as its dark modules (row by row) and the text printed under it.
pub(crate) struct Qr {
    pub size: usize,
    pub dark: Vec<bool>,
    pub caption: String,
}

/// The sheet as PDF bytes, the same bytes for the same sheet.
pub(crate) fn render(sheet: &Sheet) -> Vec<u8> {
    let mut pdf = krilla::Document::new();
    pdf.set_metadata(
        Metadata::new()
            .title(sheet.title.clone())
            .creator("renewals".to_string())
            .producer("renewals".to_string())
            .language("pl".to_string()),
    );
    let mut w = Writer::new(&mut pdf);
    w.sheet(sheet);
    w.finish();
    pdf.finish()
        .expect("a document of text, lines and squares is valid PDF")
}

struct Fonts {
    regular: Font,
    bold: Font,
    regular_ref: FontRef<'static>,
    bold_ref: FontRef<'static>,
}

fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| {
        let data = |b: &'static [u8]| krilla::Data::from(b);
        Fonts {
            regular: Font::new(data(REGULAR), 0).expect("DejaVu Sans loads"),
            bold: Font::new(data(BOLD), 0).expect("DejaVu Sans Bold loads"),
            regular_ref: FontRef::new(REGULAR).expect("DejaVu Sans parses"),
            bold_ref: FontRef::new(BOLD).expect("DejaVu Sans Bold parses"),
        }
    })
}

/// Width of `text` at `size` points (advance widths, no kerning: close enough to align).
fn text_width(text: &str, size: f32, bold: bool) -> f32 {
    let f = fonts();
    let font = if bold { &f.bold_ref } else { &f.regular_ref };
    let charmap = font.charmap();
    let metrics = font.glyph_metrics(Size::new(size), LocationRef::default());
    text.chars()
        .map(|c| {
            let gid = charmap.map(c).unwrap_or_default();
            metrics.advance_width(gid).unwrap_or(0.0)
        })
        .sum()
}

/// Splits `text` into lines no wider than `width`, at spaces (a long word is cut).
fn wrap(text: &str, size: f32, bold: bool, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if text_width(&candidate, size, bold) <= width || line.is_empty() {
            line = candidate;
        } else {
            lines.push(std::mem::take(&mut line));
            line = word.to_string();
        }
        while text_width(&line, size, bold) > width && line.chars().count() > 1 {
            // The longest prefix that fits (at least one character), measured in one pass.
            let mut used = 0.0;
            let mut cut = line.len();
            for (n, (i, c)) in line.char_indices().enumerate() {
                used += text_width(c.encode_utf8(&mut [0; 4]), size, bold);
                if used > width && n > 0 {
                    cut = i;
                    break;
                }
            }
            lines.push(line[..cut].to_string());
            line = line[cut..].to_string();
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

const A4: (f32, f32) = (595.28, 841.89);
const MARGIN: f32 = 48.0;
const RIGHT: f32 = A4.0 - MARGIN;
const BOTTOM: f32 = A4.1 - 56.0;

const INK: (u8, u8, u8) = (0x1f, 0x29, 0x37);
const MUTED: (u8, u8, u8) = (0x6b, 0x72, 0x80);
const ACCENT: (u8, u8, u8) = (0x1d, 0x4e, 0xd8);
const RULE: (u8, u8, u8) = (0xd1, 0xd5, 0xdb);
const SHADE: (u8, u8, u8) = (0xf3, 0xf4, 0xf6);
const WHITE: (u8, u8, u8) = (0xff, 0xff, 0xff);
const BLACK: (u8, u8, u8) = (0x00, 0x00, 0x00);

/// The printed side of a QR code (without its quiet zone): 40 mm, far above the ~1 mm
/// modules phone cameras need at the usual 45 modules.
const QR_SIDE: f32 = 113.0;
/// The light margin a reader needs around the code: four modules (ISO/IEC 18004).
const QR_QUIET_MODULES: f32 = 4.0;

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
    Center,
}

/// Draws on pages of one document, top to bottom, starting a new page when one is full.
struct Writer<'a> {
    pdf: &'a mut krilla::Document,
    /// Every page's draw calls, replayed at `finish` (a surface borrows the document).
    pages: Vec<Vec<Op>>,
    y: f32,
}

enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        color: (u8, u8, u8),
        text: String,
    },
    /// Rectangles filled as one path, so that adjacent ones leave no seam between them.
    Rects {
        rects: Vec<(f32, f32, f32, f32)>,
        color: (u8, u8, u8),
    },
    Line {
        x1: f32,
        x2: f32,
        y: f32,
        width: f32,
        color: (u8, u8, u8),
    },
}

fn fill(c: (u8, u8, u8)) -> Fill {
    Fill {
        paint: rgb::Color::new(c.0, c.1, c.2).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }
}

impl<'a> Writer<'a> {
    fn new(pdf: &'a mut krilla::Document) -> Writer<'a> {
        Writer {
            pdf,
            pages: vec![Vec::new()],
            y: MARGIN,
        }
    }

    fn op(&mut self, op: Op) {
        self.pages.last_mut().expect("a page").push(op);
    }

    #[allow(clippy::too_many_arguments)]
    fn text_at(
        &mut self,
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        color: (u8, u8, u8),
        align: Align,
        text: &str,
    ) {
        let x = match align {
            Align::Left => x,
            Align::Right => x - text_width(text, size, bold),
            Align::Center => x - text_width(text, size, bold) / 2.0,
        };
        self.op(Op::Text {
            x,
            y,
            size,
            bold,
            color,
            text: text.to_string(),
        });
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: (u8, u8, u8)) {
        self.op(Op::Rects {
            rects: vec![(x, y, w, h)],
            color,
        });
    }

    fn rule(&mut self, x1: f32, x2: f32, y: f32, width: f32, color: (u8, u8, u8)) {
        self.op(Op::Line {
            x1,
            x2,
            y,
            width,
            color,
        });
    }

    /// Makes room for `height` points, on a new page if this one is full.
    fn room(&mut self, height: f32) {
        if self.y + height > BOTTOM {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    fn sheet(&mut self, s: &Sheet) {
        self.header(s);
        self.parties(&s.seller, &s.buyer);
        self.lines(s.quantity, &s.rows);
        self.totals(&s.totals);
        for panel in &s.panels {
            self.panel(panel);
        }
        if let Some(note) = s.note {
            self.note(note);
        }
    }

    /// The seller's name left, the kind and number right, then the dates.
    fn header(&mut self, s: &Sheet) {
        let y = self.y;
        let number = format!("nr {}", s.number);
        self.text_at(RIGHT, y + 14.0, 15.0, true, ACCENT, Align::Right, s.kind);
        self.text_at(RIGHT, y + 32.0, 12.0, true, INK, Align::Right, &number);
        // A long name wraps (smaller from the third line on) left of the kind and number.
        let width = RIGHT
            - MARGIN
            - 24.0
            - text_width(s.kind, 15.0, true).max(text_width(&number, 12.0, true));
        let mut size = 15.0;
        let mut name = wrap(&s.seller.name, size, true, width);
        if name.len() > 2 {
            size = 11.0;
            name = wrap(&s.seller.name, size, true, width);
        }
        let mut line_y = y + 14.0;
        for part in &name {
            self.text_at(MARGIN, line_y, size, true, INK, Align::Left, part);
            line_y += size * 1.25;
        }
        self.y += 44.0f32.max(line_y - size * 1.25 - y + 16.0);
        self.rule(MARGIN, RIGHT, self.y, 1.2, ACCENT);
        self.y += 18.0;

        let label_width = s
            .dates
            .iter()
            .map(|(label, _)| text_width(label, 9.0, false))
            .fold(98.0, f32::max);
        let value_x = MARGIN + label_width + 12.0;
        for (label, value) in &s.dates {
            self.text_at(MARGIN, self.y, 9.0, false, MUTED, Align::Left, label);
            for part in wrap(value, 9.5, false, RIGHT - value_x) {
                self.text_at(value_x, self.y, 9.5, false, INK, Align::Left, &part);
                self.y += 14.0;
            }
        }
        self.y += 12.0;
    }

    /// The seller and the buyer side by side.
    fn parties(&mut self, seller: &Party, buyer: &Party) {
        let col = (RIGHT - MARGIN) / 2.0;
        let top = self.y;
        let lines = |p: &Party| {
            let mut lines: Vec<(bool, String)> = vec![(true, p.name.clone())];
            lines.extend(p.address.iter().map(|l| (false, l.clone())));
            if let Some(nip) = &p.nip {
                lines.push((false, format!("NIP: {nip}")));
            }
            lines
        };
        let mut bottom = top;
        for (x, label, lines) in [
            (MARGIN, "Sprzedawca", lines(seller)),
            (MARGIN + col + 12.0, "Nabywca", lines(buyer)),
        ] {
            let mut y = top;
            self.text_at(x, y, 8.5, true, MUTED, Align::Left, &label.to_uppercase());
            y += 15.0;
            for (bold, line) in lines {
                for part in wrap(&line, 10.0, bold, col - 16.0) {
                    self.text_at(x, y, 10.0, bold, INK, Align::Left, &part);
                    y += 13.5;
                }
            }
            bottom = bottom.max(y);
        }
        self.y = bottom + 16.0;
    }

    fn lines(&mut self, quantity: &str, rows: &[Row]) {
        // Columns: Lp. | product (and detail) | seats | unit net | net | VAT.
        let x_no = MARGIN + 4.0;
        let x_product = MARGIN + 26.0;
        let x_seats = RIGHT - 240.0;
        let x_unit = RIGHT - 152.0;
        let x_net = RIGHT - 52.0;
        let x_vat = RIGHT - 4.0;
        let product_width = x_seats - 44.0 - x_product;
        let header = |w: &mut Writer| {
            w.rect(MARGIN, w.y, RIGHT - MARGIN, 20.0, SHADE);
            let y = w.y + 13.5;
            let h = |w: &mut Writer, x, align, t: &str| w.text_at(x, y, 8.0, true, MUTED, align, t);
            h(w, x_no, Align::Left, "Lp.");
            h(w, x_product, Align::Left, "Produkt");
            h(w, x_seats, Align::Right, quantity);
            h(w, x_unit, Align::Right, "Cena jedn. netto");
            h(w, x_net, Align::Right, "Wartość netto");
            h(w, x_vat, Align::Right, "VAT");
            w.y += 20.0;
        };
        self.room(60.0);
        header(self);
        for (i, row) in rows.iter().enumerate() {
            let name = wrap(&row.name, 9.5, false, product_width);
            let detail_height = if row.detail.is_some() { 12.0 } else { 0.0 };
            let height = 8.0 + 13.0 * name.len() as f32 + detail_height + 6.0;
            if self.y + height > BOTTOM {
                self.room(height + 20.0);
                header(self);
            }
            let mut y = self.y + 14.0;
            let first = y;
            self.text_at(
                x_no,
                y,
                9.5,
                false,
                INK,
                Align::Left,
                &format!("{}.", i + 1),
            );
            for part in &name {
                self.text_at(x_product, y, 9.5, false, INK, Align::Left, part);
                y += 13.0;
            }
            if let Some(detail) = &row.detail {
                self.text_at(x_product, y, 8.0, false, MUTED, Align::Left, detail);
                y += 12.0;
            }
            let cells = [
                (x_seats, row.seats.as_str()),
                (x_unit, row.unit_net.as_str()),
                (x_net, row.net.as_str()),
                (x_vat, row.vat_rate),
            ];
            for (x, value) in cells {
                self.text_at(x, first, 9.5, false, INK, Align::Right, value);
            }
            self.y = y - 2.0;
            self.rule(MARGIN, RIGHT, self.y, 0.5, RULE);
        }
        self.y += 14.0;
    }

    fn totals(&mut self, t: &Totals) {
        self.room(70.0);
        let label_x = RIGHT - 200.0;
        let rows = [
            ("Razem netto", &t.net, false),
            ("VAT 23%", &t.vat, false),
            ("Razem brutto", &t.gross, true),
        ];
        for (label, amount, bold) in rows {
            if bold {
                self.rule(label_x, RIGHT, self.y - 10.0, 0.8, INK);
                self.y += 3.0;
            }
            let size = if bold { 11.0 } else { 9.5 };
            self.text_at(label_x, self.y, size, bold, INK, Align::Left, label);
            self.text_at(RIGHT - 4.0, self.y, size, bold, INK, Align::Right, amount);
            self.y += 16.0;
        }
        if let Some(words) = &t.in_words {
            let text = format!("Słownie: {words}");
            // Right-aligned under the gross amount, as wide as the page allows.
            for part in wrap(&text, 8.5, false, RIGHT - 4.0 - MARGIN) {
                self.room(12.0);
                self.text_at(RIGHT - 4.0, self.y, 8.5, false, MUTED, Align::Right, &part);
                self.y += 12.0;
            }
        }
        self.y += 14.0;
    }

    fn panel(&mut self, p: &Panel) {
        let label_x = MARGIN + 14.0;
        let label_width = p
            .rows
            .iter()
            .map(|(label, _, _)| text_width(label, 9.0, false))
            .fold(104.0, f32::max);
        // Beside a QR code the values are narrow: each label goes above its value instead.
        let stacked = p.qr.is_some();
        let value_x = if stacked {
            label_x
        } else {
            label_x + label_width + 12.0
        };
        // The QR code sits at the right edge, in a white square with its quiet zone.
        let qr = p.qr.as_ref().map(|qr| {
            let module = QR_SIDE / qr.size as f32;
            let quiet = QR_QUIET_MODULES * module;
            let caption_width = text_width(&qr.caption, 7.0, false) + 8.0;
            let box_width = (QR_SIDE + 2.0 * quiet).max(caption_width);
            let box_height = QR_SIDE + 2.0 * quiet + 14.0;
            (qr, module, box_width, box_height)
        });
        let text_right = match &qr {
            Some((_, _, box_width, _)) => RIGHT - 14.0 - box_width - 14.0,
            None => RIGHT - 14.0,
        };
        let wrapped: Vec<(&str, Vec<String>, bool)> = p
            .rows
            .iter()
            .map(|(l, v, b)| (*l, wrap(v, 10.0, *b, text_right - value_x), *b))
            .collect();
        let text_height = 30.0
            + wrapped
                .iter()
                .map(|(_, v, _)| (v.len() + usize::from(stacked)) as f32 * 14.0)
                .sum::<f32>();
        let height = match &qr {
            Some((_, _, _, box_height)) => text_height.max(box_height + 20.0),
            None => text_height,
        };
        self.room(height + 10.0);
        self.rect(MARGIN, self.y, RIGHT - MARGIN, height, SHADE);
        self.rect(MARGIN, self.y, 3.0, height, ACCENT);
        let mut y = self.y + 17.0;
        self.text_at(label_x, y, 8.5, true, MUTED, Align::Left, p.heading);
        y += 17.0;
        for (label, values, bold) in wrapped {
            self.text_at(label_x, y, 9.0, false, MUTED, Align::Left, label);
            if stacked {
                y += 14.0;
            }
            for v in values {
                self.text_at(value_x, y, 10.0, bold, INK, Align::Left, &v);
                y += 14.0;
            }
        }
        if let Some((qr, module, box_width, box_height)) = qr {
            let box_x = RIGHT - 14.0 - box_width;
            let box_y = self.y + (height - box_height) / 2.0;
            self.rect(box_x, box_y, box_width, box_height, WHITE);
            let x0 = box_x + (box_width - QR_SIDE) / 2.0;
            let y0 = box_y + QR_QUIET_MODULES * module;
            self.qr(qr, x0, y0, module);
            let centre = box_x + box_width / 2.0;
            // The caption starts below the quiet zone (7 pt text rises about 5 pt).
            let caption_y = y0 + QR_SIDE + QR_QUIET_MODULES * module + 7.0;
            self.text_at(
                centre,
                caption_y,
                7.0,
                false,
                INK,
                Align::Center,
                &qr.caption,
            );
        }
        self.y += height + 18.0;
    }

    /// The dark modules as squares, a row's adjacent modules merged into one rectangle.
    fn qr(&mut self, qr: &Qr, x0: f32, y0: f32, module: f32) {
        let mut rects = Vec::new();
        for row in 0..qr.size {
            let mut col = 0;
            while col < qr.size {
                if !qr.dark[row * qr.size + col] {
                    col += 1;
                    continue;
                }
                let start = col;
                while col < qr.size && qr.dark[row * qr.size + col] {
                    col += 1;
                }
                rects.push((
                    x0 + start as f32 * module,
                    y0 + row as f32 * module,
                    (col - start) as f32 * module,
                    module,
                ));
            }
        }
        self.op(Op::Rects {
            rects,
            color: BLACK,
        });
    }

    fn note(&mut self, note: &str) {
        for part in wrap(note, 8.5, false, RIGHT - MARGIN) {
            self.room(12.0);
            self.text_at(MARGIN, self.y, 8.5, false, MUTED, Align::Left, &part);
            self.y += 12.0;
        }
    }

    fn finish(self) {
        let fonts = fonts();
        let count = self.pages.len();
        for (n, ops) in self.pages.into_iter().enumerate() {
            let settings = PageSettings::from_wh(A4.0, A4.1).expect("A4 is a valid page size");
            let mut page = self.pdf.start_page_with(settings);
            let mut surface = page.surface();
            for op in &ops {
                draw(&mut surface, fonts, op);
            }
            if count > 1 {
                let label = format!("Strona {} z {}", n + 1, count);
                draw(
                    &mut surface,
                    fonts,
                    &Op::Text {
                        x: RIGHT - text_width(&label, 8.0, false),
                        y: A4.1 - 30.0,
                        size: 8.0,
                        bold: false,
                        color: MUTED,
                        text: label,
                    },
                );
            }
            surface.finish();
            page.finish();
        }
    }
}

fn draw(surface: &mut Surface, fonts: &Fonts, op: &Op) {
    match op {
        Op::Text {
            x,
            y,
            size,
            bold,
            color,
            text,
        } => {
            surface.set_fill(Some(fill(*color)));
            let font = if *bold { &fonts.bold } else { &fonts.regular };
            surface.draw_text(
                Point::from_xy(*x, *y),
                font.clone(),
                *size,
                text,
                false,
                TextDirection::Auto,
            );
        }
        Op::Rects { rects, color } => {
            let mut pb = PathBuilder::new();
            for (x, y, w, h) in rects {
                if let Some(rect) = krilla::geom::Rect::from_xywh(*x, *y, *w, *h) {
                    pb.push_rect(rect);
                }
            }
            if let Some(path) = pb.finish() {
                surface.set_stroke(None);
                surface.set_fill(Some(fill(*color)));
                surface.draw_path(&path);
            }
        }
        Op::Line {
            x1,
            x2,
            y,
            width,
            color,
        } => {
            let mut pb = PathBuilder::new();
            pb.move_to(*x1, *y);
            pb.line_to(*x2, *y);
            if let Some(path) = pb.finish() {
                surface.set_fill(None);
                surface.set_stroke(Some(Stroke {
                    paint: rgb::Color::new(color.0, color.1, color.2).into(),
                    width: *width,
                    ..Default::default()
                }));
                surface.draw_path(&path);
                surface.set_stroke(None);
            }
        }
    }
}
