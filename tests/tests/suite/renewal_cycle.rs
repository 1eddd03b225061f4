//! The renewal cycle end to end on the embedded store: what the billing team and the
//! customers would check — documents, amounts, statuses and e-mails.

use renewals_domain::{DocumentStatus, Job, Status, Term};
use renewals_tests::{d, TestApp};

fn money(s: &str) -> renewals_domain::Money {
    renewals_domain::Money::parse(s).unwrap()
}

#[tokio::test]
async fn a_monthly_subscription_paid_on_time_renews_without_a_gap() {
    let app = TestApp::new();
    let sub = app
        .customer("acme", "business-standard", 10, Term::Monthly, "2026-01-31")
        .await;
    app.days("2026-02-01", "2026-02-20").await;
    assert!(
        app.documents("acme").await.is_empty(),
        "nothing before end - 7 days"
    );

    let (daily, _) = app.day("2026-02-21").await;
    assert_eq!(daily.proformas_issued, 1);
    let pf = &app.documents("acme").await[0];
    assert_eq!(pf.number.to_string(), "PF/2026/02/0001");
    assert_eq!(
        (pf.period.start, pf.period.end),
        (d("2026-02-28"), d("2026-03-31"))
    );
    assert_eq!(pf.due_date, d("2026-02-27"));
    // 10 × 63.50 = 635.00 net; VAT 146.05; gross 781.05.
    assert_eq!(pf.totals.net, money("635.00"));
    assert_eq!(pf.totals.vat, money("146.05"));
    assert_eq!(pf.totals.gross, money("781.05"));

    assert_eq!(app.pay("PF/2026/02/0001", "2026-02-22").await.status, 200);
    app.days("2026-02-22", "2026-03-01").await;
    let s = app.sub(&sub).await;
    assert_eq!(s.status, Status::Active);
    assert_eq!(
        (s.period.start, s.period.end),
        (d("2026-02-28"), d("2026-03-31"))
    );
    assert_eq!(
        app.email_kinds("acme").await,
        ["proforma", "payment-confirmation"]
    );
    let eml = std::fs::read_dir(app.dir.path().join("outbox"))
        .unwrap()
        .count();
    assert_eq!(eml, 2, "both e-mails delivered as .eml files");
}

#[tokio::test]
async fn an_annual_subscription_is_billed_30_days_ahead_and_renews_for_a_year() {
    let app = TestApp::new();
    let sub = app
        .customer("nordic", "business-premium", 25, Term::Annual, "2025-03-15")
        .await;
    let (daily, _) = app.day("2026-02-12").await;
    assert_eq!(daily.proformas_issued, 0);
    app.day("2026-02-13").await;
    let pf = &app.documents("nordic").await[0];
    assert_eq!(
        (pf.period.start, pf.period.end),
        (d("2026-03-15"), d("2027-03-15"))
    );
    assert_eq!(pf.totals.net, money("27780.00"));
    assert_eq!(pf.totals.gross, money("34169.40"));
    app.pay(&pf.number.to_string(), "2026-02-20").await;
    app.days("2026-02-20", "2026-03-15").await;
    let s = app.sub(&sub).await;
    assert_eq!(
        (s.status, s.period.start, s.period.end),
        (Status::Active, d("2026-03-15"), d("2027-03-15"))
    );
}

#[tokio::test]
async fn a_payment_during_grace_activates_the_next_period_from_the_old_end() {
    let app = TestApp::new();
    let sub = app
        .customer("acme", "business-basic", 3, Term::Monthly, "2026-01-31")
        .await;
    app.days("2026-02-21", "2026-02-28").await;
    assert_eq!(app.sub(&sub).await.status, Status::Overdue);
    assert_eq!(app.email_kinds("acme").await.last().unwrap(), "overdue");
    app.pay("PF/2026/02/0001", "2026-03-02").await;
    let s = app.sub(&sub).await;
    assert_eq!(
        (s.status, s.period.start),
        (Status::Active, d("2026-02-28"))
    );
    app.days("2026-03-02", "2026-03-10").await;
    assert_eq!(
        app.sub(&sub).await.status,
        Status::Active,
        "not suspended after paying"
    );
}

