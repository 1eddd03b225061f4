//! People's changes: the operator adds tenants and subscriptions, customers add seats and
//! change plans, representatives reduce seats. Each is one unit of work on the account.

use crate::error::ServiceError;
use crate::ports::{Change, StoreError};
use crate::service::Service;
use crate::unit_of_work::{Decision, Draft};
use async_trait::async_trait;
use chrono::NaiveDate;
use renewals_domain::{
    parse_country, Account, Document, DocumentKind, Effect, EmailAddress, Numbering, ParseError,
    Refusal, SeriesKey, SubscriptionId, Tenant, TenantId, Term,
};

/// What `tenant update` changes: only the fields given. `address2` given empty clears line 2.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantUpdate {
    pub name: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub address2: Option<String>,
    pub country: Option<String>,
}

impl Service {
    /// Changes a tenant's name, e-mail or address (FA(3) `TAdres`): everything is checked
    /// before anything is written, and the change is one unit of work on the account. VAT
    /// invoices that waited for the address are released then; returns how many.
    pub async fn update_tenant(
        &self,
        tenant: &TenantId,
        update: TenantUpdate,
    ) -> Result<usize, ServiceError> {
        if update == TenantUpdate::default() {
            return Err(Refusal::NothingToUpdate(tenant.clone()).into());
        }
        let not_blank = |v: Option<String>, what: &'static str| {
            v.map(|v| {
                let t = v.trim().to_string();
                if t.is_empty() {
                    Err(ParseError::Empty(what))
                } else {
                    Ok(t)
                }
            })
            .transpose()
        };
        let name = not_blank(update.name, "tenant name")?;
        let address = not_blank(update.address, "address")?;
        let email = update
            .email
            .as_deref()
            .map(|e| EmailAddress::parse(e.trim()))
            .transpose()?;
        let country = update.country.as_deref().map(parse_country).transpose()?;
        let address2 = update
            .address2
            .map(|l| Some(l.trim().to_string()).filter(|l| !l.is_empty()));
        let today = self.today();
        self.person_change(tenant, today, |acc, _| {
            let t = &mut acc.tenant;
            if let Some(name) = &name {
                t.name = name.clone();
            }
            if let Some(email) = &email {
                t.email = email.clone();
            }
            if let Some(address) = &address {
                t.address = address.clone();
            }
            if let Some(address2) = &address2 {
                t.address2 = address2.clone();
            }
            if let Some(country) = &country {
                t.country = country.clone();
            }
            Ok(((), vec![]))
        })
        .await?;
        // Invoices that waited for the buyer's address get their XML and go to KSeF.
        self.release_invoices(tenant).await
    }

    /// Runs a person's change on an account; a document it issues gets its payment link
    /// before the e-mail is written, and the e-mails go out after the commit.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub(crate) async fn person_change<T: Send>(
        &self,
        tenant: &TenantId,
        date: NaiveDate,
        f: impl FnMut(&mut Account, &mut Numbering) -> Result<(T, Vec<Effect>), Refusal> + Send,
    ) -> Result<T, ServiceError> {
        let done = self
            .unit_of_work(tenant, date, &mut PersonChange { f, date })
            .await?;
        if done.changed {
            // The change stands whatever delivery does: its mail waits in the outbox.
            self.after_commit().await;
        }
        Ok(done.value)
    }

    pub async fn add_tenant(&self, tenant: Tenant) -> Result<(), ServiceError> {
        let id = tenant.id.clone();
        let entry = crate::audit::AuditEntry {
            at: self.clock.now(),
            actor: self.actor.clone(),
            action: "tenant_added".into(),
            document: None,
            subscription: None,
            summary: format!(
                "Dodano klienta {} (NIP {})",
                tenant.name,
                tenant.nip.as_str()
            ),
            filed_under: None,
        };
        let change = Change {
            account: Some(Account::new(tenant)),
            audit: vec![entry],
            ..Change::default()
        };
        match self.store.commit(change).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(_)) => Err(Refusal::TenantExists(id).into()),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores the card reference Przelewy24 gave for a tenant's automatic payments.
    pub async fn set_card(&self, tenant: &TenantId, card_ref: &str) -> Result<(), ServiceError> {
        let card_ref = card_ref.trim();
        if card_ref.is_empty() {
            return Err(Refusal::NoCardReference.into());
        }
        let today = self.today();
        self.person_change(tenant, today, |acc, _| {
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
        self.person_change(tenant, start, |acc, _| {
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
        self.person_change(&tenant, date, |acc, numbering| {
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
        self.person_change(&tenant, date, |acc, _| {
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
        self.person_change(&tenant, date, |acc, _| {
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
        self.person_change(&tenant, date, |acc, numbering| {
            let effects = acc.change_plan_now(sub, sku, date, policy, catalog, numbering)?;
            Ok((issued(&effects), effects))
        })
        .await
    }

    pub async fn renewal_off(&self, sub: &SubscriptionId) -> Result<(), ServiceError> {
        let tenant = self.tenant_of(sub).await?;
        let today = self.today();
        self.person_change(&tenant, today, |acc, _| {
            Ok(((), acc.turn_off_renewal(sub)?))
        })
        .await
    }
}

/// A person's change: the domain call `f`; an order it issues is numbered in the month of
/// `date`.
struct PersonChange<F> {
    f: F,
    date: NaiveDate,
}

#[async_trait]
impl<T, F> Decision for PersonChange<F>
where
    T: Send,
    F: FnMut(&mut Account, &mut Numbering) -> Result<(T, Vec<Effect>), Refusal> + Send,
{
    type Output = T;

    async fn decide(&mut self, svc: &Service, draft: &mut Draft) -> Result<T, ServiceError> {
        let series = SeriesKey::of(DocumentKind::Order, self.date);
        svc.load_series(&mut draft.numbering, series).await?;
        let (out, effects) = (self.f)(&mut draft.account, &mut draft.numbering)?;
        draft.effects.extend(effects);
        svc.register_links(&mut draft.account, &mut draft.effects, false)
            .await;
        Ok(out)
    }
}

/// The document a change issued.
fn issued(effects: &[Effect]) -> Document {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::Issued(d) => Some(d.clone()),
            _ => None,
        })
        .expect("the change issued a document")
}
