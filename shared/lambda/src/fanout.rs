//! The fan-out on AWS: the scheduled function plans (due index → batches on the SQS work
//! queue), the `daily-worker` function works the batches SQS hands it, reporting only the
//! messages worth another try (`ReportBatchItemFailures`).

use crate::handlers::{scheduled, ScheduledEvent, SAFETY_MARGIN};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::Utc;
use renewals_app::fanout::{Sizes, TenantBatch, WorkQueue};
use renewals_app::jobs::RunSummary;
use renewals_app::service::Service;
use renewals_domain::{Job, SeriesKey};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The work queue's URL, when the function fans out.
pub const QUEUE_URL: &str = "RENEWALS_WORK_QUEUE_URL";
/// How many workers run at once (the event source's `MaximumConcurrency`): each worker
/// sends e-mail at this share of the account's SES rate.
pub const WORKER_CONCURRENCY: &str = "RENEWALS_WORKER_CONCURRENCY";

/// The scheduled run of a function that fans out: a job plans, a task (`deliver`,
/// `microsoft-sync`) runs as before.
pub async fn plan_scheduled(
    svc: &Service,
    queue: &dyn WorkQueue,
    job: Job,
    event: ScheduledEvent,
    deadline_ms: Option<u64>,
) -> anyhow::Result<RunSummary> {
    if event.task.is_some() {
        return scheduled(svc, job, event, deadline_ms).await;
    }
    let date = event.business_date(svc.clock.now())?;
    let plan = svc.plan(job, date, queue, Sizes::default()).await?;
    let summary = RunSummary {
        job: format!(
            "plan-{}",
            if job == Job::Daily { "daily" } else { "expiry" }
        ),
        date,
        tenants_due: plan.tenants_due,
        ..RunSummary::default()
    };
    println!(
        "{}",
        crate::metrics::emf_line("planner", &summary, Utc::now().timestamp_millis())
    );
    tracing::info!(date = %date, tenants_due = plan.tenants_due, batches = plan.batches, pages = plan.pages, "plan enqueued");
    Ok(summary)
}

/// What a worker keeps between invocations: the last numbers it has seen per series.
#[derive(Default)]
pub struct WorkerState {
    counters: Mutex<HashMap<SeriesKey, u32>>,
}

/// Works the batches of one SQS event, then delivers the outbox until its time is up.
/// A message comes back (`batchItemFailures`) when one of its tenants failed in a way a retry
/// may get past; a tenant whose data needs a person is logged and counted, not retried. A body
/// that is not a batch goes back too, so that after its last receive it lands in the
/// dead-letter queue, whose alarm calls a person.
pub async fn work(
    svc: &Service,
    state: &WorkerState,
    event: SqsEvent,
    deadline_ms: Option<u64>,
) -> SqsBatchResponse {
    let deadline = deadline_ms.map(|ms| {
        let left = ms.saturating_sub(Utc::now().timestamp_millis().max(0) as u64);
        Instant::now() + Duration::from_millis(left).saturating_sub(SAFETY_MARGIN)
    });
    let mut response = SqsBatchResponse::default();
    let mut summary = RunSummary {
        job: "worker".into(),
        ..RunSummary::default()
    };
    let mut counters = state.counters.lock().await;
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let batch = match TenantBatch::from_json(record.body.as_deref().unwrap_or("")) {
            Ok(batch) => batch,
            Err(e) => {
                tracing::error!(message = %id, error = %e, "not a batch; back to the queue, then the dead-letter queue");
                response.add_failure(id);
                continue;
            }
        };
        summary.date = batch.date;
        let outcome = svc.work(&batch, &mut counters).await;
        for f in &outcome.summary.failures {
            tracing::error!(tenant = %f.tenant, error = %f.error, retryable = f.retryable, "tenant failed");
        }
        if outcome.retry {
            response.add_failure(id);
        }
        summary.tenants_due += outcome.summary.tenants_due;
        summary
            .failures
            .extend(outcome.summary.failures.iter().cloned());
        summary.tenants_changed += outcome.summary.tenants_changed;
        summary.proformas_issued += outcome.summary.proformas_issued;
        summary.reminders_sent += outcome.summary.reminders_sent;
        summary.overdue += outcome.summary.overdue;
        summary.suspended += outcome.summary.suspended;
        summary.suspensions_held += outcome.summary.suspensions_held;
    }
    drop(counters);
    // The e-mails of this batch and any others due: what is not sent before the deadline,
    // or throttled, stays in the outbox for the next worker or the hourly delivery.
    match svc.deliver_until(deadline).await {
        Ok(delivery) => {
            summary.emails_sent = delivery.sent;
            summary.emails_failed = delivery.failed;
            summary.emails_parked = delivery.parked;
            summary.record_commands(&delivery.commands);
        }
        Err(e) => tracing::error!(error = %e, "delivery failed; the e-mails stay in the outbox"),
    }
    println!(
        "{}",
        crate::metrics::emf_line("daily-worker", &summary, Utc::now().timestamp_millis())
    );
    response
}
