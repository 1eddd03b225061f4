//! The `bank-import` function on the local AWS emulator: a statement put into an S3 bucket,
//! the handler called with the S3 event fixture (`events/bank-import.json`), the store on
//! DynamoDB and the operator's alerts through SES.
//!
//! Needs `eval "$(scripts/moto.sh start)"` and `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` (any values) in the environment; `scripts/test` does both.

use renewals_app::config::{Defaults, Settings};
use renewals_app::ports::{warsaw_noon, ManualClock, Store};
use renewals_bank::FileImport;
use renewals_domain::{
    DocumentNumber, DocumentStatus, EmailAddress, Job, Locale, Nip, PaymentMethod, Tenant,
    TenantId, Term,
};
use renewals_lambda::bank_import::{bank_import, S3Event};
use std::sync::Arc;

fn date(s: &str) -> chrono::NaiveDate {
    renewals_domain::parse_date(s).unwrap()
}

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL is not set: run `eval \"$(scripts/moto.sh start)\"` first")
}

/// The S3 event fixture, pointed at `bucket`.
fn event(bucket: &str) -> S3Event {
    let text = std::fs::read_to_string(format!(
        "{}/../../events/bank-import.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace("renewals-statements-local", bucket);
    serde_json::from_str(&text).unwrap()
}

/// A PKO BP MT940 statement (Windows-1250): acme pays PF/2026/02/0001 (150.06 zł), someone
/// sends 200.00 zł with no document in the title, and the reseller pays its distributor.
fn statement() -> Vec<u8> {
    let text = ":20:MT940\r\n:25:/PL94105015041000009031876543\r\n:28C:00057\r\n\
:60F:C260223PLN12500,00\r\n\
:61:2602240224C150,06S034NONREF//S7A2602240010001\r\n\
:86:034~00PRZELEW PRZYCHODZĄCY~20PF/2026/02/0001 opłata~32ACME SP. Z O.O.\r\n\
~38PL60102010260000612203456789\r\n\
:61:2602240224C200,00S034NONREF//S7A2602240010002\r\n\
:86:034~00PRZELEW PRZYCHODZĄCY~20Darowizna~32JAN KOWALSKI\r\n\
:61:2602260226D1230,00S073NONREF//S7A2602260010006\r\n\
:86:073~00PRZELEW WYCHODZĄCY~20Licencje Microsoft luty\r\n\
:62F:C260226PLN11620,06\r\n-\r\n";
    let (bytes, _, _) = encoding_rs::WINDOWS_1250.encode(text);
    bytes.into_owned()
}

#[tokio::test]
async fn a_statement_uploaded_to_the_bucket_is_imported_once_on_the_emulator() {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_config::Region::new("eu-central-1"))
        .test_credentials()
        .load()
        .await;
    let run = std::process::id();
    let table = format!("renewals-bank-{run}");
    let store = Arc::new(renewals_dynamodb::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        table,
    ));
    store.create_table().await.unwrap();
    let ses = aws_sdk_sesv2::Client::new(&sdk);
    let sender = "faktury@bank-import.example";
    ses.create_email_identity()
        .email_identity(sender)
        .send()
        .await
        .unwrap();
    let mut settings = Settings::from_lookup(Defaults::Local, |_| None).unwrap();
    settings.mail.sender = sender.into();
    let clock = Arc::new(ManualClock::new(warsaw_noon(date("2026-02-01"))));
    let svc = renewals_lambda::service(
        store.clone(),
        Arc::new(renewals_ses::SesMailer::new(ses, sender)),
        None,
        clock.clone(),
        settings,
    );
    // acme: 4 seats of Business Basic, monthly from 31 January; its pro-forma is 150.06 zł.
    let acme = TenantId::parse("acme").unwrap();
    svc.add_tenant(Tenant {
        id: acme.clone(),
        name: "Acme sp. z o.o.".into(),
        nip: Nip::parse("5260001200").unwrap(),
        address: String::new(),
        address2: None,
        country: "PL".into(),
        email: EmailAddress::parse("faktury@acme.example.pl").unwrap(),
        locale: Locale::Pl,
        payment_method: PaymentMethod::Transfer,
    })
    .await
    .unwrap();
    svc.add_subscription(
        &acme,
        "business-basic",
        4,
        Term::Monthly,
        date("2026-01-31"),
    )
    .await
    .unwrap();
    clock.set(warsaw_noon(date("2026-02-21")));
    svc.run_job(Job::Daily, date("2026-02-21"), None)
        .await
        .unwrap();
    let number = DocumentNumber::parse("PF/2026/02/0001").unwrap();
    let document = store.document(&number).await.unwrap().unwrap();
    assert_eq!(document.totals.gross.to_string(), "150.06");

    // The bank's delivery puts the statement into the bucket.
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let bucket = format!("renewals-statements-{run}");
    s3.create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuCentral1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket(&bucket)
        .key("wyciagi/2026-02-26 PKO BP.sta")
        .body(statement().into())
        .send()
        .await
        .unwrap();

    let summary = bank_import(&svc, &s3, event(&bucket)).await.unwrap();
    assert!(summary.refused.is_empty(), "{:?}", summary.refused);
    let [FileImport::Imported { file, report }] = summary.imported.as_slice() else {
        panic!("{summary:?}");
    };
    assert_eq!(
        file,
        &format!("s3://{bucket}/wyciagi/2026-02-26 PKO BP.sta")
    );
    assert_eq!(
        (report.credits, report.matched.len(), report.unmatched.len()),
        (2, 1, 1),
        "{report:?}"
    );
    assert_eq!(report.matched[0].document, "PF/2026/02/0001");
    let paid = store.document(&number).await.unwrap().unwrap();
    assert_eq!(paid.status, DocumentStatus::Paid);
    assert!(store
        .payment("bank:S7A2602240010001")
        .await
        .unwrap()
        .is_some());
    assert!(store
        .review_item("bank:S7A2602240010002")
        .await
        .unwrap()
        .is_some());

    // S3 delivers an event at least once: the same event again imports nothing.
    let again = bank_import(&svc, &s3, event(&bucket)).await.unwrap();
    assert!(
        matches!(again.imported.as_slice(), [FileImport::AlreadyImported { earlier, .. }] if earlier == file),
        "{again:?}"
    );

    // A file that is not a statement is refused without failing the invocation.
    s3.put_object()
        .bucket(&bucket)
        .key("wyciagi/2026-02-26 PKO BP.sta")
        .body(b"Nazwa;Kwota\nACME;150,06\n".to_vec().into())
        .send()
        .await
        .unwrap();
    let refused = bank_import(&svc, &s3, event(&bucket)).await.unwrap();
    assert!(refused.imported.is_empty());
    assert_eq!(
        refused.refused,
        [format!(
            "s3://{bucket}/wyciagi/2026-02-26 PKO BP.sta: not a bank statement: neither camt.053 XML nor MT940 (the file starts with `Nazwa;Kwota ACME;150,06`)"
        )]
    );

    // A bucket that does not exist is an error Lambda retries.
    assert!(bank_import(&svc, &s3, event("no-such-bucket"))
        .await
        .is_err());
}
