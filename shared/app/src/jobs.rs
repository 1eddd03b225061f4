//! The scheduled jobs: `daily` (pro-formas, reminders, overdue notices, period roll-over)
//! and `expiry` (suspensions, expired orders). Each reads only the tenants due by its date.

use crate::error::ServiceError;
use crate::service::Service;
use crate::unit_of_work::{Committed, Decided, Decision, Draft};
use async_trait::async_trait;
use chrono::NaiveDate;
use renewals_domain::{Action, DeliveryProblem, Effect, Job, Notice, SeriesKey, TenantId};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
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
    /// Automatic card charges asked for (each committed before it was sent).
    pub card_charges: usize,
    /// Card charges the provider refused; the customer got the payment link instead.
    pub card_charges_failed: usize,
    /// Payments found by asking Przelewy24 about unpaid documents (lost notifications).
    pub payments_reconciled: usize,
    /// Payment links registered for documents whose first registration had failed.
    pub links_registered: usize,
    pub emails_queued: usize,
    pub emails_sent: usize,
    /// Sending attempts that failed in this run (tried again later, or parked).
    pub emails_failed: usize,
    /// E-mails given up on after their last attempt: the operator must act.
    pub emails_parked: usize,
    /// Suspensions not carried out because none of the customer's e-mails about the
    /// document was ever delivered: the operator must act.
    pub suspensions_held: usize,
    /// Microsoft commands carried out at Partner Center (or found done there already).
    pub microsoft_done: usize,
    /// Microsoft commands given up on (refused for good, or out of attempts): operator alerted.
    pub microsoft_parked: usize,
    /// Cancellations still failing a day before Microsoft's window closes: urgent.
    pub microsoft_urgent: usize,
    /// Differences found between our subscriptions and Microsoft's (reconciliation).
    pub microsoft_drift: usize,
    /// VAT invoices sent to KSeF, accepted, rejected (operator alerted) and parked.
    pub invoices_sent: usize,
    pub invoices_accepted: usize,
    pub invoices_rejected: usize,
    pub invoices_parked: usize,
    /// Invoices found not accepted 24 hours after issue (the operator was alerted).
    pub invoices_late: usize,
    /// Tenants left for the next run because the deadline came first.
    pub stopped_early: bool,
    pub failures: Vec<Failure>,
}

impl RunSummary {
    /// What a KSeF sync did, in the run's counts.
    pub fn record_ksef(&mut self, ksef: &crate::ksef::KsefRun) {
        self.invoices_sent += ksef.sent;
        self.invoices_accepted += ksef.accepted;
        self.invoices_rejected += ksef.rejected;
        self.invoices_parked += ksef.parked;
        self.invoices_late += ksef.late;
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub tenant: String,
    pub error: String,
    /// Whether running the job again may get past it (the store or the provider did not
    /// answer) or not (the data needs a person).
    pub retryable: bool,
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
            Action::ChargeCard { .. } => self.card_charges += 1,
        }
    }

    pub fn record_commands(&mut self, c: &crate::microsoft::Commands) {
        self.microsoft_done += c.done + c.already;
        self.microsoft_parked += c.parked;
        self.microsoft_urgent += c.urgent;
    }

    pub(crate) fn add(&mut self, other: RunSummary) {
        self.tenants_changed += other.tenants_changed;
        self.proformas_issued += other.proformas_issued;
        self.reminders_sent += other.reminders_sent;
        self.overdue += other.overdue;
        self.periods_started += other.periods_started;
        self.ended += other.ended;
        self.suspended += other.suspended;
        self.orders_expired += other.orders_expired;
        self.card_charges += other.card_charges;
        self.card_charges_failed += other.card_charges_failed;
        self.payments_reconciled += other.payments_reconciled;
        self.links_registered += other.links_registered;
        self.emails_queued += other.emails_queued;
        self.suspensions_held += other.suspensions_held;
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
        // Last numbers this run has seen or used: one counter read per run instead of one per
        // issuing tenant. A stale value only costs a conflict and a fresh read.
        let mut counters = HashMap::new();
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
                match self.run_tenant(&tenant, job, date, &mut counters).await {
                    Ok(part) => summary.add(part),
                    Err(e) => {
                        tracing::error!(tenant = %tenant, error = %e, "tenant failed");
                        summary.failures.push(Failure {
                            tenant: tenant.to_string(),
                            error: e.to_string(),
                            retryable: e.is_retryable(),
                        });
                    }
                }
            }
            after = Some(last);
        }
        if job == Job::Daily {
            // The day's invoices to KSeF before the e-mails: an acceptance queues its
            // customer's e-mail in time for this delivery.
            let ksef = self.ksef_sync().await?;
            summary.record_ksef(&ksef);
        }
        let delivery = self.deliver().await?;
        summary.emails_sent = delivery.sent;
        summary.emails_failed = delivery.failed;
        summary.emails_parked = delivery.parked;
        summary.record_commands(&delivery.commands);
        Ok(summary)
    }

    /// Everything due for one tenant, committed as one change.
    #[tracing::instrument(skip_all, fields(tenant = %tenant, job = ?job))]
    pub async fn run_tenant(
        &self,
        tenant: &TenantId,
        job: Job,
        date: NaiveDate,
        counters: &mut HashMap<SeriesKey, u32>,
    ) -> Result<RunSummary, ServiceError> {
        // A scheduled run's changes are the job's, whoever started it.
        let done = self
            .acting_as(crate::audit::Actor::Job(job))
            .unit_of_work(
                tenant,
                date,
                &mut Due {
                    job,
                    date,
                    counters,
                },
            )
            .await?;
        counters.extend(done.counters.iter().cloned());
        Ok(self.tenant_committed(tenant, done, date).await)
    }

    /// What is due for one tenant, decided on a fresh load but not committed: a worker
    /// gathers several tenants' changes into one group commit. The numbers it takes are
    /// noted in `counters`, so the next tenant of the group numbers on from them.
    pub(crate) async fn decide_tenant(
        &self,
        tenant: &TenantId,
        job: Job,
        date: NaiveDate,
        counters: &mut HashMap<SeriesKey, u32>,
    ) -> Result<Decided<RunSummary>, ServiceError> {
        let decided = self
            .acting_as(crate::audit::Actor::Job(job))
            .decide_change(
                tenant,
                date,
                &mut Due {
                    job,
                    date,
                    counters,
                },
                0,
            )
            .await?;
        counters.extend(decided.counters.iter().cloned());
        Ok(decided)
    }

    /// A tenant's part of the run once its change is stored: the card charges it asked for
    /// are sent (their intent is committed).
    pub(crate) async fn tenant_committed(
        &self,
        tenant: &TenantId,
        done: Committed<RunSummary>,
        date: NaiveDate,
    ) -> RunSummary {
        let mut part = done.value;
        part.tenants_changed = usize::from(done.changed || part.payments_reconciled > 0);
        for charge in done.charges {
            if !self.charge_card(tenant, charge, date).await {
                part.card_charges_failed += 1;
            }
        }
        part
    }
}

