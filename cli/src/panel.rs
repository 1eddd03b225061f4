//! The web panel in the CLI: `renewals serve` mounts its router next to the webhook, and
//! `renewals operator add` lets a representative sign in to `/admin`.

use axum::Router;
use renewals_app::config::{Defaults, Settings};
use renewals_local::sqlite::Durability;
use renewals_local::OutboxMailer;
use renewals_przelewy24::{P24Settings, Przelewy24Client};
use std::path::Path;
use std::sync::Arc;

/// The web panel on the same store (its own connections), sign-in e-mails to the outbox.
pub fn router(dir: &Path) -> anyhow::Result<Router> {
    let settings = Settings::from_env(Defaults::Local)?;
    let p24 = P24Settings::from_env(Defaults::Local)?;
    let svc = crate::app::service(
        Arc::new(crate::app::open_store(dir, Durability::Normal, false)?),
        Arc::new(OutboxMailer::new(dir.join("outbox"))?),
        Arc::new(Przelewy24Client::new(p24)),
        crate::app::clock(None),
        settings,
    );
    let store = renewals_local::panel::SqlitePanelStore::open(&crate::app::database(dir))?;
    let config = renewals_panel::PanelConfig::from_env()?;
    eprintln!("renewals: panel at {}/login", config.public_url);
    Ok(renewals_panel::router(renewals_panel::Panel::new(
        Arc::new(svc),
        Arc::new(store),
        config,
    )))
}

/// `renewals operator add`: one line saying what happened; an existing address is refused.
/// On the embedded store in `dir`, or on the DynamoDB `table` the panel Lambda reads.
pub async fn add_operator(
    target: &crate::app::Target,
    email: &str,
    name: &str,
) -> anyhow::Result<()> {
    use renewals_app::panel::{Operator, PanelStore};
    let email = renewals_domain::EmailAddress::parse(email.trim())?;
    let name = name.trim();
    anyhow::ensure!(!name.is_empty(), "the operator's name is empty");
    let store: Box<dyn PanelStore> = match &target.table {
        Some(table) => Box::new(dynamodb(table).await),
        None => {
            let dir = &target.dir;
            crate::app::open_store(dir, Durability::Normal, true)?;
            Box::new(renewals_local::panel::SqlitePanelStore::open(
                &crate::app::database(dir),
            )?)
        }
    };
    let operators = renewals_domain::TenantId::parse(renewals_app::audit::OPERATORS)?;
    let note = renewals_app::audit::AuditEntry::note(
        chrono::Utc::now(),
        &renewals_app::audit::Actor::Cli,
        &operators,
        "operator_added",
        None,
        format!("Dodano operatora {name} <{}>", email.as_str()),
    );
    let added = store
        .add_operator(
            &Operator {
                email: email.as_str().to_lowercase(),
                name: name.to_string(),
            },
            &note,
        )
        .await?;
    anyhow::ensure!(
        added,
        "an operator with the address {} exists already",
        email.as_str()
    );
    println!("operator {} <{}> added", name, email.as_str());
    Ok(())
}

async fn dynamodb(table: &str) -> renewals_dynamodb::DynamoStore {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    renewals_dynamodb::DynamoStore::from_conf(&sdk, table)
}

/// `renewals --dynamodb-table T operator backfill`: the panel's lookup items for accounts
/// created before they existed (sign-in by address, the tenant list).
pub async fn backfill(table: &str) -> anyhow::Result<()> {
    let accounts = dynamodb(table).await.backfill_panel_keys().await?;
    println!("panel lookup items written for {accounts} accounts");
    Ok(())
}
