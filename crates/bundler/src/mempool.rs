//! The mempool: operations waiting for a bundle, and those already included with their receipts.

use crate::error::{self, RpcError};
use alloy::primitives::{B256, U256};
use leash_userop::{rpc::UserOperationReceipt, UserOperation};
use std::collections::HashMap;

/// ERC-7562 `SAME_SENDER_MEMPOOL_COUNT`: operations an unstaked sender may have waiting (UREP-010).
pub const SAME_SENDER_MEMPOOL_COUNT: usize = 4;

/// A replacement must raise both fees by this many percent.
const REPLACEMENT_BUMP_PERCENT: u64 = 10;

/// An operation waiting for a bundle.
#[derive(Clone, Debug)]
pub(crate) struct Waiting {
    pub(crate) hash: B256,
    pub(crate) op: UserOperation,
}

/// Where an operation the bundler accepted stands.
#[derive(Clone, Debug)]
pub(crate) enum Known {
    Waiting(UserOperation),
    /// Taken into a bundle that is being sent.
    Bundling(UserOperation),
    Included(Box<(UserOperation, UserOperationReceipt)>),
}

#[derive(Debug, Default)]
pub(crate) struct Mempool {
    waiting: Vec<Waiting>,
    known: HashMap<B256, Known>,
}

impl Mempool {
    /// Refuses a duplicate, an underpriced replacement, or a sender over its quota; returns the hash of the
    /// waiting operation that `op` replaces, if any.
    pub(crate) fn admit(
        &self,
        hash: B256,
        op: &UserOperation,
        sender_staked: bool,
    ) -> Result<Option<B256>, RpcError> {
        match self.known.get(&hash) {
            Some(Known::Included(_)) => {
                return Err(RpcError::invalid_params(format!(
                    "UserOperation {hash} is already included"
                )))
            }
            Some(_) => {
                return Err(RpcError::invalid_params(format!(
                    "UserOperation {hash} is already in the mempool"
                )))
            }
            None => {}
        }
        let same_sender = self.waiting.iter().filter(|w| w.op.sender == op.sender);
        let mut count = 0;
        for waiting in same_sender {
            if waiting.op.nonce == op.nonce {
                let bumped =
                    |old: U256| old + old * U256::from(REPLACEMENT_BUMP_PERCENT) / U256::from(100);
                if op.max_fee_per_gas < bumped(waiting.op.max_fee_per_gas)
                    || op.max_priority_fee_per_gas < bumped(waiting.op.max_priority_fee_per_gas)
                {
                    return Err(RpcError::invalid_params(format!(
                        "replacement underpriced: {} waits with the same sender and nonce; raise maxFeePerGas and maxPriorityFeePerGas by at least {REPLACEMENT_BUMP_PERCENT}% to replace it",
                        waiting.hash
                    )));
                }
                return Ok(Some(waiting.hash));
            }
            count += 1;
        }
        if !sender_staked && count >= SAME_SENDER_MEMPOOL_COUNT {
            return Err(RpcError::new(
                error::THROTTLED,
                format!(
                    "UREP-010: {} already has {count} operations waiting; an unstaked account may have {SAME_SENDER_MEMPOOL_COUNT} (stake it with the EntryPoint to send more in parallel)",
                    op.sender
                ),
            ));
        }
        Ok(None)
    }

    /// Adds `op` (after [`Mempool::admit`] under the same lock).
    pub(crate) fn insert(&mut self, waiting: Waiting, replaces: Option<B256>) {
        if let Some(old) = replaces {
            self.waiting.retain(|w| w.hash != old);
            self.known.remove(&old);
        }
        self.known.insert(waiting.hash, Known::Waiting(waiting.op.clone()));
        self.waiting.push(waiting);
    }

    /// Takes up to `max` waiting operations, oldest first, for a bundle.
    pub(crate) fn take(&mut self, max: usize) -> Vec<Waiting> {
        let taken: Vec<Waiting> = self.waiting.drain(..self.waiting.len().min(max)).collect();
        for waiting in &taken {
            self.known.insert(waiting.hash, Known::Bundling(waiting.op.clone()));
        }
        taken
    }

