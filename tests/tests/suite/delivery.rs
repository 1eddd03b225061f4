//! Delivering the outbox: each message once, failing ones out of the way, failures seen.

use async_trait::async_trait;
use renewals_app::ports::{warsaw_noon, MailError, Mailer, OutboxMessage, Store};
use renewals_app::service::Service;
use renewals_domain::{Job, Locale, PaymentMethod, Status, Term};
use renewals_email::Renderer;
use renewals_local::sqlite::Durability;
use renewals_local::SqliteStore;
use renewals_przelewy24::OfflineProvider;
use renewals_tests::{d, tenant, TestApp};
use std::sync::{Arc, Mutex};

/// Where messages land: every message handed over, by id; addresses under
/// `bounce.example` are refused, as a provider refuses an address it cannot deliver to.
#[derive(Default)]
struct Landing {
    sent: Mutex<Vec<i64>>,
    refused: Mutex<Vec<i64>>,
}

impl Landing {
    fn sent(&self) -> Vec<i64> {
        self.sent.lock().unwrap().clone()
    }

    fn refused(&self) -> usize {
        self.refused.lock().unwrap().len()
    }
}

#[async_trait]
impl Mailer for Landing {
    async fn send(&self, id: i64, message: &OutboxMessage, _mime: &[u8]) -> Result<(), MailError> {
        if message.to.ends_with(".bounce.example") {
            self.refused.lock().unwrap().push(id);
            return Err(MailError::Rejected(format!(
                "{}: no such mailbox",
                message.to
            )));
        }
        self.sent.lock().unwrap().push(id);
        Ok(())
    }
}

/// A deliverer of its own (its own connection, as another process has) that sends into
/// `landing`.
fn deliverer(app: &TestApp, landing: &Arc<Landing>) -> Service {
    let store =
        SqliteStore::open(&app.dir.path().join("renewals.sqlite3"), Durability::Normal).unwrap();
    let settings = app.svc.settings.clone();
    Service::new(
        Arc::new(store),
        landing.clone(),
        Some(Arc::new(OfflineProvider::new(app.p24.clone()))),
        Arc::new(Renderer::from_settings(&settings)),
        app.clock.clone(),
        settings,
    )
}

/// `n` customers renewing monthly on 28 February (pro-formas on 21 February); those whose
/// address is at `bounce.example` can never be reached.
async fn customers(app: &TestApp, prefix: &str, n: usize, domain: &str) {
    for i in 0..n {
        let id = format!("{prefix}{i:03}");
        let mut t = tenant(&id, Locale::Pl, PaymentMethod::Blik);
        t.email = renewals_domain::EmailAddress::parse(&format!("faktury@{id}.{domain}")).unwrap();
        app.customer_with(t, "business-basic", 3, Term::Monthly, "2026-01-31")
            .await;
    }
}

