//! What people read when something needs them: operator alerts filed under the customer they
//! are about (and plainly about no customer when there is none), and the customer's notices
//! after a catch-up run, which never speak of a past date in the future tense.

use base64::Engine;
use renewals_domain::{SessionId, Status, Term};
use renewals_tests::TestApp;

/// The plain-text part of an outbox message, transfer-decoded.
pub(crate) fn text_of(mime: &[u8]) -> String {
    let raw = String::from_utf8_lossy(mime).replace("\r\n", "\n");
    let start = raw.find("Content-Type: text/plain").expect("a text part");
    let part = &raw[start..];
    let (headers, rest) = part.split_once("\n\n").unwrap();
    let body = &rest[..rest.find("\n--").unwrap_or(rest.len())];
    let bytes = if headers.contains("base64") {
        base64::engine::general_purpose::STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .unwrap()
    } else if headers.contains("quoted-printable") {
        let joined = body.replace("=\n", "");
        let b = joined.as_bytes();
        let mut out = vec![];
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'=' && i + 2 < b.len() {
                out.push(u8::from_str_radix(&joined[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        out
    } else {
        body.as_bytes().to_vec()
    };
    let text = String::from_utf8(bytes).unwrap();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn app_with_proforma() -> TestApp {
    let app = TestApp::new();
    app.customer("acme", "business-standard", 10, Term::Monthly, "2026-01-31")
        .await;
    app.day("2026-02-21").await;
    app
}

#[tokio::test]
async fn an_alert_about_a_short_payment_is_listed_with_the_customer_and_says_what_to_do() {
    let app = app_with_proforma().await;
    let doc = app.document("PF/2026/02/0001").await;
    app.clock
        .set(renewals_app::ports::warsaw_noon(renewals_tests::d(
            "2026-02-24",
        )));
    let n = app.notification(&doc, doc.totals.gross.grosze() - 100, 5100);
    assert_eq!(app.webhook(&n.to_body()).await.status, 200);
    let alerts: Vec<_> = app
        .emails("acme")
        .await
        .into_iter()
        .filter(|m| m.kind == "operator-alert")
        .collect();
    assert_eq!(alerts.len(), 1, "listed with the customer's e-mails");
    let alert = &alerts[0];
    assert_eq!(alert.to, "operator@reseller.example");
    assert_eq!(alert.document.as_deref(), Some("PF/2026/02/0001"));
    assert!(
        alert.subject.contains("acme sp. z o.o. (acme)") && alert.subject.contains("780,05 zł"),
        "{}",
        alert.subject
    );
    let text = text_of(&app.mime(alert));
    for expected in [
        "Klient: acme sp. z o.o. (acme)",
        "Dokument: PF/2026/02/0001",
        "Kwota wpłaty: 780,05 zł",
        "Kwota brutto dokumentu: 781,05 zł",
        "Data: 24 lutego 2026",
        "Co zrobić:",
    ] {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
    assert!(!text.contains("Operator"), "{text}");
    assert!(app.emails("operator").await.is_empty(), "no fake tenant");
}

#[tokio::test]
async fn an_alert_about_a_payment_for_no_known_document_says_there_is_no_customer() {
    let app = app_with_proforma().await;
    let mut doc = app.document("PF/2026/02/0001").await;
    doc.payment.session_id = SessionId::new("PF-2099-01-0001-1");
    let n = app.notification(&doc, 123_456, 5101);
    assert_eq!(app.webhook(&n.to_body()).await.status, 200);
    assert!(app
        .emails("acme")
        .await
        .iter()
        .all(|m| m.kind != "operator-alert"));
    // Filed under the reseller's own desk: there is no customer to file it under.
    let alerts = app.emails("operator").await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].to, "operator@reseller.example");
    let text = text_of(&app.mime(&alerts[0]));
    for expected in [
        "nie wskazuje żadnego wystawionego przez nas dokumentu",
        "Klient: brak – płatność nie wskazuje żadnego dokumentu",
        "Kwota wpłaty: 1 234,56 zł",
        "Co zrobić: odszukaj płatność",
        "PF-2099-01-0001-1",
    ] {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
}

/// Sentences of an e-mail that put `date` in the future tense.
fn future_about(text: &str, date: &str) -> Vec<String> {
    text.split('.')
        .filter(|s| s.contains(date))
        .filter(|s| {
            ["zostaną", "rozpocznie", "mija termin"]
                .iter()
                .any(|w| s.contains(w))
        })
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn a_run_back_after_a_week_sends_the_late_proforma_as_one_true_notice() {
    // Renews on 28 February; nothing ran after 20 February. Issued late on 2 March, the
    // pro-forma gives the full grace from then: service until 7 March.
    let app = TestApp::new();
    let sub = app
        .customer("acme", "business-basic", 5, Term::Monthly, "2026-01-31")
        .await;
    let (daily, _) = app.day("2026-03-02").await;
    assert_eq!((daily.proformas_issued, daily.overdue), (1, 1));
    let mails = app.emails("acme").await;
    let kinds: Vec<_> = mails.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["overdue"], "one e-mail: the latest true step");
    let subject = &mails[0].subject;
    assert!(
        subject.contains("PF/2026/03/0001") && subject.contains("7 marca 2026"),
        "{subject}"
    );
    let text = text_of(&app.mime(&mails[0]));
    assert!(text.contains("z opóźnieniem"), "{text}");
    assert!(text.contains("Numer rachunku"), "payment details: {text}");
    assert_eq!(future_about(&text, "28 lutego 2026"), Vec::<String>::new());
    assert!(
        !text.contains("minął 2 marca"),
        "due today, not past: {text}"
    );
    assert_eq!(app.sub(&sub).await.status, Status::Overdue);
}

#[tokio::test]
async fn a_run_back_after_the_grace_period_tells_the_overdue_and_a_new_suspension_date() {
    // Renews on 28 February, suspension due on 5 March; nothing ran until 9 March. The
    // customer never had the pro-forma: they get it now as the overdue notice, with the
    // grace counted from today (suspension on 14 March), never "will be suspended on
    // 5 March" on 9 March, and nothing is suspended today.
    let app = TestApp::new();
    let sub = app
        .customer("acme", "business-basic", 5, Term::Monthly, "2026-01-31")
        .await;
    app.day("2026-03-09").await;
    assert_eq!(app.sub(&sub).await.status, Status::Overdue);
    let mails = app.emails("acme").await;
    let kinds: Vec<_> = mails.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["overdue"]);
    let text = text_of(&app.mime(&mails[0]));
    assert_eq!(future_about(&text, "28 lutego 2026"), Vec::<String>::new());
    assert_eq!(future_about(&text, "5 marca 2026"), Vec::<String>::new());
    assert!(
        text.contains("14 marca 2026"),
        "the new suspension date: {text}"
    );
    assert!(text.contains("z opóźnieniem"), "{text}");
    assert!(text.contains("Numer rachunku"), "how to pay: {text}");
    app.days("2026-03-10", "2026-03-14").await;
    assert_eq!(app.sub(&sub).await.status, Status::Suspended);
}
