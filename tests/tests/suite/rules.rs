//! Rules where they meet: plan changes, reductions, mixed terms and renewal off.
//!
//! Expected dates and amounts are worked out by hand in the comments.

use renewals_domain::{DocumentKind, DocumentStatus, Status, Subscription, TenantId, Term};
use renewals_tests::{d, TestApp};

fn money(s: &str) -> renewals_domain::Money {
    renewals_domain::Money::parse(s).unwrap()
}

/// Pays `number` in full on `date` with Przelewy24 order id `order_id`. `TestApp::pay` uses
/// 1000 + the document's sequence number, so an order and a pro-forma both numbered 0001 in
/// one month would look like one notification sent twice.
async fn pay_with_order_id(app: &TestApp, number: &str, date: &str, order_id: i64) -> u16 {
    let doc = app.document(number).await;
    app.clock.set(renewals_app::ports::warsaw_noon(d(date)));
    let n = app.notification(&doc, doc.totals.gross.grosze(), order_id);
    app.webhook(&n.to_body()).await.status
}

/// The `status` of a subscription as the JSON view shows it.
fn status_json(tenant: &str, s: &Subscription) -> String {
    let view = renewals_app::views::subscription(&TenantId::parse(tenant).unwrap(), s);
    serde_json::to_value(view).unwrap()["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_plan_change_now_is_pending_until_paid_and_then_cancels_the_old_subscriptions_proforma() {
    // Business Standard × 5 monthly from 1 March; on 20 March the customer buys Business
    // Premium now: 5 × 111.10 = 555.50 net, due 27 March (20 + 7).
    let app = TestApp::new();
    let old = app
        .customer("acme", "business-standard", 5, Term::Monthly, "2026-03-01")
        .await;
    let order = app
        .svc
        .change_plan_now(&old, "business-premium", d("2026-03-20"))
        .await
        .unwrap();
    assert_eq!(order.number.to_string(), "ZAM/2026/03/0001");
    assert_eq!(order.due_date, d("2026-03-27"));
    assert_eq!(order.totals.net, money("555.50"));
    let new = order.lines[0].subscription.clone();
    let s = app.sub(&new).await;
    assert_eq!(s.status, Status::Pending);
    assert_eq!(status_json("acme", &s), "pending");

    // Until it is paid the old one renews as usual: its April pro-forma on 25 March,
    // 5 × 63.50 = 317.50; the pending one gets nothing.
    app.days("2026-03-20", "2026-03-25").await;
    assert!(app.sub(&old).await.auto_renew);
    let docs = app.documents("acme").await;
    let pf = docs
        .iter()
        .find(|doc| doc.kind == DocumentKind::Proforma)
        .expect("the old subscription's pro-forma");
    assert_eq!(pf.number.to_string(), "PF/2026/03/0001");
    assert!(pf.covers(&old) && !pf.covers(&new));
    assert_eq!(pf.totals.net, money("317.50"));

    // Paid on 26 March: the new one is active, the old pro-forma cancelled, no reminders for
    // it, and the old subscription ends on 1 April without a suspension.
    assert_eq!(app.pay("ZAM/2026/03/0001", "2026-03-26").await.status, 200);
    let s = app.sub(&new).await;
    assert_eq!(status_json("acme", &s), "active");
    assert_eq!(
        app.document("PF/2026/03/0001").await.status,
        DocumentStatus::Cancelled
    );
    app.days("2026-03-26", "2026-04-10").await;
    assert_eq!(app.sub(&old).await.status, Status::Ended);
    assert_eq!(app.sub(&new).await.status, Status::Active);
    assert_eq!(
        app.email_kinds("acme").await,
        [
            "order",
            "plan-change",
            "proforma",
            "order-paid",
            "renewal-ended"
        ]
    );
}

#[tokio::test]
async fn an_unpaid_plan_change_expires_after_its_due_date_and_the_old_subscription_renews() {
    // Business Standard × 5 monthly from 1 March; Premium bought now on 10 March, order due
    // 17 March, never paid.
    let app = TestApp::new();
    let old = app
        .customer("acme", "business-standard", 5, Term::Monthly, "2026-03-01")
        .await;
    let order = app
        .svc
        .change_plan_now(&old, "business-premium", d("2026-03-10"))
        .await
        .unwrap();
    let new = order.lines[0].subscription.clone();
    assert_eq!(order.due_date, d("2026-03-17"));

    // On its due date nothing happens; the next day's expiry run expires it (not 13 days
    // later, past Microsoft's 7-day window), and the pending subscription ends unstarted.
    app.days("2026-03-10", "2026-03-17").await;
    assert_eq!(app.sub(&new).await.status, Status::Pending);
    let (_, expiry) = app.day("2026-03-18").await;
    assert_eq!((expiry.orders_expired, expiry.suspended), (1, 0));
    assert_eq!(
        app.document("ZAM/2026/03/0001").await.status,
        DocumentStatus::Expired
    );
    assert_eq!(app.sub(&new).await.status, Status::Ended);

    // The old one simply continues: April pro-forma on 25 March (5 × 63.50 = 317.50), paid,
    // April starts on 1 April.
    app.days("2026-03-19", "2026-03-25").await;
    let docs = app.documents("acme").await;
    let pf = docs
        .iter()
        .find(|doc| doc.kind == DocumentKind::Proforma)
        .expect("the old subscription's pro-forma");
    assert!(pf.covers(&old) && !pf.covers(&new));
    assert_eq!(pf.totals.net, money("317.50"));
    app.pay(&pf.number.to_string(), "2026-03-26").await;
    app.days("2026-03-26", "2026-04-01").await;
    let s = app.sub(&old).await;
    assert_eq!(
        (s.status, s.auto_renew, s.period.start, s.period.end),
        (Status::Active, true, d("2026-04-01"), d("2026-05-01"))
    );
    let kinds = app.email_kinds("acme").await;
    assert!(!kinds.contains(&"suspension".to_string()), "{kinds:?}");
    assert!(!kinds.contains(&"renewal-ended".to_string()), "{kinds:?}");
}

#[tokio::test]
async fn seats_paid_after_a_scheduled_reduction_are_billed_on_top_of_the_reduced_count() {
    // Business Basic × 10 monthly from 1 March; a reduction to 7 agreed on 5 March; then
    // 2 seats ordered on 11 March: 2 × 30.50 × 21 / 31 = 41.322… → 41.32, paid on 12 March.
    let app = TestApp::new();
    let sub = app
        .customer("acme", "business-basic", 10, Term::Monthly, "2026-03-01")
        .await;
    app.svc
        .reduce_seats(&sub, 7, "Jan Kowalski", d("2026-03-05"))
        .await
        .unwrap();
    let order = app.svc.add_seats(&sub, 2, d("2026-03-11")).await.unwrap();
    assert_eq!(order.totals.net, money("41.32"));
    app.pay("ZAM/2026/03/0001", "2026-03-12").await;
    assert_eq!(app.sub(&sub).await.seats, 12);

    // The pro-forma on 25 March bills 7 + 2 = 9 seats: 9 × 30.50 = 274.50 net, VAT 63.135
    // → 63.14, gross 337.64; April starts with 9.
    app.days("2026-03-12", "2026-03-25").await;
    let pf = app.document("PF/2026/03/0001").await;
    assert_eq!(pf.lines[0].seats, 9);
    assert_eq!(pf.totals.net, money("274.50"));
    assert_eq!(pf.totals.vat, money("63.14"));
    assert_eq!(pf.totals.gross, money("337.64"));
    assert_eq!(
        pay_with_order_id(&app, "PF/2026/03/0001", "2026-03-26", 2_001).await,
        200
    );
    app.days("2026-03-26", "2026-04-01").await;
    let s = app.sub(&sub).await;
    assert_eq!((s.seats, s.period.start), (9, d("2026-04-01")));
}

#[tokio::test]
async fn a_monthly_and_an_annual_subscription_ending_the_same_day_are_billed_apart() {
    // Business Basic × 2 annual in [2026-01-15, 2027-01-15) and Business Standard × 3
    // monthly in [2026-12-15, 2027-01-15): both renew on 15 January 2027.
    let app = TestApp::new();
    let annual = app
        .customer("acme", "business-basic", 2, Term::Annual, "2026-01-15")
        .await;
    let tenant = TenantId::parse("acme").unwrap();
    let monthly = app
        .svc
        .add_subscription(
            &tenant,
            "business-standard",
            3,
            Term::Monthly,
            d("2026-12-15"),
        )
        .await
        .unwrap();

    // 30 days ahead, 16 December: the annual pro-forma alone, for a year:
    // 2 × 304.80 = 609.60 net, VAT 140.208 → 140.21, gross 749.81, due 14 January.
    app.days("2026-12-15", "2026-12-16").await;
    let docs = app.documents("acme").await;
    assert_eq!(docs.len(), 1, "{docs:#?}");
    let pf = &docs[0];
    assert_eq!(pf.number.to_string(), "PF/2026/12/0001");
    assert!(pf.covers(&annual) && !pf.covers(&monthly));
    assert_eq!(
        (pf.period.start, pf.period.end),
        (d("2027-01-15"), d("2028-01-15"))
    );
    assert_eq!(pf.totals.net, money("609.60"));
    assert_eq!(pf.totals.gross, money("749.81"));
    assert_eq!(pf.due_date, d("2027-01-14"));

    // Monthly seats stay open until its own issue day (8 January): 1 seat on 5 January,
    // 1 × 63.50 × 10 / 31 = 20.483… → 20.48, due 7 January, paid on 6 January.
    let order = app
        .svc
        .add_seats(&monthly, 1, d("2027-01-05"))
        .await
        .unwrap();
    assert_eq!(order.number.to_string(), "ZAM/2027/01/0001");
    assert_eq!(order.totals.net, money("20.48"));
    assert_eq!(order.due_date, d("2027-01-07"));
    app.pay("ZAM/2027/01/0001", "2027-01-06").await;

    // 7 days ahead, 8 January: the monthly pro-forma for one month with the 4 seats:
    // 4 × 63.50 = 254.00 net, VAT 58.42, gross 312.42, due 14 January.
    app.days("2027-01-07", "2027-01-08").await;
    let pf = app.document("PF/2027/01/0001").await;
    assert!(pf.covers(&monthly) && !pf.covers(&annual));
    assert_eq!(pf.issue_date, d("2027-01-08"));
    assert_eq!(
        (pf.period.start, pf.period.end),
        (d("2027-01-15"), d("2027-02-15"))
    );
    assert_eq!(pf.lines[0].seats, 4);
    assert_eq!(pf.totals.net, money("254.00"));
    assert_eq!(pf.totals.vat, money("58.42"));
    assert_eq!(pf.totals.gross, money("312.42"));
    assert_eq!(pf.due_date, d("2027-01-14"));
}

#[tokio::test]
async fn with_renewal_off_seats_can_be_added_until_the_last_day_of_the_period() {
    // Business Basic × 5 monthly from 1 March, renewal off: no pro-forma will be issued.
    let app = TestApp::new();
    let sub = app
        .customer("acme", "business-basic", 5, Term::Monthly, "2026-03-01")
        .await;
    app.day("2026-03-01").await;
    app.svc.renewal_off(&sub).await.unwrap();
    app.days("2026-03-02", "2026-03-27").await;

    // 3 seats on 27 March (past the usual issue day, 25 March): [03-27, 04-01),
    // 3 × 30.50 × 5 / 31 = 14.758… → 14.76 net, VAT 3.3948 → 3.39, gross 18.15; due on the
    // period's last day, 31 March (27 + 7 would be 3 April).
    let order = app.svc.add_seats(&sub, 3, d("2026-03-27")).await.unwrap();
    assert_eq!(order.totals.net, money("14.76"));
    assert_eq!(order.totals.gross, money("18.15"));
    assert_eq!(order.due_date, d("2026-03-31"));
    app.pay("ZAM/2026/03/0001", "2026-03-30").await;
    assert_eq!(app.sub(&sub).await.seats, 8);

    // It ends on 1 April with the 8 seats; after that seats are refused.
    app.days("2026-03-30", "2026-04-01").await;
    let s = app.sub(&sub).await;
    assert_eq!((s.status, s.seats), (Status::Ended, 8));
    let err = app
        .svc
        .add_seats(&sub, 1, d("2026-04-02"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ended"), "{err}");
    assert_eq!(
        app.email_kinds("acme").await,
        ["order", "order-paid", "renewal-ended"]
    );
    let docs = app.documents("acme").await;
    assert_eq!(docs.len(), 1, "no pro-forma: {docs:#?}");
}
