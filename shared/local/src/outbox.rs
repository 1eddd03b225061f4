//! Delivers outbox messages as `.eml` files: the local stand-in for SES.

use async_trait::async_trait;
use renewals_app::ports::{MailError, Mailer, OutboxMessage};
use std::path::PathBuf;

pub struct OutboxMailer {
    dir: PathBuf,
}

impl OutboxMailer {
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<OutboxMailer> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(OutboxMailer { dir })
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, id: i64, message: &OutboxMessage, mime: &[u8]) -> Result<(), MailError> {
        // Written under a temporary name and renamed, so a crash never leaves half a message;
        // a retry after a crash rewrites the same file.
        let name = format!("{id:07}-{}-{}.eml", message.tenant, message.kind);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, mime)
            .and_then(|()| std::fs::rename(&tmp, self.dir.join(&name)))
            .map_err(|e| MailError::Temporary(format!("writing {name}: {e}")))
    }
}
