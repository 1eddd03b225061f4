//! The FA(3) serializer (schema `schemat_FA(3)_v1-0E.xsd`, namespace [`NAMESPACE`]).

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

/// The FA(3) target namespace.
pub const NAMESPACE: &str = "http://crd.gov.pl/wzor/2025/06/25/13775/";

/// `RodzajFaktury`: `ZAL` when paid before the period it pays for starts, `VAT` otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceType {
    Vat,
    Zal,
}

impl InvoiceType {
    pub fn code(self) -> &'static str {
        match self {
            InvoiceType::Vat => "VAT",
            InvoiceType::Zal => "ZAL",
        }
    }
}

/// FA(3) `TAdres`: country code and one or two lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub country: String,
    pub line1: String,
    pub line2: Option<String>,
}

/// Seller (`Podmiot1`) or buyer (`Podmiot2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub nip: String,
    pub name: String,
    pub address: Address,
}

/// One line per subscription: product, seats as quantity, unit net price, line net; rate 23.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub product: String,
    pub seats: u32,
    pub unit_net_grosze: i64,
    pub net_grosze: i64,
}

/// What a VAT invoice says. Amounts in grosze; VAT is on the total (the caller's domain rounds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub number: String,
    pub invoice_type: InvoiceType,
    /// When the XML was made (`DataWytworzeniaFa`).
    pub created_at: DateTime<Utc>,
    /// `P_1`.
    pub issue_date: NaiveDate,
    pub seller: Party,
    pub buyer: Party,
    /// The service period, both days included (`OkresFa` on a `VAT` invoice).
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// The day the money was received (`DataZaplaty`; `P_6` on a `ZAL` invoice when it is
    /// not the issue day).
    pub paid_on: NaiveDate,
    /// The pro-forma or order this invoice settles.
    pub settles: String,
    pub lines: Vec<Line>,
    pub net_grosze: i64,
    pub vat_grosze: i64,
    pub gross_grosze: i64,
}

/// The XML exactly as written, with its SHA-256 (lowercase hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub xml: String,
    pub sha256: String,
}

impl Stored {
    pub fn new(xml: String) -> Stored {
        let sha256 = hex::encode(Sha256::digest(xml.as_bytes()));
        Stored { xml, sha256 }
    }
}

/// The VAT rate of every line (`P_12`), in per cent.
const RATE: &str = "23";
/// The unit of the seat quantity (`P_8A`).
const UNIT: &str = "szt.";
/// `FormaPlatnosci` 6: transfer (BLIK, card and transfers all reach us through the bank or the
/// payment operator as a transfer).
const PAYMENT_FORM_TRANSFER: &str = "6";

