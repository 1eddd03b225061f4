//! Classic bank transfers: recorded by an operator or imported from a camt.053 statement,
//! activating through the same path as Przelewy24, and never counted twice.

use renewals_app::settlement::Settlement;
use renewals_app::transfers::Transfer;
use renewals_bank::parse_camt053;
use renewals_domain::{DocumentNumber, DocumentStatus, PaymentOutcome, Term};
use renewals_tests::{d, TestApp};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/fixtures/camt053/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// PF/2026/02/0001 (acme) and PF/2026/02/0002 (beta), 150.06 zł each, and ZAM/2026/03/0001
/// (gamma's 3 added seats), 76.24 zł: the documents the statement fixtures pay.
async fn documents() -> TestApp {
    let app = TestApp::new();
    app.customer("acme", "business-basic", 4, Term::Monthly, "2026-01-31")
        .await;
    app.customer("beta", "business-basic", 4, Term::Monthly, "2026-01-31")
        .await;
    let gamma = app
        .customer("gamma", "business-basic", 10, Term::Monthly, "2026-03-01")
        .await;
    app.day("2026-02-21").await;
    app.svc.add_seats(&gamma, 3, d("2026-03-11")).await.unwrap();
    for (n, gross) in [
        ("PF/2026/02/0001", "150.06"),
        ("PF/2026/02/0002", "150.06"),
        ("ZAM/2026/03/0001", "76.24"),
    ] {
        assert_eq!(app.document(n).await.totals.gross.to_string(), gross);
    }
    app
}

fn transfer(document: &str, grosze: i64, reference: &str) -> Transfer {
    Transfer {
        document: DocumentNumber::parse(document).unwrap(),
        amount_grosze: grosze,
        date: d("2026-02-25"),
        reference: reference.into(),
        representative: Some("Anna Nowak".into()),
    }
}

#[tokio::test]
async fn a_recorded_transfer_activates_once() {
    let app = documents().await;
    let s = app
        .svc
        .record_transfer(&transfer("PF/2026/02/0001", 15006, "REF-1"))
        .await
        .unwrap();
    assert_eq!(
        s,
        Settlement::Applied {
            outcome: PaymentOutcome::Activated { late: false }
        }
    );
    assert_eq!(
        app.document("PF/2026/02/0001").await.status,
        DocumentStatus::Paid
    );
    let again = app
        .svc
        .record_transfer(&transfer("PF/2026/02/0001", 15006, "REF-1"))
        .await
        .unwrap();
    assert_eq!(again, Settlement::AlreadyRecorded);
    let payments = app.store.payments().unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].representative.as_deref(), Some("Anna Nowak"));
    assert_eq!(
        app.email_kinds("acme")
            .await
            .iter()
            .filter(|k| *k == "payment-confirmation")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_short_transfer_is_not_activated_and_goes_to_review() {
    let app = documents().await;
    let s = app
        .svc
        .record_transfer(&transfer("PF/2026/02/0001", 10000, "REF-2"))
        .await
        .unwrap();
    assert!(
        matches!(s, Settlement::Review { ref reason } if reason.contains("150.06")),
        "{s:?}"
    );
    assert_eq!(
        app.document("PF/2026/02/0001").await.status,
        DocumentStatus::Issued
    );
    // The alert is listed with the customer the document belongs to.
    let alert = app.emails("acme").await.pop().unwrap();
    assert_eq!(
        (alert.kind.as_str(), alert.to.as_str()),
        ("operator-alert", "operator@reseller.example")
    );
    let err = app
        .svc
        .record_transfer(&transfer("PF/2026/09/0009", 100, "REF-3"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("no document PF/2026/09/0009"),
        "{err}"
    );
    let mut nameless = transfer("PF/2026/02/0001", 15006, "REF-4");
    nameless.representative = Some(" ".into());
    assert!(app.svc.record_transfer(&nameless).await.is_err());
}

#[tokio::test]
async fn a_statement_settles_matching_credits_and_importing_it_twice_changes_nothing() {
    let app = documents().await;
    let report = app
        .svc
        .import_statement(&parse_camt053(&fixture("matched.xml")).unwrap())
        .await
        .unwrap();
    assert_eq!(
        (report.matched.len(), report.unmatched.len()),
        (3, 0),
        "{report:?}"
    );
    for n in ["PF/2026/02/0001", "PF/2026/02/0002", "ZAM/2026/03/0001"] {
        assert_eq!(app.document(n).await.status, DocumentStatus::Paid, "{n}");
    }
    let before = (
        app.store.count("payments").unwrap(),
        app.store.count("outbox").unwrap(),
    );
    let again = app
        .svc
        .import_statement(&parse_camt053(&fixture("matched.xml")).unwrap())
        .await
        .unwrap();
    assert_eq!(
        (
            again.matched.len(),
            again.unmatched.len(),
            again.already_recorded
        ),
        (0, 0, 3)
    );
    assert_eq!(
        (
            app.store.count("payments").unwrap(),
            app.store.count("outbox").unwrap()
        ),
        before
    );
}

#[tokio::test]
async fn unmatched_duplicate_and_partial_credits_are_listed_for_review() {
    let app = documents().await;
    let partial = app
        .svc
        .import_statement(&parse_camt053(&fixture("partial.xml")).unwrap())
        .await
        .unwrap();
    assert_eq!(partial.unmatched.len(), 1);
    assert!(
        partial.unmatched[0].reason.contains("150.06"),
        "{:?}",
        partial.unmatched
    );
    assert_eq!(
        app.document("PF/2026/02/0001").await.status,
        DocumentStatus::Issued,
        "a part payment activates nothing"
    );
    let unmatched = app
        .svc
        .import_statement(&parse_camt053(&fixture("unmatched.xml")).unwrap())
        .await
        .unwrap();
    assert_eq!(
        (unmatched.credits, unmatched.unmatched.len()),
        (1, 1),
        "debits and pending entries ignored"
    );
    assert_eq!(
        unmatched.unmatched[0].reason,
        "no document found: no document number in the title, and no customer has the payer's NIP or account number"
    );
    let duplicate = app
        .svc
        .import_statement(&parse_camt053(&fixture("duplicate.xml")).unwrap())
        .await
        .unwrap();
    assert_eq!(duplicate.credits, 3);
    assert_eq!(
        duplicate.already_recorded, 1,
        "the same entry twice in one file counts once"
    );
    assert_eq!(
        app.store.reviews().unwrap().len(),
        2 + duplicate.unmatched.len()
    );
}
