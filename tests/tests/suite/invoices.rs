//! The buyer's data a VAT invoice needs: the tenant's address as FA(3) `TAdres` (line 1, an
//! optional line 2, a country code, `PL` unless told), kept up to date by `tenant update`, one
//! unit of work whose refusals are one line and change nothing.

use renewals_app::TenantUpdate;
use renewals_domain::{Locale, PaymentMethod, TenantId};
use renewals_tests::{tenant, TestApp};

fn id(s: &str) -> TenantId {
    TenantId::parse(s).unwrap()
}

#[tokio::test]
async fn a_new_tenant_without_an_address_line2_or_country_is_in_poland() {
    let app = TestApp::new();
    app.svc
        .add_tenant(tenant("acme", Locale::Pl, PaymentMethod::Blik))
        .await
        .unwrap();
    let t = app.svc.account(&id("acme")).await.unwrap().tenant;
    assert_eq!(t.address, "ul. Prosta 1, 00-001 Warszawa");
    assert_eq!(t.address2, None);
    assert_eq!(t.country, "PL");
}

#[tokio::test]
async fn tenant_update_changes_only_what_it_is_given() {
    let app = TestApp::new();
    let mut t = tenant("acme", Locale::Pl, PaymentMethod::Blik);
    t.address = String::new();
    app.svc.add_tenant(t).await.unwrap();

    app.svc
        .update_tenant(
            &id("acme"),
            TenantUpdate {
                address: Some("Hauptstraße 5".into()),
                address2: Some("10115 Berlin".into()),
                country: Some("de".into()),
                ..TenantUpdate::default()
            },
        )
        .await
        .unwrap();
    let after = app.svc.account(&id("acme")).await.unwrap().tenant;
    assert_eq!(after.address, "Hauptstraße 5");
    assert_eq!(after.address2.as_deref(), Some("10115 Berlin"));
    assert_eq!(after.country, "DE");
    assert_eq!(after.name, "acme sp. z o.o.", "the name was not given");
    assert_eq!(after.email.as_str(), "faktury@acme.example.pl");

    app.svc
        .update_tenant(
            &id("acme"),
            TenantUpdate {
                name: Some("ACME Polska S.A.".into()),
                email: Some("ksiegowosc@acme.example.pl".into()),
                ..TenantUpdate::default()
            },
        )
        .await
        .unwrap();
    let after = app.svc.account(&id("acme")).await.unwrap().tenant;
    assert_eq!(after.name, "ACME Polska S.A.");
    assert_eq!(after.email.as_str(), "ksiegowosc@acme.example.pl");
    assert_eq!(after.address, "Hauptstraße 5", "the address was kept");
}

#[tokio::test]
async fn tenant_update_refuses_in_one_line_and_changes_nothing() {
    let app = TestApp::new();
    app.svc
        .add_tenant(tenant("acme", Locale::Pl, PaymentMethod::Blik))
        .await
        .unwrap();
    let before = app.svc.account(&id("acme")).await.unwrap().tenant;
    for (update, says) in [
        (TenantUpdate::default(), "nothing to update"),
        (
            TenantUpdate {
                country: Some("Polska".into()),
                ..TenantUpdate::default()
            },
            "country",
        ),
        (
            TenantUpdate {
                email: Some("a@x.pl,b@x.pl".into()),
                ..TenantUpdate::default()
            },
            "e-mail",
        ),
        (
            TenantUpdate {
                name: Some("  ".into()),
                ..TenantUpdate::default()
            },
            "name",
        ),
        (
            TenantUpdate {
                address: Some(" ".into()),
                ..TenantUpdate::default()
            },
            "address",
        ),
    ] {
        let err = app
            .svc
            .update_tenant(&id("acme"), update)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{says}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    let err = app
        .svc
        .update_tenant(
            &id("nobody"),
            TenantUpdate {
                name: Some("X".into()),
                ..TenantUpdate::default()
            },
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("nobody"), "{err}");
    assert_eq!(app.svc.account(&id("acme")).await.unwrap().tenant, before);
}
