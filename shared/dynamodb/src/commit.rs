//! `commit`: one change as one `TransactWriteItems`, every rule a condition expression.
//!
//! | what the change holds | item(s) written | condition |
//! | --- | --- | --- |
//! | account, version 0 | account | `attribute_not_exists(PK)` |
//! | account, version v | account (version v + 1) | `version = v` |
//! | its subscriptions | `SUB#` → tenant | none (rewriting the same tenant is harmless) |
//! | counter (before, after) | counter = after | `last = before` (or no counter yet when before is 0) |
//! | new document | body, number item, session item | `attribute_not_exists(PK)` on each |
//! | status change | `SET status` on the body | `attribute_exists(PK)` |
//! | e-mail | key item, message item (id made in memory) | `attribute_not_exists(PK)` on each |
//! | payment, review | one item by order id | `attribute_not_exists(PK)` |
//! | VAT invoice | invoice counter, invoice, number item, `INVFOR` item | `last = before`; `attribute_not_exists(PK)` on each |
//!
//! A change costs that one request. Nothing is read first: e-mail ids come from
//! [`crate::ids`], and a status change of the account's own document finds the document's
//! item in the account's partition (a wrong guess fails its condition, and only then is the
//! document's tenant looked up).

use crate::attrs::{self, Item};
use crate::ids::next_message_id;
use crate::keys::{self, Key};
use crate::store::unexpected;
use crate::{Counters, DynamoStore};
use anyhow::anyhow;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use renewals_app::ports::{Change, Content, OutboxMessage, StoreError};
use renewals_domain::{
    Account, Document, DocumentNumber, DocumentStatus, SubscriptionId, TenantId,
};
use std::collections::{HashMap, HashSet};

/// DynamoDB's limits on one transaction and one item.
const MAX_TRANSACTION_ITEMS: usize = 100;
const MAX_TRANSACTION_BYTES: usize = 4 * 1024 * 1024;
const MAX_ITEM_BYTES: usize = 400 * 1024;

/// Documents of one account sort by the account version that issued them, then by their
/// place in the change: the order they were issued in.
const DOCUMENTS_PER_CHANGE: u64 = 10_000;

enum Op {
    Put(Item),
    Update { key: Key, expression: String },
}

/// One write of a change, with what its failed condition means to the caller.
pub(crate) struct Write {
    what: String,
    op: Op,
    condition: Option<String>,
    names: HashMap<String, String>,
    values: Item,
}

impl Write {
    pub(crate) fn put(what: String, item: Item) -> Write {
        Write {
            what,
            op: Op::Put(item),
            condition: None,
            names: HashMap::new(),
            values: HashMap::new(),
        }
    }

    /// A put that refuses to replace anything: how a unique key is claimed.
    pub(crate) fn claim(what: String, item: Item) -> Write {
        Write::put(what, item)
            .only_if("attribute_not_exists(#pk)")
            .name("#pk", keys::PK)
    }

    pub(crate) fn update(what: String, key: Key, expression: &str) -> Write {
        Write {
            op: Op::Update {
                key,
                expression: expression.to_string(),
            },
            ..Write::put(what, HashMap::new())
        }
    }

    /// Replaces an update's expression (built after its names and values).
    pub(crate) fn set_expression(&mut self, new: &str) {
        if let Op::Update { expression, .. } = &mut self.op {
            *expression = new.to_string();
        }
    }

    pub(crate) fn only_if(mut self, condition: &str) -> Write {
        self.condition = Some(condition.to_string());
        self
    }

    pub(crate) fn name(mut self, placeholder: &str, name: &str) -> Write {
        self.names.insert(placeholder.to_string(), name.to_string());
        self
    }

    pub(crate) fn value(mut self, placeholder: &str, value: AttributeValue) -> Write {
        self.values.insert(placeholder.to_string(), value);
        self
    }

    fn size(&self) -> usize {
        match &self.op {
            Op::Put(item) => attrs::size(item),
            Op::Update { key, .. } => key.pk.len() + key.sk.len() + attrs::size(&self.values),
        }
    }