#[tokio::test]
async fn a_non_payer_is_suspended_after_grace_and_restored_as_a_repurchase() {
    let app = TestApp::new();
    let sub = app
        .customer("acme", "business-basic", 3, Term::Monthly, "2026-01-31")
        .await;
    app.days("2026-02-21", "2026-02-27").await;
    let (daily, _) = app.day("2026-02-28").await;
    assert_eq!(daily.overdue, 1);
    assert_eq!(app.sub(&sub).await.status, Status::Overdue);
    app.days("2026-03-01", "2026-03-04").await;
    assert_eq!(
        app.sub(&sub).await.status,
        Status::Overdue,
        "service goes on during grace"
    );
    let (_, expiry) = app.day("2026-03-05").await;
    assert_eq!(expiry.suspended, 1);
    assert_eq!(app.sub(&sub).await.status, Status::Suspended);
    assert_eq!(
        app.document("PF/2026/02/0001").await.status,
        DocumentStatus::Expired
    );
    let kinds = app.email_kinds("acme").await;
    assert_eq!(kinds.last().unwrap(), "suspension");
    assert_eq!(
        kinds.iter().filter(|k| *k == "overdue").count(),
        1,
        "one overdue e-mail"
    );

    // Paid within 90 days: bought again from the payment date.
    assert_eq!(app.pay("PF/2026/02/0001", "2026-04-10").await.status, 200);
    let s = app.sub(&sub).await;
    assert_eq!(
        (s.status, s.period.start, s.period.end),
        (Status::Active, d("2026-04-10"), d("2026-05-10"))
    );
    assert_eq!(app.email_kinds("acme").await.last().unwrap(), "restored");
}

#[tokio::test]
async fn a_payment_after_the_90_day_window_is_flagged_for_refund_and_activates_nothing() {
    let app = TestApp::new();
    let sub = app
        .customer("acme", "business-basic", 3, Term::Monthly, "2026-01-31")
        .await;
    app.days("2026-02-21", "2026-03-05").await;
    assert_eq!(app.pay("PF/2026/02/0001", "2026-06-04").await.status, 200);
    assert_eq!(app.sub(&sub).await.status, Status::Suspended);
    let payments = app.store.payments().unwrap();
    assert!(matches!(
        &payments[0].outcome,
        renewals_domain::PaymentOutcome::RefundFlagged { reason } if reason.contains("90-day")
    ));
    assert!(app
        .emails("acme")
        .await
        .iter()
        .any(|m| m.kind == "operator-alert" && m.to == "operator@reseller.example"));
}

#[tokio::test]
async fn seats_added_mid_period_are_prorated_by_day_and_count_once_paid() {
    let app = TestApp::new();
    let sub = app
        .customer("acme", "business-basic", 10, Term::Monthly, "2026-03-01")
        .await;
    let order = app.svc.add_seats(&sub, 3, d("2026-03-11")).await.unwrap();
    // By hand: 3 seats × 30.50 zł × 21 remaining days / 31 days = 61.983… → 61.98 net.
    assert_eq!(order.number.to_string(), "ZAM/2026/03/0001");
    assert_eq!(order.totals.net, money("61.98"));
    assert_eq!(order.totals.vat, money("14.26"));
    assert_eq!(order.totals.gross, money("76.24"));
    assert_eq!(order.due_date, d("2026-03-18"));
    assert_eq!(app.sub(&sub).await.seats, 10, "seats count only once paid");
    app.pay("ZAM/2026/03/0001", "2026-03-12").await;
    assert_eq!(app.sub(&sub).await.seats, 13);
    app.days("2026-03-12", "2026-03-25").await;
    let pf = app
        .documents("acme")
        .await
        .into_iter()
        .find(|d| d.number.to_string() == "PF/2026/03/0001")
        .unwrap();
    assert_eq!(
        pf.lines[0].seats, 13,
        "added seats carried into the renewal"
    );
    assert_eq!(app.email_kinds("acme").await[..2], ["order", "order-paid"]);
}

