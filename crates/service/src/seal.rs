//! Session keys at rest: envelope encryption.
//!
//! Each tenant has a random 256-bit data key, stored only wrapped by a key-encryption key
//! ([`KeyEncryptionKey`]): a file or an environment variable here ([`LocalKek`]), a KMS behind the same trait.
//! A session key is sealed by its tenant's data key with AES-256-GCM, with `(tenant, session)` as associated
//! data, so a ciphertext copied into another tenant's or session's row does not open. Keys are opened in memory
//! to sign and never leave the service.
//!
//! AES-GCM comes from RustCrypto's `aes-gcm` (audited, constant-time with AES-NI); what is written here is only
//! the layout: `nonce (12 bytes) || ciphertext || tag (16 bytes)`.

use aes_gcm::{
    aead::{Aead, KeyInit, Payload},
    Aes256Gcm, Nonce,
};
use rand::RngCore;
use zeroize::{Zeroize, Zeroizing};

const NONCE: usize = 12;

/// Sealing or opening failed. Says which, never what the key or plaintext was.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The ciphertext does not open under this key and binding: altered, moved to another row, or wrapped by
    /// another key-encryption key.
    #[error(
        "{0} does not open: it was altered, moved from another row, or sealed under another key"
    )]
    DoesNotOpen(&'static str),
    /// The key-encryption key could not be loaded.
    #[error("the key-encryption key {0}")]
    Kek(String),
}

/// Wraps and unwraps tenants' data keys. A KMS implements it by calling its encrypt and decrypt operations.
pub trait KeyEncryptionKey: Send + Sync + std::fmt::Debug {
    /// The key's identifier, recorded beside each wrapped data key (for rotation).
    fn id(&self) -> &str;
    /// Wraps `data_key`, bound to `tenant`.
    fn wrap(&self, tenant: &str, data_key: &DataKey) -> Result<Vec<u8>, SealError>;
    /// Unwraps a data key wrapped for `tenant`.
    fn unwrap(&self, tenant: &str, wrapped: &[u8]) -> Result<DataKey, SealError>;
}

/// A tenant's data key, in memory only; wiped when dropped.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// A new random data key.
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        Self(key)
    }

    /// Seals a session key, bound to `(tenant, session)`.
    pub fn seal_session_key(&self, tenant: i64, session: i64, key: &[u8]) -> Vec<u8> {
        seal(&self.0, &session_binding(tenant, session), key)
    }

    /// Opens a session key sealed for `(tenant, session)`.
    pub fn open_session_key(
        &self,
        tenant: i64,
        session: i64,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        open(&self.0, &session_binding(tenant, session), sealed, "the session key")
    }
}

fn session_binding(tenant: i64, session: i64) -> Vec<u8> {
    format!("leash/session-key/v1/tenant/{tenant}/session/{session}").into_bytes()
}

fn seal(key: &[u8; 32], binding: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; NONCE];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad: binding })
        .expect("AES-GCM seals any message shorter than 64 GiB");
    [nonce.as_slice(), &sealed].concat()
}

fn open(
    key: &[u8; 32],
    binding: &[u8],
    sealed: &[u8],
    what: &'static str,
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    if sealed.len() < NONCE + 16 {
        return Err(SealError::DoesNotOpen(what));
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE);
    let nonce: [u8; NONCE] = nonce.try_into().expect("split at the nonce's length");
    Aes256Gcm::new(key.into())
        .decrypt(&Nonce::from(nonce), Payload { msg: ciphertext, aad: binding })
        .map(Zeroizing::new)
        .map_err(|_| SealError::DoesNotOpen(what))
}

/// A key-encryption key held by the service: 32 random bytes, hex, from a file or an environment variable.
pub struct LocalKek {
    id: String,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for LocalKek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKek").field("id", &self.id).finish_non_exhaustive()
    }
}

impl LocalKek {
    /// The key from its hex text (64 hex digits, optionally `0x`-prefixed, surrounding blanks ignored).
    pub fn from_hex(id: impl Into<String>, text: &str) -> Result<Self, SealError> {
        let text = text.trim();
        let digits = text.strip_prefix("0x").unwrap_or(text);
        let mut key = Zeroizing::new([0u8; 32]);
        alloy::hex::decode_to_slice(digits, key.as_mut()).map_err(|_| {
            SealError::Kek(
                "must be 64 hex digits (32 random bytes, e.g. `openssl rand -hex 32`)".into(),
            )
        })?;
        Ok(Self { id: id.into(), key })
    }