    /// DynamoDB refuses empty maps of names or values.
    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<Item> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    fn transact_item(&self, table: &str) -> anyhow::Result<TransactWriteItem> {
        Ok(match &self.op {
            Op::Put(item) => TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(table)
                        .set_item(Some(item.clone()))
                        .set_condition_expression(self.condition.clone())
                        .set_expression_attribute_names(self.names())
                        .set_expression_attribute_values(self.values())
                        .build()?,
                )
                .build(),
            Op::Update { key, expression } => TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(table)
                        .set_key(Some(key.attributes()))
                        .update_expression(expression)
                        .set_condition_expression(self.condition.clone())
                        .set_expression_attribute_names(self.names())
                        .set_expression_attribute_values(self.values())
                        .build()?,
                )
                .build(),
        })
    }
}

/// Starts an item with its key and adds attributes.
pub(crate) fn item<const N: usize>(key: &Key, attributes: [(&str, AttributeValue); N]) -> Item {
    let mut item = key.attributes();
    item.extend(attributes.into_iter().map(|(k, v)| (k.to_string(), v)));
    item
}

pub(crate) fn json<T: serde::Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    Ok(attrs::s(serde_json::to_string(value).map_err(unexpected)?))
}

fn conflict(what: &str) -> StoreError {
    StoreError::Conflict(what.to_string())
}

/// Why a change was not written.
pub(crate) enum Refused {
    /// The conditions of these writes (by index) failed; nothing was written.
    Conditions(Vec<usize>),
    Store(StoreError),
}

impl Refused {
    fn into_store_error(self, writes: &[Write]) -> StoreError {
        match self {
            Refused::Conditions(failed) => {
                let what: Vec<&str> = failed.iter().map(|&i| writes[i].what.as_str()).collect();
                StoreError::Conflict(what.join("; "))
            }
            Refused::Store(e) => e,
        }
    }
}

/// A status write whose key assumes that the document is the account's.
struct Guess {
    write: usize,
    number: DocumentNumber,
    status: DocumentStatus,
    tenant: TenantId,
}

