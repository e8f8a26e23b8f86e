//! Session keys at rest: password-encrypted Web3 Secret Storage v3 files.
//!
//! A keystore file is a standard version-3 keystore (scrypt, AES-128-CTR, Keccak-256 MAC), so any tool
//! that reads Ethereum keystores can decrypt it, plus a `leash` section that records which kind of key the
//! 32 encrypted bytes are and its public identity:
//!
//! ```json
//! {
//!   "crypto": { "cipher": "aes-128-ctr", "cipherparams": { "iv": "…" }, "ciphertext": "…",
//!               "kdf": "scrypt", "kdfparams": { "dklen": 32, "n": 262144, "p": 1, "r": 8, "salt": "…" },
//!               "mac": "…" },
//!   "id": "3198bc9c-6672-4ab3-9995-4942343ae5b6",
//!   "version": 3,
//!   "leash": { "kind": "webauthn", "signer": "0x<x ‖ y>", "rpId": "leash.local", "origin": "https://leash.local" }
//! }
//! ```
//!
//! ECDSA keys also carry the standard `address` field. A v3 file without a `leash` section (from geth,
//! cast or another wallet) opens as an ECDSA key. The identity can be read without the password
//! ([`Keystore::info`], [`Keystore::list`]); opening checks the decrypted key against it.
//!
//! Files are written atomically (a temporary file in the same directory, flushed to disk, then renamed
//! into place) with mode 0600 on Unix, and an existing file is never replaced unless
//! [`CreateOptions::overwrite`] says so. No error or `Debug` output contains a password or a key.
//!
//! scrypt with the standard parameters ([`ScryptParams::STANDARD`], n = 2¹⁸) takes about a second and
//! 256 MiB in an optimised build, and much longer in a debug build; in async code, call
//! [`Keystore::open`] and [`Keystore::create`] from `tokio::task::spawn_blocking`.

use std::{
    fmt, fs,
    io::{self, Read},
    path::{Path, PathBuf},
};

