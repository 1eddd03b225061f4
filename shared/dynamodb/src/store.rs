//! The `Store` port's reads, and the plumbing they share with the writes.

use crate::attrs::{self, Item};
use crate::commit::{Refused, Write};
use crate::keys::{self, Key};
use crate::{Counters, DynamoStore};
use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt};
use renewals_app::audit::AuditEntry;
use renewals_app::ports::{
    Change, Content, Loaded, OutboxMessage, PaymentRecord, Retry, ReviewItem, Store, StoreError,
    StoredCommand, StoredInvoice, StoredMessage,
};
use renewals_domain::{
    Document, DocumentNumber, DocumentStatus, InvoiceNumber, InvoiceSeries, SeriesKey, SessionId,
    SubscriptionId, TenantId,
};
use std::collections::{BTreeSet, HashMap};

pub(crate) fn unexpected(e: impl Into<anyhow::Error>) -> StoreError {
    StoreError::Unexpected(e.into())
}

/// How many outbox requests `mark_sent` keeps in flight.
const MARK_SENT_CONCURRENCY: usize = 8;
/// Messages marked sent per `TransactWriteItems`: DynamoDB's limit on one transaction.
const MARK_SENT_PER_TRANSACTION: usize = 100;

/// A query: key condition, names and values, on the table or an index.
pub(crate) struct Query<'a> {
    index: Option<&'a str>,
    condition: &'a str,
    names: &'a [(&'a str, &'a str)],
    values: Vec<(&'a str, AttributeValue)>,
    projection: Option<&'a str>,
    /// Stop once this many items are in.
    limit: Option<usize>,
}

