//! Delivering the outbox: each message is claimed by one deliverer before it is sent (a
//! lease in the store), so overlapping runs and webhooks never send it twice; a message
//! that fails is tried again later with growing pauses, without holding up the others, and
//! after its last attempt it is parked and the operator alerted.

use crate::error::ServiceError;
use crate::microsoft::Commands;
use crate::ports::{Change, MailError, Retry, StoredMessage};
use crate::service::Service;
use chrono::{DateTime, Duration, Utc};
use renewals_domain::{DeliveryProblem, DocumentNumber, Notice};

/// Messages claimed at a time.
const BATCH: usize = 200;
/// How long a claimed message is left to its deliverer: a deliverer that died releases
/// its messages when this has passed.
const LEASE_MINUTES: i64 = 10;
/// How long a throttled message waits before it is tried again.
const THROTTLED_PAUSE_MINUTES: i64 = 1;
/// Attempts before a message is parked.
pub const MAX_ATTEMPTS: u32 = 5;

/// What one delivery did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Delivery {
    pub sent: usize,
    /// Attempts that failed (the message is tried again later, or parked).
    pub failed: usize,
    /// Messages given up on after their last attempt.
    pub parked: usize,
    /// The Microsoft commands carried out (or failed, parked) before the e-mails.
    pub commands: Commands,
    /// Messages the mail service throttled: left in the outbox for a minute.
    pub throttled: usize,
}

/// When a message whose `attempt`-th try failed at `now` is tried again: 15 minutes, then
/// 1, 4 and 16 hours later; after the last attempt, never (parked).
pub fn retry_after(attempt: u32, now: DateTime<Utc>) -> Retry {
    if attempt >= MAX_ATTEMPTS {
        return Retry::Park;
    }
    let pause = Duration::minutes(15) * 4_i32.pow(attempt.saturating_sub(1).min(8));
    Retry::At(now + pause)
}

impl Service {
    /// Queues an alert for the operator about a customer's e-mail given up on (not about an
    /// alert: the operator's own address failing is for the alarms). Returns 1 if queued.
    async fn tell_operator(&self, parked: &StoredMessage, error: &str) -> usize {
        let m = &parked.message;
        if m.kind == "operator-alert" {
            return 0;
        }
        let Ok(account) = self.account(&m.tenant).await else {
            return 0;
        };
        let notice = Notice::DeliveryAlert {
            problem: DeliveryProblem::EmailParked {
                kind: m.kind.clone(),
                subject: m.subject.clone(),
                to: m.to.clone(),
                key: m.key.clone(),
                attempts: parked.attempts,
                error: error.to_string(),
            },
            document: m
                .document
                .as_deref()
                .and_then(|n| DocumentNumber::parse(n).ok()),
            on: self.today(),
        };
        let change = Change {
            emails: vec![self.message(&account.tenant, &notice, self.today())],
            ..Change::default()
        };
        // Unique by its key: a second alert for the same e-mail is not queued.
        usize::from(self.store.commit(change).await.is_ok())
    }

    /// Sends the messages that are due; what fails waits for its next attempt.
    pub async fn deliver(&self) -> Result<Delivery, ServiceError> {
        self.deliver_until(None).await
    }

    /// As `deliver`, stopping at `deadline` (a worker's time is up): what it claimed and did
    /// not send comes back when the lease ends.
    pub async fn deliver_until(
        &self,
        deadline: Option<std::time::Instant>,
    ) -> Result<Delivery, ServiceError> {
        // Microsoft's side first: a command parked now queues its operator alert in time
        // for this delivery.
        let commands = self.carry_out_microsoft().await?;
        let mut delivery = Delivery {
            commands,
            ..Delivery::default()
        };
        let mut alerts = 0;
        loop {
            let now = self.clock.now();
            let until = now + Duration::minutes(LEASE_MINUTES);
            let batch = self.store.claim_due(now, until, BATCH).await?;
            let full = batch.len() == BATCH;
            let mut sent = vec![];
            let mut out_of_time = false;
            for stored in batch {
                if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                    out_of_time = true;
                    break;
                }
                // Composed here, not at commit: the same bytes at every attempt.
                let mime = stored.message.mime(self.composer.as_ref());
                let error = match self.mailer.send(stored.id, &stored.message, &mime).await {
                    Ok(()) => {
                        sent.push(stored.id);
                        continue;
                    }
                    Err(MailError::Throttled(e)) => {
                        // The account's rate, not the message: soon again, never parked.
                        delivery.throttled += 1;
                        let soon = Retry::At(now + Duration::minutes(THROTTLED_PAUSE_MINUTES));
                        self.store.mark_failed(stored.id, soon, &e).await?;
                        continue;
                    }
                    Err(MailError::Temporary(e)) | Err(MailError::Rejected(e)) => e,
                };
                delivery.failed += 1;
                let retry = retry_after(stored.attempts, now);
                if retry == Retry::Park {
                    delivery.parked += 1;
                    alerts += self.tell_operator(&stored, &error).await;
                    tracing::error!(
                        message = stored.id,
                        kind = %stored.message.kind,
                        tenant = %stored.message.tenant,
                        attempts = stored.attempts,
                        error = %error,
                        "e-mail parked after its last attempt; the operator must act"
                    );
                } else {
                    tracing::warn!(message = stored.id, attempts = stored.attempts, error = %error, "e-mail failed; tried again later");
                }
                self.store.mark_failed(stored.id, retry, &error).await?;
            }
            self.store.mark_sent(&sent).await?;
            delivery.sent += sent.len();
            // Every claimed message moved past `now` (sent, leased or retried later), so
            // the next claim only finds messages not seen yet (and the alerts just queued).
            if out_of_time || (!full && alerts == 0) {
                break;
            }
            alerts = 0;
        }
        Ok(delivery)
    }
}
