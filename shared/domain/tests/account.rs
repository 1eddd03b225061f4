//! The `Account` aggregate, given / when / then, in memory: every row of the renewal-cycle
//! table and every change during a period of DESIGN.md §1 ("Domain rules").
//!
//! Expected dates and amounts are worked out by hand (in the comments), never with the code
//! under test. The usual customer: ACME, 5 seats of Business Basic monthly (30.50 net a seat)
//! from 1 March 2026, so the period is [2026-03-01, 2026-04-01): the pro-forma is issued on
//! 25 March (end − 7), due 31 March (end − 1), reminders on 28, 30 and 31 March, overdue on
//! 1 April, suspended on 6 April (end + 5 days of grace).

use chrono::NaiveDate;
use renewals_domain::{
    Account, Catalog, Document, DocumentKind, DocumentStatus, Effect, EmailAddress, Job, Locale,
    Money, Nip, Numbering, PaymentMethod, PaymentOutcome, Policy, SeriesKey, Status, Subscription,
    SubscriptionId, Tenant, TenantId, Term,
};

// ------------------------------------------------------------------------------------ helpers

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
}

fn tenant() -> Tenant {
    Tenant {
        id: TenantId::parse("acme").unwrap(),
        name: "ACME sp. z o.o.".into(),
        nip: Nip::parse("5260001246").unwrap(),
        address: "ul. Prosta 1, 00-001 Warszawa".into(),
        address2: None,
        country: "PL".into(),
        email: EmailAddress::parse("faktury@acme.pl").unwrap(),
        locale: Locale::Pl,
        payment_method: PaymentMethod::Blik,
    }
}

/// The account plus what the shell hands to it: policy, catalog and the number counters.
struct Books {
    account: Account,
    policy: Policy,
    catalog: Catalog,
    numbering: Numbering,
}

fn books() -> Books {
    Books {
        account: Account::new(tenant()),
        policy: Policy::default(),
        catalog: Catalog::default_catalog(),
        numbering: Numbering::default(),
    }
}

fn subscribe(books: &mut Books, sku: &str, seats: u32, term: Term, start: &str) -> SubscriptionId {
    books
        .account
        .add_subscription(&books.catalog, sku, seats, term, d(start))
        .unwrap_or_else(|e| panic!("subscription refused: {e}"))
}

/// ACME with 5 seats of Business Basic monthly from 2026-03-01.
fn account_with_a_monthly_subscription() -> (Books, SubscriptionId) {
    let mut b = books();
    let id = subscribe(&mut b, "business-basic", 5, Term::Monthly, "2026-03-01");
    (b, id)
}

fn sub<'a>(books: &'a Books, id: &SubscriptionId) -> &'a Subscription {
    books
        .account
        .subscriptions
        .iter()
        .find(|s| &s.id == id)
        .expect("subscription exists")
}

/// One job on one date: decide and apply until nothing is left, collecting the effects.
fn run(books: &mut Books, job: Job, date: NaiveDate) -> Vec<Effect> {
    let mut effects = vec![];
    for _ in 0..32 {
        let actions = books.account.decide(date, &books.policy, job);
        if actions.is_empty() {
            return effects;
        }
        for action in actions {
            if let Some(key) = action.series(date) {
                books.numbering.load(key, 0);
            }
            let out = books
                .account
                .apply(
                    action,
                    date,
                    &books.policy,
                    &books.catalog,
                    &mut books.numbering,
                )
                .unwrap_or_else(|e| panic!("{job:?} on {date} refused: {e}"));
            effects.extend(out);
        }
    }
    panic!("{job:?} on {date} never settles");
}

/// Both jobs every day from `from` to `to` inclusive (daily first, then expiry), as the
/// schedule runs them; each effect comes with the day it happened.
fn run_days(books: &mut Books, from: &str, to: &str) -> Vec<(NaiveDate, Effect)> {
    let mut log = vec![];
    let mut day = d(from);
    while day <= d(to) {
        for job in [Job::Daily, Job::Expiry] {
            log.extend(run(books, job, day).into_iter().map(|e| (day, e)));
        }
        day = day.succ_opt().unwrap();
    }
    log
}

fn pay(books: &mut Books, document: &Document, date: &str) -> (PaymentOutcome, Vec<Effect>) {
    books.account.pay(document, d(date), &books.policy)
}

fn order_seats(
    books: &mut Books,
    id: &SubscriptionId,
    seats: u32,
    date: &str,
) -> Result<Vec<Effect>, String> {
    books
        .numbering
        .load(SeriesKey::of(DocumentKind::Order, d(date)), 0);
    books
        .account
        .order_seats(
            id,
            seats,
            d(date),
            &books.policy,
            &books.catalog,
            &mut books.numbering,
        )
        .map_err(|e| e.to_string())
}

fn reduce_seats(
    books: &mut Books,
    id: &SubscriptionId,
    to: u32,
    representative: &str,
    date: &str,
) -> Result<Vec<Effect>, String> {
    books
        .account
        .reduce_seats(id, to, representative, d(date), &books.policy)
        .map_err(|e| e.to_string())
}

fn change_plan_at_renewal(
    books: &mut Books,
    id: &SubscriptionId,
    sku: &str,
    date: &str,
) -> Result<Vec<Effect>, String> {
    books
        .account
        .change_plan_at_renewal(id, sku, d(date), &books.policy, &books.catalog)
        .map_err(|e| e.to_string())
}

fn change_plan_now(
    books: &mut Books,
    id: &SubscriptionId,
    sku: &str,
    date: &str,
) -> Result<Vec<Effect>, String> {
    books
        .numbering
        .load(SeriesKey::of(DocumentKind::Order, d(date)), 0);
    books
        .account
        .change_plan_now(
            id,
            sku,
            d(date),
            &books.policy,
            &books.catalog,
            &mut books.numbering,
        )
        .map_err(|e| e.to_string())
}

fn turn_off_renewal(books: &mut Books, id: &SubscriptionId) -> Result<Vec<Effect>, String> {
    books
        .account
        .turn_off_renewal(id)
        .map_err(|e| e.to_string())
}

/// Documents issued among `effects`.
fn issued(effects: &[Effect]) -> Vec<Document> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Issued(doc) => Some(doc.clone()),
            _ => None,
        })
        .collect()
}

fn issued_in(log: &[(NaiveDate, Effect)]) -> Vec<Document> {
    issued(&log.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>())
}

/// The kinds of the notices among `effects`, in order.
fn notices(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Notify(notice) => Some(notice.kind().to_string()),
            _ => None,
        })
        .collect()
}

/// The days on which a notice of `kind` went out.
fn days_of(log: &[(NaiveDate, Effect)], kind: &str) -> Vec<NaiveDate> {
    log.iter()
        .filter(|(_, e)| matches!(e, Effect::Notify(n) if n.kind() == kind))
        .map(|(day, _)| *day)
        .collect()
}

/// `(document number, new status)` for every status change among `effects`.
fn status_changes(effects: &[Effect]) -> Vec<(String, DocumentStatus)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::StatusChanged(number, status) => Some((number.to_string(), *status)),
            _ => None,
        })
        .collect()
}

