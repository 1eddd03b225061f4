//! One contract for every `Store`: each case is a generic async function over the port, run
//! against the embedded SQLite store and against DynamoDB (moto's server over HTTP with the
//! real SDK). Each test gets its own database file or table, so tests run in parallel.
//!
//! The DynamoDB half needs `AWS_ENDPOINT_URL`: `eval "$(scripts/moto.sh start)"`.

use async_trait::async_trait;
use chrono::NaiveDate;
use renewals_app::audit::{Actor, AuditEntry};
use renewals_app::config::{Defaults, Settings};
use renewals_app::ports::{
    warsaw_noon, Change, Content, Loaded, MailError, Mailer, ManualClock, OutboxMessage,
    PaymentRecord, Retry, ReviewItem, Store, StoreError, StoredMessage,
};
use renewals_app::service::Service;
use renewals_domain::calendar::add_days;
use renewals_domain::{
    Account, Document, DocumentKind, DocumentNumber, DocumentStatus, EmailAddress, Job, Line,
    LinePurpose, Locale, Money, Nip, PaymentMethod, PaymentOutcome, Period, SeriesKey,
    SubscriptionId, Tenant, TenantId, Term,
};
use renewals_dynamodb::DynamoStore;
use renewals_local::sqlite::Durability;
use renewals_local::SqliteStore;
use renewals_przelewy24::{Notification, OfflineProvider, P24Settings};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

// ---------------------------------------------------------------------------------------
// Backends

/// A store for one test, and what must live as long as it does.
struct Backend {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
}

fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let store =
        SqliteStore::open(&dir.path().join("renewals.sqlite3"), Durability::Normal).unwrap();
    Backend {
        store: Arc::new(store),
        _dir: Some(dir),
    }
}

async fn dynamodb(test: &str) -> Backend {
    let store = dynamo_store(test, renewals_dynamodb::keys::DEFAULT_SHARDS).await;
    Backend {
        store: Arc::new(store),
        _dir: None,
    }
}

/// A fresh table on the emulator named by `AWS_ENDPOINT_URL`. Not set is a failure, not a
/// skip: a green run must mean the DynamoDB store was tested.
async fn dynamo_store(test: &str, shards: u32) -> DynamoStore {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let table = format!(
        "contract-{}-{}-{nanos}",
        test.replace('_', "-"),
        std::process::id()
    );
    let store = DynamoStore::from_conf(&emulator().await, table).with_shards(shards);
    store.create_table().await.unwrap();
    store
}

/// Another store on the table of `store`, as another process would have: nothing remembered.
async fn another_store(store: &DynamoStore) -> DynamoStore {
    DynamoStore::from_conf(&emulator().await, store.table()).with_shards(store.shards())
}

async fn emulator() -> aws_config::SdkConfig {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        !endpoint.is_empty(),
        "AWS_ENDPOINT_URL is not set: the DynamoDB contract tests need moto's server. \
         Run `eval \"$(scripts/moto.sh start)\"` from the workspace root, then the tests, \
         then `scripts/moto.sh stop`."
    );
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("eu-central-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .load()
        .await
}

/// Each case runs twice: `sqlite::case` and `dynamodb::case`.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let backend = super::sqlite();
                    super::$case(backend.store.clone()).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let backend = super::dynamodb(stringify!($case)).await;
                    super::$case(backend.store.clone()).await;
                }
            )*
        }
    };
}

contract!(
    a_payment_stores_its_vat_invoice_with_the_xml_byte_for_byte_and_ksef_gets_those_bytes,
    an_invoice_sent_the_day_after_is_stored_dated_that_day_and_then_never_changes,
    concurrent_payments_number_their_invoices_one_to_n,
    creating_an_account_twice_conflicts,
    a_stale_version_conflicts_and_writes_nothing,
    every_idempotency_key_refuses_a_second_write,
    eight_concurrent_issuers_number_one_to_eight_without_gaps,
    racing_daily_runs_issue_one_proforma_and_one_email,
    duplicate_webhook_notifications_record_one_payment,
    due_tenants_returns_exactly_the_due_ones_page_by_page,
    unsent_messages_leave_the_outbox_when_marked_sent,
    a_claimed_message_goes_to_one_deliverer_until_its_lease_ends,
    what_is_written_reads_back_the_same,
    a_status_change_of_an_unknown_document_is_not_found,
    the_audit_log_says_who_did_what_once,
    a_conflicting_commit_writes_no_audit_entries,
);

// ---------------------------------------------------------------------------------------
// Fixtures

fn d(s: &str) -> NaiveDate {
    renewals_domain::parse_date(s).unwrap()
}

fn id(s: &str) -> TenantId {
    TenantId::parse(s).unwrap()
}

fn tenant(id: &str) -> Tenant {
    Tenant {
        id: TenantId::parse(id).unwrap(),
        name: format!("{id} sp. z o.o."),
        nip: Nip::parse("5260001246").unwrap(),
        address: "ul. Prosta 1, 00-001 Warszawa".into(),
        address2: None,
        country: "PL".into(),
        email: EmailAddress::parse(&format!("faktury@{id}.example.pl")).unwrap(),
        locale: Locale::Pl,
        payment_method: PaymentMethod::Blik,
    }
}

fn settings() -> Settings {
    Settings::from_lookup(Defaults::Local, |_| None).unwrap()
}

/// A pro-forma as the domain would issue it, with one line.
fn document(tenant: &str, number: &str) -> Document {
    let number = DocumentNumber::parse(number).unwrap();
    let period = Period {
        start: d("2026-03-10"),
        end: d("2026-04-10"),
    };
    let line = Line {
        subscription: SubscriptionId::parse(&format!("{tenant}-1")).unwrap(),
        product: "business-basic".into(),
        product_name: "Microsoft 365 Business Basic".into(),
        seats: 5,
        unit_price: Money::parse("25.00").unwrap(),
        period,
        net: Money::parse("125.00").unwrap(),
        purpose: LinePurpose::Renewal,
    };
    Document::new(
        number,
        id(tenant),
        d("2026-03-03"),
        d("2026-03-09"),
        period,
        vec![line],
    )
}

/// A message with bytes that are not UTF-8, as MIME may hold.
fn email(tenant: &str, key: &str) -> OutboxMessage {
    let mut mime =
        format!("Subject: =?UTF-8?Q?Faktura?=\r\n\r\nZa\u{142}\u{105}cznik {key}\r\n").into_bytes();
    mime.extend([0xff, 0x00, 0xfe]);
    OutboxMessage {
        key: key.to_string(),
        tenant: id(tenant),
        kind: "proforma".into(),
        to: format!("faktury@{tenant}.example.pl"),
        subject: format!("Pro forma {key} — płatność"),
        document: Some("PF/2026/03/0001".into()),
        date: d("2026-03-03"),
        content: Content::Mime(mime),
    }
}

