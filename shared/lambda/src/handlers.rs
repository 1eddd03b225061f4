//! The handlers the thin mains hand their events to.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::Warsaw;
use lambda_http::{Body, Request, Response};
use renewals_app::jobs::RunSummary;
use renewals_app::service::Service;
use renewals_domain::Job;
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
}

impl ScheduledEvent {
    /// The business date to work on: the explicit date, else the Warsaw date of the
    /// scheduled instant, else of now.
    pub fn business_date(&self, now: DateTime<Utc>) -> anyhow::Result<NaiveDate> {
        if let Some(d) = &self.date {
            return renewals_domain::parse_date(d).map_err(anyhow::Error::msg);
        }
        let at = self.scheduled_time.or(self.time).unwrap_or(now);
        Ok(at.with_timezone(&Warsaw).date_naive())
    }
}

/// How long before the Lambda deadline a job stops taking new tenants.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(20);

/// Runs a scheduled job; stops before `deadline_ms` (epoch ms) so the next run picks up the
/// rest. Fails (so the on-failure destination and the alarm see it) if any tenant failed.
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
    let summary = svc.run_job(job, date, deadline).await?;
    let name = match job {
        Job::Daily => "daily-billing",
        Job::Expiry => "expiry",
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
    if !summary.failures.is_empty() {
        anyhow::bail!(
            "{} tenant(s) failed on {date}: {}",
            summary.failures.len(),
            summary
                .failures
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
    respond(r.status, &r.body)
}

fn respond(status: u16, body: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(Body::Text(body.to_string()))
        .expect("valid response")
}
