//! The operator's pages under `/admin`: who owes what today, payments held for review,
//! parked e-mails and Microsoft commands, tenant search and a tenant's timeline, and a chart
//! of revenue and overdue amounts by month.

use crate::auth::{csrf_refused, same_token, Operator};
use crate::customer::unavailable;
use crate::pages::{self, subscription_row, Ctx, Page};
use crate::{Panel, State};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{Datelike, NaiveDate};
use renewals_app::audit::{AuditEntry, HELD_PREFIX, OPERATORS};
use renewals_app::panel::ReviewDecision;
use renewals_app::transfers::Transfer;
use renewals_domain::calendar::add_days;
use renewals_domain::{
    Account, Document, DocumentNumber, DocumentStatus, Locale, Money, Status, TenantId,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

const PL: Locale = Locale::Pl;

/// One amount somebody owes.
#[derive(Clone, Debug, Serialize)]
pub struct Receivable {
    pub tenant: String,
    pub name: String,
    pub number: String,
    pub due_date: NaiveDate,
    pub gross: Money,
    /// Days past the due date (negative: days left).
    pub days_overdue: i64,
}

#[derive(Default)]
pub struct Receivables {
    pub overdue: Vec<Receivable>,
    pub due_this_week: Vec<Receivable>,
    pub suspended: Vec<Receivable>,
}

async fn accounts(state: &Panel) -> anyhow::Result<Vec<Account>> {
    let mut out = vec![];
    for id in state.store.tenants().await? {
        out.push(state.svc.account(&id).await?);
    }
    Ok(out)
}

/// Open documents past their due date, due within 7 days, and what suspended customers owe.
pub async fn receivables(state: &Panel) -> anyhow::Result<Receivables> {
    let today = state.svc.today();
    let mut r = Receivables::default();
    for account in accounts(state).await? {
        let row = |d: &Document| Receivable {
            tenant: account.tenant.id.to_string(),
            name: account.tenant.name.clone(),
            number: d.number.to_string(),
            due_date: d.due_date,
            gross: d.totals.gross,
            days_overdue: (today - d.due_date).num_days(),
        };
        for open in &account.open_documents {
            let d = &open.document;
            if d.status != DocumentStatus::Issued {
                continue;
            }
            if d.due_date < today {
                r.overdue.push(row(d));
            } else if d.due_date <= add_days(today, 7) {
                r.due_this_week.push(row(d));
            }
        }
        let suspended: BTreeSet<_> = account
            .subscriptions
            .iter()
            .filter(|s| s.status == Status::Suspended)
            .map(|s| s.id.clone())
            .collect();
        if !suspended.is_empty() {
            for d in state.svc.store.documents_of(&account.tenant.id).await? {
                if d.status == DocumentStatus::Expired
                    && d.lines.iter().any(|l| suspended.contains(&l.subscription))
                {
                    r.suspended.push(row(&d));
                }
            }
        }
    }
    for list in [&mut r.overdue, &mut r.due_this_week, &mut r.suspended] {
        list.sort_by(|a, b| (a.due_date, &a.tenant).cmp(&(b.due_date, &b.tenant)));
    }
    Ok(r)
}

fn operator_ctx(op: &Operator, title: &str) -> Ctx {
    let mut ctx = Ctx::new(PL);
    ctx.set("who", &op.name)
        .set("csrf", &op.csrf)
        .set("title", title)
        .set(
            "nav",
            [
                ("/admin", "Należności"),
                ("/admin/reviews", "Płatności"),
                ("/admin/outbox", "Wysyłki"),
                ("/admin/tenants", "Klienci"),
            ],
        );
    ctx
}

fn total(rows: &[Receivable]) -> String {
    pages::money(
        Money::from_grosze(rows.iter().map(|r| r.gross.grosze()).sum()),
        PL,
    )
}

#[derive(Serialize)]
struct Row {
    tenant: String,
    name: String,
    number: String,
    due: String,
    days: String,
    gross: String,
}

fn rows(list: &[Receivable], days: impl Fn(i64) -> String) -> Vec<Row> {
    list.iter()
        .map(|r| Row {
            tenant: r.tenant.clone(),
            name: r.name.clone(),
            number: r.number.clone(),
            due: pages::date(r.due_date, PL),
            days: days(r.days_overdue),
            gross: pages::money(r.gross, PL),
        })
        .collect()
}

pub async fn dashboard(
    axum::extract::State(state): axum::extract::State<State>,
    op: Operator,
) -> Response {
    let r = match receivables(&state).await {
        Ok(r) => r,
        Err(e) => return unavailable(e),
    };
    let chart = match chart(&state).await {
        Ok(c) => c,
        Err(e) => return unavailable(e),
    };
    let mut ctx = operator_ctx(&op, "Należności");
    ctx.set("today", pages::date(state.svc.today(), PL))
        .set(
            "totals",
            serde_json::json!({
                "overdue": total(&r.overdue),
                "due_week": total(&r.due_this_week),
                "suspended": total(&r.suspended),
            }),
        )
        .set(
            "sections",
            serde_json::json!([
                {"title": "Po terminie", "rows": rows(&r.overdue, |d| format!("{d} dni po terminie"))},
                {"title": "Termin w ciągu 7 dni", "rows": rows(&r.due_this_week, |d| if d == 0 { "dziś".into() } else { format!("za {} dni", -d) })},
                {"title": "Zawieszeni", "rows": rows(&r.suspended, |_| String::new())},
            ]),
        )
        .set("chart", chart);
    state.pages.render(Page::Admin, ctx).into_response()
}

/// Bars by month for the last 12 months: paid documents (gross, by month of issue) and
/// documents still unpaid after their due date (gross, by month of the due date).
async fn chart(state: &Panel) -> anyhow::Result<String> {
    let today = state.svc.today();
    let months: Vec<(i32, u32)> = (0..12)
        .rev()
        .map(|back| {
            let m = today.year() * 12 + today.month0() as i32 - back;
            (m.div_euclid(12), m.rem_euclid(12) as u32 + 1)
        })
        .collect();
    let mut paid: BTreeMap<(i32, u32), i64> = BTreeMap::new();
    let mut overdue: BTreeMap<(i32, u32), i64> = BTreeMap::new();
    for id in state.store.tenants().await? {
        for d in state.svc.store.documents_of(&id).await? {
            match d.status {
                DocumentStatus::Paid => {
                    *paid
                        .entry((d.issue_date.year(), d.issue_date.month()))
                        .or_default() += d.totals.gross.grosze()
                }
                DocumentStatus::Issued | DocumentStatus::Expired if d.due_date < today => {
                    *overdue
                        .entry((d.due_date.year(), d.due_date.month()))
                        .or_default() += d.totals.gross.grosze()
                }
                _ => {}
            }
        }
    }
    Ok(svg_chart(&months, &paid, &overdue))
}

fn svg_chart(
    months: &[(i32, u32)],
    paid: &BTreeMap<(i32, u32), i64>,
    overdue: &BTreeMap<(i32, u32), i64>,
) -> String {
    let (w, h, top, bottom, left) = (720.0, 260.0, 16.0, 40.0, 70.0);
    let max = months
        .iter()
        .flat_map(|m| [paid.get(m), overdue.get(m)])
        .flatten()
        .copied()
        .max()
        .unwrap_or(0)
        .max(100);
    let plot = h - top - bottom;
    let slot = (w - left - 10.0) / months.len() as f64;
    let bar = (slot - 8.0) / 2.0;
    let y = |v: i64| top + plot - plot * v as f64 / max as f64;
    let mut s = format!(
        r#"<svg role="img" aria-label="Przychody i zaległości według miesięcy" viewBox="0 0 {w} {h}" width="100%" style="min-width:560px;font:11px Arial,sans-serif">"#
    );
    for i in 0..=4 {
        let v = max * i / 4;
        s += &format!(
            r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e7eb"/><text x="{}" y="{:.1}" text-anchor="end" fill="#6b7280">{}</text>"##,
            w - 10.0,
            left - 6.0,
            y(v) + 4.0,
            pages::money(Money::from_grosze(v / 100 * 100), PL).replace(",00", ""),
            y = y(v)
        );
    }
    for (i, m) in months.iter().enumerate() {
        let x = left + slot * i as f64 + 4.0;
        let p = paid.get(m).copied().unwrap_or(0);
        let o = overdue.get(m).copied().unwrap_or(0);
        s += &format!(
            r##"<rect x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{:.1}" fill="#0b5cad"><title>{:02}/{}: opłacone {}</title></rect>"##,
            y(p),
            top + plot - y(p) + top - top,
            m.1,
            m.0,
            pages::money(Money::from_grosze(p), PL)
        );
        s += &format!(
            r##"<rect x="{:.1}" y="{:.1}" width="{bar:.1}" height="{:.1}" fill="#f59e0b"><title>{:02}/{}: po terminie {}</title></rect>"##,
            x + bar,
            y(o),
            top + plot - y(o),
            m.1,
            m.0,
            pages::money(Money::from_grosze(o), PL)
        );
        s += &format!(
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#6b7280">{:02}/{:02}</text>"##,
            x + bar,
            h - bottom + 16.0,
            m.1,
            m.0 % 100
        );
    }
    s + "</svg>"
}

#[derive(Deserialize, Default)]
pub struct Flash {
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Serialize)]
struct ReviewRow {
    key: String,
    source: String,
    received: String,
    amount: String,
    reason: String,
    document: String,
    decision: Option<String>,
}

