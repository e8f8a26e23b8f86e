//! secp256k1 session keys.

use std::fmt;

use alloy::{
    primitives::{Address, Bytes, B256},
    signers::{local::PrivateKeySigner, SignerSync},
};
use async_trait::async_trait;
use zeroize::Zeroizing;

use super::{SessionSigner, SignerError, SignerKind};

/// A secp256k1 session key held in memory.
///
/// It signs the module's digest as is (no EIP-191 prefix) and returns the 65 bytes `r ‖ s ‖ v`
/// (`v` is 27 or 28) with a low `s`, which is what OpenZeppelin's `ECDSA.tryRecover` accepts. The session
/// names it by its address.
///
/// ```
/// use alloy::primitives::{b256, Signature};
/// use leash_sdk::signer::EcdsaSigner;
///
/// let secret = b256!("0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");
/// let signer = EcdsaSigner::from_bytes(&secret)?;
/// let digest = b256!("0x9c22ff5f21f0b81b113e63f7db6da94fedef11b2119b4088b89664fb9a3cb658");
/// let signature = signer.sign_digest_sync(digest)?;
/// assert_eq!(signature.len(), 65);
/// let recovered = Signature::from_raw(&signature).unwrap().recover_address_from_prehash(&digest).unwrap();
/// assert_eq!(recovered, signer.address());
/// // Debug shows the address, never the key.
/// assert!(!format!("{signer:?}").contains("4c0883a6"));
/// # Ok::<(), leash_sdk::signer::SignerError>(())
/// ```
#[derive(Clone)]
pub struct EcdsaSigner {
    inner: PrivateKeySigner,
}

impl EcdsaSigner {
    /// A new random key from the operating system's randomness.
    pub fn random() -> Self {
        Self { inner: PrivateKeySigner::random_with(&mut rand::rngs::OsRng) }
    }

    /// The key whose secret scalar is `secret` (big-endian).
    ///
    /// Fails when `secret` is zero or not below the secp256k1 group order.
    pub fn from_bytes(secret: &B256) -> Result<Self, SignerError> {
        PrivateKeySigner::from_bytes(secret)
            .map(Self::from)
            .map_err(|_| SignerError::InvalidSecretKey { curve: "secp256k1" })
    }

    /// The key's Ethereum address: what `Session.signer` holds for it.
    pub fn address(&self) -> Address {
        self.inner.address()
    }

    /// Signs `digest` as is and returns `r ‖ s ‖ v` (65 bytes, low `s`, `v` ∈ {27, 28}).
    pub fn sign_digest_sync(&self, digest: B256) -> Result<Bytes, SignerError> {
        let signature = self
            .inner
            .sign_hash_sync(&digest)
            .map_err(|err| SignerError::Backend(Box::new(err)))?;
        // The signer already produces a low s (EIP-2); normalising again costs nothing and keeps the
        // guarantee explicit, since the module's `tryRecover` refuses a high s.
        let signature = signature.normalized_s();
        Ok(Bytes::copy_from_slice(&signature.as_bytes()))
    }

    pub(crate) fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.inner.to_bytes().0)
    }
}

/// An owner key kept in a keystore becomes the signer [`crate::Owner`] takes.
impl From<EcdsaSigner> for PrivateKeySigner {
    fn from(signer: EcdsaSigner) -> Self {
        signer.inner
    }
}

impl From<PrivateKeySigner> for EcdsaSigner {
    fn from(inner: PrivateKeySigner) -> Self {
        Self { inner }
    }
}

impl fmt::Debug for EcdsaSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EcdsaSigner").field("address", &self.address()).finish_non_exhaustive()
    }
}

#[async_trait]
impl SessionSigner for EcdsaSigner {
    fn kind(&self) -> SignerKind {
        SignerKind::Ecdsa
    }

    fn signer_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self.address().as_slice())
    }

    async fn sign_digest(&self, digest: B256) -> Result<Bytes, SignerError> {
        self.sign_digest_sync(digest)
    }
}