use aes::cipher::{KeyIvInit, StreamCipher};
use alloy::{
    hex,
    primitives::{keccak256, Address, B256},
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::signer::{
    check_relying_party, EcdsaSigner, KeyIdentity, P256PublicKey, P256Signer, SessionKey,
    SignerError, WebAuthnSigner,
};

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// Largest keystore file read; real ones are under 1 KiB.
const MAX_FILE_SIZE: u64 = 1 << 20;
/// Most memory (bytes) a file's scrypt parameters may ask for: 4 x the standard parameters' 256 MiB.
const MAX_SCRYPT_MEMORY: u128 = 1 << 30;
/// Length of the derived key: 16 bytes of AES key and 16 bytes of MAC key.
const DKLEN: usize = 32;

/// What went wrong while reading or writing a keystore. Each message names the file and what to do.
///
/// No variant carries a password or key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreError {
    /// The MAC does not match: the password is wrong, or the encrypted part of the file was modified.
    #[error(
        "wrong password for keystore {} (MAC mismatch); if the password is right, the file was modified",
        .path.display()
    )]
    WrongPassword {
        /// The keystore file.
        path: PathBuf,
    },
    /// The file is not a version-3 keystore (not JSON, missing or malformed fields).
    #[error("{} is not a valid Web3 Secret Storage v3 keystore: {reason}", .path.display())]
    NotAKeystore {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The file declares a keystore version other than 3.
    #[error("keystore {} has version {version}; only version 3 is supported", .path.display())]
    UnsupportedVersion {
        /// The keystore file.
        path: PathBuf,
        /// The version it declares.
        version: String,
    },
    /// The key derivation function is not scrypt.
    #[error(
        "keystore {} uses the key derivation function {kdf:?}; only \"scrypt\" is supported (re-encrypt the key with scrypt)",
        .path.display()
    )]
    UnsupportedKdf {
        /// The keystore file.
        path: PathBuf,
        /// The declared function.
        kdf: String,
    },
    /// The cipher is not AES-128-CTR.
    #[error("keystore {} uses the cipher {cipher:?}; only \"aes-128-ctr\" is supported", .path.display())]
    UnsupportedCipher {
        /// The keystore file.
        path: PathBuf,
        /// The declared cipher.
        cipher: String,
    },
    /// The file's scrypt parameters are malformed or too costly to run.
    #[error("keystore {} has unusable scrypt parameters: {reason}", .path.display())]
    InvalidKdfParams {
        /// The keystore file.
        path: PathBuf,
        /// What is wrong with them.
        reason: String,
    },
    /// Scrypt parameters given to [`ScryptParams::new`] are out of range.
    #[error("invalid scrypt parameters: {0}")]
    InvalidScryptParams(String),
    /// The `leash` section names a key kind this version does not know.
    #[error(
        "keystore {} holds a key of kind {kind:?}; this version knows \"ecdsa\", \"p256\" and \"webauthn\"",
        .path.display()
    )]
    UnsupportedKind {
        /// The keystore file.
        path: PathBuf,
        /// The declared kind.
        kind: String,
    },
    /// The file has neither a `leash` section nor an `address`, so its identity is unknown without the
    /// password.
    #[error(
        "keystore {} records no public identity (no `leash` section or `address`); open it with its password to learn it",
        .path.display()
    )]
    NoIdentity {
        /// The keystore file.
        path: PathBuf,
    },
    /// The decrypted bytes are not a valid key of the recorded kind.
    #[error("keystore {} does not hold a valid key: {source}", .path.display())]
    InvalidKey {
        /// The keystore file.
        path: PathBuf,
        /// Why the key was refused.
        source: SignerError,
    },
    /// The decrypted key is not the one the file's `leash` section or `address` names: the public part
    /// of the file was edited.
    #[error(
        "keystore {} decrypts to a key other than the one it names in `leash`/`address`; the file was edited",
        .path.display()
    )]
    KeyMismatch {
        /// The keystore file.
        path: PathBuf,
    },
    /// The target file exists and overwriting was not asked for.
    #[error(
        "{} already exists; choose another path or allow overwriting (CreateOptions::overwrite)",
        .path.display()
    )]
    FileExists {
        /// The existing file.
        path: PathBuf,
    },
    /// A keystore must have a non-empty password.
    #[error("the keystore password is empty; choose a non-empty password")]
    EmptyPassword,
    /// A file or directory does not exist.
    #[error("cannot {action} {}: it does not exist", .path.display())]
    NotFound {
        /// The missing file or directory.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
    },
    /// The operating system refused access.
    #[error(
        "cannot {action} {}: permission denied; check the owner and mode of the file and of its directory",
        .path.display()
    )]
    PermissionDenied {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
    },
    /// Another input/output error.
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
}

impl KeystoreError {
    fn io(path: &Path, action: &'static str, err: io::Error) -> Self {
        let path = path.to_path_buf();
        match err.kind() {
            io::ErrorKind::NotFound => Self::NotFound { path, action },
            io::ErrorKind::PermissionDenied => Self::PermissionDenied { path, action },
            _ => Self::Io { path, action, source: err },
        }
    }

    fn not_a_keystore(path: &Path, reason: impl Into<String>) -> Self {
        Self::NotAKeystore { path: path.to_path_buf(), reason: reason.into() }
    }
}

/// The cost of the scrypt key derivation that protects a keystore: n = 2^`log_n`, block size `r`,
/// parallelism `p`. It needs 128·r·n bytes of memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScryptParams {
    log_n: u8,
    r: u32,
    p: u32,
}

impl ScryptParams {
    /// The standard parameters of Ethereum keystores (n = 2¹⁸, r = 8, p = 1, as geth writes them):
    /// 256 MiB and about a second per derivation in an optimised build. The default.
    pub const STANDARD: Self = Self { log_n: 18, r: 8, p: 1 };

