//! The DynamoDB store: the `Store` port on one table (single-table design).
//!
//! Every key is built in [`keys`]. Every commit is one `TransactWriteItems` whose condition
//! expressions carry the account version, the counters and every idempotency key, so a
//! change is written whole or not at all; a failed condition is `StoreError::Conflict`.
//! (A change of a single write goes as a conditional `PutItem`/`UpdateItem`, half the cost.
//! Outbox message ids are made in memory, see [`ids`], so a change costs that one request.)
//! The daily job reads only what is due through a sharded, sparse index on the next action
//! date, and the outbox finds unsent messages through a second sparse index: no Scan.
//! Marking messages sent is one `TransactWriteItems` per 100 messages: the store remembers
//! where each message it listed as unsent lives, so it needs no lookup first.

mod attrs;
mod commit;
mod due;
mod ids;
mod invoices;
pub mod keys;
mod panel;
mod store;
mod table;

use aws_sdk_dynamodb::Client;
use renewals_domain::TenantId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// How many requests of each kind the store has made, every page and retry-free call
/// counted once, so that a run can be measured in requests per due subscription.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RequestCounts {
    pub get: u64,
    pub query: u64,
    pub transact_write: u64,
    pub update: u64,
    pub put: u64,
}

impl RequestCounts {
    pub fn total(&self) -> u64 {
        self.get + self.query + self.transact_write + self.update + self.put
    }

    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &RequestCounts) -> RequestCounts {
        RequestCounts {
            get: self.get - earlier.get,
            query: self.query - earlier.query,
            transact_write: self.transact_write - earlier.transact_write,
            update: self.update - earlier.update,
            put: self.put - earlier.put,
        }
    }
}

#[derive(Default)]
struct Counters {
    get: AtomicU64,
    query: AtomicU64,
    transact_write: AtomicU64,
    update: AtomicU64,
    put: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Document number → tenant is written once and never changes, so it can be remembered:
/// a status change (a payment, an expiry) then needs no lookup to find the document's item.
const DOCUMENT_TENANTS_CACHED: usize = 10_000;

/// Message id → the key of its item, remembered from `unsent` for `mark_sent`. A message
/// item never moves, so what is remembered stays true; an id not remembered (another
/// process listed it, or the memory was cleared) is looked up in the unsent index.
const MESSAGE_KEYS_CACHED: usize = 10_000;

pub struct DynamoStore {
    client: Client,
    table: String,
    shards: u32,
    counters: Counters,
    document_tenants: Mutex<HashMap<String, TenantId>>,
    /// Keys, not a key: ids are unique in practice, and should two tenants' messages ever
    /// share one, both are marked, as a lookup by id would find both.
    message_keys: Mutex<HashMap<i64, Vec<keys::Key>>>,
}

impl DynamoStore {
    pub fn new(client: Client, table: String) -> DynamoStore {
        DynamoStore {
            client,
            table,
            shards: keys::DEFAULT_SHARDS,
            counters: Counters::default(),
            document_tenants: Mutex::new(HashMap::new()),
            message_keys: Mutex::new(HashMap::new()),
        }
    }

    /// A store on `table` with a client from the loaded AWS configuration (region,
    /// credentials, and `AWS_ENDPOINT_URL` for a local emulator).
    pub fn from_conf(sdk_config: &aws_types::SdkConfig, table: impl Into<String>) -> DynamoStore {
        DynamoStore::new(Client::new(sdk_config), table.into())
    }

    /// Spreads the due-date index over `shards` partitions (at least 1). Every writer and
    /// reader of a table must agree on it; changing it means rewriting every account.
    pub fn with_shards(mut self, shards: u32) -> DynamoStore {
        self.shards = shards.max(1);
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn shards(&self) -> u32 {
        self.shards
    }

    pub fn request_counts(&self) -> RequestCounts {
        let c = &self.counters;
        RequestCounts {
            get: c.get.load(Ordering::Relaxed),
            query: c.query.load(Ordering::Relaxed),
            transact_write: c.transact_write.load(Ordering::Relaxed),
            update: c.update.load(Ordering::Relaxed),
            put: c.put.load(Ordering::Relaxed),
        }
    }

    fn remember_document_tenant(&self, number: String, tenant: TenantId) {
        let mut cache = self
            .document_tenants
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if cache.len() >= DOCUMENT_TENANTS_CACHED {
            cache.clear();
        }
        cache.insert(number, tenant);
    }

    fn remembered_document_tenant(&self, number: &str) -> Option<TenantId> {
        self.document_tenants
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(number)
            .cloned()
    }

    fn remember_message_keys(&self, found: impl IntoIterator<Item = (i64, keys::Key)>) {
        let mut cache = self.message_keys.lock().unwrap_or_else(|p| p.into_inner());
        for (id, key) in found {
            if cache.len() >= MESSAGE_KEYS_CACHED && !cache.contains_key(&id) {
                cache.clear();
            }
            let known = cache.entry(id).or_default();
            if !known.contains(&key) {
                known.push(key);
            }
        }
    }

    /// The remembered keys of `id`, forgotten as they are handed out (a message is marked
    /// sent once; marking it again finds it in no index and does nothing).
    fn take_message_keys(&self, id: i64) -> Option<Vec<keys::Key>> {
        self.message_keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
    }
}
