//! The domain's errors as types: a value from outside that is not valid (`ParseError`), and a
//! change the rules do not allow (`Refusal`). Each prints one line that says what is wrong
//! and what is possible instead; that line is what a person reads in the CLI.

use crate::document::DocumentNumber;
use crate::subscription::{SubscriptionId, MAX_SEATS, MIN_SEATS};
use crate::tenant::TenantId;
use chrono::NaiveDate;

/// A value read from a person, a file or an event that is not what it must be.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error(
        "invalid tenant id `{0}`: use 1–40 lowercase letters, digits and dashes, e.g. acme-sp-z-o-o"
    )]
    TenantId(String),
    #[error("invalid subscription id `{0}`: expected TENANT-N, e.g. acme-1")]
    SubscriptionId(String),
    #[error(
        "invalid Microsoft id `{0}`: expected a GUID, e.g. 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    )]
    MicrosoftId(String),
    #[error("invalid NIP `{0}`: a NIP has exactly 10 digits")]
    NipLength(String),
    #[error("invalid NIP `{0}`: the check digit does not match")]
    NipCheckDigit(String),
    #[error("invalid e-mail address `{0}`: expected name@example.pl")]
    Email(String),
    #[error("unknown locale `{0}`: use `pl` or `en`")]
    Locale(String),
    #[error("unknown payment method `{0}`: use blik, transfer or card")]
    PaymentMethod(String),
    #[error("unknown term `{0}`: use `monthly` or `annual`")]
    Term(String),
    #[error("invalid seat count {0}: must be between {MIN_SEATS} and {MAX_SEATS}")]
    Seats(i64),
    #[error("invalid date `{0}`: expected YYYY-MM-DD, e.g. 2026-11-30")]
    Date(String),
    #[error("invalid date `{0}`: expected a date between 2000-01-01 and 2099-12-31 as YYYY-MM-DD")]
    DateOutOfRange(String),
    #[error("invalid amount {0}: grosze must be positive")]
    Grosze(i64),
    #[error("invalid amount `{0}`: expected a decimal such as 29.90")]
    Amount(String),
    #[error("invalid amount `{0}`: at most two decimal places (grosze)")]
    AmountPrecision(String),
    #[error("invalid amount `{0}`: must not be negative")]
    AmountNegative(String),
    #[error("invalid document number `{0}`: expected e.g. PF/2026/11/0001")]
    DocumentNumber(String),
    #[error("invalid VAT invoice number `{0}`: expected e.g. FV/2026/11/0001")]
    InvoiceNumber(String),
    #[error("catalog is not valid: {0}")]
    Catalog(String),
    #[error(
        "grace period of {0} days is not allowed: it must be 0–6 days, below Microsoft's 7-day cancellation window"
    )]
    GraceDays(i64),
    #[error("reminder days before due must not be negative")]
    ReminderDays,
    #[error("invalid country code `{0}`: use two letters (ISO 3166), e.g. PL or DE")]
    Country(String),
    #[error("the {0} must not be empty")]
    Empty(&'static str),
}

/// A change the rules do not allow. `what` names the change as a person asked for it
/// ("adding seats", "changing the plan now").
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("tenant `{0}` already exists; choose another id")]
    TenantExists(TenantId),
    #[error("the card reference must not be empty")]
    NoCardReference,
    #[error(
        "nothing to update for tenant `{0}`: give --name, --email, --address, --address2 or --country"
    )]
    NothingToUpdate(TenantId),
    #[error("a transfer needs the bank reference (or the statement line) as --reference")]
    NoTransferReference,
    #[error("a recorded transfer needs the name of the representative who saw it")]
    NoTransferRepresentative,
    #[error("no subscription `{subscription}` for tenant {tenant}")]
    NoSubscription {
        subscription: SubscriptionId,
        tenant: TenantId,
    },
    #[error(
        "unknown product `{sku}`; subscription products: {}",
        available.join(", ")
    )]
    UnknownProduct { sku: String, available: Vec<String> },
    #[error("`{0}` is a perpetual product sold once; it cannot be a subscription")]
    PerpetualProduct(String),
    #[error(
        "{what} is not possible: subscription {subscription} is {status}; only active subscriptions can change"
    )]
    NotActive {
        what: &'static str,
        subscription: SubscriptionId,
        status: &'static str,
    },
    #[error(
        "{what} for {subscription} is closed: the renewal pro-forma {document} is already issued; possible again from {reopens} when the new period starts"
    )]
    ProformaIssued {
        what: &'static str,
        subscription: SubscriptionId,
        document: DocumentNumber,
        reopens: NaiveDate,
    },
    #[error(
        "{what} for {subscription} is closed: the renewal pro-forma is issued on {issue_date}; possible again from {reopens}"
    )]
    ProformaDay {
        what: &'static str,
        subscription: SubscriptionId,
        issue_date: NaiveDate,
        reopens: NaiveDate,
    },
    #[error(
        "{what} for {subscription} is closed: renewal is off and its last period ended on {ends}"
    )]
    PeriodEnded {
        what: &'static str,
        subscription: SubscriptionId,
        ends: NaiveDate,
    },
    #[error(
        "{what} for {subscription} cannot be dated {date}, before its current period starts on {starts}"
    )]
    BeforePeriod {
        what: &'static str,
        subscription: SubscriptionId,
        date: NaiveDate,
        starts: NaiveDate,
    },
    #[error("a seat reduction needs the name of the reseller's representative")]
    NoRepresentative,
    #[error(
        "cannot reduce {subscription} to {to} seats: the minimum is {MIN_SEATS}; turn renewal off to stop it"
    )]
    BelowMinimum {
        subscription: SubscriptionId,
        to: u32,
    },
    #[error(
        "cannot reduce {subscription} to {to} seats: it has {seats} now; use `seats add` to add seats"
    )]
    NotAReduction {
        subscription: SubscriptionId,
        to: u32,
        seats: u32,
    },
    #[error(
        "cannot change the plan of {0} at renewal: renewal is off; buy the new plan now instead"
    )]
    RenewalOff(SubscriptionId),
    #[error("{subscription} already is {sku}; choose another plan")]
    SamePlan {
        subscription: SubscriptionId,
        sku: String,
    },
    #[error("renewal of {subscription} cannot be turned off: it is {status} already")]
    AlreadyStopped {
        subscription: SubscriptionId,
        status: &'static str,
    },
    #[error(
        "{what} for {subscription} is not possible: the next period from {starts} is already paid ({document})"
    )]
    NextPeriodPaid {
        what: &'static str,
        subscription: SubscriptionId,
        starts: NaiveDate,
        document: DocumentNumber,
    },
}
