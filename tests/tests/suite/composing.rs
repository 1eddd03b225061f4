//! E-mails are composed at delivery from what the outbox keeps (the notice, the recipient
//! as they were, the message id and its instant): the same bytes at every attempt, and what
//! the customer reads is what composing at commit used to give.

use mail_parser::{MessageParser, MimeHeaders};
use renewals_app::ports::{warsaw_noon, Content};
use renewals_app::TenantUpdate;
use renewals_domain::{Notice, TenantId, Term};
use renewals_tests::{d, tenant, TestApp};

fn delivered(app: &TestApp, suffix: &str) -> Vec<Vec<u8>> {
    let mut files: Vec<_> = std::fs::read_dir(app.dir.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[tokio::test]
async fn the_outbox_keeps_the_letter_and_composing_it_twice_gives_the_same_bytes() {
    let app = TestApp::new();
    app.customer("acme", "business-standard", 10, Term::Monthly, "2026-01-31")
        .await;
    app.day("2026-02-21").await;
    let mails = app.emails("acme").await;
    assert_eq!(mails.len(), 1);
    let Content::Letter(letter) = &mails[0].content else {
        panic!("the row keeps what the e-mail must say, not MIME");
    };
    assert!(matches!(letter.notice, Notice::Proforma { .. }));
    assert_eq!(
        letter.at,
        warsaw_noon(d("2026-02-21")),
        "dated at the commit"
    );

    let first = app.mime(&mails[0]);
    assert_eq!(first, app.mime(&mails[0]), "composed twice: identical");
    // What the customer changes later does not rewrite an e-mail already queued: it was
    // written for the tenant as they were (and to the address they had then).
    app.svc
        .update_tenant(
            &TenantId::parse("acme").unwrap(),
            TenantUpdate {
                name: Some("ACME Nowa Nazwa sp. z o.o.".into()),
                email: Some("ksiegowosc@acme.example.pl".into()),
                ..TenantUpdate::default()
            },
        )
        .await
        .unwrap();
    let again = app.emails("acme").await;
    assert_eq!(
        app.mime(&again[0]),
        first,
        "after the tenant changed: identical"
    );
    // Each delivery attempt composes anew: the .eml written is those bytes.
    assert_eq!(delivered(&app, "-acme-proforma.eml"), [first]);
}

#[tokio::test]
async fn a_delivered_proforma_carries_its_pdf_and_reads_as_when_composed_at_commit() {
    let app = TestApp::new();
    app.customer("acme", "business-standard", 10, Term::Monthly, "2026-01-31")
        .await;
    app.day("2026-02-21").await;
    let eml = delivered(&app, "-acme-proforma.eml");
    assert_eq!(eml.len(), 1, "delivered once");
    let eml = &eml[0];

    // Byte for byte what the outbox used to store: the notice composed at the commit's
    // instant for the tenant as they were, under its stable id.
    let document = app.document("PF/2026/02/0001").await;
    let acme = tenant(
        "acme",
        renewals_domain::Locale::Pl,
        renewals_domain::PaymentMethod::Blik,
    );
    let at_commit = app.svc.composer.compose(
        &Notice::Proforma {
            document: document.clone(),
        },
        &acme,
        "acme.proforma.PF.2026.02.0001",
        warsaw_noon(d("2026-02-21")),
    );
    assert_eq!(
        String::from_utf8_lossy(eml),
        String::from_utf8_lossy(&at_commit.mime)
    );

    let message = MessageParser::default().parse(eml.as_slice()).unwrap();
    assert_eq!(
        message.subject(),
        Some(app.emails("acme").await[0].subject.as_str())
    );
    assert_eq!(
        message.message_id(),
        Some("acme.proforma.PF.2026.02.0001@renewals")
    );
    let text = message.body_text(0).unwrap();
    for expected in [
        "PF/2026/02/0001",
        "781,05 zł",
        "27 lutego 2026",
        "PL61 1090",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    assert_eq!(message.attachment_count(), 1);
    let pdf = message.attachment(0).unwrap();
    assert_eq!(pdf.attachment_name(), Some("PF-2026-02-0001.pdf"));
    assert!(pdf.contents().starts_with(b"%PDF-"));
    let renderer = renewals_email::Renderer::from_settings(&app.svc.settings);
    assert_eq!(
        pdf.contents(),
        renderer.pdf(&document, &acme).as_slice(),
        "the pro-forma as `renewals document pdf` writes it"
    );
}
