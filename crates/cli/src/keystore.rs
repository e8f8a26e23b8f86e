//! `leash keystore`: keys at rest, encrypted (Web3 Secret Storage v3, scrypt), one file per key.

use crate::{
    failure::{Failure, Result},
    home::Home,
    password::{self, KeyPassword},
    Out,
};
use alloy::{hex, primitives::B256};
use leash_sdk::{
    keystore::{KeyInfo, Keystore, ScryptParams},
    signer::{EcdsaSigner, KeyIdentity, SessionKey, SignerKind},
};
use leash_store::{Store, StoreError};
use serde_json::{json, Value};
use std::{io::IsTerminal, path::PathBuf};
use zeroize::Zeroizing;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Creates a new random key, encrypted with a password.
    Create {
        /// The key's name.
        name: String,
        /// The kind of key: ecdsa (owner keys and most session keys), p256 or webauthn (passkey-style).
        #[arg(long, value_enum, default_value_t = Kind::Ecdsa)]
        kind: Kind,
        /// Replace an existing key of that name (the old key is lost).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        password: KeyPassword,
    },
    /// Imports a secp256k1 private key, or another tool's v3 keystore file, under a name.
    Import {
        /// The name to keep it under.
        name: String,
        /// A file holding the private key in hex; without it (and without --keystore-file) the key is asked for
        /// on the terminal, hidden.
        #[arg(long, value_name = "FILE", conflicts_with = "keystore_file")]
        private_key_file: Option<PathBuf>,
        /// A Web3 Secret Storage v3 file (from geth, cast, ...); it is opened with the password and re-encrypted
        /// under the same one.
        #[arg(long, value_name = "FILE")]
        keystore_file: Option<PathBuf>,
        #[command(flatten)]
        password: KeyPassword,
    },
    /// Lists the keys: name, kind and public identity (no password needed).
    List,
    /// Shows one key's kind, public identity and file.
    Info {
        /// The key's name.
        name: String,
    },
    /// Deletes a key's file, after confirmation.
    Remove {
        /// The key's name.
        name: String,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
    /// Prints a key's private key: only when asked for explicitly and confirmed.
    Export {
        /// The key's name.
        name: String,
        /// Confirm showing the private key without asking.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        password: KeyPassword,
    },
}

/// Key kinds as the command line names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Kind {
    Ecdsa,
    P256,
    Webauthn,
}

impl From<Kind> for SignerKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Ecdsa => SignerKind::Ecdsa,
            Kind::P256 => SignerKind::P256,
            Kind::Webauthn => SignerKind::WebAuthn,
        }
    }
}

pub(crate) async fn run(command: Command, home: &Home, out: &Out) -> Result<()> {
    match command {
        Command::Create { name, kind, force, password } => {
            refuse_existing(home, &name, force).await?;
            let password = password::read(password.request(format!("new key `{name}`"), true))?;
            let key = SessionKey::random(kind.into());
            let info = store(home, &name, &key, password.as_bytes(), force).await?;
            out.show(key_json(&name, &info), || {
                println!("created key `{name}`");
                print_key(&info);
            });
        }
        Command::Import { name, private_key_file, keystore_file, password } => {
            refuse_existing(home, &name, false).await?;
            let key = match &keystore_file {
                Some(file) => {
                    let password = password::read(
                        password.request(format!("keystore {}", file.display()), false),
                    )?;
                    let key = Keystore::open(file, password.as_bytes())?;
                    let info = store(home, &name, &key, password.as_bytes(), false).await?;
                    out.show(key_json(&name, &info), || {
                        println!("imported {} as `{name}`", file.display());
                        print_key(&info);
                    });
                    return Ok(());
                }
                None => SessionKey::Ecdsa(read_private_key(private_key_file)?),
            };
            let password = password::read(password.request(format!("new key `{name}`"), true))?;
            let info = store(home, &name, &key, password.as_bytes(), false).await?;
            out.show(key_json(&name, &info), || {
                println!("imported key `{name}`");
                print_key(&info);
            });
        }
        Command::List => {
            let mut rows = Vec::new();
            for name in home.key_names().await? {
                rows.push(match info(home, &name).await {
                    Ok(info) => key_json(&name, &info),
                    Err(e) => json!({ "name": name, "error": e.message }),
                });
            }
            out.show(Value::Array(rows.clone()), || {
                if rows.is_empty() {
                    println!(
                        "no keys in {}; create one with `leash keystore create NAME`",
                        home.keystores().display()
                    );
                }
                for row in &rows {
                    match row.get("error") {
                        Some(error) => println!(
                            "{:<20} damaged: {}",
                            row["name"].as_str().unwrap_or(""),
                            error.as_str().unwrap_or("")
                        ),
                        None => println!(
                            "{:<20} {:<9} {}",
                            row["name"].as_str().unwrap_or(""),
                            row["kind"].as_str().unwrap_or(""),
                            row["identity"].as_str().unwrap_or("")
                        ),
                    }
                }
            });
        }
        Command::Info { name } => {
            let info = info(home, &name).await?;
            out.show(key_json(&name, &info), || {
                println!("key `{name}`");
                print_key(&info);
            });
        }
        Command::Remove { name, yes } => {
            // A damaged key file can still be removed.
            let shown = match home.key(&name).await {
                Ok(stored) => Keystore::inspect(&stored.source, &stored.document)
                    .map_or_else(|_| "a damaged file".into(), |i| i.identity.to_string()),
                Err(e @ StoreError::NotFound { .. }) => return Err(e.into()),
                Err(_) => "a damaged file".into(),
            };
            if !yes
                && !password::confirm(
                    &format!("Delete key `{name}` ({shown})? Without a copy it is gone for good"),
                    "--yes",
                )?
            {
                return Err(Failure::bad_input("not confirmed; nothing was deleted"));
            }
            home.remove_key(&name).await?;
            let path = home.key_path(&name)?;
            out.show(json!({ "removed": name, "path": path }), || {
                println!("removed key `{name}` ({})", path.display())
            });
        }
        Command::Export { name, yes, password } => {
            let stored = home.key(&name).await?;
            crate::home::warn_if_exposed(&stored.source);
            if !yes
                && !password::confirm(
                    &format!("Print the private key of `{name}` in clear text?"),
                    "--yes",
                )?
            {
                return Err(Failure::bad_input("not confirmed; nothing was shown"));
            }
            let password = password::read(password.request(format!("key `{name}`"), false))?;
            let key = Keystore::decrypt(&stored.source, &stored.document, password.as_bytes())?;
            let secret = Zeroizing::new(hex::encode_prefixed(key.secret_bytes().as_slice()));
            out.show(json!({ "name": name, "kind": key.identity().kind().name(), "privateKey": secret.as_str() }), || {
                println!("{}", secret.as_str());
            });
        }
    }
    Ok(())
}

