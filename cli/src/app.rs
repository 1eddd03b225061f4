//! Wiring for the CLI: the embedded store, the outbox mailer and output formatting.

use anyhow::Context;
use renewals_app::config::{Defaults, Settings};
use renewals_app::jobs::RunSummary;
use renewals_app::ports::{warsaw_noon, Clock, FixedClock, SystemClock};
use renewals_app::service::Service;
use renewals_app::transfers::ImportReport;
use renewals_app::webhook::Settlement;
use renewals_domain::PaymentMethod;
use renewals_domain::PaymentOutcome;
use renewals_local::sqlite::Durability;
use renewals_local::{OfflineProvider, OutboxMailer, SqliteStore};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;

pub struct Output {
    pub json: bool,
}

impl Output {
    pub fn print<T: Serialize>(&self, value: &T, text: impl FnOnce() -> String) {
        if self.json {
            println!("{}", serde_json::to_string(value).expect("views serialise"));
        } else {
            println!("{}", text());
        }
    }
}

/// Where the CLI keeps state: the embedded store in a folder, or a DynamoDB table.
pub struct Target {
    pub dir: std::path::PathBuf,
    pub table: Option<String>,
}

/// The service on the embedded store in `dir` (with the offline Przelewy24 for `pay`), or on
/// DynamoDB and SES. `date` pins the clock to noon in Warsaw on that business date.
pub async fn open_service(
    target: &Target,
    date: Option<chrono::NaiveDate>,
) -> anyhow::Result<Service> {
    let settings = Settings::from_env(Defaults::Local)?;
    let Some(table) = &target.table else {
        return open_with(&target.dir, settings, date, Durability::Normal);
    };
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = renewals_dynamodb::DynamoStore::from_conf(&sdk, table.clone());
    let mailer = renewals_ses::SesMailer::new(
        aws_sdk_sesv2::Client::new(&sdk),
        settings.mail.sender.clone(),
    );
    let provider = renewals_app::przelewy24::Przelewy24Client::new(settings.p24.clone());
    Ok(Service::new(
        Arc::new(store),
        Arc::new(mailer),
        Arc::new(provider),
        clock(date),
        settings,
    ))
}

fn clock(date: Option<chrono::NaiveDate>) -> Arc<dyn Clock> {
    match date {
        Some(d) => Arc::new(FixedClock(warsaw_noon(d))),
        None => Arc::new(SystemClock),
    }
}

pub fn open_with(
    dir: &Path,
    settings: Settings,
    date: Option<chrono::NaiveDate>,
    durability: Durability,
) -> anyhow::Result<Service> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the data folder {}", dir.display()))?;
    let store = SqliteStore::open(&dir.join("renewals.sqlite3"), durability)?;
    let mailer = OutboxMailer::new(dir.join("outbox"))
        .with_context(|| format!("creating {}/outbox", dir.display()))?;
    let provider = OfflineProvider::new(settings.p24.clone());
    Ok(Service::new(
        Arc::new(store),
        Arc::new(mailer),
        Arc::new(provider),
        clock(date),
        settings,
    ))
}

/// A stable provider order id for a simulated payment: paying the same document the same
/// amount again is the same payment, so `pay` is safe to repeat.
pub fn order_id(session_id: &str, amount: i64) -> i64 {
    let h = Sha256::digest(format!("{session_id}:{amount}").as_bytes());
    (u32::from_be_bytes([h[0], h[1], h[2], h[3]]) >> 1) as i64
}

/// Przelewy24 method ids as the provider reports them (BLIK 154, card 218, transfer 25).
pub fn method_id(method: PaymentMethod) -> i64 {
    match method {
        PaymentMethod::Blik => 154,
        PaymentMethod::Card => 218,
        PaymentMethod::Transfer => 25,
    }
}

pub fn settlement_line(document: &str, s: &Settlement) -> String {
    match s {
        Settlement::AlreadyRecorded => "this transfer was already recorded; nothing changed".into(),
        Settlement::Review { reason } => {
            format!("not applied to {document}: {reason}; recorded for review, operator alerted")
        }
        Settlement::Applied { outcome } => match outcome {
            PaymentOutcome::Activated { late: false } => format!("{document} paid"),
            PaymentOutcome::Activated { late: true } => {
                format!("{document} paid (after its due date)")
            }
            PaymentOutcome::Restored => {
                format!("{document} paid: the suspended subscription is bought again")
            }
            PaymentOutcome::RefundFlagged { reason } => {
                format!("recorded but not activated: {reason}; flagged for refund")
            }
        },
    }
}

pub fn import_lines(r: &ImportReport) -> String {
    let mut lines = vec![format!(
        "{} credit(s): {} matched, {} for review, {} already recorded",
        r.credits,
        r.matched.len(),
        r.unmatched.len(),
        r.already_recorded
    )];
    for m in &r.matched {
        lines.push(format!(
            "  matched   {} {} zł → {}: {}",
            m.reference,
            m.amount,
            m.document,
            settlement_line(&m.document, &m.settlement)
        ));
    }
    for u in &r.unmatched {
        lines.push(format!(
            "  review    {} {} zł \"{}\": {}",
            u.reference, u.amount, u.title, u.reason
        ));
    }
    lines.join("\n")
}

pub fn summary_line(s: &RunSummary) -> String {
    let mut line = format!(
        "{} run for {}: {} tenant(s) due; {} pro-forma(s) issued, {} reminder(s), {} overdue, {} period(s) started, {} ended, {} suspended, {} order(s) expired; {} e-mail(s) sent",
        s.job,
        s.date,
        s.tenants_due,
        s.proformas_issued,
        s.reminders_sent,
        s.overdue,
        s.periods_started,
        s.ended,
        s.suspended,
        s.orders_expired,
        s.emails_sent
    );
    for f in &s.failures {
        line.push_str(&format!("\n  failed: {}: {}", f.tenant, f.error));
    }
    line
}
