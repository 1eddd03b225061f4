//! VAT invoices and their KSeF submission outbox on the table: the invoice item holds what it
//! says, its XML (replaced only while KSeF has never seen it), the UPO and the submission as
//! JSON; while the submission is due (pending or sent, not parked) the item sits in the
//! outbox index under `KSEF`, sorted by its next attempt, and is claimed like e-mails and
//! Microsoft commands: a conditional move of its place in the index.

use crate::attrs::{self, Item};
use crate::commit::{check_sizes, email_writes, item, json, Refused, Write};
use crate::ids::next_message_id;
use crate::keys;
use crate::store::{item_key, unexpected};
use crate::DynamoStore;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use renewals_app::ports::{NewInvoice, OutboxMessage, StoreError, StoredInvoice, Submission};
use renewals_domain::{InvoiceNumber, TenantId, VatInvoice};

/// The writes that issue an invoice: its counter moved from the value read, the invoice, and
/// the uniqueness of its number and of the document it settles.
pub(crate) fn new_invoice_writes(new: &NewInvoice) -> Result<Vec<Write>, StoreError> {
    let stored = &new.stored;
    let i = &stored.invoice;
    let series = i.number.series();
    let before = new.counter_before;
    let condition = if before == 0 {
        "attribute_not_exists(#last) OR #last = :before"
    } else {
        "#last = :before"
    };
    let counter = item(
        &keys::invoice_counter(series),
        [
            ("series", attrs::s(series.to_string())),
            ("last", attrs::n(i.number.seq)),
        ],
    );
    let tenant = attrs::s(i.tenant.as_str());
    let mut invoice = item(
        &keys::invoice(&i.tenant, &i.number),
        [
            ("number", attrs::s(i.number.to_string())),
            ("tenant", tenant.clone()),
            ("body", json(i)?),
        ],
    );
    state_attributes(&mut invoice, stored)?;
    let exists = format!("invoice {} exists", i.number);
    Ok(vec![
        Write::put(format!("counter {series} moved"), counter)
            .only_if(condition)
            .name("#last", "last")
            .value(":before", attrs::n(before)),
        Write::claim(exists.clone(), invoice),
        Write::claim(
            exists,
            item(&keys::invoice_number(&i.number), [("tenant", tenant)]),
        ),
        Write::claim(
            format!("{} already has an invoice", i.settles),
            item(
                &keys::invoice_for(&i.settles),
                [("number", attrs::s(i.number.to_string()))],
            ),
        ),
    ])
}

/// The XML, its hash, the UPO, the submission and the invoice's place in the outbox index.
fn state_attributes(record: &mut Item, stored: &StoredInvoice) -> Result<(), StoreError> {
    if let Some(xml) = &stored.xml {
        record.insert("xml".into(), attrs::b(xml.clone()));
    }
    if let Some(sha) = &stored.sha256 {
        record.insert("sha256".into(), attrs::s(sha));
    }
    if let Some(upo) = &stored.upo {
        record.insert("upo".into(), attrs::b(upo.clone()));
    }
    record.insert("submission".into(), json(&stored.submission)?);
    if let Some(due) = due_sk(&stored.invoice, &stored.submission) {
        record.insert(keys::GSI2PK.into(), attrs::s(keys::KSEF));
        record.insert(keys::GSI2SK.into(), attrs::s(due));
    } else if let Some(parked) = parked_sk(&stored.invoice, &stored.submission) {
        record.insert(keys::GSI2PK.into(), attrs::s(keys::KSEF_PARKED));
        record.insert(keys::GSI2SK.into(), attrs::s(parked));
    }
    Ok(())
}

/// Where a parked submission sits in the outbox index, for the operator's list.
pub(crate) fn parked_sk(invoice: &VatInvoice, s: &Submission) -> Option<String> {
    s.parked
        .then(|| keys::padded(keys::invoice_ordinal(&invoice.number)))
}