impl DynamoStore {
    /// One item by key, strongly consistent: versions and counters must be current.
    pub(crate) async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        Counters::bump(&self.counters.get);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.attributes()))
            .consistent_read(true)
            .send()
            .await
            .with_context(|| format!("GetItem {} / {}", key.pk, key.sk))
            .map_err(unexpected)?;
        Ok(out.item)
    }

    /// Every item a query matches, page after page (`LastEvaluatedKey`) up to its limit.
    pub(crate) async fn query(&self, q: Query<'_>) -> Result<Vec<Item>, StoreError> {
        let names: HashMap<String, String> = q
            .names
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let values: Item = q
            .values
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let mut items = vec![];
        let mut start: Option<Item> = None;
        loop {
            Counters::bump(&self.counters.query);
            let remaining = q.limit.map(|l| l.saturating_sub(items.len()));
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(q.index.map(str::to_string))
                // Index reads are eventually consistent by nature; table reads need not be.
                .consistent_read(q.index.is_none())
                .key_condition_expression(q.condition)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .set_projection_expression(q.projection.map(str::to_string))
                .set_limit(remaining.map(|r| r.clamp(1, i32::MAX as usize) as i32))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .with_context(|| {
                    format!("Query {} where {}", q.index.unwrap_or("table"), q.condition)
                })
                .map_err(unexpected)?;
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key.filter(|k| !k.is_empty());
            let full = q.limit.is_some_and(|l| items.len() >= l);
            if start.is_none() || full {
                break;
            }
        }
        if let Some(limit) = q.limit {
            items.truncate(limit);
        }
        Ok(items)
    }

    /// The items of one tenant's partition whose sort key starts with `prefix`.
    pub(crate) async fn tenant_items(
        &self,
        tenant: &TenantId,
        prefix: &str,
    ) -> Result<Vec<Item>, StoreError> {
        self.query(Query {
            index: None,
            condition: "#pk = :pk AND begins_with(#sk, :prefix)",
            names: &[("#pk", keys::PK), ("#sk", keys::SK)],
            values: vec![
                (":pk", attrs::s(keys::tenant_pk(tenant))),
                (":prefix", attrs::s(prefix)),
            ],
            projection: None,
            limit: None,
        })
        .await
    }

    /// The tenant a document number belongs to, from memory or its number item.
    pub(crate) async fn document_tenant(
        &self,
        number: &DocumentNumber,
    ) -> Result<Option<TenantId>, StoreError> {
        let text = number.to_string();
        if let Some(tenant) = self.remembered_document_tenant(&text) {
            return Ok(Some(tenant));
        }
        let Some(item) = self.get(&keys::document_number(number)).await? else {
            return Ok(None);
        };
        let tenant = tenant_attribute(&item)?;
        self.remember_document_tenant(text, tenant.clone());
        Ok(Some(tenant))
    }

    async fn document_of(
        &self,
        tenant: &TenantId,
        number: &DocumentNumber,
    ) -> Result<Option<Document>, StoreError> {
        self.get(&keys::document(tenant, number))
            .await?
            .map(|item| document_from(&item))
            .transpose()
    }

    /// Due accounts of one shard: next action on or before `date`.
    async fn due_in_shard(&self, shard: u32, date: NaiveDate) -> Result<Vec<TenantId>, StoreError> {
        let items = self
            .query(Query {
                index: Some(keys::GSI1),
                condition: "#pk = :pk AND #sk <= :upper",
                names: &[("#pk", keys::GSI1PK), ("#sk", keys::GSI1SK)],
                values: vec![
                    (":pk", attrs::s(keys::due_pk(shard))),
                    (":upper", attrs::s(keys::due_upper(date))),
                ],
                projection: None,
                limit: None,
            })
            .await?;
        items
            .iter()
            .map(|item| {
                let pk = attrs::string(item, keys::PK).map_err(unexpected)?;
                keys::tenant_of_pk(pk)
                    .ok_or_else(|| unexpected(anyhow::anyhow!("due index entry with key {pk}")))
            })
            .collect()
    }

    /// Where the messages with these ids live, from the unsent index: for ids this store
    /// did not list itself. One range query finds a whole batch.
    async fn unsent_keys(&self, ids: &BTreeSet<i64>) -> Result<Vec<Key>, StoreError> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let found = self
            .query(Query {
                index: Some(keys::GSI2),
                condition: "#pk = :pk",
                names: &[
                    ("#pk", keys::GSI2PK),
                    ("#tpk", keys::PK),
                    ("#tsk", keys::SK),
                    ("#id", "id"),
                ],
                values: vec![(":pk", attrs::s(keys::UNSENT))],
                projection: Some("#tpk, #tsk, #id"),
                limit: None,
            })
            .await?;
        let mut targets = vec![];
        for item in &found {
            let id: i64 = attrs::number(item, "id").map_err(unexpected)?;
            if ids.contains(&id) {
                targets.push(item_key(item)?);
            }
        }
        Ok(targets)
    }

    /// The items of an outbox partition of the due index (e-mails `UNSENT`, Microsoft
    /// commands `MS_PENDING`) whose next attempt is due at `now`, due first, at most `limit`.
    pub(crate) async fn due_in(
        &self,
        partition: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        if limit == 0 {
            return Ok(vec![]);
        }
        self.query(Query {
            index: Some(keys::GSI2),
            condition: "#pk = :pk AND #sk <= :due",
            names: &[("#pk", keys::GSI2PK), ("#sk", keys::GSI2SK)],
            values: vec![
                (":pk", attrs::s(partition)),
                (
                    ":due",
                    attrs::s(keys::outbox_due_upper(now.timestamp_millis())),
                ),
            ],
            projection: None,
            limit: Some(limit),
        })
        .await
    }

    /// Where the messages with this id live: remembered from a claim, else looked up.
    async fn message_keys(&self, id: i64) -> Result<Vec<Key>, StoreError> {
        match self.take_message_keys(id) {
            Some(known) => Ok(known),
            None => self.unsent_keys(&BTreeSet::from([id])).await,
        }
    }

    /// Claims one message seen in the unsent index: moves it to `until` if it is still
    /// where it was seen (another deliverer's claim, or its being sent, moved it).
    async fn claim_one(
        &self,
        item: &Item,
        until_ms: i64,
    ) -> Result<Option<StoredMessage>, StoreError> {
        let mut message = message_from(item)?;
        let key = item_key(item)?;
        let seen = attrs::string(item, keys::GSI2SK).map_err(unexpected)?;
        let what = format!("message {} / {} claimed", key.pk, key.sk);
        let claim = Write::update(
            what,
            key,
            "SET #gsk = :until, #attempts = if_not_exists(#attempts, :zero) + :one",
        )
        .only_if("#gpk = :unsent AND #gsk = :seen")
        .name("#gpk", keys::GSI2PK)
        .name("#gsk", keys::GSI2SK)
        .name("#attempts", "attempts")
        .value(":unsent", attrs::s(keys::UNSENT))
        .value(":seen", attrs::s(seen))
        .value(":until", attrs::s(keys::outbox_due(until_ms, message.id)))
        .value(":zero", attrs::n(0))
        .value(":one", attrs::n(1));
        match self.send_one(&claim).await {
            Ok(()) => {
                message.attempts += 1;
                Ok(Some(message))
            }
            Err(Refused::Conditions(_)) => Ok(None),
            Err(Refused::Store(e)) => Err(e),
        }
    }

    /// Marks up to 100 messages sent in one request: a transaction, since a batch write
    /// cannot update (one message goes as a plain `UpdateItem`, half the capacity). Sent
    /// and classified like every other write (`commit::send`).
    async fn mark_batch_sent(&self, batch: Vec<Key>) -> Result<(), StoreError> {
        let writes: Vec<Write> = batch.into_iter().map(sent_write).collect();
        match self.send(&writes).await {
            Ok(()) => Ok(()),
            // A message that is not there, or another run marking the same ones at the
            // same moment: one by one then, where neither is an error.
            Err(Refused::Conditions(_)) | Err(Refused::Store(StoreError::Conflict(_))) => {
                tracing::debug!(messages = writes.len(), "marking sent one by one");
                futures::stream::iter(0..writes.len())
                    .map(|i| self.send_one(&writes[i]))
                    .buffer_unordered(MARK_SENT_CONCURRENCY)
                    .map(|sent| match sent {
                        // Nothing there to mark, as when SQLite's UPDATE matches no row.
                        Ok(()) | Err(Refused::Conditions(_)) => Ok(()),
                        Err(Refused::Store(e)) => Err(e),
                    })
                    .try_collect::<Vec<()>>()
                    .await?;
                Ok(())
            }
            Err(Refused::Store(e)) => Err(e),
        }
    }
}

