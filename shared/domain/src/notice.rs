//! What the customer or the operator must be told: one notice per e-mail.

use crate::account::Effect;
use crate::calendar::Period;
use crate::document::{Document, DocumentNumber};
use crate::invoice::VatInvoice;
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
    /// The VAT invoice of a payment, sent once KSeF has accepted it (with its PDF).
    Invoice {
        invoice: VatInvoice,
        ksef_number: String,
        /// KOD I: the verification link printed as a QR code on the PDF.
        qr_url: String,
    },
    /// For the reseller's operator, about one customer's payment (or a payment that names no
    /// document, hence no customer): what happened and what to do next.
    OperatorAlert {
        /// The technical detail, as recorded with the review (English, for the log).
        reason: String,
        /// Where the money came from, as a person reads it (provider order, bank reference).
        source: String,
        /// The payment's idempotency key: one alert per payment.
        payment: String,
        amount: Money,
        /// The payment's currency (`PLN` unless the payer used another).
        #[serde(default = "pln")]
        currency: String,
        document: Option<DocumentNumber>,
        /// What happened: decides the e-mail's wording and what the operator is asked to do.
        #[serde(default)]
        cause: AlertCause,
        /// The business date the payment was received (or verify was tried).
        received_on: NaiveDate,
    },
    /// For the reseller's operator, about one customer the system could not reach.
    DeliveryAlert {
        problem: DeliveryProblem,
        document: Option<DocumentNumber>,
        /// The business date it was noticed.
        on: NaiveDate,
    },
}

/// For the reseller's operator: a customer the system could not reach.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum DeliveryProblem {
    /// An e-mail to the customer was given up on after its last attempt.
    EmailParked {
        /// The e-mail's kind and subject, as the customer would have seen them.
        kind: String,
        subject: String,
        to: String,
        /// The outbox key of the e-mail: one alert per e-mail.
        key: String,
        attempts: u32,
        /// The last refusal, as the mail provider gave it.
        error: String,
    },
    /// The expiry job did not suspend: no e-mail about the document reached the customer.
    SuspensionHeld { due: NaiveDate },
    /// A VAT invoice that has not reached KSeF's acceptance: it waits for the buyer's
    /// address, KSeF rejected it, sending it was given up on, or 24 hours passed.
    Invoice {
        /// `FV/2026/02/0001`.
        invoice: String,
        issue: InvoiceIssue,
        /// KSeF's reason or the last error, as given.
        reason: String,
    },
    /// A command for Microsoft's side was given up on (after its last attempt, or refused
    /// for good): Microsoft does not have what we decided.
    MicrosoftParked {
        /// `quantity`, `schedule`, `auto_renew`, `cancel`.
        command: String,
        /// The outbox key of the command: one alert per command.
        key: String,
        subscription: String,
        microsoft_subscription: String,
        attempts: u32,
        error: String,
        /// A cancellation still not done 24 hours before Microsoft's window closes (it is
        /// still being tried): the operator must act today.
        #[serde(default)]
        urgent: bool,
        /// When the cancellation window closes, for a cancellation.
        #[serde(default)]
        window_closes: Option<NaiveDate>,
    },
}

/// What is wrong with a VAT invoice, as the operator is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InvoiceIssue {
    /// The tenant has no address: the invoice is numbered and kept, not sent.
    AwaitingBuyerData,
    /// KSeF rejected the invoice (parked).
    Rejected,
    /// Sending was refused for good or given up on after the last attempt (parked).
    Parked,
    /// Not accepted 24 hours after issue.
    NotAccepted,
}

impl InvoiceIssue {
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceIssue::AwaitingBuyerData => "awaiting-buyer-data",
            InvoiceIssue::Rejected => "rejected",
            InvoiceIssue::Parked => "parked",
            InvoiceIssue::NotAccepted => "not-accepted",
        }
    }
}

fn pln() -> String {
    "PLN".into()
}

