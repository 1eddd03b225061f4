//! Classic bank transfers: one recorded by an operator, or a bank statement (camt.053 or
//! MT940) imported.
//! Both go through the same activation path as a Przelewy24 notification; the bank
//! reference is the payment's key, so recording or importing it again changes nothing.

use crate::error::{NotFound, ServiceError};
use crate::service::Service;
use crate::settlement::{IncomingPayment, Settlement, Via};
use chrono::NaiveDate;
use renewals_domain::{
    Document, DocumentNumber, DocumentStatus, Money, Nip, ParseError, Refusal, Tenant, TenantId,
};
use serde::Serialize;
use std::collections::HashSet;

/// One credit (incoming transfer) from a bank statement (ISO 20022 camt.053 or MT940).
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
    /// In MT940 it is the bank reference after `//` in `:61:`. Without any bank reference it
    /// is `h:` and a stable hash of account, booking date, amount, currency, counterparty
    /// and title (`#2`, `#3` for identical entries in one file). The importer uses it as the
    /// idempotency key.
    pub reference: String,
    /// `RltdPties/Dbtr/Nm` (`RltdPties/Dbtr/Pty/Nm` from camt.053.001.08 on); in MT940 the
    /// `:86:` counterparty name (`~32`/`~33`).
    pub debtor: Option<String>,
    /// The payer's account (`RltdPties/DbtrAcct/Id/IBAN`; MT940 `~38`), spaces removed.
    pub debtor_iban: Option<String>,
    /// Set when the entry could not be read (what was wrong): it is listed for review and
    /// settles nothing; the rest of the file is imported.
    pub unreadable: Option<String>,
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
    /// Paid over the document's gross: recorded for review, to refund or credit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub surplus: Option<Money>,
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

    /// Imports the credits of a bank statement. A credit settles when its title names
    /// documents of one customer whose gross (or, for several, their sum) it pays exactly; one
    /// that pays more settles the document and records the surplus for refund or credit; a
    /// title without a number settles only when the customer is known by the NIP in the title
    /// or by the account it paid from, and exactly one open document of theirs has that
    /// amount. Everything else is listed and recorded for review, with what was wrong.
    /// Importing the same statement again changes nothing.
    pub async fn import_statement(&self, credits: &[Credit]) -> Result<ImportReport, ServiceError> {
        // What a statement settles, the bank says, whoever imports it.
        self.acting_as(crate::audit::Actor::Provider(crate::audit::Provider::Bank))
            .import_credits(credits)
            .await
    }

    async fn import_credits(&self, credits: &[Credit]) -> Result<ImportReport, ServiceError> {
        let mut report = ImportReport {
            credits: credits.len(),
            ..ImportReport::default()
        };
        let mut seen = HashSet::new();
        let mut customers: Option<Vec<Tenant>> = None;
        for credit in credits {
            if !seen.insert(credit.reference.clone()) {
                report.already_recorded += 1; // the same entry twice in one file
                continue;
            }
            let amount = Money::from_grosze(credit.amount_grosze);
            let payment = IncomingPayment {
                via: Via::Transfer {
                    reference: credit.reference.clone(),
                    representative: None,
                },
                amount: credit.amount_grosze,
                currency: credit.currency.clone(),
            };
            if self.recorded(&payment.key()).await? {
                report.already_recorded += 1;
                continue;
            }
            match self.place(credit, &mut customers).await? {
                Placement::Settle { documents } => {
                    let settled = self
                        .settle_credit(credit, &payment, &documents, &mut report)
                        .await?;
                    if let (true, Some(iban), Some(first)) =
                        (settled, &credit.debtor_iban, documents.first())
                    {
                        self.note_payer(iban, &first.tenant).await?;
                    }
                }
                Placement::Review { document, reason } => {
                    let s = self
                        .review(&payment, credit.booking_date, document.as_deref(), &reason)
                        .await?;
                    if s == Settlement::AlreadyRecorded {
                        report.already_recorded += 1;
                        continue;
                    }
                    report.unmatched.push(Unmatched {
                        reference: credit.reference.clone(),
                        amount,
                        title: credit.remittance.clone(),
                        reason,
                    });
                }
            }
        }
        Ok(report)
    }

    /// Settles what `place` found; whether the money settled anything.
    async fn settle_credit(
        &self,
        credit: &Credit,
        payment: &IncomingPayment,
        documents: &[Document],
        report: &mut ImportReport,
    ) -> Result<bool, ServiceError> {
        let amount = Money::from_grosze(credit.amount_grosze);
        let date = credit.booking_date;
        if let [document] = documents {
            let gross = document.totals.gross;
            let (settlement, surplus) = if credit.amount_grosze > gross.grosze() {
                let surplus = Money::from_grosze(credit.amount_grosze - gross.grosze());
                let s = self.settle_overpaid(payment, document, date).await?;
                (s, Some(surplus))
            } else {
                (self.settle_document(payment, document, date).await?, None)
            };
            let applied = matches!(settlement, Settlement::Applied { .. });
            if let Settlement::Review { reason } = &settlement {
                report.unmatched.push(Unmatched {
                    reference: credit.reference.clone(),
                    amount,
                    title: credit.remittance.clone(),
                    reason: reason.clone(),
                });
            } else {
                report.matched.push(Matched {
                    reference: credit.reference.clone(),
                    document: document.number.to_string(),
                    amount,
                    settlement,
                    surplus,
                });
            }
            return Ok(applied);
        }
        // Several documents, paid exactly their sum: each settled with its gross, under its own
        // key; the credit's own key last, so an interrupted import is completed by the next.
        let (first, rest) = documents.split_first().expect("documents to settle");
        let mut applied = false;
        for document in rest.iter().chain([first]) {
            let part = if std::ptr::eq(document, first) {
                credit.reference.clone()
            } else {
                format!("{}+{}", credit.reference, document.number)
            };
            let part_payment =
                IncomingPayment::transfer(&part, document.totals.gross.grosze(), None);
            let settlement = self.settle_document(&part_payment, document, date).await?;
            applied |= matches!(settlement, Settlement::Applied { .. });
            report.matched.push(Matched {
                reference: part,
                document: document.number.to_string(),
                amount: document.totals.gross,
                settlement,
                surplus: None,
            });
        }
        Ok(applied)
    }

    /// Which documents a credit pays, or why a person must look at it.
    async fn place(
        &self,
        credit: &Credit,
        customers: &mut Option<Vec<Tenant>>,
    ) -> Result<Placement, ServiceError> {
        let review = |document: Option<&Document>, reason: String| {
            Ok(Placement::Review {
                document: document.cloned().map(Box::new),
                reason,
            })
        };
        let paid = format!(
            "{} {}",
            Money::from_grosze(credit.amount_grosze),
            credit.currency
        );
        if let Some(problem) = &credit.unreadable {
            return review(
                None,
                format!("the statement entry could not be read: {problem}"),
            );
        }
        let numbers = DocumentNumber::find_in(&credit.remittance);
        let mut documents = vec![];
        let mut unknown = vec![];
        for number in &numbers {
            match self.store.document(number).await? {
                Some(d) => documents.push(d),
                None => unknown.push(number.to_string()),
            }
        }
        if credit.currency != "PLN" {
            return review(
                documents.first(),
                format!("paid {paid}: documents are billed in PLN only, the currency must be converted or the money returned"),
            );
        }
        let list = |docs: &[Document]| {
            docs.iter()
                .map(|d| d.number.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !numbers.is_empty() {
            if !unknown.is_empty() {
                let known = if documents.is_empty() {
                    String::new()
                } else {
                    format!(" (it also names {})", list(&documents))
                };
                return review(
                    documents.first(),
                    format!(
                        "no document found: the title names {}, which we never issued{known}",
                        unknown.join(", ")
                    ),
                );
            }
            if let Some(closed) = documents
                .iter()
                .find(|d| d.status != DocumentStatus::Issued)
            {
                // Exactly its gross for one document: the domain decides (a restoration after
                // expiry, or a refund flagged for one already paid).
                if documents.len() == 1 && credit.amount_grosze == closed.totals.gross.grosze() {
                    return Ok(Placement::Settle { documents });
                }
                return review(
                    Some(closed),
                    format!(
                        "document already {}: {} (gross {} PLN) cannot take {paid}",
                        closed.status.as_str(),
                        closed.number,
                        closed.totals.gross
                    ),
                );
            }
            if let [document] = documents.as_slice() {
                let gross = document.totals.gross;
                if credit.amount_grosze < gross.grosze() {
                    let short = Money::from_grosze(gross.grosze() - credit.amount_grosze);
                    return review(
                        Some(document),
                        format!(
                            "underpaid: paid {paid} for {} whose gross is {gross} PLN, {short} PLN short",
                            document.number
                        ),
                    );
                }
                return Ok(Placement::Settle { documents });
            }
            let sum: i64 = documents.iter().map(|d| d.totals.gross.grosze()).sum();
            let tenant = &documents[0].tenant;
            if documents.iter().any(|d| &d.tenant != tenant) {
                return review(
                    None,
                    format!(
                        "the title names documents of different customers: {}",
                        list(&documents)
                    ),
                );
            }
            if sum != credit.amount_grosze {
                return review(
                    Some(&documents[0]),
                    format!(
                        "amount does not add up: the title names {} whose gross totals {} PLN, paid {paid}",
                        list(&documents),
                        Money::from_grosze(sum)
                    ),
                );
            }
            return Ok(Placement::Settle { documents });
        }
        // No number: the customer by the NIP in the title, else by the account paid from.
        let by_nip = nips_in(&credit.remittance);
        let mut found: Vec<(TenantId, &str)> = vec![];
        if !by_nip.is_empty() {
            for tenant in self.customers(customers).await? {
                if by_nip.iter().any(|n| n == tenant.nip.as_str()) {
                    found.push((tenant.id.clone(), "NIP"));
                }
            }
        }
        if found.is_empty() {
            if let Some(iban) = &credit.debtor_iban {
                if self
                    .store
                    .bank_note(&format!("iban-shared:{iban}"))
                    .await?
                    .is_none()
                {
                    if let Some(id) = self.store.bank_note(&format!("iban:{iban}")).await? {
                        if let Ok(id) = TenantId::parse(&id) {
                            found.push((id, "account number"));
                        }
                    }
                }
            }
        }
        let (tenant, how) = match found.as_slice() {
            [] => {
                return review(
                    None,
                    "no document found: no document number in the title, and no customer has the payer's NIP or account number".to_string(),
                )
            }
            [one] => one.clone(),
            _ => {
                return review(
                    None,
                    "no document number in the title, and the NIP in it belongs to several customers".to_string(),
                )
            }
        };
        let open: Vec<Document> = self
            .store
            .documents_of(&tenant)
            .await?
            .into_iter()
            .filter(|d| d.status == DocumentStatus::Issued)
            .collect();
        let same: Vec<&Document> = open
            .iter()
            .filter(|d| d.totals.gross.grosze() == credit.amount_grosze)
            .collect();
        match same.as_slice() {
            [document] => Ok(Placement::Settle {
                documents: vec![(*document).clone()],
            }),
            [] => review(
                None,
                format!(
                    "no document number in the title; customer {tenant} (found by {how}) has no open document of {paid} (open: {})",
                    if open.is_empty() { "none".to_string() } else { list(&open) }
                ),
            ),
            _ => review(
                None,
                format!(
                    "no document number in the title; customer {tenant} (found by {how}) has several open documents of {paid}: {}",
                    same.iter().map(|d| d.number.to_string()).collect::<Vec<_>>().join(", ")
                ),
            ),
        }
    }

    /// Every customer, read once per import (only when a title names no document).
    async fn customers<'a>(
        &self,
        cache: &'a mut Option<Vec<Tenant>>,
    ) -> Result<&'a [Tenant], ServiceError> {
        if cache.is_none() {
            let far = NaiveDate::from_ymd_opt(2999, 12, 31).expect("a date");
            let mut tenants = vec![];
            let mut after: Option<TenantId> = None;
            loop {
                let page = self.store.due_tenants(far, after.as_ref(), 500).await?;
                for id in &page {
                    if let Some(loaded) = self.store.load_account(id).await? {
                        tenants.push(loaded.account.tenant);
                    }
                }
                match page.last() {
                    Some(last) if page.len() == 500 => after = Some(last.clone()),
                    _ => break,
                }
            }
            *cache = Some(tenants);
        }
        Ok(cache.as_deref().unwrap_or_default())
    }

    /// Remembers who pays from an account; an account two customers paid from is never used.
    async fn note_payer(&self, iban: &str, tenant: &TenantId) -> Result<(), ServiceError> {
        let key = format!("iban:{iban}");
        if !self.store.add_bank_note(&key, tenant.as_str()).await? {
            let known = self.store.bank_note(&key).await?;
            if known.as_deref() != Some(tenant.as_str()) {
                self.store
                    .add_bank_note(&format!("iban-shared:{iban}"), "several customers")
                    .await?;
            }
        }
        Ok(())
    }
}