/// Marking a message sent: leaving the unsent index is what marks it (the index is
/// sparse). The condition keeps an update from creating an item where there is none.
fn sent_write(key: Key) -> Write {
    let what = format!("message {} / {} is gone", key.pk, key.sk);
    Write::update(what, key, "SET #sent = :sent REMOVE #gpk, #gsk")
        .only_if("attribute_exists(#pk)")
        .name("#sent", "sent")
        .name("#gpk", keys::GSI2PK)
        .name("#gsk", keys::GSI2SK)
        .name("#pk", keys::PK)
        .value(":sent", AttributeValue::Bool(true))
}

/// The table key of an item (or of an index entry, which carries it).
pub(crate) fn command_from(item: &Item) -> Result<StoredCommand, StoreError> {
    let body = attrs::string(item, "body").map_err(unexpected)?;
    Ok(StoredCommand {
        id: attrs::number(item, "id").map_err(unexpected)?,
        tenant: tenant_attribute(item)?,
        command: serde_json::from_str(body)
            .context("stored Microsoft command")
            .map_err(unexpected)?,
        done: attrs::boolean(item, "done").map_err(unexpected)?,
        attempts: attrs::optional_number(item, "attempts")
            .map_err(unexpected)?
            .unwrap_or(0),
        parked: attrs::optional_string(item, keys::GSI2PK).map_err(unexpected)?
            == Some(keys::MS_PARKED),
        last_error: attrs::optional_string(item, "last_error")
            .map_err(unexpected)?
            .map(str::to_string),
    })
}

pub(crate) fn item_key(item: &Item) -> Result<Key, StoreError> {
    let text = |name| {
        attrs::string(item, name)
            .map(str::to_string)
            .map_err(unexpected)
    };
    Ok(Key {
        pk: text(keys::PK)?,
        sk: text(keys::SK)?,
    })
}

fn tenant_attribute(item: &Item) -> Result<TenantId, StoreError> {
    let t = attrs::string(item, "tenant").map_err(unexpected)?;
    TenantId::parse(t).map_err(|e| unexpected(anyhow::anyhow!("stored tenant id: {e}")))
}

