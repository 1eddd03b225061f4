//! The Przelewy24 payment notification: from the raw body to an activated period.
//!
//! Order of checks: size → shape → signature (constant time) → merchant and POS →
//! idempotency by order id → document and amount → verify with the provider → one atomic
//! commit of payment, activation and e-mails. Nothing is written before the signature holds.

use crate::ports::{Change, PaymentRecord, ReviewItem, StoreError, Verification, VerifyError};
use crate::przelewy24::Notification;
use crate::service::Service;
use chrono::NaiveDate;
use renewals_domain::{
    Document, EmailAddress, Locale, Money, Nip, Notice, Numbering, PaymentMethod, PaymentOutcome,
    Tenant, TenantId,
};

/// Przelewy24 notifications are a few hundred bytes; anything this large is not one.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A payment as the provider reports it: from a notification or a status query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderPayment {
    pub order_id: i64,
    pub session_id: String,
    pub amount: i64,
    pub currency: String,
    pub method_id: i64,
    /// The provider already settled it (status 2 on a lookup): verify is not asked again.
    pub verified: bool,
}

impl From<&Notification> for ProviderPayment {
    fn from(n: &Notification) -> Self {
        ProviderPayment {
            order_id: n.order_id,
            session_id: n.session_id.clone(),
            amount: n.amount,
            currency: n.currency.clone(),
            method_id: n.method_id,
            verified: false,
        }
    }
}

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

impl Service {
    /// Handles one notification body exactly as received.
    pub async fn handle_przelewy24(&self, raw: &[u8]) -> WebhookResponse {
        match self.notification(raw).await {
            Ok(r) | Err(r) => r,
        }
    }

