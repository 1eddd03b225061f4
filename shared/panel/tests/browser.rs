//! The panel in a real browser: headless Chromium driven through chromedriver (Debian's
//! `chromium` and `chromium-driver`, installed by `scripts/test`). A customer signs in through
//! the e-mailed link, adds 2 seats and sees the order and its amount, and cannot open another
//! tenant's document; an operator signs in, finds the overdue tenant on the dashboard and
//! applies a held payment.

use base64::Engine;
use fantoccini::{ClientBuilder, Locator};
use renewals_app::panel::{Operator, PanelStore};
use renewals_app::ports::warsaw_noon;
use renewals_domain::{Locale, Term, Totals};
use renewals_local::panel::SqlitePanelStore;
use renewals_panel::{router, Panel, PanelConfig, State};
use renewals_tests::{d, TestApp};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// chromedriver, stopped when the test ends however it ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_driver() -> (Driver, String) {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian's chromium-driver; scripts/test installs it)");
    let driver = Driver(child);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (driver, format!("http://127.0.0.1:{port}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start on port {port}");
}

async fn browser(driver: &str, profile: &std::path::Path) -> fantoccini::Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({"args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--window-size=1280,1000",
            format!("--user-data-dir={}", profile.display()),
        ]}),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(driver)
        .await
        .expect("a Chromium session")
}

/// The plain-text part of an outbox message, transfer-decoded.
fn text_of(mime: &[u8]) -> String {
    let raw = String::from_utf8_lossy(mime).replace("\r\n", "\n");
    let start = raw.find("Content-Type: text/plain").expect("a text part");
    let (headers, rest) = raw[start..].split_once("\n\n").unwrap();
    let body = &rest[..rest.find("\n--").unwrap_or(rest.len())];
    if headers.contains("base64") {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .unwrap();
        return String::from_utf8(bytes).unwrap();
    }
    // Quoted-printable: the link is ASCII; soft line breaks are all that matter.
    body.replace("=\n", "").replace("=3D", "=")
}

