//! Local adapters: the embedded SQLite store and the `.eml` outbox mailer. With these (and
//! the offline Przelewy24 of `renewals-przelewy24`) a newcomer runs everything with nothing
//! installed.

pub mod outbox;
pub mod panel;
pub mod sqlite;

pub use outbox::OutboxMailer;
pub use sqlite::SqliteStore;
