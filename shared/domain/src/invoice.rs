//! VAT invoices: every settled payment of a pro-forma or order gets one, numbered
//! `FV/YYYY/MM/NNNN` (gapless per month, like the other series), never changed after issue.

use crate::calendar::Period;
use crate::document::{Document, DocumentNumber, Line};
use crate::error::ParseError;
use crate::money::Totals;
use crate::tenant::{Tenant, TenantId};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `FV/2026/02/0001`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InvoiceNumber {
    pub year: i32,
    pub month: u32,
    pub seq: u32,
}

impl InvoiceNumber {
    pub fn parse(s: &str) -> Result<InvoiceNumber, ParseError> {
        let bad = || ParseError::InvoiceNumber(s.to_string());
        let parts: Vec<&str> = s.split('/').collect();
        let [series, year, month, seq] = parts.as_slice() else {
            return Err(bad());
        };
        if *series != "FV" || year.len() != 4 || month.len() != 2 || seq.len() < 4 {
            return Err(bad());
        }
        let number = InvoiceNumber {
            year: year.parse().map_err(|_| bad())?,
            month: month.parse().map_err(|_| bad())?,
            seq: seq.parse().map_err(|_| bad())?,
        };
        if !(1..=12).contains(&number.month) || number.seq == 0 {
            return Err(bad());
        }
        Ok(number)
    }

    /// The counter this number is drawn from: `FV/2026/02`.
    pub fn series(&self) -> InvoiceSeries {
        InvoiceSeries {
            year: self.year,
            month: self.month,
        }
    }
}

impl fmt::Display for InvoiceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{:04}", self.series(), self.seq)
    }
}

impl Serialize for InvoiceNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for InvoiceNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        InvoiceNumber::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The invoice series of one month, `FV/2026/02`: one gapless counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InvoiceSeries {
    pub year: i32,
    pub month: u32,
}

impl InvoiceSeries {
    pub fn of(issue_date: NaiveDate) -> InvoiceSeries {
        InvoiceSeries {
            year: issue_date.year(),
            month: issue_date.month(),
        }
    }

    /// The number after `last` in this series.
    pub fn next(&self, last: u32) -> InvoiceNumber {
        InvoiceNumber {
            year: self.year,
            month: self.month,
            seq: last + 1,
        }
    }
}

impl fmt::Display for InvoiceSeries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FV/{}/{:02}", self.year, self.month)
    }
}

/// FA(3) `RodzajFaktury`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvoiceType {
    /// An advance: paid before the period it pays for starts (100 %: no final invoice).
    #[serde(rename = "ZAL")]
    Zal,
    /// A regular invoice: paid on or after the start (grace, seat orders, repurchase).
    #[serde(rename = "VAT")]
    Vat,
}

impl InvoiceType {
    /// `ZAL` when the money came before the period it pays for starts, else `VAT`.
    pub fn for_payment(paid_on: NaiveDate, service: Period) -> InvoiceType {
        if paid_on < service.start {
            InvoiceType::Zal
        } else {
            InvoiceType::Vat
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            InvoiceType::Zal => "ZAL",
            InvoiceType::Vat => "VAT",
        }
    }
}

/// A VAT invoice as issued: what it says never changes. Its FA(3) XML and its way through
/// KSeF are kept beside it by the shell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VatInvoice {
    pub number: InvoiceNumber,
    pub tenant: TenantId,
    pub invoice_type: InvoiceType,
    /// The pro-forma or order it settles.
    pub settles: DocumentNumber,
    /// The payment's business date (Warsaw): the issue date and `DataZaplaty`.
    pub issue_date: NaiveDate,
    pub paid_on: NaiveDate,
    /// The service period paid for (`OkresFa` on a `VAT` invoice).
    pub period: Period,
    /// The settled document's lines and totals (VAT on the net total, as there).
    pub lines: Vec<Line>,
    pub totals: Totals,
    /// The payment's idempotency key: one invoice per payment.
    pub payment: String,
}

impl VatInvoice {
    /// The invoice for a payment of `document` received on `paid_on` for the service
    /// `period` (the document's period, or a repurchase's new one).
    pub fn settling(
        document: &Document,
        number: InvoiceNumber,
        paid_on: NaiveDate,
        period: Period,
        payment: &str,
    ) -> VatInvoice {
        VatInvoice {
            number,
            tenant: document.tenant.clone(),
            invoice_type: InvoiceType::for_payment(paid_on, period),
            settles: document.number.clone(),
            issue_date: paid_on,
            paid_on,
            period,
            lines: document.lines.clone(),
            totals: document.totals,
            payment: payment.to_string(),
        }
    }
}

/// Whether the tenant's data is complete enough for a valid invoice (FA(3) `Adres` needs
/// `AdresL1`): without an address the invoice waits for the operator.
pub fn has_buyer_data(tenant: &Tenant) -> bool {
    !tenant.address.trim().is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn invoice_numbers_print_and_parse() {
        let n = InvoiceNumber::parse("FV/2026/02/0007").unwrap();
        assert_eq!((n.year, n.month, n.seq), (2026, 2, 7));
        assert_eq!(n.to_string(), "FV/2026/02/0007");
        assert_eq!(
            InvoiceSeries::of(d("2026-02-27")).next(9999).to_string(),
            "FV/2026/02/10000"
        );
        for bad in [
            "PF/2026/02/0001",
            "FV/2026/13/0001",
            "FV/2026/02/0000",
            "FV/26/02/0001",
            "FV/2026/02",
        ] {
            assert!(InvoiceNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paid_before_the_period_is_an_advance_on_or_after_a_regular_invoice() {
        let p = Period {
            start: d("2026-03-01"),
            end: d("2026-04-01"),
        };
        assert_eq!(
            InvoiceType::for_payment(d("2026-02-28"), p),
            InvoiceType::Zal
        );
        assert_eq!(
            InvoiceType::for_payment(d("2026-03-01"), p),
            InvoiceType::Vat
        );
        assert_eq!(
            InvoiceType::for_payment(d("2026-03-04"), p),
            InvoiceType::Vat
        );
    }
}
