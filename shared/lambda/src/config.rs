//! Typed configuration of a function: the environment plus the secrets (Przelewy24, Partner
//! Center, KSeF) from Secrets Manager.

use anyhow::{anyhow, Context};
use renewals_app::config::{Defaults, Settings};
use renewals_ksef::KsefSettings;
use renewals_microsoft::PartnerCenterSettings;
use renewals_przelewy24::P24Settings;
use std::collections::HashMap;

#[derive(Clone, Debug)]
pub struct FunctionConfig {
    pub table: String,
    pub settings: Settings,
    /// `None` for a function that never talks to Przelewy24 (`expiry`): no placeholders.
    pub p24: Option<P24Settings>,
    /// Partner Center, where configured (`PARTNER_CENTER_*`): Microsoft commands are carried
    /// out by every function that delivers; without it they wait in the outbox.
    pub microsoft: Option<PartnerCenterSettings>,
    /// KSeF, where configured (`KSEF_BASE_URL`, the token from `KSEF_SECRET_ARN`): only the
    /// functions that send invoices get the secret; without it invoices wait as pending.
    pub ksef: Option<KsefSettings>,
}

/// The Przelewy24 secret in Secrets Manager: `{"crc": "...", "apiKey": "..."}`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct P24Secret {
    crc: String,
    api_key: String,
}

/// The Partner Center app's secret in Secrets Manager: `{"clientSecret": "..."}`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PartnerCenterSecret {
    client_secret: String,
}

/// The KSeF token in Secrets Manager: `{"token": "<ref>|<ctx>|<hex>"}`.
#[derive(serde::Deserialize)]
struct KsefSecret {
    token: String,
}

/// A JSON secret from Secrets Manager, or an error naming it and the shape it must have.
async fn read_secret<T: serde::de::DeserializeOwned>(
    sdk: &aws_config::SdkConfig,
    arn: &str,
    what: &str,
    shape: &str,
) -> anyhow::Result<T> {
    let secret = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .with_context(|| format!("reading the {what} secret {arn}"))?;
    serde_json::from_str(secret.secret_string().unwrap_or(""))
        .map_err(|_| anyhow!("secret {arn} must be JSON {shape}"))
}

/// The AWS SDK's configuration from the environment, on an HTTPS client with rustls on
/// `ring`: the crypto provider the reqwest clients (Przelewy24, KSeF, Partner Center) use
/// too, so a function links one TLS stack, and a small one. The SDK's default client is on
/// aws-lc, several MB larger (docs/bench.md).
pub async fn aws_sdk() -> aws_config::SdkConfig {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .load()
        .await
}

impl FunctionConfig {
    /// Reads everything once. A function that does not talk to Przelewy24 (`expiry`) gets no
    /// access to its secret and has no P24 settings at all.
    pub async fn load(sdk: &aws_config::SdkConfig, needs_p24: bool) -> anyhow::Result<Self> {
        FunctionConfig::load_from(sdk, needs_p24, env).await
    }

    /// As `load`, with settings from `get` instead of the process environment.
    pub async fn load_from(
        sdk: &aws_config::SdkConfig,
        needs_p24: bool,
        get: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let mut overlay = HashMap::new();
        if let Some(arn) = get("P24_SECRET_ARN").filter(|_| needs_p24) {
            let p24: P24Secret =
                read_secret(sdk, &arn, "Przelewy24", "{\"crc\": …, \"apiKey\": …}").await?;
            overlay.insert("P24_CRC", p24.crc);
            overlay.insert("P24_API_KEY", p24.api_key);
        }
        if let Some(arn) = get("PARTNER_CENTER_SECRET_ARN") {
            let pc: PartnerCenterSecret =
                read_secret(sdk, &arn, "Partner Center", "{\"clientSecret\": …}").await?;
            overlay.insert("PARTNER_CENTER_CLIENT_SECRET", pc.client_secret);
        }
        if let Some(arn) = get("KSEF_SECRET_ARN") {
            let k: KsefSecret = read_secret(sdk, &arn, "KSeF", "{\"token\": …}").await?;
            overlay.insert("KSEF_TOKEN", k.token);
        }
        FunctionConfig::from_lookup(|k| overlay.get(k).cloned().or_else(|| get(k)), needs_p24)
    }

    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        needs_p24: bool,
    ) -> anyhow::Result<Self> {
        let table =
            get("RENEWALS_TABLE").ok_or_else(|| anyhow!("missing setting RENEWALS_TABLE"))?;
        let settings = Settings::from_lookup(Defaults::Required, &get)?;
        let p24 = match needs_p24 {
            true => Some(P24Settings::from_lookup(Defaults::Required, &get)?),
            false => None,
        };
        let microsoft = PartnerCenterSettings::from_lookup(&get)?;
        let ksef = KsefSettings::from_lookup(&get)?;
        Ok(FunctionConfig {
            table,
            settings,
            p24,
            microsoft,
            ksef,
        })
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_setting_is_named() {
        let err =
            FunctionConfig::from_lookup(|k| (k == "RENEWALS_TABLE").then(|| "t".into()), true)
                .unwrap_err();
        assert_eq!(err.to_string(), "missing setting RENEWALS_SENDER_EMAIL");
        let err = FunctionConfig::from_lookup(|_| None, true).unwrap_err();
        assert_eq!(err.to_string(), "missing setting RENEWALS_TABLE");
    }
}
