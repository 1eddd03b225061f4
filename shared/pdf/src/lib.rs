//! A document as a PDF: one A4 page (more when the lines need it) with the seller, the buyer,
//! the number and dates, the lines, the totals and how to pay, in Polish.
//!
//! Drawn with `krilla`; the text is DejaVu Sans (Bitstream Vera licence, `fonts/`), embedded
//! in the binary and subset into each PDF. The output is byte-identical for the same input:
//! no creation date, no random ids (krilla derives the file id from the content).

pub mod format;

use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use renewals_domain::{Document, DocumentKind, Locale, Money, Period, Tenant};
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};
use std::sync::OnceLock;

pub use format::{format_amount, format_date};

const REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

/// The VAT rate printed on every line; the totals carry the VAT computed on the net total.
pub const VAT_RATE: &str = "23%";

/// Who issues the document. `nip` and `address` are printed when the settings have them
/// (`RENEWALS_SELLER_NIP`, `RENEWALS_SELLER_ADDRESS`); until then the hooks stay `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seller {
    pub name: String,
    pub nip: Option<String>,
    /// Address lines, e.g. `["ul. Długa 1", "00-001 Warszawa"]`.
    pub address: Vec<String>,
    /// The account for transfers, exactly as configured.
    pub bank_account: String,
}

/// The buyer as printed: from the tenant, or built by hand.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Buyer {
    pub name: String,
    pub nip: String,
    pub address: Vec<String>,
}

impl Buyer {
    pub fn of(tenant: &Tenant) -> Buyer {
        Buyer {
            name: tenant.name.clone(),
            nip: tenant.nip.as_str().to_string(),
            address: address_lines(&tenant.address)
                .into_iter()
                .chain(tenant.address2.iter().flat_map(|a| address_lines(a)))
                .chain((tenant.country != "PL").then(|| tenant.country.clone()))
                .collect(),
        }
    }
}

/// An address as stored (one text, lines separated by newlines or `;`) in printable lines.
pub fn address_lines(address: &str) -> Vec<String> {
    address
        .split(['\n', ';'])
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect()
}

/// The attachment's file name: `PF-2026-02-0001.pdf`.
pub fn file_name(document: &Document) -> String {
    format!("{}.pdf", document.number.to_string().replace('/', "-"))
}

/// The document as PDF bytes, the same bytes for the same input.
pub fn render(document: &Document, seller: &Seller, buyer: &Buyer) -> Vec<u8> {
    let mut pdf = krilla::Document::new();
    pdf.set_metadata(
        Metadata::new()
            .title(title(document))
            .creator("renewals".to_string())
            .producer("renewals".to_string())
            .language("pl".to_string()),
    );
    let mut w = Writer::new(&mut pdf);
    w.document(document, seller, buyer);
    w.finish();
    pdf.finish()
        .expect("a document of text and lines is valid PDF")
}

fn title(d: &Document) -> String {
    format!("{} {}", kind_title(d.kind), d.number)
}

