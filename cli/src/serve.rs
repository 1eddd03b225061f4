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
use std::time::Duration;
use tokio::sync::Notify;

/// How often the deliverer looks at the outbox without being woken: messages whose retry
/// came due, leases that ended, what another process queued.
const DELIVERY_EVERY: Duration = Duration::from_secs(30);
/// How often the WAL is copied into the database, off the requests' path.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// When the WAL is started over (64 MB of 4 KB pages): each restart holds the requests for a
/// few milliseconds, so at most one every `CHECKPOINT_EVERY` under a steady stream.
const WAL_RESTART_PAGES: i64 = 16_384;

pub async fn serve(dir: &Path, addr: &str) -> anyhow::Result<()> {
    let settings = Settings::from_env(Defaults::Local)?;
    let p24 = P24Settings::from_env(Defaults::Local)?;
    let store = crate::app::open_store(dir, Durability::Normal, false)?;
    store.checkpoint_in_background(
        &crate::app::database(dir),
        CHECKPOINT_EVERY,
        WAL_RESTART_PAGES,
    )?;
    let wake = Arc::new(Notify::new());
    let svc = crate::app::service(
        Arc::new(store),
        Arc::new(OutboxMailer::new(dir.join("outbox"))?),
        Arc::new(Przelewy24Client::new(p24.clone())),
        crate::app::clock(None),
        settings,
    )
    .with_deliverer(wake.clone());
    spawn_deliverer(svc.clone(), wake).context("starting the deliverer")?;
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

/// Delivery on a thread of its own, off the request path: woken after every commit that
/// queued mail (and every `DELIVERY_EVERY`), it claims what is due, composes it (templates,
/// PDFs: CPU work) and sends it. The webhook answers Przelewy24 as soon as its change is
/// committed. The thread runs only when the cores are otherwise idle, so composing takes what
/// the requests leave; a message not yet delivered is safe in the outbox.
fn spawn_deliverer(svc: Service, wake: Arc<Notify>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("deliverer".into())
        .spawn(move || {
            // Linux schedules threads one by one: only the deliverer runs as SCHED_IDLE, on
            // what the requests leave of the cores. Nice 10 was not enough: on this
            // machine's ext4 (no journal) creating each `.eml` costs ~180 µs of kernel time
            // while recently deleted inodes are around, and that competed with the requests.
            let idle = libc::sched_param { sched_priority: 0 };
            // SAFETY: sched_setscheduler reads `idle` only during the call.
            if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &idle) } != 0 {
                tracing::warn!(error = %std::io::Error::last_os_error(),
                    "the deliverer runs at normal priority");
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the deliverer's runtime");
            runtime.block_on(async move {
                loop {
                    match svc.deliver().await {
                        Ok(d) if d.failed > 0 => tracing::warn!(
                            sent = d.sent,
                            failed = d.failed,
                            parked = d.parked,
                            "some e-mails failed; they are tried again later"
                        ),
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "delivery failed; tried again"),
                    }
                    tokio::select! {
                        () = wake.notified() => {}
                        () = tokio::time::sleep(DELIVERY_EVERY) => {}
                    }
                }
            })
        })
        .map(drop)
}
