//! MT940 statements as Polish corporate banking exports them (PKO BP, Pekao, mBank, ING,
//! Santander, Millennium): SWIFT fields `:20:` … `:62F:`, one `:61:` per entry followed by its
//! `:86:`, and the `:86:` in the banks' structured dialect: a three-digit transaction code,
//! then subfields introduced by a separator (`~`, `^` or `<`) and two digits:
//! `00` description, `20`–`25` title, `32`/`33` counterparty name, `38` counterparty IBAN.
//! An `:86:` without that structure is taken as free text (the whole of it is the title).
//!
//! The code page is the bank's: UTF-8, Windows-1250 or ISO-8859-2, detected from the bytes
//! (the Polish letters sit at different codes) unless the caller names it.
//!
//! Only booked credits are returned: debits (`D`) and reversals (`RC`, `RD`) are skipped.
//! An entry without a bank reference (`//…` in `:61:`) is keyed by a stable hash; an entry that
//! cannot be read becomes an `unreadable` credit with why, the rest of the file is read.

use crate::{number_repeats, stable_reference, StatementError};
use chrono::{Datelike, NaiveDate};
use renewals_app::transfers::Credit;
use std::str::FromStr;

/// The code page of a statement file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Windows1250,
    Iso8859_2,
}

impl FromStr for Encoding {
    type Err = String;

    fn from_str(s: &str) -> Result<Encoding, String> {
        let name: String = s
            .to_ascii_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        match name.as_str() {
            "utf8" => Ok(Encoding::Utf8),
            "windows1250" | "cp1250" | "win1250" | "1250" => Ok(Encoding::Windows1250),
            "iso88592" | "latin2" | "88592" => Ok(Encoding::Iso8859_2),
            _ => Err(format!(
                "unknown encoding `{s}` (expected utf-8, windows-1250 or iso-8859-2)"
            )),
        }
    }
}

impl Encoding {
    fn codec(self) -> &'static encoding_rs::Encoding {
        match self {
            Encoding::Utf8 => encoding_rs::UTF_8,
            Encoding::Windows1250 => encoding_rs::WINDOWS_1250,
            Encoding::Iso8859_2 => encoding_rs::ISO_8859_2,
        }
    }
}

/// The text of a statement file: in `encoding` if given, else UTF-8 when the bytes are valid
/// UTF-8, else whichever of Windows-1250 and ISO-8859-2 explains more Polish letters (bytes
/// 0x80–0x9F are control codes in ISO-8859-2, letters in Windows-1250).
pub fn decode(bytes: &[u8], encoding: Option<Encoding>) -> (String, Encoding) {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let encoding = encoding.unwrap_or_else(|| detect(bytes));
    let (text, _, _) = encoding.codec().decode(bytes);
    (text.into_owned(), encoding)
}

fn detect(bytes: &[u8]) -> Encoding {
    if std::str::from_utf8(bytes).is_ok() {
        return Encoding::Utf8;
    }
    // ą ś ź Ą Ś Ź: where each code page puts them (ć ę ł ń ó ż agree in both).
    const CP1250: &[u8] = &[0xB9, 0x9C, 0x9F, 0xA5, 0x8C, 0x8F];
    const LATIN2: &[u8] = &[0xB1, 0xB6, 0xBC, 0xA1, 0xA6, 0xAC];
    let count = |set: &[u8]| bytes.iter().filter(|b| set.contains(b)).count();
    if bytes.iter().any(|b| (0x80..=0x9F).contains(b)) || count(CP1250) >= count(LATIN2) {
        Encoding::Windows1250
    } else {
        Encoding::Iso8859_2
    }
}

/// Whether the bytes look like MT940: an account field and a balance or an entry.
pub(crate) fn looks_like_mt940(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let has = |tag: &str| text.lines().any(|l| l.trim_start().starts_with(tag));
    has(":25:") && (has(":60F:") || has(":60M:") || has(":61:"))
}

/// One SWIFT field: its tag (`61`, `86`, `60F`) and its lines.
struct Field {
    tag: String,
    value: String,
}

