//! Typed configuration of a function: the environment plus the Przelewy24 secret.

use anyhow::{anyhow, Context};
use renewals_app::config::{Defaults, Settings};
use renewals_przelewy24::P24Settings;
use std::collections::HashMap;

#[derive(Clone, Debug)]
pub struct FunctionConfig {
    pub table: String,
    pub settings: Settings,
    /// `None` for a function that never talks to Przelewy24 (`expiry`): no placeholders.
    pub p24: Option<P24Settings>,
}

/// The Przelewy24 secret in Secrets Manager: `{"crc": "...", "apiKey": "..."}`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct P24Secret {
    crc: String,
    api_key: String,
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
        if !needs_p24 {
            return FunctionConfig::from_lookup(get, false);
        }
        if let Some(arn) = get("P24_SECRET_ARN") {
            let secret = aws_sdk_secretsmanager::Client::new(sdk)
                .get_secret_value()
                .secret_id(&arn)
                .send()
                .await
                .with_context(|| format!("reading the Przelewy24 secret {arn}"))?;
            let p24: P24Secret = serde_json::from_str(secret.secret_string().unwrap_or(""))
                .map_err(|_| anyhow!("secret {arn} must be JSON {{\"crc\": …, \"apiKey\": …}}"))?;
            overlay.insert("P24_CRC", p24.crc);
            overlay.insert("P24_API_KEY", p24.api_key);
        }
        FunctionConfig::from_lookup(|k| overlay.get(k).cloned().or_else(|| get(k)), true)
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
        Ok(FunctionConfig {
            table,
            settings,
            p24,
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
