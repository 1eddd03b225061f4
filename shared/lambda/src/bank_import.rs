//! The `bank-import` function: a statement file uploaded to the statements bucket (by the
//! bank's delivery, an SFTP transfer or a person) is imported, once per content.

use renewals_app::service::Service;
use renewals_bank::{FileError, FileImport};
use serde::{Deserialize, Serialize};

/// The part of an S3 event notification the import reads (`s3:ObjectCreated:*`).
#[derive(Debug, Default, Deserialize)]
pub struct S3Event {
    #[serde(rename = "Records", default)]
    pub records: Vec<S3Record>,
}

#[derive(Debug, Deserialize)]
pub struct S3Record {
    #[serde(rename = "eventName", default)]
    pub event_name: String,
    pub s3: S3Entity,
}

#[derive(Debug, Deserialize)]
pub struct S3Entity {
    pub bucket: S3Bucket,
    pub object: S3Object,
}

#[derive(Debug, Deserialize)]
pub struct S3Bucket {
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct S3Object {
    /// URL-encoded as S3 sends it (`+` for a space).
    pub key: String,
    #[serde(default)]
    pub size: Option<u64>,
}

/// Statements are small; anything larger is not one.
pub const MAX_STATEMENT_BYTES: u64 = 20 * 1024 * 1024;

/// What the import did with each object of the event.
#[derive(Debug, Default, Serialize)]
pub struct BankImportSummary {
    pub imported: Vec<FileImport>,
    /// Objects that are not statements (or too large), with why: left for a person.
    pub refused: Vec<String>,
}

/// Imports every object the event names. A file that is not a statement is refused (logged,
/// left in the bucket) without failing the invocation: a retry would refuse it again. A store
/// or bucket that did not answer fails it, so Lambda retries (importing is idempotent).
pub async fn bank_import(
    svc: &Service,
    s3: &aws_sdk_s3::Client,
    event: S3Event,
) -> anyhow::Result<BankImportSummary> {
    let mut summary = BankImportSummary::default();
    for record in event.records {
        if !record.event_name.is_empty() && !record.event_name.starts_with("ObjectCreated") {
            continue;
        }
        let bucket = record.s3.bucket.name;
        let key = object_key(&record.s3.object.key);
        let name = format!("s3://{bucket}/{key}");
        if record.s3.object.size.unwrap_or(0) > MAX_STATEMENT_BYTES {
            tracing::error!(file = %name, "too large for a statement; not imported");
            summary.refused.push(format!(
                "{name}: larger than {MAX_STATEMENT_BYTES} bytes, not a statement"
            ));
            continue;
        }
        let object = s3
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context(format!("reading {name}")))?;
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| anyhow::Error::new(e).context(format!("reading {name}")))?
            .into_bytes();
        match renewals_bank::import_file(svc, &name, &bytes, None).await {
            Ok(done) => {
                if let FileImport::Imported { report, .. } = &done {
                    tracing::info!(file = %name, credits = report.credits,
                        matched = report.matched.len(), review = report.unmatched.len(),
                        already_recorded = report.already_recorded, "statement imported");
                } else {
                    tracing::info!(file = %name, "statement already imported");
                }
                summary.imported.push(done);
            }
            Err(e @ FileError::Refused { .. }) => {
                tracing::error!(error = %e, "not a statement; not imported");
                summary.refused.push(e.to_string());
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(summary)
}

/// An S3 event's object key decoded: `+` is a space, `%XX` a byte (UTF-8).
pub fn object_key(encoded: &str) -> String {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() && encoded.is_char_boundary(i + 3) => {
                match u8::from_str_radix(&encoded[i + 1..i + 3], 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::object_key;

    #[test]
    fn object_keys_are_decoded_as_s3_encodes_them() {
        assert_eq!(
            object_key("wyciagi/2026-02+PKO.sta"),
            "wyciagi/2026-02 PKO.sta"
        );
        assert_eq!(object_key("wyci%C4%85g%2B1.xml"), "wyciąg+1.xml");
        assert_eq!(object_key("50%"), "50%");
        assert_eq!(object_key("a%zz"), "a%zz");
    }
}