    /// Parameters of the given cost, checked to be valid and to need at most 1 GiB.
    pub fn new(log_n: u8, r: u32, p: u32) -> Result<Self, KeystoreError> {
        check_scrypt(log_n, r, p).map_err(KeystoreError::InvalidScryptParams)?;
        Ok(Self { log_n, r, p })
    }

    /// **For tests only**: n = 2¹⁰, r = 8, p = 1, 256 times cheaper than [`STANDARD`](Self::STANDARD),
    /// so that test suites in debug builds stay fast. Far too weak to protect a real key.
    pub const fn light_for_tests() -> Self {
        Self { log_n: 10, r: 8, p: 1 }
    }

    /// log₂ of the CPU/memory cost n.
    pub const fn log_n(&self) -> u8 {
        self.log_n
    }

    /// The block size r.
    pub const fn r(&self) -> u32 {
        self.r
    }

    /// The parallelism p.
    pub const fn p(&self) -> u32 {
        self.p
    }

    fn derive(&self, password: &[u8], salt: &[u8]) -> Result<Zeroizing<[u8; DKLEN]>, String> {
        let params = scrypt::Params::new(self.log_n, self.r, self.p, DKLEN)
            .map_err(|err| err.to_string())?;
        let mut key = Zeroizing::new([0u8; DKLEN]);
        scrypt::scrypt(password, salt, &params, key.as_mut()).map_err(|err| err.to_string())?;
        Ok(key)
    }
}

impl Default for ScryptParams {
    fn default() -> Self {
        Self::STANDARD
    }
}

/// Checks scrypt parameters: n = 2^`log_n` above 1, positive r and p, at most [`MAX_SCRYPT_MEMORY`].
fn check_scrypt(log_n: u8, r: u32, p: u32) -> Result<(), String> {
    if log_n == 0 || log_n >= 64 {
        return Err(format!("n = 2^{log_n} is out of range"));
    }
    if r == 0 || p == 0 {
        return Err("r and p must be positive".to_owned());
    }
    let memory = 128 * u128::from(r) * (1u128 << log_n);
    if memory > MAX_SCRYPT_MEMORY {
        return Err(format!(
            "they need {} MiB of memory, more than the {} MiB allowed",
            memory >> 20,
            MAX_SCRYPT_MEMORY >> 20
        ));
    }
    scrypt::Params::new(log_n, r, p, DKLEN).map(drop).map_err(|err| err.to_string())
}

/// How [`Keystore::create_with`] writes a keystore.
///
/// ```
/// use leash_sdk::keystore::{CreateOptions, ScryptParams};
///
/// let options = CreateOptions::new().overwrite(true);
/// assert_eq!(options.scrypt_params(), ScryptParams::STANDARD);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CreateOptions {
    scrypt: ScryptParams,
    overwrite: bool,
}

impl CreateOptions {
    /// Standard scrypt parameters, never overwrite.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses these scrypt parameters.
    pub const fn scrypt(mut self, params: ScryptParams) -> Self {
        self.scrypt = params;
        self
    }

    /// Whether an existing file at the path may be replaced (atomically). Off by default.
    pub const fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// The scrypt parameters used.
    pub const fn scrypt_params(&self) -> ScryptParams {
        self.scrypt
    }

    /// Whether an existing file may be replaced.
    pub const fn overwrites(&self) -> bool {
        self.overwrite
    }
}

/// What a keystore file says about its key, readable without the password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// The keystore file.
    pub path: PathBuf,
    /// The keystore's `id` (a UUID).
    pub id: String,
    /// The key's kind and public identity.
    pub identity: KeyIdentity,
}

