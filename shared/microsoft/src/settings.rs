//! `PARTNER_CENTER_*`: read once at start.

use secrecy::SecretString;
use std::collections::BTreeMap;
use std::time::Duration;

pub const DEFAULT_BASE_URL: &str = "https://api.partnercenter.microsoft.com";

#[derive(Clone, Debug)]
pub struct PartnerCenterSettings {
    /// Without `/v1` (`PARTNER_CENTER_BASE_URL`).
    pub base_url: String,
    /// `https://login.microsoftonline.com/{partnerTenantId}/oauth2/v2.0/token`.
    pub token_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// Our SKU → Microsoft `catalogItemId` (`productId:skuId:availabilityId`) for plan
    /// changes at renewal (`PARTNER_CENTER_OFFERS`, `sku=id,sku=id`).
    pub offers: BTreeMap<String, String>,
    /// Tries per call (429, 409, 5xx, no answer) before the command waits for its next
    /// attempt in the outbox.
    pub attempts: u32,
    /// First pause after a 409/5xx/no answer; doubled each time.
    pub backoff: Duration,
    /// The longest `Retry-After` waited in place; a longer one fails the attempt.
    pub max_retry_after: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl PartnerCenterSettings {
    /// `None` when no Partner Center is configured (the offline stand-in serves).
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Option<PartnerCenterSettings>> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let (Some(token_url), Some(client_id)) = (
            get("PARTNER_CENTER_TOKEN_URL"),
            get("PARTNER_CENTER_CLIENT_ID"),
        ) else {
            if get("PARTNER_CENTER_CLIENT_SECRET").is_some() {
                anyhow::bail!(
                    "PARTNER_CENTER_CLIENT_SECRET is set but PARTNER_CENTER_TOKEN_URL or PARTNER_CENTER_CLIENT_ID is not"
                );
            }
            return Ok(None);
        };
        let Some(secret) = get("PARTNER_CENTER_CLIENT_SECRET") else {
            anyhow::bail!("PARTNER_CENTER_CLIENT_SECRET is not set (Partner Center needs the app's client secret)");
        };
        let mut offers = BTreeMap::new();
        for pair in get("PARTNER_CENTER_OFFERS").unwrap_or_default().split(',') {
            let pair = pair.trim();
            if pair.is_empty() {
                continue;
            }
            let Some((sku, offer)) = pair.split_once('=') else {
                anyhow::bail!("PARTNER_CENTER_OFFERS: expected sku=productId:skuId:availabilityId, got `{pair}`");
            };
            offers.insert(sku.trim().to_string(), offer.trim().to_string());
        }
        Ok(Some(PartnerCenterSettings {
            base_url: get("PARTNER_CENTER_BASE_URL")
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_string())
                .trim_end_matches('/')
                .to_string(),
            token_url,
            client_id,
            client_secret: SecretString::from(secret),
            offers,
            attempts: 4,
            backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(60),
            timeout: Duration::from_secs(30),
        }))
    }

    pub fn from_env() -> anyhow::Result<Option<PartnerCenterSettings>> {
        PartnerCenterSettings::from_lookup(|k| std::env::var(k).ok())
    }
}