impl DynamoStore {
    pub(crate) async fn write_change(&self, change: Change) -> Result<(), StoreError> {
        let Change {
            account,
            version,
            next_action,
            mut new_documents,
            status_changes,
            counters,
            emails,
            payment,
            review,
            microsoft,
            invoice,
            mut audit,
        } = change;
        // Within one change the unique keys hold as they do across changes (and DynamoDB
        // refuses two writes to one item in a transaction anyway).
        let mut numbers = HashSet::new();
        let mut sessions = HashSet::new();
        for doc in &new_documents {
            if !numbers.insert(doc.number.clone()) || !sessions.insert(&doc.payment.session_id) {
                return Err(conflict(&format!("document {} exists", doc.number)));
            }
        }
        let mut email_keys = HashSet::new();
        for m in &emails {
            if !email_keys.insert(&m.key) {
                return Err(conflict(&format!("e-mail {} already queued", m.key)));
            }
        }
        let mut command_keys = HashSet::new();
        for c in &microsoft {
            if !command_keys.insert(&c.key) {
                return Err(conflict(&format!(
                    "Microsoft command {} already queued",
                    c.key
                )));
            }
        }
        let command_tenant = account.as_ref().map(|a| a.tenant.id.clone());
        if !microsoft.is_empty() && command_tenant.is_none() {
            return Err(unexpected(anyhow!(
                "a Microsoft command without its account"
            )));
        }
        // A series named twice must chain (before of the second = after of the first).
        let mut series: Vec<(renewals_domain::SeriesKey, u32, u32)> = vec![];
        for (key, before, after) in counters {
            match series.iter_mut().find(|(k, _, _)| *k == key) {
                Some(entry) if entry.2 != before => {
                    return Err(conflict(&format!("counter {key} moved")))
                }
                Some(entry) => entry.2 = after,
                None => series.push((key, before, after)),
            }
        }
        // Statuses apply after the inserts, last one wins: a new document takes its final
        // status at once, a stored one gets one update.
        let mut statuses: Vec<(DocumentNumber, DocumentStatus)> = vec![];
        for (number, status) in status_changes {
            if let Some(doc) = new_documents.iter_mut().find(|d| d.number == number) {
                doc.status = status;
            } else if let Some(entry) = statuses.iter_mut().find(|(n, _)| *n == number) {
                entry.1 = status;
            } else {
                statuses.push((number, status));
            }
        }

        let mut writes = vec![];
        let mut subscription_writes = vec![];
        if let Some(account) = &account {
            writes.push(self.account_write(account, version, next_action)?);
            for sub in &account.subscriptions {
                subscription_writes.push((sub.id.clone(), subscription_write(&sub.id, account)));
            }
        }
        for (key, before, after) in &series {
            let condition = if *before == 0 {
                "attribute_not_exists(#last) OR #last = :before"
            } else {
                "#last = :before"
            };
            let counter = item(
                &keys::counter(*key),
                [
                    ("series", attrs::s(key.to_string())),
                    ("last", attrs::n(after)),
                ],
            );
            writes.push(
                Write::put(format!("counter {key} moved"), counter)
                    .only_if(condition)
                    .name("#last", "last")
                    .value(":before", attrs::n(before)),
            );
        }
        for (i, doc) in new_documents.iter().enumerate() {
            let order = match &account {
                Some(a) if a.tenant.id == doc.tenant => {
                    (version + 1) * DOCUMENTS_PER_CHANGE + i as u64
                }
                _ => i as u64,
            };
            writes.extend(document_writes(doc, order)?);
        }
        // A change of an account changes its own documents' statuses, as a rule: their
        // items are in its partition, so no lookup is needed. A wrong guess (someone else's
        // document, or no document) fails the write's condition and is looked up below.
        let mut guesses = vec![];
        for (number, status) in &statuses {
            let tenant = match (
                self.remembered_document_tenant(&number.to_string()),
                &account,
            ) {
                (Some(known), _) => known,
                (None, Some(a)) => {
                    guesses.push(Guess {
                        write: writes.len(),
                        number: number.clone(),
                        status: *status,
                        tenant: a.tenant.id.clone(),
                    });
                    a.tenant.id.clone()
                }
                (None, None) => self
                    .document_tenant(number)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("document {number}")))?,
            };
            writes.push(status_write(&tenant, number, *status));
        }
        if let Some(new) = &invoice {
            writes.extend(crate::invoices::new_invoice_writes(new)?);
        }
        if let Some(p) = &payment {
            let record = item(&keys::payment(&p.key), [("body", json(p)?)]);
            let what = format!("payment {} already recorded", p.key);
            writes.push(Write::claim(what, record));
        }
        if let Some(r) = &review {
            let record = item(&keys::review(&r.key), [("body", json(r)?)]);
            let what = format!("review {} already recorded", r.key);
            writes.push(Write::claim(what, record));
        }

        let count = |subs: usize| writes.len() + subs + 2 * emails.len() + 2 * microsoft.len();
        if count(subscription_writes.len()) > MAX_TRANSACTION_ITEMS {
            if let Some(account) = account.as_ref().filter(|_| version > 0) {
                let known = self.stored_subscriptions(account, version).await?;
                subscription_writes.retain(|(id, _)| !known.contains(id));
            }
        }
        // The audit log is the account's: a change without one has nobody to file it under.
        if account.is_none() {
            audit.clear();
        }
        // A change too big for one transaction with its entries keeps one entry saying all.
        if count(subscription_writes.len()) + audit.len() > MAX_TRANSACTION_ITEMS && audit.len() > 1
        {
            let mut all = audit.remove(0);
            all.action = "several".into();
            all.summary = std::iter::once(all.summary.clone())
                .chain(audit.drain(..).map(|e| e.summary))
                .collect::<Vec<_>>()
                .join("; ");
            audit.push(all);
        }
        let mut audit_writes = vec![];
        if let Some(account) = &account {
            for (n, entry) in audit.iter().enumerate() {
                let key = keys::audit(&account.tenant.id, entry.at, version + 1, n);
                let what = format!("audit entry {} exists", key.sk);
                audit_writes.push(Write::claim(what, item(&key, [("body", json(entry)?)])));
            }
        }
        let total = count(subscription_writes.len()) + audit_writes.len();
        if total > MAX_TRANSACTION_ITEMS {
            return Err(unexpected(anyhow!(
                "this change needs {total} writes; one DynamoDB transaction takes at most \
                 {MAX_TRANSACTION_ITEMS}"
            )));
        }
        writes.extend(subscription_writes.into_iter().map(|(_, w)| w));
        writes.extend(audit_writes);

        for m in &emails {
            writes.extend(email_writes(next_message_id(), m));
        }
        if let Some(tenant) = &command_tenant {
            for c in &microsoft {
                writes.extend(command_writes(next_message_id(), tenant, c)?);
            }
        }
        check_sizes(&writes)?;
        let failed = match self.send(&writes).await {
            Ok(()) => return Ok(()),
            Err(Refused::Conditions(failed)) => failed,
            Err(Refused::Store(e)) => return Err(e),
        };
        // Any other failed condition: someone changed something first, reload and retry.
        if !failed.iter().all(|&i| guesses.iter().any(|g| g.write == i)) {
            return Err(Refused::Conditions(failed).into_store_error(&writes));
        }
        // Only wrong guesses failed: look their documents up and send the change again.
        for guess in guesses.iter().filter(|g| failed.contains(&g.write)) {
            let number = &guess.number;
            match self.document_tenant(number).await? {
                None => return Err(StoreError::NotFound(format!("document {number}"))),
                // It is the account's after all, so it came into being since: a race.
                Some(tenant) if tenant == guess.tenant => {
                    return Err(conflict(&writes[guess.write].what))
                }
                Some(tenant) => writes[guess.write] = status_write(&tenant, number, guess.status),
            }
        }
        self.send(&writes)
            .await
            .map_err(|refused| refused.into_store_error(&writes))
    }

    fn account_write(
        &self,
        account: &Account,
        version: u64,
        next_action: Option<chrono::NaiveDate>,
    ) -> Result<Write, StoreError> {
        let tenant = &account.tenant.id;
        let mut record = item(
            &keys::account(tenant),
            [
                ("tenant", attrs::s(tenant.as_str())),
                ("version", attrs::n(version + 1)),
                ("body", json(account)?),
            ],
        );
        // No next action, no index entry: the due index is sparse.
        if let Some(date) = next_action {
            record.insert("next_action".into(), attrs::s(date.to_string()));
            let shard = keys::shard_of(tenant, self.shards);
            record.insert(keys::GSI1PK.into(), attrs::s(keys::due_pk(shard)));
            record.insert(keys::GSI1SK.into(), attrs::s(keys::due_sk(date, tenant)));
        }
        Ok(if version == 0 {
            Write::claim(format!("account {tenant} exists"), record)
        } else {
            Write::put(format!("account {tenant} changed"), record)
                .only_if("#version = :version")
                .name("#version", "version")
                .value(":version", attrs::n(version))
        })
    }

    /// The subscriptions of the stored account, which have their items already. Read only
    /// when a change would not fit one transaction otherwise.
    async fn stored_subscriptions(
        &self,
        account: &Account,
        version: u64,
    ) -> Result<HashSet<SubscriptionId>, StoreError> {
        let tenant = &account.tenant.id;
        let changed = || conflict(&format!("account {tenant} changed"));
        let stored = self
            .get(&keys::account(tenant))
            .await?
            .ok_or_else(changed)?;
        let stored_version: u64 = attrs::number(&stored, "version").map_err(unexpected)?;
        if stored_version != version {
            return Err(changed());
        }
        let body: Account = attrs::json(&stored, "body").map_err(unexpected)?;
        Ok(body.subscriptions.into_iter().map(|s| s.id).collect())
    }

    /// One write goes alone (half the capacity of a transaction); more go as a transaction.
    pub(crate) async fn send(&self, writes: &[Write]) -> Result<(), Refused> {
        match writes {
            [] => Ok(()),
            [single] => self.send_one(single).await,
            _ => self.send_transaction(writes).await,
        }
    }

    pub(crate) async fn send_one(&self, w: &Write) -> Result<(), Refused> {
        match &w.op {
            Op::Put(record) => {
                Counters::bump(&self.counters.put);
                let result = self
                    .client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(record.clone()))
                    .set_condition_expression(w.condition.clone())
                    .set_expression_attribute_names(w.names())
                    .set_expression_attribute_values(w.values())
                    .send()
                    .await;
                match result {
                    Ok(_) => Ok(()),
                    Err(e) => Err(single_failure(e, &w.what, |e| {
                        matches!(e, PutItemError::ConditionalCheckFailedException(_))
                    })),
                }
            }
            Op::Update { key, expression } => {
                Counters::bump(&self.counters.update);
                let result = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(key.attributes()))
                    .update_expression(expression)
                    .set_condition_expression(w.condition.clone())
                    .set_expression_attribute_names(w.names())
                    .set_expression_attribute_values(w.values())
                    .send()
                    .await;
                match result {
                    Ok(_) => Ok(()),
                    Err(e) => Err(single_failure(e, &w.what, |e| {
                        matches!(e, UpdateItemError::ConditionalCheckFailedException(_))
                    })),
                }
            }
        }
    }

    async fn send_transaction(&self, writes: &[Write]) -> Result<(), Refused> {
        let items = writes
            .iter()
            .map(|w| w.transact_item(&self.table))
            .collect::<anyhow::Result<Vec<_>>>()
            .map_err(|e| Refused::Store(unexpected(e)))?;
        Counters::bump(&self.counters.transact_write);
        // The SDK fills in a client request token, so its own retries are idempotent.
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let Err(e) = result else {
            return Ok(());
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            e.as_service_error()
        {
            let reasons = cancelled.cancellation_reasons();
            let failed: Vec<usize> = reasons
                .iter()
                .take(writes.len())
                .enumerate()
                .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                .map(|(i, _)| i)
                .collect();
            if !failed.is_empty() {
                return Err(Refused::Conditions(failed));
            }
            // Another transaction held one of the items: as good as losing the race.
            if reasons
                .iter()
                .any(|r| r.code() == Some("TransactionConflict"))
            {
                return Err(Refused::Store(conflict(
                    "another transaction was writing the same items",
                )));
            }
        }
        Err(Refused::Store(unexpected(anyhow::Error::new(e).context(
            format!("TransactWriteItems of {} writes", writes.len()),
        ))))
    }
}

