//! The data directory: the file store (`leash-store`) in `--home`, `$LEASH_HOME` or `~/.leash`, and the
//! words for its errors.

use crate::failure::{Failure, Result};
use leash_store::FileStore;
use std::path::PathBuf;

/// The command line keeps its records in the file store.
pub(crate) type Home = FileStore;

/// `--home`, else `$LEASH_HOME` (read by clap into the flag), else `~/.leash`.
pub(crate) fn locate(flag: Option<PathBuf>) -> Result<Home> {
    if let Some(root) = flag {
        return Ok(FileStore::new(root));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| Failure::bad_input("no home directory: set HOME, LEASH_HOME or --home"))?;
    Ok(FileStore::new(PathBuf::from(home).join(".leash")))
}

/// Appends to the audit log. A command that did its work does not fail because the log could not be written;
/// the log's failure is reported on standard error instead.
pub(crate) async fn audit(home: &Home, action: &str, subject: &str, detail: serde_json::Value) {
    if let Err(e) = leash_store::audit(home, action, subject, detail).await {
        eprintln!("warning: the audit log was not written: {e}");
    }
}
