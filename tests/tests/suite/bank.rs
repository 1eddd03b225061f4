//! Bank statements as Polish banks export them: MT940 in three banks' `:86:` dialects and code
//! pages, camt.053 without bank references, and transfer titles as people write them. Every
//! statement pays the same season of documents (see `season`), so each dialect is held to the
//! same outcome.

use renewals_app::settlement::Settlement;
use renewals_app::transfers::{Credit, ImportReport};
use renewals_bank::{parse_statement, Encoding, FileImport};
use renewals_domain::{DocumentStatus, Locale, Nip, PaymentMethod, Term};
use renewals_tests::{d, tenant, TestApp};

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The NIPs of the season's customers (valid check digits, each different).
const NIPS: [(&str, &str); 4] = [
    ("acme", "5260001200"),
    ("beta", "7770002004"),
    ("delta", "9510003002"),
    ("epsilon", "1130004008"),
];

/// Four customers and five open pro-formas (monthly terms, VAT 23% on the net total):
///
/// | number | customer | what | gross |
/// | --- | --- | --- | --- |
/// | PF/2026/02/0001 | delta | 1 × Business Standard (63.50 net), renews 27 Feb | 78.11 |
/// | PF/2026/02/0002 | acme | 4 × Business Basic (122.00 net), renews 28 Feb | 150.06 |
/// | PF/2026/02/0003 | beta | 4 × Business Basic | 150.06 |
/// | PF/2026/02/0004 | delta | 4 × Business Basic | 150.06 |
/// | PF/2026/02/0005 | epsilon | 2 × Business Basic (61.00 net) | 75.03 |
async fn season() -> TestApp {
    let app = TestApp::new();
    for (id, nip) in NIPS {
        let mut t = tenant(id, Locale::Pl, PaymentMethod::Transfer);
        t.nip = Nip::parse(nip).unwrap();
        app.svc.add_tenant(t).await.unwrap();
    }
    let tenant_id = |id: &str| renewals_domain::TenantId::parse(id).unwrap();
    let sub = |id: &'static str, product: &'static str, seats: u32, start: &'static str| {
        let app = &app;
        async move {
            app.svc
                .add_subscription(&tenant_id(id), product, seats, Term::Monthly, d(start))
                .await
                .unwrap();
        }
    };
    sub("delta", "business-standard", 1, "2026-01-27").await;
    app.day("2026-02-20").await;
    sub("acme", "business-basic", 4, "2026-01-31").await;
    sub("beta", "business-basic", 4, "2026-01-31").await;
    sub("delta", "business-basic", 4, "2026-01-31").await;
    sub("epsilon", "business-basic", 2, "2026-01-31").await;
    app.day("2026-02-21").await;
    for (n, tenant, gross) in SEASON {
        let doc = app.document(n).await;
        assert_eq!(
            (doc.tenant.as_str(), doc.totals.gross.to_string().as_str()),
            (tenant, gross),
            "{n}"
        );
        assert_eq!(doc.status, DocumentStatus::Issued, "{n}");
    }
    app
}

const SEASON: [(&str, &str, &str); 5] = [
    ("PF/2026/02/0001", "delta", "78.11"),
    ("PF/2026/02/0002", "acme", "150.06"),
    ("PF/2026/02/0003", "beta", "150.06"),
    ("PF/2026/02/0004", "delta", "150.06"),
    ("PF/2026/02/0005", "epsilon", "75.03"),
];

#[tokio::test]
async fn the_season_has_five_open_pro_formas() {
    season().await;
}

