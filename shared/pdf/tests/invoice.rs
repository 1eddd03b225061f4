//! The invoice PDF as the buyer's accountant reads it: the kind and number, both NIPs, the
//! lines and totals in Polish format, that it is paid, and the KSeF number with KOD I, a QR
//! code that a reader decodes to exactly the verification link.

mod common;

use chrono::{NaiveDate, TimeZone, Utc};
use common::{fonts_of, overlapping_words, qr_codes_on_page, text_of};
use renewals_invoices::{fa3, Address, Invoice, InvoiceType, Line, Party, Stored};
use renewals_pdf::{invoice_file_name, render_invoice, KsefMark};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// 8 × 91,25 + 25 × 20,00 = 1 230,00 zł net; VAT 282,90 zł; gross 1 512,90 zł.
fn vat_invoice() -> Invoice {
    Invoice {
        number: "FV/2026/03/0001".into(),
        invoice_type: InvoiceType::Vat,
        created_at: Utc.with_ymd_and_hms(2026, 3, 2, 9, 15, 0).unwrap(),
        issue_date: d("2026-03-02"),
        seller: Party {
            nip: "5265877635".into(),
            name: "Licencje365 sp. z o.o.".into(),
            address: Address {
                country: "PL".into(),
                line1: "ul. Żółkiewskiego 12/4".into(),
                line2: Some("00-950 Łódź".into()),
            },
        },
        buyer: Party {
            nip: "5260001246".into(),
            name: "Kowalski & Syn Sp. z o.o.".into(),
            address: Address {
                country: "PL".into(),
                line1: "ul. Polna 1".into(),
                line2: Some("00-001 Warszawa".into()),
            },
        },
        period_start: d("2026-03-01"),
        period_end: d("2026-03-31"),
        paid_on: d("2026-02-27"),
        settles: "PF/2026/02/0007".into(),
        lines: vec![
            Line {
                product: "Microsoft 365 Business Premium".into(),
                seats: 8,
                unit_net_grosze: 9125,
                net_grosze: 73000,
            },
            Line {
                product: "Exchange Online (Plan 1)".into(),
                seats: 25,
                unit_net_grosze: 2000,
                net_grosze: 50000,
            },
        ],
        net_grosze: 123000,
        vat_grosze: 28290,
        gross_grosze: 151290,
    }
}

/// Paid on 20 February for a period that starts on 1 March: an advance invoice.
fn zal_invoice() -> Invoice {
    Invoice {
        number: "FV/2026/02/0014".into(),
        invoice_type: InvoiceType::Zal,
        issue_date: d("2026-02-20"),
        paid_on: d("2026-02-20"),
        settles: "ZAM/2026/02/0003".into(),
        ..vat_invoice()
    }
}

/// The KSeF number KSeF would give: `NIP-YYYYMMDD-12 hex-CRC-8` (poly 0x07, init 0).
fn ksef_number(nip: &str, day: &str, technical: &str) -> String {
    let head = format!("{nip}-{day}-{technical}");
    let crc = head.bytes().fold(0u8, |crc, b| {
        (0..8).fold(crc ^ b, |c, _| {
            if c & 0x80 != 0 {
                (c << 1) ^ 0x07
            } else {
                c << 1
            }
        })
    });
    format!("{head}-{crc:02X}")
}

/// KOD I for the invoice: the test QR base, seller NIP, issue day, SHA-256 of the FA(3) XML.
fn kod_i(invoice: &Invoice) -> String {
    let sha = Stored::new(fa3::serialize(invoice)).sha256;
    let bytes: Vec<u8> = (0..sha.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&sha[i..i + 2], 16).unwrap())
        .collect();
    format!(
        "https://qr-test.ksef.mf.gov.pl/invoice/{}/{}/{}",
        invoice.seller.nip,
        invoice.issue_date.format("%d-%m-%Y"),
        base64url(&bytes)
    )
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn mark(invoice: &Invoice) -> KsefMark {
    KsefMark {
        number: ksef_number(
            &invoice.seller.nip,
            &invoice.issue_date.format("%Y%m%d").to_string(),
            "0100001AF629",
        ),
        qr_url: kod_i(invoice),
    }
}

fn assert_holds(text: &str, expected: &[&str]) {
    for e in expected {
        assert!(text.contains(e), "missing {e:?} in:\n{text}");
    }
}

#[test]
fn the_helpers_match_the_ministrys_examples() {
    assert_eq!(
        ksef_number("5265877635", "20250826", "0100001AF629"),
        "5265877635-20250826-0100001AF629-AF"
    );
    assert_eq!(base64url(b"\xff\xfe\x00ab"), "__4AYWI");
}

