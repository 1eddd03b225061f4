//! The KSeF client against the HTTP stand-in, with real FA(3) XML from the repository's
//! serializer: the whole flow with the calls counted per endpoint, the bytes KSeF decrypts,
//! 429 + Retry-After, a duplicate, an XSD failure, a wrong token, an expired access token,
//! an invoice still processing and a seller that is not the context.

mod common;

use renewals_app::ports::{InvoiceToSend, Ksef, KsefError, KsefVerdict, SentInvoice};
use renewals_invoices::InvoiceType;
use renewals_ksef::standin::KsefStandIn;
use renewals_ksef::{check_ksef_number, HttpKsef};
use std::time::Duration;

const CERTS: &str = "GET /security/public-key-certificates";
const CHALLENGE: &str = "POST /auth/challenge";
const KSEF_TOKEN: &str = "POST /auth/ksef-token";
const AUTH_STATUS: &str = "GET /auth/{referenceNumber}";
const REDEEM: &str = "POST /auth/token/redeem";
const REFRESH: &str = "POST /auth/token/refresh";
const OPEN: &str = "POST /sessions/online";
const SEND: &str = "POST /sessions/online/{ref}/invoices";
const STATUS: &str = "GET /sessions/{ref}/invoices/{invRef}";
const UPO: &str = "GET /sessions/{ref}/invoices/{invRef}/upo";
const CLOSE: &str = "POST /sessions/online/{ref}/close";

fn to_send(number: &str, kind: InvoiceType) -> InvoiceToSend {
    InvoiceToSend {
        number: number.into(),
        xml: common::xml(number, kind),
    }
}

async fn accepted(ksef: &HttpKsef, sent: &SentInvoice) -> (String, Option<Vec<u8>>, bool) {
    match ksef.verdict(sent).await.expect("a verdict") {
        KsefVerdict::Accepted {
            ksef_number,
            upo,
            duplicate,
        } => (ksef_number, upo, duplicate),
        other => panic!("expected Accepted, got {other:?}"),
    }
}

fn total(standin: &KsefStandIn) -> usize {
    standin.calls().len()
}

#[tokio::test]
async fn the_whole_flow_with_calls_counted() {
    let standin = KsefStandIn::start().await;
    standin.keep_authenticating(1);
    let ksef = HttpKsef::new(standin.settings()).unwrap();

    let first = to_send("FV/2026/02/0001", InvoiceType::Zal);
    let sent = ksef.send(&first).await.unwrap();
    assert_eq!(sent.session.len(), 36);
    assert!(sent.session.contains("-SO-") && sent.invoice.contains("-EE-"));
    // KSeF decrypted exactly the bytes handed to `send`.
    assert_eq!(standin.decrypted(&sent.invoice).unwrap(), first.xml);
    let (number, upo, duplicate) = accepted(&ksef, &sent).await;
    assert!(!duplicate);
    assert_eq!(check_ksef_number(&number), Ok(()));
    assert!(number.starts_with("5260250274-"));
    let upo = String::from_utf8(upo.expect("the UPO")).unwrap();
    assert!(upo.contains("http://upo.schematy.mf.gov.pl/KSeF/v4-3"));
    assert!(upo.contains(&format!(
        "<NumerKSeFDokumentu>{number}</NumerKSeFDokumentu>"
    )));

    // First invoice of a run: keys, challenge, token, status (100 then 200), redeem, open,
    // send, status, UPO.
    let counts = standin.counts();
    for (endpoint, n) in [
        (CERTS, 1),
        (CHALLENGE, 1),
        (KSEF_TOKEN, 1),
        (AUTH_STATUS, 2),
        (REDEEM, 1),
        (OPEN, 1),
        (SEND, 1),
        (STATUS, 1),
        (UPO, 1),
    ] {
        assert_eq!(counts.get(endpoint), Some(&n), "{endpoint}: {counts:?}");
    }
    let after_first = total(&standin);
    assert_eq!(after_first, 10);

    // Further invoices in the same session: send, status, UPO; no new auth or session.
    let mut numbers = vec![number];
    for n in 2..=3 {
        let invoice = to_send(&format!("FV/2026/02/000{n}"), InvoiceType::Vat);
        let sent_n = ksef.send(&invoice).await.unwrap();
        assert_eq!(sent_n.session, sent.session);
        assert_eq!(standin.decrypted(&sent_n.invoice).unwrap(), invoice.xml);
        let (number, upo, duplicate) = accepted(&ksef, &sent_n).await;
        assert!(!duplicate && upo.is_some());
        assert_eq!(check_ksef_number(&number), Ok(()));
        numbers.push(number);
    }
    assert_eq!(total(&standin), after_first + 2 * 3);
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 3);
    assert_eq!(standin.count(OPEN), 1);
    assert_eq!(standin.count(CHALLENGE), 1);

    // The end of the run closes the session once.
    assert_eq!(standin.session_open(&sent.session), Some(true));
    ksef.finish().await.unwrap();
    ksef.finish().await.unwrap();
    assert_eq!(standin.count(CLOSE), 1);
    assert_eq!(standin.session_open(&sent.session), Some(false));
    assert_eq!(standin.registered(), 3);

    // The next run opens a new session with the tokens it has.
    let next = ksef
        .send(&to_send("FV/2026/03/0001", InvoiceType::Vat))
        .await
        .unwrap();
    assert_ne!(next.session, sent.session);
    assert_eq!(standin.count(OPEN), 2);
    assert_eq!(standin.count(CHALLENGE), 1);
    assert!(
        standin.calls().iter().all(|c| c.status < 400),
        "{:?}",
        standin.calls()
    );
}

