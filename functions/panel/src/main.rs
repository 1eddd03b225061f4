//! The web panel behind its own Lambda Function URL: the same router as `renewals serve`,
//! on DynamoDB and SES, with the session key from Secrets Manager.

use anyhow::Context;
use lambda_http::{run, Error};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk = renewals_lambda::config::aws_sdk().await;
    // Seat orders register their payment link: the Przelewy24 settings are needed.
    let cfg = renewals_lambda::config::FunctionConfig::load(&sdk, true)
        .await
        .context("configuration")?;
    let table = cfg.table.clone();
    let function = renewals_lambda::aws_function(cfg, &sdk)?;
    let store = renewals_dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    let key = panel_key(&sdk).await?;
    let public_url = std::env::var("RENEWALS_PUBLIC_URL")
        .ok()
        .filter(|u| u.starts_with("https://"))
        .context("RENEWALS_PUBLIC_URL must be set to the panel's https:// address")?;
    let config = renewals_panel::PanelConfig::new(public_url.trim_end_matches('/').into(), key);
    let panel = renewals_panel::Panel::new(function.svc.clone(), Arc::new(store), config);
    run(renewals_panel::router(panel)).await
}

/// The key sign-in links and sessions are hashed with: the secret `RENEWALS_PANEL_KEY_SECRET_ARN`
/// (a generated string of at least 32 characters).
async fn panel_key(sdk: &aws_config::SdkConfig) -> anyhow::Result<Vec<u8>> {
    let arn = std::env::var("RENEWALS_PANEL_KEY_SECRET_ARN")
        .context("RENEWALS_PANEL_KEY_SECRET_ARN is not set")?;
    let secret = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(&arn)
        .send()
        .await
        .with_context(|| format!("reading the panel key secret {arn}"))?;
    let key = secret
        .secret_string()
        .unwrap_or_default()
        .as_bytes()
        .to_vec();
    anyhow::ensure!(
        key.len() >= 32,
        "the panel key secret {arn} has fewer than 32 characters"
    );
    Ok(key)
}
