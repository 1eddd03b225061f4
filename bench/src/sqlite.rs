//! Bare SQLite commits on this machine: the ceiling the embedded store works under. One
//! commit rewrites one account-sized row in its own `BEGIN IMMEDIATE` transaction, with the
//! pragmas `simulate` uses (no syncing, journal in memory) and those `serve` uses (WAL,
//! `synchronous=NORMAL`).

use rusqlite::{params, Connection};
use serde::Serialize;
use std::time::Instant;

#[derive(Serialize)]
pub struct Commits {
    pub commits: usize,
    /// As `simulate` opens its store.
    pub scratch_per_s: f64,
    /// As `serve` and the other commands open theirs.
    pub wal_per_s: f64,
}

const ROWS: usize = 10_000;
/// About what one account's JSON weighs (a tenant with two subscriptions).
const BODY_BYTES: usize = 2_000;

fn per_second(pragmas: &str, commits: usize) -> anyhow::Result<f64> {
    let dir = std::env::temp_dir().join(format!("renewals-bench-sqlite-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("commits.sqlite3");
    let _ = std::fs::remove_file(&path);
    let conn = Connection::open(&path)?;
    conn.execute_batch(pragmas)?;
    conn.execute_batch(
        "CREATE TABLE accounts (tenant TEXT PRIMARY KEY, version INTEGER NOT NULL, body TEXT NOT NULL)",
    )?;
    let body = "x".repeat(BODY_BYTES);
    conn.execute_batch("BEGIN")?;
    for i in 0..ROWS {
        conn.execute(
            "INSERT INTO accounts VALUES (?1, 1, ?2)",
            params![format!("t{i:06}"), body],
        )?;
    }
    conn.execute_batch("COMMIT")?;
    let mut update =
        conn.prepare("UPDATE accounts SET version = version + 1, body = ?2 WHERE tenant = ?1")?;
    let tenants: Vec<String> = (0..ROWS).map(|i| format!("t{i:06}")).collect();
    let began = Instant::now();
    for i in 0..commits {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        update.execute(params![tenants[(i * 7919) % ROWS], body])?;
        conn.execute_batch("COMMIT")?;
    }
    let rate = commits as f64 / began.elapsed().as_secs_f64();
    drop(update);
    drop(conn);
    let _ = std::fs::remove_dir_all(&dir);
    Ok((rate * 10.0).round() / 10.0)
}

pub fn commits(commits: usize) -> anyhow::Result<Commits> {
    Ok(Commits {
        commits,
        scratch_per_s: per_second(
            "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF;",
            commits,
        )?,
        wal_per_s: per_second(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            commits,
        )?,
    })
}
