//! An HTTP stand-in of Partner Center for tests, faithful to PARTNER-CENTER.md where our
//! calls land: it issues client-credentials tokens and refuses calls without a valid bearer
//! token (401 + `WWW-Authenticate`), keeps subscriptions with etags (412 on a stale
//! `If-Match`, which it does not require), enforces the NCE rules (cancel only until
//! `cancellationAllowedUntilDate` → 900117; no reduction beyond `refundableQuantity` →
//! 800090; a `deleted` subscription cannot change → 2011; a mid-term quantity change deletes
//! the next-term instructions, which need auto-renew), can answer 429 + `Retry-After`, 409,
//! 5xx or 202 + `Location` on demand, and counts every call.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

pub const CLIENT_ID: &str = "standin-client";
pub const CLIENT_SECRET: &str = "standin-secret";

/// One call as the stand-in saw it.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub authorized: bool,
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
    pub if_match: Option<String>,
    pub status: u16,
}

/// A reply forced on the next calls to `/v1` (before any rule is checked).
#[derive(Clone, Debug)]
pub enum Fault {
    /// 429 with `Retry-After: seconds`.
    Throttle(u64),
    /// 409, as while a renewal is processing.
    Busy,
    /// 503.
    Down,
}

#[derive(Default)]
struct Inner {
    subscriptions: BTreeMap<(String, String), Value>,
    versions: BTreeMap<String, u64>,
    tokens: Vec<String>,
    tokens_issued: usize,
    calls: Vec<Call>,
    faults: VecDeque<Fault>,
    /// The next PATCH answers 202 + `Location` (the change is applied).
    slow_patch: bool,
    /// After the next GET, someone else changes the subscription (its etag goes stale).
    race_after_get: bool,
    now: Option<DateTime<Utc>>,
    /// Carts: id → (customer, line items, submitted).
    carts: BTreeMap<String, (String, Value, bool)>,
    orders: usize,
    /// The next checkout answers only after this long (its reply is lost to a client with a
    /// shorter timeout); the purchase is made all the same.
    slow_checkout: Option<std::time::Duration>,
}

#[derive(Clone)]
pub struct PartnerCenterStandIn {
    inner: Arc<Mutex<Inner>>,
    pub base_url: String,
}

fn etag(id: &str, version: u64) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(format!("{{\"id\":\"{id}\",\"version\":{version}}}"))
}

fn fault(status: StatusCode, code: u64, description: &str) -> Response {
    (
        status,
        Json(json!({"code": code, "description": description, "data": [], "source": "PartnerFD"})),
    )
        .into_response()
}

/// Field names are accepted in any case (older examples send PascalCase), emitted camelCase.
fn camel(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let mut c = k.chars();
                    let k = c
                        .next()
                        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
                        .unwrap_or_default();
                    (k, camel(v))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(camel).collect()),
        other => other,
    }
}

