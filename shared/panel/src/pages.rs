//! Templates (`minijinja`, HTML auto-escaped), their labels in Polish and English, and the
//! formats the e-mails use (`1 234,56 zł`, `27 lutego 2026`).

use axum::response::Html;
use chrono::{DateTime, Utc};
use minijinja::{Environment, Value};
use renewals_domain::{
    business_date, warsaw_time, Document, DocumentKind, Locale, Money, Period, Subscription,
};
use renewals_email::{format_amount, format_date, RenderedEmail};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug)]
pub enum Page {
    Login,
    LoginSent,
    LinkInvalid,
    Panel,
    Subscription,
    SeatsPreview,
    Document,
    Admin,
    Reviews,
    Outbox,
    Tenants,
    Tenant,
}

impl Page {
    fn template(self) -> &'static str {
        match self {
            Page::Login => "login.html",
            Page::LoginSent => "login_sent.html",
            Page::LinkInvalid => "link_invalid.html",
            Page::Panel => "panel.html",
            Page::Subscription => "subscription.html",
            Page::SeatsPreview => "seats_preview.html",
            Page::Document => "document.html",
            Page::Admin => "admin.html",
            Page::Reviews => "reviews.html",
            Page::Outbox => "outbox.html",
            Page::Tenants => "tenants.html",
            Page::Tenant => "tenant.html",
        }
    }
}

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("login.html", include_str!("../templates/login.html")),
    (
        "login_sent.html",
        include_str!("../templates/login_sent.html"),
    ),
    (
        "link_invalid.html",
        include_str!("../templates/link_invalid.html"),
    ),
    ("panel.html", include_str!("../templates/panel.html")),
    (
        "subscription.html",
        include_str!("../templates/subscription.html"),
    ),
    (
        "seats_preview.html",
        include_str!("../templates/seats_preview.html"),
    ),
    ("document.html", include_str!("../templates/document.html")),
    ("admin.html", include_str!("../templates/admin.html")),
    ("reviews.html", include_str!("../templates/reviews.html")),
    ("outbox.html", include_str!("../templates/outbox.html")),
    ("tenants.html", include_str!("../templates/tenants.html")),
    ("tenant.html", include_str!("../templates/tenant.html")),
    (
        "login_email.html",
        include_str!("../templates/login_email.html"),
    ),
    (
        "login_email.txt",
        include_str!("../templates/login_email.txt"),
    ),
];

pub struct Pages {
    env: Environment<'static>,
    labels: BTreeMap<String, BTreeMap<String, String>>,
    /// The reseller's name on every page and e-mail (the e-mails' From name).
    reseller: String,
}

/// A page's context: values by name, in the page's language.
pub struct Ctx {
    pub locale: Locale,
    values: BTreeMap<String, Value>,
}

impl Ctx {
    pub fn new(locale: Locale) -> Ctx {
        Ctx {
            locale,
            values: BTreeMap::new(),
        }
    }

    pub fn set(&mut self, key: &str, value: impl Serialize) -> &mut Ctx {
        self.values
            .insert(key.to_string(), Value::from(minijinja::value::Serde(value)));
        self
    }
}

pub fn lang(locale: Locale) -> &'static str {
    match locale {
        Locale::Pl => "pl",
        Locale::En => "en",
    }
}

impl Pages {
    pub fn new(reseller: &str) -> Pages {
        let mut env = Environment::new();
        // As in the e-mails: `& < > " '` escaped, `/` not, so document numbers and links
        // read as they are.
        env.set_formatter(|out, state, value| {
            if matches!(state.auto_escape(), minijinja::AutoEscape::Html) && !value.is_safe() {
                if let Some(s) = value.as_str() {
                    return write_html_escaped(out, s).map_err(minijinja::Error::from);
                }
            }
            minijinja::escape_formatter(out, state, value)
        });
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name} does not compile: {e:#}"));
        }
        Pages {
            env,
            labels: serde_json::from_str(include_str!("../templates/labels.json"))
                .expect("templates/labels.json is valid"),
            reseller: reseller.to_string(),
        }
    }

    pub fn label(&self, locale: Locale, key: &str) -> String {
        self.labels[lang(locale)]
            .get(key)
            .cloned()
            .unwrap_or_else(|| key.to_string())
    }

    fn render_str(&self, name: &str, mut ctx: Ctx) -> String {
        let l = lang(ctx.locale);
        ctx.set("lang", l);
        ctx.set("t", &self.labels[l]);
        ctx.values
            .entry("reseller".into())
            .or_insert_with(|| Value::from(self.reseller.clone()));
        ctx.values
            .entry("title".into())
            .or_insert_with(|| Value::from(self.reseller.clone()));
        self.env
            .get_template(name)
            .and_then(|t| t.render(Value::from(ctx.values)))
            .unwrap_or_else(|e| panic!("template {name} does not render: {e:#}"))
    }

    pub fn render(&self, page: Page, ctx: Ctx) -> Html<String> {
        Html(self.render_str(page.template(), ctx))
    }

    /// The `login` e-mail: the link, until when it works, and what to do if it was not asked
    /// for; in the e-mails' layout and the recipient's language.
    pub fn login_email(
        &self,
        locale: Locale,
        to: &str,
        link: &str,
        expires: DateTime<Utc>,
    ) -> RenderedEmail {
        let warsaw = warsaw_time(expires);
        let expires_text = format!(
            "{} {}",
            format_date(business_date(expires), locale),
            warsaw.format("%H:%M")
        );
        let subject = format!(
            "{} — {}",
            self.label(locale, "email_subject"),
            self.reseller
        );
        let mut ctx = Ctx::new(locale);
        ctx.set("link", link)
            .set("expires", &expires_text)
            .set("subject", &subject);
        let html = self.render_str("login_email.html", ctx);
        let mut ctx = Ctx::new(locale);
        ctx.set("link", link).set("expires", &expires_text);
        let text = self.render_str("login_email.txt", ctx);
        RenderedEmail {
            kind: "login",
            to: to.to_string(),
            subject,
            html,
            text,
            attachment: None,
        }
    }
}