#[test]
fn vat_invoice_holds_number_parties_lines_totals_payment_and_ksef_number() {
    let invoice = vat_invoice();
    let mark = mark(&invoice);
    let text = text_of(&render_invoice(&invoice, Some(&mark)));
    assert_holds(
        &text,
        &[
            "Faktura VAT",
            "nr FV/2026/03/0001",
            "Data wystawienia 2 marca 2026",
            "Okres świadczenia usług 1 marca 2026 – 31 marca 2026",
            "Data zapłaty 27 lutego 2026",
            "Na podstawie faktury pro forma PF/2026/02/0007",
            "Licencje365 sp. z o.o.",
            "ul. Żółkiewskiego 12/4",
            "00-950 Łódź",
            "NIP: 5265877635",
            "Kowalski & Syn Sp. z o.o.",
            "NIP: 5260001246",
            "00-001 Warszawa",
            "Lp. Produkt Ilość (szt.) Cena jedn. netto Wartość netto VAT",
            "1. Microsoft 365 Business Premium 8 91,25 zł 730,00 zł 23%",
            "2. Exchange Online (Plan 1) 25 20,00 zł 500,00 zł 23%",
            "Razem netto 1 230,00 zł",
            "VAT 23% 282,90 zł",
            "Razem brutto 1 512,90 zł",
            "Słownie: tysiąc pięćset dwanaście złotych 90/100",
            "Zapłacono 1 512,90 zł",
            "Forma płatności przelew",
            "Pozostało do zapłaty 0,00 zł",
            "Numer KSeF",
        ],
    );
    assert!(!text.contains("zaliczkowa"), "{text}");
    assert!(!text.contains("kolejnej faktury"), "{text}");
    assert!(!text.contains("zostanie nadany"), "{text}");
    // Under the QR code as well as in the panel.
    assert_eq!(text.matches(&mark.number).count(), 2, "{text}");
}

#[test]
fn zal_invoice_is_titled_as_an_advance_and_names_the_order_it_pays() {
    let invoice = zal_invoice();
    let text = text_of(&render_invoice(&invoice, Some(&mark(&invoice))));
    assert_holds(
        &text,
        &[
            "Faktura zaliczkowa",
            "nr FV/2026/02/0014",
            "Data wystawienia 20 lutego 2026",
            "Data otrzymania zapłaty 20 lutego 2026",
            "Zaliczka na poczet zamówienia ZAM/2026/02/0003",
            "Wartość zamówienia 1 512,90 zł",
            "Okres usługi 1 marca 2026 – 31 marca 2026",
            "NIP: 5265877635",
            "NIP: 5260001246",
            "Razem brutto 1 512,90 zł",
            "Zapłacono 1 512,90 zł",
        ],
    );
    assert!(text.contains("nie wystawia się kolejnej faktury"), "{text}");
    assert!(!text.contains("Faktura VAT"), "{text}");
    assert!(!text.contains("Okres świadczenia usług"), "{text}");

    let from_proforma = Invoice {
        settles: "PF/2026/02/0007".into(),
        ..zal_invoice()
    };
    let text = text_of(&render_invoice(&from_proforma, None));
    assert_holds(
        &text,
        &["Zaliczka na poczet zamówienia z faktury pro forma PF/2026/02/0007"],
    );
}

#[test]
fn kod_i_decodes_to_exactly_the_verification_link() {
    for invoice in [vat_invoice(), zal_invoice()] {
        let mark = mark(&invoice);
        let pdf = render_invoice(&invoice, Some(&mark));
        // As a viewer shows the e-mailed PDF, and as a printer prints it.
        for dpi in [150, 300] {
            assert_eq!(qr_codes_on_page(&pdf, 1, dpi), vec![mark.qr_url.clone()]);
        }
    }
}

#[test]
fn before_ksef_accepts_it_the_invoice_says_the_number_comes_later_and_has_no_qr_code() {
    let invoice = vat_invoice();
    let pdf = render_invoice(&invoice, None);
    let text = text_of(&pdf);
    assert_holds(
        &text,
        &[
            "Faktura VAT",
            "Numer KSeF zostanie nadany po przyjęciu faktury przez KSeF",
        ],
    );
    assert!(!text.contains("Zeskanuj"), "{text}");
    assert_eq!(qr_codes_on_page(&pdf, 1, 150), Vec::<String>::new());
}

