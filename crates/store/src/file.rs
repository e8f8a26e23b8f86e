//! [`FileStore`]: the records as files in one directory.
//!
//! ```text
//! $LEASH_HOME (default ~/.leash)
//! ├── networks.toml            networks by name (read by the command line; the devnet is built in)
//! ├── keystores/NAME.json      Web3 Secret Storage v3 keys, mode 0600
//! ├── accounts/NAME.json       smart accounts: address, owner key, factory, salt
//! ├── sessions/NAME/           one directory per session, mode 0700
//! │   ├── key.json             the session key, encrypted (mode 0600)
//! │   └── grant.json           the grant document: policy, account, chains, owner signature
//! ├── leases/ACCOUNT-LANE.json lane leases
//! ├── operations/HASH.json     operations sent
//! └── audit.jsonl              the audit log, one JSON event per line
//! ```
//!
//! Every file is written whole or not at all: into a temporary file beside it, flushed, then renamed into
//! place; a session's directory is filled under a temporary name and renamed when complete. Audit events are
//! appended as one write of one line. Lane leases are taken and given up under an exclusive lock on
//! `leases/.lock` (`flock`, on Unix), so two processes never both hold a lane.

use crate::{
    check_name, AccountRecord, AuditEvent, LaneLease, Record, Result, SentOperation, SessionRecord,
    Store, StoreError, StoredKey,
};
use alloy::primitives::{Address, B256};
use async_trait::async_trait;
use leash_sdk::{
    fs::{write_atomic, WriteError},
    keystore::EncryptedKey,
    lanes::Lane,
    GrantDocument,
};
use serde::{de::DeserializeOwned, Serialize};
use std::{
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
};

/// Records larger than this are not leash's: refused rather than read into memory.
const MAX_RECORD: u64 = 1 << 20;

/// The records as files under one directory (see the [module docs](self)).
#[derive(Clone, Debug)]
pub struct FileStore {
    root: PathBuf,
}

impl FileStore {
    /// The store in `root` (created on the first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The networks file the command line reads.
    pub fn networks_file(&self) -> PathBuf {
        self.root.join("networks.toml")
    }

    /// The directory of the keys.
    pub fn keystores(&self) -> PathBuf {
        self.root.join("keystores")
    }

    fn accounts(&self) -> PathBuf {
        self.root.join("accounts")
    }

    fn sessions(&self) -> PathBuf {
        self.root.join("sessions")
    }

    fn leases(&self) -> PathBuf {
        self.root.join("leases")
    }

    fn operations(&self) -> PathBuf {
        self.root.join("operations")
    }

    fn audit_file(&self) -> PathBuf {
        self.root.join("audit.jsonl")
    }

    /// The file of the key `name`.
    pub fn key_path(&self, name: &str) -> Result<PathBuf> {
        check_name(Record::Key, name)?;
        Ok(self.keystores().join(format!("{name}.json")))
    }

    fn account_path(&self, name: &str) -> Result<PathBuf> {
        check_name(Record::Account, name)?;
        Ok(self.accounts().join(format!("{name}.json")))
    }

    /// The directory of the session `name`.
    pub fn session_dir(&self, name: &str) -> Result<PathBuf> {
        check_name(Record::Session, name)?;
        Ok(self.sessions().join(name))
    }

    fn not_found(&self, record: Record, name: &str) -> StoreError {
        StoreError::NotFound { record, name: name.to_owned(), location: self.location() }
    }

    /// Creates `dir` (and the data directory) readable only by the user.
    fn ensure_dir(&self, dir: &Path) -> Result<()> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir).map_err(|e| StoreError::io("create", dir, e))
    }

    fn write(
        &self,
        record: Record,
        name: &str,
        path: &Path,
        bytes: &[u8],
        mode: u32,
        replace: bool,
    ) -> Result<()> {
        let dir = path.parent().expect("records live in a directory");
        self.ensure_dir(dir)?;
        write_atomic(dir, path, bytes, mode, replace).map_err(|e| match e {
            WriteError::Exists => StoreError::Exists { record, name: name.to_owned() },
            WriteError::Io { path, action, source } => StoreError::io(action, path, source),
        })
    }
}

/// Reads a whole record file; `None` when it does not exist.
fn read(path: &Path, record: Record) -> Result<Option<Vec<u8>>> {
    use std::io::Read;
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io("read", path, e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_RECORD + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| StoreError::io("read", path, e))?;
    if bytes.len() as u64 > MAX_RECORD {
        return Err(StoreError::corrupt(record, path.display(), "larger than 1 MiB"));
    }
    Ok(Some(bytes))
}

fn parse<T: DeserializeOwned>(path: &Path, record: Record, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        StoreError::corrupt(record, format!("{}:{}:{}", path.display(), e.line(), e.column()), e)
    })
}

