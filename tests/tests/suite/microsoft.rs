//! Microsoft acts on what we decide: each decision that changes what the customer has is a
//! command committed with the change, carried out at Partner Center (here the HTTP stand-in,
//! which counts every call) exactly once, retried with backoff, parked with an operator alert.

use chrono::{DateTime, Utc};
use renewals_app::microsoft::view;
use renewals_app::ports::{warsaw_noon, ManualClock};
use renewals_domain::{SubscriptionId, TenantId, Term};
use renewals_microsoft::standin::{Fault, PartnerCenterStandIn};
use renewals_microsoft::PartnerCenter;
use renewals_przelewy24::OfflineProvider;
use renewals_tests::{d, TestApp};
use std::sync::Arc;

const CID: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const SID: &str = "a4c1340d-6911-4758-bba3-0c4c6007d161";

fn at(date: &str) -> DateTime<Utc> {
    warsaw_noon(d(date))
}

/// An app whose service carries Microsoft commands out at the stand-in, and a customer with
/// 10 monthly seats from 31 Jan 2026, linked to a Microsoft subscription whose current term
/// started `term_start`.
async fn linked(term_start: &str) -> (TestApp, PartnerCenterStandIn, SubscriptionId) {
    let pc = PartnerCenterStandIn::start().await;
    let mut app = TestApp::new();
    let client = PartnerCenter::new(pc.settings()).unwrap();
    app.svc = renewals_tests::service(
        app.store.clone(),
        app.dir.path(),
        Arc::new(OfflineProvider::new(app.p24.clone())),
        app.clock.clone(),
        app.svc.settings.clone(),
    )
    .with_microsoft(Arc::new(client));
    let sub = app
        .customer("acme", "business-basic", 10, Term::Monthly, "2026-01-31")
        .await;
    let tenant = TenantId::parse("acme").unwrap();
    app.svc.link_microsoft_tenant(&tenant, CID).await.unwrap();
    app.svc
        .link_microsoft_subscription(&sub, &SID.to_uppercase())
        .await
        .unwrap();
    pc.add_subscription(
        CID,
        SID,
        10,
        d(term_start).and_hms_opt(0, 0, 0).unwrap().and_utc(),
    );
    (app, pc, sub)
}

async fn commands(app: &TestApp) -> Vec<serde_json::Value> {
    let tenant = TenantId::parse("acme").unwrap();
    app.svc
        .microsoft_commands(&tenant)
        .await
        .unwrap()
        .iter()
        .map(|c| serde_json::to_value(view(c)).unwrap())
        .collect()
}

fn clock(app: &TestApp) -> &ManualClock {
    &app.clock
}

