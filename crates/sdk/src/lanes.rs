//! Nonce lanes: independent nonce sequences so that independent tasks never wait on each other.
//!
//! An EntryPoint v0.7 nonce is a 192-bit key and a 64-bit sequence number; every key has its own
//! sequence. A leash account (through OpenZeppelin's `AccountERC7579`) reads the validator that checks an
//! operation from the key: the first 20 bytes of the nonce name the module, and when that module is
//! installed it validates the operation; otherwise the owner's signature does. leash lays the key out as
//!
//! ```text
//! nonce (32 bytes) = validator (20 bytes) || lane (4 bytes) || sequence (8 bytes)
//! ```
//!
//! - [`Lane`] is the 4-byte lane: a number, or derived from a name so that every process that says
//!   "payroll" means the same lane.
//! - [`NonceKey::session`] names the session-key validator and a lane; [`NonceKey::owner`] leaves the
//!   validator bytes zero (the zero address is never an installed module), so the owner validates.
//! - [`LaneAllocator`] hands out sequence numbers per (account, key), seeded from `EntryPoint.getNonce`:
//!   tasks on different lanes proceed in parallel; tasks on one lane take turns, each holding a
//!   [`NonceLease`] until its operation is accepted.
//!
//! ```
//! use alloy::primitives::{address, U256};
//! use leash_sdk::lanes::{Lane, NonceKey};
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

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
};
use leash_contracts::bindings::EntryPoint;
pub use leash_userop::{Lane, NonceKey};
use std::{
    collections::HashMap,
    fmt,
    future::Future,
    sync::{Arc, Mutex, PoisonError},
};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// What can go wrong handing out nonces.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LaneError {
    /// The current nonce could not be read.
    #[error("could not read the nonce of {sender} for {key}: {reason}")]
    Source {
        /// The account.
        sender: Address,
        /// The key asked for.
        key: NonceKey,
        /// Why (with no URL or secret in it).
        reason: String,
    },
    /// The nonce source answered with a nonce of another key.
    #[error("the nonce source answered {nonce:#x} for {key} of {sender}, whose key differs")]
    KeyMismatch {
        /// The account.
        sender: Address,
        /// The key asked for.
        key: NonceKey,
        /// The nonce it answered.
        nonce: U256,
    },
    /// Every sequence number of the key has been used.
    #[error("{key} of {sender} has no sequence number left")]
    Exhausted {
        /// The account.
        sender: Address,
        /// The key.
        key: NonceKey,
    },
}

/// Where a [`LaneAllocator`] reads the next nonce of a key from, once per key or after
/// [`NonceLease::resync`].
pub trait NonceSource: Send + Sync {
    /// The next valid full nonce of `sender` for `key`, as `EntryPoint.getNonce(sender, key)` returns it.
    fn current_nonce(
        &self,
        sender: Address,
        key: NonceKey,
    ) -> impl Future<Output = Result<U256, LaneError>> + Send;
}

/// [`NonceSource`] reading `EntryPoint.getNonce` through an alloy provider.
#[derive(Debug, Clone)]
pub struct EntryPointNonces<P> {
    entry_point: Address,
    provider: P,
}

impl<P: Provider> EntryPointNonces<P> {
    /// Reads from the EntryPoint at `entry_point` (usually [`leash_contracts::ENTRYPOINT_V07`]).
    pub const fn new(entry_point: Address, provider: P) -> Self {
        Self { entry_point, provider }
    }
}

impl<P: Provider> NonceSource for EntryPointNonces<P> {
    async fn current_nonce(&self, sender: Address, key: NonceKey) -> Result<U256, LaneError> {
        EntryPoint::new(self.entry_point, &self.provider)
            .getNonce(sender, key.raw())
            .call()
            .await
            .map_err(|err| LaneError::Source {
                sender,
                key,
                reason: crate::bundler::scrub_urls(&err.to_string()),
            })
    }
}

/// The next sequence number of one (account, key), `None` until read from the source.
type Slot = Arc<AsyncMutex<Option<u64>>>;