/// The operator hears once per document that its suspension is held.
fn tell_operator_once(
    draft: &mut Draft,
    number: &renewals_domain::DocumentNumber,
    policy: &renewals_domain::Policy,
    date: NaiveDate,
) {
    let Some(open) = draft
        .account
        .open_documents
        .iter_mut()
        .find(|o| &o.document.number == number)
    else {
        return;
    };
    if open.suspension_held {
        return;
    }
    open.suspension_held = true;
    let due = policy.suspension_date(&open.document);
    draft.effects.push(Effect::Notify(Notice::DeliveryAlert {
        problem: DeliveryProblem::SuspensionHeld { due },
        document: Some(number.clone()),
        on: date,
    }));
}

impl Service {
    /// Whether any e-mail to the customer about `document` (the pro-forma, a reminder, the
    /// overdue notice) was delivered: a customer nobody could reach is not suspended.
    async fn customer_was_told(
        &self,
        account: &renewals_domain::Account,
        document: &renewals_domain::DocumentNumber,
    ) -> Result<bool, ServiceError> {
        let messages = self
            .store
            .messages_about(&account.tenant.id, &document.to_string())
            .await?;
        let customer = account.tenant.email.as_str();
        Ok(messages.iter().any(|m| m.sent && m.message.to == customer))
    }
}

/// What is due on an account by `date` for `job`: decided and applied round by round until
/// nothing is left (a missed run catches up in one change).
struct Due<'a> {
    job: Job,
    date: NaiveDate,
    /// Last numbers this run has seen or used, shared by its tenants: one counter read per
    /// run instead of one per issuing tenant. A stale value only costs a conflict.
    counters: &'a mut HashMap<SeriesKey, u32>,
}

#[async_trait]
impl Decision for Due<'_> {
    type Output = RunSummary;

    async fn decide(
        &mut self,
        svc: &Service,
        draft: &mut Draft,
    ) -> Result<RunSummary, ServiceError> {
        let (job, date) = (self.job, self.date);
        let (policy, catalog) = (&svc.settings.policy, &svc.settings.catalog);
        let mut part = RunSummary::default();
        if draft.attempt > 0 {
            self.counters.clear(); // someone else numbered meanwhile: read afresh
        }
        let unpaid_past_due = draft
            .account
            .open_documents
            .iter()
            .any(|o| crate::payments::needs_reconciling(o, date));
        if draft.attempt == 0 && unpaid_past_due {
            // A lost notification must not lead to reminders or a suspension.
            part.payments_reconciled = svc.reconcile(&draft.account, date).await;
            if part.payments_reconciled > 0 {
                draft.reload(svc).await?;
            }
        }
        let mut held = BTreeSet::new();
        for _ in 0..MAX_ROUNDS {
            let mut actions = draft.account.decide(date, policy, job);
            for action in &actions {
                if let Action::Suspend(number) = action {
                    if !held.contains(number)
                        && !svc.customer_was_told(&draft.account, number).await?
                    {
                        tracing::error!(document = %number, "suspension held: no e-mail about it reached the customer; the operator must act");
                        held.insert(number.clone());
                    }
                }
            }
            actions.retain(|a| !matches!(a, Action::Suspend(n) if held.contains(n)));
            for number in &held {
                tell_operator_once(draft, number, policy, date);
            }
            if actions.is_empty() {
                break;
            }
            for action in actions {
                if let Some(series) = action.series(date) {
                    match self.counters.get(&series) {
                        Some(last) => draft.numbering.load(series, *last),
                        None => svc.load_series(&mut draft.numbering, series).await?,
                    }
                }
                part.count(&action);
                let effects =
                    draft
                        .account
                        .apply(action, date, policy, catalog, &mut draft.numbering)?;
                draft.effects.extend(effects);
            }
        }
        // A catch-up tells each document's latest true step only (see `keep_latest`).
        renewals_domain::notice::keep_latest(&mut draft.effects, date);
        if job == Job::Daily {
            part.links_registered = svc
                .register_links(&mut draft.account, &mut draft.effects, true)
                .await;
        }
        part.suspensions_held = held.len();
        part.emails_queued = draft
            .effects
            .iter()
            .filter(|e| matches!(e, Effect::Notify(_)))
            .count();
        Ok(part)
    }
}
