//! What the customer or the operator must be told: one notice per e-mail.

use crate::calendar::Period;
use crate::document::{Document, DocumentNumber};
use crate::money::Money;
use crate::subscription::SubscriptionId;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Notice {
    Proforma {
        document: Document,
    },
    Reminder {
        document: Document,
        stage: NaiveDate,
    },
    Overdue {
        document: Document,
        suspension_on: NaiveDate,
    },
    Suspension {
        document: Document,
        data_kept_until: NaiveDate,
    },
    PaymentConfirmation {
        document: Document,
        paid_on: NaiveDate,
        late: bool,
    },
    Order {
        document: Document,
    },
    OrderPaid {
        document: Document,
        paid_on: NaiveDate,
    },
    ReductionScheduled {
        subscription: SubscriptionId,
        product: String,
        seats_now: u32,
        seats_next: u32,
        effective: NaiveDate,
        representative: String,
    },
    PlanChange {
        subscription: SubscriptionId,
        from: String,
        to: String,
        effective: NaiveDate,
        new_subscription: Option<SubscriptionId>,
    },
    RenewalEnded {
        subscription: SubscriptionId,
        product: String,
        ended_on: NaiveDate,
    },
    Restored {
        document: Document,
        period: Period,
        paid_on: NaiveDate,
    },
    OperatorAlert {
        reason: String,
        /// Where the money came from, as a person reads it (provider order, bank reference).
        source: String,
        /// The payment's idempotency key: one alert per payment.
        payment: String,
        amount: Money,
        document: Option<DocumentNumber>,
    },
}

impl Notice {
    pub fn kind(&self) -> &'static str {
        match self {
            Notice::Proforma { .. } => "proforma",
            Notice::Reminder { .. } => "reminder",
            Notice::Overdue { .. } => "overdue",
            Notice::Suspension { .. } => "suspension",
            Notice::PaymentConfirmation { .. } => "payment-confirmation",
            Notice::Order { .. } => "order",
            Notice::OrderPaid { .. } => "order-paid",
            Notice::ReductionScheduled { .. } => "reduction-scheduled",
            Notice::PlanChange { .. } => "plan-change",
            Notice::RenewalEnded { .. } => "renewal-ended",
            Notice::Restored { .. } => "restored",
            Notice::OperatorAlert { .. } => "operator-alert",
        }
    }

    pub fn document(&self) -> Option<&Document> {
        match self {
            Notice::Proforma { document }
            | Notice::Reminder { document, .. }
            | Notice::Overdue { document, .. }
            | Notice::Suspension { document, .. }
            | Notice::PaymentConfirmation { document, .. }
            | Notice::Order { document }
            | Notice::OrderPaid { document, .. }
            | Notice::Restored { document, .. } => Some(document),
            _ => None,
        }
    }

    pub fn document_mut(&mut self) -> Option<&mut Document> {
        match self {
            Notice::Proforma { document }
            | Notice::Reminder { document, .. }
            | Notice::Overdue { document, .. }
            | Notice::Suspension { document, .. }
            | Notice::PaymentConfirmation { document, .. }
            | Notice::Order { document }
            | Notice::OrderPaid { document, .. }
            | Notice::Restored { document, .. } => Some(document),
            _ => None,
        }
    }

    pub fn document_number(&self) -> Option<DocumentNumber> {
        match self {
            Notice::OperatorAlert { document, .. } => document.clone(),
            _ => self.document().map(|d| d.number.clone()),
        }
    }

    /// One e-mail per cause: the outbox refuses a second message with the same key.
    pub fn idempotency_key(&self) -> String {
        let doc = self.document().map(|d| d.number.to_string());
        match self {
            Notice::Reminder { stage, .. } => format!("reminder:{}:{stage}", doc.unwrap()),
            Notice::ReductionScheduled {
                subscription,
                seats_next,
                representative,
                effective,
                ..
            } => format!("reduction:{subscription}:{effective}:{seats_next}:{representative}"),
            Notice::PlanChange {
                subscription,
                to,
                effective,
                ..
            } => format!("plan-change:{subscription}:{to}:{effective}"),
            Notice::RenewalEnded {
                subscription,
                ended_on,
                ..
            } => {
                format!("renewal-ended:{subscription}:{ended_on}")
            }
            Notice::OperatorAlert { payment, .. } => format!("operator-alert:{payment}"),
            other => format!("{}:{}", other.kind(), doc.unwrap()),
        }
    }
}
