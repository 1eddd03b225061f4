//! The panel's router on DynamoDB (the emulator, `AWS_ENDPOINT_URL`), as the panel Lambda
//! serves it: a customer and an operator sign in by e-mailed link, and the operator retries a
//! parked e-mail once however often the button is pressed, logged in the customer's log.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Request, StatusCode};
use base64::Engine;
use chrono::Duration;
use http_body_util::BodyExt;
use renewals_app::audit::{Actor, AuditEntry, OPERATORS};
use renewals_app::panel::{Operator, PanelStore};
use renewals_app::ports::{
    warsaw_noon, Change, Clock, Content, ManualClock, OutboxMessage, Retry, Store,
};
use renewals_domain::{Locale, PaymentMethod, TenantId, Term};
use renewals_dynamodb::DynamoStore;
use renewals_panel::{router, Panel, PanelConfig, State};
use renewals_przelewy24::OfflineProvider;
use renewals_tests::{d, p24, settings, tenant};
use std::net::SocketAddr;
use std::sync::Arc;
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

fn cookie_of(r: &Reply, name: &str) -> String {
    r.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

fn csrf_in(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).expect("a form") + 19;
    html[at..at + html[at..].find('"').unwrap()].to_string()
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

struct Web {
    store: Arc<DynamoStore>,
    state: State,
    router: axum::Router,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

impl Web {
    async fn new(test: &str) -> Web {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
        assert!(
            !endpoint.is_empty(),
            "AWS_ENDPOINT_URL is not set: run scripts/test"
        );
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new("eu-central-1"))
            .test_credentials()
            .load()
            .await;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let table = format!("panel-web-{test}-{}-{nanos}", std::process::id());
        let store = Arc::new(DynamoStore::from_conf(&sdk, table));
        store.create_table().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(warsaw_noon(d("2026-01-10"))));
        let svc = renewals_tests::service(
            store.clone(),
            dir.path(),
            Arc::new(OfflineProvider::new(p24())),
            clock.clone(),
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
        let added = AuditEntry::note(
            clock.now(),
            &Actor::Cli,
            &TenantId::parse(OPERATORS).unwrap(),
            "operator_added",
            None,
            "Dodano operatora Anna Nowak".into(),
        );
        let op = Operator {
            email: "ops@reseller.pl".into(),
            name: "Anna Nowak".into(),
        };
        assert!(store.add_operator(&op, &added).await.unwrap());
        let config = PanelConfig::new(
            "https://panel.example.pl".into(),
            b"0123456789abcdef0123456789abcdef".to_vec(),
        );
        let state = Panel::new(Arc::new(svc), store.clone(), config);
        Web {
            store,
            router: router(state.clone()),
            state,
            clock,
            _dir: dir,
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        form: Option<&str>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        if form.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let mut req = req
            .body(form.map(|f| Body::from(f.to_string())).unwrap_or_default())
            .unwrap();
        req.extensions_mut()
            .insert(ConnectInfo("10.0.0.1:40000".parse::<SocketAddr>().unwrap()));
        let res = self.router.clone().oneshot(req).await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// Signs in as `email` through the e-mailed link; the session cookie.
    async fn sign_in(&self, email: &str, outbox: &str, home: &str) -> String {
        let form = self.send("GET", "/login", None, None).await;
        let cookie = cookie_of(&form, "renewals_login_csrf");
        let asked = format!(
            "email={}&csrf={}",
            email.replace('@', "%40"),
            csrf_in(&form.body)
        );
        let sent = self
            .send("POST", "/login", Some(&cookie), Some(&asked))
            .await;
        assert_eq!(sent.status, StatusCode::OK);
        self.state.settle().await;
        let mails = self
            .store
            .emails_of(&TenantId::parse(outbox).unwrap())
            .await
            .unwrap();
        let mail = mails
            .iter()
            .rev()
            .find(|m| m.kind == "login")
            .expect("a sign-in e-mail");
        // The panel composes its sign-in e-mail itself: the row holds the MIME.
        let Content::Mime(mime) = &mail.content else {
            panic!("the sign-in e-mail is stored composed")
        };
        let text = text_of(mime);
        let at = text.find("https://panel.example.pl/login/").unwrap();
        let link: String = text[at + "https://panel.example.pl".len()..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        let followed = self.send("GET", &link, None, None).await;
        assert_eq!(followed.status, StatusCode::SEE_OTHER);
        assert_eq!(followed.headers[header::LOCATION], home);
        // Once only.
        assert_eq!(
            self.send("GET", &link, None, None).await.status,
            StatusCode::GONE
        );
        cookie_of(&followed, "renewals_session")
    }
}

#[tokio::test]
async fn on_dynamodb_the_operator_retries_a_parked_email_once_and_the_customer_log_says_so() {
    let web = Web::new("retry").await;
    let customer = web
        .sign_in("faktury@acme.example.pl", "acme", "/panel")
        .await;
    let home = web.send("GET", "/panel", Some(&customer), None).await;
    assert!(home.body.contains("acme-1"), "{}", home.body);

    // An e-mail to acme the mail server refused for good.
    let acme = TenantId::parse("acme").unwrap();
    let message = OutboxMessage {
        key: "test:reminder".into(),
        tenant: acme.clone(),
        kind: "reminder".into(),
        to: "faktury@acme.example.pl".into(),
        subject: "Przypomnienie o płatności".into(),
        document: Some("PF/2026/01/0001".into()),
        date: d("2026-01-10"),
        content: Content::Mime(b"Subject: Przypomnienie\r\n\r\nZap\xc5\x82a\xc4\x87".to_vec()),
    };
    web.store
        .commit(Change {
            emails: vec![message],
            ..Change::default()
        })
        .await
        .unwrap();
    let now = web.clock.now();
    let claimed = web
        .store
        .claim_due(now, now + Duration::minutes(10), 100)
        .await
        .unwrap();
    let mail = claimed
        .iter()
        .find(|m| m.message.key == "test:reminder")
        .unwrap();
    web.store
        .mark_failed(mail.id, Retry::Park, "550 5.1.1 mailbox unavailable")
        .await
        .unwrap();

    let ops = web
        .sign_in("ops@reseller.pl", "panel-operators", "/admin")
        .await;
    let page = web.send("GET", "/admin/outbox", Some(&ops), None).await;
    assert!(
        page.body.contains("Przypomnienie o płatności"),
        "{}",
        page.body
    );
    let form = format!("csrf={}&kind=email&id={}", csrf_in(&page.body), mail.id);
    let first = web
        .send("POST", "/admin/outbox/retry", Some(&ops), Some(&form))
        .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    assert_eq!(first.headers[header::LOCATION], "/admin/outbox?done=1");
    let second = web
        .send("POST", "/admin/outbox/retry", Some(&ops), Some(&form))
        .await;
    assert_eq!(
        second.headers[header::LOCATION],
        "/admin/outbox",
        "nothing left to retry"
    );
    // Delivered with the retry, once.
    let about = web
        .store
        .messages_about(&acme, "PF/2026/01/0001")
        .await
        .unwrap();
    assert_eq!(
        about.iter().map(|m| (m.sent, m.parked)).collect::<Vec<_>>(),
        [(true, false)]
    );
    let log = web.store.audit_of(&acme).await.unwrap();
    let retried: Vec<_> = log.iter().filter(|e| e.action == "email_retried").collect();
    assert_eq!(retried.len(), 1, "{log:?}");
    assert_eq!(retried[0].actor.to_string(), "operator:Anna Nowak");
    let timeline = web
        .send("GET", "/admin/tenants/acme", Some(&ops), None)
        .await;
    assert!(
        timeline.body.contains("Ponowiono wstrzymany e-mail"),
        "{}",
        timeline.body
    );
}
