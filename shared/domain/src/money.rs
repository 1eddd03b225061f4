//! Money in PLN with grosz precision, and VAT on document totals.

use crate::error::ParseError;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::iter::Sum;
use std::ops::Add;

/// An amount of PLN, always rounded half-up to the grosz.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(Decimal);

/// Polish standard VAT rate.
pub const VAT_RATE_PERCENT: i64 = 23;

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Rounds half-up (away from zero) to the grosz, as art. 106e of the VAT act requires.
    pub fn round(amount: Decimal) -> Money {
        let mut d = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        d.rescale(2);
        Money(d)
    }

    pub fn from_grosze(grosze: i64) -> Money {
        Money(Decimal::new(grosze, 2))
    }

    /// The amount in grosze (Przelewy24 amounts are integers in grosze).
    pub fn grosze(&self) -> i64 {
        (self.0 * Decimal::ONE_HUNDRED)
            .trunc()
            .to_i64()
            .expect("amounts fit in i64 grosze")
    }

    pub fn amount(&self) -> Decimal {
        self.0
    }

    /// Parses a decimal amount such as `29.90`; more than two decimal places is refused.
    pub fn parse(s: &str) -> Result<Money, ParseError> {
        let d: Decimal = s
            .trim()
            .parse()
            .map_err(|_| ParseError::Amount(s.to_string()))?;
        if d.scale() > 2 && d.normalize().scale() > 2 {
            return Err(ParseError::AmountPrecision(s.to_string()));
        }
        if d.is_sign_negative() {
            return Err(ParseError::AmountNegative(s.to_string()));
        }
        Ok(Money::round(d))
    }

    /// `self × numerator / denominator`, rounded half-up once at the end.
    pub fn prorate(&self, multiplier: u32, numerator: i64, denominator: i64) -> Money {
        let exact = self.0 * Decimal::from(multiplier) * Decimal::from(numerator)
            / Decimal::from(denominator);
        Money::round(exact)
    }

    pub fn times(&self, n: u32) -> Money {
        Money::round(self.0 * Decimal::from(n))
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money::round(self.0 + rhs.0)
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        let s = String::deserialize(d)?;
        Money::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A document's net, VAT and gross.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub net: Money,
    pub vat: Money,
    pub gross: Money,
}

impl Totals {
    /// VAT is computed once on the document's net total, not per line.
    pub fn of_lines(nets: impl IntoIterator<Item = Money>) -> Totals {
        let net: Money = nets.into_iter().sum();
        let vat = Money::round(net.0 * Decimal::new(VAT_RATE_PERCENT, 2));
        Totals {
            net,
            vat,
            gross: net + vat,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vat_is_rounded_half_up_on_the_total() {
        // 0.50 × 23% = 0.115 → 0.12 (half-up), not banker's 0.12/0.11.
        let t = Totals::of_lines([Money::parse("0.50").unwrap()]);
        assert_eq!(t.vat, Money::parse("0.12").unwrap());
        assert_eq!(t.gross, Money::parse("0.62").unwrap());
        // Two lines of 0.25 each: per-line VAT would be 0.06 + 0.06 = 0.12; on the total 0.12.
        let t = Totals::of_lines([
            Money::parse("10.10").unwrap(),
            Money::parse("0.05").unwrap(),
        ]);
        assert_eq!(t.vat.to_string(), "2.33"); // 10.15 × 0.23 = 2.3345
    }

    #[test]
    fn grosze_round_trip() {
        assert_eq!(Money::from_grosze(123456).to_string(), "1234.56");
        assert_eq!(Money::parse("1234.56").unwrap().grosze(), 123456);
        assert_eq!(Money::parse("7").unwrap().grosze(), 700);
        assert!(Money::parse("1.234").is_err());
        assert!(Money::parse("-1").is_err());
    }
}
