//! KSeF, the national e-invoicing system (API 2.0), behind the app's `Ksef` port.