fn the_suspended_document(effects: &[Effect]) -> Document {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::Notify(n) if n.kind() == "suspension" => n.document().cloned(),
            _ => None,
        })
        .expect("a suspension notice with its document")
}

fn money(m: &Money) -> String {
    m.to_string()
}

/// The pro-forma the daily run issues on 25 March for the usual customer.
fn proforma_of_25_march(books: &mut Books) -> Document {
    let docs = issued(&run(books, Job::Daily, d("2026-03-25")));
    assert_eq!(docs.len(), 1, "one pro-forma on 25 March");
    docs[0].clone()
}

// ------------------------------------------------------------------- the renewal cycle

#[test]
fn a_monthly_renewal_proforma_is_issued_seven_days_before_the_period_end() {
    // given 5 seats of Business Basic monthly in [2026-03-01, 2026-04-01)
    let (mut b, id) = account_with_a_monthly_subscription();

    // when the daily job runs on 24 March (end − 8) and on 25 March (end − 7)
    let on_24 = run(&mut b, Job::Daily, d("2026-03-24"));
    let on_25 = run(&mut b, Job::Daily, d("2026-03-25"));

    // then nothing happens on the 24th; on the 25th one pro-forma for [04-01, 05-01):
    // 5 × 30.50 = 152.50 net, VAT 23 % = 35.075 → 35.08, gross 187.58, due 31 March
    assert!(on_24.is_empty(), "nothing due on 24 March: {on_24:?}");
    let docs = issued(&on_25);
    assert_eq!(docs.len(), 1);
    let pf = &docs[0];
    assert_eq!(pf.kind, DocumentKind::Proforma);
    assert_eq!(pf.number.to_string(), "PF/2026/03/0001");
    assert_eq!(pf.status, DocumentStatus::Issued);
    assert_eq!(pf.issue_date, d("2026-03-25"));
    assert_eq!(pf.due_date, d("2026-03-31"));
    assert_eq!(
        (pf.period.start, pf.period.end),
        (d("2026-04-01"), d("2026-05-01"))
    );
    assert_eq!(pf.lines.len(), 1);
    assert_eq!(pf.lines[0].subscription, id);
    assert_eq!(pf.lines[0].product, "business-basic");
    assert_eq!(pf.lines[0].seats, 5);
    assert_eq!(money(&pf.lines[0].unit_price), "30.50");
    assert_eq!(money(&pf.lines[0].net), "152.50");
    assert_eq!(money(&pf.totals.net), "152.50");
    assert_eq!(money(&pf.totals.vat), "35.08");
    assert_eq!(money(&pf.totals.gross), "187.58");
    assert_eq!(notices(&on_25), vec!["proforma"]);
}

#[test]
fn an_annual_renewal_proforma_is_issued_thirty_days_before_the_period_end() {
    // given 2 seats of Business Basic annual in [2026-01-15, 2027-01-15)
    let mut b = books();
    subscribe(&mut b, "business-basic", 2, Term::Annual, "2026-01-15");

    // when the daily job runs on 15 December (end − 31) and 16 December (end − 30)
    let on_15 = run(&mut b, Job::Daily, d("2026-12-15"));
    let on_16 = run(&mut b, Job::Daily, d("2026-12-16"));

    // then a pro-forma on the 16th for [2027-01-15, 2028-01-15), due 14 January:
    // 2 × 304.80 = 609.60 net, VAT 140.208 → 140.21, gross 749.81
    assert!(on_15.is_empty(), "nothing due on 15 December: {on_15:?}");
    let docs = issued(&on_16);
    assert_eq!(docs.len(), 1);
    let pf = &docs[0];
    assert_eq!(pf.number.to_string(), "PF/2026/12/0001");
    assert_eq!(pf.due_date, d("2027-01-14"));
    assert_eq!(
        (pf.period.start, pf.period.end),
        (d("2027-01-15"), d("2028-01-15"))
    );
    assert_eq!(money(&pf.totals.net), "609.60");
    assert_eq!(money(&pf.totals.vat), "140.21");
    assert_eq!(money(&pf.totals.gross), "749.81");
}

#[test]
fn subscriptions_renewing_on_the_same_date_share_one_proforma_with_a_line_each() {
    // given Business Basic × 5 and Business Premium × 2, both monthly from 1 March
    let mut b = books();
    let basic = subscribe(&mut b, "business-basic", 5, Term::Monthly, "2026-03-01");
    let premium = subscribe(&mut b, "business-premium", 2, Term::Monthly, "2026-03-01");

    // when the daily job runs every day up to the due date
    let log = run_days(&mut b, "2026-03-20", "2026-03-31");

    // then one pro-forma with two lines: 152.50 + 2 × 111.10 = 222.20 → net 374.70,
    // VAT 86.181 → 86.18 (on the total), gross 460.88
    let docs = issued_in(&log);
    assert_eq!(docs.len(), 1, "one pro-forma per tenant and renewal date");
    let pf = &docs[0];
    assert_eq!(pf.lines.len(), 2);
    assert!(pf.covers(&basic) && pf.covers(&premium));
    let nets: Vec<String> = pf.lines.iter().map(|l| money(&l.net)).collect();
    assert_eq!(nets, vec!["152.50", "222.20"]);
    assert_eq!(money(&pf.totals.net), "374.70");
    assert_eq!(money(&pf.totals.vat), "86.18");
    assert_eq!(money(&pf.totals.gross), "460.88");
    assert_eq!(days_of(&log, "proforma"), vec![d("2026-03-25")]);
}

#[test]
fn a_monthly_and_an_annual_subscription_ending_the_same_day_get_a_proforma_each_with_its_own_lead_time(
) {
    // given an annual subscription in [2026-01-15, 2027-01-15) and a monthly one in
    // [2026-12-15, 2027-01-15): both renew on 15 January 2027
    let mut b = books();
    let annual = subscribe(&mut b, "business-basic", 2, Term::Annual, "2026-01-15");
    let monthly = subscribe(&mut b, "business-standard", 3, Term::Monthly, "2026-12-15");

    // when the daily job runs every day up to the renewal date
    let log = run_days(&mut b, "2026-12-10", "2027-01-14");

    // then one pro-forma per term: the annual one 30 days ahead (16 December 2026) for
    // [2027-01-15, 2028-01-15), 2 × 304.80 = 609.60; the monthly one 7 days ahead
    // (8 January 2027) for [2027-01-15, 2027-02-15), 3 × 63.50 = 190.50; both due 14 January
    let docs = issued_in(&log);
    assert_eq!(docs.len(), 2, "one pro-forma per term: {docs:#?}");
    let (a, m) = (&docs[0], &docs[1]);
    assert!(a.covers(&annual) && !a.covers(&monthly));
    assert_eq!(a.issue_date, d("2026-12-16"));
    assert_eq!(
        (a.period.start, a.period.end),
        (d("2027-01-15"), d("2028-01-15"))
    );
    assert_eq!(money(&a.totals.net), "609.60");
    assert!(m.covers(&monthly) && !m.covers(&annual));
    assert_eq!(m.issue_date, d("2027-01-08"));
    assert_eq!(
        (m.period.start, m.period.end),
        (d("2027-01-15"), d("2027-02-15"))
    );
    assert_eq!(money(&m.totals.net), "190.50");
    assert_eq!((a.due_date, m.due_date), (d("2027-01-14"), d("2027-01-14")));
    assert_eq!(
        days_of(&log, "proforma"),
        vec![d("2026-12-16"), d("2027-01-08")]
    );
}

