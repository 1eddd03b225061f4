//! An HTTP stand-in of KSeF (API 2.0) for tests, faithful to API.md and the OpenAPI where our
//! calls land. It serves its own RSA certificate (a fixture, see below), issues challenges,
//! really decrypts the KSeF token (RSA-OAEP-SHA256) and checks `token|timestampMs` (wrong →
//! authentication status 450), redeems an authentication once (again → 21301), refreshes,
//! expires access tokens (401), opens sessions by decrypting their AES key, decrypts every
//! invoice and checks its hashes and sizes (21403/21402), validates it against the FA(3) XSD
//! (430 with the validator's message), checks that `Podmiot1` is the context's NIP (410),
//! finds duplicates `(NIP, RodzajFaktury, P_2)` (440 + `originalKsefNumber`), issues KSeF
//! numbers with a correct CRC and serves UPOs. It counts every call per endpoint and can be
//! told to answer 429 + `Retry-After` or to keep invoices processing (150) for some polls.
//!
//! The certificate and key in `standin/` were made once with
//! `openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 7300
//!  -subj "/CN=KSeF stand-in/O=renewals tests" -sha256` and
//! `openssl x509 -in cert.pem -outform DER -out cert.der` (a test key, guarding nothing).

// Helpers return the reply to send as their error; its size does not matter in a test stand-in.
#![allow(clippy::result_large_err)]

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

async fn certificates(State(inner): State<Shared>) -> Response {
    let state = lock(&inner);
    // The certificates' own dates are those of the machine that made them; the listing says
    // a key is valid from a day before the stand-in started, so any clock accepts it.
    let mut list = vec![];
    for key in &state.keys {
        for usage in ["KsefTokenEncryption", "SymmetricKeyEncryption"] {
            list.push(json!({
                "certificate": b64(key.cert),
                "certificateId": sha256_b64(key.cert),
                "publicKeyId": key.id,
                "validFrom": key.valid_from,
                "validTo": key.valid_to,
                "usage": [usage],
            }));
        }
    }
    Json(Value::Array(list)).into_response()
}

/// The private key for `publicKeyId` (21470 when unknown or revoked); without one, the
/// current key.
fn private_key<'a>(state: &'a Inner, id: Option<&str>) -> Result<&'a RsaPrivateKey, Response> {
    let key = match id {
        Some(id) => state.keys.iter().find(|k| k.id == id && !k.revoked),
        None => state.keys.iter().rfind(|k| !k.revoked),
    };
    key.map(|k| &k.private).ok_or_else(|| {
        exception(
            21470,
            "Nieznany lub unieważniony klucz publiczny.",
            &[format!("publicKeyId {}", id.unwrap_or("(brak)"))],
        )
    })
}

async fn challenge(State(inner): State<Shared>) -> Response {
    let now = Utc::now();
    let challenge = reference("CR", today_in_poland());
    lock(&inner)
        .challenges
        .insert(challenge.clone(), (now_ms(now), now, false));
    Json(json!({
        "challenge": challenge,
        "timestamp": now,
        "timestampMs": now_ms(now),
        "clientIp": "127.0.0.1",
    }))
    .into_response()
}

