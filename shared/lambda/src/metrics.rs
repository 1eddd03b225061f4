//! One CloudWatch Embedded Metric Format line per run: CloudWatch turns it into metrics
//! without an API call from the function.

use renewals_app::jobs::RunSummary;
use serde_json::{json, Map, Value};

pub fn emf_line(function: &str, summary: &RunSummary, timestamp_ms: i64) -> String {
    let values = [
        ("TenantsDue", summary.tenants_due),
        ("ProformasIssued", summary.proformas_issued),
        ("RemindersSent", summary.reminders_sent),
        ("Overdue", summary.overdue),
        ("Suspended", summary.suspended),
        ("EmailsSent", summary.emails_sent),
        ("EmailsFailed", summary.emails_failed),
        ("EmailsParked", summary.emails_parked),
        ("SuspensionsHeld", summary.suspensions_held),
        ("MicrosoftDone", summary.microsoft_done),
        ("MicrosoftParked", summary.microsoft_parked),
        ("MicrosoftUrgent", summary.microsoft_urgent),
        ("MicrosoftDrift", summary.microsoft_drift),
        ("InvoicesSent", summary.invoices_sent),
        ("InvoicesAccepted", summary.invoices_accepted),
        ("InvoicesRejected", summary.invoices_rejected),
        ("InvoicesParked", summary.invoices_parked),
        ("InvoicesLate", summary.invoices_late),
        ("TenantFailures", summary.failures.len()),
    ];
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": "Renewals",
                "Dimensions": [["Function"]],
                "Metrics": values.iter().map(|(n, _)| json!({"Name": n, "Unit": "Count"})).collect::<Vec<_>>(),
            }],
        }),
    );
    line.insert("Function".into(), Value::from(function));
    for (name, v) in values {
        line.insert(name.into(), Value::from(v));
    }
    line.insert("StoppedEarly".into(), Value::from(summary.stopped_early));
    Value::Object(line).to_string()
}
