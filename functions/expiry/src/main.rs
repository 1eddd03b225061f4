//! Expiry: suspends tenants that did not pay by the end of grace; expires unpaid orders.
//! EventBridge Scheduler. With a work queue (`RENEWALS_WORK_QUEUE_URL`) it plans and
//! `daily-worker` does the work, as for the daily run.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use renewals_domain::Job;
use renewals_lambda::fanout::plan_scheduled;
use renewals_lambda::handlers::{scheduled, ScheduledEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (function, queue) = renewals_lambda::cold_start_planner(false).await?;
    run(service_fn(|e: LambdaEvent<ScheduledEvent>| {
        let (function, queue) = (function.clone(), queue.clone());
        async move {
            let deadline = Some(e.context.deadline);
            match queue {
                Some(queue) => {
                    plan_scheduled(
                        &function.svc,
                        queue.as_ref(),
                        Job::Expiry,
                        e.payload,
                        deadline,
                    )
                    .await
                }
                None => scheduled(&function.svc, Job::Expiry, e.payload, deadline).await,
            }
            .map_err(Error::from)
        }
    }))
    .await
}
