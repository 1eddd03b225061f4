//! Ports: what the use cases need from the outside world. Adapters live in other crates.

use crate::audit::AuditEntry;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
pub use renewals_domain::{business_date, warsaw_noon};
use renewals_domain::{
    Account, Document, DocumentNumber, DocumentStatus, InvoiceNumber, InvoiceSeries,
    MicrosoftCommand, Money, Notice, PaymentOutcome, SeriesKey, SessionId, SubscriptionId, Tenant,
    TenantId, VatInvoice,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Someone else changed the account, a counter or a unique key first: reload and retry.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl StoreError {
    /// A conflict or a store that did not answer may well succeed when tried again.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, StoreError::NotFound(_))
    }
}

/// An account as stored, with the version its next change is guarded by (optimistic
/// concurrency: the store refuses a change made from an older version).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    pub account: Account,
    pub version: u64,
}

/// An e-mail committed with the state change that caused it, composed and sent after the
/// commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxMessage {
    /// One message per cause (e.g. `reminder:PF/2026/11/0001:2026-11-27`).
    pub key: String,
    pub tenant: TenantId,
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub document: Option<String>,
    /// The business date the e-mail belongs to.
    pub date: NaiveDate,
    /// What the mailers send: a letter composed at delivery, or a message composed before.
    pub content: Content,
}

impl OutboxMessage {
    /// The complete MIME message: composed from the letter (the same bytes at every
    /// attempt), or the stored bytes as they are.
    pub fn mime(&self, composer: &dyn Composer) -> std::borrow::Cow<'_, [u8]> {
        match &self.content {
            Content::Letter(letter) => std::borrow::Cow::Owned(letter.compose(composer)),
            Content::Mime(bytes) => std::borrow::Cow::Borrowed(bytes),
        }
    }
}

/// What an outbox row holds for its mailer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// What the e-mail must say, stored at commit (a few KB); the MIME message (templates,
    /// PDF) is composed at delivery, off the path of the change that caused it.
    Letter(Box<Letter>),
    /// A complete MIME message: rows queued before letters, and e-mails an adapter composes
    /// itself (the panel's sign-in link).
    Mime(Vec<u8>),
}

/// Everything composing a notice's e-mail depends on, frozen at commit, so a message
/// composed at its fifth attempt says, and is dated, what it would have at its first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Letter {
    pub notice: Notice,
    /// The recipient as they were when the e-mail was queued: name, NIP, address, locale,
    /// e-mail address, payment method.
    pub recipient: Tenant,
    /// Stable for the notice: the Message-ID and the MIME boundaries derive from it.
    pub message_id: String,
    /// The instant the message is dated (the commit's).
    pub at: DateTime<Utc>,
}

impl Letter {
    pub fn compose(&self, composer: &dyn Composer) -> Vec<u8> {
        composer
            .compose(&self.notice, &self.recipient, &self.message_id, self.at)
            .mime
    }
}

/// A stored outbox message with its delivery state.
#[derive(Clone, Debug)]
pub struct StoredMessage {
    pub id: i64,
    pub message: OutboxMessage,
    pub sent: bool,
    /// Sending attempts so far (a claim counts as one).
    pub attempts: u32,
    /// Given up on after its last attempt: left for the operator.
    pub parked: bool,
}

/// What happens to a message whose sending attempt failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Tried again from this instant on (backoff).
    At(DateTime<Utc>),
    /// No more attempts: parked for the operator.
    Park,
}

/// A received payment, unique by its key: `p24:{orderId}` for Przelewy24 (however many
/// copies of a notification arrive), `bank:{reference}` for a bank transfer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRecord {
    pub key: String,
    pub order_id: Option<i64>,
    pub session_id: Option<SessionId>,
    /// Bank reference or the operator's reference for a recorded transfer.
    #[serde(default)]
    pub reference: Option<String>,
    /// Who recorded a transfer by hand.
    #[serde(default)]
    pub representative: Option<String>,
    pub document: Option<DocumentNumber>,
    pub tenant: Option<TenantId>,
    pub amount: Money,
    pub received_on: NaiveDate,
    pub method: String,
    pub outcome: PaymentOutcome,
}

