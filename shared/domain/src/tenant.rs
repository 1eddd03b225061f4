//! Customers: organisations that receive pro-formas and pay for their licences.

use crate::error::ParseError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A tenant's identifier: lowercase letters, digits and dashes, 1–40 characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(s: &str) -> Result<TenantId, ParseError> {
        let ok = !s.is_empty()
            && s.len() <= 40
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.starts_with('-');
        if ok {
            Ok(TenantId(s.to_string()))
        } else {
            Err(ParseError::TenantId(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Polish tax identification number: ten digits with a weighted checksum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Nip(String);

impl Nip {
    /// Accepts `1234563218`, `123-456-32-18` or `PL1234563218`.
    pub fn parse(s: &str) -> Result<Nip, ParseError> {
        let trimmed = s.trim();
        let body = trimmed.strip_prefix("PL").unwrap_or(trimmed);
        let digits: String = body.chars().filter(|c| *c != '-' && *c != ' ').collect();
        if digits.len() != 10 || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(ParseError::NipLength(s.to_string()));
        }
        let d: Vec<u32> = digits.chars().map(|c| c.to_digit(10).unwrap()).collect();
        const WEIGHTS: [u32; 9] = [6, 5, 7, 2, 3, 4, 5, 6, 7];
        let sum: u32 = WEIGHTS.iter().zip(&d).map(|(w, x)| w * x).sum();
        if sum % 11 == 10 || sum % 11 != d[9] {
            return Err(ParseError::NipCheckDigit(s.to_string()));
        }
        Ok(Nip(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address: exactly one RFC 5322 mailbox (`name@example.pl`), checked by the
/// `email_address` crate; no display name, no list, no domain literal, a dotted domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(s: &str) -> Result<EmailAddress, ParseError> {
        let options = email_address::Options::default()
            .with_required_tld()
            .without_display_text()
            .without_domain_literal();
        match email_address::EmailAddress::parse_with_options(s, options) {
            Ok(address) if address.as_str() == s && s.len() <= 254 => {
                Ok(EmailAddress(s.to_string()))
            }
            _ => Err(ParseError::Email(s.to_string())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    Pl,
    En,
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Locale::Pl => "pl",
            Locale::En => "en",
        })
    }
}

impl fmt::Display for PaymentMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PaymentMethod::Blik => "BLIK",
            PaymentMethod::Transfer => "transfer",
            PaymentMethod::Card => "card",
        })
    }
}

impl Locale {
    pub fn parse(s: &str) -> Result<Locale, ParseError> {
        match s {
            "pl" => Ok(Locale::Pl),
            "en" => Ok(Locale::En),
            o => Err(ParseError::Locale(o.to_string())),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PaymentMethod {
    #[default]
    Blik,
    Transfer,
    Card,
}

impl PaymentMethod {
    pub fn parse(s: &str) -> Result<PaymentMethod, ParseError> {
        match s {
            "blik" => Ok(PaymentMethod::Blik),
            "transfer" => Ok(PaymentMethod::Transfer),
            "card" => Ok(PaymentMethod::Card),
            o => Err(ParseError::PaymentMethod(o.to_string())),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub nip: Nip,
    /// The buyer's address, line 1 (FA(3) `AdresL1`); empty while unknown.
    #[serde(default)]
    pub address: String,
    /// Line 2 (`AdresL2`), e.g. postcode and city.
    #[serde(default)]
    pub address2: Option<String>,
    /// `KodKraju`: two capital letters, `PL` unless told.
    #[serde(default = "poland")]
    pub country: String,
    pub email: EmailAddress,
    pub locale: Locale,
    pub payment_method: PaymentMethod,
}

fn poland() -> String {
    "PL".to_string()
}

/// A country code as FA(3) `TKodKraju` writes it: two letters, upper case (`de` → `DE`).
pub fn parse_country(s: &str) -> Result<String, ParseError> {
    let code = s.trim().to_ascii_uppercase();
    if code.len() == 2 && code.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err(ParseError::Country(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_address_is_one_mailbox_not_a_list_or_a_display_name() {
        for ok in [
            "faktury@acme.pl",
            "first.last+tag@sub.example.pl",
            "o'brien@example.ie",
        ] {
            assert_eq!(EmailAddress::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "a,attacker@evil.example",
            "a@acme.pl,b@evil.example",
            "a@acme.pl, b@evil.example",
            "a@acme.pl;b@evil.example",
            "Jan Kowalski <jan@acme.pl>",
            "a@[127.0.0.1]",
            "a@localhost",
            "a@@acme.pl",
            "@acme.pl",
            "a@",
            " a@acme.pl",
            "a@acme.pl\r\nBcc: x@evil.example",
            "",
        ] {
            let err = EmailAddress::parse(bad).unwrap_err();
            assert!(err.to_string().contains("e-mail"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn nip_checksum_is_enforced() {
        assert!(Nip::parse("526-000-12-46").is_ok());
        assert!(Nip::parse("PL5260001246").is_ok());
        assert!(Nip::parse("5260001247")
            .unwrap_err()
            .to_string()
            .contains("check digit"));
        assert!(Nip::parse("12345")
            .unwrap_err()
            .to_string()
            .contains("10 digits"));
    }
}
