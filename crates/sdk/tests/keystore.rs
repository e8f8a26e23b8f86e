//! Keystore files: round trips, standard format, errors that say what to fix, atomic 0600 writes.

use std::{
    fs,
    path::{Path, PathBuf},
};

use alloy::{
    hex,
    primitives::{b256, keccak256, B256},
    signers::local::PrivateKeySigner,
};
use leash_sdk::{
    keystore::{CreateOptions, KeyInfo, Keystore, KeystoreError, ScryptParams},
    signer::{
        EcdsaSigner, KeyIdentity, P256PublicKey, P256Signer, SessionKey, SessionSigner, SignerKind,
        WebAuthnSigner,
    },
};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery staple";
const SECRET: B256 = b256!("0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");

fn light() -> CreateOptions {
    CreateOptions::new().scrypt(ScryptParams::light_for_tests())
}

fn create(path: &Path, key: &SessionKey) -> KeyInfo {
    Keystore::create_with(path, key, PASSWORD, light()).unwrap()
}

fn keys() -> Vec<SessionKey> {
    vec![
        EcdsaSigner::from_bytes(&SECRET).unwrap().into(),
        P256Signer::from_bytes(&SECRET).unwrap().into(),
        WebAuthnSigner::from_bytes(&SECRET)
            .unwrap()
            .with_relying_party("example.com", "https://agents.example.com")
            .unwrap()
            .into(),
    ]
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().path()).collect();
    files.sort();
    files
}

fn edit_json(path: &Path, edit: impl FnOnce(&mut Value)) {
    let mut json: Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    edit(&mut json);
    fs::write(path, serde_json::to_vec(&json).unwrap()).unwrap();
}

/// Neither the password nor the key may appear in an error's message or Debug output.
fn assert_no_secret(err: &KeystoreError) {
    let secret = hex::encode(SECRET);
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(PASSWORD), "password in {text}");
        assert!(!text.contains(&secret[..16]), "key in {text}");
    }
}

#[test]
fn every_kind_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let digest = keccak256(b"round trip");
    for (i, key) in keys().into_iter().enumerate() {
        let path = dir.path().join(format!("key-{i}.json"));
        let info = create(&path, &key);
        assert_eq!(info.identity, key.identity());
        assert_eq!(info.path, path);

        let opened = Keystore::open(&path, PASSWORD).unwrap();
        assert_eq!(opened.kind(), key.kind());
        assert_eq!(opened.identity(), key.identity());
        // Same secret: the deterministic signatures are identical.
        assert_eq!(opened.sign_digest_sync(digest).unwrap(), key.sign_digest_sync(digest).unwrap());
        assert!(matches!(
            (&key, &opened),
            (SessionKey::Ecdsa(_), SessionKey::Ecdsa(_))
                | (SessionKey::P256(_), SessionKey::P256(_))
                | (SessionKey::WebAuthn(_), SessionKey::WebAuthn(_))
        ));
        if let SessionKey::WebAuthn(signer) = &opened {
            assert_eq!(
                (signer.rp_id(), signer.origin()),
                ("example.com", "https://agents.example.com")
            );
        }

        // The identity is readable without the password.
        let read = Keystore::info(&path).unwrap();
        assert_eq!(read, info);
    }
}

