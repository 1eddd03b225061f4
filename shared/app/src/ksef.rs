//! The KSeF submission outbox: each VAT invoice's submission is committed with the invoice
//! (or queued when a waiting invoice is released), then claimed with a lease like the other
//! outboxes, dated the day it goes if it says an earlier one (`date_for_sending`), sent
//! through the `Ksef` port byte for byte as stored, and asked about until
//! KSeF decides. Accepted: the KSeF number and the UPO are stored and, in the same write,
//! the customer's `invoice` e-mail is queued. Rejected: parked with KSeF's reason and the
//! operator alerted. Throttled (429): not tried before `Retry-After`. Other failures back
//! off like the Microsoft commands; a refusal for good or the last attempt parks it with an
//! alert. An invoice not accepted 24 hours after issue is reported to the operator once.

use crate::delivery::retry_after;
use crate::error::ServiceError;
use crate::invoicing::invoice_alert;
use crate::ports::{
    InvoiceToSend, Ksef, KsefError, KsefStatus, KsefVerdict, OutboxMessage, Retry, StoredInvoice,
};
use crate::service::Service;
use chrono::{DateTime, Duration, Utc};
use renewals_domain::{InvoiceIssue, Notice};
use serde::Serialize;

/// Invoices claimed at a time.
const BATCH: usize = 50;
/// How long a claimed invoice is left to its worker.
const LEASE_MINUTES: i64 = 10;
/// How soon KSeF is asked again about an invoice it is still processing.
const POLL_SECONDS: i64 = 60;
/// Claim rounds in one run: a sent invoice is asked about in the same run, a resend is
/// sent again; every round moves each claimed invoice past `now`, so this only bounds a
/// run against a KSeF that keeps asking for resends.
const MAX_ROUNDS: usize = 8;
/// After this long without acceptance the operator is told.
const ACCEPTANCE_HOURS: i64 = 24;

/// What one `ksef sync` did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KsefRun {
    pub sent: usize,
    pub accepted: usize,
    pub rejected: usize,
    /// Asked about and still being processed by KSeF.
    pub processing: usize,
    /// Attempts that failed (tried again later, or parked).
    pub failed: usize,
    /// Given up on (refused for good, or out of attempts): the operator was alerted.
    pub parked: usize,
    /// Operator alerts about invoices not accepted within 24 hours.
    pub late: usize,
    /// Whether KSeF is here at all (without it the invoices wait).
    pub connected: bool,
}

impl Service {
    /// Sends the pending invoices and asks for the verdict on the sent ones; closes KSeF's
    /// session at the end. Without KSeF here the invoices wait in the outbox.
    pub async fn ksef_sync(&self) -> Result<KsefRun, ServiceError> {
        let mut run = KsefRun::default();
        let Some(ksef) = self.ksef.clone() else {
            return Ok(run);
        };
        run.connected = true;
        let mut paused_until: Option<DateTime<Utc>> = None;
        let mut contacted = false;
        for _ in 0..MAX_ROUNDS {
            let now = self.clock.now();
            let until = now + Duration::minutes(LEASE_MINUTES);
            let batch = self.store.claim_submissions(now, until, BATCH).await?;
            if batch.is_empty() {
                break;
            }
            for stored in batch {
                if let Some(at) = paused_until {
                    // KSeF asked us to wait: hand the claim back, not counted as an attempt.
                    let mut stored = stored;
                    stored.submission.attempts = stored.submission.attempts.saturating_sub(1);
                    stored.submission.next_attempt = at;
                    self.store.save_invoice(&stored, vec![]).await?;
                    continue;
                }
                contacted = true;
                if let Some(wait) = self.submit(ksef.as_ref(), stored, now, &mut run).await? {
                    paused_until = Some(wait);
                }
            }
            if paused_until.is_some() {
                break;
            }
        }
        if contacted {
            if let Err(e) = ksef.finish().await {
                tracing::warn!(error = %e, "KSeF session not closed; it closes by itself");
            }
        }
        Ok(run)
    }

