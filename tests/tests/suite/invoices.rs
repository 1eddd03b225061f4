//! VAT invoices. Every settled payment of a pro-forma or order gets one in the same commit
//! (`ZAL` before the period, `VAT` with `OkresFa` on or after), numbered `FV/YYYY/MM/NNNN`
//! without gaps also under concurrent payments; its FA(3) XML is valid against the official
//! schema, stored byte for byte with its SHA-256 and handed to KSeF exactly so; the customer's
//! `invoice` e-mail (with the PDF) goes out only once KSeF accepted it; a rejection, a
//! throttling, a refusal for good and 24 hours without acceptance are handled as the outbox
//! rules say. And the buyer's data an invoice needs: the tenant's address as FA(3) `TAdres`
//! (line 1, an optional line 2, a country code, `PL` unless told), kept up to date by
//! `tenant update`, which releases invoices that waited for it.
//!
//! Amounts are computed by hand in the comments from the catalog: Business Standard costs
//! 63.50 zł net per seat and month.

use chrono::Duration;
use renewals_app::ports::{warsaw_noon, KsefError, KsefStatus, KsefVerdict, Store, StoredInvoice};
use renewals_app::TenantUpdate;
use renewals_domain::{Locale, PaymentMethod, TenantId, Term};
use renewals_tests::ksef::ScriptedKsef;
use renewals_tests::{assert_valid_fa3, d, element, tenant, TestApp};
use std::sync::Arc;

fn id(s: &str) -> TenantId {
    TenantId::parse(s).unwrap()
}

#[tokio::test]
async fn a_new_tenant_without_an_address_line2_or_country_is_in_poland() {
    let app = TestApp::new();
    app.svc
        .add_tenant(tenant("acme", Locale::Pl, PaymentMethod::Blik))
        .await
        .unwrap();
    let t = app.svc.account(&id("acme")).await.unwrap().tenant;
    assert_eq!(t.address, "ul. Prosta 1, 00-001 Warszawa");
    assert_eq!(t.address2, None);
    assert_eq!(t.country, "PL");
}

#[tokio::test]
async fn tenant_update_changes_only_what_it_is_given() {
    let app = TestApp::new();
    let mut t = tenant("acme", Locale::Pl, PaymentMethod::Blik);
    t.address = String::new();
    app.svc.add_tenant(t).await.unwrap();

    app.svc
        .update_tenant(
            &id("acme"),
            TenantUpdate {
                address: Some("Hauptstraße 5".into()),
                address2: Some("10115 Berlin".into()),
                country: Some("de".into()),
                ..TenantUpdate::default()
            },
        )
        .await
        .unwrap();
    let after = app.svc.account(&id("acme")).await.unwrap().tenant;
    assert_eq!(after.address, "Hauptstraße 5");
    assert_eq!(after.address2.as_deref(), Some("10115 Berlin"));
    assert_eq!(after.country, "DE");
    assert_eq!(after.name, "acme sp. z o.o.", "the name was not given");
    assert_eq!(after.email.as_str(), "faktury@acme.example.pl");

    app.svc
        .update_tenant(
            &id("acme"),
            TenantUpdate {
                name: Some("ACME Polska S.A.".into()),
                email: Some("ksiegowosc@acme.example.pl".into()),
                ..TenantUpdate::default()
            },
        )
        .await
        .unwrap();
    let after = app.svc.account(&id("acme")).await.unwrap().tenant;
    assert_eq!(after.name, "ACME Polska S.A.");
    assert_eq!(after.email.as_str(), "ksiegowosc@acme.example.pl");
    assert_eq!(after.address, "Hauptstraße 5", "the address was kept");
}

