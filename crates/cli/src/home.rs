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

/// Warns on standard error when a key file, or the directory holding it, is open to other users: the key is
/// encrypted, but its file should be the owner's alone (mode 0600, directory 0700) so that nobody else can copy it
/// to guess its password offline.
pub(crate) fn warn_if_exposed(key_file: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let open_to_others = |path: &std::path::Path| {
            std::fs::metadata(path)
                .ok()
                .map(|m| m.permissions().mode() & 0o777)
                .filter(|mode| mode & 0o077 != 0)
        };
        if let Some(mode) = open_to_others(key_file) {
            eprintln!(
                "warning: the key file {} can be read by other users (mode {mode:o}); run `chmod 600 {}`",
                key_file.display(),
                key_file.display()
            );
        }
        if let Some(dir) = key_file.parent() {
            if let Some(mode) = open_to_others(dir) {
                eprintln!(
                    "warning: the directory of the key file, {}, is open to other users (mode {mode:o}); run `chmod 700 {}`",
                    dir.display(),
                    dir.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = key_file;
}
