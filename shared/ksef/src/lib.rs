//! KSeF, the national e-invoicing system (API 2.0), behind the app's `Ksef` port.
//!
//! - `settings`: `KSEF_BASE_URL`, `KSEF_TOKEN`, `RENEWALS_SELLER_NIP`; the QR base per API base.
//! - `client`: `HttpKsef`, the client on reqwest + RustCrypto (`crypto`).
//! - `number`: the 35-char KSeF number and its CRC-8.
//! - `fields`: the fields of an FA(3) invoice KSeF keys on (duplicate key, issue day).
//! - `offline`: the stand-in for local runs without settings (the demo).
//! - `standin` (feature `standin`): an HTTP stand-in of KSeF for tests.

pub mod client;
pub mod crypto;
pub mod fields;
pub mod number;
pub mod offline;
mod reference;
pub mod settings;
#[cfg(feature = "standin")]
pub mod standin;

pub use client::HttpKsef;
pub use number::{check_ksef_number, ksef_number};
pub use offline::OfflineKsef;
pub use settings::{qr_base_for, KsefSettings, SettingsError};