#[tokio::test]
async fn tenant_update_refuses_in_one_line_and_changes_nothing() {
    let app = TestApp::new();
    app.svc
        .add_tenant(tenant("acme", Locale::Pl, PaymentMethod::Blik))
        .await
        .unwrap();
    let before = app.svc.account(&id("acme")).await.unwrap().tenant;
    for (update, says) in [
        (TenantUpdate::default(), "nothing to update"),
        (
            TenantUpdate {
                country: Some("Polska".into()),
                ..TenantUpdate::default()
            },
            "country",
        ),
        (
            TenantUpdate {
                email: Some("a@x.pl,b@x.pl".into()),
                ..TenantUpdate::default()
            },
            "e-mail",
        ),
        (
            TenantUpdate {
                name: Some("  ".into()),
                ..TenantUpdate::default()
            },
            "name",
        ),
        (
            TenantUpdate {
                address: Some(" ".into()),
                ..TenantUpdate::default()
            },
            "address",
        ),
    ] {
        let err = app
            .svc
            .update_tenant(&id("acme"), update)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{says}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    let err = app
        .svc
        .update_tenant(
            &id("nobody"),
            TenantUpdate {
                name: Some("X".into()),
                ..TenantUpdate::default()
            },
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("nobody"), "{err}");
    assert_eq!(app.svc.account(&id("acme")).await.unwrap().tenant, before);
}

// ------------------------------------------------------------------ VAT invoices

fn xml_of(stored: &StoredInvoice) -> String {
    String::from_utf8(stored.xml.clone().expect("the invoice has its XML")).unwrap()
}

/// The stored SHA-256 is the hash of the stored bytes.
fn assert_hash_matches(stored: &StoredInvoice) {
    use sha2::{Digest, Sha256};
    let xml = stored.xml.as_deref().unwrap();
    assert_eq!(
        stored.sha256.as_deref(),
        Some(hex::encode(Sha256::digest(xml)).as_str())
    );
}

/// acme: 10 × Business Standard monthly from 31 Jan; the renewal pro-forma PF/2026/02/0001
/// for [28 Feb, 31 Mar) is issued on 21 Feb (7 days before), due 27 Feb.
async fn renewal_pro_forma(app: &TestApp) {
    app.customer("acme", "business-standard", 10, Term::Monthly, "2026-01-31")
        .await;
    app.day("2026-02-21").await;
    let pf = app.document("PF/2026/02/0001").await;
    assert_eq!(
        (pf.period.start, pf.period.end),
        (d("2026-02-28"), d("2026-03-31"))
    );
}

#[tokio::test]
async fn a_pro_forma_paid_before_its_period_gets_an_advance_invoice_zal() {
    let app = TestApp::new();
    renewal_pro_forma(&app).await;
    assert_eq!(app.pay("PF/2026/02/0001", "2026-02-23").await.status, 200);

    let invoices = app.invoices("acme").await;
    assert_eq!(invoices.len(), 1);
    let inv = &invoices[0];
    assert_eq!(inv.invoice.number.to_string(), "FV/2026/02/0001");
    assert_eq!(inv.invoice.settles.to_string(), "PF/2026/02/0001");
    assert_eq!(
        inv.invoice.issue_date,
        d("2026-02-23"),
        "the payment's business date"
    );
    // No KSeF in this process: the submission waits in its outbox.
    assert_eq!(inv.submission.status, KsefStatus::Pending);
    assert_hash_matches(inv);

    let xml = xml_of(inv);
    assert_valid_fa3(xml.as_bytes());
    assert_eq!(element(&xml, "RodzajFaktury"), "ZAL");
    assert_eq!(element(&xml, "P_2"), "FV/2026/02/0001");
    assert_eq!(element(&xml, "P_1"), "2026-02-23");
    assert_eq!(element(&xml, "DataZaplaty"), "2026-02-23");
    // Paid on the issue day: P_6 is not repeated (art. 106e ust. 1 pkt 6).
    assert!(
        !xml.contains("<P_6>") && !xml.contains("<OkresFa>"),
        "{xml}"
    );
    // 10 × 63.50 = 635.00 net; 23 % of 635.00 = 146.05; gross 781.05.
    assert_eq!(element(&xml, "P_13_1"), "635.00");
    assert_eq!(element(&xml, "P_14_1"), "146.05");
    assert_eq!(element(&xml, "P_15"), "781.05");
    // The order the advance pays for: its value (gross) and its one line.
    assert_eq!(element(&xml, "WartoscZamowienia"), "781.05");
    assert_eq!(element(&xml, "P_8BZ"), "10");
    assert_eq!(element(&xml, "P_9AZ"), "63.50");
    assert_eq!(element(&xml, "P_11NettoZ"), "635.00");
    assert_eq!(element(&xml, "P_12Z"), "23");
    assert!(
        !xml.contains("<ZaliczkaCzesciowa>"),
        "one payment: no partial advances"
    );
    // Seller from the settings, buyer from the tenant.
    assert!(
        xml.contains("<Podmiot1><DaneIdentyfikacyjne><NIP>5260250274</NIP>"),
        "{xml}"
    );
    assert!(
        xml.contains(
            "<Podmiot2><DaneIdentyfikacyjne><NIP>5260001246</NIP><Nazwa>acme sp. z o.o.</Nazwa>"
        ),
        "{xml}"
    );
    assert!(
        xml.contains("<AdresL1>ul. Prosta 1, 00-001 Warszawa</AdresL1>"),
        "{xml}"
    );
    // The totals are the pro-forma's.
    let pf = app.document("PF/2026/02/0001").await;
    assert_eq!(inv.invoice.totals, pf.totals);
}

#[tokio::test]
async fn a_pro_forma_paid_in_grace_gets_a_vat_invoice_with_the_service_period() {
    let app = TestApp::new();
    renewal_pro_forma(&app).await;
    // Unpaid at the end of the period (28 Feb): overdue, grace of 5 days.
    app.day("2026-02-28").await;
    assert_eq!(app.pay("PF/2026/02/0001", "2026-03-02").await.status, 200);

    let inv = app.invoice("FV/2026/03/0001").await;
    assert_eq!(inv.invoice.invoice_type, renewals_domain::InvoiceType::Vat);
    let xml = xml_of(&inv);
    assert_valid_fa3(xml.as_bytes());
    assert_eq!(element(&xml, "RodzajFaktury"), "VAT");
    assert_eq!(element(&xml, "P_1"), "2026-03-02");
    // The service period [28 Feb, 31 Mar): both days included, 28 Feb – 30 Mar.
    assert_eq!(element(&xml, "P_6_Od"), "2026-02-28");
    assert_eq!(element(&xml, "P_6_Do"), "2026-03-30");
    assert_eq!(element(&xml, "P_8B"), "10");
    assert_eq!(element(&xml, "P_9A"), "63.50");
    assert_eq!(element(&xml, "P_11"), "635.00");
    assert_eq!(element(&xml, "P_13_1"), "635.00");
    assert_eq!(element(&xml, "P_14_1"), "146.05");
    assert_eq!(element(&xml, "P_15"), "781.05");
    assert!(!xml.contains("<Zamowienie>"), "{xml}");
}

#[tokio::test]
async fn a_seat_order_gets_a_vat_invoice_for_the_rest_of_the_period() {
    let app = TestApp::new();
    let sub = app
        .customer("acme", "business-standard", 5, Term::Monthly, "2026-03-01")
        .await;
    app.clock.set(warsaw_noon(d("2026-03-11")));
    let order = app.svc.add_seats(&sub, 2, d("2026-03-11")).await.unwrap();
    assert_eq!(order.number.to_string(), "ZAM/2026/03/0001");
    assert_eq!(app.pay("ZAM/2026/03/0001", "2026-03-12").await.status, 200);

    let inv = app.invoice("FV/2026/03/0001").await;
    let xml = xml_of(&inv);
    assert_valid_fa3(xml.as_bytes());
    assert_eq!(element(&xml, "RodzajFaktury"), "VAT");
    assert_eq!(inv.invoice.settles.to_string(), "ZAM/2026/03/0001");
    // [11 Mar, 1 Apr): 21 of March's 31 days. 2 × 63.50 × 21 / 31 = 86.032… → 86.03 net;
    // 23 % of 86.03 = 19.7869 → 19.79; gross 105.82.
    assert_eq!(element(&xml, "P_6_Od"), "2026-03-11");
    assert_eq!(element(&xml, "P_6_Do"), "2026-03-31");
    assert_eq!(element(&xml, "P_8B"), "2");
    assert_eq!(element(&xml, "P_11"), "86.03");
    assert_eq!(element(&xml, "P_13_1"), "86.03");
    assert_eq!(element(&xml, "P_14_1"), "19.79");
    assert_eq!(element(&xml, "P_15"), "105.82");
    assert_eq!(element(&xml, "DataZaplaty"), "2026-03-12");
}

#[tokio::test]
async fn concurrent_payments_get_invoice_numbers_one_to_n_without_gaps_or_duplicates() {
    let app = TestApp::new();
    const N: usize = 8;
    for i in 0..N {
        app.customer(
            &format!("t{i}"),
            "business-basic",
            1 + i as u32,
            Term::Monthly,
            "2026-01-31",
        )
        .await;
    }
    app.day("2026-02-21").await;
    app.clock.set(warsaw_noon(d("2026-02-23")));
    // Every payment through its own connection to the database, all at once.
    let services: Vec<_> = (0..N).map(|_| app.second_service()).collect();
    let mut payments = vec![];
    let p24 = &app.p24;
    for (i, svc) in services.iter().enumerate() {
        let doc = app.documents(&format!("t{i}")).await.remove(0);
        let body = app
            .notification(&doc, doc.totals.gross.grosze(), 5_000 + i as i64)
            .to_body();
        payments.push(async move { renewals_przelewy24::webhook::handle(svc, p24, &body).await });
    }
    let answers = futures_join_all(payments).await;
    assert!(
        answers.iter().all(|a| a.status == 200),
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );

    let mut numbers = vec![];
    for i in 0..N {
        let invoices = app.invoices(&format!("t{i}")).await;
        assert_eq!(invoices.len(), 1, "t{i}");
        numbers.push(invoices[0].invoice.number.seq);
    }
    numbers.sort();
    assert_eq!(numbers, (1..=N as u32).collect::<Vec<_>>());
}

/// Runs the futures concurrently on this task (no extra crate needed).
async fn futures_join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn a_replayed_notification_and_a_second_payment_still_leave_one_invoice() {
    let app = TestApp::new();
    renewal_pro_forma(&app).await;
    let doc = app.document("PF/2026/02/0001").await;
    app.clock.set(warsaw_noon(d("2026-02-23")));
    let body = app
        .notification(&doc, doc.totals.gross.grosze(), 777)
        .to_body();
    for _ in 0..3 {
        assert_eq!(app.webhook(&body).await.status, 200);
    }
    // Paid again under another order id: flagged for refund, no invoice for it.
    let again = app
        .notification(&doc, doc.totals.gross.grosze(), 778)
        .to_body();
    assert_eq!(app.webhook(&again).await.status, 200);
    let invoices = app.invoices("acme").await;
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0].invoice.payment, "p24:777");
    assert_eq!(
        app.svc
            .store
            .last_invoice_number(renewals_domain::InvoiceSeries::of(d("2026-02-23")))
            .await
            .unwrap(),
        1
    );
    assert!(
        app.email_kinds("acme")
            .await
            .contains(&"operator-alert".to_string()),
        "the refund is the operator's"
    );
}

