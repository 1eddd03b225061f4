//! The SES account's sending rate, against a stand-in of the SES v2 REST API (wiremock): the
//! mailer reads the rate SES states, and a send SES throttles stays in the outbox, is not
//! parked, and goes out on a later delivery while the others carry on.

use renewals_app::config::{Defaults, Settings};
use renewals_app::ports::{warsaw_noon, Clock, ManualClock, Store};
use renewals_app::service::Service;
use renewals_domain::{EmailAddress, Job, Locale, Nip, PaymentMethod, Tenant, TenantId, Term};
use renewals_local::sqlite::Durability;
use renewals_local::SqliteStore;
use renewals_przelewy24::{OfflineProvider, P24Settings};
use renewals_ses::SesMailer;
use std::sync::Arc;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn ses(server: &MockServer) -> aws_sdk_sesv2::Client {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(server.uri())
        .region(aws_config::Region::new("eu-central-1"))
        .test_credentials()
        .load()
        .await;
    aws_sdk_sesv2::Client::new(&conf)
}

fn account(rate: f64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "DedicatedIpAutoWarmupEnabled": false,
        "EnforcementStatus": "HEALTHY",
        "ProductionAccessEnabled": true,
        "SendingEnabled": true,
        "SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": rate, "SentLast24Hours": 12.0}
    }))
}

fn sent() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({"MessageId": "0100-ses-1"}))
}

fn throttled() -> ResponseTemplate {
    ResponseTemplate::new(429)
        .insert_header("x-amzn-ErrorType", "TooManyRequestsException")
        .set_body_json(serde_json::json!({"message": "Maximum sending rate exceeded."}))
}

#[tokio::test]
async fn the_mailer_reads_the_sending_rate_ses_states() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/email/account"))
        .respond_with(account(14.0))
        .expect(1)
        .mount(&server)
        .await;
    let rate = SesMailer::account_send_rate(&ses(&server).await)
        .await
        .unwrap();
    assert_eq!(rate, 14.0);
}

#[tokio::test]
async fn a_throttled_email_stays_in_the_outbox_and_the_others_go_on() {
    let server = MockServer::start().await;
    // SES takes the first message, throttles the second (three times: the SDK's own retries
    // of a throttled call are used up), then takes the rest.
    Mock::given(method("POST"))
        .and(path("/v2/email/outbound-emails"))
        .respond_with(sent())
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/email/outbound-emails"))
        .respond_with(throttled())
        .up_to_n_times(3)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/email/outbound-emails"))
        .respond_with(sent())
        .with_priority(3)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(SqliteStore::open(&dir.path().join("db.sqlite3"), Durability::Normal).unwrap());
    let settings = Settings::from_lookup(Defaults::Local, |_| None).unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 2, 21).unwrap();
    let clock = Arc::new(ManualClock::new(warsaw_noon(day)));
    let mailer =
        SesMailer::new(ses(&server).await, "faktury@reseller.example").with_send_rate(50.0);
    let svc = Service::new(
        store.clone(),
        Arc::new(mailer),
        Some(Arc::new(OfflineProvider::new(
            P24Settings::from_lookup(Defaults::Local, |_| None).unwrap(),
        ))),
        Arc::new(renewals_email::Renderer::from_settings(&settings)),
        clock.clone(),
        settings,
    );
    for tenant in ["alfa", "beta", "gamma"] {
        let id = TenantId::parse(tenant).unwrap();
        svc.add_tenant(Tenant {
            id: id.clone(),
            name: format!("{tenant} sp. z o.o."),
            nip: Nip::parse("5260001246").unwrap(),
            address: String::new(),
            address2: None,
            country: "PL".into(),
            email: EmailAddress::parse(&format!("faktury@{tenant}.example.pl")).unwrap(),
            locale: Locale::Pl,
            payment_method: PaymentMethod::Transfer,
        })
        .await
        .unwrap();
        let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        svc.add_subscription(&id, "business-basic", 3, Term::Monthly, start)
            .await
            .unwrap();
    }

    let summary = svc.run_job(Job::Daily, day, None).await.unwrap();

    assert_eq!(summary.emails_sent, 2, "the others went on");
    let unsent = store.unsent(10).await.unwrap();
    assert_eq!(unsent.len(), 1, "the throttled one waits in the outbox");
    assert!(!unsent[0].parked);
    // A minute later it goes out.
    clock.set(clock.now() + chrono::Duration::minutes(1));
    assert_eq!(svc.deliver().await.unwrap().sent, 1);
    assert!(store.unsent(10).await.unwrap().is_empty());
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1 + 3 + 1 + 1
    );
}
