//! Pro-formas and orders: numbered, immutable after issue except for their status.

use crate::calendar::Period;
use crate::error::ParseError;
use crate::money::{Money, Totals};
use crate::subscription::SubscriptionId;
use crate::tenant::TenantId;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentKind {
    /// Pro-forma for a renewal period (series `PF`).
    Proforma,
    /// Order for seats added mid-period or a new subscription (series `ZAM`).
    Order,
}

impl DocumentKind {
    pub fn series(self) -> &'static str {
        match self {
            DocumentKind::Proforma => "PF",
            DocumentKind::Order => "ZAM",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Proforma => "proforma",
            DocumentKind::Order => "order",
        }
    }
}

/// `PF/2026/11/0001`: numbered per series and month, strictly sequential.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentNumber {
    pub kind: DocumentKind,
    pub year: i32,
    pub month: u32,
    pub seq: u32,
}

impl DocumentNumber {
    pub fn parse(s: &str) -> Result<DocumentNumber, ParseError> {
        let bad = || ParseError::DocumentNumber(s.to_string());
        let parts: Vec<&str> = s.split('/').collect();
        if parts.len() != 4 {
            return Err(bad());
        }
        let kind = match parts[0] {
            "PF" => DocumentKind::Proforma,
            "ZAM" => DocumentKind::Order,
            _ => return Err(bad()),
        };
        let year = parts[1].parse().map_err(|_| bad())?;
        let month: u32 = parts[2].parse().map_err(|_| bad())?;
        let seq: u32 = parts[3].parse().map_err(|_| bad())?;
        if parts[1].len() != 4 || parts[2].len() != 2 || !(1..=12).contains(&month) || seq == 0 {
            return Err(bad());
        }
        Ok(DocumentNumber {
            kind,
            year,
            month,
            seq,
        })
    }

    /// Document numbers found in a transfer title, tolerating the ways banks and people
    /// mangle them: spaces around slashes, lowercase, "PF 2026/11/0001", dashes instead of
    /// slashes ("PF-2026-11-0001"). Each once, in the order they appear.
    pub fn find_in(text: &str) -> Vec<DocumentNumber> {
        let text: Vec<char> = text.to_uppercase().chars().collect();
        let mut found: Vec<DocumentNumber> = Vec::new();
        let mut at = 0;
        while at < text.len() {
            match number_at(&text, at) {
                Some((number, end)) => {
                    if !found.contains(&number) {
                        found.push(number);
                    }
                    at = end;
                }
                None => at += 1,
            }
        }
        found
    }

    /// The counter this number was drawn from.
    pub fn series_key(&self) -> SeriesKey {
        SeriesKey {
            kind: self.kind,
            year: self.year,
            month: self.month,
        }
    }
}

/// The one place the number format lives: `{series}/{seq:04}` (five digits past 9999).
impl fmt::Display for DocumentNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{:04}", self.series_key(), self.seq)
    }
}

impl Serialize for DocumentNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DocumentNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DocumentNumber::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// One numbering series in one month, e.g. `PF/2026/11`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesKey {
    pub kind: DocumentKind,
    pub year: i32,
    pub month: u32,
}

impl SeriesKey {
    pub fn of(kind: DocumentKind, issue_date: NaiveDate) -> SeriesKey {
        SeriesKey {
            kind,
            year: issue_date.year(),
            month: issue_date.month(),
        }
    }
}

impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{:02}", self.kind.series(), self.year, self.month)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentStatus {
    Issued,
    Paid,
    Expired,
    Cancelled,
}

impl DocumentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentStatus::Issued => "issued",
            DocumentStatus::Paid => "paid",
            DocumentStatus::Expired => "expired",
            DocumentStatus::Cancelled => "cancelled",
        }
    }
}

/// Why a line is billed: it decides what a payment of the document activates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinePurpose {
    /// The next period of an existing subscription.
    Renewal,
    /// Seats added for the rest of the current period.
    SeatAddition,
    /// The first period of a subscription bought by a plan change now.
    NewSubscription,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub subscription: SubscriptionId,
    pub product: String,
    pub product_name: String,
    pub seats: u32,
    /// Net per seat for a whole period.
    pub unit_price: Money,
    pub period: Period,
    pub net: Money,
    pub purpose: LinePurpose,
}

