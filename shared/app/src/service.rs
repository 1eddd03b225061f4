//! The application service: loads an account, lets the domain change it, and commits the
//! new state with its documents and e-mails in one atomic change, retrying on conflicts.

use crate::config::Settings;
use crate::ports::{
    Change, Clock, Composer, MailError, Mailer, OutboxMessage, PaymentProvider, Store, StoreError,
};
use chrono::NaiveDate;
use chrono_tz::Europe::Warsaw;
use renewals_domain::{
    Account, Document, DocumentKind, Effect, Notice, Numbering, SeriesKey, SubscriptionId, Tenant,
    TenantId, Term,
};
use std::sync::Arc;

/// How often a change is retried when another writer got there first.
const MAX_ATTEMPTS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A person asked for something the rules do not allow; the text says why.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => ServiceError::NotFound(m),
            other => ServiceError::Unexpected(anyhow::Error::new(other)),
        }
    }
}

pub struct Service {
    pub store: Arc<dyn Store>,
    pub mailer: Arc<dyn Mailer>,
    /// `None` in a function that has no Przelewy24 access (expiry): nothing is registered,
    /// charged or looked up there.
    pub provider: Option<Arc<dyn PaymentProvider>>,
    pub clock: Arc<dyn Clock>,
    pub composer: Arc<dyn Composer>,
    pub settings: Settings,
}

/// What an outbox delivery did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Delivery {
    pub sent: usize,
    pub failed: usize,
}

