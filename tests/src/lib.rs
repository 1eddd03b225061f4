//! The test harness: each test gets its own data folder, embedded store, outbox and clock,
//! and drives the same service the CLI and the Lambda functions use.

use chrono::NaiveDate;
use renewals_app::config::{Defaults, Settings};
use renewals_app::ports::{warsaw_noon, ManualClock, OutboxMessage, PaymentProvider, Store};
use renewals_app::przelewy24::Notification;
use renewals_app::service::Service;
use renewals_app::webhook::WebhookResponse;
use renewals_domain::calendar::add_days;
use renewals_domain::{
    Document, DocumentNumber, EmailAddress, Job, Locale, Nip, PaymentMethod, Subscription,
    SubscriptionId, Tenant, TenantId, Term,
};
use renewals_local::sqlite::Durability;
use renewals_local::{OfflineProvider, OutboxMailer, SqliteStore};
use std::sync::Arc;

pub use renewals_app::jobs::RunSummary;

pub fn d(s: &str) -> NaiveDate {
    renewals_domain::parse_date(s).unwrap()
}

pub fn settings() -> Settings {
    Settings::from_lookup(Defaults::Local, |_| None).unwrap()
}

pub fn tenant(id: &str, locale: Locale, method: PaymentMethod) -> Tenant {
    Tenant {
        id: TenantId::parse(id).unwrap(),
        name: format!("{id} sp. z o.o."),
        nip: Nip::parse("5260001246").unwrap(),
        address: "ul. Prosta 1, 00-001 Warszawa".into(),
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
}

impl TestApp {
    pub fn new() -> TestApp {
        let s = settings();
        let provider = Arc::new(OfflineProvider::new(s.p24.clone()));
        TestApp::with(s, provider)
    }

    pub fn with(settings: Settings, provider: Arc<dyn PaymentProvider>) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SqliteStore::open(&dir.path().join("renewals.sqlite3"), Durability::Normal).unwrap(),
        );
        let clock = Arc::new(ManualClock::new(warsaw_noon(d("2026-01-01"))));
        let svc = Service::new(
            store.clone(),
            Arc::new(OutboxMailer::new(dir.path().join("outbox")).unwrap()),
            provider,
            clock.clone(),
            settings,
        );
        TestApp {
            dir,
            store,
            clock,
            svc,
        }
    }

    /// Another process's view: its own connection to the same database file.
    pub fn second_service(&self) -> Service {
        let s = settings();
        self.second_service_with(Arc::new(OfflineProvider::new(s.p24.clone())))
    }

    /// Another process's view that talks to `provider` with this app's settings.
    pub fn second_service_with(&self, provider: Arc<dyn PaymentProvider>) -> Service {
        let store = SqliteStore::open(
            &self.dir.path().join("renewals.sqlite3"),
            Durability::Normal,
        )
        .unwrap();
        Service::new(
            Arc::new(store),
            Arc::new(OutboxMailer::new(self.dir.path().join("outbox")).unwrap()),
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
            &self.svc.settings.p24,
            &doc.payment.session_id,
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
        self.svc
            .handle_przelewy24(&serde_json::to_vec(&n).unwrap())
            .await
    }
}

impl Default for TestApp {
    fn default() -> Self {
        TestApp::new()
    }
}
