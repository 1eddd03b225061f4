//! The scheduled jobs: `daily` (pro-formas, reminders, overdue notices, period roll-over)
//! and `expiry` (suspensions, expired orders). Each reads only the tenants due by its date.

use crate::ports::StoreError;
use crate::service::{Service, ServiceError};
use chrono::NaiveDate;
use renewals_domain::{Action, Effect, Job, Numbering, TenantId};
use serde::Serialize;
use std::time::Instant;

/// Tenants read per page of the due-date index.
const PAGE: usize = 500;
/// Decide-apply rounds per tenant: enough to catch up many missed periods.
const MAX_ROUNDS: usize = 64;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub job: String,
    pub date: NaiveDate,
    pub tenants_due: usize,
    pub tenants_changed: usize,
    pub proformas_issued: usize,
    pub reminders_sent: usize,
    pub overdue: usize,
    pub periods_started: usize,
    pub ended: usize,
    pub suspended: usize,
    pub orders_expired: usize,
    pub emails_queued: usize,
    pub emails_sent: usize,
    pub emails_failed: usize,
    /// Tenants left for the next run because the deadline came first.
    pub stopped_early: bool,
    pub failures: Vec<Failure>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub tenant: String,
    pub error: String,
}

impl RunSummary {
    fn count(&mut self, action: &Action) {
        match action {
            Action::RollOver(_) => self.periods_started += 1,
            Action::End(_) => self.ended += 1,
            Action::IssueProforma { .. } => self.proformas_issued += 1,
            Action::Remind { .. } => self.reminders_sent += 1,
            Action::MarkOverdue(_) => self.overdue += 1,
            Action::Suspend(_) => self.suspended += 1,
            Action::ExpireOrder(_) => self.orders_expired += 1,
        }
    }

    fn add(&mut self, other: RunSummary) {
        self.tenants_changed += other.tenants_changed;
        self.proformas_issued += other.proformas_issued;
        self.reminders_sent += other.reminders_sent;
        self.overdue += other.overdue;
        self.periods_started += other.periods_started;
        self.ended += other.ended;
        self.suspended += other.suspended;
        self.orders_expired += other.orders_expired;
        self.emails_queued += other.emails_queued;
    }
}

impl Service {
    /// Runs `job` for `date`. One failing tenant is reported and the others go on; past
    /// `deadline` the run stops between tenants and the next run picks up the rest.
    pub async fn run_job(
        &self,
        job: Job,
        date: NaiveDate,
        deadline: Option<Instant>,
    ) -> Result<RunSummary, ServiceError> {
        let mut summary = RunSummary {
            job: match job {
                Job::Daily => "daily",
                Job::Expiry => "expiry",
            }
            .into(),
            date,
            ..RunSummary::default()
        };
        let mut after: Option<TenantId> = None;
        'pages: loop {
            let page = self.store.due_tenants(date, after.as_ref(), PAGE).await?;
            let Some(last) = page.last().cloned() else {
                break;
            };
            for tenant in page {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    summary.stopped_early = true;
                    break 'pages;
                }
                summary.tenants_due += 1;
                match self.run_tenant(&tenant, job, date).await {
                    Ok(part) => summary.add(part),
                    Err(e) => {
                        tracing::error!(tenant = %tenant, error = %e, "tenant failed");
                        summary.failures.push(Failure {
                            tenant: tenant.to_string(),
                            error: e.to_string(),
                        });
                    }
                }
            }
            after = Some(last);
        }
        let delivery = self.deliver().await?;
        summary.emails_sent = delivery.sent;
        summary.emails_failed = delivery.failed;
        Ok(summary)
    }

    /// Everything due for one tenant, committed as one change.
    pub async fn run_tenant(
        &self,
        tenant: &TenantId,
        job: Job,
        date: NaiveDate,
    ) -> Result<RunSummary, ServiceError> {
        let (policy, catalog) = (&self.settings.policy, &self.settings.catalog);
        for _ in 0..16 {
            let mut account = self.account(tenant).await?;
            let mut numbering = Numbering::default();
            let mut effects: Vec<Effect> = vec![];
            let mut part = RunSummary::default();
            for _ in 0..MAX_ROUNDS {
                let actions = account.decide(date, policy, job);
                if actions.is_empty() {
                    break;
                }
                for action in actions {
                    if let Some(series) = action.series(date) {
                        self.load_series(&mut numbering, series).await?;
                    }
                    part.count(&action);
                    let done = account
                        .apply(action, date, policy, catalog, &mut numbering)
                        .map_err(ServiceError::Refused)?;
                    effects.extend(done);
                }
            }
            if part == RunSummary::default() {
                return Ok(part);
            }
            part.tenants_changed = 1;
            part.emails_queued = effects
                .iter()
                .filter(|e| matches!(e, Effect::Notify(_)))
                .count();
            let change = self.change(account, effects, &numbering, date);
            match self.store.commit(change).await {
                Ok(()) => return Ok(part),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Unexpected(anyhow::anyhow!(
            "tenant {tenant} kept changing during the run"
        )))
    }
}
