//! Subscriptions: seats of one product for one term, renewed period after period.

use crate::calendar::{Period, Term};
use crate::document::DocumentNumber;
use crate::error::ParseError;
use crate::money::Money;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;

/// `acme-1`: the tenant id and a sequence number within the tenant.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SubscriptionId(String);

impl SubscriptionId {
    pub fn new(tenant: &crate::tenant::TenantId, seq: usize) -> SubscriptionId {
        SubscriptionId(format!("{tenant}-{seq}"))
    }

    pub fn parse(s: &str) -> Result<SubscriptionId, ParseError> {
        match s.rsplit_once('-') {
            Some((t, n)) if !t.is_empty() && n.parse::<u32>().is_ok() => {
                Ok(SubscriptionId(s.to_string()))
            }
            _ => Err(ParseError::SubscriptionId(s.to_string())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Microsoft sells no zero-seat subscriptions: every count, and every reduction, stays at or
/// above this.
pub const MIN_SEATS: u32 = 1;
/// The most seats one subscription takes from us in one go.
pub const MAX_SEATS: u32 = 10_000;

/// A seat count as a person typed it.
pub fn parse_seats(n: i64) -> Result<u32, ParseError> {
    if (i64::from(MIN_SEATS)..=i64::from(MAX_SEATS)).contains(&n) {
        Ok(n as u32)
    } else {
        Err(ParseError::Seats(n))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Bought by a plan change now and waiting for its order to be paid: no service yet, no
    /// pro-forma, no reminders, no seat changes. Paid, it becomes `active`; unpaid by the
    /// order's due date, it ends without ever starting.
    Pending,
    /// Paid up; service on.
    Active,
    /// Past the period end without payment; service goes on during grace.
    Overdue,
    /// Not paid by the end of grace; service blocked, data kept 90 days.
    Suspended,
    /// Renewal was turned off and the last period ran out.
    Ended,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Active => "active",
            Status::Overdue => "overdue",
            Status::Suspended => "suspended",
            Status::Ended => "ended",
        }
    }
}

/// A seat reduction agreed with a reseller's representative, effective next period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reduction {
    pub to: u32,
    pub representative: String,
    pub agreed_on: NaiveDate,
    /// Seats ordered and paid after the reduction was agreed: they come on top of `to` at
    /// renewal, as the order-paid e-mail promises ("included in every later renewal").
    #[serde(default)]
    pub seats_added: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheduled {
    pub reduction: Option<Reduction>,
    pub product: Option<String>,
}

/// The next period, once its pro-forma is issued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Renewal {
    pub document: DocumentNumber,
    pub period: Period,
    pub product: String,
    pub seats: u32,
    pub unit_price: Money,
    pub paid: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    pub on: NaiveDate,
    /// The unpaid document whose later payment restores the subscription as a repurchase.
    pub document: DocumentNumber,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub product: String,
    pub seats: u32,
    pub term: Term,
    pub period: Period,
    /// Day of month of the first start; monthly periods keep it, clamped to short months.
    pub anchor_day: u32,
    /// Net per seat for the current period: the price it was sold at.
    pub unit_price: Money,
    pub status: Status,
    pub auto_renew: bool,
    #[serde(default)]
    pub scheduled: Scheduled,
    #[serde(default)]
    pub renewal: Option<Renewal>,
    #[serde(default)]
    pub suspension: Option<Suspension>,
    /// For a subscription bought by a plan change now: the subscription it replaces, which
    /// stops renewing once this one's order is paid.
    #[serde(default)]
    pub replaces: Option<SubscriptionId>,
    /// The Microsoft (Partner Center) subscription this one is carried out on, if linked.
    #[serde(default)]
    pub microsoft_subscription: Option<String>,
    /// Next-term instructions sent to Microsoft so far: each one is its own command.
    #[serde(default)]
    pub microsoft_schedules: u32,
}

impl Subscription {
    /// Seats the next period will have after a scheduled reduction, plus the seats paid
    /// since it was agreed.
    pub fn seats_next_period(&self) -> u32 {
        self.scheduled
            .reduction
            .as_ref()
            .map_or(self.seats, |r| r.to + r.seats_added)
    }

    /// Net for `seats` more seats from `from` to the period end:
    /// `seats × period price × remaining days / days in period`, half-up to the grosz.
    pub fn prorated(&self, seats: u32, from: NaiveDate) -> Money {
        let remaining = (self.period.end - from).num_days();
        self.unit_price
            .prorate(seats, remaining, self.period.days())
    }

    pub fn product_next_period(&self) -> &str {
        self.scheduled.product.as_deref().unwrap_or(&self.product)
    }
}
