//! The tenant's account: the aggregate every state change goes through.
//!
//! `decide` looks at the account on a date and says what is due; `apply` carries one decision
//! out on the in-memory account and returns the effects (documents, status changes, notices)
//! that the shell must store and send. Neither does IO or reads a clock.

use crate::calendar::{add_days, Period, Term};
use crate::catalog::Catalog;
use crate::document::{
    Document, DocumentKind, DocumentNumber, DocumentStatus, Line, LinePurpose, Numbering,
    SeriesKey, SessionId,
};
use crate::error::Refusal;
use crate::microsoft::{MicrosoftAction, MicrosoftCommand};
use crate::notice::Notice;
use crate::policy::Policy;
use crate::subscription::{
    Reduction, Renewal, Status, Subscription, SubscriptionId, Suspension, MIN_SEATS,
};
use crate::tenant::Tenant;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A document not yet paid, expired or cancelled, with how far its dunning has gone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenDocument {
    pub document: Document,
    pub last_reminder: Option<NaiveDate>,
    pub overdue_notified: bool,
    /// Days on which the stored card was charged for this document (automatic payments).
    #[serde(default)]
    pub card_charges: Vec<NaiveDate>,
    /// The expiry job held this document's suspension (no e-mail about it reached the
    /// customer) and told the operator: once is enough.
    #[serde(default)]
    pub suspension_held: bool,
}

impl OpenDocument {
    fn new(document: Document) -> OpenDocument {
        OpenDocument {
            suspension_held: false,
            document,
            last_reminder: None,
            overdue_notified: false,
            card_charges: vec![],
        }
    }

    /// The Przelewy24 session of the `attempt`-th card charge: each charge is its own
    /// registered transaction, tied back to the document by its session.
    pub fn card_session(&self, attempt: usize) -> SessionId {
        self.document.payment.session_id.card_charge(attempt)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub tenant: Tenant,
    pub subscriptions: Vec<Subscription>,
    pub open_documents: Vec<OpenDocument>,
    /// The card reference Przelewy24 gave for automatic payments (`card` tenants).
    #[serde(default)]
    pub card_ref: Option<String>,
    /// The customer's Microsoft tenant id (Partner Center customer id), if linked.
    #[serde(default)]
    pub microsoft_tenant: Option<String>,
}

/// Which scheduled job is deciding: the daily billing run or the expiry run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    Daily,
    Expiry,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// A paid next period starts.
    RollOver(SubscriptionId),
    /// Renewal is off and the period ran out.
    End(SubscriptionId),
    /// One pro-forma per tenant, renewal date and term, one line per subscription.
    IssueProforma {
        renewal_date: NaiveDate,
        term: Term,
        subscriptions: Vec<SubscriptionId>,
    },
    Remind {
        document: DocumentNumber,
        stage: NaiveDate,
    },
    MarkOverdue(DocumentNumber),
    /// Charge the stored card (issue day first, then reminder days, a bounded number of times).
    ChargeCard {
        document: DocumentNumber,
        attempt: usize,
    },
    Suspend(DocumentNumber),
    /// An order unpaid past its due date: no seats are added, and the pending subscription of
    /// a plan change ends without ever starting (no suspension: no service was ever on).
    ExpireOrder(DocumentNumber),
}

impl Action {
    /// The numbering series this action draws a number from, if any.
    pub fn series(&self, date: NaiveDate) -> Option<SeriesKey> {
        match self {
            Action::IssueProforma { .. } => Some(SeriesKey::of(DocumentKind::Proforma, date)),
            _ => None,
        }
    }
}

/// What a state change produced, for the shell to persist and send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    Issued(Document),
    StatusChanged(DocumentNumber, DocumentStatus),
    Notify(Notice),
    /// Charge the card once the intent is committed: committing first is what makes a
    /// second charge for the same attempt impossible, also when runs race.
    ChargeCard {
        document: Document,
        session_id: SessionId,
        card_ref: String,
        attempt: usize,
    },
    /// Carried out at Microsoft after the commit, through the commands outbox.
    Microsoft(MicrosoftCommand),
}

/// What a received payment did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum PaymentOutcome {
    /// The next period (or the document's seats) is paid for.
    Activated { late: bool },
    /// A suspended subscription was bought again.
    Restored,
    /// Money received that activates nothing; the operator refunds it.
    RefundFlagged { reason: String },
}

impl Account {
    pub fn new(tenant: Tenant) -> Account {
        Account {
            tenant,
            subscriptions: vec![],
            open_documents: vec![],
            card_ref: None,
            microsoft_tenant: None,
        }
    }

