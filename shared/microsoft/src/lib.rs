//! Partner Center (Microsoft New Commerce) behind the app's `Microsoft` port.
//!
//! - `settings`: `PARTNER_CENTER_*`, read once; the client secret in a `SecretString`.
//! - `client`: the REST client (client-credentials token cached until shortly before it
//!   expires, GET then full-resource PATCH with `If-Match`, 202 + `Location` polling, 429
//!   `Retry-After`, 409/5xx backoff, `MS-RequestId` per attempt, `MS-CorrelationId` per
//!   command, documented error codes as typed errors).
//! - `offline`: the stand-in for local runs without settings; records what it would do.
//! - `standin` (feature `standin`): an HTTP stand-in of Partner Center for tests.

pub mod client;
pub mod offline;
pub mod settings;
#[cfg(feature = "standin")]
pub mod standin;

pub use client::PartnerCenter;
pub use offline::OfflineMicrosoft;
pub use settings::PartnerCenterSettings;