#[tokio::test]
async fn a_payment_flagged_for_refund_gets_no_invoice() {
    let app = TestApp::new();
    let sub = app
        .customer("acme", "business-standard", 5, Term::Monthly, "2026-03-01")
        .await;
    app.clock.set(warsaw_noon(d("2026-03-11")));
    app.svc.add_seats(&sub, 2, d("2026-03-11")).await.unwrap();
    // The renewal pro-forma comes out on 25 Mar; the order paid after that adds no seats.
    app.day("2026-03-25").await;
    assert_eq!(app.pay("ZAM/2026/03/0001", "2026-03-26").await.status, 200);
    let invoices = app.invoices("acme").await;
    assert!(
        invoices.is_empty(),
        "{:?}",
        invoices
            .iter()
            .map(|i| i.invoice.number.to_string())
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn the_invoice_goes_to_ksef_byte_for_byte_and_its_e_mail_with_the_pdf_only_after_acceptance()
{
    let ksef = Arc::new(ScriptedKsef::new());
    let app = TestApp::new().with_ksef(ksef.clone());
    renewal_pro_forma(&app).await;
    // KSeF takes the invoice in but is still processing it when first asked.
    ksef.on_verdict(Ok(KsefVerdict::Processing));
    app.pay("PF/2026/02/0001", "2026-02-23").await;
    assert!(!app
        .email_kinds("acme")
        .await
        .contains(&"invoice".to_string()));

    let run = app.svc.ksef_sync().await.unwrap();
    assert_eq!((run.sent, run.processing, run.accepted), (1, 1, 0));
    let inv = app.invoice("FV/2026/02/0001").await;
    assert_eq!(inv.submission.status, KsefStatus::Sent);
    assert_eq!(ksef.sent().len(), 1);
    assert_eq!(
        ksef.sent()[0].xml,
        inv.xml.clone().unwrap(),
        "what KSeF got is what is stored"
    );
    assert_eq!(ksef.sent()[0].number, "FV/2026/02/0001");
    assert!(
        !app.email_kinds("acme")
            .await
            .contains(&"invoice".to_string()),
        "not accepted yet"
    );
    assert_eq!(
        ksef.finished(),
        1,
        "the session is closed at the end of the run"
    );

    // Asked again a minute later: accepted.
    app.clock.set(app.clock_now() + Duration::seconds(61));
    let run = app.svc.ksef_sync().await.unwrap();
    assert_eq!((run.sent, run.accepted), (0, 1));
    let inv = app.invoice("FV/2026/02/0001").await;
    assert_eq!(inv.submission.status, KsefStatus::Accepted);
    let number = ScriptedKsef::ksef_number("FV/2026/02/0001");
    assert_eq!(inv.submission.ksef_number.as_deref(), Some(number.as_str()));
    assert_eq!(
        inv.upo.as_deref(),
        Some(b"<Potwierdzenie>FV/2026/02/0001</Potwierdzenie>".as_slice())
    );
    assert_eq!(ksef.sent().len(), 1, "sent once");

    let emails = app.emails("acme").await;
    let invoice_mails: Vec<_> = emails.iter().filter(|m| m.kind == "invoice").collect();
    assert_eq!(invoice_mails.len(), 1);
    let mail = invoice_mails[0];
    assert_eq!(mail.document.as_deref(), Some("FV/2026/02/0001"));
    assert!(
        mail.subject.contains("FV/2026/02/0001") && mail.subject.contains(&number),
        "{}",
        mail.subject
    );
    let mime = String::from_utf8_lossy(&app.mime(mail)).into_owned();
    assert!(mime.contains("application/pdf"), "the PDF is attached");
    assert!(
        mime.contains("FV-2026-02-0001.pdf"),
        "named after the invoice"
    );
    // Counted where it lands: the outbox folder got exactly one invoice e-mail.
    app.svc.deliver().await.unwrap();
    let files: Vec<_> = std::fs::read_dir(app.dir.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with("-invoice.eml"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    // A later run changes nothing.
    let again = app.svc.ksef_sync().await.unwrap();
    assert_eq!((again.sent, again.accepted), (0, 0));
}

#[tokio::test]
async fn a_rejected_invoice_is_parked_with_ksef_reason_and_the_operator_alerted() {
    let ksef = Arc::new(ScriptedKsef::new());
    let app = TestApp::new().with_ksef(ksef.clone());
    renewal_pro_forma(&app).await;
    ksef.on_verdict(Ok(KsefVerdict::Rejected {
        code: 450,
        reason: "Błąd weryfikacji semantyki dokumentu faktury".into(),
    }));
    app.pay("PF/2026/02/0001", "2026-02-23").await;
    let run = app.svc.ksef_sync().await.unwrap();
    assert_eq!(run.rejected, 1);
    let inv = app.invoice("FV/2026/02/0001").await;
    assert_eq!(inv.submission.status, KsefStatus::Rejected);
    assert!(inv
        .submission
        .reason
        .as_deref()
        .unwrap()
        .contains("Błąd weryfikacji semantyki"));
    let emails = app.emails("acme").await;
    assert!(
        !emails.iter().any(|m| m.kind == "invoice"),
        "the customer gets nothing"
    );
    let alerts: Vec<_> = emails
        .iter()
        .filter(|m| m.kind == "operator-alert" && m.document.as_deref() == Some("FV/2026/02/0001"))
        .collect();
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0]
            .subject
            .contains("KSeF odrzucił fakturę FV/2026/02/0001"),
        "{}",
        alerts[0].subject
    );
    let body = String::from_utf8_lossy(&app.mime(alerts[0])).into_owned();
    assert!(body.contains("450"), "the reason is in the alert");
    // Parked: a later run neither sends nor asks again.
    app.clock.set(app.clock_now() + Duration::hours(2));
    app.svc.ksef_sync().await.unwrap();
    assert_eq!((ksef.sent().len(), ksef.verdict_calls()), (1, 1));
}

#[tokio::test]
async fn throttled_by_ksef_the_invoice_waits_for_retry_after_and_a_refusal_for_good_parks_it() {
    let ksef = Arc::new(ScriptedKsef::new());
    let app = TestApp::new().with_ksef(ksef.clone());
    renewal_pro_forma(&app).await;
    ksef.on_send(Err(KsefError::RateLimited { retry_after_s: 120 }));
    app.pay("PF/2026/02/0001", "2026-02-23").await;
    let start = app.clock_now();
    let run = app.svc.ksef_sync().await.unwrap();
    assert_eq!((run.sent, run.failed), (0, 1));
    assert_eq!(
        app.invoice("FV/2026/02/0001").await.submission.status,
        KsefStatus::Pending
    );

    app.clock.set(start + Duration::seconds(90));
    app.svc.ksef_sync().await.unwrap();
    assert_eq!(ksef.sent().len(), 1, "not before Retry-After");

    app.clock.set(start + Duration::seconds(121));
    let run = app.svc.ksef_sync().await.unwrap();
    assert_eq!((run.sent, run.accepted), (1, 1));

    // Another customer's invoice, refused for good (our credentials): parked and alerted.
    app.customer("beta", "business-basic", 3, Term::Monthly, "2026-01-31")
        .await;
    app.day("2026-02-21").await;
    let pf = app.documents("beta").await.remove(0);
    ksef.on_send(Err(KsefError::Credentials("401 invalid token".into())));
    app.pay(&pf.number.to_string(), "2026-02-24").await;
    let run = app.svc.ksef_sync().await.unwrap();
    assert_eq!(run.parked, 1);
    let inv = app.invoices("beta").await.remove(0);
    assert!(inv.submission.parked);
    assert_eq!(inv.submission.status, KsefStatus::Pending);
    let alerts: Vec<_> = app
        .emails("beta")
        .await
        .into_iter()
        .filter(|m| m.kind == "operator-alert")
        .collect();
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0].subject.contains("nie trafiła do KSeF"),
        "{}",
        alerts[0].subject
    );
}