    /// The command for Microsoft's side of a subscription, when both the tenant and the
    /// subscription are linked; unlinked, there is nothing to do at Microsoft.
    fn microsoft(&self, id: &SubscriptionId, key: String, action: MicrosoftAction) -> Vec<Effect> {
        let Some(customer) = self.microsoft_tenant.clone() else {
            return vec![];
        };
        let Some(ms) = self
            .subscription(id)
            .ok()
            .and_then(|s| s.microsoft_subscription.clone())
        else {
            return vec![];
        };
        vec![Effect::Microsoft(MicrosoftCommand {
            key: format!("{}:{key}", action.kind()),
            subscription: id.clone(),
            customer,
            microsoft_subscription: ms,
            action,
        })]
    }

    /// The next term as scheduled now (product and seats), for Microsoft.
    /// Each one is a command of its own (a later one replaces the earlier at Microsoft).
    fn microsoft_schedule(&mut self, id: &SubscriptionId) -> Vec<Effect> {
        let Ok(sub) = self.subscription(id) else {
            return vec![];
        };
        let (product, seats) = (
            sub.product_next_period().to_string(),
            sub.seats_next_period(),
        );
        let new_product = product != sub.product;
        let n = sub.microsoft_schedules + 1;
        let key = format!("{id}:{}:{n}", sub.period.end);
        let action = MicrosoftAction::Schedule {
            product,
            seats,
            new_product,
        };
        let effects = self.microsoft(id, key, action);
        if !effects.is_empty() {
            self.subscription_mut(id).microsoft_schedules = n;
        }
        effects
    }

    /// Links an existing Microsoft subscription (a GUID, see `parse_guid`) to one of ours.
    pub fn link_microsoft_subscription(
        &mut self,
        id: &SubscriptionId,
        guid: String,
    ) -> Result<(), Refusal> {
        self.subscription(id)?;
        self.subscription_mut(id).microsoft_subscription = Some(guid);
        Ok(())
    }

    pub fn subscription(&self, id: &SubscriptionId) -> Result<&Subscription, Refusal> {
        self.subscriptions
            .iter()
            .find(|s| &s.id == id)
            .ok_or_else(|| Refusal::NoSubscription {
                subscription: id.clone(),
                tenant: self.tenant.id.clone(),
            })
    }

    fn subscription_mut(&mut self, id: &SubscriptionId) -> &mut Subscription {
        self.subscriptions
            .iter_mut()
            .find(|s| &s.id == id)
            .expect("decided on an existing subscription")
    }

    fn open(&self, number: &DocumentNumber) -> Option<&OpenDocument> {
        self.open_documents
            .iter()
            .find(|o| &o.document.number == number)
    }

    fn open_mut(&mut self, number: &DocumentNumber) -> &mut OpenDocument {
        self.open_documents
            .iter_mut()
            .find(|o| &o.document.number == number)
            .expect("decided on an open document")
    }

    fn close(&mut self, number: &DocumentNumber, status: DocumentStatus) -> Document {
        let at = self
            .open_documents
            .iter()
            .position(|o| &o.document.number == number)
            .expect("closing an open document");
        let mut doc = self.open_documents.remove(at).document;
        doc.status = status;
        doc
    }

    // ---------------------------------------------------------------- the renewal cycle

    /// Everything due on `date` for `job`. Applying all of it and deciding again for the same
    /// date yields nothing: that is what makes runs idempotent.
    pub fn decide(&self, date: NaiveDate, policy: &Policy, job: Job) -> Vec<Action> {
        match job {
            Job::Daily => self.decide_daily(date, policy),
            Job::Expiry => self.decide_expiry(date, policy),
        }
    }

    fn decide_daily(&self, date: NaiveDate, policy: &Policy) -> Vec<Action> {
        let mut actions = vec![];
        // (renewal date, term): a monthly and an annual subscription ending the same day are
        // billed apart, each with its own lead time and period.
        let mut renewals = BTreeSet::new();
        for sub in &self.subscriptions {
            let live = matches!(sub.status, Status::Active | Status::Overdue);
            match &sub.renewal {
                Some(r) if r.paid && date >= sub.period.end => {
                    actions.push(Action::RollOver(sub.id.clone()))
                }
                None if live && !sub.auto_renew && date >= sub.period.end => {
                    actions.push(Action::End(sub.id.clone()))
                }
                None if live && sub.auto_renew && date >= policy.issue_date(sub) => {
                    renewals.insert((sub.period.end, sub.term));
                }
                _ => {}
            }
        }
        for (renewal_date, term) in renewals {
            // Subscriptions of one term renewing the same day share one pro-forma (the same
            // lead time, so the same issue day).
            let subscriptions = self
                .subscriptions
                .iter()
                .filter(|s| {
                    s.status == Status::Active
                        && s.auto_renew
                        && s.renewal.is_none()
                        && s.period.end == renewal_date
                        && s.term == term
                })
                .map(|s| s.id.clone())
                .collect();
            actions.push(Action::IssueProforma {
                renewal_date,
                term,
                subscriptions,
            });
        }
        for open in &self.open_documents {
            let doc = &open.document;
            if doc.kind != DocumentKind::Proforma {
                if let Some(attempt) = self.card_charge_due(open, date, policy) {
                    actions.push(Action::ChargeCard {
                        document: doc.number.clone(),
                        attempt,
                    });
                }
                continue;
            }
            if let Some(attempt) = self.card_charge_due(open, date, policy) {
                actions.push(Action::ChargeCard {
                    document: doc.number.clone(),
                    attempt,
                });
            }
            if date < doc.period.start {
                // On catch-up only the latest due reminder goes out.
                let stage = policy
                    .reminder_dates(doc.due_date)
                    .into_iter()
                    .filter(|s| *s > doc.issue_date && *s <= date)
                    .max();
                if let Some(stage) = stage {
                    if open.last_reminder.is_none_or(|last| stage > last) {
                        actions.push(Action::Remind {
                            document: doc.number.clone(),
                            stage,
                        });
                    }
                }
            } else if !open.overdue_notified {
                actions.push(Action::MarkOverdue(doc.number.clone()));
            }
        }
        actions
    }