#[test]
fn an_annual_proforma_does_not_close_seat_additions_of_a_monthly_subscription_ending_the_same_day()
{
    // given the same pair, with the annual pro-forma issued on 16 December 2026
    let mut b = books();
    subscribe(&mut b, "business-basic", 2, Term::Annual, "2026-01-15");
    let monthly = subscribe(&mut b, "business-standard", 3, Term::Monthly, "2026-12-15");
    run_days(&mut b, "2026-12-16", "2027-01-05");

    // when 1 monthly seat is added on 5 January 2027 (the monthly issue day is 8 January)
    let ordered = order_seats(&mut b, &monthly, 1, "2027-01-05");

    // then the order is issued for [01-05, 01-15): 1 × 63.50 × 10 / 31 = 20.483… → 20.48,
    // due 7 January (the day before the monthly issue day)
    let order = issued(&ordered.expect("monthly seats still open")).remove(0);
    assert_eq!(money(&order.totals.net), "20.48");
    assert_eq!(order.due_date, d("2027-01-07"));
}

#[test]
fn the_proforma_charges_todays_catalog_price_while_the_current_period_keeps_its_price() {
    // given the usual customer, and the operator raising Business Basic monthly to 32.00
    // on 20 March
    let (mut b, id) = account_with_a_monthly_subscription();
    let basic = b
        .catalog
        .products
        .iter_mut()
        .find(|p| p.sku == "business-basic")
        .unwrap();
    basic
        .prices
        .insert("monthly".into(), Money::parse("32.00").unwrap());

    // when the pro-forma is issued on 25 March
    let pf = proforma_of_25_march(&mut b);

    // then it bills 5 × 32.00 = 160.00, while March stays at the price it was sold at
    assert_eq!(money(&pf.lines[0].unit_price), "32.00");
    assert_eq!(money(&pf.totals.net), "160.00");
    assert_eq!(money(&sub(&b, &id).unit_price), "30.50");
}

#[test]
fn reminders_go_out_three_days_and_one_day_before_the_due_date_and_on_it() {
    // given the usual customer, whose pro-forma is due on 31 March
    let (mut b, _) = account_with_a_monthly_subscription();

    // when the daily job runs every day from the issue day to the due date, nobody paying
    let log = run_days(&mut b, "2026-03-25", "2026-03-31");

    // then reminders on 28 (due − 3), 30 (due − 1) and 31 March (due)
    assert_eq!(
        days_of(&log, "reminder"),
        vec![d("2026-03-28"), d("2026-03-30"), d("2026-03-31")]
    );
}

#[test]
fn no_reminder_goes_out_once_the_proforma_is_paid() {
    // given a pro-forma issued on 25 March
    let (mut b, _) = account_with_a_monthly_subscription();
    let pf = proforma_of_25_march(&mut b);
    run_days(&mut b, "2026-03-26", "2026-03-26");

    // when it is paid on 27 March and the jobs run on to the due date
    let (outcome, effects) = pay(&mut b, &pf, "2026-03-27");
    let log = run_days(&mut b, "2026-03-27", "2026-03-31");

    // then the payment is confirmed, and no reminder follows
    assert_eq!(outcome, PaymentOutcome::Activated { late: false });
    assert_eq!(
        status_changes(&effects),
        vec![("PF/2026/03/0001".to_string(), DocumentStatus::Paid)]
    );
    assert_eq!(notices(&effects), vec!["payment-confirmation"]);
    assert!(days_of(&log, "reminder").is_empty(), "{log:?}");
}

#[test]
fn a_proforma_paid_on_its_due_date_starts_the_next_period_at_the_old_end_without_a_gap() {
    // given a pro-forma issued on 25 March, reminded up to its due date
    let (mut b, id) = account_with_a_monthly_subscription();
    let pf = proforma_of_25_march(&mut b);
    run_days(&mut b, "2026-03-26", "2026-03-30");

    // when it is paid on the due date, 31 March
    let (outcome, _) = pay(&mut b, &pf, "2026-03-31");
    let before_end = sub(&b, &id).period;
    let log = run_days(&mut b, "2026-03-31", "2026-04-10");

    // then March runs to its end, and April starts on 1 April with the same seats:
    // no overdue, no suspension
    assert_eq!(outcome, PaymentOutcome::Activated { late: false });
    assert_eq!(
        (before_end.start, before_end.end),
        (d("2026-03-01"), d("2026-04-01"))
    );
    let s = sub(&b, &id);
    assert_eq!(s.status, Status::Active);
    assert_eq!(
        (s.period.start, s.period.end),
        (d("2026-04-01"), d("2026-05-01"))
    );
    assert_eq!(s.seats, 5);
    assert!(days_of(&log, "overdue").is_empty());
    assert!(days_of(&log, "suspension").is_empty());
}

#[test]
fn an_unpaid_proforma_makes_the_subscription_overdue_at_the_period_end() {
    // given a pro-forma issued on 25 March and not paid by its due date
    let (mut b, id) = account_with_a_monthly_subscription();
    run_days(&mut b, "2026-03-25", "2026-03-31");
    assert_eq!(sub(&b, &id).status, Status::Active);

    // when the jobs run on 1 April (the period end) and the days of grace after it
    let on_end = run(&mut b, Job::Daily, d("2026-04-01"));
    let log = run_days(&mut b, "2026-04-01", "2026-04-05");

    // then the subscription is overdue from 1 April, with one overdue e-mail only
    assert_eq!(notices(&on_end), vec!["overdue"]);
    assert_eq!(sub(&b, &id).status, Status::Overdue);
    assert!(
        days_of(&log, "overdue").is_empty(),
        "a second overdue e-mail"
    );
    assert!(
        days_of(&log, "reminder").is_empty(),
        "reminders after the end"
    );
    assert!(
        days_of(&log, "suspension").is_empty(),
        "suspended within grace"
    );
}

