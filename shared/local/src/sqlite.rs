//! The embedded store on SQLite: one row per account with a version, unique keys for every
//! idempotent fact (document number, session id, e-mail key, payment order id), and each
//! change written in one `BEGIN IMMEDIATE` transaction.

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use renewals_app::audit::AuditEntry;
use renewals_app::ports::{
    Change, Content, KsefStatus, Loaded, OutboxMessage, PaymentRecord, Retry, ReviewItem, Store,
    StoreError, StoredCommand, StoredInvoice, StoredMessage, Submission,
};
use renewals_domain::{
    Account, Document, DocumentNumber, InvoiceNumber, InvoiceSeries, SeriesKey, SessionId,
    SubscriptionId, TenantId,
};
use rusqlite::{params, Connection, ErrorCode, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS accounts (
    tenant TEXT PRIMARY KEY, version INTEGER NOT NULL, next_action TEXT, body TEXT NOT NULL);
DROP INDEX IF EXISTS accounts_due;
CREATE INDEX IF NOT EXISTS accounts_due_tenant ON accounts(next_action, tenant);
CREATE TABLE IF NOT EXISTS subscriptions (id TEXT PRIMARY KEY, tenant TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    number TEXT PRIMARY KEY, tenant TEXT NOT NULL, session_id TEXT NOT NULL UNIQUE,
    issue_date TEXT NOT NULL, status TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS documents_tenant ON documents(tenant);
CREATE INDEX IF NOT EXISTS documents_issued ON documents(issue_date);
CREATE TABLE IF NOT EXISTS counters (series TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, tenant TEXT NOT NULL,
    kind TEXT NOT NULL, recipient TEXT NOT NULL, subject TEXT NOT NULL, document TEXT,
    date TEXT NOT NULL, mime BLOB, sent INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt INTEGER NOT NULL DEFAULT 0,
    parked INTEGER NOT NULL DEFAULT 0, last_error TEXT, letter TEXT,
    CHECK ((mime IS NULL) <> (letter IS NULL)));
CREATE INDEX IF NOT EXISTS outbox_tenant ON outbox(tenant);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox(id) WHERE sent = 0;
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(next_attempt, id) WHERE sent = 0 AND parked = 0;
CREATE TABLE IF NOT EXISTS payments (key TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reviews (key TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_tenant ON audit(tenant, id);
CREATE TABLE IF NOT EXISTS bank_notes (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS microsoft_commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, tenant TEXT NOT NULL,
    body TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL DEFAULT 0, parked INTEGER NOT NULL DEFAULT 0,
    last_error TEXT);
CREATE INDEX IF NOT EXISTS microsoft_commands_tenant ON microsoft_commands(tenant);
CREATE INDEX IF NOT EXISTS microsoft_commands_due ON microsoft_commands(next_attempt, id)
    WHERE done = 0 AND parked = 0;
CREATE TABLE IF NOT EXISTS invoices (
    number TEXT PRIMARY KEY, tenant TEXT NOT NULL, settles TEXT NOT NULL UNIQUE,
    payment TEXT NOT NULL UNIQUE, body TEXT NOT NULL, xml BLOB, sha256 TEXT, upo BLOB,
    status TEXT NOT NULL, sent TEXT, ksef_number TEXT, reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt INTEGER NOT NULL,
    parked INTEGER NOT NULL DEFAULT 0, issued_at INTEGER NOT NULL,
    late_alerted INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS invoices_tenant ON invoices(tenant);
CREATE INDEX IF NOT EXISTS invoices_due ON invoices(next_attempt, number)
    WHERE status IN ('pending', 'sent') AND parked = 0;
";

/// How durable each commit is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// WAL with `synchronous=NORMAL`: survives a crash of the process.
    Normal,
    /// No syncing at all, for throw-away simulations.
    Scratch,
}

/// What the WAL file is cut back to when SQLite starts it over (`journal_size_limit`): room for
/// the pages `checkpoint_in_background` lets it hold, so a busy server overwrites the same
/// blocks instead of growing the file.
const WAL_KEPT_BYTES: i64 = 128 << 20;

/// How many accounts `Written` keeps before it starts over (about 3 KB each in memory).
const WRITTEN_KEPT: usize = 16_384;

pub struct SqliteStore {
    /// Shared (weakly) with the background checkpointer, which holds it while it starts the
    /// WAL over.
    conn: Arc<Mutex<Connection>>,
    written: Mutex<Written>,
}

/// The accounts this store wrote, each with the version it wrote: a load that finds that
/// version stored takes the account from here instead of parsing the row's JSON again (which
/// was 11 % of `simulate`'s samples; nearly every load follows this process's last write of
/// the account). Any other writer, another process included, moves the version, so an entry
/// that is not current is never used.
#[derive(Default)]
struct Written(std::collections::HashMap<String, (u64, Account)>);

impl Written {
    fn get(&self, tenant: &str, version: u64) -> Option<Account> {
        match self.0.get(tenant) {
            Some((v, account)) if *v == version => Some(account.clone()),
            _ => None,
        }
    }

    /// After the transaction that wrote `change` committed.
    fn remember(&mut self, change: Change) {
        let Some(account) = change.account else {
            return;
        };
        if self.0.len() >= WRITTEN_KEPT {
            self.0.clear();
        }
        // As the SQL does: a new account is written at 1, an update adds one.
        let version = change.version + 1;
        self.0
            .insert(account.tenant.id.as_str().to_string(), (version, account));
    }
}

fn unexpected(e: impl Into<anyhow::Error>) -> StoreError {
    StoreError::Unexpected(e.into())
}

/// A unique key or a version check refused the write: someone else was first.
fn conflict_or(e: rusqlite::Error, what: &str) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation => {
            StoreError::Conflict(format!("{what}: {e}"))
        }
        _ => unexpected(anyhow::Error::new(e).context(what.to_string())),
    }
}

/// Runs a statement from the connection's statement cache.
fn exec(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(p)
}

/// The first column of the first row, if any, from a cached statement.
fn one<T: rusqlite::types::FromSql>(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> rusqlite::Result<Option<T>> {
    conn.prepare_cached(sql)?
        .query_row(p, |r| r.get(0))
        .optional()
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(unexpected)
}

fn parse<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(unexpected)
}

/// Why the embedded store did not open. Each is one line; the CLI adds what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Nothing at the path: a folder that was never initialised, or the wrong folder.
    #[error("no embedded database at {0}")]
    Missing(PathBuf),
    /// A 0-byte file is a lost or truncated database, never a fresh one.
    #[error("the embedded database {0} is empty (0 bytes)")]
    Empty(PathBuf),
    /// An SQLite file without our tables.
    #[error("{0} is not a renewals database (it has no accounts table)")]
    NotInitialised(PathBuf),
    /// SQLite's `quick_check` found damage.
    #[error("the embedded database {path} failed SQLite's integrity check: {detail}")]
    Damaged { path: PathBuf, detail: String },
}

impl SqliteStore {
    /// Opens the store at `path`, creating it (and its tables) when nothing is there yet:
    /// what `init`, the first tenant and the tests use. An existing file must not be empty
    /// and must pass SQLite's integrity check.
    pub fn open(path: &Path, durability: Durability) -> anyhow::Result<SqliteStore> {
        Self::connect(path, durability, true)
    }

    /// Opens a store that must already exist: what the jobs and the server use, so that a
    /// wrong or lost data folder is an error rather than a fresh, empty business.
    pub fn open_existing(path: &Path, durability: Durability) -> anyhow::Result<SqliteStore> {
        Self::connect(path, durability, false)
    }

    fn connect(path: &Path, durability: Durability, create: bool) -> anyhow::Result<SqliteStore> {
        let existing = match std::fs::metadata(path) {
            Ok(m) if m.len() == 0 => return Err(OpenError::Empty(path.to_path_buf()).into()),
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !create {
                    return Err(OpenError::Missing(path.to_path_buf()).into());
                }
                false
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("reading the embedded store {}", path.display()))
            }
        };
        let conn = Connection::open(path)
            .with_context(|| format!("opening the embedded store {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        if existing {
            Self::check(&conn, path, create)?;
        }
        match durability {
            Durability::Normal => {
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn.pragma_update(None, "synchronous", "NORMAL")?;
            }
            Durability::Scratch => {
                // One process, nothing to survive: keep the rollback journal in memory.
                conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
                conn.pragma_update(None, "journal_mode", "MEMORY")?;
                conn.pragma_update(None, "synchronous", "OFF")?;
            }
        }
        conn.set_prepared_statement_cache_capacity(64);
        add_delivery_columns(&conn).context("adding the outbox's delivery columns")?;
        add_letters(&conn).context("letting the outbox keep letters instead of MIME")?;
        conn.execute_batch(SCHEMA)
            .context("creating the embedded store's tables")?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            written: Mutex::default(),
        })
    }

    /// Takes WAL checkpoints off the commit path, for a long-running server: this store's
    /// connection stops checkpointing when a commit fills the WAL (SQLite's default, which
    /// copies the WAL into the database and syncs it inside whichever commit crosses 1,000
    /// pages, so one request in many waits for a sync), and a thread with a connection of its
    /// own checkpoints every `every` instead. A passive checkpoint never blocks a writer.
    ///
    /// Under a steady stream of commits a passive checkpoint never catches up with the last
    /// commit (the writer appends while it copies and syncs), and SQLite starts the WAL over
    /// only when it has: the WAL grew by about 100 KB per first payment, without end (650 MB
    /// in three seconds of `renewals-bench webhook`). So once it holds `restart_after` pages
    /// the checkpointer takes this store's connection (no commit of ours runs meanwhile, and
    /// nobody waits in SQLite's sleeping busy handler), copies the rest and lets the next
    /// commit start the WAL from its beginning; `journal_size_limit` gives the file back.
    pub fn checkpoint_in_background(
        &self,
        path: &Path,
        every: std::time::Duration,
        restart_after: i64,
    ) -> anyhow::Result<()> {
        let conn = Connection::open(path)
            .with_context(|| format!("opening {} for checkpoints", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        {
            let ours = self.conn();
            ours.pragma_update(None, "wal_autocheckpoint", 0)
                .context("turning off checkpoints on commit")?;
            ours.pragma_update(None, "journal_size_limit", WAL_KEPT_BYTES)
                .context("limiting the WAL file kept after a restart")?;
        }
        let checkpointer = Checkpointer {
            conn,
            database: std::fs::File::open(path)
                .with_context(|| format!("opening {} to sync it", path.display()))?,
            store: Arc::downgrade(&self.conn),
            restart_after,
        };
        std::thread::Builder::new()
            .name("checkpointer".into())
            .spawn(move || loop {
                std::thread::sleep(every);
                // The store is gone: so is the need.
                let Some(store) = checkpointer.store.upgrade() else {
                    return;
                };
                if let Err(e) = checkpointer.run(&store) {
                    tracing::warn!(error = %e, "WAL checkpoint failed; tried again");
                }
            })
            .context("starting the checkpointer")?;
        Ok(())
    }

    /// An existing file: SQLite's `quick_check` finds no damage, and our tables are there (or,
    /// when creating, nothing at all is: a creation interrupted before its tables).
    fn check(conn: &Connection, path: &Path, create: bool) -> anyhow::Result<()> {
        let damaged = |detail: String| OpenError::Damaged {
            path: path.to_path_buf(),
            detail,
        };
        let findings: Vec<String> = conn
            .prepare("PRAGMA quick_check")
            .and_then(|mut stmt| {
                stmt.query_map([], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(|e| damaged(e.to_string()))?;
        if findings != ["ok"] {
            let mut detail = findings
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ");
            if findings.len() > 3 {
                detail.push_str(&format!("; {} more", findings.len() - 3));
            }
            return Err(damaged(detail).into());
        }
        let (ours, objects): (i64, i64) = conn
            .query_row(
                "SELECT COUNT(*) FILTER (WHERE type = 'table' AND name = 'accounts'), COUNT(*)
                 FROM sqlite_master",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| damaged(e.to_string()))?;
        if ours == 0 && !(create && objects == 0) {
            return Err(OpenError::NotInitialised(path.to_path_buf()).into());
        }
        Ok(())
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn written(&self) -> std::sync::MutexGuard<'_, Written> {
        self.written.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every document in number order, for invariant checks and reports.
    pub fn all_documents(&self) -> Result<Vec<Document>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT body FROM documents ORDER BY number")
            .map_err(unexpected)?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(unexpected)?;
        rows.map(|r| parse(&r.map_err(unexpected)?)).collect()
    }

    /// Documents issued on a date, in number order (the simulator pays them).
    pub fn documents_issued_on(&self, date: NaiveDate) -> Result<Vec<Document>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT body FROM documents WHERE issue_date = ?1 ORDER BY number")
            .map_err(unexpected)?;
        let rows = stmt
            .query_map([date.to_string()], |r| r.get::<_, String>(0))
            .map_err(unexpected)?;
        rows.map(|r| parse(&r.map_err(unexpected)?)).collect()
    }

    /// Marks every e-mail due at `now` sent after one attempt: the outbox as a mailer that
    /// accepts everything leaves it, without composing anything (the simulator measures the
    /// renewals; composing is delivery's work). Returns how many were marked.
    pub fn accept_due_emails(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        exec(
            &self.conn(),
            "UPDATE outbox SET attempts = attempts + 1, sent = 1
             WHERE sent = 0 AND parked = 0 AND next_attempt <= ?1",
            [now.timestamp_millis()],
        )
        .map_err(unexpected)
    }

    /// Every account, for invariant checks and reports.
    pub fn all_accounts(&self) -> Result<Vec<Account>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT body FROM accounts ORDER BY tenant")
            .map_err(unexpected)?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(unexpected)?;
        rows.map(|r| parse(&r.map_err(unexpected)?)).collect()
    }

    /// Rows in a table, for tests that check "nothing changed".
    pub fn count(&self, table: &str) -> Result<i64, StoreError> {
        let allowed = [
            "accounts",
            "documents",
            "outbox",
            "payments",
            "reviews",
            "counters",
            "invoices",
        ];
        assert!(allowed.contains(&table), "unknown table {table}");
        self.conn()
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .map_err(unexpected)
    }

    pub fn payments(&self) -> Result<Vec<PaymentRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT body FROM payments ORDER BY rowid")
            .map_err(unexpected)?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(unexpected)?;
        rows.map(|r| parse(&r.map_err(unexpected)?)).collect()
    }

    pub fn reviews(&self) -> Result<Vec<ReviewItem>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT body FROM reviews ORDER BY rowid")
            .map_err(unexpected)?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(unexpected)?;
        rows.map(|r| parse(&r.map_err(unexpected)?)).collect()
    }

    fn write(conn: &mut Connection, change: &Change) -> Result<(), StoreError> {
        exec(conn, "BEGIN IMMEDIATE", []).map_err(unexpected)?;
        let result = Self::write_in(conn, change)
            .and_then(|()| exec(conn, "COMMIT", []).map(|_| ()).map_err(unexpected));
        if result.is_err() {
            let _ = exec(conn, "ROLLBACK", []);
        }
        result
    }

    /// Several changes in one transaction (one journal write instead of one per change),
    /// each inside its own savepoint: a refused change is rolled back alone, with all its
    /// guards checked as in `write`, and the next change sees the store without it.
    fn write_many(conn: &mut Connection, changes: &[Change]) -> Vec<Result<(), StoreError>> {
        let count = changes.len();
        let all_failed = |why: String| -> Vec<Result<(), StoreError>> {
            (0..count)
                .map(|_| Err(unexpected(anyhow::anyhow!("{why}"))))
                .collect()
        };
        if let Err(e) = exec(conn, "BEGIN IMMEDIATE", []) {
            return all_failed(format!("beginning a group commit: {e}"));
        }
        let mut results = Vec::with_capacity(count);
        for change in changes {
            let result = exec(conn, "SAVEPOINT change", [])
                .map_err(unexpected)
                .and_then(|_| Self::write_in(conn, change));
            let closed = if result.is_ok() {
                exec(conn, "RELEASE change", [])
            } else {
                exec(conn, "ROLLBACK TO change", []).and_then(|_| exec(conn, "RELEASE change", []))
            };
            if let Err(e) = closed {
                let _ = exec(conn, "ROLLBACK", []);
                return all_failed(format!("closing a change of a group commit: {e}"));
            }
            results.push(result);
        }
        if let Err(e) = exec(conn, "COMMIT", []) {
            let _ = exec(conn, "ROLLBACK", []);
            return all_failed(format!("committing a group of changes: {e}"));
        }
        results
    }

    fn write_in(tx: &Connection, change: &Change) -> Result<(), StoreError> {
        if let Some(account) = &change.account {
            let body = json(account)?;
            let tenant = account.tenant.id.as_str();
            let next = change.next_action.map(|d| d.to_string());
            if change.version == 0 {
                exec(
                    tx,
                    "INSERT INTO accounts (tenant, version, next_action, body) VALUES (?1, 1, ?2, ?3)",
                    params![tenant, next, body],
                )
                .map_err(|e| conflict_or(e, "account exists"))?;
            } else {
                let n = exec(
                    tx,
                    "UPDATE accounts SET version = version + 1, next_action = ?2, body = ?3
                         WHERE tenant = ?1 AND version = ?4",
                    params![tenant, next, body, change.version as i64],
                )
                .map_err(unexpected)?;
                if n == 0 {
                    return Err(StoreError::Conflict(format!("account {tenant} changed")));
                }
            }
            let mut stmt = tx
                .prepare_cached("INSERT OR IGNORE INTO subscriptions (id, tenant) VALUES (?1, ?2)")
                .map_err(unexpected)?;
            for sub in &account.subscriptions {
                stmt.execute(params![sub.id.as_str(), tenant])
                    .map_err(unexpected)?;
            }
        }
        for (series, before, after) in &change.counters {
            let key = series.to_string();
            let current: i64 = one(tx, "SELECT last FROM counters WHERE series = ?1", [&key])
                .map_err(unexpected)?
                .unwrap_or(0);
            if current != *before as i64 {
                return Err(StoreError::Conflict(format!("counter {key} moved")));
            }
            exec(
                tx,
                "INSERT INTO counters (series, last) VALUES (?1, ?2)
                 ON CONFLICT(series) DO UPDATE SET last = excluded.last",
                params![key, *after as i64],
            )
            .map_err(unexpected)?;
        }
        if let Some(new) = &change.invoice {
            let key = new.stored.invoice.number.series().to_string();
            let current: i64 = one(tx, "SELECT last FROM counters WHERE series = ?1", [&key])
                .map_err(unexpected)?
                .unwrap_or(0);
            if current != new.counter_before as i64 {
                return Err(StoreError::Conflict(format!("counter {key} moved")));
            }
            exec(
                tx,
                "INSERT INTO counters (series, last) VALUES (?1, ?2)
                 ON CONFLICT(series) DO UPDATE SET last = excluded.last",
                params![key, new.stored.invoice.number.seq as i64],
            )
            .map_err(unexpected)?;
            insert_invoice(tx, &new.stored)?;
        }
        for doc in &change.new_documents {
            tx.prepare_cached(
                "INSERT INTO documents (number, tenant, session_id, issue_date, status, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    doc.number.to_string(),
                    doc.tenant.as_str(),
                    doc.payment.session_id.as_str(),
                    doc.issue_date.to_string(),
                    doc.status.as_str(),
                    json(doc).unwrap_or_default()
                ])
            })
            .map_err(|e| conflict_or(e, "document exists"))?;
        }
        for (number, status) in &change.status_changes {
            let key = number.to_string();
            let body: String = one(tx, "SELECT body FROM documents WHERE number = ?1", [&key])
                .map_err(unexpected)?
                .ok_or_else(|| StoreError::NotFound(format!("document {key}")))?;
            let mut doc: Document = parse(&body)?;
            doc.status = *status;
            exec(
                tx,
                "UPDATE documents SET status = ?2, body = ?3 WHERE number = ?1",
                params![key, status.as_str(), json(&doc)?],
            )
            .map_err(unexpected)?;
        }
        for m in &change.emails {
            insert_email(tx, m, false).map_err(|e| conflict_or(e, "e-mail already queued"))?;
        }
        for c in &change.microsoft {
            let tenant = change
                .account
                .as_ref()
                .map(|a| a.tenant.id.as_str())
                .ok_or_else(|| unexpected(anyhow::anyhow!("a command without its account")))?;
            tx.prepare_cached(
                "INSERT INTO microsoft_commands (key, tenant, body) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut s| s.execute(params![c.key, tenant, json(c).unwrap_or_default()]))
            .map_err(|e| conflict_or(e, "Microsoft command already queued"))?;
        }
        if let Some(p) = &change.payment {
            exec(
                tx,
                "INSERT INTO payments (key, body) VALUES (?1, ?2)",
                params![p.key, json(p)?],
            )
            .map_err(|e| conflict_or(e, "payment already recorded"))?;
        }
        if let Some(r) = &change.review {
            exec(
                tx,
                "INSERT INTO reviews (key, body) VALUES (?1, ?2)",
                params![r.key, json(r)?],
            )
            .map_err(|e| conflict_or(e, "review already recorded"))?;
        }
        // The audit log is the account's; a change without one files only the entries that
        // say whose log they belong in.
        let mut stmt = tx
            .prepare_cached("INSERT INTO audit (tenant, body) VALUES (?1, ?2)")
            .map_err(unexpected)?;
        for entry in &change.audit {
            let account = change.account.as_ref().map(|a| &a.tenant.id);
            if let Some(tenant) = account.or(entry.filed_under.as_ref()) {
                stmt.execute(params![tenant.as_str(), json(entry)?])
                    .map_err(unexpected)?;
            }
        }
        Ok(())
    }
}

