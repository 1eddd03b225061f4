//! Local adapters: the embedded SQLite store, the `.eml` outbox mailer and the offline
//! payment provider. With these a newcomer runs everything with nothing installed.

pub mod offline;
pub mod outbox;
pub mod sqlite;

pub use offline::OfflineProvider;
pub use outbox::OutboxMailer;
pub use sqlite::SqliteStore;