/// Copies the season's database to $TMPDIR/renewals-bank-season/renewals.sqlite3, for
/// measuring an importer from the command line (`renewals --data-dir … bank import FILE`).
#[tokio::test]
#[ignore = "writes the season's data folder to $TMPDIR/renewals-bank-season"]
async fn dump_the_season_for_the_command_line() {
    let app = season().await;
    let dir = std::env::temp_dir().join("renewals-bank-season");
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(app.dir.path()).unwrap() {
        let entry = entry.unwrap();
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with("renewals.sqlite3")
        {
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
    }
}

/// The statement fixtures: each pays the season the same way (see the table in `season`).
const STATEMENTS: [&str; 4] = [
    "mt940/pkobp.sta", // PKO BP: `~` subfields, Windows-1250, CRLF, bank references
    "mt940/pekao.sta", // Pekao: `<` subfields, ISO-8859-2, funds code, no bank references
    "mt940/mbank.sta", // mBank: `^` subfields, UTF-8, bank references
    "camt053/no-references.xml", // camt.053.001.08 without any bank reference
];

async fn import(app: &TestApp, path: &str) -> ImportReport {
    let credits = parse_statement(&fixture(path), None).unwrap();
    app.svc.import_statement(&credits).await.unwrap()
}

fn store_counts(app: &TestApp) -> [i64; 3] {
    ["payments", "reviews", "outbox"].map(|t| app.store.count(t).unwrap())
}

#[tokio::test]
async fn every_dialect_settles_the_matched_split_and_overpaid_credits_and_reviews_the_rest() {
    for path in STATEMENTS {
        let app = season().await;
        let credits = parse_statement(&fixture(path), None).unwrap();
        let amounts: Vec<i64> = credits.iter().map(|c| c.amount_grosze).collect();
        assert_eq!(
            amounts,
            [15006, 20000, 22817, 20000, 5000],
            "{path}: the debit and the reversal are not payments"
        );
        let report = app.svc.import_statement(&credits).await.unwrap();
        // Matched: acme's exact payment; delta's two pro-formas in one transfer (78.11 +
        // 150.06 = 228.17), each settled with its gross; beta's 200.00 for 150.06.
        let matched: Vec<(&str, String, Option<String>)> = report
            .matched
            .iter()
            .map(|m| {
                (
                    m.document.as_str(),
                    m.amount.to_string(),
                    m.surplus.map(|s| s.to_string()),
                )
            })
            .collect();
        assert_eq!(
            matched,
            [
                ("PF/2026/02/0002", "150.06".into(), None),
                ("PF/2026/02/0004", "150.06".into(), None),
                ("PF/2026/02/0001", "78.11".into(), None),
                ("PF/2026/02/0003", "200.00".into(), Some("49.94".into())),
            ],
            "{path}"
        );
        assert!(report
            .matched
            .iter()
            .all(|m| matches!(m.settlement, Settlement::Applied { .. })));
        let reasons: Vec<&str> = report.unmatched.iter().map(|u| u.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "no document found: no document number in the title, and no customer has the payer's NIP or account number",
                // 75.03 − 50.00 = 25.03
                "underpaid: paid 50.00 PLN for PF/2026/02/0005 whose gross is 75.03 PLN, 25.03 PLN short",
            ],
            "{path}"
        );
        for (n, _, _) in &SEASON[..4] {
            assert_eq!(
                app.document(n).await.status,
                DocumentStatus::Paid,
                "{path} {n}"
            );
        }
        assert_eq!(
            app.document("PF/2026/02/0005").await.status,
            DocumentStatus::Issued,
            "{path}: an underpayment activates nothing"
        );
        // The surplus waits for the operator (refund or credit) next to the two reviews.
        let mut reviews: Vec<(String, String)> = app
            .store
            .reviews()
            .unwrap()
            .into_iter()
            .map(|r| (r.amount.to_string(), r.reason))
            .collect();
        reviews.sort();
        assert_eq!(reviews.len(), 3, "{path}: {reviews:?}");
        assert_eq!(
            reviews[1],
            (
                "49.94".to_string(),
                "overpaid: 200.00 PLN for PF/2026/02/0003 whose gross is 150.06 PLN; 49.94 PLN to refund or credit".to_string()
            ),
            "{path}"
        );
        // One operator alert each for the over- and the underpayment, filed with the customer.
        for customer in ["beta", "epsilon"] {
            let alerts = app
                .email_kinds(customer)
                .await
                .into_iter()
                .filter(|k| k == "operator-alert")
                .count();
            assert_eq!(alerts, 1, "{path} {customer}");
        }
        // The same file again changes nothing.
        let before = store_counts(&app);
        let again = import(&app, path).await;
        assert_eq!(
            (
                again.matched.len(),
                again.unmatched.len(),
                again.already_recorded
            ),
            (0, 0, 5),
            "{path}"
        );
        assert_eq!(store_counts(&app), before, "{path}");
    }
}

