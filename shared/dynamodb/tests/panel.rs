//! The panel's items, the same on both stores: operators unique by address, a sign-in link
//! used once and only before it expires (a decoy never), sessions that run out, rate-limit
//! counters per window, the tenant found by its billing address (on DynamoDB by key, never
//! a Scan), one decision per held payment, and parked e-mails, Microsoft commands and KSeF
//! submissions put back in line once however often the operator presses the button, each
//! with its audit entry. DynamoDB needs the emulator (`AWS_ENDPOINT_URL`), like `contract.rs`.

use async_trait::async_trait;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use chrono::{DateTime, Duration, Utc};
use renewals_app::audit::{Actor, AuditEntry};
use renewals_app::panel::{Operator, PanelStore, Principal, ReviewDecision, Session};
use renewals_app::ports::{
    Change, Clock, InvoiceToSend, Ksef, KsefError, KsefStatus, KsefVerdict, OutboxMessage, Retry,
    ReviewItem, SentInvoice, Store,
};
use renewals_domain::{
    Account, EmailAddress, Job, Locale, MicrosoftAction, MicrosoftCommand, Nip, PaymentMethod,
    Tenant, TenantId, Term,
};
use renewals_dynamodb::DynamoStore;
use renewals_local::panel::SqlitePanelStore;
use renewals_local::sqlite::Durability;
use renewals_local::SqliteStore;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::sync::Mutex;

/// The DynamoDB operations a store sent (`X-Amz-Target` without the API version).
#[derive(Clone, Debug, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl Intercept for Seen {
    fn name(&self) -> &'static str {
        "seen"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if let Some(target) = context.request().headers().get("x-amz-target") {
            let op = target.rsplit('.').next().unwrap_or(target);
            self.0.lock().unwrap().push(op.to_string());
        }
        Ok(())
    }
}

impl Seen {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

async fn dynamodb_seen(test: &str) -> (Arc<dyn Store>, Arc<dyn PanelStore>, Seen) {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        !endpoint.is_empty(),
        "AWS_ENDPOINT_URL is not set: run scripts/test"
    );
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("eu-central-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .load()
        .await;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let table = format!(
        "panel-{}-{}-{nanos}",
        test.replace('_', "-"),
        std::process::id()
    );
    let seen = Seen::default();
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(seen.clone())
        .build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(conf), table);
    store.create_table().await.unwrap();
    let store = Arc::new(store);
    seen.take();
    (store.clone(), store, seen)
}

async fn dynamodb(test: &str) -> (Arc<dyn Store>, Arc<dyn PanelStore>) {
    let (store, panel, _) = dynamodb_seen(test).await;
    (store, panel)
}

fn note(action: &str) -> AuditEntry {
    AuditEntry::note(
        at("2026-01-10T10:00:00Z"),
        &Actor::Operator("Anna Nowak".into()),
        &TenantId::parse("acme").unwrap(),
        action,
        None,
        format!("{action} by Anna Nowak"),
    )
}

