//! VAT invoices as FA(3) XML (the structure KSeF accepts), written by hand: no crate models
//! FA(3). The caller hands over what the invoice says (parties, lines, amounts in grosze,
//! dates); [`fa3::serialize`] writes the XML once, and [`Stored`] keeps the bytes with their
//! SHA-256 so that what is stored is what is sent, never regenerated.

pub mod fa3;
pub mod qr;

pub use fa3::{Address, Invoice, InvoiceType, Line, Party, Stored, NAMESPACE};
pub use qr::kod_i_url;