#[tokio::test]
async fn the_links_are_shown_and_commands_come_only_for_linked_subscriptions() {
    let (app, _pc, sub) = linked("2026-01-31").await;
    let s = app.sub(&sub).await;
    assert_eq!(
        s.microsoft_subscription.as_deref(),
        Some(SID),
        "kept in lowercase"
    );
    let view = serde_json::to_value(renewals_app::views::subscription(
        &TenantId::parse("acme").unwrap(),
        &s,
    ))
    .unwrap();
    assert_eq!(view["microsoft_subscription"], SID);
    let err = app
        .svc
        .link_microsoft_subscription(&sub, "not-a-guid")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("GUID"), "{err}");

    // An unlinked customer's decisions stay ours alone.
    let other = app
        .customer("beta", "business-basic", 5, Term::Monthly, "2026-01-31")
        .await;
    app.svc.renewal_off(&other).await.unwrap();
    let beta = TenantId::parse("beta").unwrap();
    assert!(app.svc.microsoft_commands(&beta).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_paid_seat_order_raises_the_quantity_once_however_often_the_payment_is_notified() {
    let (app, pc, sub) = linked("2026-01-31").await;
    clock(&app).set(at("2026-02-05"));
    let order = app.svc.add_seats(&sub, 2, d("2026-02-05")).await.unwrap();
    assert_eq!(
        pc.calls().len(),
        0,
        "nothing at Microsoft before the order is paid"
    );
    let number = order.number.to_string();
    assert_eq!(app.pay(&number, "2026-02-06").await.status, 200);
    assert_eq!(pc.subscription(CID, SID)["quantity"], 12);
    assert_eq!((pc.count("GET", SID), pc.count("PATCH", SID)), (1, 1));

    // Przelewy24 retries the notification; the jobs run again: nothing more is sent.
    assert_eq!(app.pay(&number, "2026-02-06").await.status, 200);
    app.day("2026-02-06").await;
    app.day("2026-02-06").await;
    assert_eq!((pc.count("GET", SID), pc.count("PATCH", SID)), (1, 1));
    assert!(
        pc.calls().iter().all(|c| c.authorized),
        "every call with a bearer token"
    );

    let cmds = commands(&app).await;
    assert_eq!(cmds.len(), 1, "{cmds:?}");
    let c = &cmds[0];
    assert_eq!(c["kind"], "quantity");
    assert_eq!(c["subscription"], sub.to_string());
    assert_eq!(c["payload"], serde_json::json!({"add": 2, "to": 12}));
    assert_eq!(c["status"], "done");
    assert_eq!(c["attempts"], 1);
    assert_eq!(c["last_error"], serde_json::Value::Null);
}

#[tokio::test]
async fn turning_renewal_off_turns_auto_renew_off_at_microsoft() {
    let (app, pc, sub) = linked("2026-01-31").await;
    clock(&app).set(at("2026-02-10"));
    app.svc.renewal_off(&sub).await.unwrap();
    app.svc.renewal_off(&sub).await.unwrap();
    assert_eq!(pc.subscription(CID, SID)["autoRenewEnabled"], false);
    assert_eq!(pc.changes(), 1);
    assert_eq!(commands(&app).await[0]["kind"], "auto_renew");
    assert_eq!(
        commands(&app).await[0]["payload"],
        serde_json::json!({"enabled": false})
    );
}

#[tokio::test]
async fn a_scheduled_reduction_sets_the_next_term_instructions_before_the_term_ends() {
    let (app, pc, sub) = linked("2026-01-31").await;
    clock(&app).set(at("2026-02-10"));
    app.svc
        .reduce_seats(&sub, 8, "Anna Nowak", d("2026-02-10"))
        .await
        .unwrap();
    let s = pc.subscription(CID, SID);
    let next = &s["scheduledNextTermInstructions"];
    assert_eq!(next["quantity"], 8);
    assert_eq!(
        next["product"]["productId"], "CFQ7TTC0LH18",
        "the same offer"
    );
    assert_eq!(s["quantity"], 10, "this term keeps its seats");
    assert_eq!(pc.changes(), 1);
    assert_eq!(commands(&app).await[0]["kind"], "schedule");
}

#[tokio::test]
async fn seats_paid_after_a_scheduled_reduction_raise_the_quantity_and_schedule_again() {
    let (app, pc, sub) = linked("2026-01-31").await;
    clock(&app).set(at("2026-02-10"));
    app.svc
        .reduce_seats(&sub, 8, "Anna Nowak", d("2026-02-10"))
        .await
        .unwrap();
    let order = app.svc.add_seats(&sub, 2, d("2026-02-11")).await.unwrap();
    app.pay(&order.number.to_string(), "2026-02-11").await;
    let s = pc.subscription(CID, SID);
    assert_eq!(s["quantity"], 12);
    // Microsoft deletes the instructions on a mid-term change: set again, 8 + 2.
    assert_eq!(s["scheduledNextTermInstructions"]["quantity"], 10);
    let kinds: Vec<_> = commands(&app)
        .await
        .iter()
        .map(|c| c["kind"].clone())
        .collect();
    assert_eq!(kinds, ["schedule", "quantity", "schedule"]);
}

#[tokio::test]
async fn a_non_payer_s_renewed_term_is_cancelled_at_end_plus_grace_inside_the_window() {
    // Microsoft renewed on 28 Feb (the period end): cancellable until 7 Mar.
    let (app, pc, _sub) = linked("2026-02-28").await;
    pc.set_now(at("2026-03-05"));
    app.days("2026-02-21", "2026-03-04").await;
    assert_eq!(pc.calls().len(), 0, "nothing at Microsoft during grace");
    app.day("2026-03-05").await;
    let s = pc.subscription(CID, SID);
    assert_eq!(s["status"], "deleted");
    let until =
        DateTime::parse_from_rfc3339(s["cancellationAllowedUntilDate"].as_str().unwrap()).unwrap();
    assert!(at("2026-03-05") < until, "before the window closes");
    assert_eq!((pc.count("GET", SID), pc.count("PATCH", SID)), (1, 1));
    app.days("2026-03-06", "2026-03-10").await;
    assert_eq!(pc.calls().len(), 2, "cancelled once");
    assert_eq!(commands(&app).await[0]["kind"], "cancel");
    assert_eq!(commands(&app).await[0]["status"], "done");
}

#[tokio::test]
async fn a_cancellation_refused_after_the_window_is_parked_and_the_operator_alerted() {
    // Microsoft's term started on 20 Feb: its window closed on 27 Feb.
    let (app, pc, _sub) = linked("2026-02-20").await;
    pc.set_now(at("2026-03-05"));
    app.days("2026-02-21", "2026-03-05").await;
    assert_eq!(pc.subscription(CID, SID)["status"], "active");
    let c = &commands(&app).await[0];
    assert_eq!(c["status"], "failed");
    assert_eq!(c["attempts"], 1, "refused for good: not tried again");
    assert!(c["last_error"].as_str().unwrap().contains("900117"), "{c}");
    let alerts: Vec<_> = app
        .emails("acme")
        .await
        .into_iter()
        .filter(|m| m.kind == "operator-alert")
        .collect();
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0].subject.contains("acme-1"),
        "{}",
        alerts[0].subject
    );
    assert!(
        alerts[0].subject.starts_with("PILNE"),
        "{}",
        alerts[0].subject
    );
    app.days("2026-03-06", "2026-03-08").await;
    assert_eq!(pc.count("PATCH", SID), 1, "a parked command is left alone");
}