fn to_json(value: &impl Serialize) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("records serialise");
    bytes.push(b'\n');
    bytes
}

/// The names of the entries of `dir` (files ending in `.json` without it, or directories), sorted; none when
/// the directory does not exist yet.
fn names_in(dir: &Path, directories: bool) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io("list", dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io("list", dir, e))?;
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

fn remove_file(path: &Path, missing: StoreError) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(missing),
        Err(e) => Err(StoreError::io("delete", path, e)),
    }
}

#[async_trait]
impl Store for FileStore {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    async fn key(&self, name: &str) -> Result<StoredKey> {
        let path = self.key_path(name)?;
        let bytes = read(&path, Record::Key)?.ok_or_else(|| self.not_found(Record::Key, name))?;
        Ok(StoredKey {
            name: name.to_owned(),
            source: path,
            document: EncryptedKey::from_bytes(bytes),
        })
    }

    async fn put_key(&self, name: &str, key: &EncryptedKey, replace: bool) -> Result<()> {
        let path = self.key_path(name)?;
        self.write(Record::Key, name, &path, key.as_bytes(), 0o600, replace)
    }

    async fn remove_key(&self, name: &str) -> Result<()> {
        remove_file(&self.key_path(name)?, self.not_found(Record::Key, name))
    }

    async fn key_names(&self) -> Result<Vec<String>> {
        names_in(&self.keystores(), false)
    }

    async fn account(&self, name: &str) -> Result<AccountRecord> {
        let path = self.account_path(name)?;
        let bytes =
            read(&path, Record::Account)?.ok_or_else(|| self.not_found(Record::Account, name))?;
        parse(&path, Record::Account, &bytes)
    }

    async fn put_account(&self, record: &AccountRecord, replace: bool) -> Result<()> {
        let path = self.account_path(&record.name)?;
        self.write(Record::Account, &record.name, &path, &to_json(record), 0o644, replace)
    }

    async fn remove_account(&self, name: &str) -> Result<()> {
        remove_file(&self.account_path(name)?, self.not_found(Record::Account, name))
    }

    async fn account_names(&self) -> Result<Vec<String>> {
        names_in(&self.accounts(), false)
    }

    async fn session(&self, name: &str) -> Result<SessionRecord> {
        let dir = self.session_dir(name)?;
        if !dir.is_dir() {
            return Err(self.not_found(Record::Session, name));
        }
        let grant_path = dir.join("grant.json");
        let bytes = read(&grant_path, Record::Session)?
            .ok_or_else(|| StoreError::corrupt(Record::Session, dir.display(), "no grant.json"))?;
        let grant: GrantDocument = parse(&grant_path, Record::Session, &bytes)?;
        let session = grant
            .verify()
            .map_err(|e| StoreError::corrupt(Record::Session, grant_path.display(), e))?;
        let key_path = dir.join("key.json");
        let key = read(&key_path, Record::Key)?
            .ok_or_else(|| StoreError::corrupt(Record::Session, dir.display(), "no key.json"))?;
        Ok(SessionRecord {
            name: name.to_owned(),
            key: StoredKey {
                name: name.to_owned(),
                source: key_path,
                document: EncryptedKey::from_bytes(key),
            },
            grant,
            session,
        })
    }