fn single_failure<E, R>(e: SdkError<E, R>, what: &str, failed_check: impl Fn(&E) -> bool) -> Refused
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if e.as_service_error().is_some_and(failed_check) {
        Refused::Conditions(vec![0])
    } else {
        Refused::Store(unexpected(anyhow::Error::new(e).context(format!(
            "DynamoDB write failed (the write that checks: {what})"
        ))))
    }
}

fn subscription_write(id: &SubscriptionId, account: &Account) -> Write {
    let record = item(
        &keys::subscription(id),
        [("tenant", attrs::s(account.tenant.id.as_str()))],
    );
    Write::put(format!("subscription {id}"), record)
}

fn document_writes(doc: &Document, order: u64) -> Result<[Write; 3], StoreError> {
    let number = doc.number.to_string();
    let tenant = attrs::s(doc.tenant.as_str());
    let exists = format!("document {number} exists");
    let body = item(
        &keys::document(&doc.tenant, &doc.number),
        [
            ("number", attrs::s(&number)),
            ("tenant", tenant.clone()),
            ("status", attrs::s(doc.status.as_str())),
            ("issue_date", attrs::s(doc.issue_date.to_string())),
            ("ord", attrs::n(order)),
            ("body", json(doc)?),
        ],
    );
    let by_number = item(
        &keys::document_number(&doc.number),
        [("tenant", tenant.clone())],
    );
    let session = &doc.payment.session_id;
    let by_session = item(
        &keys::session(session.as_str()),
        [("tenant", tenant), ("number", attrs::s(&number))],
    );
    Ok([
        Write::claim(exists.clone(), body),
        Write::claim(exists, by_number),
        Write::claim(format!("session {session} is taken"), by_session),
    ])
}

