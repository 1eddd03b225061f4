//! The fan-out on the local AWS emulator (moto's server: DynamoDB and SQS, real SDK): the
//! planner's batches on a FIFO queue, the worker handler with SQS events built from what the
//! queue hands out, and a whole day fanned out against the single-process run.
//!
//! Needs `AWS_ENDPOINT_URL`: `eval "$(scripts/moto.sh start)"`.

use async_trait::async_trait;
use chrono::NaiveDate;
use renewals_app::config::{Defaults, Settings};
use renewals_app::fanout::{Sizes, TenantBatch};
use renewals_app::ports::{warsaw_noon, MailError, Mailer, ManualClock, OutboxMessage, Store};
use renewals_app::service::Service;
use renewals_domain::{EmailAddress, Job, Locale, Nip, PaymentMethod, Tenant, TenantId, Term};
use renewals_dynamodb::{keys, DynamoStore, RequestCounts};
use renewals_lambda::fanout::{work, WorkerState};
use renewals_przelewy24::{OfflineProvider, P24Settings};
use renewals_sqs::SqsQueue;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

fn date(s: &str) -> NaiveDate {
    renewals_domain::parse_date(s).unwrap()
}

fn id(s: &str) -> TenantId {
    TenantId::parse(s).unwrap()
}

/// The issue day of a monthly subscription started on 31 January: 21 February.
const DAY: &str = "2026-02-21";

async fn emulator() -> aws_config::SdkConfig {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        !endpoint.is_empty(),
        "AWS_ENDPOINT_URL is not set: run `eval \"$(scripts/moto.sh start)\"` first"
    );
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("eu-central-1"))
        .test_credentials()
        .load()
        .await
}

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("fanout-{name}-{}-{nanos}", std::process::id())
}

async fn table(name: &str) -> String {
    let table = unique(name);
    DynamoStore::from_conf(&emulator().await, &table)
        .create_table()
        .await
        .unwrap();
    table
}

/// Another process's store on `table`: nothing remembered, its own request counts.
async fn store_on(table: &str) -> Arc<DynamoStore> {
    Arc::new(DynamoStore::from_conf(&emulator().await, table))
}

async fn queue(name: &str) -> SqsQueue {
    let client = aws_sdk_sqs::Client::new(&emulator().await);
    let url = SqsQueue::create_fifo(&client, &format!("{}.fifo", unique(name)))
        .await
        .unwrap();
    SqsQueue::new(client, url)
}

/// What one receive hands a worker, as Lambda's event source would (batch size 2 here, so
/// that a small test day still spreads over the workers).
struct Received {
    event: aws_lambda_events::event::sqs::SqsEvent,
    handles: BTreeMap<String, String>,
}

async fn receive(queue: &SqsQueue) -> Option<Received> {
    let client = aws_sdk_sqs::Client::new(&emulator().await);
    let out = client
        .receive_message()
        .queue_url(queue.url())
        .max_number_of_messages(2)
        .send()
        .await
        .unwrap();
    let messages = out.messages.unwrap_or_default();
    if messages.is_empty() {
        return None;
    }
    let records: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| {
            serde_json::json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "eventSource": "aws:sqs",
            })
        })
        .collect();
    Some(Received {
        event: serde_json::from_value(serde_json::json!({ "Records": records })).unwrap(),
        handles: messages
            .iter()
            .map(|m| {
                (
                    m.message_id().unwrap().to_string(),
                    m.receipt_handle().unwrap().to_string(),
                )
            })
            .collect(),
    })
}

/// Deletes what the worker did not report as failed, as the event source does.
async fn acknowledge(queue: &SqsQueue, received: &Received, failed: &BTreeSet<String>) -> usize {
    let client = aws_sdk_sqs::Client::new(&emulator().await);
    let mut deleted = 0;
    for (message, handle) in &received.handles {
        if !failed.contains(message) {
            client
                .delete_message()
                .queue_url(queue.url())
                .receipt_handle(handle)
                .send()
                .await
                .unwrap();
            deleted += 1;
        }
    }
    deleted
}

