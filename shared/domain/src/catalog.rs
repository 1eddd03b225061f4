//! The product catalog: data an operator can replace, parsed and checked once.

use crate::calendar::Term;
use crate::error::{ParseError, Refusal};
use crate::money::Money;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The catalog shipped with the project (`data/catalog.json`).
pub const DEFAULT_CATALOG: &str = include_str!("../../../data/catalog.json");

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProductKind {
    /// Renewed every period (the Microsoft 365 business plans).
    Subscription,
    /// Sold once, never renewed, never a subscription.
    Perpetual,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub sku: String,
    pub name: String,
    pub kind: ProductKind,
    /// Net PLN per seat for one whole period of each term (`perpetual` for one-off products).
    pub prices: BTreeMap<String, Money>,
}

impl Product {
    pub fn price(&self, term: Term) -> Option<Money> {
        self.prices.get(term.as_str()).copied()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub currency: String,
    pub products: Vec<Product>,
}

impl Catalog {
    pub fn parse(json: &str) -> Result<Catalog, ParseError> {
        let catalog: Catalog =
            serde_json::from_str(json).map_err(|e| ParseError::Catalog(e.to_string()))?;
        if catalog.currency != "PLN" {
            return Err(ParseError::Catalog(format!(
                "its currency must be PLN, not {}",
                catalog.currency
            )));
        }
        for p in &catalog.products {
            let ok = match p.kind {
                ProductKind::Subscription => {
                    p.price(Term::Monthly).is_some() && p.price(Term::Annual).is_some()
                }
                ProductKind::Perpetual => p.prices.contains_key("perpetual"),
            };
            if !ok {
                return Err(ParseError::Catalog(format!(
                    "product `{}` lacks a price for its kind",
                    p.sku
                )));
            }
        }
        Ok(catalog)
    }

    pub fn default_catalog() -> Catalog {
        Catalog::parse(DEFAULT_CATALOG).expect("shipped catalog is valid")
    }

    pub fn product(&self, sku: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.sku == sku)
    }

    /// A renewable product, or a reason naming what can be chosen instead.
    pub fn subscription_product(&self, sku: &str) -> Result<&Product, Refusal> {
        match self.product(sku) {
            Some(p) if p.kind == ProductKind::Subscription => Ok(p),
            Some(p) => Err(Refusal::PerpetualProduct(p.sku.clone())),
            None => Err(Refusal::UnknownProduct {
                sku: sku.to_string(),
                available: self
                    .products
                    .iter()
                    .filter(|p| p.kind == ProductKind::Subscription)
                    .map(|p| p.sku.clone())
                    .collect(),
            }),
        }
    }
}
