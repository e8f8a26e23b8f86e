//! Bearer tokens: an admin token for tenants, a token per tenant, a token per agent (one session).
//!
//! A token is 32 random bytes, base64url, after a prefix that says whose it is (`leash_admin_`,
//! `leash_tenant_`, `leash_agent_`) so a leaked one is recognisable in a secret scanner. The service keeps only
//! its SHA-256: the token carries 256 bits of randomness, so a fast hash loses nothing (a slow password hash
//! protects guessable secrets, which these are not), and a request is looked up by its hash in one index probe.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Whose a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Creates tenants and reads the whole audit log.
    Admin,
    /// A tenant: its accounts, sessions, operations and audit log.
    Tenant,
    /// An agent: its one session.
    Agent,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Admin => "leash_admin_",
            Kind::Tenant => "leash_tenant_",
            Kind::Agent => "leash_agent_",
        }
    }

    /// The kind a token's prefix names.
    pub fn of(token: &str) -> Option<Kind> {
        [Kind::Admin, Kind::Tenant, Kind::Agent].into_iter().find(|k| token.starts_with(k.prefix()))
    }
}

/// A new token of `kind` (shown once to whoever asked for it) and the hash the service keeps.
pub fn generate(kind: Kind) -> (Zeroizing<String>, [u8; 32]) {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(bytes.as_mut());
    let token = Zeroizing::new(format!(
        "{}{}",
        kind.prefix(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref())
    ));
    let hash = hash(&token);
    (token, hash)
}

/// The hash the service stores and looks a token up by.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_say_whose_they_are_and_differ() {
        let (admin, admin_hash) = generate(Kind::Admin);
        let (agent, agent_hash) = generate(Kind::Agent);
        assert_eq!(Kind::of(&admin), Some(Kind::Admin));
        assert_eq!(Kind::of(&agent), Some(Kind::Agent));
        assert_eq!(Kind::of("Bearer x"), None);
        assert_ne!(admin_hash, agent_hash);
        assert_eq!(hash(&agent), agent_hash);
        assert_eq!(agent.len(), "leash_agent_".len() + 43);
    }
}
