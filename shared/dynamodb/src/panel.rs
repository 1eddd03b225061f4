//! The panel's items on the single table: operators, one-time sign-in links, sessions,
//! rate-limit counters and the operator's decisions on held payments, each under a `PANEL#`
//! key with a `ttl` (epoch seconds) where it runs out; the table's `TimeToLiveSpecification`
//! on `ttl` removes them (lazily: expiry is also checked when read). The sign-in lookup by
//! address reads one key (`EMAIL#…`) and the tenant list one partition (`TENANTS`), both
//! written with the account's change: no Scan on a request's path.
//!
//! What the operator retries goes back into the outbox index with one conditional update
//! (still parked where it was seen), in one transaction with its audit entry: pressed twice,
//! it goes back once and is logged once.

use crate::attrs::{self, n, s, Item};
use crate::commit::{item, json as json_attr, Refused, Write};
use crate::{keys, DynamoStore};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use renewals_app::audit::AuditEntry;
use renewals_app::panel::{
    Operator, PanelStore, ParkedSubmission, Principal, ReviewDecision, Session,
};
use renewals_app::ports::{ReviewItem, StoreError, StoredCommand, StoredMessage};
use renewals_domain::TenantId;
use std::collections::HashMap;

fn unexpected(e: impl Into<anyhow::Error>) -> StoreError {
    StoreError::Unexpected(e.into())
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([(keys::PK.to_string(), s(pk)), (keys::SK.to_string(), s(sk))])
}

fn json<T: serde::Serialize>(v: &T) -> Result<AttributeValue, StoreError> {
    Ok(s(serde_json::to_string(v).map_err(unexpected)?))
}

