//! The panel's items, the same on both stores: operators unique by address, a sign-in link
//! used once and only before it expires, sessions that run out, rate-limit counters per
//! window, the tenant found by its billing address, one decision per held payment.
//! DynamoDB needs the emulator (`AWS_ENDPOINT_URL`), like `contract.rs`.

use chrono::{DateTime, Duration, Utc};
use renewals_app::panel::{Operator, PanelStore, Principal, ReviewDecision, Session};
use renewals_app::ports::{Change, Store};
use renewals_domain::{Account, EmailAddress, Locale, Nip, PaymentMethod, Tenant, TenantId};
use renewals_dynamodb::DynamoStore;
use renewals_local::panel::SqlitePanelStore;
use renewals_local::sqlite::Durability;
use renewals_local::SqliteStore;
use std::sync::Arc;

async fn dynamodb(test: &str) -> (Arc<dyn Store>, Arc<dyn PanelStore>) {
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
        "panel-{}-{}-{nanos}",
        test.replace('_', "-"),
        std::process::id()
    );
    let store = DynamoStore::from_conf(&sdk, table);
    store.create_table().await.unwrap();
    let store = Arc::new(store);
    (store.clone(), store)
}

fn sqlite(dir: &tempfile::TempDir) -> (Arc<dyn Store>, Arc<dyn PanelStore>) {
    let path = dir.path().join("renewals.sqlite3");
    let store = SqliteStore::open(&path, Durability::Normal).unwrap();
    (
        Arc::new(store),
        Arc::new(SqlitePanelStore::open(&path).unwrap()),
    )
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn story(store: Arc<dyn Store>, panel: Arc<dyn PanelStore>) {
    let op = Operator {
        email: "ops@reseller.pl".into(),
        name: "Anna Nowak".into(),
    };
    assert!(panel.add_operator(&op).await.unwrap());
    assert!(!panel
        .add_operator(&Operator {
            name: "Other".into(),
            ..op.clone()
        })
        .await
        .unwrap());
    assert_eq!(
        panel
            .operator("ops@reseller.pl")
            .await
            .unwrap()
            .unwrap()
            .name,
        "Anna Nowak"
    );
    assert!(panel
        .operator("nobody@reseller.pl")
        .await
        .unwrap()
        .is_none());

    let tenant = Tenant {
        id: TenantId::parse("acme").unwrap(),
        name: "Acme".into(),
        nip: Nip::parse("5260001246").unwrap(),
        address: "ul. Prosta 1, 00-001 Warszawa".into(),
        address2: None,
        country: "PL".into(),
        email: EmailAddress::parse("faktury@acme.example.pl").unwrap(),
        locale: Locale::Pl,
        payment_method: PaymentMethod::Blik,
    };
    store
        .commit(Change {
            account: Some(Account::new(tenant)),
            ..Change::default()
        })
        .await
        .unwrap();
    assert_eq!(
        panel
            .tenant_by_email("Faktury@ACME.example.pl")
            .await
            .unwrap()
            .unwrap()
            .as_str(),
        "acme"
    );
    assert!(panel
        .tenant_by_email("x@acme.example.pl")
        .await
        .unwrap()
        .is_none());
    assert_eq!(panel.tenants().await.unwrap().len(), 1);

    let now = at("2026-01-10T10:00:00Z");
    let who = Principal::Customer(TenantId::parse("acme").unwrap());
    panel
        .put_login_token("h1", &who, now + Duration::minutes(15))
        .await
        .unwrap();
    panel
        .put_login_token("h2", &who, now + Duration::minutes(15))
        .await
        .unwrap();
    assert_eq!(
        panel.take_login_token("h1", now).await.unwrap(),
        Some(who.clone())
    );
    assert_eq!(
        panel.take_login_token("h1", now).await.unwrap(),
        None,
        "used once"
    );
    assert_eq!(panel.take_login_token("nope", now).await.unwrap(), None);
    let late = now + Duration::minutes(15);
    assert_eq!(
        panel.take_login_token("h2", late).await.unwrap(),
        None,
        "expired"
    );

    let session = Session {
        who,
        csrf: "c".into(),
        expires: now + Duration::hours(8),
    };
    panel.put_session("s1", &session).await.unwrap();
    assert_eq!(
        panel.session("s1", now).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(
        panel.session("s1", now + Duration::hours(8)).await.unwrap(),
        None
    );
    panel.delete_session("s1").await.unwrap();
    assert_eq!(panel.session("s1", now).await.unwrap(), None);

    assert_eq!(panel.hit("ip:1", now).await.unwrap(), 1);
    assert_eq!(panel.hit("ip:1", now).await.unwrap(), 2);
    assert_eq!(panel.hit("ip:2", now).await.unwrap(), 1);
    assert_eq!(
        panel
            .hit("ip:1", now + Duration::minutes(15))
            .await
            .unwrap(),
        1
    );

    let d = ReviewDecision {
        decision: "refund".into(),
        document: None,
        representative: "Anna Nowak".into(),
        at: now,
    };
    assert!(panel.decide_review("p24:1", &d).await.unwrap());
    assert!(
        !panel.decide_review("p24:1", &d).await.unwrap(),
        "decided once"
    );
    assert!(panel.parked_messages().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_panel_items_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (store, panel) = sqlite(&dir);
    story(store, panel).await;
}

#[tokio::test]
async fn the_panel_items_on_dynamodb() {
    let (store, panel) = dynamodb("story").await;
    story(store, panel).await;
}