const INVOICE_COLUMNS: &str = "body, xml, sha256, upo, status, sent, ksef_number, reason, \
    attempts, next_attempt, parked, issued_at, late_alerted";

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn instant(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn status_from(s: &str) -> KsefStatus {
    match s {
        "sent" => KsefStatus::Sent,
        "accepted" => KsefStatus::Accepted,
        "rejected" => KsefStatus::Rejected,
        "awaiting_buyer_data" => KsefStatus::AwaitingBuyerData,
        _ => KsefStatus::Pending,
    }
}

fn invoice_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredInvoice> {
    let bad = |i: usize, e: serde_json::Error| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    };
    let body: String = r.get(0)?;
    let sent: Option<String> = r.get(5)?;
    Ok(StoredInvoice {
        invoice: serde_json::from_str(&body).map_err(|e| bad(0, e))?,
        xml: r.get(1)?,
        sha256: r.get(2)?,
        upo: r.get(3)?,
        submission: Submission {
            status: status_from(&r.get::<_, String>(4)?),
            sent: sent
                .map(|s| serde_json::from_str(&s))
                .transpose()
                .map_err(|e| bad(5, e))?,
            ksef_number: r.get(6)?,
            reason: r.get(7)?,
            attempts: r.get::<_, i64>(8)? as u32,
            next_attempt: instant(r.get(9)?),
            parked: r.get::<_, i64>(10)? != 0,
            issued_at: instant(r.get(11)?),
            late_alerted: r.get::<_, i64>(12)? != 0,
        },
    })
}

