//! How long `POST /login` takes to answer for a customer's address, an operator's and an
//! address nobody has: the medians should match, or the answer's timing tells who is a
//! customer. A measurement, not a test:
//!
//! ```sh
//! cargo run --release -p renewals-panel --example login_timing            # SQLite
//! eval "$(scripts/moto.sh start)"; AWS_REGION=eu-central-1 AWS_ACCESS_KEY_ID=test \
//!   AWS_SECRET_ACCESS_KEY=test cargo run --release -p renewals-panel --example login_timing -- dynamodb
//! ```
//!
//! Each request is timed from the request to the last byte of the answer; the e-mail a known
//! address gets is sent after the answer and waited for (untimed) before the next request,
//! so one request's e-mail does not slow the next one down.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request};
use http_body_util::BodyExt;
use renewals_app::audit::{Actor, AuditEntry};
use renewals_app::panel::{Operator, PanelStore};
use renewals_app::ports::{warsaw_noon, ManualClock, Store};
use renewals_domain::{Locale, PaymentMethod, TenantId, Term};
use renewals_panel::{router, Panel, PanelConfig};
use renewals_przelewy24::OfflineProvider;
use renewals_tests::{d, p24, settings, tenant};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const ROUNDS: usize = 200;

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let on_dynamodb = std::env::args().any(|a| a == "dynamodb");
    let (store, panel): (Arc<dyn Store>, Arc<dyn PanelStore>) = if on_dynamodb {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let table = format!("login-timing-{}", std::process::id());
        let store = renewals_dynamodb::DynamoStore::from_conf(&sdk, table);
        store.create_table().await.unwrap();
        let store = Arc::new(store);
        (store.clone(), store)
    } else {
        let path = dir.path().join("renewals.sqlite3");
        let store =
            renewals_local::SqliteStore::open(&path, renewals_local::sqlite::Durability::Normal)
                .unwrap();
        let panel = renewals_local::panel::SqlitePanelStore::open(&path).unwrap();
        (Arc::new(store), Arc::new(panel))
    };
    let clock = Arc::new(ManualClock::new(warsaw_noon(d("2026-01-10"))));
    let svc = renewals_tests::service(
        store,
        dir.path(),
        Arc::new(OfflineProvider::new(p24())),
        clock,
        settings(),
    );
    let acme = tenant("acme", Locale::Pl, PaymentMethod::Blik);
    svc.add_tenant(acme.clone()).await.unwrap();
    svc.add_subscription(
        &acme.id,
        "business-standard",
        10,
        Term::Monthly,
        d("2026-01-01"),
    )
    .await
    .unwrap();
    let operators = TenantId::parse(renewals_app::audit::OPERATORS).unwrap();
    let note = AuditEntry::note(
        warsaw_noon(d("2026-01-10")),
        &Actor::Cli,
        &operators,
        "operator_added",
        None,
        "Dodano operatora Anna Nowak".into(),
    );
    let op = Operator {
        email: "ops@reseller.pl".into(),
        name: "Anna Nowak".into(),
    };
    panel.add_operator(&op, &note).await.unwrap();
    let mut config = PanelConfig::new(
        "https://panel.example.pl".into(),
        b"0123456789abcdef0123456789abcdef".to_vec(),
    );
    // Measuring, not limiting.
    config.per_address = u32::MAX;
    config.per_ip = u32::MAX;
    let state = Panel::new(Arc::new(svc), panel, config);
    let app = router(state.clone());

    let addresses = [
        ("customer", "faktury@acme.example.pl"),
        ("operator", "ops@reseller.pl"),
        ("unknown", "nikt@nieznany.example.pl"),
    ];
    let mut times: Vec<Vec<Duration>> = vec![vec![]; addresses.len()];
    for round in 0..ROUNDS {
        // Interleaved, so that drift (caches, other load) touches every kind alike.
        for (i, (_, email)) in addresses.iter().enumerate() {
            let ip = format!("10.{}.{}.{}", i, round / 250, round % 250 + 1);
            let (cookie, csrf) = login_form(&app, &ip).await;
            let form = format!("email={}&csrf={csrf}", email.replace('@', "%40"));
            let mut req = Request::post("/login")
                .header(header::COOKIE, cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form))
                .unwrap();
            req.extensions_mut().insert(ConnectInfo(
                format!("{ip}:40000").parse::<SocketAddr>().unwrap(),
            ));
            let started = Instant::now();
            let res = app.clone().oneshot(req).await.unwrap();
            let status = res.status();
            res.into_body().collect().await.unwrap();
            let took = started.elapsed();
            assert_eq!(status, 200);
            // The e-mail, off the clock.
            state.settle().await;
            if round >= ROUNDS / 10 {
                times[i].push(took);
            }
        }
    }
    let store = if on_dynamodb {
        "DynamoDB (moto)"
    } else {
        "SQLite"
    };
    println!(
        "POST /login on {store}, {} requests each (after {} warm-up):",
        ROUNDS - ROUNDS / 10,
        ROUNDS / 10
    );
    for ((kind, _), t) in addresses.iter().zip(&mut times) {
        t.sort();
        let at = |q: f64| t[((t.len() - 1) as f64 * q) as usize];
        println!(
            "  {kind:<9} median {:>8.3} ms   p10 {:>8.3} ms   p90 {:>8.3} ms",
            ms(at(0.5)),
            ms(at(0.1)),
            ms(at(0.9))
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The sign-in form's CSRF cookie and field.
async fn login_form(app: &axum::Router, ip: &str) -> (String, String) {
    let mut req = Request::get("/login").body(Body::empty()).unwrap();
    req.extensions_mut().insert(ConnectInfo(
        format!("{ip}:40000").parse::<SocketAddr>().unwrap(),
    ));
    let res = app.clone().oneshot(req).await.unwrap();
    let cookie = res.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let html =
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let at = html.find(r#"name="csrf" value=""#).unwrap() + 19;
    let csrf = html[at..at + html[at..].find('"').unwrap()].to_string();
    (cookie, csrf)
}
