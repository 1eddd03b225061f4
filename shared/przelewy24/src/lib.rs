//! Przelewy24 (REST API v1) behind the app's `PaymentProvider` port: the shop's settings,
//! the signed JSON objects, the notification webhook, the HTTP client, and an offline
//! stand-in that `renewals pay`, the demo and the simulator use.

pub mod client;
pub mod offline;
pub mod settings;
pub mod sign;
pub mod webhook;

pub use client::Przelewy24Client;
pub use offline::OfflineProvider;
pub use settings::P24Settings;
pub use sign::Notification;
pub use webhook::{WebhookResponse, MAX_BODY_BYTES};