/// A payment that activated nothing and needs a person: unknown document, wrong amount.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewItem {
    /// The payment's key (see `PaymentRecord::key`).
    pub key: String,
    pub source: String,
    pub amount: Money,
    pub received_on: NaiveDate,
    pub reason: String,
}

/// Everything one atomic change writes. The store applies all of it or nothing.
#[derive(Clone, Debug, Default)]
pub struct Change {
    /// The account after the change.
    pub account: Option<Account>,
    /// The version the account was loaded at (0 = a new account): the change is written only
    /// if the stored account is still at this version.
    pub version: u64,
    pub next_action: Option<NaiveDate>,
    pub new_documents: Vec<Document>,
    pub status_changes: Vec<(DocumentNumber, DocumentStatus)>,
    /// `(series, last number as read, last number after)`: gapless numbering.
    pub counters: Vec<(SeriesKey, u32, u32)>,
    pub emails: Vec<OutboxMessage>,
    pub payment: Option<PaymentRecord>,
    pub review: Option<ReviewItem>,
    /// Commands for Microsoft's side (the commands outbox), unique by key; carried out
    /// after the commit.
    pub microsoft: Vec<MicrosoftCommand>,
    /// A VAT invoice issued with the payment, its XML and its KSeF submission (the outbox
    /// row); written only if its series' counter is still at the value read.
    pub invoice: Option<NewInvoice>,
    /// The audit log's entries for this change, in order: written with it, once.
    pub audit: Vec<AuditEntry>,
}

/// Where a VAT invoice stands with KSeF, as DESIGN §3 names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KsefStatus {
    /// Queued for sending (or sent again after KSeF asked for it).
    Pending,
    /// Taken in by KSeF; its verdict is asked for.
    Sent,
    Accepted,
    Rejected,
    /// The tenant has no address: numbered and kept, nothing sent until `tenant update`.
    AwaitingBuyerData,
}

impl KsefStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KsefStatus::Pending => "pending",
            KsefStatus::Sent => "sent",
            KsefStatus::Accepted => "accepted",
            KsefStatus::Rejected => "rejected",
            KsefStatus::AwaitingBuyerData => "awaiting_buyer_data",
        }
    }

    /// Whether the submission outbox still has work on it (send, or ask for the verdict).
    pub fn in_flight(self) -> bool {
        matches!(self, KsefStatus::Pending | KsefStatus::Sent)
    }
}

/// The invoice's submission to KSeF: the outbox row kept with the invoice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    pub status: KsefStatus,
    /// KSeF's references once it took the invoice in.
    pub sent: Option<SentInvoice>,
    pub ksef_number: Option<String>,
    /// KSeF's reason of a rejection, or the last error.
    pub reason: Option<String>,
    /// Attempts since the last progress (a claim counts as one).
    pub attempts: u32,
    /// Not claimed before this instant (backoff, `Retry-After`, the lease).
    pub next_attempt: DateTime<Utc>,
    /// Given up on (refused for good, out of attempts): left for the operator.
    pub parked: bool,
    /// When the invoice became sendable (issued, or released by `tenant update`): 24 hours
    /// later, not accepted, the operator is told. A held invoice has had its own alert.
    pub issued_at: DateTime<Utc>,
    /// The 24-hour alert was queued.
    pub late_alerted: bool,
}

impl Submission {
    /// Whether the outbox claims it at `now`.
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        self.status.in_flight() && !self.parked && self.next_attempt <= now
    }
}

/// A VAT invoice as stored: what it says, its FA(3) XML byte for byte with the SHA-256
/// (lowercase hex; none while it waits for the buyer's address), the UPO and the submission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredInvoice {
    pub invoice: VatInvoice,
    pub xml: Option<Vec<u8>>,
    pub sha256: Option<String>,
    /// KSeF's UPO as received.
    pub upo: Option<Vec<u8>>,
    pub submission: Submission,
}