fn distinct(mut ids: Vec<i64>) -> usize {
    ids.sort();
    ids.dedup();
    ids.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_daily_runs_at_once_send_each_message_once() {
    let app = TestApp::new();
    customers(&app, "t", 60, "example.pl").await;
    let landing = Arc::new(Landing::default());
    let date = d("2026-02-21");
    app.clock.set(warsaw_noon(date));
    let (a, b) = (deliverer(&app, &landing), deliverer(&app, &landing));
    let (ra, rb) = tokio::join!(
        tokio::spawn(async move { a.run_job(Job::Daily, date, None).await.unwrap() }),
        tokio::spawn(async move { b.run_job(Job::Daily, date, None).await.unwrap() }),
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.proformas_issued + rb.proformas_issued, 60);
    let sent = landing.sent();
    assert_eq!(
        (sent.len(), distinct(sent.clone())),
        (60, 60),
        "60 pro-formas, each sent once"
    );
    assert_eq!(ra.emails_sent + rb.emails_sent, 60);
}

#[tokio::test]
async fn failing_messages_do_not_hold_up_the_ones_behind_them() {
    let app = TestApp::new();
    // The undeliverable ones come first in the outbox.
    customers(&app, "bad", 200, "bounce.example").await;
    customers(&app, "ok", 100, "example.pl").await;
    let landing = Arc::new(Landing::default());
    let svc = deliverer(&app, &landing);
    app.clock.set(warsaw_noon(d("2026-02-21")));
    let first = svc
        .run_job(Job::Daily, d("2026-02-21"), None)
        .await
        .unwrap();
    assert_eq!(landing.sent().len(), 100, "every healthy message went out");
    assert_eq!(
        (first.emails_sent, first.emails_failed, first.emails_parked),
        (100, 200, 0)
    );

    // Tried again with growing pauses (15 min, 1 h, 4 h, 16 h), parked after the fifth.
    let mut parked = 0;
    let mut at = warsaw_noon(d("2026-02-21"));
    for pause_minutes in [15, 60, 240, 960] {
        at += chrono::Duration::minutes(pause_minutes) - chrono::Duration::minutes(1);
        app.clock.set(at);
        assert_eq!(svc.deliver().await.unwrap().failed, 0, "not due yet");
        at += chrono::Duration::minutes(1);
        app.clock.set(at);
        let retry = svc.deliver().await.unwrap();
        assert_eq!(retry.failed, 200);
        parked += retry.parked;
    }
    assert_eq!(parked, 200, "parked after the last attempt");
    assert_eq!(landing.refused(), 200 * 5);
    // The operator hears of each one, filed with the customer, and those alerts went out.
    let alerts: Vec<OutboxMessage> = app
        .emails("bad007")
        .await
        .into_iter()
        .filter(|m| m.kind == "operator-alert")
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].to, app.svc.settings.mail.operator);
    assert!(
        alerts[0].subject.contains("nie dotarła") && alerts[0].subject.contains("bad007"),
        "{}",
        alerts[0].subject
    );
    assert_eq!(
        landing.sent().len(),
        100 + 200,
        "the 200 alerts were delivered"
    );
    assert!(app.store.unsent(500).await.unwrap().is_empty());
    app.clock.set(at + chrono::Duration::days(30));
    assert_eq!(
        svc.deliver().await.unwrap().failed,
        0,
        "parked ones stay parked"
    );
}

#[tokio::test]
async fn a_customer_never_reached_is_not_suspended() {
    let app = TestApp::new();
    customers(&app, "ghost", 1, "bounce.example").await;
    customers(&app, "quiet", 1, "example.pl").await;
    let landing = Arc::new(Landing::default());
    let svc = deliverer(&app, &landing);
    // Neither pays. The 28 February period end, grace of 5 days: suspension on 5 March.
    let mut date = d("2026-02-21");
    let mut held = 0;
    let mut failed_runs = 0;
    while date <= d("2026-03-06") {
        app.clock.set(warsaw_noon(date));
        let daily = svc.run_job(Job::Daily, date, None).await.unwrap();
        let expiry = svc.run_job(Job::Expiry, date, None).await.unwrap();
        failed_runs += usize::from(daily.emails_failed + expiry.emails_failed > 0);
        held += expiry.suspensions_held;
        date = renewals_domain::calendar::add_days(date, 1);
    }
    let status = |id: &str| {
        let app = &app;
        let id = renewals_domain::SubscriptionId::parse(id).unwrap();
        async move { app.sub(&id).await.status }
    };
    assert_eq!(status("quiet000-1").await, Status::Suspended);
    assert_eq!(
        status("ghost000-1").await,
        Status::Overdue,
        "never reached: the suspension waits"
    );
    assert_eq!(held, 2, "held on 5 and 6 March, each run reports it");
    let held_alerts: Vec<String> = app
        .emails("ghost000")
        .await
        .into_iter()
        .filter(|m| m.kind == "operator-alert" && m.subject.contains("Blokada usług wstrzymana"))
        .map(|m| m.subject)
        .collect();
    assert_eq!(
        held_alerts.len(),
        1,
        "the operator is told once: {held_alerts:?}"
    );
    assert!(
        held_alerts[0].contains("PF/2026/02/0001"),
        "{held_alerts:?}"
    );
    assert!(failed_runs > 0, "the runs whose e-mails failed said so");
}