    /// The key in `path`; the file must be readable by its owner only.
    pub fn from_file(path: &std::path::Path) -> Result<Self, SealError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(path).map_err(|e| {
                SealError::Kek(format!("file {} cannot be read: {e}", path.display()))
            })?;
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(SealError::Kek(format!(
                    "file {} is readable by others: `chmod 600` it",
                    path.display()
                )));
            }
        }
        let mut text =
            Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                SealError::Kek(format!("file {} cannot be read: {e}", path.display()))
            })?);
        let kek = Self::from_hex(format!("file:{}", path.display()), &text);
        text.zeroize();
        kek
    }

    /// A new random key (written to a file by `leash serve --devnet`), and its hex text.
    pub fn generate(id: impl Into<String>) -> (Self, Zeroizing<String>) {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        let hex = Zeroizing::new(alloy::hex::encode(key.as_ref()));
        (Self { id: id.into(), key }, hex)
    }
}

impl KeyEncryptionKey for LocalKek {
    fn id(&self) -> &str {
        &self.id
    }

    fn wrap(&self, tenant: &str, data_key: &DataKey) -> Result<Vec<u8>, SealError> {
        Ok(seal(&self.key, &tenant_binding(tenant), data_key.0.as_ref()))
    }

    fn unwrap(&self, tenant: &str, wrapped: &[u8]) -> Result<DataKey, SealError> {
        let opened = open(&self.key, &tenant_binding(tenant), wrapped, "the tenant's data key")?;
        let key: [u8; 32] = opened
            .as_slice()
            .try_into()
            .map_err(|_| SealError::DoesNotOpen("the tenant's data key"))?;
        Ok(DataKey(Zeroizing::new(key)))
    }
}

fn tenant_binding(tenant: &str) -> Vec<u8> {
    format!("leash/data-key/v1/tenant/{tenant}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_key_opens_only_in_its_own_row() {
        let data_key = DataKey::generate();
        let sealed = data_key.seal_session_key(1, 7, b"secret key bytes");
        assert_eq!(
            data_key.open_session_key(1, 7, &sealed).unwrap().as_slice(),
            b"secret key bytes"
        );
        // Moved to another session, another tenant, or opened with another tenant's data key: refused.
        assert!(data_key.open_session_key(1, 8, &sealed).is_err());
        assert!(data_key.open_session_key(2, 7, &sealed).is_err());
        assert!(DataKey::generate().open_session_key(1, 7, &sealed).is_err());
        // One flipped bit anywhere: refused.
        for i in 0..sealed.len() {
            let mut altered = sealed.clone();
            altered[i] ^= 1;
            assert!(data_key.open_session_key(1, 7, &altered).is_err(), "byte {i}");
        }
        assert!(data_key.open_session_key(1, 7, &sealed[..20]).is_err());
    }

    #[test]
    fn a_data_key_unwraps_only_for_its_tenant_and_kek() {
        let (kek, _) = LocalKek::generate("test");
        let data_key = DataKey::generate();
        let wrapped = kek.wrap("acme", &data_key).unwrap();
        let unwrapped = kek.unwrap("acme", &wrapped).unwrap();
        assert_eq!(unwrapped.0.as_ref(), data_key.0.as_ref());
        assert!(kek.unwrap("globex", &wrapped).is_err());
        let (other, _) = LocalKek::generate("other");
        assert!(other.unwrap("acme", &wrapped).is_err());
    }

    #[test]
    fn kek_text_must_be_32_bytes_of_hex() {
        let hex = "11".repeat(32);
        assert!(LocalKek::from_hex("env", &hex).is_ok());
        assert!(LocalKek::from_hex("env", &format!(" 0x{hex}\n")).is_ok());
        let short = LocalKek::from_hex("env", "1234").unwrap_err().to_string();
        assert!(short.contains("64 hex digits"), "{short}");
        assert!(!short.contains("1234"), "the error never repeats the key text: {short}");
        assert!(LocalKek::from_hex("env", &"zz".repeat(32)).is_err());
    }

    #[test]
    fn debug_output_shows_no_key() {
        let (kek, hex) = LocalKek::generate("test");
        assert!(!format!("{kek:?}").contains(hex.as_str()));
        assert_eq!(format!("{:?}", DataKey::generate()), "DataKey(..)");
    }
}
