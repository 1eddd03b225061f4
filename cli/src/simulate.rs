//! `renewals simulate`: a test clock at scale. Tenants with a mix of products, terms and
//! payment behaviour go through M months of daily and expiry runs, paying through the
//! production webhook handler; then the invariants are checked on what the store holds.

use anyhow::{anyhow, Context};
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use renewals_app::config::{Defaults, Settings};
use renewals_app::fanout::{local_workers, Sizes};
use renewals_app::ports::{warsaw_noon, ManualClock};
use renewals_app::ports::{MailError, Mailer, OutboxMessage};
use renewals_app::service::Service;
use renewals_domain::calendar::{add_days, shift_months};
use renewals_domain::{
    Document, DocumentKind, DocumentStatus, Job, LinePurpose, PaymentMethod, Policy, Status,
    SubscriptionId, Term,
};
use renewals_local::sqlite::Durability;
use renewals_local::SqliteStore;
use renewals_przelewy24::{OfflineProvider, P24Settings};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

#[derive(Serialize)]
pub struct Report {
    pub tenants: usize,
    pub days: i64,
    pub documents: usize,
    /// E-mails in the outbox: every one the run's changes committed.
    pub emails: i64,
    /// Of those, marked sent by the simulation after each day's runs without being composed
    /// (`mark_delivered`): all of them, since the service only queues mail here.
    pub emails_marked_sent: usize,
    pub renewals: usize,
    pub elapsed_ms: u128,
    pub renewals_per_s: f64,
    pub invariants_ok: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<String>,
}

/// SplitMix64: small, seedable, good enough to mix behaviours reproducibly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Behaviour {
    OnTime,
    /// Pays during the grace period, after the period end.
    Late,
    Never,
    /// Pays on time and adds seats now and then.
    SeatChanges,
}

const PRODUCTS: [&str; 4] = [
    "business-basic",
    "business-standard",
    "business-premium",
    "apps-for-business",
];

fn valid_nip(rng: &mut Rng) -> String {
    const W: [u64; 9] = [6, 5, 7, 2, 3, 4, 5, 6, 7];
    loop {
        let digits: Vec<u64> = (0..9)
            .map(|i| {
                if i == 0 {
                    1 + rng.below(9)
                } else {
                    rng.below(10)
                }
            })
            .collect();
        let check = W.iter().zip(&digits).map(|(w, d)| w * d).sum::<u64>() % 11;
        if check < 10 {
            return digits
                .iter()
                .chain([&check])
                .map(|d| d.to_string())
                .collect();
        }
    }
}

/// The simulation's mailer is never reached: the service only queues mail and the day's
/// e-mails are marked sent (`mark_delivered`). Should a delivery reach it, the message fails
/// and stays unsent, which `check_outbox` reports as a broken invariant.
struct NoDelivery;

#[async_trait::async_trait]
impl Mailer for NoDelivery {
    async fn send(
        &self,
        _id: i64,
        _message: &OutboxMessage,
        _mime: &[u8],
    ) -> Result<(), MailError> {
        Err(MailError::Temporary(
            "simulate queues mail and marks it sent; nothing is delivered".into(),
        ))
    }
}

struct Payment {
    document: Document,
    method: PaymentMethod,
}

/// Days done, drawn on stderr only when a person watches it (never into a pipe, a file or CI).
fn progress(days: i64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(days as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("simulating {bar:40} {pos}/{len} days, {elapsed}")
            .expect("valid template"),
    );
    bar
}

/// The day's e-mails leave the outbox as a mailer that takes everything would leave them:
/// marked sent, not composed. Composing (MIME and PDF) is the delivery's work, tested and
/// measured on its own; the simulation checks what the outbox holds (see `check_outbox`).
/// Marking them sent matters: the expiry job suspends only customers who were told.
fn mark_delivered(svc: &Service, store: &SqliteStore) -> anyhow::Result<usize> {
    Ok(store.accept_due_emails(svc.clock.now())?)
}

