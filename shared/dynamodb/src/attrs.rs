//! Attribute values in and out of items, with errors that name the missing attribute.

use anyhow::{anyhow, Context};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub fn b(bytes: Vec<u8>) -> AttributeValue {
    AttributeValue::B(Blob::new(bytes))
}

pub fn string<'a>(item: &'a Item, name: &str) -> anyhow::Result<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        Some(other) => Err(anyhow!("attribute {name} is not a string: {other:?}")),
        None => Err(anyhow!("item has no attribute {name}")),
    }
}

pub fn optional_string<'a>(item: &'a Item, name: &str) -> anyhow::Result<Option<&'a str>> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(_) => string(item, name).map(Some),
    }
}

pub fn number<T>(item: &Item, name: &str) -> anyhow::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .with_context(|| format!("attribute {name} = {v} is out of range")),
        Some(other) => Err(anyhow!("attribute {name} is not a number: {other:?}")),
        None => Err(anyhow!("item has no attribute {name}")),
    }
}

pub fn optional_number<T>(item: &Item, name: &str) -> anyhow::Result<Option<T>>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(_) => number(item, name).map(Some),
    }
}

pub fn bytes(item: &Item, name: &str) -> anyhow::Result<Vec<u8>> {
    match item.get(name) {
        Some(AttributeValue::B(v)) => Ok(v.as_ref().to_vec()),
        Some(other) => Err(anyhow!("attribute {name} is not binary: {other:?}")),
        None => Err(anyhow!("item has no attribute {name}")),
    }
}

pub fn boolean(item: &Item, name: &str) -> anyhow::Result<bool> {
    match item.get(name) {
        Some(AttributeValue::Bool(v)) => Ok(*v),
        Some(other) => Err(anyhow!("attribute {name} is not a boolean: {other:?}")),
        None => Err(anyhow!("item has no attribute {name}")),
    }
}

/// A JSON attribute parsed into `T`.
pub fn json<T: serde::de::DeserializeOwned>(item: &Item, name: &str) -> anyhow::Result<T> {
    serde_json::from_str(string(item, name)?).with_context(|| format!("parsing attribute {name}"))
}

/// An item's size as DynamoDB counts it against the 400 KB limit: names plus values.
pub fn size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) | AttributeValue::Ns(v) => v.iter().map(String::len).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(v) => 3 + v.iter().map(|x| 1 + value_size(x)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, x)| 1 + k.len() + value_size(x))
                .sum::<usize>()
        }
        _ => 0,
    }
}
