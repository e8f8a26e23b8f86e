//! P-256 (secp256r1) session keys signing raw digests.

use std::{fmt, str::FromStr};

use ::p256::{
    ecdsa::{signature::hazmat::PrehashSigner, Signature, SigningKey, VerifyingKey},
    EncodedPoint,
};
use alloy::{
    hex,
    primitives::{Bytes, B256},
};
use async_trait::async_trait;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use super::{SessionSigner, SignerError, SignerKind};

/// A P-256 public key: the affine coordinates `x ‖ y`, 64 bytes, which is what `Session.signer` holds
/// for P-256 and WebAuthn sessions.
///
/// Always a valid point of the curve (the constructors check it), so OpenZeppelin's
/// `P256.isValidPublicKey` accepts it. Displays and serialises as `0x`-prefixed hex of the 64 bytes.
///
/// ```
/// use leash_sdk::signer::{P256PublicKey, P256Signer};
///
/// let public_key = P256Signer::random().public_key();
/// let parsed: P256PublicKey = public_key.to_string().parse()?;
/// assert_eq!(parsed, public_key);
/// assert_eq!(P256PublicKey::from_bytes(&public_key.to_bytes())?, public_key);
/// assert!(P256PublicKey::from_bytes(&[1u8; 64]).is_err()); // not on the curve
/// # Ok::<(), leash_sdk::signer::SignerError>(())
/// ```
#[derive(Clone, Copy)]
pub struct P256PublicKey {
    xy: [u8; 64],
    key: VerifyingKey,
}

impl P256PublicKey {
    /// The public key whose coordinates are `bytes` = `x ‖ y` (64 bytes, big-endian).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SignerError> {
        let xy: [u8; 64] = bytes
            .try_into()
            .map_err(|_| SignerError::InvalidPublicKey { reason: "expected 64 bytes x || y" })?;
        let point = EncodedPoint::from_untagged_bytes(&xy.into());
        let key = VerifyingKey::from_encoded_point(&point).map_err(|_| {
            SignerError::InvalidPublicKey { reason: "the point is not on the curve" }
        })?;
        Ok(Self { xy, key })
    }

    /// The public key of a signing key.
    fn of(key: VerifyingKey) -> Self {
        let point = key.to_encoded_point(false);
        let mut xy = [0u8; 64];
        // An uncompressed SEC1 point is 0x04 ‖ x ‖ y.
        xy.copy_from_slice(&point.as_bytes()[1..]);
        Self { xy, key }
    }

    /// The x coordinate.
    pub fn x(&self) -> B256 {
        B256::from_slice(&self.xy[..32])
    }

    /// The y coordinate.
    pub fn y(&self) -> B256 {
        B256::from_slice(&self.xy[32..])
    }

    /// `x ‖ y`, the 64 bytes a session stores as its signer.
    pub const fn to_bytes(&self) -> [u8; 64] {
        self.xy
    }

    /// The key as a `p256` verifying key, to check signatures off-chain.
    pub const fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }
}

impl PartialEq for P256PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.xy == other.xy
    }
}

impl Eq for P256PublicKey {}

impl std::hash::Hash for P256PublicKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.xy.hash(state);
    }
}

impl fmt::Display for P256PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode_prefixed(self.xy))
    }
}

impl fmt::Debug for P256PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P256PublicKey({self})")
    }
}

impl FromStr for P256PublicKey {
    type Err = SignerError;

    /// Parses the hex of `x ‖ y`, with or without `0x`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = hex::decode(s)
            .map_err(|_| SignerError::InvalidPublicKey { reason: "expected the hex of x || y" })?;
        Self::from_bytes(&bytes)
    }
}

impl Serialize for P256PublicKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for P256PublicKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A P-256 session key held in memory, signing the module's digest as is.
///
/// Signatures are the 64 bytes `r ‖ s` with `s` at most half the curve order: OpenZeppelin's
/// `P256.verify` (and the RIP-7212 precompile path it takes) refuses a high `s`, so the signer always
/// returns the low form. Nonces are deterministic (RFC 6979).
///
/// ```
/// use alloy::primitives::b256;
/// use leash_sdk::signer::P256Signer;
/// use p256::ecdsa::{signature::hazmat::PrehashVerifier, Signature};
///
/// let signer = P256Signer::random();
/// let digest = b256!("0x9c22ff5f21f0b81b113e63f7db6da94fedef11b2119b4088b89664fb9a3cb658");
/// let signature = signer.sign_digest_sync(digest)?;
/// assert_eq!(signature.len(), 64);
/// let signature = Signature::from_slice(&signature).unwrap();
/// assert!(signer.public_key().verifying_key().verify_prehash(digest.as_slice(), &signature).is_ok());
/// # Ok::<(), leash_sdk::signer::SignerError>(())
/// ```
#[derive(Clone)]
pub struct P256Signer {
    key: SigningKey,
    public_key: P256PublicKey,
}

impl P256Signer {
    /// A new random key from the operating system's randomness.
    pub fn random() -> Self {
        Self::from_signing_key(SigningKey::random(&mut rand::rngs::OsRng))
    }

    /// The key whose secret scalar is `secret` (big-endian).
    ///
    /// Fails when `secret` is zero or not below the P-256 group order.
    pub fn from_bytes(secret: &B256) -> Result<Self, SignerError> {
        SigningKey::from_bytes(&secret.0.into())
            .map(Self::from_signing_key)
            .map_err(|_| SignerError::InvalidSecretKey { curve: "P-256" })
    }

    fn from_signing_key(key: SigningKey) -> Self {
        let public_key = P256PublicKey::of(*key.verifying_key());
        Self { key, public_key }
    }

    /// The public key: what `Session.signer` holds for it.
    pub const fn public_key(&self) -> P256PublicKey {
        self.public_key
    }

    /// Signs `digest` as is and returns `r ‖ s` (64 bytes, low `s`).
    pub fn sign_digest_sync(&self, digest: B256) -> Result<Bytes, SignerError> {
        let (r, s) = self.sign_prehash(&digest)?;
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(r.as_slice());
        out.extend_from_slice(s.as_slice());
        Ok(out.into())
    }

    /// Signs a 32-byte hash and returns `(r, s)` with a low `s`.
    pub(crate) fn sign_prehash(&self, hash: &B256) -> Result<(B256, B256), SignerError> {
        let signature: Signature = self
            .key
            .sign_prehash(hash.as_slice())
            .map_err(|err| SignerError::Backend(Box::new(err)))?;
        let signature = signature.normalize_s().unwrap_or(signature);
        let (r, s) = signature.split_bytes();
        Ok((B256::from_slice(&r), B256::from_slice(&s)))
    }

    pub(crate) fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.key.to_bytes().into())
    }
}

impl fmt::Debug for P256Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("P256Signer").field("public_key", &self.public_key).finish_non_exhaustive()
    }
}

#[async_trait]
impl SessionSigner for P256Signer {
    fn kind(&self) -> SignerKind {
        SignerKind::P256
    }

    fn signer_bytes(&self) -> Bytes {
        self.public_key.to_bytes().into()
    }

    async fn sign_digest(&self, digest: B256) -> Result<Bytes, SignerError> {
        self.sign_digest_sync(digest)
    }
}