#[test]
fn the_expiry_job_suspends_an_unpaid_subscription_at_the_end_of_grace() {
    // given a pro-forma unpaid through five days of grace (1–5 April)
    let (mut b, id) = account_with_a_monthly_subscription();
    run_days(&mut b, "2026-03-25", "2026-04-05");
    assert_eq!(sub(&b, &id).status, Status::Overdue);

    // when the daily job, then the expiry job run on 6 April (end + 5)
    let daily = run(&mut b, Job::Daily, d("2026-04-06"));
    let status_after_daily = sub(&b, &id).status;
    let expiry = run(&mut b, Job::Expiry, d("2026-04-06"));

    // then the expiry job (not the daily one) suspends, expires the pro-forma and e-mails
    assert!(daily.is_empty(), "{daily:?}");
    assert_eq!(status_after_daily, Status::Overdue);
    assert_eq!(
        status_changes(&expiry),
        vec![("PF/2026/03/0001".to_string(), DocumentStatus::Expired)]
    );
    assert_eq!(notices(&expiry), vec!["suspension"]);
    assert_eq!(
        the_suspended_document(&expiry).status,
        DocumentStatus::Expired
    );
    assert_eq!(sub(&b, &id).status, Status::Suspended);
}

#[test]
fn a_proforma_paid_during_grace_starts_the_new_period_at_the_old_end() {
    // given a subscription overdue since 1 April
    let (mut b, id) = account_with_a_monthly_subscription();
    let log = run_days(&mut b, "2026-03-25", "2026-04-03");
    let pf = issued_in(&log).remove(0);
    assert_eq!(sub(&b, &id).status, Status::Overdue);

    // when the pro-forma is paid on 3 April, within grace
    let (outcome, effects) = pay(&mut b, &pf, "2026-04-03");
    let after = run_days(&mut b, "2026-04-03", "2026-04-10");

    // then it is active again, April counted from 1 April (no gap), never suspended
    assert_eq!(outcome, PaymentOutcome::Activated { late: true });
    assert_eq!(
        status_changes(&effects),
        vec![("PF/2026/03/0001".to_string(), DocumentStatus::Paid)]
    );
    let s = sub(&b, &id);
    assert_eq!(s.status, Status::Active);
    assert_eq!(
        (s.period.start, s.period.end),
        (d("2026-04-01"), d("2026-05-01"))
    );
    assert!(days_of(&after, "suspension").is_empty());
}

#[test]
fn a_payment_after_suspension_within_90_days_restores_the_subscription_as_a_repurchase_from_the_payment_date(
) {
    // given a subscription suspended on 6 April for the unpaid PF/2026/03/0001
    let (mut b, id) = account_with_a_monthly_subscription();
    run_days(&mut b, "2026-03-25", "2026-04-05");
    let expired = the_suspended_document(&run(&mut b, Job::Expiry, d("2026-04-06")));

    // when the expired pro-forma is paid on 20 May
    let (outcome, effects) = pay(&mut b, &expired, "2026-05-20");

    // then it is bought again: same product and seats, a new period [05-20, 06-20)
    assert_eq!(outcome, PaymentOutcome::Restored);
    assert_eq!(
        status_changes(&effects),
        vec![("PF/2026/03/0001".to_string(), DocumentStatus::Paid)]
    );
    assert_eq!(notices(&effects), vec!["restored"]);
    let s = sub(&b, &id);
    assert_eq!(s.status, Status::Active);
    assert_eq!(s.product, "business-basic");
    assert_eq!(s.seats, 5);
    assert_eq!(
        (s.period.start, s.period.end),
        (d("2026-05-20"), d("2026-06-20"))
    );

    // and it renews from there: the next pro-forma on 13 June (20 June − 7)
    let log = run_days(&mut b, "2026-05-20", "2026-06-13");
    let docs = issued_in(&log);
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].issue_date, d("2026-06-13"));
    assert_eq!(docs[0].period.start, d("2026-06-20"));
}

#[test]
fn a_payment_on_the_90th_day_after_suspension_still_restores() {
    // given a subscription suspended on 6 April; 6 April + 90 days = 5 July
    // (24 days to 30 April, 31 in May, 30 in June, 5 in July)
    let (mut b, id) = account_with_a_monthly_subscription();
    run_days(&mut b, "2026-03-25", "2026-04-05");
    let expired = the_suspended_document(&run(&mut b, Job::Expiry, d("2026-04-06")));

    // when it is paid on 5 July
    let (outcome, _) = pay(&mut b, &expired, "2026-07-05");

    // then it is restored from 5 July
    assert_eq!(outcome, PaymentOutcome::Restored);
    let s = sub(&b, &id);
    assert_eq!(s.status, Status::Active);
    assert_eq!(
        (s.period.start, s.period.end),
        (d("2026-07-05"), d("2026-08-05"))
    );
}

#[test]
fn a_payment_later_than_90_days_after_suspension_is_flagged_for_refund_and_activates_nothing() {
    // given a subscription suspended on 6 April, repurchasable until 5 July
    let (mut b, id) = account_with_a_monthly_subscription();
    run_days(&mut b, "2026-03-25", "2026-04-05");
    let expired = the_suspended_document(&run(&mut b, Job::Expiry, d("2026-04-06")));

    // when it is paid on 6 July
    let (outcome, effects) = pay(&mut b, &expired, "2026-07-06");

    // then the money is flagged for refund; nothing is activated or marked paid
    assert!(
        matches!(outcome, PaymentOutcome::RefundFlagged { .. }),
        "{outcome:?}"
    );
    assert!(!status_changes(&effects)
        .iter()
        .any(|(_, s)| *s == DocumentStatus::Paid));
    assert!(!notices(&effects).iter().any(|k| k == "restored"));
    assert_eq!(sub(&b, &id).status, Status::Suspended);
}

#[test]
fn a_missed_run_issues_the_late_proforma_on_the_day_it_catches_up() {
    // given the usual customer, and no daily run between 25 and 27 March
    let (mut b, _) = account_with_a_monthly_subscription();

    // when the daily job runs again on 28 March
    let effects = run(&mut b, Job::Daily, d("2026-03-28"));

    // then the pro-forma goes out that day, for the same period and due date; its own
    // e-mail is the day's notice (no reminder on top of it)
    let docs = issued(&effects);
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].issue_date, d("2026-03-28"));
    assert_eq!(docs[0].due_date, d("2026-03-31"));
    assert_eq!(docs[0].period.start, d("2026-04-01"));
    assert_eq!(notices(&effects), vec!["proforma"]);
}

#[test]
fn a_missed_run_sends_only_the_latest_reminder_that_is_due() {
    // given a pro-forma issued on 25 March, and no run on 26–29 March
    // (the reminder of 28 March was missed)
    let (mut b, _) = account_with_a_monthly_subscription();
    proforma_of_25_march(&mut b);

    // when the daily job runs on 30 March, then on 31 March
    let on_30 = run(&mut b, Job::Daily, d("2026-03-30"));
    let on_31 = run(&mut b, Job::Daily, d("2026-03-31"));

    // then 30 March sends one reminder (not two), 31 March the due-day one
    assert_eq!(notices(&on_30), vec!["reminder"]);
    assert_eq!(notices(&on_31), vec!["reminder"]);
}

#[test]
fn a_missed_expiry_run_suspends_on_the_next_run() {
    // given an unpaid pro-forma, overdue since 1 April, and no expiry run on 6–8 April
    let (mut b, id) = account_with_a_monthly_subscription();
    for day in ["2026-03-25", "2026-04-01"] {
        run(&mut b, Job::Daily, d(day));
    }

    // when the expiry job runs again on 9 April
    let effects = run(&mut b, Job::Expiry, d("2026-04-09"));

    // then it suspends then
    assert_eq!(notices(&effects), vec!["suspension"]);
    assert_eq!(sub(&b, &id).status, Status::Suspended);
}

