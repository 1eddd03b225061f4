//! `KSEF_*`: read once at start. Without `KSEF_BASE_URL` no KSeF is configured and the offline
//! stand-in serves (the demo).

use secrecy::SecretString;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct KsefSettings {
    /// With the version, no trailing slash: `https://api-test.ksef.mf.gov.pl/v2`
    /// (`KSEF_BASE_URL`).
    pub base_url: String,
    /// The KSeF token a person generated once (`KSEF_TOKEN`, `<ref>|<ctx>|<hex>`).
    pub token: SecretString,
    /// The seller's NIP, the context we act in (`RENEWALS_SELLER_NIP`).
    pub nip: String,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Pause between polls of the authentication status.
    pub poll_interval: Duration,
    /// Polls of the authentication status before giving up (KSeF answers within seconds).
    pub auth_polls: u32,
    /// The access token is refreshed when it has less than this left (KSeF's advice: 60 s).
    pub refresh_margin: Duration,
}

/// A setting that is missing or malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{0} is not set (KSEF_BASE_URL is, so KSeF needs it)")]
    Missing(&'static str),
    #[error("KSEF_BASE_URL must start with https:// or http://, got `{0}`")]
    BaseUrl(String),
    #[error("RENEWALS_SELLER_NIP must be 10 digits with a valid check digit, got `{0}`")]
    Nip(String),
    #[error("KSEF_TOKEN is set but KSEF_BASE_URL is not; set both or neither")]
    TokenWithoutBase,
}

/// Whether `nip` is 10 digits whose last is the weighted check digit (weights 6,5,7,2,3,4,5,6,7
/// mod 11).
pub fn nip_is_valid(nip: &str) -> bool {
    let digits: Vec<u32> = nip.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 10 || nip.len() != 10 {
        return false;
    }
    let sum: u32 = [6, 5, 7, 2, 3, 4, 5, 6, 7]
        .iter()
        .zip(&digits)
        .map(|(w, d)| w * d)
        .sum();
    sum % 11 == digits[9]
}

impl KsefSettings {
    pub fn new(base_url: &str, token: &str, nip: &str) -> Result<KsefSettings, SettingsError> {
        let base_url = base_url.trim().trim_end_matches('/').to_string();
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(SettingsError::BaseUrl(base_url));
        }
        let nip = nip.trim().replace('-', "");
        if !nip_is_valid(&nip) {
            return Err(SettingsError::Nip(nip));
        }
        Ok(KsefSettings {
            base_url,
            token: SecretString::from(token.trim().to_string()),
            nip,
            timeout: Duration::from_secs(30),
            poll_interval: Duration::from_millis(500),
            auth_polls: 40,
            refresh_margin: Duration::from_secs(60),
        })
    }

    /// `None` when `KSEF_BASE_URL` is unset or empty.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<KsefSettings>, SettingsError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let Some(base) = get("KSEF_BASE_URL") else {
            if get("KSEF_TOKEN").is_some() {
                return Err(SettingsError::TokenWithoutBase);
            }
            return Ok(None);
        };
        let token = get("KSEF_TOKEN").ok_or(SettingsError::Missing("KSEF_TOKEN"))?;
        let nip =
            get("RENEWALS_SELLER_NIP").ok_or(SettingsError::Missing("RENEWALS_SELLER_NIP"))?;
        KsefSettings::new(&base, &token, &nip).map(Some)
    }

    pub fn from_env() -> Result<Option<KsefSettings>, SettingsError> {
        KsefSettings::from_lookup(|k| std::env::var(k).ok())
    }
}

/// The base of the KOD I verification links for an API base: `api-test` → `qr-test`,
/// `api-demo` → `qr-demo`, `api` → `qr` (all `*.ksef.mf.gov.pl`); any other base (a stand-in
/// on loopback) is its own QR base.
pub fn qr_base_for(api_base: &str) -> String {
    let base = api_base.trim().trim_end_matches('/');
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    let host = rest.split('/').next().unwrap_or(rest);
    let qr_host = match host.to_ascii_lowercase().as_str() {
        "api-test.ksef.mf.gov.pl" => "qr-test.ksef.mf.gov.pl",
        "api-demo.ksef.mf.gov.pl" => "qr-demo.ksef.mf.gov.pl",
        "api.ksef.mf.gov.pl" => "qr.ksef.mf.gov.pl",
        _ => return base.to_string(),
    };
    format!("{scheme}://{qr_host}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn qr_bases_follow_the_environment() {
        assert_eq!(
            qr_base_for("https://api-test.ksef.mf.gov.pl/v2"),
            "https://qr-test.ksef.mf.gov.pl"
        );
        assert_eq!(
            qr_base_for("https://api-demo.ksef.mf.gov.pl/v2/"),
            "https://qr-demo.ksef.mf.gov.pl"
        );
        assert_eq!(
            qr_base_for("https://api.ksef.mf.gov.pl/v2"),
            "https://qr.ksef.mf.gov.pl"
        );
        assert_eq!(
            qr_base_for("http://127.0.0.1:40123/v2/"),
            "http://127.0.0.1:40123/v2"
        );
    }

    #[test]
    fn settings_from_the_environment() {
        let none = KsefSettings::from_lookup(|_| None).unwrap();
        assert!(none.is_none());
        let env = |k: &str| {
            Some(
                match k {
                    "KSEF_BASE_URL" => "https://api-test.ksef.mf.gov.pl/v2/",
                    "KSEF_TOKEN" => " 20250101-EC-1|nip-5260250274|ab ",
                    "RENEWALS_SELLER_NIP" => "526-025-02-74",
                    _ => return None,
                }
                .to_string(),
            )
        };
        let s = KsefSettings::from_lookup(env).unwrap().unwrap();
        assert_eq!(s.base_url, "https://api-test.ksef.mf.gov.pl/v2");
        assert_eq!(s.nip, "5260250274");
        assert_eq!(s.token.expose_secret(), "20250101-EC-1|nip-5260250274|ab");

        let no_token = |k: &str| (k == "KSEF_BASE_URL").then(|| "https://x/v2".to_string());
        assert_eq!(
            KsefSettings::from_lookup(no_token).unwrap_err(),
            SettingsError::Missing("KSEF_TOKEN")
        );
        let bad_nip = |k: &str| {
            Some(match k {
                "RENEWALS_SELLER_NIP" => "5260250275".to_string(),
                _ => "https://x/v2".to_string(),
            })
        };
        assert_eq!(
            KsefSettings::from_lookup(bad_nip).unwrap_err(),
            SettingsError::Nip("5260250275".into())
        );
        let token_only = |k: &str| (k == "KSEF_TOKEN").then(|| "t".to_string());
        assert_eq!(
            KsefSettings::from_lookup(token_only).unwrap_err(),
            SettingsError::TokenWithoutBase
        );
    }
}
