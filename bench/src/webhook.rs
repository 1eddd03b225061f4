//! The payment webhook under load: `renewals serve` on a fresh data folder with `n` issued
//! pro-formas, verifying at a loopback Przelewy24 stand-in, takes `n` signed first
//! notifications from `clients` concurrent clients, then the same `n` again (Przelewy24
//! repeats a notification until it gets 200). Afterwards the side effects are counted where
//! they land: verifies at the stand-in, payments and paid documents in the store, `.eml`
//! files in the outbox.

use crate::p24::Przelewy24;
use crate::tenants::Discard;
use anyhow::{bail, ensure, Context};
use renewals_app::config::{Defaults, Settings};
use renewals_app::ports::{business_date, warsaw_noon, FixedClock};
use renewals_app::service::Service;
use renewals_domain::{DocumentKind, DocumentStatus, Job, PaymentMethod};
use renewals_email::Renderer;
use renewals_local::sqlite::Durability;
use renewals_local::SqliteStore;
use renewals_przelewy24::sign::method_id;
use renewals_przelewy24::{Notification, OfflineProvider, P24Settings};
use serde::Serialize;
use std::future::IntoFuture;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Serialize)]
pub struct Phase {
    pub per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

#[derive(Serialize)]
pub struct Report {
    pub payments: usize,
    pub clients: usize,
    pub first: Phase,
    pub duplicate: Phase,
    /// Verify calls the stand-in answered with success during the first round.
    pub verified_first: u64,
    /// Verify calls during the duplicate round (a recorded payment needs none).
    pub verified_duplicate: u64,
    pub payments_stored: usize,
    pub documents_paid: usize,
    /// `.eml` files in the outbox when the server was stopped: one per payment once the
    /// deliverer (which runs only on idle cores) has caught up, waited for up to 30 s.
    pub emails_written: usize,
    /// From the end of the first round until all confirmations were seen written: looked at
    /// once the duplicate round ends, then every 10 ms, so an upper bound.
    pub emails_caught_up_ms: Option<f64>,
}

/// The setup's mailer: the pro-formas' e-mails are not what is measured.
fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// Sends every body once, `clients` at a time, each client one request after the other.
/// With `latencies_to`, each request's start (from the round's) and duration in ms, one line
/// each, go to that file: where the slow ones are in the run.
async fn round(
    url: &str,
    bodies: &Arc<Vec<Vec<u8>>>,
    clients: usize,
    latencies_to: Option<String>,
) -> anyhow::Result<Phase> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (client, next, bodies, url) = (
                client.clone(),
                next.clone(),
                bodies.clone(),
                url.to_string(),
            );
            tokio::spawn(async move {
                let mut latencies = vec![];
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else {
                        return anyhow::Ok(latencies);
                    };
                    let sent = Instant::now();
                    let response = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await?;
                    let status = response.status();
                    let text = response.text().await?;
                    if status != 200 {
                        bail!("notification {i} answered {status}: {text}");
                    }
                    latencies.push((sent - began, sent.elapsed()));
                }
            })
        })
        .collect();
    let mut latencies = vec![];
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = began.elapsed();
    if let Some(file) = latencies_to {
        let lines: String = latencies
            .iter()
            .map(|(at, took)| format!("{} {}\n", ms(*at), ms(*took)))
            .collect();
        std::fs::write(&file, lines).with_context(|| format!("writing {file}"))?;
    }
    let mut latencies: Vec<Duration> = latencies.into_iter().map(|(_, took)| took).collect();
    latencies.sort();
    let at = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    Ok(Phase {
        per_s: (latencies.len() as f64 / elapsed.as_secs_f64()).round(),
        p50_ms: ms(at(50)),
        p99_ms: ms(at(99)),
    })
}

/// Delivered messages: `.eml` files (a message being written is a hidden `.tmp` first).
fn emails_in(outbox: &Path) -> usize {
    std::fs::read_dir(outbox).map_or(0, |entries| {
        entries
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "eml"))
            })
            .count()
    })
}

