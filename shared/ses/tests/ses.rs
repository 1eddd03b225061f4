//! The SES mailer against the local AWS emulator (moto's server): what the emulator
//! received is read back and checked as a customer would see it.

use renewals_app::config::{Defaults, Settings};
use renewals_app::ports::{warsaw_noon, Clock, ManualClock, Store};
use renewals_app::service::Service;
use renewals_domain::{EmailAddress, Job, Locale, Nip, PaymentMethod, Tenant, TenantId, Term};
use renewals_local::sqlite::Durability;
use renewals_local::SqliteStore;
use renewals_przelewy24::{OfflineProvider, P24Settings};
use renewals_ses::SesMailer;
use std::sync::Arc;

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL is not set: run `eval \"$(scripts/moto.sh start)\"` first")
}

async fn ses() -> aws_sdk_sesv2::Client {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_config::Region::new("eu-central-1"))
        .test_credentials()
        .load()
        .await;
    aws_sdk_sesv2::Client::new(&conf)
}

/// Every raw message the emulator accepted.
async fn received() -> Vec<serde_json::Value> {
    let data: serde_json::Value = reqwest::get(format!("{}/moto-api/data.json", endpoint()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    data["ses"]["RawMessage"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

struct Setup {
    svc: Service,
    store: Arc<SqliteStore>,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

async fn service(sender: &str, verified: bool) -> Setup {
    let client = ses().await;
    if verified {
        client
            .create_email_identity()
            .email_identity(sender)
            .send()
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(SqliteStore::open(&dir.path().join("db.sqlite3"), Durability::Normal).unwrap());
    let mut settings = Settings::from_lookup(Defaults::Local, |_| None).unwrap();
    settings.mail.sender = sender.to_string();
    let p24 = P24Settings::from_lookup(Defaults::Local, |_| None).unwrap();
    let clock = Arc::new(ManualClock::new(warsaw_noon(
        chrono::NaiveDate::from_ymd_opt(2026, 2, 21).unwrap(),
    )));
    let svc = Service::new(
        store.clone(),
        Arc::new(SesMailer::new(client, sender)),
        Some(Arc::new(OfflineProvider::new(p24))),
        Arc::new(renewals_email::Renderer::from_settings(&settings)),
        clock.clone(),
        settings,
    );
    Setup {
        svc,
        store,
        clock,
        _dir: dir,
    }
}

async fn issue_proforma(svc: &Service, tenant: &str) {
    let id = TenantId::parse(tenant).unwrap();
    svc.add_tenant(Tenant {
        id: id.clone(),
        name: "Kwiatkowski Ogrody sp. z o.o.".into(),
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
    let date = chrono::NaiveDate::from_ymd_opt(2026, 2, 21).unwrap();
    svc.run_job(Job::Daily, date, None).await.unwrap();
}

#[tokio::test]
async fn a_proforma_email_reaches_ses_as_the_raw_mime_message() {
    let Setup { svc, store, .. } = service("faktury@ses-ok.example", true).await;
    issue_proforma(&svc, "ses-ok").await;
    assert!(store.unsent(10).await.unwrap().is_empty(), "delivered");
    let ours: Vec<_> = received()
        .await
        .into_iter()
        .filter(|m| m["destinations"][0] == "faktury@ses-ok.example.pl")
        .collect();
    assert_eq!(ours.len(), 1);
    let raw = ours[0]["raw_data"].as_str().unwrap();
    assert_eq!(ours[0]["source"], "faktury@ses-ok.example");
    assert!(
        raw.contains("Subject: =?utf-8?Q?Pro-forma_PF/2026/02/0001"),
        "{raw}"
    );
    assert!(raw.contains("multipart/alternative"));
    assert!(raw.contains("PF/2026/02/0001"));
    let queued = &store
        .emails_of(&TenantId::parse("ses-ok").unwrap())
        .await
        .unwrap()[0];
    assert_eq!(
        raw.as_bytes(),
        &queued.mime(svc.composer.as_ref())[..],
        "the bytes composed from what the outbox holds"
    );
}

#[tokio::test]
async fn a_rejected_send_stays_in_the_outbox_for_the_next_attempt() {
    // No identity for this sender: SES (like a real sandbox) rejects the message.
    let Setup {
        svc, store, clock, ..
    } = service("faktury@ses-unverified.example", false).await;
    issue_proforma(&svc, "ses-rejected").await;
    let unsent = store.unsent(10).await.unwrap();
    assert_eq!(unsent.len(), 1);
    assert_eq!(unsent[0].message.kind, "proforma");
    assert!(!received()
        .await
        .iter()
        .any(|m| m["destinations"][0] == "faktury@ses-rejected.example.pl"));
    // Once the sender is verified, the next delivery after its pause sends it.
    ses()
        .await
        .create_email_identity()
        .email_identity("faktury@ses-unverified.example")
        .send()
        .await
        .unwrap();
    assert_eq!(svc.deliver().await.unwrap().sent, 0, "not before its pause");
    clock.set(clock.now() + chrono::Duration::minutes(15));
    let delivery = svc.deliver().await.unwrap();
    assert_eq!(delivery.sent, 1);
    assert!(store.unsent(10).await.unwrap().is_empty());
}
