//! Statement files as a bank delivers them (a folder a cron job reads, an S3 bucket): each
//! file is imported once, known by the SHA-256 of its content, whatever its name.

use crate::{parse_statement, Encoding, StatementError};
use renewals_app::error::ServiceError;
use renewals_app::service::Service;
use renewals_app::transfers::ImportReport;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The store's note for a file with this content: `file:{sha256 hex}`.
pub fn content_key(bytes: &[u8]) -> String {
    format!("file:{}", hex::encode(Sha256::digest(bytes)))
}

/// What importing one file did.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum FileImport {
    /// Read and imported now.
    Imported { file: String, report: ImportReport },
    /// The same content was imported before (under the name given then): nothing done.
    AlreadyImported { file: String, earlier: String },
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Not a statement we can read: refused, not recorded (a corrected file is new content).
    #[error("{file}: {error}")]
    Refused { file: String, error: StatementError },
    #[error("{file}: {error}")]
    Service { file: String, error: ServiceError },
}

/// Imports a statement file unless a file with the same content was imported already. The
/// file is noted as imported after its credits are: an import cut short is repeated by the
/// next run, and the credits' own keys make the repetition change nothing.
pub async fn import_file(
    svc: &Service,
    name: &str,
    bytes: &[u8],
    encoding: Option<Encoding>,
) -> Result<FileImport, FileError> {
    let key = content_key(bytes);
    let service = |error: ServiceError| FileError::Service {
        file: name.to_string(),
        error,
    };
    let store = |e| service(ServiceError::from(e));
    if let Some(earlier) = svc.store.bank_note(&key).await.map_err(store)? {
        return Ok(FileImport::AlreadyImported {
            file: name.to_string(),
            earlier,
        });
    }
    let credits = parse_statement(bytes, encoding).map_err(|error| FileError::Refused {
        file: name.to_string(),
        error,
    })?;
    let report = svc.import_statement(&credits).await.map_err(service)?;
    svc.store.add_bank_note(&key, name).await.map_err(store)?;
    Ok(FileImport::Imported {
        file: name.to_string(),
        report,
    })
}
