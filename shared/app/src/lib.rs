//! The renewal use cases over ports: jobs, the payment webhook and people's changes.
//! Adapters (SQLite, outbox files, DynamoDB, SES, Przelewy24 over HTTP) plug into `ports`.

pub mod bank;
pub mod config;
pub mod email;
pub mod jobs;
pub mod payments;
pub mod ports;
pub mod przelewy24;
pub mod service;
pub mod transfers;
pub mod views;
pub mod webhook;
