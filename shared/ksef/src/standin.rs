//! An HTTP stand-in of KSeF (API 2.0) for tests, faithful to API.md and the OpenAPI where our
//! calls land. It serves its own RSA certificate (a fixture, see below), issues challenges,
//! really decrypts the KSeF token (RSA-OAEP-SHA256) and checks `token|timestampMs` (wrong →
//! authentication status 450), redeems an authentication once (again → 21301), refreshes,
//! expires access tokens (401), opens sessions by decrypting their AES key, decrypts every
//! invoice and checks its hashes and sizes (21403/21402), validates it against the FA(3) XSD
//! (430 with the validator's message), checks that `Podmiot1` is the context's NIP (410),
//! finds duplicates `(NIP, RodzajFaktury, P_2)` (440 + `originalKsefNumber`), refuses a `P_1`
//! after the day of acceptance (450) and takes one before it as offline (`invoicingMode`),
//! issues KSeF numbers with a correct CRC and serves UPOs. It counts every call per endpoint
//! and can be told to answer 429 + `Retry-After` or to keep invoices processing (150) for some
//! polls.
//!
//! The certificate and key in `standin/` were made once with
//! `openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 7300
//!  -subj "/CN=KSeF stand-in/O=renewals tests" -sha256` and
//! `openssl x509 -in cert.pem -outform DER -out cert.der` (a test key, guarding nothing).

// Helpers return the reply to send as their error; its size does not matter in a test stand-in.
#![allow(clippy::result_large_err)]

mod auth;
mod sessions;

use auth::*;
use sessions::*;

use crate::crypto::{aes_decrypt, b64, public_key_of, sha256_b64, unb64};
use crate::fields::invoice_fields;
use crate::number::ksef_number;
use crate::reference::{reference, today_in_poland};
use axum::body::Bytes;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Oaep, RsaPrivateKey};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The KSeF token the stand-in accepts (a person would have generated it in KSeF).
pub const TOKEN: &str =
    "20260101-EC-1A2B3C4D5E-6F7A8B9C0D-AA|nip-5260250274|8a3f5c0e9b7d4a1f2e6c8b0a9d7f5e3c";
/// The context (seller) NIP the token is for.
pub const NIP: &str = "5260250274";

const CERT_DER: &[u8] = include_bytes!("standin/cert.der");
const KEY_PEM: &str = include_str!("standin/key.pem");
/// The key that replaces the first one in [`KsefStandIn::rotate_keys`] (made the same way).
const CERT2_DER: &[u8] = include_bytes!("standin/cert2.der");
const KEY2_PEM: &str = include_str!("standin/key2.pem");

/// One of the stand-in's RSA keys, listed with its certificate for both usages.
struct ServedKey {
    private: RsaPrivateKey,
    cert: &'static [u8],
    /// `b64(sha256(SPKI DER))`, as KSeF computes `publicKeyId`.
    id: String,
    valid_from: DateTime<Utc>,
    valid_to: DateTime<Utc>,
    revoked: bool,
}

impl ServedKey {
    fn load(cert: &'static [u8], pem: &str, valid_from: DateTime<Utc>) -> ServedKey {
        let private = RsaPrivateKey::from_pkcs8_pem(pem).expect("the stand-in's key");
        let (_, spki) = public_key_of(cert).expect("the stand-in's certificate");
        ServedKey {
            private,
            cert,
            id: sha256_b64(&spki),
            valid_from,
            valid_to: valid_from + Duration::days(365),
            revoked: false,
        }
    }
}

/// One call as the stand-in saw it: `"POST /sessions/online/{ref}/invoices"` and its status.
#[derive(Clone, Debug)]
pub struct Call {
    pub endpoint: String,
    pub status: u16,
}

struct Throttle {
    left: u32,
    retry_after_s: u64,
    blocked_until: Option<Instant>,
}

