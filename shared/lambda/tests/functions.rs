//! The three functions' handlers, driven with the event fixtures in `events/`: first on the
//! embedded store, then a whole cycle on the local AWS emulator (DynamoDB + SES) with a mock
//! Przelewy24 answering verify.

use renewals_app::config::{Defaults, Settings};
use renewals_app::ports::{warsaw_noon, Mailer, ManualClock, PaymentProvider, Store};
use renewals_app::service::Service;
use renewals_domain::{
    DocumentNumber, DocumentStatus, EmailAddress, Job, Locale, Nip, PaymentMethod, Status,
    SubscriptionId, Tenant, TenantId, Term,
};
use renewals_lambda::handlers::{scheduled, webhook, ScheduledEvent};
use renewals_przelewy24::P24Settings;
use std::sync::Arc;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../events/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn event(name: &str) -> ScheduledEvent {
    serde_json::from_str(&fixture(name)).unwrap()
}

fn date(s: &str) -> chrono::NaiveDate {
    renewals_domain::parse_date(s).unwrap()
}

fn settings() -> Settings {
    Settings::from_lookup(Defaults::Local, |_| None).unwrap()
}

fn p24() -> P24Settings {
    P24Settings::from_lookup(Defaults::Local, |_| None).unwrap()
}

fn service(
    store: Arc<dyn Store>,
    mailer: Arc<dyn Mailer>,
    provider: Arc<dyn PaymentProvider>,
    s: Settings,
) -> (Arc<Service>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(warsaw_noon(date("2026-02-01"))));
    (
        renewals_lambda::service(store, mailer, Some(provider), clock.clone(), s),
        clock,
    )
}

/// A tenant with 3 seats of Business Basic, monthly from 31 January: renews on 28 February.
async fn customer(svc: &Service, id: &str) {
    let tenant = TenantId::parse(id).unwrap();
    svc.add_tenant(Tenant {
        id: tenant.clone(),
        name: format!("{id} sp. z o.o."),
        nip: Nip::parse("5260001246").unwrap(),
        // A complete buyer: an invoice without the address would be held, with an alert.
        address: "ul. Prosta 1".into(),
        address2: Some("00-001 Warszawa".into()),
        country: "PL".into(),
        email: EmailAddress::parse(&format!("faktury@{id}.example.pl")).unwrap(),
        locale: Locale::Pl,
        payment_method: PaymentMethod::Blik,
    })
    .await
    .unwrap();
    svc.add_subscription(
        &tenant,
        "business-basic",
        3,
        Term::Monthly,
        date("2026-01-31"),
    )
    .await
    .unwrap();
}

/// Two customers renewing on 28 February: `alfa` pays (the webhook fixture is its payment),
/// `beta` never does.
async fn customers(svc: &Service) {
    for id in ["alfa", "beta"] {
        customer(svc, id).await;
    }
}

fn webhook_request(name: &str) -> lambda_http::Request {
    lambda_http::request::from_str(&fixture(name)).unwrap()
}

async fn status(svc: &Service, sub: &str) -> Status {
    let sub = SubscriptionId::parse(sub).unwrap();
    let tenant = svc.tenant_of(&sub).await.unwrap();
    svc.account(&tenant)
        .await
        .unwrap()
        .subscription(&sub)
        .unwrap()
        .status
}

mod embedded {
    use super::*;
    use renewals_local::sqlite::Durability;
    use renewals_local::{OutboxMailer, SqliteStore};
    use renewals_przelewy24::OfflineProvider;

    fn local() -> (Arc<Service>, Arc<ManualClock>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite3"), Durability::Normal).unwrap();
        let s = settings();
        let (svc, clock) = service(
            Arc::new(store),
            Arc::new(OutboxMailer::new(dir.path().join("outbox")).unwrap()),
            Arc::new(OfflineProvider::new(p24())),
            s,
        );
        (svc, clock, dir)
    }

