//! A loopback stand-in of Przelewy24 REST API v1 for the webhook benchmark: the two calls a
//! shop makes around a payment, with the provider's rules, so that `renewals serve` talks to
//! it exactly as it talks to Przelewy24.
//!
//! - `POST /api/v1/transaction/register`: HTTP Basic `posId:apiKey`, the shop's merchant and
//!   POS, the register `sign`; the transaction is kept and a token handed out.
//! - `PUT /api/v1/transaction/verify`: the same auth, the verify `sign`, and a transaction
//!   the customer paid (session id, order id, amount and currency as paid); verified once,
//!   a repeated verify of the same order answers success again.
//!
//! Errors have the provider's shape, `{"error": "…", "code": N}`: 401 for credentials, 400
//! for a body, sign or transaction that does not match.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{post, put};
use axum::Router;
use base64::Engine;
use renewals_przelewy24::client::{RegisterRequest, VerifyRequest};
use renewals_przelewy24::sign::{register_sign, verify_sign};
use renewals_przelewy24::P24Settings;
use secrecy::ExposeSecret;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A transaction as the provider knows it.
#[derive(Clone, Debug)]
struct Transaction {
    amount: i64,
    currency: String,
    /// Set when the customer paid: the order id the notification carries.
    paid_order: Option<i64>,
    verified: bool,
}

pub struct Przelewy24 {
    merchant_id: i64,
    pos_id: i64,
    crc: String,
    /// `Basic base64(posId:apiKey)`, compared as sent.
    authorization: String,
    transactions: Mutex<HashMap<String, Transaction>>,
    pub registered: AtomicU64,
    pub verified: AtomicU64,
    pub refused: AtomicU64,
}

type Answer = (StatusCode, String);

fn error(code: StatusCode, text: &str) -> Answer {
    (
        code,
        json!({"error": text, "code": code.as_u16()}).to_string(),
    )
}

impl Przelewy24 {
    pub fn new(shop: &P24Settings) -> Arc<Przelewy24> {
        let credentials = format!("{}:{}", shop.pos_id, shop.api_key.expose_secret());
        Arc::new(Przelewy24 {
            merchant_id: shop.merchant_id,
            pos_id: shop.pos_id,
            crc: shop.crc.expose_secret().to_string(),
            authorization: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            ),
            transactions: Mutex::new(HashMap::new()),
            registered: AtomicU64::new(0),
            verified: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        })
    }

    /// The customer paid `amount` for `session_id`; Przelewy24 gave it `order_id` (what its
    /// notification then reports).
    pub fn customer_paid(&self, session_id: &str, order_id: i64, amount: i64) {
        let mut t = self.transactions.lock().expect("not poisoned");
        let entry = t.entry(session_id.to_string()).or_insert(Transaction {
            amount,
            currency: "PLN".into(),
            paid_order: None,
            verified: false,
        });
        entry.paid_order = Some(order_id);
        entry.amount = amount;
    }

    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/api/v1/transaction/register", post(register))
            .route("/api/v1/transaction/verify", put(verify))
            .with_state(self.clone())
    }

    fn authorised(&self, headers: &HeaderMap) -> Result<(), Answer> {
        let sent = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if sent != self.authorization {
            return Err(error(StatusCode::UNAUTHORIZED, "Incorrect authentication"));
        }
        Ok(())
    }

    fn shop(&self, merchant_id: i64, pos_id: i64) -> Result<(), Answer> {
        if merchant_id != self.merchant_id || pos_id != self.pos_id {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "Invalid merchantId or posId",
            ));
        }
        Ok(())
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<Answer, Answer> {
        self.authorised(headers)?;
        let v: VerifyRequest = serde_json::from_slice(body)
            .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("Invalid body: {e}")))?;
        self.shop(v.merchant_id, v.pos_id)?;
        let sign = verify_sign(&v.session_id, v.order_id, v.amount, &v.currency, &self.crc);
        if sign != v.sign {
            return Err(error(StatusCode::BAD_REQUEST, "Invalid sign"));
        }
        let mut t = self.transactions.lock().expect("not poisoned");
        let known = t.get_mut(&v.session_id).filter(|t| {
            t.paid_order == Some(v.order_id) && t.amount == v.amount && t.currency == v.currency
        });
        let Some(transaction) = known else {
            return Err(error(StatusCode::BAD_REQUEST, "Transaction not found"));
        };
        transaction.verified = true;
        Ok((
            StatusCode::OK,
            json!({"data": {"status": "success"}, "responseCode": 0}).to_string(),
        ))
    }

    fn register(&self, headers: &HeaderMap, body: &[u8]) -> Result<Answer, Answer> {
        self.authorised(headers)?;
        let r: RegisterRequest = serde_json::from_slice(body)
            .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("Invalid body: {e}")))?;
        self.shop(r.merchant_id, r.pos_id)?;
        let sign = register_sign(
            &r.session_id,
            r.merchant_id,
            r.amount,
            &r.currency,
            &self.crc,
        );
        if sign != r.sign {
            return Err(error(StatusCode::BAD_REQUEST, "Invalid sign"));
        }
        let mut t = self.transactions.lock().expect("not poisoned");
        t.entry(r.session_id.clone()).or_insert(Transaction {
            amount: r.amount,
            currency: r.currency.clone(),
            paid_order: None,
            verified: false,
        });
        let token = format!("T{:032X}", t.len());
        Ok((
            StatusCode::OK,
            json!({"data": {"token": token}, "responseCode": 0}).to_string(),
        ))
    }

    /// Transactions verified at least once.
    pub fn verified_transactions(&self) -> usize {
        let t = self.transactions.lock().expect("not poisoned");
        t.values().filter(|t| t.verified).count()
    }
}

async fn verify(State(p24): State<Arc<Przelewy24>>, headers: HeaderMap, body: Bytes) -> Answer {
    let answer = p24.verify(&headers, &body);
    let counter = if answer.is_ok() {
        &p24.verified
    } else {
        &p24.refused
    };
    counter.fetch_add(1, Ordering::Relaxed);
    answer.unwrap_or_else(|e| e)
}

async fn register(State(p24): State<Arc<Przelewy24>>, headers: HeaderMap, body: Bytes) -> Answer {
    let answer = p24.register(&headers, &body);
    if answer.is_ok() {
        p24.registered.fetch_add(1, Ordering::Relaxed);
    } else {
        p24.refused.fetch_add(1, Ordering::Relaxed);
    }
    answer.unwrap_or_else(|e| e)
}