#[test]
fn a_proforma_issued_after_its_period_started_gives_the_full_grace_from_its_issue_date() {
    // given the usual customer (period ends 1 April, suspension due 6 April on time) and
    // no daily run at all until 9 April
    let (mut b, id) = account_with_a_monthly_subscription();

    // when the runs come back on 9 April
    let daily = run(&mut b, Job::Daily, d("2026-04-09"));
    let expiry = run(&mut b, Job::Expiry, d("2026-04-09"));

    // then the late pro-forma and its overdue notice go out, nothing is suspended that day,
    // and the overdue notice names a suspension date five days after the issue
    assert_eq!(notices(&daily), vec!["proforma", "overdue"]);
    assert!(expiry.is_empty(), "{expiry:?}");
    assert_eq!(sub(&b, &id).status, Status::Overdue);
    let suspension_on = daily.iter().find_map(|e| match e {
        Effect::Notify(renewals_domain::Notice::Overdue { suspension_on, .. }) => {
            Some(*suspension_on)
        }
        _ => None,
    });
    assert_eq!(suspension_on, Some(d("2026-04-14")));
    assert!(run(&mut b, Job::Expiry, d("2026-04-13")).is_empty());
    let effects = run(&mut b, Job::Expiry, d("2026-04-14"));
    assert_eq!(notices(&effects), vec!["suspension"]);
}

#[test]
fn deciding_again_on_the_same_date_yields_nothing() {
    // given the usual customer, nobody paying
    let (mut b, _) = account_with_a_monthly_subscription();
    let mut day = d("2026-03-24");
    while day <= d("2026-04-07") {
        for job in [Job::Daily, Job::Expiry] {
            // when a job has run for a day
            run(&mut b, job, day);

            // then deciding again for that day yields nothing, and a second run does nothing
            let again = b.account.decide(day, &b.policy, job);
            assert!(
                again.is_empty(),
                "{job:?} decided again on {day}: {again:?}"
            );
            let second = run(&mut b, job, day);
            assert!(second.is_empty(), "{job:?} ran twice on {day}: {second:?}");
        }
        day = day.succ_opt().unwrap();
    }
}

// ----------------------------------------------------------- changes during a period

#[test]
fn adding_seats_mid_period_issues_an_order_for_the_rest_of_the_period_at_the_prorated_price() {
    // given the usual customer in [2026-03-01, 2026-04-01), 31 days
    let (mut b, id) = account_with_a_monthly_subscription();

    // when 3 seats are added on 11 March (21 days left)
    let effects = order_seats(&mut b, &id, 3, "2026-03-11").expect("seats ordered");

    // then an order for [03-11, 04-01): 3 × 30.50 × 21 / 31 = 61.983… → 61.98 net,
    // VAT 14.2554 → 14.26, gross 76.24, due in 7 days (18 March); seats stay 5 until paid
    let docs = issued(&effects);
    assert_eq!(docs.len(), 1);
    let order = &docs[0];
    assert_eq!(order.kind, DocumentKind::Order);
    assert_eq!(order.number.to_string(), "ZAM/2026/03/0001");
    assert_eq!(order.issue_date, d("2026-03-11"));
    assert_eq!(order.due_date, d("2026-03-18"));
    assert_eq!(
        (order.period.start, order.period.end),
        (d("2026-03-11"), d("2026-04-01"))
    );
    assert_eq!(order.lines.len(), 1);
    assert_eq!(order.lines[0].seats, 3);
    assert_eq!(money(&order.lines[0].unit_price), "30.50");
    assert_eq!(money(&order.lines[0].net), "61.98");
    assert_eq!(money(&order.totals.vat), "14.26");
    assert_eq!(money(&order.totals.gross), "76.24");
    assert_eq!(notices(&effects), vec!["order"]);
    assert_eq!(sub(&b, &id).seats, 5);
}

#[test]
fn a_seat_order_close_to_the_renewal_is_due_before_the_proforma_is_issued() {
    // given the usual customer, whose pro-forma is issued on 25 March
    let (mut b, id) = account_with_a_monthly_subscription();

    // when 3 seats are added on 20 March (12 days left; 7 days would be 27 March)
    let effects = order_seats(&mut b, &id, 3, "2026-03-20").expect("seats ordered");

    // then the order is due on 24 March, the day before the issue day, and costs
    // 3 × 30.50 × 12 / 31 = 35.419… → 35.42 net
    let order = issued(&effects).remove(0);
    assert_eq!(order.due_date, d("2026-03-24"));
    assert_eq!(money(&order.totals.net), "35.42");
}

#[test]
fn seats_are_added_when_the_order_is_paid_and_carried_into_the_renewal() {
    // given an order for 3 more seats placed on 11 March
    let (mut b, id) = account_with_a_monthly_subscription();
    let order = issued(&order_seats(&mut b, &id, 3, "2026-03-11").unwrap()).remove(0);

    // when it is paid on 15 March
    let (outcome, effects) = pay(&mut b, &order, "2026-03-15");

    // then the seats count at once (5 + 3 = 8) and the renewal bills 8 × 30.50 = 244.00
    assert_eq!(outcome, PaymentOutcome::Activated { late: false });
    assert_eq!(
        status_changes(&effects),
        vec![("ZAM/2026/03/0001".to_string(), DocumentStatus::Paid)]
    );
    assert_eq!(notices(&effects), vec!["order-paid"]);
    assert_eq!(sub(&b, &id).seats, 8);
    let pf = proforma_of_25_march(&mut b);
    assert_eq!(pf.lines[0].seats, 8);
    assert_eq!(money(&pf.totals.net), "244.00");
}

#[test]
fn an_unpaid_seat_order_expires_after_its_due_date_and_adds_no_seats() {
    // given an order for 3 seats placed on 11 March, due 18 March, never paid
    let (mut b, id) = account_with_a_monthly_subscription();
    order_seats(&mut b, &id, 3, "2026-03-11").unwrap();

    // when the expiry job runs on 18 and 19 March
    let on_due = run(&mut b, Job::Expiry, d("2026-03-18"));
    let after = run(&mut b, Job::Expiry, d("2026-03-19"));

    // then it expires on the 19th; the subscription is untouched
    assert!(on_due.is_empty(), "{on_due:?}");
    assert_eq!(
        status_changes(&after),
        vec![("ZAM/2026/03/0001".to_string(), DocumentStatus::Expired)]
    );
    assert!(notices(&after).is_empty(), "no suspension for an order");
    assert_eq!(sub(&b, &id).seats, 5);
    assert_eq!(sub(&b, &id).status, Status::Active);
}