/// A new invoice with its XML and submission; unique by number, by the document it settles
/// and by the payment.
fn insert_invoice(tx: &Connection, stored: &StoredInvoice) -> Result<(), StoreError> {
    let i = &stored.invoice;
    let s = &stored.submission;
    let sent = s.sent.as_ref().map(json).transpose()?;
    exec(
        tx,
        "INSERT INTO invoices (number, tenant, settles, payment, body, xml, sha256, upo, status,
             sent, ksef_number, reason, attempts, next_attempt, parked, issued_at, late_alerted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        params![
            i.number.to_string(),
            i.tenant.as_str(),
            i.settles.to_string(),
            i.payment,
            json(i)?,
            stored.xml,
            stored.sha256,
            stored.upo,
            s.status.as_str(),
            sent,
            s.ksef_number,
            s.reason,
            s.attempts as i64,
            millis(s.next_attempt),
            s.parked as i64,
            millis(s.issued_at),
            s.late_alerted as i64,
        ],
    )
    .map_err(|e| conflict_or(e, "invoice exists"))?;
    Ok(())
}

fn insert_email(tx: &Connection, m: &OutboxMessage, or_ignore: bool) -> rusqlite::Result<usize> {
    let verb = if or_ignore {
        "INSERT OR IGNORE"
    } else {
        "INSERT"
    };
    tx.prepare_cached(&format!(
        "{verb} INTO outbox (key, tenant, kind, recipient, subject, document, date, mime, letter)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))
    .and_then(|mut s| {
        let (mime, letter) = match &m.content {
            Content::Letter(letter) => (
                None,
                Some(serde_json::to_string(letter).expect("a letter serialises")),
            ),
            Content::Mime(bytes) => (Some(bytes.as_slice()), None),
        };
        s.execute(params![
            m.key,
            m.tenant.as_str(),
            m.kind,
            m.to,
            m.subject,
            m.document,
            m.date.to_string(),
            mime,
            letter
        ])
    })
}

/// Which rows of an outbox are due at `now`, claimed until `until`, at most `limit`.
struct Due {
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: usize,
}

/// Every row a query returns, each read by `from_row`: the store's list reads.
fn select<T, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    from_row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(unexpected)?;
    let rows = stmt.query_map(params, from_row).map_err(unexpected)?;
    rows.map(|r| r.map_err(unexpected)).collect()
}

/// Claims the due rows of an outbox table (e-mails, Microsoft commands, KSeF submissions) in
/// one UPDATE … RETURNING: SQLite runs it under the database's write lock, so a row claimed by
/// one connection (or process) is not due for any other. The claim counts as an attempt and
/// moves the row's next attempt to the end of the lease. `waiting` says which rows still have
/// something to do; `key` is the table's key.
fn claim_rows<T>(
    conn: &Connection,
    table: &str,
    key: &str,
    waiting: &str,
    columns: &str,
    due: Due,
    from_row: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "UPDATE {table} SET attempts = attempts + 1, next_attempt = ?2
             WHERE {key} IN (SELECT {key} FROM {table}
                          WHERE {waiting} AND parked = 0 AND next_attempt <= ?1
                          ORDER BY next_attempt, {key} LIMIT ?3)
             RETURNING {columns}"
        ))
        .map_err(unexpected)?;
    let rows = stmt
        .query_map(
            params![
                due.now.timestamp_millis(),
                due.until.timestamp_millis(),
                due.limit as i64
            ],
            from_row,
        )
        .map_err(unexpected)?;
    rows.map(|r| r.map_err(unexpected)).collect()
}

