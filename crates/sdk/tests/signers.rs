//! Session signers produce what the validator module verifies, checked independently of the signers.

use std::sync::Arc;

use alloy::{
    hex,
    primitives::{b256, keccak256, Bytes, Signature, B256, U256},
    signers::local::PrivateKeySigner,
    sol_types::{sol_data, SolType},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use leash_sdk::signer::{
    EcdsaSigner, P256PublicKey, P256Signer, SessionKey, SessionSigner, SignerError, SignerKind,
    WebAuthnAuth, WebAuthnSigner, DEFAULT_ORIGIN, DEFAULT_RP_ID,
};
use p256::ecdsa::{signature::hazmat::PrehashVerifier, Signature as P256Signature};
use sha2::{Digest as _, Sha256};

const SECRET: B256 = b256!("0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");

/// OpenZeppelin `P256.HALF_N`: the largest `s` `P256.verify` accepts.
const P256_HALF_N: U256 =
    U256::from_be_slice(&hex!("7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8"));
/// The P-256 group order.
const P256_N: U256 =
    U256::from_be_slice(&hex!("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"));
/// The largest `s` OpenZeppelin `ECDSA.tryRecover` accepts (secp256k1 n / 2).
const SECP256K1_HALF_N: U256 =
    U256::from_be_slice(&hex!("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0"));

/// Distinct digests, as the module's keccak-based digests are.
fn digests(count: u64) -> impl Iterator<Item = B256> {
    (0..count).map(|i| keccak256(i.to_be_bytes()))
}

fn word(bytes: &[u8], at: usize) -> U256 {
    U256::from_be_slice(&bytes[at..at + 32])
}

// -------------------------------------------------------------------------------------------------------
// ECDSA
// -------------------------------------------------------------------------------------------------------

#[test]
fn ecdsa_signature_recovers_to_the_session_signer() {
    let signer = EcdsaSigner::from_bytes(&SECRET).unwrap();
    let reference = PrivateKeySigner::from_bytes(&SECRET).unwrap();
    assert_eq!(signer.address(), reference.address());
    assert_eq!(signer.kind(), SignerKind::Ecdsa);
    assert_eq!(signer.signer_bytes(), Bytes::copy_from_slice(reference.address().as_slice()));

    for digest in digests(300) {
        let signature = signer.sign_digest_sync(digest).unwrap();
        assert_eq!(signature.len(), 65);
        // What `ECDSA.tryRecover` requires: v is 27 or 28, s is low, and the digest is used raw.
        assert!(matches!(signature[64], 27 | 28), "v = {}", signature[64]);
        let s = word(&signature, 32);
        assert!(s > U256::ZERO && s <= SECP256K1_HALF_N, "high s for {digest}");
        let recovered =
            Signature::from_raw(&signature).unwrap().recover_address_from_prehash(&digest).unwrap();
        assert_eq!(recovered, signer.address());
    }
}

#[test]
fn ecdsa_signs_the_raw_digest_without_a_prefix() {
    let signer = EcdsaSigner::random();
    let digest = keccak256(b"use digest");
    let signature = Signature::from_raw(&signer.sign_digest_sync(digest).unwrap()).unwrap();
    let prefixed = alloy::primitives::eip191_hash_message(digest);
    assert_ne!(signature.recover_address_from_prehash(&prefixed).ok(), Some(signer.address()));
    assert_eq!(signature.recover_address_from_prehash(&digest).unwrap(), signer.address());
}

#[test]
fn invalid_secrets_are_refused() {
    let order_k1 = b256!("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
    let order_r1 = B256::from(P256_N);
    assert!(matches!(
        EcdsaSigner::from_bytes(&B256::ZERO),
        Err(SignerError::InvalidSecretKey { .. })
    ));
    assert!(EcdsaSigner::from_bytes(&order_k1).is_err());
    assert!(matches!(
        P256Signer::from_bytes(&B256::ZERO),
        Err(SignerError::InvalidSecretKey { .. })
    ));
    assert!(P256Signer::from_bytes(&order_r1).is_err());
    assert!(WebAuthnSigner::from_bytes(&order_r1).is_err());
}

// -------------------------------------------------------------------------------------------------------
// P-256
// -------------------------------------------------------------------------------------------------------

#[test]
fn p256_signature_verifies_and_is_low_s() {
    let signer = P256Signer::from_bytes(&SECRET).unwrap();
    let reference = p256::ecdsa::SigningKey::from_bytes(&SECRET.0.into()).unwrap();
    let point = reference.verifying_key().to_encoded_point(false);
    assert_eq!(signer.signer_bytes().as_ref(), &point.as_bytes()[1..]);
    assert_eq!(signer.public_key().x().as_slice(), &point.x().unwrap()[..]);
    assert_eq!(signer.public_key().y().as_slice(), &point.y().unwrap()[..]);
    assert_eq!(signer.kind(), SignerKind::P256);

    let verifying_key = reference.verifying_key();
    for digest in digests(300) {
        let signature = signer.sign_digest_sync(digest).unwrap();
        assert_eq!(signature.len(), 64);
        // `P256.verify`'s `_isProperSignature`: 0 < r < N and 0 < s <= HALF_N.
        let (r, s) = (word(&signature, 0), word(&signature, 32));
        assert!(r > U256::ZERO && r < P256_N);
        assert!(s > U256::ZERO && s <= P256_HALF_N, "high s for {digest}");
        let parsed = P256Signature::from_slice(&signature).unwrap();
        verifying_key.verify_prehash(digest.as_slice(), &parsed).unwrap();
    }
}

#[test]
fn p256_public_key_parses_and_serialises() {
    let public_key = P256Signer::from_bytes(&SECRET).unwrap().public_key();
    let text = public_key.to_string();
    assert!(text.starts_with("0x") && text.len() == 2 + 128);
    assert_eq!(text.parse::<P256PublicKey>().unwrap(), public_key);
    let json = serde_json::to_string(&public_key).unwrap();
    assert_eq!(serde_json::from_str::<P256PublicKey>(&json).unwrap(), public_key);
    assert!(P256PublicKey::from_bytes(&public_key.to_bytes()[..63]).is_err());
    assert!(P256PublicKey::from_bytes(&[0u8; 64]).is_err());
}

// -------------------------------------------------------------------------------------------------------
// WebAuthn
// -------------------------------------------------------------------------------------------------------

/// Everything OpenZeppelin's `WebAuthn.tryDecodeAuth` and `WebAuthn.verify` check, redone by hand on the
/// raw signature bytes, then the P-256 signature checked with the `p256` crate.
fn check_webauthn(
    signature: &[u8],
    digest: B256,
    public_key: &P256PublicKey,
    rp_id: &str,
    origin: &str,
) {
    // tryDecodeAuth: six head words; the two offsets and the lengths they point at stay inside the input.
    assert!(signature.len() >= 0xc0);
    let auth_data_offset = word(signature, 0x80).to::<usize>();
    let client_data_offset = word(signature, 0xa0).to::<usize>();
    assert!(
        signature.len() - 0x20 >= auth_data_offset && signature.len() - 0x20 >= client_data_offset
    );
    let auth_data_len = word(signature, auth_data_offset).to::<usize>();
    let client_data_len = word(signature, client_data_offset).to::<usize>();
    assert!(signature.len() - auth_data_offset - 0x20 >= auth_data_len);
    assert!(signature.len() - client_data_offset - 0x20 >= client_data_len);
    let r = B256::from_slice(&signature[..32]);
    let s = B256::from_slice(&signature[32..64]);
    let challenge_index = word(signature, 0x40).to::<usize>();
    let type_index = word(signature, 0x60).to::<usize>();
    let auth_data = &signature[auth_data_offset + 32..auth_data_offset + 32 + auth_data_len];
    let client_data = std::str::from_utf8(
        &signature[client_data_offset + 32..client_data_offset + 32 + client_data_len],
    )
    .unwrap();

    // The struct decoding agrees with the hand decoding.
    let auth = WebAuthnAuth::decode_signature(signature).unwrap();
    assert_eq!((auth.r, auth.s), (r, s));
    assert_eq!(
        (auth.challengeIndex.to::<usize>(), auth.typeIndex.to::<usize>()),
        (challenge_index, type_index)
    );
    assert_eq!(auth.authenticatorData.as_ref(), auth_data);
    assert_eq!(auth.clientDataJSON, client_data);
    // ... and so does a plain tuple of the same Solidity types.
    type Fields = (
        sol_data::FixedBytes<32>,
        sol_data::FixedBytes<32>,
        sol_data::Uint<256>,
        sol_data::Uint<256>,
        sol_data::Bytes,
        sol_data::String,
    );
    let fields = Fields::abi_decode_params(signature).unwrap();
    assert_eq!(
        (fields.0, fields.1, fields.4.as_ref(), fields.5.as_str()),
        (r, s, auth_data, client_data)
    );

    // The client data, read as JSON.
    let json: serde_json::Value = serde_json::from_str(client_data).unwrap();
    assert_eq!(json["type"], "webauthn.get");
    assert_eq!(json["challenge"], URL_SAFE_NO_PAD.encode(digest));
    assert_eq!(json["origin"], origin);
    assert_eq!(json["crossOrigin"], false);

    // verify: the type and challenge at their indices, the flags, then the signature.
    assert!(auth_data.len() > 36);
    assert!(client_data.len() >= type_index + 21);
    assert_eq!(&client_data[type_index..type_index + 21], r#""type":"webauthn.get""#);
    let expected_challenge = format!(r#""challenge":"{}""#, URL_SAFE_NO_PAD.encode(digest));
    assert_eq!(
        &client_data[challenge_index..challenge_index + expected_challenge.len()],
        expected_challenge
    );
    let flags = auth_data[32];
    assert_eq!(flags & 0x01, 0x01, "user present");
    assert_eq!(flags & 0x04, 0x04, "user verified");
    assert!(flags & 0x08 == 0x08 || flags & 0x10 == 0, "backup state without backup eligibility");
    assert_eq!(&auth_data[..32], &Sha256::digest(rp_id.as_bytes())[..], "rpIdHash");

    let message = Sha256::new()
        .chain_update(auth_data)
        .chain_update(Sha256::digest(client_data.as_bytes()))
        .finalize();
    assert_eq!(auth.signed_hash().as_slice(), &message[..]);
    let s_value = U256::from_be_bytes(s.0);
    assert!(s_value > U256::ZERO && s_value <= P256_HALF_N, "high s");
    let parsed = P256Signature::from_scalars(r.0, s.0).unwrap();
    public_key.verifying_key().verify_prehash(&message, &parsed).unwrap();
}

#[test]
fn webauthn_assertion_passes_every_check_of_the_module() {
    let signer = WebAuthnSigner::from_bytes(&SECRET).unwrap();
    assert_eq!(signer.kind(), SignerKind::WebAuthn);
    assert_eq!((signer.rp_id(), signer.origin()), (DEFAULT_RP_ID, DEFAULT_ORIGIN));
    assert_eq!(signer.public_key(), P256Signer::from_bytes(&SECRET).unwrap().public_key());
    assert_eq!(signer.signer_bytes().as_ref(), signer.public_key().to_bytes());
    for digest in digests(300) {
        let signature = signer.sign_digest_sync(digest).unwrap();
        check_webauthn(&signature, digest, &signer.public_key(), DEFAULT_RP_ID, DEFAULT_ORIGIN);
    }
}

#[test]
fn webauthn_encoding_matches_the_solidity_test_assertion() {
    // contracts/test/SessionLifecycle.t.sol builds its WebAuthn signature as
    // abi.encode(r, s, uint256(23), uint256(1), authenticatorData, clientDataJSON) with
    // authenticatorData = sha256("leash.local") || 0x05 || uint32(1).
    let signer = WebAuthnSigner::from_bytes(&SECRET).unwrap().with_sign_count(0);
    let digest = keccak256(b"a use digest");
    let auth = signer.assertion(digest).unwrap();

    let mut authenticator_data = Sha256::digest(b"leash.local").to_vec();
    authenticator_data.extend_from_slice(&[0x05, 0, 0, 0, 1]);
    let client_data = format!(
        r#"{{"type":"webauthn.get","challenge":"{}","origin":"https://leash.local","crossOrigin":false}}"#,
        URL_SAFE_NO_PAD.encode(digest)
    );
    assert_eq!(auth.authenticatorData.as_ref(), authenticator_data.as_slice());
    assert_eq!(auth.clientDataJSON, client_data);

    type Fields = (
        sol_data::FixedBytes<32>,
        sol_data::FixedBytes<32>,
        sol_data::Uint<256>,
        sol_data::Uint<256>,
        sol_data::Bytes,
        sol_data::String,
    );
    let expected = Fields::abi_encode_params(&(
        auth.r,
        auth.s,
        U256::from(23),
        U256::from(1),
        Bytes::from(authenticator_data),
        client_data,
    ));
    assert_eq!(auth.encode_signature().as_ref(), expected.as_slice());
    // The fields in sequence: the first word is r itself, not an offset to a tuple.
    assert_eq!(&auth.encode_signature()[..32], auth.r.as_slice());
}

#[test]
fn webauthn_with_a_relying_party_and_a_counter() {
    let signer = WebAuthnSigner::random()
        .with_relying_party("example.com", "https://wallet.example.com:8443")
        .unwrap()
        .with_sign_count(41);
    let clone = signer.clone();
    let digest = keccak256(b"x");
    let first = signer.assertion(digest).unwrap();
    let second = clone.assertion(digest).unwrap();
    assert_eq!(&first.authenticatorData[33..], &42u32.to_be_bytes());
    assert_eq!(&second.authenticatorData[33..], &43u32.to_be_bytes(), "clones share the counter");
    check_webauthn(
        &second.encode_signature(),
        digest,
        &signer.public_key(),
        "example.com",
        "https://wallet.example.com:8443",
    );

    // Without a counter the authenticator reports 0.
    let plain = WebAuthnSigner::random().assertion(digest).unwrap();
    assert_eq!(&plain.authenticatorData[33..], &[0, 0, 0, 0]);

    for (rp_id, origin) in
        [("example.com", "https://evil.com"), ("example.com", "http://example.com")]
    {
        let err = WebAuthnSigner::random().with_relying_party(rp_id, origin).unwrap_err();
        assert!(matches!(err, SignerError::InvalidRelyingParty(_)), "{err}");
    }
}

#[test]
fn tampered_webauthn_assertions_fail_the_checks() {
    let signer = WebAuthnSigner::random();
    let digest = keccak256(b"y");
    let auth = signer.assertion(digest).unwrap();
    // Another challenge in the client data changes the signed hash.
    let mut other = signer.assertion(keccak256(b"z")).unwrap();
    other.r = auth.r;
    other.s = auth.s;
    let parsed = P256Signature::from_scalars(other.r.0, other.s.0).unwrap();
    assert!(signer
        .public_key()
        .verifying_key()
        .verify_prehash(other.signed_hash().as_slice(), &parsed)
        .is_err());
}

// -------------------------------------------------------------------------------------------------------
// The trait
// -------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn signers_work_as_shared_trait_objects() {
    let signers: Vec<Arc<dyn SessionSigner>> = vec![
        Arc::new(EcdsaSigner::from_bytes(&SECRET).unwrap()),
        Arc::new(P256Signer::from_bytes(&SECRET).unwrap()),
        Arc::new(WebAuthnSigner::from_bytes(&SECRET).unwrap()),
        SessionKey::random(SignerKind::P256).into_shared(),
    ];
    let kinds: Vec<_> = signers.iter().map(|signer| signer.kind()).collect();
    assert_eq!(
        kinds,
        [SignerKind::Ecdsa, SignerKind::P256, SignerKind::WebAuthn, SignerKind::P256]
    );

    let digest = keccak256(b"trait");
    let ecdsa = signers[0].sign_digest(digest).await.unwrap();
    assert_eq!(ecdsa, EcdsaSigner::from_bytes(&SECRET).unwrap().sign_digest_sync(digest).unwrap());
    let p256 = signers[1].sign_digest(digest).await.unwrap();
    assert_eq!(p256, P256Signer::from_bytes(&SECRET).unwrap().sign_digest_sync(digest).unwrap());
    let public_key = P256PublicKey::from_bytes(&signers[2].signer_bytes()).unwrap();
    let webauthn = signers[2].sign_digest(digest).await.unwrap();
    check_webauthn(&webauthn, digest, &public_key, DEFAULT_RP_ID, DEFAULT_ORIGIN);

    // Arc<dyn SessionSigner> is itself a SessionSigner, and moves across tasks.
    async fn sign_with(signer: impl SessionSigner, digest: B256) -> Bytes {
        signer.sign_digest(digest).await.unwrap()
    }
    let shared = Arc::clone(&signers[1]);
    let task = tokio::spawn(async move { sign_with(shared, digest).await });
    assert_eq!(task.await.unwrap(), p256);
    let boxed: Box<dyn SessionSigner> = Box::new(P256Signer::from_bytes(&SECRET).unwrap());
    assert_eq!(sign_with(boxed, digest).await, p256);
}

#[test]
fn session_keys_of_each_kind() {
    for kind in [SignerKind::Ecdsa, SignerKind::P256, SignerKind::WebAuthn] {
        let key = SessionKey::random(kind);
        assert_eq!(key.kind(), kind);
        assert_eq!(key.identity().kind(), kind);
        assert_eq!(key.identity().signer_bytes(), key.signer_bytes());
        let expected_len = if kind == SignerKind::Ecdsa { 20 } else { 64 };
        assert_eq!(key.signer_bytes().len(), expected_len);
    }
}

// -------------------------------------------------------------------------------------------------------
// No secret in Debug
// -------------------------------------------------------------------------------------------------------

#[test]
fn debug_output_never_contains_the_secret() {
    let secret_hex = hex::encode(SECRET);
    let secret_forms = [secret_hex.clone(), secret_hex.to_uppercase(), format!("{:?}", SECRET.0)];
    let outputs = [
        format!("{:?}", EcdsaSigner::from_bytes(&SECRET).unwrap()),
        format!("{:#?}", EcdsaSigner::from_bytes(&SECRET).unwrap()),
        format!("{:?}", P256Signer::from_bytes(&SECRET).unwrap()),
        format!("{:#?}", P256Signer::from_bytes(&SECRET).unwrap()),
        format!("{:?}", WebAuthnSigner::from_bytes(&SECRET).unwrap()),
        format!("{:#?}", WebAuthnSigner::from_bytes(&SECRET).unwrap()),
        format!("{:?}", SessionKey::from(EcdsaSigner::from_bytes(&SECRET).unwrap())),
        format!("{:?}", SessionKey::from(P256Signer::from_bytes(&SECRET).unwrap())),
        format!("{:#?}", SessionKey::from(WebAuthnSigner::from_bytes(&SECRET).unwrap())),
        format!("{:?}", SessionKey::from(P256Signer::from_bytes(&SECRET).unwrap()).into_shared()),
    ];
    for output in &outputs {
        for secret in &secret_forms {
            assert!(!output.contains(secret.as_str()), "secret in {output}");
        }
        // A fragment too, in case of a partial or differently grouped rendering.
        assert!(!output.contains(&secret_hex[..16]), "secret fragment in {output}");
    }
    assert!(outputs[0].contains("address"));
    assert!(outputs[2].contains("public_key"));
}
