//! The Przelewy24 payment webhook behind a Lambda Function URL.

use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let svc = renewals_lambda::cold_start(true).await?;
    run(service_fn(|request: Request| {
        let svc = svc.clone();
        async move { Ok::<_, Error>(renewals_lambda::handlers::webhook(&svc, request).await) }
    }))
    .await
}