    /// Which card charge is due for a document today, if any: the first on any day up to the
    /// due date, retries only on reminder days, at most `card_charge_attempts`, one a day.
    fn card_charge_due(
        &self,
        open: &OpenDocument,
        date: NaiveDate,
        policy: &Policy,
    ) -> Option<usize> {
        let doc = &open.document;
        let done = open.card_charges.len();
        let eligible = self.tenant.payment_method == crate::tenant::PaymentMethod::Card
            && self.card_ref.is_some()
            && date <= doc.due_date
            && date >= doc.issue_date
            && done < policy.card_charge_attempts
            && open.card_charges.last().is_none_or(|last| *last < date)
            && (done == 0 || policy.reminder_dates(doc.due_date).contains(&date));
        eligible.then_some(done + 1)
    }

    fn decide_expiry(&self, date: NaiveDate, policy: &Policy) -> Vec<Action> {
        let mut actions = vec![];
        for open in &self.open_documents {
            let doc = &open.document;
            match doc.kind {
                // A renewal runs on through grace, then is suspended.
                DocumentKind::Proforma if date >= policy.suspension_date(doc) => {
                    actions.push(Action::Suspend(doc.number.clone()))
                }
                // An order (seats, or a plan change's new subscription) starts nothing until
                // paid: past its due date it simply expires, well inside Microsoft's window.
                DocumentKind::Order if date > doc.due_date => {
                    actions.push(Action::ExpireOrder(doc.number.clone()))
                }
                _ => {}
            }
        }
        actions
    }

