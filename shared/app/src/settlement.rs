//! Receiving money: the one activation path every way of paying goes through (a provider's
//! notification, reconciliation, a recorded or imported transfer).
//!
//! Order: idempotency by payment key → document and amount → verify with the provider →
//! one atomic commit of payment, activation and e-mails.

use crate::ports::{
    Change, PaymentRecord, ProviderPayment, ReviewItem, StoreError, Verification, VerifyError,
};
use crate::service::Service;
use chrono::NaiveDate;
use renewals_domain::{
    Document, EmailAddress, Locale, Money, Nip, Notice, Numbering, PaymentMethod, PaymentOutcome,
    Tenant, TenantId,
};

impl ProviderPayment {
    fn received(&self) -> Received {
        Received {
            key: format!("p24:{}", self.order_id),
            source: format!(
                "Przelewy24, zamówienie {} (sesja {})",
                self.order_id, self.session_id
            ),
            order_id: Some(self.order_id),
            session_id: Some(self.session_id.clone()),
            reference: None,
            representative: None,
            amount: self.amount,
            currency: self.currency.clone(),
            method: self.method_id.to_string(),
        }
    }
}

/// Money received, whichever way it came; `key` makes it count once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// `p24:{orderId}` or `bank:{reference}`.
    pub key: String,
    /// Where it came from, as the operator reads it.
    pub source: String,
    pub order_id: Option<i64>,
    pub session_id: Option<String>,
    pub reference: Option<String>,
    pub representative: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub method: String,
}

/// What receiving a payment did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Settlement {
    /// The same payment was already recorded: nothing changed.
    AlreadyRecorded,
    /// Not activated: recorded for review and the operator alerted.
    Review { reason: String },
    /// Applied to the document (activated, restored, or flagged for refund).
    Applied { outcome: PaymentOutcome },
}

impl Service {
    /// Settles a provider payment: once per order id, only for the document's exact gross,
    /// only after the provider verified it; anything else is recorded for review.
    pub async fn settle(&self, p: &ProviderPayment, date: NaiveDate) -> Result<Settlement, String> {
        let received = p.received();
        if self.recorded(&received.key).await? {
            return Ok(Settlement::AlreadyRecorded);
        }
        let Some(document) = self.document_by_session(&p.session_id).await? else {
            return self
                .review(&received, date, None, "no document has this session id")
                .await;
        };
        if let Some(reason) = mismatch(&received, &document) {
            return self.review(&received, date, Some(&document), &reason).await;
        }
        if !p.verified {
            let verification = Verification {
                session_id: p.session_id.clone(),
                order_id: p.order_id,
                amount: p.amount,
                currency: p.currency.clone(),
            };
            let verified = match &self.provider {
                Some(provider) => provider.verify(&verification).await,
                None => Err(VerifyError::Unavailable(
                    "no Przelewy24 settings in this process".into(),
                )),
            };
            match verified {
                Ok(()) => {}
                Err(VerifyError::Unavailable(e)) => {
                    return Err(format!("verify failed, retry later: {e}"))
                }
                Err(VerifyError::Refused(e)) => {
                    let reason = format!("Przelewy24 refused verification: {e}");
                    return self.review(&received, date, Some(&document), &reason).await;
                }
            }
        }
        self.activate(&received, &document, date).await
    }

