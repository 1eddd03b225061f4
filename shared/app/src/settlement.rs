//! Receiving money: the one activation path every way of paying goes through (a provider's
//! notification, reconciliation, a recorded or imported transfer).
//!
//! Order: idempotency by payment key → document and amount → verify with the provider →
//! one unit of work that commits the payment with what it activates and its e-mails.

use crate::audit::{Actor, Provider};
use crate::error::ServiceError;
use crate::ports::{
    Change, PaymentRecord, ProviderError, ReviewItem, StoreError, TransactionStatus, Verification,
};
use crate::service::Service;
use crate::unit_of_work::{Decision, Draft};
use async_trait::async_trait;
use chrono::NaiveDate;
use renewals_domain::{
    AlertCause, Document, Effect, EmailAddress, InvoiceSeries, Locale, Money, Nip, Notice,
    PaymentMethod, PaymentOutcome, SessionId, Tenant, TenantId, VatInvoice,
};

/// How the reason of a review held because Przelewy24 did not confirm the transaction
/// begins: such a review is verified again by later copies and by reconciliation.
pub const VERIFY_REFUSED: &str = "Przelewy24 refused verification";

/// Money received, whichever way it came. Its key makes it count once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncomingPayment {
    pub via: Via,
    /// In grosze.
    pub amount: i64,
    pub currency: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    /// A Przelewy24 transaction: from a notification, or found by asking about a session.
    Przelewy24 {
        order_id: i64,
        session_id: SessionId,
        method_id: i64,
        /// The provider already settled it (status 2 on a lookup): verify is not asked again.
        verified: bool,
    },
    /// A transfer seen on the bank account: imported from a statement or recorded by a person.
    Transfer {
        reference: String,
        representative: Option<String>,
    },
}

impl IncomingPayment {
    /// What Przelewy24 reports about a session when asked: a payment if it was paid
    /// (1 advance, not yet verified; 2 paid and verified), nothing otherwise.
    pub fn from_status(session_id: SessionId, t: TransactionStatus) -> Option<IncomingPayment> {
        matches!(t.status, 1 | 2).then(|| IncomingPayment {
            via: Via::Przelewy24 {
                order_id: t.order_id,
                session_id,
                method_id: t.method_id,
                verified: t.status == 2,
            },
            amount: t.amount,
            currency: t.currency,
        })
    }

    /// A transfer in PLN.
    pub fn transfer(reference: &str, amount: i64, representative: Option<String>) -> Self {
        IncomingPayment {
            via: Via::Transfer {
                reference: reference.to_string(),
                representative,
            },
            amount,
            currency: "PLN".into(),
        }
    }

    /// `p24:{orderId}` (however many copies of a notification arrive) or `bank:{reference}`.
    pub fn key(&self) -> String {
        match &self.via {
            Via::Przelewy24 { order_id, .. } => format!("p24:{order_id}"),
            Via::Transfer { reference, .. } => format!("bank:{reference}"),
        }
    }

    /// Where it came from, as the operator reads it.
    fn source(&self) -> String {
        match &self.via {
            Via::Przelewy24 {
                order_id,
                session_id,
                ..
            } => format!("Przelewy24, zamówienie {order_id} (sesja {session_id})"),
            Via::Transfer { reference, .. } => format!("przelew bankowy, ref. {reference}"),
        }
    }

    fn record(
        &self,
        document: &Document,
        date: NaiveDate,
        outcome: PaymentOutcome,
    ) -> PaymentRecord {
        let (order_id, session_id, reference, representative, method) = match &self.via {
            Via::Przelewy24 {
                order_id,
                session_id,
                method_id,
                ..
            } => (
                Some(*order_id),
                Some(session_id.clone()),
                None,
                None,
                method_id.to_string(),
            ),
            Via::Transfer {
                reference,
                representative,
            } => (
                None,
                None,
                Some(reference.clone()),
                representative.clone(),
                "transfer".to_string(),
            ),
        };
        PaymentRecord {
            key: self.key(),
            order_id,
            session_id,
            reference,
            representative,
            document: Some(document.number.clone()),
            tenant: Some(document.tenant.clone()),
            amount: Money::from_grosze(self.amount),
            received_on: date,
            method,
            outcome,
        }
    }