/// Encrypts `key` with the standard scrypt parameters and stores it as `name`.
async fn store(
    home: &Home,
    name: &str,
    key: &SessionKey,
    password: &[u8],
    replace: bool,
) -> Result<KeyInfo> {
    let document = Keystore::encrypt(key, password, ScryptParams::STANDARD)?;
    home.put_key(name, &document, replace).await?;
    Ok(Keystore::inspect(home.key_path(name)?, &document)?)
}

/// What the stored key `name` records, without its password.
pub(crate) async fn info(home: &Home, name: &str) -> Result<KeyInfo> {
    let stored = home.key(name).await?;
    crate::home::warn_if_exposed(&stored.source);
    Ok(Keystore::inspect(&stored.source, &stored.document)?)
}

/// Refuses before any password is asked for when `name` is taken and replacing it was not asked for.
async fn refuse_existing(home: &Home, name: &str, force: bool) -> Result<()> {
    let path = home.key_path(name)?;
    if !force && !matches!(home.key(name).await, Err(StoreError::NotFound { .. })) {
        return Err(Failure::bad_input(format!("{} exists already", path.display()))
            .with_hint("choose another name, or pass --force to replace it"));
    }
    Ok(())
}

fn read_private_key(file: Option<PathBuf>) -> Result<EcdsaSigner> {
    let text = match file {
        Some(file) => Zeroizing::new(std::fs::read_to_string(&file).map_err(|e| {
            Failure::bad_input(format!("cannot read the private key file {}: {e}", file.display()))
        })?),
        None if std::io::stdin().is_terminal() => Zeroizing::new(
            rpassword::prompt_password("Private key (hex): ")
                .map_err(|e| Failure::bad_input(format!("cannot read the private key: {e}")))?,
        ),
        None => {
            return Err(Failure::bad_input("no private key: there is no terminal to ask it on")
                .with_hint("pass --private-key-file FILE"))
        }
    };
    // The error never repeats the input: it is a secret.
    let invalid = || {
        Failure::bad_input("the private key is not 32 bytes of hex (64 hex digits, 0x optional)")
    };
    let bytes = Zeroizing::new(hex::decode(text.trim()).map_err(|_| invalid())?);
    if bytes.len() != 32 {
        return Err(invalid());
    }
    EcdsaSigner::from_bytes(&B256::from_slice(&bytes)).map_err(|_| {
        Failure::bad_input(
            "the private key is not a valid secp256k1 key (zero or above the curve order)",
        )
    })
}

/// The identity without the kind prefix: an address, or a P-256 public key.
pub(crate) fn identity_text(identity: &KeyIdentity) -> String {
    match identity {
        KeyIdentity::Ecdsa { address } => address.to_string(),
        KeyIdentity::P256 { public_key } => public_key.to_string(),
        KeyIdentity::WebAuthn { public_key, rp_id, origin } => {
            format!("{public_key} (rp id {rp_id}, origin {origin})")
        }
    }
}

fn key_json(name: &str, info: &KeyInfo) -> Value {
    let mut value = json!({
        "name": name,
        "kind": info.identity.kind().name(),
        "identity": identity_text(&info.identity),
        "id": info.id,
        "path": info.path,
    });
    if let KeyIdentity::Ecdsa { address } = &info.identity {
        value["address"] = json!(address);
    }
    value
}

fn print_key(info: &KeyInfo) {
    println!("  kind      {}", info.identity.kind().name());
    match &info.identity {
        KeyIdentity::Ecdsa { address } => println!("  address   {address}"),
        identity => println!("  public    {}", identity_text(identity)),
    }
    println!("  file      {}", info.path.display());
}
