//! The due index read one shard and one page at a time, for the fan-out planner: each page
//! is one `Query`, and the cursor is the last entry's sort key (`{date}#{tenant}`), from which
//! the whole exclusive start key can be rebuilt.

use crate::attrs;
use crate::keys;
use crate::store::unexpected;
use crate::{Counters, DynamoStore};
use anyhow::Context;
use chrono::NaiveDate;
use renewals_app::ports::{DuePage, StoreError};
use std::collections::HashMap;

impl DynamoStore {
    pub(crate) async fn due_page_of_shard(
        &self,
        shard: u32,
        date: NaiveDate,
        after: Option<&str>,
        limit: usize,
    ) -> Result<DuePage, StoreError> {
        if shard >= self.shards || limit == 0 {
            return Ok(DuePage::default());
        }
        let start = after.map(|sk| start_key(shard, sk)).transpose()?;
        Counters::bump(&self.counters.query);
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("#pk = :pk AND #sk <= :upper")
            .expression_attribute_names("#pk", keys::GSI1PK)
            .expression_attribute_names("#sk", keys::GSI1SK)
            .expression_attribute_values(":pk", attrs::s(keys::due_pk(shard)))
            .expression_attribute_values(":upper", attrs::s(keys::due_upper(date)))
            .limit(limit.min(i32::MAX as usize) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .with_context(|| format!("Query {} shard {shard} page after {after:?}", keys::GSI1))
            .map_err(unexpected)?;
        let items = out.items.unwrap_or_default();
        let tenants = items
            .iter()
            .map(|item| {
                let pk = attrs::string(item, keys::PK).map_err(unexpected)?;
                keys::tenant_of_pk(pk)
                    .ok_or_else(|| unexpected(anyhow::anyhow!("due index entry with key {pk}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // DynamoDB may hand back a key after an exactly full last page; the next (empty)
        // page then ends it. Without a key there is nothing more.
        let next = match out.last_evaluated_key.filter(|k| !k.is_empty()) {
            Some(key) => Some(
                attrs::string(&key, keys::GSI1SK)
                    .map_err(unexpected)?
                    .to_string(),
            ),
            None => None,
        };
        Ok(DuePage { tenants, next })
    }
}

/// The exclusive start key of the page after the entry with sort key `sk`: the index's key
/// and the table's key of that account.
fn start_key(
    shard: u32,
    sk: &str,
) -> Result<HashMap<String, aws_sdk_dynamodb::types::AttributeValue>, StoreError> {
    let tenant = sk
        .split_once('#')
        .and_then(|(_, t)| renewals_domain::TenantId::parse(t).ok())
        .ok_or_else(|| unexpected(anyhow::anyhow!("not a due-page cursor: {sk}")))?;
    let mut key = keys::account(&tenant).attributes();
    key.insert(keys::GSI1PK.into(), attrs::s(keys::due_pk(shard)));
    key.insert(keys::GSI1SK.into(), attrs::s(sk));
    Ok(key)
}
