//! Classic bank transfers: one recorded by an operator, or a camt.053 statement imported.
//! Both go through the same activation path as a Przelewy24 notification; the bank
//! reference is the payment's key, so recording or importing it again changes nothing.

use crate::error::{NotFound, ServiceError};
use crate::service::Service;
use crate::settlement::{IncomingPayment, Settlement};
use chrono::NaiveDate;
use renewals_domain::{Document, DocumentNumber, Money, ParseError, Refusal};
use serde::Serialize;
use std::collections::HashSet;

/// One credit (incoming transfer) from an ISO 20022 camt.053 bank-to-customer statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credit {
    pub amount_grosze: i64,
    pub currency: String,
    pub booking_date: NaiveDate,
    /// All `RmtInf/Ustrd` lines joined by a space, plus `RmtInf/Strd/CdtrRefInf/Ref` if
    /// present; when the transfer carries no `RmtInf` at all, the bank's free text
    /// (`AddtlTxInf`, else `AddtlNtryInf`).
    pub remittance: String,
    /// The entry's unique bank reference: `NtryRef`, else `AcctSvcrRef`, else
    /// `TxDtls/Refs/AcctSvcrRef` or `EndToEndId`. For a batch entry split into one credit per
    /// transaction it is `{entry reference}/{transaction AcctSvcrRef or 1-based position}`.
    /// The importer uses it as the idempotency key.
    pub reference: String,
    /// `RltdPties/Dbtr/Nm` (`RltdPties/Dbtr/Pty/Nm` from camt.053.001.08 on).
    pub debtor: Option<String>,
}

/// A transfer an operator saw on the bank account.
#[derive(Clone, Debug)]
pub struct Transfer {
    pub document: DocumentNumber,
    pub amount_grosze: i64,
    pub date: NaiveDate,
    pub reference: String,
    pub representative: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportReport {
    pub credits: usize,
    pub matched: Vec<Matched>,
    pub unmatched: Vec<Unmatched>,
    /// Credits already recorded by an earlier import or by hand.
    pub already_recorded: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Matched {
    pub reference: String,
    pub document: String,
    pub amount: Money,
    pub settlement: Settlement,
}

#[derive(Clone, Debug, Serialize)]
pub struct Unmatched {
    pub reference: String,
    pub amount: Money,
    pub title: String,
    pub reason: String,
}

impl Service {
    /// Records a transfer received for a document; a wrong amount goes to review.
    pub async fn record_transfer(&self, t: &Transfer) -> Result<Settlement, ServiceError> {
        let reference = t.reference.trim();
        if reference.is_empty() {
            return Err(Refusal::NoTransferReference.into());
        }
        if t.amount_grosze <= 0 {
            return Err(ParseError::Grosze(t.amount_grosze).into());
        }
        let who = t.representative.as_deref().map(str::trim).unwrap_or("");
        if who.is_empty() {
            return Err(Refusal::NoTransferRepresentative.into());
        }
        let payment = IncomingPayment::transfer(reference, t.amount_grosze, Some(who.to_string()));
        if self.recorded(&payment.key()).await? {
            return Ok(Settlement::AlreadyRecorded);
        }
        let document = self
            .store
            .document(&t.document)
            .await?
            .ok_or_else(|| NotFound::Document(t.document.clone()))?;
        self.settle_document(&payment, &document, t.date).await
    }

    /// Imports the credits of a bank statement: a credit whose title names a document and
    /// whose amount is exactly its gross settles it; everything else is listed and recorded
    /// for review. Importing the same statement again changes nothing.
    pub async fn import_statement(&self, credits: &[Credit]) -> Result<ImportReport, ServiceError> {
        let mut report = ImportReport {
            credits: credits.len(),
            ..ImportReport::default()
        };
        let mut seen = HashSet::new();
        for credit in credits {
            if !seen.insert(credit.reference.clone()) {
                report.already_recorded += 1; // the same entry twice in one file
                continue;
            }
            let amount = Money::from_grosze(credit.amount_grosze);
            let payment = IncomingPayment::transfer(&credit.reference, credit.amount_grosze, None);
            if self.recorded(&payment.key()).await? {
                report.already_recorded += 1;
                continue;
            }
            let mut documents = vec![];
            for number in DocumentNumber::find_in(&credit.remittance) {
                if let Some(d) = self.store.document(&number).await? {
                    documents.push(d);
                }
            }
            let exact: Vec<&Document> = documents
                .iter()
                .filter(|d| payment.mismatch(d).is_none() && credit.currency == "PLN")
                .collect();
            let outcome = match exact.as_slice() {
                [document] => {
                    let settlement = self
                        .settle_document(&payment, document, credit.booking_date)
                        .await?;
                    report.matched.push(Matched {
                        reference: credit.reference.clone(),
                        document: document.number.to_string(),
                        amount,
                        settlement,
                    });
                    continue;
                }
                [] if documents.is_empty() => "no known document number in the title".to_string(),
                [] => payment.mismatch(&documents[0]).unwrap_or_default(),
                _ => "the title names several documents of this amount".to_string(),
            };
            self.review(&payment, credit.booking_date, documents.first(), &outcome)
                .await?;
            report.unmatched.push(Unmatched {
                reference: credit.reference.clone(),
                amount,
                title: credit.remittance.clone(),
                reason: outcome,
            });
        }
        Ok(report)
    }
}
