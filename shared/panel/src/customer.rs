//! The customer's pages under `/panel`: their subscriptions and documents only. Anything of
//! another tenant answers 404, exactly like something that does not exist.

use crate::auth::{csrf_refused, same_token, Customer};
use crate::pages::{self, document_row, subscription_row, Ctx, Page};
use crate::{Panel, State};
use axum::extract::{Path, Query};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use renewals_app::error::ServiceError;
use renewals_domain::{
    Account, Document, DocumentKind, DocumentNumber, Effect, Numbering, ProductKind, SeriesKey,
    Subscription, Totals,
};
use serde::Deserialize;

pub fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not found").into_response()
}

pub fn unavailable(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "panel");
    (StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment").into_response()
}

impl Panel {
    pub(crate) fn product_name(&self, sku: &str) -> String {
        self.svc
            .settings
            .catalog
            .product(sku)
            .map_or_else(|| sku.to_string(), |p| p.name.clone())
    }

    fn customer_ctx(&self, c: &Customer, account: &Account) -> Ctx {
        let mut ctx = Ctx::new(account.tenant.locale);
        ctx.set("who", &account.tenant.name).set("csrf", &c.csrf);
        ctx
    }

    /// The signed-in customer's own document, by its number in a path.
    pub(crate) async fn own_document(
        &self,
        c: &Customer,
        slug: &str,
    ) -> Result<Option<Document>, Response> {
        let Ok(number) = DocumentNumber::parse(&slug.replace('-', "/")) else {
            return Ok(None);
        };
        match self.svc.store.document(&number).await {
            Ok(Some(d)) if d.tenant == c.tenant => Ok(Some(d)),
            Ok(_) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }
}

fn own_subscription<'a>(account: &'a Account, id: &str) -> Option<&'a Subscription> {
    account.subscriptions.iter().find(|s| s.id.as_str() == id)
}

async fn account(state: &Panel, c: &Customer) -> Result<Account, Response> {
    state.svc.account(&c.tenant).await.map_err(unavailable)
}

#[derive(Deserialize, Default)]
pub struct Flash {
    #[serde(default)]
    done: Option<String>,
}

/// What a `?done=` after a redirect says.
fn flash(state: &Panel, account: &Account, done: Option<&str>) -> Option<String> {
    let key = match done? {
        "order" => "order_issued",
        "renewal-off" => "renewal_turned_off",
        "plan" => "plan_scheduled",
        _ => return None,
    };
    Some(state.pages.label(account.tenant.locale, key))
}

pub async fn home(
    axum::extract::State(state): axum::extract::State<State>,
    c: Customer,
    Query(f): Query<Flash>,
) -> Response {
    let account = match account(&state, &c).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut documents = match state.svc.store.documents_of(&c.tenant).await {
        Ok(d) => d,
        Err(e) => return unavailable(e),
    };
    documents.sort_by(|a, b| {
        (b.issue_date, b.number.to_string()).cmp(&(a.issue_date, a.number.to_string()))
    });
    let locale = account.tenant.locale;
    let subs: Vec<_> = account
        .subscriptions
        .iter()
        .map(|s| subscription_row(&state.pages, s, locale, |p| state.product_name(p)))
        .collect();
    let docs: Vec<_> = documents
        .iter()
        .map(|d| document_row(&state.pages, d, locale))
        .collect();
    let mut ctx = state.customer_ctx(&c, &account);
    ctx.set("tenant", serde_json::json!({"name": account.tenant.name}))
        .set("subscriptions", subs)
        .set("documents", docs)
        .set("flash", flash(&state, &account, f.done.as_deref()))
        .set("title", state.pages.label(locale, "subscriptions"));
    state.pages.render(Page::Panel, ctx).into_response()
}