fn payment(order_id: i64) -> PaymentRecord {
    PaymentRecord {
        key: format!("p24:{order_id}"),
        order_id: Some(order_id),
        session_id: Some("PF-2026-03-0001-1".into()),
        reference: None,
        representative: None,
        document: Some(DocumentNumber::parse("PF/2026/03/0001").unwrap()),
        tenant: Some(id("acme")),
        amount: Money::parse("153.75").unwrap(),
        received_on: d("2026-03-05"),
        method: "154".into(),
        outcome: PaymentOutcome::Activated { late: false },
    }
}

fn review(order_id: i64) -> ReviewItem {
    ReviewItem {
        key: format!("p24:{order_id}"),
        source: "Przelewy24, session unknown-session".into(),
        amount: Money::parse("10.00").unwrap(),
        received_on: d("2026-03-05"),
        reason: "no document has this session id".into(),
    }
}

fn series(number: &str) -> SeriesKey {
    DocumentNumber::parse(number).unwrap().series_key()
}

async fn create(store: &dyn Store, tenant_id: &str, next: Option<NaiveDate>) -> Loaded {
    store
        .commit(Change {
            account: Some(Account::new(tenant(tenant_id))),
            next_action: next,
            ..Change::default()
        })
        .await
        .unwrap();
    store.load_account(&id(tenant_id)).await.unwrap().unwrap()
}

fn assert_conflict(result: Result<(), StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Conflict(_))),
        "expected a conflict, got {result:?}"
    );
}

/// A mailer that only counts.
#[derive(Default)]
struct CountingMailer(AtomicUsize);

#[async_trait]
impl Mailer for CountingMailer {
    async fn send(
        &self,
        _id: i64,
        _message: &OutboxMessage,
        _mime: &[u8],
    ) -> Result<(), MailError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

struct App {
    svc: Arc<Service>,
    p24: P24Settings,
    clock: Arc<ManualClock>,
    mailer: Arc<CountingMailer>,
}

fn app(store: Arc<dyn Store>) -> App {
    app_with(store, None)
}

/// The app sending VAT invoices through `ksef`.
fn app_with(store: Arc<dyn Store>, ksef: Option<Arc<dyn renewals_app::ports::Ksef>>) -> App {
    let s = settings();
    let clock = Arc::new(ManualClock::new(warsaw_noon(d("2026-01-01"))));
    let mailer = Arc::new(CountingMailer::default());
    let p24 = P24Settings::from_lookup(Defaults::Local, |_| None).unwrap();
    let provider = Arc::new(OfflineProvider::new(p24.clone()));
    let composer = Arc::new(renewals_email::Renderer::from_settings(&s));
    let mut svc = Service::new(
        store,
        mailer.clone(),
        Some(provider),
        composer,
        clock.clone(),
        s,
    );
    svc.ksef = ksef;
    App {
        svc: Arc::new(svc),
        p24,
        clock,
        mailer,
    }
}

/// A tenant with one monthly subscription; returns the date its renewal pro-forma is due.
async fn customer(app: &App, tenant_id: &str) -> NaiveDate {
    app.svc.add_tenant(tenant(tenant_id)).await.unwrap();
    let sub = app
        .svc
        .add_subscription(
            &id(tenant_id),
            "business-basic",
            5,
            Term::Monthly,
            d("2026-01-10"),
        )
        .await
        .unwrap();
    let account = app.svc.account(&id(tenant_id)).await.unwrap();
    app.svc
        .settings
        .policy
        .issue_date(account.subscription(&sub).unwrap())
}

// ---------------------------------------------------------------------------------------
// The contract

async fn creating_an_account_twice_conflicts(store: Arc<dyn Store>) {
    let first = create(&*store, "acme", None).await;
    assert_eq!(first.version, 1);
    let again = store
        .commit(Change {
            account: Some(Account::new(tenant("acme"))),
            ..Change::default()
        })
        .await;
    assert_conflict(again);
    assert_eq!(
        store
            .load_account(&id("acme"))
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
    assert!(store.load_account(&id("nobody")).await.unwrap().is_none());
}

async fn a_stale_version_conflicts_and_writes_nothing(store: Arc<dyn Store>) {
    let loaded = create(&*store, "acme", None).await;
    let mut fresh = loaded.account.clone();
    fresh.tenant.name = "Acme S.A.".into();
    store
        .commit(Change {
            account: Some(fresh),
            version: loaded.version,
            ..Change::default()
        })
        .await
        .unwrap();

    let mut stale = loaded.account;
    stale.tenant.name = "lost update".into();
    let doc = document("acme", "PF/2026/03/0001");
    let result = store
        .commit(Change {
            account: Some(stale),
            version: loaded.version,
            next_action: Some(d("2026-03-01")),
            new_documents: vec![doc.clone()],
            counters: vec![(series("PF/2026/03/0001"), 0, 1)],
            emails: vec![email("acme", "proforma:PF/2026/03/0001")],
            payment: Some(payment(1)),
            review: Some(review(2)),
            ..Change::default()
        })
        .await;
    assert_conflict(result);

    let account = store.load_account(&id("acme")).await.unwrap().unwrap();
    assert_eq!(
        (account.version, account.account.tenant.name.as_str()),
        (2, "Acme S.A.")
    );
    assert_eq!(store.document(&doc.number).await.unwrap(), None);
    assert_eq!(
        store
            .document_by_session(&doc.payment.session_id)
            .await
            .unwrap(),
        None
    );
    assert!(store.documents_of(&id("acme")).await.unwrap().is_empty());
    assert!(store.emails_of(&id("acme")).await.unwrap().is_empty());
    assert!(store.unsent(10).await.unwrap().is_empty());
    assert_eq!(
        store.last_number(series("PF/2026/03/0001")).await.unwrap(),
        0
    );
    assert_eq!(store.payment("p24:1").await.unwrap(), None);
    assert_eq!(store.review_item("p24:2").await.unwrap(), None);
    assert!(store
        .due_tenants(d("2026-12-31"), None, 10)
        .await
        .unwrap()
        .is_empty());
}

async fn every_idempotency_key_refuses_a_second_write(store: Arc<dyn Store>) {
    create(&*store, "acme", None).await;
    let first = document("acme", "PF/2026/03/0001");
    store
        .commit(Change {
            new_documents: vec![first.clone()],
            counters: vec![(series("PF/2026/03/0001"), 0, 1)],
            emails: vec![email("acme", "proforma:1")],
            payment: Some(payment(10)),
            review: Some(review(20)),
            ..Change::default()
        })
        .await
        .unwrap();
    // Each refused change also carries an e-mail that must not appear.
    let witness = |n: u32| email("acme", &format!("witness:{n}"));

    // The counter moved since it was read as 0.
    let mut second = document("acme", "PF/2026/03/0002");
    second.payment.session_id = "fresh-session".into();
    assert_conflict(
        store
            .commit(Change {
                new_documents: vec![second.clone()],
                counters: vec![(series("PF/2026/03/0001"), 0, 1)],
                emails: vec![witness(1)],
                ..Change::default()
            })
            .await,
    );
    // The same number again, with a fresh session id.
    let mut same_number = document("acme", "PF/2026/03/0001");
    same_number.payment.session_id = "another-session".into();
    assert_conflict(
        store
            .commit(Change {
                new_documents: vec![same_number],
                emails: vec![witness(2)],
                ..Change::default()
            })
            .await,
    );
    // A new number whose session id is taken.
    let mut same_session = document("acme", "PF/2026/03/0003");
    same_session.payment.session_id = first.payment.session_id.clone();
    assert_conflict(
        store
            .commit(Change {
                new_documents: vec![same_session],
                emails: vec![witness(3)],
                ..Change::default()
            })
            .await,
    );
    // The same e-mail key.
    assert_conflict(
        store
            .commit(Change {
                emails: vec![witness(4), email("acme", "proforma:1")],
                ..Change::default()
            })
            .await,
    );
    // The same e-mail key twice in one change.
    assert_conflict(
        store
            .commit(Change {
                emails: vec![witness(5), witness(5)],
                ..Change::default()
            })
            .await,
    );
    // The same payment order id, the same review order id.
    assert_conflict(
        store
            .commit(Change {
                payment: Some(payment(10)),
                emails: vec![witness(6)],
                ..Change::default()
            })
            .await,
    );
    assert_conflict(
        store
            .commit(Change {
                review: Some(review(20)),
                emails: vec![witness(7)],
                ..Change::default()
            })
            .await,
    );

    let keys: Vec<String> = store
        .emails_of(&id("acme"))
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(keys, ["proforma:1"]);
    let numbers: Vec<String> = store
        .documents_of(&id("acme"))
        .await
        .unwrap()
        .iter()
        .map(|doc| doc.number.to_string())
        .collect();
    assert_eq!(numbers, ["PF/2026/03/0001"]);
    assert_eq!(
        store.last_number(series("PF/2026/03/0001")).await.unwrap(),
        1
    );

    // The counter read as 1 moves on.
    store
        .commit(Change {
            new_documents: vec![second],
            counters: vec![(series("PF/2026/03/0002"), 1, 2)],
            ..Change::default()
        })
        .await
        .unwrap();
    assert_eq!(
        store.last_number(series("PF/2026/03/0002")).await.unwrap(),
        2
    );
    assert_eq!(
        store.last_number(series("ZAM/2026/03/0001")).await.unwrap(),
        0
    );
}

async fn eight_concurrent_issuers_number_one_to_eight_without_gaps(store: Arc<dyn Store>) {
    create(&*store, "acme", None).await;
    let key = series("PF/2026/03/0001");
    let issuers = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            for _ in 0..200 {
                let last = store.last_number(key).await.unwrap();
                let number = format!("PF/2026/03/{:04}", last + 1);
                let change = Change {
                    new_documents: vec![document("acme", &number)],
                    counters: vec![(key, last, last + 1)],
                    ..Change::default()
                };
                match store.commit(change).await {
                    Ok(()) => return last + 1,
                    Err(StoreError::Conflict(_)) => tokio::task::yield_now().await,
                    Err(e) => panic!("issuing {number}: {e:?}"),
                }
            }
            panic!("an issuer lost 200 races in a row");
        })
    });
    let mut issued: Vec<u32> = futures::future::join_all(issuers)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    issued.sort();
    assert_eq!(issued, (1..=8).collect::<Vec<u32>>());

    let mut stored: Vec<u32> = store
        .documents_of(&id("acme"))
        .await
        .unwrap()
        .iter()
        .map(|doc| doc.number.seq)
        .collect();
    stored.sort();
    assert_eq!(stored, (1..=8).collect::<Vec<u32>>());
    assert_eq!(store.last_number(key).await.unwrap(), 8);
}