/// Why the operator is alerted about a payment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cause", rename_all = "kebab-case")]
pub enum AlertCause {
    /// The payment names no document we issued: there is no customer to credit.
    UnknownDocument,
    /// Another currency, or not the document's exact gross.
    AmountMismatch { expected: Money },
    /// Przelewy24 did not confirm the transaction at verify. Held; later copies of the
    /// notification and the daily reconciliation verify again.
    VerifyRefused,
    /// Przelewy24 refused our own credentials (401/403: a rotated API key, a wrong POS):
    /// nothing recorded, Przelewy24 retries, the configuration must be fixed. One a day.
    ProviderCredentials,
    /// The money can no longer activate anything (paid twice, too late, cancelled): refund.
    Refund,
    /// A transfer paid more than the document's gross: the document is settled, the surplus
    /// is recorded for review, to be refunded or credited to the customer's next document.
    Overpayment { expected: Money, surplus: Money },
    /// Anything else a person must look at (e.g. a transfer title naming several documents).
    #[default]
    Other,
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
            Notice::Invoice { .. } => "invoice",
            Notice::OperatorAlert { .. } | Notice::DeliveryAlert { .. } => "operator-alert",
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
            Notice::OperatorAlert { document, .. } | Notice::DeliveryAlert { document, .. } => {
                document.clone()
            }
            Notice::Invoice { invoice, .. } => Some(invoice.settles.clone()),
            _ => self.document().map(|d| d.number.clone()),
        }
    }

    /// The number the e-mail is about, as listed with it: the invoice's own number for an
    /// invoice, else the document's.
    pub fn document_label(&self) -> Option<String> {
        match self {
            Notice::Invoice { invoice, .. } => Some(invoice.number.to_string()),
            Notice::DeliveryAlert {
                problem: DeliveryProblem::Invoice { invoice, .. },
                ..
            } => Some(invoice.clone()),
            _ => self.document_number().map(|n| n.to_string()),
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
            Notice::OperatorAlert {
                payment,
                cause: AlertCause::Refund,
                ..
            } => format!("operator-alert:refund:{payment}"),
            // One a day per document, however often Przelewy24 retries meanwhile.
            Notice::OperatorAlert {
                payment,
                cause: AlertCause::ProviderCredentials,
                document,
                received_on,
                ..
            } => {
                let about = document.as_ref().map_or(payment.clone(), |d| d.to_string());
                format!("operator-alert:credentials:{about}:{received_on}")
            }
            Notice::OperatorAlert { payment, .. } => format!("operator-alert:{payment}"),
            Notice::DeliveryAlert {
                problem: DeliveryProblem::EmailParked { key, .. },
                ..
            } => format!("operator-alert:parked:{key}"),
            Notice::DeliveryAlert {
                problem: DeliveryProblem::MicrosoftParked { key, urgent, .. },
                ..
            } => {
                let what = if *urgent {
                    "microsoft-urgent"
                } else {
                    "microsoft"
                };
                format!("operator-alert:{what}:{key}")
            }
            Notice::Invoice { invoice, .. } => format!("invoice:{}", invoice.number),
            Notice::DeliveryAlert {
                problem: DeliveryProblem::Invoice { invoice, issue, .. },
                ..
            } => format!("operator-alert:invoice:{}:{invoice}", issue.as_str()),
            Notice::DeliveryAlert {
                problem: DeliveryProblem::SuspensionHeld { .. },
                document,
                ..
            } => {
                let about = document.as_ref().map_or("-".to_string(), |d| d.to_string());
                format!("operator-alert:held:{about}")
            }
            other => format!("{}:{}", other.kind(), doc.unwrap()),
        }
    }
}

/// How far a document's dunning has gone, as its notices tell it; `None` for the others.
fn stage(notice: &Notice) -> Option<u8> {
    match notice {
        Notice::Proforma { .. } | Notice::Order { .. } => Some(0),
        Notice::Reminder { .. } => Some(1),
        Notice::Overdue { .. } => Some(2),
        Notice::Suspension { .. } => Some(3),
        _ => None,
    }
}