/// The day's payments through the production webhook handler, one after another. Not on a
/// lane per core: on one SQLite connection a second lane gained nothing (docs/bench.md), and
/// settlements take their VAT-invoice numbers one at a time in a process anyway (the
/// service's `numbering` lock; before it, lanes raced on the counter and a payment that lost
/// 16 times in a row was answered 503).
async fn pay_all(svc: &Service, p24: &P24Settings, payments: Vec<Payment>) -> anyhow::Result<()> {
    for p in payments {
        let gross = p.document.totals.gross.grosze();
        let r = renewals_przelewy24::offline::pay(svc, p24, &p.document, gross, p.method).await;
        if r.status != 200 {
            return Err(anyhow!(
                "payment of {} refused: {} {}",
                p.document.number,
                r.status,
                r.body
            ));
        }
    }
    Ok(())
}

/// Runs in `<data_dir>/simulate`, made afresh and left there to inspect afterwards.
pub async fn run(
    data_dir: &Path,
    tenants: usize,
    months: u32,
    seed: u64,
) -> anyhow::Result<Report> {
    let dir = data_dir.join("simulate");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("removing the last simulation in {}", dir.display()))?;
    }
    let settings = Settings::from_env(Defaults::Local)?;
    let policy = settings.policy.clone();
    let start = NaiveDate::from_ymd_opt(2026, 1, 1).expect("valid date");
    let end = shift_months(start, months, 1);
    let clock = Arc::new(ManualClock::new(warsaw_noon(start)));
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating the simulation's folder {}", dir.display()))?;
    // One store shared by the service and the invariant checks.
    let store = Arc::new(SqliteStore::open(
        &dir.join("renewals.sqlite3"),
        Durability::Scratch,
    )?);
    let p24 = P24Settings::from_env(Defaults::Local)?;
    let svc = Arc::new(
        crate::app::service(
            store.clone(),
            Arc::new(NoDelivery),
            Arc::new(OfflineProvider::new(p24.clone())),
            clock.clone(),
            settings,
        )
        // As `renewals serve` does, a commit that queues mail wakes a deliverer instead of
        // delivering inline; here nobody listens, and the day's mail is marked sent after each
        // run (`mark_delivered`). Composing is delivery's work, measured on its own.
        .with_deliverer(Arc::new(tokio::sync::Notify::new())),
    );

    let mut rng = Rng(seed);
    let mut behaviour = HashMap::new();
    let mut first_end: HashMap<SubscriptionId, NaiveDate> = HashMap::new();
    let mut seat_subs: Vec<(SubscriptionId, Term)> = vec![];
    for i in 0..tenants {
        let id = renewals_domain::TenantId::parse(&format!("t{i:06}"))?;
        let b = match rng.below(100) {
            0..=64 => Behaviour::OnTime,
            65..=79 => Behaviour::Late,
            80..=89 => Behaviour::Never,
            _ => Behaviour::SeatChanges,
        };
        let method = match rng.below(3) {
            0 => renewals_domain::PaymentMethod::Blik,
            1 => renewals_domain::PaymentMethod::Transfer,
            _ => renewals_domain::PaymentMethod::Card,
        };
        svc.add_tenant(renewals_domain::Tenant {
            id: id.clone(),
            name: format!("Firma {i} sp. z o.o."),
            nip: renewals_domain::Nip::parse(&valid_nip(&mut rng))?,
            // A VAT invoice needs the buyer's address; a few customers have not given theirs
            // (their invoices wait, and the operator is told).
            address: if rng.chance(98) {
                format!(
                    "ul. Przemysłowa {}, 00-{:03} Warszawa",
                    1 + i % 200,
                    i % 1000
                )
            } else {
                String::new()
            },
            address2: None,
            country: "PL".into(),
            email: renewals_domain::EmailAddress::parse(&format!("faktury@t{i:06}.example.pl"))?,
            locale: if rng.chance(80) {
                renewals_domain::Locale::Pl
            } else {
                renewals_domain::Locale::En
            },
            payment_method: method,
        })
        .await?;
        behaviour.insert(id.clone(), (b, method));
        for _ in 0..1 + rng.below(2) {
            let term = if rng.chance(80) {
                Term::Monthly
            } else {
                Term::Annual
            };
            // Started before the simulation so subscriptions are mid-period on day one.
            let back = match term {
                Term::Monthly => 1 + rng.below(27),
                Term::Annual => 31 + rng.below(300),
            };
            let sub_start = add_days(start, -(back as i64));
            let product = PRODUCTS[rng.below(4) as usize];
            let seats = 1 + rng.below(30) as u32;
            let sub = svc
                .add_subscription(&id, product, seats, term, sub_start)
                .await?;
            let account = svc.account(&id).await?;
            let s = account.subscription(&sub)?;
            first_end.insert(sub.clone(), s.period.end);
            if b == Behaviour::SeatChanges {
                seat_subs.push((sub, term));
            }
        }
    }

    // The planner and its workers, as `renewals run` does.
    let workers = local_workers();
    let began = Instant::now();
    let bar = progress((end - start).num_days());
    let mut payments: BTreeMap<NaiveDate, Vec<Payment>> = BTreeMap::new();
    let mut emails_marked_sent = 0;
    let mut day = start;
    while day < end {
        clock.set(warsaw_noon(day));
        let daily = svc
            .work_fanned_out(Job::Daily, day, workers, Sizes::default())
            .await?;
        if let Some(f) = daily.failures.first() {
            return Err(anyhow!(
                "daily run on {day} failed for {}: {}",
                f.tenant,
                f.error
            ));
        }
        // The day's e-mails are out before anything later in the day looks at who was told.
        emails_marked_sent += mark_delivered(&svc, &store)?;
        // Seat additions by the tenants that make them, then payment plans for new documents.
        for (sub, _) in &seat_subs {
            if rng.chance(2) {
                let _ = svc.add_seats(sub, 1 + rng.below(3) as u32, day).await;
            }
        }
        for doc in store.documents_issued_on(day)? {
            let (b, method) = behaviour[&doc.tenant];
            let pay_on = match (b, doc.kind) {
                (Behaviour::Never, _) => continue,
                (Behaviour::Late, DocumentKind::Proforma) => add_days(
                    doc.period.start,
                    1 + rng.below(policy.grace_days as u64 - 1) as i64,
                ),
                _ => {
                    let slack = (doc.due_date - day).num_days().max(0) as u64;
                    add_days(day, rng.below(slack.min(5) + 1) as i64)
                }
            };
            payments.entry(pay_on).or_default().push(Payment {
                document: doc,
                method,
            });
        }
        pay_all(&svc, &p24, payments.remove(&day).unwrap_or_default()).await?;
        let expiry = svc
            .work_fanned_out(Job::Expiry, day, workers, Sizes::default())
            .await?;
        if let Some(f) = expiry.failures.first() {
            return Err(anyhow!(
                "expiry run on {day} failed for {}: {}",
                f.tenant,
                f.error
            ));
        }
        emails_marked_sent += mark_delivered(&svc, &store)?;
        day = add_days(day, 1);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let elapsed = began.elapsed();

    let documents = store.all_documents()?;
    let renewals = documents
        .iter()
        .filter(|d| d.kind == DocumentKind::Proforma && d.status == DocumentStatus::Paid)
        .map(|d| d.lines.len())
        .sum();
    let last_day = add_days(end, -1);
    let mut violations = check(
        &store, &documents, &behaviour, &first_end, &policy, last_day,
    )?;
    violations.extend(check_outbox(&store, &documents).await?);
    let report = Report {
        tenants,
        days: (end - start).num_days(),
        documents: documents.len(),
        emails: store.count("outbox")?,
        emails_marked_sent,
        renewals,
        elapsed_ms: elapsed.as_millis(),
        renewals_per_s: (renewals as f64 / elapsed.as_secs_f64() * 10.0).round() / 10.0,
        invariants_ok: violations.is_empty(),
        violations: violations.into_iter().take(20).collect(),
    };
    Ok(report)
}