struct AuthOp {
    auth_token: String,
    token_until: DateTime<Utc>,
    nip: String,
    /// The final status once processing is done.
    code: u16,
    description: String,
    pending_polls: u32,
    redeemed: bool,
    started: DateTime<Utc>,
}

struct Grant {
    nip: String,
    until: DateTime<Utc>,
}

struct Session {
    nip: String,
    key: [u8; 32],
    iv: [u8; 16],
    open: bool,
    invoices: u32,
}

#[derive(Clone)]
struct StoredInvoice {
    session: String,
    ordinal: u32,
    number: Option<String>,
    hash: String,
    code: u16,
    description: String,
    details: Vec<String>,
    extensions: Option<Value>,
    ksef_number: Option<String>,
    upo: Option<Vec<u8>>,
    processing_polls: u32,
    decrypted: Vec<u8>,
    received: DateTime<Utc>,
    /// Taken as an offline invoice: its `P_1` is before the day it arrived (API.md §5).
    offline: bool,
}

struct Inner {
    keys: Vec<ServedKey>,
    token: String,
    nip: String,
    access_lifetime: Duration,
    auth_pending_polls: u32,
    processing_polls: u32,
    challenges: HashMap<String, (i64, DateTime<Utc>, bool)>,
    auths: HashMap<String, AuthOp>,
    access: HashMap<String, Grant>,
    refresh: HashMap<String, Grant>,
    sessions: HashMap<String, Session>,
    invoices: HashMap<String, StoredInvoice>,
    registered: HashMap<(String, String, String), (String, String)>,
    throttles: HashMap<String, Throttle>,
    /// Endpoint → how many more calls answer 503.
    outages: HashMap<String, u32>,
    calls: Vec<Call>,
    /// KSeF's day, where a test's clock is not the real one (None: today in Poland).
    day: Option<chrono::NaiveDate>,
}

impl Inner {
    /// The day of acceptance: what `P_1` is held against, and the day KSeF numbers carry.
    fn today(&self) -> chrono::NaiveDate {
        self.day.unwrap_or_else(today_in_poland)
    }
}

type Shared = Arc<Mutex<Inner>>;

pub struct KsefStandIn {
    inner: Shared,
    /// With the version: `http://127.0.0.1:port/v2`.
    pub base_url: String,
}

fn lock(inner: &Shared) -> std::sync::MutexGuard<'_, Inner> {
    inner.lock().expect("stand-in state")
}

fn now_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// An opaque bearer token shaped like KSeF's JWTs.
fn opaque_token(kind: &str) -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill(&mut bytes);
    format!(
        "eyJhbGciOiJub25lIn0.{}.{}",
        b64(kind.as_bytes()).trim_end_matches('='),
        b64(&bytes).replace(['+', '/', '='], "")
    )
}

/// 400 in KSeF's default `exception` format.
fn exception(code: u32, description: &str, details: &[String]) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"exception": {
            "exceptionDetailList": [{"exceptionCode": code, "exceptionDescription": description, "details": details}],
            "referenceNumber": reference("EX", today_in_poland()),
            "serviceCode": "stand-in",
            "serviceCtx": "srvKSeF",
            "serviceName": "KSeF stand-in",
            "timestamp": Utc::now(),
        }})),
    )
        .into_response()
}

fn unauthorized(detail: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [("Content-Type", "application/problem+json")],
        json!({"title": "Unauthorized", "status": 401, "detail": detail, "timestamp": Utc::now()})
            .to_string(),
    )
        .into_response()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("Authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_string)
}

/// The context NIP of a valid access token, or the 401.
fn access_nip(inner: &Inner, headers: &HeaderMap) -> Result<String, Response> {
    let Some(token) = bearer(headers) else {
        return Err(unauthorized("Brak tokenu dostępowego."));
    };
    match inner.access.get(&token) {
        Some(g) if Utc::now() < g.until => Ok(g.nip.clone()),
        Some(_) => Err(unauthorized("Token dostępowy wygasł.")),
        None => Err(unauthorized("Nieprawidłowy token dostępowy.")),
    }
}