#[tokio::test]
async fn a_429_and_a_409_are_waited_out_within_one_attempt() {
    let (app, pc, sub) = linked("2026-01-31").await;
    clock(&app).set(at("2026-02-10"));
    pc.fail_next([Fault::Throttle(1), Fault::Busy]);
    app.svc.renewal_off(&sub).await.unwrap();
    assert_eq!(pc.subscription(CID, SID)["autoRenewEnabled"], false);
    let c = &commands(&app).await[0];
    assert_eq!(
        (c["status"].as_str(), c["attempts"].as_u64()),
        (Some("done"), Some(1))
    );
}

#[tokio::test]
async fn partner_center_down_backs_off_then_parks_the_command_with_one_operator_alert() {
    let (app, pc, sub) = linked("2026-01-31").await;
    pc.fail_next(std::iter::repeat_n(Fault::Down, 1_000));
    let start = at("2026-02-10");
    clock(&app).set(start);
    app.svc.renewal_off(&sub).await.unwrap();
    let c = &commands(&app).await[0];
    assert_eq!(
        (c["status"].as_str(), c["attempts"].as_u64()),
        (Some("pending"), Some(1))
    );
    // Not due again before its pause is over.
    app.svc.deliver().await.unwrap();
    assert_eq!(commands(&app).await[0]["attempts"], 1);
    // 15 min, 1 h, 4 h, 16 h later: attempts 2–5, the last one parks it.
    let mut t = start;
    for pause in [15, 60, 240, 960] {
        t += chrono::Duration::minutes(pause + 1);
        clock(&app).set(t);
        app.svc.deliver().await.unwrap();
    }
    let c = &commands(&app).await[0];
    assert_eq!(
        (c["status"].as_str(), c["attempts"].as_u64()),
        (Some("failed"), Some(5))
    );
    let alerts = app
        .emails("acme")
        .await
        .into_iter()
        .filter(|m| m.kind == "operator-alert")
        .count();
    assert_eq!(alerts, 1);
    assert_eq!(pc.subscription(CID, SID)["autoRenewEnabled"], true);
}

