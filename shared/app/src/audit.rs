//! The audit log: who changed an account, when, what and from which document. Entries are
//! derived from the change itself (its documents, statuses, payment, invoice, Microsoft
//! commands and the account before and after) and committed with it, so a change and its
//! entries are written together or not at all, and a retried commit writes them once.

use crate::ports::{NewInvoice, PaymentRecord};
use chrono::{DateTime, Utc};
use renewals_domain::{
    Account, DocumentKind, DocumentStatus, Effect, Job, LinePurpose, Status, TenantId,
};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Who asked for a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A customer signed in to the panel, by e-mail.
    Customer(String),
    /// An operator signed in to the panel, by name or e-mail.
    Operator(String),
    Job(Job),
    Provider(Provider),
    /// An operator at the terminal.
    Cli,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Provider {
    Przelewy24,
    Bank,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Customer(email) => write!(f, "customer:{email}"),
            Actor::Operator(who) => write!(f, "operator:{who}"),
            Actor::Job(Job::Daily) => f.write_str("job:daily"),
            Actor::Job(Job::Expiry) => f.write_str("job:expiry"),
            Actor::Provider(Provider::Przelewy24) => f.write_str("provider:przelewy24"),
            Actor::Provider(Provider::Bank) => f.write_str("provider:bank"),
            Actor::Cli => f.write_str("cli"),
        }
    }
}

impl FromStr for Actor {
    type Err = String;

    fn from_str(s: &str) -> Result<Actor, String> {
        let bad = || format!("unknown actor {s:?}");
        Ok(match s.split_once(':') {
            None if s == "cli" => Actor::Cli,
            Some(("customer", who)) if !who.is_empty() => Actor::Customer(who.to_string()),
            Some(("operator", who)) if !who.is_empty() => Actor::Operator(who.to_string()),
            Some(("job", "daily")) => Actor::Job(Job::Daily),
            Some(("job", "expiry")) => Actor::Job(Job::Expiry),
            Some(("provider", "przelewy24")) => Actor::Provider(Provider::Przelewy24),
            Some(("provider", "bank")) => Actor::Provider(Provider::Bank),
            _ => return Err(bad()),
        })
    }
}

impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Actor, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// One line of the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// A short machine name, e.g. `proforma_issued`, `seats_added`.
    pub action: String,
    pub document: Option<String>,
    pub subscription: Option<String>,
    /// One line a person reads.
    pub summary: String,
    /// Whose log an entry of a change without an account goes to (a payment held for
    /// review, a retried e-mail); an account's change files its entries under its tenant.
    #[serde(skip)]
    pub filed_under: Option<TenantId>,
}

/// The pseudo-tenant whose log keeps what concerns no customer: operators added, payments
/// held for review that name no known document (the operator's alerts go there too).
pub const OPERATORS: &str = "operator";

impl AuditEntry {
    /// An entry that is not derived from an account's change, filed under `tenant`.
    pub fn note(
        at: DateTime<Utc>,
        actor: &Actor,
        tenant: &TenantId,
        action: &str,
        document: Option<String>,
        summary: String,
    ) -> AuditEntry {
        AuditEntry {
            at,
            actor: actor.clone(),
            action: action.to_string(),
            document,
            subscription: None,
            summary,
            filed_under: Some(tenant.clone()),
        }
    }
}

/// The reference of a transfer that applies a payment held for review (`review:{its key}`):
/// one settlement per held payment, however often the operator's form is sent.
pub const HELD_PREFIX: &str = "review:";

/// What one change does, as audit entries: built from the account as loaded and as left,
/// the effects of the decisions, the payment and the invoice.
pub struct Audit<'a> {
    pub at: DateTime<Utc>,
    pub actor: &'a Actor,
    pub before: &'a Account,
    pub after: &'a Account,
    pub effects: &'a [Effect],
    pub payment: Option<&'a PaymentRecord>,
    pub invoice: Option<&'a NewInvoice>,
}

