//! The panel's tables in the embedded database: operators, one-time sign-in links, sessions,
//! rate-limit counters and the operator's decisions on held payments. Its own connection to
//! the same file (SQLite in WAL mode serialises the writers), so the business store is
//! untouched; the operator's lists read the business tables, and a retry only clears the
//! `parked` flag the deliverers set.

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use renewals_app::panel::{Operator, PanelStore, Principal, ReviewDecision, Session};
use renewals_app::ports::{
    Content, OutboxMessage, ReviewItem, StoreError, StoredCommand, StoredMessage,
};
use renewals_domain::TenantId;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::Mutex;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS panel_operators (email TEXT PRIMARY KEY COLLATE NOCASE, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS panel_login_tokens (
    hash TEXT PRIMARY KEY, who TEXT NOT NULL, expires INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS panel_sessions (hash TEXT PRIMARY KEY, body TEXT NOT NULL, expires INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS panel_rate_limits (key TEXT NOT NULL, window INTEGER NOT NULL, hits INTEGER NOT NULL,
    PRIMARY KEY (key, window));
CREATE TABLE IF NOT EXISTS panel_review_decisions (key TEXT PRIMARY KEY, body TEXT NOT NULL);
";

pub struct SqlitePanelStore {
    conn: Mutex<Connection>,
}

fn unexpected(e: impl Into<anyhow::Error>) -> StoreError {
    StoreError::Unexpected(e.into())
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(unexpected)
}

fn parse<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(unexpected)
}

impl SqlitePanelStore {
    /// Opens the panel's tables in the embedded database at `path` (created by the store).
    pub fn open(path: &Path) -> anyhow::Result<SqlitePanelStore> {
        let conn = Connection::open(path)
            .with_context(|| format!("opening the embedded store {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.execute_batch(SCHEMA)
            .context("creating the panel's tables")?;
        Ok(SqlitePanelStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn message_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredMessage> {
    let date: String = r.get(7)?;
    Ok(StoredMessage {
        id: r.get(0)?,
        message: OutboxMessage {
            key: r.get(1)?,
            tenant: TenantId::parse(&r.get::<_, String>(2)?).expect("stored tenant id"),
            kind: r.get(3)?,
            to: r.get(4)?,
            subject: r.get(5)?,
            document: r.get(6)?,
            date: NaiveDate::parse_from_str(&date, "%Y-%m-%d").expect("stored date"),
            // The operator's list of parked messages shows their envelope, not their body.
            content: Content::Mime(vec![]),
        },
        sent: r.get::<_, i64>(8)? != 0,
        attempts: r.get::<_, i64>(9)? as u32,
        parked: r.get::<_, i64>(10)? != 0,
    })
}

#[async_trait]
impl PanelStore for SqlitePanelStore {
    async fn add_operator(&self, op: &Operator) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .execute(
                "INSERT OR IGNORE INTO panel_operators (email, name) VALUES (?1, ?2)",
                params![op.email, op.name],
            )
            .map_err(unexpected)?;
        Ok(n == 1)
    }

    async fn operator(&self, email: &str) -> Result<Option<Operator>, StoreError> {
        self.conn()
            .query_row(
                "SELECT email, name FROM panel_operators WHERE email = ?1",
                [email],
                |r| {
                    Ok(Operator {
                        email: r.get(0)?,
                        name: r.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(unexpected)
    }

    async fn tenant_by_email(&self, email: &str) -> Result<Option<TenantId>, StoreError> {
        let id: Option<String> = self
            .conn()
            .query_row(
                "SELECT tenant FROM accounts
                 WHERE lower(json_extract(body, '$.tenant.email')) = lower(?1) ORDER BY tenant",
                [email],
                |r| r.get(0),
            )
            .optional()
            .map_err(unexpected)?;
        Ok(id.map(|id| TenantId::parse(&id).expect("stored tenant id")))
    }

    async fn put_login_token(
        &self,
        hash: &str,
        who: &Principal,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO panel_login_tokens (hash, who, expires) VALUES (?1, ?2, ?3)",
                params![hash, json(who)?, expires.timestamp()],
            )
            .map_err(unexpected)?;
        Ok(())
    }

    async fn take_login_token(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Principal>, StoreError> {
        // One statement: of two concurrent uses exactly one sees `used = 0`.
        let who: Option<String> = self
            .conn()
            .query_row(
                "UPDATE panel_login_tokens SET used = 1
                 WHERE hash = ?1 AND used = 0 AND expires > ?2 RETURNING who",
                params![hash, now.timestamp()],
                |r| r.get(0),
            )
            .optional()
            .map_err(unexpected)?;
        who.as_deref().map(parse).transpose()
    }

    async fn put_session(&self, hash: &str, s: &Session) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO panel_sessions (hash, body, expires) VALUES (?1, ?2, ?3)",
                params![hash, json(s)?, s.expires.timestamp()],
            )
            .map_err(unexpected)?;
        Ok(())
    }

    async fn session(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<Session>, StoreError> {
        let body: Option<String> = self
            .conn()
            .query_row(
                "SELECT body FROM panel_sessions WHERE hash = ?1 AND expires > ?2",
                params![hash, now.timestamp()],
                |r| r.get(0),
            )
            .optional()
            .map_err(unexpected)?;
        body.as_deref().map(parse).transpose()
    }

    async fn delete_session(&self, hash: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM panel_sessions WHERE hash = ?1", [hash])
            .map_err(unexpected)?;
        Ok(())
    }

    async fn hit(&self, key: &str, window: DateTime<Utc>) -> Result<u32, StoreError> {
        let hits: i64 = self
            .conn()
            .query_row(
                "INSERT INTO panel_rate_limits (key, window, hits) VALUES (?1, ?2, 1)
                 ON CONFLICT(key, window) DO UPDATE SET hits = hits + 1 RETURNING hits",
                params![key, window.timestamp()],
                |r| r.get(0),
            )
            .map_err(unexpected)?;
        Ok(hits as u32)
    }

    async fn tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT tenant FROM accounts ORDER BY tenant")
            .map_err(unexpected)?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(unexpected)?;
        rows.map(|r| {
            r.map_err(unexpected)
                .map(|id| TenantId::parse(&id).expect("stored tenant id"))
        })
        .collect()
    }

    async fn reviews(&self) -> Result<Vec<(ReviewItem, Option<ReviewDecision>)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT r.body, d.body FROM reviews r
                 LEFT JOIN panel_review_decisions d ON d.key = r.key ORDER BY r.rowid",
            )
            .map_err(unexpected)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .map_err(unexpected)?;
        rows.map(|r| {
            let (item, decision) = r.map_err(unexpected)?;
            Ok((parse(&item)?, decision.as_deref().map(parse).transpose()?))
        })
        .collect()
    }

    async fn decide_review(&self, key: &str, d: &ReviewDecision) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .execute(
                "INSERT OR IGNORE INTO panel_review_decisions (key, body) VALUES (?1, ?2)",
                params![key, json(d)?],
            )
            .map_err(unexpected)?;
        Ok(n == 1)
    }

    async fn parked_messages(&self) -> Result<Vec<StoredMessage>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, key, tenant, kind, recipient, subject, document, date, sent, attempts,
                        parked FROM outbox WHERE sent = 0 AND parked = 1 ORDER BY id",
            )
            .map_err(unexpected)?;
        let rows = stmt.query_map([], message_from_row).map_err(unexpected)?;
        rows.map(|r| r.map_err(unexpected)).collect()
    }

    async fn parked_commands(&self) -> Result<Vec<StoredCommand>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, tenant, body, done, attempts, parked, last_error
                 FROM microsoft_commands WHERE done = 0 AND parked = 1 ORDER BY id",
            )
            .map_err(unexpected)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })
            .map_err(unexpected)?;
        rows.map(|r| {
            let (id, tenant, body, done, attempts, parked, last_error) = r.map_err(unexpected)?;
            Ok(StoredCommand {
                id,
                tenant: TenantId::parse(&tenant).expect("stored tenant id"),
                command: parse(&body)?,
                done: done != 0,
                attempts: attempts as u32,
                parked: parked != 0,
                last_error,
            })
        })
        .collect()
    }

    async fn retry_message(&self, id: i64) -> Result<bool, StoreError> {
        // Back in line now, with a fresh allowance of attempts.
        let n = self
            .conn()
            .execute(
                "UPDATE outbox SET parked = 0, attempts = 0, next_attempt = 0
                 WHERE id = ?1 AND sent = 0 AND parked = 1",
                [id],
            )
            .map_err(unexpected)?;
        Ok(n == 1)
    }

    async fn retry_command(&self, id: i64) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .execute(
                "UPDATE microsoft_commands SET parked = 0, attempts = 0, next_attempt = 0
                 WHERE id = ?1 AND done = 0 AND parked = 1",
                [id],
            )
            .map_err(unexpected)?;
        Ok(n == 1)
    }
}
