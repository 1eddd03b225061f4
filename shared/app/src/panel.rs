//! What the web panel needs from a store besides the accounts: operators, one-time sign-in
//! links, sessions and rate-limit counters (all keyed by hashes, never by the secret itself),
//! and the operator's read-only lists across tenants.

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

#[async_trait]
pub trait PanelStore: Send + Sync {
    /// Adds an operator; `false` if one with that address exists (nothing changes).
    async fn add_operator(&self, operator: &Operator) -> Result<bool, StoreError>;
    async fn operator(&self, email: &str) -> Result<Option<Operator>, StoreError>;
    /// The tenant whose billing address this is (case-insensitive), if any.
    async fn tenant_by_email(&self, email: &str) -> Result<Option<TenantId>, StoreError>;

    async fn put_login_token(
        &self,
        hash: &str,
        who: &Principal,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Uses the link up: who it was for, once, if it has not expired by `now`. A second
    /// use, an unknown or an expired link all give `None`.
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
    /// Records the decision once; `false` if the payment was already decided.
    async fn decide_review(&self, key: &str, d: &ReviewDecision) -> Result<bool, StoreError>;
    /// E-mails given up on after their last attempt.
    async fn parked_messages(&self) -> Result<Vec<StoredMessage>, StoreError>;
    /// Microsoft commands given up on.
    async fn parked_commands(&self) -> Result<Vec<StoredCommand>, StoreError>;
    /// Puts a parked e-mail back in line for the next delivery; `false` if it was not parked.
    async fn retry_message(&self, id: i64) -> Result<bool, StoreError>;
    /// Puts a parked Microsoft command back in line; `false` if it was not parked.
    async fn retry_command(&self, id: i64) -> Result<bool, StoreError>;
}