pub async fn reviews(
    axum::extract::State(state): axum::extract::State<State>,
    op: Operator,
    Query(f): Query<Flash>,
) -> Response {
    let list = match state.store.reviews().await {
        Ok(l) => l,
        Err(e) => return unavailable(e),
    };
    let rows: Vec<ReviewRow> = list
        .into_iter()
        .map(|(r, d)| ReviewRow {
            document: number_in(&r.reason),
            key: r.key,
            source: r.source,
            received: pages::date(r.received_on, PL),
            amount: pages::money(r.amount, PL),
            reason: r.reason,
            decision: d.map(|d| match d.document {
                Some(doc) => format!("zaksięgowana na {doc} ({})", d.representative),
                None => format!("do zwrotu ({})", d.representative),
            }),
        })
        .collect();
    let mut ctx = operator_ctx(&op, "Płatności do wyjaśnienia");
    ctx.set("reviews", rows)
        .set("flash", f.done.map(|_| "Zapisano decyzję."))
        .set("error", f.error);
    state.pages.render(Page::Reviews, ctx).into_response()
}

#[derive(Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    document: String,
}

fn back_with_error(text: &str) -> Response {
    let q: String = url_encode(text);
    Redirect::to(&format!("/admin/reviews?error={q}")).into_response()
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Applies a held payment to a document the operator names: the same use case as
/// `renewals payment record`, with the operator's name as the representative.
pub async fn apply_review(
    axum::extract::State(state): axum::extract::State<State>,
    op: Operator,
    Form(form): Form<ReviewForm>,
) -> Response {
    if !same_token(&form.csrf, &op.csrf) {
        return csrf_refused();
    }
    let item = match state.svc.store.review_item(&form.key).await {
        Ok(Some(i)) => i,
        Ok(None) => return (StatusCode::NOT_FOUND, "Not found").into_response(),
        Err(e) => return unavailable(e),
    };
    let number = match DocumentNumber::parse(form.document.trim()) {
        Ok(n) => n,
        Err(e) => return back_with_error(&e.to_string()),
    };
    let transfer = Transfer {
        document: number.clone(),
        amount_grosze: item.amount.grosze(),
        date: state.svc.today(),
        // One settlement per held payment, however often the form is sent.
        reference: format!("{HELD_PREFIX}{}", item.key),
        representative: Some(op.name.clone()),
    };
    match state.as_operator(&op).record_transfer(&transfer).await {
        Ok(renewals_app::settlement::Settlement::Review { reason }) => {
            return back_with_error(&reason)
        }
        Ok(_) => {}
        Err(e) if e.is_retryable() => return unavailable(e),
        Err(e) => return back_with_error(&e.to_string()),
    }
    let decision = ReviewDecision {
        decision: "applied".into(),
        document: Some(number.to_string()),
        representative: op.name.clone(),
        at: state.svc.clock.now(),
    };
    // The settlement's own audit entry (`held_payment_applied`) says it in the customer's
    // log; this one keeps the decision with the review.
    let tenant = tenant_of(&state, &number.to_string()).await;
    let note = AuditEntry::note(
        decision.at,
        &renewals_app::audit::Actor::Operator(op.name.clone()),
        &tenant,
        "review_decided",
        Some(number.to_string()),
        format!(
            "{} rozstrzygnął(-ęła): wpłata {} zaksięgowana na {number}",
            op.name, item.key
        ),
    );
    if let Err(e) = state.store.decide_review(&item.key, &decision, &note).await {
        return unavailable(e);
    }
    Redirect::to("/admin/reviews?done=1").into_response()
}

pub async fn refund_review(
    axum::extract::State(state): axum::extract::State<State>,
    op: Operator,
    Form(form): Form<ReviewForm>,
) -> Response {
    if !same_token(&form.csrf, &op.csrf) {
        return csrf_refused();
    }
    let item = match state.svc.store.review_item(&form.key).await {
        Ok(Some(item)) => item,
        Ok(None) => return (StatusCode::NOT_FOUND, "Not found").into_response(),
        Err(e) => return unavailable(e),
    };
    let decision = ReviewDecision {
        decision: "refund".into(),
        document: None,
        representative: op.name.clone(),
        at: state.svc.clock.now(),
    };
    let named = number_in(&item.reason);
    let tenant = tenant_of(&state, &named).await;
    let note = AuditEntry::note(
        decision.at,
        &renewals_app::audit::Actor::Operator(op.name.clone()),
        &tenant,
        "held_payment_refund",
        Some(named).filter(|n| !n.is_empty()),
        format!(
            "{} oznaczył(a) wpłatę {} zł ({}) do zwrotu",
            op.name, item.amount, item.key
        ),
    );
    if let Err(e) = state.store.decide_review(&form.key, &decision, &note).await {
        return unavailable(e);
    }
    Redirect::to("/admin/reviews?done=1").into_response()
}

pub async fn outbox(
    axum::extract::State(state): axum::extract::State<State>,
    op: Operator,
    Query(f): Query<Flash>,
) -> Response {
    let (messages, commands, submissions) = match (
        state.store.parked_messages().await,
        state.store.parked_commands().await,
        state.store.parked_submissions().await,
    ) {
        (Ok(m), Ok(c), Ok(k)) => (m, c, k),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return unavailable(e),
    };
    let messages: Vec<_> = messages
        .iter()
        .map(|m| {
            serde_json::json!({"id": m.id, "tenant": m.message.tenant.as_str(), "kind": m.message.kind,
                "to": m.message.to, "subject": m.message.subject, "attempts": m.attempts})
        })
        .collect();
    let commands: Vec<_> = commands
        .iter()
        .map(|c| {
            let v = renewals_app::microsoft::view(c);
            serde_json::json!({"id": c.id, "tenant": c.tenant.as_str(), "kind": v.kind,
                "attempts": c.attempts, "error": c.last_error})
        })
        .collect();
    let mut ctx = operator_ctx(&op, "Wstrzymane wysyłki");
    let submissions: Vec<_> = submissions
        .iter()
        .map(|k| {
            let status = match k.status.as_str() {
                "rejected" => "odrzucona przez KSeF",
                _ => "wstrzymana po nieudanych próbach",
            };
            serde_json::json!({"number": k.number, "tenant": k.tenant.as_str(), "status": status,
                "attempts": k.attempts, "reason": k.reason})
        })
        .collect();
    ctx.set("messages", messages)
        .set("commands", commands)
        .set("submissions", submissions)
        .set(
            "flash",
            f.done
                .map(|_| "Ponowiono: pójdzie przy najbliższej wysyłce."),
        );
    state.pages.render(Page::Outbox, ctx).into_response()
}

#[derive(Deserialize)]
pub struct RetryForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    id: i64,
    /// A KSeF submission's invoice number.
    #[serde(default)]
    number: String,
}

