//! The renewal business, pure: no IO, no clock, no async.
//!
//! Given an account and a Warsaw business date, [`account::Account::decide`] says what is due
//! and [`account::Account::apply`] carries it out in memory; the shell stores and sends.

pub mod account;
pub mod calendar;
pub mod catalog;
pub mod document;
pub mod error;
pub mod invoice;
pub mod microsoft;
pub mod money;
pub mod notice;
pub mod policy;
pub mod subscription;
pub mod tenant;

pub use account::{Account, Action, Effect, Job, OpenDocument, PaymentOutcome};
pub use calendar::{business_date, parse_date, warsaw_noon, warsaw_time, Period, Term};
pub use catalog::{Catalog, Product, ProductKind};
pub use document::{
    Document, DocumentKind, DocumentNumber, DocumentStatus, Line, LinePurpose, Numbering,
    SeriesKey, SessionId,
};
pub use error::{ParseError, Refusal};
pub use invoice::{has_buyer_data, InvoiceNumber, InvoiceSeries, InvoiceType, VatInvoice};
pub use microsoft::{parse_guid, MicrosoftAction, MicrosoftCommand};
pub use money::{Money, Totals};
pub use notice::{AlertCause, DeliveryProblem, InvoiceIssue, Notice};
pub use policy::Policy;
pub use subscription::{Status, Subscription, SubscriptionId, MIN_SEATS};
pub use tenant::{parse_country, EmailAddress, Locale, Nip, PaymentMethod, Tenant, TenantId};
