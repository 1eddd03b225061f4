//! Business dates: billing terms and half-open billing periods with month-end anchors.

use crate::error::ParseError;
use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Warsaw;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How long one billing period of a subscription lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Term {
    Monthly,
    Annual,
}

impl Term {
    pub fn months(self) -> u32 {
        match self {
            Term::Monthly => 1,
            Term::Annual => 12,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Term::Monthly => "monthly",
            Term::Annual => "annual",
        }
    }

    pub fn parse(s: &str) -> Result<Term, ParseError> {
        match s {
            "monthly" => Ok(Term::Monthly),
            "annual" => Ok(Term::Annual),
            other => Err(ParseError::Term(other.to_string())),
        }
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A half-open period `[start, end)`; its last day is `end - 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Period {
    /// The period of `term` that starts on `start`, keeping `anchor_day` (the day of the
    /// subscription's first start) clamped to each month's length: 31 Jan → 28 Feb → 31 Mar.
    pub fn starting(start: NaiveDate, term: Term, anchor_day: u32) -> Period {
        Period {
            start,
            end: shift_months(start, term.months(), anchor_day),
        }
    }

    /// The period that follows this one without gap or overlap.
    pub fn following(&self, term: Term, anchor_day: u32) -> Period {
        Period::starting(self.end, term, anchor_day)
    }

    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days()
    }

    pub fn last_day(&self) -> NaiveDate {
        self.end - Days::new(1)
    }

    pub fn contains(&self, date: NaiveDate) -> bool {
        self.start <= date && date < self.end
    }
}

/// The date `months` months after `date`, on `anchor_day` clamped to the month's length.
pub fn shift_months(date: NaiveDate, months: u32, anchor_day: u32) -> NaiveDate {
    let index = date.year() * 12 + date.month0() as i32 + months as i32;
    let (year, month) = (index.div_euclid(12), index.rem_euclid(12) as u32 + 1);
    let day = anchor_day.min(days_in_month(year, month));
    NaiveDate::from_ymd_opt(year, month, day).expect("clamped day is valid")
}

pub fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let first_next = NaiveDate::from_ymd_opt(ny, nm, 1).expect("valid month");
    first_next.pred_opt().expect("has a previous day").day()
}

pub fn add_days(date: NaiveDate, days: i64) -> NaiveDate {
    if days >= 0 {
        date + Days::new(days as u64)
    } else {
        date - Days::new(days.unsigned_abs())
    }
}

/// Parses a `YYYY-MM-DD` business date of this century (`26-03-10` is not the year 26).
pub fn parse_date(s: &str) -> Result<NaiveDate, ParseError> {
    let date =
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| ParseError::Date(s.to_string()))?;
    if !(2000..=2099).contains(&date.year()) {
        return Err(ParseError::DateOutOfRange(s.to_string()));
    }
    Ok(date)
}

/// The Europe/Warsaw business date of an instant: what a job invoked then works on.
pub fn business_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Warsaw).date_naive()
}

/// Noon in Warsaw on a business date: an instant whose Warsaw date is unambiguous.
pub fn warsaw_noon(date: NaiveDate) -> DateTime<Utc> {
    Warsaw
        .from_local_datetime(&date.and_hms_opt(12, 0, 0).expect("valid time"))
        .single()
        .expect("noon is never ambiguous")
        .with_timezone(&Utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn month_end_anchor_is_kept_across_short_months() {
        let mut p = Period::starting(d("2026-01-31"), Term::Monthly, 31);
        let mut ends = vec![];
        for _ in 0..4 {
            ends.push(p.end);
            p = p.following(Term::Monthly, 31);
        }
        assert_eq!(
            ends,
            vec![
                d("2026-02-28"),
                d("2026-03-31"),
                d("2026-04-30"),
                d("2026-05-31")
            ]
        );
    }

    #[test]
    fn annual_period_from_leap_day_ends_on_28_february() {
        let p = Period::starting(d("2028-02-29"), Term::Annual, 29);
        assert_eq!(p.end, d("2029-02-28"));
        assert_eq!(p.last_day(), d("2029-02-27"));
    }
}
