//! The data directory: keystores, accounts and sessions by name.
//!
//! ```text
//! $LEASH_HOME (default ~/.leash)
//! ├── networks.toml            networks by name (optional; the devnet is built in)
//! ├── keystores/NAME.json      Web3 Secret Storage v3 keys, mode 0600
//! ├── accounts/NAME.json       smart accounts: address, owner key, factory, salt
//! └── sessions/NAME/           one directory per session
//!     ├── key.json             the session key, encrypted (mode 0600)
//!     └── grant.json           the grant document: policy, account, chains, owner signature
//! ```
//!
//! Every file is written whole or not at all: into a temporary file beside it, flushed, then renamed into
//! place; a session's directory is filled under a temporary name and renamed when complete.

use crate::failure::{Failure, Result};
use leash_sdk::fs::WriteError;
use serde::{de::DeserializeOwned, Serialize};
use std::{
    fs,
    path::{Path, PathBuf},
};

/// The data directory.
#[derive(Clone, Debug)]
pub(crate) struct Home {
    root: PathBuf,
}

impl Home {
    pub(crate) fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// `--home`, else `$LEASH_HOME`, else `~/.leash`.
    pub(crate) fn locate(flag: Option<PathBuf>) -> Result<Self> {
        if let Some(root) = flag {
            return Ok(Self::new(root));
        }
        let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).ok_or_else(|| {
            Failure::bad_input("no home directory: set HOME, LEASH_HOME or --home")
        })?;
        Ok(Self::new(PathBuf::from(home).join(".leash")))
    }

    pub(crate) fn networks_file(&self) -> PathBuf {
        self.root.join("networks.toml")
    }

    pub(crate) fn keystores(&self) -> PathBuf {
        self.root.join("keystores")
    }

    pub(crate) fn keystore(&self, name: &str) -> Result<PathBuf> {
        check_name("keystore", name)?;
        Ok(self.keystores().join(format!("{name}.json")))
    }

    pub(crate) fn accounts(&self) -> PathBuf {
        self.root.join("accounts")
    }

    pub(crate) fn account(&self, name: &str) -> Result<PathBuf> {
        check_name("account", name)?;
        Ok(self.accounts().join(format!("{name}.json")))
    }

    pub(crate) fn sessions(&self) -> PathBuf {
        self.root.join("sessions")
    }

    pub(crate) fn session(&self, name: &str) -> Result<PathBuf> {
        check_name("session", name)?;
        Ok(self.sessions().join(name))
    }

    /// Creates `dir` (and the data directory) readable only by the user.
    pub(crate) fn ensure_dir(&self, dir: &Path) -> Result<()> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(dir)
            .map_err(|e| Failure::bad_input(format!("cannot create {}: {e}", dir.display())))
    }
}

/// Names become file names, so they stay plain: letters, digits, `.`, `_`, `-`, not starting with a dot.
pub(crate) fn check_name(what: &str, name: &str) -> Result<()> {
    let plain = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if plain {
        Ok(())
    } else {
        Err(Failure::bad_input(format!(
            "`{name}` is not a valid {what} name: use up to 64 letters, digits, `.`, `_` or `-`, not starting with `.`"
        )))
    }
}

/// The names of the entries of `dir` (files ending in `.json` without it, or directories), sorted; none when
/// the directory does not exist yet.
pub(crate) fn names_in(dir: &Path, directories: bool) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Failure::bad_input(format!("cannot list {}: {e}", dir.display()))),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| Failure::bad_input(format!("cannot list {}: {e}", dir.display())))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        if directories && path.is_dir() {
            names.push(file_name);
        } else if !directories && path.is_file() {
            if let Some(name) = file_name.strip_suffix(".json") {
                names.push(name.to_owned());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// Writes `value` as JSON to `path` atomically, refusing to replace an existing file unless `overwrite`.
pub(crate) fn write_json(path: &Path, value: &impl Serialize, overwrite: bool) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("records serialise");
    bytes.push(b'\n');
    write_atomic(path, &bytes, 0o644, overwrite)
}

pub(crate) fn write_atomic(path: &Path, contents: &[u8], mode: u32, overwrite: bool) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    leash_sdk::fs::write_atomic(dir, path, contents, mode, overwrite).map_err(|e| match e {
        WriteError::Exists => Failure::bad_input(format!("{} exists already", path.display()))
            .with_hint("choose another name, or pass --force to replace it"),
        e @ WriteError::Io { .. } => Failure::bad_input(e.to_string()),
    })
}

/// Reads a JSON record, naming the file in every error.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let text = fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Failure::bad_input(format!("no {what} at {}", path.display()))
        } else {
            Failure::bad_input(format!("cannot read {}: {e}", path.display()))
        }
    })?;
    serde_json::from_str(&text).map_err(|e| {
        Failure::bad_input(format!(
            "{}:{}:{}: not a valid {what}: {e}",
            path.display(),
            e.line(),
            e.column()
        ))
    })
}
