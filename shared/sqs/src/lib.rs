//! The fan-out's work queue on Amazon SQS: a FIFO queue, one message per batch of due
//! tenants, deduplicated by the batch's id (job, date, shard and its tenants). Each batch is
//! its own message group, so the worker function takes batches in parallel (FIFO order only
//! holds within a group, and nothing here needs an order between batches).

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use aws_sdk_sqs::Client;
use renewals_app::fanout::{TenantBatch, WorkQueue};
use renewals_app::ports::StoreError;
use std::sync::atomic::{AtomicU64, Ordering};

/// Messages per `SendMessageBatch`: SQS's limit.
const PER_REQUEST: usize = 10;

pub struct SqsQueue {
    client: Client,
    url: String,
    requests: AtomicU64,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> SqsQueue {
        SqsQueue {
            client,
            url: url.into(),
            requests: AtomicU64::new(0),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// `SendMessageBatch` requests made so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Creates a FIFO queue (idempotent) and returns its URL: for tests and local runs;
    /// production queues come from the SAM template.
    pub async fn create_fifo(client: &Client, name: &str) -> anyhow::Result<String> {
        let out = client
            .create_queue()
            .queue_name(name)
            .attributes(QueueAttributeName::FifoQueue, "true")
            .attributes(QueueAttributeName::VisibilityTimeout, "360")
            .send()
            .await
            .with_context(|| format!("creating SQS queue {name}"))?;
        out.queue_url
            .context("CreateQueue answered without a queue URL")
    }
}

#[async_trait]
impl WorkQueue for SqsQueue {
    async fn enqueue(&self, batches: &[TenantBatch]) -> Result<(), StoreError> {
        for chunk in batches.chunks(PER_REQUEST) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, batch)| {
                    let id = batch.dedup_id();
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(batch.to_json())
                        .message_group_id(&id)
                        .message_deduplication_id(id)
                        .build()
                        .map_err(|e| StoreError::Unexpected(e.into()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.requests.fetch_add(1, Ordering::Relaxed);
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .with_context(|| format!("SendMessageBatch to {}", self.url))
                .map_err(StoreError::Unexpected)?;
            // A partly refused request: the planner fails and its retry enqueues again
            // (what was sent is deduplicated).
            if let Some(failed) = out.failed.first() {
                return Err(StoreError::Unexpected(anyhow::anyhow!(
                    "SQS refused {} of {} batches: {} {}",
                    out.failed.len(),
                    chunk.len(),
                    failed.code,
                    failed.message.as_deref().unwrap_or("")
                )));
            }
        }
        Ok(())
    }
}
