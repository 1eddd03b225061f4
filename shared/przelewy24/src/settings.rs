//! The shop's Przelewy24 settings (`P24_*`). Secrets never print: `Debug` shows them redacted.

use renewals_app::config::{setting, Defaults};
use secrecy::SecretString;

#[derive(Clone, Debug)]
pub struct P24Settings {
    pub merchant_id: i64,
    pub pos_id: i64,
    /// The CRC key that signs notifications and requests.
    pub crc: SecretString,
    /// The REST API key (HTTP Basic password).
    pub api_key: SecretString,
    pub base_url: String,
}

impl P24Settings {
    pub fn from_env(defaults: Defaults) -> anyhow::Result<P24Settings> {
        P24Settings::from_lookup(defaults, |k| std::env::var(k).ok())
    }

    pub fn from_lookup(
        defaults: Defaults,
        get: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<P24Settings> {
        let var = |name: &str, local: &str| setting(&get, defaults, name, local);
        let number = |name: &str, local: &str| -> anyhow::Result<i64> {
            let v = var(name, local)?;
            v.trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("setting {name} must be a whole number, got `{v}`"))
        };
        Ok(P24Settings {
            merchant_id: number("P24_MERCHANT_ID", "100000")?,
            pos_id: number("P24_POS_ID", "100000")?,
            crc: var("P24_CRC", "local-crc-key")?.into(),
            api_key: var("P24_API_KEY", "local-api-key")?.into(),
            base_url: var("P24_BASE_URL", "https://sandbox.przelewy24.pl")?
                .trim_end_matches('/')
                .to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = P24Settings::from_lookup(Defaults::Local, |k| match k {
            "P24_CRC" => Some("crc-secret-value".into()),
            "P24_API_KEY" => Some("api-secret-value".into()),
            _ => None,
        })
        .unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("crc-secret-value"), "{printed}");
        assert!(!printed.contains("api-secret-value"), "{printed}");
        assert!(printed.contains("merchant_id: 100000"), "{printed}");
    }

    #[test]
    fn production_names_the_missing_setting() {
        let err = P24Settings::from_lookup(Defaults::Required, |_| None).unwrap_err();
        assert_eq!(err.to_string(), "missing setting P24_MERCHANT_ID");
    }
}