async fn racing_daily_runs_issue_one_proforma_and_one_email(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let issue = customer(&app, "race").await;
    app.clock.set(warsaw_noon(issue));
    assert_eq!(
        store.due_tenants(issue, None, 10).await.unwrap(),
        [id("race")]
    );

    let runs = (0..4).map(|_| {
        let svc = app.svc.clone();
        tokio::spawn(async move { svc.run_job(Job::Daily, issue, None).await.unwrap() })
    });
    let summaries: Vec<_> = futures::future::join_all(runs)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    for s in &summaries {
        assert!(s.failures.is_empty(), "{:?}", s.failures);
    }
    let issued: usize = summaries.iter().map(|s| s.proformas_issued).sum();
    assert_eq!(issued, 1, "{summaries:#?}");

    let docs = store.documents_of(&id("race")).await.unwrap();
    assert_eq!(docs.len(), 1, "{docs:#?}");
    assert_eq!(docs[0].kind, DocumentKind::Proforma);
    assert_eq!(docs[0].issue_date, issue);
    let emails = store.emails_of(&id("race")).await.unwrap();
    assert_eq!(emails.len(), 1, "{emails:#?}");
    assert_eq!(emails[0].kind, "proforma");
    assert_eq!(emails[0].document, Some(docs[0].number.to_string()));
    // Delivered (at least once: two runs may both send before either marks it).
    assert!(app.mailer.0.load(Ordering::SeqCst) >= 1);
    assert!(store.unsent(10).await.unwrap().is_empty());

    // A later run on the same date finds nothing more to do.
    let again = app.svc.run_job(Job::Daily, issue, None).await.unwrap();
    assert_eq!(again.proformas_issued, 0);
    assert_eq!(store.documents_of(&id("race")).await.unwrap().len(), 1);
}

async fn duplicate_webhook_notifications_record_one_payment(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let issue = customer(&app, "payer").await;
    app.clock.set(warsaw_noon(issue));
    app.svc.run_job(Job::Daily, issue, None).await.unwrap();
    let doc = store.documents_of(&id("payer")).await.unwrap().remove(0);

    let n = Notification::signed(
        &app.p24,
        doc.payment.session_id.as_str(),
        doc.totals.gross.grosze(),
        424_242,
        154,
    );
    let body = serde_json::to_vec(&n).unwrap();
    let copies = (0..2).map(|_| {
        let (svc, p24, body) = (app.svc.clone(), app.p24.clone(), body.clone());
        tokio::spawn(async move { renewals_przelewy24::webhook::handle(&svc, &p24, &body).await })
    });
    for response in futures::future::join_all(copies).await {
        let response = response.unwrap();
        assert_eq!(response.status, 200, "{response:?}");
    }

    let record = store
        .payment("p24:424242")
        .await
        .unwrap()
        .expect("payment recorded");
    assert_eq!(record.document, Some(doc.number.clone()));
    assert_eq!(record.amount, doc.totals.gross);
    assert_eq!(store.review_item("p24:424242").await.unwrap(), None);
    let stored = store.document(&doc.number).await.unwrap().unwrap();
    assert_eq!(stored.status, DocumentStatus::Paid);
    let confirmations = store
        .emails_of(&id("payer"))
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == "payment-confirmation")
        .count();
    assert_eq!(confirmations, 1);

    // A third copy later is acknowledged and changes nothing.
    let before = store
        .load_account(&id("payer"))
        .await
        .unwrap()
        .unwrap()
        .version;
    let again = renewals_przelewy24::webhook::handle(&app.svc, &app.p24, &body).await;
    assert_eq!(again.status, 200);
    let after = store
        .load_account(&id("payer"))
        .await
        .unwrap()
        .unwrap()
        .version;
    assert_eq!(before, after);
}