fn conditional_failed<E, R>(e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

impl DynamoStore {
    async fn put_new(&self, mut item: Item, extra: Item) -> Result<bool, StoreError> {
        item.extend(extra);
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(unexpected(e)),
        }
    }

    async fn get_panel(&self, item: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item))
            .consistent_read(true)
            .send()
            .await
            .map_err(unexpected)?;
        Ok(out.item)
    }

    /// Every item whose sort key is `sk`, page by page: a Scan, for the two reads that have
    /// no key to go by (held payments, the one-off backfill).
    async fn scan_kind(&self, sk: &str) -> Result<Vec<Item>, StoreError> {
        let (mut items, mut start) = (vec![], None);
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("SK = :sk")
                .expression_attribute_values(":sk", s(sk))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unexpected)?;
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// Writes the panel's lookup items (`EMAIL#` address → tenant, the `TENANTS` list) for
    /// every account: for a table whose accounts were created before those items existed.
    /// Idempotent (plain puts of what the accounts say); a Scan, run once by an operator
    /// (`renewals --dynamodb-table T operator backfill`), never on a request's path. Returns
    /// the number of accounts.
    pub async fn backfill_panel_keys(&self) -> Result<usize, StoreError> {
        let mut done = 0;
        for found in self.scan_kind("ACCOUNT").await? {
            let account: renewals_domain::Account =
                attrs::json(&found, "body").map_err(unexpected)?;
            let t = &account.tenant;
            let id = s(t.id.as_str());
            let writes = [
                Write::put(
                    format!("address of {}", t.id),
                    item(
                        &keys::tenant_email(t.email.as_str()),
                        [("tenant", id.clone())],
                    ),
                ),
                Write::put(
                    format!("tenant {} listed", t.id),
                    item(&keys::tenant_listed(&t.id), [("tenant", id)]),
                ),
            ];
            self.send(&writes).await.map_err(|e| match e {
                Refused::Store(e) => e,
                Refused::Conditions(_) => StoreError::Conflict("unconditional put".into()),
            })?;
            done += 1;
        }
        Ok(done)
    }

    /// The audit entry `note` as a write, under its tenant, told apart by `cause`.
    fn note_write(note: &AuditEntry, cause: &str) -> Result<Write, StoreError> {
        let tenant = note
            .filed_under
            .as_ref()
            .ok_or_else(|| unexpected(anyhow::anyhow!("an audit entry without its tenant")))?;
        let key = keys::audit_note(tenant, note.at, cause, 0);
        let what = format!("audit entry {} exists", key.sk);
        Ok(Write::claim(what, item(&key, [("body", json_attr(note)?)])))
    }

    /// `first` and the audit entry in one transaction: `false` if `first`'s condition failed
    /// (nothing written).
    async fn with_note(&self, first: Write, note: &AuditEntry) -> Result<bool, StoreError> {
        // A fresh cause: the first write's condition, not the entry's key, keeps it to once.
        let cause = format!("panel-{}", crate::ids::next_message_id());
        match self.send(&[first, Self::note_write(note, &cause)?]).await {
            Ok(()) => Ok(true),
            Err(Refused::Conditions(failed)) if failed == [0] => Ok(false),
            Err(Refused::Conditions(_)) => Err(StoreError::Conflict("audit entry".into())),
            Err(Refused::Store(e)) => Err(e),
        }
    }

    /// The one item at `sk` in an outbox partition of the index (`PARKED`, `MSPARKED`,
    /// `KSEFPARKED`), if it is there.
    async fn index_entry(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI2)
            .key_condition_expression("GSI2PK = :pk AND GSI2SK = :sk")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":sk", s(sk))
            .send()
            .await
            .map_err(unexpected)?;
        Ok(out.items.unwrap_or_default().into_iter().next())
    }

    /// Puts the item found at `sk` under `parked` back under `due` in `pending`, attempts
    /// reset, if it is still parked there.
    async fn unpark(
        &self,
        parked: &str,
        sk: &str,
        pending: &str,
        due: String,
        note: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let Some(found) = self.index_entry(parked, sk).await? else {
            return Ok(false);
        };
        let key = crate::store::item_key(&found)?;
        let what = format!("{} / {} is no longer parked", key.pk, key.sk);
        let update = Write::update(
            what,
            key,
            "SET #gpk = :pending, #gsk = :due, #attempts = :zero, #parked = :no",
        )
        .only_if("#gpk = :parked AND #gsk = :seen")
        .name("#gpk", keys::GSI2PK)
        .name("#gsk", keys::GSI2SK)
        .name("#attempts", "attempts")
        .name("#parked", "parked")
        .value(":pending", s(pending))
        .value(":due", s(due))
        .value(":zero", n(0))
        .value(":no", AttributeValue::Bool(false))
        .value(":parked", s(parked))
        .value(":seen", s(sk));
        self.with_note(update, note).await
    }

    async fn index_items(&self, pk: &str) -> Result<Vec<Item>, StoreError> {
        let mut out = vec![];
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::GSI2)
                .key_condition_expression("GSI2PK = :pk")
                .expression_attribute_values(":pk", s(pk))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unexpected)?;
            out.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(out);
            }
        }
    }
}

#[async_trait]
impl PanelStore for DynamoStore {
    async fn add_operator(&self, op: &Operator, note: &AuditEntry) -> Result<bool, StoreError> {
        let email = op.email.to_lowercase();
        let mut record = key(format!("PANEL#OPERATOR#{email}"), "OPERATOR");
        record.extend([("email".into(), s(&email)), ("name".into(), s(&op.name))]);
        let put = Write::claim(format!("operator {email} exists"), record);
        self.with_note(put, note).await
    }

