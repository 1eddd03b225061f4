//! Polish (and English) amounts and dates, shared by the PDFs and the e-mails.

use chrono::{Datelike, NaiveDate};
use renewals_domain::{Locale, Money};
use std::fmt::Write as _;

/// `1 234,56 zł` (Polish, plain space between thousands) or `PLN 1,234.56` (English).
pub fn format_amount(m: Money, locale: Locale) -> String {
    let grosze = m.grosze();
    let (zl, gr) = (grosze.unsigned_abs() / 100, grosze.unsigned_abs() % 100);
    let (thousands, decimal) = match locale {
        Locale::Pl => (' ', ','),
        Locale::En => (',', '.'),
    };
    let digits = zl.to_string();
    let mut out = String::with_capacity(digits.len() + 12);
    if locale == Locale::En {
        out.push_str("PLN ");
    }
    if grosze < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(thousands);
        }
        out.push(ch);
    }
    let _ = write!(out, "{decimal}{gr:02}");
    if locale == Locale::Pl {
        out.push_str(" zł");
    }
    out
}

const MONTHS_PL_GENITIVE: [&str; 12] = [
    "stycznia",
    "lutego",
    "marca",
    "kwietnia",
    "maja",
    "czerwca",
    "lipca",
    "sierpnia",
    "września",
    "października",
    "listopada",
    "grudnia",
];

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `27 lutego 2026` (Polish, month in the genitive) or `27 February 2026` (English).
pub fn format_date(d: NaiveDate, locale: Locale) -> String {
    let months = match locale {
        Locale::Pl => &MONTHS_PL_GENITIVE,
        Locale::En => &MONTHS_EN,
    };
    format!("{} {} {}", d.day(), months[d.month0() as usize], d.year())
}
