//! Przelewy24 over HTTPS (`P24_BASE_URL`): register, card charge, status and verify, with
//! HTTP Basic auth `posId:apiKey`.

use crate::settings::P24Settings;
use crate::sign::{register_sign, verify_sign};
use async_trait::async_trait;
use renewals_app::ports::{
    PaymentProvider, ProviderError, Registration, TransactionStatus, Verification,
};
use renewals_domain::SessionId;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PUT: Method = Method::PUT;

/// The body of `PUT /api/v1/transaction/verify`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyRequest {
    pub merchant_id: i64,
    pub pos_id: i64,
    pub session_id: String,
    pub amount: i64,
    pub currency: String,
    pub order_id: i64,
    pub sign: String,
}

impl VerifyRequest {
    pub fn new(p24: &P24Settings, v: &Verification) -> VerifyRequest {
        VerifyRequest {
            merchant_id: p24.merchant_id,
            pos_id: p24.pos_id,
            session_id: v.session_id.to_string(),
            amount: v.amount,
            currency: v.currency.clone(),
            order_id: v.order_id,
            sign: verify_sign(
                v.session_id.as_str(),
                v.order_id,
                v.amount,
                &v.currency,
                p24.crc.expose_secret(),
            ),
        }
    }
}

/// The body of `POST /api/v1/transaction/register`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    pub merchant_id: i64,
    pub pos_id: i64,
    pub session_id: String,
    pub amount: i64,
    pub currency: String,
    pub description: String,
    pub email: String,
    pub client: String,
    pub country: String,
    pub language: String,
    pub url_return: String,
    pub url_status: String,
    pub channel: i64,
    /// A stored card's reference, for an automatic charge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method_ref_id: Option<String>,
    pub sign: String,
}

impl RegisterRequest {
    pub fn new(p24: &P24Settings, r: &Registration) -> RegisterRequest {
        RegisterRequest {
            merchant_id: p24.merchant_id,
            pos_id: p24.pos_id,
            session_id: r.session_id.to_string(),
            amount: r.amount,
            currency: r.currency.clone(),
            description: r.description.clone(),
            email: r.email.clone(),
            client: r.client.chars().take(40).collect(),
            country: "PL".into(),
            language: r.language.clone(),
            url_return: r.url_return.clone(),
            url_status: r.url_status.clone(),
            channel: r.channel,
            method_ref_id: None,
            sign: register_sign(
                r.session_id.as_str(),
                p24.merchant_id,
                r.amount,
                &r.currency,
                p24.crc.expose_secret(),
            ),
        }
    }
}

/// The customer's payment page for a registered transaction.
pub fn payment_link(base_url: &str, token: &str) -> String {
    format!("{}/trnRequest/{token}", base_url.trim_end_matches('/'))
}

/// Przelewy24 over HTTPS (`P24_BASE_URL`), HTTP Basic auth `posId:apiKey`.
pub struct Przelewy24Client {
    http: reqwest::Client,
    settings: P24Settings,
}

impl Przelewy24Client {
    pub fn new(settings: P24Settings) -> Przelewy24Client {
        // reqwest brings no crypto provider: ring, the one the whole process uses (set once;
        // a provider already installed is kept).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .expect("HTTP client builds");
        Przelewy24Client { http, settings }
    }
}

impl Przelewy24Client {
    /// One call with the shop's Basic auth: the status and the body, or `Unavailable` when
    /// Przelewy24 could not be reached at all.
    async fn call<B: Serialize + ?Sized>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<(reqwest::StatusCode, String), ProviderError> {
        let url = format!("{}{path}", self.settings.base_url);
        let mut request = self.http.request(method.clone(), &url).basic_auth(
            self.settings.pos_id,
            Some(self.settings.api_key.expose_secret()),
        );
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ProviderError::Unavailable(format!("{method} {url}: {e}")))?;
        let status = response.status();
        Ok((status, response.text().await.unwrap_or_default()))
    }

    /// `POST /api/v1/transaction/register`; returns the transaction token.
    async fn register_token(&self, request: &RegisterRequest) -> Result<String, ProviderError> {
        let (status, body) = self
            .call(POST, "/api/v1/transaction/register", Some(request))
            .await?;
        if !status.is_success() {
            return Err(failure(status, &body));
        }
        serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|j| j["data"]["token"].as_str().map(str::to_string))
            .ok_or_else(|| {
                ProviderError::Refused(format!("register answered without a token: {body}"))
            })
    }
}