/// A document never changes after issue except its status: the body stays as issued and
/// the `status` attribute, which every read applies, is what changes.
fn status_write(tenant: &TenantId, number: &DocumentNumber, status: DocumentStatus) -> Write {
    Write::update(
        format!("document {number} is gone"),
        keys::document(tenant, number),
        "SET #status = :status",
    )
    .only_if("attribute_exists(#pk)")
    .name("#pk", keys::PK)
    .name("#status", "status")
    .value(":status", attrs::s(status.as_str()))
}

pub(crate) fn email_writes(id: i64, m: &OutboxMessage) -> [Write; 2] {
    let claim = item(
        &keys::outbox_key(&m.key),
        [
            ("id", attrs::n(id)),
            ("tenant", attrs::s(m.tenant.as_str())),
        ],
    );
    let mut message = item(
        &keys::email(&m.tenant, id),
        [
            ("id", attrs::n(id)),
            ("key", attrs::s(&m.key)),
            ("tenant", attrs::s(m.tenant.as_str())),
            ("kind", attrs::s(&m.kind)),
            ("recipient", attrs::s(&m.to)),
            ("subject", attrs::s(&m.subject)),
            ("date", attrs::s(m.date.to_string())),
            ("sent", AttributeValue::Bool(false)),
            // In the unsent index until `mark_sent` removes these two.
            (keys::GSI2PK, attrs::s(keys::UNSENT)),
            (keys::GSI2SK, attrs::s(keys::outbox_due(0, id))),
        ],
    );
    if let Some(document) = &m.document {
        message.insert("document".into(), attrs::s(document));
    }
    // A letter (a few KB of JSON) rather than its MIME (tens of KB with a PDF): the item is
    // projected whole into the unsent index, whose writes and reads its size pays for.
    let (name, content) = match &m.content {
        Content::Letter(letter) => (
            "letter",
            attrs::s(serde_json::to_string(letter).expect("a letter serialises")),
        ),
        Content::Mime(bytes) => ("mime", attrs::b(bytes.clone())),
    };
    message.insert(name.into(), content);
    [
        Write::claim(format!("e-mail {} already queued", m.key), claim),
        Write::claim(format!("e-mail {id} exists"), message),
    ]
}

