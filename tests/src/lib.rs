//! The test harness: each test gets its own data folder, embedded store, outbox and clock,
//! and drives the same service the CLI and the Lambda functions use.

use chrono::NaiveDate;
use renewals_app::config::{Defaults, Settings};
use renewals_app::ports::{warsaw_noon, ManualClock, OutboxMessage, PaymentProvider, Store};
use renewals_app::service::Service;
use renewals_domain::calendar::add_days;
use renewals_domain::{
    Document, DocumentNumber, EmailAddress, Job, Locale, Nip, PaymentMethod, Subscription,
    SubscriptionId, Tenant, TenantId, Term,
};
use renewals_email::Renderer;
use renewals_local::sqlite::Durability;
use renewals_local::{OutboxMailer, SqliteStore};
use renewals_przelewy24::{Notification, OfflineProvider, P24Settings, WebhookResponse};
use std::sync::Arc;

pub mod ksef;

pub use renewals_app::jobs::RunSummary;

/// Validates `xml` against the official FA(3) schema (`shared/invoices/schema/fa3`) with
/// Python's `xmlschema` from the project's `.venv` (installed by `scripts/xmlschema.sh`,
/// which `scripts/test` runs); panics with the validator's message.
pub fn assert_valid_fa3(xml: &[u8]) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let schema = root.join("shared/invoices/schema/fa3/schemat_FA(3)_v1-0E.xsd");
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/xmlschema.sh (scripts/test does) to install the XSD validator",
        python.display()
    );
    let file = tempfile::Builder::new()
        .suffix(".xml")
        .tempfile()
        .expect("a temporary file");
    std::fs::write(file.path(), xml).expect("write the XML");
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg("import sys, xmlschema; xmlschema.validate(sys.argv[1], sys.argv[2])")
        .arg(file.path())
        .arg(&schema)
        .output()
        .expect("run the XSD validator");
    assert!(
        out.status.success(),
        "the XML is not valid FA(3): {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(xml)
    );
}

/// The text of the one element `name` in `xml` (panics when absent or repeated).
pub fn element<'a>(xml: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    assert_eq!(xml.matches(&open).count(), 1, "one <{name}> in {xml}");
    let start = xml.find(&open).unwrap() + open.len();
    let end = start + xml[start..].find(&close).unwrap();
    &xml[start..end]
}

pub fn d(s: &str) -> NaiveDate {
    renewals_domain::parse_date(s).unwrap()
}

pub fn settings() -> Settings {
    Settings::from_lookup(Defaults::Local, |_| None).unwrap()
}

/// The local Przelewy24 settings (sandbox-like merchant, POS and keys).
pub fn p24() -> P24Settings {
    P24Settings::from_lookup(Defaults::Local, |_| None).unwrap()
}

/// The service over the given store and provider, with the `.eml` outbox in `dir`.
pub fn service(
    store: Arc<dyn Store>,
    dir: &std::path::Path,
    provider: Arc<dyn PaymentProvider>,
    clock: Arc<ManualClock>,
    settings: Settings,
) -> Service {
    Service::new(
        store,
        Arc::new(OutboxMailer::new(dir.join("outbox")).unwrap()),
        Some(provider),
        Arc::new(Renderer::from_settings(&settings)),
        clock,
        settings,
    )
}

/// Przelewy24 posting a notification to a service, checked with the local shop settings.
#[allow(async_fn_in_trait)]
pub trait Webhook {
    async fn handle_przelewy24(&self, raw: &[u8]) -> WebhookResponse;
}

impl Webhook for Service {
    async fn handle_przelewy24(&self, raw: &[u8]) -> WebhookResponse {
        renewals_przelewy24::webhook::handle(self, &p24(), raw).await
    }
}

pub fn tenant(id: &str, locale: Locale, method: PaymentMethod) -> Tenant {
    Tenant {
        id: TenantId::parse(id).unwrap(),
        name: format!("{id} sp. z o.o."),
        nip: Nip::parse("5260001246").unwrap(),
        address: "ul. Prosta 1, 00-001 Warszawa".into(),
        address2: None,
        country: "PL".into(),
        email: EmailAddress::parse(&format!("faktury@{id}.example.pl")).unwrap(),
        locale,
        payment_method: method,
    }
}

pub struct TestApp {
    pub dir: tempfile::TempDir,
    pub store: Arc<SqliteStore>,
    pub clock: Arc<ManualClock>,
    pub svc: Service,
    pub p24: P24Settings,
}

impl TestApp {
    pub fn new() -> TestApp {
        let provider = Arc::new(OfflineProvider::new(p24()));
        TestApp::with(settings(), p24(), provider)
    }

