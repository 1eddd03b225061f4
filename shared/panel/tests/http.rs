//! The panel over HTTP, as a browser or an integration sees it: sign-in by link (reuse,
//! expiry, rate limits, no account enumeration), CSRF on every form, customer pages and their
//! JSON twins, tenant isolation on every route, and the operator's pages.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Request, StatusCode};
use base64::Engine;
use chrono::Duration;
use http_body_util::BodyExt;
use renewals_app::panel::{Operator, PanelStore};
use renewals_app::ports::{warsaw_noon, Clock, Store};
use renewals_domain::{SubscriptionId, TenantId, Term};
use renewals_local::panel::SqlitePanelStore;
use renewals_panel::{router, Panel, PanelConfig};
use renewals_tests::{d, TestApp};
use std::net::SocketAddr;
use std::sync::Arc;
use tower::ServiceExt;

struct Web {
    app: TestApp,
    router: axum::Router,
    panel: Arc<SqlitePanelStore>,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|c| c.starts_with(&format!("{name}=")))
    }
    fn location(&self) -> &str {
        self.headers[header::LOCATION].to_str().unwrap()
    }
}

/// A signed-in browser: its session cookie and the CSRF token its forms carry.
#[derive(Clone)]
struct Browser {
    cookie: String,
    csrf: String,
}