/// The command, pending in the outbox index, and its cause's uniqueness item.
fn command_writes(
    id: i64,
    tenant: &TenantId,
    c: &renewals_domain::MicrosoftCommand,
) -> Result<[Write; 2], StoreError> {
    let claim = item(
        &keys::microsoft_command_key(&c.key),
        [("id", attrs::n(id)), ("tenant", attrs::s(tenant.as_str()))],
    );
    let command = item(
        &keys::microsoft_command(tenant, id),
        [
            ("id", attrs::n(id)),
            ("key", attrs::s(&c.key)),
            ("tenant", attrs::s(tenant.as_str())),
            ("body", json(c)?),
            ("done", AttributeValue::Bool(false)),
            ("attempts", attrs::n(0)),
            (keys::GSI2PK, attrs::s(keys::MS_PENDING)),
            (keys::GSI2SK, attrs::s(keys::outbox_due(0, id))),
        ],
    );
    Ok([
        Write::claim(format!("Microsoft command {} already queued", c.key), claim),
        Write::claim(format!("Microsoft command {id} exists"), command),
    ])
}

pub(crate) fn check_sizes(writes: &[Write]) -> Result<(), StoreError> {
    let mut total = 0;
    for w in writes {
        let size = w.size();
        if size > MAX_ITEM_BYTES {
            return Err(unexpected(anyhow!(
                "{}: an item of {size} bytes is over DynamoDB's 400 KB limit",
                w.what
            )));
        }
        total += size;
    }
    if total > MAX_TRANSACTION_BYTES {
        return Err(unexpected(anyhow!(
            "this change writes {total} bytes; one DynamoDB transaction takes at most 4 MB"
        )));
    }
    Ok(())
}