fn date_attribute(item: &Item, name: &str) -> Result<NaiveDate, StoreError> {
    let d = attrs::string(item, name).map_err(unexpected)?;
    NaiveDate::parse_from_str(d, "%Y-%m-%d")
        .with_context(|| format!("stored date {name} = {d}"))
        .map_err(unexpected)
}

fn parse_status(s: &str) -> Result<DocumentStatus, StoreError> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .with_context(|| format!("stored document status {s}"))
        .map_err(unexpected)
}

/// A document: the body as issued, with the status attribute that status changes update.
fn document_from(item: &Item) -> Result<Document, StoreError> {
    let mut doc: Document = attrs::json(item, "body").map_err(unexpected)?;
    doc.status = parse_status(attrs::string(item, "status").map_err(unexpected)?)?;
    Ok(doc)
}

pub(crate) fn message_from(item: &Item) -> Result<StoredMessage, StoreError> {
    let text = |name| {
        attrs::string(item, name)
            .map(str::to_string)
            .map_err(unexpected)
    };
    Ok(StoredMessage {
        id: attrs::number(item, "id").map_err(unexpected)?,
        message: OutboxMessage {
            key: text("key")?,
            tenant: tenant_attribute(item)?,
            kind: text("kind")?,
            to: text("recipient")?,
            subject: text("subject")?,
            document: attrs::optional_string(item, "document")
                .map_err(unexpected)?
                .map(str::to_string),
            date: date_attribute(item, "date")?,
            // Items queued before letters hold their MIME; both are read.
            content: if item.contains_key("letter") {
                Content::Letter(attrs::json(item, "letter").map_err(unexpected)?)
            } else {
                Content::Mime(attrs::bytes(item, "mime").map_err(unexpected)?)
            },
        },
        sent: attrs::boolean(item, "sent").map_err(unexpected)?,
        attempts: attrs::optional_number(item, "attempts")
            .map_err(unexpected)?
            .unwrap_or(0),
        parked: attrs::optional_string(item, keys::GSI2PK).map_err(unexpected)?
            == Some(keys::PARKED),
    })
}

#[async_trait]
impl Store for DynamoStore {
    async fn load_account(&self, tenant: &TenantId) -> Result<Option<Loaded>, StoreError> {
        let Some(item) = self.get(&keys::account(tenant)).await? else {
            return Ok(None);
        };
        Ok(Some(Loaded {
            account: attrs::json(&item, "body").map_err(unexpected)?,
            version: attrs::number(&item, "version").map_err(unexpected)?,
        }))
    }

    async fn tenant_of(&self, sub: &SubscriptionId) -> Result<Option<TenantId>, StoreError> {
        self.get(&keys::subscription(sub))
            .await?
            .map(|item| tenant_attribute(&item))
            .transpose()
    }

    async fn due_tenants(
        &self,
        date: NaiveDate,
        after: Option<&TenantId>,
        limit: usize,
    ) -> Result<Vec<TenantId>, StoreError> {
        if limit == 0 {
            return Ok(vec![]);
        }
        // The index is ordered by date within a shard, the answer by tenant across shards:
        // every shard's due entries are read, then merged. Entries are keys only (~100 B).
        let shards = (0..self.shards).map(|shard| self.due_in_shard(shard, date));
        let mut tenants: Vec<TenantId> = futures::future::try_join_all(shards)
            .await?
            .into_iter()
            .flatten()
            .filter(|t| after.is_none_or(|a| t > a))
            .collect();
        tenants.sort();
        tenants.dedup();
        tenants.truncate(limit);
        Ok(tenants)
    }

    fn due_shards(&self) -> u32 {
        self.shards
    }

    async fn due_page(
        &self,
        shard: u32,
        date: NaiveDate,
        after: Option<&str>,
        limit: usize,
    ) -> Result<renewals_app::ports::DuePage, StoreError> {
        self.due_page_of_shard(shard, date, after, limit).await
    }

    async fn last_number(&self, series: SeriesKey) -> Result<u32, StoreError> {
        match self.get(&keys::counter(series)).await? {
            Some(item) => attrs::number(&item, "last").map_err(unexpected),
            None => Ok(0),
        }
    }