impl Audit<'_> {
    pub fn entries(&self) -> Vec<AuditEntry> {
        let mut out = vec![];
        let mut push = |action: &str, document: Option<String>, sub: Option<String>, s: String| {
            out.push(AuditEntry {
                at: self.at,
                actor: self.actor.clone(),
                action: action.to_string(),
                document,
                subscription: sub,
                summary: s,
                filed_under: None,
            })
        };
        if self.before.tenant != self.after.tenant {
            let t = &self.after.tenant;
            let fields = [
                ("nazwa", self.before.tenant.name != t.name),
                ("NIP", self.before.tenant.nip != t.nip),
                (
                    "adres",
                    self.before.tenant.address != t.address
                        || self.before.tenant.address2 != t.address2
                        || self.before.tenant.country != t.country,
                ),
                ("e-mail", self.before.tenant.email != t.email),
                ("język", self.before.tenant.locale != t.locale),
                (
                    "sposób płatności",
                    self.before.tenant.payment_method != t.payment_method,
                ),
            ];
            let changed: Vec<&str> = fields.iter().filter(|f| f.1).map(|f| f.0).collect();
            push(
                "tenant_updated",
                None,
                None,
                format!("Zmieniono dane klienta: {}", changed.join(", ")),
            );
        }
        if self.before.card_ref != self.after.card_ref && self.after.card_ref.is_some() {
            push("card_saved", None, None, "Zapisano kartę płatniczą".into());
        }
        if self.before.microsoft_tenant != self.after.microsoft_tenant {
            push(
                "microsoft_tenant_linked",
                None,
                None,
                "Powiązano klienta z kontem Microsoft".into(),
            );
        }
        for sub in &self.after.subscriptions {
            let id = Some(sub.id.to_string());
            let Some(old) = self.before.subscriptions.iter().find(|s| s.id == sub.id) else {
                push(
                    "subscription_added",
                    None,
                    id,
                    format!("Dodano subskrypcję {} ({} stan.)", sub.product, sub.seats),
                );
                continue;
            };
            if sub.seats > old.seats {
                let s = format!("Stanowiska: {} → {}", old.seats, sub.seats);
                push("seats_increased", None, id.clone(), s);
            } else if sub.seats < old.seats {
                let s = format!("Stanowiska: {} → {}", old.seats, sub.seats);
                push("seats_reduced", None, id.clone(), s);
            }
            if sub.scheduled.reduction != old.scheduled.reduction {
                let s = match &sub.scheduled.reduction {
                    Some(_) => "Zaplanowano zmniejszenie liczby stanowisk od odnowienia",
                    None => "Zaplanowane zmniejszenie liczby stanowisk wykonano lub odwołano",
                };
                push("seats_reduction_scheduled", None, id.clone(), s.into());
            }
            if sub.scheduled.product != old.scheduled.product {
                let s = match &sub.scheduled.product {
                    Some(p) => format!("Zmiana planu na {p} od odnowienia"),
                    None => "Zaplanowana zmiana planu wykonana lub odwołana".into(),
                };
                push("plan_change", None, id.clone(), s);
            }
            if sub.replaces.is_some() && old.replaces != sub.replaces {
                push(
                    "plan_change",
                    None,
                    id.clone(),
                    "Zmiana planu od teraz".into(),
                );
            }
            if old.auto_renew && !sub.auto_renew {
                let s = "Wyłączono automatyczne odnawianie".into();
                push("renewal_off", None, id.clone(), s);
            } else if !old.auto_renew && sub.auto_renew {
                let s = "Włączono automatyczne odnawianie".into();
                push("renewal_on", None, id.clone(), s);
            }
            if old.status != sub.status {
                let (action, s) = match sub.status {
                    Status::Suspended => ("suspended", "Zawieszono subskrypcję"),
                    Status::Ended => ("ended", "Subskrypcja wygasła"),
                    Status::Overdue => ("overdue", "Subskrypcja po terminie płatności"),
                    Status::Active => ("activated", "Subskrypcja aktywna"),
                    Status::Pending => ("pending", "Subskrypcja czeka na opłacenie"),
                };
                push(action, None, id.clone(), s.into());
            }
            if old.microsoft_subscription != sub.microsoft_subscription {
                let s = "Powiązano subskrypcję z Microsoft".into();
                push("microsoft_subscription_linked", None, id.clone(), s);
            }
        }
        let paid = self.payment.and_then(|p| p.document.as_ref());
        for effect in self.effects {
            match effect {
                Effect::Issued(doc) => {
                    let first = doc.lines.first();
                    let sub = first.map(|l| l.subscription.to_string());
                    let total = format!("{} {} brutto", doc.totals.gross, doc.currency);
                    let number = Some(doc.number.to_string());
                    match (doc.kind, first.map(|l| l.purpose)) {
                        (DocumentKind::Order, Some(LinePurpose::SeatAddition)) => {
                            let seats: u32 = doc.lines.iter().map(|l| l.seats).sum();
                            let s = format!(
                                "Zamówiono {seats} dodatkowych stanowisk: {} na {total}",
                                doc.number
                            );
                            push("seats_added", number, sub, s);
                        }
                        (DocumentKind::Order, _) => {
                            let s = format!("Wystawiono zamówienie {} na {total}", doc.number);
                            push("order_issued", number, sub, s);
                        }
                        (DocumentKind::Proforma, _) => {
                            let s = format!("Wystawiono pro-formę {} na {total}", doc.number);
                            push("proforma_issued", number, sub, s);
                        }
                    }
                }
                Effect::StatusChanged(number, status) => {
                    let (action, s) = match status {
                        // The payment's own entry says it.
                        DocumentStatus::Paid if paid == Some(number) => continue,
                        DocumentStatus::Paid => ("document_paid", "opłacony"),
                        DocumentStatus::Expired => ("document_expired", "wygasł"),
                        DocumentStatus::Cancelled => ("document_cancelled", "anulowany"),
                        DocumentStatus::Issued => continue,
                    };
                    let s = format!("Dokument {number} {s}");
                    push(action, Some(number.to_string()), None, s);
                }
                Effect::Microsoft(c) => {
                    let s = format!("Polecenie dla Microsoft w kolejce: {}", c.key);
                    let sub = Some(c.subscription.to_string());
                    push("microsoft_command", None, sub, s);
                }
                Effect::Notify(_) | Effect::ChargeCard { .. } => {}
            }
        }
        if let Some(p) = self.payment {
            let document = p.document.as_ref().map(|d| d.to_string());
            // A held payment an operator applied: their decision, under their name.
            let held = p
                .reference
                .as_deref()
                .and_then(|r| r.strip_prefix(HELD_PREFIX));
            match (held, &p.representative, &document) {
                (Some(key), Some(who), Some(doc)) => {
                    let s = format!(
                        "{who} zaksięgował(a) wstrzymaną wpłatę {} zł ({key}) na {doc}",
                        p.amount
                    );
                    push("held_payment_applied", document.clone(), None, s);
                }
                _ => {
                    let s = format!(
                        "Wpłata {} zł ({}, {}) rozliczona",
                        p.amount, p.method, p.received_on
                    );
                    push("payment_settled", document, None, s);
                }
            }
        }
        if let Some(i) = self.invoice {
            let inv = &i.stored.invoice;
            let s = format!("Wystawiono fakturę VAT {} do {}", inv.number, inv.settles);
            push("invoice_issued", Some(inv.settles.to_string()), None, s);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_read_back_as_written() {
        for s in [
            "customer:anna@acme.pl",
            "operator:Jan Kowalski",
            "job:daily",
            "job:expiry",
            "provider:przelewy24",
            "provider:bank",
            "cli",
        ] {
            assert_eq!(s.parse::<Actor>().unwrap().to_string(), s);
        }
        assert!("job:weekly".parse::<Actor>().is_err());
        assert!("customer:".parse::<Actor>().is_err());
    }
}
