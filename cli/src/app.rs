//! Wiring for the CLI: the embedded store, the outbox mailer and output formatting.

use anyhow::Context;
use renewals_app::config::{Defaults, Settings};
use renewals_app::jobs::RunSummary;
use renewals_app::ports::{
    warsaw_noon, Clock, FixedClock, Ksef, Mailer, Microsoft, PaymentProvider, Store, SystemClock,
};
use renewals_app::service::Service;
use renewals_app::settlement::Settlement;
use renewals_app::transfers::ImportReport;
use renewals_domain::PaymentOutcome;
use renewals_email::Renderer;
use renewals_local::sqlite::{Durability, OpenError};
use renewals_local::{OutboxMailer, SqliteStore};
use renewals_microsoft::{OfflineMicrosoft, PartnerCenter, PartnerCenterSettings};
use renewals_przelewy24::{OfflineProvider, P24Settings, Przelewy24Client};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;

pub struct Output {
    pub json: bool,
}

impl Output {
    pub fn print<T: Serialize>(&self, value: &T, text: impl FnOnce() -> String) {
        if self.json {
            say(&serde_json::to_string(value).expect("views serialise"));
        } else {
            say(&text());
        }
    }
}

/// One line (or several) on stdout. When the reader has gone (`renewals … | head -1`) the
/// command ends quietly, with the status of a Unix tool stopped by SIGPIPE, instead of
/// panicking; the work it did before is committed either way.
pub fn say(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        eprintln!("renewals: writing to stdout: {e}");
        std::process::exit(1);
    }
}

/// Where the CLI keeps state: the embedded store in a folder, or a DynamoDB table.
pub struct Target {
    pub dir: std::path::PathBuf,
    pub table: Option<String>,
}

/// How a command opens the embedded store and which Przelewy24 it talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Open {
    /// Create the database when the folder has none (`init`, `tenant add`, `demo`); every
    /// other command refuses a folder that was never initialised.
    pub create: bool,
    /// Play Przelewy24 offline whatever the environment says (`pay`, `demo`, `simulate`).
    pub offline: bool,
}

impl Open {
    pub const EXISTING: Open = Open {
        create: false,
        offline: false,
    };
    pub const CREATE: Open = Open {
        create: true,
        offline: false,
    };
    pub const PLAY: Open = Open {
        create: false,
        offline: true,
    };
}

/// Przelewy24 for real (`renewals_przelewy24::Przelewy24Client`) when `P24_BASE_URL` is set,
/// as in Lambda; otherwise, and always for what plays the provider, the offline stand-in.
pub fn provider(p24: &P24Settings, offline: bool) -> Arc<dyn PaymentProvider> {
    let configured = std::env::var("P24_BASE_URL").is_ok_and(|v| !v.trim().is_empty());
    if configured && !offline {
        Arc::new(Przelewy24Client::new(p24.clone()))
    } else {
        Arc::new(OfflineProvider::new(p24.clone()))
    }
}

/// The embedded database of a data folder.
pub fn database(dir: &Path) -> std::path::PathBuf {
    dir.join("renewals.sqlite3")
}

/// Opens (or, with `create`, creates) the embedded store of a data folder; a store that
/// will not open is one line that says what to do.
pub fn open_store(dir: &Path, durability: Durability, create: bool) -> anyhow::Result<SqliteStore> {
    let path = database(dir);
    let opened = if create {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the data folder {}", dir.display()))?;
        SqliteStore::open(&path, durability)
    } else {
        SqliteStore::open_existing(&path, durability)
    };
    opened.map_err(|e| match e.downcast_ref::<OpenError>() {
        Some(OpenError::Missing(_)) => anyhow::anyhow!(
            "{} was never initialised (no renewals.sqlite3): create it with `renewals init` or the first `renewals tenant add` (same --data-dir), or pass the right --data-dir",
            dir.display()
        ),
        Some(OpenError::Empty(_)) => anyhow::anyhow!(
            "{e}: restore it from a backup, or remove it and run `renewals init` to start an empty one"
        ),
        Some(OpenError::NotInitialised(_)) => {
            anyhow::anyhow!("{e}: pass the right --data-dir, or move it away and run `renewals init`")
        }
        Some(OpenError::Damaged { .. }) => anyhow::anyhow!(
            "{e}; stop here and restore it from a backup (`sqlite3 … .recover` may save the rest)"
        ),
        None => e,
    })
}

