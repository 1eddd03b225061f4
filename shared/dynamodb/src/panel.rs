//! The panel's items on the single table: operators, one-time sign-in links, sessions,
//! rate-limit counters and the operator's decisions on held payments, each under a `PANEL#`
//! key with a `ttl` where it runs out (enable the table's TTL on `ttl` to have them removed).
//! The operator's tenant list and the sign-in lookup by address read every account (a Scan
//! of `ACCOUNT` items): fine for a reseller's few hundred tenants and an operator page, not
//! for a job.

use crate::attrs::{self, n, s, Item};
use crate::{keys, DynamoStore};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use renewals_app::panel::{Operator, PanelStore, Principal, ReviewDecision, Session};
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

    /// Every `ACCOUNT` item (a Scan; see the module's note).
    async fn account_items(&self) -> Result<Vec<Item>, StoreError> {
        let mut out = vec![];
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("SK = :sk")
                .expression_attribute_values(":sk", s("ACCOUNT"))
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
    async fn add_operator(&self, op: &Operator) -> Result<bool, StoreError> {
        let email = op.email.to_lowercase();
        self.put_new(
            key(format!("PANEL#OPERATOR#{email}"), "OPERATOR"),
            HashMap::from([("email".into(), s(email)), ("name".into(), s(&op.name))]),
        )
        .await
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
        let mut found = vec![];
        for item in self.account_items().await? {
            let account: renewals_domain::Account =
                attrs::json(&item, "body").map_err(unexpected)?;
            if account.tenant.email.as_str().to_lowercase() == email {
                found.push(account.tenant.id);
            }
        }
        found.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        Ok(found.into_iter().next())
    }

    async fn put_login_token(
        &self,
        hash: &str,
        who: &Principal,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let fresh = self
            .put_new(
                key(format!("PANEL#LOGIN#{hash}"), "LOGIN"),
                HashMap::from([
                    ("who".into(), json(who)?),
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
                Ok(Some(attrs::json(&item, "who").map_err(unexpected)?))
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
        let mut ids: Vec<TenantId> = self
            .account_items()
            .await?
            .iter()
            .filter_map(|item| keys::tenant_of_pk(attrs::string(item, keys::PK).ok()?))
            .collect();
        ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        Ok(ids)
    }

    async fn reviews(&self) -> Result<Vec<(ReviewItem, Option<ReviewDecision>)>, StoreError> {
        let mut out = vec![];
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("SK = :sk")
                .expression_attribute_values(":sk", s("REVIEW"))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unexpected)?;
            for item in page.items.unwrap_or_default() {
                let review: ReviewItem = attrs::json(&item, "body").map_err(unexpected)?;
                let decision = self
                    .get_panel(key(format!("PANEL#REVIEW#{}", review.key), "DECISION"))
                    .await?
                    .map(|d| attrs::json(&d, "body").map_err(unexpected))
                    .transpose()?;
                out.push((review, decision));
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        out.sort_by_key(|(r, _)| r.received_on);
        Ok(out)
    }

    async fn decide_review(&self, review: &str, d: &ReviewDecision) -> Result<bool, StoreError> {
        self.put_new(
            key(format!("PANEL#REVIEW#{review}"), "DECISION"),
            HashMap::from([("body".into(), json(d)?)]),
        )
        .await
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

    async fn retry_message(&self, _id: i64) -> Result<bool, StoreError> {
        Err(unexpected(anyhow::anyhow!(
            "retrying a parked e-mail is not built for DynamoDB yet"
        )))
    }

    async fn retry_command(&self, _id: i64) -> Result<bool, StoreError> {
        Err(unexpected(anyhow::anyhow!(
            "retrying a parked Microsoft command is not built for DynamoDB yet"
        )))
    }
}