/// Reads and writes session keys as Web3 Secret Storage v3 files. See the [module docs](self).
///
/// ```
/// use leash_sdk::{
///     keystore::{CreateOptions, Keystore, ScryptParams},
///     signer::{SessionKey, SessionSigner, SignerKind},
/// };
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("agent.json");
/// let key = SessionKey::random(SignerKind::WebAuthn);
///
/// // Real keys use `Keystore::create`, with the standard (slow) scrypt parameters.
/// let options = CreateOptions::new().scrypt(ScryptParams::light_for_tests());
/// let info = Keystore::create_with(&path, &key, "correct horse", options)?;
/// assert_eq!(info.identity, key.identity());
///
/// // The identity is readable without the password...
/// assert_eq!(Keystore::info(&path)?.identity.kind(), SignerKind::WebAuthn);
/// // ...the key needs it.
/// let opened = Keystore::open(&path, "correct horse")?;
/// assert_eq!(opened.signer_bytes(), key.signer_bytes());
/// assert!(Keystore::open(&path, "wrong").is_err());
/// # Ok::<(), leash_sdk::keystore::KeystoreError>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct Keystore;

impl Keystore {
    /// Encrypts `key` with `password` under the standard scrypt parameters and writes it to `path`, which
    /// must not exist yet. Returns what the file records.
    pub fn create(
        path: impl AsRef<Path>,
        key: &SessionKey,
        password: impl AsRef<[u8]>,
    ) -> Result<KeyInfo, KeystoreError> {
        Self::create_with(path, key, password, CreateOptions::default())
    }

    /// [`create`](Self::create) with the given scrypt parameters and overwrite rule.
    pub fn create_with(
        path: impl AsRef<Path>,
        key: &SessionKey,
        password: impl AsRef<[u8]>,
        options: CreateOptions,
    ) -> Result<KeyInfo, KeystoreError> {
        let (path, password) = (path.as_ref(), password.as_ref());
        if password.is_empty() {
            return Err(KeystoreError::EmptyPassword);
        }
        // Checked first to fail before the costly derivation; the final rename checks again.
        if !options.overwrite && fs::symlink_metadata(path).is_ok() {
            return Err(KeystoreError::FileExists { path: path.to_path_buf() });
        }
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        match fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                let err = io::Error::new(io::ErrorKind::NotADirectory, "not a directory");
                return Err(KeystoreError::io(dir, "write a keystore into the directory", err));
            }
            Err(err) => {
                return Err(KeystoreError::io(dir, "write a keystore into the directory", err))
            }
        }

        let (document, id) = Self::encrypt_document(key, password, options.scrypt)?;
        write_atomic(dir, path, document.as_bytes(), options.overwrite)?;
        Ok(KeyInfo { path: path.to_path_buf(), id, identity: key.identity() })
    }

    /// Encrypts `key` with `password` into a keystore document, the bytes a file or a store's row holds,
    /// without writing it anywhere. The document is the same as [`create`](Self::create) writes.
    pub fn encrypt(
        key: &SessionKey,
        password: impl AsRef<[u8]>,
        params: ScryptParams,
    ) -> Result<EncryptedKey, KeystoreError> {
        Ok(Self::encrypt_document(key, password.as_ref(), params)?.0)
    }

    fn encrypt_document(
        key: &SessionKey,
        password: &[u8],
        params: ScryptParams,
    ) -> Result<(EncryptedKey, String), KeystoreError> {
        if password.is_empty() {
            return Err(KeystoreError::EmptyPassword);
        }
        let id = random_uuid();
        let json = encrypt(key, &key.identity(), &id, password, params)
            .map_err(KeystoreError::InvalidScryptParams)?;
        Ok((EncryptedKey(json), id))
    }

    /// Decrypts a keystore document with `password`. `source` names where the document came from (a file, a
    /// store's record) in errors.
    pub fn decrypt(
        source: impl AsRef<Path>,
        document: &EncryptedKey,
        password: impl AsRef<[u8]>,
    ) -> Result<SessionKey, KeystoreError> {
        let path = source.as_ref();
        let file = parse_keystore(path, document.as_bytes())?;
        decrypt_parsed(path, &file, password.as_ref())
    }

    /// What a keystore document records about its key, without the password.
    pub fn inspect(
        source: impl AsRef<Path>,
        document: &EncryptedKey,
    ) -> Result<KeyInfo, KeystoreError> {
        let path = source.as_ref();
        info_of(path, parse_keystore(path, document.as_bytes())?)
    }

    /// Decrypts the keystore at `path` with `password` into the key of the kind it records.
    pub fn open(
        path: impl AsRef<Path>,
        password: impl AsRef<[u8]>,
    ) -> Result<SessionKey, KeystoreError> {
        let path = path.as_ref();
        decrypt_parsed(path, &read_keystore(path)?, password.as_ref())
    }

    /// What the keystore at `path` records about its key, without decrypting it.
    pub fn info(path: impl AsRef<Path>) -> Result<KeyInfo, KeystoreError> {
        let path = path.as_ref();
        info_of(path, read_keystore(path)?)
    }

    /// [`info`](Self::info) for every regular, non-hidden file in `dir`, sorted by path. A file that is
    /// not a readable keystore appears as its error, so that a damaged key is noticed, not skipped.
    pub fn list(
        dir: impl AsRef<Path>,
    ) -> Result<Vec<Result<KeyInfo, KeystoreError>>, KeystoreError> {
        let dir = dir.as_ref();
        let entries =
            fs::read_dir(dir).map_err(|err| KeystoreError::io(dir, "list the directory", err))?;
        let mut paths = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|err| KeystoreError::io(dir, "list the directory", err))?;
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            let path = entry.path();
            if !hidden && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        Ok(paths.into_iter().map(Self::info).collect())
    }
}