/// The link in the last sign-in e-mail filed under `outbox` (sent after the answer: waited
/// for).
async fn emailed_link(app: &TestApp, state: &State, outbox: &str, base: &str) -> String {
    state.settle().await;
    let mails = app.emails(outbox).await;
    let mail = mails
        .iter()
        .rev()
        .find(|m| m.kind == "login")
        .expect("a sign-in e-mail");
    let text = text_of(&app.mime(mail));
    let at = text
        .find(&format!("{base}/login/"))
        .expect("the link in the e-mail");
    text[at..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect()
}

async fn sign_in(c: &fantoccini::Client, base: &str, email: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    c.find(Locator::Css("input[name=email]"))
        .await
        .unwrap()
        .send_keys(email)
        .await
        .unwrap();
    c.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // Wait for the answer page: reading `body` right after the click can catch the form
    // page as it is replaced (a stale element).
    let body = c
        .wait()
        .at_most(std::time::Duration::from_secs(10))
        .for_element(Locator::XPath("//body[contains(., 'Sprawdź skrzynkę')]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("Sprawdź skrzynkę"), "{body}");
}

async fn text(c: &fantoccini::Client) -> String {
    c.find(Locator::Css("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// KSeF refusing every invoice, as it does an invoice it finds semantically wrong.
struct RejectingKsef;

#[async_trait::async_trait]
impl renewals_app::ports::Ksef for RejectingKsef {
    async fn send(
        &self,
        invoice: &renewals_app::ports::InvoiceToSend,
    ) -> Result<renewals_app::ports::SentInvoice, renewals_app::ports::KsefError> {
        Ok(renewals_app::ports::SentInvoice {
            session: "SO-1".into(),
            invoice: invoice.number.clone(),
        })
    }

    async fn verdict(
        &self,
        _: &renewals_app::ports::SentInvoice,
    ) -> Result<renewals_app::ports::KsefVerdict, renewals_app::ports::KsefError> {
        Ok(renewals_app::ports::KsefVerdict::Rejected {
            code: 450,
            reason: "Błąd weryfikacji semantyki dokumentu faktury".into(),
        })
    }

    async fn finish(&self) -> Result<(), renewals_app::ports::KsefError> {
        Ok(())
    }
}

/// With `PANEL_SCREENSHOTS=DIR`, the page as a desktop (1280 px) and a phone (390 px) see
/// it, as `DIR/{name}-{width}.png` (how `docs/panel-*.png` are made).
async fn screenshots(c: &fantoccini::Client, name: &str) {
    let Ok(dir) = std::env::var("PANEL_SCREENSHOTS") else {
        return;
    };
    for (width, height) in [(1280, 1000), (390, 844)] {
        c.set_window_size(width, height).await.unwrap();
        let png = c.screenshot().await.unwrap();
        std::fs::write(format!("{dir}/{name}-{width}.png"), png).unwrap();
    }
    c.set_window_size(1280, 1000).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn customer_and_operator_in_a_real_browser() {
    let app = TestApp::new().with_ksef(Arc::new(RejectingKsef));
    app.clock.set(warsaw_noon(d("2026-01-10")));
    let a = app
        .customer("acme", "business-standard", 10, Term::Monthly, "2026-01-01")
        .await;
    let b = app
        .customer("beta", "business-basic", 3, Term::Monthly, "2026-01-01")
        .await;
    let beta_order = app.svc.add_seats(&b, 1, d("2026-01-10")).await.unwrap();
    let panel_store =
        Arc::new(SqlitePanelStore::open(&app.dir.path().join("renewals.sqlite3")).unwrap());
    let note = renewals_app::audit::AuditEntry::note(
        warsaw_noon(d("2026-01-10")),
        &renewals_app::audit::Actor::Cli,
        &renewals_domain::TenantId::parse("operator").unwrap(),
        "operator_added",
        None,
        "Dodano operatora Anna Nowak".into(),
    );
    panel_store
        .add_operator(
            &Operator {
                email: "ops@reseller.pl".into(),
                name: "Anna Nowak".into(),
            },
            &note,
        )
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = PanelConfig::new(base.clone(), b"browser-test-key-0123456789abcdef".to_vec());
    let state = Panel::new(Arc::new(app.second_service()), panel_store, config);
    let web = router(state.clone());
    tokio::spawn(async move {
        axum::serve(
            listener,
            web.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    let (_driver, driver_url) = start_driver().await;
    let profile = tempfile::tempdir().unwrap();

    // The customer: the e-mailed link, 2 seats with the price first, then the order.
    let c = browser(&driver_url, &profile.path().join("customer")).await;
    sign_in(&c, &base, "faktury@acme.example.pl").await;
    c.goto(&emailed_link(&app, &state, "acme", &base).await)
        .await
        .unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/panel");
    c.find(Locator::Css(&format!("a[href='/panel/subscriptions/{a}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let seats = c.find(Locator::Css("input[name=seats]")).await.unwrap();
    seats.clear().await.unwrap();
    seats.send_keys("2").await.unwrap();
    c.find(Locator::Css("form[method=get] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Css("#gross")).await.unwrap();
    let sub = app.sub(&a).await;
    let gross = Totals::of_lines([sub.prorated(2, d("2026-01-10"))]).gross;
    let shown = renewals_email::format_amount(gross, Locale::Pl);
    let preview = text(&c).await;
    assert!(preview.contains(&shown), "{shown} not in: {preview}");
    assert!(
        app.documents("acme").await.is_empty(),
        "nothing ordered before confirming"
    );
    c.find(Locator::Css("form[method=post] button.primary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Css("p.ok")).await.unwrap();
    let order_page = text(&c).await;
    let docs = app.documents("acme").await;
    assert_eq!(docs.len(), 1);
    assert_eq!((docs[0].lines[0].seats, docs[0].totals.gross), (2, gross));
    assert!(
        order_page.contains(&docs[0].number.to_string()),
        "{order_page}"
    );
    assert!(order_page.contains(&shown));
    // Another tenant's document, by its address: not there.
    let other = format!(
        "{base}/panel/documents/{}",
        beta_order.number.to_string().replace('/', "-")
    );
    c.goto(&other).await.unwrap();
    let body = c
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body.trim(), "Not found");
    c.goto(&format!("{other}/pdf")).await.unwrap();
    let body = c
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body.trim(), "Not found");
    c.close().await.unwrap();

    // The operator: acme's pro-forma is overdue on 2 February; a payment is held.
    app.days("2026-01-25", "2026-02-02").await;
    let pf = app
        .documents("acme")
        .await
        .into_iter()
        .find(|d| d.number.to_string().starts_with("PF/"))
        .unwrap();
    let mut session = pf.payment.session_id.as_str().to_string();
    let last = session.pop().unwrap();
    session.push(if last == '0' { '1' } else { '0' });
    let n = renewals_przelewy24::Notification::signed(
        &app.p24,
        &session,
        pf.totals.gross.grosze(),
        4242,
        154,
    );
    app.webhook(&n.to_body()).await;
    let o = browser(&driver_url, &profile.path().join("operator")).await;
    sign_in(&o, &base, "ops@reseller.pl").await;
    o.goto(&emailed_link(&app, &state, "panel-operators", &base).await)
        .await
        .unwrap();
    assert_eq!(o.current_url().await.unwrap().path(), "/admin");
    let dash = text(&o).await;
    assert!(
        dash.contains("acme sp. z o.o.") && dash.contains(&pf.number.to_string()),
        "{dash}"
    );
    o.find(Locator::LinkText("Płatności"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    o.wait()
        .for_element(Locator::Css("form[action='/admin/reviews/apply']"))
        .await
        .unwrap();
    assert!(text(&o).await.contains("p24:4242"));
    o.find(Locator::Css("input[name=document]"))
        .await
        .unwrap()
        .send_keys(&pf.number.to_string())
        .await
        .unwrap();
    o.find(Locator::Css("form[action='/admin/reviews/apply'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    o.wait().for_element(Locator::Css("p.ok")).await.unwrap();
    let after = text(&o).await;
    assert!(
        after.contains("Zapisano decyzję") && after.contains("Anna Nowak"),
        "{after}"
    );
    assert_eq!(
        app.document(&pf.number.to_string()).await.status.as_str(),
        "paid"
    );
    // Its VAT invoice, rejected by KSeF: parked with KSeF's reason, sent again from the page.
    app.svc.ksef_sync().await.unwrap();
    o.find(Locator::LinkText("Wysyłki"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    o.wait()
        .for_element(Locator::Css("input[name=kind][value=ksef]"))
        .await
        .unwrap();
    let outbox = text(&o).await;
    assert!(
        outbox.contains("odrzucona przez KSeF") && outbox.contains("semantyki"),
        "{outbox}"
    );
    screenshots(&o, "panel-admin-outbox").await;
    o.find(Locator::XPath(
        "//input[@name='kind'][@value='ksef']/following-sibling::button",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    o.wait().for_element(Locator::Css("p.ok")).await.unwrap();
    assert!(!text(&o).await.contains("odrzucona przez KSeF"));
    let invoice = &app.invoices("acme").await[0];
    assert!(!invoice.submission.parked);
    o.close().await.unwrap();
}