#[tokio::test]
async fn polish_letters_read_right_in_each_code_page() {
    for path in ["mt940/pkobp.sta", "mt940/pekao.sta", "mt940/mbank.sta"] {
        let credits = parse_statement(&fixture(path), None).unwrap();
        assert_eq!(
            credits[2].debtor.as_deref(),
            Some("ZAKŁAD STOLARSKI ŚLĄSK SP. Z O.O."),
            "{path}"
        );
        assert_eq!(
            credits[2].debtor_iban.as_deref(),
            Some("PL61109010140000071219812874")
        );
    }
    // Told the wrong code page, the letters come out wrong (and nothing else changes).
    let wrong = parse_statement(&fixture("mt940/pkobp.sta"), Some(Encoding::Iso8859_2)).unwrap();
    assert_eq!(
        wrong[2].debtor.as_deref(),
        Some("ZAKŁAD STOLARSKI \u{8c}LĽSK SP. Z O.O.")
    );
    let pko = parse_statement(&fixture("mt940/pkobp.sta"), None).unwrap();
    assert_eq!(
        pko[0].remittance,
        "PF/2026/02/0002 opłata za licencje Microsoft 365"
    );
    assert_eq!(pko[0].reference, "S7A2602240010001");
}

#[tokio::test]
async fn a_camt_053_without_bank_references_is_keyed_by_a_stable_hash() {
    let first = parse_statement(&fixture("camt053/no-references.xml"), None).unwrap();
    let second = parse_statement(&fixture("camt053/no-references.xml"), None).unwrap();
    assert!(first.iter().all(|c| c.reference.starts_with("h:")));
    assert_eq!(first, second);
    let distinct: std::collections::HashSet<&str> =
        first.iter().map(|c| c.reference.as_str()).collect();
    assert_eq!(distinct.len(), 5);
    // The same statement with the bank's references settles the same documents.
    let app = season().await;
    let report = import(&app, "camt053/season.xml").await;
    assert_eq!((report.matched.len(), report.unmatched.len()), (4, 2));
}

#[tokio::test]
async fn two_identical_transfers_without_references_are_two_payments() {
    let xml = String::from_utf8(fixture("camt053/no-references.xml")).unwrap();
    let start = xml.find("<Ntry>").unwrap();
    let end = xml.find("</Ntry>").unwrap() + "</Ntry>".len();
    let doubled = format!("{}{}{}", &xml[..end], &xml[start..end], &xml[end..]);
    let credits = parse_statement(doubled.as_bytes(), None).unwrap();
    assert_eq!(credits[0].amount_grosze, credits[1].amount_grosze);
    assert_eq!(credits[1].reference, format!("{}#2", credits[0].reference));
    let app = season().await;
    let report = app.svc.import_statement(&credits).await.unwrap();
    // The second 150.06 for acme's pro-forma finds it paid: the domain flags a refund.
    assert_eq!(report.matched.len(), 5, "{report:?}");
    assert!(matches!(
        report.matched[1].settlement,
        Settlement::Applied {
            outcome: renewals_domain::PaymentOutcome::RefundFlagged { .. }
        }
    ));
}