    /// Why this payment cannot settle a document: another currency or not exactly its gross.
    pub fn mismatch(&self, document: &Document) -> Option<String> {
        let gross = document.totals.gross.grosze();
        (self.currency != document.currency || self.amount != gross).then(|| {
            format!(
                "paid {} {} for {} whose gross is {} PLN",
                Money::from_grosze(self.amount),
                self.currency,
                document.number,
                document.totals.gross
            )
        })
    }
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
    /// Settles a payment: once per key, only for the document's exact gross, only after the
    /// provider verified it; anything else is recorded for review. An error means nothing
    /// was written (`is_retryable` says whether the provider should send it again).
    #[tracing::instrument(skip_all, fields(payment = %payment.key()))]
    pub async fn settle(
        &self,
        payment: &IncomingPayment,
        date: NaiveDate,
    ) -> Result<Settlement, ServiceError> {
        if self.recorded(&payment.key()).await? {
            return Ok(Settlement::AlreadyRecorded);
        }
        let document = match &payment.via {
            Via::Przelewy24 { session_id, .. } => self.document_by_session(session_id).await?,
            Via::Transfer { .. } => None,
        };
        let Some(document) = document else {
            return self
                .review(payment, date, None, "no document has this session id")
                .await;
        };
        self.settle_document(payment, &document, date).await
    }

    /// Settles a payment of a known document (a transfer names it in its title).
    #[tracing::instrument(skip_all, fields(document = %document.number))]
    pub(crate) async fn settle_document(
        &self,
        payment: &IncomingPayment,
        document: &Document,
        date: NaiveDate,
    ) -> Result<Settlement, ServiceError> {
        if let Some(reason) = payment.mismatch(document) {
            return self.review(payment, date, Some(document), &reason).await;
        }
        if let Via::Przelewy24 {
            order_id,
            session_id,
            verified: false,
            ..
        } = &payment.via
        {
            let verification = Verification {
                session_id: session_id.clone(),
                order_id: *order_id,
                amount: payment.amount,
                currency: payment.currency.clone(),
            };
            let provider = self.provider()?;
            match provider.verify(&verification).await {
                Ok(()) => {}
                Err(e @ ProviderError::Misconfigured(_)) => {
                    // Our key, not the payment: nothing recorded, Przelewy24 sends it again,
                    // and the operator learns of it (once a day per document).
                    self.alert_credentials(payment, document, date, &e).await;
                    return Err(e.into());
                }
                Err(e) if e.is_retryable() => return Err(e.into()),
                Err(e) => {
                    let reason = format!("{VERIFY_REFUSED}: {e}");
                    return self.review(payment, date, Some(document), &reason).await;
                }
            }
        }
        self.activate(payment, document, date).await
    }

