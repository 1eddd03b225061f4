//! What the three Lambda functions share: typed configuration read once at cold start,
//! clients built once, the handlers (tested directly with the fixtures in `events/`), JSON
//! logs and one CloudWatch Embedded Metric Format line per run.

pub mod config;
pub mod handlers;
pub mod metrics;

use anyhow::Context;
use config::FunctionConfig;
use renewals_app::config::Settings;
use renewals_app::ports::{Clock, Mailer, PaymentProvider, Store, SystemClock};
use renewals_app::przelewy24::Przelewy24Client;
use renewals_app::service::Service;
use std::sync::Arc;

/// JSON logs on stdout for CloudWatch; no customer data is ever logged by the handlers.
pub fn init_logs() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RENEWALS_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_current_span(false)
        .without_time()
        .init();
}

/// The service on DynamoDB and SES, with Przelewy24 over HTTPS. Built once per cold start.
pub async fn aws_service(
    cfg: FunctionConfig,
    sdk: &aws_config::SdkConfig,
) -> anyhow::Result<Arc<Service>> {
    let store =
        renewals_dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), cfg.table.clone());
    let mailer = renewals_ses::SesMailer::new(
        aws_sdk_sesv2::Client::new(sdk),
        cfg.settings.mail.sender.clone(),
    );
    let provider = Przelewy24Client::new(cfg.settings.p24.clone());
    Ok(service(
        Arc::new(store),
        Arc::new(mailer),
        Arc::new(provider),
        Arc::new(SystemClock),
        cfg.settings,
    ))
}

pub fn service(
    store: Arc<dyn Store>,
    mailer: Arc<dyn Mailer>,
    provider: Arc<dyn PaymentProvider>,
    clock: Arc<dyn Clock>,
    settings: Settings,
) -> Arc<Service> {
    Arc::new(Service::new(store, mailer, provider, clock, settings))
}

/// Cold start for a function: config (failing fast, naming what is missing), AWS config,
/// secrets, clients.
pub async fn cold_start(needs_p24: bool) -> anyhow::Result<Arc<Service>> {
    init_logs();
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let cfg = FunctionConfig::load(&sdk, needs_p24)
        .await
        .context("configuration")?;
    aws_service(cfg, &sdk).await
}