/// The service on the embedded store in `dir`, or on DynamoDB and SES. `date` pins the clock
/// to noon in Warsaw on that business date.
pub async fn open_service(
    target: &Target,
    date: Option<chrono::NaiveDate>,
    open: Open,
) -> anyhow::Result<Service> {
    let settings = Settings::from_env(Defaults::Local)?;
    let p24 = P24Settings::from_env(Defaults::Local)?;
    let Some(table) = &target.table else {
        return open_with(&target.dir, settings, &p24, date, Durability::Normal, open);
    };
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = renewals_dynamodb::DynamoStore::from_conf(&sdk, table.clone());
    let mailer = renewals_ses::SesMailer::new(
        aws_sdk_sesv2::Client::new(&sdk),
        settings.mail.sender.clone(),
    );
    let provider = Przelewy24Client::new(p24);
    let svc = service(
        Arc::new(store),
        Arc::new(mailer),
        Arc::new(provider),
        clock(date),
        settings,
    );
    // On DynamoDB only the real Partner Center and KSeF: nothing is played there.
    let svc = match PartnerCenterSettings::from_env()? {
        Some(pc) => svc.with_microsoft(Arc::new(PartnerCenter::new(pc)?)),
        None => svc,
    };
    Ok(match ksef(None)? {
        Some(k) => svc.with_ksef(k),
        None => svc,
    })
}

/// KSeF for real when `KSEF_BASE_URL` is set (`KSEF_TOKEN`, the seller's NIP as context);
/// otherwise, where playing is allowed (`dir` given: the embedded store), the offline
/// stand-in, which keeps what it accepted in `<data-dir>/ksef.json` so that separate runs
/// agree. On DynamoDB without `KSEF_BASE_URL` there is none: invoices wait in their outbox.
pub fn ksef(dir: Option<&Path>) -> anyhow::Result<Option<Arc<dyn Ksef>>> {
    if let Some(settings) = renewals_ksef::KsefSettings::from_env()? {
        return Ok(Some(Arc::new(renewals_ksef::HttpKsef::new(settings)?)));
    }
    match dir {
        Some(dir) => Ok(Some(Arc::new(
            renewals_ksef::OfflineKsef::with_file(dir.join("ksef.json"))
                .with_context(|| format!("opening {}/ksef.json", dir.display()))?,
        ))),
        None => Ok(None),
    }
}

/// Partner Center for real when `PARTNER_CENTER_*` are set (and nothing is being played);
/// otherwise the offline stand-in, which records what it would have done in
/// `<data-dir>/microsoft.jsonl`.
pub fn microsoft(dir: &Path, offline: bool) -> anyhow::Result<Arc<dyn Microsoft>> {
    match PartnerCenterSettings::from_env()? {
        Some(pc) if !offline => Ok(Arc::new(PartnerCenter::new(pc)?)),
        _ => Ok(Arc::new(OfflineMicrosoft::new(Some(
            dir.join("microsoft.jsonl"),
        )))),
    }
}

pub fn clock(date: Option<chrono::NaiveDate>) -> Arc<dyn Clock> {
    match date {
        Some(d) => Arc::new(FixedClock(warsaw_noon(d))),
        None => Arc::new(SystemClock),
    }
}

/// The service over a store, a mailer and a payment provider, with the e-mail templates.
pub fn service(
    store: Arc<dyn Store>,
    mailer: Arc<dyn Mailer>,
    provider: Arc<dyn PaymentProvider>,
    clock: Arc<dyn Clock>,
    settings: Settings,
) -> Service {
    let composer = Arc::new(Renderer::from_settings(&settings));
    Service::new(store, mailer, Some(provider), composer, clock, settings)
}

