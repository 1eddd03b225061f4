//! The KSeF client: a KSeF token → access/refresh tokens (cached, refreshed shortly before
//! they lapse), one online session per run (AES key sent RSA-encrypted), each invoice sent
//! encrypted with its hashes and sizes, its status polled and its UPO fetched as received.
//! 429 → `RateLimited` with `Retry-After` (the outbox waits), 5xx and no answer →
//! `Unavailable`, 401/403 and a refused authentication → `Credentials`, any other 4xx →
//! `Refused` with KSeF's code and description.

use crate::crypto::{aes_encrypt, b64, public_key_of, rsa_oaep, sha256_b64, unb64};
use crate::settings::KsefSettings;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rand::RngCore;
use renewals_app::ports::{InvoiceToSend, Ksef, KsefError, KsefVerdict, SentInvoice};
use reqwest::{Method, StatusCode};
use rsa::RsaPublicKey;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Mutex;

/// A session is not reused when it has less than this left (KSeF keeps it open 12 h).
const SESSION_MARGIN: chrono::Duration = chrono::Duration::minutes(10);
/// `publicKeyId` unknown or revoked: fetch the keys again.
const UNKNOWN_KEY: &str = "21470";
/// No such session / the session cannot take invoices any more: open a new one.
const NO_SESSION: &str = "21173";
const SESSION_STATE: &str = "21180";
/// The invoice's UPO is not there (yet).
const UPO_NOT_FOUND: &str = "21178";

pub struct HttpKsef {
    settings: KsefSettings,
    http: reqwest::Client,
    keys: Mutex<Option<Keys>>,
    tokens: Mutex<Option<Tokens>>,
    session: Mutex<Option<Session>>,
}

#[derive(Clone)]
struct PublicKey {
    id: String,
    key: RsaPublicKey,
    valid_to: DateTime<Utc>,
}

#[derive(Clone)]
struct Keys {
    token: PublicKey,
    symmetric: PublicKey,
}

struct Tokens {
    access: String,
    access_until: DateTime<Utc>,
    refresh: String,
    refresh_until: DateTime<Utc>,
}

struct Session {
    reference: String,
    key: [u8; 32],
    iv: [u8; 16],
    valid_until: DateTime<Utc>,
}

/// A 2xx reply.
struct Reply {
    status: StatusCode,
    body: Vec<u8>,
}