#[tokio::test]
async fn an_unreadable_entry_is_listed_with_why_and_the_rest_is_imported() {
    let xml = String::from_utf8(fixture("camt053/no-references.xml"))
        .unwrap()
        .replacen(
            "<Amt Ccy=\"PLN\">200.00</Amt>",
            "<Amt Ccy=\"PLN\">200,00</Amt>",
            1,
        );
    let app = season().await;
    let credits = parse_statement(xml.as_bytes(), None).unwrap();
    let report = app.svc.import_statement(&credits).await.unwrap();
    assert_eq!(report.matched.len(), 4);
    assert_eq!(
        report.unmatched[0].reason,
        "the statement entry could not be read: entry 2: amount `200,00` is not a decimal"
    );
    let again = app.svc.import_statement(&credits).await.unwrap();
    assert_eq!(again.already_recorded, 5);
}

#[tokio::test]
async fn a_file_that_is_no_statement_is_refused_in_one_line() {
    let cases: [(&[u8], &str); 3] = [
        (
            b"Nazwa;Kwota\nACME;150,06\n",
            "not a bank statement: neither camt.053 XML nor MT940 (the file starts with `Nazwa;Kwota ACME;150,06`)",
        ),
        (
            b"<html><body>Bank</body></html>",
            "not a camt.053 statement: found <html>, expected <Document> holding <BkToCstmrStmt>",
        ),
        (b"", "not a bank statement: neither camt.053 XML nor MT940 (the file starts with ``)"),
    ];
    for (bytes, expected) in cases {
        let error = parse_statement(bytes, None).unwrap_err().to_string();
        assert_eq!(error, expected);
        assert!(!error.contains('\n'));
    }
}

#[tokio::test]
async fn a_credit_in_euro_is_reviewed_with_the_currency_named() {
    let app = season().await;
    let mut credit = one("PF/2026/02/0002", 15006, None);
    credit.currency = "EUR".into();
    let report = app.svc.import_statement(&[credit]).await.unwrap();
    assert_eq!(
        report.unmatched[0].reason,
        "paid 150.06 EUR: documents are billed in PLN only, the currency must be converted or the money returned"
    );
    assert_eq!(
        app.document("PF/2026/02/0002").await.status,
        DocumentStatus::Issued
    );
}

#[tokio::test]
async fn a_statement_file_is_imported_once_whatever_its_name() {
    let app = season().await;
    let bytes = fixture("mt940/pkobp.sta");
    let first = renewals_bank::import_file(&app.svc, "2026-02-26.sta", &bytes, None)
        .await
        .unwrap();
    assert!(matches!(first, FileImport::Imported { ref report, .. } if report.matched.len() == 4));
    let before = store_counts(&app);
    let copy = renewals_bank::import_file(&app.svc, "kopia.sta", &bytes, None)
        .await
        .unwrap();
    assert!(
        matches!(copy, FileImport::AlreadyImported { ref earlier, .. } if earlier == "2026-02-26.sta"),
        "{copy:?}"
    );
    assert_eq!(store_counts(&app), before);
    let refused = renewals_bank::import_file(&app.svc, "notatki.txt", b"hello", None)
        .await
        .unwrap_err();
    assert!(refused
        .to_string()
        .starts_with("notatki.txt: not a bank statement"));
}

/// One credit as a statement would give it, with a bank reference of its own.
fn one(title: &str, grosze: i64, iban: Option<&str>) -> Credit {
    Credit {
        amount_grosze: grosze,
        currency: "PLN".into(),
        booking_date: d("2026-02-25"),
        remittance: title.into(),
        reference: format!("T-{title}-{grosze}"),
        debtor: None,
        debtor_iban: iban.map(str::to_string),
        unreadable: None,
    }
}

const DELTA_IBAN: &str = "PL61109010140000071219812874";