    pub fn with(
        settings: Settings,
        p24: P24Settings,
        provider: Arc<dyn PaymentProvider>,
    ) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SqliteStore::open(&dir.path().join("renewals.sqlite3"), Durability::Normal).unwrap(),
        );
        let clock = Arc::new(ManualClock::new(warsaw_noon(d("2026-01-01"))));
        let svc = service(store.clone(), dir.path(), provider, clock.clone(), settings);
        TestApp {
            dir,
            store,
            clock,
            svc,
            p24,
        }
    }

    /// Another process's view: its own connection to the same database file.
    pub fn second_service(&self) -> Service {
        self.second_service_with(Arc::new(OfflineProvider::new(self.p24.clone())))
    }

    /// Another process's view that talks to `provider` with this app's settings.
    pub fn second_service_with(&self, provider: Arc<dyn PaymentProvider>) -> Service {
        let store = SqliteStore::open(
            &self.dir.path().join("renewals.sqlite3"),
            Durability::Normal,
        )
        .unwrap();
        service(
            Arc::new(store),
            self.dir.path(),
            provider,
            self.clock.clone(),
            self.svc.settings.clone(),
        )
    }

    /// Adds a tenant with one subscription and returns the subscription id.
    pub async fn customer(
        &self,
        id: &str,
        product: &str,
        seats: u32,
        term: Term,
        start: &str,
    ) -> SubscriptionId {
        self.customer_with(
            tenant(id, Locale::Pl, PaymentMethod::Blik),
            product,
            seats,
            term,
            start,
        )
        .await
    }

    pub async fn customer_with(
        &self,
        t: Tenant,
        product: &str,
        seats: u32,
        term: Term,
        start: &str,
    ) -> SubscriptionId {
        let id = t.id.clone();
        self.svc.add_tenant(t).await.unwrap();
        self.svc
            .add_subscription(&id, product, seats, term, d(start))
            .await
            .unwrap()
    }

    /// One business day: the daily run, then the expiry run, as the schedules do.
    pub async fn day(&self, date: &str) -> (RunSummary, RunSummary) {
        let date = d(date);
        self.clock.set(warsaw_noon(date));
        let daily = self.svc.run_job(Job::Daily, date, None).await.unwrap();
        let expiry = self.svc.run_job(Job::Expiry, date, None).await.unwrap();
        (daily, expiry)
    }

    /// Every day from `from` to `to`, both included.
    pub async fn days(&self, from: &str, to: &str) {
        let mut date = d(from);
        while date <= d(to) {
            self.day(&date.to_string()).await;
            date = add_days(date, 1);
        }
    }

    pub async fn sub(&self, id: &SubscriptionId) -> Subscription {
        let tenant = self.svc.tenant_of(id).await.unwrap();
        let account = self.svc.account(&tenant).await.unwrap();
        account.subscription(id).unwrap().clone()
    }

    pub async fn documents(&self, tenant: &str) -> Vec<Document> {
        self.store
            .documents_of(&TenantId::parse(tenant).unwrap())
            .await
            .unwrap()
    }

    pub async fn document(&self, number: &str) -> Document {
        self.store
            .document(&DocumentNumber::parse(number).unwrap())
            .await
            .unwrap()
            .unwrap()
    }

    pub async fn emails(&self, tenant: &str) -> Vec<OutboxMessage> {
        self.store
            .emails_of(&TenantId::parse(tenant).unwrap())
            .await
            .unwrap()
    }

    /// The MIME message a mailer would be handed for `message` (composed from its letter).
    pub fn mime(&self, message: &OutboxMessage) -> Vec<u8> {
        message.mime(self.svc.composer.as_ref()).into_owned()
    }

    pub async fn email_kinds(&self, tenant: &str) -> Vec<String> {
        self.emails(tenant)
            .await
            .into_iter()
            .map(|m| m.kind)
            .collect()
    }

    /// A correctly signed notification for `doc`, as Przelewy24 would post it.
    pub fn notification(&self, doc: &Document, amount: i64, order_id: i64) -> Notification {
        Notification::signed(
            &self.p24,
            doc.payment.session_id.as_str(),
            amount,
            order_id,
            154,
        )
    }

    /// Pays `number` in full on `date` through the webhook handler.
    pub async fn pay(&self, number: &str, date: &str) -> WebhookResponse {
        let doc = self.document(number).await;
        self.clock.set(warsaw_noon(d(date)));
        let n = self.notification(
            &doc,
            doc.totals.gross.grosze(),
            1_000 + doc.number.seq as i64,
        );
        self.webhook(&n.to_body()).await
    }

    /// Przelewy24 posting `raw` to this app's webhook.
    pub async fn webhook(&self, raw: &[u8]) -> WebhookResponse {
        renewals_przelewy24::webhook::handle(&self.svc, &self.p24, raw).await
    }
}

impl TestApp {
    /// The same app sending VAT invoices through `ksef`.
    pub fn with_ksef(mut self, ksef: Arc<dyn renewals_app::ports::Ksef>) -> TestApp {
        self.svc.ksef = Some(ksef);
        self
    }

    /// The instant the app's clock shows.
    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use renewals_app::ports::Clock;
        self.clock.now()
    }

    /// A VAT invoice as stored.
    pub async fn invoice(&self, number: &str) -> renewals_app::ports::StoredInvoice {
        self.store
            .invoice(&renewals_domain::InvoiceNumber::parse(number).unwrap())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no invoice {number}"))
    }

    pub async fn invoices(&self, tenant: &str) -> Vec<renewals_app::ports::StoredInvoice> {
        self.store
            .invoices_of(&TenantId::parse(tenant).unwrap())
            .await
            .unwrap()
    }
}

impl Default for TestApp {
    fn default() -> Self {
        TestApp::new()
    }
}
