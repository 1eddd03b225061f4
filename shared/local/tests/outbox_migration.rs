//! A data folder made while the outbox stored composed MIME keeps working after the outbox
//! moved to letters: the rows queued before are sent as they were, with their ids and states.

use chrono::{DateTime, Utc};
use renewals_app::ports::{Change, Content, Mailer, OutboxMessage, Store};
use renewals_domain::TenantId;
use renewals_local::sqlite::Durability;
use renewals_local::{OutboxMailer, SqliteStore};

/// The outbox as the store created it before letters (with the delivery columns).
const OLD_SCHEMA: &str = "
CREATE TABLE accounts (
    tenant TEXT PRIMARY KEY, version INTEGER NOT NULL, next_action TEXT, body TEXT NOT NULL);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, tenant TEXT NOT NULL,
    kind TEXT NOT NULL, recipient TEXT NOT NULL, subject TEXT NOT NULL, document TEXT,
    date TEXT NOT NULL, mime BLOB NOT NULL, sent INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt INTEGER NOT NULL DEFAULT 0,
    parked INTEGER NOT NULL DEFAULT 0, last_error TEXT);
CREATE INDEX outbox_tenant ON outbox(tenant);
CREATE INDEX outbox_unsent ON outbox(id) WHERE sent = 0;
CREATE INDEX outbox_due ON outbox(next_attempt, id) WHERE sent = 0 AND parked = 0;
";

fn old_row(conn: &rusqlite::Connection, key: &str, mime: &[u8], sent: bool, attempts: i64) {
    conn.execute(
        "INSERT INTO outbox (key, tenant, kind, recipient, subject, document, date, mime, sent,
                             attempts)
         VALUES (?1, 'acme', 'proforma', 'faktury@acme.example.pl', 'Pro-forma PF/2026/02/0001',
                 'PF/2026/02/0001', '2026-02-21', ?2, ?3, ?4)",
        rusqlite::params![key, mime, sent, attempts],
    )
    .unwrap();
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[tokio::test]
async fn rows_queued_as_mime_before_the_migration_are_sent_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("renewals.sqlite3");
    // Not UTF-8, as MIME with an 8-bit part may be: kept byte for byte.
    let mut mime =
        b"Subject: Pro-forma PF/2026/02/0001\r\n\r\nZa\xc5\x82\xc4\x85cznik\r\n".to_vec();
    mime.extend([0xff, 0x00, 0xfe]);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(OLD_SCHEMA).unwrap();
        old_row(&conn, "sent-before", b"already sent", true, 1);
        old_row(&conn, "proforma:PF/2026/02/0001", &mime, false, 2);
    }

    let store = SqliteStore::open_existing(&path, Durability::Normal).unwrap();
    let acme = TenantId::parse("acme").unwrap();
    let listed = store.emails_of(&acme).await.unwrap();
    assert_eq!(listed.len(), 2, "nothing lost");
    assert_eq!(listed[1].subject, "Pro-forma PF/2026/02/0001");

    let now = at("2026-02-21T11:00:00Z");
    let claimed = store
        .claim_due(now, at("2026-02-21T11:10:00Z"), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "the sent one stays sent");
    let old = &claimed[0];
    assert_eq!((old.id, old.attempts), (2, 3), "its id and attempts kept");
    assert_eq!(old.message.content, Content::Mime(mime.clone()));

    // The `.eml` mailer writes exactly those bytes.
    let outbox = OutboxMailer::new(dir.path().join("outbox")).unwrap();
    let bytes = old.message.mime(&NoComposer);
    outbox.send(old.id, &old.message, &bytes).await.unwrap();
    let file = dir.path().join("outbox/0000002-acme-proforma.eml");
    assert_eq!(std::fs::read(file).unwrap(), mime);
    store.mark_sent(&[old.id]).await.unwrap();

    // New rows hold MIME or letters alike, numbered after the old ones.
    let new = OutboxMessage {
        key: "login:new".into(),
        content: Content::Mime(b"new".to_vec()),
        ..listed[1].clone()
    };
    store
        .commit(Change {
            emails: vec![new],
            ..Change::default()
        })
        .await
        .unwrap();
    let claimed = store
        .claim_due(now, at("2026-02-21T11:10:00Z"), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, 3);
    drop(store);

    // Opening it again migrates nothing twice.
    let store = SqliteStore::open_existing(&path, Durability::Normal).unwrap();
    assert_eq!(store.emails_of(&acme).await.unwrap().len(), 3);
    assert!(store.unsent(10).await.unwrap().iter().all(|m| m.id == 3));
}

/// Rows queued as MIME never reach the composer.
struct NoComposer;

impl renewals_app::ports::Composer for NoComposer {
    fn envelope(
        &self,
        _: &renewals_domain::Notice,
        _: &renewals_domain::Tenant,
        _: DateTime<Utc>,
    ) -> renewals_app::ports::Envelope {
        unreachable!("an old row is not composed")
    }

    fn compose(
        &self,
        _: &renewals_domain::Notice,
        _: &renewals_domain::Tenant,
        _: &str,
        _: DateTime<Utc>,
    ) -> renewals_app::ports::ComposedEmail {
        unreachable!("an old row is not composed")
    }
}
