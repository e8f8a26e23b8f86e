//! Nonce keys: an EntryPoint v0.7 nonce is a 192-bit key and a 64-bit sequence number, every key with its own
//! sequence. A leash account (through OpenZeppelin's `AccountERC7579`) reads the validator that checks an
//! operation from the key: the first 20 bytes name the module, and when that module is installed it validates
//! the operation; otherwise the owner's signature does. leash lays the key out as
//!
//! ```text
//! nonce (32 bytes) = validator (20 bytes) || lane (4 bytes) || sequence (8 bytes)
//! ```
//!
//! - [`Lane`] is the 4-byte lane: a number, or derived from a name so that every process that says
//!   "payroll" means the same lane.
//! - [`NonceKey::session`] names the session-key validator and a lane; [`NonceKey::owner`] leaves the
//!   validator bytes zero (the zero address is never an installed module), so the owner validates.
//!
//! ```
//! use alloy::primitives::{address, U256};
//! use leash_userop::{Lane, NonceKey};
//!
//! let validator = address!("00000000000000000000000000000000000000aa");
//! let key = NonceKey::session(validator, Lane::new(7));
//! let nonce = key.nonce(3);
//! assert_eq!(nonce, (U256::from(0xaa) << 32 | U256::from(7)) << 64 | U256::from(3));
//! assert_eq!(key.validator(), Some(validator));
//! assert_eq!(NonceKey::from_nonce(nonce), key);
//!
//! // Named lanes are stable: the first four bytes of keccak256(name).
//! assert_eq!(Lane::named("payroll"), Lane::named("payroll"));
//! assert_ne!(Lane::named("payroll"), Lane::named("trading"));
//! assert_eq!(NonceKey::owner(Lane::DEFAULT).validator(), None);
//! ```

use alloy::primitives::{aliases::U192, keccak256, Address, U256};
use std::fmt;

/// A lane: the 4 bytes of a nonce key after the validator address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Lane(u32);

impl Lane {
    /// Lane 0.
    pub const DEFAULT: Self = Self(0);

    /// The lane with this number.
    pub const fn new(id: u32) -> Self {
        Self(id)
    }

    /// The lane for a name: the first four bytes of `keccak256(name)`, big-endian. The same name gives the
    /// same lane in every process and version, so cooperating processes can agree on lanes by name.
    pub fn named(name: &str) -> Self {
        let hash = keccak256(name.as_bytes());
        Self(u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]]))
    }

    /// The lane's number.
    pub const fn id(self) -> u32 {
        self.0
    }
}

impl From<u32> for Lane {
    fn from(id: u32) -> Self {
        Self(id)
    }
}

impl fmt::Display for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lane {}", self.0)
    }
}

/// The 192-bit key of an EntryPoint nonce: `validator (20 bytes) || lane (4 bytes)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct NonceKey(U192);

impl NonceKey {
    /// A key that routes validation to `validator` (the session-key module) on `lane`.
    pub fn session(validator: Address, lane: Lane) -> Self {
        let mut bytes = [0u8; 24];
        bytes[..20].copy_from_slice(validator.as_slice());
        bytes[20..].copy_from_slice(&lane.0.to_be_bytes());
        Self(U192::from_be_bytes(bytes))
    }

    /// A key for the owner's own operations on `lane`: the validator bytes are zero, which never names an
    /// installed module, so the account checks the owner's signature.
    pub fn owner(lane: Lane) -> Self {
        Self(U192::from(lane.0))
    }

    /// The key as the EntryPoint's `uint192` (for `getNonce`).
    pub const fn from_raw(key: U192) -> Self {
        Self(key)
    }

    /// The key as the EntryPoint's `uint192`.
    pub const fn raw(self) -> U192 {
        self.0
    }

    /// The key of a full nonce (its top 192 bits).
    pub fn from_nonce(nonce: U256) -> Self {
        let bytes = nonce.to_be_bytes::<32>();
        Self(U192::from_be_slice(&bytes[..24]))
    }

    /// The validator module this key routes to, `None` for the zero address (the owner's keys).
    pub fn validator(self) -> Option<Address> {
        let bytes = self.0.to_be_bytes::<24>();
        let validator = Address::from_slice(&bytes[..20]);
        (!validator.is_zero()).then_some(validator)
    }

    /// The lane (the last 4 bytes of the key).
    pub fn lane(self) -> Lane {
        let bytes = self.0.to_be_bytes::<24>();
        Lane(u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]))
    }

    /// The full nonce for `sequence` within this key: `key << 64 | sequence`.
    pub fn nonce(self, sequence: u64) -> U256 {
        let mut bytes = [0u8; 32];
        bytes[..24].copy_from_slice(&self.0.to_be_bytes::<24>());
        bytes[24..].copy_from_slice(&sequence.to_be_bytes());
        U256::from_be_bytes(bytes)
    }
}

impl fmt::Display for NonceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.validator() {
            Some(validator) => write!(f, "validator {validator}, {}", self.lane()),
            None => write!(f, "owner, {}", self.lane()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::address;

    #[test]
    fn key_layout_matches_the_account_and_the_entry_point() {
        // AccountERC7579 reads the validator from the first 20 bytes of the nonce; the EntryPoint
        // takes the top 192 bits as the key (`uint192(nonce >> 64)`).
        let validator = address!("a0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3");
        let key = NonceKey::session(validator, Lane::new(0x0102_0304));
        let nonce = key.nonce(0x0a0b_0c0d_0e0f_1011).to_be_bytes::<32>();
        assert_eq!(&nonce[..20], validator.as_slice());
        assert_eq!(&nonce[20..24], &[1, 2, 3, 4]);
        assert_eq!(&nonce[24..], &[0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11]);
        assert_eq!(key.raw(), U256::from_be_slice(&nonce).wrapping_shr(64).to::<U192>());
        // The contracts' tests: `uint192(uint160(validator)) << 32 | lane`.
        assert_eq!(
            key.raw(),
            (U192::from_be_slice(validator.as_slice()) << 32) | U192::from(0x0102_0304u32)
        );
    }

    #[test]
    fn owner_keys_never_name_a_module() {
        for lane in [Lane::DEFAULT, Lane::new(u32::MAX), Lane::named("x")] {
            let key = NonceKey::owner(lane);
            assert_eq!(key.validator(), None);
            assert_eq!(key.lane(), lane);
            assert_eq!(&key.nonce(9).to_be_bytes::<32>()[..20], &[0u8; 20]);
        }
    }

    #[test]
    fn named_lanes_are_keccak_prefixes() {
        let hash = keccak256("payroll");
        assert_eq!(Lane::named("payroll").id(), u32::from_be_bytes(hash[..4].try_into().unwrap()));
        assert_eq!(
            Lane::named("payroll").to_string(),
            format!("lane {}", Lane::named("payroll").id())
        );
    }
}
