//! What SQLite alone takes to write the rows a simulated year wrote, without any of the
//! business: the ceiling under `simulate`'s renewals/s on this machine, matched to what a
//! renewal really writes (bare commits of one row are only the floor of a commit).
//!
//! The rows are read from a finished `simulate` database (its documents, e-mails, audit
//! entries, VAT invoices and payments, as they are) and written again into a fresh store
//! opened as `simulate` opens it, spread over as many account changes as the year made (the
//! accounts' versions, less the setup's writes): each change rewrites one account row and
//! its index entry, and inserts its share of every table; a paid document's status is
//! rewritten once, every document and invoice moves its series' counter. Changes are
//! committed `group` at a time, each in its own savepoint as a group commit does (`group` 1:
//! a transaction per change, as a payment is committed).

use anyhow::Context;
use renewals_local::sqlite::Durability;
use renewals_local::SqliteStore;
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

#[derive(Serialize)]
pub struct Rows {
    pub renewals: usize,
    pub account_changes: usize,
    /// New rows per renewal (documents, e-mails, audit entries, invoices, payments).
    pub rows_per_renewal: f64,
    /// Renewals/s with each change in its own transaction.
    pub single_per_s: f64,
    /// Renewals/s with changes committed 44 at a time (the size of `simulate`'s group
    /// commits: 79,977 changes in 1,830 groups for 2,000 tenants).
    pub grouped_per_s: f64,
}

/// The tables a renewal adds rows to, with the columns copied (ids are given anew) and the
/// numbering series each new row moves, if any.
const TABLES: [(&str, &str, Option<&str>); 5] = [
    (
        "documents",
        "number, tenant, session_id, issue_date, status, body",
        Some("PF/2026/06"),
    ),
    (
        "outbox",
        "key, tenant, kind, recipient, subject, document, date, mime, sent, attempts, \
         next_attempt, parked, last_error, letter",
        None,
    ),
    ("audit", "tenant, body", None),
    (
        "invoices",
        "number, tenant, settles, payment, body, xml, sha256, upo, status, sent, ksef_number, \
         reason, attempts, next_attempt, parked, issued_at, late_alerted",
        Some("FV/2026/06"),
    ),
    ("payments", "key, body", None),
];

struct Source {
    accounts: Vec<(String, Option<String>, String)>,
    tables: Vec<Vec<Vec<Value>>>,
    renewals: usize,
    changes: usize,
    paid: Vec<(String, String)>,
}

fn read(from: &Path) -> anyhow::Result<Source> {
    let src = Connection::open_with_flags(from, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {}", from.display()))?;
    let accounts = src
        .prepare("SELECT tenant, next_action, body FROM accounts")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let versions: i64 = src.query_row("SELECT SUM(version) FROM accounts", [], |r| r.get(0))?;
    let subscriptions: i64 =
        src.query_row("SELECT COUNT(*) FROM subscriptions", [], |r| r.get(0))?;
    // The setup wrote each tenant once and each subscription once more.
    let changes = (versions - accounts.len() as i64 - subscriptions).max(1) as usize;
    let mut tables = vec![];
    for (table, columns, _) in TABLES {
        let n = columns.split(',').count();
        let rows = src
            .prepare(&format!("SELECT {columns} FROM {table} ORDER BY rowid"))?
            .query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())?
            .collect::<Result<Vec<Vec<Value>>, _>>()?;
        tables.push(rows);
    }
    let mut renewals = 0;
    let mut paid = vec![];
    for row in &tables[0] {
        let (Value::Text(number), Value::Text(status), Value::Text(body)) =
            (&row[0], &row[4], &row[5])
        else {
            anyhow::bail!("a document row without its number, status or body");
        };
        if status == "paid" {
            paid.push((number.clone(), body.clone()));
            let doc: serde_json::Value = serde_json::from_str(body)?;
            if doc["kind"] == "proforma" {
                renewals += doc["lines"].as_array().map_or(0, Vec::len);
            }
        }
    }
    Ok(Source {
        accounts,
        tables,
        renewals,
        changes,
        paid,
    })
}