impl PartnerCenterStandIn {
    /// Starts on a free local port.
    pub async fn start() -> PartnerCenterStandIn {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/token", post(token))
            .route(
                "/v1/customers/{cid}/subscriptions/{sid}",
                get(get_subscription).patch(patch_subscription),
            )
            .route("/v1/customers/{cid}/subscriptions", get(list_subscriptions))
            .route("/v1/customers/{cid}/carts", post(create_cart))
            .route("/v1/customers/{cid}/carts/{cart}/checkout", post(checkout))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port");
        let addr = listener.local_addr().expect("local address");
        tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        PartnerCenterStandIn {
            inner,
            base_url: format!("http://{addr}"),
        }
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.base_url)
    }

    /// Settings of a client for this stand-in, with short pauses.
    pub fn settings(&self) -> crate::PartnerCenterSettings {
        let mut s = crate::PartnerCenterSettings::from_lookup(|k| {
            Some(match k {
                "PARTNER_CENTER_BASE_URL" => self.base_url.clone(),
                "PARTNER_CENTER_TOKEN_URL" => self.token_url(),
                "PARTNER_CENTER_CLIENT_ID" => CLIENT_ID.into(),
                "PARTNER_CENTER_CLIENT_SECRET" => CLIENT_SECRET.into(),
                "PARTNER_CENTER_OFFERS" => "business-premium=CFQ7TTC0LCHC:0002:CFQ7TTC0K9N3".into(),
                _ => return None,
            })
        })
        .expect("stand-in settings")
        .expect("configured");
        s.backoff = std::time::Duration::from_millis(20);
        s.timeout = std::time::Duration::from_secs(5);
        s
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("stand-in state")
    }

    /// The stand-in's "now" (the cancellation window is judged by it); real time if unset.
    pub fn set_now(&self, now: DateTime<Utc>) {
        self.lock().now = Some(now);
    }

    /// An NCE subscription of `quantity` seats whose current term started `term_start`
    /// (P1M, monthly billing, auto-renew on): cancellable for 7 days from its start.
    pub fn add_subscription(
        &self,
        customer: &str,
        id: &str,
        quantity: u32,
        term_start: DateTime<Utc>,
    ) {
        let end = term_start + Duration::days(30);
        let sub = json!({
            "id": id, "offerId": "CFQ7TTC0LH18:0001:CFQ7TTC0K971",
            "offerName": "Microsoft 365 Business Basic", "friendlyName": "M365 BB",
            "productType": {"id": "OnlineServicesNCE", "displayName": "OnlineServicesNCE"},
            "quantity": quantity, "unitType": "Licenses", "hasPurchasableAddons": false,
            "creationDate": term_start.to_rfc3339(), "effectiveStartDate": term_start.to_rfc3339(),
            "commitmentEndDate": end.format("%Y-%m-%dT00:00:00Z").to_string(),
            "cancellationAllowedUntilDate": (term_start + Duration::days(7)).to_rfc3339(),
            "status": "active", "autoRenewEnabled": true, "isTrial": false, "billingType": "license",
            "billingCycle": "monthly", "termDuration": "P1M", "renewalTermDuration": "",
            "refundOptions": [], "refundableQuantity": {"totalQuantity": 0, "details": []},
            "scheduledNextTermInstructions": null, "isMicrosoftProduct": true, "partnerId": "",
            "attentionNeeded": false, "actionTaken": false, "contractType": "subscription",
            "publisherName": "Microsoft Corporation", "orderId": "34b37d7340cc",
            "links": {"self": {"uri": format!("/customers/{customer}/subscriptions/{id}"), "method": "GET", "headers": []}},
            "attributes": {"etag": etag(id, 1), "objectType": "Subscription"}
        });
        let mut inner = self.lock();
        inner.versions.insert(id.to_string(), 1);
        inner
            .subscriptions
            .insert((customer.to_string(), id.to_string()), sub);
    }

    /// The subscription as the stand-in holds it.
    pub fn subscription(&self, customer: &str, id: &str) -> Value {
        self.lock().subscriptions[&(customer.to_string(), id.to_string())].clone()
    }

    /// The next calls to `/v1` answer these faults, one each.
    pub fn fail_next(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().faults.extend(faults);
    }

    /// Someone changes a field in Partner Center by hand (the etag moves).
    pub fn set_field(&self, customer: &str, id: &str, field: &str, value: Value) {
        let mut inner = self.lock();
        let key = (customer.to_string(), id.to_string());
        if let Some(sub) = inner.subscriptions.get_mut(&key) {
            sub[field] = value;
        }
        bump(&mut inner, &key);
    }

    /// The next checkout is made, but its answer comes only after `delay`.
    pub fn delay_next_checkout(&self, delay: std::time::Duration) {
        self.lock().slow_checkout = Some(delay);
    }

    /// Orders placed (checkouts that bought something).
    pub fn orders(&self) -> usize {
        self.lock().orders
    }

    /// The customer's subscriptions (any status).
    pub fn subscriptions_of(&self, customer: &str) -> Vec<Value> {
        self.lock()
            .subscriptions
            .iter()
            .filter(|((c, _), _)| c == customer)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Partner Center is back: the faults not yet answered are dropped.
    pub fn recover(&self) {
        self.lock().faults.clear();
    }

    pub fn answer_next_patch_with_202(&self) {
        self.lock().slow_patch = true;
    }

    /// Someone else changes the subscription right after our next read.
    pub fn change_after_next_read(&self) {
        self.lock().race_after_get = true;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    pub fn tokens_issued(&self) -> usize {
        self.lock().tokens_issued
    }

    /// Calls with this method whose path contains `path`.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.method == method && c.path.contains(path))
            .count()
    }

    /// PATCHes that changed something (200 or 202).
    pub fn changes(&self) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.method == "PATCH" && (c.status == 200 || c.status == 202))
            .count()
    }
}