/// The tenant a document or invoice number belongs to, else the operators' own log.
async fn tenant_of(state: &Panel, number: &str) -> TenantId {
    let operators = || TenantId::parse(OPERATORS).expect("valid id");
    let Ok(number) = DocumentNumber::parse(number) else {
        return operators();
    };
    match state.svc.store.document(&number).await {
        Ok(Some(d)) => d.tenant,
        _ => operators(),
    }
}

/// Puts a parked e-mail, Microsoft command or KSeF submission back in line, once however
/// often the button is pressed, with an audit entry in the customer's log.
pub async fn retry(
    axum::extract::State(state): axum::extract::State<State>,
    op: Operator,
    Form(form): Form<RetryForm>,
) -> Response {
    if !same_token(&form.csrf, &op.csrf) {
        return csrf_refused();
    }
    let now = state.svc.clock.now();
    let actor = renewals_app::audit::Actor::Operator(op.name.clone());
    // Not parked (any more): pressed twice, or already retried by someone else.
    let nothing = || Redirect::to("/admin/outbox").into_response();
    let done = match form.kind.as_str() {
        "email" => {
            let parked = match state.store.parked_messages().await {
                Ok(p) => p,
                Err(e) => return unavailable(e),
            };
            let Some(m) = parked.iter().find(|m| m.id == form.id) else {
                return nothing();
            };
            let summary = format!(
                "Ponowiono wstrzymany e-mail „{}” do {} ({})",
                m.message.subject, m.message.to, m.message.kind
            );
            let note = AuditEntry::note(
                now,
                &actor,
                &m.message.tenant,
                "email_retried",
                m.message.document.clone(),
                summary,
            );
            state.store.retry_message(form.id, &note).await
        }
        "command" => {
            let parked = match state.store.parked_commands().await {
                Ok(p) => p,
                Err(e) => return unavailable(e),
            };
            let Some(c) = parked.iter().find(|c| c.id == form.id) else {
                return nothing();
            };
            let kind = renewals_app::microsoft::view(c).kind;
            let summary = format!("Ponowiono wstrzymane polecenie dla Microsoft: {kind}");
            let mut note =
                AuditEntry::note(now, &actor, &c.tenant, "microsoft_retried", None, summary);
            note.subscription = Some(c.command.subscription.to_string());
            state.store.retry_command(form.id, &note).await
        }
        "ksef" => {
            let parked = match state.store.parked_submissions().await {
                Ok(p) => p,
                Err(e) => return unavailable(e),
            };
            let Some(k) = parked.iter().find(|k| k.number == form.number) else {
                return nothing();
            };
            let summary = format!(
                "Ponowiono wysyłkę faktury {} do KSeF (powód wstrzymania: {})",
                k.number,
                k.reason.as_deref().unwrap_or("brak")
            );
            let note = AuditEntry::note(
                now,
                &actor,
                &k.tenant,
                "ksef_retried",
                Some(k.number.clone()),
                summary,
            );
            state.store.retry_submission(&k.number, now, &note).await
        }
        _ => return (StatusCode::NOT_FOUND, "Not found").into_response(),
    };
    match done {
        Ok(true) => {
            if form.kind == "email" {
                // Sent now if it can be; a new failure parks it again after its attempts.
                let _ = state.svc.deliver().await;
            }
            Redirect::to("/admin/outbox?done=1").into_response()
        }
        Ok(false) => nothing(),
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize, Default)]
pub struct Search {
    #[serde(default)]
    q: String,
}

