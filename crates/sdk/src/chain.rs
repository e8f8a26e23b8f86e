//! One chain as the SDK sees it: the RPC provider, the EntryPoint and the session-key module, and the reads
//! of a session's on-chain state.

use crate::{Error, Result};
use alloy::{
    primitives::{Address, Bytes, B256, U256},
    providers::{DynProvider, Provider},
};
use leash_contracts::{
    bindings::{LeashAccount, SessionKeyValidator},
    ENTRYPOINT_V07,
};
use leash_core::{ActionRecord, ChainState, Session, SessionRecord, SessionState};
use std::collections::HashSet;

/// A chain: where to read and what is deployed there.
#[derive(Clone, Debug)]
pub struct Chain {
    /// The RPC provider.
    pub provider: DynProvider,
    /// The chain id.
    pub chain_id: u64,
    /// EntryPoint v0.7.
    pub entry_point: Address,
    /// The session-key module.
    pub module: Address,
    /// A label for errors (the RPC URL or a network name).
    pub label: String,
}

impl Chain {
    /// The chain behind `provider`, with the canonical EntryPoint v0.7 and the module at `module`.
    pub async fn connect(
        provider: DynProvider,
        module: Address,
        label: impl Into<String>,
    ) -> Result<Self> {
        let label = label.into();
        let chain_id = provider.get_chain_id().await.map_err(|e| Error::rpc(&label, e))?;
        Ok(Self { provider, chain_id, entry_point: ENTRYPOINT_V07, module, label })
    }

    /// The session's state for `account` as the module stores it: whether the module is installed, record,
    /// epoch and every action's counters (whose `enabled` says the record exists, so the action's proof can stay
    /// out of the next operation). The account's modules are left empty: see [`Chain::modules_among`].
    pub async fn session_state(&self, account: Address, session: &Session) -> Result<ChainState> {
        let module = SessionKeyValidator::new(self.module, &self.provider);
        let id = session.id()?;
        let record = module
            .sessionRecord(account, id)
            .call()
            .await
            .map_err(|e| self.error("sessionRecord", e))?;
        let epoch = module.epochOf(account).call().await.map_err(|e| self.error("epochOf", e))?;
        let installed =
            module.isInstalled(account).call().await.map_err(|e| self.error("isInstalled", e))?;
        let mut state = ChainState {
            installed,
            modules: HashSet::new(),
            session: SessionRecord {
                state: match record.state {
                    1 => SessionState::Enabled,
                    2 => SessionState::Revoked,
                    _ => SessionState::None,
                },
                epoch: record.epoch,
                uses_period: record.usesPeriod,
                uses: record.uses,
                gas_spent: record.gasSpent,
            },
            epoch,
            actions: Default::default(),
        };
        for hash in session.policy.action_hashes()? {
            if state.actions.contains_key(&hash) {
                continue;
            }
            let a = module
                .actionRecord(account, id, hash)
                .call()
                .await
                .map_err(|e| self.error("actionRecord", e))?;
            state.actions.insert(
                hash,
                ActionRecord {
                    enabled: a.enabled,
                    period: a.period,
                    uses: a.uses.to(),
                    amount_spent: a.amountSpent.to(),
                    value_spent: a.valueSpent.to(),
                },
            );
        }
        Ok(state)
    }

    /// Which of `targets` are modules installed on the deployed `account`, as the module judges a call target:
    /// the leash account's `isModule` (every module type), or on another ERC-7579 account its validators and
    /// executors (`isModuleInstalled` of types 1 and 2).
    pub async fn modules_among(
        &self,
        account: Address,
        targets: &[Address],
    ) -> Result<HashSet<Address>> {
        let view = LeashAccount::new(account, &self.provider);
        let mut modules = HashSet::new();
        let mut asked = HashSet::new();
        for &target in targets {
            if !asked.insert(target) {
                continue;
            }
            let is_module = match view.isModule(target).call().await {
                Ok(answer) => answer,
                Err(_) => {
                    let mut found = false;
                    for kind in [1u64, 2] {
                        found = view
                            .isModuleInstalled(U256::from(kind), target, Bytes::new())
                            .call()
                            .await
                            .map_err(|e| self.error_on(account, "isModuleInstalled", e))?;
                        if found {
                            break;
                        }
                    }
                    found
                }
            };
            if is_module {
                modules.insert(target);
            }
        }
        Ok(modules)
    }

    /// `epochOf(account)`: grants must name it.
    pub async fn epoch(&self, account: Address) -> Result<u32> {
        SessionKeyValidator::new(self.module, &self.provider)
            .epochOf(account)
            .call()
            .await
            .map_err(|e| self.error("epochOf", e))
    }

    /// The latest block's timestamp.
    pub async fn now(&self) -> Result<u64> {
        let block = self
            .provider
            .get_block_by_number(Default::default())
            .await
            .map_err(|e| Error::rpc(&self.label, e))?
            .ok_or_else(|| Error::rpc(&self.label, "no latest block"))?;
        Ok(block.header.timestamp)
    }

    /// Current fees: (maxFeePerGas, maxPriorityFeePerGas).
    pub async fn fees(&self) -> Result<(u128, u128)> {
        let fees =
            self.provider.estimate_eip1559_fees().await.map_err(|e| Error::rpc(&self.label, e))?;
        Ok((fees.max_fee_per_gas, fees.max_priority_fee_per_gas))
    }

    /// `sessionState(account, id)` without the counters.
    pub async fn session_status(&self, account: Address, id: B256) -> Result<SessionState> {
        let state = SessionKeyValidator::new(self.module, &self.provider)
            .sessionState(account, id)
            .call()
            .await
            .map_err(|e| self.error("sessionState", e))?;
        Ok(match state {
            1 => SessionState::Enabled,
            2 => SessionState::Revoked,
            _ => SessionState::None,
        })
    }

    fn error_on(&self, account: Address, what: &str, e: impl std::fmt::Display) -> Error {
        Error::rpc(&self.label, format!("{what} on account {account}: {e}"))
    }

    fn error(&self, what: &str, e: impl std::fmt::Display) -> Error {
        Error::rpc(&self.label, format!("{what} on module {}: {e}", self.module))
    }
}