/// Where a submission sits in the outbox index, if it is due at all.
fn due_sk(invoice: &VatInvoice, s: &Submission) -> Option<String> {
    (s.status.in_flight() && !s.parked).then(|| {
        keys::outbox_due(
            s.next_attempt.timestamp_millis(),
            keys::invoice_ordinal(&invoice.number),
        )
    })
}

pub(crate) fn invoice_from(item: &Item) -> Result<StoredInvoice, StoreError> {
    let optional_bytes = |name: &str| match item.get(name) {
        Some(_) => attrs::bytes(item, name).map(Some).map_err(unexpected),
        None => Ok(None),
    };
    Ok(StoredInvoice {
        invoice: attrs::json(item, "body").map_err(unexpected)?,
        xml: optional_bytes("xml")?,
        sha256: attrs::optional_string(item, "sha256")
            .map_err(unexpected)?
            .map(str::to_string),
        upo: optional_bytes("upo")?,
        submission: attrs::json(item, "submission").map_err(unexpected)?,
    })
}

impl DynamoStore {
    pub(crate) async fn stored_invoice(
        &self,
        number: &InvoiceNumber,
    ) -> Result<Option<StoredInvoice>, StoreError> {
        let Some(owner) = self.get(&keys::invoice_number(number)).await? else {
            return Ok(None);
        };
        let tenant = attrs::string(&owner, "tenant").map_err(unexpected)?;
        let tenant = TenantId::parse(tenant).map_err(|e| unexpected(anyhow::anyhow!("{e}")))?;
        match self.get(&keys::invoice(&tenant, number)).await? {
            Some(item) => invoice_from(&item).map(Some),
            None => Ok(None),
        }
    }

