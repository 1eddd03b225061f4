//! The application service: the ports it works through, and what every use case shares:
//! reading accounts, turning the domain's effects into one atomic `Change` with its e-mails,
//! and delivering the outbox after the commit.

use crate::audit::{Actor, Audit};
use crate::config::Settings;
use crate::error::{NotFound, ServiceError};
use crate::ports::{
    Change, Clock, Composer, Content, Ksef, Letter, Loaded, Mailer, Microsoft, OutboxMessage,
    PaymentProvider, ProviderError, Store,
};
use crate::unit_of_work::Draft;
use chrono::NaiveDate;
use renewals_domain::{
    business_date, Account, Effect, Notice, Numbering, SeriesKey, SubscriptionId, Tenant, TenantId,
};
use std::sync::Arc;

#[derive(Clone)]
pub struct Service {
    pub store: Arc<dyn Store>,
    pub mailer: Arc<dyn Mailer>,
    /// `None` in a function that has no Przelewy24 access (expiry): nothing is registered,
    /// charged or looked up there.
    pub provider: Option<Arc<dyn PaymentProvider>>,
    pub clock: Arc<dyn Clock>,
    pub composer: Arc<dyn Composer>,
    pub settings: Settings,
    /// Partner Center (or its offline stand-in). `None`: commands wait in the outbox for a
    /// process that has it.
    pub microsoft: Option<Arc<dyn Microsoft>>,
    /// KSeF (or its offline stand-in). `None`: invoices wait in their outbox for a process
    /// that has it.
    pub ksef: Option<Arc<dyn Ksef>>,
    /// Who the changes made through this service are recorded as (see `acting_as`).
    pub actor: Actor,
    /// A deliverer of this process's own (`renewals serve`): woken after a commit that
    /// queued mail instead of delivering in the request. `None`: the committer delivers
    /// (a command or a Lambda invocation has nothing running after it).
    pub deliverer: Option<Arc<tokio::sync::Notify>>,
    /// Held while a payment is settled (shared by this service's copies). A settlement takes
    /// the next number of its month's VAT-invoice series as read when it decides, so two at
    /// once in one process race for it and the loser decides again (132-204 of 4,000
    /// payments at 8 clients did, some five times; 16 losses in a row answer 503). Across
    /// processes the commit's check on the counter still decides.
    pub numbering: Arc<tokio::sync::Mutex<()>>,
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
            microsoft: None,
            ksef: None,
            actor: Actor::Cli,
            deliverer: None,
            numbering: Arc::default(),
        }
    }

    /// The same service leaving delivery to a deliverer woken through `wake`.
    pub fn with_deliverer(mut self, wake: Arc<tokio::sync::Notify>) -> Service {
        self.deliverer = Some(wake);
        self
    }

    /// After a commit that queued mail: the deliverer is woken, or the mail delivered here.
    /// What fails stays in the outbox for the next delivery either way.
    pub(crate) async fn after_commit(&self) {
        match &self.deliverer {
            Some(wake) => wake.notify_one(),
            None => {
                let _ = self.deliver().await;
            }
        }
    }

    /// The same service recording its changes as made by `actor`: a cheap copy (the
    /// adapters are shared), so the actor reaches every unit of work without each use case
    /// taking it.
    pub fn acting_as(&self, actor: Actor) -> Service {
        Service {
            actor,
            ..self.clone()
        }
    }

    /// The same service carrying Microsoft commands out through `microsoft`.
    pub fn with_microsoft(mut self, microsoft: Arc<dyn Microsoft>) -> Service {
        self.microsoft = Some(microsoft);
        self
    }

    /// The same service sending VAT invoices through `ksef`.
    pub fn with_ksef(mut self, ksef: Arc<dyn Ksef>) -> Service {
        self.ksef = Some(ksef);
        self
    }

    /// The Europe/Warsaw business date of now.
    pub fn today(&self) -> NaiveDate {
        business_date(self.clock.now())
    }

    /// The payment provider, where this process has one.
    pub(crate) fn provider(&self) -> Result<&dyn PaymentProvider, ProviderError> {
        self.provider
            .as_deref()
            .ok_or_else(|| ProviderError::Unavailable("no Przelewy24 settings here".into()))
    }

    /// The tenant's account with the version its next change is guarded by.
    pub async fn load(&self, tenant: &TenantId) -> Result<Loaded, ServiceError> {
        self.store
            .load_account(tenant)
            .await?
            .ok_or_else(|| NotFound::Tenant(tenant.clone()).into())
    }

    pub async fn account(&self, tenant: &TenantId) -> Result<Account, ServiceError> {
        Ok(self.load(tenant).await?.account)
    }

    pub async fn tenant_of(&self, sub: &SubscriptionId) -> Result<TenantId, ServiceError> {
        self.store
            .tenant_of(sub)
            .await?
            .ok_or_else(|| NotFound::Subscription(sub.clone()).into())
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

    /// The outbox message committed with the change: what the e-mail must say, with the
    /// recipient and the instant it is dated; composed into MIME at delivery.
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
        let at = self.clock.now();
        let envelope = self.composer.envelope(notice, tenant, at);
        OutboxMessage {
            key,
            tenant: tenant.id.clone(),
            kind: envelope.kind.to_string(),
            to: envelope.to,
            subject: envelope.subject,
            document: notice.document_label(),
            date,
            content: Content::Letter(Box::new(Letter {
                notice: notice.clone(),
                recipient: tenant.clone(),
                message_id: format!("{}.{message_id}", tenant.id),
                at,
            })),
        }
    }

    /// Turns a draft into one atomic change of the account: documents, status changes,
    /// counters, the payment and the e-mails its notices call for.
    pub(crate) fn change(&self, draft: Draft, date: NaiveDate) -> Change {
        let audit = Audit {
            at: self.clock.now(),
            actor: &self.actor,
            before: draft.loaded(),
            after: &draft.account,
            effects: &draft.effects,
            payment: draft.payment.as_ref(),
            invoice: draft.invoice.as_ref(),
        }
        .entries();
        let mut change = Change {
            audit,
            next_action: draft.account.next_action_date(&self.settings.policy),
            counters: draft.numbering.advanced(),
            version: draft.version(),
            payment: draft.payment,
            invoice: draft.invoice,
            ..Change::default()
        };
        for effect in draft.effects {
            match effect {
                Effect::Issued(doc) => change.new_documents.push(doc),
                Effect::StatusChanged(n, s) => change.status_changes.push((n, s)),
                Effect::Notify(notice) => {
                    let message = self.message(&draft.account.tenant, &notice, date);
                    change.emails.push(message)
                }
                // Carried out after the commit (see `jobs`), never inside it.
                Effect::ChargeCard { .. } => {}
                // Committed with the change, carried out after it (see `microsoft`).
                Effect::Microsoft(command) => change.microsoft.push(command),
            }
        }
        change.account = Some(draft.account);
        change
    }
}
