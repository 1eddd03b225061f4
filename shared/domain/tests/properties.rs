//! Properties of the pure domain, hammered with generated inputs.

use chrono::{Datelike, NaiveDate};
use proptest::prelude::*;
use renewals_domain::calendar::{add_days, days_in_month};
use renewals_domain::{
    Account, Catalog, EmailAddress, Job, Locale, Money, Nip, Numbering, PaymentMethod, Period,
    Policy, SeriesKey, Tenant, TenantId, Term, Totals,
};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn tenant() -> Tenant {
    Tenant {
        id: TenantId::parse("acme").unwrap(),
        name: "ACME sp. z o.o.".into(),
        nip: Nip::parse("5260001246").unwrap(),
        address: String::new(),
        address2: None,
        country: "PL".into(),
        email: EmailAddress::parse("faktury@acme.pl").unwrap(),
        locale: Locale::Pl,
        payment_method: PaymentMethod::Blik,
    }
}

proptest! {
    #[test]
    fn month_end_anchored_periods_are_contiguous_for_36_months(
        year in 2023i32..2031, month in 1u32..=12, anchor in 28u32..=31,
    ) {
        let first = date(year, month, anchor.min(days_in_month(year, month)));
        let mut p = Period::starting(first, Term::Monthly, anchor);
        for _ in 0..36 {
            let next = p.following(Term::Monthly, anchor);
            prop_assert_eq!(next.start, p.end, "gap or overlap after {:?}", p);
            prop_assert!(p.start < p.end);
            prop_assert!((28..=31).contains(&p.days()));
            // Each end keeps the anchor, clamped to that month's length.
            let e = p.end;
            prop_assert_eq!(e.day(), anchor.min(days_in_month(e.year(), e.month())));
            p = next;
        }
    }

    #[test]
    fn vat_is_the_rounded_23_percent_of_the_net_sum(lines in prop::collection::vec(0i64..10_000_000, 1..12)) {
        let totals = Totals::of_lines(lines.iter().map(|g| Money::from_grosze(*g)));
        let net: i64 = lines.iter().sum();
        // Integer half-up, computed without the code under test.
        let vat = (net * 23 + 50) / 100;
        prop_assert_eq!(totals.net.grosze(), net);
        prop_assert_eq!(totals.vat.grosze(), vat);
        prop_assert_eq!(totals.gross.grosze(), net + vat);
    }

    #[test]
    fn proration_is_bounded_by_the_period_price(
        start_offset in 0i64..3000, seats in 1u32..500, term_annual in any::<bool>(),
        anchor_day in 1u32..=31, day_pick in 0.0f64..1.0,
    ) {
        let term = if term_annual { Term::Annual } else { Term::Monthly };
        let base = add_days(date(2024, 1, 1), start_offset);
        let start = date(base.year(), base.month(), anchor_day.min(days_in_month(base.year(), base.month())));
        let mut account = Account::new(tenant());
        let catalog = Catalog::default_catalog();
        let id = account.add_subscription(&catalog, "business-premium", 7, term, start).unwrap();
        let sub = account.subscription(&id).unwrap().clone();
        let full = sub.unit_price.times(seats);
        let days = sub.period.days();
        let at = add_days(sub.period.start, ((days - 1) as f64 * day_pick) as i64);
        prop_assert!(sub.prorated(seats, at) <= full);
        prop_assert_eq!(sub.prorated(seats, sub.period.start), full);
        let one_day = Money::round(full.amount() / rust_decimal::Decimal::from(days));
        prop_assert_eq!(sub.prorated(seats, sub.period.last_day()), one_day);
    }

    #[test]
    fn deciding_twice_for_the_same_state_and_date_yields_nothing_new(
        start_offset in 0i64..800, annual in any::<bool>(), day_offset in 0i64..500,
        pay_after in prop::option::of(0i64..12), renew_off in any::<bool>(),
    ) {
        let policy = Policy::default();
        let catalog = Catalog::default_catalog();
        let term = if annual { Term::Annual } else { Term::Monthly };
        let start = add_days(date(2025, 1, 1), start_offset);
        let mut account = Account::new(tenant());
        let id = account.add_subscription(&catalog, "business-basic", 3, term, start).unwrap();
        if renew_off {
            account.turn_off_renewal(&id).unwrap();
        }
        let mut numbering = Numbering::default();
        // Walk day by day to a random date, paying each pro-forma `pay_after` days late.
        let target = add_days(start, day_offset);
        let mut day = start;
        while day <= target {
            for job in [Job::Daily, Job::Expiry] {
                run_to_fixed_point(&mut account, day, &policy, &catalog, &mut numbering, job);
                let again = account.decide(day, &policy, job);
                prop_assert!(again.is_empty(), "decided again on {}: {:?}", day, again);
            }
            // The stored form is the whole account: the embedded store hands out the account
            // it wrote instead of parsing its JSON back, which is right only if both agree.
            let stored: Account = serde_json::from_str(&serde_json::to_string(&account).unwrap()).unwrap();
            prop_assert_eq!(&stored, &account, "the JSON of the account on {} loses something", day);
            if let Some(lag) = pay_after {
                let due: Vec<_> = account.open_documents.iter()
                    .filter(|o| add_days(o.document.issue_date, lag) == day)
                    .map(|o| o.document.clone()).collect();
                for doc in due {
                    account.pay(&doc, day, &policy);
                }
            }
            day = add_days(day, 1);
        }
    }
}

fn run_to_fixed_point(
    account: &mut Account,
    day: NaiveDate,
    policy: &Policy,
    catalog: &Catalog,
    numbering: &mut Numbering,
    job: Job,
) {
    for _ in 0..64 {
        let actions = account.decide(day, policy, job);
        if actions.is_empty() {
            return;
        }
        for a in actions {
            if let Some(key) = a.series(day) {
                numbering.load(key, 0);
            }
            account.apply(a, day, policy, catalog, numbering).unwrap();
        }
    }
    panic!("no fixed point on {day}");
}

#[test]
fn numbering_is_per_series_and_month() {
    let mut n = Numbering::default();
    let d = date(2026, 11, 26);
    n.load(
        SeriesKey::of(renewals_domain::DocumentKind::Proforma, d),
        41,
    );
    assert_eq!(
        n.next(renewals_domain::DocumentKind::Proforma, d)
            .to_string(),
        "PF/2026/11/0042"
    );
    assert_eq!(
        n.next(renewals_domain::DocumentKind::Proforma, d)
            .to_string(),
        "PF/2026/11/0043"
    );
    assert_eq!(n.advanced().len(), 1);
}