fn batches_of(received: &Received) -> Vec<TenantBatch> {
    received
        .event
        .records
        .iter()
        .map(|r| TenantBatch::from_json(r.body.as_deref().unwrap()).unwrap())
        .collect()
}

/// Records every message sent, as the customer would receive it.
#[derive(Default)]
struct RecordingMailer(Mutex<Vec<OutboxMessage>>, AtomicUsize);

#[async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, _id: i64, message: &OutboxMessage, _mime: &[u8]) -> Result<(), MailError> {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.lock().unwrap().push(message.clone());
        Ok(())
    }
}

fn service(store: Arc<dyn Store>, mailer: Arc<RecordingMailer>) -> Arc<Service> {
    let settings = Settings::from_lookup(Defaults::Local, |_| None).unwrap();
    let p24 = P24Settings::from_lookup(Defaults::Local, |_| None).unwrap();
    let clock = Arc::new(ManualClock::new(warsaw_noon(date(DAY))));
    renewals_lambda::service(
        store,
        mailer,
        Some(Arc::new(OfflineProvider::new(p24))),
        clock,
        settings,
    )
}

/// A customer with one monthly subscription from `start`; products and seats vary with `n`
/// so that the documents differ.
async fn customer(svc: &Service, tenant: &str, n: usize, start: &str) {
    svc.add_tenant(Tenant {
        id: id(tenant),
        name: format!("{tenant} sp. z o.o."),
        nip: Nip::parse("5260001246").unwrap(),
        address: "ul. Prosta 1, 00-001 Warszawa".into(),
        address2: None,
        country: "PL".into(),
        email: EmailAddress::parse(&format!("faktury@{tenant}.example.pl")).unwrap(),
        locale: if n.is_multiple_of(3) {
            Locale::En
        } else {
            Locale::Pl
        },
        payment_method: PaymentMethod::Blik,
    })
    .await
    .unwrap();
    let product = ["business-basic", "business-standard", "business-premium"][n % 3];
    svc.add_subscription(
        &id(tenant),
        product,
        (n % 20) as u32 + 1,
        Term::Monthly,
        date(start),
    )
    .await
    .unwrap();
}

