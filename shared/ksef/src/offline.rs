//! The stand-in for local runs without `KSEF_*` (the demo): every well-formed invoice is
//! accepted at once with a valid KSeF number and a small UPO; what it accepted stays in memory,
//! so a second invoice with the same `(seller NIP, RodzajFaktury, P_2)` is a duplicate (440)
//! and gets the original number, as in KSeF.

use crate::fields::invoice_fields;
use crate::number::ksef_number;
use crate::reference::{reference, today_in_poland};
use async_trait::async_trait;
use rand::Rng;
use renewals_app::ports::{InvoiceToSend, Ksef, KsefError, KsefVerdict, SentInvoice};
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct OfflineKsef {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    session: Option<String>,
    /// Invoice reference → the verdict it will get.
    verdicts: HashMap<String, KsefVerdict>,
    /// Duplicate key → KSeF number of the invoice accepted first.
    registered: HashMap<(String, String, String), String>,
}

/// An accepted invoice, as the offline stand-in keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registered {
    pub seller_nip: String,
    pub kind: String,
    pub number: String,
    pub ksef_number: String,
}

impl OfflineKsef {
    pub fn new() -> OfflineKsef {
        OfflineKsef::default()
    }

    /// The invoices it accepted (not counting duplicates), ordered by our number.
    pub fn registered(&self) -> Vec<Registered> {
        let state = self.state.lock().expect("offline KSeF state");
        let mut all: Vec<Registered> = state
            .registered
            .iter()
            .map(|((nip, kind, number), ksef)| Registered {
                seller_nip: nip.clone(),
                kind: kind.clone(),
                number: number.clone(),
                ksef_number: ksef.clone(),
            })
            .collect();
        all.sort_by(|a, b| a.number.cmp(&b.number));
        all
    }
}

/// A small UPO in KSeF's namespace (not signed: nobody checks it offline).
fn upo(ksef: &str, number: &str, nip: &str) -> Vec<u8> {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Potwierdzenie xmlns=\"http://upo.schematy.mf.gov.pl/KSeF/v4-3\"><NazwaPodmiotuPrzyjmujacego>Stand-in KSeF (offline, nic nie wysłano do Ministerstwa Finansów)</NazwaPodmiotuPrzyjmujacego><Dokument><NipSprzedawcy>{}</NipSprzedawcy><NumerKSeFDokumentu>{}</NumerKSeFDokumentu><NumerFaktury>{}</NumerFaktury></Dokument></Potwierdzenie>\n",
        esc(nip),
        esc(ksef),
        esc(number)
    )
    .into_bytes()
}

#[async_trait]
impl Ksef for OfflineKsef {
    async fn send(&self, invoice: &InvoiceToSend) -> Result<SentInvoice, KsefError> {
        let day = today_in_poland();
        let mut state = self.state.lock().expect("offline KSeF state");
        let session = state
            .session
            .get_or_insert_with(|| reference("SO", day))
            .clone();
        let invoice_ref = reference("EE", day);
        let verdict = match invoice_fields(&invoice.xml) {
            Err(reason) => KsefVerdict::Rejected { code: 430, reason },
            Ok(fields) => match state.registered.get(&fields.duplicate_key()) {
                Some(original) => KsefVerdict::Accepted {
                    ksef_number: original.clone(),
                    upo: None,
                    duplicate: true,
                },
                None => {
                    let ksef =
                        ksef_number(&fields.seller_nip, day, rand::thread_rng().gen::<u64>());
                    state
                        .registered
                        .insert(fields.duplicate_key(), ksef.clone());
                    tracing::info!(number = %fields.number, ksef_number = %ksef, "KSeF (offline): invoice accepted");
                    KsefVerdict::Accepted {
                        upo: Some(upo(&ksef, &fields.number, &fields.seller_nip)),
                        ksef_number: ksef,
                        duplicate: false,
                    }
                }
            },
        };
        state.verdicts.insert(invoice_ref.clone(), verdict);
        Ok(SentInvoice {
            session,
            invoice: invoice_ref,
        })
    }

    async fn verdict(&self, sent: &SentInvoice) -> Result<KsefVerdict, KsefError> {
        let state = self.state.lock().expect("offline KSeF state");
        state
            .verdicts
            .get(&sent.invoice)
            .cloned()
            .ok_or_else(|| KsefError::Refused {
                status: 404,
                code: "21178".into(),
                description: format!(
                    "{}: no such invoice in this (offline) KSeF; it keeps only what this process sent",
                    sent.invoice
                ),
            })
    }

    async fn finish(&self) -> Result<(), KsefError> {
        self.state.lock().expect("offline KSeF state").session = None;
        Ok(())
    }
}