    /// Records that `hash` landed.
    pub(crate) fn included(
        &mut self,
        hash: B256,
        op: UserOperation,
        receipt: UserOperationReceipt,
    ) {
        self.known.insert(hash, Known::Included(Box::new((op, receipt))));
    }

    /// Forgets an operation that cannot be included.
    pub(crate) fn drop_op(&mut self, hash: B256) {
        self.known.remove(&hash);
    }

    pub(crate) fn get(&self, hash: &B256) -> Option<&Known> {
        self.known.get(hash)
    }

    /// How many operations wait.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.len()
    }

    #[cfg(test)]
    fn senders(&self) -> Vec<alloy::primitives::Address> {
        self.waiting.iter().map(|w| w.op.sender).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{address, Address};

    const SENDER: Address = address!("1000000000000000000000000000000000000001");

    fn op(nonce: u64, fee: u64) -> UserOperation {
        UserOperation {
            sender: SENDER,
            nonce: U256::from(nonce),
            max_fee_per_gas: U256::from(fee),
            max_priority_fee_per_gas: U256::from(fee),
            ..UserOperation::default()
        }
    }

    fn add(pool: &mut Mempool, n: u8, op: UserOperation, staked: bool) -> Result<(), RpcError> {
        let hash = B256::with_last_byte(n);
        let replaces = pool.admit(hash, &op, staked)?;
        pool.insert(Waiting { hash, op }, replaces);
        Ok(())
    }

    #[test]
    fn a_duplicate_is_refused_while_waiting_and_after_inclusion() {
        let mut pool = Mempool::default();
        add(&mut pool, 1, op(0, 10), false).unwrap();
        let again = pool.admit(B256::with_last_byte(1), &op(0, 10), false).unwrap_err();
        assert_eq!(again.code, error::INVALID_PARAMS);
        assert!(again.message.contains("already in the mempool"));
        let taken = pool.take(10);
        pool.included(taken[0].hash, taken[0].op.clone(), dummy_receipt());
        let after = pool.admit(B256::with_last_byte(1), &op(0, 10), false).unwrap_err();
        assert!(after.message.contains("already included"));
    }

    #[test]
    fn replacement_needs_ten_percent_higher_fees() {
        let mut pool = Mempool::default();
        add(&mut pool, 1, op(0, 100), false).unwrap();
        let cheap = add(&mut pool, 2, op(0, 109), false).unwrap_err();
        assert!(cheap.message.contains("replacement underpriced"), "{}", cheap.message);
        add(&mut pool, 3, op(0, 110), false).unwrap();
        assert_eq!(pool.waiting(), 1);
        assert!(pool.get(&B256::with_last_byte(1)).is_none());
    }

    #[test]
    fn an_unstaked_sender_may_have_four_waiting_and_a_staked_one_more() {
        let mut pool = Mempool::default();
        for n in 0..4 {
            add(&mut pool, n as u8 + 1, op(n, 10), false).unwrap();
        }
        let fifth = add(&mut pool, 5, op(4, 10), false).unwrap_err();
        assert_eq!(fifth.code, error::THROTTLED);
        assert!(fifth.message.starts_with("UREP-010"));
        add(&mut pool, 6, op(4, 10), true).unwrap();
        assert_eq!(pool.senders().len(), 5);
    }

    #[test]
    fn bundles_take_the_oldest_first() {
        let mut pool = Mempool::default();
        for n in 0..3 {
            add(&mut pool, n as u8 + 1, op(n, 10), false).unwrap();
        }
        let taken = pool.take(2);
        assert_eq!(
            taken.iter().map(|w| w.hash).collect::<Vec<_>>(),
            [B256::with_last_byte(1), B256::with_last_byte(2)]
        );
        assert!(matches!(pool.get(&B256::with_last_byte(1)), Some(Known::Bundling(_))));
        assert_eq!(pool.waiting(), 1);
    }

    fn dummy_receipt() -> UserOperationReceipt {
        serde_json::from_value(serde_json::json!({
            "userOpHash": B256::with_last_byte(1), "sender": SENDER, "nonce": "0x0",
            "actualGasCost": "0x1", "actualGasUsed": "0x1", "success": true, "logs": [],
            "receipt": { "transactionHash": B256::with_last_byte(9), "blockHash": B256::with_last_byte(8),
                         "blockNumber": "0x1", "logs": [] }
        }))
        .unwrap()
    }
}