// ---------------------------------------------------------------------------------------------------------
// File format
// ---------------------------------------------------------------------------------------------------------

#[derive(Serialize)]
struct FileOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<String>,
    crypto: CryptoOut,
    id: &'a str,
    version: u8,
    leash: LeashSection,
}

#[derive(Serialize)]
struct CryptoOut {
    cipher: &'static str,
    cipherparams: CipherParams,
    ciphertext: String,
    kdf: &'static str,
    kdfparams: ScryptParamsJson,
    mac: String,
}

#[derive(Serialize, Deserialize)]
struct CipherParams {
    iv: String,
}

#[derive(Serialize, Deserialize)]
struct ScryptParamsJson {
    dklen: u64,
    n: u64,
    p: u32,
    r: u32,
    salt: String,
}

/// The leash section: the key's kind and public identity.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeashSection {
    kind: String,
    signer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rp_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    origin: Option<String>,
}

#[derive(Deserialize)]
struct FileIn {
    #[serde(default)]
    address: Option<String>,
    // Some early v3 writers capitalised the field.
    #[serde(alias = "Crypto")]
    crypto: CryptoIn,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    leash: Option<LeashSection>,
}

#[derive(Deserialize)]
struct CryptoIn {
    cipher: String,
    cipherparams: CipherParams,
    ciphertext: String,
    kdf: String,
    kdfparams: serde_json::Value,
    mac: String,
}

const KIND_ECDSA: &str = leash_contracts::SignerKind::Ecdsa.name();
const KIND_P256: &str = leash_contracts::SignerKind::P256.name();
const KIND_WEBAUTHN: &str = leash_contracts::SignerKind::WebAuthn.name();

impl LeashSection {
    fn of(identity: &KeyIdentity) -> Self {
        let signer = hex::encode_prefixed(identity.signer_bytes());
        match identity {
            KeyIdentity::Ecdsa { .. } => {
                Self { kind: KIND_ECDSA.into(), signer, rp_id: None, origin: None }
            }
            KeyIdentity::P256 { .. } => {
                Self { kind: KIND_P256.into(), signer, rp_id: None, origin: None }
            }
            KeyIdentity::WebAuthn { rp_id, origin, .. } => Self {
                kind: KIND_WEBAUTHN.into(),
                signer,
                rp_id: Some(rp_id.clone()),
                origin: Some(origin.clone()),
            },
        }
    }

