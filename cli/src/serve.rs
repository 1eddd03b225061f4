//! `renewals serve`: the production webhook handler over HTTP on the embedded store.

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use renewals_app::config::{Defaults, Settings};
use renewals_app::service::Service;
use renewals_local::sqlite::Durability;
use renewals_local::OutboxMailer;
use renewals_przelewy24::{P24Settings, Przelewy24Client};
use std::path::Path;
use std::sync::Arc;

pub async fn serve(dir: &Path, addr: &str) -> anyhow::Result<()> {
    let settings = Settings::from_env(Defaults::Local)?;
    let p24 = P24Settings::from_env(Defaults::Local)?;
    let store = crate::app::open_store(dir, Durability::Normal, false)?;
    let svc = crate::app::service(
        Arc::new(store),
        Arc::new(OutboxMailer::new(dir.join("outbox"))?),
        Arc::new(Przelewy24Client::new(p24.clone())),
        crate::app::clock(None),
        settings,
    );
    let state = Arc::new((svc, p24));
    let panel = crate::panel::router(dir)?;
    let app = Router::new()
        .route("/webhooks/przelewy24", post(przelewy24))
        // Let bodies a little over the limit through so the handler answers 413 itself.
        .layer(DefaultBodyLimit::max(
            renewals_przelewy24::MAX_BODY_BYTES * 2,
        ))
        .with_state(state)
        .merge(panel);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    eprintln!(
        "renewals: POST http://{}/webhooks/przelewy24 on {}",
        listener.local_addr()?,
        dir.display()
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

async fn przelewy24(
    State(state): State<Arc<(Service, P24Settings)>>,
    body: Bytes,
) -> (StatusCode, String) {
    let (svc, p24) = &*state;
    let r = renewals_przelewy24::webhook::handle(svc, p24, &body).await;
    (
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        r.body,
    )
}
