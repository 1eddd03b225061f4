//! What the Lambda functions share: typed configuration read once at cold start,
//! clients built once, the handlers (tested directly with the fixtures in `events/`), the
//! runtime's logs and one CloudWatch Embedded Metric Format line per run.

pub mod bank_import;
pub mod config;
pub mod fanout;
pub mod handlers;
pub mod logs;
pub mod metrics;

use anyhow::Context;
use config::FunctionConfig;
use renewals_app::config::Settings;
use renewals_app::ports::{Clock, Mailer, PaymentProvider, Store, SystemClock};
use renewals_app::service::Service;
use renewals_email::Renderer;
use renewals_przelewy24::{P24Settings, Przelewy24Client};
use std::sync::Arc;

/// One function's state after its cold start.
pub struct Function {
    pub svc: Arc<Service>,
    /// The shop's Przelewy24 settings, for the functions that talk to it.
    pub p24: Option<P24Settings>,
}

/// The service on DynamoDB and SES, with Przelewy24 over HTTPS where the function has it.
pub fn aws_function(cfg: FunctionConfig, sdk: &aws_types::SdkConfig) -> anyhow::Result<Function> {
    let mailer = renewals_ses::SesMailer::new(
        aws_sdk_sesv2::Client::new(sdk),
        cfg.settings.mail.sender.clone(),
    );
    aws_function_with(cfg, sdk, mailer)
}

/// As `aws_function`, sending through `mailer`.
pub fn aws_function_with(
    cfg: FunctionConfig,
    sdk: &aws_types::SdkConfig,
    mailer: renewals_ses::SesMailer,
) -> anyhow::Result<Function> {
    let store =
        renewals_dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), cfg.table.clone());
    let provider = cfg
        .p24
        .clone()
        .map(|p24| Arc::new(Przelewy24Client::new(p24)) as Arc<dyn PaymentProvider>);
    let composer = Arc::new(Renderer::from_settings(&cfg.settings));
    let mut svc = Service::new(
        Arc::new(store),
        Arc::new(mailer),
        provider,
        composer,
        Arc::new(SystemClock),
        cfg.settings,
    );
    if let Some(pc) = cfg.microsoft {
        let client = renewals_microsoft::PartnerCenter::new(pc).context("Partner Center")?;
        svc = svc.with_microsoft(Arc::new(client));
    }
    if let Some(ksef) = cfg.ksef {
        let client = renewals_ksef::HttpKsef::new(ksef).context("KSeF")?;
        svc = svc.with_ksef(Arc::new(client));
    }
    Ok(Function {
        svc: Arc::new(svc),
        p24: cfg.p24,
    })
}

/// The service over the given adapters, with the e-mail templates.
pub fn service(
    store: Arc<dyn Store>,
    mailer: Arc<dyn Mailer>,
    provider: Option<Arc<dyn PaymentProvider>>,
    clock: Arc<dyn Clock>,
    settings: Settings,
) -> Arc<Service> {
    let composer = Arc::new(Renderer::from_settings(&settings));
    Arc::new(Service::new(
        store, mailer, provider, composer, clock, settings,
    ))
}

/// Cold start for a function: logs, config (failing fast, naming what is missing), AWS
/// config, secrets, clients.
pub async fn cold_start(needs_p24: bool) -> anyhow::Result<Arc<Function>> {
    logs::init();
    let sdk = config::aws_sdk().context("AWS configuration")?;
    let cfg = FunctionConfig::load(&sdk, needs_p24)
        .await
        .context("configuration")?;
    Ok(Arc::new(aws_function(cfg, &sdk)?))
}

/// Cold start for the `bank-import` function: as `cold_start` (no Przelewy24), plus the S3
/// client that reads the uploaded statements.
pub async fn cold_start_s3() -> anyhow::Result<(Arc<Function>, aws_sdk_s3::Client)> {
    logs::init();
    let sdk = config::aws_sdk().context("AWS configuration")?;
    let cfg = FunctionConfig::load(&sdk, false)
        .await
        .context("configuration")?;
    let s3 = aws_sdk_s3::Client::new(&sdk);
    Ok((Arc::new(aws_function(cfg, &sdk)?), s3))
}

/// Cold start for a scheduled function that may fan out: as `cold_start`, plus the work
/// queue when `RENEWALS_WORK_QUEUE_URL` is set.
pub async fn cold_start_planner(
    needs_p24: bool,
) -> anyhow::Result<(Arc<Function>, Option<Arc<renewals_sqs::SqsQueue>>)> {
    logs::init();
    let sdk = config::aws_sdk().context("AWS configuration")?;
    let cfg = FunctionConfig::load(&sdk, needs_p24)
        .await
        .context("configuration")?;
    let queue = std::env::var(fanout::QUEUE_URL)
        .ok()
        .filter(|u| !u.trim().is_empty())
        .map(|url| {
            Arc::new(renewals_sqs::SqsQueue::new(
                aws_sdk_sqs::Client::new(&sdk),
                url,
            ))
        });
    Ok((Arc::new(aws_function(cfg, &sdk)?), queue))
}

/// Cold start for the worker: as `cold_start`, with e-mail paced to this worker's share of
/// the account's SES sending rate (read from SES once, divided by
/// `RENEWALS_WORKER_CONCURRENCY`), so that all workers together stay under it.
pub async fn cold_start_worker() -> anyhow::Result<Arc<Function>> {
    logs::init();
    let sdk = config::aws_sdk().context("AWS configuration")?;
    let cfg = FunctionConfig::load(&sdk, true)
        .await
        .context("configuration")?;
    let workers = worker_concurrency(std::env::var(fanout::WORKER_CONCURRENCY).ok().as_deref())?;
    let ses = aws_sdk_sesv2::Client::new(&sdk);
    let rate = renewals_ses::SesMailer::account_send_rate(&ses)
        .await
        .context("reading the SES account's sending rate")?;
    tracing::info!(
        account_rate = rate,
        workers,
        "e-mail paced to a share of the SES rate"
    );
    let mailer = renewals_ses::SesMailer::new(ses, cfg.settings.mail.sender.clone())
        .with_send_rate(rate / f64::from(workers));
    Ok(Arc::new(aws_function_with(cfg, &sdk, mailer)?))
}

/// `RENEWALS_WORKER_CONCURRENCY`: a whole number from 1 to 1000 (1 when unset).
pub fn worker_concurrency(value: Option<&str>) -> anyhow::Result<u32> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(1),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "invalid {} `{v}`: a whole number of workers from 1 to 1000",
                    fanout::WORKER_CONCURRENCY
                )
            }),
    }
}