/// An instant as a person in Warsaw reads it: the date and the time to the minute.
pub fn moment(at: DateTime<Utc>, locale: Locale) -> String {
    let local = warsaw_time(at);
    format!(
        "{} {}",
        date(local.date_naive(), locale),
        local.format("%H:%M")
    )
}

pub fn money(m: Money, locale: Locale) -> String {
    format_amount(m, locale)
}

pub fn date(d: chrono::NaiveDate, locale: Locale) -> String {
    format_date(d, locale)
}

/// `[start, end)` as people read it: first day – last day.
pub fn period(p: &Period, locale: Locale) -> String {
    format!("{} – {}", date(p.start, locale), date(p.last_day(), locale))
}

/// A document number in a path: `PF/2026/01/0001` → `PF-2026-01-0001`.
pub fn slug(number: &str) -> String {
    number.replace('/', "-")
}

#[derive(Serialize)]
pub struct SubscriptionRow {
    pub id: String,
    pub product: String,
    pub seats: u32,
    pub period: String,
    pub status: String,
    pub status_code: &'static str,
    pub renewal: String,
    pub auto_renew: bool,
    pub next_product: Option<String>,
}

pub fn subscription_row(
    pages: &Pages,
    s: &Subscription,
    locale: Locale,
    name: impl Fn(&str) -> String,
) -> SubscriptionRow {
    let code = s.status.as_str();
    SubscriptionRow {
        id: s.id.to_string(),
        product: name(&s.product),
        seats: s.seats,
        period: period(&s.period, locale),
        status: pages.label(locale, &format!("st_{code}")),
        status_code: code,
        renewal: pages.label(
            locale,
            if s.auto_renew {
                "renewal_on"
            } else {
                "renewal_off_state"
            },
        ),
        auto_renew: s.auto_renew,
        next_product: s.scheduled.product.as_deref().map(&name),
    }
}

#[derive(Serialize)]
pub struct LineRow {
    pub product: String,
    pub seats: u32,
    pub net: String,
}

#[derive(Serialize)]
pub struct DocumentRow {
    pub number: String,
    pub slug: String,
    pub kind: String,
    pub issued: String,
    pub due: String,
    pub period: String,
    pub net: String,
    pub vat: String,
    pub gross: String,
    pub status: String,
    pub status_code: &'static str,
    pub pay: Option<String>,
    pub lines: Vec<LineRow>,
}

pub fn document_row(pages: &Pages, d: &Document, locale: Locale) -> DocumentRow {
    let code = d.status.as_str();
    let open = code == "issued";
    DocumentRow {
        number: d.number.to_string(),
        slug: slug(&d.number.to_string()),
        kind: pages.label(
            locale,
            match d.kind {
                DocumentKind::Proforma => "proforma",
                DocumentKind::Order => "order",
            },
        ),
        issued: date(d.issue_date, locale),
        due: date(d.due_date, locale),
        period: period(&d.period, locale),
        net: money(d.totals.net, locale),
        vat: money(d.totals.vat, locale),
        gross: money(d.totals.gross, locale),
        status: pages.label(locale, &format!("ds_{code}")),
        status_code: code,
        pay: d.payment.link.clone().filter(|_| open),
        lines: d
            .lines
            .iter()
            .map(|l| LineRow {
                product: l.product_name.clone(),
                seats: l.seats,
                net: money(l.net, locale),
            })
            .collect(),
    }
}

fn write_html_escaped(out: &mut minijinja::Output, s: &str) -> std::fmt::Result {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.write_str(&s[start..i])?;
        out.write_str(rep)?;
        start = i + 1;
    }
    out.write_str(&s[start..])
}