impl Service {
    pub fn new(
        store: Arc<dyn Store>,
        mailer: Arc<dyn Mailer>,
        provider: Option<Arc<dyn PaymentProvider>>,
        composer: Arc<dyn Composer>,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Service {
        Service {
            store,
            mailer,
            provider,
            clock,
            composer,
            settings,
        }
    }

    /// The Europe/Warsaw business date of now.
    pub fn today(&self) -> NaiveDate {
        self.clock.now().with_timezone(&Warsaw).date_naive()
    }

    pub async fn account(&self, tenant: &TenantId) -> Result<Account, ServiceError> {
        self.store
            .load_account(tenant)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no tenant `{tenant}`")))
    }

    pub async fn tenant_of(&self, sub: &SubscriptionId) -> Result<TenantId, ServiceError> {
        self.store
            .tenant_of(sub)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no subscription `{sub}`")))
    }

    pub(crate) async fn load_series(
        &self,
        numbering: &mut Numbering,
        key: SeriesKey,
    ) -> Result<(), ServiceError> {
        if !numbering.is_loaded(&key) {
            numbering.load(key, self.store.last_number(key).await?);
        }
        Ok(())
    }

    /// Renders a notice into the outbox message committed with the change.
    pub(crate) fn message(
        &self,
        tenant: &Tenant,
        notice: &Notice,
        date: NaiveDate,
    ) -> OutboxMessage {
        let key = notice.idempotency_key();
        let message_id: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '.'
                }
            })
            .collect();
        let email = self.composer.compose(
            notice,
            tenant,
            &format!("{}.{message_id}", tenant.id),
            self.clock.now(),
        );
        OutboxMessage {
            key,
            tenant: tenant.id.clone(),
            kind: email.kind.to_string(),
            to: email.to,
            subject: email.subject,
            document: notice.document_number().map(|n| n.to_string()),
            date,
            mime: email.mime,
        }
    }

    /// Turns the domain's effects into one atomic change of the account.
    pub(crate) fn change(
        &self,
        account: Account,
        effects: Vec<Effect>,
        numbering: &Numbering,
        date: NaiveDate,
    ) -> Change {
        let mut change = Change {
            next_action: account.next_action_date(&self.settings.policy),
            counters: numbering.advanced(),
            ..Change::default()
        };
        for effect in effects {
            match effect {
                Effect::Issued(doc) => change.new_documents.push(doc),
                Effect::StatusChanged(n, s) => change.status_changes.push((n, s)),
                Effect::Notify(notice) => {
                    change
                        .emails
                        .push(self.message(&account.tenant, &notice, date))
                }
                // Carried out after the commit (see `jobs`), never inside it.
                Effect::ChargeCard { .. } => {}
            }
        }
        change.account = Some(account);
        change
    }

    /// Runs a person's change on an account: load, decide, commit; retried on conflict.
    pub async fn update<T>(
        &self,
        tenant: &TenantId,
        date: NaiveDate,
        mut f: impl FnMut(&mut Account, &mut Numbering) -> Result<(T, Vec<Effect>), String>,
    ) -> Result<T, ServiceError> {
        for _ in 0..MAX_ATTEMPTS {
            let mut account = self.account(tenant).await?;
            let before = account.clone();
            let mut numbering = Numbering::default();
            self.load_series(&mut numbering, SeriesKey::of(DocumentKind::Order, date))
                .await?;
            let (out, mut effects) =
                f(&mut account, &mut numbering).map_err(ServiceError::Refused)?;
            if account == before && effects.is_empty() {
                return Ok(out); // a retried request that changes nothing
            }
            self.register_links(&mut account, &mut effects, false).await;
            let change = self.change(account, effects, &numbering, date);
            match self.store.commit(change).await {
                Ok(()) => {
                    self.deliver().await?;
                    return Ok(out);
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Unexpected(anyhow::anyhow!(
            "tenant {tenant} kept changing under us; try again"
        )))
    }

    pub async fn add_tenant(&self, tenant: Tenant) -> Result<(), ServiceError> {
        let id = tenant.id.clone();
        let change = Change {
            account: Some(Account::new(tenant)),
            ..Change::default()
        };
        match self.store.commit(change).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(_)) => Err(ServiceError::Refused(format!(
                "tenant `{id}` already exists; choose another id"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores the card reference Przelewy24 gave for a tenant's automatic payments.
    pub async fn set_card(&self, tenant: &TenantId, card_ref: &str) -> Result<(), ServiceError> {
        let card_ref = card_ref.trim();
        if card_ref.is_empty() {
            return Err(ServiceError::Refused(
                "the card reference must not be empty".into(),
            ));
        }
        let today = self.today();
        self.update(tenant, today, |acc, _| {
            acc.card_ref = Some(card_ref.to_string());
            Ok(((), vec![]))
        })
        .await
    }

    pub async fn add_subscription(
        &self,
        tenant: &TenantId,
        sku: &str,
        seats: u32,
        term: Term,
        start: NaiveDate,
    ) -> Result<SubscriptionId, ServiceError> {
        let catalog = &self.settings.catalog;
        self.update(tenant, start, |acc, _| {
            Ok((
                acc.add_subscription(catalog, sku, seats, term, start)?,
                vec![],
            ))
        })
        .await
    }

    /// Issues an order for seats added now; they count once it is paid.
    pub async fn add_seats(
        &self,
        sub: &SubscriptionId,
        seats: u32,
        date: NaiveDate,
    ) -> Result<Document, ServiceError> {
        let tenant = self.tenant_of(sub).await?;
        let (policy, catalog) = (&self.settings.policy, &self.settings.catalog);
        self.update(&tenant, date, |acc, numbering| {
            let effects = acc.order_seats(sub, seats, date, policy, catalog, numbering)?;
            Ok((issued(&effects), effects))
        })
        .await
    }

    pub async fn reduce_seats(
        &self,
        sub: &SubscriptionId,
        to: u32,
        representative: &str,
        date: NaiveDate,
    ) -> Result<(), ServiceError> {
        let tenant = self.tenant_of(sub).await?;
        let policy = &self.settings.policy;
        self.update(&tenant, date, |acc, _| {
            Ok(((), acc.reduce_seats(sub, to, representative, date, policy)?))
        })
        .await
    }

    pub async fn change_plan_at_renewal(
        &self,
        sub: &SubscriptionId,
        sku: &str,
        date: NaiveDate,
    ) -> Result<(), ServiceError> {
        let tenant = self.tenant_of(sub).await?;
        let (policy, catalog) = (&self.settings.policy, &self.settings.catalog);
        self.update(&tenant, date, |acc, _| {
            Ok((
                (),
                acc.change_plan_at_renewal(sub, sku, date, policy, catalog)?,
            ))
        })
        .await
    }

    /// Buys the new plan from `date`; returns the order for the new subscription.
    pub async fn change_plan_now(
        &self,
        sub: &SubscriptionId,
        sku: &str,
        date: NaiveDate,
    ) -> Result<Document, ServiceError> {
        let tenant = self.tenant_of(sub).await?;
        let (policy, catalog) = (&self.settings.policy, &self.settings.catalog);
        self.update(&tenant, date, |acc, numbering| {
            let effects = acc.change_plan_now(sub, sku, date, policy, catalog, numbering)?;
            Ok((issued(&effects), effects))
        })
        .await
    }

    pub async fn renewal_off(&self, sub: &SubscriptionId) -> Result<(), ServiceError> {
        let tenant = self.tenant_of(sub).await?;
        let today = self.today();
        self.update(&tenant, today, |acc, _| {
            Ok(((), acc.turn_off_renewal(sub)?))
        })
        .await
    }

    /// Sends what the outbox holds; a failed send stays there for the next attempt.
    pub async fn deliver(&self) -> Result<Delivery, ServiceError> {
        let mut delivery = Delivery::default();
        loop {
            let batch = self.store.unsent(200).await?;
            if batch.is_empty() {
                break;
            }
            let mut sent = vec![];
            let full = batch.len() == 200;
            for stored in batch {
                match self.mailer.send(stored.id, &stored.message).await {
                    Ok(()) => sent.push(stored.id),
                    Err(MailError::Temporary(e)) | Err(MailError::Rejected(e)) => {
                        tracing::warn!(message = stored.id, error = %e, "e-mail left in the outbox");
                        delivery.failed += 1;
                    }
                }
            }
            self.store.mark_sent(&sent).await?;
            delivery.sent += sent.len();
            // A batch that sent nothing would come back the same: leave it for the next run.
            if sent.is_empty() || !full {
                break;
            }
        }
        Ok(delivery)
    }
}

fn issued(effects: &[Effect]) -> Document {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::Issued(d) => Some(d.clone()),
            _ => None,
        })
        .expect("the change issued a document")
}