fn sorted_by<T>(mut rows: Vec<T>, id: impl Fn(&T) -> i64) -> Vec<T> {
    rows.sort_by_key(|r| id(r));
    rows
}

/// A store made before messages had attempts gets the columns (with their defaults).
fn add_delivery_columns(conn: &Connection) -> rusqlite::Result<()> {
    let has_outbox: Option<String> = one(
        conn,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'outbox'",
        [],
    )?;
    let has_attempts: Option<String> = one(
        conn,
        "SELECT name FROM pragma_table_info('outbox') WHERE name = 'attempts'",
        [],
    )?;
    if has_outbox.is_some() && has_attempts.is_none() {
        conn.execute_batch(
            "ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
             ALTER TABLE outbox ADD COLUMN next_attempt INTEGER NOT NULL DEFAULT 0;
             ALTER TABLE outbox ADD COLUMN parked INTEGER NOT NULL DEFAULT 0;
             ALTER TABLE outbox ADD COLUMN last_error TEXT;",
        )?;
    }
    Ok(())
}

/// A store made while the outbox held composed MIME gets the `letter` column, and `mime`
/// may be empty from then on. SQLite cannot relax `NOT NULL` in place, so the table is
/// rebuilt in one transaction with its ids, states and bytes: the rows queued before are
/// sent as they were composed.
fn add_letters(conn: &Connection) -> rusqlite::Result<()> {
    let has_mime: Option<String> = one(
        conn,
        "SELECT name FROM pragma_table_info('outbox') WHERE name = 'mime'",
        [],
    )?;
    let has_letter: Option<String> = one(
        conn,
        "SELECT name FROM pragma_table_info('outbox') WHERE name = 'letter'",
        [],
    )?;
    if has_mime.is_none() || has_letter.is_some() {
        return Ok(());
    }
    // The outbox of `SCHEMA`; its indexes are made again by `SCHEMA` after this.
    conn.execute_batch(
        "BEGIN IMMEDIATE;
         CREATE TABLE outbox_letters (
             id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, tenant TEXT NOT NULL,
             kind TEXT NOT NULL, recipient TEXT NOT NULL, subject TEXT NOT NULL, document TEXT,
             date TEXT NOT NULL, mime BLOB, sent INTEGER NOT NULL DEFAULT 0,
             attempts INTEGER NOT NULL DEFAULT 0, next_attempt INTEGER NOT NULL DEFAULT 0,
             parked INTEGER NOT NULL DEFAULT 0, last_error TEXT, letter TEXT,
             CHECK ((mime IS NULL) <> (letter IS NULL)));
         INSERT INTO outbox_letters (id, key, tenant, kind, recipient, subject, document, date,
                                     mime, sent, attempts, next_attempt, parked, last_error)
             SELECT id, key, tenant, kind, recipient, subject, document, date, mime, sent,
                    attempts, next_attempt, parked, last_error FROM outbox;
         UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'outbox')
             WHERE name = 'outbox_letters'
               AND EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'outbox');
         DROP TABLE outbox;
         ALTER TABLE outbox_letters RENAME TO outbox;
         COMMIT;",
    )
    .inspect_err(|_| {
        let _ = conn.execute_batch("ROLLBACK");
    })
}