/// Hands out nonces per (account, nonce key) without asking the chain each time.
///
/// The first lease of a key reads `EntryPoint.getNonce`; later leases count locally. A [`NonceLease`]
/// holds its key until it is [`commit`](NonceLease::commit)ted (the operation was accepted: the next lease
/// gets the next number) or dropped (not sent: the next lease gets the same number again), so leases of
/// one key are strictly sequential while leases of different keys never wait on each other.
///
/// One allocator should be the only writer of the keys it serves; when something else may have used a
/// key (another process, a rejected operation whose nonce state is unknown) call
/// [`NonceLease::resync`] or [`forget`](Self::forget) to read it from the chain again.
///
/// ```
/// use alloy::primitives::{address, Address, U256};
/// use leash_sdk::lanes::{Lane, LaneAllocator, LaneError, NonceKey, NonceSource};
///
/// /// A chain where every key has already seen 5 operations.
/// struct FiveEach;
/// impl NonceSource for FiveEach {
///     async fn current_nonce(&self, _: Address, key: NonceKey) -> Result<U256, LaneError> {
///         Ok(key.nonce(5))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), LaneError> {
/// let lanes = LaneAllocator::new(FiveEach);
/// let account = address!("1111111111111111111111111111111111111111");
/// let key = NonceKey::owner(Lane::named("payroll"));
///
/// let lease = lanes.lease(account, key).await?;
/// assert_eq!(lease.sequence(), 5);
/// lease.commit(); // the bundler accepted the operation
///
/// let lease = lanes.lease(account, key).await?;
/// assert_eq!(lease.nonce(), key.nonce(6));
/// drop(lease); // never sent: number 6 is handed out again
/// assert_eq!(lanes.lease(account, key).await?.sequence(), 6);
/// # Ok(())
/// # }
/// ```
pub struct LaneAllocator<S> {
    source: S,
    slots: Mutex<HashMap<(Address, NonceKey), Slot>>,
}

impl<S> fmt::Debug for LaneAllocator<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.slots.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("LaneAllocator").field("keys", &keys).finish_non_exhaustive()
    }
}

impl<S: NonceSource> LaneAllocator<S> {
    /// An allocator reading first nonces from `source`.
    pub fn new(source: S) -> Self {
        Self { source, slots: Mutex::new(HashMap::new()) }
    }

    /// The next nonce of `sender` on `key`, held until the lease is committed or dropped. Waits while
    /// another lease of the same key is held.
    pub async fn lease(&self, sender: Address, key: NonceKey) -> Result<NonceLease, LaneError> {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((sender, key))
            .or_default()
            .clone();
        let mut next = slot.lock_owned().await;
        let sequence = match *next {
            Some(sequence) => sequence,
            None => {
                let nonce = self.source.current_nonce(sender, key).await?;
                if NonceKey::from_nonce(nonce) != key {
                    return Err(LaneError::KeyMismatch { sender, key, nonce });
                }
                let sequence = nonce.as_limbs()[0];
                *next = Some(sequence);
                sequence
            }
        };
        if sequence == u64::MAX {
            return Err(LaneError::Exhausted { sender, key });
        }
        Ok(NonceLease { sender, key, sequence, next })
    }

    /// Drops what the allocator knows of `sender`'s `key`, so its next lease reads the chain again.
    /// Waits for a held lease of that key to end.
    pub async fn forget(&self, sender: Address, key: NonceKey) {
        let slot =
            self.slots.lock().unwrap_or_else(PoisonError::into_inner).get(&(sender, key)).cloned();
        if let Some(slot) = slot {
            *slot.lock().await = None;
        }
    }
}

/// One nonce handed out by a [`LaneAllocator`]; the key stays held until this is committed or dropped.
#[must_use = "a lease does nothing unless its nonce is used and the lease committed"]
pub struct NonceLease {
    sender: Address,
    key: NonceKey,
    sequence: u64,
    next: OwnedMutexGuard<Option<u64>>,
}

impl fmt::Debug for NonceLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonceLease")
            .field("sender", &self.sender)
            .field("key", &self.key)
            .field("sequence", &self.sequence)
            .finish()
    }
}

impl NonceLease {
    /// The account.
    pub const fn sender(&self) -> Address {
        self.sender
    }

    /// The nonce key.
    pub const fn key(&self) -> NonceKey {
        self.key
    }

    /// The sequence number within the key.
    pub const fn sequence(&self) -> u64 {
        self.sequence
    }

    /// The full nonce to put in the UserOperation.
    pub fn nonce(&self) -> U256 {
        self.key.nonce(self.sequence)
    }

    /// The operation with this nonce was accepted: later leases get the following numbers.
    pub fn commit(mut self) {
        *self.next = Some(self.sequence + 1);
    }

