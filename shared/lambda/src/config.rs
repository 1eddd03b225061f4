//! Typed configuration of a function: the environment plus the secrets (Przelewy24, Partner
//! Center, KSeF) from Secrets Manager.

use anyhow::{anyhow, Context};
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
use aws_types::SdkConfig;
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
    sdk: &SdkConfig,
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

/// The AWS SDK's configuration from what the Lambda service puts in a function's environment:
/// the region (`AWS_REGION`), the execution role's credentials (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) and endpoint overrides (`AWS_ENDPOINT_URL`,
/// `AWS_ENDPOINT_URL_<SERVICE>`, as for the local emulator). Not aws-config's default chain:
/// profile files, SSO, STS, IMDS and container credentials are never used by a function and
/// were part of each binary (docs/bench.md). The HTTPS client is rustls on `ring`: the crypto
/// provider the reqwest clients (Przelewy24, KSeF, Partner Center) use too, so a function links
/// one TLS stack, and a small one; the SDK's default client is on aws-lc, several MB larger.
pub fn aws_sdk() -> anyhow::Result<SdkConfig> {
    let vars = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    aws_sdk_from(vars)
}

/// As `aws_sdk`, from the given environment variables.
pub fn aws_sdk_from(vars: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<SdkConfig> {
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials};
    use aws_sdk_dynamodb::config::{Region, SharedCredentialsProvider};
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    let vars: HashMap<String, String> = vars
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .collect();
    let get = |name: &str| vars.get(name).cloned();
    let need = |name: &str| get(name).ok_or_else(|| anyhow!("{name} is not set"));
    let region = match get("AWS_REGION") {
        Some(region) => region,
        None => need("AWS_DEFAULT_REGION")?,
    };
    let credentials = Credentials::new(
        need("AWS_ACCESS_KEY_ID")?,
        need("AWS_SECRET_ACCESS_KEY")?,
        get("AWS_SESSION_TOKEN"),
        None,
        "Environment",
    );
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(http);
    sdk.set_endpoint_url(get("AWS_ENDPOINT_URL"));
    let endpoints = vars
        .iter()
        .filter(|(k, _)| k.starts_with("AWS_ENDPOINT_URL_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(sdk.service_config(ServiceEndpoints(endpoints)).build())
}

/// The per-service endpoint overrides (`AWS_ENDPOINT_URL_SESV2`, …), which each client looks
/// up by its service id when it is built; `AWS_ENDPOINT_URL` is the `SdkConfig`'s own.
#[derive(Debug)]
struct ServiceEndpoints(HashMap<String, String>);

impl LoadServiceConfig for ServiceEndpoints {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        let service = key.service_id().to_uppercase().replace(' ', "_");
        self.0.get(&format!("{}_{service}", key.env())).cloned()
    }
}

impl FunctionConfig {
    /// Reads everything once. A function that does not talk to Przelewy24 (`expiry`) gets no
    /// access to its secret and has no P24 settings at all.
    pub async fn load(sdk: &SdkConfig, needs_p24: bool) -> anyhow::Result<Self> {
        FunctionConfig::load_from(sdk, needs_p24, env).await
    }

    /// As `load`, with settings from `get` instead of the process environment.
    pub async fn load_from(
        sdk: &SdkConfig,
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

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[tokio::test]
    async fn the_sdk_config_is_read_from_the_lambda_environment() {
        use aws_sdk_dynamodb::config::ProvideCredentials;
        let sdk = aws_sdk_from(vars(&[
            ("AWS_REGION", "eu-central-1"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("AWS_ENDPOINT_URL_SESV2", "http://127.0.0.1:6000"),
        ]))
        .unwrap();
        assert_eq!(sdk.region().unwrap().as_ref(), "eu-central-1");
        assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:5000"));
        let credentials = sdk
            .credentials_provider()
            .unwrap()
            .provide_credentials()
            .await
            .unwrap();
        assert_eq!(credentials.access_key_id(), "AKID");
        assert_eq!(credentials.session_token(), Some("token"));
        // A client takes its service's override (SES v2 here), else the common one.
        let key = |service| {
            ServiceConfigKey::builder()
                .service_id(service)
                .env("AWS_ENDPOINT_URL")
                .profile("endpoint_url")
                .build()
                .unwrap()
        };
        let services = sdk.service_config().unwrap();
        let ses = services.load_config(key("SESv2"));
        assert_eq!(ses.as_deref(), Some("http://127.0.0.1:6000"));
        assert_eq!(services.load_config(key("DynamoDB")), None);
    }

    #[test]
    fn the_sdk_config_names_what_is_missing() {
        let err = aws_sdk_from(vars(&[("AWS_REGION", "eu-central-1")])).unwrap_err();
        assert_eq!(err.to_string(), "AWS_ACCESS_KEY_ID is not set");
        let err = aws_sdk_from(vars(&[("AWS_ACCESS_KEY_ID", "AKID")])).unwrap_err();
        assert_eq!(err.to_string(), "AWS_DEFAULT_REGION is not set");
    }
}
