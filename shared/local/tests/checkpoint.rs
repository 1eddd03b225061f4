//! `renewals serve` checkpoints the WAL on a thread of its own: commits stop copying the WAL
//! into the database (and syncing it) themselves, and what they wrote still reaches the
//! database file. Read here through SQLite's `immutable` mode, which ignores the WAL: a row
//! is in the database file only once a checkpoint copied it there.

use chrono::NaiveDate;
use renewals_app::ports::{Change, Content, OutboxMessage, Store};
use renewals_domain::TenantId;
use renewals_local::sqlite::Durability;
use renewals_local::SqliteStore;
use std::path::Path;
use std::time::{Duration, Instant};

fn message(key: &str) -> OutboxMessage {
    OutboxMessage {
        key: key.into(),
        tenant: TenantId::parse("acme").unwrap(),
        kind: "login".into(),
        to: "faktury@acme.example.pl".into(),
        subject: "Link do logowania".into(),
        document: None,
        date: NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
        content: Content::Mime(b"Subject: Link do logowania\r\n\r\n".to_vec()),
    }
}

/// Outbox rows in the database file itself, the WAL left unread (0 while even the table is
/// only in the WAL).
fn rows_in_database_file(path: &Path) -> i64 {
    let uri = format!("file:{}?immutable=1", path.display());
    let conn = rusqlite::Connection::open_with_flags(
        uri,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
    )
    .unwrap();
    conn.query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))
        .unwrap_or(0)
}

async fn commit(store: &SqliteStore, keys: std::ops::Range<usize>) {
    for i in keys {
        store
            .commit(Change {
                emails: vec![message(&format!("login:{i}"))],
                ..Change::default()
            })
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn commits_reach_the_database_file_through_the_background_checkpointer_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("renewals.sqlite3");
    let store = SqliteStore::open(&path, Durability::Normal).unwrap();
    store
        .checkpoint_in_background(&path, Duration::from_millis(50), 1_000)
        .unwrap();

    // Enough commits to pass SQLite's 1,000-page trigger several times over.
    commit(&store, 0..3000).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while rows_in_database_file(&path) < 3000 {
        assert!(
            Instant::now() < deadline,
            "the checkpointer never copied the WAL into the database"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Nothing was lost on the way, and the store reads every row back.
    assert_eq!(store.count("outbox").unwrap(), 3000);
}

#[tokio::test]
async fn with_the_checkpointer_far_off_commits_leave_the_database_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("renewals.sqlite3");
    let store = SqliteStore::open(&path, Durability::Normal).unwrap();
    let before = rows_in_database_file(&path);
    store
        .checkpoint_in_background(&path, Duration::from_secs(3600), 1_000)
        .unwrap();
    // SQLite's default would have checkpointed inside the commits crossing 1,000 pages.
    commit(&store, 0..3000).await;
    assert_eq!(
        rows_in_database_file(&path),
        before,
        "a commit checkpointed"
    );
    assert_eq!(store.count("outbox").unwrap(), 3000);
}

/// Size of the WAL file beside the database (0 when there is none).
fn wal_bytes(path: &Path) -> u64 {
    std::fs::metadata(path.with_extension("sqlite3-wal")).map_or(0, |m| m.len())
}

#[tokio::test]
async fn a_steady_stream_of_commits_does_not_grow_the_wal_without_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("renewals.sqlite3");
    let store = SqliteStore::open(&path, Durability::Normal).unwrap();
    // Restarted past 256 pages (1 MB): a passive checkpoint alone never catches up with
    // commits that follow each other without a pause, and SQLite starts the WAL over only
    // when one has: without the restart these 6,000 commits left a 153 MB WAL file.
    store
        .checkpoint_in_background(&path, Duration::from_millis(20), 256)
        .unwrap();
    let mut largest = 0;
    for batch in 0..60 {
        commit(&store, batch * 100..(batch + 1) * 100).await;
        largest = largest.max(wal_bytes(&path));
    }
    assert!(
        largest < 64 << 20,
        "the WAL file grew to {} MB",
        largest >> 20
    );
    assert_eq!(store.count("outbox").unwrap(), 6000);
}
