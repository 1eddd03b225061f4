//! KSeF, the national e-invoicing system (API 2.0), behind the app's `Ksef` port.
//!
//! - `number`: the 35-char KSeF number and its CRC-8.
//! - `fields`: the fields of an FA(3) invoice KSeF keys on (duplicate key, issue day).
//! - `offline`: the stand-in for local runs without settings (the demo).

pub mod fields;
pub mod number;
pub mod offline;
mod reference;

pub use number::{check_ksef_number, ksef_number};
pub use offline::OfflineKsef;
