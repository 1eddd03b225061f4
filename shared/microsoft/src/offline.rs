//! The stand-in for local runs without `PARTNER_CENTER_*`: every command succeeds and is
//! recorded (in memory, in the log, and as a JSON line in a file when given one), so the
//! demo shows what would have happened at Microsoft.

use async_trait::async_trait;
use renewals_app::ports::{Done, Microsoft, MicrosoftError, MicrosoftSubscription};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

#[derive(Default)]
pub struct OfflineMicrosoft {
    file: Option<PathBuf>,
    done: Mutex<Vec<String>>,
}

impl OfflineMicrosoft {
    /// Records into `file` (JSON lines) as well as in memory.
    pub fn new(file: Option<PathBuf>) -> OfflineMicrosoft {
        OfflineMicrosoft {
            file,
            done: Mutex::new(vec![]),
        }
    }

    /// What it would have done, one line each, in order.
    pub fn recorded(&self) -> Vec<String> {
        self.done.lock().expect("offline log").clone()
    }

    fn record(&self, customer: &str, id: &str, what: serde_json::Value) -> Done {
        let line = serde_json::json!({"customer": customer, "subscription": id, "change": what});
        tracing::info!(%line, "Microsoft (offline): would have changed the subscription");
        if let Some(path) = &self.file {
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| writeln!(f, "{line}"));
            if let Err(e) = written {
                tracing::warn!(error = %e, path = %path.display(), "offline Microsoft log not written");
            }
        }
        self.done
            .lock()
            .expect("offline log")
            .push(line.to_string());
        Done::Changed
    }
}

#[async_trait]
impl Microsoft for OfflineMicrosoft {
    async fn subscription(
        &self,
        _customer: &str,
        id: &str,
    ) -> Result<MicrosoftSubscription, MicrosoftError> {
        Err(MicrosoftError::NotFound(format!(
            "{id}: no Partner Center here (offline stand-in)"
        )))
    }

    async fn raise_quantity(
        &self,
        _correlation: &str,
        customer: &str,
        id: &str,
        to: u32,
    ) -> Result<Done, MicrosoftError> {
        Ok(self.record(customer, id, serde_json::json!({"quantity": to})))
    }

    async fn schedule_next_term(
        &self,
        _correlation: &str,
        customer: &str,
        id: &str,
        new_product: Option<&str>,
        seats: u32,
    ) -> Result<Done, MicrosoftError> {
        Ok(self.record(
            customer,
            id,
            serde_json::json!({"scheduledNextTermInstructions": {"product": new_product.unwrap_or("(current)"), "quantity": seats}}),
        ))
    }

    async fn set_auto_renew(
        &self,
        _correlation: &str,
        customer: &str,
        id: &str,
        enabled: bool,
    ) -> Result<Done, MicrosoftError> {
        Ok(self.record(
            customer,
            id,
            serde_json::json!({"autoRenewEnabled": enabled}),
        ))
    }

    async fn purchase(
        &self,
        _correlation: &str,
        customer: &str,
        like: &str,
        new_product: Option<&str>,
        seats: u32,
        tag: &str,
    ) -> Result<String, MicrosoftError> {
        let n = self.recorded().len() + 1;
        let id = format!("00000000-0000-4000-a000-{n:012}");
        self.record(
            customer,
            like,
            serde_json::json!({"purchase": {"product": new_product.unwrap_or("(same offer)"), "quantity": seats, "friendlyName": tag, "new_subscription": id}}),
        );
        Ok(id)
    }

    async fn cancel(
        &self,
        _correlation: &str,
        customer: &str,
        id: &str,
    ) -> Result<Done, MicrosoftError> {
        Ok(self.record(customer, id, serde_json::json!({"status": "deleted"})))
    }
}
