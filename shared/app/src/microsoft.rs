//! Microsoft's side of our decisions: the commands outbox. Each command is committed with the
//! change that causes it (`Effect::Microsoft` → `Change::microsoft`), then claimed by one
//! worker (a lease in the store), carried out through the `Microsoft` port and marked done. A
//! command that fails is tried again later with growing pauses, without holding up the
//! others; one refused for good, or still failing after its last attempt, is parked and the
//! operator alerted.

use crate::delivery::retry_after;
use crate::error::ServiceError;
use crate::ports::{Change, Done, Microsoft, MicrosoftError, Retry, StoredCommand};
use crate::service::Service;
use crate::unit_of_work::{Decision, Draft};
use chrono::{DateTime, Duration, NaiveTime, Utc};
use renewals_domain::{
    parse_guid, DeliveryProblem, Effect, MicrosoftAction, Notice, SubscriptionId, TenantId,
};
use serde::Serialize;

/// Commands claimed at a time.
const BATCH: usize = 100;
/// How long a claimed command is left to its worker.
const LEASE_MINUTES: i64 = 10;

/// What one pass over the commands outbox did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Commands {
    pub done: usize,
    /// Found already done at Microsoft (a retry after a lost answer): nothing sent.
    pub already: usize,
    pub failed: usize,
    pub parked: usize,
    /// Urgent alerts queued: cancellations still failing a day before the window closes.
    pub urgent: usize,
}