#[async_trait]
impl PaymentProvider for Przelewy24Client {
    async fn register(&self, r: &Registration) -> Result<String, ProviderError> {
        let token = self
            .register_token(&RegisterRequest::new(&self.settings, r))
            .await?;
        Ok(payment_link(&self.settings.base_url, &token))
    }

    async fn charge_card(&self, r: &Registration, card_ref: &str) -> Result<(), ProviderError> {
        let mut request = RegisterRequest::new(&self.settings, r);
        request.method_ref_id = Some(card_ref.to_string());
        let token = self.register_token(&request).await?;
        let charge = serde_json::json!({ "token": token });
        let (status, body) = self
            .call(POST, "/api/v1/card/charge", Some(&charge))
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(failure(status, &body))
        }
    }

    async fn status(
        &self,
        session_id: &SessionId,
    ) -> Result<Option<TransactionStatus>, ProviderError> {
        let path = format!("/api/v1/transaction/by/sessionId/{session_id}");
        let (status, body) = self.call(GET, &path, None::<&()>).await?;
        if status.as_u16() == 404 {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(failure(status, &body));
        }
        let j: serde_json::Value = serde_json::from_str(&body)
            .map_err(|_| ProviderError::Refused(format!("unexpected answer: {body}")))?;
        let d = &j["data"];
        let field = |k: &str| d[k].as_i64();
        match (field("orderId"), field("amount"), field("status")) {
            (Some(order_id), Some(amount), Some(status)) => Ok(Some(TransactionStatus {
                order_id,
                amount,
                currency: d["currency"].as_str().unwrap_or("PLN").to_string(),
                status,
                method_id: field("paymentMethod").unwrap_or(0),
            })),
            _ => Err(ProviderError::Refused(format!("unexpected answer: {body}"))),
        }
    }

    async fn verify(&self, v: &Verification) -> Result<(), ProviderError> {
        let request = VerifyRequest::new(&self.settings, v);
        let (status, body) = self
            .call(PUT, "/api/v1/transaction/verify", Some(&request))
            .await?;
        if status.is_success() {
            let ok = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|j| j["data"]["status"].as_str().map(|s| s == "success"))
                .unwrap_or(false);
            return if ok {
                Ok(())
            } else {
                Err(ProviderError::Refused(format!(
                    "unexpected verify answer: {body}"
                )))
            };
        }
        Err(failure(status, &body))
    }
}

/// Server trouble and throttling pass; 401/403 are our own credentials (a rotated API key,
/// a wrong POS), fixed by a person and then passing; anything else is the provider saying no.
fn failure(status: reqwest::StatusCode, body: &str) -> ProviderError {
    match status.as_u16() {
        429 | 500..=599 => ProviderError::Unavailable(format!("{status}: {body}")),
        401 | 403 => ProviderError::Misconfigured(format!("{status}: {body}")),
        _ => ProviderError::Refused(format!("{status}: {body}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(code: u16) -> (bool, &'static str) {
        let e = failure(reqwest::StatusCode::from_u16(code).unwrap(), "{}");
        let name = match e {
            ProviderError::Refused(_) => "refused",
            ProviderError::Unavailable(_) => "unavailable",
            ProviderError::Misconfigured(_) => "misconfigured",
        };
        (e.is_retryable(), name)
    }

    #[test]
    fn our_rejected_credentials_are_a_retryable_configuration_error_not_a_refusal() {
        assert_eq!(kind(401), (true, "misconfigured"));
        assert_eq!(kind(403), (true, "misconfigured"));
        assert_eq!(kind(429), (true, "unavailable"));
        assert_eq!(kind(503), (true, "unavailable"));
        assert_eq!(kind(400), (false, "refused"));
        assert_eq!(kind(404), (false, "refused"));
    }
}