    #[tokio::test]
    async fn the_scheduler_event_works_on_the_warsaw_date_of_its_scheduled_time() {
        assert_eq!(
            event("daily-billing.json")
                .business_date(chrono::Utc::now())
                .unwrap(),
            date("2026-02-21")
        );
        // 23:30 UTC on 4 March is already 5 March in Warsaw.
        assert_eq!(
            event("expiry.json")
                .business_date(chrono::Utc::now())
                .unwrap(),
            date("2026-03-05")
        );
        assert_eq!(
            event("daily-billing-date.json")
                .business_date(chrono::Utc::now())
                .unwrap(),
            date("2026-02-28")
        );
        let bad: ScheduledEvent = serde_json::from_str(r#"{"date":"2026-02-31"}"#).unwrap();
        assert!(bad.business_date(chrono::Utc::now()).is_err());
    }

    #[tokio::test]
    async fn daily_webhook_and_expiry_handlers_run_a_cycle_from_the_fixtures() {
        let (svc, clock, _dir) = local();
        customers(&svc).await;
        let summary = scheduled(&svc, Job::Daily, event("daily-billing.json"), None)
            .await
            .unwrap();
        assert_eq!(summary.proformas_issued, 2);
        clock.set(warsaw_noon(date("2026-02-23")));
        // The fixture's body is base64, as a Function URL delivers JSON it did not decode.
        let response = webhook(&svc, &p24(), webhook_request("payment-webhook.json")).await;
        assert_eq!(response.status(), 200);
        let doc = svc
            .store
            .document(&DocumentNumber::parse("PF/2026/02/0001").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(doc.status, DocumentStatus::Paid);
        // The same notification as plain text is the same payment.
        assert_eq!(
            webhook(&svc, &p24(), webhook_request("payment-webhook-text.json"))
                .await
                .status(),
            200
        );
        scheduled(&svc, Job::Daily, event("daily-billing-date.json"), None)
            .await
            .unwrap();
        let expiry = scheduled(&svc, Job::Expiry, event("expiry.json"), None)
            .await
            .unwrap();
        assert_eq!(expiry.suspended, 1);
        assert_eq!(status(&svc, "alfa-1").await, Status::Active);
        assert_eq!(status(&svc, "beta-1").await, Status::Suspended);
    }

    #[tokio::test]
    async fn a_run_at_its_deadline_stops_cleanly_and_the_next_run_does_the_rest() {
        let (svc, _clock, _dir) = local();
        customers(&svc).await;
        let now_ms = chrono::Utc::now().timestamp_millis() as u64;
        let cut = scheduled(&svc, Job::Daily, event("daily-billing.json"), Some(now_ms))
            .await
            .unwrap();
        assert!(cut.stopped_early);
        assert_eq!(cut.proformas_issued, 0);
        let next = scheduled(&svc, Job::Daily, event("daily-billing.json"), None)
            .await
            .unwrap();
        assert_eq!((next.proformas_issued, next.stopped_early), (2, false));
    }

    #[tokio::test]
    async fn a_tenant_that_needs_a_person_is_reported_without_failing_the_run() {
        let (svc, _clock, dir) = local();
        customers(&svc).await;
        // The catalog no longer sells alfa's product: no retry can price its renewal.
        let mut s = settings();
        s.catalog.products.retain(|p| p.sku != "business-basic");
        let store = SqliteStore::open(&dir.path().join("db.sqlite3"), Durability::Normal).unwrap();
        let (without, _) = service(
            Arc::new(store),
            Arc::new(OutboxMailer::new(dir.path().join("outbox")).unwrap()),
            Arc::new(OfflineProvider::new(p24())),
            s,
        );
        let summary = scheduled(&without, Job::Daily, event("daily-billing.json"), None)
            .await
            .expect("a refusal is not worth a retry of the whole run");
        assert_eq!(summary.failures.len(), 2, "{:?}", summary.failures);
        assert!(summary.failures.iter().all(|f| !f.retryable));
        assert!(summary.failures[0].error.contains("unknown product"));
    }

    /// The hourly `deliver` task carries a pending Microsoft command out at Partner Center
    /// (here its HTTP stand-in), and the daily `microsoft-sync` task reports drift.
    #[tokio::test]
    async fn the_hourly_delivery_carries_microsoft_commands_out_and_the_sync_reports_drift() {
        const CID: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
        const SID: &str = "a4c1340d-6911-4758-bba3-0c4c6007d161";
        let pc = renewals_microsoft::standin::PartnerCenterStandIn::start().await;
        let (without, clock, dir) = local();
        customer(&without, "alfa").await;
        let tenant = TenantId::parse("alfa").unwrap();
        let sub = SubscriptionId::parse("alfa-1").unwrap();
        without.link_microsoft_tenant(&tenant, CID).await.unwrap();
        without
            .link_microsoft_subscription(&sub, SID)
            .await
            .unwrap();
        let term_start = date("2026-01-31").and_hms_opt(0, 0, 0).unwrap().and_utc();
        pc.add_subscription(CID, SID, 3, term_start);
        // Decided where no Partner Center is configured: the command waits in the outbox.
        without.renewal_off(&sub).await.unwrap();
        assert_eq!(pc.subscription(CID, SID)["autoRenewEnabled"], true);

        let store = SqliteStore::open(&dir.path().join("db.sqlite3"), Durability::Normal).unwrap();
        let composer = Arc::new(renewals_email::Renderer::from_settings(&settings()));
        let with = Service::new(
            Arc::new(store),
            Arc::new(OutboxMailer::new(dir.path().join("outbox")).unwrap()),
            None,
            composer,
            clock.clone(),
            settings(),
        )
        .with_microsoft(Arc::new(
            renewals_microsoft::PartnerCenter::new(pc.settings()).unwrap(),
        ));
        let hourly: ScheduledEvent = serde_json::from_str(r#"{"task": "deliver"}"#).unwrap();
        let summary = scheduled(&with, Job::Expiry, hourly, None).await.unwrap();
        assert_eq!((summary.microsoft_done, summary.microsoft_parked), (1, 0));
        assert_eq!(
            (summary.job.as_str(), summary.tenants_due),
            ("deliver", 0),
            "the outboxes only, not the job"
        );
        assert_eq!(pc.subscription(CID, SID)["autoRenewEnabled"], false);

        // Someone added a seat in Partner Center by hand: reported, changed nowhere.
        pc.set_field(CID, SID, "quantity", 4.into());
        let daily: ScheduledEvent = serde_json::from_str(r#"{"task": "microsoft-sync"}"#).unwrap();
        let sync = scheduled(&with, Job::Daily, daily, None).await.unwrap();
        assert!(sync.microsoft_drift >= 1, "{sync:?}");
        assert_eq!(pc.subscription(CID, SID)["quantity"], 4);
        assert_eq!(status(&with, "alfa-1").await, Status::Active);
    }

    /// KSeF in the functions: the webhook sends the payment's VAT invoice in the same
    /// invocation; an invoice left pending (here: paid while KSeF was not configured) goes
    /// with the hourly `ksef-sync` task. Counted where it lands: KSeF's HTTP stand-in.
    #[tokio::test]
    async fn the_webhook_sends_the_payments_invoice_to_ksef_and_the_hourly_task_sends_the_rest() {
        let ksef = renewals_ksef::standin::KsefStandIn::start().await;
        let (without, clock, dir) = local();
        customers(&without).await;
        scheduled(&without, Job::Daily, event("daily-billing.json"), None)
            .await
            .unwrap();
        clock.set(warsaw_noon(date("2026-02-23")));
        let with = |dir: &std::path::Path| {
            let store = SqliteStore::open(&dir.join("db.sqlite3"), Durability::Normal).unwrap();
            Service::new(
                Arc::new(store),
                Arc::new(OutboxMailer::new(dir.join("outbox")).unwrap()),
                Some(Arc::new(OfflineProvider::new(p24()))),
                Arc::new(renewals_email::Renderer::from_settings(&settings())),
                clock.clone(),
                settings(),
            )
            .with_ksef(Arc::new(
                renewals_ksef::HttpKsef::new(ksef.settings()).unwrap(),
            ))
        };
        let svc = with(dir.path());
        let response = webhook(&svc, &p24(), webhook_request("payment-webhook.json")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(ksef.registered(), 1, "sent and accepted within the webhook");
        let invoices = svc
            .store
            .documents_of(&TenantId::parse("alfa").unwrap())
            .await
            .unwrap();
        assert!(
            invoices
                .iter()
                .any(|d| d.number.to_string() == "PF/2026/02/0001"
                    && d.status == DocumentStatus::Paid),
            "{invoices:?}"
        );

        // beta pays PF/2026/02/0002 where no KSeF is configured: its invoice waits.
        let beta = without
            .store
            .document(&DocumentNumber::parse("PF/2026/02/0002").unwrap())
            .await
            .unwrap()
            .unwrap();
        let notification = renewals_przelewy24::Notification::simulated(
            &p24(),
            &beta,
            beta.totals.gross.grosze(),
            PaymentMethod::Transfer,
        );
        let body = serde_json::to_vec(&notification).unwrap();
        let r = renewals_przelewy24::webhook::handle(&without, &p24(), &body).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(ksef.registered(), 1, "nothing sent without KSeF");

        let hourly: ScheduledEvent = serde_json::from_str(r#"{"task": "ksef-sync"}"#).unwrap();
        let summary = scheduled(&svc, Job::Daily, hourly, None).await.unwrap();
        assert_eq!(
            (
                summary.job.as_str(),
                summary.invoices_sent,
                summary.invoices_accepted
            ),
            ("ksef-sync", 1, 1),
            "{summary:?}"
        );
        assert_eq!(ksef.registered(), 2);
        let again: ScheduledEvent = serde_json::from_str(r#"{"task": "ksef-sync"}"#).unwrap();
        let summary = scheduled(&svc, Job::Daily, again, None).await.unwrap();
        assert_eq!(summary.invoices_sent, 0, "nothing sent twice");
    }

    #[tokio::test]
    async fn the_webhook_answers_only_post() {
        let (svc, _clock, _dir) = local();
        let mut request = webhook_request("payment-webhook.json");
        *request.method_mut() = lambda_http::http::Method::GET;
        assert_eq!(webhook(&svc, &p24(), request).await.status(), 405);
    }

    #[test]
    fn each_run_logs_one_embedded_metric_format_line() {
        let summary = renewals_app::jobs::RunSummary {
            proformas_issued: 3,
            ..Default::default()
        };
        let line: serde_json::Value = serde_json::from_str(&renewals_lambda::metrics::emf_line(
            "daily-billing",
            &summary,
            1,
        ))
        .unwrap();
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "Renewals"
        );
        assert_eq!(line["ProformasIssued"], 3);
        assert_eq!(line["Function"], "daily-billing");
    }
}

mod on_the_aws_emulator {
    use super::*;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn endpoint() -> String {
        std::env::var("AWS_ENDPOINT_URL")
            .expect("AWS_ENDPOINT_URL is not set: run `eval \"$(scripts/moto.sh start)\"` first")
    }

    async fn emulator() -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint())
            .region(aws_config::Region::new("eu-central-1"))
            .test_credentials()
            .load()
            .await
    }

    /// How many raw messages from `sender` the emulator's SES accepted.
    async fn ses_received(sender: &str, containing: &str) -> usize {
        let data: serde_json::Value = reqwest::get(format!("{}/moto-api/data.json", endpoint()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        data["ses"]["RawMessage"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|m| m["source"] == sender)
                    .filter(|m| m["raw_data"].as_str().unwrap_or("").contains(containing))
                    .count()
            })
            .unwrap_or(0)
    }

    /// A deliverer of its own on `table` (its own store client, as another Lambda has),
    /// sending through SES from `sender`.
    fn deliverer(
        sdk: &aws_config::SdkConfig,
        table: &str,
        sender: &str,
        clock: &Arc<ManualClock>,
    ) -> Arc<Service> {
        let store =
            renewals_dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), table.into());
        let mut s = settings();
        s.mail.sender = sender.into();
        renewals_lambda::service(
            Arc::new(store),
            Arc::new(renewals_ses::SesMailer::new(
                aws_sdk_sesv2::Client::new(sdk),
                sender,
            )),
            Some(Arc::new(renewals_przelewy24::OfflineProvider::new(
                super::p24(),
            ))),
            clock.clone(),
            s,
        )
    }

    /// Two daily runs at once, then payments arriving as eight concurrent webhook requests
    /// at a time: SES receives every pro-forma and every confirmation exactly once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn overlapping_runs_and_webhooks_send_each_message_once_through_ses() {
        let sdk = emulator().await;
        let table = format!("renewals-once-{}", std::process::id());
        let store =
            renewals_dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table.clone());
        store.create_table().await.unwrap();
        let sender = "faktury@once.example";
        aws_sdk_sesv2::Client::new(&sdk)
            .create_email_identity()
            .email_identity(sender)
            .send()
            .await
            .unwrap();
        let clock = Arc::new(ManualClock::new(warsaw_noon(date("2026-02-21"))));
        let first = deliverer(&sdk, &table, sender, &clock);
        let n = 24;
        for i in 0..n {
            customer(&first, &format!("once{i:02}")).await;
        }

        let second = deliverer(&sdk, &table, sender, &clock);
        let (a, b) = tokio::join!(
            scheduled(&first, Job::Daily, event("daily-billing.json"), None),
            scheduled(&second, Job::Daily, event("daily-billing.json"), None),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.proformas_issued + b.proformas_issued, n);
        assert_eq!(
            ses_received(sender, "PF/2026/02/").await,
            n,
            "each pro-forma once"
        );

        clock.set(warsaw_noon(date("2026-02-23")));
        let p24 = super::p24();
        let mut documents = vec![];
        for i in 0..n {
            let tenant = TenantId::parse(&format!("once{i:02}")).unwrap();
            documents.extend(first.store.documents_of(&tenant).await.unwrap());
        }
        let webhooks: Vec<Arc<Service>> = (0..8)
            .map(|_| deliverer(&sdk, &table, sender, &clock))
            .collect();
        for chunk in documents.chunks(8) {
            let requests = chunk.iter().zip(&webhooks).map(|(doc, svc)| {
                let body = renewals_przelewy24::Notification::simulated(
                    &p24,
                    doc,
                    doc.totals.gross.grosze(),
                    PaymentMethod::Blik,
                )
                .to_body();
                let (svc, p24) = (svc.clone(), p24.clone());
                tokio::spawn(async move {
                    renewals_przelewy24::webhook::handle(&svc, &p24, &body).await
                })
            });
            for response in futures::future::join_all(requests).await {
                assert_eq!(response.unwrap().status, 200);
            }
        }
        assert_eq!(
            ses_received(sender, "").await,
            2 * n,
            "each pro-forma and each payment confirmation once"
        );
    }

