//! Bank import: a statement uploaded to the statements bucket is imported (S3 event).

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use renewals_lambda::bank_import::{bank_import, S3Event};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (function, s3) = renewals_lambda::cold_start_s3().await?;
    run(service_fn(|e: LambdaEvent<S3Event>| {
        let (function, s3) = (function.clone(), s3.clone());
        async move {
            bank_import(&function.svc, &s3, e.payload)
                .await
                .map_err(Error::from)
        }
    }))
    .await
}
