//! Delivers outbox messages through Amazon SES v2 as raw e-mails: the same MIME bytes the
//! local outbox writes to `.eml` files.

use async_trait::async_trait;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use aws_sdk_sesv2::Client;
use renewals_app::ports::{MailError, Mailer, OutboxMessage};
use std::time::Duration;
use tokio::time::Instant;

pub struct SesMailer {
    client: Client,
    from: String,
    /// Sends spaced to this mailer's share of the account's sending rate, if it has one.
    pace: Option<tokio::sync::Mutex<Pacer>>,
}

impl SesMailer {
    pub fn new(client: Client, from: impl Into<String>) -> SesMailer {
        SesMailer {
            client,
            from: from.into(),
            pace: None,
        }
    }

    /// Sends at most `per_second` messages a second (at least one a minute).
    pub fn with_send_rate(mut self, per_second: f64) -> SesMailer {
        self.pace = Some(tokio::sync::Mutex::new(Pacer::new(per_second)));
        self
    }

    /// The account's maximum sending rate (messages per second), as SES states it
    /// (`GetAccount` → `SendQuota.MaxSendRate`).
    pub async fn account_send_rate(client: &Client) -> Result<f64, MailError> {
        let account = client.get_account().send().await.map_err(classify)?;
        account
            .send_quota()
            .map(|q| q.max_send_rate())
            .filter(|rate| *rate > 0.0)
            .ok_or_else(|| {
                MailError::Rejected(
                    "SES states no sending rate: is sending enabled for the account?".into(),
                )
            })
    }
}

/// Spaces sends evenly at a rate: each send gets the next free slot. Pure (the caller gives
/// the instant), so its arithmetic is tested without waiting.
#[derive(Clone, Debug)]
pub struct Pacer {
    interval: Duration,
    next: Option<Instant>,
}

impl Pacer {
    pub fn new(per_second: f64) -> Pacer {
        let per_second = per_second.max(1.0 / 60.0);
        Pacer {
            interval: Duration::from_secs_f64(1.0 / per_second),
            next: None,
        }
    }

    /// When the send asked for at `now` may go: now if the last one was long enough ago,
    /// else one interval after the slot before it.
    pub fn slot(&mut self, now: Instant) -> Instant {
        let at = self.next.map_or(now, |next| next.max(now));
        self.next = Some(at + self.interval);
        at
    }
}

/// Throttling and service trouble pass; a rejected message needs a person (an unverified
/// sender, a suspended account). Either way the message stays in the outbox.
fn classify<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    e: SdkError<E, R>,
) -> MailError {
    let code = e.code().unwrap_or("").to_string();
    let text = format!("{code}: {}", e.message().unwrap_or("no message"));
    match code.as_str() {
        // The account's sending rate or quota: not the message's fault.
        "TooManyRequestsException"
        | "Throttling"
        | "ThrottlingException"
        | "LimitExceededException" => MailError::Throttled(text),
        "MessageRejected"
        | "MailFromDomainNotVerifiedException"
        | "AccountSuspendedException"
        | "BadRequestException"
        | "NotFoundException" => MailError::Rejected(text),
        _ => MailError::Temporary(if code.is_empty() {
            format!("{e:?}")
        } else {
            text
        }),
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, id: i64, message: &OutboxMessage, mime: &[u8]) -> Result<(), MailError> {
        if let Some(pace) = &self.pace {
            let at = pace.lock().await.slot(Instant::now());
            tokio::time::sleep_until(at).await;
        }
        let raw = RawMessage::builder()
            .data(Blob::new(mime))
            .build()
            .map_err(|e| MailError::Rejected(e.to_string()))?;
        let out = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&message.to).build())
            .content(EmailContent::builder().raw(raw).build())
            .send()
            .await
            .map_err(classify)?;
        tracing::info!(
            outbox_id = id,
            kind = %message.kind,
            ses_message_id = out.message_id().unwrap_or(""),
            "e-mail sent"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_are_spaced_at_the_rate_and_a_pause_is_not_made_up_for() {
        let mut pacer = Pacer::new(4.0);
        let t0 = Instant::now();
        let slots: Vec<Duration> = (0..5).map(|_| pacer.slot(t0) - t0).collect();
        assert_eq!(
            slots,
            [0, 250, 500, 750, 1000].map(Duration::from_millis).to_vec()
        );
        // After a quiet spell the next send goes at once: no burst to catch up.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(pacer.slot(later), later);
        assert_eq!(pacer.slot(later), later + Duration::from_millis(250));
    }
}
