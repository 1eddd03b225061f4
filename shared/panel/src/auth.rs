//! Sign-in by a one-time link, sessions, CSRF and rate limits.
//!
//! Secrets never reach the store: a link's token and a session id are stored only as an HMAC
//! under the panel key. A link is good for 15 minutes and once; `POST /login` answers the same
//! page whether or not the address is known, so it tells nobody who is a customer.

use crate::pages::{Ctx, Page};
use crate::{Panel, State};
use axum::extract::{ConnectInfo, FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{KeyInit, Mac};
use renewals_app::panel::{Principal, Session};
use renewals_app::ports::{Content, OutboxMessage, StoreError};
use renewals_domain::{business_date, Locale, TenantId};
use serde::Deserialize;
use std::net::SocketAddr;
use subtle::ConstantTimeEq;

pub const SESSION_COOKIE: &str = "renewals_session";
/// The login form's own CSRF token (double submit: cookie and form field must match).
const LOGIN_CSRF_COOKIE: &str = "renewals_login_csrf";
pub const LOGIN_TTL_MINUTES: i64 = 15;
const SESSION_HOURS: i64 = 8;
const RATE_WINDOW_MINUTES: i64 = 15;
/// Login e-mails to operators are filed under this pseudo-tenant in the outbox.
pub const OPERATORS_OUTBOX: &str = "panel-operators";

pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).expect("the OS has randomness");
    b
}

/// 256 random bits, URL-safe.
fn new_secret() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(32))
}

impl Panel {
    /// What is stored for a secret: HMAC-SHA256 under the panel key, per purpose.
    fn keyed(&self, purpose: &str, secret: &str) -> String {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.config.key)
            .expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(b":");
        mac.update(secret.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn now(&self) -> DateTime<Utc> {
        self.svc.clock.now()
    }

    fn cookie(&self, name: &str, value: &str, max_age: i64) -> HeaderValue {
        let secure = if self.config.secure() { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
        ))
        .expect("cookie is ASCII")
    }
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Constant-time comparison of a submitted token with the expected one.
pub fn same_token(given: &str, expected: &str) -> bool {
    !expected.is_empty() && given.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// The client's address: the socket's peer for `renewals serve`; behind a Lambda Function
/// URL the last `X-Forwarded-For` entry, the one AWS itself appends.
fn client_ip(parts: &HeaderMap, connect: Option<&ConnectInfo<SocketAddr>>) -> String {
    if let Some(ConnectInfo(addr)) = connect {
        return addr.ip().to_string();
    }
    parts
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// A signed-in browser: the session and the hash it is stored under.
pub struct Signed {
    pub session: Session,
    hash: String,
}

/// A signed-in customer.
pub struct Customer {
    pub tenant: TenantId,
    pub csrf: String,
}

/// A signed-in operator.
pub struct Operator {
    pub name: String,
    pub csrf: String,
}

/// Why a request is not let in: pages go to the sign-in form, the API says 401. The wrong
/// kind of user (a customer on `/admin`) gets 404, like something that is not there.
pub enum Rejection {
    SignIn { api: bool },
    NotFound,
    Store(StoreError),
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self {
            Rejection::SignIn { api: true } => (
                StatusCode::UNAUTHORIZED,
                axum::Json(serde_json::json!({"error": "sign in first"})),
            )
                .into_response(),
            Rejection::SignIn { api: false } => Redirect::to("/login").into_response(),
            Rejection::NotFound => (StatusCode::NOT_FOUND, "Not found").into_response(),
            Rejection::Store(e) => {
                tracing::error!(error = %e, "panel store");
                (StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment").into_response()
            }
        }
    }
}

impl FromRequestParts<State> for Signed {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self, Rejection> {
        let api = parts.uri.path().starts_with("/api/");
        let Some(value) = cookie_value(&parts.headers, SESSION_COOKIE) else {
            return Err(Rejection::SignIn { api });
        };
        let hash = state.keyed("session", &value);
        match state.store.session(&hash, state.now()).await {
            Ok(Some(session)) => Ok(Signed { session, hash }),
            Ok(None) => Err(Rejection::SignIn { api }),
            Err(e) => Err(Rejection::Store(e)),
        }
    }
}

impl FromRequestParts<State> for Customer {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self, Rejection> {
        let signed = Signed::from_request_parts(parts, state).await?;
        match signed.session.who {
            Principal::Customer(tenant) => Ok(Customer {
                tenant,
                csrf: signed.session.csrf,
            }),
            Principal::Operator(_) => Err(Rejection::NotFound),
        }
    }
}

impl FromRequestParts<State> for Operator {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self, Rejection> {
        let signed = Signed::from_request_parts(parts, state).await?;
        let Principal::Operator(email) = signed.session.who else {
            return Err(Rejection::NotFound);
        };
        match state.store.operator(&email).await {
            Ok(Some(op)) => Ok(Operator {
                name: op.name,
                csrf: signed.session.csrf,
            }),
            // Removed since signing in.
            Ok(None) => Err(Rejection::SignIn { api: false }),
            Err(e) => Err(Rejection::Store(e)),
        }
    }
}

/// A form whose CSRF token did not match the session's: refused, nothing changes.
pub fn csrf_refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        "The form has expired or did not come from this site. Go back, reload the page and try again.",
    )
        .into_response()
}

pub async fn home(signed: Option<Signed>) -> Redirect {
    match signed.map(|s| s.session.who) {
        Some(Principal::Customer(_)) => Redirect::to("/panel"),
        Some(Principal::Operator(_)) => Redirect::to("/admin"),
        None => Redirect::to("/login"),
    }
}

impl axum::extract::OptionalFromRequestParts<State> for Signed {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &State,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(
            <Signed as FromRequestParts<State>>::from_request_parts(parts, state)
                .await
                .ok(),
        )
    }
}

