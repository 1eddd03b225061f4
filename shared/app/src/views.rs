//! The JSON shapes of DESIGN.md §3, shared by the CLI and any HTTP surface.

use crate::ports::{OutboxMessage, StoredInvoice};
use renewals_domain::{Catalog, Document, Money, Subscription, TenantId};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
pub struct ProductView {
    pub sku: String,
    pub name: String,
    pub kind: &'static str,
    pub prices: BTreeMap<String, Money>,
}

pub fn catalog(c: &Catalog) -> Vec<ProductView> {
    c.products
        .iter()
        .map(|p| ProductView {
            sku: p.sku.clone(),
            name: p.name.clone(),
            kind: match p.kind {
                renewals_domain::ProductKind::Subscription => "subscription",
                renewals_domain::ProductKind::Perpetual => "perpetual",
            },
            prices: p.prices.clone(),
        })
        .collect()
}

#[derive(Serialize)]
pub struct SubscriptionView {
    pub id: String,
    pub tenant: String,
    pub product: String,
    pub seats: u32,
    pub term: &'static str,
    pub status: &'static str,
    pub period_start: chrono::NaiveDate,
    pub period_end: chrono::NaiveDate,
    pub auto_renew: bool,
    /// The linked Microsoft subscription id; absent when not linked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub microsoft_subscription: Option<String>,
}

pub fn subscription(tenant: &TenantId, s: &Subscription) -> SubscriptionView {
    SubscriptionView {
        id: s.id.to_string(),
        tenant: tenant.to_string(),
        product: s.product.clone(),
        seats: s.seats,
        term: s.term.as_str(),
        status: s.status.as_str(),
        period_start: s.period.start,
        period_end: s.period.end,
        auto_renew: s.auto_renew,
        microsoft_subscription: s.microsoft_subscription.clone(),
    }
}

#[derive(Serialize)]
pub struct LineView {
    pub subscription: String,
    pub product: String,
    pub seats: u32,
    pub net: Money,
}

#[derive(Serialize)]
pub struct PaymentView {
    pub session_id: String,
}

#[derive(Serialize)]
pub struct DocumentView {
    pub number: String,
    pub kind: &'static str,
    pub tenant: String,
    pub status: &'static str,
    pub issue_date: chrono::NaiveDate,
    pub due_date: chrono::NaiveDate,
    pub period_start: chrono::NaiveDate,
    pub period_end: chrono::NaiveDate,
    pub net: Money,
    pub vat: Money,
    pub gross: Money,
    pub currency: String,
    pub payment: PaymentView,
    pub lines: Vec<LineView>,
}

pub fn document(d: &Document) -> DocumentView {
    DocumentView {
        number: d.number.to_string(),
        kind: d.kind.as_str(),
        tenant: d.tenant.to_string(),
        status: d.status.as_str(),
        issue_date: d.issue_date,
        due_date: d.due_date,
        period_start: d.period.start,
        period_end: d.period.end,
        net: d.totals.net,
        vat: d.totals.vat,
        gross: d.totals.gross,
        currency: d.currency.clone(),
        payment: PaymentView {
            session_id: d.payment.session_id.to_string(),
        },
        lines: d
            .lines
            .iter()
            .map(|l| LineView {
                subscription: l.subscription.to_string(),
                product: l.product.clone(),
                seats: l.seats,
                net: l.net,
            })
            .collect(),
    }
}

/// A VAT invoice in the document list: the document fields (status `issued`, due on the
/// day it was paid), with `invoice_type`, `settles` and where it stands with KSeF.
#[derive(Serialize)]
pub struct InvoiceView {
    pub number: String,
    pub kind: &'static str,
    pub tenant: String,
    pub status: &'static str,
    pub issue_date: chrono::NaiveDate,
    pub due_date: chrono::NaiveDate,
    pub paid_on: chrono::NaiveDate,
    pub period_start: chrono::NaiveDate,
    pub period_end: chrono::NaiveDate,
    pub net: Money,
    pub vat: Money,
    pub gross: Money,
    pub currency: &'static str,
    pub lines: Vec<LineView>,
    pub invoice_type: &'static str,
    pub settles: String,
    pub sha256: Option<String>,
    pub ksef: KsefView,
}

#[derive(Serialize)]
pub struct KsefView {
    pub status: &'static str,
    pub number: Option<String>,
    pub reason: Option<String>,
}

pub fn invoice(stored: &StoredInvoice) -> InvoiceView {
    let i = &stored.invoice;
    let s = &stored.submission;
    InvoiceView {
        number: i.number.to_string(),
        kind: "vat_invoice",
        tenant: i.tenant.to_string(),
        status: "issued",
        issue_date: i.issue_date,
        due_date: i.paid_on,
        paid_on: i.paid_on,
        period_start: i.period.start,
        period_end: i.period.end,
        net: i.totals.net,
        vat: i.totals.vat,
        gross: i.totals.gross,
        currency: "PLN",
        lines: i
            .lines
            .iter()
            .map(|l| LineView {
                subscription: l.subscription.to_string(),
                product: l.product.clone(),
                seats: l.seats,
                net: l.net,
            })
            .collect(),
        invoice_type: i.invoice_type.code(),
        settles: i.settles.to_string(),
        sha256: stored.sha256.clone(),
        ksef: KsefView {
            status: s.status.as_str(),
            number: s.ksef_number.clone(),
            reason: s.reason.clone(),
        },
    }
}

#[derive(Serialize)]
pub struct EmailView {
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub document: Option<String>,
    pub date: chrono::NaiveDate,
}

pub fn email(m: &OutboxMessage) -> EmailView {
    EmailView {
        kind: m.kind.clone(),
        to: m.to.clone(),
        subject: m.subject.clone(),
        document: m.document.clone(),
        date: m.date,
    }
}