type Shared = Arc<Mutex<Inner>>;

async fn token(State(inner): State<Shared>, body: Bytes) -> Response {
    let form: BTreeMap<String, String> = String::from_utf8_lossy(&body)
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace("%2F", "/").replace("%3A", ":")))
        .collect();
    let get = |k: &str| form.get(k).map(String::as_str);
    if get("grant_type") != Some("client_credentials") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    if get("client_id") != Some(CLIENT_ID) || get("client_secret") != Some(CLIENT_SECRET) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    if get("scope") != Some("https://api.partnercenter.microsoft.com/.default") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_scope"})),
        )
            .into_response();
    }
    let mut inner = inner.lock().expect("stand-in state");
    inner.tokens_issued += 1;
    let token = format!("standin-token-{}", inner.tokens_issued);
    inner.tokens.push(token.clone());
    Json(json!({"token_type": "Bearer", "expires_in": 3599, "access_token": token})).into_response()
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Checks the bearer token, records the call, answers a forced fault. `Err` is the reply.
#[allow(clippy::result_large_err)]
fn admit(inner: &mut Inner, method: &Method, path: String, h: &HeaderMap) -> Result<(), Response> {
    let authorized = header(h, "authorization")
        .and_then(|a| a.strip_prefix("Bearer ").map(str::to_string))
        .is_some_and(|t| inner.tokens.contains(&t));
    inner.calls.push(Call {
        method: method.to_string(),
        path,
        authorized,
        request_id: header(h, "ms-requestid"),
        correlation_id: header(h, "ms-correlationid"),
        if_match: header(h, "if-match"),
        status: 0,
    });
    if !authorized {
        return Err((
            StatusCode::UNAUTHORIZED,
            [("WWW-Authenticate", "Bearer")],
            Json(json!({"code": 401, "description": "Unauthorized", "data": [], "source": "PartnerFD"})),
        )
            .into_response());
    }
    match inner.faults.pop_front() {
        Some(Fault::Throttle(secs)) => Err((
            StatusCode::TOO_MANY_REQUESTS,
            [("Retry-After", secs.to_string())],
            Json(json!({"statusCode": 429, "message": format!("Rate limit is exceeded. Try again in {secs} seconds.")})),
        )
            .into_response()),
        Some(Fault::Busy) => Err(fault(StatusCode::CONFLICT, 800060, "The subscription is being renewed; try again later")),
        Some(Fault::Down) => Err(fault(StatusCode::SERVICE_UNAVAILABLE, 0, "Service unavailable")),
        None => Ok(()),
    }
}

fn finish(inner: &mut Inner, reply: Response) -> Response {
    if let Some(c) = inner.calls.last_mut() {
        c.status = reply.status().as_u16();
    }
    reply
}

async fn get_subscription(
    State(inner): State<Shared>,
    Path((cid, sid)): Path<(String, String)>,
    method: Method,
    h: HeaderMap,
) -> Response {
    let mut inner = inner.lock().expect("stand-in state");
    let path = format!("/v1/customers/{cid}/subscriptions/{sid}");
    if let Err(r) = admit(&mut inner, &method, path, &h) {
        return finish(&mut inner, r);
    }
    let key = (cid, sid.clone());
    let Some(sub) = inner.subscriptions.get(&key).cloned() else {
        let r = fault(StatusCode::NOT_FOUND, 20003, "Subscription not found");
        return finish(&mut inner, r);
    };
    if std::mem::take(&mut inner.race_after_get) {
        bump(&mut inner, &key);
    }
    finish(&mut inner, Json(sub).into_response())
}

fn bump(inner: &mut Inner, key: &(String, String)) {
    let v = inner.versions.entry(key.1.clone()).or_insert(1);
    *v += 1;
    let tag = etag(&key.1, *v);
    if let Some(sub) = inner.subscriptions.get_mut(key) {
        sub["attributes"]["etag"] = tag.into();
    }
}