fn login_page(state: &Panel, csrf: &str, status: StatusCode, notice: Option<&str>) -> Response {
    let mut ctx = Ctx::new(Locale::Pl);
    ctx.set("csrf", csrf);
    ctx.set("notice", notice);
    let mut response = (status, state.pages.render(Page::Login, ctx)).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        state.cookie(LOGIN_CSRF_COOKIE, csrf, 3600),
    );
    response
}

pub async fn login_form(axum::extract::State(state): axum::extract::State<State>) -> Response {
    login_page(&state, &new_secret(), StatusCode::OK, None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /login`: e-mails a link to a known customer or operator address; the answer is the
/// same for any address. Limited per address and per client IP.
pub async fn login(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Form(form): Form<LoginForm>,
) -> Response {
    let expected = cookie_value(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if !same_token(&form.csrf, &expected) {
        return csrf_refused();
    }
    let email = form.email.trim().to_lowercase();
    if email.is_empty() || !email.contains('@') || email.len() > 254 {
        return login_page(
            &state,
            &expected,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Podaj adres e-mail. / Enter an e-mail address."),
        );
    }
    let now = state.now();
    let window = DateTime::from_timestamp(
        now.timestamp() - now.timestamp().rem_euclid(RATE_WINDOW_MINUTES * 60),
        0,
    )
    .expect("valid window");
    let ip = client_ip(&headers, connect.as_ref().map(|c| &c.0));
    let limited = async {
        let by_ip = state.store.hit(&format!("ip:{ip}"), window).await?;
        let by_address = state.store.hit(&format!("address:{email}"), window).await?;
        Ok::<_, StoreError>(by_ip > state.config.per_ip || by_address > state.config.per_address)
    };
    match limited.await {
        Ok(true) => {
            return login_page(
                &state,
                &expected,
                StatusCode::TOO_MANY_REQUESTS,
                Some("Zbyt wiele prób. Spróbuj ponownie za 15 minut. / Too many attempts: try again in 15 minutes."),
            )
        }
        Ok(false) => {}
        Err(e) => return Rejection::Store(e).into_response(),
    }
    if let Err(e) = send_link(&state, &email, now).await {
        tracing::error!(error = %e, "sign-in link not sent");
        return (StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment").into_response();
    }
    let mut ctx = Ctx::new(Locale::Pl);
    ctx.set("email", &email);
    ctx.set("minutes", LOGIN_TTL_MINUTES);
    state.pages.render(Page::LoginSent, ctx).into_response()
}

/// Queues the sign-in e-mail through the outbox and delivers it, if the address belongs to
/// a customer or an operator; does nothing (and says nothing) otherwise.
async fn send_link(state: &Panel, email: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
    let (who, outbox_tenant, locale) = if let Some(op) = state.store.operator(email).await? {
        (
            Principal::Operator(op.email.clone()),
            TenantId::parse(OPERATORS_OUTBOX)?,
            Locale::Pl,
        )
    } else if let Some(tenant) = state.store.tenant_by_email(email).await? {
        let account = state.svc.account(&tenant).await?;
        (
            Principal::Customer(tenant.clone()),
            tenant,
            account.tenant.locale,
        )
    } else {
        return Ok(());
    };
    let token = new_secret();
    let hash = state.keyed("login", &token);
    let expires = now + Duration::minutes(LOGIN_TTL_MINUTES);
    state.store.put_login_token(&hash, &who, expires).await?;
    let link = format!("{}/login/{token}", state.config.public_url);
    let email_message = state.pages.login_email(locale, email, &link, expires);
    let message_id = format!("login.{}", &hash[..24]);
    let mime = state.renderer.mime(&email_message, &message_id, now);
    let message = OutboxMessage {
        key: format!("login:{}", &hash[..32]),
        tenant: outbox_tenant,
        kind: "login".into(),
        to: email_message.to,
        subject: email_message.subject,
        document: None,
        date: business_date(now),
        // Composed here: the link's secret token is in the message, never in a letter.
        content: Content::Mime(mime),
    };
    state
        .svc
        .store
        .commit(renewals_app::ports::Change {
            emails: vec![message],
            ..Default::default()
        })
        .await?;
    state.svc.deliver().await?;
    Ok(())
}

/// `GET /login/{token}`: a valid link starts a session (303 to `/panel` or `/admin`); a used,
/// expired or unknown one says so.
pub async fn follow_link(
    axum::extract::State(state): axum::extract::State<State>,
    Path(token): Path<String>,
) -> Response {
    let now = state.now();
    let who = match state
        .store
        .take_login_token(&state.keyed("login", &token), now)
        .await
    {
        Ok(Some(who)) => who,
        Ok(None) => {
            let mut ctx = Ctx::new(Locale::Pl);
            ctx.set("minutes", LOGIN_TTL_MINUTES);
            return (StatusCode::GONE, state.pages.render(Page::LinkInvalid, ctx)).into_response();
        }
        Err(e) => return Rejection::Store(e).into_response(),
    };
    let value = new_secret();
    let session = Session {
        who: who.clone(),
        csrf: new_secret(),
        expires: now + Duration::hours(SESSION_HOURS),
    };
    if let Err(e) = state
        .store
        .put_session(&state.keyed("session", &value), &session)
        .await
    {
        return Rejection::Store(e).into_response();
    }
    let to = match who {
        Principal::Customer(_) => "/panel",
        Principal::Operator(_) => "/admin",
    };
    let mut response = Redirect::to(to).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        state.cookie(SESSION_COOKIE, &value, SESSION_HOURS * 3600),
    );
    response
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout(
    axum::extract::State(state): axum::extract::State<State>,
    signed: Signed,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !same_token(&form.csrf, &signed.session.csrf) {
        return csrf_refused();
    }
    if let Err(e) = state.store.delete_session(&signed.hash).await {
        return Rejection::Store(e).into_response();
    }
    let mut response = Redirect::to("/login").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, state.cookie(SESSION_COOKIE, "", 0));
    response
}