fn stored_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredMessage> {
    let (id, message, sent) = message_from_row(r)?;
    Ok(StoredMessage {
        id,
        message,
        sent,
        attempts: r.get::<_, i64>(10)? as u32,
        parked: r.get::<_, i64>(11)? != 0,
    })
}

fn message_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, OutboxMessage, bool)> {
    let date: String = r.get(7)?;
    Ok((
        r.get(0)?,
        OutboxMessage {
            key: r.get(1)?,
            tenant: TenantId::parse(&r.get::<_, String>(2)?).expect("stored tenant id"),
            kind: r.get(3)?,
            to: r.get(4)?,
            subject: r.get(5)?,
            document: r.get(6)?,
            date: NaiveDate::parse_from_str(&date, "%Y-%m-%d").expect("stored date"),
            content: match r.get::<_, Option<String>>(12)? {
                Some(letter) => Content::Letter(serde_json::from_str(&letter).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        12,
                        rusqlite::types::Type::Text,
                        e.into(),
                    )
                })?),
                None => Content::Mime(r.get(8)?),
            },
        },
        r.get::<_, i64>(9)? != 0,
    ))
}

fn command_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredCommand> {
    let body: String = r.get(2)?;
    Ok(StoredCommand {
        id: r.get(0)?,
        tenant: TenantId::parse(&r.get::<_, String>(1)?).expect("stored tenant id"),
        command: serde_json::from_str(&body).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, e.into())
        })?,
        done: r.get::<_, i64>(3)? != 0,
        attempts: r.get::<_, i64>(4)? as u32,
        parked: r.get::<_, i64>(5)? != 0,
        last_error: r.get(6)?,
    })
}