async fn due_tenants_returns_exactly_the_due_ones_page_by_page(store: Arc<dyn Store>) {
    let base = d("2026-03-01");
    let date = add_days(base, 4);
    let mut expected = vec![];
    let mut accounts = vec![];
    for i in 0..30 {
        // Unpadded ids: text order (acct-1, acct-10, acct-11 …) is what the port promises.
        let name = format!("acct-{i}");
        let next = (i % 7 != 3).then(|| add_days(base, i64::from(i % 10)));
        if next.is_some_and(|n| n <= date) {
            expected.push(id(&name));
        }
        accounts.push(create(&*store, &name, next).await);
    }
    expected.sort();
    assert!(expected.len() > 7, "more than one page: {}", expected.len());

    let mut paged = vec![];
    let mut after: Option<TenantId> = None;
    loop {
        let page = store.due_tenants(date, after.as_ref(), 7).await.unwrap();
        assert!(page.len() <= 7);
        let Some(last) = page.last().cloned() else {
            break;
        };
        paged.extend(page);
        after = Some(last);
    }
    assert_eq!(paged, expected);
    assert_eq!(store.due_tenants(date, None, 1000).await.unwrap(), expected);
    assert!(store
        .due_tenants(add_days(base, -1), None, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.due_tenants(date, None, 0).await.unwrap(),
        Vec::<TenantId>::new()
    );

    // Accounts leave the index when they have nothing to do and move with their date.
    let leaving = accounts[0].clone(); // acct-0: due on the base date
    store
        .commit(Change {
            account: Some(leaving.account.clone()),
            version: leaving.version,
            next_action: None,
            ..Change::default()
        })
        .await
        .unwrap();
    let arriving = accounts[9].clone(); // acct-9: due 9 days after the base date
    store
        .commit(Change {
            account: Some(arriving.account.clone()),
            version: arriving.version,
            next_action: Some(base),
            ..Change::default()
        })
        .await
        .unwrap();
    let now = store.due_tenants(date, None, 1000).await.unwrap();
    assert!(!now.contains(&leaving.account.tenant.id));
    assert!(now.contains(&arriving.account.tenant.id));
    assert_eq!(now.len(), expected.len());
}

async fn a_claimed_message_goes_to_one_deliverer_until_its_lease_ends(store: Arc<dyn Store>) {
    for key in ["m:1", "m:2", "m:3"] {
        store
            .commit(Change {
                emails: vec![email("acme", key)],
                ..Change::default()
            })
            .await
            .unwrap();
    }
    let at = |minutes: i64| warsaw_noon(d("2026-03-03")) + chrono::Duration::minutes(minutes);
    let ids = |claimed: &[StoredMessage]| claimed.iter().map(|m| m.id).collect::<Vec<_>>();

    // Two deliverers at once: each message goes to exactly one of them.
    let (a, b) = tokio::join!(
        store.claim_due(at(0), at(10), 10),
        store.claim_due(at(0), at(10), 10)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut all = [ids(&a), ids(&b)].concat();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 3, "every message claimed once: {a:?} {b:?}");
    assert_eq!(a.len() + b.len(), 3, "no message claimed twice");
    assert!(a.iter().chain(&b).all(|m| m.attempts == 1));
    assert!(store.claim_due(at(5), at(15), 10).await.unwrap().is_empty());

    // A deliverer that died: its messages come back when the lease ends.
    let again = store.claim_due(at(11), at(21), 10).await.unwrap();
    assert_eq!(again.len(), 3);
    assert!(again.iter().all(|m| m.attempts == 2));
    let (sent, retried, parked) = (again[0].id, again[1].id, again[2].id);
    store.mark_sent(&[sent]).await.unwrap();
    store
        .mark_failed(retried, Retry::At(at(120)), "throttled")
        .await
        .unwrap();
    store
        .mark_failed(parked, Retry::Park, "rejected")
        .await
        .unwrap();

    // Not before its next attempt; a parked one never.
    assert!(store
        .claim_due(at(60), at(70), 10)
        .await
        .unwrap()
        .is_empty());
    let third = store.claim_due(at(121), at(131), 10).await.unwrap();
    assert_eq!(ids(&third), [retried]);
    assert_eq!(third[0].attempts, 3);
    assert_eq!(ids(&store.unsent(10).await.unwrap()), [retried]);
    let about = store
        .messages_about(&id("acme"), "PF/2026/03/0001")
        .await
        .unwrap();
    let state = |id: i64| {
        let m = about.iter().find(|m| m.id == id).unwrap();
        (m.sent, m.parked)
    };
    assert_eq!(
        (state(sent), state(retried), state(parked)),
        ((true, false), (false, false), (false, true))
    );
}

async fn unsent_messages_leave_the_outbox_when_marked_sent(store: Arc<dyn Store>) {
    let messages = [
        email("acme", "m:1"),
        email("beta", "m:2"),
        email("acme", "m:3"),
    ];
    for m in &messages {
        store
            .commit(Change {
                emails: vec![m.clone()],
                ..Change::default()
            })
            .await
            .unwrap();
    }
    let unsent = store.unsent(10).await.unwrap();
    let keys: Vec<&str> = unsent.iter().map(|s| s.message.key.as_str()).collect();
    assert_eq!(keys, ["m:1", "m:2", "m:3"]);
    assert!(unsent.windows(2).all(|w| w[0].id < w[1].id), "ids increase");
    assert!(unsent.iter().all(|s| !s.sent));
    assert_eq!(unsent[1].message, messages[1], "stored byte for byte");
    assert_eq!(store.unsent(2).await.unwrap().len(), 2);

    store
        .mark_sent(&[unsent[0].id, unsent[2].id])
        .await
        .unwrap();
    let left: Vec<i64> = store
        .unsent(10)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left, [unsent[1].id]);
    store.mark_sent(&[]).await.unwrap();
    store.mark_sent(&[unsent[0].id, 999_999]).await.unwrap();
    store.mark_sent(&[unsent[1].id]).await.unwrap();
    assert!(store.unsent(10).await.unwrap().is_empty());

    // Sent or not, a tenant's e-mails stay readable, in the order they were queued.
    let acme: Vec<OutboxMessage> = store.emails_of(&id("acme")).await.unwrap();
    assert_eq!(acme, [messages[0].clone(), messages[2].clone()]);
    assert_eq!(
        store.emails_of(&id("beta")).await.unwrap(),
        [messages[1].clone()]
    );
    assert!(store.emails_of(&id("nobody")).await.unwrap().is_empty());
}

