//! Classic bank transfers: one recorded by an operator, or a camt.053 statement imported.
//! Both go through the same activation path as a Przelewy24 notification; the bank
//! reference is the payment's key, so recording or importing it again changes nothing.

use crate::service::{Service, ServiceError};
use crate::settlement::{mismatch, Received, Settlement};
use chrono::NaiveDate;
use renewals_domain::{Document, DocumentNumber, Money};
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

fn received(reference: &str, amount: i64, representative: Option<String>) -> Received {
    Received {
        key: format!("bank:{reference}"),
        source: format!("przelew bankowy, ref. {reference}"),
        order_id: None,
        session_id: None,
        reference: Some(reference.to_string()),
        representative,
        amount,
        currency: "PLN".into(),
        method: "transfer".into(),
    }
}

impl Service {
    /// Records a transfer received for a document; a wrong amount goes to review.
    pub async fn record_transfer(&self, t: &Transfer) -> Result<Settlement, ServiceError> {
        let reference = t.reference.trim();
        if reference.is_empty() {
            return Err(ServiceError::Refused(
                "a transfer needs the bank reference (or the statement line) as --reference".into(),
            ));
        }
        if t.amount_grosze <= 0 {
            return Err(ServiceError::Refused(format!(
                "invalid amount {}: grosze must be positive",
                t.amount_grosze
            )));
        }
        let who = t.representative.as_deref().map(str::trim).unwrap_or("");
        if who.is_empty() {
            return Err(ServiceError::Refused(
                "a recorded transfer needs the name of the representative who saw it".into(),
            ));
        }
        let received = received(reference, t.amount_grosze, Some(who.to_string()));
        if self.recorded(&received.key).await.map_err(unexpected)? {
            return Ok(Settlement::AlreadyRecorded);
        }
        let document = self.store.document(&t.document).await?.ok_or_else(|| {
            ServiceError::NotFound(format!(
                "no document {}; check the number in the transfer title",
                t.document
            ))
        })?;
        self.settle_transfer(&received, &document, t.date).await
    }

    async fn settle_transfer(
        &self,
        received: &Received,
        document: &Document,
        date: NaiveDate,
    ) -> Result<Settlement, ServiceError> {
        let settled = match mismatch(received, document) {
            Some(reason) => self.review(received, date, Some(document), &reason).await,
            None => self.activate(received, document, date).await,
        };
        settled.map_err(unexpected)
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
            let received = received(&credit.reference, credit.amount_grosze, None);
            if self.recorded(&received.key).await.map_err(unexpected)? {
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
                .filter(|d| mismatch(&received, d).is_none() && credit.currency == "PLN")
                .collect();
            let outcome = match exact.as_slice() {
                [document] => {
                    let settlement = self
                        .settle_transfer(&received, document, credit.booking_date)
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
                [] => mismatch(&received, &documents[0]).unwrap_or_default(),
                _ => "the title names several documents of this amount".to_string(),
            };
            self.review(&received, credit.booking_date, documents.first(), &outcome)
                .await
                .map_err(unexpected)?;
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

fn unexpected(e: String) -> ServiceError {
    ServiceError::Unexpected(anyhow::anyhow!(e))
}
