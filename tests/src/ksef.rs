//! A scripted KSeF for the suite: it answers `send` and `verdict` from a script (by default it
//! takes every invoice in and accepts it with a KSeF number), and records every invoice it
//! was handed, byte for byte, so tests compare it with what the store keeps. It stands in
//! for the port, not for KSeF's HTTP API: the outbox's rules are what is tested with it.

use async_trait::async_trait;
use renewals_app::ports::{InvoiceToSend, Ksef, KsefError, KsefVerdict, SentInvoice};
use std::collections::VecDeque;
use std::sync::Mutex;

#[derive(Default)]
pub struct ScriptedKsef {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// What `send` answers next (then: taken in).
    sends: VecDeque<Result<(), KsefError>>,
    /// What `verdict` answers next (then: accepted).
    verdicts: VecDeque<Result<KsefVerdict, KsefError>>,
    sent: Vec<InvoiceToSend>,
    verdict_calls: usize,
    finished: usize,
}

impl ScriptedKsef {
    pub fn new() -> ScriptedKsef {
        ScriptedKsef::default()
    }

    pub fn on_send(&self, answer: Result<(), KsefError>) -> &Self {
        self.state.lock().unwrap().sends.push_back(answer);
        self
    }

    pub fn on_verdict(&self, answer: Result<KsefVerdict, KsefError>) -> &Self {
        self.state.lock().unwrap().verdicts.push_back(answer);
        self
    }

    /// Every invoice handed to `send` (successfully or not), in order.
    pub fn sent(&self) -> Vec<InvoiceToSend> {
        self.state.lock().unwrap().sent.clone()
    }

    pub fn verdict_calls(&self) -> usize {
        self.state.lock().unwrap().verdict_calls
    }

    pub fn finished(&self) -> usize {
        self.state.lock().unwrap().finished
    }

    /// The KSeF number this stand-in gives our invoice `number`.
    pub fn ksef_number(number: &str) -> String {
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        format!("5260250274-20260223-{digits:0>12}-00")
    }
}

#[async_trait]
impl Ksef for ScriptedKsef {
    async fn send(&self, invoice: &InvoiceToSend) -> Result<SentInvoice, KsefError> {
        let mut state = self.state.lock().unwrap();
        state.sent.push(invoice.clone());
        state.sends.pop_front().unwrap_or(Ok(()))?;
        Ok(SentInvoice {
            session: "20260223-SO-0000000001-0000000001-01".into(),
            invoice: format!("EE-{}", invoice.number),
        })
    }

    async fn verdict(&self, sent: &SentInvoice) -> Result<KsefVerdict, KsefError> {
        let mut state = self.state.lock().unwrap();
        state.verdict_calls += 1;
        let number = sent.invoice.trim_start_matches("EE-").to_string();
        state.verdicts.pop_front().unwrap_or_else(|| {
            Ok(KsefVerdict::Accepted {
                ksef_number: ScriptedKsef::ksef_number(&number),
                upo: Some(format!("<Potwierdzenie>{number}</Potwierdzenie>").into_bytes()),
                duplicate: false,
            })
        })
    }

    async fn finish(&self) -> Result<(), KsefError> {
        self.state.lock().unwrap().finished += 1;
        Ok(())
    }
}