/// A data folder with `n` unpaid pro-formas issued today.
async fn prepare(dir: &Path, n: usize, shop: &P24Settings) -> anyhow::Result<Vec<(String, i64)>> {
    let settings = Settings::from_env(Defaults::Local)?;
    let today = business_date(chrono::Utc::now());
    let store = Arc::new(SqliteStore::open(
        &dir.join("renewals.sqlite3"),
        Durability::Normal,
    )?);
    let composer = Arc::new(Renderer::from_settings(&settings));
    let svc = Service::new(
        store.clone(),
        Arc::new(Discard),
        Some(Arc::new(OfflineProvider::new(shop.clone()))),
        composer,
        Arc::new(FixedClock(warsaw_noon(today))),
        settings,
    );
    crate::tenants::populate(&svc, n, today).await?;
    svc.run_job(Job::Daily, today, None).await?;
    let unpaid: Vec<(String, i64)> = store
        .all_documents()?
        .into_iter()
        .filter(|d| d.kind == DocumentKind::Proforma && d.status == DocumentStatus::Issued)
        .map(|d| (d.payment.session_id.to_string(), d.totals.gross.grosze()))
        .collect();
    ensure!(
        unpaid.len() == n,
        "expected {n} unpaid pro-formas, the daily run issued {}",
        unpaid.len()
    );
    Ok(unpaid)
}

pub async fn run(renewals: &str, n: usize, clients: usize) -> anyhow::Result<Report> {
    let dir = std::env::temp_dir().join(format!("renewals-bench-webhook-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let shop = P24Settings::from_env(Defaults::Local)?;
    let unpaid = prepare(&dir, n, &shop).await?;

    let p24 = Przelewy24::new(&shop);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let p24_url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(axum::serve(listener, p24.router()).into_future());

    // What the customers paid, and Przelewy24's notification of each payment.
    let bodies: Vec<Vec<u8>> = unpaid
        .iter()
        .enumerate()
        .map(|(i, (session, gross))| {
            let order_id = 700_000_000 + i as i64;
            p24.customer_paid(session, order_id, *gross);
            Notification::signed(
                &shop,
                session,
                *gross,
                order_id,
                method_id(PaymentMethod::Transfer),
            )
            .to_body()
        })
        .collect();
    let bodies = Arc::new(bodies);

    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
        probe.local_addr()?
    };
    let mut server = tokio::process::Command::new(renewals)
        .arg("--data-dir")
        .arg(&dir)
        .args(["serve", "--addr", &addr.to_string()])
        .env("P24_BASE_URL", &p24_url)
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {renewals} serve"))?;
    let started = Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        if let Some(status) = server.try_wait()? {
            bail!("renewals serve exited with {status}");
        }
        ensure!(
            started.elapsed() < Duration::from_secs(30),
            "renewals serve did not listen on {addr} within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let url = format!("http://{addr}/webhooks/przelewy24");
    let to = std::env::var("RENEWALS_BENCH_LATENCIES").ok();
    let first = round(&url, &bodies, clients, to).await?;
    let first_done = Instant::now();
    let verified_first = p24.verified.load(Ordering::Relaxed);
    let duplicate = round(&url, &bodies, clients, None).await?;
    let verified_duplicate = p24.verified.load(Ordering::Relaxed) - verified_first;
    let outbox = dir.join("outbox");
    let mut emails_caught_up_ms = None;
    while first_done.elapsed() < Duration::from_secs(30) {
        if emails_in(&outbox) >= n {
            emails_caught_up_ms = Some(ms(first_done.elapsed()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill().await?;

    let store = SqliteStore::open_existing(&dir.join("renewals.sqlite3"), Durability::Normal)?;
    let documents_paid = store
        .all_documents()?
        .iter()
        .filter(|d| d.status == DocumentStatus::Paid)
        .count();
    let report = Report {
        payments: n,
        clients,
        first,
        duplicate,
        verified_first,
        verified_duplicate,
        payments_stored: store.payments()?.len(),
        documents_paid,
        emails_written: emails_in(&outbox),
        emails_caught_up_ms,
    };
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    ensure!(
        report.payments_stored == n && report.documents_paid == n,
        "{n} payments sent, {} recorded, {} documents paid",
        report.payments_stored,
        report.documents_paid
    );
    ensure!(
        report.verified_first == n as u64 && p24.verified_transactions() == n,
        "{n} first payments, {} verified at Przelewy24",
        report.verified_first
    );
    Ok(report)
}
