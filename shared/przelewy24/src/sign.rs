//! The signed JSON objects of Przelewy24 REST API v1: the notification and the sign of the
//! register and verify requests (lowercase hex SHA-384 of compact JSON, keys in the
//! documented order).

use crate::settings::P24Settings;
use renewals_domain::{Document, PaymentMethod};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha384};
use subtle::ConstantTimeEq;

/// A payment notification as Przelewy24 posts it to `urlStatus`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Notification {
    pub merchant_id: i64,
    pub pos_id: i64,
    pub session_id: String,
    pub amount: i64,
    pub origin_amount: i64,
    pub currency: String,
    pub order_id: i64,
    pub method_id: i64,
    pub statement: String,
    pub sign: String,
}

// The signed JSON objects: field order is part of the protocol, so each is a struct
// (a `serde_json::Map` would sort the keys and give another hash).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NotificationSigned<'a> {
    merchant_id: i64,
    pos_id: i64,
    session_id: &'a str,
    amount: i64,
    origin_amount: i64,
    currency: &'a str,
    order_id: i64,
    method_id: i64,
    statement: &'a str,
    crc: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VerifySigned<'a> {
    session_id: &'a str,
    order_id: i64,
    amount: i64,
    currency: &'a str,
    crc: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RegisterSigned<'a> {
    session_id: &'a str,
    merchant_id: i64,
    amount: i64,
    currency: &'a str,
    crc: &'a str,
}

fn sha384_hex<T: Serialize>(value: &T) -> String {
    let json = serde_json::to_vec(value).expect("signed structs serialise");
    hex::encode(Sha384::digest(&json))
}

impl Notification {
    /// A correctly signed notification, as Przelewy24 would send it: what `renewals pay`
    /// and the simulator feed to the production handler.
    pub fn signed(
        p24: &P24Settings,
        session_id: &str,
        amount: i64,
        order_id: i64,
        method_id: i64,
    ) -> Notification {
        let mut n = Notification {
            merchant_id: p24.merchant_id,
            pos_id: p24.pos_id,
            session_id: session_id.to_string(),
            amount,
            origin_amount: amount,
            currency: "PLN".into(),
            order_id,
            method_id,
            statement: format!("p24-{order_id}"),
            sign: String::new(),
        };
        n.sign = n.expected_sign(p24.crc.expose_secret());
        n
    }

    /// What a simulated payment of `document` looks like: `amount` grosze by the tenant's
    /// method, with an order id derived from the session and the amount, so paying the same
    /// document the same amount again is the same payment (`renewals pay` is safe to repeat).
    pub fn simulated(
        p24: &P24Settings,
        document: &Document,
        amount: i64,
        method: PaymentMethod,
    ) -> Notification {
        let session_id = document.payment.session_id.as_str();
        let h = Sha256::digest(format!("{session_id}:{amount}").as_bytes());
        let order_id = (u32::from_be_bytes([h[0], h[1], h[2], h[3]]) >> 1) as i64;
        Notification::signed(p24, session_id, amount, order_id, method_id(method))
    }

    /// The body exactly as Przelewy24 posts it.
    pub fn to_body(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a notification serialises")
    }

    /// The sign this notification must carry for the shop's `crc`.
    pub fn expected_sign(&self, crc: &str) -> String {
        sha384_hex(&NotificationSigned {
            merchant_id: self.merchant_id,
            pos_id: self.pos_id,
            session_id: &self.session_id,
            amount: self.amount,
            origin_amount: self.origin_amount,
            currency: &self.currency,
            order_id: self.order_id,
            method_id: self.method_id,
            statement: &self.statement,
            crc,
        })
    }

    /// Compared in constant time so a forger learns nothing from response timing.
    pub fn is_signed_with(&self, crc: &str) -> bool {
        let expected = self.expected_sign(crc);
        expected.as_bytes().ct_eq(self.sign.as_bytes()).into()
    }
}

/// Przelewy24 method ids as the provider reports them (BLIK 154, card 218, transfer 25).
pub fn method_id(method: PaymentMethod) -> i64 {
    match method {
        PaymentMethod::Blik => 154,
        PaymentMethod::Card => 218,
        PaymentMethod::Transfer => 25,
    }
}

pub fn verify_sign(
    session_id: &str,
    order_id: i64,
    amount: i64,
    currency: &str,
    crc: &str,
) -> String {
    sha384_hex(&VerifySigned {
        session_id,
        order_id,
        amount,
        currency,
        crc,
    })
}

pub fn register_sign(
    session_id: &str,
    merchant_id: i64,
    amount: i64,
    currency: &str,
    crc: &str,
) -> String {
    sha384_hex(&RegisterSigned {
        session_id,
        merchant_id,
        amount,
        currency,
        crc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known answer from a public Przelewy24 client library's tests (see TESTING.md).
    #[test]
    fn notification_sign_matches_the_published_vector() {
        let n = Notification {
            merchant_id: 12345,
            pos_id: 123,
            session_id: "0beec7".into(),
            amount: 1500,
            origin_amount: 1500,
            currency: "PLN".into(),
            order_id: 123456789,
            method_id: 32,
            statement: "p24-XXX-YYY-ZZZ".into(),
            sign: "703e946290d92230297c35d3bc8f554d4a458a4c97c9917665929c5ef5e682f7a868ac36e5dff20184c6a5302ef66c77".into(),
        };
        assert!(n.is_signed_with("bar"));
        assert!(!n.is_signed_with("baz"));
    }
}
