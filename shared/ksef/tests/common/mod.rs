//! A realistic invoice, written by the repository's own FA(3) serializer.
#![allow(dead_code)]

use chrono::{NaiveDate, TimeZone, Utc};
use renewals_invoices::fa3::serialize;
use renewals_invoices::{Address, Invoice, InvoiceType, Line, Party};

pub const SELLER_NIP: &str = "5260250274";

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a real day")
}

/// March 2026 paid in advance (on 19 February): 10 × Business Standard at 56.10 and 3 × Exchange Online
/// (Plan 1) at 17.35; net 613.05, VAT 141.00, gross 754.05.
/// Issued today (KSeF refuses a `P_1` after the day it takes the invoice in).
pub fn invoice(number: &str, kind: InvoiceType) -> Invoice {
    let today = renewals_domain::business_date(Utc::now());
    Invoice {
        number: number.into(),
        invoice_type: kind,
        created_at: Utc.with_ymd_and_hms(2026, 2, 20, 9, 15, 0).unwrap(),
        issue_date: today,
        seller: Party {
            nip: SELLER_NIP.into(),
            name: "Chmura Partner sp. z o.o.".into(),
            address: Address {
                country: "PL".into(),
                line1: "ul. Prosta 51".into(),
                line2: Some("00-838 Warszawa".into()),
            },
        },
        buyer: Party {
            nip: "7740001454".into(),
            name: "Stocznia Bałtyk S.A.".into(),
            address: Address {
                country: "PL".into(),
                line1: "ul. Długa 5".into(),
                line2: Some("80-831 Gdańsk".into()),
            },
        },
        period_start: date(2026, 3, 1),
        period_end: date(2026, 3, 31),
        paid_on: date(2026, 2, 19),
        settles: "PF/2026/02/0007".into(),
        lines: vec![
            Line {
                product: "Microsoft 365 Business Standard".into(),
                seats: 10,
                unit_net_grosze: 5610,
                net_grosze: 56100,
            },
            Line {
                product: "Exchange Online (Plan 1)".into(),
                seats: 3,
                unit_net_grosze: 1735,
                net_grosze: 5205,
            },
        ],
        net_grosze: 61305,
        vat_grosze: 14100,
        gross_grosze: 75405,
    }
}

/// The FA(3) bytes of [`invoice`].
pub fn xml(number: &str, kind: InvoiceType) -> Vec<u8> {
    serialize(&invoice(number, kind)).into_bytes()
}
