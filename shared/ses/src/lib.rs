//! Delivers outbox messages through Amazon SES v2 as raw e-mails: the same MIME bytes the
//! local outbox writes to `.eml` files.

use async_trait::async_trait;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use aws_sdk_sesv2::Client;
use renewals_app::ports::{MailError, Mailer, OutboxMessage};

pub struct SesMailer {
    client: Client,
    from: String,
}

impl SesMailer {
    pub fn new(client: Client, from: impl Into<String>) -> SesMailer {
        SesMailer {
            client,
            from: from.into(),
        }
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
    async fn send(&self, id: i64, message: &OutboxMessage) -> Result<(), MailError> {
        let raw = RawMessage::builder()
            .data(Blob::new(message.mime.clone()))
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