    #[tokio::test]
    async fn a_run_whose_store_does_not_answer_fails_so_that_lambda_retries_it() {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint())
            .region(aws_config::Region::new("eu-central-1"))
            .test_credentials()
            .load()
            .await;
        // A table that was never created: every request fails.
        let store = renewals_dynamodb::DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            format!("renewals-missing-{}", std::process::id()),
        );
        let (svc, _clock) = service(
            Arc::new(store),
            Arc::new(renewals_ses::SesMailer::new(
                aws_sdk_sesv2::Client::new(&sdk),
                "faktury@missing.example",
            )),
            Arc::new(renewals_przelewy24::OfflineProvider::new(super::p24())),
            settings(),
        );
        let err = scheduled(&svc, Job::Daily, event("daily-billing.json"), None)
            .await
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("ResourceNotFoundException"),
            "{err:#}"
        );
    }

    #[tokio::test]
    async fn a_whole_cycle_through_the_three_handlers_on_dynamodb_and_ses() {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint())
            .region(aws_config::Region::new("eu-central-1"))
            .test_credentials()
            .load()
            .await;
        let table = format!("renewals-cycle-{}", std::process::id());
        let store = renewals_dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
        store.create_table().await.unwrap();
        let ses = aws_sdk_sesv2::Client::new(&sdk);
        let sender = "faktury@cycle.example";
        ses.create_email_identity()
            .email_identity(sender)
            .send()
            .await
            .unwrap();
        let p24 = MockServer::start().await;
        Mock::given(method("PUT"))
            .and(path("/api/v1/transaction/verify"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"data": {"status": "success"}})),
            )
            .expect(1)
            .mount(&p24)
            .await;
        let mut s = settings();
        s.mail.sender = sender.into();
        let mut shop = super::p24();
        shop.base_url = p24.uri();
        let provider = renewals_przelewy24::Przelewy24Client::new(shop);
        let (svc, clock) = service(
            Arc::new(store),
            Arc::new(renewals_ses::SesMailer::new(ses, sender)),
            Arc::new(provider),
            s,
        );
        customers(&svc).await;

        let daily = scheduled(&svc, Job::Daily, event("daily-billing.json"), None)
            .await
            .unwrap();
        assert_eq!((daily.proformas_issued, daily.emails_sent), (2, 2));
        let received: serde_json::Value =
            reqwest::get(format!("{}/moto-api/data.json", endpoint()))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        let raws: Vec<_> = received["ses"]["RawMessage"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["source"] == sender)
            .collect();
        assert_eq!(raws.len(), 2);
        assert!(raws
            .iter()
            .any(|m| m["destinations"][0] == "faktury@alfa.example.pl"
                && m["raw_data"].as_str().unwrap().contains("PF/2026/02/0001")));

        clock.set(warsaw_noon(date("2026-02-23")));
        assert_eq!(
            webhook(&svc, &super::p24(), webhook_request("payment-webhook.json"))
                .await
                .status(),
            200
        );
        scheduled(&svc, Job::Daily, event("daily-billing-date.json"), None)
            .await
            .unwrap();
        let sub = svc
            .account(&TenantId::parse("alfa").unwrap())
            .await
            .unwrap()
            .subscriptions[0]
            .clone();
        assert_eq!(
            (sub.status, sub.period.start),
            (Status::Active, date("2026-02-28"))
        );

        let expiry = scheduled(&svc, Job::Expiry, event("expiry.json"), None)
            .await
            .unwrap();
        assert_eq!(expiry.suspended, 1);
        assert_eq!(status(&svc, "beta-1").await, Status::Suspended);
    }
}

