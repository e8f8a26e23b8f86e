//! A software WebAuthn authenticator for P-256 session keys.

use std::{
    fmt,
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc,
    },
};

use alloy::{
    primitives::{Bytes, B256, U256},
    sol,
    sol_types::SolValue,
};
use async_trait::async_trait;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use sha2::{Digest as _, Sha256};

use super::{P256PublicKey, P256Signer, SessionSigner, SignerError, SignerKind};

/// The relying party id a [`WebAuthnSigner`] asserts for unless told otherwise.
pub const DEFAULT_RP_ID: &str = "leash.local";

/// The origin a [`WebAuthnSigner`] writes in its client data unless told otherwise.
pub const DEFAULT_ORIGIN: &str = "https://leash.local";

/// Authenticator data flag: the user was present.
const FLAG_UP: u8 = 0x01;
/// Authenticator data flag: the user was verified.
const FLAG_UV: u8 = 0x04;

sol! {
    /// A WebAuthn assertion as OpenZeppelin's `WebAuthn` library reads it (`WebAuthn.WebAuthnAuth`).
    ///
    /// The session-key validator receives it as the signature of a WebAuthn session, encoded by
    /// [`WebAuthnAuth::encode_signature`] (the field sequence, which `WebAuthn.tryDecodeAuth` decodes).
    #[derive(Debug, PartialEq, Eq)]
    struct WebAuthnAuth {
        /// The `r` value of the P-256 signature.
        bytes32 r;
        /// The `s` value of the P-256 signature, at most half the curve order.
        bytes32 s;
        /// The byte index of `"challenge":"` in `clientDataJSON`.
        uint256 challengeIndex;
        /// The byte index of `"type":"` in `clientDataJSON`.
        uint256 typeIndex;
        /// The authenticator data: `sha256(rpId) ‖ flags ‖ signCount` (37 bytes).
        bytes authenticatorData;
        /// The client data JSON the authenticator signed the hash of.
        string clientDataJSON;
    }
}

impl WebAuthnAuth {
    /// The signature bytes the validator module expects for a WebAuthn session: `abi.encode(r, s,
    /// challengeIndex, typeIndex, authenticatorData, clientDataJSON)`, the struct's fields in sequence, as
    /// `WebAuthn.tryDecodeAuth` reads them (no leading offset word).
    pub fn encode_signature(&self) -> Bytes {
        self.abi_encode_params().into()
    }

    /// Reads signature bytes made by [`encode_signature`](Self::encode_signature).
    pub fn decode_signature(signature: &[u8]) -> Result<Self, alloy::sol_types::Error> {
        Self::abi_decode_params(signature)
    }

    /// The hash the P-256 signature covers: `sha256(authenticatorData ‖ sha256(clientDataJSON))`.
    pub fn signed_hash(&self) -> B256 {
        let client_data_hash = Sha256::digest(self.clientDataJSON.as_bytes());
        let mut hasher = Sha256::new();
        hasher.update(&self.authenticatorData);
        hasher.update(client_data_hash);
        B256::from_slice(&hasher.finalize())
    }
}

/// A P-256 session key behind a software WebAuthn authenticator.
///
/// Each signature is a real WebAuthn assertion whose challenge is the module's digest:
///
/// - authenticator data `sha256(rp id) ‖ flags ‖ signCount` with the user-present and user-verified flags
///   set (OpenZeppelin's `WebAuthn.verify` requires both) and the backup flags clear;
/// - client data `{"type":"webauthn.get","challenge":"<base64url(digest), no padding>","origin":"<origin>",
///   "crossOrigin":false}`, in the order and form browsers serialise it;
/// - a P-256 signature over `sha256(authenticatorData ‖ sha256(clientDataJSON))` with a low `s`.
///
/// The signature counter is 0 ("this authenticator keeps no counter", which the WebAuthn spec allows)
/// because one key may sign from several processes at once; [`with_sign_count`](Self::with_sign_count)
/// turns on an in-memory counter. The module ignores the counter, the relying party id hash and the
/// origin; they are right so that the assertions are also valid for an off-chain relying party.
///
/// ```
/// use alloy::primitives::b256;
/// use leash_sdk::signer::{WebAuthnAuth, WebAuthnSigner};
///
/// let signer = WebAuthnSigner::random().with_relying_party("example.com", "https://app.example.com")?;
/// let digest = b256!("0x9c22ff5f21f0b81b113e63f7db6da94fedef11b2119b4088b89664fb9a3cb658");
/// let signature = signer.sign_digest_sync(digest)?;
/// let auth = WebAuthnAuth::decode_signature(&signature).unwrap();
/// assert!(auth.clientDataJSON.starts_with(r#"{"type":"webauthn.get","challenge":"nCL_XyHwuBsRPmP3"#));
/// assert_eq!(auth.authenticatorData[32], 0x05); // user present and verified
/// # Ok::<(), leash_sdk::signer::SignerError>(())
/// ```
#[derive(Clone)]
pub struct WebAuthnSigner {
    key: P256Signer,
    rp_id: String,
    origin: String,
    rp_id_hash: B256,
    sign_count: Option<Arc<AtomicU32>>,
}