async fn subscription_page(
    state: &Panel,
    c: &Customer,
    id: &str,
    error: Option<String>,
    done: Option<&str>,
) -> Response {
    let account = match account(state, c).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(sub) = own_subscription(&account, id) else {
        return not_found();
    };
    let locale = account.tenant.locale;
    let products: Vec<(String, String)> = state
        .svc
        .settings
        .catalog
        .products
        .iter()
        .filter(|p| p.kind == ProductKind::Subscription && p.sku != sub.product)
        .map(|p| (p.sku.clone(), p.name.clone()))
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut ctx = state.customer_ctx(c, &account);
    ctx.set(
        "s",
        subscription_row(&state.pages, sub, locale, |p| state.product_name(p)),
    )
    .set("products", products)
    .set("error", error)
    .set("flash", flash(state, &account, done))
    .set("title", state.product_name(&sub.product));
    (status, state.pages.render(Page::Subscription, ctx)).into_response()
}

pub async fn subscription(
    axum::extract::State(state): axum::extract::State<State>,
    c: Customer,
    Path(id): Path<String>,
    Query(f): Query<Flash>,
) -> Response {
    subscription_page(&state, &c, &id, None, f.done.as_deref()).await
}

#[derive(Deserialize)]
pub struct SeatsQuery {
    seats: String,
}

/// The price of the seats before anything is ordered: the domain's own order decision run
/// on a copy of the account, so the price and any refusal are exactly those of the order.
pub async fn seats_preview(
    axum::extract::State(state): axum::extract::State<State>,
    c: Customer,
    Path(id): Path<String>,
    Query(q): Query<SeatsQuery>,
) -> Response {
    let account = match account(&state, &c).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(sub) = own_subscription(&account, &id) else {
        return not_found();
    };
    let locale = account.tenant.locale;
    let today = state.svc.today();
    let preview = q
        .seats
        .trim()
        .parse::<u32>()
        .map_err(|_| format!("`{}` is not a number of seats", q.seats.trim()))
        .and_then(|seats| {
            let mut copy = account.clone();
            let mut numbering = Numbering::default();
            numbering.load(SeriesKey::of(DocumentKind::Order, today), 0);
            copy.order_seats(
                &sub.id,
                seats,
                today,
                &state.svc.settings.policy,
                &state.svc.settings.catalog,
                &mut numbering,
            )
            .map_err(|r| r.to_string())
            .map(|effects| (seats, effects))
        });
    let mut ctx = state.customer_ctx(&c, &account);
    ctx.set(
        "s",
        subscription_row(&state.pages, sub, locale, |p| state.product_name(p)),
    )
    .set("title", state.pages.label(locale, "add_seats"));
    let status = match preview {
        Ok((seats, effects)) => {
            let Some(order) = effects.iter().find_map(|e| match e {
                Effect::Issued(d) => Some(d),
                _ => None,
            }) else {
                return unavailable("the order decision issued no document");
            };
            let totals: &Totals = &order.totals;
            ctx.set("seats", seats)
                .set("period", pages::period(&order.period, locale))
                .set("net", pages::money(totals.net, locale))
                .set("vat", pages::money(totals.vat, locale))
                .set("gross", pages::money(totals.gross, locale));
            StatusCode::OK
        }
        Err(reason) => {
            ctx.set("error", reason);
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    (status, state.pages.render(Page::SeatsPreview, ctx)).into_response()
}

#[derive(Deserialize)]
pub struct SeatsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    seats: String,
}

/// Orders the seats (the same use case as `renewals seats add`), then shows the order.
pub async fn seats_order(
    axum::extract::State(state): axum::extract::State<State>,
    c: Customer,
    Path(id): Path<String>,
    Form(form): Form<SeatsForm>,
) -> Response {
    if !same_token(&form.csrf, &c.csrf) {
        return csrf_refused();
    }
    let Some(sub) = owned_id(&state, &c, &id).await else {
        return not_found();
    };
    let Ok(seats) = form.seats.trim().parse::<u32>() else {
        return subscription_page(
            &state,
            &c,
            &id,
            Some(format!("`{}` is not a number of seats", form.seats.trim())),
            None,
        )
        .await;
    };
    match state
        .as_customer(&c)
        .await
        .add_seats(&sub, seats, state.svc.today())
        .await
    {
        Ok(order) => Redirect::to(&format!(
            "/panel/documents/{}?done=order",
            pages::slug(&order.number.to_string())
        ))
        .into_response(),
        Err(e) => refused_or_unavailable(&state, &c, &id, e).await,
    }
}

async fn refused_or_unavailable(
    state: &Panel,
    c: &Customer,
    id: &str,
    e: ServiceError,
) -> Response {
    if e.is_retryable() {
        unavailable(e)
    } else {
        subscription_page(state, c, id, Some(e.to_string()), None).await
    }
}

/// The subscription id if it is the customer's own (checked before any use case runs).
async fn owned_id(
    state: &Panel,
    c: &Customer,
    id: &str,
) -> Option<renewals_domain::SubscriptionId> {
    let id = renewals_domain::SubscriptionId::parse(id).ok()?;
    match state.svc.store.tenant_of(&id).await {
        Ok(Some(t)) if t == c.tenant => Some(id),
        _ => None,
    }
}

pub async fn renewal_off(
    axum::extract::State(state): axum::extract::State<State>,
    c: Customer,
    Path(id): Path<String>,
    Form(form): Form<crate::auth::CsrfForm>,
) -> Response {
    if !same_token(&form.csrf, &c.csrf) {
        return csrf_refused();
    }
    let Some(sub) = owned_id(&state, &c, &id).await else {
        return not_found();
    };
    match state.as_customer(&c).await.renewal_off(&sub).await {
        Ok(()) => {
            Redirect::to(&format!("/panel/subscriptions/{id}?done=renewal-off")).into_response()
        }
        Err(e) => refused_or_unavailable(&state, &c, &id, e).await,
    }
}

#[derive(Deserialize)]
pub struct PlanForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    product: String,
}