async fn ksef_token(State(inner): State<Shared>, body: Bytes) -> Response {
    let body = match parse(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (challenge, encrypted) = match (field(&body, "challenge"), field(&body, "encryptedToken")) {
        (Ok(c), Ok(e)) => (c.to_string(), e.to_string()),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let ctx_type = body["contextIdentifier"]["type"].as_str().unwrap_or("");
    let ctx_value = body["contextIdentifier"]["value"]
        .as_str()
        .unwrap_or("")
        .to_string();
    if !["Nip", "InternalId", "NipVatUe", "PeppolId"].contains(&ctx_type) || ctx_value.is_empty() {
        return exception(
            21405,
            "Błąd walidacji danych wejściowych.",
            &["Nieprawidłowy contextIdentifier.".into()],
        );
    }
    let mut state = lock(&inner);
    let key = match private_key(&state, body["publicKeyId"].as_str()) {
        Ok(k) => k.clone(),
        Err(r) => return r,
    };
    let fresh = match state.challenges.get_mut(&challenge) {
        Some((ms, at, used)) if !*used && Utc::now() - *at < Duration::minutes(10) => {
            *used = true;
            Some(*ms)
        }
        _ => None,
    };
    let Some(timestamp_ms) = fresh else {
        return exception(
            21111,
            "Nieprawidłowe wyzwanie autoryzacyjne.",
            &[format!("{challenge}: nieznane, użyte lub przeterminowane.")],
        );
    };
    // Really decrypt and compare `token|timestampMs`.
    let plain = unb64(&encrypted)
        .ok()
        .and_then(|c| key.decrypt(Oaep::new::<Sha256>(), &c).ok())
        .and_then(|p| String::from_utf8(p).ok());
    let expected = format!("{}|{timestamp_ms}", state.token);
    let (code, description) = if plain.as_deref() != Some(expected.as_str()) {
        (
            450,
            "Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu, wyzwania lub czasu.",
        )
    } else if ctx_type != "Nip" || ctx_value != state.nip {
        (
            415,
            "Uwierzytelnianie zakończone niepowodzeniem z powodu braku przypisanych uprawnień.",
        )
    } else {
        (200, "Uwierzytelnianie zakończone sukcesem")
    };
    let reference_number = reference("AU", today_in_poland());
    let auth_token = opaque_token("authentication");
    let token_until = Utc::now() + Duration::minutes(15);
    let pending_polls = state.auth_pending_polls;
    state.auths.insert(
        reference_number.clone(),
        AuthOp {
            auth_token: auth_token.clone(),
            token_until,
            nip: ctx_value,
            code,
            description: description.into(),
            pending_polls,
            redeemed: false,
            started: Utc::now(),
        },
    );
    (
        StatusCode::ACCEPTED,
        Json(json!({
            "referenceNumber": reference_number,
            "authenticationToken": {"token": auth_token, "validUntil": token_until},
        })),
    )
        .into_response()
}

/// The authentication operation whose authentication token is the bearer.
fn auth_op<'a>(
    state: &'a mut Inner,
    headers: &HeaderMap,
) -> Result<(String, &'a mut AuthOp), Response> {
    let token = bearer(headers).ok_or_else(|| unauthorized("Brak tokenu uwierzytelniania."))?;
    state
        .auths
        .iter_mut()
        .find(|(_, op)| op.auth_token == token)
        .filter(|(_, op)| Utc::now() < op.token_until)
        .map(|(r, op)| (r.clone(), op))
        .ok_or_else(|| unauthorized("Nieprawidłowy lub przeterminowany token uwierzytelniania."))
}

async fn auth_status(
    State(inner): State<Shared>,
    Path(reference_number): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut state = lock(&inner);
    let (op_ref, op) = match auth_op(&mut state, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if op_ref != reference_number {
        return unauthorized("Token uwierzytelniania dotyczy innej operacji.");
    }
    let (code, description) = if op.pending_polls > 0 {
        op.pending_polls -= 1;
        (100, "Uwierzytelnianie w toku".to_string())
    } else {
        (op.code, op.description.clone())
    };
    Json(json!({
        "startDate": op.started,
        "authenticationMethod": "Token",
        "authenticationMethodInfo": {"category": "Token", "code": "token.ksef", "displayName": "Token KSeF"},
        "status": {"code": code, "description": description},
        "isTokenRedeemed": op.redeemed,
    }))
    .into_response()
}

fn issue_access(state: &mut Inner, nip: &str) -> (String, DateTime<Utc>) {
    let token = opaque_token("access");
    let until = Utc::now() + state.access_lifetime;
    state.access.insert(
        token.clone(),
        Grant {
            nip: nip.to_string(),
            until,
        },
    );
    (token, until)
}

async fn redeem(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    let mut state = lock(&inner);
    let (op_ref, op) = match auth_op(&mut state, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if op.redeemed {
        return exception(
            21301,
            "Brak autoryzacji.",
            &[format!("Tokeny dla {op_ref} zostały już pobrane.")],
        );
    }
    if op.pending_polls > 0 || op.code != 200 {
        return exception(
            21301,
            "Brak autoryzacji.",
            &[format!(
                "Uwierzytelnianie {op_ref} nie zakończyło się sukcesem."
            )],
        );
    }
    op.redeemed = true;
    let nip = op.nip.clone();
    let (access, access_until) = issue_access(&mut state, &nip);
    let refresh = opaque_token("refresh");
    let refresh_until = Utc::now() + Duration::days(7);
    state.refresh.insert(
        refresh.clone(),
        Grant {
            nip,
            until: refresh_until,
        },
    );
    Json(json!({
        "accessToken": {"token": access, "validUntil": access_until},
        "refreshToken": {"token": refresh, "validUntil": refresh_until},
    }))
    .into_response()
}

async fn refresh(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    let mut state = lock(&inner);
    let Some(token) = bearer(&headers) else {
        return unauthorized("Brak tokenu odświeżającego.");
    };
    let nip = match state.refresh.get(&token) {
        Some(g) if Utc::now() < g.until => g.nip.clone(),
        Some(_) => return unauthorized("Token odświeżający wygasł."),
        None => {
            return exception(
                21301,
                "Brak autoryzacji.",
                &["Nieznany lub unieważniony token odświeżający.".into()],
            )
        }
    };
    let (access, access_until) = issue_access(&mut state, &nip);
    Json(json!({"accessToken": {"token": access, "validUntil": access_until}})).into_response()
}

async fn open_session(State(inner): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut state = lock(&inner);
    let nip = match access_nip(&state, &headers) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let body = match parse(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let form = &body["formCode"];
    if form["systemCode"] != "FA (3)" || form["schemaVersion"] != "1-0E" || form["value"] != "FA" {
        return exception(
            21405,
            "Błąd walidacji danych wejściowych.",
            &[format!("Nieobsługiwany formCode {form}.")],
        );
    }
    let enc = &body["encryption"];
    let private = match private_key(&state, enc["publicKeyId"].as_str()) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let key = enc["encryptedSymmetricKey"]
        .as_str()
        .and_then(|k| unb64(k).ok())
        .and_then(|c| private.decrypt(Oaep::new::<Sha256>(), &c).ok())
        .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok());
    let iv = enc["initializationVector"]
        .as_str()
        .and_then(|v| unb64(v).ok())
        .and_then(|v| <[u8; 16]>::try_from(v.as_slice()).ok());
    let (Some(key), Some(iv)) = (key, iv) else {
        return exception(
            21405,
            "Błąd walidacji danych wejściowych.",
            &["Nie udało się odszyfrować klucza symetrycznego (32 B) lub odczytać wektora IV (16 B).".into()],
        );
    };
    let reference_number = reference("SO", today_in_poland());
    state.sessions.insert(
        reference_number.clone(),
        Session {
            nip,
            key,
            iv,
            open: true,
            invoices: 0,
        },
    );
    (
        StatusCode::CREATED,
        Json(json!({"referenceNumber": reference_number, "validUntil": Utc::now() + Duration::hours(12)})),
    )
        .into_response()
}

/// Validates against the FA(3) XSD with the project's Python `xmlschema`: `Ok(())`, or the
/// validator's reasons.
fn validate_fa3(xml: &[u8]) -> Result<(), Result<String, String>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let schema = root.join("shared/invoices/schema/fa3/schemat_FA(3)_v1-0E.xsd");
    let python = root.join(".venv/bin/python");
    if !python.exists() {
        return Err(Err(format!(
            "{} is missing: run scripts/xmlschema.sh (scripts/test does)",
            python.display()
        )));
    }
    let file = std::env::temp_dir().join(format!("ksef-standin-{}.xml", uuid::Uuid::new_v4()));
    if let Err(e) = std::fs::write(&file, xml) {
        return Err(Err(format!("cannot write {}: {e}", file.display())));
    }
    const SCRIPT: &str = r#"
import sys, xmlschema
try:
    schema = xmlschema.XMLSchema(sys.argv[2])
    errors = [f"{e.path}: {e.reason}" for e in schema.iter_errors(sys.argv[1])]
except xmlschema.XMLSchemaException as e:
    errors = [str(e).strip().splitlines()[0]]
except Exception as e:
    errors = [f"{type(e).__name__}: {e}"]
print("\n".join(errors))
sys.exit(3 if errors else 0)
"#;
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(&file)
        .arg(&schema)
        .output();
    let _ = std::fs::remove_file(&file);
    match out {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) if o.status.code() == Some(3) => {
            Err(Ok(String::from_utf8_lossy(&o.stdout).trim().to_string()))
        }
        Ok(o) => Err(Err(format!(
            "the XSD validator failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ))),
        Err(e) => Err(Err(format!("the XSD validator did not start: {e}"))),
    }
}

fn upo_xml(ksef: &str, number: &str, nip: &str, hash: &str, at: DateTime<Utc>) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Potwierdzenie xmlns=\"http://upo.schematy.mf.gov.pl/KSeF/v4-3\"><NazwaPodmiotuPrzyjmujacego>Stand-in KSeF (testy)</NazwaPodmiotuPrzyjmujacego><Uwierzytelnienie><IdKontekstu><Nip>{nip}</Nip></IdKontekstu></Uwierzytelnienie><Dokument><NipSprzedawcy>{nip}</NipSprzedawcy><NumerKSeFDokumentu>{ksef}</NumerKSeFDokumentu><NumerFaktury>{}</NumerFaktury><DataPrzeslaniaDokumentu>{}</DataPrzeslaniaDokumentu><SkrotDokumentu>{hash}</SkrotDokumentu></Dokument></Potwierdzenie>\n",
        number.replace('&', "&amp;").replace('<', "&lt;"),
        at.to_rfc3339()
    )
    .into_bytes()
}

async fn send_invoice(
    State(inner): State<Shared>,
    Path(session_ref): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bad = |code: u32, what: String| {
        exception(
            code,
            if code == 21403 {
                "Nieprawidłowy skrót faktury."
            } else {
                "Nieprawidłowy rozmiar faktury."
            },
            &[what],
        )
    };
    let (nip, plain, invoice_hash) = {
        let state = lock(&inner);
        let token_nip = match access_nip(&state, &headers) {
            Ok(n) => n,
            Err(r) => return r,
        };
        let Some(session) = state.sessions.get(&session_ref) else {
            return exception(
                21173,
                "Brak sesji o wskazanym numerze referencyjnym.",
                &[session_ref],
            );
        };
        if !session.open {
            return exception(
                21180,
                "Status sesji nie pozwala na wykonanie operacji.",
                &[format!("{session_ref} jest zamknięta.")],
            );
        }
        if session.nip != token_nip {
            return exception(
                21405,
                "Błąd walidacji danych wejściowych.",
                &["Sesja należy do innego kontekstu.".into()],
            );
        }
        let body = match parse(&body) {
            Ok(v) => v,
            Err(r) => return r,
        };
        let content = match field(&body, "encryptedInvoiceContent").map(unb64) {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                return exception(
                    21405,
                    "Błąd walidacji danych wejściowych.",
                    &[format!("encryptedInvoiceContent: {e}")],
                )
            }
            Err(r) => return r,
        };
        if body["encryptedInvoiceSize"].as_u64() != Some(content.len() as u64) {
            return bad(
                21402,
                format!(
                    "encryptedInvoiceSize {} ≠ {} B",
                    body["encryptedInvoiceSize"],
                    content.len()
                ),
            );
        }
        if body["encryptedInvoiceHash"].as_str() != Some(sha256_b64(&content).as_str()) {
            return bad(
                21403,
                "encryptedInvoiceHash nie odpowiada zawartości.".into(),
            );
        }
        let plain = aes_decrypt(&session.key, &session.iv, &content);
        if let Ok(plain) = &plain {
            if body["invoiceSize"].as_u64() != Some(plain.len() as u64) {
                return bad(
                    21402,
                    format!("invoiceSize {} ≠ {} B", body["invoiceSize"], plain.len()),
                );
            }
            if body["invoiceHash"].as_str() != Some(sha256_b64(plain).as_str()) {
                return bad(
                    21403,
                    "invoiceHash nie odpowiada odszyfrowanej fakturze.".into(),
                );
            }
        }
        let hash = body["invoiceHash"].as_str().unwrap_or("").to_string();
        (session.nip.clone(), plain, hash)
    };
    // Processing: decryption, XSD, seller, duplicate (the verdict shows in the status).
    let received = Utc::now();
    let mut record = StoredInvoice {
        session: session_ref.clone(),
        ordinal: 0,
        number: None,
        hash: invoice_hash.clone(),
        code: 200,
        description: "Sukces".into(),
        details: vec![],
        extensions: None,
        ksef_number: None,
        upo: None,
        processing_polls: 0,
        decrypted: vec![],
        received,
    };
    let mut verdict_needs_registry = false;
    match plain {
        Err(e) => {
            record.code = 435;
            record.description = "Błąd odszyfrowania pliku".into();
            record.details = vec![e];
        }
        Ok(plain) => {
            record.decrypted = plain.clone();
            let checked = tokio::task::spawn_blocking(move || validate_fa3(&plain)).await;
            match checked {
                Ok(Ok(())) => verdict_needs_registry = true,
                Ok(Err(Ok(reason))) => {
                    record.code = 430;
                    record.description = "Błąd weryfikacji pliku faktury".into();
                    record.details = vec![reason];
                }
                Ok(Err(Err(why))) => {
                    record.code = 500;
                    record.description = "Nieznany błąd (stand-in)".into();
                    record.details = vec![why];
                }
                Err(e) => {
                    record.code = 500;
                    record.description = "Nieznany błąd (stand-in)".into();
                    record.details = vec![format!("the XSD validator crashed: {e}")];
                }
            }
        }
    }
    let mut state = lock(&inner);
    record.processing_polls = state.processing_polls;
    if verdict_needs_registry {
        match invoice_fields(&record.decrypted) {
            Err(e) => {
                record.code = 430;
                record.description = "Błąd weryfikacji pliku faktury".into();
                record.details = vec![e];
            }
            Ok(fields) => {
                record.number = Some(fields.number.clone());
                let today = today_in_poland();
                if fields.seller_nip != nip {
                    record.code = 410;
                    record.description = "Nieprawidłowy zakres uprawnień".into();
                    record.details = vec![format!(
                        "NIP sprzedawcy {} (Podmiot1) nie jest NIP-em kontekstu {nip}.",
                        fields.seller_nip
                    )];
                } else if chrono::NaiveDate::parse_from_str(&fields.issued, "%Y-%m-%d")
                    .is_ok_and(|p1| p1 > today)
                {
                    record.code = 450;
                    record.description = "Błąd weryfikacji semantyki dokumentu faktury".into();
                    record.details = vec![format!(
                        "Data wystawienia P_1 {} jest późniejsza niż data przyjęcia {today}.",
                        fields.issued
                    )];
                } else if let Some((original, original_session)) =
                    state.registered.get(&fields.duplicate_key()).cloned()
                {
                    record.code = 440;
                    record.description = "Duplikat faktury".into();
                    record.details = vec![format!(
                        "Faktura o numerze {} jest już zarejestrowana jako {original}.",
                        fields.number
                    )];
                    record.extensions = Some(
                        json!({"originalSessionReferenceNumber": original_session, "originalKsefNumber": original}),
                    );
                } else {
                    let ksef = ksef_number(&nip, today, rand::thread_rng().gen::<u64>());
                    state
                        .registered
                        .insert(fields.duplicate_key(), (ksef.clone(), session_ref.clone()));
                    record.upo = Some(upo_xml(
                        &ksef,
                        &fields.number,
                        &nip,
                        &invoice_hash,
                        received,
                    ));
                    record.ksef_number = Some(ksef);
                }
            }
        }
    }
    let Some(session) = state.sessions.get_mut(&session_ref) else {
        return exception(
            21173,
            "Brak sesji o wskazanym numerze referencyjnym.",
            &[session_ref],
        );
    };
    session.invoices += 1;
    record.ordinal = session.invoices;
    let invoice_ref = reference("EE", today_in_poland());
    state.invoices.insert(invoice_ref.clone(), record);
    (
        StatusCode::ACCEPTED,
        Json(json!({"referenceNumber": invoice_ref})),
    )
        .into_response()
}

/// The invoice `invoice_ref` of session `session_ref`, for a valid access token of its context.
fn invoice_of<'a>(
    state: &'a mut Inner,
    headers: &HeaderMap,
    session_ref: &str,
    invoice_ref: &str,
) -> Result<&'a mut StoredInvoice, Response> {
    let nip = access_nip(state, headers)?;
    match state.sessions.get(session_ref) {
        Some(s) if s.nip == nip => {}
        _ => {
            return Err(exception(
                21173,
                "Brak sesji o wskazanym numerze referencyjnym.",
                &[session_ref.to_string()],
            ))
        }
    }
    state
        .invoices
        .get_mut(invoice_ref)
        .filter(|i| i.session == session_ref)
        .ok_or_else(|| {
            exception(
                21178,
                "Nie znaleziono faktury o podanym numerze referencyjnym.",
                &[invoice_ref.to_string()],
            )
        })
}

