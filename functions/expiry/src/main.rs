//! Expiry: suspends tenants that did not pay by the end of grace; expires unpaid orders. EventBridge Scheduler.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use renewals_domain::Job;
use renewals_lambda::handlers::{scheduled, ScheduledEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let function = renewals_lambda::cold_start(false).await?;
    run(service_fn(|e: LambdaEvent<ScheduledEvent>| {
        let function = function.clone();
        async move {
            scheduled(
                &function.svc,
                Job::Expiry,
                e.payload,
                Some(e.context.deadline),
            )
            .await
            .map_err(Error::from)
        }
    }))
    .await
}
