//! Session signers: the keys that sign for a session, in the exact format the validator module verifies.
//!
//! Every signer implements [`SessionSigner`]: it says which [`SignerKind`] it is, what goes in the
//! session's `signer` field ([`SessionSigner::signer_bytes`]) and signs a 32-byte digest (a use digest or
//! an ERC-1271 message digest computed by the module) into the signature bytes the module checks. The
//! trait is object safe, so a key held elsewhere (a KMS, an HSM, a wallet) can implement it and be used
//! wherever an `Arc<dyn SessionSigner>` is.
//!
//! The local signers:
//!
//! | type | [`SignerKind`] | `Session.signer` | signature |
//! | --- | --- | --- | --- |
//! | [`EcdsaSigner`] | `Ecdsa` | 20-byte address | 65 bytes `r ‖ s ‖ v`, low `s`, over the raw digest |
//! | [`P256Signer`] | `P256` | 64-byte `x ‖ y` | 64 bytes `r ‖ s`, low `s`, over the raw digest |
//! | [`WebAuthnSigner`] | `WebAuthn` | 64-byte `x ‖ y` | ABI-encoded [`WebAuthnAuth`] whose challenge is the digest |
//!
//! [`SessionKey`] is the closed set of those three, which is what the keystore saves and opens.
//!
//! No signer prints its secret: their `Debug` shows only the public identity.

use std::{fmt, sync::Arc};

use alloy::primitives::{Address, Bytes, B256};
use async_trait::async_trait;
use zeroize::Zeroizing;

mod ecdsa;
mod p256;
mod webauthn;

pub(crate) use self::webauthn::check_relying_party;
pub use self::{
    ecdsa::EcdsaSigner,
    p256::{P256PublicKey, P256Signer},
    webauthn::{WebAuthnAuth, WebAuthnSigner, DEFAULT_ORIGIN, DEFAULT_RP_ID},
};
pub use leash_contracts::SignerKind;

/// What went wrong while building a signer or signing.
///
/// No variant carries key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignerError {
    /// The secret bytes are not a valid private key for the curve.
    #[error("invalid {curve} secret key: it must be a non-zero number below the curve order")]
    InvalidSecretKey {
        /// The curve the key was meant for (`secp256k1` or `P-256`).
        curve: &'static str,
    },
    /// The bytes are not a P-256 public key.
    #[error("invalid P-256 public key: {reason}")]
    InvalidPublicKey {
        /// Why the key was refused.
        reason: &'static str,
    },
    /// The WebAuthn relying party id or origin cannot produce assertions a browser would.
    #[error("invalid WebAuthn relying party: {0}")]
    InvalidRelyingParty(String),
    /// The key backend (a local key, a KMS, an HSM, a wallet) failed to sign.
    #[error("the signer failed to sign: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// A key that signs for a session.
///
/// Implementations produce exactly the bytes the session-key validator verifies for their
/// [`kind`](Self::kind); the digest is what the module computes (`useDigest` for a UserOperation,
/// `messageDigest` for an ERC-1271 message), and is signed as is, without any prefix.
///
/// The trait is object safe: store signers as `Arc<dyn SessionSigner>` and add remote ones (KMS, HSM,
/// wallet) by implementing it with `#[async_trait::async_trait]`. `Debug` is required and must never
/// show key material.
///
/// ```
/// use std::sync::Arc;
///
/// use alloy::primitives::{b256, Bytes};
/// use leash_sdk::signer::{EcdsaSigner, P256Signer, SessionSigner, SignerKind};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), leash_sdk::signer::SignerError> {
/// let signers: Vec<Arc<dyn SessionSigner>> =
///     vec![Arc::new(EcdsaSigner::random()), Arc::new(P256Signer::random())];
/// let digest = b256!("0x9c22ff5f21f0b81b113e63f7db6da94fedef11b2119b4088b89664fb9a3cb658");
/// for signer in &signers {
///     let signature: Bytes = signer.sign_digest(digest).await?;
///     match signer.kind() {
///         SignerKind::Ecdsa => assert_eq!((signer.signer_bytes().len(), signature.len()), (20, 65)),
///         _ => assert_eq!((signer.signer_bytes().len(), signature.len()), (64, 64)),
///     }
/// }
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait SessionSigner: fmt::Debug + Send + Sync {
    /// How the module verifies this signer's signatures (`Session.signerKind`).
    fn kind(&self) -> SignerKind;

    /// The signer's public identity as the session records it (`Session.signer`): the 20-byte address
    /// for ECDSA, the 64-byte public key `x ‖ y` for P-256 and WebAuthn.
    fn signer_bytes(&self) -> Bytes;

    /// Signs a 32-byte digest computed by the validator module and returns the signature bytes the
    /// module verifies for [`kind`](Self::kind).
    async fn sign_digest(&self, digest: B256) -> Result<Bytes, SignerError>;

    /// A signature of the length and shape [`sign_digest`](Self::sign_digest) gives for `digest`, made by no
    /// key: what an operation carries while the bundler estimates its gas, so the key signs once, after the
    /// gas fields are final. The module's check runs the same path on it as on a real signature and fails only
    /// at the last comparison (the bundler's estimate tolerates a failed signature); see [`stub_signature`].
    fn stub_signature(&self, digest: B256) -> Bytes {
        stub_signature(self.kind(), digest)
    }
}