    /// The document a Przelewy24 session pays: its own session, or a card charge `…-cN` of it.
    async fn document_by_session(&self, session_id: &str) -> Result<Option<Document>, String> {
        let found = self.store.document_by_session(session_id).await;
        if let Some(d) = found.map_err(unavailable)? {
            return Ok(Some(d));
        }
        let Some((base, n)) = session_id.rsplit_once("-c") else {
            return Ok(None);
        };
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(None);
        }
        self.store
            .document_by_session(base)
            .await
            .map_err(unavailable)
    }

    /// Whether a payment with this key was already recorded or sent for review.
    pub(crate) async fn recorded(&self, key: &str) -> Result<bool, String> {
        Ok(self
            .store
            .payment(key)
            .await
            .map_err(unavailable)?
            .is_some()
            || self
                .store
                .review_item(key)
                .await
                .map_err(unavailable)?
                .is_some())
    }

    /// Commits the payment with what it activates; the payment key makes it happen once.
    pub(crate) async fn activate(
        &self,
        received: &Received,
        document: &Document,
        date: NaiveDate,
    ) -> Result<Settlement, String> {
        for _ in 0..16 {
            let mut account = self
                .account(&document.tenant)
                .await
                .map_err(|e| e.to_string())?;
            // The document as stored now: a concurrent run may have expired it meanwhile.
            let current = self
                .store
                .document(&document.number)
                .await
                .map_err(unavailable)?
                .unwrap_or_else(|| document.clone());
            let (outcome, mut effects) = account.pay(&current, date, &self.settings.policy);
            if let PaymentOutcome::RefundFlagged { reason } = &outcome {
                effects.push(renewals_domain::Effect::Notify(self.alert(
                    received,
                    Some(document),
                    reason,
                )));
            }
            let mut change = self.change(account, effects, &Numbering::default(), date);
            change.payment = Some(PaymentRecord {
                key: received.key.clone(),
                order_id: received.order_id,
                session_id: received.session_id.clone(),
                reference: received.reference.clone(),
                representative: received.representative.clone(),
                document: Some(document.number.clone()),
                tenant: Some(document.tenant.clone()),
                amount: Money::from_grosze(received.amount),
                received_on: date,
                method: received.method.clone(),
                outcome: outcome.clone(),
            });
            match self.store.commit(change).await {
                Ok(()) => {
                    let _ = self.deliver().await;
                    return Ok(Settlement::Applied { outcome });
                }
                Err(StoreError::Conflict(_)) => {
                    if self.recorded(&received.key).await? {
                        return Ok(Settlement::AlreadyRecorded);
                    }
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err("the account kept changing".into())
    }

    fn alert(&self, received: &Received, document: Option<&Document>, reason: &str) -> Notice {
        Notice::OperatorAlert {
            reason: reason.to_string(),
            source: received.source.clone(),
            payment: received.key.clone(),
            amount: Money::from_grosze(received.amount),
            document: document.map(|d| d.number.clone()),
        }
    }

    /// Records a payment for a person to look at, e-mails the operator, activates nothing.
    pub(crate) async fn review(
        &self,
        received: &Received,
        date: NaiveDate,
        document: Option<&Document>,
        reason: &str,
    ) -> Result<Settlement, String> {
        tracing::warn!(payment = %received.key, reason, "payment recorded for review");
        let notice = self.alert(received, document, reason);
        let change = Change {
            emails: vec![self.message(&operator(&self.settings.mail.operator), &notice, date)],
            review: Some(ReviewItem {
                key: received.key.clone(),
                source: received.source.clone(),
                amount: Money::from_grosze(received.amount),
                received_on: date,
                reason: reason.to_string(),
            }),
            ..Change::default()
        };
        match self.store.commit(change).await {
            Ok(()) => {
                let _ = self.deliver().await;
                Ok(Settlement::Review {
                    reason: reason.to_string(),
                })
            }
            Err(StoreError::Conflict(_)) => Ok(Settlement::AlreadyRecorded),
            Err(e) => Err(unavailable(e)),
        }
    }
}

/// Why a payment cannot settle a document: another currency or not exactly its gross.
pub(crate) fn mismatch(received: &Received, document: &Document) -> Option<String> {
    let gross = document.totals.gross.grosze();
    (received.currency != document.currency || received.amount != gross).then(|| {
        format!(
            "paid {} {} for {} whose gross is {} PLN",
            Money::from_grosze(received.amount),
            received.currency,
            document.number,
            document.totals.gross
        )
    })
}

fn unavailable(e: StoreError) -> String {
    format!("store unavailable: {e}")
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
