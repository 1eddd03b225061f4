//! The reseller's dunning policy: lead times, reminders, grace and the repurchase window.

use crate::calendar::{add_days, Term};
use crate::document::{Document, DocumentKind};
use crate::error::ParseError;
use crate::subscription::Subscription;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub lead_days_monthly: i64,
    pub lead_days_annual: i64,
    /// Reminders go out this many days before the due date (0 = on the due date).
    pub reminder_days_before_due: Vec<i64>,
    /// Service continues this many days after the period end; must stay below Microsoft's
    /// 7-day cancellation window so a non-payer can still be cancelled without charge.
    pub grace_days: i64,
    pub order_due_days: i64,
    /// A suspended subscription can be bought again this long after suspension.
    pub restore_window_days: i64,
    /// How many times a stored card is charged for one document before only the link is left.
    #[serde(default = "default_card_attempts")]
    pub card_charge_attempts: usize,
}

fn default_card_attempts() -> usize {
    3
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            lead_days_monthly: 7,
            lead_days_annual: 30,
            reminder_days_before_due: vec![3, 1, 0],
            grace_days: 5,
            order_due_days: 7,
            restore_window_days: 90,
            card_charge_attempts: default_card_attempts(),
        }
    }
}

impl Policy {
    pub fn validate(&self) -> Result<(), ParseError> {
        if !(0..7).contains(&self.grace_days) {
            return Err(ParseError::GraceDays(self.grace_days));
        }
        if self.reminder_days_before_due.iter().any(|d| *d < 0) {
            return Err(ParseError::ReminderDays);
        }
        Ok(())
    }

    /// The grace rule: the day the expiry job acts on an unpaid document. A pro-forma's
    /// renewal runs on for `grace_days` after its period starts, then is suspended; a
    /// pro-forma issued late (a missed run caught up after the period started) gives the
    /// customer the same `grace_days` from the day it was issued, so nobody is suspended
    /// over a document they never had time to pay. An order suspends nothing (seats, or a
    /// plan change's new subscription, start only when paid): it expires the day after its
    /// due date.
    pub fn suspension_date(&self, doc: &Document) -> NaiveDate {
        match doc.kind {
            DocumentKind::Proforma => {
                add_days(doc.period.start.max(doc.issue_date), self.grace_days)
            }
            DocumentKind::Order => add_days(doc.due_date, 1),
        }
    }

    pub fn lead_days(&self, term: Term) -> i64 {
        match term {
            Term::Monthly => self.lead_days_monthly,
            Term::Annual => self.lead_days_annual,
        }
    }

    /// The day the renewal pro-forma for the period after the current one is issued.
    pub fn issue_date(&self, sub: &Subscription) -> NaiveDate {
        add_days(sub.period.end, -self.lead_days(sub.term))
    }

    /// Reminder dates for a due date, earliest first.
    pub fn reminder_dates(&self, due: NaiveDate) -> Vec<NaiveDate> {
        let mut dates: Vec<NaiveDate> = self
            .reminder_days_before_due
            .iter()
            .map(|d| add_days(due, -d))
            .collect();
        dates.sort();
        dates.dedup();
        dates
    }
}
