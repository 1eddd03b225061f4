//! An offline Przelewy24 for `renewals pay`, the demo and the simulator: it checks the
//! verify request the way the provider would and accepts it.

use crate::client::{payment_link, RegisterRequest, VerifyRequest};
use crate::settings::P24Settings;
use crate::sign::{verify_sign, Notification};
use crate::webhook::WebhookResponse;
use async_trait::async_trait;
use renewals_app::ports::{
    PaymentProvider, ProviderError, Registration, TransactionStatus, Verification,
};
use renewals_app::service::Service;
use renewals_domain::{Document, PaymentMethod, SessionId};
use secrecy::ExposeSecret;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct OfflineProvider {
    settings: P24Settings,
    verified: AtomicUsize,
}

impl OfflineProvider {
    pub fn new(settings: P24Settings) -> OfflineProvider {
        OfflineProvider {
            settings,
            verified: AtomicUsize::new(0),
        }
    }

    /// How many verifications were accepted.
    pub fn verified(&self) -> usize {
        self.verified.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl PaymentProvider for OfflineProvider {
    /// Accepts a correctly signed registration and hands out a sandbox-looking link.
    async fn register(&self, r: &Registration) -> Result<String, ProviderError> {
        let request = RegisterRequest::new(&self.settings, r);
        if request.amount <= 0 || request.url_status.is_empty() {
            return Err(ProviderError::Refused("invalid register request".into()));
        }
        Ok(payment_link(
            "https://sandbox.przelewy24.pl",
            &format!("OFFLINE-{}", r.session_id),
        ))
    }

    /// Accepts the charge; offline, the payment itself arrives only through `renewals pay`.
    async fn charge_card(&self, r: &Registration, _card_ref: &str) -> Result<(), ProviderError> {
        self.register(r).await.map(|_| ())
    }

    /// Offline, payments arrive only through `renewals pay`: nothing to reconcile.
    async fn status(
        &self,
        _session_id: &SessionId,
    ) -> Result<Option<TransactionStatus>, ProviderError> {
        Ok(None)
    }

    async fn verify(&self, v: &Verification) -> Result<(), ProviderError> {
        let request = VerifyRequest::new(&self.settings, v);
        let expected = verify_sign(
            &request.session_id,
            request.order_id,
            request.amount,
            &request.currency,
            self.settings.crc.expose_secret(),
        );
        if request.sign != expected || request.currency != "PLN" || request.amount <= 0 {
            return Err(ProviderError::Refused("invalid verify request".into()));
        }
        self.verified.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Plays Przelewy24 for `renewals pay`, the demo and the simulator: a correctly signed
/// notification of `amount` grosze for `document`, through the production webhook handler.
pub async fn pay(
    svc: &Service,
    p24: &P24Settings,
    document: &Document,
    amount: i64,
    method: PaymentMethod,
) -> WebhookResponse {
    let n = Notification::simulated(p24, document, amount, method);
    crate::webhook::handle(svc, p24, &n.to_body()).await
}
