//! The daily job's worker: batches of due tenants from the SQS work queue, each tenant as the
//! single-process run does it; only messages worth a retry are reported back.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use renewals_lambda::fanout::{work, WorkerState};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let function = renewals_lambda::cold_start_worker().await?;
    let state = Arc::new(WorkerState::default());
    run(service_fn(|e: LambdaEvent<SqsEvent>| {
        let (function, state) = (function.clone(), state.clone());
        async move {
            Ok::<_, Error>(work(&function.svc, &state, e.payload, Some(e.context.deadline)).await)
        }
    }))
    .await
}