/// What the outbox must hold: every pro-forma and order was e-mailed to its tenant, and
/// every paid one has its payment confirmation; no e-mail is left unsent.
async fn check_outbox(store: &SqliteStore, documents: &[Document]) -> anyhow::Result<Vec<String>> {
    use renewals_app::ports::Store;
    let mut v = vec![];
    let mut by_tenant: BTreeMap<&renewals_domain::TenantId, Vec<&Document>> = BTreeMap::new();
    for d in documents {
        by_tenant.entry(&d.tenant).or_default().push(d);
    }
    for (tenant, docs) in by_tenant {
        let emails = store.emails_of(tenant).await?;
        let has = |kind: &str, number: &str| {
            emails
                .iter()
                .any(|m| m.kind == kind && m.document.as_deref() == Some(number))
        };
        for d in docs {
            let number = d.number.to_string();
            let kind = d.kind.as_str();
            if !has(kind, &number) {
                v.push(format!("{number}: no {kind} e-mail in the outbox"));
            }
            let confirmation = match d.kind {
                DocumentKind::Order => "order-paid",
                DocumentKind::Proforma => "payment-confirmation",
            };
            if d.status == DocumentStatus::Paid && !has(confirmation, &number) {
                v.push(format!("{number}: paid without its {confirmation} e-mail"));
            }
        }
    }
    let unsent = store.unsent(1).await?;
    if let Some(m) = unsent.first() {
        v.push(format!("e-mail {} left unsent", m.message.key));
    }
    Ok(v)
}