/// The stub signature for a signer of `kind` (see [`SessionSigner::stub_signature`]):
///
/// - ECDSA: 65 bytes `r ‖ s ‖ v` with `r` the x of secp256k1's generator, `s = 1` and `v = 27`, which
///   recovers some address (never the zero address), so `ecrecover` runs as for a real signature;
/// - P-256: 64 bytes with `r` the x of P-256's generator and `s = 1`, in range and low, so the verification
///   runs in full;
/// - WebAuthn: an assertion for [`DEFAULT_RP_ID`] from [`DEFAULT_ORIGIN`] whose challenge is `digest` (so the
///   type, challenge and flag checks pass) with the P-256 stub as its signature. [`WebAuthnSigner`] uses its
///   own relying party, so the length is exact.
pub fn stub_signature(kind: SignerKind, digest: B256) -> Bytes {
    match kind {
        SignerKind::Ecdsa => {
            let mut signature = [0u8; 65];
            signature[..32].copy_from_slice(SECP256K1_GX.as_slice());
            signature[63] = 1;
            signature[64] = 27;
            Bytes::copy_from_slice(&signature)
        }
        SignerKind::P256 => {
            let (r, s) = webauthn::P256_STUB;
            [r.as_slice(), s.as_slice()].concat().into()
        }
        SignerKind::WebAuthn => webauthn::stub_assertion(DEFAULT_RP_ID, DEFAULT_ORIGIN, digest),
    }
}

/// The x coordinate of secp256k1's generator: a valid `r` whatever the digest.
const SECP256K1_GX: B256 =
    alloy::primitives::b256!("0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");

#[async_trait]
impl<T: SessionSigner + ?Sized> SessionSigner for Arc<T> {
    fn kind(&self) -> SignerKind {
        (**self).kind()
    }

    fn signer_bytes(&self) -> Bytes {
        (**self).signer_bytes()
    }

    async fn sign_digest(&self, digest: B256) -> Result<Bytes, SignerError> {
        (**self).sign_digest(digest).await
    }

    fn stub_signature(&self, digest: B256) -> Bytes {
        (**self).stub_signature(digest)
    }
}

#[async_trait]
impl<T: SessionSigner + ?Sized> SessionSigner for Box<T> {
    fn kind(&self) -> SignerKind {
        (**self).kind()
    }

    fn signer_bytes(&self) -> Bytes {
        (**self).signer_bytes()
    }

    async fn sign_digest(&self, digest: B256) -> Result<Bytes, SignerError> {
        (**self).sign_digest(digest).await
    }

    fn stub_signature(&self, digest: B256) -> Bytes {
        (**self).stub_signature(digest)
    }
}

/// The public identity of a session key: what a session names as its signer, plus the WebAuthn relying
/// party the key asserts for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeyIdentity {
    /// A secp256k1 key, known by its address.
    Ecdsa {
        /// The key's Ethereum address.
        address: Address,
    },
    /// A P-256 key signing raw digests.
    P256 {
        /// The public key.
        public_key: P256PublicKey,
    },
    /// A P-256 key signing through WebAuthn assertions.
    WebAuthn {
        /// The public key.
        public_key: P256PublicKey,
        /// The relying party id whose hash opens the authenticator data.
        rp_id: String,
        /// The origin written in the client data.
        origin: String,
    },
}

impl KeyIdentity {
    /// The signer kind of this key.
    pub const fn kind(&self) -> SignerKind {
        match self {
            Self::Ecdsa { .. } => SignerKind::Ecdsa,
            Self::P256 { .. } => SignerKind::P256,
            Self::WebAuthn { .. } => SignerKind::WebAuthn,
        }
    }

    /// What goes in `Session.signer` for this key.
    pub fn signer_bytes(&self) -> Bytes {
        match self {
            Self::Ecdsa { address } => Bytes::copy_from_slice(address.as_slice()),
            Self::P256 { public_key } | Self::WebAuthn { public_key, .. } => {
                public_key.to_bytes().into()
            }
        }
    }
}

