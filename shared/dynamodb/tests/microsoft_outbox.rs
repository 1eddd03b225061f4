//! The Microsoft commands outbox, the same on both stores: committed with the account
//! change (once per cause), claimed by one worker at a time (a lease; on DynamoDB a
//! conditional update), retried later, parked, done.
//! DynamoDB needs the emulator (`AWS_ENDPOINT_URL`), like `contract.rs`.

use chrono::{DateTime, Duration, Utc};
use renewals_app::ports::{Change, Retry, Store, StoreError};
use renewals_domain::{
    Account, EmailAddress, Locale, MicrosoftAction, MicrosoftCommand, Nip, PaymentMethod,
    SubscriptionId, Tenant, TenantId,
};
use renewals_dynamodb::DynamoStore;
use renewals_local::sqlite::Durability;
use renewals_local::SqliteStore;
use std::sync::Arc;

async fn dynamodb(test: &str) -> Arc<dyn Store> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        !endpoint.is_empty(),
        "AWS_ENDPOINT_URL is not set: run scripts/test"
    );
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("eu-central-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .load()
        .await;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let table = format!(
        "ms-{}-{}-{nanos}",
        test.replace('_', "-"),
        std::process::id()
    );
    let store = DynamoStore::from_conf(&sdk, table);
    store.create_table().await.unwrap();
    Arc::new(store)
}

fn sqlite(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(&dir.path().join("r.sqlite3"), Durability::Normal).unwrap())
}

fn tenant() -> Tenant {
    Tenant {
        id: TenantId::parse("acme").unwrap(),
        name: "Acme".into(),
        nip: Nip::parse("5260001246").unwrap(),
        address: String::new(),
        address2: None,
        country: "PL".into(),
        email: EmailAddress::parse("faktury@acme.example.pl").unwrap(),
        locale: Locale::Pl,
        payment_method: PaymentMethod::Blik,
    }
}

fn command(key: &str) -> MicrosoftCommand {
    MicrosoftCommand {
        key: key.into(),
        subscription: SubscriptionId::parse("acme-1").unwrap(),
        customer: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into(),
        microsoft_subscription: "a4c1340d-6911-4758-bba3-0c4c6007d161".into(),
        action: MicrosoftAction::AutoRenew { enabled: false },
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-02-10T11:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

async fn the_commands_outbox(store: Arc<dyn Store>) {
    let account = Account::new(tenant());
    let id = account.tenant.id.clone();
    store
        .commit(Change {
            account: Some(account.clone()),
            ..Change::default()
        })
        .await
        .unwrap();
    // Committed with the change that causes it.
    store
        .commit(Change {
            account: Some(account.clone()),
            version: 1,
            microsoft: vec![command("auto_renew:acme-1:off"), command("cancel:acme-1:x")],
            ..Change::default()
        })
        .await
        .unwrap();
    // The same cause again: refused, nothing written (the account stays at version 2).
    let again = store
        .commit(Change {
            account: Some(account.clone()),
            version: 2,
            microsoft: vec![command("auto_renew:acme-1:off")],
            ..Change::default()
        })
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(store.load_account(&id).await.unwrap().unwrap().version, 2);
    let listed = store.microsoft_commands_of(&id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed
        .iter()
        .all(|c| c.status() == "pending" && c.attempts == 0));

    // Two workers at once: each command goes to one of them.
    let lease = t0() + Duration::minutes(10);
    let (a, b) = tokio::join!(
        store.claim_commands(t0(), lease, 10),
        store.claim_commands(t0(), lease, 10)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 2, "{a:?} {b:?}");
    let claimed: Vec<_> = a.into_iter().chain(b).collect();
    assert!(claimed.iter().all(|c| c.attempts == 1));
    // Leased: nobody else gets them before the lease ends.
    assert!(store
        .claim_commands(t0(), lease, 10)
        .await
        .unwrap()
        .is_empty());

    let (first, second) = if claimed[0].command.key.starts_with("auto") {
        (&claimed[0], &claimed[1])
    } else {
        (&claimed[1], &claimed[0])
    };
    store.mark_command_done(first).await.unwrap();
    let later = t0() + Duration::minutes(15);
    store
        .mark_command_failed(second, Retry::At(later), "503 down")
        .await
        .unwrap();
    assert!(store
        .claim_commands(later - Duration::seconds(1), lease, 10)
        .await
        .unwrap()
        .is_empty());
    let retried = store
        .claim_commands(later, later + Duration::minutes(10), 10)
        .await
        .unwrap();
    assert_eq!(retried.len(), 1, "only the failed one, and only when due");
    assert_eq!(retried[0].attempts, 2);
    store
        .mark_command_failed(&retried[0], Retry::Park, "900117 window passed")
        .await
        .unwrap();
    assert!(store
        .claim_commands(t0() + Duration::days(30), t0() + Duration::days(31), 10)
        .await
        .unwrap()
        .is_empty());

    let listed = store.microsoft_commands_of(&id).await.unwrap();
    let state: Vec<_> = listed
        .iter()
        .map(|c| {
            (
                c.command.key.as_str(),
                c.status(),
                c.attempts,
                c.last_error.as_deref(),
            )
        })
        .collect();
    assert!(
        state.contains(&("auto_renew:acme-1:off", "done", 1, None)),
        "{state:?}"
    );
    assert!(
        state.contains(&("cancel:acme-1:x", "failed", 2, Some("900117 window passed"))),
        "{state:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_commands_outbox_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    the_commands_outbox(sqlite(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_commands_outbox_on_dynamodb() {
    the_commands_outbox(dynamodb("commands_outbox").await).await;
}