fn fields(text: &str) -> Vec<Field> {
    let mut out: Vec<Field> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let trimmed = line.trim();
        if let Some((tag, rest)) = tag_of(trimmed) {
            out.push(Field {
                tag: tag.to_string(),
                value: rest.to_string(),
            });
        } else if trimmed == "-" || trimmed.starts_with("-}") || trimmed.starts_with("{") {
            // End of a message block, or a SWIFT header: no field continues over it.
            out.push(Field {
                tag: "-".into(),
                value: String::new(),
            });
        } else if let Some(last) = out.last_mut() {
            if last.tag != "-" {
                last.value.push('\n');
                last.value.push_str(line);
            }
        }
    }
    out
}

/// `:61:…` → (`61`, `…`): two digits and an optional letter between colons.
fn tag_of(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix(':')?;
    let end = rest.find(':')?;
    let tag = &rest[..end];
    let b = tag.as_bytes();
    let ok = (2..=3).contains(&b.len())
        && b[..2].iter().all(u8::is_ascii_digit)
        && b.get(2).is_none_or(|c| c.is_ascii_alphabetic());
    ok.then(|| (tag, &rest[end + 1..]))
}

/// Reads the booked credits of an MT940 file (one or more statements).
pub fn parse_mt940(
    bytes: &[u8],
    encoding: Option<Encoding>,
) -> Result<Vec<Credit>, StatementError> {
    let (text, _) = decode(bytes, encoding);
    let fields = fields(&text);
    if !fields.iter().any(|f| f.tag == "25") {
        return Err(StatementError::NotMt940(
            "no :25: (account) field".to_string(),
        ));
    }
    let mut credits = Vec::new();
    let mut account = String::new();
    let mut currency = "PLN".to_string();
    let mut number = 0;
    for (i, field) in fields.iter().enumerate() {
        match field.tag.as_str() {
            "25" => {
                account = field.value.trim().trim_start_matches('/').replace(' ', "");
                if let Some(ccy) = account.get(account.len().saturating_sub(3)..) {
                    if ccy.len() == 3 && ccy.bytes().all(|b| b.is_ascii_uppercase()) {
                        currency = ccy.to_string();
                    }
                }
            }
            "60F" | "60M" => {
                // C260227PLN1000,00: mark, date, currency, amount.
                if let Some(ccy) = field.value.trim().get(7..10) {
                    if ccy.bytes().all(|b| b.is_ascii_alphabetic()) {
                        currency = ccy.to_ascii_uppercase();
                    }
                }
            }
            "61" => {
                number += 1;
                let details = fields
                    .get(i + 1)
                    .filter(|next| next.tag == "86")
                    .map(|f| f.value.as_str())
                    .unwrap_or("");
                match entry(&field.value, details, &account, &currency) {
                    Ok(Some(credit)) => credits.push(credit),
                    Ok(None) => {}
                    Err(problem) => credits.push(Credit {
                        amount_grosze: 0,
                        currency: currency.clone(),
                        booking_date: NaiveDate::default(),
                        remittance: Details::read(details).title,
                        reference: stable_reference(&[
                            "mt940-unreadable",
                            &account,
                            &field.value,
                            details,
                        ]),
                        debtor: None,
                        debtor_iban: None,
                        unreadable: Some(format!("entry {number}: {problem}")),
                    }),
                }
            }
            _ => {}
        }
    }
    number_repeats(&mut credits);
    Ok(credits)
}

