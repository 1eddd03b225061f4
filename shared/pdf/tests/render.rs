//! The PDFs as a person reads them: the text `pdftotext` (poppler-utils, installed by
//! `scripts/test`) extracts holds the number, both NIPs, the amounts in Polish format and the
//! payment details; the same document renders byte for byte the same.

use chrono::NaiveDate;
use renewals_domain::{
    Document, DocumentNumber, Line, LinePurpose, Money, Period, SubscriptionId, TenantId,
};
use renewals_pdf::{file_name, render, Buyer, Seller};
mod common;

use common::{fonts_of, overlapping_words, text_of};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn money(s: &str) -> Money {
    Money::parse(s).unwrap()
}

fn seller() -> Seller {
    Seller {
        name: "Licencje365 sp. z o.o.".into(),
        nip: Some("5213870274".into()),
        address: vec!["ul. Żółkiewskiego 12/4".into(), "00-950 Łódź".into()],
        bank_account: "PL61 1090 1014 0000 0712 1981 2874".into(),
    }
}

fn buyer() -> Buyer {
    Buyer {
        name: "Kowalski & Syn Sp. z o.o.".into(),
        nip: "5260001246".into(),
        address: vec!["ul. Polna 1".into(), "00-001 Warszawa".into()],
    }
}

/// Two lines, 1 003,71 + 230,85 = 1 234,56 zł net; VAT 283,95; gross 1 518,51 zł.
fn proforma() -> Document {
    let t = TenantId::parse("kowalski-i-syn").unwrap();
    let period = Period {
        start: d("2026-03-01"),
        end: d("2026-04-01"),
    };
    let mut doc = Document::new(
        DocumentNumber::parse("PF/2026/02/0007").unwrap(),
        t.clone(),
        d("2026-02-22"),
        d("2026-02-28"),
        period,
        vec![
            Line {
                subscription: SubscriptionId::new(&t, 1),
                product: "business-premium".into(),
                product_name: "Microsoft 365 Business Premium".into(),
                seats: 11,
                unit_price: money("91.25"),
                period,
                net: money("1003.71"),
                purpose: LinePurpose::Renewal,
            },
            Line {
                subscription: SubscriptionId::new(&t, 2),
                product: "exchange-online-p1".into(),
                product_name:
                    "Exchange Online (Plan 1) – skrzynki pocztowe zarządu i działu księgowości"
                        .into(),
                seats: 15,
                unit_price: money("15.39"),
                period,
                net: money("230.85"),
                purpose: LinePurpose::Renewal,
            },
        ],
    );
    doc.payment.link = Some("https://sandbox.przelewy24.pl/trnRequest/0A1B2C3D-4E5F".into());
    doc
}

fn order() -> Document {
    let t = TenantId::parse("kowalski-i-syn").unwrap();
    let period = Period {
        start: d("2026-03-16"),
        end: d("2026-04-01"),
    };
    Document::new(
        DocumentNumber::parse("ZAM/2026/03/0002").unwrap(),
        t.clone(),
        d("2026-03-16"),
        d("2026-03-23"),
        period,
        vec![Line {
            subscription: SubscriptionId::new(&t, 1),
            product: "business-premium".into(),
            product_name: "Microsoft 365 Business Premium".into(),
            seats: 3,
            unit_price: money("91.25"),
            period,
            net: money("141.29"),
            purpose: LinePurpose::SeatAddition,
        }],
    )
}

