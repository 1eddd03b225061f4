//! `renewals-bench`: the measurements of `scripts/bench` that need code of their own. Each
//! prints one JSON object on stdout.
//!
//!     renewals-bench sqlite-commits [--commits N]
//!     renewals-bench sqlite-rows --from <data dir>/simulate/renewals.sqlite3 [--without audit,…]
//!     renewals-bench webhook --renewals target/release/renewals [--payments N] [--clients 8]
//!         (RENEWALS_BENCH_LATENCIES=file: the first round's requests, start and duration)
//!     renewals-bench store-requests [--tenants N]      # AWS_ENDPOINT_URL: the emulator

mod p24;
mod rows;
mod sqlite;
mod store_requests;
mod tenants;
mod webhook;

use anyhow::{anyhow, bail, Context};
use std::collections::HashMap;

/// `--name value` pairs after the command.
struct Args(HashMap<String, String>);

impl Args {
    fn parse(rest: &[String]) -> anyhow::Result<Args> {
        let mut map = HashMap::new();
        let mut it = rest.iter();
        while let Some(flag) = it.next() {
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| anyhow!("expected --name value, got `{flag}`"))?;
            let value = it.next().ok_or_else(|| anyhow!("--{name} needs a value"))?;
            map.insert(name.to_string(), value.clone());
        }
        Ok(Args(map))
    }

    fn number(&self, name: &str, default: usize) -> anyhow::Result<usize> {
        self.0.get(name).map_or(Ok(default), |v| {
            v.parse()
                .with_context(|| format!("--{name} must be a whole number, got `{v}`"))
        })
    }

    fn text(&self, name: &str) -> anyhow::Result<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| anyhow!("--{name} is required"))
    }
}

fn main() -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = argv.split_first() else {
        bail!(
            "usage: renewals-bench sqlite-commits|sqlite-rows|webhook|store-requests [--name value]…"
        );
    };
    let args = Args::parse(rest)?;
    let report = match command.as_str() {
        "sqlite-commits" => {
            serde_json::to_value(sqlite::commits(args.number("commits", 50_000)?)?)?
        }
        "sqlite-rows" => serde_json::to_value(rows::run(
            std::path::Path::new(args.text("from")?),
            &args
                .0
                .get("without")
                .map_or(vec![], |w| w.split(',').collect::<Vec<_>>()),
        )?)?,
        // One thread for the load, the stand-in and the bookkeeping: the two cores are left
        // to the server being measured as far as possible.
        "webhook" => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(webhook::run(
                args.text("renewals")?,
                args.number("payments", 4000)?,
                args.number("clients", 8)?,
            ))
            .map(serde_json::to_value)??,
        "store-requests" => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(store_requests::run(args.number("tenants", 200)?))
            .map(serde_json::to_value)??,
        other => bail!(
            "unknown command `{other}`: sqlite-commits, sqlite-rows, webhook or store-requests"
        ),
    };
    println!("{report}");
    Ok(())
}