#[tokio::test]
async fn an_invoice_not_accepted_within_24_hours_alerts_the_operator_once() {
    let ksef = Arc::new(ScriptedKsef::new());
    let app = TestApp::new().with_ksef(ksef.clone());
    renewal_pro_forma(&app).await;
    for _ in 0..10 {
        ksef.on_verdict(Ok(KsefVerdict::Processing));
    }
    app.pay("PF/2026/02/0001", "2026-02-23").await;
    let issued = app.clock_now();
    app.svc.ksef_sync().await.unwrap();
    app.clock.set(issued + Duration::hours(23));
    app.svc.ksef_sync().await.unwrap();
    assert_eq!(
        alerts_keyed(&app, "operator-alert:invoice:not-accepted")
            .await
            .len(),
        0
    );
    app.clock.set(issued + Duration::hours(25));
    assert_eq!(app.svc.ksef_sync().await.unwrap().late, 1);
    app.clock.set(issued + Duration::hours(26));
    assert_eq!(app.svc.ksef_sync().await.unwrap().late, 0);
    assert_eq!(
        alerts_keyed(&app, "operator-alert:invoice:not-accepted")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn a_tenant_without_an_address_has_the_invoice_held_until_tenant_update_releases_it() {
    let ksef = Arc::new(ScriptedKsef::new());
    let app = TestApp::new().with_ksef(ksef.clone());
    let mut t = tenant("acme", Locale::Pl, PaymentMethod::Transfer);
    t.address = String::new();
    app.customer_with(t, "business-standard", 10, Term::Monthly, "2026-01-31")
        .await;
    app.day("2026-02-21").await;
    app.pay("PF/2026/02/0001", "2026-02-23").await;

    let inv = app.invoice("FV/2026/02/0001").await;
    assert_eq!(inv.submission.status, KsefStatus::AwaitingBuyerData);
    assert_eq!((inv.xml.clone(), inv.sha256.clone()), (None, None));
    let err = app
        .svc
        .invoice_xml(&inv.invoice.number)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("waits for the buyer's address"), "{err}");
    let alerts = alerts_keyed(&app, "operator-alert:invoice:awaiting-buyer-data").await;
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0].subject.contains("czeka na adres klienta"),
        "{}",
        alerts[0].subject
    );
    // Runs meanwhile send nothing and alert no more.
    app.day("2026-02-24").await;
    app.svc.ksef_sync().await.unwrap();
    assert!(ksef.sent().is_empty());
    assert_eq!(
        alerts_keyed(&app, "operator-alert:invoice:awaiting-buyer-data")
            .await
            .len(),
        1
    );

    app.clock.set(warsaw_noon(d("2026-02-26")));
    let released = app
        .svc
        .update_tenant(
            &TenantId::parse("acme").unwrap(),
            TenantUpdate {
                address: Some("ul. Długa 5".into()),
                address2: Some("80-831 Gdańsk".into()),
                ..TenantUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(released, 1);
    let inv = app.invoice("FV/2026/02/0001").await;
    assert_eq!(inv.submission.status, KsefStatus::Pending);
    assert_hash_matches(&inv);
    let xml = xml_of(&inv);
    assert_valid_fa3(xml.as_bytes());
    // Built now, with the address, and dated now: KSeF takes an earlier `P_1` for an offline
    // invoice. The number and the payment's day are those of issue.
    assert!(
        xml.contains("<AdresL1>ul. Długa 5</AdresL1><AdresL2>80-831 Gdańsk</AdresL2>"),
        "{xml}"
    );
    assert_eq!(element(&xml, "P_2"), "FV/2026/02/0001");
    assert_eq!(element(&xml, "P_1"), "2026-02-26");
    assert_eq!(inv.invoice.issue_date, d("2026-02-26"));
    assert_eq!(inv.invoice.paid_on, d("2026-02-23"));
    assert!(element(&xml, "DataWytworzeniaFa").starts_with("2026-02-26"));

    // KSeF's 24 hours run from the release, not from the issue three days ago: still
    // processing right after the release is no reason to alert.
    ksef.on_verdict(Ok(KsefVerdict::Processing));
    let run = app.svc.ksef_sync().await.unwrap();
    assert_eq!((run.sent, run.processing, run.late), (1, 1, 0), "{run:?}");
    assert!(alerts_keyed(&app, "operator-alert:invoice:not-accepted")
        .await
        .is_empty());
    app.clock.set(app.clock_now() + Duration::seconds(61));
    let run = app.svc.ksef_sync().await.unwrap();
    assert_eq!(run.accepted, 1);
    assert_eq!(ksef.sent()[0].xml, inv.xml.unwrap());
    // Updating again releases nothing more.
    let again = app
        .svc
        .update_tenant(
            &TenantId::parse("acme").unwrap(),
            TenantUpdate {
                address2: Some("80-831 Gdańsk".into()),
                ..TenantUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(again, 0);
}

#[tokio::test]
async fn the_daily_run_sends_the_days_invoices_and_their_e_mails_go_out_in_the_same_run() {
    let ksef = Arc::new(ScriptedKsef::new());
    let app = TestApp::new().with_ksef(ksef.clone());
    renewal_pro_forma(&app).await;
    app.pay("PF/2026/02/0001", "2026-02-23").await;
    let (daily, _) = app.day("2026-02-24").await;
    assert_eq!((daily.invoices_sent, daily.invoices_accepted), (1, 1));
    let sent_invoice_mail = app
        .store
        .messages_about(&TenantId::parse("acme").unwrap(), "FV/2026/02/0001")
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.message.kind == "invoice")
        .map(|m| m.sent)
        .collect::<Vec<_>>();
    assert_eq!(sent_invoice_mail, vec![true]);
}

/// acme's e-mails whose outbox key starts with `prefix`.
async fn alerts_keyed(app: &TestApp, prefix: &str) -> Vec<renewals_app::ports::OutboxMessage> {
    app.emails("acme")
        .await
        .into_iter()
        .filter(|m| m.key.starts_with(prefix))
        .collect()
}

// ------------------------------------------------------------------ against KSeF's HTTP API

#[tokio::test]
async fn over_ksefs_http_api_the_bytes_ksef_decrypts_are_the_stored_xml() {
    use renewals_ksef::standin::{KsefStandIn, NIP};
    let standin = KsefStandIn::start().await;
    let client = renewals_ksef::HttpKsef::new(standin.settings()).unwrap();
    let app = TestApp::new().with_ksef(Arc::new(client));
    assert_eq!(
        app.svc.settings.seller.nip.as_str(),
        NIP,
        "the stand-in's context"
    );
    renewal_pro_forma(&app).await;
    // KSeF throttles the first invoice sent: 429 with Retry-After 1 (the stand-in keeps to
    // it in real time, so the test waits that second).
    standin.throttle("POST /sessions/online/{ref}/invoices", 1, 1);
    app.pay("PF/2026/02/0001", "2026-02-23").await;
    let start = app.clock_now();
    let run = app.svc.ksef_sync().await.unwrap();
    assert_eq!((run.sent, run.failed), (0, 1));
    let inv = app.invoice("FV/2026/02/0001").await;
    assert_eq!(inv.submission.status, KsefStatus::Pending);
    assert_eq!(inv.submission.next_attempt, start + Duration::seconds(1));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    app.clock.set(start + Duration::seconds(2));
    let run = app.svc.ksef_sync().await.unwrap();
    assert_eq!((run.sent, run.accepted), (1, 1), "{run:?}");
    let inv = app.invoice("FV/2026/02/0001").await;
    assert_eq!(inv.submission.status, KsefStatus::Accepted);
    let sent = inv.submission.sent.clone().unwrap();
    assert_eq!(
        standin.decrypted(&sent.invoice).unwrap(),
        inv.xml.clone().unwrap(),
        "KSeF decrypted exactly the stored bytes"
    );
    let number = inv.submission.ksef_number.clone().unwrap();
    assert_eq!(
        renewals_ksef::check_ksef_number(&number),
        Ok(()),
        "{number}"
    );
    assert!(
        inv.upo.as_ref().is_some_and(|u| !u.is_empty()),
        "the UPO is stored"
    );
    assert_eq!(standin.registered(), 1);
    let mails: Vec<_> = app
        .emails("acme")
        .await
        .into_iter()
        .filter(|m| m.kind == "invoice")
        .collect();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].subject.contains(&number));
}