async fn patch_subscription(
    State(inner): State<Shared>,
    Path((cid, sid)): Path<(String, String)>,
    method: Method,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = inner.lock().expect("stand-in state");
    let path = format!("/v1/customers/{cid}/subscriptions/{sid}");
    if let Err(r) = admit(&mut inner, &method, path.clone(), &h) {
        return finish(&mut inner, r);
    }
    let reply = patch_rules(&mut inner, &cid, &sid, &h, &body);
    let reply = match reply {
        Ok(_) if std::mem::take(&mut inner.slow_patch) => (
            StatusCode::ACCEPTED,
            [("Location", path.trim_start_matches("/v1").to_string())],
        )
            .into_response(),
        Ok(sub) => Json(sub).into_response(),
        Err(r) => r,
    };
    finish(&mut inner, reply)
}

#[allow(clippy::result_large_err)]
fn patch_rules(
    inner: &mut Inner,
    cid: &str,
    sid: &str,
    h: &HeaderMap,
    body: &[u8],
) -> Result<Value, Response> {
    let key = (cid.to_string(), sid.to_string());
    let Some(current) = inner.subscriptions.get(&key).cloned() else {
        return Err(fault(
            StatusCode::NOT_FOUND,
            20003,
            "Subscription not found",
        ));
    };
    // If-Match is optional (the .NET SDK never sends it); a stale one is refused.
    if let Some(tag) = header(h, "if-match") {
        if tag.trim_matches('"') != current["attributes"]["etag"].as_str().unwrap_or_default() {
            return Err(fault(
                StatusCode::PRECONDITION_FAILED,
                2055,
                "Etag is no longer valid",
            ));
        }
    }
    let Ok(new) = serde_json::from_slice::<Value>(body).map(camel) else {
        return Err(fault(
            StatusCode::BAD_REQUEST,
            400,
            "The request body is not a subscription",
        ));
    };
    if new["id"].as_str() != Some(sid) {
        return Err(fault(
            StatusCode::BAD_REQUEST,
            400,
            "A full Subscription resource is required",
        ));
    }
    if current["status"] == "deleted" {
        return Err(fault(
            StatusCode::BAD_REQUEST,
            2011,
            "A deleted subscription cannot be updated",
        ));
    }
    let now = inner.now.unwrap_or_else(Utc::now);
    let mut sub = current.clone();
    // Status: cancel inside the window only; suspension turns auto-renew off.
    let status = new["status"]
        .as_str()
        .unwrap_or("active")
        .to_ascii_lowercase();
    if status != current["status"] {
        match status.as_str() {
            "deleted" => {
                let until = current["cancellationAllowedUntilDate"]
                    .as_str()
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok());
                if until.is_none_or(|u| now > u) {
                    return Err(fault(
                        StatusCode::BAD_REQUEST,
                        900117,
                        "You have passed your 7-day cancellation window",
                    ));
                }
            }
            "suspended" => {
                sub["autoRenewEnabled"] = false.into();
                sub["scheduledNextTermInstructions"] = Value::Null;
            }
            "active" => {}
            other => {
                return Err(fault(
                    StatusCode::BAD_REQUEST,
                    400,
                    &format!("status {other} cannot be set"),
                ))
            }
        }
        sub["status"] = status.into();
    }
    let (old_q, new_q) = (
        current["quantity"].as_u64().unwrap_or(0),
        new["quantity"].as_u64().unwrap_or(0),
    );
    if new_q != old_q {
        if sub["status"] != "active" {
            return Err(fault(
                StatusCode::BAD_REQUEST,
                800091,
                "Quantity cannot change on a subscription that is not active",
            ));
        }
        let refundable = current["refundableQuantity"]["totalQuantity"]
            .as_u64()
            .unwrap_or(0);
        if new_q < 1 || (new_q < old_q && old_q - new_q > refundable) {
            return Err(fault(
                StatusCode::BAD_REQUEST,
                800090,
                "Subscription quantity cannot be decreased",
            ));
        }
        sub["quantity"] = new_q.into();
        // Any mid-term change deletes the next-term instructions.
        sub["scheduledNextTermInstructions"] = Value::Null;
    }
    if new["autoRenewEnabled"] != current["autoRenewEnabled"] && sub["status"] != "suspended" {
        let Some(on) = new["autoRenewEnabled"].as_bool() else {
            return Err(fault(
                StatusCode::BAD_REQUEST,
                400,
                "autoRenewEnabled must be true or false",
            ));
        };
        sub["autoRenewEnabled"] = on.into();
        if !on {
            sub["scheduledNextTermInstructions"] = Value::Null;
        }
    }
    let instructions = &new["scheduledNextTermInstructions"];
    if *instructions != current["scheduledNextTermInstructions"] && new_q == old_q {
        if !instructions.is_null() {
            if sub["autoRenewEnabled"] != true {
                return Err(fault(
                    StatusCode::BAD_REQUEST,
                    800093,
                    "Scheduled changes need auto-renew on",
                ));
            }
            let product = &instructions["product"];
            let complete = [
                "productId",
                "skuId",
                "availabilityId",
                "billingCycle",
                "termDuration",
            ]
            .iter()
            .all(|f| product[*f].as_str().is_some_and(|s| !s.is_empty()));
            if !complete || instructions["quantity"].as_u64().unwrap_or(0) < 1 {
                return Err(fault(
                    StatusCode::BAD_REQUEST,
                    400,
                    "Incomplete scheduledNextTermInstructions",
                ));
            }
        }
        sub["scheduledNextTermInstructions"] = instructions.clone();
    }
    inner.subscriptions.insert(key.clone(), sub);
    bump(inner, &key);
    Ok(inner.subscriptions[&key].clone())
}