    /// One step of one claimed invoice: send it, or ask for KSeF's verdict. Returns the
    /// instant before which KSeF must not be called again (429).
    async fn submit(
        &self,
        ksef: &dyn Ksef,
        mut stored: StoredInvoice,
        now: DateTime<Utc>,
        run: &mut KsefRun,
    ) -> Result<Option<DateTime<Utc>>, ServiceError> {
        let number = stored.invoice.number.to_string();
        let mut emails = vec![];
        let step = match (stored.submission.status, stored.submission.sent.clone()) {
            (KsefStatus::Sent, Some(sent)) => ksef.verdict(&sent).await.map(Step::Verdict),
            _ => {
                if stored.xml.is_some() {
                    self.date_for_sending(&mut stored).await?;
                }
                let Some(xml) = stored.xml.clone() else {
                    // Never claimed without XML; kept out of the outbox until released.
                    stored.submission.status = KsefStatus::AwaitingBuyerData;
                    self.store.save_invoice(&stored, vec![]).await?;
                    return Ok(None);
                };
                let invoice = InvoiceToSend {
                    number: number.clone(),
                    xml,
                };
                ksef.send(&invoice).await.map(Step::Sent)
            }
        };
        let mut pause = None;
        let s = &mut stored.submission;
        match step {
            Ok(Step::Sent(sent)) => {
                run.sent += 1;
                tracing::info!(invoice = %number, session = %sent.session, reference = %sent.invoice, "invoice sent to KSeF");
                s.status = KsefStatus::Sent;
                s.sent = Some(sent);
                s.attempts = 0;
                s.reason = None;
                // Asked about in this same run.
                s.next_attempt = now;
            }
            Ok(Step::Verdict(KsefVerdict::Processing)) => {
                run.processing += 1;
                s.attempts = 0;
                s.next_attempt = now + Duration::seconds(POLL_SECONDS);
            }
            Ok(Step::Verdict(KsefVerdict::Accepted {
                ksef_number,
                upo,
                duplicate,
            })) => {
                run.accepted += 1;
                tracing::info!(invoice = %number, %ksef_number, duplicate, "invoice accepted by KSeF");
                s.status = KsefStatus::Accepted;
                s.ksef_number = Some(ksef_number.clone());
                s.reason = None;
                if upo.is_some() {
                    stored.upo = upo;
                }
                emails.push(self.invoice_email(&stored, &ksef_number).await?);
            }
            Ok(Step::Verdict(KsefVerdict::Rejected { code, reason })) => {
                run.rejected += 1;
                let reason = format!("KSeF {code}: {reason}");
                tracing::error!(invoice = %number, %reason, "invoice rejected by KSeF; the operator must act");
                s.status = KsefStatus::Rejected;
                s.reason = Some(reason.clone());
                s.parked = true;
                emails.extend(
                    self.invoice_alert(&stored, InvoiceIssue::Rejected, &reason)
                        .await,
                );
            }
            Ok(Step::Verdict(KsefVerdict::Resend { reason })) => {
                tracing::warn!(invoice = %number, %reason, "KSeF asks for the invoice again");
                s.status = KsefStatus::Pending;
                s.sent = None;
                s.reason = Some(reason);
                s.attempts = 0;
                s.next_attempt = now;
            }
            Err(error) => {
                run.failed += 1;
                let retry = match &error {
                    KsefError::RateLimited { retry_after_s } => {
                        let at = now + Duration::seconds(*retry_after_s as i64);
                        pause = Some(at);
                        Retry::At(at)
                    }
                    e if e.is_retryable() => retry_after(s.attempts, now),
                    _ => Retry::Park,
                };
                let text = error.to_string();
                s.reason = Some(text.clone());
                match retry {
                    Retry::At(at) => {
                        tracing::warn!(invoice = %number, attempts = s.attempts, error = %text, "KSeF call failed; tried again later");
                        s.next_attempt = at;
                    }
                    Retry::Park => {
                        run.parked += 1;
                        tracing::error!(invoice = %number, attempts = s.attempts, error = %text, "invoice submission parked; the operator must act");
                        s.parked = true;
                        emails.extend(
                            self.invoice_alert(&stored, InvoiceIssue::Parked, &text)
                                .await,
                        );
                    }
                }
            }
        }
        let s = &stored.submission;
        if s.status.in_flight()
            && !s.late_alerted
            && now - s.issued_at >= Duration::hours(ACCEPTANCE_HOURS)
        {
            let reason = s.reason.clone().unwrap_or_else(|| {
                format!("KSeF status {} 24 hours after issue", s.status.as_str())
            });
            let alert = self
                .invoice_alert(&stored, InvoiceIssue::NotAccepted, &reason)
                .await;
            run.late += alert.len();
            emails.extend(alert);
            stored.submission.late_alerted = true;
        }
        self.store.save_invoice(&stored, emails).await?;
        Ok(pause)
    }

    /// The customer's `invoice` e-mail: the invoice with its KSeF number and KOD I.
    async fn invoice_email(
        &self,
        stored: &StoredInvoice,
        ksef_number: &str,
    ) -> Result<OutboxMessage, ServiceError> {
        let account = self.account(&stored.invoice.tenant).await?;
        let xml = stored.xml.as_deref().unwrap_or_default();
        let qr_url = renewals_invoices::kod_i_url(
            &self.settings.ksef_qr_base,
            self.settings.seller.nip.as_str(),
            stored.invoice.issue_date,
            xml,
        );
        let notice = Notice::Invoice {
            invoice: stored.invoice.clone(),
            ksef_number: ksef_number.to_string(),
            qr_url,
        };
        Ok(self.message(&account.tenant, &notice, self.today()))
    }

    /// The operator's alert about an invoice, filed with its customer.
    async fn invoice_alert(
        &self,
        stored: &StoredInvoice,
        issue: InvoiceIssue,
        reason: &str,
    ) -> Vec<OutboxMessage> {
        match self.account(&stored.invoice.tenant).await {
            Ok(account) => {
                let notice = invoice_alert(&stored.invoice, issue, reason, self.today());
                vec![self.message(&account.tenant, &notice, self.today())]
            }
            Err(e) => {
                tracing::error!(invoice = %stored.invoice.number, error = %e, "operator alert not queued");
                vec![]
            }
        }
    }
}

enum Step {
    Sent(crate::ports::SentInvoice),
    Verdict(KsefVerdict),
}