    async fn operator(&self, email: &str) -> Result<Option<Operator>, StoreError> {
        let email = email.to_lowercase();
        let Some(item) = self
            .get_panel(key(format!("PANEL#OPERATOR#{email}"), "OPERATOR"))
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(Operator {
            email,
            name: attrs::string(&item, "name")
                .map_err(unexpected)?
                .to_string(),
        }))
    }

    async fn tenant_by_email(&self, email: &str) -> Result<Option<TenantId>, StoreError> {
        let email = email.to_lowercase();
        let by_address = keys::tenant_email(&email).attributes();
        let found = self.get_panel(by_address).await?;
        let tenant = found
            .as_ref()
            .and_then(|item| attrs::string(item, "tenant").ok())
            .and_then(|t| TenantId::parse(t).ok());
        // The account, to check that the address is still the tenant's. An unknown address
        // reads an account that never exists instead: the same two reads either way, so the
        // sign-in's timing does not tell a customer's address from anyone else's.
        let account_key = match &tenant {
            Some(t) => keys::account(t).attributes(),
            None => key("PANEL#NOBODY".into(), "ACCOUNT"),
        };
        let account = self.get_panel(account_key).await?;
        let (Some(tenant), Some(account)) = (tenant, account) else {
            return Ok(None);
        };
        let account: renewals_domain::Account =
            attrs::json(&account, "body").map_err(unexpected)?;
        Ok((account.tenant.email.as_str().to_lowercase() == email).then_some(tenant))
    }

    async fn put_login_token(
        &self,
        hash: &str,
        who: Option<&Principal>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let fresh = self
            .put_new(
                key(format!("PANEL#LOGIN#{hash}"), "LOGIN"),
                HashMap::from([
                    ("who".into(), json(&who)?),
                    ("expires".into(), n(expires.timestamp())),
                    ("used".into(), n(0)),
                    ("ttl".into(), n(expires.timestamp() + 86_400)),
                ]),
            )
            .await?;
        if fresh {
            Ok(())
        } else {
            Err(StoreError::Conflict("sign-in token exists".into()))
        }
    }

    async fn take_login_token(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Principal>, StoreError> {
        // One conditional update: of two concurrent uses exactly one passes.
        match self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("PANEL#LOGIN#{hash}"), "LOGIN")))
            .update_expression("SET used = :one")
            .condition_expression("attribute_exists(PK) AND used = :zero AND expires > :now")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", n(now.timestamp()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
        {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                // A decoy's `who` is `null`: used up like any other, it signs nobody in.
                let who: Option<Principal> = attrs::json(&item, "who").map_err(unexpected)?;
                Ok(who)
            }
            Err(e) if conditional_failed(&e) => Ok(None),
            Err(e) => Err(unexpected(e)),
        }
    }

    async fn put_session(&self, hash: &str, session: &Session) -> Result<(), StoreError> {
        let fresh = self
            .put_new(
                key(format!("PANEL#SESSION#{hash}"), "SESSION"),
                HashMap::from([
                    ("body".into(), json(session)?),
                    ("expires".into(), n(session.expires.timestamp())),
                    ("ttl".into(), n(session.expires.timestamp())),
                ]),
            )
            .await?;
        if fresh {
            Ok(())
        } else {
            Err(StoreError::Conflict("session exists".into()))
        }
    }

    async fn session(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<Session>, StoreError> {
        let Some(item) = self
            .get_panel(key(format!("PANEL#SESSION#{hash}"), "SESSION"))
            .await?
        else {
            return Ok(None);
        };
        let session: Session = attrs::json(&item, "body").map_err(unexpected)?;
        // TTL removal is lazy: the expiry is checked here.
        Ok(Some(session).filter(|s| s.expires > now))
    }

    async fn delete_session(&self, hash: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("PANEL#SESSION#{hash}"), "SESSION")))
            .send()
            .await
            .map_err(unexpected)?;
        Ok(())
    }

    async fn hit(&self, name: &str, window: DateTime<Utc>) -> Result<u32, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                format!("PANEL#RATE#{name}#{}", window.timestamp()),
                "RATE",
            )))
            .update_expression("ADD hits :one SET #ttl = :ttl")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ttl", n(window.timestamp() + 86_400))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(unexpected)?;
        let item = out.attributes.unwrap_or_default();
        attrs::number(&item, "hits").map_err(unexpected)
    }

    async fn tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        let mut ids = vec![];
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(":pk", s(keys::TENANTS))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unexpected)?;
            for item in page.items.unwrap_or_default() {
                let id = attrs::string(&item, keys::SK).map_err(unexpected)?;
                ids.push(TenantId::parse(id).map_err(|e| unexpected(anyhow::anyhow!("{e}")))?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                // The sort key is the id: already in id order.
                return Ok(ids);
            }
        }
    }

    async fn reviews(&self) -> Result<Vec<(ReviewItem, Option<ReviewDecision>)>, StoreError> {
        let mut out = vec![];
        for item in self.scan_kind("REVIEW").await? {
            let review: ReviewItem = attrs::json(&item, "body").map_err(unexpected)?;
            let decision = self
                .get_panel(key(format!("PANEL#REVIEW#{}", review.key), "DECISION"))
                .await?
                .map(|d| attrs::json(&d, "body").map_err(unexpected))
                .transpose()?;
            out.push((review, decision));
        }
        out.sort_by_key(|(r, _)| r.received_on);
        Ok(out)
    }

    async fn decide_review(
        &self,
        review: &str,
        d: &ReviewDecision,
        note: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut record = key(format!("PANEL#REVIEW#{review}"), "DECISION");
        record.insert("body".into(), json(d)?);
        let put = Write::claim(format!("review {review} decided"), record);
        self.with_note(put, note).await
    }

    async fn parked_messages(&self) -> Result<Vec<StoredMessage>, StoreError> {
        self.index_items("PARKED")
            .await?
            .iter()
            .map(crate::store::message_from)
            .collect()
    }

    async fn parked_commands(&self) -> Result<Vec<StoredCommand>, StoreError> {
        self.index_items("MSPARKED")
            .await?
            .iter()
            .map(crate::store::command_from)
            .collect()
    }

    async fn parked_submissions(&self) -> Result<Vec<ParkedSubmission>, StoreError> {
        self.index_items(keys::KSEF_PARKED)
            .await?
            .iter()
            .map(|item| {
                let stored = crate::invoices::invoice_from(item)?;
                Ok(ParkedSubmission {
                    number: stored.invoice.number.to_string(),
                    tenant: stored.invoice.tenant.clone(),
                    status: stored.submission.status.as_str().to_string(),
                    reason: stored.submission.reason.clone(),
                    attempts: stored.submission.attempts,
                })
            })
            .collect()
    }

    async fn retry_message(&self, id: i64, note: &AuditEntry) -> Result<bool, StoreError> {
        // Due at once, as SQLite's `next_attempt = 0`.
        let due = keys::outbox_due(0, id);
        self.unpark(keys::PARKED, &keys::padded(id), keys::UNSENT, due, note)
            .await
    }

    async fn retry_command(&self, id: i64, note: &AuditEntry) -> Result<bool, StoreError> {
        let due = keys::outbox_due(0, id);
        self.unpark(
            keys::MS_PARKED,
            &keys::padded(id),
            keys::MS_PENDING,
            due,
            note,
        )
        .await
    }

    async fn retry_submission(
        &self,
        number: &str,
        now: DateTime<Utc>,
        note: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let Ok(parsed) = renewals_domain::InvoiceNumber::parse(number) else {
            return Ok(false);
        };
        let ordinal = keys::invoice_ordinal(&parsed);
        let Some(found) = self
            .index_entry(keys::KSEF_PARKED, &keys::padded(ordinal))
            .await?
        else {
            return Ok(false);
        };
        let mut submission = crate::invoices::invoice_from(&found)?.submission;
        // Sent afresh: KSeF's earlier references and verdict no longer apply.
        submission.status = renewals_app::ports::KsefStatus::Pending;
        submission.sent = None;
        submission.parked = false;
        submission.attempts = 0;
        submission.next_attempt = now;
        let key = keys::invoice(&parsed_tenant(&found)?, &parsed);
        let update = Write::update(
            format!("invoice {number} is no longer parked"),
            key,
            "SET #gpk = :ksef, #gsk = :due, #submission = :submission",
        )
        .only_if("#gpk = :parked AND #gsk = :seen")
        .name("#gpk", keys::GSI2PK)
        .name("#gsk", keys::GSI2SK)
        .name("#submission", "submission")
        .value(":ksef", s(keys::KSEF))
        .value(":due", s(keys::outbox_due(now.timestamp_millis(), ordinal)))
        .value(":submission", json(&submission)?)
        .value(":parked", s(keys::KSEF_PARKED))
        .value(":seen", s(keys::padded(ordinal)));
        self.with_note(update, note).await
    }
}

fn parsed_tenant(item: &Item) -> Result<TenantId, StoreError> {
    let pk = attrs::string(item, keys::PK).map_err(unexpected)?;
    keys::tenant_of_pk(pk).ok_or_else(|| unexpected(anyhow::anyhow!("invoice item under {pk}")))
}
