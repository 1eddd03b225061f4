//! Typed configuration, read once from the environment (same names in Lambda and the CLI).

use anyhow::{anyhow, Context};
use renewals_domain::{Catalog, EmailAddress, Policy};

/// Who sends, who gets operator alerts, and what the transfer details say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailSettings {
    /// The From address (`faktury@reseller.pl`).
    pub sender: String,
    /// Where operator alerts go.
    pub operator: String,
    /// The account printed for transfers, exactly as configured.
    pub bank_account: String,
    /// The From display name, the transfer recipient and the signature.
    pub reseller_name: String,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub mail: MailSettings,
    /// Przelewy24 `urlStatus`; only the functions that register payments need it.
    pub webhook_url: Option<String>,
    /// Where Przelewy24 sends the customer back after paying.
    pub return_url: String,
    pub policy: Policy,
    pub catalog: Catalog,
}

/// Whether a missing setting may fall back to a local default. Production refuses to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Defaults {
    Local,
    Required,
}

impl Settings {
    pub fn from_env(defaults: Defaults) -> anyhow::Result<Settings> {
        Settings::from_lookup(defaults, |k| std::env::var(k).ok())
    }

    pub fn from_lookup(
        defaults: Defaults,
        get: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Settings> {
        let var = |name: &str, local: &str| setting(&get, defaults, name, local);
        let catalog = match get("RENEWALS_CATALOG") {
            Some(path) => {
                let json = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading catalog RENEWALS_CATALOG={path}"))?;
                Catalog::parse(&json).map_err(|e| anyhow!("RENEWALS_CATALOG={path}: {e}"))?
            }
            None => Catalog::default_catalog(),
        };
        let mut policy = Policy::default();
        if let Some(g) = get("RENEWALS_GRACE_DAYS") {
            policy.grace_days = g
                .parse()
                .map_err(|_| anyhow!("RENEWALS_GRACE_DAYS must be a number of days, got `{g}`"))?;
        }
        if let Some(n) = get("RENEWALS_CARD_ATTEMPTS") {
            policy.card_charge_attempts = n.trim().parse().map_err(|_| {
                anyhow!("RENEWALS_CARD_ATTEMPTS must be a number of charges, got `{n}`")
            })?;
        }
        if let Some(r) = get("RENEWALS_REMINDER_DAYS") {
            policy.reminder_days_before_due = r
                .split(',')
                .map(|d| d.trim().parse::<i64>())
                .collect::<Result<_, _>>()
                .map_err(|_| anyhow!("RENEWALS_REMINDER_DAYS must be like 3,1,0, got `{r}`"))?;
        }
        policy.validate().map_err(|e| anyhow!(e))?;
        Ok(Settings {
            mail: MailSettings {
                sender: mailbox(
                    var("RENEWALS_SENDER_EMAIL", "faktury@reseller.example")?,
                    "RENEWALS_SENDER_EMAIL",
                )?,
                operator: mailbox(
                    var("RENEWALS_OPERATOR_EMAIL", "operator@reseller.example")?,
                    "RENEWALS_OPERATOR_EMAIL",
                )?,
                bank_account: iban(
                    var(
                        "RENEWALS_BANK_ACCOUNT",
                        "PL61 1090 1014 0000 0712 1981 2874",
                    )?,
                    "RENEWALS_BANK_ACCOUNT",
                )?,
                reseller_name: var("RENEWALS_RESELLER_NAME", "Licencje365 sp. z o.o.")?,
            },
            webhook_url: get("RENEWALS_WEBHOOK_URL")
                .filter(|v| !v.trim().is_empty())
                .or_else(|| {
                    (defaults == Defaults::Local)
                        .then(|| "http://127.0.0.1:8080/webhooks/przelewy24".to_string())
                }),
            return_url: var("RENEWALS_RETURN_URL", "https://reseller.example/dziekujemy")?,
            policy,
            catalog,
        })
    }
}

/// An address setting: exactly one mailbox, as the domain reads a tenant's address.
fn mailbox(value: String, name: &str) -> anyhow::Result<String> {
    EmailAddress::parse(value.trim())
        .map(|a| a.as_str().to_string())
        .map_err(|e| anyhow!("setting {name}: {e}"))
}

/// The account printed for transfers: an IBAN whose check digits match (electronic
/// `PL61109010140000071219812874` or print format `PL61 1090 … 2874`), kept as configured.
fn iban(value: String, name: &str) -> anyhow::Result<String> {
    let value = value.trim().to_string();
    value.parse::<iban::Iban>().map_err(|e| {
        anyhow!("setting {name}: `{value}` is not a valid IBAN ({e}); expected e.g. PL61 1090 1014 0000 0712 1981 2874")
    })?;
    Ok(value)
}

/// One setting: its value, else the local default, else (in production) an error naming it.
pub fn setting(
    get: impl Fn(&str) -> Option<String>,
    defaults: Defaults,
    name: &str,
    local: &str,
) -> anyhow::Result<String> {
    match (get(name).filter(|v| !v.trim().is_empty()), defaults) {
        (Some(v), _) => Ok(v),
        (None, Defaults::Local) => Ok(local.to_string()),
        (None, Defaults::Required) => Err(anyhow!("missing setting {name}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_names_the_missing_setting() {
        let err = Settings::from_lookup(Defaults::Required, |_| None).unwrap_err();
        assert!(err.to_string().contains("RENEWALS_SENDER_EMAIL"), "{err}");
    }

    fn with(name: &'static str, value: &'static str) -> anyhow::Result<Settings> {
        Settings::from_lookup(Defaults::Local, move |k| {
            (k == name).then(|| value.to_string())
        })
    }

    #[test]
    fn the_local_defaults_are_valid_addresses_and_a_valid_iban() {
        let s = Settings::from_lookup(Defaults::Local, |_| None).unwrap();
        assert_eq!(s.mail.bank_account, "PL61 1090 1014 0000 0712 1981 2874");
        assert!("PL61 1090 1014 0000 0712 1981 2874"
            .parse::<iban::Iban>()
            .is_ok());
    }

    #[test]
    fn sender_and_operator_must_each_be_one_mailbox_named_in_the_error() {
        for name in ["RENEWALS_SENDER_EMAIL", "RENEWALS_OPERATOR_EMAIL"] {
            for bad in ["ops@x.pl,evil@x.pl", "Biuro <ops@x.pl>", "not-an-address"] {
                let err = with(name, bad).unwrap_err().to_string();
                assert!(err.contains(name) && err.contains(bad), "{err}");
                assert_eq!(err.lines().count(), 1, "{err}");
            }
            assert!(with(name, "faktury@licencje365.pl").is_ok());
        }
    }

    #[test]
    fn the_bank_account_must_be_an_iban_whose_check_digits_match() {
        for bad in [
            "PL61 1090 1014 0000 0712 1981 2875",
            "PL62109010140000071219812874",
            "61 1090 1014 0000 0712 1981 2874",
            "konto w banku",
        ] {
            let err = with("RENEWALS_BANK_ACCOUNT", bad).unwrap_err().to_string();
            assert!(
                err.contains("RENEWALS_BANK_ACCOUNT") && err.contains("IBAN"),
                "{err}"
            );
        }
        let ok = with("RENEWALS_BANK_ACCOUNT", "PL61109010140000071219812874").unwrap();
        assert_eq!(
            ok.mail.bank_account, "PL61109010140000071219812874",
            "kept as configured"
        );
    }

    #[test]
    fn grace_must_stay_below_the_cancellation_window() {
        let err = Settings::from_lookup(Defaults::Local, |k| {
            (k == "RENEWALS_GRACE_DAYS").then(|| "7".to_string())
        })
        .unwrap_err();
        assert!(err.to_string().contains("7-day"), "{err}");
    }
}