async fn list_subscriptions(
    State(inner): State<Shared>,
    Path(cid): Path<String>,
    axum::extract::Query(query): axum::extract::Query<BTreeMap<String, String>>,
    method: Method,
    h: HeaderMap,
) -> Response {
    let mut inner = inner.lock().expect("stand-in state");
    let path = format!("/v1/customers/{cid}/subscriptions");
    if let Err(r) = admit(&mut inner, &method, path, &h) {
        return finish(&mut inner, r);
    }
    let items: Vec<Value> = inner
        .subscriptions
        .iter()
        .filter(|((c, _), _)| *c == cid)
        .map(|(_, v)| v.clone())
        .filter(|v| {
            query
                .get("order_id")
                .is_none_or(|o| v["orderId"] == o.as_str())
        })
        .collect();
    let reply = Json(
        json!({"totalCount": items.len(), "items": items, "links": {},
        "attributes": {"objectType": "Collection"}}),
    )
    .into_response();
    finish(&mut inner, reply)
}

async fn create_cart(
    State(inner): State<Shared>,
    Path(cid): Path<String>,
    method: Method,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = inner.lock().expect("stand-in state");
    let path = format!("/v1/customers/{cid}/carts");
    if let Err(r) = admit(&mut inner, &method, path, &h) {
        return finish(&mut inner, r);
    }
    let Ok(cart) = serde_json::from_slice::<Value>(&body).map(camel) else {
        let r = fault(
            StatusCode::BAD_REQUEST,
            400,
            "The request body is not a cart",
        );
        return finish(&mut inner, r);
    };
    let mut lines = cart["lineItems"].as_array().cloned().unwrap_or_default();
    if lines.is_empty() {
        let r = fault(StatusCode::BAD_REQUEST, 400, "A cart needs line items");
        return finish(&mut inner, r);
    }
    for line in lines.iter_mut() {
        let offer = line["catalogItemId"].as_str().unwrap_or_default();
        if offer.split(':').count() != 3 {
            line["error"] =
                json!({"errorCode": 10001, "errorDescription": "Invalid catalog item id"});
        } else if line["quantity"].as_u64().unwrap_or(0) < 1 {
            line["error"] = json!({"errorCode": 10015, "errorDescription": "Invalid quantity"});
        }
        line["orderGroup"] = "0".into();
        line["currencyCode"] = "PLN".into();
    }
    let id = format!("6b6ba6ea-0000-4000-8000-{:012}", inner.carts.len() + 1);
    inner
        .carts
        .insert(id.clone(), (cid, Value::Array(lines.clone()), false));
    let reply = (
        StatusCode::CREATED,
        Json(json!({"id": id, "status": "Active", "lineItems": lines,
            "attributes": {"objectType": "Cart"}})),
    )
        .into_response();
    finish(&mut inner, reply)
}