#[test]
fn files_are_standard_v3_keystores() {
    let dir = tempfile::tempdir().unwrap();
    for (i, key) in keys().into_iter().enumerate() {
        let path = dir.path().join(format!("key-{i}.json"));
        let info = create(&path, &key);
        let json: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(json["version"], 3);
        assert_eq!(json["id"], info.id.as_str());
        assert_eq!(json["crypto"]["cipher"], "aes-128-ctr");
        assert_eq!(json["crypto"]["kdf"], "scrypt");
        assert_eq!(json["crypto"]["kdfparams"]["n"], 1024);
        assert_eq!(json["crypto"]["kdfparams"]["dklen"], 32);
        assert_eq!(json["leash"]["signer"], hex::encode_prefixed(key.signer_bytes()));
        let kind = json["leash"]["kind"].as_str().unwrap();

        // An independent v3 implementation decrypts the file to the same key.
        let secret = eth_keystore::decrypt_key(&path, PASSWORD).unwrap();
        assert_eq!(secret.len(), 32);
        let secret = B256::from_slice(&secret);
        match key.identity() {
            KeyIdentity::Ecdsa { address } => {
                assert_eq!(kind, "ecdsa");
                assert_eq!(json["address"], hex::encode(address));
                assert_eq!(PrivateKeySigner::from_bytes(&secret).unwrap().address(), address);
            }
            KeyIdentity::P256 { public_key } => {
                assert_eq!(kind, "p256");
                assert!(json.get("address").is_none());
                assert_eq!(P256Signer::from_bytes(&secret).unwrap().public_key(), public_key);
            }
            KeyIdentity::WebAuthn { public_key, rp_id, origin } => {
                assert_eq!(kind, "webauthn");
                assert_eq!(
                    (json["leash"]["rpId"].as_str(), json["leash"]["origin"].as_str()),
                    (Some(rp_id.as_str()), Some(origin.as_str()))
                );
                assert_eq!(P256Signer::from_bytes(&secret).unwrap().public_key(), public_key);
            }
        }
    }
}

#[test]
fn a_keystore_from_another_tool_opens_as_ecdsa() {
    let dir = tempfile::tempdir().unwrap();
    eth_keystore::encrypt_key(
        dir.path(),
        &mut rand::thread_rng(),
        SECRET,
        PASSWORD,
        Some("foreign"),
    )
    .unwrap();
    let path = dir.path().join("foreign");
    let key = Keystore::open(&path, PASSWORD).unwrap();
    assert_eq!(
        key.identity(),
        KeyIdentity::Ecdsa { address: PrivateKeySigner::from_bytes(&SECRET).unwrap().address() }
    );
    // It records no identity, so the password is needed to learn it.
    let err = Keystore::info(&path).unwrap_err();
    assert!(matches!(err, KeystoreError::NoIdentity { .. }), "{err}");

    // With the standard `address` field, the identity is known.
    let address = PrivateKeySigner::from_bytes(&SECRET).unwrap().address();
    edit_json(&path, |json| json["address"] = hex::encode(address).into());
    assert_eq!(Keystore::info(&path).unwrap().identity, KeyIdentity::Ecdsa { address });
}

#[test]
fn wrong_password_is_reported_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.json");
    create(&path, &SessionKey::from(P256Signer::from_bytes(&SECRET).unwrap()));
    let err = Keystore::open(&path, "not the password").unwrap_err();
    assert!(matches!(&err, KeystoreError::WrongPassword { path: p } if *p == path), "{err}");
    assert!(err.to_string().contains("wrong password"));
    assert!(err.to_string().contains(&path.display().to_string()));
    assert_no_secret(&err);
}

#[test]
fn a_modified_ciphertext_fails_the_mac() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.json");
    create(&path, &SessionKey::from(EcdsaSigner::from_bytes(&SECRET).unwrap()));
    edit_json(&path, |json| {
        let ciphertext = json["crypto"]["ciphertext"].as_str().unwrap();
        let mut bytes = hex::decode(ciphertext).unwrap();
        bytes[7] ^= 0x01;
        json["crypto"]["ciphertext"] = hex::encode(bytes).into();
    });
    let err = Keystore::open(&path, PASSWORD).unwrap_err();
    assert!(matches!(err, KeystoreError::WrongPassword { .. }), "{err}");
    assert!(err.to_string().contains("MAC"));
    assert_no_secret(&err);
}

