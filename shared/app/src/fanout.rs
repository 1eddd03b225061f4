//! A scheduled job fanned out: the planner reads the due index shard by shard, page by page,
//! and puts batches of due tenants on a work queue (SQS on AWS); workers each take a batch
//! and run every tenant through `run_tenant`, the very function the single-process run uses.
//! A batch run twice changes nothing the second time (the unit of work decides again and
//! finds nothing due), so the queue's at-least-once delivery is enough.

use crate::error::ServiceError;
use crate::jobs::{Failure, RunSummary};
use crate::ports::StoreError;
use crate::service::Service;
use async_trait::async_trait;
use chrono::NaiveDate;
use renewals_domain::{Job, SeriesKey, TenantId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;

/// How the planner cuts the day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// Tenants per batch (one queue message): a worker gets through 50 tenants in seconds,
    /// and a batch retried because of one tenant costs the other 49 one read each.
    pub batch: usize,
    /// Due-index entries read per query (keys only, about 100 B each).
    pub page: usize,
}

impl Default for Sizes {
    fn default() -> Sizes {
        Sizes {
            batch: 50,
            page: 1000,
        }
    }
}

/// Due tenants of one shard for one job and date: one message on the work queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantBatch {
    pub job: Job,
    pub date: NaiveDate,
    pub shard: u32,
    /// The batch's place in its shard in this plan (for logs; not part of its identity).
    pub seq: u32,
    pub tenants: Vec<TenantId>,
}

/// A queue message that is not a batch of tenants: it needs a person, not a retry.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotABatch(pub String);

/// A batch as the queue carries it (JSON).
#[derive(Serialize, Deserialize)]
struct Wire {
    job: String,
    date: NaiveDate,
    shard: u32,
    seq: u32,
    tenants: Vec<String>,
}

fn job_name(job: Job) -> &'static str {
    match job {
        Job::Daily => "daily",
        Job::Expiry => "expiry",
    }
}

impl TenantBatch {
    /// The queue's deduplication id: job, date, shard and a hash of the tenants. A planner
    /// run again (a Lambda retry) enqueues nothing new for a batch it sent already; a batch
    /// that differs (workers have meanwhile taken some tenants off the index) gets another id,
    /// so no tenant is ever dropped as a duplicate of a batch it was not in.
    pub fn dedup_id(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325; // FNV-1a: stable across builds
        for tenant in &self.tenants {
            for byte in tenant.as_str().bytes().chain([b'\n']) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!(
            "{}-{}-{}-{}-{hash:016x}",
            job_name(self.job),
            self.date,
            self.shard,
            self.tenants.len()
        )
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&Wire {
            job: job_name(self.job).into(),
            date: self.date,
            shard: self.shard,
            seq: self.seq,
            tenants: self.tenants.iter().map(|t| t.to_string()).collect(),
        })
        .expect("a batch serialises")
    }

    /// A batch from a queue message; a body that is not one is an error naming why.
    pub fn from_json(body: &str) -> Result<TenantBatch, NotABatch> {
        let wire: Wire = serde_json::from_str(body).map_err(|e| {
            NotABatch(format!(
                "not a batch of tenants: {e}; expected {{\"job\", \"date\", \"shard\", \"seq\", \"tenants\"}}"
            ))
        })?;
        let job = match wire.job.as_str() {
            "daily" => Job::Daily,
            "expiry" => Job::Expiry,
            other => {
                return Err(NotABatch(format!(
                    "unknown job `{other}` in a batch: use daily or expiry"
                )))
            }
        };
        Ok(TenantBatch {
            job,
            date: wire.date,
            shard: wire.shard,
            seq: wire.seq,
            tenants: wire
                .tenants
                .iter()
                .map(|t| TenantId::parse(t))
                .collect::<Result<_, _>>()
                .map_err(|e| NotABatch(e.to_string()))?,
        })
    }
}

/// Where the planner puts batches for the workers: SQS on AWS, memory in one process.
/// Errors are the store's kind: the queue did not answer, retrying may pass.
#[async_trait]
pub trait WorkQueue: Send + Sync {
    /// Enqueues the batches. A batch whose `dedup_id` the queue has seen recently is not
    /// enqueued again.
    async fn enqueue(&self, batches: &[TenantBatch]) -> Result<(), StoreError>;
}

/// Workers for a run in one process: one per core (each decides and composes its tenants'
/// changes on a core of its own; the store serialises only the commits).
pub fn local_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// What the planner did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub date: NaiveDate,
    pub shards: u32,
    /// Due-index queries made.
    pub pages: usize,
    pub tenants_due: usize,
    pub batches: usize,
}

