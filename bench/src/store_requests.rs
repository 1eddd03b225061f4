//! DynamoDB requests per due tenant: the daily run over `n` tenants whose renewal is due,
//! on the DynamoDB store against the local emulator (`AWS_ENDPOINT_URL`), counted by the
//! store's own request counters (delivery of the outbox included, e-mails discarded).

use crate::tenants::Discard;
use anyhow::ensure;
use renewals_app::config::{Defaults, Settings};
use renewals_app::ports::{business_date, warsaw_noon, FixedClock};
use renewals_app::service::Service;
use renewals_domain::Job;
use renewals_dynamodb::{DynamoStore, RequestCounts};
use renewals_email::Renderer;
use renewals_przelewy24::{OfflineProvider, P24Settings};
use serde::Serialize;
use std::sync::Arc;

#[derive(Serialize)]
pub struct Report {
    /// The table, left with its tenants for the functions' cold starts.
    pub table: String,
    pub tenants_due: usize,
    pub requests: RequestCounts,
    pub per_due_tenant: f64,
}

pub async fn run(n: usize) -> anyhow::Result<Report> {
    ensure!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "AWS_ENDPOINT_URL must point at the local emulator (eval \"$(scripts/moto.sh start)\")"
    );
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let table = format!("renewals-bench-{}", std::process::id());
    let store = Arc::new(DynamoStore::from_conf(&sdk, table.clone()));
    store.create_table().await?;
    let settings = Settings::from_env(Defaults::Local)?;
    let shop = P24Settings::from_env(Defaults::Local)?;
    let today = business_date(chrono::Utc::now());
    let svc = Service::new(
        store.clone(),
        Arc::new(Discard),
        Some(Arc::new(OfflineProvider::new(shop))),
        Arc::new(Renderer::from_settings(&settings)),
        Arc::new(FixedClock(warsaw_noon(today))),
        settings,
    );
    crate::tenants::populate(&svc, n, today).await?;
    let before = store.request_counts();
    let summary = svc.run_job(Job::Daily, today, None).await?;
    let requests = store.request_counts().since(&before);
    ensure!(
        summary.tenants_due == n && summary.proformas_issued == n,
        "{n} tenants due, the run saw {} and issued {}",
        summary.tenants_due,
        summary.proformas_issued
    );
    Ok(Report {
        table,
        tenants_due: summary.tenants_due,
        per_due_tenant: (requests.total() as f64 / n as f64 * 100.0).round() / 100.0,
        requests,
    })
}