/// Measurement, not a pass/fail check: `cargo test -p renewals-lambda --test functions --
/// --ignored --nocapture store_requests` prints DynamoDB requests per due subscription.
#[tokio::test]
#[ignore]
async fn store_requests_per_due_subscription_in_a_daily_run() {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(std::env::var("AWS_ENDPOINT_URL").expect("run scripts/moto.sh start"))
        .region(aws_config::Region::new("eu-central-1"))
        .test_credentials()
        .load()
        .await;
    let store = Arc::new(renewals_dynamodb::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        format!("renewals-measure-{}", std::process::id()),
    ));
    store.create_table().await.unwrap();
    let ses = aws_sdk_sesv2::Client::new(&sdk);
    ses.create_email_identity()
        .email_identity("faktury@measure.example")
        .send()
        .await
        .unwrap();
    let mut s = settings();
    s.mail.sender = "faktury@measure.example".into();
    let (svc, _clock) = service(
        store.clone(),
        Arc::new(renewals_ses::SesMailer::new(ses, "faktury@measure.example")),
        Arc::new(renewals_przelewy24::OfflineProvider::new(p24())),
        s,
    );
    let n = 200;
    for i in 0..n {
        customer(&svc, &format!("m{i:04}")).await;
    }
    for (label, day) in [
        ("issue day", "2026-02-21"),
        ("quiet day", "2026-02-22"),
        ("reminder day", "2026-02-24"),
    ] {
        let before = store.request_counts();
        let started = std::time::Instant::now();
        let summary = svc.run_job(Job::Daily, date(day), None).await.unwrap();
        let used = store.request_counts().since(&before);
        println!(
            "{label} {day}: {} due tenants, {} changed, {} e-mails; requests {:?}; total {} = {:.2} per due subscription; {:.0} ms",
            summary.tenants_due,
            summary.tenants_changed,
            summary.emails_sent,
            used,
            used.total(),
            used.total() as f64 / summary.tenants_due.max(1) as f64,
            started.elapsed().as_millis()
        );
    }
}