#[test]
fn adding_seats_is_refused_once_the_renewal_proforma_is_issued_and_possible_again_from_the_period_end(
) {
    // given the pro-forma for April issued on 25 March
    let (mut b, id) = account_with_a_monthly_subscription();
    let pf = proforma_of_25_march(&mut b);

    // when the customer adds seats on 26 March
    let refused = order_seats(&mut b, &id, 3, "2026-03-26");

    // then it is refused, saying why and from when it is possible again (1 April)
    let why = refused.expect_err("seat addition after the pro-forma");
    assert!(why.contains("pro-forma"), "{why}");
    assert!(why.contains("2026-04-01"), "{why}");

    // and once April is paid and started, seats can be added again: [04-01, 05-01) has
    // 30 days, on 10 April 21 are left: 3 × 30.50 × 21 / 30 = 64.05
    pay(&mut b, &pf, "2026-03-27");
    run_days(&mut b, "2026-03-27", "2026-04-10");
    let order = issued(&order_seats(&mut b, &id, 3, "2026-04-10").expect("possible again"));
    assert_eq!(money(&order[0].totals.net), "64.05");
}

#[test]
fn a_representative_schedules_a_seat_reduction_effective_from_the_next_period() {
    // given the usual customer with 5 seats
    let (mut b, id) = account_with_a_monthly_subscription();

    // when Anna Nowak of the reseller reduces it to 2 seats on 10 March
    let effects = reduce_seats(&mut b, &id, 2, "Anna Nowak", "2026-03-10").expect("scheduled");

    // then March keeps 5 seats; the pro-forma bills 2 × 30.50 = 61.00 (VAT 14.03, gross
    // 75.03), and April starts with 2 seats
    assert_eq!(notices(&effects), vec!["reduction-scheduled"]);
    assert_eq!(sub(&b, &id).seats, 5);
    let pf = proforma_of_25_march(&mut b);
    assert_eq!(pf.lines[0].seats, 2);
    assert_eq!(money(&pf.totals.net), "61.00");
    assert_eq!(money(&pf.totals.vat), "14.03");
    assert_eq!(money(&pf.totals.gross), "75.03");
    pay(&mut b, &pf, "2026-03-26");
    run(&mut b, Job::Daily, d("2026-04-01"));
    assert_eq!(sub(&b, &id).seats, 2);
    assert_eq!(sub(&b, &id).period.start, d("2026-04-01"));
}

#[test]
fn a_seat_reduction_never_goes_below_one_seat() {
    // given the usual customer with 5 seats
    let (mut b, id) = account_with_a_monthly_subscription();

    // when a representative tries 0 seats, then 1 seat
    let to_zero = reduce_seats(&mut b, &id, 0, "Anna Nowak", "2026-03-10");
    let to_one = reduce_seats(&mut b, &id, 1, "Anna Nowak", "2026-03-10");

    // then 0 is refused (the minimum is 1) and 1 is scheduled
    let why = to_zero.expect_err("zero seats");
    assert!(why.contains("minimum"), "{why}");
    assert!(to_one.is_ok(), "{to_one:?}");
    assert_eq!(proforma_of_25_march(&mut b).lines[0].seats, 1);
}

#[test]
fn a_seat_reduction_needs_the_representatives_name() {
    // given the usual customer with 5 seats
    let (mut b, id) = account_with_a_monthly_subscription();

    // when a reduction is asked for without a name, or with a blank one
    let unnamed = reduce_seats(&mut b, &id, 2, "", "2026-03-10");
    let blank = reduce_seats(&mut b, &id, 2, "   ", "2026-03-10");

    // then both are refused and nothing is scheduled: the renewal keeps 5 seats
    for refused in [unnamed, blank] {
        let why = refused.expect_err("no representative");
        assert!(why.contains("representative"), "{why}");
    }
    assert_eq!(proforma_of_25_march(&mut b).lines[0].seats, 5);
}

#[test]
fn a_seat_reduction_is_refused_once_the_renewal_proforma_is_issued() {
    // given the pro-forma for April issued on 25 March
    let (mut b, id) = account_with_a_monthly_subscription();
    let pf = proforma_of_25_march(&mut b);

    // when a representative reduces to 2 seats on 26 March
    let refused = reduce_seats(&mut b, &id, 2, "Anna Nowak", "2026-03-26");

    // then it is refused, naming 1 April; April keeps the 5 seats it was billed for
    let why = refused.expect_err("reduction after the pro-forma");
    assert!(why.contains("2026-04-01"), "{why}");
    pay(&mut b, &pf, "2026-03-27");
    run(&mut b, Job::Daily, d("2026-04-01"));
    assert_eq!(sub(&b, &id).seats, 5);
}

#[test]
fn a_plan_change_at_renewal_makes_the_proforma_bill_the_new_product() {
    // given the usual customer on Business Basic
    let (mut b, id) = account_with_a_monthly_subscription();

    // when the plan is changed to Business Standard at renewal on 10 March
    let effects =
        change_plan_at_renewal(&mut b, &id, "business-standard", "2026-03-10").expect("changed");

    // then March stays Basic; the pro-forma bills 5 × 63.50 = 317.50 (VAT 73.025 → 73.03,
    // gross 390.53) and April is Business Standard
    assert_eq!(notices(&effects), vec!["plan-change"]);
    assert_eq!(sub(&b, &id).product, "business-basic");
    let pf = proforma_of_25_march(&mut b);
    assert_eq!(pf.lines[0].product, "business-standard");
    assert_eq!(money(&pf.lines[0].unit_price), "63.50");
    assert_eq!(money(&pf.totals.net), "317.50");
    assert_eq!(money(&pf.totals.vat), "73.03");
    assert_eq!(money(&pf.totals.gross), "390.53");
    pay(&mut b, &pf, "2026-03-30");
    run(&mut b, Job::Daily, d("2026-04-01"));
    assert_eq!(sub(&b, &id).product, "business-standard");
}

#[test]
fn a_plan_change_at_renewal_is_refused_once_the_proforma_is_issued() {
    // given the pro-forma for April issued on 25 March
    let (mut b, id) = account_with_a_monthly_subscription();
    proforma_of_25_march(&mut b);

    // when the plan is changed at renewal on 26 March
    let refused = change_plan_at_renewal(&mut b, &id, "business-standard", "2026-03-26");

    // then it is refused, naming 1 April
    let why = refused.expect_err("plan change after the pro-forma");
    assert!(why.contains("2026-04-01"), "{why}");
}

