//! Every key of the single table, built here and nowhere else.
//!
//! | item | PK | SK | notes |
//! | --- | --- | --- | --- |
//! | account | `TENANT#{tenant}` | `ACCOUNT` | `version`, JSON `body`; `GSI1*` while it has a next action |
//! | document | `TENANT#{tenant}` | `DOC#{number}` | JSON `body` as issued, `status` (authoritative) |
//! | e-mail | `TENANT#{tenant}` | `EMAIL#{id:020}` | MIME as Binary; `GSI2*` while unsent |
//! | subscription → tenant | `SUB#{id}` | `SUB` | |
//! | number → tenant | `DOC#{number}` | `DOC` | uniqueness of the number |
//! | session → document | `SESSION#{session_id}` | `SESSION` | uniqueness of the session id |
//! | counter | `COUNTER#{series}` | `COUNTER` | `last` (e-mail ids need none: see `ids.rs`) |
//! | e-mail key | `OUTBOX#{key}` | `OUTBOX` | uniqueness of the e-mail's cause |
//! | payment | `PAYMENT#{key}` | `PAYMENT` | |
//! | review | `REVIEW#{key}` | `REVIEW` | |
//! | Microsoft command | `TENANT#{tenant}` | `MSCMD#{id:020}` | JSON `body`; `GSI2*` while pending |
//! | Microsoft command key | `MSKEY#{key}` | `MSKEY` | uniqueness of the command's cause |
//! | VAT invoice | `TENANT#{tenant}` | `INV#{number}` | JSON `body` as issued, `xml` (Binary, written once), `sha256`, `upo`, JSON `submission`; `GSI2*` while its KSeF submission is due |
//! | invoice number → tenant | `INV#{number}` | `INV` | uniqueness of the number |
//! | invoice of a document | `INVFOR#{document}` | `INVFOR` | one invoice per settled document |
//! | audit entry | `TENANT#{tenant}` | `AUDIT#{at}#{account version:020}#{n:03}` | JSON `body`; written with its change |
//! | audit entry without an account | `TENANT#{tenant}` | `AUDIT#{at}#{cause}#{n:03}` | a held payment, a retry, an operator added |
//! | billing address → tenant | `EMAIL#{address, lower case}` | `TENANT` | `tenant`; the sign-in lookup |
//! | tenant list | `TENANTS` | `{tenant}` | the operator's list and search |
//! | panel items | `PANEL#…` | | operators, sign-in links, sessions, rate limits, decisions (`ttl` where they run out) |
//! | invoice counter | `COUNTER#FV/{YYYY}/{MM}` | `COUNTER` | `last`, as the other series |
//!
//! GSI1 (keys only): `DUE#{shard}` / `{next action date}#{tenant}`, so the daily job reads only
//! what is due and no partition takes every account's writes. GSI2 (all attributes):
//! `UNSENT` / `{next attempt ms:020}#{id:020}`, the outbox's unsent messages, due first;
//! `PARKED` / `{id:020}`, those given up on after their last attempt. Microsoft commands use
//! the same index under `MSPENDING` and `MSPARKED`, KSeF submissions under `KSEF` (pending or
//! sent, not parked: `{next attempt ms:020}#{invoice ordinal:020}`) and `KSEFPARKED`
//! (`{invoice ordinal:020}`, rejected or given up on).

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::NaiveDate;
use renewals_domain::{
    DocumentNumber, InvoiceNumber, InvoiceSeries, SeriesKey, SubscriptionId, TenantId,
};
use std::collections::HashMap;

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";

/// Shards of the due-date index unless the store is told otherwise.
pub const DEFAULT_SHARDS: u32 = 4;

/// The primary key of one item.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    fn new(pk: String, sk: &str) -> Key {
        Key {
            pk,
            sk: sk.to_string(),
        }
    }

    /// The key as the attributes of a request or the start of an item.
    pub fn attributes(&self) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (PK.to_string(), AttributeValue::S(self.pk.clone())),
            (SK.to_string(), AttributeValue::S(self.sk.clone())),
        ])
    }
}

const TENANT: &str = "TENANT#";
pub const DOC_PREFIX: &str = "DOC#";
pub const EMAIL_PREFIX: &str = "EMAIL#";
pub const MSCMD_PREFIX: &str = "MSCMD#";
pub const AUDIT_PREFIX: &str = "AUDIT#";

