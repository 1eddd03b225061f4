//! What the web panel needs from a store besides the accounts: operators, one-time sign-in
//! links, sessions and rate-limit counters (all keyed by hashes, never by the secret itself),
//! and the operator's read-only lists across tenants. What changes something the customer or
//! the operator should see later (an operator added, a held payment decided, a parked item
//! retried) takes its audit entry and writes it in the same transaction.

use crate::audit::AuditEntry;
use crate::ports::{ReviewItem, StoreError, StoredCommand, StoredMessage};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use renewals_domain::TenantId;
use serde::{Deserialize, Serialize};

/// A representative of the reseller who may use `/admin`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    pub email: String,
    pub name: String,
}

/// Who a sign-in link or a session is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Principal {
    Customer(TenantId),
    /// By the operator's e-mail address.
    Operator(String),
}

/// A signed-in browser.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub who: Principal,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    pub expires: DateTime<Utc>,
}

/// What an operator decided about a payment held for review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewDecision {
    /// `applied` (to `document`) or `refund`.
    pub decision: String,
    pub document: Option<String>,
    pub representative: String,
    pub at: DateTime<Utc>,
}

/// A KSeF submission given up on (rejected by KSeF, or out of attempts), for the operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ParkedSubmission {
    pub number: String,
    pub tenant: TenantId,
    /// `rejected`, or where it stood when it was given up on (`pending`, `sent`).
    pub status: String,
    /// KSeF's reason, or the last error.
    pub reason: Option<String>,
    pub attempts: u32,
}

#[async_trait]
pub trait PanelStore: Send + Sync {
    /// Adds an operator and `note` (under `note.filed_under`); `false` if one with that
    /// address exists (nothing changes).
    async fn add_operator(
        &self,
        operator: &Operator,
        note: &AuditEntry,
    ) -> Result<bool, StoreError>;
    async fn operator(&self, email: &str) -> Result<Option<Operator>, StoreError>;
    /// The tenant whose billing address this is (case-insensitive), if any: one key read
    /// on DynamoDB, which may still name a tenant that has changed its address since (the
    /// sign-in checks the account before it sends anything).
    async fn tenant_by_email(&self, email: &str) -> Result<Option<TenantId>, StoreError>;

    /// Stores a link's hash; `who` is `None` for an address nobody has (a decoy written so
    /// that a known and an unknown address cost the same, never usable).
    async fn put_login_token(
        &self,
        hash: &str,
        who: Option<&Principal>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Uses the link up: who it was for, once, if it has not expired by `now`. A second
    /// use, an unknown, a decoy or an expired link all give `None`.
    async fn take_login_token(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Principal>, StoreError>;

    async fn put_session(&self, hash: &str, session: &Session) -> Result<(), StoreError>;
    /// The session if it exists and has not expired by `now`.
    async fn session(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<Session>, StoreError>;
    async fn delete_session(&self, hash: &str) -> Result<(), StoreError>;

    /// Counts one attempt under `key` in the fixed window starting at `window`; returns the
    /// attempts in that window including this one.
    async fn hit(&self, key: &str, window: DateTime<Utc>) -> Result<u32, StoreError>;

    /// Every tenant, in id order (the operator's search and dashboard).
    async fn tenants(&self) -> Result<Vec<TenantId>, StoreError>;
    /// Payments held for review, oldest first, with the operator's decision if any.
    async fn reviews(&self) -> Result<Vec<(ReviewItem, Option<ReviewDecision>)>, StoreError>;
    /// Records the decision once, with `note`; `false` if the payment was already decided.
    async fn decide_review(
        &self,
        key: &str,
        d: &ReviewDecision,
        note: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// E-mails given up on after their last attempt.
    async fn parked_messages(&self) -> Result<Vec<StoredMessage>, StoreError>;
    /// Microsoft commands given up on.
    async fn parked_commands(&self) -> Result<Vec<StoredCommand>, StoreError>;
    /// KSeF submissions given up on, by invoice number.
    async fn parked_submissions(&self) -> Result<Vec<ParkedSubmission>, StoreError>;
    /// Puts a parked e-mail back in line for the next delivery, due now with its attempts
    /// reset, and writes `note`; `false` (and nothing written) if it was not parked, so
    /// pressing the button twice puts it back once.
    async fn retry_message(&self, id: i64, note: &AuditEntry) -> Result<bool, StoreError>;
    /// Puts a parked Microsoft command back in line, as `retry_message`.
    async fn retry_command(&self, id: i64, note: &AuditEntry) -> Result<bool, StoreError>;
    /// Sends a parked KSeF submission again (pending, due `now`, attempts reset), as
    /// `retry_message`.
    async fn retry_submission(
        &self,
        number: &str,
        now: DateTime<Utc>,
        note: &AuditEntry,
    ) -> Result<bool, StoreError>;
}
