//! Documents as PDFs: pro-formas and orders ([`render`]) and VAT invoices with their KSeF
//! number and KOD I QR code ([`render_invoice`]), one A4 page (more when the lines need it),
//! in Polish.
//!
//! Drawn with `krilla`; the text is DejaVu Sans (Bitstream Vera licence, `fonts/`), embedded
//! in the binary and subset into each PDF. The output is byte-identical for the same input:
//! no creation date, no random ids (krilla derives the file id from the content).

mod document;
pub mod format;
mod invoice;
mod sheet;

use chrono::NaiveDate;
use renewals_domain::{Document, Locale, Tenant};

pub use format::{amount_in_words, format_amount, format_date};

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

/// What KSeF gave an accepted invoice: its KSeF number and the KOD I verification link
/// (`{qrBase}/invoice/{sellerNIP}/{DD-MM-YYYY}/{hash}`), printed as a QR code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KsefMark {
    pub number: String,
    pub qr_url: String,
}

/// The attachment's file name: `PF-2026-02-0001.pdf`.
pub fn file_name(document: &Document) -> String {
    invoice_file_name(&document.number.to_string())
}

/// An invoice's file name by its number: `FV/2026/02/0001` → `FV-2026-02-0001.pdf`.
pub fn invoice_file_name(number: &str) -> String {
    format!("{}.pdf", number.replace('/', "-"))
}

/// A pro-forma or an order as PDF bytes, the same bytes for the same input.
pub fn render(document: &Document, seller: &Seller, buyer: &Buyer) -> Vec<u8> {
    sheet::render(&document::sheet(document, seller, buyer))
}

/// A VAT invoice (`VAT` or `ZAL`) as PDF bytes, the same bytes for the same input. With
/// `ksef` it carries the KSeF number and KOD I; without, a line saying the number comes once
/// KSeF accepts the invoice.
pub fn render_invoice(invoice: &renewals_invoices::Invoice, ksef: Option<&KsefMark>) -> Vec<u8> {
    sheet::render(&invoice::sheet(invoice, ksef))
}

/// A period by its first and last day: `1 marca 2026 – 31 marca 2026`.
fn period(first: NaiveDate, last: NaiveDate) -> String {
    format!(
        "{} – {}",
        format_date(first, Locale::Pl),
        format_date(last, Locale::Pl)
    )
}