pub fn open_with(
    dir: &Path,
    settings: Settings,
    p24: &P24Settings,
    date: Option<chrono::NaiveDate>,
    durability: Durability,
    open: Open,
) -> anyhow::Result<Service> {
    let store = open_store(dir, durability, open.create)?;
    let mailer = OutboxMailer::new(dir.join("outbox"))
        .with_context(|| format!("creating {}/outbox", dir.display()))?;
    Ok(service(
        Arc::new(store),
        Arc::new(mailer),
        provider(p24, open.offline),
        clock(date),
        settings,
    )
    .with_microsoft(microsoft(dir, open.offline)?)
    .with_ksef(ksef(Some(dir))?.expect("the offline stand-in is allowed here")))
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

/// The statement files to import: the file itself, or every file directly in a folder (not
/// hidden ones), in name order.
pub fn statement_files(path: &std::path::Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    use anyhow::Context;
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = vec![];
    for entry in std::fs::read_dir(path).with_context(|| format!("reading {}", path.display()))? {
        let entry = entry.with_context(|| format!("reading {}", path.display()))?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if entry.path().is_file() && !hidden {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// A folder imported: each file's outcome, and the files refused.
#[derive(serde::Serialize)]
pub struct FolderImport<'a> {
    pub files: &'a [renewals_bank::FileImport],
    pub refused: &'a [String],
}

pub fn file_line(f: &renewals_bank::FileImport) -> String {
    match f {
        renewals_bank::FileImport::Imported { file, report } => {
            format!("{file}: {}", import_lines(report))
        }
        renewals_bank::FileImport::AlreadyImported { file, earlier } => {
            format!("{file}: already imported (as {earlier}), nothing done")
        }
    }
}

pub fn folder_lines(v: &FolderImport) -> String {
    let new = v
        .files
        .iter()
        .filter(|f| matches!(f, renewals_bank::FileImport::Imported { .. }))
        .count();
    let mut lines = vec![format!(
        "{} file(s): {new} imported, {} already imported, {} refused",
        v.files.len() + v.refused.len(),
        v.files.len() - new,
        v.refused.len()
    )];
    lines.extend(v.files.iter().map(file_line));
    lines.extend(v.refused.iter().map(|r| format!("refused: {r}")));
    lines.join("\n")
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
        let surplus = m
            .surplus
            .map(|s| format!(" (overpaid: {s} zł recorded for refund or credit)"))
            .unwrap_or_default();
        lines.push(format!(
            "  matched   {} {} zł → {}: {}{surplus}",
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

/// What in a run needs a person, on one line: e-mails that failed (tried again later, or
/// parked after their last attempt) and suspensions held because the customer was never
/// reached.
pub fn attention_line(s: &RunSummary) -> Option<String> {
    let mut parts = vec![];
    if s.emails_failed > 0 {
        let retried = s.emails_failed - s.emails_parked;
        parts.push(format!(
            "{} e-mail(s) could not be sent: {retried} stay in the outbox and are tried again by a later run, {} parked after their last attempt",
            s.emails_failed, s.emails_parked
        ));
    }
    if s.suspensions_held > 0 {
        parts.push(format!(
            "{} suspension(s) held: no e-mail about the document reached the customer; contact them",
            s.suspensions_held
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
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
    if s.invoices_sent + s.invoices_accepted + s.invoices_rejected + s.invoices_parked > 0 {
        line.push_str(&format!(
            "; KSeF: {} invoice(s) sent, {} accepted, {} rejected, {} parked",
            s.invoices_sent, s.invoices_accepted, s.invoices_rejected, s.invoices_parked
        ));
    }
    for f in &s.failures {
        line.push_str(&format!("\n  failed: {}: {}", f.tenant, f.error));
    }
    line
}