/// `MS-CorrelationId` of a command: the same for all its calls and attempts.
pub fn correlation_id(tenant: &TenantId, key: &str) -> String {
    // A name-based id (FNV-1a, twice) shaped as a GUID: stable without storing it.
    let name = format!("renewals:{tenant}:{key}");
    let fnv = |seed: u64| {
        name.bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let (a, b) = (fnv(0xcbf2_9ce4_8422_2325), fnv(0x8422_2325_cbf2_9ce4));
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        0x5000 | (a & 0x0fff),
        0x8000 | (b >> 48 & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

/// When Microsoft stops taking a cancellation: the start (UTC) of the day its window closes.
pub fn cancel_deadline(action: &MicrosoftAction) -> Option<DateTime<Utc>> {
    match action {
        MicrosoftAction::Cancel {
            window_closes: Some(day),
        } => Some(day.and_time(NaiveTime::MIN).and_utc()),
        _ => None,
    }
}

/// What happens to a command whose attempt failed with `error` at `now`. A cancellation is
/// never given up on while its window is open (at most an hour between attempts); the
/// others back off like e-mails and are parked after the last attempt; a refusal for good
/// is parked at once.
pub fn next_attempt(stored: &StoredCommand, error: &MicrosoftError, now: DateTime<Utc>) -> Retry {
    if !error.is_retryable() {
        return Retry::Park;
    }
    let Some(deadline) = cancel_deadline(&stored.command.action) else {
        return retry_after(stored.attempts, now);
    };
    if now >= deadline {
        return Retry::Park;
    }
    let soon = (now + Duration::hours(1)).min(deadline);
    match retry_after(stored.attempts, now) {
        Retry::At(at) => Retry::At(at.min(soon)),
        Retry::Park => Retry::At(soon),
    }
}

/// The command's JSON (DESIGN §3): `{"id","subscription","kind","payload","status",
/// "attempts","last_error"}`.
#[derive(Serialize)]
pub struct CommandView {
    pub id: String,
    pub subscription: String,
    pub microsoft_subscription: String,
    pub kind: &'static str,
    pub payload: serde_json::Value,
    pub status: &'static str,
    pub attempts: u32,
    pub last_error: Option<String>,
}

pub fn view(c: &StoredCommand) -> CommandView {
    let mut payload = serde_json::to_value(&c.command.action).unwrap_or_default();
    if let Some(map) = payload.as_object_mut() {
        map.remove("kind");
    }
    CommandView {
        id: c.command.key.clone(),
        subscription: c.command.subscription.to_string(),
        microsoft_subscription: c.command.microsoft_subscription.clone(),
        kind: c.command.action.kind(),
        payload,
        status: c.status(),
        attempts: c.attempts,
        last_error: c.last_error.clone(),
    }
}

/// Carries one command out; a purchase also returns the new subscription to link.
async fn carry_out(
    ms: &dyn Microsoft,
    stored: &StoredCommand,
) -> Result<(Done, Option<String>), MicrosoftError> {
    let c = &stored.command;
    if let MicrosoftAction::Purchase { seats, product } = &c.action {
        let correlation = correlation_id(&stored.tenant, &c.key);
        let tag = format!("renewals {} {}", stored.tenant, c.key);
        let like = c.microsoft_subscription.as_str();
        let id = ms
            .purchase(
                &correlation,
                &c.customer,
                like,
                product.as_deref(),
                *seats,
                &tag,
            )
            .await?;
        return Ok((Done::Changed, Some(id)));
    }
    Ok((carry_out_change(ms, stored).await?, None))
}

async fn carry_out_change(
    ms: &dyn Microsoft,
    stored: &StoredCommand,
) -> Result<Done, MicrosoftError> {
    let c = &stored.command;
    let correlation = correlation_id(&stored.tenant, &c.key);
    let (customer, id) = (c.customer.as_str(), c.microsoft_subscription.as_str());
    match &c.action {
        MicrosoftAction::Quantity { to, .. } => {
            ms.raise_quantity(&correlation, customer, id, *to).await
        }
        MicrosoftAction::Schedule {
            product,
            seats,
            new_product,
        } => {
            let new_product = new_product.then_some(product.as_str());
            ms.schedule_next_term(&correlation, customer, id, new_product, *seats)
                .await
        }
        MicrosoftAction::AutoRenew { enabled } => {
            ms.set_auto_renew(&correlation, customer, id, *enabled)
                .await
        }
        MicrosoftAction::Cancel { .. } => ms.cancel(&correlation, customer, id).await,
        MicrosoftAction::Purchase { .. } => unreachable!("purchases are carried out above"),
    }
}

/// Links a subscription bought at Microsoft in place of the one it replaces.
struct LinkBought {
    sub: SubscriptionId,
    id: String,
}

#[async_trait::async_trait]
impl Decision for LinkBought {
    type Output = ();
    async fn decide(&mut self, _svc: &Service, draft: &mut Draft) -> Result<(), ServiceError> {
        draft
            .account
            .link_microsoft_subscription(&self.sub, self.id.clone())?;
        Ok(())
    }
}

impl Service {
    async fn link_bought(&self, stored: &StoredCommand, id: String) -> Result<(), ServiceError> {
        let mut decision = LinkBought {
            sub: stored.command.subscription.clone(),
            id,
        };
        self.unit_of_work(&stored.tenant, self.today(), &mut decision)
            .await?;
        Ok(())
    }

    /// Links the customer's Microsoft tenant (Partner Center customer id).
    pub async fn link_microsoft_tenant(
        &self,
        tenant: &TenantId,
        guid: &str,
    ) -> Result<(), ServiceError> {
        let guid = parse_guid(guid)?;
        self.person_change(tenant, self.today(), move |acc, _| {
            acc.microsoft_tenant = Some(guid.clone());
            Ok(((), vec![]))
        })
        .await
    }

    /// Links an existing Microsoft subscription to ours.
    pub async fn link_microsoft_subscription(
        &self,
        sub: &SubscriptionId,
        guid: &str,
    ) -> Result<(), ServiceError> {
        let guid = parse_guid(guid)?;
        let tenant = self.tenant_of(sub).await?;
        self.person_change(&tenant, self.today(), move |acc, _| {
            acc.link_microsoft_subscription(sub, guid.clone())?;
            Ok(((), Vec::<Effect>::new()))
        })
        .await
    }

    pub async fn microsoft_commands(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<StoredCommand>, ServiceError> {
        self.load(tenant).await?;
        Ok(self.store.microsoft_commands_of(tenant).await?)
    }

    /// Queues the operator alert about a command given up on, or (`urgent`) about a
    /// cancellation still failing a day before its window closes. Once per command and kind.
    async fn alert_parked(&self, stored: &StoredCommand, error: &str, urgent: bool) -> usize {
        let Ok(account) = self.account(&stored.tenant).await else {
            return 0;
        };
        let c = &stored.command;
        let notice = Notice::DeliveryAlert {
            problem: DeliveryProblem::MicrosoftParked {
                command: c.action.kind().to_string(),
                key: c.key.clone(),
                subscription: c.subscription.to_string(),
                microsoft_subscription: c.microsoft_subscription.clone(),
                attempts: stored.attempts,
                error: error.to_string(),
                urgent,
                window_closes: match c.action {
                    MicrosoftAction::Cancel { window_closes } => window_closes,
                    _ => None,
                },
            },
            document: None,
            on: self.today(),
        };
        let change = Change {
            emails: vec![self.message(&account.tenant, &notice, self.today())],
            ..Change::default()
        };
        usize::from(self.store.commit(change).await.is_ok())
    }

    /// Carries out the Microsoft commands that are due. Without Partner Center here they
    /// wait in the outbox.
    pub async fn carry_out_microsoft(&self) -> Result<Commands, ServiceError> {
        let mut out = Commands::default();
        let Some(ms) = self.microsoft.clone() else {
            return Ok(out);
        };
        loop {
            let now = self.clock.now();
            let until = now + Duration::minutes(LEASE_MINUTES);
            let batch = self.store.claim_commands(now, until, BATCH).await?;
            let full = batch.len() == BATCH;
            for stored in batch {
                let error = match carry_out(ms.as_ref(), &stored).await {
                    Ok((done, bought)) => {
                        if let Some(id) = bought {
                            // Linked before marked done: a crash in between retries the
                            // purchase, which finds this subscription by its tag.
                            self.link_bought(&stored, id).await?;
                        }
                        self.store.mark_command_done(&stored).await?;
                        match done {
                            Done::Changed => out.done += 1,
                            Done::Already => out.already += 1,
                        }
                        tracing::info!(command = %stored.command.key, tenant = %stored.tenant, ?done, "Microsoft command carried out");
                        continue;
                    }
                    Err(e) => e,
                };
                out.failed += 1;
                let retry = next_attempt(&stored, &error, now);
                let text = error.to_string();
                let deadline = cancel_deadline(&stored.command.action);
                if retry != Retry::Park && deadline.is_some_and(|d| now >= d - Duration::hours(24))
                {
                    out.urgent += self.alert_parked(&stored, &text, true).await;
                    tracing::error!(command = %stored.command.key, tenant = %stored.tenant, error = %text, "cancellation at Microsoft still failing a day before its window closes");
                }
                if retry == Retry::Park {
                    out.parked += 1;
                    self.alert_parked(&stored, &text, false).await;
                    tracing::error!(command = %stored.command.key, tenant = %stored.tenant, attempts = stored.attempts, error = %text, "Microsoft command parked; the operator must act");
                } else {
                    tracing::warn!(command = %stored.command.key, attempts = stored.attempts, error = %text, "Microsoft command failed; tried again later");
                }
                self.store
                    .mark_command_failed(&stored, retry, &text)
                    .await?;
            }
            if !full {
                break;
            }
        }
        Ok(out)
    }
}

/// One difference between our subscription and Microsoft's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub tenant: String,
    pub subscription: String,
    pub microsoft_subscription: String,
    /// `quantity`, `status`, `term_end`, `auto_renew`, or `unreadable` (Microsoft did not
    /// answer or knows no such subscription).
    pub field: &'static str,
    pub ours: String,
    pub microsoft: String,
}

/// What reconciliation found; it changes nothing on either side.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    pub checked: usize,
    pub drift: Vec<Drift>,
}

/// A date after every next action: every tenant that still has one.
fn far_future() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(9999, 12, 31).expect("a valid date")
}

/// The Microsoft statuses that match ours.
fn status_matches(ours: renewals_domain::Status, microsoft: &str) -> bool {
    use renewals_domain::Status;
    match ours {
        Status::Active | Status::Overdue => microsoft == "active",
        Status::Suspended => matches!(microsoft, "deleted" | "suspended" | "expired" | "disabled"),
        Status::Ended => matches!(microsoft, "expired" | "disabled" | "deleted"),
        Status::Pending => matches!(microsoft, "pending" | "none"),
    }
}

impl Service {
    /// Reads every linked Microsoft subscription of the tenants the store lists and
    /// reports where Microsoft differs from us (quantity, status, term end, auto-renew).
    /// Nothing is changed on either side: the operator decides.
    pub async fn microsoft_sync(&self) -> Result<Reconciliation, ServiceError> {
        let mut out = Reconciliation::default();
        let Some(ms) = self.microsoft.clone() else {
            return Ok(out);
        };
        let mut after: Option<TenantId> = None;
        loop {
            let page = self
                .store
                .due_tenants(far_future(), after.as_ref(), 100)
                .await?;
            let Some(last) = page.last().cloned() else {
                break;
            };
            for tenant in &page {
                let account = self.account(tenant).await?;
                let Some(customer) = account.microsoft_tenant.clone() else {
                    continue;
                };
                for sub in &account.subscriptions {
                    let Some(msid) = sub.microsoft_subscription.clone() else {
                        continue;
                    };
                    out.checked += 1;
                    let mut drift = |field: &'static str, ours: String, microsoft: String| {
                        out.drift.push(Drift {
                            tenant: tenant.to_string(),
                            subscription: sub.id.to_string(),
                            microsoft_subscription: msid.clone(),
                            field,
                            ours,
                            microsoft,
                        })
                    };
                    let m = match ms.subscription(&customer, &msid).await {
                        Ok(m) => m,
                        Err(e) => {
                            drift("unreadable", sub.status.as_str().into(), e.to_string());
                            continue;
                        }
                    };
                    if !status_matches(sub.status, &m.status) {
                        drift("status", sub.status.as_str().into(), m.status.clone());
                    }
                    if sub.status != renewals_domain::Status::Active {
                        continue;
                    }
                    if m.quantity != sub.seats {
                        drift("quantity", sub.seats.to_string(), m.quantity.to_string());
                    }
                    if m.auto_renew != sub.auto_renew {
                        drift(
                            "auto_renew",
                            sub.auto_renew.to_string(),
                            m.auto_renew.to_string(),
                        );
                    }
                    // NCE's commitment end is inclusive: our period's last day.
                    let last_day = sub.period.last_day();
                    if m.commitment_end != Some(last_day) {
                        let theirs = m.commitment_end.map_or("none".into(), |d| d.to_string());
                        drift("term_end", last_day.to_string(), theirs);
                    }
                }
            }
            if page.len() < 100 {
                break;
            }
            after = Some(last);
        }
        Ok(out)
    }
}
