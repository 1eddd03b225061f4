//! The notification webhook (`POST /webhooks/przelewy24`), the same for `renewals serve`,
//! the Lambda Function URL, `renewals pay` and the simulator.
//!
//! Order of checks: size → shape → signature (constant time) → merchant and POS. Nothing is
//! written before the signature holds; then the app settles the payment (idempotency by
//! order id, document and amount, verify, one atomic commit).

use crate::settings::P24Settings;
use crate::sign::Notification;
use renewals_app::service::Service;
use renewals_app::settlement::{IncomingPayment, Settlement, Via};
use renewals_domain::SessionId;
use secrecy::ExposeSecret;

/// Przelewy24 notifications are a few hundred bytes; anything this large is not one.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookResponse {
    pub status: u16,
    pub body: String,
}

impl WebhookResponse {
    fn new(status: u16, body: impl Into<String>) -> WebhookResponse {
        WebhookResponse {
            status,
            body: body.into(),
        }
    }
}

/// Handles one notification body exactly as received.
pub async fn handle(svc: &Service, p24: &P24Settings, raw: &[u8]) -> WebhookResponse {
    let n = match check(p24, raw) {
        Ok(n) => n,
        Err(refused) => return refused,
    };
    let payment = IncomingPayment {
        via: Via::Przelewy24 {
            order_id: n.order_id,
            session_id: SessionId::new(n.session_id),
            method_id: n.method_id,
            verified: false,
        },
        amount: n.amount,
        currency: n.currency,
    };
    match svc.settle(&payment, svc.today()).await {
        Ok(Settlement::AlreadyRecorded) => WebhookResponse::new(200, "already processed"),
        Ok(Settlement::Review { .. }) => WebhookResponse::new(200, "recorded for review"),
        Ok(Settlement::Applied { .. }) => WebhookResponse::new(200, "OK"),
        // Nothing was written: Przelewy24 sends the notification again later. 503 when that
        // may help (store or provider unreachable), 500 when a person must look.
        Err(e) => {
            let status = if e.is_retryable() { 503 } else { 500 };
            tracing::error!(status, error = %e, "notification not settled");
            WebhookResponse::new(status, format!("not settled, retry later: {e}"))
        }
    }
}

/// A notification that may be acted on, or the answer that refuses it.
fn check(p24: &P24Settings, raw: &[u8]) -> Result<Notification, WebhookResponse> {
    if raw.len() > MAX_BODY_BYTES {
        return Err(WebhookResponse::new(413, "notification body over 64 KiB"));
    }
    let n: Notification = serde_json::from_slice(raw)
        .map_err(|e| WebhookResponse::new(400, format!("malformed notification: {e}")))?;
    if !n.is_signed_with(p24.crc.expose_secret()) {
        tracing::warn!(
            order_id = n.order_id,
            "notification with a wrong sign refused"
        );
        return Err(WebhookResponse::new(401, "invalid sign"));
    }
    if n.merchant_id != p24.merchant_id || n.pos_id != p24.pos_id {
        return Err(WebhookResponse::new(
            401,
            "notification for another merchant or POS",
        ));
    }
    Ok(n)
}
