//! The FA(3) serializer, case by case: every XML written here is validated against the
//! official schema set (`shared/invoices/schema/fa3`, a copy of the handbook's `ksef/fa3`) with Python's `xmlschema` from the project's
//! `.venv` (installed by `scripts/xmlschema.sh`, which `scripts/test` runs), and its amounts,
//! NIPs, dates, number, `OkresFa` and the `ZAL` order fields are compared with values
//! computed by hand in the comments.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{NaiveDate, TimeZone, Utc};
use renewals_invoices::fa3::serialize;
use renewals_invoices::{Address, Invoice, InvoiceType, Line, Party, Stored, NAMESPACE};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Validates `xml` against `schemat_FA(3)_v1-0E.xsd`; panics with the validator's message.
fn assert_valid_against_xsd(xml: &str) {
    let root = workspace_root();
    let schema = root.join("shared/invoices/schema/fa3/schemat_FA(3)_v1-0E.xsd");
    assert!(
        schema.exists(),
        "the FA(3) schema is missing at {}",
        schema.display()
    );
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/xmlschema.sh (scripts/test does) to install the XSD validator",
        python.display()
    );
    let file = std::env::temp_dir().join(format!(
        "fa3-{}-{}.xml",
        std::process::id(),
        Stored::new(xml.to_string()).sha256
    ));
    std::fs::write(&file, xml).expect("write the XML to a temporary file");
    let out = Command::new(&python)
        .arg("-c")
        .arg("import sys, xmlschema; xmlschema.validate(sys.argv[1], sys.argv[2])")
        .arg(&file)
        .arg(&schema)
        .output()
        .expect("run the XSD validator");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "the XML is not valid FA(3): {}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn seller() -> Party {
    Party {
        nip: "5260250274".into(),
        name: "Chmura Partner sp. z o.o.".into(),
        address: Address {
            country: "PL".into(),
            line1: "ul. Prosta 51".into(),
            line2: Some("00-838 Warszawa".into()),
        },
    }
}

fn buyer(name: &str) -> Party {
    Party {
        nip: "7740001454".into(),
        name: name.into(),
        address: Address {
            country: "PL".into(),
            line1: "ul. Długa 5".into(),
            line2: Some("80-831 Gdańsk".into()),
        },
    }
}