#[test]
fn a_plan_change_now_buys_a_new_subscription_with_its_own_order_and_stops_the_old_one_renewing_once_paid(
) {
    // given the usual customer on Business Basic
    let (mut b, old) = account_with_a_monthly_subscription();

    // when the customer switches to Business Premium now, on 11 March
    let effects = change_plan_now(&mut b, &old, "business-premium", "2026-03-11").expect("bought");

    // then a new monthly subscription [03-11, 04-11) of 5 Premium seats with its own order:
    // 5 × 111.10 = 555.50 net, VAT 127.765 → 127.77, gross 683.27, due 18 March; the new
    // subscription waits for the payment and the old one still renews
    assert!(notices(&effects).contains(&"order".to_string()));
    assert!(notices(&effects).contains(&"plan-change".to_string()));
    assert!(status_changes(&effects).is_empty(), "{effects:?}");
    let order = issued(&effects).remove(0);
    assert_eq!(order.kind, DocumentKind::Order);
    assert_eq!(order.number.to_string(), "ZAM/2026/03/0001");
    assert_eq!(order.due_date, d("2026-03-18"));
    assert_eq!(money(&order.totals.net), "555.50");
    assert_eq!(money(&order.totals.vat), "127.77");
    assert_eq!(money(&order.totals.gross), "683.27");
    assert_eq!(b.account.subscriptions.len(), 2);
    let new = b
        .account
        .subscriptions
        .iter()
        .find(|s| s.id != old)
        .unwrap()
        .clone();
    assert!(order.covers(&new.id) && !order.covers(&old));
    assert_eq!(new.product, "business-premium");
    assert_eq!(new.seats, 5);
    assert_eq!(new.term, Term::Monthly);
    assert_eq!(new.status, Status::Pending);
    assert_eq!(
        (new.period.start, new.period.end),
        (d("2026-03-11"), d("2026-04-11"))
    );
    assert!(sub(&b, &old).auto_renew);

    // and once the order is paid the old one stops renewing, gets no pro-forma and ends on
    // 1 April
    pay(&mut b, &order, "2026-03-12");
    assert!(!sub(&b, &old).auto_renew);
    let log = run_days(&mut b, "2026-03-12", "2026-04-02");
    assert!(issued_in(&log).iter().all(|doc| !doc.covers(&old)));
    assert_eq!(days_of(&log, "renewal-ended"), vec![d("2026-04-01")]);
    assert_eq!(sub(&b, &old).status, Status::Ended);
    assert_eq!(sub(&b, &new.id).status, Status::Active);
}

#[test]
fn the_new_subscription_of_a_plan_change_now_starts_only_when_its_order_is_paid() {
    // given a switch to Business Premium now, on 11 March
    let (mut b, old) = account_with_a_monthly_subscription();
    let effects = change_plan_now(&mut b, &old, "business-premium", "2026-03-11").unwrap();
    let order = issued(&effects).remove(0);
    let new = b.account.subscriptions[1].id.clone();

    // when nothing is paid yet, then when the order is paid on 12 March
    let before = sub(&b, &new).status;
    let (outcome, _) = pay(&mut b, &order, "2026-03-12");

    // then the new subscription is pending before the payment, and active after it
    assert_eq!(before, Status::Pending);
    assert_eq!(outcome, PaymentOutcome::Activated { late: false });
    assert_eq!(sub(&b, &new).status, Status::Active);
}

#[test]
fn an_unpaid_plan_change_order_expires_after_its_due_date_and_the_old_subscription_keeps_renewing()
{
    // given a switch to Business Premium on 11 March, order due 18 March, never paid
    let (mut b, old) = account_with_a_monthly_subscription();
    let order =
        issued(&change_plan_now(&mut b, &old, "business-premium", "2026-03-11").unwrap()).remove(0);
    let new = b.account.subscriptions[1].id.clone();

    // when both jobs run every day to the old subscription's renewal pro-forma
    let log = run_days(&mut b, "2026-03-11", "2026-03-25");

    // then the order expires on 19 March (the day after its due date), the new subscription
    // ends without ever starting and without a suspension e-mail, and the old one gets its
    // April pro-forma on 25 March: 5 × 30.50 = 152.50
    let expired: Vec<_> = log
        .iter()
        .filter(|(_, e)| {
            matches!(e, Effect::StatusChanged(n, DocumentStatus::Expired) if *n == order.number)
        })
        .map(|(day, _)| *day)
        .collect();
    assert_eq!(expired, vec![d("2026-03-19")]);
    assert!(days_of(&log, "suspension").is_empty(), "{log:?}");
    assert_eq!(sub(&b, &new).status, Status::Ended);
    assert_eq!(sub(&b, &old).status, Status::Active);
    assert!(sub(&b, &old).auto_renew);
    let docs = issued_in(&log);
    assert_eq!(docs.len(), 1);
    assert!(docs[0].covers(&old) && !docs[0].covers(&new));
    assert_eq!(money(&docs[0].totals.net), "152.50");

    // and paying the expired order later activates nothing and is flagged for refund
    let (outcome, _) = pay(&mut b, &order, "2026-03-26");
    assert!(
        matches!(outcome, PaymentOutcome::RefundFlagged { .. }),
        "{outcome:?}"
    );
    assert_eq!(sub(&b, &new).status, Status::Ended);
}

#[test]
fn a_pending_subscription_gets_no_proforma_no_reminders_and_takes_no_seat_changes() {
    // given a switch to Business Premium on 28 March: the new subscription [03-28, 04-28) is
    // pending, its order due 4 April
    let (mut b, old) = account_with_a_monthly_subscription();
    change_plan_now(&mut b, &old, "business-premium", "2026-03-28").unwrap();
    let new = b.account.subscriptions[1].id.clone();

    // when the customer adds seats to it, a representative reduces it, and the jobs run to
    // the day its order expires
    let added = order_seats(&mut b, &new, 2, "2026-03-29");
    let reduced = reduce_seats(&mut b, &new, 2, "Anna Nowak", "2026-03-29");
    let changed = change_plan_at_renewal(&mut b, &new, "business-standard", "2026-03-29");
    let log = run_days(&mut b, "2026-03-28", "2026-04-05");

    // then all three changes are refused as the subscription is pending, and nothing is
    // issued or sent for it (the old one's unpaid April pro-forma is the only document)
    for refused in [added, reduced, changed] {
        let why = refused.expect_err("a change of a pending subscription");
        assert!(why.contains("pending"), "{why}");
    }
    assert!(issued_in(&log).iter().all(|doc| !doc.covers(&new)));
    let reminded: Vec<_> = log
        .iter()
        .filter_map(|(_, e)| match e {
            Effect::Notify(n) if n.kind() == "reminder" => n.document().cloned(),
            _ => None,
        })
        .collect();
    assert!(reminded.iter().all(|doc| !doc.covers(&new)));
    assert_eq!(sub(&b, &new).status, Status::Ended);
}

#[test]
fn a_plan_change_paid_after_the_old_proforma_is_issued_cancels_that_proforma() {
    // given a switch to Business Premium on 20 March (order due 27 March) and the old
    // subscription's April pro-forma issued on 25 March
    let (mut b, old) = account_with_a_monthly_subscription();
    let order =
        issued(&change_plan_now(&mut b, &old, "business-premium", "2026-03-20").unwrap()).remove(0);
    let pf = proforma_of_25_march(&mut b);
    assert!(pf.covers(&old));

    // when the order is paid on 26 March
    let (outcome, effects) = pay(&mut b, &order, "2026-03-26");
    let log = run_days(&mut b, "2026-03-26", "2026-04-10");

    // then the pro-forma is cancelled, no reminder or suspension follows, and the old
    // subscription ends on 1 April
    assert_eq!(outcome, PaymentOutcome::Activated { late: false });
    assert_eq!(
        status_changes(&effects),
        vec![
            ("ZAM/2026/03/0001".to_string(), DocumentStatus::Paid),
            ("PF/2026/03/0001".to_string(), DocumentStatus::Cancelled),
        ]
    );
    for kind in ["reminder", "overdue", "suspension"] {
        assert!(days_of(&log, kind).is_empty(), "a {kind} e-mail");
    }
    assert_eq!(days_of(&log, "renewal-ended"), vec![d("2026-04-01")]);
    assert_eq!(sub(&b, &old).status, Status::Ended);
}