/// One `:61:` with its `:86:`: a credit, nothing (a debit or a reversal), or why not.
fn entry(
    line: &str,
    details: &str,
    account: &str,
    currency: &str,
) -> Result<Option<Credit>, String> {
    let first = line.lines().next().unwrap_or("").trim();
    let bad = |what: &str| format!(":61: `{first}`: {what}");
    let c: Vec<char> = first.chars().collect();
    let digits_at = |from: usize, n: usize| -> Option<u32> {
        let s: String = c.get(from..from + n)?.iter().collect();
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    };
    let (yy, mm, dd) = match (digits_at(0, 2), digits_at(2, 2), digits_at(4, 2)) {
        (Some(y), Some(m), Some(d)) => (y, m, d),
        _ => return Err(bad("no value date (YYMMDD)")),
    };
    let value_date = NaiveDate::from_ymd_opt(2000 + yy as i32, mm, dd)
        .ok_or_else(|| bad("the value date is not a date"))?;
    let mut at = 6;
    // The optional booking (entry) date MMDD, in the value date's year or the next/previous.
    let mut booking_date = value_date;
    if let (Some(m), Some(d)) = (digits_at(6, 2), digits_at(8, 2)) {
        at = 10;
        let candidates = [
            value_date.year(),
            value_date.year() + 1,
            value_date.year() - 1,
        ];
        booking_date = candidates
            .iter()
            .filter_map(|y| NaiveDate::from_ymd_opt(*y, m, d))
            .min_by_key(|date| (*date - value_date).num_days().abs())
            .ok_or_else(|| bad("the booking date is not a date"))?;
    }
    let rest: String = c[at.min(c.len())..].iter().collect();
    let (mark, rest) = ["RC", "RD", "C", "D"]
        .iter()
        .find_map(|m| rest.strip_prefix(m).map(|r| (*m, r)))
        .ok_or_else(|| bad("no debit/credit mark (C, D, RC, RD)"))?;
    if mark != "C" {
        return Ok(None); // a debit, or a reversal of an earlier entry
    }
    // An optional funds code (the third letter of the currency), then the amount.
    let rest = match rest.chars().next() {
        Some(l) if l.is_ascii_alphabetic() => &rest[1..],
        _ => rest,
    };
    let amount_len = rest
        .find(|ch: char| !(ch.is_ascii_digit() || ch == ','))
        .unwrap_or(rest.len());
    let amount = &rest[..amount_len];
    let amount_grosze = grosze(amount).ok_or_else(|| bad("the amount is not `123,45`"))?;
    let rest = &rest[amount_len..];
    // Transaction type (N/S/F + three characters), customer reference, `//` bank reference.
    let bank_reference = rest
        .split_once("//")
        .map(|(_, r)| r.trim())
        .filter(|r| !r.is_empty() && !r.eq_ignore_ascii_case("NONREF"))
        .map(str::to_string);
    let d = Details::read(details);
    let reference = bank_reference.unwrap_or_else(|| {
        stable_reference(&[
            account,
            &booking_date.to_string(),
            &amount_grosze.to_string(),
            currency,
            d.name.as_deref().unwrap_or(""),
            &d.title,
        ])
    });
    Ok(Some(Credit {
        amount_grosze,
        currency: currency.to_string(),
        booking_date,
        remittance: d.title,
        reference,
        debtor: d.name,
        debtor_iban: d.iban,
        unreadable: None,
    }))
}

