//! Creating the table: on-demand billing, the key schema and both sparse indexes.

use crate::keys::{GSI1, GSI1PK, GSI1SK, GSI2, GSI2PK, GSI2SK, PK, SK};
use crate::DynamoStore;
use anyhow::Context;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use std::time::Duration;

fn key(name: &str, kind: KeyType) -> anyhow::Result<KeySchemaElement> {
    Ok(KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()?)
}

fn string_attribute(name: &str) -> anyhow::Result<AttributeDefinition> {
    Ok(AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()?)
}

fn index(
    name: &str,
    pk: &str,
    sk: &str,
    projection: ProjectionType,
) -> anyhow::Result<GlobalSecondaryIndex> {
    Ok(GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(pk, KeyType::Hash)?)
        .key_schema(key(sk, KeyType::Range)?)
        .projection(Projection::builder().projection_type(projection).build())
        .build()?)
}

impl DynamoStore {
    /// Creates the table if it does not exist and waits until it is active. For tests and
    /// local runs; production tables come from the SAM template.
    pub async fn create_table(&self) -> anyhow::Result<()> {
        let mut request = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            // The due index holds keys only: the job loads each account by its key anyway.
            .global_secondary_indexes(index(GSI1, GSI1PK, GSI1SK, ProjectionType::KeysOnly)?)
            // The unsent index holds whole messages: the mailer needs all of them.
            .global_secondary_indexes(index(GSI2, GSI2PK, GSI2SK, ProjectionType::All)?);
        for name in [PK, SK, GSI1PK, GSI1SK, GSI2PK, GSI2SK] {
            request = request.attribute_definitions(string_attribute(name)?);
        }
        match request.send().await {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(CreateTableError::ResourceInUseException(_))
                ) => {}
            Err(e) => {
                return Err(anyhow::Error::new(e))
                    .with_context(|| format!("creating DynamoDB table {}", self.table))
            }
        }
        self.client
            .wait_until_table_exists()
            .table_name(&self.table)
            .wait(Duration::from_secs(120))
            .await
            .with_context(|| format!("waiting for DynamoDB table {} to be active", self.table))?;
        Ok(())
    }
}