#[test]
fn a_plan_change_paid_after_the_old_proforma_was_paid_lets_the_old_one_run_through_the_paid_period_and_end(
) {
    // given a switch to Business Premium on 20 March, and the old subscription's April
    // pro-forma issued on 25 March and paid on 26 March
    let (mut b, old) = account_with_a_monthly_subscription();
    let order =
        issued(&change_plan_now(&mut b, &old, "business-premium", "2026-03-20").unwrap()).remove(0);
    let pf = proforma_of_25_march(&mut b);
    pay(&mut b, &pf, "2026-03-26");

    // when the order is paid on 27 March and the jobs run to 2 May
    let (outcome, effects) = pay(&mut b, &order, "2026-03-27");
    let log = run_days(&mut b, "2026-03-27", "2026-05-02");

    // then the paid April [04-01, 05-01) still starts, no pro-forma follows for May, and the
    // old subscription ends on 1 May
    assert_eq!(outcome, PaymentOutcome::Activated { late: false });
    assert_eq!(
        status_changes(&effects),
        vec![("ZAM/2026/03/0001".to_string(), DocumentStatus::Paid)]
    );
    assert!(issued_in(&log).iter().all(|doc| !doc.covers(&old)));
    assert_eq!(days_of(&log, "renewal-ended"), vec![d("2026-05-01")]);
    let s = sub(&b, &old);
    assert_eq!(
        (s.status, s.period.start, s.period.end),
        (Status::Ended, d("2026-04-01"), d("2026-05-01"))
    );
}

#[test]
fn with_renewal_turned_off_no_proforma_is_issued_and_the_subscription_ends_at_the_period_end() {
    // given the usual customer turning renewal off on 10 March
    let (mut b, id) = account_with_a_monthly_subscription();
    turn_off_renewal(&mut b, &id).expect("renewal off");

    // when both jobs run every day to well past the end of grace
    let log = run_days(&mut b, "2026-03-10", "2026-04-20");

    // then no pro-forma and no dunning; on 1 April it is `ended`, not suspended
    assert!(issued_in(&log).is_empty(), "{log:?}");
    for kind in ["proforma", "reminder", "overdue", "suspension"] {
        assert!(days_of(&log, kind).is_empty(), "a {kind} e-mail");
    }
    assert_eq!(days_of(&log, "renewal-ended"), vec![d("2026-04-01")]);
    assert_eq!(sub(&b, &id).status, Status::Ended);
}

#[test]
fn turning_renewal_off_after_the_proforma_is_issued_cancels_it() {
    // given the pro-forma for April issued on 25 March
    let (mut b, id) = account_with_a_monthly_subscription();
    proforma_of_25_march(&mut b);

    // when renewal is turned off on 27 March
    let effects = turn_off_renewal(&mut b, &id).expect("renewal off");
    let log = run_days(&mut b, "2026-03-27", "2026-04-10");

    // then the pro-forma is cancelled, no reminder follows, and it ends on 1 April
    assert_eq!(
        status_changes(&effects),
        vec![("PF/2026/03/0001".to_string(), DocumentStatus::Cancelled)]
    );
    assert!(days_of(&log, "reminder").is_empty());
    assert!(days_of(&log, "suspension").is_empty());
    assert_eq!(days_of(&log, "renewal-ended"), vec![d("2026-04-01")]);
    assert_eq!(sub(&b, &id).status, Status::Ended);
}

#[test]
fn with_renewal_off_seats_can_still_be_added_until_the_period_end() {
    // given the usual customer with renewal off: no pro-forma will ever be issued
    let (mut b, id) = account_with_a_monthly_subscription();
    turn_off_renewal(&mut b, &id).unwrap();

    // when 3 seats are added on 27 March (past the usual issue day, 5 days left)
    let ordered = order_seats(&mut b, &id, 3, "2026-03-27");

    // then the order is issued for [03-27, 04-01): 3 × 30.50 × 5 / 31 = 14.758… → 14.76,
    // due on the last day of the period, 31 March (7 days would be 3 April)
    let order = issued(&ordered.expect("no pro-forma closes seat additions")).remove(0);
    assert_eq!(money(&order.totals.net), "14.76");
    assert_eq!(order.due_date, d("2026-03-31"));
}

#[test]
fn with_renewal_off_seats_added_on_the_last_day_are_due_that_day_and_refused_after_the_end() {
    // given the usual customer with renewal off
    let (mut b, id) = account_with_a_monthly_subscription();
    turn_off_renewal(&mut b, &id).unwrap();

    // when 2 seats are added on 31 March, the last day, and paid that day; and 1 more seat
    // is asked for on 1 April, before the daily run has ended the subscription
    let order = issued(&order_seats(&mut b, &id, 2, "2026-03-31").expect("last day")).remove(0);
    let (outcome, _) = pay(&mut b, &order, "2026-03-31");
    let after = order_seats(&mut b, &id, 1, "2026-04-01");

    // then the order covers [03-31, 04-01): 2 × 30.50 × 1 / 31 = 1.967… → 1.97, due 31 March;
    // the seats count (7) until the end; on 1 April the period is over and it is refused
    assert_eq!(order.due_date, d("2026-03-31"));
    assert_eq!(money(&order.totals.net), "1.97");
    assert_eq!(outcome, PaymentOutcome::Activated { late: false });
    assert_eq!(sub(&b, &id).seats, 7);
    let why = after.expect_err("seats after the last period ended");
    assert!(why.contains("2026-04-01"), "{why}");
    run(&mut b, Job::Daily, d("2026-04-01"));
    assert_eq!(sub(&b, &id).status, Status::Ended);
}

#[test]
fn seats_paid_after_a_scheduled_reduction_are_carried_into_the_renewal() {
    // given a reduction from 5 to 2 seats scheduled on 5 March
    let (mut b, id) = account_with_a_monthly_subscription();
    reduce_seats(&mut b, &id, 2, "Anna Nowak", "2026-03-05").unwrap();

    // when the customer then adds 3 seats on 11 March and pays on 12 March
    let order = issued(&order_seats(&mut b, &id, 3, "2026-03-11").unwrap()).remove(0);
    pay(&mut b, &order, "2026-03-12");

    // then March has 8 seats, and the renewal bills the reduced 2 plus the 3 paid: 5 seats
    assert_eq!(sub(&b, &id).seats, 8);
    assert_eq!(proforma_of_25_march(&mut b).lines[0].seats, 5);
}