    async fn notification(&self, raw: &[u8]) -> Result<WebhookResponse, WebhookResponse> {
        if raw.len() > MAX_BODY_BYTES {
            return Err(WebhookResponse::new(413, "notification body over 64 KiB"));
        }
        let n: Notification = serde_json::from_slice(raw)
            .map_err(|e| WebhookResponse::new(400, format!("malformed notification: {e}")))?;
        let p24 = &self.settings.p24;
        if !n.is_signed_with(&p24.crc) {
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
        self.settle(&ProviderPayment::from(&n), self.today()).await
    }

    /// Settles a reported payment: once per order id, only for the document's exact gross,
    /// only after the provider verified it; anything else is recorded for review.
    pub(crate) async fn settle(
        &self,
        n: &ProviderPayment,
        date: NaiveDate,
    ) -> Result<WebhookResponse, WebhookResponse> {
        let fail = |e: StoreError| WebhookResponse::new(503, format!("store unavailable: {e}"));
        if self
            .store
            .payment(n.order_id)
            .await
            .map_err(fail)?
            .is_some()
            || self
                .store
                .review_item(n.order_id)
                .await
                .map_err(fail)?
                .is_some()
        {
            return Ok(WebhookResponse::new(200, "already processed"));
        }
        let Some(document) = self
            .store
            .document_by_session(&n.session_id)
            .await
            .map_err(fail)?
        else {
            return self
                .review(n, date, None, "no document has this session id")
                .await;
        };
        let gross = document.totals.gross.grosze();
        if n.currency != document.currency || n.amount != gross {
            let reason = format!(
                "paid {} {} for {} whose gross is {} PLN",
                Money::from_grosze(n.amount),
                n.currency,
                document.number,
                document.totals.gross
            );
            return self.review(n, date, Some(&document), &reason).await;
        }
        let verification = Verification {
            session_id: n.session_id.clone(),
            order_id: n.order_id,
            amount: n.amount,
            currency: n.currency.clone(),
        };
        let verified = match n.verified {
            true => Ok(()),
            false => self.provider.verify(&verification).await,
        };
        match verified {
            Ok(()) => {}
            Err(VerifyError::Unavailable(e)) => {
                return Err(WebhookResponse::new(
                    503,
                    format!("verify failed, retry later: {e}"),
                ))
            }
            Err(VerifyError::Refused(e)) => {
                let reason = format!("Przelewy24 refused verification: {e}");
                return self.review(n, date, Some(&document), &reason).await;
            }
        }
        self.activate(n, &document, date).await
    }

    /// Commits the payment with what it activates; the order id makes it happen once.
    async fn activate(
        &self,
        n: &ProviderPayment,
        document: &Document,
        date: NaiveDate,
    ) -> Result<WebhookResponse, WebhookResponse> {
        let fail = |e: String| WebhookResponse::new(503, format!("store unavailable: {e}"));
        for _ in 0..16 {
            let mut account = self
                .account(&document.tenant)
                .await
                .map_err(|e| fail(e.to_string()))?;
            // The document as stored now: a concurrent run may have expired it meanwhile.
            let current = self
                .store
                .document(&document.number)
                .await
                .map_err(|e| fail(e.to_string()))?
                .unwrap_or_else(|| document.clone());
            let (outcome, mut effects) = account.pay(&current, date, &self.settings.policy);
            if let PaymentOutcome::RefundFlagged { reason } = &outcome {
                effects.push(renewals_domain::Effect::Notify(self.alert(
                    n,
                    Some(document),
                    reason,
                )));
            }
            let mut change = self.change(account, effects, &Numbering::default(), date);
            change.payment = Some(PaymentRecord {
                order_id: n.order_id,
                session_id: n.session_id.clone(),
                document: Some(document.number.clone()),
                tenant: Some(document.tenant.clone()),
                amount: Money::from_grosze(n.amount),
                received_on: date,
                method: n.method_id.to_string(),
                outcome,
            });
            match self.store.commit(change).await {
                Ok(()) => {
                    let _ = self.deliver().await;
                    return Ok(WebhookResponse::new(200, "OK"));
                }
                Err(StoreError::Conflict(_)) => {
                    if self
                        .store
                        .payment(n.order_id)
                        .await
                        .map_err(|e| fail(e.to_string()))?
                        .is_some()
                    {
                        return Ok(WebhookResponse::new(200, "already processed"));
                    }
                }
                Err(e) => return Err(fail(e.to_string())),
            }
        }
        Err(fail("the account kept changing".into()))
    }

    fn alert(&self, n: &ProviderPayment, document: Option<&Document>, reason: &str) -> Notice {
        Notice::OperatorAlert {
            reason: reason.to_string(),
            session_id: n.session_id.clone(),
            order_id: n.order_id,
            amount: Money::from_grosze(n.amount),
            document: document.map(|d| d.number.clone()),
        }
    }

    /// Records a notification for a person to look at, e-mails the operator, activates nothing.
    async fn review(
        &self,
        n: &ProviderPayment,
        date: NaiveDate,
        document: Option<&Document>,
        reason: &str,
    ) -> Result<WebhookResponse, WebhookResponse> {
        tracing::warn!(order_id = n.order_id, reason, "payment recorded for review");
        let notice = self.alert(n, document, reason);
        let change = Change {
            emails: vec![self.message(&operator(&self.settings.mail.operator), &notice, date)],
            review: Some(ReviewItem {
                order_id: n.order_id,
                session_id: n.session_id.clone(),
                amount: Money::from_grosze(n.amount),
                received_on: date,
                reason: reason.to_string(),
            }),
            ..Change::default()
        };
        match self.store.commit(change).await {
            Ok(()) | Err(StoreError::Conflict(_)) => {
                let _ = self.deliver().await;
                Ok(WebhookResponse::new(200, "recorded for review"))
            }
            Err(e) => Err(WebhookResponse::new(503, format!("store unavailable: {e}"))),
        }
    }
}

/// The reseller's own desk as the addressee of operator alerts.
fn operator(email: &str) -> Tenant {
    Tenant {
        id: TenantId::parse("operator").expect("valid id"),
        name: "Operator".into(),
        nip: Nip::parse("5260001246").expect("valid NIP"),
        address: String::new(),
        email: EmailAddress::parse(email).unwrap_or_else(|_| {
            EmailAddress::parse("operator@reseller.example").expect("valid address")
        }),
        locale: Locale::Pl,
        payment_method: PaymentMethod::Transfer,
    }
}