/// The invariants, checked on the stored state; each violation is one line.
fn check(
    store: &SqliteStore,
    documents: &[Document],
    behaviour: &HashMap<renewals_domain::TenantId, (Behaviour, PaymentMethod)>,
    first_end: &HashMap<SubscriptionId, NaiveDate>,
    policy: &Policy,
    last_day: NaiveDate,
) -> anyhow::Result<Vec<String>> {
    let mut v = vec![];
    // Numbering: every series-month is 1..=n with no gap and no duplicate.
    let mut series: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for d in documents {
        series
            .entry(d.number.series_key().to_string())
            .or_default()
            .push(d.number.seq);
    }
    for (key, mut seqs) in series {
        seqs.sort();
        if seqs.iter().enumerate().any(|(i, s)| *s != i as u32 + 1) {
            v.push(format!("numbering of {key} is not 1..{}", seqs.len()));
        }
    }
    // One renewal pro-forma line per subscription and period; paid periods contiguous.
    let mut paid: BTreeMap<SubscriptionId, Vec<renewals_domain::Period>> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for d in documents
        .iter()
        .filter(|d| d.kind == DocumentKind::Proforma)
    {
        for l in d.lines.iter().filter(|l| l.purpose == LinePurpose::Renewal) {
            if d.status != DocumentStatus::Cancelled
                && !seen.insert((l.subscription.clone(), l.period.start))
            {
                v.push(format!(
                    "{} billed twice for {}",
                    l.subscription, l.period.start
                ));
            }
            if d.status == DocumentStatus::Paid {
                paid.entry(l.subscription.clone())
                    .or_default()
                    .push(l.period);
            }
        }
    }
    let accounts = store.all_accounts()?;
    for account in &accounts {
        let (b, _) = behaviour[&account.tenant.id];
        for sub in &account.subscriptions {
            let mut periods = paid.get(&sub.id).cloned().unwrap_or_default();
            // Numbers past 9999 in a month have five digits, so number order is not date order.
            periods.sort_by_key(|p| p.start);
            let mut expected_start = first_end[&sub.id];
            for p in &periods {
                if p.start != expected_start {
                    v.push(format!(
                        "{}: paid period starts {} instead of {expected_start}",
                        sub.id, p.start
                    ));
                }
                expected_start = p.end;
            }
            // Every paid period was activated: the one running today is the active period.
            for p in periods.iter().filter(|p| p.start <= last_day) {
                let running = p.contains(last_day);
                if (running && (sub.status != Status::Active || sub.period != *p))
                    || sub.period.start < p.start
                {
                    v.push(format!(
                        "{}: paid period {}..{} was not activated",
                        sub.id, p.start, p.end
                    ));
                }
            }
            let never_paid_end = first_end[&sub.id];
            if b == Behaviour::Never
                && add_days(never_paid_end, policy.grace_days) <= last_day
                && sub.status != Status::Suspended
            {
                v.push(format!(
                    "{}: never paid but {}",
                    sub.id,
                    sub.status.as_str()
                ));
            }
            if matches!(sub.status, Status::Active)
                && sub.auto_renew
                && sub.renewal.is_none()
                && policy.issue_date(sub) <= last_day
            {
                v.push(format!("{}: renewal pro-forma missing", sub.id));
            }
        }
    }
    Ok(v)
}
