//! The Partner Center client against the HTTP stand-in: what reaches Microsoft, and how often.

use chrono::{Duration, Utc};
use renewals_app::ports::{Done, Microsoft, MicrosoftError};
use renewals_microsoft::standin::{Fault, PartnerCenterStandIn};
use renewals_microsoft::PartnerCenter;

const CID: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const SID: &str = "a4c1340d-6911-4758-bba3-0c4c6007d161";
const CORR: &str = "11111111-2222-5333-8444-555555555555";

async fn setup(quantity: u32) -> (PartnerCenterStandIn, PartnerCenter) {
    let pc = PartnerCenterStandIn::start().await;
    pc.add_subscription(CID, SID, quantity, Utc::now() - Duration::days(2));
    let client = PartnerCenter::new(pc.settings()).unwrap();
    (pc, client)
}

#[tokio::test]
async fn raising_the_quantity_reads_then_patches_the_whole_resource_with_its_etag_once() {
    let (pc, client) = setup(10).await;
    assert_eq!(
        client.raise_quantity(CORR, CID, SID, 12).await.unwrap(),
        Done::Changed
    );
    assert_eq!(pc.subscription(CID, SID)["quantity"], 12);
    assert_eq!((pc.count("GET", SID), pc.count("PATCH", SID)), (1, 1));
    let patch = pc
        .calls()
        .into_iter()
        .find(|c| c.method == "PATCH")
        .unwrap();
    assert!(
        patch.if_match.unwrap().starts_with('"'),
        "If-Match is quoted"
    );
    // Asked again (a retry after a lost answer): read, found done, nothing sent.
    assert_eq!(
        client.raise_quantity(CORR, CID, SID, 12).await.unwrap(),
        Done::Already
    );
    assert_eq!((pc.count("GET", SID), pc.count("PATCH", SID)), (2, 1));
}

#[tokio::test]
async fn every_call_carries_the_bearer_token_and_one_token_serves_many_calls() {
    let (pc, client) = setup(10).await;
    client.raise_quantity(CORR, CID, SID, 11).await.unwrap();
    client.set_auto_renew(CORR, CID, SID, false).await.unwrap();
    let calls = pc.calls();
    assert_eq!(calls.len(), 4);
    assert!(calls.iter().all(|c| c.authorized), "{calls:?}");
    assert!(calls
        .iter()
        .all(|c| c.correlation_id.as_deref() == Some(CORR)));
    let ids: std::collections::BTreeSet<_> = calls.iter().map(|c| c.request_id.clone()).collect();
    assert_eq!(ids.len(), 4, "a new MS-RequestId after every reply");
    assert_eq!(pc.tokens_issued(), 1, "the token is cached");
}

#[tokio::test]
async fn the_stand_in_refuses_a_call_without_a_valid_bearer_token() {
    let pc = PartnerCenterStandIn::start().await;
    pc.add_subscription(CID, SID, 10, Utc::now());
    let url = format!("{}/v1/customers/{CID}/subscriptions/{SID}", pc.base_url);
    let reply = reqwest::Client::new()
        .get(&url)
        .bearer_auth("forged")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 401);
    assert!(reply.headers().contains_key("WWW-Authenticate"));
    let mut bad = pc.settings();
    bad.client_secret = "wrong".to_string().into();
    let err = PartnerCenter::new(bad)
        .unwrap()
        .raise_quantity(CORR, CID, SID, 11)
        .await
        .unwrap_err();
    assert!(matches!(err, MicrosoftError::Credentials(_)), "{err}");
    assert_eq!(pc.subscription(CID, SID)["quantity"], 10);
}

#[tokio::test]
async fn a_429_is_waited_out_for_its_retry_after_then_the_call_succeeds() {
    let (pc, client) = setup(10).await;
    pc.fail_next([Fault::Throttle(1)]);
    let started = std::time::Instant::now();
    client.raise_quantity(CORR, CID, SID, 13).await.unwrap();
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After respected"
    );
    assert_eq!(pc.subscription(CID, SID)["quantity"], 13);
    assert_eq!((pc.count("GET", SID), pc.count("PATCH", SID)), (2, 1));
}