#[tokio::test]
async fn a_429_carries_retry_after_and_the_call_passes_after_it() {
    let standin = KsefStandIn::start().await;
    let ksef = HttpKsef::new(standin.settings()).unwrap();
    standin.throttle(SEND, 1, 1);
    let invoice = to_send("FV/2026/02/0001", InvoiceType::Vat);
    assert_eq!(
        ksef.send(&invoice).await,
        Err(KsefError::RateLimited { retry_after_s: 1 })
    );
    // Too early: still blocked.
    assert_eq!(
        ksef.send(&invoice).await,
        Err(KsefError::RateLimited { retry_after_s: 1 })
    );
    tokio::time::sleep(Duration::from_millis(1050)).await;
    let sent = ksef.send(&invoice).await.expect("passes after Retry-After");
    let (number, _, duplicate) = accepted(&ksef, &sent).await;
    assert!(!duplicate && check_ksef_number(&number).is_ok());
    let sends: Vec<u16> = standin
        .calls()
        .iter()
        .filter(|c| c.endpoint == SEND)
        .map(|c| c.status)
        .collect();
    assert_eq!(sends, vec![429, 429, 202]);
    // The session opened before the 429 was kept.
    assert_eq!(standin.count(OPEN), 1);
    assert_eq!(standin.registered(), 1);
}

#[tokio::test]
async fn a_duplicate_is_accepted_with_the_original_number() {
    let standin = KsefStandIn::start().await;
    let ksef = HttpKsef::new(standin.settings()).unwrap();
    let invoice = to_send("FV/2026/02/0007", InvoiceType::Zal);
    let first = ksef.send(&invoice).await.unwrap();
    let (original, _, _) = accepted(&ksef, &first).await;
    // Sent again, e.g. after an answer that never arrived.
    let again = ksef.send(&invoice).await.unwrap();
    assert_ne!(again.invoice, first.invoice);
    assert_eq!(
        ksef.verdict(&again).await.unwrap(),
        KsefVerdict::Accepted {
            ksef_number: original,
            upo: None,
            duplicate: true
        }
    );
    assert_eq!(standin.registered(), 1);
}

#[tokio::test]
async fn xml_failing_the_xsd_is_rejected_with_the_validators_reason() {
    let standin = KsefStandIn::start().await;
    let ksef = HttpKsef::new(standin.settings()).unwrap();
    let xml = String::from_utf8(common::xml("FV/2026/02/0009", InvoiceType::Vat)).unwrap();
    let broken = xml.replace(
        "<RodzajFaktury>VAT</RodzajFaktury>",
        "<RodzajFaktury>PROFORMA</RodzajFaktury>",
    );
    assert_ne!(broken, xml);
    let sent = ksef
        .send(&InvoiceToSend {
            number: "FV/2026/02/0009".into(),
            xml: broken.into_bytes(),
        })
        .await
        .unwrap();
    match ksef.verdict(&sent).await.unwrap() {
        KsefVerdict::Rejected { code: 430, reason } => {
            assert!(reason.contains("RodzajFaktury"), "{reason}");
            assert!(reason.contains("value must be one of"), "{reason}");
        }
        other => panic!("expected a 430 rejection, got {other:?}"),
    }
    assert_eq!(standin.count(UPO), 0);
    assert_eq!(standin.registered(), 0);
}

