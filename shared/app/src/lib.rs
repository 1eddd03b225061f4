//! The renewal use cases over ports: jobs, receiving payments and people's changes.
//! Adapters (SQLite, outbox files, DynamoDB, SES, Przelewy24, e-mail templates, bank
//! statements) live in crates of their own and plug into `ports`.

pub mod audit;
pub mod changes;
pub mod config;
pub mod delivery;
pub mod error;
pub mod fanout;
pub mod invoicing;
pub mod jobs;
pub mod ksef;
pub mod microsoft;
pub mod panel;
pub mod payments;
pub mod ports;
pub mod service;
pub mod settlement;
pub mod transfers;
pub mod unit_of_work;
pub mod views;

pub use changes::TenantUpdate;
