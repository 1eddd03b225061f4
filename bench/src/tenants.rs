//! The businesses the benchmarks work on: `n` transfer-paying tenants, each with one monthly
//! subscription whose renewal pro-forma is due on `today`'s daily run; and the mailer that drops
//! their setup's e-mails.

use renewals_app::ports::{MailError, Mailer, OutboxMessage};
use renewals_app::service::Service;
use renewals_domain::calendar::add_days;
use renewals_domain::{EmailAddress, Locale, Nip, PaymentMethod, Tenant, TenantId, Term};

/// The mailer of the services that set the benchmarks up: what they measure is requests and
/// time, and the e-mails of the setup are nobody's.
pub struct Discard;

#[async_trait::async_trait]
impl Mailer for Discard {
    async fn send(
        &self,
        _id: i64,
        _message: &OutboxMessage,
        _mime: &[u8],
    ) -> Result<(), MailError> {
        Ok(())
    }
}

/// A NIP with a valid check digit, different for each `i`.
fn nip(i: usize) -> String {
    const W: [u64; 9] = [6, 5, 7, 2, 3, 4, 5, 6, 7];
    (0u64..)
        .map(|k| {
            let n = 100_000_000 + ((i as u64) * 97 + k) % 899_999_999;
            let digits: Vec<u64> = n.to_string().bytes().map(|b| (b - b'0') as u64).collect();
            let check = W.iter().zip(&digits).map(|(w, d)| w * d).sum::<u64>() % 11;
            (digits, check)
        })
        .find(|(_, check)| *check < 10)
        .map(|(digits, check)| {
            digits
                .iter()
                .chain([&check])
                .map(|d| d.to_string())
                .collect()
        })
        .expect("a valid NIP is near")
}

pub async fn populate(svc: &Service, n: usize, today: chrono::NaiveDate) -> anyhow::Result<()> {
    for i in 0..n {
        let id = TenantId::parse(&format!("b{i:06}"))?;
        svc.add_tenant(Tenant {
            id: id.clone(),
            name: format!("Firma {i} sp. z o.o."),
            nip: Nip::parse(&nip(i))?,
            address: "ul. Długa 1".into(),
            address2: Some("00-001 Warszawa".into()),
            country: "PL".into(),
            email: EmailAddress::parse(&format!("faktury@b{i:06}.example.pl"))?,
            locale: Locale::Pl,
            payment_method: PaymentMethod::Transfer,
        })
        .await?;
        // The period ends in one to four days: its pro-forma is issued by today's run.
        let start = add_days(today, -27);
        svc.add_subscription(&id, "business-standard", 5, Term::Monthly, start)
            .await?;
    }
    Ok(())
}
