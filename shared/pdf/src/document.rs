//! A pro-forma or an order as a [`Sheet`]: what is owed, by when, and how to pay.

use crate::sheet::{Panel, Party, Row, Sheet, Totals};
use crate::{format_amount, format_date, period, Buyer, Seller, VAT_RATE};
use renewals_domain::{Document, DocumentKind, Locale, Money};

pub(crate) fn kind_title(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::Proforma => "Faktura pro forma",
        DocumentKind::Order => "Zamówienie",
    }
}

pub(crate) fn sheet(d: &Document, seller: &Seller, buyer: &Buyer) -> Sheet {
    let pl = Locale::Pl;
    let money = |m: Money| money(m, &d.currency);
    let mut payment = vec![
        ("Do zapłaty", money(d.totals.gross), true),
        ("Termin płatności", format_date(d.due_date, pl), false),
        ("Odbiorca", seller.name.clone(), false),
        ("Numer rachunku", seller.bank_account.clone(), false),
        ("Tytuł przelewu", d.number.to_string(), false),
    ];
    if let Some(link) = payment_link(d) {
        payment.push(("Zapłać online", link.to_string(), false));
    }
    Sheet {
        title: format!("{} {}", kind_title(d.kind), d.number),
        kind: kind_title(d.kind),
        number: d.number.to_string(),
        dates: vec![
            ("Data wystawienia", format_date(d.issue_date, pl)),
            ("Termin płatności", format_date(d.due_date, pl)),
            ("Okres usługi", period(d.period.start, d.period.last_day())),
        ],
        seller: Party {
            name: seller.name.clone(),
            address: seller.address.clone(),
            nip: seller.nip.clone(),
        },
        buyer: Party {
            name: buyer.name.clone(),
            address: buyer.address.clone(),
            nip: Some(buyer.nip.clone()),
        },
        quantity: "Licencje",
        rows: d
            .lines
            .iter()
            .map(|line| Row {
                name: line.product_name.clone(),
                detail: Some(format!(
                    "{} · {}",
                    line.product,
                    period(line.period.start, line.period.last_day())
                )),
                seats: line.seats.to_string(),
                unit_net: format_amount(line.unit_price, pl),
                net: format_amount(line.net, pl),
                vat_rate: VAT_RATE,
            })
            .collect(),
        totals: Totals {
            net: money(d.totals.net),
            vat: money(d.totals.vat),
            gross: money(d.totals.gross),
            in_words: None,
        },
        panels: vec![Panel {
            heading: "PŁATNOŚĆ",
            rows: payment,
            qr: None,
        }],
        note: Some(match d.kind {
            DocumentKind::Proforma => {
                "Faktura pro forma nie jest fakturą VAT. Fakturę VAT wystawimy po zaksięgowaniu wpłaty."
            }
            DocumentKind::Order => {
                "Zamówienie nie jest fakturą VAT. Fakturę VAT wystawimy po zaksięgowaniu wpłaty."
            }
        }),
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

/// The payment link, only if it is a web address.
fn payment_link(d: &Document) -> Option<&str> {
    d.payment
        .link
        .as_deref()
        .map(str::trim)
        .filter(|l| l.starts_with("https://") || l.starts_with("http://"))
}
