//! Paying by link: the Przelewy24 transaction registered for each document (BLIK offered),
//! a failed registration retried, and a lost notification reconciled by session id. The
//! mock Przelewy24 checks exactly what we send.

use base64::Engine;
use renewals_domain::{DocumentStatus, Locale, PaymentMethod, Status, Term};
use renewals_przelewy24::Przelewy24Client;
use renewals_tests::{tenant, TestApp};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha384};
use std::sync::Arc;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn app_with_p24() -> (TestApp, MockServer) {
    let p24 = MockServer::start().await;
    let mut settings = renewals_tests::p24();
    settings.base_url = p24.uri();
    let client = Przelewy24Client::new(settings.clone());
    (
        TestApp::with(renewals_tests::settings(), settings, Arc::new(client)),
        p24,
    )
}

fn basic_auth(app: &TestApp) -> String {
    let p = &app.p24;
    let raw = format!("{}:{}", p.pos_id, p.api_key.expose_secret());
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
    let p = app.p24.clone();
    // Signed over sessionId, merchantId, amount, currency, crc, in that order.
    let sign = hex::encode(Sha384::digest(format!(
        r#"{{"sessionId":"PF-2026-02-0001-1","merchantId":{},"amount":78105,"currency":"PLN","crc":"{}"}}"#,
        p.merchant_id,
        p.crc.expose_secret()
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
    let text = String::from_utf8_lossy(&app.mime(mail)).replace("=\r\n", "");
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
    let first =
        String::from_utf8_lossy(&app.mime(&app.emails("acme").await[0])).replace("=\r\n", "");
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
    let text = String::from_utf8_lossy(&app.mime(&reminder)).replace("=\r\n", "");
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

mod cards {
    use super::*;
    use renewals_domain::Job;
    use wiremock::matchers::body_partial_json;

    async fn card_customer() -> (TestApp, MockServer) {
        let (app, p24) = app_with_p24().await;
        app.customer_with(
            tenant("acme", Locale::Pl, PaymentMethod::Card),
            "business-basic",
            3,
            Term::Monthly,
            "2026-01-31",
        )
        .await;
        app.svc
            .set_card(
                &renewals_domain::TenantId::parse("acme").unwrap(),
                "REF-ACME",
            )
            .await
            .unwrap();
        // The link (fallback) registration, and the card charge's own registration.
        Mock::given(method("POST"))
            .and(path("/api/v1/transaction/register"))
            .and(body_partial_json(
                serde_json::json!({"methodRefId": "REF-ACME"}),
            ))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"data": {"token": "CARD-TOKEN"}})),
            )
            .mount(&p24)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/v1/transaction/register"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"data": {"token": "LINK-TOKEN"}})),
            )
            .mount(&p24)
            .await;
        (app, p24)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_card_is_charged_once_on_the_issue_day_even_when_runs_race() {
        let (app, p24) = card_customer().await;
        Mock::given(method("POST"))
            .and(path("/api/v1/card/charge"))
            .and(header("authorization", basic_auth(&app).as_str()))
            .and(body_json(serde_json::json!({"token": "CARD-TOKEN"})))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(
                    serde_json::json!({"data": {"orderId": 555}, "responseCode": 0}),
                ),
            )
            .expect(1)
            .mount(&p24)
            .await;
        app.clock
            .set(renewals_app::ports::warsaw_noon(renewals_tests::d(
                "2026-02-21",
            )));
        let p24_client = || Arc::new(Przelewy24Client::new(app.p24.clone()));
        let (a, b) = (
            app.second_service_with(p24_client()),
            app.second_service_with(p24_client()),
        );
        let date = renewals_tests::d("2026-02-21");
        let (ra, rb) = tokio::join!(
            tokio::spawn(async move { a.run_job(Job::Daily, date, None).await.unwrap() }),
            tokio::spawn(async move { b.run_job(Job::Daily, date, None).await.unwrap() }),
        );
        assert_eq!(ra.unwrap().card_charges + rb.unwrap().card_charges, 1);
        app.day("2026-02-21").await; // and a third run: nothing more
                                     // The charge's notification names the attempt's session; it pays the document.
        let doc = app.document("PF/2026/02/0001").await;
        let mut n = app.notification(&doc, doc.totals.gross.grosze(), 555);
        n.session_id = "PF-2026-02-0001-1-c1".into();
        n.sign = n.expected_sign(app.p24.crc.expose_secret());
        Mock::given(method("PUT"))
            .and(path("/api/v1/transaction/verify"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"data": {"status": "success"}})),
            )
            .mount(&p24)
            .await;
        assert_eq!(app.webhook(&n.to_body()).await.status, 200);
        assert_eq!(
            app.document("PF/2026/02/0001").await.status,
            DocumentStatus::Paid
        );
        app.days("2026-02-22", "2026-02-27").await; // no retries once paid (expect(1) above)
    }

    #[tokio::test]
    async fn a_declined_charge_sends_the_link_is_retried_on_reminder_days_and_the_link_pays() {
        let (app, p24) = card_customer().await;
        Mock::given(method("POST"))
            .and(path("/api/v1/card/charge"))
            .respond_with(
                ResponseTemplate::new(400)
                    .set_body_json(serde_json::json!({"error": "Invalid input data", "code": 400})),
            )
            .expect(2)
            .mount(&p24)
            .await;
        let (issue_day, _) = app.day("2026-02-21").await;
        assert_eq!(
            (issue_day.card_charges, issue_day.card_charges_failed),
            (1, 1)
        );
        let kinds = app.email_kinds("acme").await;
        assert_eq!(
            kinds,
            ["proforma", "reminder"],
            "the link instead of the charge"
        );
        let fallback =
            String::from_utf8_lossy(&app.mime(&app.emails("acme").await[1])).replace("=\r\n", "");
        assert!(
            fallback.contains("trnRequest/LINK-TOKEN"),
            "the fallback carries the link"
        );
        let (quiet, _) = app.day("2026-02-23").await;
        assert_eq!(quiet.card_charges, 0, "retries only on reminder days");
        let (reminder_day, _) = app.day("2026-02-24").await;
        assert_eq!(reminder_day.card_charges, 1, "second attempt");
        // The customer pays through the link: no more charges (expect(2) above).
        Mock::given(method("PUT"))
            .and(path("/api/v1/transaction/verify"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"data": {"status": "success"}})),
            )
            .mount(&p24)
            .await;
        assert_eq!(app.pay("PF/2026/02/0001", "2026-02-25").await.status, 200);
        app.days("2026-02-26", "2026-02-28").await;
        let s = app.store.all_accounts().unwrap()[0].subscriptions[0].clone();
        assert_eq!(s.status, Status::Active);
    }
}