async fn what_is_written_reads_back_the_same(store: Arc<dyn Store>) {
    let settings = settings();
    let mut account = Account::new(tenant("acme"));
    let sub = account
        .add_subscription(
            &settings.catalog,
            "business-standard",
            3,
            Term::Annual,
            d("2026-01-31"),
        )
        .unwrap();
    let order = document("acme", "ZAM/2026/03/0001");
    let proforma = document("acme", "PF/2026/03/0001");
    store
        .commit(Change {
            account: Some(account.clone()),
            next_action: Some(d("2026-12-01")),
            // Issue order: the order first, although PF sorts before ZAM.
            new_documents: vec![order.clone(), proforma.clone()],
            counters: vec![
                (series("ZAM/2026/03/0001"), 0, 1),
                (series("PF/2026/03/0001"), 0, 1),
            ],
            emails: vec![email("acme", "order:ZAM/2026/03/0001")],
            payment: Some(payment(7)),
            review: Some(review(8)),
            ..Change::default()
        })
        .await
        .unwrap();

    let loaded = store.load_account(&id("acme")).await.unwrap().unwrap();
    assert_eq!(loaded.version, 1);
    assert_eq!(loaded.account.subscriptions, account.subscriptions);
    assert_eq!(loaded.account.tenant, account.tenant);
    assert_eq!(store.tenant_of(&sub).await.unwrap(), Some(id("acme")));
    let unknown_sub = SubscriptionId::parse("acme-99").unwrap();
    assert_eq!(store.tenant_of(&unknown_sub).await.unwrap(), None);

    assert_eq!(
        store.documents_of(&id("acme")).await.unwrap(),
        [order.clone(), proforma.clone()]
    );
    assert_eq!(
        store.document(&order.number).await.unwrap(),
        Some(order.clone())
    );
    assert_eq!(
        store
            .document_by_session(&proforma.payment.session_id)
            .await
            .unwrap(),
        Some(proforma.clone())
    );
    let missing = DocumentNumber::parse("PF/2026/03/0099").unwrap();
    assert_eq!(store.document(&missing).await.unwrap(), None);
    assert_eq!(
        store
            .document_by_session(&"no-such-session".into())
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.payment("p24:7").await.unwrap(), Some(payment(7)));
    assert_eq!(store.review_item("p24:8").await.unwrap(), Some(review(8)));
    assert_eq!(store.payment("p24:8").await.unwrap(), None);
    assert_eq!(store.review_item("p24:7").await.unwrap(), None);
    assert_eq!(
        store.emails_of(&id("acme")).await.unwrap(),
        [email("acme", "order:ZAM/2026/03/0001")]
    );

    // Statuses change; nothing else does. Later documents come after earlier ones.
    let later = document("acme", "PF/2026/03/0002");
    store
        .commit(Change {
            account: Some(loaded.account),
            version: loaded.version,
            next_action: Some(d("2026-12-01")),
            new_documents: vec![later.clone()],
            status_changes: vec![
                (proforma.number.clone(), DocumentStatus::Expired),
                (order.number.clone(), DocumentStatus::Paid),
                (proforma.number.clone(), DocumentStatus::Cancelled),
                (later.number.clone(), DocumentStatus::Paid),
            ],
            counters: vec![(series("PF/2026/03/0001"), 1, 2)],
            ..Change::default()
        })
        .await
        .unwrap();
    let docs = store.documents_of(&id("acme")).await.unwrap();
    let statuses: Vec<(String, DocumentStatus)> = docs
        .iter()
        .map(|doc| (doc.number.to_string(), doc.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("ZAM/2026/03/0001".to_string(), DocumentStatus::Paid),
            ("PF/2026/03/0001".to_string(), DocumentStatus::Cancelled),
            ("PF/2026/03/0002".to_string(), DocumentStatus::Paid),
        ]
    );
    let paid = store.document(&order.number).await.unwrap().unwrap();
    assert_eq!(
        paid,
        Document {
            status: DocumentStatus::Paid,
            ..order
        }
    );
    let cancelled = store
        .document_by_session(&proforma.payment.session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cancelled.status, DocumentStatus::Cancelled);
    assert_eq!(
        store
            .load_account(&id("acme"))
            .await
            .unwrap()
            .unwrap()
            .version,
        2
    );
}