#[tokio::test]
async fn adding_seats_after_the_proforma_is_refused_with_the_reason_and_the_date() {
    let app = TestApp::new();
    let sub = app
        .customer("acme", "business-basic", 10, Term::Monthly, "2026-03-01")
        .await;
    app.days("2026-03-25", "2026-03-25").await;
    let before = app.store.count("documents").unwrap();
    let err = app
        .svc
        .add_seats(&sub, 2, d("2026-03-26"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("PF/2026/03/0001") && err.contains("2026-04-01"),
        "{err}"
    );
    assert_eq!(
        app.store.count("documents").unwrap(),
        before,
        "nothing issued"
    );
}

#[tokio::test]
async fn an_unpaid_seat_order_expires_and_adds_nothing() {
    let app = TestApp::new();
    let sub = app
        .customer("acme", "business-basic", 10, Term::Monthly, "2026-03-01")
        .await;
    app.svc.add_seats(&sub, 3, d("2026-03-02")).await.unwrap();
    app.days("2026-03-02", "2026-03-09").await;
    assert_eq!(
        app.document("ZAM/2026/03/0001").await.status,
        DocumentStatus::Issued
    );
    let (_, expiry) = app.day("2026-03-10").await;
    assert_eq!(expiry.orders_expired, 1);
    assert_eq!(
        app.document("ZAM/2026/03/0001").await.status,
        DocumentStatus::Expired
    );
    assert_eq!(app.sub(&sub).await.seats, 10);
}

#[tokio::test]
async fn a_reduction_by_a_representative_shows_in_the_next_proforma() {
    let app = TestApp::new();
    let sub = app
        .customer("acme", "business-standard", 10, Term::Monthly, "2026-03-01")
        .await;
    app.svc
        .reduce_seats(&sub, 4, "Jan Kowalski", d("2026-03-10"))
        .await
        .unwrap();
    assert_eq!(
        app.sub(&sub).await.seats,
        10,
        "effective from the next period"
    );
    app.days("2026-03-10", "2026-03-25").await;
    let pf = &app.documents("acme").await[0];
    assert_eq!((pf.lines[0].seats, pf.totals.net), (4, money("254.00")));
    app.pay("PF/2026/03/0001", "2026-03-26").await;
    app.days("2026-03-26", "2026-04-01").await;
    assert_eq!(app.sub(&sub).await.seats, 4);
    assert_eq!(app.email_kinds("acme").await[0], "reduction-scheduled");
    let err = app
        .svc
        .reduce_seats(&sub, 0, "Jan Kowalski", d("2026-04-02"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("minimum is 1"), "{err}");
    let err = app
        .svc
        .reduce_seats(&sub, 2, " ", d("2026-04-02"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("representative"), "{err}");
}

#[tokio::test]
async fn a_plan_change_at_renewal_bills_the_new_product() {
    let app = TestApp::new();
    let sub = app
        .customer("acme", "business-basic", 5, Term::Monthly, "2026-03-01")
        .await;
    app.svc
        .change_plan_at_renewal(&sub, "business-premium", d("2026-03-10"))
        .await
        .unwrap();
    app.days("2026-03-10", "2026-03-25").await;
    let pf = &app.documents("acme").await[0];
    assert_eq!(pf.lines[0].product, "business-premium");
    assert_eq!(pf.totals.net, money("555.50"));
    app.pay("PF/2026/03/0001", "2026-03-26").await;
    app.days("2026-03-26", "2026-04-01").await;
    assert_eq!(app.sub(&sub).await.product, "business-premium");
    let err = app
        .svc
        .change_plan_at_renewal(&sub, "office-home-business-2021", d("2026-04-02"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("perpetual"), "{err}");
}

#[tokio::test]
async fn a_plan_change_now_starts_a_new_subscription_and_the_old_one_ends() {
    let app = TestApp::new();
    let old = app
        .customer("acme", "business-standard", 5, Term::Monthly, "2026-03-01")
        .await;
    let order = app
        .svc
        .change_plan_now(&old, "business-premium", d("2026-03-10"))
        .await
        .unwrap();
    assert_eq!(order.number.to_string(), "ZAM/2026/03/0001");
    assert_eq!(order.totals.net, money("555.50"));
    let new = order.lines[0].subscription.clone();
    let s = app.sub(&new).await;
    assert_eq!(
        (s.period.start, s.period.end, s.status),
        (d("2026-03-10"), d("2026-04-10"), Status::Pending)
    );
    assert!(
        app.sub(&old).await.auto_renew,
        "renews until the order is paid"
    );
    app.pay("ZAM/2026/03/0001", "2026-03-11").await;
    assert_eq!(app.sub(&new).await.status, Status::Active);
    assert!(!app.sub(&old).await.auto_renew);
    app.days("2026-03-11", "2026-04-03").await;
    assert_eq!(app.sub(&old).await.status, Status::Ended);
    let docs = app.documents("acme").await;
    assert!(docs
        .iter()
        .all(|doc| !doc.covers(&old) || doc.kind == renewals_domain::DocumentKind::Order));
    assert!(docs
        .iter()
        .any(|doc| doc.covers(&new) && doc.kind == renewals_domain::DocumentKind::Proforma));
    assert!(app
        .email_kinds("acme")
        .await
        .contains(&"renewal-ended".to_string()));
}

#[tokio::test]
async fn renewal_off_ends_the_subscription_without_proforma_or_suspension() {
    let app = TestApp::new();
    let sub = app
        .customer("acme", "business-basic", 5, Term::Monthly, "2026-03-01")
        .await;
    app.svc.renewal_off(&sub).await.unwrap();
    app.svc.renewal_off(&sub).await.unwrap(); // again: nothing changes
    app.days("2026-03-01", "2026-04-10").await;
    assert_eq!(app.sub(&sub).await.status, Status::Ended);
    assert!(app.documents("acme").await.is_empty());
    assert_eq!(app.email_kinds("acme").await, ["renewal-ended"]);
}

#[tokio::test]
async fn renewal_off_after_the_proforma_cancels_it() {
    let app = TestApp::new();
    let sub = app
        .customer("acme", "business-basic", 5, Term::Monthly, "2026-03-01")
        .await;
    app.day("2026-03-25").await;
    app.svc.renewal_off(&sub).await.unwrap();
    assert_eq!(
        app.document("PF/2026/03/0001").await.status,
        DocumentStatus::Cancelled
    );
    app.days("2026-03-26", "2026-04-10").await;
    let kinds = app.email_kinds("acme").await;
    assert_eq!(
        kinds,
        ["proforma", "renewal-ended"],
        "no reminders for a cancelled pro-forma"
    );
}

#[tokio::test]
async fn running_daily_twice_for_a_date_changes_nothing_the_second_time() {
    let app = TestApp::new();
    app.customer("acme", "business-basic", 5, Term::Monthly, "2026-03-01")
        .await;
    let (first, _) = app.day("2026-03-25").await;
    assert_eq!(first.proformas_issued, 1);
    let (docs, mails) = (
        app.store.count("documents").unwrap(),
        app.store.count("outbox").unwrap(),
    );
    let (second, _) = app.day("2026-03-25").await;
    assert_eq!((second.proformas_issued, second.emails_queued), (0, 0));
    assert_eq!(app.store.count("documents").unwrap(), docs);
    assert_eq!(app.store.count("outbox").unwrap(), mails);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_daily_runs_issue_each_proforma_once_with_gapless_numbers() {
    let app = TestApp::new();
    for i in 0..40 {
        app.customer(
            &format!("t{i:02}"),
            "business-basic",
            1 + i,
            Term::Monthly,
            "2026-03-01",
        )
        .await;
    }
    app.clock
        .set(renewals_app::ports::warsaw_noon(d("2026-03-25")));
    let (a, b) = (app.second_service(), app.second_service());
    let (ra, rb) = tokio::join!(
        tokio::spawn(async move { a.run_job(Job::Daily, d("2026-03-25"), None).await.unwrap() }),
        tokio::spawn(async move { b.run_job(Job::Daily, d("2026-03-25"), None).await.unwrap() }),
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.proformas_issued + rb.proformas_issued, 40);
    let mut seqs: Vec<u32> = app
        .store
        .all_documents()
        .unwrap()
        .iter()
        .map(|d| d.number.seq)
        .collect();
    seqs.sort();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
    assert_eq!(
        app.store.count("outbox").unwrap(),
        40,
        "one pro-forma e-mail each"
    );
}

#[tokio::test]
async fn after_three_skipped_days_only_the_latest_reminder_goes_out() {
    let app = TestApp::new();
    app.customer("acme", "business-basic", 5, Term::Monthly, "2026-01-31")
        .await;
    app.days("2026-02-21", "2026-02-23").await; // issued 02-21; reminders due 02-24, 02-26, 02-27
    let (catch_up, _) = app.day("2026-02-27").await; // 24, 25 and 26 skipped
    assert_eq!(catch_up.reminders_sent, 1);
    let reminders: Vec<_> = app
        .emails("acme")
        .await
        .into_iter()
        .filter(|m| m.kind == "reminder")
        .collect();
    assert_eq!(reminders.len(), 1);
    assert!(
        reminders[0].key.ends_with("2026-02-27"),
        "{}",
        reminders[0].key
    );
}

#[tokio::test]
async fn a_missed_week_is_caught_up_with_a_late_proforma_and_the_overdue_notice() {
    let app = TestApp::new();
    let sub = app
        .customer("acme", "business-basic", 5, Term::Monthly, "2026-01-31")
        .await;
    let (daily, _) = app.day("2026-03-01").await; // nothing ran since 02-20
    assert_eq!(
        (daily.proformas_issued, daily.overdue, daily.reminders_sent),
        (1, 1, 0)
    );
    assert_eq!(app.sub(&sub).await.status, Status::Overdue);
}

#[tokio::test]
async fn one_failing_tenant_is_reported_and_the_others_are_billed() {
    // A catalog without Business Premium: that tenant cannot be priced.
    let mut settings = renewals_tests::settings();
    let app0 = TestApp::new();
    app0.customer("broken", "business-premium", 2, Term::Monthly, "2026-03-01")
        .await;
    app0.customer("fine", "business-basic", 2, Term::Monthly, "2026-03-01")
        .await;
    settings
        .catalog
        .products
        .retain(|p| p.sku != "business-premium");
    let store = app0.store.clone();
    let svc = renewals_tests::service(
        store.clone(),
        app0.dir.path(),
        std::sync::Arc::new(renewals_przelewy24::OfflineProvider::new(app0.p24.clone())),
        app0.clock.clone(),
        settings,
    );
    let summary = svc
        .run_job(Job::Daily, d("2026-03-25"), None)
        .await
        .unwrap();
    assert_eq!(summary.proformas_issued, 1);
    assert_eq!(summary.failures.len(), 1);
    assert_eq!(summary.failures[0].tenant, "broken");
    assert!(
        summary.failures[0].error.contains("business-premium"),
        "{}",
        summary.failures[0].error
    );
}