#[tokio::test]
async fn a_409_while_the_renewal_is_processing_backs_off_then_succeeds() {
    let (pc, client) = setup(10).await;
    pc.fail_next([Fault::Busy, Fault::Down]);
    client.set_auto_renew(CORR, CID, SID, false).await.unwrap();
    assert_eq!(pc.subscription(CID, SID)["autoRenewEnabled"], false);
    assert_eq!((pc.count("GET", SID), pc.count("PATCH", SID)), (3, 1));
}

#[tokio::test]
async fn partner_center_down_for_good_is_a_retryable_failure_not_a_refusal() {
    let (pc, client) = setup(10).await;
    pc.fail_next([Fault::Down, Fault::Down, Fault::Down, Fault::Down]);
    let err = client.cancel(CORR, CID, SID).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(pc.subscription(CID, SID)["status"], "active");
}

#[tokio::test]
async fn a_stale_etag_is_read_again_and_the_patch_retried() {
    let (pc, client) = setup(10).await;
    pc.change_after_next_read();
    client.set_auto_renew(CORR, CID, SID, false).await.unwrap();
    let statuses: Vec<(String, u16)> = pc
        .calls()
        .into_iter()
        .map(|c| (c.method, c.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("GET".into(), 200),
            ("PATCH".into(), 412),
            ("GET".into(), 200),
            ("PATCH".into(), 200)
        ]
    );
    assert_eq!(pc.subscription(CID, SID)["autoRenewEnabled"], false);
}

#[tokio::test]
async fn a_202_is_followed_to_its_location_until_the_change_shows() {
    let (pc, client) = setup(10).await;
    pc.answer_next_patch_with_202();
    assert_eq!(
        client.raise_quantity(CORR, CID, SID, 14).await.unwrap(),
        Done::Changed
    );
    assert_eq!(pc.count("PATCH", SID), 1);
    assert_eq!(pc.count("GET", SID), 2, "the read, then the Location");
}