async fn operator_alerts(app: &TestApp) -> Vec<String> {
    app.emails("acme")
        .await
        .into_iter()
        .filter(|m| m.kind == "operator-alert")
        .map(|m| m.subject)
        .collect()
}

/// Runs the commands outbox every hour from `from` for `hours` hours.
async fn hourly(app: &TestApp, from: DateTime<Utc>, hours: i64) -> DateTime<Utc> {
    let mut t = from;
    for _ in 0..hours {
        t += chrono::Duration::hours(1);
        clock(app).set(t);
        app.svc.deliver().await.unwrap();
    }
    t
}

#[tokio::test]
async fn a_cancellation_failing_a_day_before_the_window_closes_raises_one_urgent_alert_and_is_still_tried(
) {
    // Renewed at Microsoft on 28 Feb: the window closes on 7 Mar (00:00 UTC).
    let (app, pc, _sub) = linked("2026-02-28").await;
    pc.set_now(at("2026-03-05"));
    pc.fail_next(std::iter::repeat_n(Fault::Down, 100_000));
    app.days("2026-02-21", "2026-03-05").await;
    let c = &commands(&app).await[0];
    assert_eq!(
        (c["kind"].as_str(), c["status"].as_str()),
        (Some("cancel"), Some("pending"))
    );
    assert_eq!(
        c["payload"],
        serde_json::json!({"window_closes": "2026-03-07"})
    );
    // 5 Mar 12:00 → 6 Mar 00:00 (UTC 11:00 → 23:00): tried, no urgent alert yet.
    let t = hourly(&app, at("2026-03-05"), 12).await;
    assert!(operator_alerts(&app).await.is_empty());
    // From 24 hours before the window closes: one urgent alert, however often it fails.
    let t = hourly(&app, t, 5).await;
    let alerts = operator_alerts(&app).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].starts_with("PILNE"), "{}", alerts[0]);
    let c = &commands(&app).await[0];
    assert_eq!(
        c["status"], "pending",
        "never given up on while the window is open"
    );
    assert!(c["attempts"].as_u64().unwrap() >= 10, "{c}");
    // Partner Center is back: the next attempt (within the hour) cancels.
    pc.recover();
    pc.set_now(t);
    hourly(&app, t, 1).await;
    assert_eq!(pc.subscription(CID, SID)["status"], "deleted");
    assert_eq!(commands(&app).await[0]["status"], "done");
}

#[tokio::test]
async fn partner_center_down_for_three_days_parks_the_cancellation_when_the_window_closes() {
    let (app, pc, _sub) = linked("2026-02-28").await;
    pc.set_now(at("2026-03-05"));
    pc.fail_next(std::iter::repeat_n(Fault::Down, 100_000));
    app.days("2026-02-21", "2026-03-05").await;
    // 5 Mar 11:00 UTC → 8 Mar 11:00 UTC, a run every 4 hours.
    let mut t = at("2026-03-05");
    for _ in 0..18 {
        t += chrono::Duration::hours(4);
        clock(&app).set(t);
        app.svc.deliver().await.unwrap();
    }
    let c = &commands(&app).await[0];
    assert_eq!(c["status"], "failed", "{c}");
    let alerts = operator_alerts(&app).await;
    assert_eq!(alerts.len(), 2, "one urgent, one when given up: {alerts:?}");
    assert_eq!(pc.subscription(CID, SID)["status"], "active");
    assert_eq!(pc.changes(), 0);
}