async fn a_status_change_of_an_unknown_document_is_not_found(store: Arc<dyn Store>) {
    let loaded = create(&*store, "acme", None).await;
    let result = store
        .commit(Change {
            account: Some(loaded.account),
            version: loaded.version,
            status_changes: vec![(
                DocumentNumber::parse("PF/2026/03/0042").unwrap(),
                DocumentStatus::Paid,
            )],
            emails: vec![email("acme", "never")],
            ..Change::default()
        })
        .await;
    assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
    assert!(store.emails_of(&id("acme")).await.unwrap().is_empty());
    assert_eq!(
        store
            .load_account(&id("acme"))
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
}

// ---------------------------------------------------------------------------------------
// DynamoDB only: its limits and its cost

mod dynamodb_only {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_change_over_one_hundred_writes_is_refused_and_writes_nothing() {
        let store = dynamo_store("over-one-hundred", 4).await;
        let emails: Vec<OutboxMessage> = (0..51)
            .map(|i| email("acme", &format!("bulk:{i}")))
            .collect();
        let before = store.request_counts();
        let result = store
            .commit(Change {
                emails,
                ..Change::default()
            })
            .await;
        let err = result.unwrap_err();
        assert!(matches!(err, StoreError::Unexpected(_)), "{err:?}");
        assert!(err.to_string().contains("at most 100"), "{err}");
        assert_eq!(store.request_counts().since(&before).total(), 0);
        assert!(store.emails_of(&id("acme")).await.unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn an_account_with_many_subscriptions_writes_only_the_new_ones() {
        let store = dynamo_store("many-subscriptions", 4).await;
        let catalog = settings().catalog;
        let mut account = Account::new(tenant("big"));
        for _ in 0..90 {
            account
                .add_subscription(
                    &catalog,
                    "business-basic",
                    1,
                    Term::Monthly,
                    d("2026-01-10"),
                )
                .unwrap();
        }
        store
            .commit(Change {
                account: Some(account),
                ..Change::default()
            })
            .await
            .unwrap();
        let loaded = store.load_account(&id("big")).await.unwrap().unwrap();
        let mut account = loaded.account;
        let mut added = vec![];
        for _ in 0..20 {
            added.push(
                account
                    .add_subscription(
                        &catalog,
                        "business-basic",
                        1,
                        Term::Monthly,
                        d("2026-02-10"),
                    )
                    .unwrap(),
            );
        }
        // 1 account + 110 subscriptions would not fit; the 20 new ones do.
        store
            .commit(Change {
                account: Some(account),
                version: loaded.version,
                ..Change::default()
            })
            .await
            .unwrap();
        for sub in added {
            assert_eq!(store.tenant_of(&sub).await.unwrap(), Some(id("big")));
        }
        let loaded = store.load_account(&id("big")).await.unwrap().unwrap();
        assert_eq!(
            (loaded.version, loaded.account.subscriptions.len()),
            (2, 110)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_message_over_the_item_limit_is_refused() {
        let store = dynamo_store("item-limit", 4).await;
        let mut big = email("acme", "big");
        big.content = Content::Mime(vec![b'x'; 300 * 1024]);
        store
            .commit(Change {
                emails: vec![big.clone()],
                ..Change::default()
            })
            .await
            .unwrap();
        assert_eq!(store.emails_of(&id("acme")).await.unwrap(), [big]);

        let mut too_big = email("acme", "too-big");
        too_big.content = Content::Mime(vec![b'x'; 401 * 1024]);
        let err = store
            .commit(Change {
                emails: vec![too_big],
                ..Change::default()
            })
            .await
            .unwrap_err();
        assert!(err.to_string().contains("400 KB"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn one_shard_or_many_answer_the_same() {
        for shards in [1, 3] {
            let store = dynamo_store(&format!("shards-{shards}"), shards).await;
            for i in 0..12 {
                let next = Some(add_days(d("2026-03-01"), i64::from(i % 4)));
                create(&store, &format!("s-{i}"), next).await;
            }
            let due = store.due_tenants(d("2026-03-02"), None, 100).await.unwrap();
            let mut expected: Vec<TenantId> = (0..12)
                .filter(|i| i % 4 <= 1)
                .map(|i| id(&format!("s-{i}")))
                .collect();
            expected.sort();
            assert_eq!(due, expected, "{shards} shards");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn marking_sent_takes_one_request_per_hundred_messages() {
        let store = dynamo_store("mark-sent", 4).await;
        for batch in 0..3 {
            let emails = (0..50)
                .map(|i| email("acme", &format!("bulk:{batch}:{i}")))
                .collect();
            store
                .commit(Change {
                    emails,
                    ..Change::default()
                })
                .await
                .unwrap();
        }
        let unsent = store.unsent(200).await.unwrap();
        assert_eq!(unsent.len(), 150);
        let keys: Vec<String> = unsent.iter().map(|m| m.message.key.clone()).collect();
        let queued: Vec<String> = (0..3)
            .flat_map(|b| (0..50).map(move |i| format!("bulk:{b}:{i}")))
            .collect();
        assert_eq!(keys, queued, "unsent in the order queued");

        // This store listed them: it knows where they are and looks nothing up.
        let (first, rest) = unsent.split_at(120);
        let before = store.request_counts();
        let ids: Vec<i64> = first.iter().map(|m| m.id).collect();
        store.mark_sent(&ids).await.unwrap();
        let cost = store.request_counts().since(&before);
        assert_eq!((cost.transact_write, cost.total()), (2, 2), "{cost:?}");

        // Another process did not: one query finds them, then one transaction marks them.
        let other = another_store(&store).await;
        let before = other.request_counts();
        let ids: Vec<i64> = rest.iter().map(|m| m.id).collect();
        other.mark_sent(&ids).await.unwrap();
        let cost = other.request_counts().since(&before);
        assert_eq!((cost.query, cost.transact_write), (1, 1), "{cost:?}");

        assert!(store.unsent(200).await.unwrap().is_empty());
        assert_eq!(store.emails_of(&id("acme")).await.unwrap().len(), 150);
        // Marking again, here or there, changes nothing and fails nothing.
        store
            .mark_sent(&[unsent[0].id, unsent[149].id])
            .await
            .unwrap();
        other.mark_sent(&[unsent[0].id]).await.unwrap();
        assert!(store.unsent(200).await.unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_status_change_needs_no_lookup_unless_the_document_is_another_tenants() {
        let store = dynamo_store("status-lookup", 4).await;
        let acme = create(&store, "acme", None).await;
        create(&store, "beta", None).await;
        let own = document("acme", "PF/2026/03/0001");
        let mut theirs = document("beta", "PF/2026/03/0002");
        theirs.payment.session_id = "beta-session".into();
        store
            .commit(Change {
                new_documents: vec![own.clone(), theirs.clone()],
                ..Change::default()
            })
            .await
            .unwrap();

        // The account's own document: the change alone, one request.
        let fresh = another_store(&store).await;
        let before = fresh.request_counts();
        fresh
            .commit(Change {
                account: Some(acme.account.clone()),
                version: acme.version,
                status_changes: vec![(own.number.clone(), DocumentStatus::Paid)],
                ..Change::default()
            })
            .await
            .unwrap();
        assert_eq!(fresh.request_counts().since(&before).total(), 1);

        // Another tenant's: the first try fails its condition, a lookup finds the document.
        let acme = fresh.load_account(&id("acme")).await.unwrap().unwrap();
        let before = fresh.request_counts();
        fresh
            .commit(Change {
                account: Some(acme.account.clone()),
                version: acme.version,
                status_changes: vec![(theirs.number.clone(), DocumentStatus::Cancelled)],
                emails: vec![email("acme", "witness")],
                ..Change::default()
            })
            .await
            .unwrap();
        let cost = fresh.request_counts().since(&before);
        assert_eq!((cost.transact_write, cost.get), (2, 1), "{cost:?}");

        for (doc, status) in [
            (&own, DocumentStatus::Paid),
            (&theirs, DocumentStatus::Cancelled),
        ] {
            let stored = store.document(&doc.number).await.unwrap().unwrap();
            assert_eq!(stored.status, status, "{}", doc.number);
        }
        assert_eq!(store.emails_of(&id("acme")).await.unwrap().len(), 1);
        let version = store
            .load_account(&id("acme"))
            .await
            .unwrap()
            .unwrap()
            .version;
        assert_eq!(version, 3);
    }

    /// Prints what a daily run costs: the number the team tracks as requests per due
    /// subscription. Bounded here so that a change that adds round trips is noticed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_daily_run_costs_a_handful_of_requests_per_due_subscription() {
        let store = Arc::new(dynamo_store("request-counts", 4).await);
        let app = app(store.clone());
        let tenants = 5;
        let mut issue = None;
        for i in 0..tenants {
            issue = Some(customer(&app, &format!("cost-{i}")).await);
        }
        let issue = issue.unwrap();
        app.clock.set(warsaw_noon(issue));
        let before = store.request_counts();
        let summary = app.svc.run_job(Job::Daily, issue, None).await.unwrap();
        let cost = store.request_counts().since(&before);
        assert_eq!(summary.proformas_issued, tenants);
        let per = cost.total() as f64 / tenants as f64;
        println!("daily run, {tenants} due subscriptions: {cost:?} = {per:.1} requests each");
        assert!(per <= 10.0, "{cost:?}");
    }
}

// ---------------------------------------------------------------------------------------
// VAT invoices and their KSeF outbox

/// Takes every invoice in, accepts it at once, and keeps the bytes it was handed.
#[derive(Default)]
struct RecordingKsef {
    sent: std::sync::Mutex<Vec<renewals_app::ports::InvoiceToSend>>,
}

#[async_trait]
impl renewals_app::ports::Ksef for RecordingKsef {
    async fn send(
        &self,
        invoice: &renewals_app::ports::InvoiceToSend,
    ) -> Result<renewals_app::ports::SentInvoice, renewals_app::ports::KsefError> {
        self.sent.lock().unwrap().push(invoice.clone());
        Ok(renewals_app::ports::SentInvoice {
            session: "SO-1".into(),
            invoice: invoice.number.clone(),
        })
    }

    async fn verdict(
        &self,
        sent: &renewals_app::ports::SentInvoice,
    ) -> Result<renewals_app::ports::KsefVerdict, renewals_app::ports::KsefError> {
        Ok(renewals_app::ports::KsefVerdict::Accepted {
            ksef_number: format!("5260250274-20260301-{:0>12}-00", sent.invoice.len()),
            upo: Some(b"<Potwierdzenie/>".to_vec()),
            duplicate: false,
        })
    }

    async fn finish(&self) -> Result<(), renewals_app::ports::KsefError> {
        Ok(())
    }
}

async fn pay_first_document(app: &App, store: &Arc<dyn Store>, tenant: &str, order_id: i64) {
    let doc = store.documents_of(&id(tenant)).await.unwrap().remove(0);
    let n = Notification::signed(
        &app.p24,
        doc.payment.session_id.as_str(),
        doc.totals.gross.grosze(),
        order_id,
        154,
    );
    let body = serde_json::to_vec(&n).unwrap();
    let response = renewals_przelewy24::webhook::handle(&app.svc, &app.p24, &body).await;
    assert_eq!(response.status, 200, "{response:?}");
}

async fn a_payment_stores_its_vat_invoice_with_the_xml_byte_for_byte_and_ksef_gets_those_bytes(
    store: Arc<dyn Store>,
) {
    use renewals_app::ports::{Clock, KsefStatus};
    use sha2::{Digest, Sha256};
    let ksef = Arc::new(RecordingKsef::default());
    let app = app_with(store.clone(), Some(ksef.clone()));
    let issue = customer(&app, "payer").await;
    app.clock.set(warsaw_noon(issue));
    app.svc.run_job(Job::Daily, issue, None).await.unwrap();
    pay_first_document(&app, &store, "payer", 9_001).await;

    let invoices = store.invoices_of(&id("payer")).await.unwrap();
    assert_eq!(invoices.len(), 1);
    let inv = invoices[0].clone();
    assert_eq!(inv.invoice.number.seq, 1);
    assert_eq!(inv.submission.status, KsefStatus::Pending);
    let xml = inv.xml.clone().expect("stored with its XML");
    assert!(xml.starts_with(b"<?xml"));
    assert_eq!(
        inv.sha256.as_deref(),
        Some(hex(&Sha256::digest(&xml)).as_str())
    );
    assert_eq!(
        store.invoice(&inv.invoice.number).await.unwrap(),
        Some(inv.clone())
    );
    let series = inv.invoice.number.series();
    assert_eq!(store.last_invoice_number(series).await.unwrap(), 1);

    // The submission outbox: one claim at a time, until the lease ends.
    let now = app.clock.now();
    let lease = now + chrono::Duration::minutes(10);
    let first = store.claim_submissions(now, lease, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].submission.attempts, 1);
    assert!(store
        .claim_submissions(now, lease, 10)
        .await
        .unwrap()
        .is_empty());
    let later = lease + chrono::Duration::minutes(1);
    let again = store
        .claim_submissions(later, later + chrono::Duration::minutes(10), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "back when the lease ended");
    assert_eq!(again[0].submission.attempts, 2);

    app.clock.set(later + chrono::Duration::minutes(30));
    let run = app.svc.ksef_sync().await.unwrap();
    assert_eq!((run.sent, run.accepted), (1, 1));
    assert_eq!(
        ksef.sent.lock().unwrap()[0].xml,
        xml,
        "KSeF got the stored bytes"
    );
    let accepted = store.invoice(&inv.invoice.number).await.unwrap().unwrap();
    assert_eq!(accepted.submission.status, KsefStatus::Accepted);
    assert!(accepted.submission.ksef_number.is_some());
    assert_eq!(
        accepted.upo.as_deref(),
        Some(b"<Potwierdzenie/>".as_slice())
    );
    assert_eq!(accepted.xml.as_deref(), Some(xml.as_slice()));
    let now = app.clock.now();
    assert!(
        store
            .claim_submissions(now, now, 10)
            .await
            .unwrap()
            .is_empty(),
        "accepted: out of the outbox"
    );
    let invoice_mails: Vec<OutboxMessage> = store
        .emails_of(&id("payer"))
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == "invoice")
        .collect();
    assert_eq!(invoice_mails.len(), 1);

    // Saved again with the same e-mail and another XML: the e-mail stays one, the XML as stored.
    let mut replay = accepted.clone();
    replay.xml = Some(b"<other/>".to_vec());
    replay.sha256 = Some("0".repeat(64));
    store
        .save_invoice(&replay, invoice_mails.clone())
        .await
        .unwrap();
    let after = store.invoice(&inv.invoice.number).await.unwrap().unwrap();
    assert_eq!(after.xml.as_deref(), Some(xml.as_slice()), "never replaced");
    assert_eq!(after.sha256, inv.sha256);
    let count = store
        .emails_of(&id("payer"))
        .await
        .unwrap()
        .iter()
        .filter(|m| m.kind == "invoice")
        .count();
    assert_eq!(count, 1);
}

/// KSeF takes a `P_1` before the day it arrives for an offline invoice: one sent the day
/// after its payment goes dated that day, and the store keeps what KSeF got.
async fn an_invoice_sent_the_day_after_is_stored_dated_that_day_and_then_never_changes(
    store: Arc<dyn Store>,
) {
    use sha2::{Digest, Sha256};
    let ksef = Arc::new(RecordingKsef::default());
    let app = app_with(store.clone(), Some(ksef.clone()));
    let issue = customer(&app, "late").await;
    app.clock.set(warsaw_noon(issue));
    app.svc.run_job(Job::Daily, issue, None).await.unwrap();
    pay_first_document(&app, &store, "late", 9_101).await;
    let before = store.invoices_of(&id("late")).await.unwrap().remove(0);
    let paid = before.invoice.issue_date;
    assert_eq!(paid, before.invoice.paid_on);
    let next = add_days(paid, 1);

    app.clock.set(warsaw_noon(next));
    let run = app.svc.ksef_sync().await.unwrap();
    assert_eq!((run.sent, run.accepted), (1, 1), "{run:?}");
    let sent = ksef.sent.lock().unwrap()[0].xml.clone();
    let after = store
        .invoice(&before.invoice.number)
        .await
        .unwrap()
        .unwrap();
    let text =
        |xml: &Option<Vec<u8>>| String::from_utf8_lossy(xml.as_deref().unwrap_or(b"")).into_owned();
    assert_eq!(
        text(&after.xml),
        text(&Some(sent.clone())),
        "stored what KSeF got"
    );
    assert_eq!(after.sha256, Some(hex(&Sha256::digest(&sent))));
    assert!(
        String::from_utf8_lossy(&sent).contains(&format!("<P_1>{next}</P_1>")),
        "dated the day it went"
    );
    assert_eq!(after.invoice.issue_date, next);
    assert_eq!(after.invoice.paid_on, paid, "the payment's day stays");
    assert_eq!(after.invoice.number, before.invoice.number);

    // Sent: a copy that says another day changes neither the invoice nor its XML.
    let mut stale = after.clone();
    stale.invoice.issue_date = paid;
    stale.xml = before.xml.clone();
    stale.sha256 = before.sha256.clone();
    store.save_invoice(&stale, vec![]).await.unwrap();
    let kept = store
        .invoice(&before.invoice.number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (kept.invoice.issue_date, text(&kept.xml)),
        (next, text(&after.xml))
    );
}

async fn concurrent_payments_number_their_invoices_one_to_n(store: Arc<dyn Store>) {
    const N: usize = 5;
    let app = app(store.clone());
    let mut issue = None;
    for i in 0..N {
        issue = Some(customer(&app, &format!("payer{i}")).await);
    }
    let issue = issue.unwrap();
    app.clock.set(warsaw_noon(issue));
    app.svc.run_job(Job::Daily, issue, None).await.unwrap();
    let mut payments = vec![];
    for i in 0..N {
        let doc = store
            .documents_of(&id(&format!("payer{i}")))
            .await
            .unwrap()
            .remove(0);
        let n = Notification::signed(
            &app.p24,
            doc.payment.session_id.as_str(),
            doc.totals.gross.grosze(),
            70_000 + i as i64,
            154,
        );
        let body = serde_json::to_vec(&n).unwrap();
        let (svc, p24) = (app.svc.clone(), app.p24.clone());
        payments.push(tokio::spawn(async move {
            renewals_przelewy24::webhook::handle(&svc, &p24, &body).await
        }));
    }
    for p in futures::future::join_all(payments).await {
        assert_eq!(p.unwrap().status, 200);
    }
    let mut numbers = vec![];
    for i in 0..N {
        let invoices = store.invoices_of(&id(&format!("payer{i}"))).await.unwrap();
        assert_eq!(invoices.len(), 1);
        numbers.push(invoices[0].invoice.number.seq);
    }
    numbers.sort();
    assert_eq!(numbers, (1..=N as u32).collect::<Vec<_>>());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// (actor, action, document) of each entry of the tenant's log, oldest first.
async fn log_of(store: &Arc<dyn Store>, tenant: &str) -> Vec<(String, String, Option<String>)> {
    store
        .audit_of(&id(tenant))
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.actor.to_string(), e.action, e.document))
        .collect()
}

fn entry(actor: &str, action: &str, document: Option<&str>) -> (String, String, Option<String>) {
    (actor.into(), action.into(), document.map(String::from))
}

async fn the_audit_log_says_who_did_what_once(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let issue = customer(&app, "audited").await;
    // The customer adds seats mid-period (as the panel does, acting for the signed-in
    // customer).
    let sub = app.svc.account(&id("audited")).await.unwrap().subscriptions[0]
        .id
        .clone();
    let customer = Actor::Customer("faktury@audited.example.pl".into());
    let order = app
        .svc
        .acting_as(customer)
        .add_seats(&sub, 2, d("2026-01-15"))
        .await
        .unwrap();
    app.clock.set(warsaw_noon(issue));
    // Racing runs conflict and decide again: the one pro-forma is logged once.
    let runs = (0..4).map(|_| {
        let svc = app.svc.clone();
        tokio::spawn(async move { svc.run_job(Job::Daily, issue, None).await.unwrap() })
    });
    futures::future::join_all(runs).await;
    let pf = store
        .documents_of(&id("audited"))
        .await
        .unwrap()
        .into_iter()
        .find(|doc| doc.kind == DocumentKind::Proforma)
        .unwrap();
    // Two copies of the notification at once, and one more later: one payment, logged once.
    let n = Notification::signed(
        &app.p24,
        pf.payment.session_id.as_str(),
        pf.totals.gross.grosze(),
        515_151,
        154,
    );
    let body = serde_json::to_vec(&n).unwrap();
    let copies = (0..2).map(|_| {
        let (svc, p24, body) = (app.svc.clone(), app.p24.clone(), body.clone());
        tokio::spawn(async move { renewals_przelewy24::webhook::handle(&svc, &p24, &body).await })
    });
    futures::future::join_all(copies).await;
    renewals_przelewy24::webhook::handle(&app.svc, &app.p24, &body).await;

    let pf_number = pf.number.to_string();
    let order_number = order.number.to_string();
    let log = log_of(&store, "audited").await;
    assert_eq!(
        log[..5],
        [
            entry("cli", "tenant_added", None),
            entry("cli", "subscription_added", None),
            entry(
                "customer:faktury@audited.example.pl",
                "seats_added",
                Some(&order_number)
            ),
            entry("job:daily", "proforma_issued", Some(&pf_number)),
            entry("provider:przelewy24", "payment_settled", Some(&pf_number)),
        ]
    );
    // What else the payment did is the provider's too, and nothing is logged twice.
    assert!(
        log[5..].iter().all(|e| e.0 == "provider:przelewy24"),
        "{log:?}"
    );
    let mut unique = log.clone();
    unique.dedup();
    assert_eq!(unique, log);
    let log = store.audit_of(&id("audited")).await.unwrap();
    assert_eq!(log[3].subscription.as_deref(), Some(sub.as_str()));
    assert!(
        log[2].summary.contains("2 dodatkowych stanowisk"),
        "{}",
        log[2].summary
    );
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at));
    // Another tenant's log is its own.
    assert!(store.audit_of(&id("nobody")).await.unwrap().is_empty());
}

async fn a_conflicting_commit_writes_no_audit_entries(store: Arc<dyn Store>) {
    let first = create(&*store, "stale", None).await;
    let note = |action: &str| AuditEntry {
        at: warsaw_noon(d("2026-03-02")),
        actor: Actor::Operator("Ewa".into()),
        action: action.into(),
        document: None,
        subscription: None,
        summary: "Zmieniono dane klienta".into(),
        filed_under: None,
    };
    let change = |action: &str| Change {
        account: Some(first.account.clone()),
        version: first.version,
        audit: vec![note(action), note(action)],
        ..Change::default()
    };
    store.commit(change("tenant_updated")).await.unwrap();
    // The same version again (a retry that lost the race) is refused with its entries.
    assert_conflict(store.commit(change("tenant_updated_again")).await);
    let log = store.audit_of(&id("stale")).await.unwrap();
    assert_eq!(log, [note("tenant_updated"), note("tenant_updated")]);
}
