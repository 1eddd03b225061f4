//! `renewals demo`: a scripted season at a reseller, told day by day.

use crate::app::open_with;
use anyhow::anyhow;
use chrono::NaiveDate;
use renewals_app::config::{Defaults, Settings};
use renewals_app::ports::{warsaw_noon, ManualClock};
use renewals_app::service::Service;
use renewals_domain::calendar::add_days;
use renewals_domain::{
    parse_date, DocumentKind, DocumentStatus, EmailAddress, Job, Locale, Nip, PaymentMethod,
    SubscriptionId, Tenant, TenantId, Term,
};
use renewals_local::sqlite::Durability;
use renewals_przelewy24::P24Settings;
use std::path::Path;
use std::sync::Arc;

enum Step {
    SeatsAdd(&'static str, u32),
    Reduce(&'static str, u32, &'static str),
    PlanAtRenewal(&'static str, &'static str),
    PlanNow(&'static str, &'static str),
    RenewalOff(&'static str),
    /// The tenant pays its newest open document of this kind (or the expired one, to restore).
    Pay(&'static str, DocumentKind),
}

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

pub async fn run(data_dir: &Path) -> anyhow::Result<()> {
    let dir = data_dir.join("demo");
    let _ = std::fs::remove_dir_all(&dir);
    let settings = Settings::from_env(Defaults::Local)?;
    let first = parse_date("2026-02-01")?;
    let last = parse_date("2026-04-10")?;
    let clock = Arc::new(ManualClock::new(warsaw_noon(first)));
    let p24 = P24Settings::from_env(Defaults::Local)?;
    let base = open_with(&dir, settings, &p24, Some(first), Durability::Normal)?;
    let svc = Service {
        clock: clock.clone(),
        ..base
    };

    println!("renewals demo: a season at a Microsoft 365 reseller, 1 February – 10 April 2026");
    println!(
        "data folder: {} (e-mails as .eml in outbox/)\n",
        dir.display()
    );
    for ((id, name, nip, locale, method), (_, product, seats, term, start)) in
        TENANTS.iter().zip(SUBSCRIPTIONS.iter())
    {
        let tenant = Tenant {
            id: TenantId::parse(id)?,
            name: name.to_string(),
            nip: Nip::parse(nip)?,
            address: String::new(),
            email: EmailAddress::parse(&format!("faktury@{id}.example.pl"))?,
            locale: *locale,
            payment_method: *method,
        };
        svc.add_tenant(tenant.clone()).await?;
        let start = parse_date(start)?;
        let sub = svc
            .add_subscription(&tenant.id, product, *seats, *term, start)
            .await?;
        let account = svc.account(&tenant.id).await?;
        let s = account.subscription(&sub)?;
        println!(
            "  {sub:<20} {name} ({}, {}): {seats} × {product}, {term}, period {} – {}",
            locale, method, s.period.start, s.period.end
        );
    }
    println!();

    let steps = script();
    let mut day = first;
    while day <= last {
        clock.set(warsaw_noon(day));
        let mut said = vec![];
        let daily = svc.run_job(Job::Daily, day, None).await?;
        for (date, step) in steps.iter().filter(|(d, _)| *d == day.to_string()) {
            let _ = date;
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
        }
        for (i, line) in said.iter().enumerate() {
            let head = if i == 0 {
                day.to_string()
            } else {
                String::new()
            };
            println!("{head:<12}{line}");
        }
        day = add_days(day, 1);
    }

    println!("\nOn {last}:");
    for (id, ..) in TENANTS {
        let account = svc.account(&TenantId::parse(id)?).await?;
        for s in &account.subscriptions {
            println!(
                "  {:<20} {:<9} {:>3} × {:<18} period {} – {}  auto-renew {}",
                s.id.to_string(),
                s.status.as_str(),
                s.seats,
                s.product,
                s.period.start,
                s.period.end,
                if s.auto_renew { "on" } else { "off" }
            );
        }
    }
    let eml = std::fs::read_dir(dir.join("outbox"))?.count();
    println!(
        "\n{eml} e-mails written to {}/outbox; inspect with:",
        dir.display()
    );
    println!(
        "  renewals --data-dir {} documents --tenant kwiatkowski",
        dir.display()
    );
    Ok(())
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
