//! The JSON twins of the pages, for integrations: the same shapes as the CLI's `--json`
//! (`renewals_app::views`). Signed in by the same session cookie; a POST must be
//! `application/json`, which a cross-site form cannot send, and the cookie is SameSite=Lax.

use crate::admin::{receivables, Receivable};
use crate::auth::{Customer, Operator};
use crate::customer::unavailable;
use crate::State;
use axum::extract::{rejection::JsonRejection, Path};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use renewals_app::views;
use serde::{Deserialize, Serialize};
use serde_json::json;

fn error(status: StatusCode, text: impl std::fmt::Display) -> Response {
    (status, Json(json!({"error": text.to_string()}))).into_response()
}

pub async fn subscriptions(
    axum::extract::State(state): axum::extract::State<State>,
    c: Customer,
) -> Response {
    match state.svc.account(&c.tenant).await {
        Ok(a) => Json(
            a.subscriptions
                .iter()
                .map(|s| views::subscription(&c.tenant, s))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => unavailable(e),
    }
}

pub async fn documents(
    axum::extract::State(state): axum::extract::State<State>,
    c: Customer,
) -> Response {
    match state.svc.store.documents_of(&c.tenant).await {
        Ok(docs) => Json(docs.iter().map(views::document).collect::<Vec<_>>()).into_response(),
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize)]
pub struct Seats {
    seats: i64,
}

/// `POST /api/subscriptions/{id}/seats` `{"seats":N}`: 201 with the order (document JSON);
/// 422 with the refusal the CLI gives; 404 for a subscription that is not the customer's.
pub async fn add_seats(
    axum::extract::State(state): axum::extract::State<State>,
    c: Customer,
    Path(id): Path<String>,
    body: Result<Json<Seats>, JsonRejection>,
) -> Response {
    let Ok(sub) = renewals_domain::SubscriptionId::parse(&id) else {
        return error(StatusCode::NOT_FOUND, format!("no subscription `{id}`"));
    };
    match state.svc.store.tenant_of(&sub).await {
        Ok(Some(t)) if t == c.tenant => {}
        Ok(_) => return error(StatusCode::NOT_FOUND, format!("no subscription `{id}`")),
        Err(e) => return unavailable(e),
    }
    let Json(Seats { seats }) = match body {
        Ok(b) => b,
        Err(e) => return error(e.status(), e.body_text()),
    };
    let seats = match renewals_domain::subscription::parse_seats(seats) {
        Ok(n) => n,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, e),
    };
    match state
        .as_customer(&c)
        .await
        .add_seats(&sub, seats, state.svc.today())
        .await
    {
        Ok(order) => (StatusCode::CREATED, Json(views::document(&order))).into_response(),
        Err(e) if e.is_retryable() => unavailable(e),
        Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, e),
    }
}

#[derive(Serialize)]
struct Overdue {
    date: chrono::NaiveDate,
    overdue: Vec<Receivable>,
    due_this_week: Vec<Receivable>,
    suspended: Vec<Receivable>,
}

/// `GET /api/admin/overdue`: who owes what today.
pub async fn overdue(
    axum::extract::State(state): axum::extract::State<State>,
    _op: Operator,
) -> Response {
    match receivables(&state).await {
        Ok(r) => Json(Overdue {
            date: state.svc.today(),
            overdue: r.overdue,
            due_this_week: r.due_this_week,
            suspended: r.suspended,
        })
        .into_response(),
        Err(e) => unavailable(e),
    }
}