#[tokio::test]
async fn a_wrong_token_is_a_credentials_error() {
    let standin = KsefStandIn::start().await;
    let wrong = renewals_ksef::standin::TOKEN.replace("8a3f", "0000");
    let ksef = HttpKsef::new(standin.settings_with_token(&wrong)).unwrap();
    match ksef
        .send(&to_send("FV/2026/02/0001", InvoiceType::Vat))
        .await
    {
        Err(KsefError::Credentials(why)) => assert!(why.contains("450"), "{why}"),
        other => panic!("expected Credentials, got {other:?}"),
    }
    // A refused authentication is not tried again on its own.
    assert_eq!(standin.count(CHALLENGE), 1);
    assert_eq!(standin.count(REDEEM), 0);
    assert_eq!(standin.count(OPEN), 0);
    assert_eq!(standin.count(SEND), 0);
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_not_reauthenticated() {
    let standin = KsefStandIn::start().await;
    standin.set_access_lifetime(Duration::from_secs(3));
    let mut settings = standin.settings();
    // Use the token to its last second, so that it really lapses.
    settings.refresh_margin = Duration::ZERO;
    let ksef = HttpKsef::new(settings).unwrap();
    let sent = ksef
        .send(&to_send("FV/2026/02/0001", InvoiceType::Vat))
        .await
        .unwrap();
    accepted(&ksef, &sent).await;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let next = ksef
        .send(&to_send("FV/2026/02/0002", InvoiceType::Vat))
        .await
        .unwrap();
    accepted(&ksef, &next).await;
    assert!(standin.count(REFRESH) >= 1);
    assert_eq!(standin.count(CHALLENGE), 1);
    assert_eq!(standin.count(REDEEM), 1);
    assert!(
        standin.calls().iter().all(|c| c.status != 401),
        "{:?}",
        standin.calls()
    );
}

#[tokio::test]
async fn a_token_within_60_s_of_its_end_is_refreshed_before_use() {
    let standin = KsefStandIn::start().await;
    standin.set_access_lifetime(Duration::from_secs(50));
    // The default settings: refresh when less than 60 s are left.
    let ksef = HttpKsef::new(standin.settings()).unwrap();
    let sent = ksef
        .send(&to_send("FV/2026/02/0001", InvoiceType::Vat))
        .await
        .unwrap();
    assert_eq!(standin.count(REFRESH), 0);
    accepted(&ksef, &sent).await;
    // The verdict found the token with 50 s left: one refresh, then status and UPO with it.
    assert_eq!(standin.count(REFRESH), 1);
    assert_eq!(standin.count(REDEEM), 1);
}

#[tokio::test]
async fn an_invoice_still_processing_is_asked_again() {
    let standin = KsefStandIn::start().await;
    standin.keep_processing(2);
    let ksef = HttpKsef::new(standin.settings()).unwrap();
    let sent = ksef
        .send(&to_send("FV/2026/02/0001", InvoiceType::Vat))
        .await
        .unwrap();
    assert_eq!(ksef.verdict(&sent).await.unwrap(), KsefVerdict::Processing);
    assert_eq!(ksef.verdict(&sent).await.unwrap(), KsefVerdict::Processing);
    let (number, upo, _) = accepted(&ksef, &sent).await;
    assert!(check_ksef_number(&number).is_ok() && upo.is_some());
    assert_eq!(standin.count(STATUS), 3);
    assert_eq!(standin.count(UPO), 1);
}

#[tokio::test]
async fn an_invoice_of_another_seller_is_rejected() {
    let standin = KsefStandIn::start().await;
    let ksef = HttpKsef::new(standin.settings()).unwrap();
    let mut invoice = common::invoice("FV/2026/02/0001", InvoiceType::Vat);
    invoice.seller.nip = "7740001454".into();
    let sent = ksef
        .send(&InvoiceToSend {
            number: "FV/2026/02/0001".into(),
            xml: renewals_invoices::fa3::serialize(&invoice).into_bytes(),
        })
        .await
        .unwrap();
    match ksef.verdict(&sent).await.unwrap() {
        KsefVerdict::Rejected { code: 410, reason } => {
            assert!(reason.contains("7740001454"), "{reason}")
        }
        other => panic!("expected a 410 rejection, got {other:?}"),
    }
}

/// KSeF holds `P_1` against the day it takes the invoice (API.md §5): the same day is
/// online, an earlier day offline, a later day refused (450). The status says which.
#[tokio::test]
async fn p_1_is_held_against_the_day_of_acceptance() {
    let standin = KsefStandIn::start().await;
    let ksef = HttpKsef::new(standin.settings()).unwrap();
    let mut modes = vec![];
    for (n, day) in ["2026-02-24", "2026-02-23", "2026-02-25"]
        .iter()
        .enumerate()
    {
        standin.set_day(chrono::NaiveDate::from_ymd_opt(2026, 2, 24).unwrap());
        let number = format!("FV/2026/02/{:04}", n + 1);
        let mut invoice = common::invoice(&number, InvoiceType::Vat);
        invoice.issue_date = day.parse().unwrap();
        let sent = ksef
            .send(&InvoiceToSend {
                number,
                xml: renewals_invoices::fa3::serialize(&invoice).into_bytes(),
            })
            .await
            .unwrap();
        let verdict = ksef.verdict(&sent).await.unwrap();
        modes.push((
            matches!(verdict, KsefVerdict::Accepted { .. }),
            matches!(verdict, KsefVerdict::Rejected { code: 450, .. }),
            standin.invoicing_mode(&sent.invoice),
        ));
        if let KsefVerdict::Accepted { ksef_number, .. } = verdict {
            assert!(
                ksef_number.contains("-20260224-"),
                "KSeF's day: {ksef_number}"
            );
        }
    }
    assert_eq!(
        modes,
        vec![
            (true, false, Some("Online")),
            (true, false, Some("Offline")),
            (false, true, Some("Online")),
        ]
    );
}

fn statuses(standin: &KsefStandIn, endpoint: &str) -> Vec<u16> {
    standin
        .calls()
        .iter()
        .filter(|c| c.endpoint == endpoint)
        .map(|c| c.status)
        .collect()
}

#[tokio::test]
async fn replaced_keys_are_fetched_again_after_21470() {
    let standin = KsefStandIn::start().await;
    let ksef = HttpKsef::new(standin.settings()).unwrap();
    let sent = ksef
        .send(&to_send("FV/2026/02/0001", InvoiceType::Vat))
        .await
        .unwrap();
    accepted(&ksef, &sent).await;
    ksef.finish().await.unwrap();

    // MF replaces its keys between two runs; the client still holds the old publicKeyId.
    standin.rotate_keys();
    let invoice = to_send("FV/2026/02/0002", InvoiceType::Vat);
    let next = ksef.send(&invoice).await.unwrap();
    assert_eq!(standin.decrypted(&next.invoice).unwrap(), invoice.xml);
    accepted(&ksef, &next).await;
    assert_eq!(statuses(&standin, OPEN), vec![201, 400, 201]);
    assert_eq!(standin.count(CERTS), 2);

    // A new client picks the key valid now (the old one is listed as lapsed) at once.
    let fresh = HttpKsef::new(standin.settings()).unwrap();
    let third = fresh
        .send(&to_send("FV/2026/02/0003", InvoiceType::Vat))
        .await
        .unwrap();
    accepted(&fresh, &third).await;
    assert_eq!(statuses(&standin, KSEF_TOKEN), vec![202, 202]);
    assert_eq!(statuses(&standin, OPEN), vec![201, 400, 201, 201]);
}

#[tokio::test]
async fn a_5xx_is_unavailable_and_retryable() {
    let standin = KsefStandIn::start().await;
    let ksef = HttpKsef::new(standin.settings()).unwrap();
    let sent = ksef
        .send(&to_send("FV/2026/02/0001", InvoiceType::Vat))
        .await
        .unwrap();
    standin.fail(STATUS, 1);
    match ksef.verdict(&sent).await {
        Err(e @ KsefError::Unavailable(_)) => assert!(e.is_retryable()),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    accepted(&ksef, &sent).await;
    assert_eq!(statuses(&standin, STATUS), vec![503, 200]);
}

/// Talks to the stand-in by hand, as KSeF's documentation describes: keys, challenge,
/// encrypted token, status. Returns the key certificate entry and the authentication token.
async fn authenticate_by_hand(
    standin: &KsefStandIn,
    http: &reqwest::Client,
) -> (serde_json::Value, String) {
    use renewals_ksef::crypto::{b64, public_key_of, rsa_oaep, unb64};
    use serde_json::{json, Value};
    let url = |p: &str| format!("{}{p}", standin.base_url);
    let certs: Value = http
        .get(url("/security/public-key-certificates"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cert = certs[0].clone();
    let (key, _) = public_key_of(&unb64(cert["certificate"].as_str().unwrap()).unwrap()).unwrap();
    let challenge: Value = http
        .post(url("/auth/challenge"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let plain = format!(
        "{}|{}",
        renewals_ksef::standin::TOKEN,
        challenge["timestampMs"]
    );
    let init: Value = http
        .post(url("/auth/ksef-token"))
        .json(&json!({
            "challenge": challenge["challenge"],
            "contextIdentifier": {"type": "Nip", "value": renewals_ksef::standin::NIP},
            "encryptedToken": b64(&rsa_oaep(&key, plain.as_bytes()).unwrap()),
            "publicKeyId": cert["publicKeyId"],
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let auth = init["authenticationToken"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let status: Value = http
        .get(url(&format!(
            "/auth/{}",
            init["referenceNumber"].as_str().unwrap()
        )))
        .bearer_auth(&auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"]["code"], 200);
    (cert, auth)
}

fn exception_code(body: &serde_json::Value) -> serde_json::Value {
    body["exception"]["exceptionDetailList"][0]["exceptionCode"].clone()
}

/// The stand-in itself: an authentication is redeemed once; the second redeem is 21301.
#[tokio::test]
async fn the_standin_redeems_an_authentication_once() {
    let standin = KsefStandIn::start().await;
    let http = reqwest::Client::new();
    let (_, auth) = authenticate_by_hand(&standin, &http).await;
    let redeem = || {
        http.post(format!("{}/auth/token/redeem", standin.base_url))
            .bearer_auth(&auth)
            .send()
    };
    assert_eq!(redeem().await.unwrap().status(), 200);
    let second = redeem().await.unwrap();
    assert_eq!(second.status(), 400);
    let body: serde_json::Value = second.json().await.unwrap();
    assert_eq!(exception_code(&body), 21301);
}

/// The stand-in itself: an invoice whose declared hash or size does not match what it
/// decrypts is refused (21403, 21402), so the byte-for-byte check above has teeth.
#[tokio::test]
async fn the_standin_checks_hashes_and_sizes() {
    use renewals_ksef::crypto::{aes_encrypt, b64, public_key_of, rsa_oaep, sha256_b64, unb64};
    use serde_json::{json, Value};
    let standin = KsefStandIn::start().await;
    let http = reqwest::Client::new();
    let (cert, auth) = authenticate_by_hand(&standin, &http).await;
    let url = |p: &str| format!("{}{p}", standin.base_url);
    let tokens: Value = http
        .post(url("/auth/token/redeem"))
        .bearer_auth(&auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["accessToken"]["token"].as_str().unwrap().to_string();
    let (rsa, _) = public_key_of(&unb64(cert["certificate"].as_str().unwrap()).unwrap()).unwrap();
    let (key, iv) = ([0x42u8; 32], [0x24u8; 16]);
    let opened = http
        .post(url("/sessions/online"))
        .bearer_auth(&access)
        .json(&json!({
            "formCode": {"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"},
            "encryption": {"encryptedSymmetricKey": b64(&rsa_oaep(&rsa, &key).unwrap()),
                "initializationVector": b64(&iv), "publicKeyId": cert["publicKeyId"]},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 201);
    let session: Value = opened.json().await.unwrap();
    let path = url(&format!(
        "/sessions/online/{}/invoices",
        session["referenceNumber"].as_str().unwrap()
    ));
    let xml = common::xml("FV/2026/02/0001", InvoiceType::Vat);
    let other = common::xml("FV/2026/02/0002", InvoiceType::Vat);
    let c = aes_encrypt(&key, &iv, &xml);
    let body = |hash: String, size: usize, c_hash: String, c_size: usize| {
        json!({"invoiceHash": hash, "invoiceSize": size, "encryptedInvoiceHash": c_hash,
            "encryptedInvoiceSize": c_size, "encryptedInvoiceContent": b64(&c), "offlineMode": false})
    };
    for (request, code) in [
        (
            body(sha256_b64(&other), xml.len(), sha256_b64(&c), c.len()),
            21403,
        ),
        (
            body(sha256_b64(&xml), xml.len() + 1, sha256_b64(&c), c.len()),
            21402,
        ),
        (
            body(sha256_b64(&xml), xml.len(), sha256_b64(&xml), c.len()),
            21403,
        ),
        (
            body(sha256_b64(&xml), xml.len(), sha256_b64(&c), c.len() - 16),
            21402,
        ),
    ] {
        let reply = http
            .post(&path)
            .bearer_auth(&access)
            .json(&request)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 400);
        let err: Value = reply.json().await.unwrap();
        assert_eq!(exception_code(&err), code, "{err}");
    }
    let good = http
        .post(&path)
        .bearer_auth(&access)
        .json(&body(sha256_b64(&xml), xml.len(), sha256_b64(&c), c.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 202);
    assert_eq!(standin.registered(), 1);
}
