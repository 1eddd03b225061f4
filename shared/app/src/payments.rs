//! Payment links and reconciliation with Przelewy24.
//!
//! Links: every issued document gets a registered transaction before its e-mail is rendered,
//! so the e-mail carries the link (BLIK offered first to BLIK customers). A failed
//! registration never blocks issuing: the e-mail goes out with the transfer details and the
//! next daily run registers again. Reconciliation: a document still unpaid on its due date is
//! looked up by session id, so a lost notification never leads to a suspension.

use crate::ports::{Change, Registration};
use crate::service::Service;
use crate::settlement::{IncomingPayment, Settlement};
use chrono::NaiveDate;
use renewals_domain::{
    Account, Document, DocumentKind, Effect, Locale, Notice, OpenDocument, PaymentMethod,
    SessionId, Tenant, TenantId,
};

/// Przelewy24 channel bits: 1 cards, 2 fast transfers, 4 traditional transfer, 8192 BLIK.
pub fn channel(method: PaymentMethod) -> i64 {
    match method {
        PaymentMethod::Blik => 8192 | 2,
        PaymentMethod::Transfer => 2 | 4 | 8192,
        PaymentMethod::Card => 1 | 2 | 8192,
    }
}

impl Service {
    /// Registers a transaction for each open document without a payment link and puts the
    /// link into the account and into the effects (documents and e-mails) not yet committed.
    /// Returns how many links were added to documents issued before this change (retries).
    pub(crate) async fn register_links(
        &self,
        account: &mut Account,
        effects: &mut [Effect],
        retry_open: bool,
    ) -> usize {
        let (Some(provider), Some(url_status)) =
            (&self.provider, self.settings.webhook_url.clone())
        else {
            return 0; // a function without Przelewy24 or a webhook URL never issues documents
        };
        let tenant = account.tenant.clone();
        let mut retried = 0;
        let issued_now: Vec<_> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Issued(d) => Some(d.number.clone()),
                _ => None,
            })
            .collect();
        for open in account.open_documents.iter_mut().filter(|o| {
            o.document.payment.link.is_none()
                && (retry_open || issued_now.contains(&o.document.number))
        }) {
            let doc = &open.document;
            let registration = registration(
                &tenant,
                doc,
                &doc.payment.session_id,
                &url_status,
                &self.settings.return_url,
            );
            match provider.register(&registration).await {
                Ok(link) => {
                    let number = doc.number.clone();
                    open.document.payment.link = Some(link.clone());
                    if !issued_now.contains(&number) {
                        retried += 1;
                    }
                    for effect in effects.iter_mut() {
                        let d = match effect {
                            Effect::Issued(d) => Some(d),
                            Effect::Notify(n) => n.document_mut(),
                            Effect::StatusChanged(..)
                            | Effect::ChargeCard { .. }
                            | Effect::Microsoft(_) => None,
                        };
                        if let Some(d) = d.filter(|d| d.number == number) {
                            d.payment.link = Some(link.clone());
                        }
                    }
                }
                Err(e) => tracing::warn!(
                    document = %doc.number,
                    error = %e,
                    "payment registration failed; the e-mail carries transfer details only"
                ),
            }
        }
        retried
    }

    /// Carries out a committed card charge. A retry first asks whether an earlier attempt was
    /// paid after all (a late notification), so a card is never charged twice for a document.
    /// A refused charge sends the customer the payment link instead. Returns whether the
    /// charge was accepted (or turned out paid).
    pub(crate) async fn charge_card(
        &self,
        tenant: &TenantId,
        charge: Effect,
        date: NaiveDate,
    ) -> bool {
        let Effect::ChargeCard {
            document,
            session_id,
            card_ref,
            attempt,
        } = charge
        else {
            return true;
        };
        let Some(provider) = &self.provider else {
            return false;
        };
        let Ok(account) = self.account(tenant).await else {
            return false;
        };
        let Some(open) = account
            .open_documents
            .iter()
            .find(|o| o.document.number == document.number)
        else {
            return true; // paid or closed meanwhile: nothing to charge
        };
        for earlier in 1..attempt {
            let session = open.card_session(earlier);
            if let Ok(Some(t)) = provider.status(&session).await {
                if let Some(payment) = IncomingPayment::from_status(session, t) {
                    let _ = self.settle(&payment, date).await;
                    return true;
                }
            }
        }
        let Some(url_status) = self.settings.webhook_url.as_deref() else {
            return false;
        };
        let registration = registration(
            &account.tenant,
            &open.document,
            &session_id,
            url_status,
            &self.settings.return_url,
        );
        match provider.charge_card(&registration, &card_ref).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(document = %document.number, attempt, error = %e, "card charge refused");
                // The reminder carries the link and the transfer details; one a day at most
                // (unique by its key: a reminder already queued today is not queued again).
                let notice = Notice::Reminder {
                    document: open.document.clone(),
                    stage: date,
                };
                let change = Change {
                    emails: vec![self.message(&account.tenant, &notice, date)],
                    ..Change::default()
                };
                if self.store.commit(change).await.is_ok() {
                    self.after_commit().await;
                }
                false
            }
        }
    }

    /// Asks Przelewy24 about the tenant's documents still unpaid on or after their due date
    /// and settles what was in fact paid, through the same path as a notification.
    pub async fn reconcile(&self, account: &Account, date: NaiveDate) -> usize {
        let Some(provider) = &self.provider else {
            return 0;
        };
        let mut settled = 0;
        for open in account
            .open_documents
            .iter()
            .filter(|o| needs_reconciling(o, date))
        {
            let doc = &open.document;
            let found = match provider.status(&doc.payment.session_id).await {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(document = %doc.number, error = %e, "reconciliation failed");
                    continue;
                }
            };
            let Some(payment) =
                found.and_then(|t| IncomingPayment::from_status(doc.payment.session_id.clone(), t))
            else {
                continue;
            };
            match self.settle(&payment, date).await {
                Ok(Settlement::Applied { .. }) => settled += 1,
                Ok(other) => tracing::info!(document = %doc.number, ?other, "reconciled"),
                Err(e) => {
                    tracing::warn!(document = %doc.number, error = %e, "reconciliation failed")
                }
            }
        }
        settled
    }
}

/// One Przelewy24 transaction for a document: its own session, or a card charge's.
fn registration(
    tenant: &Tenant,
    doc: &Document,
    session_id: &SessionId,
    url_status: &str,
    url_return: &str,
) -> Registration {
    let what = match (doc.kind, tenant.locale) {
        (DocumentKind::Proforma, Locale::Pl) => "Pro-forma",
        (DocumentKind::Proforma, Locale::En) => "Pro forma invoice",
        (DocumentKind::Order, Locale::Pl) => "Zamówienie",
        (DocumentKind::Order, Locale::En) => "Order",
    };
    Registration {
        session_id: session_id.clone(),
        amount: doc.totals.gross.grosze(),
        currency: doc.currency.clone(),
        description: format!("{what} {} – Microsoft 365", doc.number),
        email: tenant.email.as_str().to_string(),
        client: tenant.name.clone(),
        language: match tenant.locale {
            Locale::Pl => "pl".into(),
            Locale::En => "en".into(),
        },
        channel: channel(tenant.payment_method),
        url_status: url_status.to_string(),
        url_return: url_return.to_string(),
    }
}

/// Unpaid on or after its due date, with a transaction the provider can be asked about.
pub fn needs_reconciling(open: &OpenDocument, date: NaiveDate) -> bool {
    open.document.payment.link.is_some() && date >= open.document.due_date
}