async fn actions(store: &Arc<dyn Store>, tenant: &str) -> Vec<String> {
    store
        .audit_of(&TenantId::parse(tenant).unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

fn sqlite(dir: &tempfile::TempDir) -> (Arc<dyn Store>, Arc<dyn PanelStore>) {
    let path = dir.path().join("renewals.sqlite3");
    let store = SqliteStore::open(&path, Durability::Normal).unwrap();
    (
        Arc::new(store),
        Arc::new(SqlitePanelStore::open(&path).unwrap()),
    )
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn story(store: Arc<dyn Store>, panel: Arc<dyn PanelStore>) {
    let op = Operator {
        email: "ops@reseller.pl".into(),
        name: "Anna Nowak".into(),
    };
    assert!(panel
        .add_operator(&op, &note("operator_added"))
        .await
        .unwrap());
    assert!(!panel
        .add_operator(
            &Operator {
                name: "Other".into(),
                ..op.clone()
            },
            &note("operator_added"),
        )
        .await
        .unwrap());
    assert_eq!(
        panel
            .operator("ops@reseller.pl")
            .await
            .unwrap()
            .unwrap()
            .name,
        "Anna Nowak"
    );
    assert!(panel
        .operator("nobody@reseller.pl")
        .await
        .unwrap()
        .is_none());

    let tenant = Tenant {
        id: TenantId::parse("acme").unwrap(),
        name: "Acme".into(),
        nip: Nip::parse("5260001246").unwrap(),
        address: "ul. Prosta 1, 00-001 Warszawa".into(),
        address2: None,
        country: "PL".into(),
        email: EmailAddress::parse("faktury@acme.example.pl").unwrap(),
        locale: Locale::Pl,
        payment_method: PaymentMethod::Blik,
    };
    store
        .commit(Change {
            account: Some(Account::new(tenant)),
            ..Change::default()
        })
        .await
        .unwrap();
    assert_eq!(
        panel
            .tenant_by_email("Faktury@ACME.example.pl")
            .await
            .unwrap()
            .unwrap()
            .as_str(),
        "acme"
    );
    assert!(panel
        .tenant_by_email("x@acme.example.pl")
        .await
        .unwrap()
        .is_none());
    assert_eq!(panel.tenants().await.unwrap().len(), 1);

    let now = at("2026-01-10T10:00:00Z");
    let who = Principal::Customer(TenantId::parse("acme").unwrap());
    panel
        .put_login_token("h1", Some(&who), now + Duration::minutes(15))
        .await
        .unwrap();
    panel
        .put_login_token("h2", Some(&who), now + Duration::minutes(15))
        .await
        .unwrap();
    // The decoy written for an unknown address signs nobody in.
    panel
        .put_login_token("h3", None, now + Duration::minutes(15))
        .await
        .unwrap();
    assert_eq!(panel.take_login_token("h3", now).await.unwrap(), None);
    assert_eq!(
        panel.take_login_token("h1", now).await.unwrap(),
        Some(who.clone())
    );
    assert_eq!(
        panel.take_login_token("h1", now).await.unwrap(),
        None,
        "used once"
    );
    assert_eq!(panel.take_login_token("nope", now).await.unwrap(), None);
    let late = now + Duration::minutes(15);
    assert_eq!(
        panel.take_login_token("h2", late).await.unwrap(),
        None,
        "expired"
    );

    let session = Session {
        who,
        csrf: "c".into(),
        expires: now + Duration::hours(8),
    };
    panel.put_session("s1", &session).await.unwrap();
    assert_eq!(
        panel.session("s1", now).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(
        panel.session("s1", now + Duration::hours(8)).await.unwrap(),
        None
    );
    panel.delete_session("s1").await.unwrap();
    assert_eq!(panel.session("s1", now).await.unwrap(), None);

    assert_eq!(panel.hit("ip:1", now).await.unwrap(), 1);
    assert_eq!(panel.hit("ip:1", now).await.unwrap(), 2);
    assert_eq!(panel.hit("ip:2", now).await.unwrap(), 1);
    assert_eq!(
        panel
            .hit("ip:1", now + Duration::minutes(15))
            .await
            .unwrap(),
        1
    );

    let d = ReviewDecision {
        decision: "refund".into(),
        document: None,
        representative: "Anna Nowak".into(),
        at: now,
    };
    let refund = note("held_payment_refund");
    let held = ReviewItem {
        key: "p24:1".into(),
        source: "przelewy24".into(),
        amount: renewals_domain::Money::from_grosze(9_000),
        received_on: now.date_naive(),
        reason: "kwota nie zgadza się z dokumentem".into(),
    };
    store
        .commit(Change {
            review: Some(held.clone()),
            ..Change::default()
        })
        .await
        .unwrap();
    assert_eq!(panel.reviews().await.unwrap(), [(held.clone(), None)]);
    assert!(panel.decide_review("p24:1", &d, &refund).await.unwrap());
    assert_eq!(
        panel.reviews().await.unwrap(),
        [(held, Some(d.clone()))],
        "listed with its decision"
    );
    assert!(
        !panel.decide_review("p24:1", &d, &refund).await.unwrap(),
        "decided once"
    );
    assert!(panel.parked_messages().await.unwrap().is_empty());
    // Each change with its one entry: the refused second tries wrote none.
    assert_eq!(
        actions(&store, "acme").await,
        ["operator_added", "held_payment_refund"]
    );
}

#[tokio::test]
async fn the_panel_items_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (store, panel) = sqlite(&dir);
    story(store, panel).await;
}

#[tokio::test]
async fn the_panel_items_on_dynamodb() {
    let (store, panel) = dynamodb("story").await;
    story(store, panel).await;
}

async fn an_address_changed_away_signs_nobody_in(
    store: Arc<dyn Store>,
    panel: Arc<dyn PanelStore>,
) {
    let acme = TenantId::parse("acme").unwrap();
    let loaded = store.load_account(&acme).await.unwrap().unwrap();
    let mut account = loaded.account.clone();
    account.tenant.email = EmailAddress::parse("ksiegowosc@acme.example.pl").unwrap();
    let mut changed = note("tenant_updated");
    changed.filed_under = None;
    store
        .commit(Change {
            account: Some(account),
            version: loaded.version,
            audit: vec![changed],
            ..Change::default()
        })
        .await
        .unwrap();
    assert_eq!(
        panel
            .tenant_by_email("ksiegowosc@acme.example.pl")
            .await
            .unwrap(),
        Some(acme)
    );
    assert_eq!(
        panel
            .tenant_by_email("faktury@acme.example.pl")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn an_address_change_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (store, panel) = sqlite(&dir);
    story(store.clone(), panel.clone()).await;
    an_address_changed_away_signs_nobody_in(store, panel).await;
}

#[tokio::test]
async fn sign_in_and_the_tenant_list_read_keys_and_never_scan_on_dynamodb() {
    let (store, panel, seen) = dynamodb_seen("keys").await;
    story(store.clone(), panel.clone()).await;
    seen.take();
    assert!(panel
        .tenant_by_email("faktury@acme.example.pl")
        .await
        .unwrap()
        .is_some());
    assert!(panel
        .tenant_by_email("nikt@acme.example.pl")
        .await
        .unwrap()
        .is_none());
    assert_eq!(panel.tenants().await.unwrap().len(), 1);
    // Two reads per address, known or not (the address item, then the account to check it
    // against, or an item that never exists); one query of the tenant list.
    assert_eq!(
        seen.take(),
        ["GetItem", "GetItem", "GetItem", "GetItem", "Query"]
    );
    an_address_changed_away_signs_nobody_in(store, panel).await;
}

/// Rejects every invoice while `reject` is set, accepts it otherwise.
#[derive(Default)]
struct SwitchKsef {
    reject: AtomicBool,
}

#[async_trait]
impl Ksef for SwitchKsef {
    async fn send(&self, invoice: &InvoiceToSend) -> Result<SentInvoice, KsefError> {
        Ok(SentInvoice {
            session: "SO-1".into(),
            invoice: invoice.number.clone(),
        })
    }

    async fn verdict(&self, sent: &SentInvoice) -> Result<KsefVerdict, KsefError> {
        Ok(if self.reject.load(Ordering::SeqCst) {
            KsefVerdict::Rejected {
                code: 450,
                reason: "Błąd weryfikacji semantyki dokumentu faktury".into(),
            }
        } else {
            KsefVerdict::Accepted {
                ksef_number: format!("5260001246-20260125-{:0>12}-00", sent.invoice.len()),
                upo: None,
                duplicate: false,
            }
        })
    }

    async fn finish(&self) -> Result<(), KsefError> {
        Ok(())
    }
}

fn d(s: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn by(tenant: &TenantId, action: &str) -> AuditEntry {
    let mut n = note(action);
    n.filed_under = Some(tenant.clone());
    n
}

/// Parked items of the three outboxes go back in line once, attempts reset, each with one
/// audit entry; a payment held for review is logged with the customer it names.
async fn parked_items_go_back_once(
    store: Arc<dyn Store>,
    panel: Arc<dyn PanelStore>,
    dir: &std::path::Path,
) {
    use renewals_app::config::{Defaults, Settings};
    use renewals_app::ports::{warsaw_noon, ManualClock};
    use renewals_przelewy24::{Notification, OfflineProvider, P24Settings};
    let settings = Settings::from_lookup(Defaults::Local, |_| None).unwrap();
    let p24 = P24Settings::from_lookup(Defaults::Local, |_| None).unwrap();
    let clock = Arc::new(ManualClock::new(warsaw_noon(d("2026-01-01"))));
    let ksef = Arc::new(SwitchKsef::default());
    ksef.reject.store(true, Ordering::SeqCst);
    let mut svc = renewals_app::service::Service::new(
        store.clone(),
        Arc::new(renewals_local::OutboxMailer::new(dir.join("outbox")).unwrap()),
        Some(Arc::new(OfflineProvider::new(p24.clone()))),
        Arc::new(renewals_email::Renderer::from_settings(&settings)),
        clock.clone(),
        settings,
    );
    svc.ksef = Some(ksef.clone());
    let acme = TenantId::parse("acme").unwrap();
    svc.add_tenant(Tenant {
        id: acme.clone(),
        name: "Acme sp. z o.o.".into(),
        nip: Nip::parse("5260001246").unwrap(),
        address: "ul. Prosta 1".into(),
        address2: Some("00-001 Warszawa".into()),
        country: "PL".into(),
        email: EmailAddress::parse("faktury@acme.example.pl").unwrap(),
        locale: Locale::Pl,
        payment_method: PaymentMethod::Blik,
    })
    .await
    .unwrap();
    let sub = svc
        .add_subscription(
            &acme,
            "business-standard",
            10,
            Term::Monthly,
            d("2026-01-01"),
        )
        .await
        .unwrap();
    clock.set(warsaw_noon(d("2026-01-25")));
    svc.run_job(Job::Daily, d("2026-01-25"), None)
        .await
        .unwrap();
    let doc = store.documents_of(&acme).await.unwrap().remove(0);
    let webhook = |amount: i64, order: i64| {
        let n = Notification::signed(&p24, doc.payment.session_id.as_str(), amount, order, 154);
        serde_json::to_vec(&n).unwrap()
    };
    // A wrong amount: held for review, and the customer's log says so.
    let held = renewals_przelewy24::webhook::handle(&svc, &p24, &webhook(100, 9_000)).await;
    assert_eq!(held.status, 200);
    assert!(actions(&store, "acme")
        .await
        .contains(&"payment_held".to_string()));
    // Paid in full: the VAT invoice, which KSeF rejects: parked with KSeF's reason.
    let gross = doc.totals.gross.grosze();
    let paid = renewals_przelewy24::webhook::handle(&svc, &p24, &webhook(gross, 9_001)).await;
    assert_eq!(paid.status, 200);
    svc.ksef_sync().await.unwrap();
    let parked = panel.parked_submissions().await.unwrap();
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert_eq!(parked[0].status, "rejected");
    assert!(parked[0].reason.as_deref().unwrap().contains("semantyki"));
    let number = parked[0].number.clone();
    ksef.reject.store(false, Ordering::SeqCst);
    let now = clock.now();
    let retried = by(&acme, "ksef_retried");
    assert!(panel
        .retry_submission(&number, now, &retried)
        .await
        .unwrap());
    assert!(!panel
        .retry_submission(&number, now, &retried)
        .await
        .unwrap());
    assert!(panel.parked_submissions().await.unwrap().is_empty());
    let run = svc.ksef_sync().await.unwrap();
    assert_eq!(run.accepted, 1);
    let invoice = renewals_domain::InvoiceNumber::parse(&number).unwrap();
    let stored = store.invoice(&invoice).await.unwrap().unwrap();
    assert_eq!(stored.submission.status, KsefStatus::Accepted);

    // An e-mail failed twice, then parked.
    let mail = OutboxMessage {
        key: "test:parked".into(),
        tenant: acme.clone(),
        kind: "reminder".into(),
        to: "faktury@acme.example.pl".into(),
        subject: "Przypomnienie".into(),
        document: Some(doc.number.to_string()),
        date: d("2026-01-25"),
        content: renewals_app::ports::Content::Mime(
            b"Subject: Przypomnienie\r\n\r\nTre\xc5\x9b\xc4\x87".to_vec(),
        ),
    };
    store
        .commit(Change {
            emails: vec![mail],
            ..Change::default()
        })
        .await
        .unwrap();
    let lease = now + Duration::minutes(10);
    let mine = |list: Vec<renewals_app::ports::StoredMessage>| {
        list.into_iter()
            .find(|m| m.message.key == "test:parked")
            .expect("the test's e-mail")
    };
    let first = mine(store.claim_due(now, lease, 100).await.unwrap());
    store
        .mark_failed(first.id, Retry::At(now), "421 try later")
        .await
        .unwrap();
    let second = mine(store.claim_due(now, lease, 100).await.unwrap());
    assert_eq!(second.attempts, 2);
    store
        .mark_failed(second.id, Retry::Park, "550 mailbox unavailable")
        .await
        .unwrap();
    let parked = panel.parked_messages().await.unwrap();
    assert_eq!(parked.iter().map(|m| m.id).collect::<Vec<_>>(), [first.id]);
    let retried = by(&acme, "email_retried");
    assert!(panel.retry_message(first.id, &retried).await.unwrap());
    assert!(
        !panel.retry_message(first.id, &retried).await.unwrap(),
        "once"
    );
    assert!(panel.parked_messages().await.unwrap().is_empty());
    let again = mine(store.claim_due(now, lease, 100).await.unwrap());
    assert_eq!(again.attempts, 1, "attempts reset, due at once");

    // A Microsoft command given up on.
    let loaded = store.load_account(&acme).await.unwrap().unwrap();
    let command = MicrosoftCommand {
        key: "auto_renew:acme-1:off".into(),
        subscription: sub.clone(),
        customer: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into(),
        microsoft_subscription: "a4c1340d-6911-4758-bba3-0c4c6007d161".into(),
        action: MicrosoftAction::AutoRenew { enabled: false },
    };
    store
        .commit(Change {
            account: Some(loaded.account),
            version: loaded.version,
            microsoft: vec![command],
            ..Change::default()
        })
        .await
        .unwrap();
    let claimed = store.claim_commands(now, lease, 10).await.unwrap();
    let c = claimed
        .iter()
        .find(|c| c.command.subscription == sub)
        .unwrap();
    store
        .mark_command_failed(c, Retry::Park, "800090")
        .await
        .unwrap();
    assert_eq!(panel.parked_commands().await.unwrap().len(), 1);
    let retried = by(&acme, "microsoft_retried");
    assert!(panel.retry_command(c.id, &retried).await.unwrap());
    assert!(!panel.retry_command(c.id, &retried).await.unwrap(), "once");
    assert!(panel.parked_commands().await.unwrap().is_empty());
    let back = store.claim_commands(now, lease, 10).await.unwrap();
    assert_eq!(back.iter().map(|c| c.attempts).collect::<Vec<_>>(), [1]);

    let log = actions(&store, "acme").await;
    for action in [
        "ksef_retried",
        "email_retried",
        "microsoft_retried",
        "payment_held",
    ] {
        assert_eq!(
            log.iter().filter(|a| *a == action).count(),
            1,
            "{action}: {log:?}"
        );
    }
}

#[tokio::test]
async fn parked_items_go_back_once_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (store, panel) = sqlite(&dir);
    parked_items_go_back_once(store, panel, dir.path()).await;
}

#[tokio::test]
async fn parked_items_go_back_once_on_dynamodb() {
    let dir = tempfile::tempdir().unwrap();
    let (store, panel) = dynamodb("parked").await;
    parked_items_go_back_once(store, panel, dir.path()).await;
}

#[tokio::test]
async fn a_table_from_before_the_lookup_items_gets_them_by_backfill() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL: run scripts/test");
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("eu-central-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .load()
        .await;
    let table = format!("panel-backfill-{}", std::process::id());
    let store = Arc::new(DynamoStore::from_conf(&sdk, table.clone()));
    store.create_table().await.unwrap();
    let (store_dyn, panel): (Arc<dyn Store>, Arc<dyn PanelStore>) = (store.clone(), store.clone());
    story(store_dyn, panel.clone()).await;
    // As a table written before the items existed: without them.
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    for (pk, sk) in [
        ("EMAIL#faktury@acme.example.pl", "TENANT"),
        ("TENANTS", "acme"),
    ] {
        client
            .delete_item()
            .table_name(&table)
            .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
            .key("SK", aws_sdk_dynamodb::types::AttributeValue::S(sk.into()))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(
        panel
            .tenant_by_email("faktury@acme.example.pl")
            .await
            .unwrap(),
        None
    );
    assert!(panel.tenants().await.unwrap().is_empty());
    assert_eq!(store.backfill_panel_keys().await.unwrap(), 1);
    assert_eq!(
        store.backfill_panel_keys().await.unwrap(),
        1,
        "again: the same"
    );
    assert_eq!(
        panel
            .tenant_by_email("faktury@acme.example.pl")
            .await
            .unwrap(),
        Some(TenantId::parse("acme").unwrap())
    );
    assert_eq!(panel.tenants().await.unwrap().len(), 1);
}
