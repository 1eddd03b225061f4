//! `renewals run daily|expiry` plans the day and works it with a worker per core in one
//! process (`run_fanned_out`), as the functions do on AWS. For a person nothing changes: the
//! same counts, documents and e-mails as one tenant after another (`run_job`), and every
//! series numbered without a gap whichever worker took the number.

use renewals_app::fanout::Sizes;
use renewals_app::jobs::RunSummary;
use renewals_app::ports::warsaw_noon;
use renewals_domain::calendar::add_days;
use renewals_domain::{Document, DocumentKind, Job, Locale, PaymentMethod, Term};
use renewals_tests::{d, tenant, TestApp};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const TENANTS: usize = 48;

/// A mix of customers: languages, payment methods, terms, start days, one or two subscriptions.
async fn customers(app: &TestApp) {
    for i in 0..TENANTS {
        let id = format!("c{i:03}");
        let locale = if i % 5 == 0 { Locale::En } else { Locale::Pl };
        let method = [
            PaymentMethod::Blik,
            PaymentMethod::Transfer,
            PaymentMethod::Card,
        ][i % 3];
        let (term, start) = if i % 7 == 0 {
            (Term::Annual, format!("2025-03-{:02}", 1 + i % 28))
        } else {
            (Term::Monthly, format!("2026-01-{:02}", 1 + i % 28))
        };
        app.customer_with(
            tenant(&id, locale, method),
            "business-standard",
            1 + i as u32 % 9,
            term,
            &start,
        )
        .await;
        let tenant_id = renewals_domain::TenantId::parse(&id).unwrap();
        if method == PaymentMethod::Card {
            app.svc.set_card(&tenant_id, "card-ref-1").await.unwrap();
        }
        if i % 4 == 0 {
            app.svc
                .add_subscription(
                    &tenant_id,
                    "business-basic",
                    3,
                    Term::Monthly,
                    d("2026-01-20"),
                )
                .await
                .unwrap();
        }
    }
}

/// Seven weeks of days: the daily run, payments (a third of the tenants never pay, a third
/// pay on the day they are billed, a third a week later), the expiry run.
async fn season(app: &TestApp, fanned_out: bool) -> Vec<(RunSummary, RunSummary)> {
    let svc = Arc::new(app.svc.clone());
    let run = |job: Job, date| {
        let svc = svc.clone();
        async move {
            if fanned_out {
                svc.run_fanned_out(job, date, 2, Sizes { batch: 5, page: 7 })
                    .await
            } else {
                svc.run_job(job, date, None).await
            }
            .unwrap()
        }
    };
    let mut summaries = vec![];
    let mut paid = 0;
    let mut day = d("2026-01-25");
    while day <= d("2026-03-15") {
        app.clock.set(warsaw_noon(day));
        let daily = run(Job::Daily, day).await;
        // In tenant order, so that both runs number their VAT invoices alike.
        let mut documents = app.store.all_documents().unwrap();
        documents.sort_by_key(|doc| (doc.tenant.clone(), readable(doc)));
        for doc in documents {
            let i: usize = doc.tenant.as_str()[1..].parse().unwrap();
            let pay_on = match i % 3 {
                0 => continue,
                1 => doc.issue_date,
                _ => add_days(doc.issue_date, 7),
            };
            if pay_on == day && doc.status == renewals_domain::DocumentStatus::Issued {
                // Przelewy24's order ids are unique; `TestApp::pay` derives them from the
                // number, which differs between the runs.
                paid += 1;
                let n = app.notification(&doc, doc.totals.gross.grosze(), 1_000 + paid);
                assert_eq!(app.webhook(&n.to_body()).await.status, 200);
            }
        }
        let expiry = run(Job::Expiry, day).await;
        summaries.push((daily, expiry));
        day = add_days(day, 1);
    }
    summaries
}

/// A document as a person reads it, without its number (the order in which tenants are
/// numbered is the workers' affair).
fn readable(doc: &Document) -> String {
    format!(
        "{:?} {} issued {} due {} for {}..{}: net {} gross {}; lines {:?}",
        doc.kind,
        doc.status.as_str(),
        doc.issue_date,
        doc.due_date,
        doc.period.start,
        doc.period.end,
        doc.totals.net,
        doc.totals.gross,
        doc.lines
            .iter()
            .map(|l| (l.subscription.to_string(), l.seats, l.net.to_string()))
            .collect::<Vec<_>>()
    )
}

/// Each tenant's documents and e-mails, numbers replaced by what they number.
async fn outcome(app: &TestApp) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    let mut by_tenant = BTreeMap::new();
    for i in 0..TENANTS {
        let id = format!("c{i:03}");
        let docs = app.documents(&id).await;
        let mut documents: Vec<String> = docs.iter().map(readable).collect();
        documents.sort();
        let mut emails: Vec<String> = app
            .emails(&id)
            .await
            .iter()
            .map(|m| {
                let mut subject = m.subject.clone();
                let mut about = m.document.clone().unwrap_or_default();
                for doc in &docs {
                    let number = doc.number.to_string();
                    subject = subject.replace(&number, "{number}");
                    if about == number {
                        about = readable(doc);
                    }
                }
                format!("{} to {} on {}: {subject} [{about}]", m.kind, m.to, m.date)
            })
            .collect();
        emails.sort();
        by_tenant.insert(id, (documents, emails));
    }
    by_tenant
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_daily_with_workers_ends_as_one_tenant_after_another() {
    let single = TestApp::new();
    customers(&single).await;
    let one_by_one = season(&single, false).await;
    let fanned = TestApp::new();
    customers(&fanned).await;

    let with_workers = season(&fanned, true).await;

    // The same counts every day, for the daily and the expiry run alike.
    assert_eq!(with_workers.len(), one_by_one.len());
    for (fanned_day, single_day) in with_workers.iter().zip(&one_by_one) {
        assert_eq!(fanned_day, single_day, "on {}", single_day.0.date);
    }
    let total = |f: fn(&RunSummary) -> usize| -> usize {
        with_workers.iter().map(|(d, e)| f(d) + f(e)).sum()
    };
    // The season is not a quiet one: every kind of step happened.
    assert!(total(|s| s.proformas_issued) >= TENANTS);
    assert!(total(|s| s.reminders_sent) > 0);
    assert!(total(|s| s.suspended) > 0);
    assert!(total(|s| s.periods_started) > 0);
    assert!(total(|s| s.card_charges) > 0);
    assert!(total(|s| s.emails_sent) > 2 * TENANTS);
    assert_eq!(outcome(&fanned).await, outcome(&single).await);

    // Every series 1..n: no number lost or taken twice by workers racing for it.
    let mut series: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    let documents = fanned.store.all_documents().unwrap();
    for doc in &documents {
        assert!(
            series
                .entry(doc.number.series_key().to_string())
                .or_default()
                .insert(doc.number.seq),
            "{} twice",
            doc.number
        );
    }
    for (key, seqs) in &series {
        assert_eq!(
            seqs.iter().copied().collect::<Vec<_>>(),
            (1..=seqs.len() as u32).collect::<Vec<_>>(),
            "{key} has a gap"
        );
    }
    assert!(documents
        .iter()
        .any(|doc| doc.kind == DocumentKind::Proforma));
}