/// What to do with a credit.
enum Placement {
    Settle {
        documents: Vec<Document>,
    },
    Review {
        document: Option<Box<Document>>,
        reason: String,
    },
}

/// The valid NIPs written in a title: ten digits, alone or as `123-456-32-18`, `PL1234563218`.
fn nips_in(title: &str) -> Vec<String> {
    let chars: Vec<char> = title.chars().collect();
    let mut found = vec![];
    let mut at = 0;
    while at < chars.len() {
        if !chars[at].is_ascii_digit() || (at > 0 && chars[at - 1].is_ascii_digit()) {
            at += 1;
            continue;
        }
        let mut digits = String::new();
        let mut end = at;
        while end < chars.len() && digits.len() < 10 {
            let c = chars[end];
            if c.is_ascii_digit() {
                digits.push(c);
            } else if !(c == '-' || c == ' ')
                || !chars.get(end + 1).is_some_and(char::is_ascii_digit)
            {
                break;
            }
            end += 1;
        }
        let alone = !chars.get(end).is_some_and(char::is_ascii_digit);
        if digits.len() == 10 && alone {
            if let Ok(nip) = Nip::parse(&digits) {
                found.push(nip.as_str().to_string());
            }
        }
        at = end.max(at + 1);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::nips_in;

    #[test]
    fn nips_are_found_in_titles_as_people_write_them() {
        assert_eq!(nips_in("NIP 5260001246 licencje"), ["5260001246"]);
        assert_eq!(nips_in("nip:526-000-12-46"), ["5260001246"]);
        assert_eq!(nips_in("NIP PL5260001246"), ["5260001246"]);
        assert!(nips_in("5260001247").is_empty(), "a wrong check digit");
        assert!(
            nips_in("52600012461").is_empty(),
            "eleven digits are no NIP"
        );
        assert!(nips_in("PF/2026/02/0001").is_empty());
    }
}
