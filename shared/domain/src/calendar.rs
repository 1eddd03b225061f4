//! Business dates: billing terms and half-open billing periods with month-end anchors.

use crate::error::ParseError;
use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, TimeDelta, Utc};
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

/// Poland's clocks: UTC+1, and UTC+2 from 01:00 UTC on the last Sunday of March to 01:00 UTC
/// on the last Sunday of October (the EU rule, kept since 1996). Written out rather than
/// linking the whole time-zone database for one zone; the tests hold it against the
/// database at every change of 2000–2099.
fn summer_time(year: i32) -> (DateTime<Utc>, DateTime<Utc>) {
    let change = |month| {
        let last =
            NaiveDate::from_ymd_opt(year, month, 31).expect("March and October have 31 days");
        let sunday = last - Days::new(last.weekday().num_days_from_sunday() as u64);
        sunday.and_hms_opt(1, 0, 0).expect("valid time").and_utc()
    };
    (change(3), change(10))
}

/// Hours Warsaw is ahead of UTC at an instant.
fn warsaw_offset(at: DateTime<Utc>) -> i64 {
    let (begins, ends) = summer_time(at.year());
    if begins <= at && at < ends {
        2
    } else {
        1
    }
}

/// The Europe/Warsaw business date of an instant: what a job invoked then works on.
pub fn business_date(at: DateTime<Utc>) -> NaiveDate {
    (at + TimeDelta::hours(warsaw_offset(at))).date_naive()
}

/// An instant on Warsaw's clocks (CET or CEST), for showing a time to a person.
pub fn warsaw_time(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(warsaw_offset(at) as i32 * 3600).expect("1 or 2 hours");
    at.with_timezone(&offset)
}

/// Noon in Warsaw on a business date: an instant whose Warsaw date is unambiguous (the
/// clocks change at night, so noon has the offset of the whole afternoon).
pub fn warsaw_noon(date: NaiveDate) -> DateTime<Utc> {
    let (begins, ends) = summer_time(date.year());
    let offset = if begins.date_naive() <= date && date < ends.date_naive() {
        2
    } else {
        1
    };
    date.and_hms_opt(12, 0, 0).expect("valid time").and_utc() - TimeDelta::hours(offset)
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

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn business_date_follows_warsaw_midnight_in_winter_and_summer() {
        // Winter, UTC+1: midnight in Warsaw is 23:00 UTC the day before.
        assert_eq!(business_date(utc("2026-01-14T22:59:59Z")), d("2026-01-14"));
        assert_eq!(business_date(utc("2026-01-14T23:00:00Z")), d("2026-01-15"));
        // Summer, UTC+2: 22:00 UTC the day before.
        assert_eq!(business_date(utc("2026-07-14T21:59:59Z")), d("2026-07-14"));
        assert_eq!(business_date(utc("2026-07-14T22:00:00Z")), d("2026-07-15"));
    }

    #[test]
    fn clocks_change_at_one_utc_on_the_last_sundays_of_march_and_october() {
        // 2026-03-29: 02:00 CET becomes 03:00 CEST.
        let spring = summer_time(2026).0;
        assert_eq!(spring, utc("2026-03-29T01:00:00Z"));
        assert_eq!(warsaw_offset(spring - TimeDelta::seconds(1)), 1);
        assert_eq!(warsaw_offset(spring), 2);
        // 2026-10-25: 03:00 CEST becomes 02:00 CET.
        let autumn = summer_time(2026).1;
        assert_eq!(autumn, utc("2026-10-25T01:00:00Z"));
        assert_eq!(warsaw_offset(autumn - TimeDelta::seconds(1)), 2);
        assert_eq!(warsaw_offset(autumn), 1);
        // The nights around the changes: the first summer midnight is 22:00 UTC.
        assert_eq!(business_date(utc("2026-03-29T21:59:59Z")), d("2026-03-29"));
        assert_eq!(business_date(utc("2026-03-29T22:00:00Z")), d("2026-03-30"));
        assert_eq!(business_date(utc("2026-10-25T22:59:59Z")), d("2026-10-25"));
        assert_eq!(business_date(utc("2026-10-25T23:00:00Z")), d("2026-10-26"));
        // Noon on the days of the change has the new offset.
        assert_eq!(warsaw_noon(d("2026-03-29")), utc("2026-03-29T10:00:00Z"));
        assert_eq!(warsaw_noon(d("2026-03-28")), utc("2026-03-28T11:00:00Z"));
        assert_eq!(warsaw_noon(d("2026-10-25")), utc("2026-10-25T11:00:00Z"));
        assert_eq!(warsaw_noon(d("2026-10-24")), utc("2026-10-24T10:00:00Z"));
    }

    /// The written-out rule against the time-zone database (the date, and the clock a person
    /// reads), around every change of the century the business dates live in, and at noon
    /// every day.
    #[test]
    fn the_rule_agrees_with_the_tz_database_from_2000_to_2099() {
        use chrono::TimeZone;
        use chrono_tz::Europe::Warsaw;
        let database = |at: DateTime<Utc>| at.with_timezone(&Warsaw).date_naive();
        for year in 2000..=2099 {
            let (begins, ends) = summer_time(year);
            for change in [begins, ends] {
                for minutes in -26 * 60..=26 * 60 {
                    let at = change + TimeDelta::minutes(minutes);
                    assert_eq!(business_date(at), database(at), "{at}");
                    assert_eq!(
                        warsaw_time(at).naive_local(),
                        at.with_timezone(&Warsaw).naive_local(),
                        "{at}"
                    );
                }
            }
            let mut day = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
            while day.year() == year {
                let noon = Warsaw
                    .from_local_datetime(&day.and_hms_opt(12, 0, 0).unwrap())
                    .single()
                    .unwrap()
                    .with_timezone(&Utc);
                assert_eq!(warsaw_noon(day), noon, "{day}");
                day = day.succ_opt().unwrap();
            }
        }
    }
}
