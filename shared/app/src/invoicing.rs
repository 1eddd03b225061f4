//! VAT invoices: issued in the unit of work that settles a payment (numbered from their own
//! gapless counter, `FV/YYYY/MM/NNNN`), written as FA(3) XML and stored byte for byte with its
//! SHA-256; what KSeF gets is what is stored. A tenant without an address gets the invoice
//! numbered and kept (`awaiting_buyer_data`, the operator told once); `tenant update`
//! releases it: the XML is written then, because the buyer's address is in it.
//!
//! KSeF takes an invoice whose `P_1` is before the day it arrives for an offline one (API.md
//! §5), and an offline invoice needs KOD II, signed with a certificate we do not hold. So an
//! invoice KSeF has never seen is dated the day it goes: released, or sent after midnight (the
//! hourly sync, a 429 overnight, KSeF down), it is written again with that day as `P_1`, and
//! stored before it is sent. The number stays the one it was given (its month's series: the
//! law asks a number that identifies the invoice within its series, art. 106e ust. 1 pkt 2),
//! the payment's day stays `DataZaplaty` (and `P_6` of an advance). Once sent, it never changes.

use crate::config::SellerSettings;
use crate::error::{NotFound, ServiceError};
use crate::ports::{KsefStatus, NewInvoice, StoredInvoice, Submission};
use crate::service::Service;
use chrono::{DateTime, Utc};
use renewals_domain::{
    has_buyer_data, DeliveryProblem, InvoiceIssue, InvoiceNumber, InvoiceType, Notice, Tenant,
    TenantId, VatInvoice,
};
use renewals_invoices::{Address, Party};

/// What the FA(3) XML of `invoice` says: the seller from the settings, the buyer as the
/// tenant is now, amounts in grosze, `created_at` as `DataWytworzeniaFa`.
pub fn fa3(
    invoice: &VatInvoice,
    tenant: &Tenant,
    seller: &SellerSettings,
    created_at: DateTime<Utc>,
) -> renewals_invoices::Invoice {
    renewals_invoices::Invoice {
        number: invoice.number.to_string(),
        invoice_type: match invoice.invoice_type {
            InvoiceType::Zal => renewals_invoices::InvoiceType::Zal,
            InvoiceType::Vat => renewals_invoices::InvoiceType::Vat,
        },
        created_at,
        issue_date: invoice.issue_date,
        seller: Party {
            nip: seller.nip.as_str().to_string(),
            name: seller.name.clone(),
            address: Address {
                country: seller.country.clone(),
                line1: seller.address_line1.clone(),
                line2: seller.address_line2.clone(),
            },
        },
        buyer: Party {
            nip: tenant.nip.as_str().to_string(),
            name: tenant.name.clone(),
            address: Address {
                country: tenant.country.clone(),
                line1: tenant.address.clone(),
                line2: tenant.address2.clone(),
            },
        },
        period_start: invoice.period.start,
        period_end: invoice.period.last_day(),
        paid_on: invoice.paid_on,
        settles: invoice.settles.to_string(),
        lines: invoice
            .lines
            .iter()
            .map(|l| renewals_invoices::Line {
                product: l.product_name.clone(),
                seats: l.seats,
                unit_net_grosze: l.unit_price.grosze(),
                net_grosze: l.net.grosze(),
            })
            .collect(),
        net_grosze: invoice.totals.net.grosze(),
        vat_grosze: invoice.totals.vat.grosze(),
        gross_grosze: invoice.totals.gross.grosze(),
    }
}

/// The operator's alert about an invoice (filed with the customer, once per invoice and
/// issue: the e-mail's key).
pub(crate) fn invoice_alert(
    invoice: &VatInvoice,
    issue: InvoiceIssue,
    reason: &str,
    on: chrono::NaiveDate,
) -> Notice {
    Notice::DeliveryAlert {
        problem: DeliveryProblem::Invoice {
            invoice: invoice.number.to_string(),
            issue,
            reason: reason.to_string(),
        },
        document: Some(invoice.settles.clone()),
        on,
    }
}

impl Service {
    /// The XML of `invoice` for `tenant`, written now.
    pub(crate) fn write_xml(&self, invoice: &VatInvoice, tenant: &Tenant) -> (Vec<u8>, String) {
        let xml = renewals_invoices::fa3::serialize(&fa3(
            invoice,
            tenant,
            &self.settings.seller,
            self.clock.now(),
        ));
        let stored = renewals_invoices::Stored::new(xml);
        (stored.xml.into_bytes(), stored.sha256)
    }