impl fmt::Display for KeyIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ecdsa { address } => write!(f, "ecdsa {address}"),
            Self::P256 { public_key } => write!(f, "p256 {public_key}"),
            Self::WebAuthn { public_key, rp_id, origin } => {
                write!(f, "webauthn {public_key} (rp id {rp_id}, origin {origin})")
            }
        }
    }
}

/// A locally held session key of any kind: what the keystore saves and opens.
///
/// ```
/// use leash_sdk::signer::{SessionKey, SessionSigner, SignerKind};
///
/// let key = SessionKey::random(SignerKind::P256);
/// assert_eq!(key.kind(), SignerKind::P256);
/// assert_eq!(key.identity().signer_bytes(), key.signer_bytes());
/// let shared = key.into_shared(); // an Arc<dyn SessionSigner>
/// assert_eq!(shared.kind(), SignerKind::P256);
/// ```
#[derive(Clone, Debug)]
pub enum SessionKey {
    /// A secp256k1 key.
    Ecdsa(EcdsaSigner),
    /// A P-256 key signing raw digests.
    P256(P256Signer),
    /// A P-256 key signing through a software WebAuthn authenticator.
    WebAuthn(WebAuthnSigner),
}

impl SessionKey {
    /// A new random key of `kind` (a WebAuthn key asserts for [`DEFAULT_RP_ID`] and [`DEFAULT_ORIGIN`];
    /// use [`WebAuthnSigner::with_relying_party`] for another relying party).
    pub fn random(kind: SignerKind) -> Self {
        match kind {
            SignerKind::Ecdsa => Self::Ecdsa(EcdsaSigner::random()),
            SignerKind::P256 => Self::P256(P256Signer::random()),
            SignerKind::WebAuthn => Self::WebAuthn(WebAuthnSigner::random()),
        }
    }

    /// The public identity of this key.
    pub fn identity(&self) -> KeyIdentity {
        match self {
            Self::Ecdsa(signer) => KeyIdentity::Ecdsa { address: signer.address() },
            Self::P256(signer) => KeyIdentity::P256 { public_key: signer.public_key() },
            Self::WebAuthn(signer) => KeyIdentity::WebAuthn {
                public_key: signer.public_key(),
                rp_id: signer.rp_id().to_owned(),
                origin: signer.origin().to_owned(),
            },
        }
    }

    /// This key as a shared trait object.
    pub fn into_shared(self) -> Arc<dyn SessionSigner> {
        match self {
            Self::Ecdsa(signer) => Arc::new(signer),
            Self::P256(signer) => Arc::new(signer),
            Self::WebAuthn(signer) => Arc::new(signer),
        }
    }

    /// Signs `digest` without an async runtime; see [`SessionSigner::sign_digest`].
    pub fn sign_digest_sync(&self, digest: B256) -> Result<Bytes, SignerError> {
        match self {
            Self::Ecdsa(signer) => signer.sign_digest_sync(digest),
            Self::P256(signer) => signer.sign_digest_sync(digest),
            Self::WebAuthn(signer) => signer.sign_digest_sync(digest),
        }
    }

    /// The raw 32-byte secret (zeroed when dropped): what the keystore encrypts, and what an explicit,
    /// confirmed export shows. Nothing else should ever see it.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        match self {
            Self::Ecdsa(signer) => signer.secret_bytes(),
            Self::P256(signer) => signer.secret_bytes(),
            Self::WebAuthn(signer) => signer.p256().secret_bytes(),
        }
    }
}

#[async_trait]
impl SessionSigner for SessionKey {
    fn kind(&self) -> SignerKind {
        match self {
            Self::Ecdsa(signer) => signer.kind(),
            Self::P256(signer) => signer.kind(),
            Self::WebAuthn(signer) => signer.kind(),
        }
    }

    fn signer_bytes(&self) -> Bytes {
        match self {
            Self::Ecdsa(signer) => signer.signer_bytes(),
            Self::P256(signer) => signer.signer_bytes(),
            Self::WebAuthn(signer) => signer.signer_bytes(),
        }
    }

    async fn sign_digest(&self, digest: B256) -> Result<Bytes, SignerError> {
        self.sign_digest_sync(digest)
    }
}

impl From<EcdsaSigner> for SessionKey {
    fn from(signer: EcdsaSigner) -> Self {
        Self::Ecdsa(signer)
    }
}

impl From<P256Signer> for SessionKey {
    fn from(signer: P256Signer) -> Self {
        Self::P256(signer)
    }
}

impl From<WebAuthnSigner> for SessionKey {
    fn from(signer: WebAuthnSigner) -> Self {
        Self::WebAuthn(signer)
    }
}
