//! The Przelewy24 payment webhook behind a Lambda Function URL.

use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let function = renewals_lambda::cold_start(true).await?;
    let p24 = function
        .p24
        .clone()
        .ok_or("the webhook needs the Przelewy24 settings")?;
    run(service_fn(|request: Request| {
        let (function, p24) = (function.clone(), p24.clone());
        async move {
            Ok::<_, Error>(renewals_lambda::handlers::webhook(&function.svc, &p24, request).await)
        }
    }))
    .await
}
