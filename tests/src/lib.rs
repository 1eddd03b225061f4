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

pub use renewals_app::jobs::RunSummary;

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

impl Default for TestApp {
    fn default() -> Self {
        TestApp::new()
    }
}