/// Writes the invoice as FA(3) XML: UTF-8, no whitespace between elements, elements in the
/// schema's order. Deterministic: the same invoice gives the same bytes.
pub fn serialize(invoice: &Invoice) -> String {
    let mut w = Writer::default();
    w.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    w.raw(&format!("<Faktura xmlns=\"{NAMESPACE}\">"));

    w.open("Naglowek");
    w.raw("<KodFormularza kodSystemowy=\"FA (3)\" wersjaSchemy=\"1-0E\">FA</KodFormularza>");
    w.leaf("WariantFormularza", "3");
    w.leaf(
        "DataWytworzeniaFa",
        &invoice.created_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    );
    w.leaf("SystemInfo", "renewals");
    w.close("Naglowek");

    w.open("Podmiot1");
    party(&mut w, &invoice.seller);
    w.close("Podmiot1");

    w.open("Podmiot2");
    party(&mut w, &invoice.buyer);
    // Not a local government unit, not a VAT group member.
    w.leaf("JST", "2");
    w.leaf("GV", "2");
    w.close("Podmiot2");

    w.open("Fa");
    w.leaf("KodWaluty", "PLN");
    w.leaf("P_1", &day(invoice.issue_date));
    w.leaf("P_2", &invoice.number);
    match invoice.invoice_type {
        // An advance: the day the payment was received, when it is not the issue day
        // (art. 106e ust. 1 pkt 6). One payment, so no `ZaliczkaCzesciowa` (that element lists
        // several payments on one invoice); the order goes in `Zamowienie` below.
        InvoiceType::Zal => {
            if invoice.paid_on != invoice.issue_date {
                w.leaf("P_6", &day(invoice.paid_on));
            }
        }
        InvoiceType::Vat => {
            w.open("OkresFa");
            w.leaf("P_6_Od", &day(invoice.period_start));
            w.leaf("P_6_Do", &day(invoice.period_end));
            w.close("OkresFa");
        }
    }
    w.leaf("P_13_1", &amount(invoice.net_grosze));
    w.leaf("P_14_1", &amount(invoice.vat_grosze));
    w.leaf("P_15", &amount(invoice.gross_grosze));
    annotations(&mut w);
    w.leaf("RodzajFaktury", invoice.invoice_type.code());
    if invoice.invoice_type == InvoiceType::Vat {
        for (i, line) in invoice.lines.iter().enumerate() {
            w.open("FaWiersz");
            w.leaf("NrWierszaFa", &(i + 1).to_string());
            w.leaf("P_7", &line.product);
            w.leaf("P_8A", UNIT);
            w.leaf("P_8B", &line.seats.to_string());
            w.leaf("P_9A", &amount(line.unit_net_grosze));
            w.leaf("P_11", &amount(line.net_grosze));
            w.leaf("P_12", RATE);
            w.close("FaWiersz");
        }
    }
    w.open("Platnosc");
    w.leaf("Zaplacono", "1");
    w.leaf("DataZaplaty", &day(invoice.paid_on));
    w.leaf("FormaPlatnosci", PAYMENT_FORM_TRANSFER);
    w.close("Platnosc");
    if invoice.invoice_type == InvoiceType::Zal {
        // The order the advance pays for (art. 106f: the value of the order and its lines).
        w.open("Zamowienie");
        w.leaf("WartoscZamowienia", &amount(invoice.gross_grosze));
        for (i, line) in invoice.lines.iter().enumerate() {
            w.open("ZamowienieWiersz");
            w.leaf("NrWierszaZam", &(i + 1).to_string());
            w.leaf("P_7Z", &line.product);
            w.leaf("P_8AZ", UNIT);
            w.leaf("P_8BZ", &line.seats.to_string());
            w.leaf("P_9AZ", &amount(line.unit_net_grosze));
            w.leaf("P_11NettoZ", &amount(line.net_grosze));
            w.leaf("P_12Z", RATE);
            w.close("ZamowienieWiersz");
        }
        w.close("Zamowienie");
    }
    w.close("Fa");
    w.close("Faktura");
    w.out
}

fn party(w: &mut Writer, party: &Party) {
    w.open("DaneIdentyfikacyjne");
    w.leaf("NIP", &party.nip);
    w.leaf("Nazwa", &party.name);
    w.close("DaneIdentyfikacyjne");
    w.open("Adres");
    w.leaf("KodKraju", &party.address.country);
    w.leaf("AdresL1", &party.address.line1);
    if let Some(line2) = party
        .address
        .line2
        .as_deref()
        .filter(|l| !l.trim().is_empty())
    {
        w.leaf("AdresL2", line2);
    }
    w.close("Adres");
}

/// The annotations every invoice of ours carries: no cash accounting, no self-billing, no
/// reverse charge, no split payment, no exemption, no new means of transport, no simplified
/// triangular procedure, no margin scheme.
fn annotations(w: &mut Writer) {
    w.open("Adnotacje");
    w.leaf("P_16", "2");
    w.leaf("P_17", "2");
    w.leaf("P_18", "2");
    w.leaf("P_18A", "2");
    w.open("Zwolnienie");
    w.leaf("P_19N", "1");
    w.close("Zwolnienie");
    w.open("NoweSrodkiTransportu");
    w.leaf("P_22N", "1");
    w.close("NoweSrodkiTransportu");
    w.leaf("P_23", "2");
    w.open("PMarzy");
    w.leaf("P_PMarzyN", "1");
    w.close("PMarzy");
    w.close("Adnotacje");
}

fn day(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// Grosze as a decimal with two places: 75405 → "754.05".
fn amount(grosze: i64) -> String {
    let sign = if grosze < 0 { "-" } else { "" };
    let abs = grosze.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[derive(Default)]
struct Writer {
    out: String,
}

impl Writer {
    fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }
    fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }
    fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }
    fn leaf(&mut self, name: &str, text: &str) {
        self.open(name);
        escape_into(&mut self.out, text);
        self.close(name);
    }
}

/// Escapes text content; control characters XML 1.0 forbids are dropped.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_written_with_two_decimal_places() {
        assert_eq!(amount(75405), "754.05");
        assert_eq!(amount(5), "0.05");
        assert_eq!(amount(0), "0.00");
        assert_eq!(amount(-1234), "-12.34");
    }

    #[test]
    fn text_is_escaped_and_forbidden_control_characters_dropped() {
        let mut s = String::new();
        escape_into(&mut s, "A&B <C> \"d\" 'e'\u{1}");
        assert_eq!(s, "A&amp;B &lt;C&gt; &quot;d&quot; &apos;e&apos;");
    }
}