impl WebAuthnSigner {
    /// A new random key asserting for [`DEFAULT_RP_ID`] from [`DEFAULT_ORIGIN`].
    pub fn random() -> Self {
        Self::from_p256(P256Signer::random())
    }

    /// The key whose secret scalar is `secret` (big-endian), asserting for [`DEFAULT_RP_ID`] from
    /// [`DEFAULT_ORIGIN`].
    pub fn from_bytes(secret: &B256) -> Result<Self, SignerError> {
        P256Signer::from_bytes(secret).map(Self::from_p256)
    }

    /// Puts a P-256 key behind the authenticator, asserting for [`DEFAULT_RP_ID`] from
    /// [`DEFAULT_ORIGIN`].
    pub fn from_p256(key: P256Signer) -> Self {
        Self {
            key,
            rp_id: DEFAULT_RP_ID.to_owned(),
            origin: DEFAULT_ORIGIN.to_owned(),
            rp_id_hash: sha256(DEFAULT_RP_ID.as_bytes()),
            sign_count: None,
        }
    }

    /// Asserts for relying party `rp_id` from `origin`, under the rules browsers apply: `rp_id` is a
    /// lowercase domain name, and `origin` is `https://` followed by `rp_id` or one of its subdomains and
    /// an optional port (`http://localhost[:port]` is also accepted for the rp id `localhost`).
    pub fn with_relying_party(
        mut self,
        rp_id: impl Into<String>,
        origin: impl Into<String>,
    ) -> Result<Self, SignerError> {
        let (rp_id, origin) = (rp_id.into(), origin.into());
        check_relying_party(&rp_id, &origin)?;
        self.rp_id_hash = sha256(rp_id.as_bytes());
        self.rp_id = rp_id;
        self.origin = origin;
        Ok(self)
    }

    /// Counts assertions in memory: the next one carries `last + 1`, the one after `last + 2`, and so on.
    /// Clones share the counter.
    pub fn with_sign_count(mut self, last: u32) -> Self {
        self.sign_count = Some(Arc::new(AtomicU32::new(last)));
        self
    }

    /// The public key: what `Session.signer` holds for it.
    pub const fn public_key(&self) -> P256PublicKey {
        self.key.public_key()
    }

    /// The relying party id.
    pub fn rp_id(&self) -> &str {
        &self.rp_id
    }

    /// The origin written in the client data.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The P-256 key behind the authenticator.
    pub const fn p256(&self) -> &P256Signer {
        &self.key
    }

    /// Produces an assertion whose challenge is `digest`.
    pub fn assertion(&self, digest: B256) -> Result<WebAuthnAuth, SignerError> {
        let sign_count = match &self.sign_count {
            Some(counter) => counter.fetch_add(1, Ordering::Relaxed).wrapping_add(1),
            None => 0,
        };
        let mut auth = unsigned_assertion(self.rp_id_hash, &self.origin, sign_count, digest);
        (auth.r, auth.s) = self.key.sign_prehash(&auth.signed_hash())?;
        Ok(auth)
    }

    /// Signs `digest` through an assertion and returns it encoded as the module expects
    /// ([`WebAuthnAuth::encode_signature`]).
    pub fn sign_digest_sync(&self, digest: B256) -> Result<Bytes, SignerError> {
        self.assertion(digest).map(|auth| auth.encode_signature())
    }
}

impl fmt::Debug for WebAuthnSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebAuthnSigner")
            .field("public_key", &self.public_key())
            .field("rp_id", &self.rp_id)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl SessionSigner for WebAuthnSigner {
    fn kind(&self) -> SignerKind {
        SignerKind::WebAuthn
    }

    fn signer_bytes(&self) -> Bytes {
        self.public_key().to_bytes().into()
    }

    async fn sign_digest(&self, digest: B256) -> Result<Bytes, SignerError> {
        self.sign_digest_sync(digest)
    }

    fn stub_signature(&self, digest: B256) -> Bytes {
        let mut auth = unsigned_assertion(self.rp_id_hash, &self.origin, 0, digest);
        (auth.r, auth.s) = P256_STUB;
        auth.encode_signature()
    }
}

/// A P-256 signature no key made, in range and with a low `s` so a verifier runs in full before refusing it:
/// `r` is the x of P-256's generator, `s` is 1.
pub(super) const P256_STUB: (B256, B256) = (
    alloy::primitives::b256!("0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"),
    B256::with_last_byte(1),
);