/// A VAT invoice committed with the payment it settles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewInvoice {
    pub stored: StoredInvoice,
    /// The last number of its series as read: the commit fails if it moved.
    pub counter_before: u32,
}

/// A Microsoft command as the outbox keeps it, with its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCommand {
    pub id: i64,
    pub tenant: TenantId,
    pub command: MicrosoftCommand,
    pub done: bool,
    /// Attempts so far (a claim counts as one).
    pub attempts: u32,
    /// Given up on: left for the operator.
    pub parked: bool,
    pub last_error: Option<String>,
}

impl StoredCommand {
    /// `pending`, `done` or `failed` (parked), as DESIGN §3 names them.
    pub fn status(&self) -> &'static str {
        match (self.done, self.parked) {
            (true, _) => "done",
            (false, true) => "failed",
            (false, false) => "pending",
        }
    }
}

/// One page of a shard of the due index: its tenants, and where the next page starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DuePage {
    pub tenants: Vec<TenantId>,
    /// The cursor for the next page (opaque to the caller), `None` after the last one.
    pub next: Option<String>,
}

#[async_trait]
pub trait Store: Send + Sync {
    async fn load_account(&self, tenant: &TenantId) -> Result<Option<Loaded>, StoreError>;
    async fn tenant_of(&self, sub: &SubscriptionId) -> Result<Option<TenantId>, StoreError>;
    /// Tenants whose next action date is on or before `date`, after `after`, in id order.
    async fn due_tenants(
        &self,
        date: NaiveDate,
        after: Option<&TenantId>,
        limit: usize,
    ) -> Result<Vec<TenantId>, StoreError>;
    async fn last_number(&self, series: SeriesKey) -> Result<u32, StoreError>;
    /// How many shards the due index is spread over; the fan-out planner reads them one by
    /// one. A store without shards has one.
    fn due_shards(&self) -> u32 {
        1
    }
    /// One page of one shard's due tenants (next action on or before `date`), continuing
    /// after the cursor a previous page returned; `next` is `None` on the last page.
    async fn due_page(
        &self,
        shard: u32,
        date: NaiveDate,
        after: Option<&str>,
        limit: usize,
    ) -> Result<DuePage, StoreError> {
        if shard != 0 {
            return Ok(DuePage::default());
        }
        let after = after
            .map(TenantId::parse)
            .transpose()
            .map_err(|e| StoreError::Unexpected(anyhow::anyhow!("due-page cursor: {e}")))?;
        let tenants = self.due_tenants(date, after.as_ref(), limit).await?;
        let next = (tenants.len() == limit && limit > 0)
            .then(|| tenants.last().map(|t| t.to_string()))
            .flatten();
        Ok(DuePage { tenants, next })
    }
    async fn document(&self, number: &DocumentNumber) -> Result<Option<Document>, StoreError>;
    async fn document_by_session(
        &self,
        session_id: &SessionId,
    ) -> Result<Option<Document>, StoreError>;
    async fn documents_of(&self, tenant: &TenantId) -> Result<Vec<Document>, StoreError>;
    async fn payment(&self, key: &str) -> Result<Option<PaymentRecord>, StoreError>;
    async fn review_item(&self, key: &str) -> Result<Option<ReviewItem>, StoreError>;
    async fn emails_of(&self, tenant: &TenantId) -> Result<Vec<OutboxMessage>, StoreError>;
    /// Messages not sent and not parked, in id order (whatever their next attempt).
    async fn unsent(&self, limit: usize) -> Result<Vec<StoredMessage>, StoreError>;
    /// Claims up to `limit` messages whose next attempt is due at `now` for one deliverer:
    /// each claim counts as an attempt and moves the message's next attempt to `until` (the
    /// lease), so no other deliverer gets it meanwhile; a message claimed by a deliverer
    /// that died comes back when the lease ends. Two deliverers never claim one message.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError>;
    async fn mark_sent(&self, ids: &[i64]) -> Result<(), StoreError>;
    /// Records a failed attempt of a claimed message: retried later, or parked.
    async fn mark_failed(&self, id: i64, retry: Retry, error: &str) -> Result<(), StoreError>;
    /// The tenant's messages about one document (number as printed), with their state.
    async fn messages_about(
        &self,
        tenant: &TenantId,
        document: &str,
    ) -> Result<Vec<StoredMessage>, StoreError>;
    /// Writes the change atomically, or returns `Conflict` and writes nothing.
    async fn commit(&self, change: Change) -> Result<(), StoreError>;
    /// Writes several changes, each as `commit` would (all of it or nothing, under its own
    /// version, counter and key guards), in order: a later change may number on from an
    /// earlier one. One result per change; a refused change writes nothing, and the others
    /// are written as if it had not been there. A store that can (SQLite) writes them in one
    /// transaction; by default they are committed one by one.
    async fn commit_many(&self, changes: Vec<Change>) -> Vec<Result<(), StoreError>> {
        let mut results = Vec::with_capacity(changes.len());
        for change in changes {
            results.push(self.commit(change).await);
        }
        results
    }
    /// The tenant's audit log, oldest first.
    async fn audit_of(&self, tenant: &TenantId) -> Result<Vec<AuditEntry>, StoreError>;
    /// What the bank import noted under `key`: `file:{sha256}` for a statement file imported,
    /// `iban:{IBAN}` for the customer who pays from that account.
    async fn bank_note(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Notes `value` under `key` unless something is noted there already: whether it was new.
    async fn add_bank_note(&self, key: &str, value: &str) -> Result<bool, StoreError>;

    // ------------------------------------------------ VAT invoices and their KSeF outbox
    // A store without invoices refuses a change that issues one.

    async fn last_invoice_number(&self, _series: InvoiceSeries) -> Result<u32, StoreError> {
        Ok(0)
    }
    async fn invoice(&self, _number: &InvoiceNumber) -> Result<Option<StoredInvoice>, StoreError> {
        Ok(None)
    }
    /// The tenant's invoices in number order.
    async fn invoices_of(&self, _tenant: &TenantId) -> Result<Vec<StoredInvoice>, StoreError> {
        Ok(vec![])
    }
    /// Claims up to `limit` submissions due at `now` (pending or sent, not parked), like
    /// `claim_due`: each claim is an attempt and leases the invoice until `until`.
    async fn claim_submissions(
        &self,
        _now: DateTime<Utc>,
        _until: DateTime<Utc>,
        _limit: usize,
    ) -> Result<Vec<StoredInvoice>, StoreError> {
        Ok(vec![])
    }
    /// Writes an invoice's new submission state, its XML when it had none, its UPO, and the
    /// e-mails that go with it (unique by key: one already queued is left as it is), in one
    /// transaction. The invoice (its issue date) and its XML are replaced only while KSeF has
    /// never seen it (no `sent`, no KSeF number): dated the day it goes. Once sent, never.
    async fn save_invoice(
        &self,
        _invoice: &StoredInvoice,
        _emails: Vec<OutboxMessage>,
    ) -> Result<(), StoreError> {
        Err(StoreError::Unexpected(anyhow::anyhow!(
            "this store keeps no VAT invoices"
        )))
    }

    // ------------------------------------------------ the Microsoft commands outbox
    // A store without the outbox keeps no commands: `commit` refuses a change that has any.

    /// The tenant's Microsoft commands in the order they were committed.
    async fn microsoft_commands_of(
        &self,
        _tenant: &TenantId,
    ) -> Result<Vec<StoredCommand>, StoreError> {
        Ok(vec![])
    }
    /// Claims up to `limit` commands due at `now` for one worker, like `claim_due`: each
    /// claim is an attempt and leases the command until `until`.
    async fn claim_commands(
        &self,
        _now: DateTime<Utc>,
        _until: DateTime<Utc>,
        _limit: usize,
    ) -> Result<Vec<StoredCommand>, StoreError> {
        Ok(vec![])
    }
    async fn mark_command_done(&self, _command: &StoredCommand) -> Result<(), StoreError> {
        Err(StoreError::Unexpected(anyhow::anyhow!(
            "this store keeps no Microsoft commands"
        )))
    }
    /// Records a failed attempt of a claimed command: retried later, or parked.
    async fn mark_command_failed(
        &self,
        _command: &StoredCommand,
        _retry: Retry,
        _error: &str,
    ) -> Result<(), StoreError> {
        Err(StoreError::Unexpected(anyhow::anyhow!(
            "this store keeps no Microsoft commands"
        )))
    }
}

/// What went wrong at Microsoft (Partner Center).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MicrosoftError {
    /// Throttled (429), busy (409) or down (5xx, no answer): the same call may pass later.
    #[error("Partner Center is unavailable: {0}")]
    Unavailable(String),
    /// Our own credentials were refused (401/403 on the token or the call): retried once a
    /// person fixes the configuration.
    #[error("Partner Center refused our credentials: {0}")]
    Credentials(String),
    /// 900117: the cancellation window of the term has passed; the full term is owed.
    #[error("Microsoft refused the cancellation: the cancellation window has passed ({0})")]
    CancellationWindowPassed(String),
    /// 800090: fewer seats than Microsoft's refundable quantity allows.
    #[error("Microsoft refused to lower the quantity: beyond the refundable quantity ({0})")]
    NotRefundable(String),
    /// 20003 / 404: the linked subscription does not exist for that customer.
    #[error("Microsoft knows no such subscription: {0}")]
    NotFound(String),
    /// Our product has no Microsoft offer configured.
    #[error("no Microsoft offer for product `{0}`")]
    UnknownOffer(String),
    /// Any other refusal, with Microsoft's code and description.
    #[error("Microsoft refused ({status}, code {code}): {description}")]
    Refused {
        status: u16,
        code: String,
        description: String,
    },
}