#[test]
fn proforma_pdf_holds_number_nips_amounts_and_payment_details() {
    let pdf = render(&proforma(), &seller(), &buyer());
    assert!(pdf.starts_with(b"%PDF-"));
    let text = text_of(&pdf);
    for expected in [
        "Faktura pro forma",
        "nr PF/2026/02/0007",
        "Licencje365 sp. z o.o.",
        "NIP: 5213870274",
        "ul. Żółkiewskiego 12/4",
        "00-950 Łódź",
        "Kowalski & Syn Sp. z o.o.",
        "NIP: 5260001246",
        "ul. Polna 1",
        "Data wystawienia 22 lutego 2026",
        "Termin płatności 28 lutego 2026",
        "1 marca 2026 – 31 marca 2026",
        "Microsoft 365 Business Premium",
        "11 91,25 zł 1 003,71 zł 23%",
        "15 15,39 zł 230,85 zł 23%",
        "Razem netto 1 234,56 zł",
        "VAT 23% 283,95 zł",
        "Razem brutto 1 518,51 zł",
        "Do zapłaty 1 518,51 zł",
        "Numer rachunku PL61 1090 1014 0000 0712 1981 2874",
        "Tytuł przelewu PF/2026/02/0007",
        "https://sandbox.przelewy24.pl/trnRequest/0A1B2C3D-4E5F",
        "nie jest fakturą VAT",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn order_pdf_holds_number_nip_and_amounts() {
    let pdf = render(&order(), &seller(), &buyer());
    let text = text_of(&pdf);
    for expected in [
        "Zamówienie",
        "nr ZAM/2026/03/0002",
        "NIP: 5260001246",
        "3 91,25 zł 141,29 zł 23%",
        "Razem netto 141,29 zł",
        "VAT 23% 32,50 zł",
        "Razem brutto 173,79 zł",
        "Tytuł przelewu ZAM/2026/03/0002",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("Zapłać online"), "no link, no line: {text}");
}

#[test]
fn without_seller_nip_and_address_the_seller_is_still_named() {
    let seller = Seller {
        nip: None,
        address: vec![],
        ..seller()
    };
    let text = text_of(&render(&proforma(), &seller, &buyer()));
    assert!(text.contains("Licencje365 sp. z o.o."), "{text}");
    assert_eq!(text.matches("NIP:").count(), 1, "only the buyer's: {text}");
}

#[test]
fn the_same_document_renders_byte_for_byte_the_same() {
    let a = render(&proforma(), &seller(), &buyer());
    let b = render(&proforma(), &seller(), &buyer());
    assert_eq!(a, b);
    assert_ne!(a, render(&order(), &seller(), &buyer()));
    for (name, embedded, subset) in fonts_of(&a) {
        assert!(
            embedded && subset,
            "{name}: embedded {embedded}, subset {subset}"
        );
    }
    assert_eq!(file_name(&proforma()), "PF-2026-02-0007.pdf");
    assert_eq!(file_name(&order()), "ZAM-2026-03-0002.pdf");
}

#[test]
fn no_words_run_into_each_other_even_with_a_long_seller_name() {
    let long = Seller {
        name: "Licencje365 Spółka z ograniczoną odpowiedzialnością Spółka Komandytowa".into(),
        ..seller()
    };
    for seller in [seller(), long] {
        for doc in [proforma(), order()] {
            let pdf = render(&doc, &seller, &buyer());
            assert_eq!(overlapping_words(&pdf), vec![], "{}", doc.number);
        }
    }
}

#[test]
fn many_lines_flow_onto_further_pages() {
    let mut doc = proforma();
    let line = doc.lines[0].clone();
    doc.lines = (0..60).map(|_| line.clone()).collect();
    doc.totals = renewals_domain::Totals::of_lines(doc.lines.iter().map(|l| l.net));
    let text = text_of(&render(&doc, &seller(), &buyer()));
    let pages = text.matches("Strona ").count();
    assert!(pages >= 2, "{text}");
    assert!(
        text.contains(&format!("Strona {pages} z {pages}")),
        "{text}"
    );
    assert_eq!(
        text.matches("Cena jedn. netto").count(),
        pages,
        "a header per page"
    );
    assert_eq!(text.matches("Microsoft 365 Business Premium").count(), 60);
    assert!(text.contains("Razem netto 60 222,60 zł"), "{text}");
    assert!(text.contains("Razem brutto 74 073,80 zł"), "{text}");
}

/// Writes the sample PDFs to `$RENEWALS_PDF_SAMPLES` (for `pdftoppm` and docs/).
#[test]
fn write_samples() {
    let Some(dir) = std::env::var_os("RENEWALS_PDF_SAMPLES") else {
        return;
    };
    std::fs::create_dir_all(&dir).unwrap();
    for doc in [proforma(), order()] {
        let pdf = render(&doc, &seller(), &buyer());
        let path = std::path::Path::new(&dir).join(file_name(&doc));
        std::fs::write(&path, &pdf).unwrap();
        println!("{} {} bytes", path.display(), pdf.len());
    }
}