/// `150,06` → 15006; `150,` and `150,6` too. No sign, at most two decimals.
fn grosze(amount: &str) -> Option<i64> {
    let (whole, fraction) = amount.split_once(',')?;
    if whole.is_empty() || fraction.len() > 2 {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let fraction: i64 = format!("{fraction:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(fraction)
}

/// What an `:86:` says about a credit.
#[derive(Debug, Default, PartialEq, Eq)]
struct Details {
    title: String,
    name: Option<String>,
    iban: Option<String>,
}

impl Details {
    fn read(text: &str) -> Details {
        let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
        let joined: String = lines.concat();
        let trimmed = joined.trim_start();
        // `020~00…`, `^00…`, `<00…`: a three-digit code is optional, the separator is not.
        let b = trimmed.as_bytes();
        let sep_at = if b.len() > 3 && b[..3].iter().all(u8::is_ascii_digit) {
            3
        } else {
            0
        };
        let separator = trimmed[sep_at..]
            .chars()
            .next()
            .filter(|c| "~^<?".contains(*c));
        let Some(separator) = separator else {
            // Free text: the wrapped lines are one title.
            let title = lines
                .iter()
                .map(|l| l.trim())
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            return Details {
                title,
                ..Details::default()
            };
        };
        let mut subfields: Vec<(u32, &str)> = Vec::new();
        for part in trimmed[sep_at..].split(separator).skip(1) {
            let code = part.get(..2).and_then(|c| c.parse::<u32>().ok());
            match code {
                Some(code) => subfields.push((code, &part[2..])),
                // A separator inside the text: it belongs to the subfield before.
                None => {
                    if let Some(last) = subfields.last_mut() {
                        let start = last.1.as_ptr() as usize - trimmed.as_ptr() as usize;
                        let end = part.as_ptr() as usize - trimmed.as_ptr() as usize + part.len();
                        last.1 = &trimmed[start..end];
                    }
                }
            }
        }
        let join = |codes: std::ops::RangeInclusive<u32>| -> String {
            let mut out = String::new();
            for (code, text) in &subfields {
                if !codes.contains(code) {
                    continue;
                }
                // A line filled to its width (27 or 35) was cut by the bank: glue it on;
                // a shorter one ended where the customer's line ended: a space.
                if !out.is_empty() && !out.ends_with(' ') {
                    let previous = out.rsplit('\u{1}').next().unwrap_or("");
                    if previous.chars().count() < 27 {
                        out.push(' ');
                    }
                }
                out.push('\u{1}');
                out.push_str(text);
            }
            out.replace('\u{1}', "").trim().to_string()
        };
        let title = join(20..=25);
        let name = Some(join(32..=33)).filter(|n| !n.is_empty());
        let iban = subfields
            .iter()
            .find(|(code, _)| *code == 38)
            .map(|(_, t)| t.chars().filter(|c| !c.is_whitespace()).collect::<String>())
            .filter(|i| !i.is_empty())
            .map(|i| {
                if i.len() == 26 && i.bytes().all(|b| b.is_ascii_digit()) {
                    format!("PL{i}")
                } else {
                    i.to_ascii_uppercase()
                }
            });
        Details { title, name, iban }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_details_in_each_separator() {
        for sep in ['~', '^', '<'] {
            let text = "020~00PRZELEW PRZYCHODZĄCY~20PF/2026/02/0001 licencje Mi\n~21crosoft~22za luty~3010501504~32KANCELARIA RADCY PRAWNEGO AN\n~33NA NOWAK~38PL94105015041000009031876543"
                .replace('~', &sep.to_string());
            let d = Details::read(&text);
            assert_eq!(
                d.title, "PF/2026/02/0001 licencje Microsoft za luty",
                "{sep}"
            );
            assert_eq!(
                d.name.as_deref(),
                Some("KANCELARIA RADCY PRAWNEGO ANNA NOWAK")
            );
            assert_eq!(d.iban.as_deref(), Some("PL94105015041000009031876543"));
        }
    }

    #[test]
    fn free_text_details_are_the_title() {
        let d = Details::read("PRZELEW OD JAN KOWALSKI\nPF 2026/02/0001");
        assert_eq!(d.title, "PRZELEW OD JAN KOWALSKI PF 2026/02/0001");
        assert_eq!(d.name, None);
    }

    #[test]
    fn code_pages_are_told_apart_by_their_polish_letters() {
        let (cp, _, _) = encoding_rs::WINDOWS_1250.encode("Zakład Śląsk źdźbło ąę");
        let (l2, _, _) = encoding_rs::ISO_8859_2.encode("Zakład Śląsk źdźbło ąę");
        assert_eq!(
            decode(&cp, None),
            ("Zakład Śląsk źdźbło ąę".into(), Encoding::Windows1250)
        );
        assert_eq!(
            decode(&l2, None),
            ("Zakład Śląsk źdźbło ąę".into(), Encoding::Iso8859_2)
        );
        assert_eq!(decode("Łódź".as_bytes(), None).1, Encoding::Utf8);
        assert_eq!(
            "Windows-1250".parse::<Encoding>(),
            Ok(Encoding::Windows1250)
        );
        assert_eq!("ISO-8859-2".parse::<Encoding>(), Ok(Encoding::Iso8859_2));
        assert!("koi8".parse::<Encoding>().is_err());
    }

    #[test]
    fn amounts_in_mt940_notation() {
        assert_eq!(grosze("150,06"), Some(15006));
        assert_eq!(grosze("150,"), Some(15000));
        assert_eq!(grosze("150,6"), Some(15060));
        assert_eq!(grosze("150"), None);
        assert_eq!(grosze("1,005"), None);
    }
}