/// A Przelewy24 session id: one per payment attempt. A document's own session is its
/// number with dashes and `-1` (`PF-2026-02-0001-1`); the N-th automatic card charge of it
/// adds `-cN`. A notification may carry any text here, so every string is a session id;
/// only ours lead to a document.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    pub fn new(s: impl Into<String>) -> SessionId {
        SessionId(s.into())
    }

    /// The session of a document's payment link.
    pub fn of(number: &DocumentNumber) -> SessionId {
        SessionId(format!("{}-1", number.to_string().replace('/', "-")))
    }

    /// The session of the `attempt`-th card charge of this document's session.
    pub fn card_charge(&self, attempt: usize) -> SessionId {
        SessionId(format!("{}-c{attempt}", self.0))
    }

    /// For a card charge's session, the document's own session it belongs to.
    pub fn charged_session(&self) -> Option<SessionId> {
        let (base, n) = self.0.rsplit_once("-c")?;
        (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .then(|| SessionId(base.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SessionId {
    fn from(s: &str) -> SessionId {
        SessionId(s.to_string())
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How the customer pays this document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentReference {
    pub session_id: SessionId,
    /// Payment link, once a transaction is registered with the provider.
    #[serde(default)]
    pub link: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub number: DocumentNumber,
    pub kind: DocumentKind,
    pub tenant: TenantId,
    pub status: DocumentStatus,
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    pub period: Period,
    pub lines: Vec<Line>,
    pub totals: Totals,
    pub currency: String,
    pub payment: PaymentReference,
}

impl Document {
    pub fn new(
        number: DocumentNumber,
        tenant: TenantId,
        issue_date: NaiveDate,
        due_date: NaiveDate,
        period: Period,
        lines: Vec<Line>,
    ) -> Document {
        let totals = Totals::of_lines(lines.iter().map(|l| l.net));
        let session_id = SessionId::of(&number);
        Document {
            kind: number.kind,
            number,
            tenant,
            status: DocumentStatus::Issued,
            issue_date,
            due_date,
            period,
            lines,
            totals,
            currency: "PLN".into(),
            payment: PaymentReference {
                session_id,
                link: None,
            },
        }
    }

    pub fn covers(&self, sub: &SubscriptionId) -> bool {
        self.lines.iter().any(|l| &l.subscription == sub)
    }
}

/// Hands out document numbers for one issue date from counters the caller loaded.
/// Pure: the store checks at commit that nobody took the same numbers meanwhile.
#[derive(Clone, Debug, Default)]
pub struct Numbering {
    counters: std::collections::BTreeMap<SeriesKey, (u32, u32)>,
}

impl Numbering {
    /// Registers the last number already used in a series.
    pub fn load(&mut self, key: SeriesKey, last_used: u32) {
        self.counters.entry(key).or_insert((last_used, last_used));
    }

    pub fn is_loaded(&self, key: &SeriesKey) -> bool {
        self.counters.contains_key(key)
    }

    pub fn next(&mut self, kind: DocumentKind, issue_date: NaiveDate) -> DocumentNumber {
        let key = SeriesKey::of(kind, issue_date);
        let entry = self
            .counters
            .get_mut(&key)
            .unwrap_or_else(|| panic!("counter {key} was not loaded before numbering"));
        entry.1 += 1;
        DocumentNumber {
            kind,
            year: key.year,
            month: key.month,
            seq: entry.1,
        }
    }

    /// `(series, last number before, last number after)` for every series that moved.
    pub fn advanced(&self) -> Vec<(SeriesKey, u32, u32)> {
        self.counters
            .iter()
            .filter(|(_, (a, b))| a != b)
            .map(|(k, (a, b))| (*k, *a, *b))
            .collect()
    }
}

// Reading numbers out of free text.

const SEPARATORS: &[char] = &['/', '\\', '-', '_', '.', ':', '\u{2013}', '\u{2014}'];
const MAX_SEPARATOR_RUN: usize = 4;

/// How people and banks name the two series in a title (upper-cased), longest first.
const PREFIXES: &[(&str, DocumentKind)] = &[
    ("ZAMÓWIENIE", DocumentKind::Order),
    ("ZAMOWIENIE", DocumentKind::Order),
    ("PRO-FORMA", DocumentKind::Proforma),
    ("PRO FORMA", DocumentKind::Proforma),
    ("PROFORMA", DocumentKind::Proforma),
    ("ZAM", DocumentKind::Order),
    ("PF", DocumentKind::Proforma),
];

/// The number starting at `start` of the upper-cased text, and where it ends. After the
/// series (`PF`, `pro-forma`, `ZAM`, `zamówienie`, optionally `nr`), up to three digit groups:
/// `YYYY/MM/N` (leading zeros optional), reversed `N/MM/YYYY`, or run together
/// (`YYYYMM/N`, `YYYYMMNNNN`). The year must be 2000–2099 and the month 1–12.
fn number_at(text: &[char], start: usize) -> Option<(DocumentNumber, usize)> {
    if start > 0 && text[start - 1].is_alphanumeric() {
        return None;
    }
    let (prefix, kind) = PREFIXES.iter().find(|(prefix, _)| {
        prefix
            .chars()
            .enumerate()
            .all(|(i, c)| text.get(start + i) == Some(&c))
    })?;
    let mut at = start + prefix.chars().count();
    if text.get(at).is_some_and(|c| c.is_alphabetic()) {
        return None; // "PFX…", "ZAMEK"
    }
    at = separators(text, at, 0)?;
    // "nr", "nr." between the series and the digits.
    if text.get(at) == Some(&'N') && text.get(at + 1) == Some(&'R') {
        if text.get(at + 2).is_some_and(|c| c.is_alphabetic()) {
            return None;
        }
        at = separators(text, at + 2, 0)?;
    }
    // Up to three digit groups, each after a short run of separators.
    let mut groups: Vec<(String, usize)> = Vec::new();
    let mut cursor = at;
    while groups.len() < 3 {
        let from = if groups.is_empty() {
            cursor
        } else {
            match separators(text, cursor, 1) {
                Some(from) => from,
                None => break,
            }
        };
        let run: String = text[from.min(text.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        if run.is_empty() {
            break;
        }
        cursor = from + run.len();
        groups.push((run, cursor));
    }
    let value = |s: &str| s.parse::<u32>().ok();
    let year_ok = |y: u32| (2000..=2099).contains(&y);
    let make = |year: u32, month: u32, seq: u32, end: usize| {
        (year_ok(year) && (1..=12).contains(&month) && seq > 0).then_some((
            DocumentNumber {
                kind: *kind,
                year: year as i32,
                month,
                seq,
            },
            end,
        ))
    };
    let len = |i: usize| groups[i].0.len();
    // Three groups: forward, else reversed.
    if groups.len() == 3 {
        let (a, b, c) = (&groups[0].0, &groups[1].0, &groups[2].0);
        let end = groups[2].1;
        if len(0) == 4 && (1..=2).contains(&len(1)) && (1..=6).contains(&len(2)) {
            if let Some(found) = make(value(a)?, value(b)?, value(c)?, end) {
                return Some(found);
            }
        }
        if (1..=6).contains(&len(0)) && (1..=2).contains(&len(1)) && len(2) == 4 {
            if let Some(found) = make(value(c)?, value(b)?, value(a)?, end) {
                return Some(found);
            }
        }
    }
    // Two groups: year and month run together, then the sequence.
    if groups.len() >= 2 && len(0) == 6 && (1..=6).contains(&len(1)) {
        let a = &groups[0].0;
        if let Some(found) = make(
            value(&a[..4])?,
            value(&a[4..])?,
            value(&groups[1].0)?,
            groups[1].1,
        ) {
            return Some(found);
        }
    }
    // One group: all run together, `YYYYMM` then a four-digit sequence (or more).
    if !groups.is_empty() && (10..=12).contains(&len(0)) {
        let a = &groups[0].0;
        return make(
            value(&a[..4])?,
            value(&a[4..6])?,
            value(&a[6..])?,
            groups[0].1,
        );
    }
    None
}

/// Skips a run of at least `min` separators (whitespace, slashes, dashes…).
fn separators(text: &[char], from: usize, min: usize) -> Option<usize> {
    let run = text[from.min(text.len())..]
        .iter()
        .take_while(|c| c.is_whitespace() || SEPARATORS.contains(c))
        .count();
    (min..=MAX_SEPARATOR_RUN)
        .contains(&run)
        .then_some(from + run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_and_parse() {
        let n = DocumentNumber::parse("ZAM/2026/02/0042").unwrap();
        assert_eq!(n.kind, DocumentKind::Order);
        assert_eq!(n.to_string(), "ZAM/2026/02/0042");
        assert!(DocumentNumber::parse("PF/2026/13/0001").is_err());
        assert!(DocumentNumber::parse("FV/2026/01/0001").is_err());
    }

    #[test]
    fn document_numbers_tolerate_bank_mangling() {
        let cases: &[(&str, &[&str])] = &[
            ("PF/2026/11/0001", &["PF/2026/11/0001"]),
            ("pf/2026/11/0001", &["PF/2026/11/0001"]),
            ("PF 2026/11/0001", &["PF/2026/11/0001"]),
            ("PF2026/11/0001", &["PF/2026/11/0001"]),
            ("PF-2026-11-0001", &["PF/2026/11/0001"]),
            ("PF / 2026 / 11 / 0001", &["PF/2026/11/0001"]),
            ("Zapłata: zam 2026-3-17.", &["ZAM/2026/03/0017"]),
            ("PF_2026_11_0001", &["PF/2026/11/0001"]),
            ("PF\\2026\\11\\0001", &["PF/2026/11/0001"]),
            (
                "tytul:PF/2026/02/ 0012 i ZAM/2026/02/0003",
                &["PF/2026/02/0012", "ZAM/2026/02/0003"],
            ),
            (
                "PF/2026/11/0001 PF/2026/11/0001 pf 2026/11/0001",
                &["PF/2026/11/0001"],
            ),
            ("PF/2026/11/12345", &["PF/2026/11/12345"]),
            // As people write them.
            ("PF 2026 02 0001", &["PF/2026/02/0001"]),
            ("pf/2026/02/1", &["PF/2026/02/0001"]),
            ("proforma 0001/02/2026", &["PF/2026/02/0001"]),
            ("Proforma nr 1/2/2026", &["PF/2026/02/0001"]),
            ("PRO-FORMA 2026/02/0003", &["PF/2026/02/0003"]),
            ("Zamówienie nr ZAM/2026/03/0001", &["ZAM/2026/03/0001"]),
            ("zamowienie 2026/03/1", &["ZAM/2026/03/0001"]),
            ("Pf20260200001", &["PF/2026/02/0001"]),
            ("PF2026020001", &["PF/2026/02/0001"]),
            ("pf 202602 0001", &["PF/2026/02/0001"]),
            ("zAm 0002-03-2026", &["ZAM/2026/03/0002"]),
            (
                "oplata PF/2026/02/0001 oraz pf 2026/02/2",
                &["PF/2026/02/0001", "PF/2026/02/0002"],
            ),
            ("PF/1999/02/0001", &[]),
            ("zamek 2026/02/0001", &[]),
            ("NIP 5260001246 za licencje", &[]),
            // Not document numbers.
            ("FV/2026/11/0001", &[]),
            ("APF/2026/11/0001", &[]),
            ("PF/2026/13/0001", &[]),
            ("PF/2026/00/0001", &[]),
            ("PF/2026/11/0000", &[]),
            ("PF/26/11/0001", &[]),
            ("PF/20261/11/0001", &[]),
            ("PF/2026/11/0001234", &[]),
            ("PF 2026", &[]),
            ("PF//////2026/11/0001", &[]),
            ("faktura 2026/11/0001", &[]),
            ("", &[]),
        ];
        for (text, expected) in cases {
            let found: Vec<String> = DocumentNumber::find_in(text)
                .iter()
                .map(|n| n.to_string())
                .collect();
            assert_eq!(found, *expected, "{text:?}");
            for number in *expected {
                let parsed = DocumentNumber::parse(number).unwrap();
                assert_eq!(parsed.to_string(), *number);
            }
        }
    }
}