impl MicrosoftError {
    /// Whether trying the same command later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            MicrosoftError::Unavailable(_) | MicrosoftError::Credentials(_)
        )
    }
}

/// Microsoft's view of a subscription: what reconciliation compares and what the commands
/// check before acting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MicrosoftSubscription {
    pub id: String,
    pub offer_id: String,
    pub quantity: u32,
    /// `active`, `suspended`, `deleted`, `expired`, …
    pub status: String,
    pub auto_renew: bool,
    /// Inclusive (NCE): the term ends at the end of this day.
    pub commitment_end: Option<NaiveDate>,
    pub cancellation_allowed_until: Option<DateTime<Utc>>,
}

/// What a command did at Microsoft.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Done {
    /// Microsoft changed the subscription.
    Changed,
    /// Microsoft already had it so (a retry after a lost answer): nothing was sent.
    Already,
}

/// The operations the Microsoft side of our decisions needs (DESIGN §1, the Microsoft
/// table). `correlation` is one id for all the calls of one command (`MS-CorrelationId`).
#[async_trait]
pub trait Microsoft: Send + Sync {
    async fn subscription(
        &self,
        customer: &str,
        id: &str,
    ) -> Result<MicrosoftSubscription, MicrosoftError>;
    /// Raises the quantity to `to` seats (co-termed, prorated by Microsoft), unless it is
    /// there already.
    async fn raise_quantity(
        &self,
        correlation: &str,
        customer: &str,
        id: &str,
        to: u32,
    ) -> Result<Done, MicrosoftError>;
    /// Sets `scheduledNextTermInstructions`: `seats` from the next term, of our product
    /// `new_product` (a plan change at renewal) or else of the current offer.
    async fn schedule_next_term(
        &self,
        correlation: &str,
        customer: &str,
        id: &str,
        new_product: Option<&str>,
        seats: u32,
    ) -> Result<Done, MicrosoftError>;
    async fn set_auto_renew(
        &self,
        correlation: &str,
        customer: &str,
        id: &str,
        enabled: bool,
    ) -> Result<Done, MicrosoftError>;
    /// Buys `seats` of the offer (billing cycle, term) of the existing subscription `like`,
    /// or of our product `new_product` on like terms: cart + checkout. `tag` names the purchase (the line's `friendlyName`): a
    /// subscription already bought under it is found first, so a retried checkout never buys
    /// twice. Returns the new subscription's id.
    async fn purchase(
        &self,
        correlation: &str,
        customer: &str,
        like: &str,
        new_product: Option<&str>,
        seats: u32,
        tag: &str,
    ) -> Result<String, MicrosoftError>;
    /// Cancels the current term (`status` `deleted`) while Microsoft still allows it.
    async fn cancel(
        &self,
        correlation: &str,
        customer: &str,
        id: &str,
    ) -> Result<Done, MicrosoftError>;
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Try again later (throttling, a full disk); the message stays in the outbox.
    #[error("temporary mail failure: {0}")]
    Temporary(String),
    #[error("mail rejected: {0}")]
    Rejected(String),
    /// The mail service refused for its sending rate or quota, not for the message: it stays
    /// in the outbox, is tried again soon and never parked for it.
    #[error("mail throttled: {0}")]
    Throttled(String),
}