#[tokio::test]
async fn a_payment_held_because_verify_was_refused_is_verified_again_by_reconciliation() {
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
    // Verify answers 200 without success once (the payment is held for review), then works.
    Mock::given(method("PUT"))
        .and(path("/api/v1/transaction/verify"))
        .and(header("authorization", basic_auth(&app).as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"data": {"status": "pending"}})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&p24)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/v1/transaction/verify"))
        .and(header("authorization", basic_auth(&app).as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"data": {"status": "success"}})),
        )
        .expect(1)
        .mount(&p24)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/transaction/by/sessionId/PF-2026-02-0001-1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"data": {
            "orderId": 1001, "sessionId": "PF-2026-02-0001-1", "status": 1, "amount": 11255,
            "currency": "PLN", "paymentMethod": 154, "statement": "p24-1001"}, "responseCode": 0})),
        )
        .mount(&p24)
        .await;
    app.day("2026-02-21").await;
    let r = app.pay("PF/2026/02/0001", "2026-02-23").await;
    // `pay` posts order 1001 (1000 + the document's number); Przelewy24 reports the same.
    assert_eq!((r.status, r.body.as_str()), (200, "recorded for review"));
    assert_eq!(app.store.reviews().unwrap().len(), 1);
    app.days("2026-02-23", "2026-02-26").await;
    assert_eq!(
        app.document("PF/2026/02/0001").await.status,
        DocumentStatus::Issued
    );
    let (due_day, _) = app.day("2026-02-27").await;
    assert_eq!(due_day.payments_reconciled, 1);
    assert_eq!(
        app.document("PF/2026/02/0001").await.status,
        DocumentStatus::Paid
    );
    app.days("2026-02-28", "2026-03-06").await;
    assert_eq!(app.sub(&sub).await.status, Status::Active);
    let confirmations = app
        .email_kinds("acme")
        .await
        .into_iter()
        .filter(|k| k == "payment-confirmation")
        .count();
    assert_eq!(confirmations, 1);
}