/// A pro-forma for March 2026 paid on 19 February, invoiced on the 20th: 10 × Business Standard at 56.10 = 561.00
/// and 3 × Exchange Online (Plan 1) at 17.35 = 52.05; net 613.05, VAT 23 % of the total
/// 141.0015 → 141.00, gross 754.05.
fn advance() -> Invoice {
    Invoice {
        number: "FV/2026/02/0001".into(),
        invoice_type: InvoiceType::Zal,
        created_at: Utc.with_ymd_and_hms(2026, 2, 20, 9, 15, 0).unwrap(),
        issue_date: date(2026, 2, 20),
        seller: seller(),
        buyer: buyer("Stocznia Bałtyk S.A."),
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

/// A pro-forma for February 2026 paid in grace on 3 February: 7 × Business Basic at 25.10 =
/// 175.70; VAT 40.411 → 40.41; gross 216.11.
fn paid_in_grace() -> Invoice {
    Invoice {
        number: "FV/2026/02/0002".into(),
        invoice_type: InvoiceType::Vat,
        created_at: Utc.with_ymd_and_hms(2026, 2, 3, 11, 0, 0).unwrap(),
        issue_date: date(2026, 2, 3),
        seller: seller(),
        buyer: buyer("Stocznia Bałtyk S.A."),
        period_start: date(2026, 2, 1),
        period_end: date(2026, 2, 28),
        paid_on: date(2026, 2, 3),
        settles: "PF/2026/01/0003".into(),
        lines: vec![Line {
            product: "Microsoft 365 Business Basic".into(),
            seats: 7,
            unit_net_grosze: 2510,
            net_grosze: 17570,
        }],
        net_grosze: 17570,
        vat_grosze: 4041,
        gross_grosze: 21611,
    }
}

/// A seat order paid on 12 February for 2 more Business Premium seats at 92.50 a month, for
/// the 17 of 28 days left: 2 × 92.50 × 17 / 28 = 112.3214… → 112.32; VAT 25.8336 → 25.83;
/// gross 138.15.
fn seat_order() -> Invoice {
    Invoice {
        number: "FV/2026/02/0003".into(),
        invoice_type: InvoiceType::Vat,
        created_at: Utc.with_ymd_and_hms(2026, 2, 12, 8, 0, 0).unwrap(),
        issue_date: date(2026, 2, 12),
        seller: seller(),
        buyer: buyer("Kowalski & Syn <sp. z o.o.>"),
        period_start: date(2026, 2, 12),
        period_end: date(2026, 2, 28),
        paid_on: date(2026, 2, 12),
        settles: "ZM/2026/02/0004".into(),
        lines: vec![Line {
            product: "Microsoft 365 Business Premium".into(),
            seats: 2,
            unit_net_grosze: 9250,
            net_grosze: 11232,
        }],
        net_grosze: 11232,
        vat_grosze: 2583,
        gross_grosze: 13815,
    }
}

#[track_caller]
fn assert_has(xml: &str, fragment: &str) {
    assert!(xml.contains(fragment), "expected {fragment} in\n{xml}");
}

#[test]
fn an_advance_invoice_for_a_proforma_paid_before_its_period_is_valid_zal_with_the_order() {
    let xml = serialize(&advance());
    assert_valid_against_xsd(&xml);
    assert_has(&xml, &format!("<Faktura xmlns=\"{NAMESPACE}\">"));
    assert_has(&xml, "<P_2>FV/2026/02/0001</P_2>");
    assert_has(&xml, "<RodzajFaktury>ZAL</RodzajFaktury>");
    assert_has(&xml, "<P_1>2026-02-20</P_1>");
    // The day the advance was received (it differs from the issue day), not a service period.
    assert_has(&xml, "<P_6>2026-02-19</P_6>");
    assert!(!xml.contains("<OkresFa>"), "no OkresFa on ZAL:\n{xml}");
    assert_has(&xml, "<P_13_1>613.05</P_13_1><P_14_1>141.00</P_14_1>");
    assert_has(&xml, "<P_15>754.05</P_15>");
    assert_has(&xml, "<NIP>5260250274</NIP>");
    assert_has(&xml, "<NIP>7740001454</NIP>");
    // The order the advance pays for: its gross value and its lines.
    assert_has(
        &xml,
        "<Zamowienie><WartoscZamowienia>754.05</WartoscZamowienia>",
    );
    assert_has(
        &xml,
        "<ZamowienieWiersz><NrWierszaZam>1</NrWierszaZam><P_7Z>Microsoft 365 Business Standard</P_7Z><P_8AZ>szt.</P_8AZ><P_8BZ>10</P_8BZ><P_9AZ>56.10</P_9AZ><P_11NettoZ>561.00</P_11NettoZ><P_12Z>23</P_12Z></ZamowienieWiersz>",
    );
    assert_has(&xml, "<P_11NettoZ>52.05</P_11NettoZ>");
    assert!(
        !xml.contains("<FaWiersz>"),
        "an advance has no invoice lines:\n{xml}"
    );
    assert_has(&xml, "<DataZaplaty>2026-02-19</DataZaplaty>");
}

#[test]
fn an_advance_paid_on_its_issue_day_names_no_separate_payment_day() {
    // Art. 106e ust. 1 pkt 6: the day of payment only when it differs from the issue day.
    let mut invoice = advance();
    invoice.paid_on = invoice.issue_date;
    let xml = serialize(&invoice);
    assert_valid_against_xsd(&xml);
    assert!(!xml.contains("<P_6>"), "{xml}");
    assert_has(&xml, "<P_2>FV/2026/02/0001</P_2><P_13_1>613.05</P_13_1>");
    assert_has(&xml, "<DataZaplaty>2026-02-20</DataZaplaty>");
}

#[test]
fn a_proforma_paid_in_grace_gets_a_valid_vat_invoice_with_its_service_period() {
    let xml = serialize(&paid_in_grace());
    assert_valid_against_xsd(&xml);
    assert_has(&xml, "<P_2>FV/2026/02/0002</P_2>");
    assert_has(&xml, "<RodzajFaktury>VAT</RodzajFaktury>");
    assert_has(
        &xml,
        "<OkresFa><P_6_Od>2026-02-01</P_6_Od><P_6_Do>2026-02-28</P_6_Do></OkresFa>",
    );
    assert_has(&xml, "<P_13_1>175.70</P_13_1><P_14_1>40.41</P_14_1>");
    assert_has(&xml, "<P_15>216.11</P_15>");
    assert_has(
        &xml,
        "<FaWiersz><NrWierszaFa>1</NrWierszaFa><P_7>Microsoft 365 Business Basic</P_7><P_8A>szt.</P_8A><P_8B>7</P_8B><P_9A>25.10</P_9A><P_11>175.70</P_11><P_12>23</P_12></FaWiersz>",
    );
    assert!(!xml.contains("<Zamowienie>"), "no order on VAT:\n{xml}");
    assert_has(
        &xml,
        "<Zaplacono>1</Zaplacono><DataZaplaty>2026-02-03</DataZaplaty>",
    );
}

#[test]
fn a_paid_seat_order_gets_a_valid_vat_invoice_and_names_are_escaped() {
    let xml = serialize(&seat_order());
    assert_valid_against_xsd(&xml);
    assert_has(&xml, "<RodzajFaktury>VAT</RodzajFaktury>");
    assert_has(
        &xml,
        "<OkresFa><P_6_Od>2026-02-12</P_6_Od><P_6_Do>2026-02-28</P_6_Do></OkresFa>",
    );
    assert_has(&xml, "<P_13_1>112.32</P_13_1><P_14_1>25.83</P_14_1>");
    assert_has(&xml, "<P_15>138.15</P_15>");
    assert_has(&xml, "<P_9A>92.50</P_9A><P_11>112.32</P_11>");
    assert_has(&xml, "<Nazwa>Kowalski &amp; Syn &lt;sp. z o.o.&gt;</Nazwa>");
}

#[test]
fn the_stored_xml_carries_the_sha256_of_its_exact_bytes() {
    assert_eq!(
        Stored::new("abc".into()).sha256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let xml = serialize(&advance());
    let stored = Stored::new(xml.clone());
    assert_eq!(stored.xml, xml);
    assert_eq!(stored.sha256.len(), 64);
    // Serializing is deterministic: the same invoice gives the same bytes.
    assert_eq!(serialize(&advance()), xml);
}