pub async fn tenants(
    axum::extract::State(state): axum::extract::State<State>,
    op: Operator,
    Query(s): Query<Search>,
) -> Response {
    let all = match accounts(&state).await {
        Ok(a) => a,
        Err(e) => return unavailable(e),
    };
    let q = s.q.trim().to_lowercase();
    let rows: Vec<_> = all
        .iter()
        .filter(|a| {
            let t = &a.tenant;
            q.is_empty()
                || [t.id.as_str(), t.name.as_str(), t.nip.as_str(), t.email.as_str()]
                    .iter()
                    .any(|f| f.to_lowercase().contains(&q))
        })
        .map(|a| {
            serde_json::json!({"id": a.tenant.id.as_str(), "name": a.tenant.name, "nip": a.tenant.nip.as_str(),
                "email": a.tenant.email.as_str(), "subscriptions": a.subscriptions.len()})
        })
        .collect();
    let mut ctx = operator_ctx(&op, "Klienci");
    ctx.set("tenants", rows).set("q", &s.q);
    state.pages.render(Page::Tenants, ctx).into_response()
}

/// A tenant's timeline: documents issued and paid, e-mails sent, newest first; and its audit
/// log: who changed what, when and from which document, newest first.
pub async fn tenant(
    axum::extract::State(state): axum::extract::State<State>,
    op: Operator,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = TenantId::parse(&id) else {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    };
    let account = match state.svc.store.load_account(&id).await {
        Ok(Some(l)) => l.account,
        Ok(None) => return (StatusCode::NOT_FOUND, "Not found").into_response(),
        Err(e) => return unavailable(e),
    };
    let (docs, emails, audit) = match (
        state.svc.store.documents_of(&id).await,
        state.svc.store.emails_of(&id).await,
        state.svc.store.audit_of(&id).await,
    ) {
        (Ok(d), Ok(e), Ok(a)) => (d, e, a),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return unavailable(e),
    };
    // Newest first, as the timeline reads.
    let audit: Vec<_> = audit
        .iter()
        .rev()
        .map(|e| {
            serde_json::json!({"at": pages::moment(e.at, PL), "actor": e.actor.to_string(),
                "action": e.action, "document": e.document, "subscription": e.subscription,
                "summary": e.summary})
        })
        .collect();
    let mut timeline: Vec<(NaiveDate, u8, String, String)> = vec![];
    for d in &docs {
        timeline.push((
            d.issue_date,
            1,
            format!("Wystawiono {}", d.number),
            format!(
                "{} brutto, termin {}, status: {}",
                pages::money(d.totals.gross, PL),
                pages::date(d.due_date, PL),
                d.status.as_str()
            ),
        ));
    }
    for e in &emails {
        timeline.push((
            e.date,
            2,
            format!("E-mail: {}", e.kind),
            format!("{} → {}", e.subject, e.to),
        ));
    }
    timeline.sort_by_key(|e| std::cmp::Reverse((e.0, e.1)));
    let rows: Vec<_> = timeline
        .into_iter()
        .map(|(d, _, what, detail)| {
            serde_json::json!({"date": pages::date(d, PL), "what": what, "detail": detail})
        })
        .collect();
    let t = &account.tenant;
    let subs: Vec<_> = account
        .subscriptions
        .iter()
        .map(|s| subscription_row(&state.pages, s, PL, |p| state.product_name(p)))
        .collect();
    let mut ctx = operator_ctx(&op, &t.name);
    ctx.set(
        "tenant",
        serde_json::json!({"id": t.id.as_str(), "name": t.name, "nip": t.nip.as_str(), "email": t.email.as_str(),
            "address": t.address, "locale": pages::lang(t.locale), "method": format!("{:?}", t.payment_method).to_lowercase()}),
    )
    .set("subscriptions", subs)
    .set("timeline", rows)
    .set("audit", audit);
    state.pages.render(Page::Tenant, ctx).into_response()
}

/// The first document number a review's reason names, to suggest in the form.
fn number_in(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == '(' || c == ')')
        .map(|w| w.trim_end_matches(['.', ':']))
        .find(|w| DocumentNumber::parse(w).is_ok())
        .unwrap_or_default()
        .to_string()
}