/// What one run tells the customer about each document: only the latest notice that is still
/// true on `date`, never a step the same run has already overtaken.
///
/// A missed run catches up several steps of one document at once (it issues the pro-forma
/// late, marks it overdue the same day, and the expiry job suspends it right after). An
/// overdue notice whose suspension date is `date` or earlier is not true any more (the
/// suspension it would announce is due): it is dropped. Of the rest, per document only the
/// latest step's notice stays (pro-forma < reminder < overdue < suspension); its e-mail
/// carries the document and the payment details all the same. So the customer always hears
/// of the document before a suspension (which waits until an e-mail about it reached them).
/// Other notices (payments, changes, alerts) pass untouched. Pure; called once per run,
/// after the decide/apply rounds.
pub fn keep_latest(effects: &mut Vec<Effect>, date: NaiveDate) {
    let overtaken =
        |n: &Notice| matches!(n, Notice::Overdue { suspension_on, .. } if *suspension_on <= date);
    let mut latest: Vec<(DocumentNumber, u8)> = vec![];
    for effect in effects.iter() {
        if let Effect::Notify(n) = effect {
            if overtaken(n) {
                continue;
            }
            if let (Some(rank), Some(number)) = (stage(n), n.document_number()) {
                match latest.iter_mut().find(|(d, _)| *d == number) {
                    Some((_, r)) => *r = (*r).max(rank),
                    None => latest.push((number, rank)),
                }
            }
        }
    }
    effects.retain(|effect| {
        let Effect::Notify(n) = effect else {
            return true;
        };
        if overtaken(n) {
            return false;
        }
        match (stage(n), n.document_number()) {
            (Some(rank), Some(number)) => latest.iter().any(|(d, r)| *d == number && *r == rank),
            _ => true,
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Line;
    use crate::document::LinePurpose;
    use crate::subscription::SubscriptionId;
    use crate::tenant::TenantId;

    fn d(s: &str) -> NaiveDate {
        crate::parse_date(s).unwrap()
    }

    fn proforma(seq: &str) -> Document {
        let t = TenantId::parse("acme").unwrap();
        let period = Period {
            start: d("2026-02-28"),
            end: d("2026-03-28"),
        };
        Document::new(
            DocumentNumber::parse(&format!("PF/2026/03/{seq}")).unwrap(),
            t.clone(),
            d("2026-03-02"),
            d("2026-03-02"),
            period,
            vec![Line {
                subscription: SubscriptionId::new(&t, 1),
                product: "business-basic".into(),
                product_name: "Microsoft 365 Business Basic".into(),
                seats: 1,
                unit_price: Money::parse("10").unwrap(),
                period,
                net: Money::parse("10").unwrap(),
                purpose: LinePurpose::Renewal,
            }],
        )
    }

    fn kinds(effects: &[Effect]) -> Vec<&'static str> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Notify(n) => Some(n.kind()),
                Effect::Issued(_) => Some("issued"),
                _ => None,
            })
            .collect()
    }

    fn caught_up(suspension_on: &str, doc: &Document) -> Vec<Effect> {
        vec![
            Effect::Issued(doc.clone()),
            Effect::Notify(Notice::Proforma {
                document: doc.clone(),
            }),
            Effect::Notify(Notice::Overdue {
                document: doc.clone(),
                suspension_on: d(suspension_on),
            }),
        ]
    }

    #[test]
    fn a_late_proforma_marked_overdue_in_the_same_run_goes_out_as_the_overdue_notice_only() {
        let doc = proforma("0001");
        let mut effects = caught_up("2026-03-05", &doc);
        keep_latest(&mut effects, d("2026-03-02"));
        assert_eq!(kinds(&effects), ["issued", "overdue"]);
    }

    #[test]
    fn an_overdue_notice_whose_suspension_date_has_come_is_dropped_and_the_proforma_goes_out() {
        let doc = proforma("0001");
        let mut effects = caught_up("2026-03-05", &doc);
        keep_latest(&mut effects, d("2026-03-05"));
        assert_eq!(
            kinds(&effects),
            ["issued", "proforma"],
            "the customer hears of the document; the expiry run tells of the suspension"
        );
        let mut effects = caught_up("2026-03-05", &doc);
        keep_latest(&mut effects, d("2026-03-09"));
        assert_eq!(kinds(&effects), ["issued", "proforma"]);
    }

    #[test]
    fn other_documents_and_other_notices_are_left_alone() {
        let (a, b) = (proforma("0001"), proforma("0002"));
        let mut effects = caught_up("2026-03-05", &a);
        effects.push(Effect::Notify(Notice::Proforma {
            document: b.clone(),
        }));
        effects.push(Effect::Notify(Notice::Reminder {
            document: b,
            stage: d("2026-03-02"),
        }));
        effects.push(Effect::Notify(Notice::PaymentConfirmation {
            document: a,
            paid_on: d("2026-03-02"),
            late: true,
        }));
        keep_latest(&mut effects, d("2026-03-02"));
        assert_eq!(
            kinds(&effects),
            ["issued", "overdue", "reminder", "payment-confirmation"]
        );
    }
}