#[tokio::test]
async fn reconciliation_reports_drift_and_changes_nothing_on_either_side() {
    let (app, pc, sub) = linked("2026-01-31").await;
    // Microsoft's term ends with ours (inclusive last day 27 Feb); someone added a seat
    // and turned auto-renew off in Partner Center by hand.
    pc.set_field(CID, SID, "commitmentEndDate", "2026-02-27T00:00:00Z".into());
    pc.set_field(CID, SID, "quantity", 11.into());
    pc.set_field(CID, SID, "autoRenewEnabled", false.into());
    clock(&app).set(at("2026-02-10"));
    let report = app.svc.microsoft_sync().await.unwrap();
    assert_eq!(report.checked, 1);
    let found: Vec<_> = report
        .drift
        .iter()
        .map(|d| (d.field, d.ours.as_str(), d.microsoft.as_str()))
        .collect();
    assert_eq!(
        found,
        [("quantity", "10", "11"), ("auto_renew", "true", "false")]
    );
    assert_eq!(pc.changes(), 0, "nothing changed at Microsoft");
    assert_eq!(pc.count("GET", SID), 1);
    let ours = app.sub(&sub).await;
    assert_eq!(
        (ours.seats, ours.auto_renew),
        (10, true),
        "nothing changed here"
    );
    assert!(commands(&app).await.is_empty());
}

#[tokio::test]
async fn a_repurchase_after_suspension_buys_once_with_one_cart_and_one_checkout_and_links_the_new_subscription(
) {
    let (app, pc, sub) = linked("2026-02-28").await;
    pc.set_now(at("2026-03-05"));
    app.days("2026-02-21", "2026-03-05").await;
    assert_eq!(pc.subscription(CID, SID)["status"], "deleted");
    let proforma = app.documents("acme").await[0].number.to_string();
    assert_eq!(app.pay(&proforma, "2026-03-20").await.status, 200);
    assert_eq!(
        app.pay(&proforma, "2026-03-20").await.status,
        200,
        "a copy of the notification"
    );
    app.day("2026-03-21").await;
    let carts = pc
        .calls()
        .iter()
        .filter(|c| c.path.ends_with("/carts"))
        .count();
    let checkouts = pc
        .calls()
        .iter()
        .filter(|c| c.path.ends_with("/checkout"))
        .count();
    assert_eq!((carts, checkouts, pc.orders()), (1, 1, 1));
    let linked_now = app.sub(&sub).await.microsoft_subscription.unwrap();
    assert_ne!(linked_now, SID);
    let bought = pc.subscription(CID, &linked_now);
    assert_eq!(
        (bought["status"].as_str(), bought["quantity"].as_u64()),
        (Some("active"), Some(10))
    );
    let kinds: Vec<_> = commands(&app)
        .await
        .iter()
        .map(|c| (c["kind"].clone(), c["status"].clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("cancel".into(), "done".into()),
            ("purchase".into(), "done".into())
        ]
    );
    assert!(pc.calls().iter().all(|c| c.authorized));
}

#[tokio::test]
async fn a_plan_change_now_buys_the_new_plan_when_its_order_is_paid_and_stops_the_old_one_renewing()
{
    let (app, pc, old) = linked("2026-01-31").await;
    clock(&app).set(at("2026-02-10"));
    let order = app
        .svc
        .change_plan_now(&old, "business-premium", d("2026-02-10"))
        .await
        .unwrap();
    assert_eq!(
        pc.calls().len(),
        0,
        "nothing at Microsoft until the order is paid"
    );
    app.pay(&order.number.to_string(), "2026-02-11").await;
    let new = order.lines[0].subscription.clone();
    let bought = app.sub(&new).await.microsoft_subscription.expect("linked");
    let m = pc.subscription(CID, &bought);
    assert_eq!(
        m["offerId"], "CFQ7TTC0LCHC:0002:CFQ7TTC0K9N3",
        "the new plan's offer"
    );
    assert_eq!(
        (m["quantity"].as_u64(), m["termDuration"].as_str()),
        (Some(10), Some("P1M"))
    );
    assert_eq!(
        pc.subscription(CID, SID)["autoRenewEnabled"],
        false,
        "the old one stops"
    );
    assert_eq!(pc.orders(), 1);
    let kinds: Vec<_> = commands(&app)
        .await
        .iter()
        .map(|c| (c["kind"].clone(), c["subscription"].clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("purchase".into(), new.to_string().into()),
            ("auto_renew".into(), old.to_string().into())
        ]
    );
}
