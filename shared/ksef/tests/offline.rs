//! The offline stand-in (the demo without `KSEF_*`): real FA(3) XML is accepted at once with a
//! valid KSeF number and a UPO; the same (NIP, RodzajFaktury, P_2) again is a duplicate with
//! the original number; XML that is not well-formed is rejected with the reason.

mod common;

use renewals_app::ports::{InvoiceToSend, Ksef, KsefVerdict};
use renewals_invoices::InvoiceType;
use renewals_ksef::{check_ksef_number, OfflineKsef};

fn to_send(number: &str, xml: Vec<u8>) -> InvoiceToSend {
    InvoiceToSend {
        number: number.into(),
        xml,
    }
}

#[tokio::test]
async fn accepts_numbers_and_recognises_a_duplicate() {
    let ksef = OfflineKsef::new();
    let first = ksef
        .send(&to_send(
            "FV/2026/02/0001",
            common::xml("FV/2026/02/0001", InvoiceType::Zal),
        ))
        .await
        .unwrap();
    let KsefVerdict::Accepted {
        ksef_number,
        upo,
        duplicate,
    } = ksef.verdict(&first).await.unwrap()
    else {
        panic!("the first invoice is accepted");
    };
    assert!(!duplicate);
    assert_eq!(check_ksef_number(&ksef_number), Ok(()));
    assert!(ksef_number.starts_with(&format!("{}-", common::SELLER_NIP)));
    let upo = String::from_utf8(upo.expect("a UPO")).unwrap();
    assert!(upo.contains(&format!(
        "<NumerKSeFDokumentu>{ksef_number}</NumerKSeFDokumentu>"
    )));
    assert!(upo.contains("<NumerFaktury>FV/2026/02/0001</NumerFaktury>"));

    // Same number and kind, sent again (e.g. after a lost answer): KSeF's 440.
    let again = ksef
        .send(&to_send(
            "FV/2026/02/0001",
            common::xml("FV/2026/02/0001", InvoiceType::Zal),
        ))
        .await
        .unwrap();
    assert_ne!(again.invoice, first.invoice);
    assert_eq!(
        ksef.verdict(&again).await.unwrap(),
        KsefVerdict::Accepted {
            ksef_number: ksef_number.clone(),
            upo: None,
            duplicate: true
        }
    );

    // Same P_2 but another RodzajFaktury is another invoice for KSeF.
    let other_kind = ksef
        .send(&to_send(
            "FV/2026/02/0001",
            common::xml("FV/2026/02/0001", InvoiceType::Vat),
        ))
        .await
        .unwrap();
    let KsefVerdict::Accepted {
        ksef_number: other,
        duplicate: false,
        ..
    } = ksef.verdict(&other_kind).await.unwrap()
    else {
        panic!("a VAT invoice with the number of a ZAL one is not a duplicate");
    };
    assert_ne!(other, ksef_number);
    assert_eq!(ksef.registered().len(), 2);
    ksef.finish().await.unwrap();
}

#[tokio::test]
async fn xml_that_is_not_well_formed_is_rejected_with_the_reason() {
    let ksef = OfflineKsef::new();
    let mut xml = common::xml("FV/2026/02/0003", InvoiceType::Vat);
    xml.truncate(xml.len() - 5);
    let sent = ksef.send(&to_send("FV/2026/02/0003", xml)).await.unwrap();
    match ksef.verdict(&sent).await.unwrap() {
        KsefVerdict::Rejected { code: 430, reason } => {
            assert!(reason.contains("not well-formed"), "{reason}")
        }
        other => panic!("expected a 430 rejection, got {other:?}"),
    }
    assert!(ksef.registered().is_empty());
}

#[tokio::test]
async fn with_a_file_separate_runs_share_what_was_accepted() {
    let file = std::env::temp_dir().join(format!("offline-ksef-{}.json", uuid::Uuid::new_v4()));
    let xml = common::xml("FV/2026/02/0004", InvoiceType::Vat);
    let first_run = OfflineKsef::with_file(file.clone()).unwrap();
    let sent = first_run
        .send(&to_send("FV/2026/02/0004", xml.clone()))
        .await
        .unwrap();
    let original = match first_run.verdict(&sent).await.unwrap() {
        KsefVerdict::Accepted { ksef_number, .. } => ksef_number,
        other => panic!("expected Accepted, got {other:?}"),
    };
    drop(first_run);

    let second_run = OfflineKsef::with_file(file.clone()).unwrap();
    // The verdict on what the first run sent is still there, and so is the duplicate key.
    assert!(matches!(
        second_run.verdict(&sent).await.unwrap(),
        KsefVerdict::Accepted { ref ksef_number, duplicate: false, .. } if *ksef_number == original
    ));
    let again = second_run
        .send(&to_send("FV/2026/02/0004", xml))
        .await
        .unwrap();
    assert_eq!(
        second_run.verdict(&again).await.unwrap(),
        KsefVerdict::Accepted {
            ksef_number: original,
            upo: None,
            duplicate: true
        }
    );
    let _ = std::fs::remove_file(&file);
}