    /// A new invoice for the commit that settles its payment: with its XML and a pending
    /// submission, or, for a tenant without an address, kept without XML and the operator's
    /// alert to go with it.
    pub(crate) fn new_invoice(
        &self,
        invoice: VatInvoice,
        tenant: &Tenant,
        counter_before: u32,
    ) -> (NewInvoice, Option<Notice>) {
        let now = self.clock.now();
        let complete = has_buyer_data(tenant);
        let (xml, sha256) = if complete {
            let (xml, sha) = self.write_xml(&invoice, tenant);
            (Some(xml), Some(sha))
        } else {
            (None, None)
        };
        let alert = (!complete).then(|| {
            invoice_alert(
                &invoice,
                InvoiceIssue::AwaitingBuyerData,
                "the tenant has no address",
                invoice.issue_date,
            )
        });
        let stored = StoredInvoice {
            xml,
            sha256,
            upo: None,
            submission: Submission {
                status: if complete {
                    KsefStatus::Pending
                } else {
                    KsefStatus::AwaitingBuyerData
                },
                sent: None,
                ksef_number: None,
                reason: None,
                attempts: 0,
                next_attempt: now,
                parked: false,
                issued_at: now,
                late_alerted: false,
            },
            invoice,
        };
        (
            NewInvoice {
                stored,
                counter_before,
            },
            alert,
        )
    }

    /// Releases the tenant's invoices that waited for the buyer's data, once the tenant has
    /// an address: each gets its XML (written now, with the address, dated today; the number
    /// and the payment's day as issued) and its submission queued. Returns how many were
    /// released.
    pub async fn release_invoices(&self, tenant: &TenantId) -> Result<usize, ServiceError> {
        let account = self.account(tenant).await?;
        if !has_buyer_data(&account.tenant) {
            return Ok(0);
        }
        let mut released = 0;
        for mut stored in self.store.invoices_of(tenant).await? {
            if stored.submission.status != KsefStatus::AwaitingBuyerData {
                continue;
            }
            // Issued now, as far as the buyer and KSeF can tell: dated today.
            stored.invoice.issue_date = stored.invoice.issue_date.max(self.today());
            let (xml, sha) = self.write_xml(&stored.invoice, &account.tenant);
            stored.xml = Some(xml);
            stored.sha256 = Some(sha);
            stored.submission.status = KsefStatus::Pending;
            stored.submission.next_attempt = self.clock.now();
            stored.submission.attempts = 0;
            // KSeF's 24 hours run from now: the days it waited for the address were the
            // operator's (alerted when it was held), not KSeF's.
            stored.submission.issued_at = self.clock.now();
            self.store.save_invoice(&stored, vec![]).await?;
            tracing::info!(invoice = %stored.invoice.number, %tenant, "invoice released for KSeF");
            released += 1;
        }
        Ok(released)
    }

    /// Dates an invoice KSeF has never seen the day it is sent, if it says an earlier day:
    /// its XML written again (the buyer as the tenant is now) and stored, before it is sent,
    /// so that a crash after sending leaves stored what KSeF got.
    pub(crate) async fn date_for_sending(
        &self,
        stored: &mut StoredInvoice,
    ) -> Result<(), ServiceError> {
        let today = self.today();
        if stored.invoice.issue_date >= today
            || stored.submission.sent.is_some()
            || stored.submission.ksef_number.is_some()
        {
            return Ok(());
        }
        let account = self.account(&stored.invoice.tenant).await?;
        let issued = stored.invoice.issue_date;
        stored.invoice.issue_date = today;
        let (xml, sha) = self.write_xml(&stored.invoice, &account.tenant);
        stored.xml = Some(xml);
        stored.sha256 = Some(sha);
        self.store.save_invoice(stored, vec![]).await?;
        tracing::info!(invoice = %stored.invoice.number, %issued, dated = %today, "invoice dated the day it goes to KSeF");
        Ok(())
    }

    /// A VAT invoice by its number.
    pub async fn vat_invoice(&self, number: &InvoiceNumber) -> Result<StoredInvoice, ServiceError> {
        self.store
            .invoice(number)
            .await?
            .ok_or_else(|| NotFound::Invoice(number.to_string()).into())
    }

    /// What the invoice's PDF prints once KSeF accepted it: the KSeF number and KOD I.
    pub fn ksef_mark(&self, stored: &StoredInvoice) -> Option<(String, String)> {
        let number = stored.submission.ksef_number.clone()?;
        let xml = stored.xml.as_deref()?;
        let url = renewals_invoices::kod_i_url(
            &self.settings.ksef_qr_base,
            self.settings.seller.nip.as_str(),
            stored.invoice.issue_date,
            xml,
        );
        Some((number, url))
    }

    /// The stored FA(3) XML of an invoice, byte for byte.
    pub async fn invoice_xml(&self, number: &InvoiceNumber) -> Result<Vec<u8>, ServiceError> {
        let stored = self.vat_invoice(number).await?;
        stored
            .xml
            .ok_or_else(|| NotFound::InvoiceXml(number.to_string()).into())
    }
}
