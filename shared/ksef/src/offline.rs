//! The stand-in for local runs without `KSEF_*` (the demo): every well-formed invoice is
//! accepted at once with a valid KSeF number and a small UPO; what it accepted stays in memory
//! (and in a JSON file when given one, so that separate runs of the CLI share it), so a second
//! invoice with the same `(seller NIP, RodzajFaktury, P_2)` is a duplicate (440) and gets the
//! original number, as in KSeF.

use crate::fields::invoice_fields;
use crate::number::ksef_number;
use crate::reference::{reference, today_in_poland};
use async_trait::async_trait;
use rand::Rng;
use renewals_app::ports::{InvoiceToSend, Ksef, KsefError, KsefVerdict, SentInvoice};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

#[derive(Default)]
pub struct OfflineKsef {
    file: Option<PathBuf>,
    state: Mutex<State>,
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    #[serde(skip)]
    session: Option<String>,
    /// Invoice reference → what KSeF decided.
    verdicts: BTreeMap<String, Outcome>,
    /// `nip|kind|number` → the invoice accepted first under that key.
    registered: BTreeMap<String, Registered>,
}

#[derive(Clone, Serialize, Deserialize)]
enum Outcome {
    Accepted { key: String },
    Duplicate { key: String },
    Rejected { code: u16, reason: String },
}

/// An accepted invoice, as the offline stand-in keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    pub seller_nip: String,
    pub kind: String,
    pub number: String,
    pub ksef_number: String,
}

impl OfflineKsef {
    /// Keeps what it accepted in memory only.
    pub fn new() -> OfflineKsef {
        OfflineKsef::default()
    }

    /// Keeps what it accepted in `file` too (JSON), starting from what is already there.
    pub fn with_file(file: PathBuf) -> std::io::Result<OfflineKsef> {
        let state = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: not the offline KSeF's state: {e}", file.display()),
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(e),
        };
        Ok(OfflineKsef {
            file: Some(file),
            state: Mutex::new(state),
        })
    }

    /// The invoices it accepted (not counting duplicates), ordered by our number.
    pub fn registered(&self) -> Vec<Registered> {
        let state = self.state.lock().expect("offline KSeF state");
        let mut all: Vec<Registered> = state.registered.values().cloned().collect();
        all.sort_by(|a, b| a.number.cmp(&b.number));
        all
    }

    fn save(&self, state: &State) {
        let Some(path) = &self.file else { return };
        let written = serde_json::to_vec_pretty(state)
            .map_err(std::io::Error::other)
            .and_then(|json| std::fs::write(path, json));
        if let Err(e) = written {
            tracing::warn!(error = %e, path = %path.display(), "offline KSeF state not written");
        }
    }
}

/// A small UPO in KSeF's namespace (not signed: nobody checks it offline).
fn upo(r: &Registered) -> Vec<u8> {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Potwierdzenie xmlns=\"http://upo.schematy.mf.gov.pl/KSeF/v4-3\"><NazwaPodmiotuPrzyjmujacego>Stand-in KSeF (offline, nic nie wysłano do Ministerstwa Finansów)</NazwaPodmiotuPrzyjmujacego><Dokument><NipSprzedawcy>{}</NipSprzedawcy><NumerKSeFDokumentu>{}</NumerKSeFDokumentu><NumerFaktury>{}</NumerFaktury></Dokument></Potwierdzenie>\n",
        esc(&r.seller_nip),
        esc(&r.ksef_number),
        esc(&r.number)
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
        let outcome = match invoice_fields(&invoice.xml) {
            Err(reason) => Outcome::Rejected { code: 430, reason },
            Ok(f) => {
                let key = format!("{}|{}|{}", f.seller_nip, f.kind, f.number);
                if state.registered.contains_key(&key) {
                    Outcome::Duplicate { key }
                } else {
                    let ksef = ksef_number(&f.seller_nip, day, rand::thread_rng().gen::<u64>());
                    tracing::info!(number = %f.number, ksef_number = %ksef, "KSeF (offline): invoice accepted");
                    state.registered.insert(
                        key.clone(),
                        Registered {
                            seller_nip: f.seller_nip,
                            kind: f.kind,
                            number: f.number,
                            ksef_number: ksef,
                        },
                    );
                    Outcome::Accepted { key }
                }
            }
        };
        state.verdicts.insert(invoice_ref.clone(), outcome);
        self.save(&state);
        Ok(SentInvoice {
            session,
            invoice: invoice_ref,
        })
    }

    async fn verdict(&self, sent: &SentInvoice) -> Result<KsefVerdict, KsefError> {
        let state = self.state.lock().expect("offline KSeF state");
        let not_found = || KsefError::Refused {
            status: 400,
            code: "21178".into(),
            description: format!(
                "{}: no such invoice in this offline KSeF (it knows only what it was sent)",
                sent.invoice
            ),
        };
        let outcome = state.verdicts.get(&sent.invoice).ok_or_else(not_found)?;
        Ok(match outcome {
            Outcome::Rejected { code, reason } => KsefVerdict::Rejected {
                code: *code,
                reason: reason.clone(),
            },
            Outcome::Accepted { key } | Outcome::Duplicate { key } => {
                let r = state.registered.get(key).ok_or_else(not_found)?;
                let duplicate = matches!(outcome, Outcome::Duplicate { .. });
                KsefVerdict::Accepted {
                    ksef_number: r.ksef_number.clone(),
                    upo: (!duplicate).then(|| upo(r)),
                    duplicate,
                }
            }
        })
    }

    async fn finish(&self) -> Result<(), KsefError> {
        self.state.lock().expect("offline KSeF state").session = None;
        Ok(())
    }
}