pub fn tenant_pk(tenant: &TenantId) -> String {
    format!("{TENANT}{tenant}")
}

/// The tenant of a tenant-partition key, e.g. from a due-index entry.
pub fn tenant_of_pk(pk: &str) -> Option<TenantId> {
    TenantId::parse(pk.strip_prefix(TENANT)?).ok()
}

pub fn account(tenant: &TenantId) -> Key {
    Key::new(tenant_pk(tenant), "ACCOUNT")
}

pub fn document(tenant: &TenantId, number: &DocumentNumber) -> Key {
    Key {
        pk: tenant_pk(tenant),
        sk: format!("{DOC_PREFIX}{number}"),
    }
}

/// The `n`th audit entry of the change that takes the account to `version`: the time first,
/// so the log reads in order; the version, unique per change, so no two changes collide.
pub fn audit(tenant: &TenantId, at: chrono::DateTime<chrono::Utc>, version: u64, n: usize) -> Key {
    Key {
        pk: tenant_pk(tenant),
        sk: format!(
            "{AUDIT_PREFIX}{}#{version:020}#{n:03}",
            at.format("%Y-%m-%dT%H:%M:%S%.6fZ")
        ),
    }
}

/// The `n`th audit entry of something that is not an account's change (a payment held for
/// review, a retried e-mail, an operator added), told apart by its cause.
pub fn audit_note(
    tenant: &TenantId,
    at: chrono::DateTime<chrono::Utc>,
    cause: &str,
    n: usize,
) -> Key {
    Key {
        pk: tenant_pk(tenant),
        sk: format!(
            "{AUDIT_PREFIX}{}#{cause}#{n:03}",
            at.format("%Y-%m-%dT%H:%M:%S%.6fZ")
        ),
    }
}

/// Which tenant a billing address belongs to (lower case): the sign-in lookup reads this
/// key instead of scanning accounts. Written with the account change that sets the address.
pub fn tenant_email(email: &str) -> Key {
    Key::new(format!("EMAIL#{}", email.to_lowercase()), "TENANT")
}

/// Every tenant, one item each in one partition: the operator's list and search query it
/// instead of scanning the table. Written when the account is created.
pub const TENANTS: &str = "TENANTS";

pub fn tenant_listed(tenant: &TenantId) -> Key {
    Key::new(TENANTS.to_string(), tenant.as_str())
}

pub fn email(tenant: &TenantId, id: i64) -> Key {
    Key {
        pk: tenant_pk(tenant),
        sk: format!("{EMAIL_PREFIX}{}", padded(id)),
    }
}

pub fn subscription(id: &SubscriptionId) -> Key {
    Key::new(format!("SUB#{id}"), "SUB")
}

pub fn document_number(number: &DocumentNumber) -> Key {
    Key::new(format!("{DOC_PREFIX}{number}"), "DOC")
}

pub fn session(session_id: &str) -> Key {
    Key::new(format!("SESSION#{session_id}"), "SESSION")
}

pub fn counter(series: SeriesKey) -> Key {
    Key::new(format!("COUNTER#{series}"), "COUNTER")
}

pub fn outbox_key(key: &str) -> Key {
    Key::new(format!("OUTBOX#{key}"), "OUTBOX")
}

pub fn payment(key: &str) -> Key {
    Key::new(format!("PAYMENT#{key}"), "PAYMENT")
}

pub fn review(key: &str) -> Key {
    Key::new(format!("REVIEW#{key}"), "REVIEW")
}

/// What the bank import noted: a statement file imported, the customer paying from an IBAN.
pub fn bank_note(key: &str) -> Key {
    Key::new(format!("BANK#{key}"), "BANK")
}

pub const INVOICE_PREFIX: &str = "INV#";
/// KSeF submissions that are due (pending or sent, not parked), in the outbox index.
pub const KSEF: &str = "KSEF";
/// KSeF submissions given up on (rejected, or out of attempts), for the operator.
pub const KSEF_PARKED: &str = "KSEFPARKED";

pub fn invoice(tenant: &TenantId, number: &InvoiceNumber) -> Key {
    Key {
        pk: tenant_pk(tenant),
        sk: format!("{INVOICE_PREFIX}{number}"),
    }
}

