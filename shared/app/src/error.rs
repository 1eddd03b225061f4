//! What can go wrong in a use case, typed: a change the rules refuse, a value that is not
//! valid, something that does not exist, or trouble with the store or the payment provider.
//! Each says whether trying again can help, so the webhook and the Lambda handlers answer
//! with the retry behaviour that fits.

use crate::ports::{ProviderError, StoreError};
use renewals_domain::{DocumentNumber, ParseError, Refusal, SubscriptionId, TenantId};

#[derive(Debug, thiserror::Error)]
pub enum NotFound {
    #[error("no tenant `{0}`")]
    Tenant(TenantId),
    #[error("no subscription `{0}`")]
    Subscription(SubscriptionId),
    #[error("no document {0}; check its number")]
    Document(DocumentNumber),
    #[error("no VAT invoice {0}; VAT invoices are numbered like FV/2026/02/0001 (see `renewals documents --tenant ID`)")]
    Invoice(String),
    #[error("VAT invoice {0} has no XML yet: it waits for the buyer's address (`renewals tenant update --id ID --address …`)")]
    InvoiceXml(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A person asked for something the rules do not allow; the text says why and what is
    /// possible instead.
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Invalid(#[from] ParseError),
    #[error(transparent)]
    NotFound(#[from] NotFound),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// Other writers kept committing first, past the retry bound.
    #[error("tenant {0} kept changing under us; try again")]
    KeptChanging(TenantId),
}

impl ServiceError {
    /// Whether the same request may succeed later (a store or provider that did not answer,
    /// a conflict); a refusal or a missing thing stays as it is.
    pub fn is_retryable(&self) -> bool {
        match self {
            ServiceError::Refused(_) | ServiceError::Invalid(_) | ServiceError::NotFound(_) => {
                false
            }
            ServiceError::Store(e) => e.is_retryable(),
            ServiceError::Provider(e) => e.is_retryable(),
            ServiceError::KeptChanging(_) => true,
        }
    }
}