    /// The nonce's fate is unknown (for example the bundler reported `AA25 invalid account nonce`): the
    /// next lease of the key reads the chain again.
    pub fn resync(mut self) {
        *self.next = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain where every key starts at `start`, counting how often it is asked.
    #[derive(Default)]
    struct Chain {
        start: u64,
        reads: std::sync::atomic::AtomicUsize,
        wrong_key: bool,
    }

    impl NonceSource for Chain {
        async fn current_nonce(&self, _: Address, key: NonceKey) -> Result<U256, LaneError> {
            self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let key = if self.wrong_key { NonceKey::owner(Lane::new(999)) } else { key };
            Ok(key.nonce(self.start))
        }
    }

    const ACCOUNT: Address = Address::repeat_byte(0x11);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_lanes_never_collide() {
        let lanes = Arc::new(LaneAllocator::new(Chain { start: 10, ..Chain::default() }));
        let validator = Address::repeat_byte(0xaa);
        let tasks: Vec<_> = (0..8u32)
            .map(|lane| {
                let lanes = lanes.clone();
                tokio::spawn(async move {
                    let key = NonceKey::session(validator, Lane::new(lane));
                    let mut nonces = Vec::new();
                    for _ in 0..25 {
                        let lease = lanes.lease(ACCOUNT, key).await.unwrap();
                        nonces.push(lease.nonce());
                        tokio::task::yield_now().await;
                        lease.commit();
                    }
                    (key, nonces)
                })
            })
            .collect();
        let mut all = std::collections::HashSet::new();
        for task in tasks {
            let (key, nonces) = task.await.unwrap();
            assert_eq!(nonces, (10..35).map(|sequence| key.nonce(sequence)).collect::<Vec<_>>());
            all.extend(nonces);
        }
        assert_eq!(all.len(), 8 * 25, "no nonce handed out twice");
        assert_eq!(
            lanes.source.reads.load(std::sync::atomic::Ordering::SeqCst),
            8,
            "one read per lane"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_lane_is_sequential() {
        let lanes = Arc::new(LaneAllocator::new(Chain::default()));
        let key = NonceKey::owner(Lane::named("payroll"));
        let first = lanes.lease(ACCOUNT, key).await.unwrap();
        let waiting = {
            let lanes = lanes.clone();
            tokio::spawn(async move { lanes.lease(ACCOUNT, key).await.unwrap().sequence() })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "a second lease of a held lane waits");
        // Another lane is not held up.
        let other = lanes.lease(ACCOUNT, NonceKey::owner(Lane::new(2))).await.unwrap();
        assert_eq!(other.sequence(), 0);
        first.commit();
        assert_eq!(waiting.await.unwrap(), 1);
        // The same key of another account is another sequence.
        assert_eq!(lanes.lease(Address::repeat_byte(0x22), key).await.unwrap().sequence(), 0);
    }

    #[tokio::test]
    async fn dropped_leases_are_reused_and_resync_reads_again() {
        let lanes = LaneAllocator::new(Chain { start: 4, ..Chain::default() });
        let key = NonceKey::owner(Lane::DEFAULT);
        assert_eq!(lanes.lease(ACCOUNT, key).await.unwrap().sequence(), 4);
        let lease = lanes.lease(ACCOUNT, key).await.unwrap();
        assert_eq!(lease.sequence(), 4, "a dropped lease gives its number back");
        lease.commit();
        lanes.lease(ACCOUNT, key).await.unwrap().resync();
        assert_eq!(
            lanes.lease(ACCOUNT, key).await.unwrap().sequence(),
            4,
            "read from the chain again"
        );
        assert_eq!(lanes.source.reads.load(std::sync::atomic::Ordering::SeqCst), 2);
        lanes.lease(ACCOUNT, key).await.unwrap().commit();
        lanes.forget(ACCOUNT, key).await;
        assert_eq!(lanes.lease(ACCOUNT, key).await.unwrap().sequence(), 4);
        assert_eq!(lanes.source.reads.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_source_answering_another_key_is_refused() {
        let lanes = LaneAllocator::new(Chain { wrong_key: true, ..Chain::default() });
        let err = lanes.lease(ACCOUNT, NonceKey::owner(Lane::DEFAULT)).await.unwrap_err();
        assert!(matches!(err, LaneError::KeyMismatch { .. }), "{err}");
    }

    #[tokio::test]
    async fn the_last_sequence_number_is_never_handed_out() {
        let lanes = LaneAllocator::new(Chain { start: u64::MAX, ..Chain::default() });
        let err = lanes.lease(ACCOUNT, NonceKey::owner(Lane::DEFAULT)).await.unwrap_err();
        assert!(matches!(err, LaneError::Exhausted { .. }), "{err}");
    }
}