async fn invoice_status(
    State(inner): State<Shared>,
    Path((session_ref, invoice_ref)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut state = lock(&inner);
    let invoice = match invoice_of(&mut state, &headers, &session_ref, &invoice_ref) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let mut body = json!({
        "ordinalNumber": invoice.ordinal,
        "invoiceNumber": invoice.number,
        "referenceNumber": invoice_ref,
        "invoiceHash": invoice.hash,
        "invoicingDate": invoice.received,
        "invoicingMode": "Online",
    });
    if invoice.processing_polls > 0 {
        invoice.processing_polls -= 1;
        body["status"] = json!({"code": 150, "description": "Trwa przetwarzanie"});
        return Json(body).into_response();
    }
    let mut status = json!({"code": invoice.code, "description": invoice.description});
    if !invoice.details.is_empty() {
        status["details"] = json!(invoice.details);
    }
    if let Some(x) = &invoice.extensions {
        status["extensions"] = x.clone();
    }
    body["status"] = status;
    if let Some(k) = &invoice.ksef_number {
        body["ksefNumber"] = json!(k);
        body["acquisitionDate"] = json!(invoice.received);
        body["permanentStorageDate"] = json!(invoice.received);
    }
    Json(body).into_response()
}

async fn invoice_upo(
    State(inner): State<Shared>,
    Path((session_ref, invoice_ref)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut state = lock(&inner);
    let invoice = match invoice_of(&mut state, &headers, &session_ref, &invoice_ref) {
        Ok(i) => i,
        Err(r) => return r,
    };
    match (&invoice.upo, invoice.processing_polls) {
        (Some(upo), 0) => (
            [
                ("Content-Type", "application/xml".to_string()),
                ("x-ms-meta-hash", sha256_b64(upo)),
            ],
            upo.clone(),
        )
            .into_response(),
        _ => exception(
            21178,
            "Nie znaleziono UPO dla podanych parametrów.",
            &[invoice_ref],
        ),
    }
}

async fn close_session(
    State(inner): State<Shared>,
    Path(session_ref): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut state = lock(&inner);
    let nip = match access_nip(&state, &headers) {
        Ok(n) => n,
        Err(r) => return r,
    };
    match state.sessions.get_mut(&session_ref) {
        Some(s) if s.nip == nip && s.open => {
            s.open = false;
            StatusCode::NO_CONTENT.into_response()
        }
        Some(s) if s.nip == nip => exception(
            21180,
            "Status sesji nie pozwala na wykonanie operacji.",
            &[format!("{session_ref} jest już zamknięta.")],
        ),
        _ => exception(
            21173,
            "Brak sesji o wskazanym numerze referencyjnym.",
            &[session_ref],
        ),
    }
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