impl Reply {
    fn json<T: for<'de> Deserialize<'de>>(&self, what: &str) -> Result<T, KsefError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            KsefError::Unavailable(format!(
                "KSeF's answer to {what} could not be read ({e}): {}",
                String::from_utf8_lossy(&self.body)
            ))
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CertificateInfo {
    certificate: String,
    public_key_id: String,
    valid_from: DateTime<Utc>,
    valid_to: DateTime<Utc>,
    usage: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Challenge {
    challenge: String,
    timestamp_ms: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenInfo {
    token: String,
    valid_until: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthInit {
    reference_number: String,
    authentication_token: TokenInfo,
}

#[derive(Deserialize)]
struct Status {
    code: u16,
    description: String,
    #[serde(default)]
    details: Option<Vec<String>>,
    #[serde(default)]
    extensions: Option<Value>,
}

impl Status {
    fn reason(&self) -> String {
        match self.details.as_deref() {
            Some(d) if !d.is_empty() => format!("{}: {}", self.description, d.join("; ")),
            _ => self.description.clone(),
        }
    }
}

#[derive(Deserialize)]
struct AuthStatus {
    status: Status,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Redeemed {
    access_token: TokenInfo,
    refresh_token: TokenInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Refreshed {
    access_token: TokenInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Opened {
    reference_number: String,
    valid_until: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Accepted {
    reference_number: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InvoiceStatus {
    #[serde(default)]
    ksef_number: Option<String>,
    /// `Online` or `Offline` (an issue day before the day KSeF took it: API.md §5).
    #[serde(default)]
    invoicing_mode: Option<String>,
    status: Status,
}

fn code_of(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    }
}

/// KSeF's refusal of a call, from either error format (`exception` or problem+json).
fn refusal(status: StatusCode, body: &[u8]) -> KsefError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |v: &Value| v.as_str().map(str::to_string);
    let details = |v: &Value| {
        v.as_array()
            .map(|d| {
                d.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .filter(|d| !d.is_empty())
    };
    let with = |d: String, more: Option<String>| match more {
        Some(m) => format!("{d}: {m}"),
        None => d,
    };
    let (code, description) = if let Some(first) = v.pointer("/exception/exceptionDetailList/0") {
        (
            code_of(&first["exceptionCode"]),
            with(
                text(&first["exceptionDescription"]).unwrap_or_default(),
                details(&first["details"]),
            ),
        )
    } else if let Some(first) = v.pointer("/errors/0") {
        (
            code_of(&first["code"]),
            with(
                text(&first["description"]).unwrap_or_default(),
                details(&first["details"]),
            ),
        )
    } else if let Some(detail) = text(&v["detail"]) {
        (
            text(&v["reasonCode"]).unwrap_or_default(),
            with(text(&v["title"]).unwrap_or_default(), Some(detail)),
        )
    } else {
        (
            String::new(),
            String::from_utf8_lossy(body).chars().take(500).collect(),
        )
    };
    match status.as_u16() {
        401 | 403 => KsefError::Credentials(format!("{status}: {description}")),
        500..=599 => KsefError::Unavailable(format!("{status}: {description}")),
        s => KsefError::Refused {
            status: s,
            code,
            description,
        },
    }
}

fn is_refused(e: &KsefError, code: &str) -> bool {
    matches!(e, KsefError::Refused { code: c, .. } if c == code)
}

impl HttpKsef {
    pub fn new(settings: KsefSettings) -> Result<HttpKsef, KsefError> {
        // reqwest brings no crypto provider: ring, the one the whole process uses (set once;
        // a provider already installed is kept).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| KsefError::Unavailable(format!("no HTTP client: {e}")))?;
        Ok(HttpKsef {
            settings,
            http,
            keys: Mutex::new(None),
            tokens: Mutex::new(None),
            session: Mutex::new(None),
        })
    }

    pub fn settings(&self) -> &KsefSettings {
        &self.settings
    }

    /// One call; 2xx is returned, anything else becomes the matching `KsefError`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Reply, KsefError> {
        let url = format!("{}{path}", self.settings.base_url);
        // A UPO is XML; everything else (errors included) is JSON.
        let accept = if path.ends_with("/upo") {
            "application/xml, application/json"
        } else {
            "application/json"
        };
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header("Accept", accept);
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let reply = req
            .send()
            .await
            .map_err(|e| KsefError::Unavailable(format!("{method} {path}: no answer ({e})")))?;
        let status = reply.status();
        let retry_after = reply
            .headers()
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = reply
            .bytes()
            .await
            .map_err(|e| KsefError::Unavailable(format!("{method} {path}: answer cut off ({e})")))?
            .to_vec();
        if status.is_success() {
            return Ok(Reply { status, body });
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            // KSeF always sends Retry-After; without it, a minute is a safe pause.
            let retry_after_s = retry_after.unwrap_or(60);
            tracing::warn!(%path, retry_after_s, "KSeF: 429, asked to wait");
            return Err(KsefError::RateLimited { retry_after_s });
        }
        let e = refusal(status, &body);
        tracing::warn!(%method, %path, error = %e, "KSeF refused a call");
        Err(e)
    }

    /// MF's public keys, one per usage: valid now, the latest `validFrom`.
    async fn keys(&self) -> Result<Keys, KsefError> {
        let mut cached = self.keys.lock().await;
        let now = Utc::now();
        // Kept until one of them lapses (or KSeF refuses it with 21470).
        if let Some(k) = cached
            .as_ref()
            .filter(|k| now < k.token.valid_to && now < k.symmetric.valid_to)
        {
            return Ok(k.clone());
        }
        let reply = self
            .call(Method::GET, "/security/public-key-certificates", None, None)
            .await?;
        let certs: Vec<CertificateInfo> = reply.json("the public key certificates")?;
        let pick = |usage: &str| -> Result<PublicKey, KsefError> {
            let cert = certs
                .iter()
                .filter(|c| c.usage.iter().any(|u| u == usage))
                .filter(|c| c.valid_from <= now && now < c.valid_to)
                .max_by_key(|c| c.valid_from)
                .ok_or_else(|| {
                    KsefError::Unavailable(format!("KSeF lists no valid {usage} certificate"))
                })?;
            let der = unb64(&cert.certificate)
                .map_err(|e| KsefError::Unavailable(format!("the {usage} certificate is {e}")))?;
            let (key, _) = public_key_of(&der)
                .map_err(|e| KsefError::Unavailable(format!("the {usage} certificate: {e}")))?;
            Ok(PublicKey {
                id: cert.public_key_id.clone(),
                key,
                valid_to: cert.valid_to,
            })
        };
        let keys = Keys {
            token: pick("KsefTokenEncryption")?,
            symmetric: pick("SymmetricKeyEncryption")?,
        };
        *cached = Some(keys.clone());
        Ok(keys)
    }

    async fn forget_keys(&self) {
        *self.keys.lock().await = None;
    }

    /// A valid access token: cached, refreshed within `refresh_margin` of its end, or a new
    /// authentication when there is no usable refresh token.
    async fn access_token(&self) -> Result<String, KsefError> {
        let mut tokens = self.tokens.lock().await;
        let now = Utc::now();
        let margin = chrono::Duration::from_std(self.settings.refresh_margin)
            .unwrap_or(chrono::Duration::seconds(60));
        if let Some(t) = tokens.as_mut() {
            if now + margin < t.access_until {
                return Ok(t.access.clone());
            }
            if now + chrono::Duration::seconds(5) < t.refresh_until {
                match self
                    .call(Method::POST, "/auth/token/refresh", Some(&t.refresh), None)
                    .await
                {
                    Ok(reply) => {
                        let r: Refreshed = reply.json("the token refresh")?;
                        t.access = r.access_token.token;
                        t.access_until = r.access_token.valid_until;
                        return Ok(t.access.clone());
                    }
                    // A revoked refresh token: authenticate again below.
                    Err(KsefError::Credentials(_)) => {}
                    Err(e) if is_refused(&e, "21301") => {}
                    Err(e) => return Err(e),
                }
            }
        }
        *tokens = None;
        let fresh = self.authenticate().await?;
        let access = fresh.access.clone();
        *tokens = Some(fresh);
        Ok(access)
    }

    async fn has_tokens(&self) -> bool {
        self.tokens.lock().await.is_some()
    }

    async fn forget_access_token(&self) {
        if let Some(t) = self.tokens.lock().await.as_mut() {
            t.access_until = DateTime::<Utc>::MIN_UTC;
        }
    }

    /// Challenge → encrypted token → status until 200 → redeem.
    async fn authenticate(&self) -> Result<Tokens, KsefError> {
        let init = match self.init_token_auth().await {
            Err(e) if is_refused(&e, UNKNOWN_KEY) => {
                self.forget_keys().await;
                self.init_token_auth().await?
            }
            other => other?,
        };
        let auth_token = init.authentication_token.token;
        let path = format!("/auth/{}", init.reference_number);
        let mut polls = 0;
        loop {
            let reply = self
                .call(Method::GET, &path, Some(&auth_token), None)
                .await?;
            let status: AuthStatus = reply.json("the authentication status")?;
            match status.status.code {
                200 => break,
                code if code >= 400 => {
                    return Err(KsefError::Credentials(format!(
                        "authentication {code}: {}",
                        status.status.reason()
                    )))
                }
                _ => {}
            }
            polls += 1;
            if polls >= self.settings.auth_polls {
                return Err(KsefError::Unavailable(format!(
                    "authentication still in progress after {polls} polls"
                )));
            }
            tokio::time::sleep(self.settings.poll_interval).await;
        }
        let reply = self
            .call(Method::POST, "/auth/token/redeem", Some(&auth_token), None)
            .await?;
        let r: Redeemed = reply.json("the token redemption")?;
        tracing::info!(reference = %init.reference_number, "KSeF: authenticated");
        Ok(Tokens {
            access: r.access_token.token,
            access_until: r.access_token.valid_until,
            refresh: r.refresh_token.token,
            refresh_until: r.refresh_token.valid_until,
        })
    }

    async fn init_token_auth(&self) -> Result<AuthInit, KsefError> {
        let keys = self.keys().await?;
        let reply = self
            .call(Method::POST, "/auth/challenge", None, None)
            .await?;
        let challenge: Challenge = reply.json("the challenge")?;
        let plain = format!(
            "{}|{}",
            self.settings.token.expose_secret(),
            challenge.timestamp_ms
        );
        let encrypted =
            rsa_oaep(&keys.token.key, plain.as_bytes()).map_err(KsefError::Unavailable)?;
        let body = json!({
            "challenge": challenge.challenge,
            "contextIdentifier": {"type": "Nip", "value": self.settings.nip},
            "encryptedToken": b64(&encrypted),
            "publicKeyId": keys.token.id,
        });
        self.call(Method::POST, "/auth/ksef-token", None, Some(&body))
            .await?
            .json("the token authentication")
    }

    /// Opens an online session for FA(3) with a fresh AES key and IV.
    async fn open_session(&self, access: &str) -> Result<Session, KsefError> {
        let keys = self.keys().await?;
        let mut key = [0u8; 32];
        let mut iv = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut key);
        rand::thread_rng().fill_bytes(&mut iv);
        let encrypted = rsa_oaep(&keys.symmetric.key, &key).map_err(KsefError::Unavailable)?;
        let body = json!({
            "formCode": {"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"},
            "encryption": {
                "encryptedSymmetricKey": b64(&encrypted),
                "initializationVector": b64(&iv),
                "publicKeyId": keys.symmetric.id,
            },
        });
        let reply = self
            .call(Method::POST, "/sessions/online", Some(access), Some(&body))
            .await?;
        if reply.status != StatusCode::CREATED {
            tracing::warn!(status = %reply.status, "KSeF opened a session with an unexpected status");
        }
        let opened: Opened = reply.json("the session opening")?;
        tracing::info!(session = %opened.reference_number, "KSeF: online session opened");
        Ok(Session {
            reference: opened.reference_number,
            key,
            iv,
            valid_until: opened.valid_until,
        })
    }

    /// One attempt at sending: the open session (or a new one), then the invoice.
    async fn try_send(&self, invoice: &InvoiceToSend) -> Result<SentInvoice, KsefError> {
        let access = self.access_token().await?;
        let mut session = self.session.lock().await;
        if session
            .as_ref()
            .is_some_and(|s| s.valid_until - SESSION_MARGIN <= Utc::now())
        {
            *session = None;
        }
        if session.is_none() {
            let opened = match self.open_session(&access).await {
                Err(e) if is_refused(&e, UNKNOWN_KEY) => {
                    self.forget_keys().await;
                    self.open_session(&access).await?
                }
                other => other?,
            };
            *session = Some(opened);
        }
        let Some(s) = session.as_ref() else {
            return Err(KsefError::Unavailable("no online session".into()));
        };
        let encrypted = aes_encrypt(&s.key, &s.iv, &invoice.xml);
        let body = json!({
            "invoiceHash": sha256_b64(&invoice.xml),
            "invoiceSize": invoice.xml.len(),
            "encryptedInvoiceHash": sha256_b64(&encrypted),
            "encryptedInvoiceSize": encrypted.len(),
            "encryptedInvoiceContent": b64(&encrypted),
            "offlineMode": false,
        });
        let path = format!("/sessions/online/{}/invoices", s.reference);
        let sent = self
            .call(Method::POST, &path, Some(&access), Some(&body))
            .await;
        let sent: Accepted = match sent {
            Ok(reply) => reply.json("the invoice")?,
            Err(e) if is_refused(&e, NO_SESSION) || is_refused(&e, SESSION_STATE) => {
                // The session was closed or expired on KSeF's side: the next try opens one.
                *session = None;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        tracing::info!(number = %invoice.number, reference = %sent.reference_number, "KSeF: invoice sent");
        Ok(SentInvoice {
            session: s.reference.clone(),
            invoice: sent.reference_number,
        })
    }

    async fn upo(&self, access: &str, sent: &SentInvoice) -> Result<Option<Vec<u8>>, KsefError> {
        let path = format!("/sessions/{}/invoices/{}/upo", sent.session, sent.invoice);
        match self.call(Method::GET, &path, Some(access), None).await {
            Ok(reply) => Ok(Some(reply.body)),
            Err(e) if is_refused(&e, UPO_NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn try_verdict(&self, sent: &SentInvoice) -> Result<KsefVerdict, KsefError> {
        let access = self.access_token().await?;
        let path = format!("/sessions/{}/invoices/{}", sent.session, sent.invoice);
        let reply = self.call(Method::GET, &path, Some(&access), None).await?;
        let st: InvoiceStatus = reply.json("the invoice status")?;
        let s = st.status;
        Ok(match s.code {
            100..=199 => KsefVerdict::Processing,
            200 => {
                let ksef_number = st.ksef_number.ok_or_else(|| {
                    KsefError::Unavailable("status 200 without a ksefNumber".into())
                })?;
                if st.invoicing_mode.as_deref() == Some("Offline") {
                    // We send every invoice dated the day it goes; KSeF saw it otherwise
                    // (sent across midnight): its printout would want KOD II.
                    tracing::warn!(invoice = %sent.invoice, %ksef_number, "KSeF took the invoice as offline");
                }
                KsefVerdict::Accepted {
                    ksef_number,
                    upo: self.upo(&access, sent).await?,
                    duplicate: false,
                }
            }
            440 => {
                let original = s
                    .extensions
                    .as_ref()
                    .and_then(|x| x["originalKsefNumber"].as_str())
                    .map(str::to_string)
                    .ok_or_else(|| {
                        KsefError::Unavailable(format!(
                            "a duplicate (440) without originalKsefNumber: {}",
                            s.reason()
                        ))
                    })?;
                KsefVerdict::Accepted {
                    ksef_number: original,
                    upo: None,
                    duplicate: true,
                }
            }
            405 | 500 | 550 => KsefVerdict::Resend { reason: s.reason() },
            code => KsefVerdict::Rejected {
                code,
                reason: s.reason(),
            },
        })
    }
}

#[async_trait]
impl Ksef for HttpKsef {
    async fn send(&self, invoice: &InvoiceToSend) -> Result<SentInvoice, KsefError> {
        let had_tokens = self.has_tokens().await;
        match self.try_send(invoice).await {
            // An access token refused before its time, or a session KSeF no longer has:
            // once more with a new token / session. A refused authentication is final.
            Err(KsefError::Credentials(_)) if had_tokens => {
                self.forget_access_token().await;
                self.try_send(invoice).await
            }
            Err(e) if is_refused(&e, NO_SESSION) || is_refused(&e, SESSION_STATE) => {
                self.try_send(invoice).await
            }
            other => other,
        }
    }

    async fn verdict(&self, sent: &SentInvoice) -> Result<KsefVerdict, KsefError> {
        let had_tokens = self.has_tokens().await;
        match self.try_verdict(sent).await {
            Err(KsefError::Credentials(_)) if had_tokens => {
                self.forget_access_token().await;
                self.try_verdict(sent).await
            }
            other => other,
        }
    }

    async fn finish(&self) -> Result<(), KsefError> {
        let mut session = self.session.lock().await;
        let Some(s) = session.as_ref() else {
            return Ok(());
        };
        let access = self.access_token().await?;
        let path = format!("/sessions/online/{}/close", s.reference);
        match self.call(Method::POST, &path, Some(&access), None).await {
            Ok(_) => {}
            // Already closed or gone: nothing left to close.
            Err(e) if is_refused(&e, NO_SESSION) || is_refused(&e, SESSION_STATE) => {}
            Err(e) => return Err(e),
        }
        tracing::info!(session = %s.reference, "KSeF: online session closed");
        *session = None;
        Ok(())
    }
}