pub fn invoice_number(number: &InvoiceNumber) -> Key {
    Key::new(format!("{INVOICE_PREFIX}{number}"), "INV")
}

/// One invoice per settled document.
pub fn invoice_for(document: &DocumentNumber) -> Key {
    Key::new(format!("INVFOR#{document}"), "INVFOR")
}

pub fn invoice_counter(series: InvoiceSeries) -> Key {
    Key::new(format!("COUNTER#{series}"), "COUNTER")
}

/// An invoice's place among the submissions due at one instant: year, month, sequence.
pub fn invoice_ordinal(number: &InvoiceNumber) -> i64 {
    i64::from(number.year) * 100_000_000
        + i64::from(number.month) * 1_000_000
        + i64::from(number.seq)
}

/// Ids as fixed-width text, so that text order is id order (ids are positive `i64`s, at
/// most 19 digits).
pub fn padded(id: i64) -> String {
    format!("{id:020}")
}

/// Which due-index shard a tenant's account lives in: FNV-1a, stable across builds and
/// machines (std's `DefaultHasher` is not). Changing the shard count needs a rewrite of
/// every account's `GSI1PK`.
pub fn shard_of(tenant: &TenantId, shards: u32) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in tenant.as_str().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % u64::from(shards.max(1))) as u32
}

pub fn due_pk(shard: u32) -> String {
    format!("DUE#{shard}")
}

pub fn due_sk(date: NaiveDate, tenant: &TenantId) -> String {
    format!("{date}#{tenant}")
}

/// Above every `due_sk` of `date` and below every later date's.
pub fn due_upper(date: NaiveDate) -> String {
    format!("{date}#\u{10FFFF}")
}

pub const UNSENT: &str = "UNSENT";
/// Messages given up on after their last attempt, for the operator.
pub const PARKED: &str = "PARKED";

/// Microsoft commands not done and not parked, in the outbox index.
pub const MS_PENDING: &str = "MSPENDING";
/// Microsoft commands given up on.
pub const MS_PARKED: &str = "MSPARKED";

pub fn microsoft_command(tenant: &TenantId, id: i64) -> Key {
    Key::new(tenant_pk(tenant), &format!("{MSCMD_PREFIX}{}", padded(id)))
}

/// Uniqueness of a Microsoft command's cause.
pub fn microsoft_command_key(key: &str) -> Key {
    Key::new(format!("MSKEY#{key}"), "MSKEY")
}

/// A message's place in the unsent index: due first (epoch ms of its next attempt), then
/// by id. A claim or a failed attempt moves it later.
pub fn outbox_due(at_ms: i64, id: i64) -> String {
    format!("{}#{}", padded(at_ms.max(0)), padded(id))
}

/// Above every `outbox_due` at or before `at_ms`.
pub fn outbox_due_upper(at_ms: i64) -> String {
    format!("{}#~", padded(at_ms.max(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TenantId {
        TenantId::parse(s).unwrap()
    }

    #[test]
    fn shards_are_stable_and_in_range() {
        // Pinned: a different hash would strand every stored account in the wrong shard.
        assert_eq!((shard_of(&t("acme"), 4), shard_of(&t("acme"), 3)), (3, 2));
        let spread: std::collections::BTreeSet<u32> = (0..40)
            .map(|i| shard_of(&t(&format!("tenant-{i}")), 4))
            .collect();
        assert_eq!(spread, (0..4).collect());
        assert_eq!(shard_of(&t("acme"), 1), 0);
        assert_eq!(shard_of(&t("acme"), 0), 0);
    }

    #[test]
    fn a_date_bound_covers_the_whole_day_and_nothing_later() {
        let day = NaiveDate::from_ymd_opt(2026, 2, 3).unwrap();
        let next = NaiveDate::from_ymd_opt(2026, 2, 4).unwrap();
        let long = t(&"z".repeat(40));
        assert!(due_sk(day, &long) <= due_upper(day));
        assert!(due_sk(next, &t("a")) > due_upper(day));
    }

    #[test]
    fn padded_ids_sort_as_numbers() {
        assert!(padded(9) < padded(10));
        assert!(email(&t("a"), 99).sk < email(&t("a"), 100).sk);
        assert_eq!(tenant_of_pk(&tenant_pk(&t("acme-1"))), Some(t("acme-1")));
        assert_eq!(tenant_of_pk("SUB#acme-1"), None);
    }
}
