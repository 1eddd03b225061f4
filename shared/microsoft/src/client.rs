//! The Partner Center REST client (PARTNER-CENTER.md): app-only tokens, the subscription
//! resource read then PATCHed whole with its etag, and the retry rules.

use crate::settings::PartnerCenterSettings;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use renewals_app::ports::{Done, Microsoft, MicrosoftError, MicrosoftSubscription};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

const SCOPE: &str = "https://api.partnercenter.microsoft.com/.default";
/// A token is renewed this long before Microsoft says it expires.
const RENEW_EARLY: Duration = Duration::from_secs(300);
/// Re-reads after a stale etag before the attempt gives up.
const ETAG_RETRIES: usize = 3;
/// Polls of a `Location` after a 202.
const POLLS: usize = 10;

struct Token {
    value: SecretString,
    renew_at: Instant,
}

pub struct PartnerCenter {
    http: reqwest::Client,
    settings: PartnerCenterSettings,
    token: Mutex<Option<Token>>,
}

/// A reply from Partner Center, read whole.
struct Reply {
    status: StatusCode,
    location: Option<String>,
    body: Value,
}

fn unavailable(e: impl std::fmt::Display) -> MicrosoftError {
    MicrosoftError::Unavailable(e.to_string())
}

/// `code` is documented as a string, examples show numbers: both.
fn code_of(body: &Value) -> String {
    match body.get("code") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// The documented refusals as typed errors.
fn refusal(reply: &Reply) -> MicrosoftError {
    let code = code_of(&reply.body);
    let description = reply
        .body
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let what = format!("{} {code} {description}", reply.status.as_u16());
    match (reply.status.as_u16(), code.as_str()) {
        (_, "900117") => MicrosoftError::CancellationWindowPassed(what),
        (_, "800090") => MicrosoftError::NotRefundable(what),
        (404, _) | (_, "20003") => MicrosoftError::NotFound(what),
        (401 | 403, _) => MicrosoftError::Credentials(what),
        (409 | 429, _) | (500..=599, _) => MicrosoftError::Unavailable(what),
        (status, _) => MicrosoftError::Refused {
            status,
            code,
            description,
        },
    }
}

fn date_of(v: &Value, field: &str) -> Option<DateTime<Utc>> {
    v.get(field)
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
}

/// Our view of the subscription resource.
pub fn subscription_of(v: &Value) -> MicrosoftSubscription {
    MicrosoftSubscription {
        id: v["id"].as_str().unwrap_or_default().to_string(),
        offer_id: v["offerId"].as_str().unwrap_or_default().to_string(),
        quantity: v["quantity"].as_u64().unwrap_or(0) as u32,
        status: v["status"].as_str().unwrap_or_default().to_string(),
        auto_renew: v["autoRenewEnabled"].as_bool().unwrap_or(false),
        commitment_end: date_of(v, "commitmentEndDate").map(|d| d.date_naive()),
        cancellation_allowed_until: date_of(v, "cancellationAllowedUntilDate"),
    }
    .with_date_fallback(v)
}

trait DateFallback {
    fn with_date_fallback(self, v: &Value) -> Self;
}

impl DateFallback for MicrosoftSubscription {
    /// `commitmentEndDate` may come as a plain date.
    fn with_date_fallback(mut self, v: &Value) -> Self {
        if self.commitment_end.is_none() {
            self.commitment_end = v["commitmentEndDate"]
                .as_str()
                .and_then(|s| NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok());
        }
        self
    }
}

fn etag_of(v: &Value) -> Option<String> {
    v.pointer("/attributes/etag")
        .and_then(Value::as_str)
        .map(str::to_string)
}

impl PartnerCenter {
    pub fn new(settings: PartnerCenterSettings) -> anyhow::Result<PartnerCenter> {
        // reqwest brings no crypto provider: ring, the one the whole process uses (set once;
        // a provider already installed is kept).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()?;
        Ok(PartnerCenter {
            http,
            settings,
            token: Mutex::new(None),
        })
    }

    /// A bearer token, from the cache while it has more than a few minutes left.
    async fn token(&self) -> Result<SecretString, MicrosoftError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref().filter(|t| Instant::now() < t.renew_at) {
            return Ok(t.value.clone());
        }
        let s = &self.settings;
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", s.client_id.as_str()),
            ("client_secret", s.client_secret.expose_secret()),
            ("scope", SCOPE),
        ];
        let reply = self
            .http
            .post(&s.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| unavailable(format!("token endpoint: {e}")))?;
        let status = reply.status();
        let body: Value = reply.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            // The body names the error (invalid_client, …), never the secret.
            let why = body["error"]
                .as_str()
                .unwrap_or("no error code")
                .to_string();
            return Err(if status.is_server_error() || status.as_u16() == 429 {
                unavailable(format!("token endpoint {status}: {why}"))
            } else {
                MicrosoftError::Credentials(format!("token endpoint {status}: {why}"))
            });
        }
        let Some(value) = body["access_token"].as_str() else {
            return Err(unavailable("token endpoint answered without access_token"));
        };
        let lifetime = Duration::from_secs(body["expires_in"].as_u64().unwrap_or(3599));
        let token = Token {
            value: SecretString::from(value.to_string()),
            renew_at: Instant::now() + lifetime.saturating_sub(RENEW_EARLY),
        };
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }

    async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            return path.to_string();
        }
        let path = path.trim_start_matches('/');
        let path = path.strip_prefix("v1/").unwrap_or(path);
        format!("{}/v1/{path}", self.settings.base_url)
    }

    /// One call with the retry rules: 429 waits `Retry-After`, 409/5xx and no answer back
    /// off; `MS-RequestId` is kept after a timeout and new after any reply; a 401 fetches a
    /// new token once. Any other reply is returned.
    async fn call(
        &self,
        method: Method,
        path: &str,
        correlation: &str,
        if_match: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Reply, MicrosoftError> {
        let s = &self.settings;
        let mut request_id = uuid::Uuid::new_v4().to_string();
        let mut pause = s.backoff;
        let mut renewed_token = false;
        let mut last = String::new();
        for attempt in 1..=s.attempts.max(1) {
            let token = self.token().await?;
            let mut req = self
                .http
                .request(method.clone(), self.url(path))
                .bearer_auth(token.expose_secret())
                .header("Accept", "application/json")
                .header("MS-RequestId", &request_id)
                .header("MS-CorrelationId", correlation)
                .header("MS-Contract-Version", "v1")
                .header("X-Locale", "en-US");
            if let Some(etag) = if_match {
                req = req.header("If-Match", format!("\"{etag}\""));
            }
            if let Some(body) = body {
                req = req.json(body);
            }
            let reply = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    // No answer: the same MS-RequestId again, so Microsoft can tell.
                    last = format!("no answer: {e}");
                    tracing::warn!(attempt, %correlation, error = %e, "Partner Center did not answer");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    continue;
                }
            };
            request_id = uuid::Uuid::new_v4().to_string();
            let status = reply.status();
            let retry_after = reply
                .headers()
                .get("Retry-After")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let location = reply
                .headers()
                .get("Location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body: Value = reply.json().await.unwrap_or(Value::Null);
            let reply = Reply {
                status,
                location,
                body,
            };
            match status.as_u16() {
                401 if !renewed_token => {
                    renewed_token = true;
                    self.forget_token().await;
                }
                429 => {
                    let wait = Duration::from_secs(retry_after.unwrap_or(1));
                    last = format!("429 throttled (Retry-After {}s)", wait.as_secs());
                    if wait > s.max_retry_after {
                        return Err(unavailable(last));
                    }
                    tracing::warn!(attempt, %correlation, wait = wait.as_secs(), "Partner Center throttled; waiting Retry-After");
                    tokio::time::sleep(wait.max(pause / 2)).await;
                    pause *= 2;
                }
                409 | 500..=599 => {
                    last = refusal(&reply).to_string();
                    tracing::warn!(attempt, %correlation, %status, "Partner Center busy; backing off");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                _ => return Ok(reply),
            }
        }
        Err(unavailable(format!(
            "gave up after {} tries: {last}",
            s.attempts
        )))
    }

    async fn get(
        &self,
        correlation: &str,
        customer: &str,
        id: &str,
    ) -> Result<Value, MicrosoftError> {
        let reply = self
            .call(
                Method::GET,
                &format!("customers/{customer}/subscriptions/{id}"),
                correlation,
                None,
                None,
            )
            .await?;
        if reply.status != StatusCode::OK {
            return Err(refusal(&reply));
        }
        Ok(reply.body)
    }

    /// GET, change one thing, PATCH the whole resource with its etag. `change` says whether
    /// anything needs changing (a retry after a lost answer finds it done). A stale etag
    /// reads again; a 202 is followed to its `Location` until the change shows.
    async fn patch(
        &self,
        correlation: &str,
        customer: &str,
        id: &str,
        change: impl Fn(&mut Value) -> Result<bool, MicrosoftError> + Send + Sync,
    ) -> Result<Done, MicrosoftError> {
        let path = format!("customers/{customer}/subscriptions/{id}");
        for _ in 0..ETAG_RETRIES {
            let mut resource = self.get(correlation, customer, id).await?;
            if !change(&mut resource)? {
                return Ok(Done::Already);
            }
            let etag = etag_of(&resource);
            let reply = self
                .call(
                    Method::PATCH,
                    &path,
                    correlation,
                    etag.as_deref(),
                    Some(&resource),
                )
                .await?;
            let stale =
                reply.status == StatusCode::PRECONDITION_FAILED || code_of(&reply.body) == "2055";
            if stale {
                tracing::info!(%correlation, "etag no longer valid; reading the subscription again");
                continue;
            }
            match reply.status.as_u16() {
                200 | 201 => return Ok(Done::Changed),
                202 => {
                    let location = reply.location.unwrap_or(path.clone());
                    return self.poll(correlation, &location, &change).await;
                }
                _ => return Err(refusal(&reply)),
            }
        }
        Err(unavailable("the etag kept changing under us"))
    }

    /// The live subscription an earlier purchase under `tag` bought, if any.
    async fn bought(
        &self,
        correlation: &str,
        customer: &str,
        tag: &str,
    ) -> Result<Option<String>, MicrosoftError> {
        let reply = self
            .call(
                Method::GET,
                &format!("customers/{customer}/subscriptions"),
                correlation,
                None,
                None,
            )
            .await?;
        if reply.status != StatusCode::OK {
            return Err(refusal(&reply));
        }
        let items = reply.body["items"].as_array().cloned().unwrap_or_default();
        Ok(items
            .iter()
            .find(|s| s["friendlyName"] == tag && s["status"] != "deleted")
            .and_then(|s| s["id"].as_str())
            .map(str::to_string))
    }

    /// After a 202: GET the `Location` until the change shows (or give the attempt up).
    async fn poll(
        &self,
        correlation: &str,
        location: &str,
        change: &(impl Fn(&mut Value) -> Result<bool, MicrosoftError> + Send + Sync),
    ) -> Result<Done, MicrosoftError> {
        let mut pause = self.settings.backoff;
        for _ in 0..POLLS {
            let reply = self
                .call(Method::GET, location, correlation, None, None)
                .await?;
            if reply.status == StatusCode::OK {
                let mut resource = reply.body;
                if !change(&mut resource)? {
                    return Ok(Done::Changed);
                }
            } else if reply.status != StatusCode::ACCEPTED {
                return Err(refusal(&reply));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(30));
        }
        Err(unavailable(format!(
            "the change accepted (202) did not show at {location}"
        )))
    }
}

