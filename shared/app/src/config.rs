//! Typed configuration, read once from the environment (same names in Lambda and the CLI).

use anyhow::{anyhow, Context};
use renewals_domain::{Catalog, EmailAddress, Nip, Policy};

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

/// Who issues the invoices (FA(3) `Podmiot1`): the reseller's name, NIP and address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SellerSettings {
    /// `RENEWALS_RESELLER_NAME`, as on the e-mails.
    pub name: String,
    /// `RENEWALS_SELLER_NIP`, checksum verified at start.
    pub nip: Nip,
    /// `RENEWALS_SELLER_ADDRESS` up to its first comma (`AdresL1`)…
    pub address_line1: String,
    /// …and after it (`AdresL2`), if there is one.
    pub address_line2: Option<String>,
    /// `KodKraju`: the seller is Polish.
    pub country: String,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub mail: MailSettings,
    pub seller: SellerSettings,
    /// Przelewy24 `urlStatus`; only the functions that register payments need it.
    pub webhook_url: Option<String>,
    /// Where Przelewy24 sends the customer back after paying.
    pub return_url: String,
    pub policy: Policy,
    pub catalog: Catalog,
    /// Where KOD I (the invoice's verification QR code) points: `KSEF_QR_BASE_URL`, else the
    /// QR host of the KSeF environment in `KSEF_BASE_URL` (test when unset).
    pub ksef_qr_base: String,
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
        let sender = mailbox(
            var("RENEWALS_SENDER_EMAIL", "faktury@reseller.example")?,
            "RENEWALS_SENDER_EMAIL",
        )?;
        let operator = mailbox(
            var("RENEWALS_OPERATOR_EMAIL", "operator@reseller.example")?,
            "RENEWALS_OPERATOR_EMAIL",
        )?;
        let bank_account = iban(
            var(
                "RENEWALS_BANK_ACCOUNT",
                "PL61 1090 1014 0000 0712 1981 2874",
            )?,
            "RENEWALS_BANK_ACCOUNT",
        )?;
        let reseller_name = var("RENEWALS_RESELLER_NAME", "Licencje365 sp. z o.o.")?;
        let seller = seller(
            reseller_name.clone(),
            var("RENEWALS_SELLER_NIP", "5260250274")?,
            var(
                "RENEWALS_SELLER_ADDRESS",
                "ul. Przykładowa 1, 00-001 Warszawa",
            )?,
        )?;
        let mail = MailSettings {
            sender,
            operator,
            bank_account,
            reseller_name,
        };
        Ok(Settings {
            seller,
            mail,
            webhook_url: get("RENEWALS_WEBHOOK_URL")
                .filter(|v| !v.trim().is_empty())
                .or_else(|| {
                    (defaults == Defaults::Local)
                        .then(|| "http://127.0.0.1:8080/webhooks/przelewy24".to_string())
                }),
            return_url: var("RENEWALS_RETURN_URL", "https://reseller.example/dziekujemy")?,
            policy,
            catalog,
            ksef_qr_base: qr_base(get("KSEF_QR_BASE_URL"), get("KSEF_BASE_URL")),
        })
    }
}

/// The KOD I host of the KSeF environment we send to (handbook, ksef/API.md §1): `api-test`
/// → `qr-test`, `api-demo` → `qr-demo`, `api` → `qr`; another API base (a stand-in) is its
/// own QR base; no KSeF configured → the test environment's.
fn qr_base(explicit: Option<String>, api: Option<String>) -> String {
    if let Some(url) = explicit.filter(|u| !u.trim().is_empty()) {
        return url.trim().trim_end_matches('/').to_string();
    }
    let Some(api) = api.filter(|a| !a.trim().is_empty()) else {
        return "https://qr-test.ksef.mf.gov.pl".into();
    };
    let base = api.trim().trim_end_matches('/');
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    let host = rest.split('/').next().unwrap_or(rest).to_ascii_lowercase();
    match host.as_str() {
        "api-test.ksef.mf.gov.pl" => format!("{scheme}://qr-test.ksef.mf.gov.pl"),
        "api-demo.ksef.mf.gov.pl" => format!("{scheme}://qr-demo.ksef.mf.gov.pl"),
        "api.ksef.mf.gov.pl" => format!("{scheme}://qr.ksef.mf.gov.pl"),
        _ => base.to_string(),
    }
}

/// An address setting: exactly one mailbox, as the domain reads a tenant's address.
fn mailbox(value: String, name: &str) -> anyhow::Result<String> {
    EmailAddress::parse(value.trim())
        .map(|a| a.as_str().to_string())
        .map_err(|e| anyhow!("setting {name}: {e}"))
}

