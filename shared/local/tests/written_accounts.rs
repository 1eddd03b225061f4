//! The store answers a load with the account it last wrote when the stored version is still
//! the one it wrote, and reads the row again when anybody else wrote since: another store on
//! the same file (another process) or nobody at all after a refused change.

use chrono::NaiveDate;
use renewals_app::ports::{Change, Store, StoreError};
use renewals_domain::{
    Account, Catalog, EmailAddress, Locale, Nip, PaymentMethod, Tenant, TenantId, Term,
};
use renewals_local::sqlite::Durability;
use renewals_local::SqliteStore;

fn account() -> Account {
    let mut account = Account::new(Tenant {
        id: TenantId::parse("acme").unwrap(),
        name: "ACME sp. z o.o.".into(),
        nip: Nip::parse("5260001246").unwrap(),
        address: "ul. Prosta 1, 00-001 Warszawa".into(),
        address2: None,
        country: "PL".into(),
        email: EmailAddress::parse("faktury@acme.pl").unwrap(),
        locale: Locale::Pl,
        payment_method: PaymentMethod::Blik,
    });
    let start = NaiveDate::from_ymd_opt(2026, 11, 14).unwrap();
    account
        .add_subscription(
            &Catalog::default_catalog(),
            "business-premium",
            7,
            Term::Monthly,
            start,
        )
        .unwrap();
    account
}

fn change(account: Account, version: u64) -> Change {
    Change {
        account: Some(account),
        version,
        ..Change::default()
    }
}

#[tokio::test]
async fn a_load_sees_every_write_whoever_made_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("renewals.sqlite3");
    let ours = SqliteStore::open(&path, Durability::Normal).unwrap();
    let tenant = TenantId::parse("acme").unwrap();

    ours.commit(change(account(), 0)).await.unwrap();
    let loaded = ours.load_account(&tenant).await.unwrap().unwrap();
    assert_eq!((loaded.version, &loaded.account), (1, &account()));

    // Another process renames the customer.
    let theirs = SqliteStore::open_existing(&path, Durability::Normal).unwrap();
    let mut renamed = theirs.load_account(&tenant).await.unwrap().unwrap();
    assert_eq!(renamed.account, loaded.account);
    renamed.account.tenant.name = "ACME Polska sp. z o.o.".into();
    theirs.commit(change(renamed.account, 1)).await.unwrap();

    let now = ours.load_account(&tenant).await.unwrap().unwrap();
    assert_eq!(now.version, 2);
    assert_eq!(now.account.tenant.name, "ACME Polska sp. z o.o.");

    // Our change made at version 1 is refused and not taken for the stored account.
    let mut stale = loaded.account.clone();
    stale.tenant.name = "Stale".into();
    let refused = ours.commit(change(stale.clone(), 1)).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    let refused = ours.commit_many(vec![change(stale, 1)]).await;
    assert!(matches!(refused[0], Err(StoreError::Conflict(_))));
    let now = ours.load_account(&tenant).await.unwrap().unwrap();
    assert_eq!(
        (now.version, now.account.tenant.name.as_str()),
        (2, "ACME Polska sp. z o.o.")
    );

    // Our next write, made at the current version, is what both stores load.
    let mut next = now.account;
    next.tenant.name = "ACME Group".into();
    ours.commit_many(vec![change(next.clone(), 2)]).await[0]
        .as_ref()
        .unwrap();
    for store in [&ours, &theirs] {
        let loaded = store.load_account(&tenant).await.unwrap().unwrap();
        assert_eq!((loaded.version, &loaded.account), (3, &next));
    }
}