async fn checkout(
    State(shared): State<Shared>,
    Path((cid, cart)): Path<(String, String)>,
    method: Method,
    h: HeaderMap,
) -> Response {
    let (reply, delay) = {
        let mut inner = shared.lock().expect("stand-in state");
        let path = format!("/v1/customers/{cid}/carts/{cart}/checkout");
        if let Err(r) = admit(&mut inner, &method, path, &h) {
            return finish(&mut inner, r);
        }
        let reply = checkout_rules(&mut inner, &cid, &cart);
        let reply = finish(&mut inner, reply);
        (reply, inner.slow_checkout.take())
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    reply
}

fn checkout_rules(inner: &mut Inner, cid: &str, cart: &str) -> Response {
    let Some((owner, lines, submitted)) = inner.carts.get(cart).cloned() else {
        return fault(StatusCode::NOT_FOUND, 20000, "Cart not found");
    };
    if owner != cid {
        return fault(StatusCode::NOT_FOUND, 20000, "Cart not found");
    }
    if submitted {
        return fault(
            StatusCode::BAD_REQUEST,
            800065,
            "The cart has already been submitted",
        );
    }
    let lines = lines.as_array().cloned().unwrap_or_default();
    if lines.iter().any(|l| !l["error"].is_null()) {
        return fault(
            StatusCode::BAD_REQUEST,
            800020,
            "A line item is not eligible",
        );
    }
    inner.orders += 1;
    let order_id = format!("order{:06}", inner.orders);
    let now = inner.now.unwrap_or_else(Utc::now);
    let mut order_lines = vec![];
    for (n, line) in lines.iter().enumerate() {
        let sid = format!("5aab5c41-0000-4000-8000-{:06}{:06}", inner.orders, n);
        let offer = line["catalogItemId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let months = if line["termDuration"] == "P1Y" {
            365
        } else {
            30
        };
        let sub = json!({
            "id": sid, "offerId": offer, "friendlyName": line["friendlyName"].clone(),
            "quantity": line["quantity"].clone(), "unitType": "Licenses",
            "creationDate": now.to_rfc3339(), "effectiveStartDate": now.to_rfc3339(),
            "commitmentEndDate": (now + Duration::days(months)).format("%Y-%m-%dT00:00:00Z").to_string(),
            "cancellationAllowedUntilDate": (now + Duration::days(7)).to_rfc3339(),
            "status": "active", "autoRenewEnabled": true, "billingType": "license",
            "billingCycle": line["billingCycle"].clone(), "termDuration": line["termDuration"].clone(),
            "refundableQuantity": {"totalQuantity": line["quantity"].clone(), "details": []},
            "scheduledNextTermInstructions": null, "orderId": order_id,
            "attributes": {"etag": etag(&sid, 1), "objectType": "Subscription"}
        });
        inner.versions.insert(sid.clone(), 1);
        inner
            .subscriptions
            .insert((cid.to_string(), sid.clone()), sub);
        order_lines.push(
            json!({"lineItemNumber": n, "offerId": offer, "subscriptionId": sid,
            "termDuration": line["termDuration"].clone(), "transactionType": "New",
            "friendlyName": line["friendlyName"].clone(), "quantity": line["quantity"].clone()}),
        );
    }
    if let Some(c) = inner.carts.get_mut(cart) {
        c.2 = true;
    }
    (
        StatusCode::CREATED,
        Json(
            json!({"orders": [{"id": order_id, "referenceCustomerId": cid,
            "billingCycle": lines[0]["billingCycle"].clone(), "currencyCode": "PLN",
            "lineItems": order_lines, "creationDate": now.to_rfc3339(), "status": "completed",
            "transactionType": "UserPurchase", "attributes": {"objectType": "Order"}}],
            "orderErrors": []}),
        ),
    )
        .into_response()
}
