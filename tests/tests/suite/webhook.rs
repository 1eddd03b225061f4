//! The Przelewy24 notification handler: signatures, idempotency, reviews, and the verify
//! call checked byte for byte against a mock Przelewy24.

use base64::Engine;
use renewals_domain::{DocumentStatus, Status, Term};
use renewals_przelewy24::Przelewy24Client;
use renewals_tests::{d, TestApp, Webhook};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha384};
use std::sync::Arc;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn app_with_proforma() -> TestApp {
    let app = TestApp::new();
    app.customer("acme", "business-standard", 10, Term::Monthly, "2026-01-31")
        .await;
    app.day("2026-02-21").await;
    app
}

/// Everything a notification could have changed, to compare before and after.
fn snapshot(app: &TestApp) -> String {
    let accounts = serde_json::to_string(&app.store.all_accounts().unwrap()).unwrap();
    let docs = serde_json::to_string(&app.store.all_documents().unwrap()).unwrap();
    let counts: Vec<i64> = ["outbox", "payments", "reviews", "counters"]
        .iter()
        .map(|t| app.store.count(t).unwrap())
        .collect();
    format!("{accounts}{docs}{counts:?}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_notification_20_times_also_in_parallel_activates_once() {
    let app = app_with_proforma().await;
    let doc = app.document("PF/2026/02/0001").await;
    let body = serde_json::to_vec(&app.notification(&doc, doc.totals.gross.grosze(), 777)).unwrap();
    for _ in 0..10 {
        assert_eq!(app.svc.handle_przelewy24(&body).await.status, 200);
    }
    // Ten more from parallel workers, each with its own connection (as separate Lambdas).
    let mut handles = vec![];
    for _ in 0..10 {
        let svc = app.second_service();
        let body = body.clone();
        handles.push(tokio::spawn(async move {
            svc.handle_przelewy24(&body).await.status
        }));
    }
    for h in handles {
        assert_eq!(h.await.unwrap(), 200);
    }
    assert_eq!(app.store.count("payments").unwrap(), 1);
    let confirmations = app
        .emails("acme")
        .await
        .into_iter()
        .filter(|m| m.kind == "payment-confirmation")
        .count();
    assert_eq!(confirmations, 1);
    assert_eq!(
        app.document("PF/2026/02/0001").await.status,
        DocumentStatus::Paid
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_parallel_first_copies_race_to_one_activation() {
    let app = app_with_proforma().await;
    let doc = app.document("PF/2026/02/0001").await;
    let body = serde_json::to_vec(&app.notification(&doc, doc.totals.gross.grosze(), 778)).unwrap();
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let svc = app.second_service();
            let body = body.clone();
            tokio::spawn(async move { svc.handle_przelewy24(&body).await.status })
        })
        .collect();
    for h in handles {
        assert_eq!(h.await.unwrap(), 200);
    }
    assert_eq!(app.store.count("payments").unwrap(), 1);
    assert_eq!(
        app.email_kinds("acme").await,
        ["proforma", "payment-confirmation"]
    );
}

#[tokio::test]
async fn a_forged_signature_is_refused_with_401_and_changes_nothing() {
    let app = app_with_proforma().await;
    let doc = app.document("PF/2026/02/0001").await;
    let mut n = app.notification(&doc, doc.totals.gross.grosze(), 779);
    n.sign = n.expected_sign("not-the-shop-crc");
    let before = snapshot(&app);
    let r = app
        .svc
        .handle_przelewy24(&serde_json::to_vec(&n).unwrap())
        .await;
    assert_eq!(r.status, 401);
    // A valid sign over other values is forged too.
    let mut tampered = app.notification(&doc, doc.totals.gross.grosze(), 779);
    tampered.amount += 100;
    assert_eq!(
        app.svc
            .handle_przelewy24(&serde_json::to_vec(&tampered).unwrap())
            .await
            .status,
        401
    );
    assert_eq!(snapshot(&app), before);
}

#[tokio::test]
async fn malformed_and_oversized_bodies_are_refused_and_change_nothing() {
    let app = app_with_proforma().await;
    let before = snapshot(&app);
    assert_eq!(
        app.svc
            .handle_przelewy24(b"{\"merchantId\": 1")
            .await
            .status,
        400
    );
    assert_eq!(app.svc.handle_przelewy24(b"not json").await.status, 400);
    assert_eq!(
        app.svc
            .handle_przelewy24(&vec![b' '; 64 * 1024 + 1])
            .await
            .status,
        413
    );
    assert_eq!(snapshot(&app), before);
}

#[tokio::test]
async fn a_short_payment_is_not_activated_and_the_operator_is_alerted() {
    let app = app_with_proforma().await;
    let doc = app.document("PF/2026/02/0001").await;
    let n = app.notification(&doc, doc.totals.gross.grosze() - 1, 780);
    let r = app
        .svc
        .handle_przelewy24(&serde_json::to_vec(&n).unwrap())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        app.document("PF/2026/02/0001").await.status,
        DocumentStatus::Issued
    );
    assert_eq!(app.store.count("payments").unwrap(), 0);
    let reviews = app.store.reviews().unwrap();
    assert_eq!(reviews.len(), 1);
    assert!(
        reviews[0].reason.contains("781.05"),
        "{}",
        reviews[0].reason
    );
    // Listed with the customer's e-mails, sent to the operator.
    let alerts: Vec<_> = app
        .emails("acme")
        .await
        .into_iter()
        .filter(|m| m.kind == "operator-alert")
        .collect();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].kind.as_str(), alerts[0].to.as_str()),
        ("operator-alert", "operator@reseller.example")
    );
    // The same notification again: recorded once.
    app.svc
        .handle_przelewy24(&serde_json::to_vec(&n).unwrap())
        .await;
    assert_eq!(app.store.reviews().unwrap().len(), 1);
}