    /// A transfer that paid more than the document's gross: the surplus is recorded for
    /// review (to refund or credit) with one operator alert naming the customer, then the
    /// document is settled with its gross. The surplus has its own key
    /// (`{payment key}#surplus`), so importing the statement again records it once.
    pub(crate) async fn settle_overpaid(
        &self,
        payment: &IncomingPayment,
        document: &Document,
        date: NaiveDate,
    ) -> Result<Settlement, ServiceError> {
        let gross = document.totals.gross;
        let surplus = Money::from_grosze(payment.amount - gross.grosze());
        let key = format!("{}#surplus", payment.key());
        if self.store.review_item(&key).await?.is_none() {
            let reason = format!(
                "overpaid: {} PLN for {} whose gross is {gross} PLN; {surplus} PLN to refund or credit",
                Money::from_grosze(payment.amount),
                document.number
            );
            let cause = AlertCause::Overpayment {
                expected: gross,
                surplus,
            };
            let notice = self.alert(payment, Some(document), cause, &reason, date);
            let tenant = self.alert_tenant(Some(document)).await;
            let review = ReviewItem {
                key,
                source: payment.source(),
                amount: surplus,
                received_on: date,
                reason,
            };
            let change = Change {
                emails: vec![self.message(&tenant, &notice, date)],
                audit: vec![self.held_entry(payment, &tenant.id, &review, Some(document))],
                review: Some(review),
                ..Change::default()
            };
            match self.store.commit(change).await {
                Ok(()) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let settled = IncomingPayment {
            amount: gross.grosze(),
            ..payment.clone()
        };
        self.settle_document(&settled, document, date).await
    }

    /// The audit entry of a payment held for review, filed with the customer it names (or
    /// the operators' log): written with the review item, once.
    fn held_entry(
        &self,
        payment: &IncomingPayment,
        tenant: &TenantId,
        review: &ReviewItem,
        document: Option<&Document>,
    ) -> crate::audit::AuditEntry {
        // As with a settlement: Przelewy24's word, or whoever relayed the transfer.
        let actor = match payment.via {
            Via::Przelewy24 { .. } => Actor::Provider(Provider::Przelewy24),
            Via::Transfer { .. } => self.actor.clone(),
        };
        let summary = format!(
            "Wpłata {} zł ({}) wstrzymana do wyjaśnienia: {}",
            review.amount, review.source, review.reason
        );
        crate::audit::AuditEntry::note(
            self.clock.now(),
            &actor,
            tenant,
            "payment_held",
            document.map(|d| d.number.to_string()),
            summary,
        )
    }

    /// The document a Przelewy24 session pays: its own session, or a card charge of it.
    async fn document_by_session(
        &self,
        session_id: &SessionId,
    ) -> Result<Option<Document>, ServiceError> {
        if let Some(d) = self.store.document_by_session(session_id).await? {
            return Ok(Some(d));
        }
        match session_id.charged_session() {
            Some(base) => Ok(self.store.document_by_session(&base).await?),
            None => Ok(None),
        }
    }

    /// Whether a payment with this key was already recorded, or held for review for a reason
    /// another attempt cannot change. A review held only because Przelewy24 did not confirm
    /// the transaction does not count: the payment is verified again.
    pub(crate) async fn recorded(&self, key: &str) -> Result<bool, ServiceError> {
        if self.store.payment(key).await?.is_some() {
            return Ok(true);
        }
        Ok(self
            .store
            .review_item(key)
            .await?
            .is_some_and(|r| !awaits_verification(&r)))
    }

    /// Commits the payment with what it activates; the payment key makes it happen once.
    async fn activate(
        &self,
        payment: &IncomingPayment,
        document: &Document,
        date: NaiveDate,
    ) -> Result<Settlement, ServiceError> {
        let mut paying = Paying {
            payment,
            document,
            date,
        };
        // Przelewy24 says a payment is made, whoever relays it; a transfer is the bank's
        // when imported, or the person's who recorded it.
        let svc = match payment.via {
            Via::Przelewy24 { .. } => self.acting_as(Actor::Provider(Provider::Przelewy24)),
            Via::Transfer { .. } => self.clone(),
        };
        let numbering = self.numbering.lock().await;
        let done = svc.unit_of_work(&document.tenant, date, &mut paying).await;
        drop(numbering);
        let done = done?;
        if done.changed {
            self.after_commit().await;
        }
        Ok(done.value)
    }

    /// The operator's e-mail about a payment: what happened (`cause`), the customer and the
    /// document when there is one, what to do next.
    fn alert(
        &self,
        payment: &IncomingPayment,
        document: Option<&Document>,
        cause: AlertCause,
        reason: &str,
        date: NaiveDate,
    ) -> Notice {
        Notice::OperatorAlert {
            reason: reason.to_string(),
            source: payment.source(),
            payment: payment.key(),
            amount: Money::from_grosze(payment.amount),
            currency: payment.currency.clone(),
            document: document.map(|d| d.number.clone()),
            cause,
            received_on: date,
        }
    }

    /// Whom an alert is filed under: the document's customer (so it is listed with the
    /// customer's e-mails; it is still sent to the operator), or, for a payment that names no
    /// document, the reseller's own desk.
    async fn alert_tenant(&self, document: Option<&Document>) -> Tenant {
        if let Some(d) = document {
            match self.store.load_account(&d.tenant).await {
                Ok(Some(loaded)) => return loaded.account.tenant,
                Ok(None) => {}
                Err(e) => tracing::warn!(tenant = %d.tenant, error = %e, "customer not read"),
            }
        }
        operator(&self.settings.mail.operator)
    }

    /// Przelewy24 refused our credentials at verify: the operator is told, at most once a day
    /// per document (the e-mail's key), however many copies Przelewy24 sends meanwhile.
    async fn alert_credentials(
        &self,
        payment: &IncomingPayment,
        document: &Document,
        date: NaiveDate,
        error: &ProviderError,
    ) {
        tracing::error!(payment = %payment.key(), document = %document.number, error = %error,
            "Przelewy24 refused our credentials; the notification is left for a retry");
        let notice = self.alert(
            payment,
            Some(document),
            AlertCause::ProviderCredentials,
            &error.to_string(),
            date,
        );
        let tenant = self.alert_tenant(Some(document)).await;
        let change = Change {
            emails: vec![self.message(&tenant, &notice, date)],
            ..Change::default()
        };
        match self.store.commit(change).await {
            Ok(()) => {
                self.after_commit().await;
            }
            Err(StoreError::Conflict(_)) => {} // already told today
            Err(e) => tracing::warn!(error = %e, "operator alert not queued"),
        }
    }

    /// Records a payment for a person to look at, e-mails the operator, activates nothing.
    /// Not an account's change (the payment may name no known document): one insert, unique
    /// by the payment's key.
    pub(crate) async fn review(
        &self,
        payment: &IncomingPayment,
        date: NaiveDate,
        document: Option<&Document>,
        reason: &str,
    ) -> Result<Settlement, ServiceError> {
        tracing::warn!(payment = %payment.key(), reason, "payment recorded for review");
        let cause = match document {
            None => AlertCause::UnknownDocument,
            Some(d) if payment.mismatch(d).is_some() => AlertCause::AmountMismatch {
                expected: d.totals.gross,
            },
            Some(_) if reason.starts_with(VERIFY_REFUSED) => AlertCause::VerifyRefused,
            Some(_) => AlertCause::Other,
        };
        let notice = self.alert(payment, document, cause, reason, date);
        let tenant = self.alert_tenant(document).await;
        let review = ReviewItem {
            key: payment.key(),
            source: payment.source(),
            amount: Money::from_grosze(payment.amount),
            received_on: date,
            reason: reason.to_string(),
        };
        let change = Change {
            emails: vec![self.message(&tenant, &notice, date)],
            audit: vec![self.held_entry(payment, &tenant.id, &review, document)],
            review: Some(review),
            ..Change::default()
        };
        match self.store.commit(change).await {
            Ok(()) => {
                self.after_commit().await;
                Ok(Settlement::Review {
                    reason: reason.to_string(),
                })
            }
            Err(StoreError::Conflict(_)) => Ok(Settlement::AlreadyRecorded),
            Err(e) => Err(e.into()),
        }
    }
}

/// A review held only because Przelewy24 did not confirm the transaction: verified again.
fn awaits_verification(review: &ReviewItem) -> bool {
    review.key.starts_with("p24:") && review.reason.starts_with(VERIFY_REFUSED)
}

/// A payment applied to its document: the domain decides what it activates.
struct Paying<'a> {
    payment: &'a IncomingPayment,
    document: &'a Document,
    date: NaiveDate,
}

#[async_trait]
impl Decision for Paying<'_> {
    type Output = Settlement;

