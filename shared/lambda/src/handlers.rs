//! The handlers the thin mains hand their events to.

use chrono::{DateTime, NaiveDate, Utc};
use lambda_http::{Body, Request, Response};
use renewals_app::jobs::{Failure, RunSummary};
use renewals_app::service::Service;
use renewals_domain::{business_date, Job, ParseError};
use renewals_przelewy24::P24Settings;
use serde::Deserialize;
use std::time::{Duration, Instant};

/// What the EventBridge Scheduler passes: `{"scheduled_time": "<aws.scheduler.scheduled-time>"}`,
/// or `{"date": "YYYY-MM-DD"}` for a manual re-run; a plain EventBridge event carries `time`.
#[derive(Debug, Default, Deserialize)]
pub struct ScheduledEvent {
    pub date: Option<String>,
    pub scheduled_time: Option<DateTime<Utc>>,
    pub time: Option<DateTime<Utc>>,
    /// Instead of the function's job: `deliver` (the outboxes only: Microsoft commands, then
    /// e-mails — hourly, so a cancellation is tried while Microsoft's window is open) or
    /// `microsoft-sync` (the daily reconciliation with Partner Center, which changes nothing).
    pub task: Option<String>,
}

impl ScheduledEvent {
    /// The business date to work on: the explicit date, else the Warsaw date of the
    /// scheduled instant, else of now.
    pub fn business_date(&self, now: DateTime<Utc>) -> Result<NaiveDate, ParseError> {
        match &self.date {
            Some(d) => renewals_domain::parse_date(d),
            None => Ok(business_date(
                self.scheduled_time.or(self.time).unwrap_or(now),
            )),
        }
    }
}

/// How long before the Lambda deadline a job stops taking new tenants.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(20);

/// Runs a scheduled job; stops before `deadline_ms` (epoch ms) so the next run picks up the
/// rest. The error the runtime sees decides what happens next: a run that failed, or left
/// tenants that a retry may get past (store or provider not answering), fails the invocation,
/// so Lambda retries it (the jobs are idempotent) and then hands it to the failure queue. A
/// tenant whose data needs a person is reported (log, `TenantFailures` metric and its alarm)
/// but does not fail the run: retrying would only repeat it.
pub async fn scheduled(
    svc: &Service,
    job: Job,
    event: ScheduledEvent,
    deadline_ms: Option<u64>,
) -> anyhow::Result<RunSummary> {
    let date = event.business_date(svc.clock.now())?;
    let deadline = deadline_ms.map(|ms| {
        let left = ms.saturating_sub(Utc::now().timestamp_millis().max(0) as u64);
        Instant::now() + Duration::from_millis(left).saturating_sub(SAFETY_MARGIN)
    });
    let name = match job {
        Job::Daily => "daily-billing",
        Job::Expiry => "expiry",
    };
    let summary = match event.task.as_deref() {
        None => svc.run_job(job, date, deadline).await?,
        Some("deliver") => {
            let delivery = svc.deliver().await?;
            let mut summary = RunSummary {
                job: "deliver".into(),
                date,
                emails_sent: delivery.sent,
                emails_failed: delivery.failed,
                emails_parked: delivery.parked,
                ..RunSummary::default()
            };
            summary.record_commands(&delivery.commands);
            summary
        }
        Some("microsoft-sync") => {
            let found = svc.microsoft_sync().await?;
            for d in &found.drift {
                tracing::warn!(tenant = %d.tenant, subscription = %d.subscription, field = d.field, ours = %d.ours, microsoft = %d.microsoft, "drift between us and Microsoft");
            }
            RunSummary {
                job: "microsoft-sync".into(),
                date,
                microsoft_drift: found.drift.len(),
                ..RunSummary::default()
            }
        }
        Some("ksef-sync") => {
            // Invoices of payments that came by bank statement, and retries of the ones the
            // webhook could not send; then their e-mails go out with the hourly delivery.
            let mut summary = RunSummary {
                job: "ksef-sync".into(),
                date,
                ..RunSummary::default()
            };
            summary.record_ksef(&svc.ksef_sync().await?);
            summary
        }
        Some(other) => {
            anyhow::bail!("unknown task `{other}`: use deliver, microsoft-sync or ksef-sync")
        }
    };
    println!(
        "{}",
        crate::metrics::emf_line(name, &summary, Utc::now().timestamp_millis())
    );
    tracing::info!(
        job = name,
        date = %date,
        tenants_due = summary.tenants_due,
        failures = summary.failures.len(),
        stopped_early = summary.stopped_early,
        "run finished"
    );
    let (retry, person): (Vec<&Failure>, Vec<&Failure>) =
        summary.failures.iter().partition(|f| f.retryable);
    for f in &person {
        tracing::error!(tenant = %f.tenant, error = %f.error, "tenant needs a person");
    }
    if !retry.is_empty() {
        anyhow::bail!(
            "{} tenant(s) failed on {date} and may pass on a retry: {}",
            retry.len(),
            retry
                .iter()
                .map(|f| f.tenant.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(summary)
}

/// The Przelewy24 webhook behind a Lambda Function URL. `lambda_http` has already decoded a
/// base64 body; the handler sees the bytes exactly as Przelewy24 sent them.
pub async fn webhook(svc: &Service, p24: &P24Settings, request: Request) -> Response<Body> {
    if request.method() != lambda_http::http::Method::POST {
        return respond(405, "use POST");
    }
    let raw: &[u8] = match request.body() {
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        Body::Empty => b"",
        _ => b"",
    };
    let r = renewals_przelewy24::webhook::handle(svc, p24, raw).await;
    tracing::info!(status = r.status, "przelewy24 notification");
    if r.status == 200 {
        // The payment's VAT invoice to KSeF right away. Przelewy24 already has its answer's
        // status decided: a KSeF failure only leaves the invoice in the outbox for the hourly
        // `ksef-sync` task, it never turns an accepted payment into a retry.
        match svc.ksef_sync().await {
            Ok(run) => {
                let mut summary = RunSummary {
                    job: "webhook-ksef".into(),
                    ..RunSummary::default()
                };
                summary.record_ksef(&run);
                if run.sent + run.accepted + run.rejected + run.parked + run.late > 0 {
                    println!(
                        "{}",
                        crate::metrics::emf_line(
                            "payment-webhook",
                            &summary,
                            Utc::now().timestamp_millis()
                        )
                    );
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "KSeF sync after the payment failed; the hourly task retries")
            }
        }
    }
    respond(r.status, &r.body)
}

fn respond(status: u16, body: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(Body::Text(body.to_string()))
        .expect("valid response")
}
