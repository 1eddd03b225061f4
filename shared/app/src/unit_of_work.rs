//! The one unit of work every use case goes through: load the account, let the domain
//! decide, commit one `Change`, and when another writer committed first, start again from a
//! fresh load, a bounded number of times.

use crate::error::ServiceError;
use crate::ports::{Change, Loaded, NewInvoice, PaymentRecord, StoreError};
use crate::service::Service;
use async_trait::async_trait;
use chrono::NaiveDate;
use renewals_domain::{Account, Effect, Numbering, SeriesKey, TenantId};

/// How often a change is tried when other writers keep getting there first.
const MAX_ATTEMPTS: usize = 16;

/// One account's change in the making: the account as the domain leaves it, and what its
/// decisions produced.
pub struct Draft {
    pub account: Account,
    pub numbering: Numbering,
    /// Documents, status changes, notices and card charges, in the order they happened.
    pub effects: Vec<Effect>,
    /// The payment that caused the change, recorded with it (unique by its key).
    pub payment: Option<PaymentRecord>,
    /// The VAT invoice the payment gets, committed with it.
    pub invoice: Option<NewInvoice>,
    /// 0 on the first try; 1, 2, … after conflicts.
    pub attempt: usize,
    loaded: Account,
    version: u64,
}

impl Draft {
    fn new(loaded: Loaded, attempt: usize) -> Draft {
        Draft {
            account: loaded.account.clone(),
            numbering: Numbering::default(),
            effects: vec![],
            payment: None,
            invoice: None,
            attempt,
            loaded: loaded.account,
            version: loaded.version,
        }
    }

    /// Whether committing would write anything.
    pub fn changed(&self) -> bool {
        self.account != self.loaded || !self.effects.is_empty() || self.payment.is_some()
    }

    /// The account as loaded, before this change.
    pub fn loaded(&self) -> &Account {
        &self.loaded
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// Starts this attempt over from the account as stored now (after a change of our own
    /// committed meanwhile, e.g. a payment found by reconciliation).
    pub async fn reload(&mut self, svc: &Service) -> Result<(), ServiceError> {
        *self = Draft::new(svc.load(&self.account.tenant.id).await?, self.attempt);
        Ok(())
    }
}

/// What a use case decides on an account: run on the loaded account on each attempt, it
/// changes the draft (through the domain) and says what the use case returns.
#[async_trait]
pub trait Decision: Send {
    type Output: Send;
    async fn decide(
        &mut self,
        svc: &Service,
        draft: &mut Draft,
    ) -> Result<Self::Output, ServiceError>;
}

/// A unit of work that is done: its result and what is left to do after the commit.
pub struct Committed<T> {
    pub value: T,
    /// Whether anything was written (a retried request may change nothing).
    pub changed: bool,
    /// Card charges whose intent is now stored: to be sent.
    pub charges: Vec<Effect>,
    /// The last number of each series this change used.
    pub counters: Vec<(SeriesKey, u32)>,
}

/// A decision taken on a fresh load and turned into its change, not yet committed: what
/// a group commit gathers from several tenants.
pub struct Decided<T> {
    pub value: T,
    /// `None` when the decision changed nothing (there is nothing to commit).
    pub change: Option<Change>,
    /// Card charges to send once the change is stored.
    pub charges: Vec<Effect>,
    /// The last number of each series the change uses.
    pub counters: Vec<(SeriesKey, u32)>,
}

impl<T> Decided<T> {
    /// What is left once the change is stored (`changed`), or when there was none.
    pub fn committed(self, changed: bool) -> Committed<T> {
        Committed {
            value: self.value,
            changed,
            charges: self.charges,
            counters: self.counters,
        }
    }
}

impl Service {
    /// Runs `decision` on the tenant's account as loaded now and turns the draft into the
    /// change to commit; `attempt` counts the conflicts met so far.
    pub async fn decide_change<D: Decision>(
        &self,
        tenant: &TenantId,
        date: NaiveDate,
        decision: &mut D,
        attempt: usize,
    ) -> Result<Decided<D::Output>, ServiceError> {
        let mut draft = Draft::new(self.load(tenant).await?, attempt);
        let value = decision.decide(self, &mut draft).await?;
        if !draft.changed() {
            return Ok(Decided {
                value,
                change: None,
                charges: vec![],
                counters: vec![],
            });
        }
        let counters = draft
            .numbering
            .advanced()
            .into_iter()
            .map(|(series, _, last)| (series, last))
            .collect();
        let charges = draft
            .effects
            .iter()
            .filter(|e| matches!(e, Effect::ChargeCard { .. }))
            .cloned()
            .collect();
        Ok(Decided {
            value,
            change: Some(self.change(draft, date)),
            charges,
            counters,
        })
    }

    /// Runs `decision` on the tenant's account and commits what it did as one change,
    /// dated `date`; on a conflict it decides again on a fresh load.
    pub async fn unit_of_work<D: Decision>(
        &self,
        tenant: &TenantId,
        date: NaiveDate,
        decision: &mut D,
    ) -> Result<Committed<D::Output>, ServiceError> {
        for attempt in 0..MAX_ATTEMPTS {
            let mut decided = self.decide_change(tenant, date, decision, attempt).await?;
            let Some(change) = decided.change.take() else {
                return Ok(decided.committed(false));
            };
            match self.store.commit(change).await {
                Ok(()) => return Ok(decided.committed(true)),
                Err(StoreError::Conflict(why)) => {
                    tracing::debug!(%tenant, attempt, %why, "conflict; deciding again");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::KeptChanging(tenant.clone()))
    }
}
