//! What gets signed: the owner's grant (one chain or many, under one Merkle root) and the session key's use
//! and message digests. Each reproduces the module's own function of the same name.

use crate::MerkleTree;
use alloy::{
    primitives::{keccak256, Address, B256, U256},
    sol_types::{Eip712Domain, SolValue},
};

const NAME: &str = "leash";
const VERSION: &str = "1";

fn module_domain(chain_id: u64, module: Address) -> Eip712Domain {
    Eip712Domain::new(
        Some(NAME.into()),
        Some(VERSION.into()),
        Some(U256::from(chain_id)),
        Some(module),
        None,
    )
}

fn typed(domain_separator: B256, struct_hash: B256) -> B256 {
    let mut buf = [0u8; 66];
    buf[0] = 0x19;
    buf[1] = 0x01;
    buf[2..34].copy_from_slice(domain_separator.as_slice());
    buf[34..].copy_from_slice(struct_hash.as_slice());
    keccak256(buf)
}

/// The per-chain grant digest: EIP-712 `SessionGrant(address account,bytes32 sessionId,uint32 epoch)` under the
/// module's domain (name "leash", version "1", chain id, module address).
pub fn grant_digest(
    chain_id: u64,
    module: Address,
    account: Address,
    session_id: B256,
    epoch: u32,
) -> B256 {
    let type_hash = keccak256("SessionGrant(address account,bytes32 sessionId,uint32 epoch)");
    let struct_hash = keccak256((type_hash, account, session_id, U256::from(epoch)).abi_encode());
    typed(module_domain(chain_id, module).separator(), struct_hash)
}

/// What the owner signs: `SessionGrantRoot(bytes32 root)` under a domain without chain id or contract, so one
/// signature serves every chain; each chain proves its own [`grant_digest`] under `root`.
pub fn grant_root_digest(root: B256) -> B256 {
    let domain = keccak256(
        (
            keccak256("EIP712Domain(string name,string version)"),
            keccak256(NAME),
            keccak256(VERSION),
        )
            .abi_encode(),
    );
    let struct_hash = keccak256((keccak256("SessionGrantRoot(bytes32 root)"), root).abi_encode());
    typed(domain, struct_hash)
}

/// What the session key signs for a UserOperation:
/// `keccak256(abi.encode(userOpHash, sessionId, time, callsHash))`, where `calls_hash` is [`calls_hash`] of the
/// actions the calls are charged to, so nobody who relays the operation can charge it to other actions.
pub fn use_digest(user_op_hash: B256, session_id: B256, time: u64, calls_hash: B256) -> B256 {
    let mut buf = [0u8; 128];
    buf[..32].copy_from_slice(user_op_hash.as_slice());
    buf[32..64].copy_from_slice(session_id.as_slice());
    buf[88..96].copy_from_slice(&time.to_be_bytes());
    buf[96..].copy_from_slice(calls_hash.as_slice());
    keccak256(buf)
}

/// The hash of the actions an operation's calls are charged to, in call order:
/// `keccak256(actionHash0 || actionHash1 || ...)`, as the module computes it; under sudo no action is charged
/// and it is `keccak256("")`.
///
/// ```
/// use alloy::primitives::{keccak256, B256};
/// use leash_core::calls_hash;
///
/// assert_eq!(calls_hash(&[]), keccak256([]));
/// let one = B256::repeat_byte(1);
/// assert_eq!(calls_hash(&[one]), keccak256(one));
/// ```
pub fn calls_hash(action_hashes: &[B256]) -> B256 {
    keccak256(action_hashes.iter().flat_map(|h| h.0).collect::<Vec<u8>>())
}

/// What the session key signs to approve `hash` for `account` through ERC-1271:
/// EIP-712 `SessionMessage(address account,bytes32 sessionId,bytes32 hash)` under the module's domain.
pub fn message_digest(
    chain_id: u64,
    module: Address,
    account: Address,
    session_id: B256,
    hash: B256,
) -> B256 {
    let type_hash = keccak256("SessionMessage(address account,bytes32 sessionId,bytes32 hash)");
    let struct_hash = keccak256((type_hash, account, session_id, hash).abi_encode());
    typed(module_domain(chain_id, module).separator(), struct_hash)
}

/// One chain's part of a grant: where the session is granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct GrantTarget {
    /// The chain.
    pub chain_id: u64,
    /// The session-key module on that chain.
    pub module: Address,
    /// The account on that chain.
    pub account: Address,
    /// The account's current epoch there (see `epochOf`); a "revoke all" makes older grants void.
    pub epoch: u32,
}

/// A grant for one or several chains: the per-chain leaves, the root the owner signs once, and each chain's
/// proof, in a [`MerkleTree`] (the same tree as a session's actions).
///
/// ```
/// use alloy::primitives::{address, B256};
/// use leash_core::{GrantTarget, MultichainGrant};
///
/// let account = address!("1111111111111111111111111111111111111111");
/// let module = address!("2222222222222222222222222222222222222222");
/// let chains = [1u64, 10, 8453].map(|chain_id| GrantTarget { chain_id, module, account, epoch: 0 });
/// let grant = MultichainGrant::new(B256::repeat_byte(7), &chains);
/// for i in 0..chains.len() {
///     assert!(grant.verify(i));
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultichainGrant {
    /// The session's id.
    pub session_id: B256,
    /// The chains, in the order given.
    pub targets: Vec<GrantTarget>,
    /// The per-chain grant digests, in the same order.
    pub leaves: Vec<B256>,
    /// The Merkle root (the only leaf when there is one chain).
    pub root: B256,
    /// Each chain's proof, in the same order.
    pub proofs: Vec<Vec<B256>>,
}

impl MultichainGrant {
    /// Builds the tree over the grant digest of `session_id` on every target (at least one).
    pub fn new(session_id: B256, targets: &[GrantTarget]) -> Self {
        let leaves: Vec<B256> = targets
            .iter()
            .map(|t| grant_digest(t.chain_id, t.module, t.account, session_id, t.epoch))
            .collect();
        let tree = MerkleTree::new(leaves);
        let proofs = (0..targets.len()).filter_map(|i| tree.proof(i)).collect();
        Self {
            session_id,
            targets: targets.to_vec(),
            leaves: tree.leaves().to_vec(),
            root: tree.root(),
            proofs,
        }
    }

    /// What the owner signs once: [`grant_root_digest`] of the root.
    pub fn digest(&self) -> B256 {
        grant_root_digest(self.root)
    }

    /// Whether chain `index`'s proof leads from its leaf to the root (what the module checks).
    pub fn verify(&self, index: usize) -> bool {
        let (Some(leaf), Some(proof)) = (self.leaves.get(index), self.proofs.get(index)) else {
            return false;
        };
        MerkleTree::verify(self.root, *leaf, proof)
    }

    /// The target and proof for `chain_id`.
    pub fn for_chain(&self, chain_id: u64) -> Option<(&GrantTarget, &[B256])> {
        let index = self.targets.iter().position(|t| t.chain_id == chain_id)?;
        Some((&self.targets[index], &self.proofs[index]))
    }
}
