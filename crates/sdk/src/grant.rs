//! The session grant document: everything an agent needs besides its secret key, in one versioned JSON file.
//!
//! ```json
//! {
//!   "version": 2,
//!   "kind": "leash-session-grant",
//!   "name": "streaming subscription",
//!   "account": "0x…", "owner": "0x…",
//!   "sessionId": "0x…",
//!   "session": "0x<packed session>",
//!   "actions": [{ "name": "monthly payment", "function": "transfer(address to,uint256 amount)", "encoded": "0x…" }],
//!   "root": "0x…", "ownerSignature": "0x…",
//!   "chains": [{ "chainId": 1, "entryPoint": "0x…", "module": "0x…", "epoch": 0, "proof": ["0x…"] }],
//!   "tokens": { "USDC": { "address": "0x…", "decimals": 6 } }
//! }
//! ```
//!
//! The session and its actions travel packed, exactly as the module reads them (docs/encoding.md), so what the
//! agent uses is what the owner signed; loading decodes them strictly and checks the id, the actions against the
//! session's `actionsRoot`, every chain's proof against the root, and the owner's signature over the root.
//!
//! Version 1 documents held sessions ABI-encoded for an earlier module, under other session ids: they are
//! refused with a message that says to grant the session again.

use crate::{owner::SignedGrant, Error, Result};
use alloy::primitives::{Address, Bytes, Signature, B256};
use leash_contracts::ENTRYPOINT_V07;
use leash_core::{
    grant_root_digest, GrantProof, GrantTarget, MultichainGrant, Session, TokenTable,
};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The document format's version: 2 since sessions and actions are packed (docs/encoding.md).
pub const GRANT_VERSION: u32 = 2;
const KIND: &str = "leash-session-grant";

/// One action as the document keeps it: its encoding, and for people its name and function signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantAction {
    /// The action's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The function signature with argument names, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// The packed action (its hash is a leaf of the session's actions tree).
    pub encoded: Bytes,
}

/// One chain the session is granted on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantChain {
    /// The chain id.
    pub chain_id: u64,
    /// EntryPoint v0.7 there.
    pub entry_point: Address,
    /// The session-key module there.
    pub module: Address,
    /// The account there (the same address on every chain for a CREATE2 account).
    pub account: Address,
    /// The account's epoch the owner signed the grant for (see `epochOf`): the lazy grant carries it, and the
    /// module refuses it once a "revoke all" moved the account past it (`GrantVoidedByRevokeAll`).
    pub epoch: u32,
    /// The Merkle proof of this chain's grant digest under `root`.
    pub proof: Vec<B256>,
}

/// A session grant document (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantDocument {
    /// Format version.
    pub version: u32,
    /// Always `leash-session-grant`.
    pub kind: String,
    /// The session's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The account the session acts for.
    pub account: Address,
    /// The account's owner, who signed the grant.
    pub owner: Address,
    /// The session's id.
    pub session_id: B256,
    /// The packed session (its hash is the session id).
    pub session: Bytes,
    /// The session's actions, in order.
    pub actions: Vec<GrantAction>,
    /// The Merkle root the owner signed.
    pub root: B256,
    /// The owner's signature over the root digest.
    pub owner_signature: Bytes,
    /// The chains it is granted on.
    pub chains: Vec<GrantChain>,
    /// Token symbols for explanations.
    #[serde(default)]
    pub tokens: TokenTable,
}