    pub(crate) async fn tenant_invoices(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<StoredInvoice>, StoreError> {
        let items = self.tenant_items(tenant, keys::INVOICE_PREFIX).await?;
        let mut invoices: Vec<StoredInvoice> =
            items.iter().map(invoice_from).collect::<Result<_, _>>()?;
        invoices.sort_by_key(|i| i.invoice.number);
        Ok(invoices)
    }

    /// As `claim_commands`: read what is due in the index, then claim each with a condition
    /// on the place it was seen at, so two workers never both get one.
    pub(crate) async fn claim_invoices(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<StoredInvoice>, StoreError> {
        let items = self.due_in(keys::KSEF, now, limit).await?;
        let mut claimed = vec![];
        for item in &items {
            let mut stored = invoice_from(item)?;
            let seen = attrs::string(item, keys::GSI2SK).map_err(unexpected)?;
            stored.submission.attempts += 1;
            stored.submission.next_attempt = until;
            let until_sk = due_sk(&stored.invoice, &stored.submission)
                .expect("a claimed submission is in flight");
            let claim = Write::update(
                format!("invoice {} claimed", stored.invoice.number),
                item_key(item)?,
                "SET #gsk = :until, #submission = :submission",
            )
            .only_if("#gpk = :ksef AND #gsk = :seen")
            .name("#gpk", keys::GSI2PK)
            .name("#gsk", keys::GSI2SK)
            .name("#submission", "submission")
            .value(":ksef", attrs::s(keys::KSEF))
            .value(":seen", attrs::s(seen))
            .value(":until", attrs::s(until_sk))
            .value(":submission", json(&stored.submission)?);
            match self.send_one(&claim).await {
                Ok(()) => claimed.push(stored),
                Err(Refused::Conditions(_)) => {}
                Err(Refused::Store(e)) => return Err(e),
            }
        }
        claimed.sort_by_key(|i| i.invoice.number);
        Ok(claimed)
    }

    /// The invoice's new state (the XML where none is stored yet or KSeF never saw it) with
    /// its e-mails, in one transaction; an e-mail whose cause is queued already is left out.
    pub(crate) async fn write_invoice(
        &self,
        stored: &StoredInvoice,
        mut emails: Vec<OutboxMessage>,
    ) -> Result<(), StoreError> {
        loop {
            let writes = self.invoice_writes(stored, &emails)?;
            check_sizes(&writes)?;
            match self.send(&writes).await {
                Ok(()) => return Ok(()),
                Err(Refused::Conditions(failed)) if failed.iter().all(|&i| i > 0) => {
                    // Only e-mail keys refused (index 1 + 2k is the key of e-mail k).
                    let queued: Vec<usize> = failed.iter().map(|&i| (i - 1) / 2).collect();
                    let before = emails.len();
                    emails = emails
                        .into_iter()
                        .enumerate()
                        .filter(|(k, _)| !queued.contains(k))
                        .map(|(_, m)| m)
                        .collect();
                    if emails.len() == before {
                        return Err(StoreError::Conflict("invoice e-mails".into()));
                    }
                }
                Err(Refused::Conditions(_)) => {
                    return Err(StoreError::NotFound(format!(
                        "invoice {}",
                        stored.invoice.number
                    )))
                }
                Err(Refused::Store(e)) => return Err(e),
            }
        }
    }

    fn invoice_writes(
        &self,
        stored: &StoredInvoice,
        emails: &[OutboxMessage],
    ) -> Result<Vec<Write>, StoreError> {
        let i = &stored.invoice;
        let mut set = vec!["#submission = :submission"];
        let mut update = Write::update(
            format!("invoice {} is gone", i.number),
            keys::invoice(&i.tenant, &i.number),
            "",
        )
        .only_if("attribute_exists(#pk)")
        .name("#pk", keys::PK)
        .name("#submission", "submission")
        .name("#gpk", keys::GSI2PK)
        .name("#gsk", keys::GSI2SK)
        .value(":submission", json(&stored.submission)?);
        // KSeF has never seen it: the invoice and its XML may be dated the day it goes. The
        // claim's lease keeps other writers off meanwhile (the submission is written the same
        // way). Once sent, a stored XML is never replaced.
        let unseen = stored.submission.sent.is_none() && stored.submission.ksef_number.is_none();
        if unseen {
            set.push("#body = :body");
            update = update.name("#body", "body").value(":body", json(i)?);
        }
        if let (Some(xml), Some(sha)) = (&stored.xml, &stored.sha256) {
            if unseen {
                set.push("#xml = :xml");
                set.push("#sha = :sha");
            } else {
                set.push("#xml = if_not_exists(#xml, :xml)");
                set.push("#sha = if_not_exists(#sha, :sha)");
            }
            update = update
                .name("#xml", "xml")
                .name("#sha", "sha256")
                .value(":xml", attrs::b(xml.clone()))
                .value(":sha", attrs::s(sha));
        }
        if let Some(upo) = &stored.upo {
            set.push("#upo = :upo");
            update = update
                .name("#upo", "upo")
                .value(":upo", attrs::b(upo.clone()));
        }
        let expression = match due_sk(i, &stored.submission) {
            Some(due) => {
                set.push("#gpk = :ksef");
                set.push("#gsk = :due");
                update = update
                    .value(":ksef", attrs::s(keys::KSEF))
                    .value(":due", AttributeValue::S(due));
                format!("SET {}", set.join(", "))
            }
            None => match parked_sk(i, &stored.submission) {
                Some(parked) => {
                    set.push("#gpk = :kparked");
                    set.push("#gsk = :parked");
                    update = update
                        .value(":kparked", attrs::s(keys::KSEF_PARKED))
                        .value(":parked", AttributeValue::S(parked));
                    format!("SET {}", set.join(", "))
                }
                None => format!("SET {} REMOVE #gpk, #gsk", set.join(", ")),
            },
        };
        update.set_expression(&expression);
        let mut writes = vec![update];
        for m in emails {
            writes.extend(email_writes(next_message_id(), m));
        }
        Ok(writes)
    }
}