/// The seller: the NIP must pass its checksum; the address is split at its first comma.
fn seller(name: String, nip: String, address: String) -> anyhow::Result<SellerSettings> {
    let nip = Nip::parse(&nip).map_err(|e| anyhow!("setting RENEWALS_SELLER_NIP: {e}"))?;
    let (line1, line2) = match address.split_once(',') {
        Some((l1, l2)) => (l1.trim(), Some(l2.trim()).filter(|l| !l.is_empty())),
        None => (address.trim(), None),
    };
    if line1.is_empty() {
        return Err(anyhow!(
            "setting RENEWALS_SELLER_ADDRESS: `{address}` has no street line"
        ));
    }
    Ok(SellerSettings {
        name,
        nip,
        address_line1: line1.to_string(),
        address_line2: line2.map(str::to_string),
        country: "PL".to_string(),
    })
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
    #[test]
    fn kod_i_points_at_the_qr_host_of_the_ksef_environment() {
        let qr = |api: Option<&str>| qr_base(None, api.map(str::to_string));
        assert_eq!(qr(None), "https://qr-test.ksef.mf.gov.pl");
        assert_eq!(
            qr(Some("https://api-test.ksef.mf.gov.pl/v2")),
            "https://qr-test.ksef.mf.gov.pl"
        );
        assert_eq!(
            qr(Some("https://api-demo.ksef.mf.gov.pl/v2/")),
            "https://qr-demo.ksef.mf.gov.pl"
        );
        assert_eq!(
            qr(Some("https://api.ksef.mf.gov.pl/v2")),
            "https://qr.ksef.mf.gov.pl"
        );
        assert_eq!(qr(Some("http://127.0.0.1:9/v2")), "http://127.0.0.1:9/v2");
        assert_eq!(
            qr_base(Some("https://qr.example/".into()), None),
            "https://qr.example"
        );
    }

    #[test]
    fn the_local_seller_defaults_are_a_valid_nip_and_a_two_line_address() {
        let s = Settings::from_lookup(Defaults::Local, |_| None).unwrap();
        assert!(renewals_domain::Nip::parse(s.seller.nip.as_str()).is_ok());
        assert_eq!(s.seller.name, s.mail.reseller_name);
        assert_eq!(s.seller.country, "PL");
        assert!(!s.seller.address_line1.is_empty());
        assert!(s.seller.address_line2.is_some());
    }

    #[test]
    fn the_seller_nip_must_pass_its_checksum_and_the_error_names_the_setting() {
        let err = with("RENEWALS_SELLER_NIP", "5260250275")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("RENEWALS_SELLER_NIP") && err.contains("5260250275"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        let ok = with("RENEWALS_SELLER_NIP", "526-025-02-74").unwrap();
        assert_eq!(ok.seller.nip.as_str(), "5260250274");
    }

    #[test]
    fn the_seller_address_is_split_into_two_lines_at_the_first_comma() {
        let s = with("RENEWALS_SELLER_ADDRESS", "ul. Prosta 51, 00-838 Warszawa").unwrap();
        assert_eq!(s.seller.address_line1, "ul. Prosta 51");
        assert_eq!(s.seller.address_line2.as_deref(), Some("00-838 Warszawa"));
        let one = with("RENEWALS_SELLER_ADDRESS", "ul. Prosta 51").unwrap();
        assert_eq!(one.seller.address_line2, None);
    }

    #[test]
    fn production_requires_the_seller_nip_and_address() {
        for name in ["RENEWALS_SELLER_NIP", "RENEWALS_SELLER_ADDRESS"] {
            let err = Settings::from_lookup(Defaults::Required, |k| {
                let value = match k {
                    "RENEWALS_SELLER_NIP" => "5260250274",
                    "RENEWALS_SELLER_ADDRESS" => "ul. Prosta 51, 00-838 Warszawa",
                    "RENEWALS_BANK_ACCOUNT" => "PL61109010140000071219812874",
                    "RENEWALS_SENDER_EMAIL" | "RENEWALS_OPERATOR_EMAIL" => "ops@licencje365.pl",
                    "RENEWALS_RESELLER_NAME" => "Licencje365 sp. z o.o.",
                    "RENEWALS_RETURN_URL" => "https://licencje365.pl/dziekujemy",
                    _ => return None,
                };
                (k != name).then(|| value.to_string())
            })
            .unwrap_err()
            .to_string();
            assert!(err.contains(name), "{err}");
        }
    }
}
