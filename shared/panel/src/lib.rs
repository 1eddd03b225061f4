//! The web panel (DESIGN §3 "Panel"): sign-in by a one-time link, customer pages under
//! `/panel`, operator pages under `/admin`, their JSON twins under `/api`. One axum router,
//! served by `renewals serve` next to the webhook and by the panel Lambda.
//!
//! Every page is server-rendered (`minijinja`, auto-escaped) and every change goes through the
//! same use cases as the CLI (`Service`), so refusals read the same.

mod admin;
mod api;
mod auth;
mod customer;
mod pages;

use axum::routing::{get, post};
use axum::Router;
use renewals_app::audit::Actor;
use renewals_app::panel::PanelStore;
use renewals_app::service::Service;
use renewals_email::Renderer;
use std::future::Future;
use std::sync::{Arc, Mutex};

pub use auth::{LOGIN_TTL_MINUTES, SESSION_COOKIE};

/// How the panel is reached and what signs its secrets.
#[derive(Clone)]
pub struct PanelConfig {
    /// `RENEWALS_PUBLIC_URL`: the base of the links in sign-in e-mails. Cookies are `Secure`
    /// when it is `https`.
    pub public_url: String,
    /// The key sign-in links and session ids are hashed with before they are stored
    /// (`RENEWALS_PANEL_KEY`; in AWS from Secrets Manager): a copy of the table is no key.
    pub key: Vec<u8>,
    /// Sign-in links asked per address, and per client IP, in 15 minutes.
    pub per_address: u32,
    pub per_ip: u32,
}

impl PanelConfig {
    /// From the environment: `RENEWALS_PUBLIC_URL` (default `http://127.0.0.1:8080`) and
    /// `RENEWALS_PANEL_KEY` (at least 32 characters). Without a key, a random one for this
    /// process: safe, but sessions do not survive a restart.
    pub fn from_env() -> anyhow::Result<PanelConfig> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<PanelConfig> {
        let public_url = get("RENEWALS_PUBLIC_URL")
            .unwrap_or_else(|| "http://127.0.0.1:8080".into())
            .trim_end_matches('/')
            .to_string();
        let key = match get("RENEWALS_PANEL_KEY") {
            Some(k) if k.len() >= 32 => k.into_bytes(),
            Some(_) => anyhow::bail!("RENEWALS_PANEL_KEY must be at least 32 characters"),
            None => auth::random_bytes(32),
        };
        Ok(PanelConfig::new(public_url, key))
    }

    pub fn new(public_url: String, key: Vec<u8>) -> PanelConfig {
        PanelConfig {
            public_url,
            key,
            per_address: 5,
            per_ip: 30,
        }
    }

    fn secure(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// What every handler shares.
pub struct Panel {
    pub svc: Arc<Service>,
    pub store: Arc<dyn PanelStore>,
    pub config: PanelConfig,
    renderer: Renderer,
    pages: pages::Pages,
    /// Work started after an answer (the sign-in e-mail), awaited by `settle`.
    later: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

pub type State = Arc<Panel>;

impl Panel {
    /// The service acting for a signed-in customer: the mailbox the sign-in link went to,
    /// the tenant's billing address (the tenant's id if the account cannot be read now).
    pub async fn as_customer(&self, c: &auth::Customer) -> Service {
        let who = match self.svc.account(&c.tenant).await {
            Ok(account) => account.tenant.email.as_str().to_string(),
            Err(_) => c.tenant.to_string(),
        };
        self.svc.acting_as(Actor::Customer(who))
    }

    /// The service acting for a signed-in operator.
    pub fn as_operator(&self, op: &auth::Operator) -> Service {
        self.svc.acting_as(Actor::Operator(op.name.clone()))
    }

    pub fn new(svc: Arc<Service>, store: Arc<dyn PanelStore>, config: PanelConfig) -> State {
        let renderer = Renderer::from_settings(&svc.settings);
        Arc::new(Panel {
            pages: pages::Pages::new(&svc.settings.mail.reseller_name),
            svc,
            store,
            config,
            renderer,
            later: Mutex::new(vec![]),
        })
    }

    /// Runs `work` off the request path: `renewals serve` just lets it run; the Lambda
    /// awaits `settle` after each answer is sent, before it asks for the next event (a
    /// frozen sandbox would otherwise hold the e-mail until the next request).
    pub(crate) fn later(&self, work: impl Future<Output = ()> + Send + 'static) {
        let mut pending = self.later.lock().unwrap_or_else(|p| p.into_inner());
        pending.retain(|h| !h.is_finished());
        pending.push(tokio::spawn(work));
    }

    /// Waits for everything `later` started.
    pub async fn settle(&self) {
        let pending: Vec<_> =
            std::mem::take(&mut *self.later.lock().unwrap_or_else(|p| p.into_inner()));
        for handle in pending {
            if let Err(e) = handle.await {
                tracing::error!(error = %e, "work after an answer failed");
            }
        }
    }
}

/// The panel's routes. Path parameters that are document numbers use `-` for `/`
/// (`PF-2026-01-0001`).
pub fn router(state: State) -> Router {
    Router::new()
        .route("/", get(auth::home))
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/login/{token}", get(auth::follow_link))
        .route("/logout", post(auth::logout))
        .route("/panel", get(customer::home))
        .route("/panel/subscriptions/{id}", get(customer::subscription))
        .route(
            "/panel/subscriptions/{id}/seats",
            get(customer::seats_preview).post(customer::seats_order),
        )
        .route(
            "/panel/subscriptions/{id}/renewal-off",
            post(customer::renewal_off),
        )
        .route(
            "/panel/subscriptions/{id}/plan",
            post(customer::plan_change),
        )
        .route("/panel/documents/{number}", get(customer::document))
        .route("/panel/documents/{number}/pdf", get(customer::document_pdf))
        .route("/api/subscriptions", get(api::subscriptions))
        .route("/api/documents", get(api::documents))
        .route("/api/subscriptions/{id}/seats", post(api::add_seats))
        .route("/api/admin/overdue", get(api::overdue))
        .route("/admin", get(admin::dashboard))
        .route("/admin/reviews", get(admin::reviews))
        .route("/admin/reviews/apply", post(admin::apply_review))
        .route("/admin/reviews/refund", post(admin::refund_review))
        .route("/admin/outbox", get(admin::outbox))
        .route("/admin/outbox/retry", post(admin::retry))
        .route("/admin/tenants", get(admin::tenants))
        .route("/admin/tenants/{id}", get(admin::tenant))
        .with_state(state)
}