fn parse(body: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice(body).map_err(|e| {
        exception(
            21405,
            "Błąd walidacji danych wejściowych.",
            &[format!("Nieprawidłowy JSON: {e}")],
        )
    })
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a str, Response> {
    v[name].as_str().ok_or_else(|| {
        exception(
            21405,
            "Błąd walidacji danych wejściowych.",
            &[format!("Brak pola {name}.")],
        )
    })
}

/// Counts the call, answers 429 when told to, then lets the handler answer.
async fn count_and_throttle(State(inner): State<Shared>, req: Request, next: Next) -> Response {
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let endpoint = format!(
        "{} {}",
        req.method(),
        template.strip_prefix("/v2").unwrap_or(&template)
    );
    let (throttled, down) = {
        let mut state = lock(&inner);
        let down = match state.outages.get_mut(&endpoint) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        };
        let throttled = match state.throttles.get_mut(&endpoint) {
            Some(t) if t.left > 0 || t.blocked_until.is_some_and(|b| Instant::now() < b) => {
                if t.left > 0 {
                    t.left -= 1;
                    t.blocked_until =
                        Some(Instant::now() + std::time::Duration::from_secs(t.retry_after_s));
                }
                Some(t.retry_after_s)
            }
            _ => None,
        };
        (throttled, down)
    };
    let response = match throttled {
        Some(s) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("Retry-After", s.to_string())],
            Json(json!({"status": {"code": 429, "description": "Too Many Requests",
                "details": [format!("Przekroczono limit żądań dla {endpoint}. Spróbuj ponownie za {s} s.")]}})),
        )
            .into_response(),
        None if down => (
            StatusCode::SERVICE_UNAVAILABLE,
            [("Content-Type", "application/problem+json")],
            json!({"title": "Service Unavailable", "status": 503, "detail": "Usługa chwilowo niedostępna.", "timestamp": Utc::now()}).to_string(),
        )
            .into_response(),
        None => next.run(req).await,
    };
    lock(&inner).calls.push(Call {
        endpoint,
        status: response.status().as_u16(),
    });
    response
}