const COMMAND_COLUMNS: &str = "id, tenant, body, done, attempts, parked, last_error";

const MESSAGE_COLUMNS: &str =
    "id, key, tenant, kind, recipient, subject, document, date, mime, sent, attempts, parked, \
     letter";

#[async_trait]
impl Store for SqliteStore {
    async fn load_account(&self, tenant: &TenantId) -> Result<Option<Loaded>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT version, body FROM accounts WHERE tenant = ?1")
            .map_err(unexpected)?;
        let loaded = stmt
            .query_row([tenant.as_str()], |r| {
                let version = r.get::<_, i64>(0)? as u64;
                let account = match self.written().get(tenant.as_str(), version) {
                    Some(account) => Ok(account),
                    // Parsed where SQLite holds it, without a copy.
                    None => parse(r.get_ref(1)?.as_str()?),
                };
                Ok(account.map(|account| Loaded { account, version }))
            })
            .optional()
            .map_err(unexpected)?;
        loaded.transpose()
    }

    async fn tenant_of(&self, sub: &SubscriptionId) -> Result<Option<TenantId>, StoreError> {
        let conn = self.conn();
        let t: Option<String> = conn
            .query_row(
                "SELECT tenant FROM subscriptions WHERE id = ?1",
                [sub.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(unexpected)?;
        Ok(t.map(|t| TenantId::parse(&t).expect("stored tenant id")))
    }

    async fn due_tenants(
        &self,
        date: NaiveDate,
        after: Option<&TenantId>,
        limit: usize,
    ) -> Result<Vec<TenantId>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                // The due few from the index, sorted: left to itself SQLite walks every
                // account in tenant order (the ORDER BY) and reads each row's body pages.
                "SELECT tenant FROM accounts INDEXED BY accounts_due_tenant
                 WHERE next_action <= ?1 AND tenant > ?2 ORDER BY tenant LIMIT ?3",
            )
            .map_err(unexpected)?;
        let rows = stmt
            .query_map(
                params![
                    date.to_string(),
                    after.map_or("", |t| t.as_str()),
                    limit as i64
                ],
                |r| r.get::<_, String>(0),
            )
            .map_err(unexpected)?;
        rows.map(|r| Ok(TenantId::parse(&r.map_err(unexpected)?).expect("stored tenant id")))
            .collect()
    }

    async fn last_number(&self, series: SeriesKey) -> Result<u32, StoreError> {
        let conn = self.conn();
        let last: Option<i64> = one(
            &conn,
            "SELECT last FROM counters WHERE series = ?1",
            [series.to_string()],
        )
        .map_err(unexpected)?;
        Ok(last.unwrap_or(0) as u32)
    }

    async fn document(&self, number: &DocumentNumber) -> Result<Option<Document>, StoreError> {
        let conn = self.conn();
        let body: Option<String> = one(
            &conn,
            "SELECT body FROM documents WHERE number = ?1",
            [number.to_string()],
        )
        .map_err(unexpected)?;
        body.map(|b| parse(&b)).transpose()
    }

    async fn document_by_session(
        &self,
        session_id: &SessionId,
    ) -> Result<Option<Document>, StoreError> {
        let conn = self.conn();
        let body: Option<String> = one(
            &conn,
            "SELECT body FROM documents WHERE session_id = ?1",
            [session_id.as_str()],
        )
        .map_err(unexpected)?;
        body.map(|b| parse(&b)).transpose()
    }

    async fn documents_of(&self, tenant: &TenantId) -> Result<Vec<Document>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT body FROM documents WHERE tenant = ?1 ORDER BY rowid")
            .map_err(unexpected)?;
        let rows = stmt
            .query_map([tenant.as_str()], |r| r.get::<_, String>(0))
            .map_err(unexpected)?;
        rows.map(|r| parse(&r.map_err(unexpected)?)).collect()
    }

    async fn payment(&self, key: &str) -> Result<Option<PaymentRecord>, StoreError> {
        let conn = self.conn();
        let body: Option<String> =
            one(&conn, "SELECT body FROM payments WHERE key = ?1", [key]).map_err(unexpected)?;
        body.map(|b| parse(&b)).transpose()
    }

    async fn audit_of(&self, tenant: &TenantId) -> Result<Vec<AuditEntry>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT body FROM audit WHERE tenant = ?1 ORDER BY id")
            .map_err(unexpected)?;
        let bodies = stmt
            .query_map([tenant.as_str()], |r| r.get::<_, String>(0))
            .map_err(unexpected)?
            .collect::<rusqlite::Result<Vec<String>>>()
            .map_err(unexpected)?;
        bodies.iter().map(|b| parse(b)).collect()
    }

    async fn bank_note(&self, key: &str) -> Result<Option<String>, StoreError> {
        let conn = self.conn();
        one(&conn, "SELECT value FROM bank_notes WHERE key = ?1", [key]).map_err(unexpected)
    }

    async fn add_bank_note(&self, key: &str, value: &str) -> Result<bool, StoreError> {
        let conn = self.conn();
        let added = conn
            .execute(
                "INSERT INTO bank_notes (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO NOTHING",
                params![key, value],
            )
            .map_err(unexpected)?;
        Ok(added == 1)
    }

    async fn review_item(&self, key: &str) -> Result<Option<ReviewItem>, StoreError> {
        let conn = self.conn();
        let body: Option<String> =
            one(&conn, "SELECT body FROM reviews WHERE key = ?1", [key]).map_err(unexpected)?;
        body.map(|b| parse(&b)).transpose()
    }

    async fn emails_of(&self, tenant: &TenantId) -> Result<Vec<OutboxMessage>, StoreError> {
        let rows = select(
            &self.conn(),
            &format!("SELECT {MESSAGE_COLUMNS} FROM outbox WHERE tenant = ?1 ORDER BY id"),
            [tenant.as_str()],
            message_from_row,
        )?;
        Ok(rows.into_iter().map(|(_, m, _)| m).collect())
    }

    async fn unsent(&self, limit: usize) -> Result<Vec<StoredMessage>, StoreError> {
        select(
            &self.conn(),
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM outbox WHERE sent = 0 AND parked = 0
                 ORDER BY id LIMIT ?1"
            ),
            [limit as i64],
            stored_from_row,
        )
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let due = Due { now, until, limit };
        let claimed = claim_rows(
            &self.conn(),
            "outbox",
            "id",
            "sent = 0",
            MESSAGE_COLUMNS,
            due,
            stored_from_row,
        )?;
        Ok(sorted_by(claimed, |m| m.id))
    }

    async fn mark_failed(&self, id: i64, retry: Retry, error: &str) -> Result<(), StoreError> {
        let conn = self.conn();
        let (next, parked) = match retry {
            Retry::At(at) => (at.timestamp_millis(), 0),
            Retry::Park => (i64::MAX, 1),
        };
        exec(
            &conn,
            "UPDATE outbox SET next_attempt = ?2, parked = ?3, last_error = ?4
             WHERE id = ?1 AND sent = 0",
            params![id, next, parked, error],
        )
        .map_err(unexpected)?;
        Ok(())
    }

    async fn messages_about(
        &self,
        tenant: &TenantId,
        document: &str,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        select(
            &self.conn(),
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM outbox WHERE tenant = ?1 AND document = ?2
                 ORDER BY id"
            ),
            [tenant.as_str(), document],
            stored_from_row,
        )
    }

    async fn mark_sent(&self, ids: &[i64]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(unexpected)?;
        for id in ids {
            exec(&tx, "UPDATE outbox SET sent = 1 WHERE id = ?1", [id]).map_err(unexpected)?;
        }
        tx.commit().map_err(unexpected)
    }

    async fn commit(&self, change: Change) -> Result<(), StoreError> {
        let mut conn = self.conn();
        Self::write(&mut conn, &change)?;
        // Still under the connection's lock, so that no load sees the new version first.
        self.written().remember(change);
        Ok(())
    }

    async fn commit_many(&self, changes: Vec<Change>) -> Vec<Result<(), StoreError>> {
        let mut conn = self.conn();
        let results = Self::write_many(&mut conn, &changes);
        let mut written = self.written();
        for (change, result) in changes.into_iter().zip(&results) {
            if result.is_ok() {
                written.remember(change);
            }
        }
        results
    }

    async fn last_invoice_number(&self, series: InvoiceSeries) -> Result<u32, StoreError> {
        let conn = self.conn();
        let last: Option<i64> = one(
            &conn,
            "SELECT last FROM counters WHERE series = ?1",
            [series.to_string()],
        )
        .map_err(unexpected)?;
        Ok(last.unwrap_or(0) as u32)
    }

    async fn invoice(&self, number: &InvoiceNumber) -> Result<Option<StoredInvoice>, StoreError> {
        let conn = self.conn();
        conn.prepare_cached(&format!(
            "SELECT {INVOICE_COLUMNS} FROM invoices WHERE number = ?1"
        ))
        .and_then(|mut s| {
            s.query_row([number.to_string()], invoice_from_row)
                .optional()
        })
        .map_err(unexpected)
    }

    async fn invoices_of(&self, tenant: &TenantId) -> Result<Vec<StoredInvoice>, StoreError> {
        select(
            &self.conn(),
            &format!("SELECT {INVOICE_COLUMNS} FROM invoices WHERE tenant = ?1 ORDER BY number"),
            [tenant.as_str()],
            invoice_from_row,
        )
    }

    async fn claim_submissions(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<StoredInvoice>, StoreError> {
        let due = Due { now, until, limit };
        let mut claimed = claim_rows(
            &self.conn(),
            "invoices",
            "number",
            "status IN ('pending', 'sent')",
            INVOICE_COLUMNS,
            due,
            invoice_from_row,
        )?;
        claimed.sort_by_key(|i| i.invoice.number);
        Ok(claimed)
    }

    async fn save_invoice(
        &self,
        stored: &StoredInvoice,
        emails: Vec<OutboxMessage>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(unexpected)?;
        let s = &stored.submission;
        let sent = s.sent.as_ref().map(json).transpose()?;
        // The invoice and its XML are replaced only while KSeF has never seen it (dated the
        // day it goes), judged by the row as stored: once sent, a stored XML stays.
        let n = exec(
            &tx,
            "UPDATE invoices SET
                 xml = CASE WHEN sent IS NULL AND ksef_number IS NULL
                       THEN COALESCE(?2, xml) ELSE COALESCE(xml, ?2) END,
                 sha256 = CASE WHEN sent IS NULL AND ksef_number IS NULL
                          THEN COALESCE(?3, sha256) ELSE COALESCE(sha256, ?3) END,
                 body = CASE WHEN sent IS NULL AND ksef_number IS NULL THEN ?14 ELSE body END,
                 upo = COALESCE(?4, upo), status = ?5, sent = ?6, ksef_number = ?7, reason = ?8,
                 attempts = ?9, next_attempt = ?10, parked = ?11, late_alerted = ?12,
                 issued_at = ?13
             WHERE number = ?1",
            params![
                stored.invoice.number.to_string(),
                stored.xml,
                stored.sha256,
                stored.upo,
                s.status.as_str(),
                sent,
                s.ksef_number,
                s.reason,
                s.attempts as i64,
                millis(s.next_attempt),
                s.parked as i64,
                s.late_alerted as i64,
                millis(s.issued_at),
                json(&stored.invoice)?,
            ],
        )
        .map_err(unexpected)?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "invoice {}",
                stored.invoice.number
            )));
        }
        for m in &emails {
            insert_email(&tx, m, true).map_err(unexpected)?;
        }
        tx.commit().map_err(unexpected)
    }

    async fn microsoft_commands_of(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<StoredCommand>, StoreError> {
        select(
            &self.conn(),
            &format!(
                "SELECT {COMMAND_COLUMNS} FROM microsoft_commands WHERE tenant = ?1 ORDER BY id"
            ),
            [tenant.as_str()],
            command_from_row,
        )
    }

    async fn claim_commands(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<StoredCommand>, StoreError> {
        let due = Due { now, until, limit };
        let claimed = claim_rows(
            &self.conn(),
            "microsoft_commands",
            "id",
            "done = 0",
            COMMAND_COLUMNS,
            due,
            command_from_row,
        )?;
        // Carried out in the order they were decided.
        Ok(sorted_by(claimed, |c| c.id))
    }

    async fn mark_command_done(&self, command: &StoredCommand) -> Result<(), StoreError> {
        let id = command.id;
        let conn = self.conn();
        exec(
            &conn,
            "UPDATE microsoft_commands SET done = 1, last_error = NULL WHERE id = ?1",
            [id],
        )
        .map_err(unexpected)?;
        Ok(())
    }

    async fn mark_command_failed(
        &self,
        command: &StoredCommand,
        retry: Retry,
        error: &str,
    ) -> Result<(), StoreError> {
        let id = command.id;
        let conn = self.conn();
        let (next, parked) = match retry {
            Retry::At(at) => (at.timestamp_millis(), 0),
            Retry::Park => (i64::MAX, 1),
        };
        exec(
            &conn,
            "UPDATE microsoft_commands SET next_attempt = ?2, parked = ?3, last_error = ?4
             WHERE id = ?1 AND done = 0",
            params![id, next, parked, error],
        )
        .map_err(unexpected)?;
        Ok(())
    }
}

/// `SqliteStore::checkpoint_in_background`'s thread: a connection of its own, the database
/// file to sync, and the store's connection to hold while the WAL starts over.
struct Checkpointer {
    conn: Connection,
    database: std::fs::File,
    store: std::sync::Weak<Mutex<Connection>>,
    restart_after: i64,
}

impl Checkpointer {
    /// Pages in the WAL when the checkpoint began (all of them copied unless a reader or a
    /// writer was in the way).
    fn checkpoint(&self, mode: &str) -> rusqlite::Result<i64> {
        self.conn
            .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get(1))
    }

    fn run(&self, store: &Mutex<Connection>) -> rusqlite::Result<()> {
        let mut pages = self.checkpoint("PASSIVE")?;
        if pages < self.restart_after {
            return Ok(());
        }
        // Under the store's connection the requests wait, so as little as possible is left
        // for then: passes copy what came during the one before until that is little, and the
        // database file is synced here (a passive checkpoint that does not reach the WAL's end
        // leaves that to the next one: tens of ms after 500 ms at full speed).
        for _ in 0..4 {
            let now = self.checkpoint("PASSIVE")?;
            let came = now - pages;
            pages = now;
            if came < 512 {
                break;
            }
        }
        self.database.sync_data().map_err(|e| {
            rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR_FSYNC),
                Some(format!("syncing the database file: {e}")),
            )
        })?;
        // And what came during that sync.
        self.checkpoint("PASSIVE")?;
        let _quiet = store.lock().unwrap_or_else(|p| p.into_inner());
        self.checkpoint("RESTART").map(drop)
    }
}