    /// The earliest date on which either job has something to do, for the due-date index.
    pub fn next_action_date(&self, policy: &Policy) -> Option<NaiveDate> {
        let mut candidates = BTreeSet::new();
        for sub in &self.subscriptions {
            candidates.insert(sub.period.end);
            candidates.insert(policy.issue_date(sub));
        }
        for open in &self.open_documents {
            let doc = &open.document;
            candidates.extend(policy.reminder_dates(doc.due_date));
            candidates.insert(doc.period.start);
            candidates.insert(add_days(doc.due_date, 1));
            candidates.insert(policy.suspension_date(doc));
        }
        let due = candidates.into_iter().find(|d| {
            !self.decide(*d, policy, Job::Daily).is_empty()
                || !self.decide(*d, policy, Job::Expiry).is_empty()
        });
        // A document whose payment link could not be registered is retried from the next day.
        let retry = self
            .open_documents
            .iter()
            .filter(|o| o.document.payment.link.is_none())
            .map(|o| add_days(o.document.issue_date, 1))
            .min();
        match (due, retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn apply(
        &mut self,
        action: Action,
        date: NaiveDate,
        policy: &Policy,
        catalog: &Catalog,
        numbering: &mut Numbering,
    ) -> Result<Vec<Effect>, Refusal> {
        Ok(match action {
            Action::RollOver(id) => {
                let sub = self.subscription_mut(&id);
                let r = sub.renewal.take().expect("roll over a paid renewal");
                start_period(sub, r);
                vec![]
            }
            Action::End(id) => {
                let sub = self.subscription_mut(&id);
                sub.status = Status::Ended;
                vec![Effect::Notify(Notice::RenewalEnded {
                    subscription: id,
                    product: sub.product.clone(),
                    ended_on: sub.period.end,
                })]
            }
            Action::IssueProforma {
                renewal_date,
                subscriptions,
                ..
            } => self.issue_proforma(renewal_date, &subscriptions, date, catalog, numbering)?,
            Action::Remind { document, stage } => {
                let open = self.open_mut(&document);
                open.last_reminder = Some(stage);
                vec![Effect::Notify(Notice::Reminder {
                    document: open.document.clone(),
                    stage,
                })]
            }
            Action::MarkOverdue(number) => {
                let open = self.open_mut(&number);
                open.overdue_notified = true;
                let document = open.document.clone();
                for sub in self.subscriptions.iter_mut() {
                    if sub.renewal.as_ref().is_some_and(|r| r.document == number) {
                        sub.status = Status::Overdue;
                    }
                }
                vec![Effect::Notify(Notice::Overdue {
                    suspension_on: policy.suspension_date(&document),
                    document,
                })]
            }
            Action::ChargeCard { document, attempt } => {
                let card_ref = self.card_ref.clone().expect("decided for a stored card");
                let open = self.open_mut(&document);
                open.card_charges.push(date);
                vec![Effect::ChargeCard {
                    document: open.document.clone(),
                    session_id: open.card_session(attempt),
                    card_ref,
                    attempt,
                }]
            }
            Action::Suspend(number) => {
                let document = self.close(&number, DocumentStatus::Expired);
                for line in &document.lines {
                    let sub = self.subscription_mut(&line.subscription);
                    sub.status = Status::Suspended;
                    sub.renewal = None;
                    sub.suspension = Some(Suspension {
                        on: date,
                        document: number.clone(),
                    });
                }
                let mut effects = vec![
                    Effect::StatusChanged(number.clone(), DocumentStatus::Expired),
                    Effect::Notify(Notice::Suspension {
                        document: document.clone(),
                        data_kept_until: add_days(date, policy.restore_window_days),
                    }),
                ];
                // Microsoft renewed the term at its end: cancelled inside the window, the
                // reseller pays only for the days of grace.
                let window_closes = Some(add_days(
                    document.period.start,
                    crate::microsoft::CANCELLATION_WINDOW_DAYS,
                ));
                for line in &document.lines {
                    effects.extend(self.microsoft(
                        &line.subscription,
                        format!("{}:{number}", line.subscription),
                        MicrosoftAction::Cancel { window_closes },
                    ));
                }
                effects
            }
            Action::ExpireOrder(number) => {
                let document = self.close(&number, DocumentStatus::Expired);
                for line in &document.lines {
                    if line.purpose == LinePurpose::NewSubscription {
                        let sub = self.subscription_mut(&line.subscription);
                        if sub.status == Status::Pending {
                            sub.status = Status::Ended;
                            sub.auto_renew = false;
                        }
                    }
                }
                vec![Effect::StatusChanged(number, DocumentStatus::Expired)]
            }
        })
    }

    fn issue_proforma(
        &mut self,
        renewal_date: NaiveDate,
        subscriptions: &[SubscriptionId],
        date: NaiveDate,
        catalog: &Catalog,
        numbering: &mut Numbering,
    ) -> Result<Vec<Effect>, Refusal> {
        let mut lines = vec![];
        for id in subscriptions {
            let sub = self.subscription(id)?;
            let sku = sub.product_next_period();
            let product = catalog.subscription_product(sku)?;
            let unit_price = product.price(sub.term).expect("validated catalog");
            let seats = sub.seats_next_period();
            lines.push(Line {
                subscription: id.clone(),
                product: product.sku.clone(),
                product_name: product.name.clone(),
                seats,
                unit_price,
                period: sub.period.following(sub.term, sub.anchor_day),
                net: unit_price.times(seats),
                purpose: LinePurpose::Renewal,
            });
        }
        let period = Period {
            start: renewal_date,
            end: lines.iter().map(|l| l.period.end).max().expect("one line"),
        };
        let due = add_days(renewal_date, -1).max(date);
        let (document, effects) =
            self.issue(DocumentKind::Proforma, date, due, period, lines, numbering);
        for line in &document.lines {
            let sub = self.subscription_mut(&line.subscription);
            sub.renewal = Some(Renewal {
                document: document.number.clone(),
                period: line.period,
                product: line.product.clone(),
                seats: line.seats,
                unit_price: line.unit_price,
                paid: false,
            });
        }
        Ok(effects)
    }

    /// Numbers a document in its series, keeps it open on the account until it is paid,
    /// expired or cancelled, and tells the customer.
    fn issue(
        &mut self,
        kind: DocumentKind,
        date: NaiveDate,
        due: NaiveDate,
        period: Period,
        lines: Vec<Line>,
        numbering: &mut Numbering,
    ) -> (Document, Vec<Effect>) {
        let number = numbering.next(kind, date);
        let document = Document::new(number, self.tenant.id.clone(), date, due, period, lines);
        self.open_documents
            .push(OpenDocument::new(document.clone()));
        let notice = match kind {
            DocumentKind::Proforma => Notice::Proforma {
                document: document.clone(),
            },
            DocumentKind::Order => Notice::Order {
                document: document.clone(),
            },
        };
        let effects = vec![Effect::Issued(document.clone()), Effect::Notify(notice)];
        (document, effects)
    }

    // ---------------------------------------------------------------- changes by people

    pub fn add_subscription(
        &mut self,
        catalog: &Catalog,
        sku: &str,
        seats: u32,
        term: Term,
        start: NaiveDate,
    ) -> Result<SubscriptionId, Refusal> {
        let product = catalog.subscription_product(sku)?;
        let id = SubscriptionId::new(&self.tenant.id, self.subscriptions.len() + 1);
        self.subscriptions.push(Subscription {
            id: id.clone(),
            product: product.sku.clone(),
            seats,
            term,
            period: Period::starting(start, term, start.day()),
            anchor_day: start.day(),
            unit_price: product.price(term).expect("validated catalog"),
            status: Status::Active,
            auto_renew: true,
            scheduled: Default::default(),
            renewal: None,
            suspension: None,
            replaces: None,
            microsoft_subscription: None,
            microsoft_schedules: 0,
        });
        Ok(id)
    }

    /// Changes to the next period are possible only until its pro-forma is issued.
    fn check_before_proforma(
        &self,
        sub: &Subscription,
        date: NaiveDate,
        policy: &Policy,
        what: &'static str,
    ) -> Result<(), Refusal> {
        if let Some(r) = &sub.renewal {
            return Err(Refusal::ProformaIssued {
                what,
                subscription: sub.id.clone(),
                document: r.document.clone(),
                reopens: sub.period.end,
            });
        }
        let issue_date = policy.issue_date(sub);
        if date >= issue_date {
            return Err(Refusal::ProformaDay {
                what,
                subscription: sub.id.clone(),
                issue_date,
                reopens: sub.period.end,
            });
        }
        if date < sub.period.start {
            return Err(Refusal::BeforePeriod {
                what,
                subscription: sub.id.clone(),
                date,
                starts: sub.period.start,
            });
        }
        Ok(())
    }

    fn check_active(sub: &Subscription, what: &'static str) -> Result<(), Refusal> {
        if sub.status != Status::Active {
            return Err(Refusal::NotActive {
                what,
                subscription: sub.id.clone(),
                status: sub.status.as_str(),
            });
        }
        Ok(())
    }

    /// Seats can be added until the renewal pro-forma is issued; with renewal off none will
    /// be, so until the last day of the period. Returns the last day the order may be due:
    /// the day before the issue day, or the period's last day.
    fn check_seat_addition(
        &self,
        sub: &Subscription,
        date: NaiveDate,
        policy: &Policy,
    ) -> Result<NaiveDate, Refusal> {
        const WHAT: &str = "adding seats";
        if sub.auto_renew || sub.renewal.is_some() {
            self.check_before_proforma(sub, date, policy, WHAT)?;
            return Ok(add_days(policy.issue_date(sub), -1));
        }
        if date >= sub.period.end {
            return Err(Refusal::PeriodEnded {
                what: WHAT,
                subscription: sub.id.clone(),
                ends: sub.period.end,
            });
        }
        if date < sub.period.start {
            return Err(Refusal::BeforePeriod {
                what: WHAT,
                subscription: sub.id.clone(),
                date,
                starts: sub.period.start,
            });
        }
        Ok(sub.period.last_day())
    }

    /// A customer adds seats for the rest of the period; they count once the order is paid.
    pub fn order_seats(
        &mut self,
        id: &SubscriptionId,
        seats: u32,
        date: NaiveDate,
        policy: &Policy,
        catalog: &Catalog,
        numbering: &mut Numbering,
    ) -> Result<Vec<Effect>, Refusal> {
        let sub = self.subscription(id)?;
        Self::check_active(sub, "adding seats")?;
        let last_day = self.check_seat_addition(sub, date, policy)?;
        let period = Period {
            start: date,
            end: sub.period.end,
        };
        let net = sub.prorated(seats, date);
        let due = add_days(date, policy.order_due_days).min(last_day);
        let line = Line {
            subscription: sub.id.clone(),
            product: sub.product.clone(),
            product_name: product_name(catalog, &sub.product),
            seats,
            unit_price: sub.unit_price,
            period,
            net,
            purpose: LinePurpose::SeatAddition,
        };
        let (_, effects) = self.issue(
            DocumentKind::Order,
            date,
            due,
            period,
            vec![line],
            numbering,
        );
        Ok(effects)
    }

    /// A reseller's representative lowers the seat count from the next period on.
    pub fn reduce_seats(
        &mut self,
        id: &SubscriptionId,
        to: u32,
        representative: &str,
        date: NaiveDate,
        policy: &Policy,
    ) -> Result<Vec<Effect>, Refusal> {
        let representative = representative.trim();
        if representative.is_empty() {
            return Err(Refusal::NoRepresentative);
        }
        let sub = self.subscription(id)?;
        Self::check_active(sub, "reducing seats")?;
        if sub.scheduled.reduction.as_ref().is_some_and(|r| r.to == to) {
            return Ok(vec![]); // already scheduled: a retry changes nothing
        }
        self.check_before_proforma(sub, date, policy, "reducing seats")?;
        if to < MIN_SEATS {
            return Err(Refusal::BelowMinimum {
                subscription: id.clone(),
                to,
            });
        }
        if to >= sub.seats {
            return Err(Refusal::NotAReduction {
                subscription: id.clone(),
                to,
                seats: sub.seats,
            });
        }
        let (seats_now, effective, product) = (sub.seats, sub.period.end, sub.product.clone());
        let sub = self.subscription_mut(id);
        sub.scheduled.reduction = Some(Reduction {
            to,
            representative: representative.to_string(),
            agreed_on: date,
            seats_added: 0,
        });
        let mut effects = vec![Effect::Notify(Notice::ReductionScheduled {
            subscription: id.clone(),
            product,
            seats_now,
            seats_next: to,
            effective,
            representative: representative.to_string(),
        })];
        effects.extend(self.microsoft_schedule(id));
        Ok(effects)
    }

    pub fn change_plan_at_renewal(
        &mut self,
        id: &SubscriptionId,
        sku: &str,
        date: NaiveDate,
        policy: &Policy,
        catalog: &Catalog,
    ) -> Result<Vec<Effect>, Refusal> {
        let product = catalog.subscription_product(sku)?;
        let sub = self.subscription(id)?;
        Self::check_active(sub, "changing the plan")?;
        if sub.product_next_period() == sku {
            return Ok(vec![]); // already the plan for the next period
        }
        self.check_before_proforma(sub, date, policy, "changing the plan at renewal")?;
        if !sub.auto_renew {
            return Err(Refusal::RenewalOff(id.clone()));
        }
        let (from, effective) = (sub.product.clone(), sub.period.end);
        let sku = product.sku.clone();
        self.subscription_mut(id).scheduled.product =
            if sku == from { None } else { Some(sku.clone()) };
        let mut effects = vec![Effect::Notify(Notice::PlanChange {
            subscription: id.clone(),
            from,
            to: sku,
            effective,
            new_subscription: None,
        })];
        effects.extend(self.microsoft_schedule(id));
        Ok(effects)
    }

    /// The customer buys the new plan from today: a new subscription, `pending` until its
    /// order is paid. The old one keeps renewing until then; paid, the new one is active and
    /// the old one stops renewing; unpaid by the due date, the new one ends unstarted.
    pub fn change_plan_now(
        &mut self,
        id: &SubscriptionId,
        sku: &str,
        date: NaiveDate,
        policy: &Policy,
        catalog: &Catalog,
        numbering: &mut Numbering,
    ) -> Result<Vec<Effect>, Refusal> {
        let product = catalog.subscription_product(sku)?.clone();
        let sub = self.subscription(id)?.clone();
        Self::check_active(&sub, "changing the plan")?;
        if sub.product == sku {
            return Err(Refusal::SamePlan {
                subscription: id.clone(),
                sku: sku.to_string(),
            });
        }
        // The old one can stop renewing when the order is paid, unless its next period is
        // paid for already.
        if let Some(r) = sub.renewal.as_ref().filter(|r| r.paid) {
            return Err(Refusal::NextPeriodPaid {
                what: "changing the plan now",
                subscription: id.clone(),
                starts: r.period.start,
                document: r.document.clone(),
            });
        }
        let mut effects = vec![];
        let new_id = self.add_subscription(catalog, sku, sub.seats, sub.term, date)?;
        let new_sub = self.subscription_mut(&new_id);
        new_sub.status = Status::Pending;
        new_sub.replaces = Some(id.clone());
        let new_sub = new_sub.clone();
        let line = Line {
            subscription: new_id.clone(),
            product: product.sku.clone(),
            product_name: product.name.clone(),
            seats: new_sub.seats,
            unit_price: new_sub.unit_price,
            period: new_sub.period,
            net: new_sub.unit_price.times(new_sub.seats),
            purpose: LinePurpose::NewSubscription,
        };
        let due = add_days(date, policy.order_due_days);
        let (_, issued) = self.issue(
            DocumentKind::Order,
            date,
            due,
            new_sub.period,
            vec![line],
            numbering,
        );
        effects.extend(issued);
        effects.push(Effect::Notify(Notice::PlanChange {
            subscription: id.clone(),
            from: sub.product.clone(),
            to: product.sku,
            effective: date,
            new_subscription: Some(new_id),
        }));
        Ok(effects)
    }

    /// No pro-forma, no reminders; at the period end the subscription is `ended`.
    pub fn turn_off_renewal(&mut self, id: &SubscriptionId) -> Result<Vec<Effect>, Refusal> {
        let sub = self.subscription(id)?;
        if !sub.auto_renew {
            return Ok(vec![]);
        }
        if matches!(sub.status, Status::Suspended | Status::Ended) {
            return Err(Refusal::AlreadyStopped {
                subscription: id.clone(),
                status: sub.status.as_str(),
            });
        }
        self.stop_renewing(id, "turning renewal off")
    }

    /// Stops a subscription renewing; an unpaid renewal pro-forma is cancelled, and the other
    /// subscriptions it covered get a new one on the next daily run.
    fn stop_renewing(
        &mut self,
        id: &SubscriptionId,
        what: &'static str,
    ) -> Result<Vec<Effect>, Refusal> {
        let sub = self.subscription(id)?;
        if let Some(r) = sub.renewal.as_ref().filter(|r| r.paid) {
            return Err(Refusal::NextPeriodPaid {
                what,
                subscription: id.clone(),
                starts: r.period.start,
                document: r.document.clone(),
            });
        }
        Ok(self.no_more_renewals(id))
    }

    /// Renewal off from now: an unpaid renewal pro-forma is cancelled (the other
    /// subscriptions it covered get a new one on the next daily run); a paid next period
    /// still starts and the subscription ends at its end.
    fn no_more_renewals(&mut self, id: &SubscriptionId) -> Vec<Effect> {
        let sub = self
            .subscription(id)
            .expect("stopping an existing subscription");
        let mut effects = vec![];
        if let Some(r) = sub.renewal.as_ref().filter(|r| !r.paid) {
            let number = r.document.clone();
            self.close(&number, DocumentStatus::Cancelled);
            for s in self.subscriptions.iter_mut() {
                if s.renewal.as_ref().is_some_and(|r| r.document == number) {
                    s.renewal = None;
                }
            }
            effects.push(Effect::StatusChanged(number, DocumentStatus::Cancelled));
        }
        let sub = self.subscription_mut(id);
        sub.auto_renew = false;
        sub.scheduled = Default::default();
        let key = format!("{id}:off:{}", sub.period.end);
        effects.extend(self.microsoft(id, key, MicrosoftAction::AutoRenew { enabled: false }));
        effects
    }

    // ---------------------------------------------------------------- payments

    /// Applies a verified payment of `document` in full, received on `date`.
    pub fn pay(
        &mut self,
        document: &Document,
        date: NaiveDate,
        policy: &Policy,
    ) -> (PaymentOutcome, Vec<Effect>) {
        let number = document.number.clone();
        let refund = |reason: String| (PaymentOutcome::RefundFlagged { reason }, vec![]);
        if let Some(open) = self.open(&number) {
            let doc = open.document.clone();
            let late = date > doc.due_date;
            if doc.kind == DocumentKind::Order {
                let blocked = doc.lines.iter().any(|l| {
                    l.purpose == LinePurpose::SeatAddition
                        && self
                            .subscription(&l.subscription)
                            .map_or(true, |s| s.renewal.is_some() || s.status != Status::Active)
                });
                if blocked {
                    return refund(format!(
                        "order {number} was paid after the renewal pro-forma was issued; the seats were not added"
                    ));
                }
            }
            let doc = self.close(&number, DocumentStatus::Paid);
            let mut replaced = vec![];
            let mut microsoft = vec![];
            for line in &doc.lines {
                let sub = self.subscription_mut(&line.subscription);
                match line.purpose {
                    LinePurpose::Renewal => {
                        if let Some(r) = sub.renewal.as_mut() {
                            r.paid = true;
                        }
                        if date >= sub.period.end {
                            // Paid during grace: the new period still starts at the old end.
                            let r = sub.renewal.take().expect("renewal of a paid pro-forma");
                            start_period(sub, r);
                        }
                    }
                    LinePurpose::SeatAddition => {
                        sub.seats += line.seats;
                        let rescheduled = sub.scheduled.product.is_some();
                        let reduced = if let Some(r) = sub.scheduled.reduction.as_mut() {
                            r.seats_added += line.seats;
                            true
                        } else {
                            false
                        };
                        let (id, to) = (sub.id.clone(), sub.seats);
                        microsoft.extend(self.microsoft(
                            &id,
                            format!("{number}:{id}"),
                            MicrosoftAction::Quantity {
                                add: line.seats,
                                to,
                            },
                        ));
                        // A change of quantity mid-term deletes Microsoft's next-term
                        // instructions: set them again, with the seats just added.
                        if reduced || rescheduled {
                            microsoft.extend(self.microsoft_schedule(&id));
                        }
                    }
                    LinePurpose::NewSubscription => {
                        if sub.status == Status::Pending {
                            sub.status = Status::Active;
                            replaced.extend(sub.replaces.clone());
                            let (new, old) = (sub.id.clone(), sub.replaces.clone());
                            let (product, seats) = (sub.product.clone(), sub.seats);
                            // The new plan is bought at Microsoft like the one it replaces
                            // (its term and billing cycle), and linked to the new one.
                            if let Some(old) = old {
                                let purchase = MicrosoftAction::Purchase {
                                    seats,
                                    product: Some(product),
                                };
                                let key = format!("{new}:{number}");
                                for effect in self.microsoft(&old, key, purchase) {
                                    if let Effect::Microsoft(mut c) = effect {
                                        c.subscription = new.clone();
                                        microsoft.push(Effect::Microsoft(c));
                                    }
                                }
                            }
                        }
                    }
                }
            }
            let mut effects = vec![Effect::StatusChanged(number, DocumentStatus::Paid)];
            effects.extend(microsoft);
            for old in &replaced {
                effects.extend(self.no_more_renewals(old));
            }
            let notice = match doc.kind {
                DocumentKind::Proforma => Notice::PaymentConfirmation {
                    document: doc.clone(),
                    paid_on: date,
                    late,
                },
                DocumentKind::Order => Notice::OrderPaid {
                    document: doc.clone(),
                    paid_on: date,
                },
            };
            effects.push(Effect::Notify(notice));
            return (PaymentOutcome::Activated { late }, effects);
        }
        match document.status {
            DocumentStatus::Expired => self.restore(document, date, policy),
            DocumentStatus::Paid => refund(format!("{number} was already paid")),
            DocumentStatus::Cancelled => refund(format!("{number} was cancelled")),
            DocumentStatus::Issued => refund(format!("{number} is not open on this account")),
        }
    }

    /// Under New Commerce an expired subscription cannot be reactivated, only bought again:
    /// a new period from the payment date, same product and seats.
    fn restore(
        &mut self,
        document: &Document,
        date: NaiveDate,
        policy: &Policy,
    ) -> (PaymentOutcome, Vec<Effect>) {
        let number = &document.number;
        let suspended: Vec<&Line> = document
            .lines
            .iter()
            .filter(|l| {
                self.subscription(&l.subscription).is_ok_and(|s| {
                    s.status == Status::Suspended
                        && s.suspension.as_ref().is_some_and(|x| &x.document == number)
                })
            })
            .collect();
        let Some(first) = suspended.first() else {
            return (
                PaymentOutcome::RefundFlagged {
                    reason: format!("{number} expired and restores no suspended subscription"),
                },
                vec![],
            );
        };
        let suspended_on = self
            .subscription(&first.subscription)
            .ok()
            .and_then(|s| s.suspension.as_ref().map(|x| x.on))
            .expect("suspended subscription has its suspension");
        let deadline = add_days(suspended_on, policy.restore_window_days);
        if date > deadline {
            return (
                PaymentOutcome::RefundFlagged {
                    reason: format!(
                        "{number} paid on {date}, after the 90-day repurchase window that closed on {deadline}"
                    ),
                },
                vec![],
            );
        }
        let lines: Vec<Line> = suspended.into_iter().cloned().collect();
        let mut period = None;
        for line in &lines {
            let sub = self.subscription_mut(&line.subscription);
            sub.anchor_day = date.day();
            sub.period = Period::starting(date, sub.term, sub.anchor_day);
            sub.product = line.product.clone();
            sub.seats = line.seats;
            sub.unit_price = line.unit_price;
            sub.status = Status::Active;
            sub.suspension = None;
            sub.renewal = None;
            sub.scheduled = Default::default();
            period.get_or_insert(sub.period);
        }
        let mut doc = document.clone();
        doc.status = DocumentStatus::Paid;
        let mut effects = vec![
            Effect::StatusChanged(number.clone(), DocumentStatus::Paid),
            Effect::Notify(Notice::Restored {
                document: doc,
                period: period.expect("one line"),
                paid_on: date,
            }),
        ];
        // Microsoft cannot reactivate the cancelled term: the same offer and seats are
        // bought again, and the new subscription is linked in place of the old one.
        for line in &lines {
            effects.extend(self.microsoft(
                &line.subscription,
                format!("{}:{number}", line.subscription),
                MicrosoftAction::Purchase {
                    seats: line.seats,
                    product: None,
                },
            ));
        }
        (PaymentOutcome::Restored, effects)
    }
}

fn start_period(sub: &mut Subscription, r: Renewal) {
    sub.period = r.period;
    sub.product = r.product;
    sub.seats = r.seats;
    sub.unit_price = r.unit_price;
    sub.scheduled = Default::default();
    sub.status = Status::Active;
}

fn product_name(catalog: &Catalog, sku: &str) -> String {
    catalog
        .product(sku)
        .map_or_else(|| sku.to_string(), |p| p.name.clone())
}
