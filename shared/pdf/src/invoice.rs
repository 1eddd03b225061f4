//! A VAT invoice (FA(3) `VAT` or `ZAL`) as a [`Sheet`]: what was sold, that it is paid, and
//! its KSeF number with the KOD I verification QR code once KSeF has accepted it.

use crate::sheet::{Panel, Party, Qr, Row, Sheet, Totals};
use crate::{amount_in_words, format_amount, format_date, period, KsefMark, VAT_RATE};
use qrcodegen::{QrCode, QrCodeEcc};
use renewals_domain::{DocumentKind, DocumentNumber, Locale, Money};
use renewals_invoices::{Invoice, InvoiceType};

fn kind_title(t: InvoiceType) -> &'static str {
    match t {
        InvoiceType::Vat => "Faktura VAT",
        InvoiceType::Zal => "Faktura zaliczkowa",
    }
}

pub(crate) fn sheet(inv: &Invoice, ksef: Option<&KsefMark>) -> Sheet {
    let pl = Locale::Pl;
    let zl = |grosze: i64| format_amount(Money::from_grosze(grosze), pl);
    let service_period = period(inv.period_start, inv.period_end);
    let dates = match inv.invoice_type {
        InvoiceType::Vat => vec![
            ("Data wystawienia", format_date(inv.issue_date, pl)),
            ("Okres świadczenia usług", service_period),
            ("Data zapłaty", format_date(inv.paid_on, pl)),
            (
                "Na podstawie",
                settled(&inv.settles, "faktury pro forma", "zamówienia"),
            ),
        ],
        InvoiceType::Zal => vec![
            ("Data wystawienia", format_date(inv.issue_date, pl)),
            ("Data otrzymania zapłaty", format_date(inv.paid_on, pl)),
            (
                "Zaliczka na poczet",
                settled(&inv.settles, "zamówienia z faktury pro forma", "zamówienia"),
            ),
            ("Wartość zamówienia", zl(inv.gross_grosze)),
            ("Okres usługi", service_period),
        ],
    };
    let party = |p: &renewals_invoices::Party| Party {
        name: p.name.clone(),
        address: [Some(&p.address.line1), p.address.line2.as_ref()]
            .into_iter()
            .flatten()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .chain((p.address.country != "PL").then(|| p.address.country.clone()))
            .collect(),
        nip: Some(p.nip.clone()),
    };
    let payment = Panel {
        heading: "PŁATNOŚĆ",
        rows: vec![
            ("Zapłacono", zl(inv.gross_grosze), true),
            ("Data zapłaty", format_date(inv.paid_on, pl), false),
            ("Forma płatności", "przelew".to_string(), false),
            ("Pozostało do zapłaty", zl(0), false),
        ],
        qr: None,
    };
    Sheet {
        title: format!("{} {}", kind_title(inv.invoice_type), inv.number),
        kind: kind_title(inv.invoice_type),
        number: inv.number.clone(),
        dates,
        seller: party(&inv.seller),
        buyer: party(&inv.buyer),
        // The unit FA(3) states (`P_8A`): an accountant reads quantities with their unit.
        quantity: "Ilość (szt.)",
        rows: inv
            .lines
            .iter()
            .map(|line| Row {
                name: line.product.clone(),
                detail: None,
                seats: line.seats.to_string(),
                unit_net: zl(line.unit_net_grosze),
                net: zl(line.net_grosze),
                vat_rate: VAT_RATE,
            })
            .collect(),
        totals: Totals {
            net: zl(inv.net_grosze),
            vat: zl(inv.vat_grosze),
            gross: zl(inv.gross_grosze),
            in_words: Some(amount_in_words(Money::from_grosze(inv.gross_grosze))),
        },
        panels: vec![payment, ksef_panel(ksef)],
        note: match inv.invoice_type {
            // Our advances are the whole order (art. 106f ust. 4): say why no invoice follows.
            InvoiceType::Zal => Some(
                "Zaliczka obejmuje całą wartość zamówienia; po wykonaniu usługi nie wystawia się \
                 kolejnej faktury (art. 106f ust. 4 ustawy o VAT).",
            ),
            InvoiceType::Vat => None,
        },
    }
}

/// The document the invoice settles, named by its kind when its number says it
/// (`faktury pro forma PF/2026/02/0007`), else just the number.
fn settled(number: &str, proforma: &str, order: &str) -> String {
    match DocumentNumber::parse(number).map(|n| n.kind) {
        Ok(DocumentKind::Proforma) => format!("{proforma} {number}"),
        Ok(DocumentKind::Order) => format!("{order} {number}"),
        Err(_) => number.to_string(),
    }
}

/// The KSeF number and KOD I, or, before KSeF has accepted the invoice, a line saying that
/// the number comes later. No QR code then: KOD I is only printed with the number it goes
/// with (or `OFFLINE` on an offline invoice, which we do not issue).
fn ksef_panel(ksef: Option<&KsefMark>) -> Panel {
    let Some(mark) = ksef else {
        return Panel {
            heading: "KSeF",
            rows: vec![(
                "Numer KSeF",
                "zostanie nadany po przyjęciu faktury przez KSeF".to_string(),
                false,
            )],
            qr: None,
        };
    };
    let qr = qr(&mark.qr_url, &mark.number);
    let mut rows = vec![("Numer KSeF", mark.number.clone(), true)];
    match qr {
        Some(_) => rows.push((
            "Weryfikacja",
            "Zeskanuj kod QR, aby sprawdzić fakturę w Krajowym Systemie e-Faktur.".to_string(),
            false,
        )),
        // A link too long for any QR code: printed as text so it is still there.
        None => rows.push(("Weryfikacja", mark.qr_url.clone(), false)),
    }
    Panel {
        heading: "KSeF",
        rows,
        qr,
    }
}

/// KOD I: the verification link as a QR code (ISO/IEC 18004), the KSeF number under it. The
/// ministry sets no error correction level; M survives a smudged print, and the encoder raises
/// it when that costs no extra modules.
fn qr(url: &str, caption: &str) -> Option<Qr> {
    let code = QrCode::encode_text(url, QrCodeEcc::Medium).ok()?;
    let size = code.size();
    let dark = (0..size)
        .flat_map(|y| (0..size).map(move |x| (x, y)))
        .map(|(x, y)| code.get_module(x, y))
        .collect();
    Some(Qr {
        size: size as usize,
        dark,
        caption: caption.to_string(),
    })
}