#[test]
fn a_link_too_long_for_any_qr_code_is_printed_as_text_instead() {
    let invoice = vat_invoice();
    let mark = KsefMark {
        qr_url: format!(
            "https://qr-test.ksef.mf.gov.pl/invoice/{}",
            "A".repeat(3000)
        ),
        ..mark(&invoice)
    };
    let pdf = render_invoice(&invoice, Some(&mark));
    assert_eq!(qr_codes_on_page(&pdf, 1, 150), Vec::<String>::new());
    let text = text_of(&pdf);
    assert_holds(
        &text,
        &[&mark.number, "https://qr-test.ksef.mf.gov.pl/invoice/AAAA"],
    );
}

#[test]
fn many_lines_push_the_ksef_panel_whole_onto_the_last_page() {
    let mut invoice = vat_invoice();
    let line = invoice.lines[0].clone();
    invoice.lines = vec![line; 40];
    invoice.net_grosze = 40 * 73000;
    invoice.vat_grosze = 40 * 16790;
    invoice.gross_grosze = invoice.net_grosze + invoice.vat_grosze;
    let mark = mark(&invoice);
    let pdf = render_invoice(&invoice, Some(&mark));
    let text = text_of(&pdf);
    let pages = text.matches("Strona ").count();
    assert!(pages >= 2, "{text}");
    assert_holds(
        &text,
        &["Razem netto 29 200,00 zł", "Razem brutto 35 916,00 zł"],
    );
    assert_eq!(text.matches("Microsoft 365 Business Premium").count(), 40);
    assert_eq!(qr_codes_on_page(&pdf, pages, 150), vec![mark.qr_url]);
}

#[test]
fn the_same_invoice_renders_byte_for_byte_the_same_with_fonts_embedded_and_subset() {
    let invoice = vat_invoice();
    let a = render_invoice(&invoice, Some(&mark(&invoice)));
    assert_eq!(a, render_invoice(&invoice, Some(&mark(&invoice))));
    assert_ne!(a, render_invoice(&invoice, None));
    let fonts = fonts_of(&a);
    assert_eq!(fonts.len(), 2, "{fonts:?}");
    for (name, embedded, subset) in fonts {
        assert!(name.contains("DejaVuSans"), "{name}");
        assert!(
            embedded && subset,
            "{name}: embedded {embedded}, subset {subset}"
        );
    }
    assert_eq!(invoice_file_name("FV/2026/02/0001"), "FV-2026-02-0001.pdf");
}

/// A ZAL whose names and first product are as long as Polish company and product names get.
fn long_names() -> Invoice {
    let mut invoice = zal_invoice();
    invoice.seller.name =
        "Licencje365 Spółka z ograniczoną odpowiedzialnością Spółka Komandytowa".into();
    invoice.buyer.name =
        "Przedsiębiorstwo Produkcyjno-Handlowo-Usługowe Kowalski i Synowie Spółka Jawna".into();
    invoice.lines[0].product =
        "Microsoft 365 Business Premium (roczna subskrypcja, płatność miesięczna) z dodatkiem Teams Phone Standard".into();
    invoice
}

#[test]
fn long_names_wrap_without_running_into_the_title_or_each_other() {
    let invoice = long_names();
    for ksef in [Some(mark(&invoice)), None] {
        let pdf = render_invoice(&invoice, ksef.as_ref());
        assert_eq!(overlapping_words(&pdf), vec![]);
        let text = text_of(&pdf);
        for word in invoice
            .seller
            .name
            .split(' ')
            .chain(invoice.buyer.name.split(' '))
        {
            assert!(text.contains(word), "missing {word:?} in:\n{text}");
        }
        assert!(text.contains("Faktura zaliczkowa"), "{text}");
    }
    for invoice in [vat_invoice(), zal_invoice()] {
        let pdf = render_invoice(&invoice, Some(&mark(&invoice)));
        assert_eq!(overlapping_words(&pdf), vec![]);
    }
}

/// Writes the sample invoices to `$RENEWALS_PDF_SAMPLES` (for `pdftoppm` and docs/).
#[test]
fn write_samples() {
    let Some(dir) = std::env::var_os("RENEWALS_PDF_SAMPLES") else {
        return;
    };
    std::fs::create_dir_all(&dir).unwrap();
    let vat = vat_invoice();
    let zal = zal_invoice();
    for (name, pdf) in [
        ("invoice", render_invoice(&vat, Some(&mark(&vat)))),
        ("invoice-zal", render_invoice(&zal, Some(&mark(&zal)))),
        ("invoice-pending", render_invoice(&vat, None)),
        ("invoice-long-names", render_invoice(&long_names(), None)),
    ] {
        let path = std::path::Path::new(&dir).join(format!("{name}.pdf"));
        std::fs::write(&path, &pdf).unwrap();
        println!("{} {} bytes", path.display(), pdf.len());
    }
}