/// The stub WebAuthn signature for relying party `rp_id` and `origin`: a real assertion's bytes for `digest` but
/// with [`P256_STUB`] as its signature.
pub(super) fn stub_assertion(rp_id: &str, origin: &str, digest: B256) -> Bytes {
    let mut auth = unsigned_assertion(sha256(rp_id.as_bytes()), origin, 0, digest);
    (auth.r, auth.s) = P256_STUB;
    auth.encode_signature()
}

/// An assertion whose challenge is `digest`, without its signature: the authenticator data (user present and
/// verified) and the client data in the order and form of the WebAuthn serialisation.
fn unsigned_assertion(
    rp_id_hash: B256,
    origin: &str,
    sign_count: u32,
    digest: B256,
) -> WebAuthnAuth {
    let mut authenticator_data = Vec::with_capacity(37);
    authenticator_data.extend_from_slice(rp_id_hash.as_slice());
    authenticator_data.push(FLAG_UP | FLAG_UV);
    authenticator_data.extend_from_slice(&sign_count.to_be_bytes());

    // The origin was checked to need no escaping.
    let mut client_data = String::with_capacity(160);
    client_data.push('{');
    let type_index = client_data.len();
    client_data.push_str(r#""type":"webauthn.get","#);
    let challenge_index = client_data.len();
    client_data.push_str(r#""challenge":""#);
    client_data.push_str(&URL_SAFE_NO_PAD.encode(digest));
    client_data.push_str(r#"","origin":""#);
    client_data.push_str(origin);
    client_data.push_str(r#"","crossOrigin":false}"#);

    WebAuthnAuth {
        r: B256::ZERO,
        s: B256::ZERO,
        challengeIndex: U256::from(challenge_index),
        typeIndex: U256::from(type_index),
        authenticatorData: authenticator_data.into(),
        clientDataJSON: client_data,
    }
}

fn sha256(data: &[u8]) -> B256 {
    B256::from_slice(&Sha256::digest(data))
}

/// Whether `name` is a lowercase DNS name (no IP address, no trailing dot).
fn is_domain(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && labels.last().is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks that `rp_id` and `origin` are what a browser would accept together; the origin then needs no
/// escaping inside the client data JSON.
pub(crate) fn check_relying_party(rp_id: &str, origin: &str) -> Result<(), SignerError> {
    let invalid = |reason: String| Err(SignerError::InvalidRelyingParty(reason));
    if !is_domain(rp_id) {
        return invalid(format!(
            "the rp id {rp_id:?} is not a lowercase domain name such as \"example.com\""
        ));
    }
    let authority = if let Some(rest) = origin.strip_prefix("https://") {
        rest
    } else if let Some(rest) = origin.strip_prefix("http://").filter(|_| rp_id == "localhost") {
        rest
    } else {
        return invalid(format!(
            "the origin {origin:?} must start with https:// (http:// only for localhost)"
        ));
    };
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|port| port != 0);
        if !valid {
            return invalid(format!("the origin {origin:?} has an invalid port"));
        }
    }
    if !is_domain(host) {
        return invalid(format!(
            "the origin {origin:?} must be scheme://host[:port] with a lowercase domain host and no path"
        ));
    }
    let host_matches =
        host == rp_id || host.strip_suffix(rp_id).is_some_and(|prefix| prefix.ends_with('.'));
    if !host_matches {
        return invalid(format!(
            "the origin {origin:?} is not on the rp id {rp_id:?} or one of its subdomains"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relying_party_rules() {
        for (rp_id, origin) in [
            ("leash.local", "https://leash.local"),
            ("example.com", "https://app.example.com"),
            ("example.com", "https://example.com:8443"),
            ("localhost", "http://localhost:3000"),
            ("localhost", "https://localhost"),
        ] {
            assert!(check_relying_party(rp_id, origin).is_ok(), "{rp_id} {origin}");
        }
        for (rp_id, origin) in [
            ("Example.com", "https://Example.com"),
            ("example.com", "http://example.com"),
            ("example.com", "https://evilexample.com"),
            ("example.com", "https://example.com/"),
            ("example.com", "https://example.com:0"),
            ("example.com", "https://example.com:99999"),
            ("example.com", "https://example.com\",\"x\":\""),
            ("127.0.0.1", "https://127.0.0.1"),
            ("", "https://"),
            ("app.example.com", "https://example.com"),
        ] {
            assert!(check_relying_party(rp_id, origin).is_err(), "{rp_id} {origin}");
        }
    }

    #[test]
    fn indices_point_at_the_fields() {
        let auth = WebAuthnSigner::random().assertion(B256::repeat_byte(0xab)).unwrap();
        let json = &auth.clientDataJSON;
        let type_index = auth.typeIndex.to::<usize>();
        let challenge_index = auth.challengeIndex.to::<usize>();
        assert!(json[type_index..].starts_with(r#""type":"webauthn.get""#));
        assert!(json[challenge_index..].starts_with(r#""challenge":""#));
        assert_eq!((type_index, challenge_index), (1, 23));
    }
}
