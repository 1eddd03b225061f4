//! What the account tells Microsoft (`Effect::Microsoft`), given / when / then, in memory.
//! The customer: ACME, 5 seats of Business Basic monthly from 1 March 2026, linked to its
//! Microsoft tenant and subscription: pro-forma on 25 March, due 31 March, suspended on
//! 6 April (1 April + 5 days of grace), so Microsoft's window for the term it renewed on
//! 1 April closes on 8 April.

use chrono::NaiveDate;
use renewals_domain::{
    Account, Catalog, DocumentKind, Effect, EmailAddress, Job, Locale, MicrosoftAction, Nip,
    Numbering, PaymentMethod, Policy, SeriesKey, SubscriptionId, Tenant, TenantId, Term,
};

const MS_TENANT: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const MS_SUB: &str = "a4c1340d-6911-4758-bba3-0c4c6007d161";

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

struct Books {
    account: Account,
    policy: Policy,
    catalog: Catalog,
    numbering: Numbering,
    id: SubscriptionId,
}

fn books(linked: bool) -> Books {
    let mut account = Account::new(Tenant {
        id: TenantId::parse("acme").unwrap(),
        name: "ACME".into(),
        nip: Nip::parse("5260001246").unwrap(),
        address: String::new(),
        address2: None,
        country: "PL".into(),
        email: EmailAddress::parse("faktury@acme.pl").unwrap(),
        locale: Locale::Pl,
        payment_method: PaymentMethod::Blik,
    });
    let catalog = Catalog::default_catalog();
    let id = account
        .add_subscription(
            &catalog,
            "business-basic",
            5,
            Term::Monthly,
            d("2026-03-01"),
        )
        .unwrap();
    if linked {
        account.microsoft_tenant = Some(MS_TENANT.into());
        account
            .link_microsoft_subscription(&id, MS_SUB.into())
            .unwrap();
    }
    Books {
        account,
        policy: Policy::default(),
        catalog,
        numbering: Numbering::default(),
        id,
    }
}

fn microsoft(effects: &[Effect]) -> Vec<MicrosoftAction> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Microsoft(c) => {
                assert_eq!(
                    (c.customer.as_str(), c.microsoft_subscription.as_str()),
                    (MS_TENANT, MS_SUB)
                );
                Some(c.action.clone())
            }
            _ => None,
        })
        .collect()
}

fn days(b: &mut Books, from: &str, to: &str) -> Vec<Effect> {
    let mut out = vec![];
    let mut day = d(from);
    while day <= d(to) {
        for job in [Job::Daily, Job::Expiry] {
            loop {
                let actions = b.account.decide(day, &b.policy, job);
                if actions.is_empty() {
                    break;
                }
                for action in actions {
                    if let Some(key) = action.series(day) {
                        b.numbering.load(key, 0);
                    }
                    out.extend(
                        b.account
                            .apply(action, day, &b.policy, &b.catalog, &mut b.numbering)
                            .unwrap(),
                    );
                }
            }
        }
        day = day.succ_opt().unwrap();
    }
    out
}

#[test]
fn an_unlinked_customer_tells_microsoft_nothing() {
    let mut b = books(false);
    let id = b.id.clone();
    let mut effects = b.account.turn_off_renewal(&id).unwrap();
    effects.extend(days(&mut b, "2026-03-01", "2026-04-10"));
    assert!(microsoft(&effects).is_empty());
}

#[test]
fn a_renewal_paid_on_time_needs_nothing_at_microsoft() {
    let mut b = books(true);
    let mut effects = days(&mut b, "2026-03-01", "2026-03-26");
    let proforma = b.account.open_documents[0].document.clone();
    effects.extend(b.account.pay(&proforma, d("2026-03-27"), &b.policy).1);
    effects.extend(days(&mut b, "2026-03-27", "2026-04-10"));
    assert!(microsoft(&effects).is_empty(), "Microsoft renews by itself");
}

#[test]
fn a_paid_seat_order_raises_the_quantity_by_the_ordered_seats() {
    let mut b = books(true);
    let id = b.id.clone();
    b.numbering
        .load(SeriesKey::of(DocumentKind::Order, d("2026-03-10")), 0);
    let ordered = b
        .account
        .order_seats(
            &id,
            2,
            d("2026-03-10"),
            &b.policy,
            &b.catalog,
            &mut b.numbering,
        )
        .unwrap();
    assert!(microsoft(&ordered).is_empty(), "not before it is paid");
    let order = b.account.open_documents[0].document.clone();
    let (_, paid) = b.account.pay(&order, d("2026-03-11"), &b.policy);
    assert_eq!(
        microsoft(&paid),
        [MicrosoftAction::Quantity { add: 2, to: 7 }]
    );
    let (_, again) = b.account.pay(&order, d("2026-03-11"), &b.policy);
    assert!(
        microsoft(&again).is_empty(),
        "a second payment raises nothing"
    );
}

#[test]
fn a_reduction_and_a_plan_change_at_renewal_schedule_the_next_term() {
    let mut b = books(true);
    let id = b.id.clone();
    let reduced = b
        .account
        .reduce_seats(&id, 3, "Anna Nowak", d("2026-03-10"), &b.policy)
        .unwrap();
    let plan = b
        .account
        .change_plan_at_renewal(
            &id,
            "business-premium",
            d("2026-03-11"),
            &b.policy,
            &b.catalog,
        )
        .unwrap();
    assert_eq!(
        [microsoft(&reduced), microsoft(&plan)].concat(),
        [
            MicrosoftAction::Schedule {
                product: "business-basic".into(),
                seats: 3,
                new_product: false
            },
            MicrosoftAction::Schedule {
                product: "business-premium".into(),
                seats: 3,
                new_product: true
            },
        ]
    );
    let keys: Vec<_> = [reduced, plan]
        .concat()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Microsoft(c) => Some(c.key),
            _ => None,
        })
        .collect();
    assert_eq!(
        keys,
        [
            "schedule:acme-1:2026-04-01:1",
            "schedule:acme-1:2026-04-01:2"
        ]
    );
}

#[test]
fn renewal_off_turns_auto_renew_off_once() {
    let mut b = books(true);
    let id = b.id.clone();
    let off = b.account.turn_off_renewal(&id).unwrap();
    assert_eq!(
        microsoft(&off),
        [MicrosoftAction::AutoRenew { enabled: false }]
    );
    assert!(microsoft(&b.account.turn_off_renewal(&id).unwrap()).is_empty());
    assert!(
        microsoft(&days(&mut b, "2026-03-02", "2026-04-10")).is_empty(),
        "ended, not cancelled"
    );
}

#[test]
fn a_non_payer_is_cancelled_at_end_plus_grace_before_the_window_closes() {
    let mut b = books(true);
    let before = days(&mut b, "2026-03-01", "2026-04-05");
    assert!(microsoft(&before).is_empty(), "nothing during grace");
    let suspended = days(&mut b, "2026-04-06", "2026-04-06");
    assert_eq!(
        microsoft(&suspended),
        [MicrosoftAction::Cancel {
            window_closes: Some(d("2026-04-08"))
        }]
    );
}