    async fn decide(
        &mut self,
        svc: &Service,
        draft: &mut Draft,
    ) -> Result<Settlement, ServiceError> {
        let (payment, document, date) = (self.payment, self.document, self.date);
        if draft.attempt > 0 && svc.store.payment(&payment.key()).await?.is_some() {
            return Ok(Settlement::AlreadyRecorded); // a concurrent copy was first
        }
        // The document as stored now: a concurrent run may have expired it meanwhile.
        let current = svc
            .store
            .document(&document.number)
            .await?
            .unwrap_or_else(|| document.clone());
        let (outcome, effects) = draft.account.pay(&current, date, &svc.settings.policy);
        draft.effects.extend(effects);
        if let PaymentOutcome::RefundFlagged { reason } = &outcome {
            let alert = svc.alert(payment, Some(&current), AlertCause::Refund, reason, date);
            draft.effects.push(Effect::Notify(alert));
        } else {
            // Settled: the VAT invoice, in this same commit, numbered from its series'
            // counter as read now (a concurrent issuer makes the commit conflict and this
            // decision run again with the next number).
            let series = InvoiceSeries::of(date);
            let last = svc.store.last_invoice_number(series).await?;
            let period = match outcome {
                // A repurchase pays for the new period that starts with the payment.
                PaymentOutcome::Restored => current
                    .lines
                    .first()
                    .and_then(|l| draft.account.subscription(&l.subscription).ok())
                    .map_or(current.period, |s| s.period),
                _ => current.period,
            };
            let invoice =
                VatInvoice::settling(&current, series.next(last), date, period, &payment.key());
            let (invoice, alert) = svc.new_invoice(invoice, &draft.account.tenant, last);
            draft.invoice = Some(invoice);
            if let Some(alert) = alert {
                draft.effects.push(Effect::Notify(alert));
            }
        }
        draft.payment = Some(payment.record(document, date, outcome.clone()));
        Ok(Settlement::Applied { outcome })
    }
}

/// The reseller's own desk: files the alerts about payments that name no document (there is
/// no customer). The e-mail itself always goes to the operator's address.
fn operator(email: &str) -> Tenant {
    Tenant {
        id: TenantId::parse("operator").expect("valid id"),
        name: "Dział rozliczeń".into(),
        nip: Nip::parse("5260001246").expect("valid NIP"),
        address: String::new(),
        address2: None,
        country: "PL".into(),
        email: EmailAddress::parse(email).unwrap_or_else(|_| {
            EmailAddress::parse("operator@reseller.example").expect("valid address")
        }),
        locale: Locale::Pl,
        payment_method: PaymentMethod::Transfer,
    }
}