#[test]
fn a_corrupted_file_names_itself() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.json");
    create(&path, &SessionKey::from(EcdsaSigner::from_bytes(&SECRET).unwrap()));
    let contents = fs::read(&path).unwrap();
    fs::write(&path, &contents[..contents.len() / 2]).unwrap();
    for err in [Keystore::open(&path, PASSWORD).unwrap_err(), Keystore::info(&path).unwrap_err()] {
        assert!(matches!(err, KeystoreError::NotAKeystore { .. }), "{err}");
        assert!(err.to_string().contains(&path.display().to_string()), "{err}");
        assert_no_secret(&err);
    }

    fs::write(&path, b"hello").unwrap();
    assert!(matches!(Keystore::open(&path, PASSWORD), Err(KeystoreError::NotAKeystore { .. })));
    fs::write(&path, br#"{"version":3}"#).unwrap();
    assert!(matches!(Keystore::open(&path, PASSWORD), Err(KeystoreError::NotAKeystore { .. })));
}

#[test]
fn unsupported_formats_say_what_is_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.json");
    let key = SessionKey::from(P256Signer::from_bytes(&SECRET).unwrap());
    let fresh = |path: &Path| {
        let _ = fs::remove_file(path);
        create(path, &key);
    };

    fresh(&path);
    edit_json(&path, |json| json["crypto"]["kdf"] = "pbkdf2".into());
    let err = Keystore::open(&path, PASSWORD).unwrap_err();
    assert!(matches!(&err, KeystoreError::UnsupportedKdf { kdf, .. } if kdf == "pbkdf2"), "{err}");

    fresh(&path);
    edit_json(&path, |json| json["crypto"]["cipher"] = "aes-128-cbc".into());
    assert!(matches!(
        Keystore::open(&path, PASSWORD),
        Err(KeystoreError::UnsupportedCipher { .. })
    ));

    fresh(&path);
    edit_json(&path, |json| json["version"] = 4.into());
    assert!(matches!(
        Keystore::open(&path, PASSWORD),
        Err(KeystoreError::UnsupportedVersion { .. })
    ));

    fresh(&path);
    edit_json(&path, |json| json["leash"]["kind"] = "ed25519".into());
    assert!(matches!(Keystore::info(&path), Err(KeystoreError::UnsupportedKind { .. })));

    // Parameters that would take 16 GiB are refused before running.
    fresh(&path);
    edit_json(&path, |json| json["crypto"]["kdfparams"]["n"] = (1u64 << 24).into());
    assert!(matches!(Keystore::open(&path, PASSWORD), Err(KeystoreError::InvalidKdfParams { .. })));

    fresh(&path);
    edit_json(&path, |json| json["crypto"]["kdfparams"]["n"] = 1000.into());
    assert!(matches!(Keystore::open(&path, PASSWORD), Err(KeystoreError::InvalidKdfParams { .. })));
}

#[test]
fn an_edited_identity_is_caught_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.json");
    create(&path, &SessionKey::from(P256Signer::from_bytes(&SECRET).unwrap()));
    let other: P256PublicKey = P256Signer::random().public_key();
    edit_json(&path, |json| json["leash"]["signer"] = other.to_string().into());
    // `info` reports what the file claims...
    assert_eq!(Keystore::info(&path).unwrap().identity, KeyIdentity::P256 { public_key: other });
    // ...and opening refuses a file whose claim is false.
    let err = Keystore::open(&path, PASSWORD).unwrap_err();
    assert!(matches!(err, KeystoreError::KeyMismatch { .. }), "{err}");
}

#[cfg(unix)]
#[test]
fn files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.json");
    create(&path, &SessionKey::random(SignerKind::Ecdsa));
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);

    // Replacing a file that was readable by others leaves a private one.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    Keystore::create_with(
        &path,
        &SessionKey::random(SignerKind::P256),
        PASSWORD,
        light().overwrite(true),
    )
    .unwrap();
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn existing_files_are_kept_unless_overwriting_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.json");
    let first = SessionKey::random(SignerKind::Ecdsa);
    create(&path, &first);
    let before = fs::read(&path).unwrap();

    let second = SessionKey::random(SignerKind::WebAuthn);
    let err = Keystore::create_with(&path, &second, PASSWORD, light()).unwrap_err();
    assert!(matches!(&err, KeystoreError::FileExists { path: p } if *p == path), "{err}");
    assert_eq!(fs::read(&path).unwrap(), before, "the existing file is untouched");
    assert_eq!(files_in(dir.path()), std::slice::from_ref(&path), "no temporary file is left");

    Keystore::create_with(&path, &second, PASSWORD, light().overwrite(true)).unwrap();
    assert_eq!(Keystore::open(&path, PASSWORD).unwrap().identity(), second.identity());
    assert_eq!(files_in(dir.path()), [path]);
}