/// A queue in memory: the planner and the workers in one process (local runs, tests).
#[derive(Default)]
pub struct MemoryQueue {
    batches: Mutex<Vec<TenantBatch>>,
    seen: Mutex<std::collections::HashSet<String>>,
    receives: Mutex<HashMap<String, usize>>,
}

impl MemoryQueue {
    /// Takes the next batch, first in first out.
    pub async fn take(&self) -> Option<TenantBatch> {
        let mut batches = self.batches.lock().await;
        (!batches.is_empty()).then(|| batches.remove(0))
    }

    /// Puts a batch back at the end, as SQS brings back a message its worker reported,
    /// unless it was taken `MAX_RECEIVES` times already (then: false, it stays failed).
    pub async fn put_back(&self, batch: TenantBatch) -> bool {
        let mut receives = self.receives.lock().await;
        let received = receives.entry(batch.dedup_id()).or_insert(1);
        if *received >= MAX_RECEIVES {
            return false;
        }
        *received += 1;
        self.batches.lock().await.push(batch);
        true
    }
}

/// Receives of one batch before the in-process run gives up on it (SQS's `maxReceiveCount`
/// in the template).
const MAX_RECEIVES: usize = 5;

#[async_trait]
impl WorkQueue for MemoryQueue {
    async fn enqueue(&self, batches: &[TenantBatch]) -> Result<(), StoreError> {
        let mut seen = self.seen.lock().await;
        let mut queue = self.batches.lock().await;
        for batch in batches {
            if seen.insert(batch.dedup_id()) {
                queue.push(batch.clone());
            }
        }
        Ok(())
    }
}

/// What one worker did with one batch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BatchOutcome {
    pub summary: RunSummary,
    /// Whether a tenant failed in a way a retry may get past: the batch should come back.
    pub retry: bool,
}

impl BatchOutcome {
    fn fail(&mut self, tenant: &TenantId, e: ServiceError) {
        tracing::error!(tenant = %tenant, error = %e, "tenant failed");
        self.retry |= e.is_retryable();
        self.summary.failures.push(Failure {
            tenant: tenant.to_string(),
            error: e.to_string(),
            retryable: e.is_retryable(),
        });
    }
}