    async fn put_session(
        &self,
        name: &str,
        key: &EncryptedKey,
        grant: &GrantDocument,
    ) -> Result<()> {
        let dir = self.session_dir(name)?;
        if dir.exists() {
            return Err(StoreError::Exists { record: Record::Session, name: name.to_owned() });
        }
        let sessions = self.sessions();
        self.ensure_dir(&sessions)?;
        // Key and grant go into a temporary directory that is renamed into place whole: an interrupted or
        // failed write leaves nothing behind.
        let staging = tempfile::Builder::new()
            .prefix(".leash-session-")
            .tempdir_in(&sessions)
            .map_err(|e| StoreError::io("write in", &sessions, e))?;
        let io = |action, path: &Path, e| StoreError::io(action, path, e);
        let staged = staging.path();
        write_atomic(staged, &staged.join("key.json"), key.as_bytes(), 0o600, false)
            .map_err(|e| io("write", staged, std::io::Error::other(e)))?;
        write_atomic(staged, &staged.join("grant.json"), &to_json(grant), 0o644, false)
            .map_err(|e| io("write", staged, std::io::Error::other(e)))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(staged, fs::Permissions::from_mode(0o700))
                .map_err(|e| io("set the mode of", staged, e))?;
        }
        let staged = staging.keep();
        if let Err(e) = fs::rename(&staged, &dir) {
            let _ = fs::remove_dir_all(&staged);
            return Err(if dir.exists() {
                StoreError::Exists { record: Record::Session, name: name.to_owned() }
            } else {
                io("move the session into", &dir, e)
            });
        }
        Ok(())
    }

    async fn remove_session(&self, name: &str) -> Result<()> {
        let dir = self.session_dir(name)?;
        if !dir.is_dir() {
            return Err(self.not_found(Record::Session, name));
        }
        // Renamed away first, so that a half-deleted session is never read as a session.
        let trash = self.sessions().join(format!(".removing-{name}"));
        let _ = fs::remove_dir_all(&trash);
        fs::rename(&dir, &trash).map_err(|e| StoreError::io("delete", &dir, e))?;
        fs::remove_dir_all(&trash).map_err(|e| StoreError::io("delete", &trash, e))
    }

    async fn session_names(&self) -> Result<Vec<String>> {
        names_in(&self.sessions(), true)
    }

    async fn lease_lane(&self, lease: &LaneLease, now: u64) -> Result<LaneLease> {
        let dir = self.leases();
        self.ensure_dir(&dir)?;
        let _lock = LeaseLock::take(&dir.join(".lock"))?;
        let path = dir.join(format!("{}-{}.json", lease.account, lease.lane));
        if let Some(bytes) = read(&path, Record::Lease)? {
            let held: LaneLease = parse(&path, Record::Lease, &bytes)?;
            if held.holder != lease.holder && held.until > now {
                return Ok(held);
            }
        }
        self.write(Record::Lease, &lease.holder, &path, &to_json(lease), 0o644, true)?;
        Ok(lease.clone())
    }

    async fn release_lane(&self, account: Address, lane: Lane, holder: &str) -> Result<()> {
        let dir = self.leases();
        let path = dir.join(format!("{account}-{}.json", lane.id()));
        self.ensure_dir(&dir)?;
        // Read under the lock: a lease read before it may have been taken over since.
        let _lock = LeaseLock::take(&dir.join(".lock"))?;
        let Some(bytes) = read(&path, Record::Lease)? else { return Ok(()) };
        let held: LaneLease = parse(&path, Record::Lease, &bytes)?;
        if held.holder == holder {
            match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(StoreError::io("delete", &path, e))
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn record_operation(&self, operation: &SentOperation) -> Result<()> {
        let path = self.operations().join(format!("{}.json", operation.hash));
        let name = operation.hash.to_string();
        self.write(Record::Operation, &name, &path, &to_json(operation), 0o644, true)
    }

    async fn operation(&self, hash: B256) -> Result<Option<SentOperation>> {
        let path = self.operations().join(format!("{hash}.json"));
        read(&path, Record::Operation)?
            .map(|bytes| parse(&path, Record::Operation, &bytes))
            .transpose()
    }

    async fn operations(&self) -> Result<Vec<SentOperation>> {
        let mut all = Vec::new();
        for name in names_in(&self.operations(), false)? {
            let path = self.operations().join(format!("{name}.json"));
            if let Some(bytes) = read(&path, Record::Operation)? {
                all.push(parse::<SentOperation>(&path, Record::Operation, &bytes)?);
            }
        }
        all.sort_by_key(|op| (op.sent_at, op.hash));
        Ok(all)
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<()> {
        self.ensure_dir(&self.root)?;
        let path = self.audit_file();
        let mut line = serde_json::to_vec(event).expect("events serialise");
        line.push(b'\n');
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| StoreError::io("open", &path, e))?;
        // One write of one whole line: appends from several processes do not interleave within a line.
        file.write_all(&line).map_err(|e| StoreError::io("append to", &path, e))?;
        file.sync_data().map_err(|e| StoreError::io("flush", &path, e))
    }

    async fn audit_log(&self) -> Result<Vec<AuditEvent>> {
        let path = self.audit_file();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io("read", &path, e)),
        };
        text.lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| {
                serde_json::from_str(line).map_err(|e| {
                    StoreError::corrupt(
                        Record::AuditEvent,
                        format!("{}:{}", path.display(), i + 1),
                        e,
                    )
                })
            })
            .collect()
    }
}

/// An exclusive advisory lock on a file, released when dropped.
struct LeaseLock {
    #[cfg_attr(not(unix), allow(dead_code))]
    file: fs::File,
}

impl LeaseLock {
    fn take(path: &Path) -> Result<Self> {
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| StoreError::io("open", path, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            // SAFETY: flock on a file descriptor this function owns; it blocks until the lock is free.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc != 0 {
                return Err(StoreError::io("lock", path, io::Error::last_os_error()));
            }
        }
        Ok(Self { file })
    }
}

impl Drop for LeaseLock {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            // SAFETY: unlocks the descriptor locked in `take`; closing it would release the lock anyway.
            unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
        }
    }
}