impl GrantDocument {
    /// The document for `session`, approved by `owner` with `signed`; fails if the session does not pack.
    pub fn new(
        session: &Session,
        owner: Address,
        signed: &SignedGrant,
        tokens: TokenTable,
    ) -> Result<Self> {
        let grant = &signed.grant;
        let actions = session
            .policy
            .actions
            .iter()
            .map(|a| {
                Ok(GrantAction {
                    name: a.name.clone(),
                    function: a.function.as_ref().map(|f| f.full_signature()),
                    encoded: a.encode()?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            version: GRANT_VERSION,
            kind: KIND.into(),
            name: session.policy.name.clone(),
            account: grant.targets.first().map(|t| t.account).unwrap_or_default(),
            owner,
            session_id: session.id()?,
            session: session.encode()?,
            actions,
            root: grant.root,
            owner_signature: signed.owner_signature.clone(),
            chains: grant
                .targets
                .iter()
                .zip(&grant.proofs)
                .map(|(t, proof)| GrantChain {
                    chain_id: t.chain_id,
                    entry_point: ENTRYPOINT_V07,
                    module: t.module,
                    account: t.account,
                    epoch: t.epoch,
                    proof: proof.clone(),
                })
                .collect(),
            tokens,
        })
    }

    /// The session, decoded and checked against its id.
    pub fn session(&self) -> Result<Session> {
        let actions: Vec<&[u8]> = self.actions.iter().map(|a| a.encoded.as_ref()).collect();
        let mut session = Session::decode(&self.session, &actions)
            .map_err(|e| Error::Grant(format!("the session does not decode: {e}")))?;
        session.policy.name = self.name.clone();
        for (action, entry) in session.policy.actions.iter_mut().zip(&self.actions) {
            action.name = entry.name.clone();
            if let Some(signature) = &entry.function {
                let function = leash_core::parse_function(signature)
                    .map_err(|e| Error::Grant(e.to_string()))?;
                action.function = Some(function);
            }
        }
        let id = session.id()?;
        if id != self.session_id {
            return Err(Error::Grant(format!(
                "the session hashes to {id}, not the sessionId {}: the document was altered",
                self.session_id
            )));
        }
        Ok(session)
    }

    /// Checks the document offline: version, session id, each chain's proof, and that the owner signed the root.
    pub fn verify(&self) -> Result<Session> {
        if self.kind != KIND {
            return Err(Error::Grant(format!("kind is `{}`, not `{KIND}`", self.kind)));
        }
        if self.version == 1 {
            return Err(Error::Grant(format!(
                "version 1 is not supported; this leash reads version {GRANT_VERSION}: version 1 holds the \
                 session in the encoding of an earlier session-key module, and session ids changed with the \
                 new one. Have the owner grant the session again (`leash session create`, or \
                 `Owner::approve` and `GrantDocument::new`) and give the agent the new document"
            )));
        }
        if self.version != GRANT_VERSION {
            return Err(Error::Grant(format!(
                "version {} is not supported; this leash reads version {GRANT_VERSION}",
                self.version
            )));
        }
        let session = self.session()?;
        let targets: Vec<GrantTarget> = self
            .chains
            .iter()
            .map(|c| GrantTarget {
                chain_id: c.chain_id,
                module: c.module,
                account: c.account,
                epoch: c.epoch,
            })
            .collect();
        if targets.is_empty() {
            return Err(Error::Grant("the document names no chain".into()));
        }
        // An agent acts as `account` on every chain of the document, so every chain must name it.
        if let Some(other) = targets.iter().find(|t| t.account != self.account) {
            return Err(Error::Grant(format!(
                "account {} is not the account the owner signed for on chain {} ({}): the document was altered",
                self.account, other.chain_id, other.account
            )));
        }
        // Rebuilding the tree from the chains must give the signed root and the stored proofs.
        let tree = MultichainGrant::new(self.session_id, &targets);
        if tree.root != self.root {
            return Err(Error::Grant(
                "the chains do not hash to the signed root: the document was altered".into(),
            ));
        }
        for (chain, proof) in self.chains.iter().zip(&tree.proofs) {
            if &chain.proof != proof {
                return Err(Error::Grant(format!(
                    "the proof for chain {} does not lead to the root",
                    chain.chain_id
                )));
            }
        }
        let signature = Signature::try_from(self.owner_signature.as_ref()).map_err(|e| {
            Error::Grant(format!("ownerSignature is not a 65-byte ECDSA signature: {e}"))
        })?;
        let signer = signature
            .recover_address_from_prehash(&grant_root_digest(self.root))
            .map_err(|e| Error::Grant(format!("ownerSignature does not recover: {e}")))?;
        if signer != self.owner {
            return Err(Error::Grant(format!(
                "the root was signed by {signer}, not the owner {}",
                self.owner
            )));
        }
        Ok(session)
    }

    /// What the session's first operation on `chain_id` carries to grant itself.
    pub fn proof_for(&self, chain_id: u64) -> Option<GrantProof> {
        let chain = self.chains.iter().find(|c| c.chain_id == chain_id)?;
        Some(GrantProof {
            proof: chain.proof.clone(),
            epoch: chain.epoch,
            owner_signature: self.owner_signature.clone(),
        })
    }

    /// Writes the document as JSON, atomically; refuses to replace an existing file unless `overwrite`.
    pub fn save(&self, path: impl AsRef<Path>, overwrite: bool) -> Result<()> {
        let path = path.as_ref();
        let json = serde_json::to_vec_pretty(self).map_err(|e| Error::Grant(e.to_string()))?;
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        crate::fs::write_atomic(dir, path, &json, 0o644, overwrite).map_err(|e| match e {
            crate::fs::WriteError::Exists => Error::Grant(format!(
                "{} exists; choose another path or allow overwriting",
                path.display()
            )),
            crate::fs::WriteError::Io { path, action, source } => {
                Error::Grant(format!("cannot {action} {}: {source}", path.display()))
            }
        })
    }

    /// Reads and verifies a document.
    pub fn load(path: impl AsRef<Path>) -> Result<(Self, Session)> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| Error::GrantUnreadable { path: path.into(), source })?;
        let document: Self = serde_json::from_str(&text)
            .map_err(|source| Error::GrantMalformed { path: path.into(), source })?;
        let session =
            document.verify().map_err(|e| Error::Grant(format!("{}: {e}", path.display())))?;
        Ok((document, session))
    }
}