/// One notice as a complete e-mail: what the outbox stores and every mailer sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComposedEmail {
    pub kind: &'static str,
    pub to: String,
    pub subject: String,
    /// The complete MIME message.
    pub mime: Vec<u8>,
}

/// What the outbox lists about an e-mail before it is composed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub kind: &'static str,
    pub to: String,
    pub subject: String,
}

/// Writes the e-mail a notice calls for (templates, HTML and text, MIME): an adapter's job.
pub trait Composer: Send + Sync {
    /// Kind, recipient and subject of the e-mail `compose` would write for the same
    /// arguments, for a fraction of its work.
    fn envelope(&self, notice: &Notice, to: &Tenant, at: DateTime<Utc>) -> Envelope;

    /// `message_id` is stable for the notice; `at` is the instant the message is dated.
    fn compose(
        &self,
        notice: &Notice,
        to: &Tenant,
        message_id: &str,
        at: DateTime<Utc>,
    ) -> ComposedEmail;
}

#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one stored message as `mime`, composed just before; `id` is stable across
    /// retries.
    async fn send(&self, id: i64, message: &OutboxMessage, mime: &[u8]) -> Result<(), MailError>;
}

/// What `PUT /api/v1/transaction/verify` needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    pub session_id: SessionId,
    pub order_id: i64,
    pub amount: i64,
    pub currency: String,
}