#[tokio::test]
async fn a_cancellation_inside_the_window_deletes_the_term_and_after_it_is_refused_with_900117() {
    let (pc, client) = setup(10).await;
    client.cancel(CORR, CID, SID).await.unwrap();
    assert_eq!(pc.subscription(CID, SID)["status"], "deleted");

    let late = PartnerCenterStandIn::start().await;
    late.add_subscription(CID, SID, 10, Utc::now() - Duration::days(8));
    let client = PartnerCenter::new(late.settings()).unwrap();
    let err = client.cancel(CORR, CID, SID).await.unwrap_err();
    assert!(
        matches!(err, MicrosoftError::CancellationWindowPassed(_)),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert_eq!(late.subscription(CID, SID)["status"], "active");
}

#[tokio::test]
async fn a_reduction_beyond_the_refundable_quantity_is_refused_with_800090() {
    let pc = PartnerCenterStandIn::start().await;
    pc.add_subscription(CID, SID, 10, Utc::now() - Duration::days(20));
    // Straight at the stand-in: the client never lowers a quantity mid-term.
    let token: serde_json::Value = reqwest::Client::new()
        .post(pc.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", renewals_microsoft::standin::CLIENT_ID),
            ("client_secret", renewals_microsoft::standin::CLIENT_SECRET),
            ("scope", "https://api.partnercenter.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut sub = pc.subscription(CID, SID);
    sub["quantity"] = 8.into();
    let url = format!("{}/v1/customers/{CID}/subscriptions/{SID}", pc.base_url);
    let reply = reqwest::Client::new()
        .patch(&url)
        .bearer_auth(token["access_token"].as_str().unwrap())
        .json(&sub)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 400);
    let body: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(body["code"], 800090);
    assert_eq!(pc.subscription(CID, SID)["quantity"], 10);
}

#[tokio::test]
async fn the_next_term_is_scheduled_with_the_current_offer_or_the_configured_one() {
    let (pc, client) = setup(10).await;
    client
        .schedule_next_term(CORR, CID, SID, None, 8)
        .await
        .unwrap();
    let s = pc.subscription(CID, SID)["scheduledNextTermInstructions"].clone();
    assert_eq!(s["quantity"], 8);
    assert_eq!(s["product"]["productId"], "CFQ7TTC0LH18");
    assert_eq!(s["product"]["termDuration"], "P1M");
    client
        .schedule_next_term(CORR, CID, SID, Some("business-premium"), 8)
        .await
        .unwrap();
    let s = pc.subscription(CID, SID)["scheduledNextTermInstructions"].clone();
    assert_eq!(s["product"]["productId"], "CFQ7TTC0LCHC");
    let err = client
        .schedule_next_term(CORR, CID, SID, Some("nope"), 8)
        .await
        .unwrap_err();
    assert!(matches!(err, MicrosoftError::UnknownOffer(_)));
}

fn ends_with(pc: &PartnerCenterStandIn, method: &str, tail: &str) -> usize {
    pc.calls()
        .iter()
        .filter(|c| c.method == method && c.path.ends_with(tail))
        .count()
}

#[tokio::test]
async fn a_purchase_is_one_cart_and_one_checkout_of_the_same_offer_and_is_never_made_twice() {
    let (pc, client) = setup(10).await;
    let id = client
        .purchase(CORR, CID, SID, None, 7, "renewals acme purchase:acme-1:X")
        .await
        .unwrap();
    assert_ne!(id, SID);
    let bought = pc.subscription(CID, &id);
    assert_eq!(
        bought["offerId"], "CFQ7TTC0LH18:0001:CFQ7TTC0K971",
        "the same offer"
    );
    assert_eq!(
        (bought["quantity"].as_u64(), bought["termDuration"].as_str()),
        (Some(7), Some("P1M"))
    );
    assert_eq!(
        (
            ends_with(&pc, "POST", "/carts"),
            ends_with(&pc, "POST", "/checkout")
        ),
        (1, 1)
    );
    // Asked again (the answer was lost before we stored it): found, not bought again.
    let again = client
        .purchase(CORR, CID, SID, None, 7, "renewals acme purchase:acme-1:X")
        .await
        .unwrap();
    assert_eq!(again, id);
    assert_eq!(pc.orders(), 1);
    assert_eq!(
        (
            ends_with(&pc, "POST", "/carts"),
            ends_with(&pc, "POST", "/checkout")
        ),
        (1, 1)
    );
}

#[tokio::test]
async fn a_checkout_retried_after_a_timeout_does_not_buy_twice() {
    let pc = PartnerCenterStandIn::start().await;
    pc.add_subscription(CID, SID, 10, Utc::now() - Duration::days(40));
    let mut settings = pc.settings();
    settings.timeout = std::time::Duration::from_millis(300);
    let client = PartnerCenter::new(settings).unwrap();
    pc.delay_next_checkout(std::time::Duration::from_millis(900));
    let id = client
        .purchase(CORR, CID, SID, None, 5, "renewals acme purchase:acme-1:Y")
        .await
        .unwrap();
    assert_eq!(pc.orders(), 1, "one order however often checkout was sent");
    let checkouts: Vec<_> = pc
        .calls()
        .into_iter()
        .filter(|c| c.path.ends_with("/checkout"))
        .collect();
    assert_eq!(checkouts.len(), 2, "retried after the timeout");
    assert_eq!(
        checkouts[0].request_id, checkouts[1].request_id,
        "the same MS-RequestId"
    );
    assert_eq!(
        checkouts[1].status, 400,
        "800065: the cart was submitted already"
    );
    assert_eq!(pc.subscription(CID, &id)["quantity"], 5);
}