#[tokio::test]
async fn an_unknown_session_is_recorded_for_review_with_200() {
    let app = app_with_proforma().await;
    let mut doc = app.document("PF/2026/02/0001").await;
    doc.payment.session_id = renewals_domain::SessionId::new("PF-2099-01-0001-1");
    let n = app.notification(&doc, 1000, 781);
    let r = app
        .svc
        .handle_przelewy24(&serde_json::to_vec(&n).unwrap())
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        app.store.reviews().unwrap()[0].reason,
        "no document has this session id"
    );
}

fn sha384_hex(s: &str) -> String {
    hex::encode(Sha384::digest(s.as_bytes()))
}

#[tokio::test]
async fn verification_is_sent_to_przelewy24_exactly_as_documented() {
    let p24 = MockServer::start().await;
    let mut settings = renewals_tests::p24();
    settings.base_url = p24.uri();
    let (merchant, pos, crc, key) = (
        settings.merchant_id,
        settings.pos_id,
        settings.crc.expose_secret().to_string(),
        settings.api_key.expose_secret().to_string(),
    );
    let app = TestApp::with(
        renewals_tests::settings(),
        settings.clone(),
        Arc::new(Przelewy24Client::new(settings)),
    );
    app.customer("acme", "business-standard", 10, Term::Monthly, "2026-01-31")
        .await;
    app.day("2026-02-21").await;
    let doc = app.document("PF/2026/02/0001").await;
    let session = doc.payment.session_id.clone();
    // Computed here from the documented field order, not with the code under test.
    let sign = sha384_hex(&format!(
        r#"{{"sessionId":"{session}","orderId":4242,"amount":78105,"currency":"PLN","crc":"{crc}"}}"#
    ));
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{pos}:{key}"));
    Mock::given(method("PUT"))
        .and(path("/api/v1/transaction/verify"))
        .and(header("authorization", format!("Basic {auth}").as_str()))
        .and(body_json(serde_json::json!({
            "merchantId": merchant, "posId": pos, "sessionId": session, "amount": 78105,
            "currency": "PLN", "orderId": 4242, "sign": sign
        })))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"data": {"status": "success"}, "responseCode": 0}),
            ),
        )
        .expect(1)
        .mount(&p24)
        .await;
    let n = app.notification(&doc, 78105, 4242);
    let r = app
        .svc
        .handle_przelewy24(&serde_json::to_vec(&n).unwrap())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        app.document("PF/2026/02/0001").await.status,
        DocumentStatus::Paid
    );
    // A duplicate is answered from our records, without a second verify (expect(1) above).
    assert_eq!(
        app.svc
            .handle_przelewy24(&serde_json::to_vec(&n).unwrap())
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn when_verify_fails_nothing_is_activated_and_przelewy24_is_asked_to_retry() {
    let p24 = MockServer::start().await;
    let mut settings = renewals_tests::p24();
    settings.base_url = p24.uri();
    Mock::given(method("PUT"))
        .and(path("/api/v1/transaction/verify"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&p24)
        .await;
    let app = TestApp::with(
        renewals_tests::settings(),
        settings.clone(),
        Arc::new(Przelewy24Client::new(settings)),
    );
    let sub = app
        .customer("acme", "business-standard", 10, Term::Monthly, "2026-01-31")
        .await;
    app.day("2026-02-21").await;
    let doc = app.document("PF/2026/02/0001").await;
    let before = snapshot(&app);
    let n = app.notification(&doc, doc.totals.gross.grosze(), 4243);
    let r = app
        .svc
        .handle_przelewy24(&serde_json::to_vec(&n).unwrap())
        .await;
    assert_eq!(r.status, 503);
    assert_eq!(snapshot(&app), before);
    assert_eq!(app.sub(&sub).await.status, Status::Active);
    assert!(app.sub(&sub).await.renewal.is_some_and(|r| !r.paid));
    let _ = d("2026-02-21");
}

#[test]
fn the_published_notification_sign_vector_holds() {
    // TESTING.md: a public client library's known answer, recomputed independently here.
    let signed = r#"{"merchantId":12345,"posId":123,"sessionId":"0beec7","amount":1500,"originAmount":1500,"currency":"PLN","orderId":123456789,"methodId":32,"statement":"p24-XXX-YYY-ZZZ","crc":"bar"}"#;
    assert_eq!(
        sha384_hex(signed),
        "703e946290d92230297c35d3bc8f554d4a458a4c97c9917665929c5ef5e682f7a868ac36e5dff20184c6a5302ef66c77"
    );
}

/// An app talking to a mock Przelewy24 (registration answered), with a pro-forma issued on
/// 21 February for `acme` (gross 781,05 zł).
async fn app_with_mock_p24() -> (TestApp, MockServer) {
    let p24 = MockServer::start().await;
    let mut settings = renewals_tests::p24();
    settings.base_url = p24.uri();
    Mock::given(method("POST"))
        .and(path("/api/v1/transaction/register"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"data": {"token": "T-ACME"}})),
        )
        .mount(&p24)
        .await;
    let app = TestApp::with(
        renewals_tests::settings(),
        settings.clone(),
        Arc::new(Przelewy24Client::new(settings)),
    );
    app.customer("acme", "business-standard", 10, Term::Monthly, "2026-01-31")
        .await;
    app.day("2026-02-21").await;
    (app, p24)
}