#[test]
fn a_failed_write_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing").join("key.json");
    let err =
        Keystore::create_with(&missing, &SessionKey::random(SignerKind::P256), PASSWORD, light())
            .unwrap_err();
    assert!(
        matches!(&err, KeystoreError::NotFound { path, .. } if *path == dir.path().join("missing")),
        "{err}"
    );
    assert!(files_in(dir.path()).is_empty());

    // A file where the directory should be.
    let not_dir = dir.path().join("file");
    fs::write(&not_dir, b"").unwrap();
    let err = Keystore::create_with(
        not_dir.join("key.json"),
        &SessionKey::random(SignerKind::P256),
        PASSWORD,
        light(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not a directory"), "{err}");
    assert_eq!(files_in(dir.path()), [not_dir]);
}

#[cfg(unix)]
#[test]
fn a_read_only_directory_is_a_permission_problem() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    fs::create_dir(&locked).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o500)).unwrap();
    // A privileged user (root in a container) writes anyway: nothing to check then.
    let privileged = fs::write(locked.join("probe"), b"").is_ok();
    if !privileged {
        let err = Keystore::create_with(
            locked.join("key.json"),
            &SessionKey::random(SignerKind::P256),
            PASSWORD,
            light(),
        )
        .unwrap_err();
        assert!(matches!(err, KeystoreError::PermissionDenied { .. }), "{err}");
        assert!(err.to_string().contains("permission denied"));
        assert!(files_in(&locked).is_empty());
    }
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn missing_files_and_empty_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.json");
    let err = Keystore::open(&path, PASSWORD).unwrap_err();
    assert!(matches!(err, KeystoreError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("does not exist"));

    let err = Keystore::create_with(&path, &SessionKey::random(SignerKind::Ecdsa), "", light())
        .unwrap_err();
    assert!(matches!(err, KeystoreError::EmptyPassword));
    assert!(!path.exists());
}

#[test]
fn listing_a_directory_shows_every_key_and_every_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys();
    for (i, key) in keys.iter().enumerate() {
        create(&dir.path().join(format!("{i}.json")), key);
    }
    fs::write(dir.path().join("notes.txt"), b"not a key").unwrap();
    fs::write(dir.path().join(".hidden"), b"ignored").unwrap();
    fs::create_dir(dir.path().join("sub")).unwrap();

    let listed = Keystore::list(dir.path()).unwrap();
    assert_eq!(listed.len(), 4);
    for (entry, key) in listed.iter().zip(&keys) {
        assert_eq!(entry.as_ref().unwrap().identity, key.identity());
    }
    assert!(
        matches!(&listed[3], Err(KeystoreError::NotAKeystore { path, .. }) if path.ends_with("notes.txt"))
    );
}

#[test]
fn scrypt_parameters() {
    assert_eq!(ScryptParams::default(), ScryptParams::STANDARD);
    let standard = ScryptParams::STANDARD;
    assert_eq!((standard.log_n(), standard.r(), standard.p()), (18, 8, 1));
    assert_eq!(CreateOptions::new().scrypt_params(), ScryptParams::STANDARD);
    assert!(!CreateOptions::new().overwrites());
    let custom = ScryptParams::new(11, 8, 2).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.json");
    Keystore::create_with(
        &path,
        &SessionKey::random(SignerKind::Ecdsa),
        PASSWORD,
        CreateOptions::new().scrypt(custom),
    )
    .unwrap();
    let json: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(json["crypto"]["kdfparams"]["n"], 2048);
    assert_eq!(json["crypto"]["kdfparams"]["p"], 2);
    assert!(Keystore::open(&path, PASSWORD).is_ok());
}