mod secrets_on_the_aws_emulator {
    use renewals_lambda::config::FunctionConfig;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    #[tokio::test]
    async fn przelewy24_keys_come_from_secrets_manager_and_expiry_needs_none() {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(std::env::var("AWS_ENDPOINT_URL").expect("run scripts/moto.sh start"))
            .region(aws_config::Region::new("eu-central-1"))
            .test_credentials()
            .load()
            .await;
        let secret = aws_sdk_secretsmanager::Client::new(&sdk)
            .create_secret()
            .name(format!("renewals-p24-{}", std::process::id()))
            .secret_string(r#"{"crc": "crc-from-secret", "apiKey": "key-from-secret"}"#)
            .send()
            .await
            .unwrap();
        let mut env: HashMap<&str, String> = [
            ("RENEWALS_TABLE", "t"),
            ("RENEWALS_SENDER_EMAIL", "faktury@x.example"),
            ("RENEWALS_OPERATOR_EMAIL", "op@x.example"),
            (
                "RENEWALS_BANK_ACCOUNT",
                "PL61 1090 1014 0000 0712 1981 2874",
            ),
            ("RENEWALS_RESELLER_NAME", "Licencje365"),
            ("RENEWALS_SELLER_NIP", "5260250274"),
            ("RENEWALS_SELLER_ADDRESS", "ul. Prosta 51, 00-838 Warszawa"),
            ("RENEWALS_RETURN_URL", "https://x.example/ok"),
            ("P24_MERCHANT_ID", "100000"),
            ("P24_POS_ID", "100000"),
            ("P24_BASE_URL", "https://sandbox.przelewy24.pl"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
        env.insert("P24_SECRET_ARN", secret.arn().unwrap().to_string());
        let pc_secret = aws_sdk_secretsmanager::Client::new(&sdk)
            .create_secret()
            .name(format!("renewals-pc-{}", std::process::id()))
            .secret_string(r#"{"clientSecret": "pc-from-secret"}"#)
            .send()
            .await
            .unwrap();
        env.insert(
            "PARTNER_CENTER_SECRET_ARN",
            pc_secret.arn().unwrap().to_string(),
        );
        env.insert(
            "PARTNER_CENTER_TOKEN_URL",
            "https://login.example/partner/oauth2/v2.0/token".into(),
        );
        env.insert("PARTNER_CENTER_CLIENT_ID", "app-id".into());
        let cfg = FunctionConfig::load_from(&sdk, true, |k| env.get(k).cloned())
            .await
            .unwrap();
        let pc = cfg.microsoft.clone().expect("Partner Center configured");
        assert_eq!(pc.client_secret.expose_secret(), "pc-from-secret");
        assert!(
            !format!("{pc:?}").contains("pc-from-secret"),
            "never printed"
        );
        let p24 = cfg.p24.expect("the webhook has Przelewy24 settings");
        assert_eq!(
            (p24.crc.expose_secret(), p24.api_key.expose_secret()),
            ("crc-from-secret", "key-from-secret")
        );
        // Expiry never talks to Przelewy24: it starts without the secret or the P24 settings.
        env.remove("P24_SECRET_ARN");
        env.remove("P24_MERCHANT_ID");
        let expiry = FunctionConfig::load_from(&sdk, false, |k| env.get(k).cloned())
            .await
            .unwrap();
        assert_eq!(expiry.table, "t");
        assert!(
            expiry.p24.is_none(),
            "expiry has no Przelewy24 settings at all"
        );
        // The webhook without its secret names what is missing.
        let err = FunctionConfig::load_from(&sdk, true, |k| env.get(k).cloned())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("P24_MERCHANT_ID"), "{err}");
    }
}
