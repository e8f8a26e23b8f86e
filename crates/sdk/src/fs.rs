//! Files written so that a crash or an error never leaves half of one behind: what keystores and grant documents
//! use, and what tools built on the SDK use for their own records.

use std::{
    fs, io,
    io::Write,
    path::{Path, PathBuf},
};

/// Why an atomic write failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The file exists and overwriting was not asked for.
    #[error("the file exists already")]
    Exists,
    /// An I/O step failed.
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        /// The file the step worked on.
        path: PathBuf,
        /// What it was doing ("write", "flush to disk", ...).
        action: &'static str,
        /// The error.
        source: io::Error,
    },
}

/// Writes `contents` to `path` so that `path` either keeps its old state or holds all of `contents`: a
/// temporary file with `mode` in the same directory, flushed, then renamed into place.
pub fn write_atomic(
    dir: &Path,
    path: &Path,
    contents: &[u8],
    mode: u32,
    overwrite: bool,
) -> Result<(), WriteError> {
    let io =
        |path: &Path, action, source| WriteError::Io { path: path.to_path_buf(), action, source };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".leash-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(mode));
    }
    // Dropping the temporary file on any error below deletes it: no partial file is left behind.
    let mut tmp =
        builder.tempfile_in(dir).map_err(|err| io(dir, "create a file in the directory", err))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The umask may have narrowed the mode at creation; make it exact.
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|err| io(tmp.path(), "set the mode of", err))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.write_all(contents).map_err(|err| io(tmp.path(), "write", err))?;
    tmp.as_file().sync_all().map_err(|err| io(tmp.path(), "flush to disk", err))?;
    let persisted = if overwrite { tmp.persist(path) } else { tmp.persist_noclobber(path) };
    persisted.map_err(|err| match err.error.kind() {
        io::ErrorKind::AlreadyExists => WriteError::Exists,
        _ => io(path, "move the new file to", err.error),
    })?;
    // Make the rename itself durable. The file is complete and in place either way, so a directory that
    // cannot be synced is not an error.
    #[cfg(unix)]
    if let Ok(dir) = fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}
