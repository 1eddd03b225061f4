//! The web panel behind its own Lambda Function URL: the same router as `renewals serve`,
//! on DynamoDB and SES, with the session key from Secrets Manager.

use anyhow::Context;
use lambda_http::Error;
use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{LambdaInvocation, Runtime};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as Poll, Poll as Ready};

#[tokio::main]
async fn main() -> Result<(), Error> {
    renewals_lambda::logs::init();
    let sdk = renewals_lambda::config::aws_sdk().context("AWS configuration")?;
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
    let app = lambda_http::Adapter::from(renewals_panel::router(panel.clone()));
    Runtime::new(app)
        .layer(lambda_runtime::layers::TracingLayer::new())
        .layer(SettleAfter(panel))
        .run()
        .await
}

/// After each answer has been posted to the Runtime API, waits for the work the panel
/// started after it (the sign-in e-mail) before the next event is asked for: the caller
/// already has its answer, and the sandbox is not frozen with the e-mail half sent.
#[derive(Clone)]
struct SettleAfter(renewals_panel::State);

impl<S> Layer<S> for SettleAfter {
    type Service = Settled<S>;
    fn layer(&self, inner: S) -> Settled<S> {
        Settled {
            inner,
            panel: self.0.clone(),
        }
    }
}

struct Settled<S> {
    inner: S,
    panel: renewals_panel::State,
}

impl<S> Service<LambdaInvocation> for Settled<S>
where
    S: Service<LambdaInvocation, Response = (), Error = lambda_runtime::Error>,
    S::Future: Send + 'static,
{
    type Response = ();
    type Error = lambda_runtime::Error;
    type Future = Pin<Box<dyn Future<Output = Result<(), lambda_runtime::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Poll<'_>) -> Ready<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        let answered = self.inner.call(invocation);
        let panel = self.panel.clone();
        Box::pin(async move {
            let result = answered.await;
            panel.settle().await;
            result
        })
    }
}

/// The key sign-in links and sessions are hashed with: the secret `RENEWALS_PANEL_KEY_SECRET_ARN`
/// (a generated string of at least 32 characters).
async fn panel_key(sdk: &aws_types::SdkConfig) -> anyhow::Result<Vec<u8>> {
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