fn value_of(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

fn csrf_in(html: &str) -> String {
    let at = html
        .find(r#"name="csrf" value=""#)
        .expect("a form with a CSRF token");
    let rest = &html[at + 19..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// The plain-text part of an outbox message, transfer-decoded.
fn text_of(mime: &[u8]) -> String {
    let raw = String::from_utf8_lossy(mime).replace("\r\n", "\n");
    let start = raw.find("Content-Type: text/plain").expect("a text part");
    let (headers, rest) = raw[start..].split_once("\n\n").unwrap();
    let body = &rest[..rest.find("\n--").unwrap_or(rest.len())];
    let bytes = if headers.contains("base64") {
        base64::engine::general_purpose::STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .unwrap()
    } else if headers.contains("quoted-printable") {
        let joined = body.replace("=\n", "");
        let b = joined.as_bytes();
        let (mut out, mut i) = (vec![], 0);
        while i < b.len() {
            if b[i] == b'=' && i + 2 < b.len() {
                out.push(u8::from_str_radix(&joined[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        out
    } else {
        body.as_bytes().to_vec()
    };
    String::from_utf8(bytes).unwrap()
}

impl Web {
    async fn new() -> Web {
        let app = TestApp::new();
        app.clock.set(warsaw_noon(d("2026-01-10")));
        let panel =
            Arc::new(SqlitePanelStore::open(&app.dir.path().join("renewals.sqlite3")).unwrap());
        let config = PanelConfig::new(
            "https://panel.example.pl".into(),
            b"0123456789abcdef0123456789abcdef".to_vec(),
        );
        let router = router(Panel::new(
            Arc::new(app.second_service()),
            panel.clone(),
            config,
        ));
        Web { app, router, panel }
    }

    /// Two customers (acme, beta) with a monthly subscription each, and an operator.
    async fn with_customers() -> (Web, SubscriptionId, SubscriptionId) {
        let web = Web::new().await;
        let a = web
            .app
            .customer("acme", "business-standard", 10, Term::Monthly, "2026-01-01")
            .await;
        let b = web
            .app
            .customer("beta", "business-basic", 3, Term::Monthly, "2026-01-01")
            .await;
        web.panel
            .add_operator(&Operator {
                email: "ops@reseller.pl".into(),
                name: "Anna Nowak".into(),
            })
            .await
            .unwrap();
        (web, a, b)
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        form: Option<&str>,
        ip: &str,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        let body = match form {
            Some(f) if f.starts_with('{') => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(f.to_string())
            }
            Some(f) => {
                req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from(f.to_string())
            }
            None => Body::empty(),
        };
        let mut req = req.body(body).unwrap();
        let addr: SocketAddr = format!("{ip}:40000").parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, path: &str, b: &Browser) -> Reply {
        self.send("GET", path, Some(&b.cookie), None, "10.0.0.1")
            .await
    }

    async fn post(&self, path: &str, b: &Browser, form: &str) -> Reply {
        self.send("POST", path, Some(&b.cookie), Some(form), "10.0.0.1")
            .await
    }

    /// Asks for a link from `ip` the way the sign-in form does.
    async fn ask_link(&self, email: &str, ip: &str) -> Reply {
        let form = self.send("GET", "/login", None, None, ip).await;
        let cookie = value_of(&form.set_cookie("renewals_login_csrf").unwrap());
        let csrf = csrf_in(&form.body);
        self.send(
            "POST",
            "/login",
            Some(&cookie),
            Some(&format!("email={}&csrf={csrf}", email.replace('@', "%40"))),
            ip,
        )
        .await
    }

    /// The token of the last sign-in e-mail filed under `outbox` (a tenant id or the
    /// operators' pseudo-tenant).
    async fn last_link(&self, outbox: &str) -> Option<String> {
        let mails = self.app.emails(outbox).await;
        let mail = mails.iter().rev().find(|m| m.kind == "login")?;
        let text = text_of(&self.app.mime(mail));
        let at = text.find("https://panel.example.pl/login/")?;
        let token: String = text[at + 31..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        Some(token)
    }

    async fn sign_in(&self, email: &str, outbox: &str, home: &str) -> Browser {
        let r = self.ask_link(email, "10.0.0.1").await;
        assert_eq!(r.status, StatusCode::OK);
        let token = self.last_link(outbox).await.expect("a sign-in e-mail");
        let r = self
            .send("GET", &format!("/login/{token}"), None, None, "10.0.0.1")
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(r.location(), home);
        let cookie = value_of(&r.set_cookie("renewals_session").unwrap());
        let page = self
            .send("GET", home, Some(&cookie), None, "10.0.0.1")
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        Browser {
            csrf: csrf_in(&page.body),
            cookie,
        }
    }

    async fn customer(&self, tenant: &str) -> Browser {
        self.sign_in(&format!("faktury@{tenant}.example.pl"), tenant, "/panel")
            .await
    }

    async fn operator(&self) -> Browser {
        self.sign_in("ops@reseller.pl", "panel-operators", "/admin")
            .await
    }
}

#[tokio::test]
async fn a_customer_signs_in_through_the_emailed_link_and_sees_their_subscriptions() {
    let (web, _, _) = Web::with_customers().await;
    let r = web.ask_link("Faktury@Acme.example.pl", "10.0.0.1").await;
    assert_eq!(r.status, StatusCode::OK);
    let mail = web.app.emails("acme").await.pop().unwrap();
    assert_eq!(
        (mail.kind.as_str(), mail.to.as_str()),
        ("login", "faktury@acme.example.pl")
    );
    let token = web.last_link("acme").await.unwrap();
    let r = web
        .send("GET", &format!("/login/{token}"), None, None, "10.0.0.1")
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/panel");
    let cookie = r.set_cookie("renewals_session").unwrap();
    for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    let page = web
        .send("GET", "/panel", Some(&value_of(&cookie)), None, "10.0.0.1")
        .await;
    assert!(
        page.body.contains("Microsoft 365 Business Standard")
            || page.body.contains("Business Standard")
    );
    assert!(page.body.contains("Subskrypcje"), "Polish by default");
    assert!(
        !page.body.contains("Business Basic"),
        "beta's subscription is not shown"
    );
}

#[tokio::test]
async fn a_link_works_once() {
    let (web, _, _) = Web::with_customers().await;
    web.ask_link("faktury@acme.example.pl", "10.0.0.1").await;
    let token = web.last_link("acme").await.unwrap();
    let first = web
        .send("GET", &format!("/login/{token}"), None, None, "10.0.0.1")
        .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let again = web
        .send("GET", &format!("/login/{token}"), None, None, "10.0.0.1")
        .await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.set_cookie("renewals_session").is_none());
    assert!(again.body.contains("Link wygasł"));
}

#[tokio::test]
async fn a_link_expires_after_15_minutes() {
    let (web, _, _) = Web::with_customers().await;
    web.ask_link("faktury@acme.example.pl", "10.0.0.1").await;
    let token = web.last_link("acme").await.unwrap();
    let now = web.app.clock.now();
    web.app.clock.set(now + Duration::minutes(15));
    let late = web
        .send("GET", &format!("/login/{token}"), None, None, "10.0.0.1")
        .await;
    assert_eq!(late.status, StatusCode::GONE);
    assert!(late.set_cookie("renewals_session").is_none());
    // A fresh link, used within its 15 minutes, works.
    web.ask_link("faktury@acme.example.pl", "10.0.0.1").await;
    let token = web.last_link("acme").await.unwrap();
    let now = web.app.clock.now();
    web.app.clock.set(now + Duration::minutes(14));
    let ok = web
        .send("GET", &format!("/login/{token}"), None, None, "10.0.0.1")
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_unknown_address_gets_the_same_answer_and_no_email() {
    let (web, _, _) = Web::with_customers().await;
    let known = web.ask_link("faktury@acme.example.pl", "10.0.0.1").await;
    let unknown = web.ask_link("faktury@nobody.example.pl", "10.0.0.2").await;
    assert_eq!(known.status, unknown.status);
    assert_eq!(
        known.body.replace("faktury@acme.example.pl", "X"),
        unknown.body.replace("faktury@nobody.example.pl", "X")
    );
    assert_eq!(web.app.emails("acme").await.len(), 1);
    assert!(web.app.emails("panel-operators").await.is_empty());
}

#[tokio::test]
async fn links_are_rate_limited_per_address_and_per_ip() {
    let (web, _, _) = Web::with_customers().await;
    for i in 0..5 {
        let r = web
            .ask_link("faktury@acme.example.pl", &format!("10.0.1.{i}"))
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let sixth = web.ask_link("faktury@acme.example.pl", "10.0.1.9").await;
    assert_eq!(sixth.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        web.app.emails("acme").await.len(),
        5,
        "the sixth sends nothing"
    );
    // Unknown addresses are limited the same way: the limit says nothing about who exists.
    for i in 0..5 {
        web.ask_link("x@nobody.example.pl", &format!("10.0.2.{i}"))
            .await;
    }
    let r = web.ask_link("x@nobody.example.pl", "10.0.2.9").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // One IP trying many addresses.
    for i in 0..30 {
        let r = web
            .ask_link(&format!("guess{i}@example.pl"), "10.0.3.1")
            .await;
        assert_eq!(r.status, StatusCode::OK, "attempt {i}");
    }
    let r = web.ask_link("faktury@beta.example.pl", "10.0.3.1").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(web.app.emails("beta").await.is_empty());
    // After the window, the address may ask again.
    let now = web.app.clock.now();
    web.app.clock.set(now + Duration::minutes(16));
    let r = web.ask_link("faktury@acme.example.pl", "10.0.1.1").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(web.app.emails("acme").await.len(), 6);
}

#[tokio::test]
async fn every_form_refuses_a_missing_or_wrong_csrf_token_and_changes_nothing() {
    let (web, a, _) = Web::with_customers().await;
    // The sign-in form without its cookie.
    let r = web
        .send(
            "POST",
            "/login",
            None,
            Some("email=faktury%40acme.example.pl&csrf=abc"),
            "10.0.0.1",
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(web.app.emails("acme").await.is_empty());
    let acme = web.customer("acme").await;
    for (path, form) in [
        (
            format!("/panel/subscriptions/{a}/seats"),
            "seats=2".to_string(),
        ),
        (
            format!("/panel/subscriptions/{a}/seats"),
            "seats=2&csrf=wrong".to_string(),
        ),
        (
            format!("/panel/subscriptions/{a}/renewal-off"),
            String::new(),
        ),
        (
            format!("/panel/subscriptions/{a}/plan"),
            "product=business-premium&csrf=x".to_string(),
        ),
        ("/logout".to_string(), "csrf=".to_string()),
    ] {
        let r = web.post(&path, &acme, &form).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path} {form}");
    }
    assert!(
        web.app.documents("acme").await.is_empty(),
        "no order issued"
    );
    let sub = web.app.sub(&a).await;
    assert!(sub.auto_renew && sub.scheduled.product.is_none());
    assert_eq!(
        web.get("/panel", &acme).await.status,
        StatusCode::OK,
        "still signed in"
    );
    let ops = web.operator().await;
    for (path, form) in [
        ("/admin/reviews/apply", "key=p24:1&document=PF/2026/01/0001"),
        ("/admin/reviews/refund", "key=p24:1&csrf=no"),
        ("/admin/outbox/retry", "kind=email&id=1"),
    ] {
        assert_eq!(
            web.post(path, &ops, form).await.status,
            StatusCode::FORBIDDEN
        );
    }
}

#[tokio::test]
async fn a_customer_adds_seats_seeing_the_prorated_price_first() {
    let (web, a, _) = Web::with_customers().await;
    let acme = web.customer("acme").await;
    let preview = web
        .get(&format!("/panel/subscriptions/{a}/seats?seats=2"), &acme)
        .await;
    assert_eq!(preview.status, StatusCode::OK);
    assert!(
        web.app.documents("acme").await.is_empty(),
        "a preview orders nothing"
    );
    // What the order will be, computed by the domain: the page shows exactly its gross.
    let sub = web.app.sub(&a).await;
    let net = sub.prorated(2, d("2026-01-10"));
    let gross = renewals_domain::Totals::of_lines([net]).gross;
    let shown = renewals_email::format_amount(gross, renewals_domain::Locale::Pl);
    assert!(preview.body.contains(&shown), "{shown} not in the preview");
    let r = web
        .post(
            &format!("/panel/subscriptions/{a}/seats"),
            &acme,
            &format!("seats=2&csrf={}", acme.csrf),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let docs = web.app.documents("acme").await;
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].totals.gross, gross);
    assert_eq!(docs[0].lines[0].seats, 2);
    assert!(r.location().starts_with("/panel/documents/ZAM-2026-01-"));
    let page = web.get(r.location(), &acme).await;
    assert!(page.body.contains(&shown));
    assert!(page.body.contains("Wystawiliśmy zamówienie"));
    let pdf = web
        .get(
            &format!("{}/pdf", r.location().split('?').next().unwrap()),
            &acme,
        )
        .await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert!(pdf.body.starts_with("%PDF"));
}

#[tokio::test]
async fn seats_added_in_the_panel_are_logged_as_the_customer_and_shown_to_the_operator() {
    let (web, a, _) = Web::with_customers().await;
    let acme = web.customer("acme").await;
    let r = web
        .post(
            &format!("/panel/subscriptions/{a}/seats"),
            &acme,
            &format!("seats=2&csrf={}", acme.csrf),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let order = web.app.documents("acme").await[0].number.to_string();
    let log = web
        .app
        .store
        .audit_of(&TenantId::parse("acme").unwrap())
        .await
        .unwrap();
    let last = log.last().unwrap();
    assert_eq!(last.actor.to_string(), "customer:faktury@acme.example.pl");
    assert_eq!(last.action, "seats_added");
    assert_eq!(last.document.as_deref(), Some(order.as_str()));
    assert_eq!(last.subscription.as_deref(), Some(a.as_str()));
    // The operator reads it on the tenant's page, newest first.
    let ops = web.operator().await;
    let page = web.get("/admin/tenants/acme", &ops).await;
    assert_eq!(page.status, StatusCode::OK);
    let card = &page.body[page.body.find("Dziennik zmian").unwrap()..];
    assert!(card.contains("customer:faktury@acme.example.pl"), "{card}");
    assert!(card.contains("Zamówiono 2 dodatkowych stanowisk"), "{card}");
    assert!(card.contains(&order), "{card}");
    assert!(
        card.find("Zamówiono").unwrap() < card.find("Dodano subskrypcję").unwrap(),
        "newest first: {card}"
    );
}

#[tokio::test]
async fn adding_seats_after_the_proforma_is_refused_with_the_cli_text() {
    let (web, a, _) = Web::with_customers().await;
    web.app.day("2026-01-25").await;
    web.app.clock.set(warsaw_noon(d("2026-01-26")));
    let acme = web.customer("acme").await;
    let preview = web
        .get(&format!("/panel/subscriptions/{a}/seats?seats=2"), &acme)
        .await;
    assert_eq!(preview.status, StatusCode::UNPROCESSABLE_ENTITY);
    let err = web
        .app
        .svc
        .add_seats(&a, 2, d("2026-01-26"))
        .await
        .unwrap_err();
    let text = err.to_string().replace('&', "&amp;").replace('\'', "&#39;");
    assert!(text.contains("already issued"));
    assert!(preview.body.contains(&text), "{}", preview.body);
    let r = web
        .post(
            &format!("/panel/subscriptions/{a}/seats"),
            &acme,
            &format!("seats=2&csrf={}", acme.csrf),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let api = web
        .send(
            "POST",
            &format!("/api/subscriptions/{a}/seats"),
            Some(&acme.cookie),
            Some(r#"{"seats":2}"#),
            "10.0.0.1",
        )
        .await;
    assert_eq!(api.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(api.body.contains("already issued"));
    assert_eq!(
        web.app.documents("acme").await.len(),
        1,
        "only the pro-forma"
    );
}

#[tokio::test]
async fn renewal_off_and_plan_change_at_renewal_from_the_panel() {
    let (web, a, _) = Web::with_customers().await;
    let acme = web.customer("acme").await;
    let r = web
        .post(
            &format!("/panel/subscriptions/{a}/plan"),
            &acme,
            &format!("product=business-premium&csrf={}", acme.csrf),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        web.app.sub(&a).await.scheduled.product.as_deref(),
        Some("business-premium")
    );
    let r = web
        .post(
            &format!("/panel/subscriptions/{a}/renewal-off"),
            &acme,
            &format!("csrf={}", acme.csrf),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(!web.app.sub(&a).await.auto_renew);
}

#[tokio::test]
async fn the_json_twins_have_the_cli_shapes() {
    let (web, a, _) = Web::with_customers().await;
    let acme = web.customer("acme").await;
    let subs: serde_json::Value =
        serde_json::from_str(&web.get("/api/subscriptions", &acme).await.body).unwrap();
    assert_eq!(subs.as_array().unwrap().len(), 1);
    assert_eq!(subs[0]["id"], a.as_str());
    assert_eq!(subs[0]["tenant"], "acme");
    assert_eq!(subs[0]["seats"], 10);
    assert_eq!(subs[0]["period_end"], "2026-02-01");
    let r = web
        .send(
            "POST",
            &format!("/api/subscriptions/{a}/seats"),
            Some(&acme.cookie),
            Some(r#"{"seats":2}"#),
            "10.0.0.1",
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let order: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(order["kind"], "order");
    assert_eq!(order["lines"][0]["seats"], 2);
    let docs: serde_json::Value =
        serde_json::from_str(&web.get("/api/documents", &acme).await.body).unwrap();
    assert_eq!(docs[0]["number"], order["number"]);
    assert_eq!(docs[0]["gross"], order["gross"]);
    // A form post is not JSON: refused, nothing ordered.
    let r = web
        .post(&format!("/api/subscriptions/{a}/seats"), &acme, "seats=2")
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(web.app.documents("acme").await.len(), 1);
}

#[tokio::test]
async fn a_customer_cannot_reach_anything_of_another_tenant_on_any_route() {
    let (web, a, b) = Web::with_customers().await;
    // beta has a document: a seat order.
    let order = web.app.svc.add_seats(&b, 1, d("2026-01-10")).await.unwrap();
    let slug = order.number.to_string().replace('/', "-");
    let acme = web.customer("acme").await;
    let form = format!("csrf={}", acme.csrf);
    let with = |extra: &str| format!("{form}&{extra}");
    let cases: Vec<(&str, String, Option<String>)> = vec![
        ("GET", format!("/panel/subscriptions/{b}"), None),
        (
            "GET",
            format!("/panel/subscriptions/{b}/seats?seats=1"),
            None,
        ),
        (
            "POST",
            format!("/panel/subscriptions/{b}/seats"),
            Some(with("seats=1")),
        ),
        (
            "POST",
            format!("/panel/subscriptions/{b}/renewal-off"),
            Some(form.clone()),
        ),
        (
            "POST",
            format!("/panel/subscriptions/{b}/plan"),
            Some(with("product=business-premium")),
        ),
        ("GET", format!("/panel/documents/{slug}"), None),
        ("GET", format!("/panel/documents/{slug}/pdf"), None),
        (
            "POST",
            format!("/api/subscriptions/{b}/seats"),
            Some(r#"{"seats":1}"#.into()),
        ),
        ("GET", "/admin".into(), None),
        ("GET", "/admin/reviews".into(), None),
        (
            "POST",
            "/admin/reviews/apply".into(),
            Some(with("key=x&document=PF/2026/01/0001")),
        ),
        ("POST", "/admin/reviews/refund".into(), Some(with("key=x"))),
        ("GET", "/admin/outbox".into(), None),
        (
            "POST",
            "/admin/outbox/retry".into(),
            Some(with("kind=email&id=1")),
        ),
        ("GET", "/admin/tenants".into(), None),
        ("GET", "/admin/tenants/beta".into(), None),
        ("GET", "/api/admin/overdue".into(), None),
    ];
    for (method, path, body) in &cases {
        let r = web
            .send(
                method,
                path,
                Some(&acme.cookie),
                body.as_deref(),
                "10.0.0.1",
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            r.body
        );
    }
    // Beta's things are unchanged; acme's lists hold only acme's.
    let beta = web.app.sub(&b).await;
    assert!(beta.auto_renew && beta.scheduled.product.is_none());
    assert_eq!(web.app.documents("beta").await.len(), 1);
    assert!(web.app.documents("acme").await.is_empty());
    let subs = web.get("/api/subscriptions", &acme).await.body;
    assert!(subs.contains(a.as_str()) && !subs.contains(b.as_str()));
    assert_eq!(web.get("/api/documents", &acme).await.body, "[]");
    let page = web.get("/panel", &acme).await.body;
    assert!(!page.contains(&order.number.to_string()));
    // And nobody signed in gets anything: pages send to sign-in, the API says 401.
    for (method, path, body) in &cases {
        let r = web
            .send(method, path, None, body.as_deref(), "10.0.0.1")
            .await;
        let expected = if path.starts_with("/api/") {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::SEE_OTHER
        };
        assert_eq!(r.status, expected, "{method} {path} without a session");
    }
    // An operator is not a customer: /panel and the customer API are not theirs.
    let ops = web.operator().await;
    for path in ["/panel", "/api/subscriptions", "/api/documents"] {
        assert_eq!(
            web.get(path, &ops).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[tokio::test]
async fn an_operator_finds_the_overdue_tenant_and_applies_a_held_payment() {
    let (web, _, _) = Web::with_customers().await;
    // acme's pro-forma is issued on 25 Jan, due 31 Jan, unpaid on 2 Feb.
    web.app.days("2026-01-25", "2026-02-02").await;
    let ops = web.operator().await;
    let dash = web.get("/admin", &ops).await;
    let pf = web.app.documents("acme").await[0].clone();
    assert!(dash.body.contains("acme sp. z o.o."));
    assert!(dash.body.contains(&pf.number.to_string()));
    assert!(dash.body.contains("<svg"));
    let overdue: serde_json::Value =
        serde_json::from_str(&web.get("/api/admin/overdue", &ops).await.body).unwrap();
    let tenants: Vec<_> = overdue["overdue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tenant"].as_str().unwrap())
        .collect();
    assert!(tenants.contains(&"acme") && tenants.contains(&"beta"));
    assert_eq!(overdue["overdue"][0]["gross"], pf.totals.gross.to_string());
    // A payment with a session id we never issued is held for review.
    let mut session = pf.payment.session_id.as_str().to_string();
    let last = session.pop().unwrap();
    session.push(if last == '0' { '1' } else { '0' });
    let n = renewals_przelewy24::Notification::signed(
        &web.app.p24,
        &session,
        pf.totals.gross.grosze(),
        777,
        154,
    );
    web.app.webhook(&n.to_body()).await;
    let reviews = web.get("/admin/reviews", &ops).await;
    assert!(reviews.body.contains("p24:777"), "{}", reviews.body);
    let r = web
        .post(
            "/admin/reviews/apply",
            &ops,
            &format!(
                "key=p24%3A777&document={}&csrf={}",
                pf.number.to_string().replace('/', "%2F"),
                ops.csrf
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/admin/reviews?done=1");
    assert_eq!(
        web.app
            .document(&pf.number.to_string())
            .await
            .status
            .as_str(),
        "paid"
    );
    let reviews = web.get("/admin/reviews", &ops).await;
    assert!(
        reviews.body.contains("Anna Nowak"),
        "the representative is recorded"
    );
    let log = web
        .app
        .store
        .audit_of(&TenantId::parse("acme").unwrap())
        .await
        .unwrap();
    let settled: Vec<_> = log
        .iter()
        .filter(|e| e.action == "payment_settled")
        .map(|e| (e.actor.to_string(), e.document.clone()))
        .collect();
    assert_eq!(
        settled,
        [(
            "operator:Anna Nowak".to_string(),
            Some(pf.number.to_string())
        )]
    );
    // Applying twice settles nothing more.
    let again = web
        .post(
            "/admin/reviews/apply",
            &ops,
            &format!(
                "key=p24%3A777&document={}&csrf={}",
                pf.number.to_string().replace('/', "%2F"),
                ops.csrf
            ),
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    let overdue: serde_json::Value =
        serde_json::from_str(&web.get("/api/admin/overdue", &ops).await.body).unwrap();
    assert!(
        !overdue.to_string().contains(&pf.number.to_string()),
        "paid: no longer owed"
    );
}