    fn identity(&self, path: &Path) -> Result<KeyIdentity, KeystoreError> {
        let bad = |reason: String| {
            KeystoreError::not_a_keystore(path, format!("leash section: {reason}"))
        };
        let public_key = || {
            self.signer
                .parse::<P256PublicKey>()
                .map_err(|err| bad(format!("`signer` is not a P-256 public key ({err})")))
        };
        match self.kind.as_str() {
            KIND_ECDSA => parse_address(&self.signer)
                .map(|address| KeyIdentity::Ecdsa { address })
                .ok_or_else(|| bad("`signer` is not a 20-byte hex address".into())),
            KIND_P256 => Ok(KeyIdentity::P256 { public_key: public_key()? }),
            KIND_WEBAUTHN => {
                let (Some(rp_id), Some(origin)) = (&self.rp_id, &self.origin) else {
                    return Err(bad("a webauthn key needs `rpId` and `origin`".into()));
                };
                check_relying_party(rp_id, origin).map_err(|err| bad(err.to_string()))?;
                Ok(KeyIdentity::WebAuthn {
                    public_key: public_key()?,
                    rp_id: rp_id.clone(),
                    origin: origin.clone(),
                })
            }
            other => Err(KeystoreError::UnsupportedKind {
                path: path.to_path_buf(),
                kind: other.to_owned(),
            }),
        }
    }
}

fn decrypt_parsed(
    path: &Path,
    file: &ParsedKeystore,
    password: &[u8],
) -> Result<SessionKey, KeystoreError> {
    let secret = file.decrypt(path, password)?;
    let secret = B256::from_slice(secret.as_slice());
    let invalid_key = |source| KeystoreError::InvalidKey { path: path.to_path_buf(), source };
    let key = match &file.identity {
        None | Some(KeyIdentity::Ecdsa { .. }) => {
            SessionKey::Ecdsa(EcdsaSigner::from_bytes(&secret).map_err(invalid_key)?)
        }
        Some(KeyIdentity::P256 { .. }) => {
            SessionKey::P256(P256Signer::from_bytes(&secret).map_err(invalid_key)?)
        }
        Some(KeyIdentity::WebAuthn { rp_id, origin, .. }) => SessionKey::WebAuthn(
            WebAuthnSigner::from_bytes(&secret)
                .and_then(|signer| signer.with_relying_party(rp_id.as_str(), origin.as_str()))
                .map_err(invalid_key)?,
        ),
    };
    if file.identity.as_ref().is_some_and(|identity| *identity != key.identity()) {
        return Err(KeystoreError::KeyMismatch { path: path.to_path_buf() });
    }
    Ok(key)
}

fn info_of(path: &Path, file: ParsedKeystore) -> Result<KeyInfo, KeystoreError> {
    let identity =
        file.identity.ok_or_else(|| KeystoreError::NoIdentity { path: path.to_path_buf() })?;
    Ok(KeyInfo { path: path.to_path_buf(), id: file.id, identity })
}

/// A keystore document (Web3 Secret Storage v3 JSON with leash's section): the encrypted key as a file or a
/// store's record holds it. Only [`Keystore::decrypt`] with the password yields the key.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedKey(Vec<u8>);

impl EncryptedKey {
    /// A document read back from storage; checked when it is inspected or decrypted.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The document's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for EncryptedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptedKey({} bytes)", self.0.len())
    }
}

fn parse_address(s: &str) -> Option<Address> {
    let bytes = hex::decode(s).ok()?;
    (bytes.len() == 20).then(|| Address::from_slice(&bytes))
}