    async fn document(&self, number: &DocumentNumber) -> Result<Option<Document>, StoreError> {
        match self.document_tenant(number).await? {
            Some(tenant) => self.document_of(&tenant, number).await,
            None => Ok(None),
        }
    }

    async fn document_by_session(
        &self,
        session_id: &SessionId,
    ) -> Result<Option<Document>, StoreError> {
        let Some(item) = self.get(&keys::session(session_id.as_str())).await? else {
            return Ok(None);
        };
        let tenant = tenant_attribute(&item)?;
        let number = attrs::string(&item, "number").map_err(unexpected)?;
        let number = DocumentNumber::parse(number)
            .map_err(|e| unexpected(anyhow::anyhow!("stored document number: {e}")))?;
        self.remember_document_tenant(number.to_string(), tenant.clone());
        self.document_of(&tenant, &number).await
    }

    async fn documents_of(&self, tenant: &TenantId) -> Result<Vec<Document>, StoreError> {
        let items = self.tenant_items(tenant, keys::DOC_PREFIX).await?;
        let mut docs = items
            .iter()
            .map(|item| {
                let order: u64 = attrs::number(item, "ord").map_err(unexpected)?;
                Ok((order, document_from(item)?))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Issue order, as the embedded store's row order; stable, so ties stay by number.
        docs.sort_by_key(|(order, _)| *order);
        Ok(docs.into_iter().map(|(_, d)| d).collect())
    }

    async fn payment(&self, key: &str) -> Result<Option<PaymentRecord>, StoreError> {
        self.get(&keys::payment(key))
            .await?
            .map(|item| attrs::json(&item, "body").map_err(unexpected))
            .transpose()
    }

    async fn review_item(&self, key: &str) -> Result<Option<ReviewItem>, StoreError> {
        self.get(&keys::review(key))
            .await?
            .map(|item| attrs::json(&item, "body").map_err(unexpected))
            .transpose()
    }

    async fn emails_of(&self, tenant: &TenantId) -> Result<Vec<OutboxMessage>, StoreError> {
        let items = self.tenant_items(tenant, keys::EMAIL_PREFIX).await?;
        items
            .iter()
            .map(|item| message_from(item).map(|m| m.message))
            .collect()
    }

    async fn unsent(&self, limit: usize) -> Result<Vec<StoredMessage>, StoreError> {
        if limit == 0 {
            return Ok(vec![]);
        }
        let items = self
            .query(Query {
                index: Some(keys::GSI2),
                condition: "#pk = :pk",
                names: &[("#pk", keys::GSI2PK)],
                values: vec![(":pk", attrs::s(keys::UNSENT))],
                projection: None,
                limit: Some(limit),
            })
            .await?;
        let messages = items
            .iter()
            .map(message_from)
            .collect::<Result<Vec<_>, _>>()?;
        // `mark_sent` will want these, and then needs no lookup.
        let found = items
            .iter()
            .zip(&messages)
            .map(|(item, m)| Ok((m.id, item_key(item)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.remember_message_keys(found);
        Ok(messages)
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let items = self.due_in(keys::UNSENT, now, limit).await?;
        let until_ms = until.timestamp_millis();
        let items = &items;
        let claimed: Vec<(StoredMessage, Key)> = futures::stream::iter(0..items.len())
            .map(|i| async move {
                let Some(claimed) = self.claim_one(&items[i], until_ms).await? else {
                    return Ok::<_, StoreError>(None);
                };
                Ok(Some((claimed, item_key(&items[i])?)))
            })
            .buffered(MARK_SENT_CONCURRENCY)
            .try_filter_map(|found| async move { Ok(found) })
            .try_collect()
            .await?;
        // `mark_sent` and `mark_failed` will want these, and then need no lookup.
        self.remember_message_keys(claimed.iter().map(|(m, key)| (m.id, key.clone())));
        let mut messages: Vec<StoredMessage> = claimed.into_iter().map(|(m, _)| m).collect();
        messages.sort_by_key(|m| m.id);
        Ok(messages)
    }

    async fn mark_failed(&self, id: i64, retry: Retry, error: &str) -> Result<(), StoreError> {
        for key in self.message_keys(id).await? {
            let what = format!("message {} / {} was sent", key.pk, key.sk);
            let write = match &retry {
                Retry::At(at) => Write::update(what, key, "SET #gsk = :next, #error = :error")
                    .value(
                        ":next",
                        attrs::s(keys::outbox_due(at.timestamp_millis(), id)),
                    ),
                Retry::Park => Write::update(
                    what,
                    key,
                    "SET #gpk = :parked, #gsk = :id, #parked = :yes, #error = :error",
                )
                .name("#gpk", keys::GSI2PK)
                .name("#parked", "parked")
                .value(":parked", attrs::s(keys::PARKED))
                .value(":id", attrs::s(keys::padded(id)))
                .value(":yes", AttributeValue::Bool(true)),
            }
            .only_if("attribute_exists(#gsk)")
            .name("#gsk", keys::GSI2SK)
            .name("#error", "last_error")
            .value(":error", attrs::s(error));
            match self.send_one(&write).await {
                // Sent meanwhile by someone else (the lease ran out): nothing to record.
                Ok(()) | Err(Refused::Conditions(_)) => {}
                Err(Refused::Store(e)) => return Err(e),
            }
        }
        Ok(())
    }

    async fn messages_about(
        &self,
        tenant: &TenantId,
        document: &str,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let items = self.tenant_items(tenant, keys::EMAIL_PREFIX).await?;
        let messages = items
            .iter()
            .map(message_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(messages
            .into_iter()
            .filter(|m| m.message.document.as_deref() == Some(document))
            .collect())
    }

    async fn mark_sent(&self, ids: &[i64]) -> Result<(), StoreError> {
        let wanted: BTreeSet<i64> = ids.iter().copied().collect();
        // Ids come from `unsent`, which remembered where each message lives; any other id
        // is looked up in the unsent index (an id in neither is not unsent: nothing to do).
        let mut targets = vec![];
        let mut unknown = BTreeSet::new();
        for id in wanted {
            match self.take_message_keys(id) {
                Some(known) => targets.extend(known),
                None => {
                    unknown.insert(id);
                }
            }
        }
        // Distinct ids, distinct keys (the id is part of the key): no transaction names an
        // item twice, which DynamoDB would refuse.
        targets.extend(self.unsent_keys(&unknown).await?);
        let batches: Vec<Vec<Key>> = targets
            .chunks(MARK_SENT_PER_TRANSACTION)
            .map(<[Key]>::to_vec)
            .collect();
        futures::stream::iter(batches)
            .map(|batch| self.mark_batch_sent(batch))
            .buffer_unordered(MARK_SENT_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn bank_note(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.get(&keys::bank_note(key))
            .await?
            .map(|item| {
                attrs::string(&item, "value")
                    .map(str::to_string)
                    .map_err(unexpected)
            })
            .transpose()
    }

    async fn add_bank_note(&self, key: &str, value: &str) -> Result<bool, StoreError> {
        let mut item = keys::bank_note(key).attributes();
        item.insert("value".to_string(), attrs::s(value));
        Counters::bump(&self.counters.put);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", keys::PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(unexpected(anyhow::Error::new(e).context(format!("PutItem BANK#{key}")))),
            },
        }
    }

    async fn commit(&self, change: Change) -> Result<(), StoreError> {
        self.write_change(change).await
    }

    async fn last_invoice_number(&self, series: InvoiceSeries) -> Result<u32, StoreError> {
        match self.get(&keys::invoice_counter(series)).await? {
            Some(item) => attrs::number(&item, "last").map_err(unexpected),
            None => Ok(0),
        }
    }

    async fn invoice(&self, number: &InvoiceNumber) -> Result<Option<StoredInvoice>, StoreError> {
        self.stored_invoice(number).await
    }

    async fn invoices_of(&self, tenant: &TenantId) -> Result<Vec<StoredInvoice>, StoreError> {
        self.tenant_invoices(tenant).await
    }

    async fn claim_submissions(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<StoredInvoice>, StoreError> {
        self.claim_invoices(now, until, limit).await
    }

    async fn save_invoice(
        &self,
        invoice: &StoredInvoice,
        emails: Vec<OutboxMessage>,
    ) -> Result<(), StoreError> {
        self.write_invoice(invoice, emails).await
    }

    async fn audit_of(&self, tenant: &TenantId) -> Result<Vec<AuditEntry>, StoreError> {
        let items = self.tenant_items(tenant, keys::AUDIT_PREFIX).await?;
        items
            .iter()
            .map(|item| attrs::json(item, "body").map_err(unexpected))
            .collect()
    }

    async fn microsoft_commands_of(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<StoredCommand>, StoreError> {
        let items = self.tenant_items(tenant, keys::MSCMD_PREFIX).await?;
        items.iter().map(command_from).collect()
    }

    /// As `claim_due`: read what is due in the index, then claim each with a condition on
    /// the place it was seen at, so two workers never both get one.
    async fn claim_commands(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<StoredCommand>, StoreError> {
        let items = self.due_in(keys::MS_PENDING, now, limit).await?;
        let mut claimed = vec![];
        for item in &items {
            let mut command = command_from(item)?;
            let key = item_key(item)?;
            let seen = attrs::string(item, keys::GSI2SK).map_err(unexpected)?;
            let claim = Write::update(
                format!("Microsoft command {} claimed", command.id),
                key,
                "SET #gsk = :until, #attempts = if_not_exists(#attempts, :zero) + :one",
            )
            .only_if("#gpk = :pending AND #gsk = :seen")
            .name("#gpk", keys::GSI2PK)
            .name("#gsk", keys::GSI2SK)
            .name("#attempts", "attempts")
            .value(":pending", attrs::s(keys::MS_PENDING))
            .value(":seen", attrs::s(seen))
            .value(
                ":until",
                attrs::s(keys::outbox_due(until.timestamp_millis(), command.id)),
            )
            .value(":zero", attrs::n(0))
            .value(":one", attrs::n(1));
            match self.send_one(&claim).await {
                Ok(()) => {
                    command.attempts += 1;
                    claimed.push(command);
                }
                Err(Refused::Conditions(_)) => {}
                Err(Refused::Store(e)) => return Err(e),
            }
        }
        claimed.sort_by_key(|c| c.id);
        Ok(claimed)
    }

    async fn mark_command_done(&self, command: &StoredCommand) -> Result<(), StoreError> {
        let key = keys::microsoft_command(&command.tenant, command.id);
        let write = Write::update(
            format!("Microsoft command {} done", command.id),
            key,
            "SET #done = :yes REMOVE #gpk, #gsk, #error",
        )
        .only_if("attribute_exists(#pk)")
        .name("#pk", keys::PK)
        .name("#done", "done")
        .name("#gpk", keys::GSI2PK)
        .name("#gsk", keys::GSI2SK)
        .name("#error", "last_error")
        .value(":yes", AttributeValue::Bool(true));
        match self.send_one(&write).await {
            Ok(()) => Ok(()),
            Err(Refused::Conditions(_)) => Err(StoreError::NotFound(format!(
                "Microsoft command {}",
                command.id
            ))),
            Err(Refused::Store(e)) => Err(e),
        }
    }

    async fn mark_command_failed(
        &self,
        command: &StoredCommand,
        retry: Retry,
        error: &str,
    ) -> Result<(), StoreError> {
        let (id, key) = (
            command.id,
            keys::microsoft_command(&command.tenant, command.id),
        );
        let what = format!("Microsoft command {id} failed");
        let write = match &retry {
            Retry::At(at) => Write::update(what, key, "SET #gsk = :next, #error = :error").value(
                ":next",
                attrs::s(keys::outbox_due(at.timestamp_millis(), id)),
            ),
            Retry::Park => {
                Write::update(what, key, "SET #gpk = :parked, #gsk = :id, #error = :error")
                    .name("#gpk", keys::GSI2PK)
                    .value(":parked", attrs::s(keys::MS_PARKED))
                    .value(":id", attrs::s(keys::padded(id)))
            }
        }
        // Not done meanwhile by another worker whose lease it was.
        .only_if("#done = :no")
        .name("#done", "done")
        .value(":no", AttributeValue::Bool(false))
        .name("#gsk", keys::GSI2SK)
        .name("#error", "last_error")
        .value(":error", attrs::s(error));
        match self.send_one(&write).await {
            Ok(()) | Err(Refused::Conditions(_)) => Ok(()),
            Err(Refused::Store(e)) => Err(e),
        }
    }
}
