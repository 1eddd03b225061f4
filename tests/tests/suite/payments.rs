//! Paying by link: the Przelewy24 transaction registered for each document (BLIK offered),
//! a failed registration retried, and a lost notification reconciled by session id. The
//! mock Przelewy24 checks exactly what we send.

use base64::Engine;
use renewals_app::przelewy24::Przelewy24Client;
use renewals_domain::{DocumentStatus, Locale, PaymentMethod, Status, Term};
use renewals_tests::{tenant, TestApp};
use sha2::{Digest, Sha384};
use std::sync::Arc;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn app_with_p24() -> (TestApp, MockServer) {
    let p24 = MockServer::start().await;
    let mut settings = renewals_tests::settings();
    settings.p24.base_url = p24.uri();
    let client = Przelewy24Client::new(settings.p24.clone());
    (TestApp::with(settings, Arc::new(client)), p24)
}

fn basic_auth(app: &TestApp) -> String {
    let p = &app.svc.settings.p24;
    let raw = format!("{}:{}", p.pos_id, p.api_key);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

#[tokio::test]
async fn the_proforma_email_carries_a_registered_payment_link_with_blik() {
    let (app, p24) = app_with_p24().await;
    app.customer_with(
        tenant("acme", Locale::Pl, PaymentMethod::Blik),
        "business-standard",
        10,
        Term::Monthly,
        "2026-01-31",
    )
    .await;
    let p = app.svc.settings.p24.clone();
    // Signed over sessionId, merchantId, amount, currency, crc, in that order.
    let sign = hex::encode(Sha384::digest(format!(
        r#"{{"sessionId":"PF-2026-02-0001-1","merchantId":{},"amount":78105,"currency":"PLN","crc":"{}"}}"#,
        p.merchant_id, p.crc
    )));
    Mock::given(method("POST"))
        .and(path("/api/v1/transaction/register"))
        .and(header("authorization", basic_auth(&app).as_str()))
        .and(body_json(serde_json::json!({
            "merchantId": p.merchant_id, "posId": p.pos_id, "sessionId": "PF-2026-02-0001-1",
            "amount": 78105, "currency": "PLN",
            "description": "Pro-forma PF/2026/02/0001 – Microsoft 365",
            "email": "faktury@acme.example.pl", "client": "acme sp. z o.o.", "country": "PL",
            "language": "pl", "urlReturn": "https://reseller.example/dziekujemy",
            "urlStatus": "http://127.0.0.1:8080/webhooks/przelewy24",
            "channel": 8192 | 2, "sign": sign
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"data": {"token": "TOKEN-ACME-1"}, "responseCode": 0}),
        ))
        .expect(1)
        .mount(&p24)
        .await;
    app.day("2026-02-21").await;
    let mail = &app.emails("acme").await[0];
    let text = String::from_utf8_lossy(&mail.mime).replace("=\r\n", "");
    assert!(
        text.contains(&format!("{}/trnRequest/TOKEN-ACME-1", p24.uri())),
        "link in the e-mail"
    );
    assert!(text.contains("BLIK"), "BLIK named for a BLIK customer");
    assert!(
        text.contains("PL61 1090 1014 0000 0712 1981 2874"),
        "transfer details too"
    );
}

#[tokio::test]
async fn a_failed_registration_does_not_block_issuing_and_is_retried_next_run() {
    let (app, p24) = app_with_p24().await;
    app.customer("acme", "business-basic", 3, Term::Monthly, "2026-01-31")
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/transaction/register"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(serde_json::json!({"error": "Undefined error", "code": 500})),
        )
        .up_to_n_times(1)
        .mount(&p24)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/transaction/register"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"data": {"token": "TOKEN-2"}})),
        )
        .mount(&p24)
        .await;
    let (daily, _) = app.day("2026-02-21").await;
    assert_eq!(daily.proformas_issued, 1);
    let first = String::from_utf8_lossy(&app.emails("acme").await[0].mime).replace("=\r\n", "");
    assert!(!first.contains("trnRequest"), "no link yet");
    assert!(
        first.contains("PF/2026/02/0001") && first.contains("PL61 1090"),
        "transfer details"
    );
    let (retry, _) = app.day("2026-02-22").await;
    assert_eq!(retry.links_registered, 1);
    app.day("2026-02-24").await; // first reminder
    let reminder = app
        .emails("acme")
        .await
        .into_iter()
        .find(|m| m.kind == "reminder")
        .unwrap();
    let text = String::from_utf8_lossy(&reminder.mime).replace("=\r\n", "");
    assert!(
        text.contains("trnRequest/TOKEN-2"),
        "the reminder carries the link"
    );
}

#[tokio::test]
async fn a_lost_notification_is_found_by_session_id_and_nothing_is_suspended() {
    let (app, p24) = app_with_p24().await;
    let sub = app
        .customer("acme", "business-basic", 3, Term::Monthly, "2026-01-31")
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/transaction/register"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"data": {"token": "T"}})),
        )
        .mount(&p24)
        .await;
    // Paid on 23 February; the notification never arrived. Przelewy24 holds it unverified.
    Mock::given(method("GET"))
        .and(path("/api/v1/transaction/by/sessionId/PF-2026-02-0001-1"))
        .and(header("authorization", basic_auth(&app).as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"data": {
            "orderId": 31337, "sessionId": "PF-2026-02-0001-1", "status": 1, "amount": 11255,
            "currency": "PLN", "paymentMethod": 154, "statement": "p24-31337"}, "responseCode": 0})))
        .expect(1..)
        .mount(&p24)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/v1/transaction/verify"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"data": {"status": "success"}})),
        )
        .expect(1)
        .mount(&p24)
        .await;
    app.days("2026-02-21", "2026-02-26").await;
    assert_eq!(
        app.document("PF/2026/02/0001").await.status,
        DocumentStatus::Issued
    );
    let (due_day, _) = app.day("2026-02-27").await;
    assert_eq!(due_day.payments_reconciled, 1);
    assert_eq!(due_day.reminders_sent, 0, "no reminder for what is paid");
    assert_eq!(
        app.document("PF/2026/02/0001").await.status,
        DocumentStatus::Paid
    );
    app.days("2026-02-28", "2026-03-06").await;
    assert_eq!(app.sub(&sub).await.status, Status::Active);
    assert_eq!(app.store.payments().unwrap()[0].order_id, Some(31337));
}