fn encrypt(
    key: &SessionKey,
    identity: &KeyIdentity,
    id: &str,
    password: &[u8],
    params: ScryptParams,
) -> Result<Vec<u8>, String> {
    let mut salt = [0u8; 32];
    let mut iv = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    rand::rngs::OsRng.fill_bytes(&mut iv);
    let derived = params.derive(password, &salt)?;

    let mut ciphertext = key.secret_bytes();
    Aes128Ctr::new(derived[..16].into(), (&iv).into()).apply_keystream(ciphertext.as_mut());
    let mac = mac(&derived, ciphertext.as_slice());

    let address = match identity {
        // Without 0x, as geth writes it.
        KeyIdentity::Ecdsa { address } => Some(hex::encode(address)),
        _ => None,
    };
    let file = FileOut {
        address,
        crypto: CryptoOut {
            cipher: "aes-128-ctr",
            cipherparams: CipherParams { iv: hex::encode(iv) },
            ciphertext: hex::encode(ciphertext.as_slice()),
            kdf: "scrypt",
            kdfparams: ScryptParamsJson {
                dklen: DKLEN as u64,
                n: 1u64 << params.log_n,
                p: params.p,
                r: params.r,
                salt: hex::encode(salt),
            },
            mac: hex::encode(mac),
        },
        id,
        version: 3,
        leash: LeashSection::of(identity),
    };
    serde_json::to_vec_pretty(&file).map_err(|err| err.to_string())
}

fn mac(derived: &[u8; DKLEN], ciphertext: &[u8]) -> B256 {
    let mut input = Zeroizing::new(Vec::with_capacity(16 + ciphertext.len()));
    input.extend_from_slice(&derived[16..]);
    input.extend_from_slice(ciphertext);
    keccak256(input.as_slice())
}

/// A parsed keystore file, checked to be decryptable in form.
struct ParsedKeystore {
    id: String,
    identity: Option<KeyIdentity>,
    scrypt: ScryptParams,
    salt: Vec<u8>,
    iv: [u8; 16],
    ciphertext: [u8; 32],
    mac: B256,
}

impl ParsedKeystore {
    fn decrypt(&self, path: &Path, password: &[u8]) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
        let derived = self.scrypt.derive(password, &self.salt).map_err(|reason| {
            KeystoreError::InvalidKdfParams { path: path.to_path_buf(), reason }
        })?;
        let expected = mac(&derived, &self.ciphertext);
        // Constant time, so the comparison says nothing about how close a guess was.
        let diff = expected.iter().zip(self.mac.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff != 0 {
            return Err(KeystoreError::WrongPassword { path: path.to_path_buf() });
        }
        let mut secret = Zeroizing::new(self.ciphertext);
        Aes128Ctr::new(derived[..16].into(), (&self.iv).into()).apply_keystream(secret.as_mut());
        Ok(secret)
    }
}

fn read_keystore(path: &Path) -> Result<ParsedKeystore, KeystoreError> {
    let file =
        fs::File::open(path).map_err(|err| KeystoreError::io(path, "open the keystore", err))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| KeystoreError::io(path, "read the keystore", err))?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(KeystoreError::not_a_keystore(path, "the file is larger than 1 MiB"));
    }
    parse_keystore(path, &bytes)
}