impl Service {
    /// Reads the tenants due for `job` by `date` shard by shard, page by page, and enqueues
    /// them in batches. Every due tenant is in exactly one batch of the plan.
    pub async fn plan(
        &self,
        job: Job,
        date: NaiveDate,
        queue: &dyn WorkQueue,
        sizes: Sizes,
    ) -> Result<Plan, ServiceError> {
        let batch_tenants = sizes.batch.max(1);
        let shards = self.store.due_shards();
        let mut plan = Plan {
            date,
            shards,
            ..Plan::default()
        };
        for shard in 0..shards {
            let mut cursor: Option<String> = None;
            let mut pending: Vec<TenantId> = vec![];
            let mut seq = 0;
            loop {
                let page = self
                    .store
                    .due_page(shard, date, cursor.as_deref(), sizes.page.max(1))
                    .await?;
                plan.pages += 1;
                plan.tenants_due += page.tenants.len();
                pending.extend(page.tenants);
                let last = page.next.is_none();
                let mut ready = vec![];
                while pending.len() >= batch_tenants || (last && !pending.is_empty()) {
                    let rest = pending.split_off(batch_tenants.min(pending.len()));
                    let tenants = std::mem::replace(&mut pending, rest);
                    ready.push(TenantBatch {
                        job,
                        date,
                        shard,
                        seq,
                        tenants,
                    });
                    seq += 1;
                }
                if !ready.is_empty() {
                    queue.enqueue(&ready).await?;
                    plan.batches += ready.len();
                }
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        tracing::info!(date = %date, tenants = plan.tenants_due, batches = plan.batches, pages = plan.pages, "planned");
        Ok(plan)
    }

    /// Runs one batch: each tenant decided as the single-process run does it (`Due`), their
    /// changes committed together (`Store::commit_many`: one transaction on SQLite), one
    /// failing tenant reported while the others go on. A tenant whose change is refused
    /// (another writer moved its account or a counter first) is run again alone through the
    /// unit of work, which decides it afresh. `counters` are the last numbers this worker
    /// has seen, kept across its batches (a stale one costs a conflict, nothing more).
    pub async fn work(
        &self,
        batch: &TenantBatch,
        counters: &mut HashMap<SeriesKey, u32>,
    ) -> BatchOutcome {
        let mut outcome = BatchOutcome {
            summary: RunSummary {
                job: job_name(batch.job).into(),
                date: batch.date,
                ..RunSummary::default()
            },
            retry: false,
        };
        let (job, date) = (batch.job, batch.date);
        let mut decided = Vec::with_capacity(batch.tenants.len());
        for tenant in &batch.tenants {
            outcome.summary.tenants_due += 1;
            match self.decide_tenant(tenant, job, date, counters).await {
                Ok(d) => decided.push((tenant, d)),
                Err(e) => outcome.fail(tenant, e),
            }
        }
        // Which tenants have a change in the group, then the group itself, in order.
        let in_group: Vec<bool> = decided.iter().map(|(_, d)| d.change.is_some()).collect();
        let changes = decided
            .iter_mut()
            .filter_map(|(_, d)| d.change.take())
            .collect::<Vec<_>>();
        let mut results = self.store.commit_many(changes).await.into_iter();
        for ((tenant, d), changed) in decided.into_iter().zip(in_group) {
            let result = match changed {
                true => results.next().unwrap_or_else(|| {
                    Err(StoreError::Unexpected(anyhow::anyhow!(
                        "the store answered for fewer changes than it was given"
                    )))
                }),
                false => Ok(()),
            };
            match result {
                Ok(()) => {
                    let part = self
                        .tenant_committed(tenant, d.committed(changed), date)
                        .await;
                    outcome.summary.add(part);
                }
                Err(StoreError::Conflict(why)) => {
                    tracing::debug!(%tenant, %why, "refused in a group commit; deciding again");
                    // Numbers taken after the refused change were never written.
                    counters.clear();
                    match self.run_tenant(tenant, job, date, counters).await {
                        Ok(part) => outcome.summary.add(part),
                        Err(e) => outcome.fail(tenant, e),
                    }
                }
                Err(e) => outcome.fail(tenant, e.into()),
            }
        }
        outcome
    }

    /// The planner and `workers` workers in one process: what the functions do on AWS,
    /// through a queue in memory, and what `renewals run` does. After all batches, as
    /// `run_job` does: the daily run's KSeF sync, then the outboxes (Microsoft commands and
    /// e-mails). Failures are listed in tenant order, whichever worker met them.
    pub async fn run_fanned_out(
        self: &Arc<Self>,
        job: Job,
        date: NaiveDate,
        workers: usize,
        sizes: Sizes,
    ) -> Result<RunSummary, ServiceError> {
        let mut summary = self.work_fanned_out(job, date, workers, sizes).await?;
        let delivery = self.deliver().await?;
        summary.emails_sent = delivery.sent;
        summary.emails_failed = delivery.failed;
        summary.emails_parked = delivery.parked;
        summary.record_commands(&delivery.commands);
        Ok(summary)
    }

    /// `run_fanned_out` up to the outboxes: every state change of the run is committed (the
    /// e-mails and commands it causes wait in their outboxes), the daily run's KSeF sync
    /// done. `simulate` delivers on its own.
    pub async fn work_fanned_out(
        self: &Arc<Self>,
        job: Job,
        date: NaiveDate,
        workers: usize,
        sizes: Sizes,
    ) -> Result<RunSummary, ServiceError> {
        let queue = Arc::new(MemoryQueue::default());
        self.plan(job, date, queue.as_ref(), sizes).await?;
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..workers.max(1) {
            let (svc, queue) = (self.clone(), queue.clone());
            tasks.spawn(async move {
                let mut counters = HashMap::new();
                let mut summary = RunSummary::default();
                while let Some(batch) = queue.take().await {
                    let outcome = svc.work(&batch, &mut counters).await;
                    if outcome.retry && queue.put_back(batch).await {
                        // Its other tenants find nothing left to do next time.
                        summary.add(outcome.summary);
                        continue;
                    }
                    summary.tenants_due += outcome.summary.tenants_due;
                    summary.failures.extend(outcome.summary.failures.clone());
                    summary.add(outcome.summary);
                }
                summary
            });
        }
        let mut summary = RunSummary {
            job: job_name(job).into(),
            date,
            ..RunSummary::default()
        };
        while let Some(done) = tasks.join_next().await {
            let part = done.map_err(|e| StoreError::Unexpected(anyhow::anyhow!("worker: {e}")))?;
            summary.tenants_due += part.tenants_due;
            summary.failures.extend(part.failures.clone());
            summary.add(part);
        }
        summary.failures.sort_by(|a, b| a.tenant.cmp(&b.tenant));
        if job == Job::Daily {
            // The day's invoices to KSeF before the e-mails: an acceptance queues its
            // customer's e-mail in time for this delivery.
            let ksef = self.ksef_sync().await?;
            summary.record_ksef(&ksef);
        }
        Ok(summary)
    }
}
