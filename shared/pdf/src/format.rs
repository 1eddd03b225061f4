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

const ONES: [&str; 20] = [
    "zero",
    "jeden",
    "dwa",
    "trzy",
    "cztery",
    "pięć",
    "sześć",
    "siedem",
    "osiem",
    "dziewięć",
    "dziesięć",
    "jedenaście",
    "dwanaście",
    "trzynaście",
    "czternaście",
    "piętnaście",
    "szesnaście",
    "siedemnaście",
    "osiemnaście",
    "dziewiętnaście",
];
const TENS: [&str; 10] = [
    "",
    "",
    "dwadzieścia",
    "trzydzieści",
    "czterdzieści",
    "pięćdziesiąt",
    "sześćdziesiąt",
    "siedemdziesiąt",
    "osiemdziesiąt",
    "dziewięćdziesiąt",
];
const HUNDREDS: [&str; 10] = [
    "",
    "sto",
    "dwieście",
    "trzysta",
    "czterysta",
    "pięćset",
    "sześćset",
    "siedemset",
    "osiemset",
    "dziewięćset",
];
/// Singular, plural after 2–4, plural otherwise (genitive).
const ZLOTY: [&str; 3] = ["złoty", "złote", "złotych"];
const GROUPS: [[&str; 3]; 3] = [
    ["tysiąc", "tysiące", "tysięcy"],
    ["milion", "miliony", "milionów"],
    ["miliard", "miliardy", "miliardów"],
];

/// The form a counted noun takes after `n`: 1 → singular; 2–4 (not 12–14) → plural;
/// otherwise the genitive plural (`5 złotych`, `22 złote`, `21 złotych`).
fn form(n: u64) -> usize {
    let (last, last_two) = (n % 10, n % 100);
    if n == 1 {
        0
    } else if (2..=4).contains(&last) && !(12..=14).contains(&last_two) {
        1
    } else {
        2
    }
}

/// 1–999 in words.
fn hundreds_in_words(n: u64, words: &mut Vec<&'static str>) {
    let (h, rest) = (n / 100, n % 100);
    if h > 0 {
        words.push(HUNDREDS[h as usize]);
    }
    if rest >= 20 {
        words.push(TENS[(rest / 10) as usize]);
        if rest % 10 > 0 {
            words.push(ONES[(rest % 10) as usize]);
        }
    } else if rest > 0 {
        words.push(ONES[rest as usize]);
    }
}

/// The amount in Polish words, as invoices print it: `tysiąc pięćset dwanaście złotych 90/100`.
pub fn amount_in_words(m: Money) -> String {
    let grosze = m.grosze();
    let (zl, gr) = (grosze.unsigned_abs() / 100, grosze.unsigned_abs() % 100);
    let mut words: Vec<&'static str> = Vec::new();
    if grosze < 0 {
        words.push("minus");
    }
    if zl == 0 {
        words.push(ONES[0]);
    }
    // Thousands groups from the largest: 1 234 567 → milion, dwieście trzydzieści cztery
    // tysiące, pięćset sześćdziesiąt siedem. "Tysiąc", not "jeden tysiąc".
    for (i, names) in GROUPS.iter().enumerate().rev() {
        let group = zl / 1000u64.pow(i as u32 + 1) % 1000;
        if group == 0 {
            continue;
        }
        if group != 1 {
            hundreds_in_words(group, &mut words);
        }
        words.push(names[form(group)]);
    }
    hundreds_in_words(zl % 1000, &mut words);
    words.push(ZLOTY[form(zl)]);
    format!("{} {gr:02}/100", words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> String {
        amount_in_words(Money::parse(s).unwrap())
    }

    #[test]
    fn amounts_in_polish_words() {
        for (amount, expected) in [
            ("0.50", "zero złotych 50/100"),
            ("1.00", "jeden złoty 00/100"),
            ("2.00", "dwa złote 00/100"),
            ("5.00", "pięć złotych 00/100"),
            ("12.00", "dwanaście złotych 00/100"),
            ("21.00", "dwadzieścia jeden złotych 00/100"),
            ("22.01", "dwadzieścia dwa złote 01/100"),
            ("112.00", "sto dwanaście złotych 00/100"),
            ("1512.90", "tysiąc pięćset dwanaście złotych 90/100"),
            ("2000.00", "dwa tysiące złotych 00/100"),
            ("5000.00", "pięć tysięcy złotych 00/100"),
            ("12004.00", "dwanaście tysięcy cztery złote 00/100"),
            ("22000.00", "dwadzieścia dwa tysiące złotych 00/100"),
            ("35916.00", "trzydzieści pięć tysięcy dziewięćset szesnaście złotych 00/100"),
            ("101001.00", "sto jeden tysięcy jeden złotych 00/100"),
            ("1000000.00", "milion złotych 00/100"),
            (
                "2345678.99",
                "dwa miliony trzysta czterdzieści pięć tysięcy sześćset siedemdziesiąt osiem złotych 99/100",
            ),
        ] {
            assert_eq!(words(amount), expected, "{amount}");
        }
    }
}