pub async fn plan_change(
    axum::extract::State(state): axum::extract::State<State>,
    c: Customer,
    Path(id): Path<String>,
    Form(form): Form<PlanForm>,
) -> Response {
    if !same_token(&form.csrf, &c.csrf) {
        return csrf_refused();
    }
    let Some(sub) = owned_id(&state, &c, &id).await else {
        return not_found();
    };
    match state
        .as_customer(&c)
        .await
        .change_plan_at_renewal(&sub, form.product.trim(), state.svc.today())
        .await
    {
        Ok(()) => Redirect::to(&format!("/panel/subscriptions/{id}?done=plan")).into_response(),
        Err(e) => refused_or_unavailable(&state, &c, &id, e).await,
    }
}

pub async fn document(
    axum::extract::State(state): axum::extract::State<State>,
    c: Customer,
    Path(number): Path<String>,
    Query(f): Query<Flash>,
) -> Response {
    let doc = match state.own_document(&c, &number).await {
        Ok(Some(d)) => d,
        Ok(None) => return not_found(),
        Err(r) => return r,
    };
    let account = match account(&state, &c).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let locale = account.tenant.locale;
    let mut ctx = state.customer_ctx(&c, &account);
    ctx.set("d", document_row(&state.pages, &doc, locale))
        .set("flash", flash(&state, &account, f.done.as_deref()))
        .set("title", doc.number.to_string());
    state.pages.render(Page::Document, ctx).into_response()
}

pub async fn document_pdf(
    axum::extract::State(state): axum::extract::State<State>,
    c: Customer,
    Path(number): Path<String>,
) -> Response {
    let doc = match state.own_document(&c, &number).await {
        Ok(Some(d)) => d,
        Ok(None) => return not_found(),
        Err(r) => return r,
    };
    let account = match account(&state, &c).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let pdf = state.renderer.pdf(&doc, &account.tenant);
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}.pdf\"",
                    pages::slug(&doc.number.to_string())
                ),
            ),
        ],
        pdf,
    )
        .into_response()
}
