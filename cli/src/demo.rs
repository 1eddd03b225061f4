//! `renewals demo`: a scripted season at a reseller, told day by day.

use crate::app::{open_with, Open, Output};
use anyhow::anyhow;
use chrono::NaiveDate;
use renewals_app::config::{Defaults, Settings};
use renewals_app::ports::{warsaw_noon, ManualClock};
use renewals_app::service::Service;
use renewals_app::views::{self, SubscriptionView};
use renewals_domain::calendar::add_days;
use renewals_domain::{
    parse_date, DocumentKind, DocumentStatus, EmailAddress, Job, Locale, Nip, PaymentMethod,
    SubscriptionId, Tenant, TenantId, Term,
};
use renewals_local::sqlite::Durability;
use renewals_przelewy24::P24Settings;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

enum Step {
    SeatsAdd(&'static str, u32),
    Reduce(&'static str, u32, &'static str),
    PlanAtRenewal(&'static str, &'static str),
    PlanNow(&'static str, &'static str),
    RenewalOff(&'static str),
    /// The tenant pays its newest open document of this kind (or the expired one, to restore).
    Pay(&'static str, DocumentKind),
    /// The operator fills in a tenant's address (FA(3) `AdresL1`, `AdresL2`).
    Address(&'static str, &'static str, &'static str),
}

/// The buyers' addresses on their VAT invoices; the accounting office starts without one, so
/// its first invoice waits until the operator fills it in.
const ADDRESSES: [(&str, &str); 4] = [
    ("ul. Ogrodowa 12", "05-500 Piaseczno"),
    ("ul. Prosta 51", "00-838 Warszawa"),
    ("ul. Piekarska 3", "31-001 Kraków"),
    ("", ""),
];

const TENANTS: [(&str, &str, &str, Locale, PaymentMethod); 4] = [
    (
        "kwiatkowski",
        "Kwiatkowski Ogrody sp. z o.o.",
        "5260001246",
        Locale::Pl,
        PaymentMethod::Blik,
    ),
    (
        "nordic-apps",
        "Nordic Apps Polska sp. z o.o.",
        "7010001453",
        Locale::En,
        PaymentMethod::Transfer,
    ),
    (
        "piekarnia",
        "Piekarnia Złoty Kłos s.c.",
        "9542751368",
        Locale::Pl,
        PaymentMethod::Blik,
    ),
    (
        "biuro-rachunkowe",
        "Biuro Rachunkowe Saldo",
        "6751428345",
        Locale::Pl,
        PaymentMethod::Transfer,
    ),
];

const SUBSCRIPTIONS: [(&str, &str, u32, Term, &str); 4] = [
    (
        "kwiatkowski",
        "business-standard",
        10,
        Term::Monthly,
        "2026-01-31",
    ),
    (
        "nordic-apps",
        "business-premium",
        25,
        Term::Annual,
        "2025-03-15",
    ),
    (
        "piekarnia",
        "business-basic",
        5,
        Term::Monthly,
        "2026-01-10",
    ),
    (
        "biuro-rachunkowe",
        "apps-for-business",
        3,
        Term::Monthly,
        "2026-01-20",
    ),
];

fn script() -> Vec<(&'static str, Step)> {
    use DocumentKind::{Order, Proforma};
    vec![
        ("2026-02-02", Step::SeatsAdd("kwiatkowski-1", 2)),
        (
            "2026-02-03",
            Step::Reduce("nordic-apps-1", 20, "Anna Nowak"),
        ),
        ("2026-02-04", Step::Pay("kwiatkowski", Order)),
        ("2026-02-05", Step::Pay("piekarnia", Proforma)),
        (
            "2026-02-05",
            Step::PlanAtRenewal("biuro-rachunkowe-1", "business-standard"),
        ),
        ("2026-02-16", Step::Pay("biuro-rachunkowe", Proforma)),
        (
            "2026-02-18",
            Step::Address("biuro-rachunkowe", "ul. Rachunkowa 7/2", "90-001 Łódź"),
        ),
        ("2026-02-23", Step::Pay("kwiatkowski", Proforma)),
        ("2026-03-01", Step::RenewalOff("biuro-rachunkowe-1")),
        (
            "2026-03-05",
            Step::PlanNow("kwiatkowski-1", "business-premium"),
        ),
        ("2026-03-06", Step::Pay("kwiatkowski", Order)),
        ("2026-03-10", Step::Pay("nordic-apps", Proforma)),
        ("2026-03-25", Step::Pay("piekarnia", Proforma)),
        ("2026-03-30", Step::Pay("kwiatkowski", Proforma)),
    ]
}

/// The season as it happened: what the text tells and `--json` prints.
#[derive(Serialize)]
pub struct Timeline {
    pub data_dir: PathBuf,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub tenants: Vec<DemoTenant>,
    pub days: Vec<Day>,
    /// Every subscription on the last day.
    pub subscriptions: Vec<SubscriptionView>,
    pub emails_written: usize,
}

#[derive(Serialize)]
pub struct DemoTenant {
    pub id: String,
    pub name: String,
    pub locale: Locale,
    pub payment_method: PaymentMethod,
    pub subscription: SubscriptionView,
}

/// One day with something to tell: each event is one line a person can follow.
#[derive(Serialize)]
pub struct Day {
    pub date: NaiveDate,
    pub events: Vec<String>,
}

pub async fn run(data_dir: &Path, out: &Output) -> anyhow::Result<()> {
    let timeline = season(data_dir).await?;
    out.print(&timeline, || text(&timeline));
    Ok(())
}

fn text(t: &Timeline) -> String {
    let mut lines = vec![
        format!(
            "renewals demo: a season at a Microsoft 365 reseller, {} – {}",
            t.from, t.to
        ),
        format!(
            "data folder: {} (e-mails as .eml in outbox/)\n",
            t.data_dir.display()
        ),
    ];
    for d in &t.tenants {
        let s = &d.subscription;
        lines.push(format!(
            "  {:<20} {} ({}, {}): {} × {}, {}, period {} – {}",
            s.id,
            d.name,
            d.locale,
            d.payment_method,
            s.seats,
            s.product,
            s.term,
            s.period_start,
            s.period_end
        ));
    }
    lines.push(String::new());
    for day in &t.days {
        for (i, line) in day.events.iter().enumerate() {
            let head = if i == 0 {
                day.date.to_string()
            } else {
                String::new()
            };
            lines.push(format!("{head:<12}{line}"));
        }
    }
    lines.push(format!("\nOn {}:", t.to));
    for s in &t.subscriptions {
        lines.push(format!(
            "  {:<20} {:<9} {:>3} × {:<18} period {} – {}  auto-renew {}",
            s.id,
            s.status,
            s.seats,
            s.product,
            s.period_start,
            s.period_end,
            if s.auto_renew { "on" } else { "off" }
        ));
    }
    lines.push(format!(
        "\n{} e-mails written to {}/outbox; inspect with:",
        t.emails_written,
        t.data_dir.display()
    ));
    lines.push(format!(
        "  renewals --data-dir {} documents --tenant kwiatkowski",
        t.data_dir.display()
    ));
    lines.join("\n")
}

async fn season(data_dir: &Path) -> anyhow::Result<Timeline> {
    let dir = data_dir.join("demo");
    let _ = std::fs::remove_dir_all(&dir);
    let settings = Settings::from_env(Defaults::Local)?;
    let first = parse_date("2026-02-01")?;
    let last = parse_date("2026-04-10")?;
    let clock = Arc::new(ManualClock::new(warsaw_noon(first)));
    let p24 = P24Settings::from_env(Defaults::Local)?;
    let base = open_with(
        &dir,
        settings,
        &p24,
        Some(first),
        Durability::Normal,
        Open {
            create: true,
            offline: true,
        },
    )?;
    let svc = Service {
        clock: clock.clone(),
        ..base
    };

    let mut tenants = vec![];
    for (((id, name, nip, locale, method), (_, product, seats, term, start)), (line1, line2)) in
        TENANTS.iter().zip(SUBSCRIPTIONS.iter()).zip(ADDRESSES)
    {
        let tenant = Tenant {
            id: TenantId::parse(id)?,
            name: name.to_string(),
            nip: Nip::parse(nip)?,
            address: line1.to_string(),
            address2: Some(line2.to_string()).filter(|l| !l.is_empty()),
            country: "PL".into(),
            email: EmailAddress::parse(&format!("faktury@{id}.example.pl"))?,
            locale: *locale,
            payment_method: *method,
        };
        svc.add_tenant(tenant.clone()).await?;
        let start = parse_date(start)?;
        let sub = svc
            .add_subscription(&tenant.id, product, *seats, *term, start)
            .await?;
        // Each customer has its Microsoft tenant and subscription linked (made-up ids): the
        // offline stand-in records what Partner Center would be asked to do.
        let n = tenants.len() + 1;
        svc.link_microsoft_tenant(&tenant.id, &format!("00000000-0000-4000-8000-{n:012}"))
            .await?;
        svc.link_microsoft_subscription(&sub, &format!("00000000-0000-4000-9000-{n:012}"))
            .await?;
        let account = svc.account(&tenant.id).await?;
        tenants.push(DemoTenant {
            id: id.to_string(),
            name: name.to_string(),
            locale: *locale,
            payment_method: *method,
            subscription: views::subscription(&tenant.id, account.subscription(&sub)?),
        });
    }

    let steps = script();
    let mut shown = std::collections::BTreeSet::new();
    let mut invoice_states = std::collections::BTreeMap::new();
    let mut days = vec![];
    let mut day = first;
    while day <= last {
        clock.set(warsaw_noon(day));
        let mut said = vec![];
        let daily = svc.run_job(Job::Daily, day, None).await?;
        for (_, step) in steps.iter().filter(|(d, _)| *d == day.to_string()) {
            said.push(perform(&svc, &p24, step, day).await?);
        }
        let expiry = svc.run_job(Job::Expiry, day, None).await?;
        for f in daily.failures.iter().chain(&expiry.failures) {
            said.push(format!("FAILED for {}: {}", f.tenant, f.error));
        }
        for (id, ..) in TENANTS {
            let tenant = TenantId::parse(id)?;
            for m in svc.store.emails_of(&tenant).await? {
                if m.date == day {
                    said.push(format!("e-mail {:<20} → {}: {}", m.kind, m.to, m.subject));
                }
            }
            for i in svc.store.invoices_of(&tenant).await? {
                let v = views::invoice(&i);
                if invoice_states.insert(v.number.clone(), v.ksef.status) == Some(v.ksef.status) {
                    continue;
                }
                said.push(match v.ksef.status {
                    "accepted" => format!(
                        "VAT invoice {} ({}) for {}: accepted by KSeF, number {} (offline stand-in)",
                        v.number,
                        v.invoice_type,
                        v.settles,
                        v.ksef.number.as_deref().unwrap_or("?")
                    ),
                    "awaiting_buyer_data" => format!(
                        "VAT invoice {} ({}) for {}: numbered and held, {id} has no address (operator alerted)",
                        v.number, v.invoice_type, v.settles
                    ),
                    other => format!(
                        "VAT invoice {} ({}) for {}: KSeF {other}{}",
                        v.number,
                        v.invoice_type,
                        v.settles,
                        v.ksef.reason.map(|r| format!(" ({r})")).unwrap_or_default()
                    ),
                });
            }
            for c in svc.microsoft_commands(&tenant).await? {
                if shown.insert(c.id) {
                    let v = renewals_app::microsoft::view(&c);
                    said.push(format!(
                        "Microsoft {:<13} {} {} ({}, offline stand-in)",
                        v.kind, v.subscription, v.payload, v.status
                    ));
                }
            }
        }
        if !said.is_empty() {
            days.push(Day {
                date: day,
                events: said,
            });
        }
        day = add_days(day, 1);
    }

    let mut subscriptions = vec![];
    for (id, ..) in TENANTS {
        let tenant = TenantId::parse(id)?;
        let account = svc.account(&tenant).await?;
        for s in &account.subscriptions {
            subscriptions.push(views::subscription(&tenant, s));
        }
    }
    let emails_written = std::fs::read_dir(dir.join("outbox"))?.count();
    Ok(Timeline {
        data_dir: dir,
        from: first,
        to: last,
        tenants,
        days,
        subscriptions,
        emails_written,
    })
}

async fn perform(
    svc: &Service,
    p24: &P24Settings,
    step: &Step,
    day: NaiveDate,
) -> anyhow::Result<String> {
    let sub = |s: &str| SubscriptionId::parse(s);
    Ok(match step {
        Step::SeatsAdd(s, n) => {
            let doc = svc.add_seats(&sub(s)?, *n, day).await?;
            format!(
                "{s}: customer adds {n} seats → order {} for {} zł gross (prorated)",
                doc.number, doc.totals.gross
            )
        }
        Step::Reduce(s, to, rep) => {
            svc.reduce_seats(&sub(s)?, *to, rep, day).await?;
            format!(
                "{s}: {rep} (reseller) schedules a reduction to {to} seats from the next period"
            )
        }
        Step::PlanAtRenewal(s, p) => {
            svc.change_plan_at_renewal(&sub(s)?, p, day).await?;
            format!("{s}: plan change to {p} scheduled for the renewal")
        }
        Step::PlanNow(s, p) => {
            let doc = svc.change_plan_now(&sub(s)?, p, day).await?;
            format!(
                "{s}: customer switches to {p} now → new subscription {}, order {}; {s} stops renewing",
                doc.lines[0].subscription, doc.number
            )
        }
        Step::Address(tenant, line1, line2) => {
            let released = svc
                .update_tenant(
                    &TenantId::parse(tenant)?,
                    renewals_app::TenantUpdate {
                        address: Some(line1.to_string()),
                        address2: Some(line2.to_string()),
                        ..Default::default()
                    },
                )
                .await?;
            svc.ksef_sync().await?;
            svc.deliver().await?;
            format!(
                "{tenant}: operator fills in the address ({line1}, {line2}) → {released} VAT invoice(s) released to KSeF"
            )
        }
        Step::RenewalOff(s) => {
            svc.renewal_off(&sub(s)?).await?;
            format!("{s}: renewal turned off; it ends with its period")
        }
        Step::Pay(tenant, kind) => {
            let t = TenantId::parse(tenant)?;
            let docs = svc.store.documents_of(&t).await?;
            let doc = docs
                .iter()
                .rev()
                .find(|d| d.kind == *kind && d.status == DocumentStatus::Issued)
                .or_else(|| {
                    docs.iter()
                        .rev()
                        .find(|d| d.kind == *kind && d.status == DocumentStatus::Expired)
                })
                .ok_or_else(|| anyhow!("{tenant} has no {kind:?} to pay"))?
                .clone();
            let account = svc.account(&t).await?;
            let method = account.tenant.payment_method;
            let amount = doc.totals.gross.grosze();
            let r = renewals_przelewy24::offline::pay(svc, p24, &doc, amount, method).await;
            // As the webhook's Lambda does after a payment: the invoice goes to KSeF.
            svc.ksef_sync().await?;
            svc.deliver().await?;
            let after = svc.store.document(&doc.number).await?.expect("stored");
            format!(
                "{tenant} pays {} ({} zł) by {} → webhook {} {}, document {}",
                doc.number,
                doc.totals.gross,
                method,
                r.status,
                r.body,
                after.status.as_str()
            )
        }
    })
}