fn verify_answers(status: u16, body: serde_json::Value) -> Mock {
    Mock::given(method("PUT"))
        .and(path("/api/v1/transaction/verify"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
}

fn success() -> serde_json::Value {
    serde_json::json!({"data": {"status": "success"}, "responseCode": 0})
}

async fn kinds_of(app: &TestApp, kind: &str) -> usize {
    app.email_kinds("acme")
        .await
        .iter()
        .filter(|k| *k == kind)
        .count()
}

#[tokio::test]
async fn a_rotated_api_key_answers_503_alerts_the_operator_once_and_the_next_copy_activates_once() {
    let (app, p24) = app_with_mock_p24().await;
    // Our API key no longer works: Przelewy24 answers 401 to verify, three times.
    verify_answers(
        401,
        serde_json::json!({"error": "Incorrect authentication", "code": 401}),
    )
    .up_to_n_times(3)
    .expect(3)
    .mount(&p24)
    .await;
    verify_answers(200, success()).expect(1).mount(&p24).await;
    let doc = app.document("PF/2026/02/0001").await;
    let body = app
        .notification(&doc, doc.totals.gross.grosze(), 4300)
        .to_body();
    for copy in 0..3 {
        let r = app.webhook(&body).await;
        assert_eq!(
            r.status, 503,
            "copy {copy}: Przelewy24 must retry: {}",
            r.body
        );
    }
    assert_eq!(
        app.document("PF/2026/02/0001").await.status,
        DocumentStatus::Issued
    );
    assert_eq!(app.store.count("payments").unwrap(), 0);
    assert!(
        app.store.reviews().unwrap().is_empty(),
        "nothing stranded in review"
    );
    let alerts: Vec<_> = app
        .emails("acme")
        .await
        .into_iter()
        .filter(|m| m.kind == "operator-alert")
        .collect();
    assert_eq!(alerts.len(), 1, "one alert a day, not one per retry");
    assert_eq!(alerts[0].to, "operator@reseller.example");
    // The key is fixed: the next copy verifies and activates, once.
    let r = app.webhook(&body).await;
    assert_eq!((r.status, r.body.as_str()), (200, "OK"));
    assert_eq!(
        app.document("PF/2026/02/0001").await.status,
        DocumentStatus::Paid
    );
    assert_eq!(app.webhook(&body).await.body, "already processed");
    assert_eq!(app.store.count("payments").unwrap(), 1);
    assert_eq!(kinds_of(&app, "payment-confirmation").await, 1);
}

#[tokio::test]
async fn a_verify_refused_with_200_is_held_for_review_and_the_next_copy_verifies_again() {
    let (app, p24) = app_with_mock_p24().await;
    verify_answers(200, serde_json::json!({"data": {"status": "failed"}}))
        .up_to_n_times(1)
        .expect(1)
        .mount(&p24)
        .await;
    verify_answers(200, success()).expect(1).mount(&p24).await;
    let doc = app.document("PF/2026/02/0001").await;
    let body = app
        .notification(&doc, doc.totals.gross.grosze(), 4301)
        .to_body();
    let r = app.webhook(&body).await;
    assert_eq!((r.status, r.body.as_str()), (200, "recorded for review"));
    assert_eq!(app.store.reviews().unwrap().len(), 1);
    assert_eq!(kinds_of(&app, "operator-alert").await, 1);
    // Przelewy24 sends the notification again: verified now, paid through the usual path.
    let r = app.webhook(&body).await;
    assert_eq!((r.status, r.body.as_str()), (200, "OK"));
    assert_eq!(
        app.document("PF/2026/02/0001").await.status,
        DocumentStatus::Paid
    );
    assert_eq!(app.webhook(&body).await.body, "already processed");
    assert_eq!(app.store.count("payments").unwrap(), 1);
    assert_eq!(kinds_of(&app, "payment-confirmation").await, 1);
}