/// What went wrong talking to the payment provider.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider answered no (the transaction is not valid, the card was declined): asking
    /// again gives the same answer.
    #[error("the provider refused: {0}")]
    Refused(String),
    /// The provider could not be asked or is throttling; the same call may pass later.
    #[error("the provider is unreachable: {0}")]
    Unavailable(String),
    /// The provider refused our own credentials or access (401/403: a rotated API key, a
    /// wrong POS). Not the transaction's fault: the same call passes once a person has fixed
    /// the configuration, so it is retried (and the operator alerted), never settled as no.
    #[error("the provider refused our credentials (check the API key and POS): {0}")]
    Misconfigured(String),
}

impl ProviderError {
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::Unavailable(_) | ProviderError::Misconfigured(_)
        )
    }
}

/// What `POST /api/v1/transaction/register` needs: one payment attempt for one document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    pub session_id: SessionId,
    pub amount: i64,
    pub currency: String,
    pub description: String,
    pub email: String,
    pub client: String,
    pub language: String,
    /// Przelewy24 channel bitmask: which ways of paying the link offers (BLIK is 8192).
    pub channel: i64,
    pub url_status: String,
    pub url_return: String,
}

/// What the provider knows of a transaction, asked by session id (reconciliation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionStatus {
    pub order_id: i64,
    pub amount: i64,
    pub currency: String,
    /// 0 no payment, 1 paid (advance, not yet verified), 2 paid and verified, 3 returned.
    pub status: i64,
    pub method_id: i64,
}