impl KsefStandIn {
    /// Starts on a free local port, accepting [`TOKEN`] for [`NIP`].
    pub async fn start() -> KsefStandIn {
        let started = Utc::now();
        let inner = Arc::new(Mutex::new(Inner {
            keys: vec![ServedKey::load(
                CERT_DER,
                KEY_PEM,
                started - Duration::days(1),
            )],
            token: TOKEN.into(),
            nip: NIP.into(),
            access_lifetime: Duration::minutes(15),
            auth_pending_polls: 0,
            processing_polls: 0,
            challenges: HashMap::new(),
            auths: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            sessions: HashMap::new(),
            invoices: HashMap::new(),
            registered: HashMap::new(),
            throttles: HashMap::new(),
            outages: HashMap::new(),
            calls: vec![],
            day: None,
        }));
        let v2 = Router::new()
            .route("/security/public-key-certificates", get(certificates))
            .route("/auth/challenge", post(challenge))
            .route("/auth/ksef-token", post(ksef_token))
            .route("/auth/token/redeem", post(redeem))
            .route("/auth/token/refresh", post(refresh))
            .route("/auth/{referenceNumber}", get(auth_status))
            .route("/sessions/online", post(open_session))
            .route("/sessions/online/{ref}/invoices", post(send_invoice))
            .route("/sessions/online/{ref}/close", post(close_session))
            .route("/sessions/{ref}/invoices/{invRef}", get(invoice_status))
            .route("/sessions/{ref}/invoices/{invRef}/upo", get(invoice_upo));
        let app = Router::new()
            .nest("/v2", v2)
            .layer(axum::middleware::from_fn_with_state(
                inner.clone(),
                count_and_throttle,
            ))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port");
        let addr = listener.local_addr().expect("local address");
        tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        KsefStandIn {
            inner,
            base_url: format!("http://{addr}/v2"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    /// Settings of a client for this stand-in with `token`, polling briskly.
    pub fn settings_with_token(&self, token: &str) -> crate::KsefSettings {
        let mut s =
            crate::KsefSettings::new(&self.base_url, token, NIP).expect("stand-in settings");
        s.poll_interval = std::time::Duration::from_millis(20);
        s.timeout = std::time::Duration::from_secs(30);
        s
    }

    /// Settings of a client for this stand-in with the right token.
    pub fn settings(&self) -> crate::KsefSettings {
        self.settings_with_token(TOKEN)
    }

    /// MF replaces its keys: the current ones lapse now and are refused (21470); the
    /// listing shows them expired beside the new key, valid from a minute ago.
    pub fn rotate_keys(&self) {
        let mut state = self.lock();
        let now = Utc::now();
        for key in state.keys.iter_mut() {
            key.revoked = true;
            key.valid_to = now;
        }
        state.keys.push(ServedKey::load(
            CERT2_DER,
            KEY2_PEM,
            now - Duration::minutes(1),
        ));
    }

    /// Access tokens issued from now on live this long.
    pub fn set_access_lifetime(&self, lifetime: std::time::Duration) {
        self.lock().access_lifetime = Duration::from_std(lifetime).expect("a short lifetime");
    }

    /// Authentications started from now on answer 100 to their first `polls` status calls.
    pub fn keep_authenticating(&self, polls: u32) {
        self.lock().auth_pending_polls = polls;
    }

    /// Invoices received from now on answer 150 to their first `polls` status calls.
    pub fn keep_processing(&self, polls: u32) {
        self.lock().processing_polls = polls;
    }

    /// The next `calls` calls of `endpoint` (e.g. `"POST /sessions/online/{ref}/invoices"`)
    /// answer 429 with `Retry-After: retry_after_s`; until that time has passed, so do any
    /// further calls of it.
    pub fn throttle(&self, endpoint: &str, calls: u32, retry_after_s: u64) {
        self.lock().throttles.insert(
            endpoint.to_string(),
            Throttle {
                left: calls,
                retry_after_s,
                blocked_until: None,
            },
        );
    }

    /// The next `calls` calls of `endpoint` answer 503.
    pub fn fail(&self, endpoint: &str, calls: u32) {
        self.lock().outages.insert(endpoint.to_string(), calls);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Calls of `endpoint` (`"METHOD /template"`), whatever the answer.
    pub fn count(&self, endpoint: &str) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.endpoint == endpoint)
            .count()
    }

    /// Calls per endpoint.
    pub fn counts(&self) -> std::collections::BTreeMap<String, usize> {
        let mut m = std::collections::BTreeMap::new();
        for c in self.lock().calls.iter() {
            *m.entry(c.endpoint.clone()).or_insert(0) += 1;
        }
        m
    }

    /// Sets KSeF's day (the day of acceptance), for a test whose clock is not the real one.
    pub fn set_day(&self, day: chrono::NaiveDate) {
        self.lock().day = Some(day);
    }

    /// How KSeF took an invoice: `Offline` when its `P_1` is before the day it arrived,
    /// as the status reports it (`invoicingMode`).
    pub fn invoicing_mode(&self, invoice_ref: &str) -> Option<&'static str> {
        self.lock()
            .invoices
            .get(invoice_ref)
            .map(|i| if i.offline { "Offline" } else { "Online" })
    }

    /// The bytes the stand-in decrypted for an invoice reference.
    pub fn decrypted(&self, invoice_ref: &str) -> Option<Vec<u8>> {
        self.lock()
            .invoices
            .get(invoice_ref)
            .map(|i| i.decrypted.clone())
    }

    /// Whether the online session is still open.
    pub fn session_open(&self, session_ref: &str) -> Option<bool> {
        self.lock().sessions.get(session_ref).map(|s| s.open)
    }

    /// Invoices KSeF registered (duplicates and rejections not counted).
    pub fn registered(&self) -> usize {
        self.lock().registered.len()
    }
}