#[tokio::test]
async fn an_invoice_that_goes_to_ksef_after_midnight_is_dated_the_day_it_goes() {
    // Paid in the evening, sent by the next hourly sync after midnight: KSeF would take a
    // `P_1` of the evening before for an offline invoice (API.md §5), which needs KOD II.
    use renewals_ksef::standin::KsefStandIn;
    let standin = KsefStandIn::start().await;
    let client = renewals_ksef::HttpKsef::new(standin.settings()).unwrap();
    let app = TestApp::new().with_ksef(Arc::new(client));
    renewal_pro_forma(&app).await;
    app.pay("PF/2026/02/0001", "2026-02-23").await;
    let held = app.invoice("FV/2026/02/0001").await;
    assert_eq!(element(&xml_of(&held), "P_1"), "2026-02-23");

    // 00:30 in Warsaw (23:30 UTC) on the 24th, KSeF's day too.
    app.clock
        .set(warsaw_noon(d("2026-02-24")) - Duration::hours(11) - Duration::minutes(30));
    standin.set_day(d("2026-02-24"));
    let run = app.svc.ksef_sync().await.unwrap();
    let inv = app.invoice("FV/2026/02/0001").await;
    assert_eq!(
        (run.sent, run.accepted),
        (1, 1),
        "{run:?} {:?}",
        inv.submission
    );

    let sent = inv.submission.sent.clone().unwrap();
    let received = standin.decrypted(&sent.invoice).unwrap();
    assert_eq!(
        received,
        inv.xml.clone().unwrap(),
        "KSeF has what is stored"
    );
    let xml = String::from_utf8(received).unwrap();
    assert_valid_fa3(xml.as_bytes());
    assert_eq!(element(&xml, "P_1"), "2026-02-24", "dated the day it went");
    assert_eq!(standin.invoicing_mode(&sent.invoice), Some("Online"));
    assert_eq!(
        element(&xml, "P_2"),
        "FV/2026/02/0001",
        "the number as issued"
    );
    assert_hash_matches(&inv);
    assert_eq!(inv.invoice.issue_date, d("2026-02-24"));
    assert_eq!(
        inv.invoice.paid_on,
        d("2026-02-23"),
        "the payment's day stays"
    );
    assert_eq!(standin.registered(), 1);

    // The customer's e-mail and its PDF say the same day; KOD I is made from it.
    let mail = app
        .emails("acme")
        .await
        .into_iter()
        .find(|m| m.kind == "invoice")
        .expect("the invoice e-mail, after acceptance");
    let text = crate::alerts::text_of(&app.mime(&mail)).replace('\u{a0}', " ");
    assert!(text.contains("Data wystawienia: 24 lutego 2026"), "{text}");
    assert!(text.contains("opłaconą 23 lutego 2026"), "{text}");
    let (_, kod_i) = app.svc.ksef_mark(&inv).unwrap();
    assert!(kod_i.contains("/24-02-2026/"), "{kod_i}");

    // Sent once, it stays as KSeF has it: a later sync, days on, changes nothing.
    app.clock.set(warsaw_noon(d("2026-02-27")));
    app.svc.ksef_sync().await.unwrap();
    assert_eq!(app.invoice("FV/2026/02/0001").await.xml, inv.xml);
    assert_eq!(standin.registered(), 1);
}