#[async_trait]
pub trait PaymentProvider: Send + Sync {
    async fn verify(&self, v: &Verification) -> Result<(), ProviderError>;
    /// Registers a transaction; returns the payment link for the customer.
    async fn register(&self, r: &Registration) -> Result<String, ProviderError>;
    /// Charges a stored card: registers the transaction with the card's reference and asks
    /// for the charge. Success only means accepted; the payment arrives as a notification.
    async fn charge_card(&self, r: &Registration, card_ref: &str) -> Result<(), ProviderError>;
    /// The transaction registered under `session_id`, if the provider has one.
    async fn status(
        &self,
        session_id: &SessionId,
    ) -> Result<Option<TransactionStatus>, ProviderError>;
}

/// The only source of "now" for the shell; the domain never asks.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock stopped at one instant: for tests, `pay --date` and the simulator.
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// A clock a driver moves by hand: the demo and the simulator walk it day by day.
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> ManualClock {
        ManualClock(std::sync::atomic::AtomicI64::new(at.timestamp()))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        self.0
            .store(at.timestamp(), std::sync::atomic::Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.0.load(std::sync::atomic::Ordering::Relaxed), 0)
            .expect("valid timestamp")
    }
}

/// One VAT invoice handed to KSeF: the stored FA(3) bytes, sent byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceToSend {
    /// Our number, `FV/YYYY/MM/NNNN` (`P_2`).
    pub number: String,
    /// The FA(3) XML exactly as stored (its SHA-256 is the one stored beside it).
    pub xml: Vec<u8>,
}

/// An invoice KSeF has taken in (`202` with a reference) and not yet decided on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentInvoice {
    /// The online session's reference number (`…-SO-…`).
    pub session: String,
    /// The invoice's reference number in that session (`…-EE-…`).
    pub invoice: String,
}

/// KSeF's decision on a sent invoice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KsefVerdict {
    /// 100/150: still processing; ask again later.
    Processing,
    /// 200, or 440 (a duplicate: already registered, `ksef_number` is the original one).
    /// `upo` is the UPO XML as received, when KSeF already offers it.
    Accepted {
        ksef_number: String,
        upo: Option<Vec<u8>>,
        duplicate: bool,
    },
    /// 430 (schema), 435 (decryption), 450 (semantics) and the like: the invoice will not be
    /// accepted as it is; parked for the operator with KSeF's reason.
    Rejected { code: u16, reason: String },
    /// 550 (cancelled by the system) or a session error: send the same bytes again.
    Resend { reason: String },
}

/// What went wrong talking to KSeF.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KsefError {
    /// 429: wait at least this long (`Retry-After`) before the next call.
    #[error("KSeF asks us to wait {retry_after_s} s (429)")]
    RateLimited { retry_after_s: u64 },
    /// 5xx, no answer, a timeout: the same call may pass later.
    #[error("KSeF is unavailable: {0}")]
    Unavailable(String),
    /// Our token or context was refused (401/403, auth status 4xx): retried once a person
    /// fixes the configuration, and the operator is told.
    #[error("KSeF refused our credentials: {0}")]
    Credentials(String),
    /// Any other refusal of the request itself, with KSeF's code and description.
    #[error("KSeF refused the request ({status}, code {code}): {description}")]
    Refused {
        status: u16,
        code: String,
        description: String,
    },
}

impl KsefError {
    /// Whether the same call may pass later without a person changing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            KsefError::RateLimited { .. } | KsefError::Unavailable(_)
        )
    }
}

/// KSeF (API 2.0) as the invoice outbox needs it. The adapter keeps its own authentication
/// (token → access/refresh) and its open online session; `finish` closes that session at the
/// end of a run so that KSeF prepares the session UPO.
#[async_trait]
pub trait Ksef: Send + Sync {
    /// Sends one invoice in the current online session (opening one if needed).
    async fn send(&self, invoice: &InvoiceToSend) -> Result<SentInvoice, KsefError>;
    /// Asks for the verdict on a sent invoice; on success also fetches its UPO.
    async fn verdict(&self, sent: &SentInvoice) -> Result<KsefVerdict, KsefError>;
    /// Closes the online session opened by `send`, if any.
    async fn finish(&self) -> Result<(), KsefError>;
}