/// What a person would decide for each title: which documents it pays, or that it needs a
/// look (and why). Each title on a fresh season; where one comes first, it is imported before.
#[tokio::test]
async fn titles_as_people_write_them_match_or_go_to_review_never_to_the_wrong_document() {
    type Case = (
        Option<Credit>,
        Credit,
        Result<&'static [&'static str], &'static str>,
    );
    let cases: Vec<Case> = vec![
        (None, one("PF 2026 02 0002", 15006, None), Ok(&["PF/2026/02/0002"])),
        (None, one("pf/2026/2/2", 15006, None), Ok(&["PF/2026/02/0002"])),
        (None, one("proforma 0002/02/2026", 15006, None), Ok(&["PF/2026/02/0002"])),
        (None, one("PROFORMA NR 2/2/2026 licencje", 15006, None), Ok(&["PF/2026/02/0002"])),
        (None, one("Pf20260200002", 15006, None), Ok(&["PF/2026/02/0002"])),
        (None, one("pro-forma: 2026-02-0002", 15006, None), Ok(&["PF/2026/02/0002"])),
        (
            None,
            one("pf 2026/02/0001 + pf 2026/02/0004", 22817, None),
            Ok(&["PF/2026/02/0004", "PF/2026/02/0001"]),
        ),
        // The NIP names the customer; exactly one open document of theirs has the amount.
        (None, one("Licencje, NIP 113-000-40-08", 7503, None), Ok(&["PF/2026/02/0005"])),
        (None, one("NIP 9510003002", 15006, None), Ok(&["PF/2026/02/0004"])),
        // The account paid from names the customer, once a numbered payment taught it.
        (
            Some(one("PF/2026/02/0001", 7811, Some(DELTA_IBAN))),
            one("oplata za licencje", 15006, Some(DELTA_IBAN)),
            Ok(&["PF/2026/02/0004"]),
        ),
        // Review, never a guess.
        (
            None,
            one("zam 2026/02/0002", 15006, None),
            Err("no document found: the title names ZAM/2026/02/0002, which we never issued"),
        ),
        (
            None,
            one("PF/2026/02/0002 PF/2026/02/0003", 30012, None),
            Err("the title names documents of different customers: PF/2026/02/0002, PF/2026/02/0003"),
        ),
        (
            None,
            // 150.06 is PF/2026/02/0004 alone, but the title names two: which one is unsure.
            one("PF/2026/02/0001 i PF/2026/02/0004", 15006, None),
            Err("amount does not add up: the title names PF/2026/02/0001, PF/2026/02/0004 whose gross totals 228.17 PLN, paid 150.06 PLN"),
        ),
        (
            None,
            one("NIP 9510003002", 10000, None),
            Err("no document number in the title; customer delta (found by NIP) has no open document of 100.00 PLN (open: PF/2026/02/0001, PF/2026/02/0004)"),
        ),
        (
            None,
            one("Faktura 2026/02/0002", 15006, Some("PL27114020040000300201355387")),
            Err("no document found: no document number in the title, and no customer has the payer's NIP or account number"),
        ),
        (
            Some(one("PF/2026/02/0002", 15006, None)),
            one("PF/2026/02/0002 doplata", 1000, None),
            Err("document already paid: PF/2026/02/0002 (gross 150.06 PLN) cannot take 10.00 PLN"),
        ),
        (
            None,
            one("PF/2026/02/0009", 15006, None),
            Err("no document found: the title names PF/2026/02/0009, which we never issued"),
        ),
    ];
    assert!(cases.len() >= 12);
    for (before, credit, expected) in cases {
        let app = season().await;
        if let Some(before) = before {
            let r = app.svc.import_statement(&[before]).await.unwrap();
            assert_eq!(r.matched.len(), 1, "{r:?}");
        }
        let title = credit.remittance.clone();
        let report = app.svc.import_statement(&[credit]).await.unwrap();
        match expected {
            Ok(documents) => {
                let got: Vec<&str> = report.matched.iter().map(|m| m.document.as_str()).collect();
                assert_eq!(got, documents, "{title:?}: {report:?}");
                assert!(report.unmatched.is_empty(), "{title:?}");
            }
            Err(reason) => {
                assert!(report.matched.is_empty(), "{title:?}: {report:?}");
                assert_eq!(report.unmatched[0].reason, reason, "{title:?}");
            }
        }
    }
}