fn kind_title(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::Proforma => "Faktura pro forma",
        DocumentKind::Order => "Zamówienie",
    }
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
            let mut cut = line.chars().count() - 1;
            while cut > 1
                && text_width(&line.chars().take(cut).collect::<String>(), size, bold) > width
            {
                cut -= 1;
            }
            lines.push(line.chars().take(cut).collect());
            line = line.chars().skip(cut).collect();
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

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
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
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
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

    fn document(&mut self, d: &Document, seller: &Seller, buyer: &Buyer) {
        let pl = Locale::Pl;
        // Header: the seller's name left, the kind and number right.
        self.text_at(
            MARGIN,
            self.y + 14.0,
            15.0,
            true,
            INK,
            Align::Left,
            &seller.name,
        );
        self.text_at(
            RIGHT,
            self.y + 14.0,
            15.0,
            true,
            ACCENT,
            Align::Right,
            kind_title(d.kind),
        );
        self.text_at(
            RIGHT,
            self.y + 32.0,
            12.0,
            true,
            INK,
            Align::Right,
            &format!("nr {}", d.number),
        );
        self.y += 44.0;
        self.rule(MARGIN, RIGHT, self.y, 1.2, ACCENT);
        self.y += 18.0;

        // Dates.
        let dates = [
            ("Data wystawienia", format_date(d.issue_date, pl)),
            ("Termin płatności", format_date(d.due_date, pl)),
            ("Okres usługi", period(d.period)),
        ];
        for (label, value) in dates {
            self.text_at(MARGIN, self.y, 9.0, false, MUTED, Align::Left, label);
            self.text_at(MARGIN + 110.0, self.y, 9.5, false, INK, Align::Left, &value);
            self.y += 14.0;
        }
        self.y += 12.0;

        // Seller and buyer side by side.
        let col = (RIGHT - MARGIN) / 2.0;
        let top = self.y;
        let party = |nip: Option<&str>, name: &str, address: &[String]| {
            let mut lines: Vec<(bool, String)> = vec![(true, name.to_string())];
            lines.extend(address.iter().map(|l| (false, l.clone())));
            if let Some(nip) = nip {
                lines.push((false, format!("NIP: {nip}")));
            }
            lines
        };
        let seller_lines = party(seller.nip.as_deref(), &seller.name, &seller.address);
        let buyer_lines = party(Some(&buyer.nip), &buyer.name, &buyer.address);
        let mut bottom = top;
        for (x, label, lines) in [
            (MARGIN, "Sprzedawca", seller_lines),
            (MARGIN + col + 12.0, "Nabywca", buyer_lines),
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

        self.lines(d);
        self.totals(d);
        self.payment(d, seller);
        self.footer(d);
    }

    fn lines(&mut self, d: &Document) {
        // Columns: Lp. | product (and period) | seats | unit net | net | VAT.
        let x_no = MARGIN + 4.0;
        let x_product = MARGIN + 26.0;
        let x_seats = RIGHT - 240.0;
        let x_unit = RIGHT - 152.0;
        let x_net = RIGHT - 52.0;
        let x_vat = RIGHT - 4.0;
        let product_width = x_seats - 44.0 - x_product;
        let header = |w: &mut Writer| {
            w.op(Op::Rect {
                x: MARGIN,
                y: w.y,
                w: RIGHT - MARGIN,
                h: 20.0,
                color: SHADE,
            });
            let y = w.y + 13.5;
            let h = |w: &mut Writer, x, align, t: &str| w.text_at(x, y, 8.0, true, MUTED, align, t);
            h(w, x_no, Align::Left, "Lp.");
            h(w, x_product, Align::Left, "Produkt");
            h(w, x_seats, Align::Right, "Licencje");
            h(w, x_unit, Align::Right, "Cena jedn. netto");
            h(w, x_net, Align::Right, "Wartość netto");
            h(w, x_vat, Align::Right, "VAT");
            w.y += 20.0;
        };
        self.room(60.0);
        header(self);
        let pl = Locale::Pl;
        for (i, line) in d.lines.iter().enumerate() {
            let name = wrap(&line.product_name, 9.5, false, product_width);
            let height = 8.0 + 13.0 * name.len() as f32 + 12.0 + 6.0;
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
            self.text_at(
                x_product,
                y,
                8.0,
                false,
                MUTED,
                Align::Left,
                &format!("{} · {}", line.product, period(line.period)),
            );
            let cells = [
                (x_seats, line.seats.to_string()),
                (x_unit, format_amount(line.unit_price, pl)),
                (x_net, format_amount(line.net, pl)),
                (x_vat, VAT_RATE.to_string()),
            ];
            for (x, value) in cells {
                self.text_at(x, first, 9.5, false, INK, Align::Right, &value);
            }
            self.y = y + 10.0;
            self.rule(MARGIN, RIGHT, self.y, 0.5, RULE);
        }
        self.y += 14.0;
    }

    fn totals(&mut self, d: &Document) {
        self.room(70.0);
        let label_x = RIGHT - 200.0;
        let rows = [
            ("Razem netto", d.totals.net, false),
            ("VAT 23%", d.totals.vat, false),
            ("Razem brutto", d.totals.gross, true),
        ];
        for (label, amount, bold) in rows {
            if bold {
                self.rule(label_x, RIGHT, self.y - 10.0, 0.8, INK);
                self.y += 3.0;
            }
            let size = if bold { 11.0 } else { 9.5 };
            self.text_at(label_x, self.y, size, bold, INK, Align::Left, label);
            self.text_at(
                RIGHT - 4.0,
                self.y,
                size,
                bold,
                INK,
                Align::Right,
                &money(amount, &d.currency),
            );
            self.y += 16.0;
        }
        self.y += 14.0;
    }

    fn payment(&mut self, d: &Document, seller: &Seller) {
        let pl = Locale::Pl;
        let mut rows: Vec<(&str, String, bool)> = vec![
            ("Do zapłaty", money(d.totals.gross, &d.currency), true),
            ("Termin płatności", format_date(d.due_date, pl), false),
            ("Odbiorca", seller.name.clone(), false),
            ("Numer rachunku", seller.bank_account.clone(), false),
            ("Tytuł przelewu", d.number.to_string(), false),
        ];
        if let Some(link) = payment_link(d) {
            rows.push(("Zapłać online", link.to_string(), false));
        }
        let label_x = MARGIN + 14.0;
        let value_x = MARGIN + 130.0;
        let value_width = RIGHT - 14.0 - value_x;
        let wrapped: Vec<(&str, Vec<String>, bool)> = rows
            .into_iter()
            .map(|(l, v, b)| (l, wrap(&v, 10.0, b, value_width), b))
            .collect();
        let height = 30.0
            + wrapped
                .iter()
                .map(|(_, v, _)| v.len() as f32 * 14.0)
                .sum::<f32>();
        self.room(height + 10.0);
        self.op(Op::Rect {
            x: MARGIN,
            y: self.y,
            w: RIGHT - MARGIN,
            h: height,
            color: SHADE,
        });
        self.op(Op::Rect {
            x: MARGIN,
            y: self.y,
            w: 3.0,
            h: height,
            color: ACCENT,
        });
        let mut y = self.y + 17.0;
        self.text_at(label_x, y, 8.5, true, MUTED, Align::Left, "PŁATNOŚĆ");
        y += 17.0;
        for (label, values, bold) in wrapped {
            self.text_at(label_x, y, 9.0, false, MUTED, Align::Left, label);
            for v in values {
                self.text_at(value_x, y, 10.0, bold, INK, Align::Left, &v);
                y += 14.0;
            }
        }
        self.y += height + 18.0;
    }

    fn footer(&mut self, d: &Document) {
        let note = match d.kind {
            DocumentKind::Proforma => {
                "Faktura pro forma nie jest fakturą VAT. Fakturę VAT wystawimy po zaksięgowaniu wpłaty."
            }
            DocumentKind::Order => {
                "Zamówienie nie jest fakturą VAT. Fakturę VAT wystawimy po zaksięgowaniu wpłaty."
            }
        };
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
        Op::Rect { x, y, w, h, color } => {
            let mut pb = PathBuilder::new();
            if let Some(rect) = krilla::geom::Rect::from_xywh(*x, *y, *w, *h) {
                pb.push_rect(rect);
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

/// `1 234,56 zł`, or the amount and the currency code for another currency.
fn money(m: Money, currency: &str) -> String {
    let s = format_amount(m, Locale::Pl);
    if currency == "PLN" {
        s
    } else {
        format!("{} {currency}", s.trim_end_matches(" zł"))
    }
}

/// A half-open period by its first and last day: `1 marca 2026 – 31 marca 2026`.
fn period(p: Period) -> String {
    format!(
        "{} – {}",
        format_date(p.start, Locale::Pl),
        format_date(p.last_day(), Locale::Pl)
    )
}

/// The payment link, only if it is a web address.
fn payment_link(d: &Document) -> Option<&str> {
    d.payment
        .link
        .as_deref()
        .map(str::trim)
        .filter(|l| l.starts_with("https://") || l.starts_with("http://"))
}