fn parse_keystore(path: &Path, bytes: &[u8]) -> Result<ParsedKeystore, KeystoreError> {
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(KeystoreError::not_a_keystore(path, "the document is larger than 1 MiB"));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|err| KeystoreError::not_a_keystore(path, format!("not JSON ({err})")))?;
    match value.get("version") {
        Some(version) if version.as_u64() == Some(3) => {}
        Some(version) => {
            return Err(KeystoreError::UnsupportedVersion {
                path: path.to_path_buf(),
                version: version.to_string(),
            })
        }
        None => return Err(KeystoreError::not_a_keystore(path, "no `version` field")),
    }
    let file: FileIn = serde_json::from_value(value)
        .map_err(|err| KeystoreError::not_a_keystore(path, err.to_string()))?;

    let identity = match (&file.leash, &file.address) {
        (Some(leash), _) => Some(leash.identity(path)?),
        (None, Some(address)) => Some(KeyIdentity::Ecdsa {
            address: parse_address(address).ok_or_else(|| {
                KeystoreError::not_a_keystore(path, "`address` is not a 20-byte hex address")
            })?,
        }),
        (None, None) => None,
    };
    if let (Some(KeyIdentity::Ecdsa { address }), Some(recorded)) = (&identity, &file.address) {
        if parse_address(recorded) != Some(*address) {
            return Err(KeystoreError::not_a_keystore(
                path,
                "`address` and the leash section disagree",
            ));
        }
    }

    let crypto = file.crypto;
    if !crypto.kdf.eq_ignore_ascii_case("scrypt") {
        return Err(KeystoreError::UnsupportedKdf { path: path.to_path_buf(), kdf: crypto.kdf });
    }
    if !crypto.cipher.eq_ignore_ascii_case("aes-128-ctr") {
        return Err(KeystoreError::UnsupportedCipher {
            path: path.to_path_buf(),
            cipher: crypto.cipher,
        });
    }
    let bad_kdf =
        |reason: String| KeystoreError::InvalidKdfParams { path: path.to_path_buf(), reason };
    let kdf: ScryptParamsJson =
        serde_json::from_value(crypto.kdfparams).map_err(|err| bad_kdf(err.to_string()))?;
    if kdf.dklen != DKLEN as u64 {
        return Err(bad_kdf(format!("dklen is {}, expected {DKLEN}", kdf.dklen)));
    }
    if kdf.n < 2 || !kdf.n.is_power_of_two() {
        return Err(bad_kdf(format!("n = {} is not a power of two above 1", kdf.n)));
    }
    let log_n = kdf.n.trailing_zeros() as u8;
    check_scrypt(log_n, kdf.r, kdf.p).map_err(bad_kdf)?;
    let salt = hex::decode(&kdf.salt).map_err(|_| bad_kdf("the salt is not hex".into()))?;
    if salt.is_empty() {
        return Err(bad_kdf("the salt is empty".into()));
    }

    let hex_field = |name: &str, value: &str, len: usize| -> Result<Vec<u8>, KeystoreError> {
        match hex::decode(value) {
            Ok(bytes) if bytes.len() == len => Ok(bytes),
            _ => Err(KeystoreError::not_a_keystore(
                path,
                format!("`{name}` is not {len} bytes of hex"),
            )),
        }
    };
    let iv = hex_field("cipherparams.iv", &crypto.cipherparams.iv, 16)?;
    let ciphertext = hex_field("ciphertext", &crypto.ciphertext, 32)?;
    let mac = hex_field("mac", &crypto.mac, 32)?;

    let mut parsed = ParsedKeystore {
        id: file.id.unwrap_or_default(),
        identity,
        scrypt: ScryptParams { log_n, r: kdf.r, p: kdf.p },
        salt,
        iv: [0; 16],
        ciphertext: [0; 32],
        mac: B256::from_slice(&mac),
    };
    parsed.iv.copy_from_slice(&iv);
    parsed.ciphertext.copy_from_slice(&ciphertext);
    Ok(parsed)
}

/// A random (version 4) UUID, as the v3 format's `id`.
fn random_uuid() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// Writes a keystore atomically with mode 0600 (see [`crate::fs::write_atomic`]).
fn write_atomic(
    dir: &Path,
    path: &Path,
    contents: &[u8],
    overwrite: bool,
) -> Result<(), KeystoreError> {
    crate::fs::write_atomic(dir, path, contents, 0o600, overwrite).map_err(|err| match err {
        crate::fs::WriteError::Exists => KeystoreError::FileExists { path: path.to_path_buf() },
        crate::fs::WriteError::Io { path: at, action, source } => {
            KeystoreError::io(&at, action, source)
        }
    })
}

impl fmt::Display for KeyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_is_v4() {
        let id = random_uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn scrypt_bounds() {
        assert!(ScryptParams::new(18, 8, 1).is_ok());
        assert!(ScryptParams::new(0, 8, 1).is_err());
        assert!(ScryptParams::new(10, 0, 1).is_err());
        assert!(ScryptParams::new(22, 8, 1).is_err(), "4 GiB is refused");
    }
}
