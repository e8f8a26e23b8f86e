//! The Merkle tree leash uses twice: over a session's action hashes (its `actionsRoot`, docs/encoding.md) and
//! over the per-chain grant digests of a multichain grant. Both are verified on chain by OpenZeppelin's
//! `MerkleProof`, so neighbours hash as sorted pairs; a level's last node without a neighbour moves up unchanged.

use alloy::primitives::{keccak256, B256};

/// `keccak256(min(a, b) || max(a, b))`: one inner node, as `MerkleProof` hashes it.
pub(crate) fn hash_pair(a: B256, b: B256) -> B256 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(lo.as_slice());
    buf[32..].copy_from_slice(hi.as_slice());
    keccak256(buf)
}

/// A Merkle tree over leaves in a given order: nodes `(2i, 2i + 1)` of a level hash into node `i` of the next
/// ([`hash_pair`]), an odd last node moves up unchanged. One leaf is its own root; no leaf gives a zero root.
///
/// ```
/// use alloy::primitives::B256;
/// use leash_core::MerkleTree;
///
/// let leaves: Vec<B256> = (1..=5u8).map(B256::repeat_byte).collect();
/// let tree = MerkleTree::new(leaves.clone());
/// for (i, leaf) in leaves.iter().enumerate() {
///     let proof = tree.proof(i).unwrap();
///     assert!(MerkleTree::verify(tree.root(), *leaf, &proof));
/// }
/// assert_eq!(MerkleTree::new(vec![leaves[0]]).root(), leaves[0]);
/// assert_eq!(MerkleTree::new(Vec::new()).root(), B256::ZERO);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerkleTree {
    /// Every level from the leaves (first) to the root (last, one node); empty without leaves.
    levels: Vec<Vec<B256>>,
}

impl MerkleTree {
    /// Builds the tree over `leaves`, in their order.
    pub fn new(leaves: Vec<B256>) -> Self {
        if leaves.is_empty() {
            return Self { levels: Vec::new() };
        }
        let mut levels = vec![leaves];
        while let Some(level) = levels.last().filter(|level| level.len() > 1) {
            let next = level
                .chunks(2)
                .map(|pair| if let [a, b] = pair { hash_pair(*a, *b) } else { pair[0] })
                .collect();
            levels.push(next);
        }
        Self { levels }
    }

    /// The leaves, in order.
    pub fn leaves(&self) -> &[B256] {
        self.levels.first().map_or(&[], Vec::as_slice)
    }

    /// The root: the only leaf for one leaf, zero for none.
    pub fn root(&self) -> B256 {
        self.levels.last().map_or(B256::ZERO, |top| top[0])
    }

    /// The proof of leaf `index`: its neighbours from the leaf up (a level where it has none adds nothing).
    /// `None` for an index past the leaves.
    pub fn proof(&self, index: usize) -> Option<Vec<B256>> {
        if index >= self.leaves().len() {
            return None;
        }
        let mut position = index;
        let mut proof = Vec::new();
        for level in &self.levels[..self.levels.len() - 1] {
            if let Some(sibling) = level.get(position ^ 1) {
                proof.push(*sibling);
            }
            position /= 2;
        }
        Some(proof)
    }

    /// Whether `proof` leads from `leaf` to `root`, as `MerkleProof.verify` checks it.
    pub fn verify(root: B256, leaf: B256, proof: &[B256]) -> bool {
        proof.iter().fold(leaf, |node, sibling| hash_pair(node, *sibling)) == root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<B256> {
        (0..n).map(|i| keccak256((i as u64).to_be_bytes())).collect()
    }

    #[test]
    fn every_proof_verifies_for_1_to_17_leaves() {
        for n in 1..=17 {
            let leaves = leaves(n);
            let tree = MerkleTree::new(leaves.clone());
            assert_eq!(tree.leaves(), &leaves[..]);
            for (i, leaf) in leaves.iter().enumerate() {
                let proof = tree.proof(i).unwrap();
                assert!(proof.len() <= n.next_power_of_two().trailing_zeros() as usize);
                assert!(MerkleTree::verify(tree.root(), *leaf, &proof), "{n} leaves, leaf {i}");
                // Not a proof of any other leaf.
                for (j, other) in leaves.iter().enumerate().filter(|(j, _)| *j != i) {
                    assert!(!MerkleTree::verify(tree.root(), *other, &proof), "{n}: {i} for {j}");
                }
            }
            assert_eq!(tree.proof(n), None);
        }
    }

    #[test]
    fn roots_follow_the_documented_shape() {
        let l = leaves(3);
        assert_eq!(MerkleTree::new(Vec::new()).root(), B256::ZERO);
        assert_eq!(MerkleTree::new(vec![l[0]]).root(), l[0]);
        assert_eq!(MerkleTree::new(l[..2].to_vec()).root(), hash_pair(l[0], l[1]));
        // The third node has no neighbour: it moves up unchanged and pairs with the first two's node.
        assert_eq!(MerkleTree::new(l.clone()).root(), hash_pair(hash_pair(l[0], l[1]), l[2]));
        assert_eq!(MerkleTree::new(l.clone()).proof(2).unwrap(), vec![hash_pair(l[0], l[1])]);
        assert_eq!(MerkleTree::new(vec![l[0]]).proof(0).unwrap(), Vec::<B256>::new());
        // Sorted pairs: the order of a pair does not change its node.
        assert_eq!(hash_pair(l[0], l[1]), hash_pair(l[1], l[0]));
    }
}