#[async_trait]
impl Microsoft for PartnerCenter {
    async fn subscription(
        &self,
        customer: &str,
        id: &str,
    ) -> Result<MicrosoftSubscription, MicrosoftError> {
        let correlation = uuid::Uuid::new_v4().to_string();
        Ok(subscription_of(
            &self.get(&correlation, customer, id).await?,
        ))
    }

    async fn raise_quantity(
        &self,
        correlation: &str,
        customer: &str,
        id: &str,
        to: u32,
    ) -> Result<Done, MicrosoftError> {
        self.patch(correlation, customer, id, |s| {
            let now = s["quantity"].as_u64().unwrap_or(0);
            if now >= u64::from(to) {
                return Ok(false);
            }
            s["quantity"] = to.into();
            Ok(true)
        })
        .await
    }

    async fn schedule_next_term(
        &self,
        correlation: &str,
        customer: &str,
        id: &str,
        new_product: Option<&str>,
        seats: u32,
    ) -> Result<Done, MicrosoftError> {
        let offer = match new_product {
            Some(sku) => Some(
                self.settings
                    .offers
                    .get(sku)
                    .cloned()
                    .ok_or_else(|| MicrosoftError::UnknownOffer(sku.to_string()))?,
            ),
            None => None,
        };
        self.patch(correlation, customer, id, |s| {
            let offer = offer
                .clone()
                .or_else(|| s["offerId"].as_str().map(str::to_string))
                .unwrap_or_default();
            let parts: Vec<&str> = offer.split(':').collect();
            let [product_id, sku_id, availability_id] = parts[..] else {
                return Err(MicrosoftError::UnknownOffer(offer.clone()));
            };
            let instructions = serde_json::json!({
                "product": {
                    "productId": product_id,
                    "skuId": sku_id,
                    "availabilityId": availability_id,
                    "billingCycle": s["billingCycle"].clone(),
                    "termDuration": s["termDuration"].clone(),
                },
                "quantity": seats,
            });
            if s["scheduledNextTermInstructions"] == instructions {
                return Ok(false);
            }
            s["scheduledNextTermInstructions"] = instructions;
            Ok(true)
        })
        .await
    }