/// Adds customers `from..to` named `{prefix}-{n}`, a few at a time.
async fn customers(svc: &Arc<Service>, prefix: &str, range: std::ops::Range<usize>, start: &str) {
    use futures::StreamExt;
    futures::stream::iter(range)
        .for_each_concurrent(8, |n| {
            let svc = svc.clone();
            async move { customer(&svc, &format!("{prefix}-{n}"), n, start).await }
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_planner_enqueues_every_due_tenant_once_across_shards_and_pages() {
    let table = table("plan").await;
    let store = store_on(&table).await;
    let svc = service(store.clone(), Arc::default());
    customers(&svc, "due", 0..60, "2026-01-31").await;
    customers(&svc, "later", 0..10, "2026-02-15").await; // first pro-forma on 8 March
    let queue = queue("plan").await;
    let sizes = Sizes { batch: 7, page: 5 };

    let plan = svc
        .plan(Job::Daily, date(DAY), &queue, sizes)
        .await
        .unwrap();
    // A planner retried (the same plan again while its messages wait) adds nothing: SQS
    // deduplicates by the batch's id.
    let again = svc
        .plan(Job::Daily, date(DAY), &queue, sizes)
        .await
        .unwrap();
    assert_eq!(again, plan);

    let mut enqueued = vec![];
    while let Some(received) = receive(&queue).await {
        for batch in batches_of(&received) {
            assert!(batch.tenants.len() <= 7);
            for tenant in &batch.tenants {
                assert_eq!(keys::shard_of(tenant, store.shards()), batch.shard);
            }
            enqueued.extend(batch.tenants);
        }
        acknowledge(&queue, &received, &BTreeSet::new()).await;
    }
    let distinct: BTreeSet<TenantId> = enqueued.iter().cloned().collect();
    let due: BTreeSet<TenantId> = (0..60).map(|n| id(&format!("due-{n}"))).collect();
    assert_eq!(distinct, due, "exactly the due tenants");
    assert_eq!(enqueued.len(), 60, "each of them once");
    assert_eq!(plan.tenants_due, 60);
    assert!(plan.pages > 60 / 5, "read page by page: {plan:?}");
    assert_eq!(plan.shards, 4);
}

/// Writes an account whose stored body cannot be read, due on `DAY`: the store answers,
/// but not with anything the worker can use (a retry may pass once it is repaired).
async fn unreadable_account(table: &str, tenant: &str) {
    let client = aws_sdk_dynamodb::Client::new(&emulator().await);
    let t = id(tenant);
    let s = |v: String| aws_sdk_dynamodb::types::AttributeValue::S(v);
    let mut item = keys::account(&t).attributes();
    item.insert(
        "version".into(),
        aws_sdk_dynamodb::types::AttributeValue::N("1".into()),
    );
    item.insert("body".into(), s("{\"tenant\": ".into()));
    item.insert(
        keys::GSI1PK.into(),
        s(keys::due_pk(keys::shard_of(&t, keys::DEFAULT_SHARDS))),
    );
    item.insert(keys::GSI1SK.into(), s(keys::due_sk(date(DAY), &t)));
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

fn sqs_event(batches: &[(&str, Vec<&str>)]) -> aws_lambda_events::event::sqs::SqsEvent {
    let records: Vec<serde_json::Value> = batches
        .iter()
        .enumerate()
        .map(|(seq, (message, tenants))| {
            let batch = TenantBatch {
                job: Job::Daily,
                date: date(DAY),
                shard: 0,
                seq: seq as u32,
                tenants: tenants.iter().map(|t| id(t)).collect(),
            };
            serde_json::json!({"messageId": message, "body": batch.to_json()})
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

fn failed(response: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_with_one_failing_tenant_reports_only_its_message() {
    let table = table("failing").await;
    let store = store_on(&table).await;
    let mailer = Arc::new(RecordingMailer::default());
    let svc = service(store.clone(), mailer.clone());
    customers(&svc, "ok", 0..4, "2026-01-31").await;
    unreadable_account(&table, "broken").await;
    let event = sqs_event(&[
        ("m-1", vec!["ok-0", "broken", "ok-1"]),
        ("m-2", vec!["ok-2", "ok-3"]),
        ("m-3", vec!["no-such-tenant"]),
    ]);

    let response = work(&svc, &WorkerState::default(), event, None).await;

    // `broken` may pass once repaired: its message comes back. A tenant that does not exist
    // never will: logged for a person, its message not retried.
    assert_eq!(failed(&response), ["m-1"]);
    for n in 0..4 {
        let docs = svc
            .store
            .documents_of(&id(&format!("ok-{n}")))
            .await
            .unwrap();
        assert_eq!(
            docs.len(),
            1,
            "ok-{n} got its pro-forma despite its neighbour"
        );
    }
    assert_eq!(mailer.1.load(Ordering::SeqCst), 4);

    let garbage: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_value(
        serde_json::json!({"Records": [{"messageId": "m-4", "body": "{\"job\": \"daily\"}"}]}),
    )
    .unwrap();
    let response = work(&svc, &WorkerState::default(), garbage, None).await;
    assert_eq!(
        failed(&response),
        ["m-4"],
        "not a batch: back, then to the DLQ"
    );
}

fn writes(c: &RequestCounts) -> u64 {
    c.transact_write + c.put + c.update
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redelivered_batch_changes_nothing() {
    let table = table("redelivered").await;
    let store = store_on(&table).await;
    let mailer = Arc::new(RecordingMailer::default());
    let svc = service(store.clone(), mailer.clone());
    customers(&svc, "r", 0..5, "2026-01-31").await;
    let tenants = ["r-0", "r-1", "r-2", "r-3", "r-4"];
    let state = WorkerState::default();

    let first = work(&svc, &state, sqs_event(&[("m-1", tenants.to_vec())]), None).await;
    assert!(failed(&first).is_empty());
    let documents = |svc: Arc<Service>| async move {
        let mut all = vec![];
        for t in tenants {
            all.extend(svc.store.documents_of(&id(t)).await.unwrap());
        }
        all
    };
    let before = documents(svc.clone()).await;
    assert_eq!(before.len(), 5);
    let counts = store.request_counts();

    // SQS delivers at least once: the same message again, to another worker.
    let again = work(
        &svc,
        &WorkerState::default(),
        sqs_event(&[("m-1", tenants.to_vec())]),
        None,
    )
    .await;

    assert!(failed(&again).is_empty());
    assert_eq!(documents(svc.clone()).await, before);
    assert_eq!(mailer.1.load(Ordering::SeqCst), 5, "no e-mail twice");
    let cost = store.request_counts().since(&counts);
    assert_eq!(
        writes(&cost),
        0,
        "nothing written the second time: {cost:?}"
    );
}

/// Everything a day leaves behind, with document numbers taken out: the fan-out numbers in
/// the order the workers happen to commit, so the numbers themselves may differ.
async fn outcome(svc: &Service, tenants: &[TenantId]) -> (Vec<String>, Vec<String>) {
    let mut documents = vec![];
    let mut emails = vec![];
    for t in tenants {
        for d in svc.store.documents_of(t).await.unwrap() {
            documents.push(format!(
                "{t} {:?} {:?} {} {} {:?} {:?} {:?}",
                d.kind, d.status, d.issue_date, d.due_date, d.period, d.lines, d.totals
            ));
        }
        for e in svc.store.emails_of(t).await.unwrap() {
            let number = e.document.clone().unwrap_or_default();
            let plain = |s: &str| {
                if number.is_empty() {
                    s.to_string()
                } else {
                    s.replace(&number, "#")
                }
            };
            emails.push(format!(
                "{t} {} {} {} {} {}",
                e.kind,
                e.to,
                e.date,
                plain(&e.key),
                plain(&e.subject)
            ));
        }
    }
    documents.sort();
    emails.sort();
    (documents, emails)
}

/// Every series' numbers are 1..=n: none missing, none twice.
async fn assert_gapless(svc: &Service, tenants: &[TenantId]) -> usize {
    let mut series: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for t in tenants {
        for d in svc.store.documents_of(t).await.unwrap() {
            let text = d.number.to_string();
            let (prefix, seq) = text.rsplit_once('/').unwrap();
            series
                .entry(prefix.to_string())
                .or_default()
                .push(seq.parse().unwrap());
        }
    }
    let mut total = 0;
    for (prefix, mut numbers) in series {
        numbers.sort();
        let expected: Vec<u32> = (1..=numbers.len() as u32).collect();
        assert_eq!(numbers, expected, "series {prefix} is gapless");
        total += numbers.len();
    }
    total
}

/// Makes reported messages visible again at once: what SQS does when their visibility
/// timeout ends (minutes on AWS).
async fn release(queue: &SqsQueue, received: &Received, failed: &BTreeSet<String>) {
    let client = aws_sdk_sqs::Client::new(&emulator().await);
    for (message, handle) in &received.handles {
        if failed.contains(message) {
            client
                .change_message_visibility()
                .queue_url(queue.url())
                .receipt_handle(handle)
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
        }
    }
}

/// One worker per store in `stores` (its own service and state, as its own Lambda
/// instance), taking messages until the queue is empty; a reported message comes back, as
/// SQS brings it back after its visibility timeout. Returns how many messages came back.
async fn run_workers(
    stores: Vec<Arc<dyn Store>>,
    queue: Arc<SqsQueue>,
    mailer: Arc<RecordingMailer>,
) -> usize {
    let workers = stores.len();
    let mut tasks = tokio::task::JoinSet::new();
    for store in stores {
        let svc = service(store, mailer.clone());
        let queue = queue.clone();
        tasks.spawn(async move {
            let state = WorkerState::default();
            let (mut receives, mut returned) = (0, 0);
            while let Some(received) = receive(&queue).await {
                receives += 1;
                let response = work(&svc, &state, received.event.clone(), None).await;
                let failed: BTreeSet<String> = failed(&response).into_iter().collect();
                returned += failed.len();
                acknowledge(&queue, &received, &failed).await;
                release(&queue, &received, &failed).await;
            }
            (receives, returned)
        });
    }
    let (mut receives, mut returned) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        let (r, f) = r.unwrap();
        receives += r;
        returned += f;
    }
    println!("{workers} workers: {receives} receives, {returned} messages came back");
    returned
}

fn total(counts: impl IntoIterator<Item = RequestCounts>) -> RequestCounts {
    counts
        .into_iter()
        .fold(RequestCounts::default(), |a, c| RequestCounts {
            get: a.get + c.get,
            query: a.query + c.query,
            transact_write: a.transact_write + c.transact_write,
            update: a.update + c.update,
            put: a.put + c.put,
        })
}

/// The day's measure for `docs/capacity.md`: requests per due tenant of each kind.
fn report(what: &str, tenants: usize, c: &RequestCounts) {
    let per = |n: u64| n as f64 / tenants as f64;
    println!(
        "{what}: {tenants} due; per tenant: get {:.3}, query {:.3}, transact_write {:.3}, update {:.3}, put {:.3}, total {:.3} ({c:?})",
        per(c.get),
        per(c.query),
        per(c.transact_write),
        per(c.update),
        per(c.put),
        per(c.total())
    );
}

/// Where one day runs: the single process on one store, the fan-out on another, each worker
/// with its own handle on it.
struct Day {
    count: usize,
    single: Arc<dyn Store>,
    planner: Arc<dyn Store>,
    workers: Vec<Arc<dyn Store>>,
    /// The DynamoDB handles of `single` and `planner`, to count their requests.
    counted: Option<(Arc<DynamoStore>, Arc<DynamoStore>)>,
}

/// `count` customers due on one day: the single-process run (`run_job`, as `renewals run
/// daily` and the unfanned function do it) on one store; the planner and the workers through
/// the SQS work queue on the other. Both end with the same documents and e-mails, and every
/// series gapless. Returns how many batches came back for another try.
async fn same_day_both_ways(day: Day) -> usize {
    let count = day.count;
    let tenants: Vec<TenantId> = (0..count).map(|n| id(&format!("t-{n}"))).collect();

    let single_mail = Arc::new(RecordingMailer::default());
    let single = service(day.single.clone(), single_mail.clone());
    customers(&single, "t", 0..count, "2026-01-31").await;
    let counts = || {
        day.counted
            .as_ref()
            .map(|(s, p)| (s.request_counts(), p.request_counts()))
    };
    let before = counts();
    let clock = std::time::Instant::now();
    let summary = single.run_job(Job::Daily, date(DAY), None).await.unwrap();
    println!("single-process run of {count} in {:?}", clock.elapsed());
    if let (Some((s0, _)), Some((s1, _))) = (before, counts()) {
        report("single process", count, &s1.since(&s0));
    }
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    assert_eq!(summary.proformas_issued, count);

    let fan_mail = Arc::new(RecordingMailer::default());
    let planner = service(day.planner.clone(), fan_mail.clone());
    customers(&planner, "t", 0..count, "2026-01-31").await;
    let queue = Arc::new(queue("day").await);
    let before = counts();
    let plan = planner
        .plan(
            Job::Daily,
            date(DAY),
            queue.as_ref(),
            Sizes {
                batch: 10,
                ..Sizes::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(plan.tenants_due, count);
    if let (Some((_, p0)), Some((_, p1))) = (before, counts()) {
        report("planner", count, &p1.since(&p0));
    }
    println!(
        "planner: {} batches, {} index pages, {} SendMessageBatch requests",
        plan.batches,
        plan.pages,
        queue.requests()
    );
    let clock = std::time::Instant::now();
    let returned = run_workers(day.workers, queue.clone(), fan_mail.clone()).await;
    println!("fanned-out run of {count} in {:?}", clock.elapsed());

    assert_eq!(
        outcome(&planner, &tenants).await,
        outcome(&single, &tenants).await,
        "the same documents and e-mails"
    );
    assert_eq!(fan_mail.1.load(Ordering::SeqCst), count, "one e-mail each");
    assert_eq!(single_mail.1.load(Ordering::SeqCst), count);
    assert_eq!(assert_gapless(&planner, &tenants).await, count);
    assert_eq!(assert_gapless(&single, &tenants).await, count);
    assert!(
        day.planner
            .due_tenants(date(DAY), None, 10)
            .await
            .unwrap()
            .is_empty(),
        "nobody left due"
    );
    returned
}

/// 2,000 customers due on one day, the batches through SQS on the emulator, the state in the
/// embedded store (on the emulator's DynamoDB every transaction copies the whole table, so a
/// day of 2,000 takes hours there; the store's own contract is tested on both).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_day_of_2000_tenants_through_sqs_ends_as_the_single_process_run() {
    use renewals_local::sqlite::Durability;
    use renewals_local::SqliteStore;
    let count = std::env::var("FANOUT_TENANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().unwrap();
    let open = |name: &str| -> Arc<dyn Store> {
        Arc::new(SqliteStore::open(&dir.path().join(name), Durability::Normal).unwrap())
    };
    let fanned = open("fanned.sqlite3");
    same_day_both_ways(Day {
        count,
        single: open("single.sqlite3"),
        planner: fanned.clone(),
        workers: vec![fanned.clone(); 4],
        counted: None,
    })
    .await;
}

/// A day on DynamoDB (the emulator), with the requests of each kind counted per due tenant
/// and the numbering conflicts of concurrent workers (`FANOUT_WORKERS`, 4 unless set): the
/// counts `docs/capacity.md` uses.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_day_on_dynamodb_counts_its_requests_per_tenant() {
    let count = std::env::var("FANOUT_DYNAMODB_TENANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let single = store_on(&table("single").await).await;
    let fan_table = table("fan").await;
    let planner = store_on(&fan_table).await;
    let concurrency = std::env::var("FANOUT_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let mut workers = vec![];
    for _ in 0..concurrency {
        workers.push(store_on(&fan_table).await);
    }
    let returned = same_day_both_ways(Day {
        count,
        single: single.clone(),
        planner: planner.clone(),
        workers: workers
            .iter()
            .map(|w| w.clone() as Arc<dyn Store>)
            .collect(),
        counted: Some((single.clone(), planner.clone())),
    })
    .await;
    let worked = total(workers.iter().map(|s| s.request_counts()));
    report(&format!("{concurrency} workers"), count, &worked);
    // Commit attempts beyond one per issuing tenant are conflicts, all on the series
    // counter (each account is worked by one worker at a time).
    let attempts = worked.transact_write + worked.put;
    println!(
        "numbering: {count} documents, {attempts} commit attempts, {} conflicts, {} counter reads, {returned} batches retried",
        attempts - count as u64,
        worked.get - count as u64
    );
    assert!(attempts >= count as u64);
    item_sizes(&fan_table).await;
}

/// Prints the size of each kind of item (by sort-key prefix) as DynamoDB bills it: attribute
/// names plus values. What a write costs in WRU follows from it.
async fn item_sizes(table: &str) {
    use aws_sdk_dynamodb::types::AttributeValue;
    fn size(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.len() / 2 + 1,
            AttributeValue::B(b) => b.as_ref().len(),
            AttributeValue::M(m) => 3 + m.iter().map(|(k, v)| k.len() + size(v) + 1).sum::<usize>(),
            AttributeValue::L(l) => 3 + l.iter().map(|v| size(v) + 1).sum::<usize>(),
            _ => 1,
        }
    }
    let client = aws_sdk_dynamodb::Client::new(&emulator().await);
    let mut kinds: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        for item in page.items() {
            let Some(AttributeValue::S(sk)) = item.get(keys::SK) else {
                continue;
            };
            let kind = sk.split('#').next().unwrap().to_string();
            let bytes = item.iter().map(|(k, v)| k.len() + size(v)).sum();
            kinds.entry(kind).or_default().push(bytes);
        }
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => break,
        }
    }
    for (kind, sizes) in kinds {
        let max = sizes.iter().max().unwrap();
        let avg = sizes.iter().sum::<usize>() / sizes.len();
        println!(
            "item {kind}: {} items, {avg} B on average, {max} B at most",
            sizes.len()
        );
    }
}

/// The planner and its workers in one process (the in-memory queue), as a local run does it:
/// the same documents and e-mails as the single-process run, every series gapless.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_fan_out_in_one_process_ends_as_the_single_process_run() {
    use renewals_local::sqlite::Durability;
    use renewals_local::SqliteStore;
    let dir = tempfile::tempdir().unwrap();
    let open = |name: &str| -> Arc<dyn Store> {
        Arc::new(SqliteStore::open(&dir.path().join(name), Durability::Normal).unwrap())
    };
    let count = 40;
    let tenants: Vec<TenantId> = (0..count).map(|n| id(&format!("t-{n}"))).collect();
    let single = service(open("single.sqlite3"), Arc::default());
    customers(&single, "t", 0..count, "2026-01-31").await;
    single.run_job(Job::Daily, date(DAY), None).await.unwrap();
    let mail = Arc::new(RecordingMailer::default());
    let fanned = service(open("fanned.sqlite3"), mail.clone());
    customers(&fanned, "t", 0..count, "2026-01-31").await;

    let summary = fanned
        .run_fanned_out(Job::Daily, date(DAY), 3, Sizes { batch: 4, page: 7 })
        .await
        .unwrap();

    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    assert_eq!(summary.tenants_due, count);
    assert_eq!(summary.proformas_issued, count);
    assert_eq!(summary.emails_sent, count);
    assert_eq!(
        outcome(&fanned, &tenants).await,
        outcome(&single, &tenants).await
    );
    assert_eq!(assert_gapless(&fanned, &tenants).await, count);
}

/// The scheduled function with a work queue: the daily event plans (no tenant is worked in
/// it), a task runs as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_scheduled_function_plans_the_day_onto_the_queue() {
    use renewals_lambda::fanout::plan_scheduled;
    use renewals_lambda::handlers::ScheduledEvent;
    let table = table("scheduled").await;
    let store = store_on(&table).await;
    let mailer = Arc::new(RecordingMailer::default());
    let svc = service(store.clone(), mailer.clone());
    customers(&svc, "s", 0..3, "2026-01-31").await;
    let queue = queue("scheduled").await;
    let event = |json: &str| -> ScheduledEvent { serde_json::from_str(json).unwrap() };

    let summary = plan_scheduled(
        &svc,
        &queue,
        Job::Daily,
        event(r#"{"date": "2026-02-21"}"#),
        None,
    )
    .await
    .unwrap();

    assert_eq!(summary.tenants_due, 3);
    assert_eq!(
        summary.proformas_issued, 0,
        "the workers issue, not the planner"
    );
    let mut planned = 0;
    while let Some(received) = receive(&queue).await {
        planned += batches_of(&received)
            .iter()
            .map(|b| b.tenants.len())
            .sum::<usize>();
        acknowledge(&queue, &received, &BTreeSet::new()).await;
    }
    assert_eq!(planned, 3);
    assert!(svc.store.documents_of(&id("s-0")).await.unwrap().is_empty());

    let delivered = plan_scheduled(
        &svc,
        &queue,
        Job::Daily,
        event(r#"{"task": "deliver"}"#),
        None,
    )
    .await
    .unwrap();
    assert_eq!(delivered.job, "deliver");
}