fn replay(source: &Source, group: usize, without: &[&str]) -> anyhow::Result<f64> {
    let dir = std::env::temp_dir().join(format!("renewals-bench-rows-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("renewals.sqlite3");
    // The store's own schema, then a connection of ours with `simulate`'s pragmas.
    drop(SqliteStore::open(&path, Durability::Scratch)?);
    let conn = Connection::open(&path)?;
    conn.execute_batch(
        "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF;",
    )?;
    conn.execute_batch("BEGIN")?;
    for (tenant, next, body) in &source.accounts {
        conn.execute(
            "INSERT INTO accounts (tenant, version, next_action, body) VALUES (?1, 1, ?2, ?3)",
            rusqlite::params![tenant, next, body],
        )?;
    }
    conn.execute_batch("COMMIT")?;
    let inserts = TABLES
        .iter()
        .map(|(table, columns, _)| {
            let marks = vec!["?"; columns.split(',').count()].join(", ");
            format!("INSERT INTO {table} ({columns}) VALUES ({marks})")
        })
        .collect::<Vec<_>>();
    let days = ["2026-01-01", "2026-06-01"];
    let c = source.changes;
    // Row k of a table with n rows belongs to change k * c / n.
    let mut next_row = vec![0usize; TABLES.len()];
    let mut next_paid = 0;
    let began = Instant::now();
    for start in (0..c).step_by(group) {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        for j in start..(start + group).min(c) {
            conn.execute_batch("SAVEPOINT change")?;
            let (tenant, _, body) = &source.accounts[(j * 7919) % source.accounts.len()];
            conn.prepare_cached(
                "UPDATE accounts SET version = version + 1, next_action = ?2, body = ?3
                 WHERE tenant = ?1",
            )?
            .execute(rusqlite::params![tenant, days[j % 2], body])?;
            for (t, rows) in source.tables.iter().enumerate() {
                if without.contains(&TABLES[t].0) {
                    continue;
                }
                while next_row[t] < rows.len() && next_row[t] * c / rows.len() <= j {
                    conn.prepare_cached(&inserts[t])?
                        .execute(params_from_iter(rows[next_row[t]].iter()))?;
                    if let Some(series) = TABLES[t].2 {
                        conn.prepare_cached(
                            "INSERT INTO counters (series, last) VALUES (?1, ?2)
                             ON CONFLICT(series) DO UPDATE SET last = excluded.last",
                        )?
                        .execute(rusqlite::params![series, next_row[t] as i64])?;
                    }
                    next_row[t] += 1;
                }
            }
            while next_paid < source.paid.len() && next_paid * c / source.paid.len() <= j {
                let (number, body) = &source.paid[next_paid];
                conn.prepare_cached(
                    "UPDATE documents SET status = 'paid', body = ?2 WHERE number = ?1",
                )?
                .execute(rusqlite::params![number, body])?;
                next_paid += 1;
            }
            conn.execute_batch("RELEASE change")?;
        }
        conn.execute_batch("COMMIT")?;
    }
    let elapsed = began.elapsed().as_secs_f64();
    drop(conn);
    let _ = std::fs::remove_dir_all(&dir);
    Ok((source.renewals as f64 / elapsed * 10.0).round() / 10.0)
}

/// `without`: tables left out, to see what each one costs.
pub fn run(from: &Path, without: &[&str]) -> anyhow::Result<Rows> {
    let source = read(from)?;
    let rows: usize = source.tables.iter().map(Vec::len).sum();
    Ok(Rows {
        renewals: source.renewals,
        account_changes: source.changes,
        rows_per_renewal: (rows as f64 / source.renewals.max(1) as f64 * 100.0).round() / 100.0,
        single_per_s: replay(&source, 1, without)?,
        grouped_per_s: replay(&source, 44, without)?,
    })
}