    async fn set_auto_renew(
        &self,
        correlation: &str,
        customer: &str,
        id: &str,
        enabled: bool,
    ) -> Result<Done, MicrosoftError> {
        self.patch(correlation, customer, id, |s| {
            if s["autoRenewEnabled"].as_bool() == Some(enabled) {
                return Ok(false);
            }
            s["autoRenewEnabled"] = enabled.into();
            Ok(true)
        })
        .await
    }

    async fn purchase(
        &self,
        correlation: &str,
        customer: &str,
        like: &str,
        new_product: Option<&str>,
        seats: u32,
        tag: &str,
    ) -> Result<String, MicrosoftError> {
        let offer = match new_product {
            Some(sku) => Some(
                self.settings
                    .offers
                    .get(sku)
                    .cloned()
                    .ok_or_else(|| MicrosoftError::UnknownOffer(sku.to_string()))?,
            ),
            None => None,
        };
        // Bought already (an earlier attempt whose answer was lost)? Then not again.
        if let Some(id) = self.bought(correlation, customer, tag).await? {
            return Ok(id);
        }
        let old = self.get(correlation, customer, like).await?;
        let line = serde_json::json!({
            "id": 0,
            "catalogItemId": offer.map_or(old["offerId"].clone(), Value::from),
            "quantity": seats,
            "termDuration": old["termDuration"].clone(),
            "billingCycle": old["billingCycle"].clone(),
            "friendlyName": tag,
            "provisioningContext": {},
        });
        let carts = format!("customers/{customer}/carts");
        let cart = self
            .call(
                Method::POST,
                &carts,
                correlation,
                None,
                Some(&serde_json::json!({ "lineItems": [line] })),
            )
            .await?;
        if cart.status != StatusCode::CREATED && cart.status != StatusCode::OK {
            return Err(refusal(&cart));
        }
        if let Some(e) = cart.body.pointer("/lineItems/0/error") {
            return Err(MicrosoftError::Refused {
                status: cart.status.as_u16(),
                code: e["errorCode"].to_string(),
                description: e["errorDescription"].as_str().unwrap_or_default().into(),
            });
        }
        let cart_id = cart.body["id"].as_str().unwrap_or_default().to_string();
        let checkout = self
            .call(
                Method::POST,
                &format!("{carts}/{cart_id}/checkout"),
                correlation,
                None,
                None,
            )
            .await?;
        if code_of(&checkout.body) == "800065" {
            // Submitted by our own try whose answer was lost: find what it bought.
            return self
                .bought(correlation, customer, tag)
                .await?
                .ok_or_else(|| {
                    unavailable("the cart was submitted but its subscription is not there yet")
                });
        }
        if checkout.status != StatusCode::CREATED && checkout.status != StatusCode::OK {
            return Err(refusal(&checkout));
        }
        if let Some(e) = checkout.body["orderErrors"]
            .as_array()
            .and_then(|a| a.first())
        {
            return Err(MicrosoftError::Refused {
                status: checkout.status.as_u16(),
                code: e["code"].to_string(),
                description: e["description"].as_str().unwrap_or_default().into(),
            });
        }
        let order = &checkout.body["orders"][0];
        if let Some(id) = order
            .pointer("/lineItems/0/subscriptionId")
            .and_then(Value::as_str)
        {
            return Ok(id.to_string());
        }
        // Not provisioned yet: ask by order, else the next attempt finds it by its tag.
        let oid = order["id"].as_str().unwrap_or_default();
        let list = self
            .call(
                Method::GET,
                &format!("customers/{customer}/subscriptions?order_id={oid}"),
                correlation,
                None,
                None,
            )
            .await?;
        list.body["items"][0]["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| unavailable(format!("order {oid} is not provisioned yet")))
    }

    async fn cancel(
        &self,
        correlation: &str,
        customer: &str,
        id: &str,
    ) -> Result<Done, MicrosoftError> {
        self.patch(correlation, customer, id, |s| {
            if s["status"].as_str() == Some("deleted") {
                return Ok(false);
            }
            s["status"] = "deleted".into();
            Ok(true)
        })
        .await
    }
}
