//! One chain as the SDK sees it: the RPC provider, the EntryPoint and the session-key module, and the reads
//! of a session's on-chain state.

use crate::{Error, Result};
use alloy::{
    eips::{BlockId, BlockNumberOrTag},
    primitives::{Address, Bytes, B256, U256},
    providers::{DynProvider, Provider},
    rpc::{
        client::{BatchRequest, Waiter},
        types::TransactionRequest,
    },
    sol_types::SolCall,
    transports::{TransportError, TransportResult},
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
    /// out of the next operation), read in one round trip. The account's modules are left empty: see
    /// [`Chain::modules_among`].
    pub async fn session_state(&self, account: Address, session: &Session) -> Result<ChainState> {
        let reads = Reads {
            account,
            session_id: session.id()?,
            action_hashes: &session.policy.action_hashes()?,
            code: false,
            targets: &[],
        };
        Ok(self.snapshot(reads).await?.state)
    }

    /// Everything `reads` names, as of one block: the latest block first, then one JSON-RPC batch pinned to it
    /// (two round trips whatever the number of actions and targets), so that the counters, the gas spent and the
    /// time all come from the same state even while blocks are being mined. It reads the session's state as
    /// [`Chain::session_state`] does, and if asked whether the account has code and the leash account's
    /// `isModule` of each target. A read that fails is named in the error, with its cause as the source.
    ///
    /// Behind a load balancer the batch may reach a node that has not seen that block yet; it is then read once
    /// more at whatever block that node calls latest, which is consistent for the batch's reads as long as no
    /// block lands during it.
    pub(crate) async fn snapshot(&self, reads: Reads<'_>) -> Result<Snapshot> {
        let latest = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(|e| self.read_error("the latest block", e))?
            .ok_or_else(|| Error::rpc(&self.label, "no latest block"))?;
        let (now, at) = (latest.header.timestamp, BlockId::number(latest.header.number));
        match self.snapshot_at(reads, at, now).await {
            Err(e) if unknown_block(&e) => self.snapshot_at(reads, BlockId::latest(), now).await,
            other => other,
        }
    }

    async fn snapshot_at(&self, reads: Reads<'_>, at: BlockId, now: u64) -> Result<Snapshot> {
        let Reads { account, session_id: id, action_hashes, code, targets } = reads;
        let client = self.provider.client();
        let mut batch = BatchRequest::new(client);
        let queue = |e| self.read_error("the batch of reads", e);
        let record = eth_call(
            &mut batch,
            at,
            self.module,
            &SessionKeyValidator::sessionRecordCall::new((account, id)),
        )
        .map_err(queue)?;
        let epoch = eth_call(
            &mut batch,
            at,
            self.module,
            &SessionKeyValidator::epochOfCall::new((account,)),
        )
        .map_err(queue)?;
        let installed = eth_call(
            &mut batch,
            at,
            self.module,
            &SessionKeyValidator::isInstalledCall::new((account,)),
        )
        .map_err(queue)?;
        let mut asked = HashSet::new();
        let mut actions = Vec::with_capacity(action_hashes.len());
        for &hash in action_hashes {
            if asked.insert(hash) {
                let call = SessionKeyValidator::actionRecordCall::new((account, id, hash));
                actions.push((hash, eth_call(&mut batch, at, self.module, &call).map_err(queue)?));
            }
        }
        let code: Option<Waiter<Bytes>> = match code {
            true => Some(
                batch
                    .add_call("eth_getCode", &(account, at))
                    .map_err(|e| self.read_error("eth_getCode", e))?,
            ),
            false => None,
        };
        let mut asked = HashSet::new();
        let mut modules = Vec::with_capacity(targets.len());
        for &target in targets {
            if asked.insert(target) {
                let call = LeashAccount::isModuleCall::new((target,));
                modules.push((target, eth_call(&mut batch, at, account, &call).map_err(queue)?));
            }
        }
        batch.send().await.map_err(|e| self.read_error("the batch of reads", e))?;

        let record = answer::<SessionKeyValidator::sessionRecordCall>(record)
            .await
            .map_err(|e| self.error("sessionRecord", e))?;
        let epoch = answer::<SessionKeyValidator::epochOfCall>(epoch)
            .await
            .map_err(|e| self.error("epochOf", e))?;
        let installed = answer::<SessionKeyValidator::isInstalledCall>(installed)
            .await
            .map_err(|e| self.error("isInstalled", e))?;
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
        for (hash, waiter) in actions {
            let a = answer::<SessionKeyValidator::actionRecordCall>(waiter)
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
        let deployed = match code {
            Some(code) => Some(
                !code
                    .await
                    .map_err(|e| {
                        Error::read(&self.label, format!("eth_getCode {account}: {e}"), e)
                    })?
                    .is_empty(),
            ),
            None => None,
        };
        let mut is_module = Vec::with_capacity(modules.len());
        for (target, waiter) in modules {
            is_module.push((target, answer::<LeashAccount::isModuleCall>(waiter).await.ok()));
        }
        Ok(Snapshot { state, now, deployed, is_module })
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
        let mut answers = Vec::new();
        let mut asked = HashSet::new();
        for &target in targets {
            if asked.insert(target) {
                answers.push((target, view.isModule(target).call().await.ok()));
            }
        }
        self.modules_of(account, answers).await
    }

    /// The modules among targets given with their `isModule` answers (`None` where the account has no
    /// `isModule`: it is then asked `isModuleInstalled`).
    pub(crate) async fn modules_of(
        &self,
        account: Address,
        answers: Vec<(Address, Option<bool>)>,
    ) -> Result<HashSet<Address>> {
        let view = LeashAccount::new(account, &self.provider);
        let mut modules = HashSet::new();
        for (target, answer) in answers {
            let is_module = match answer {
                Some(answer) => answer,
                None => {
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

    /// `eth_gasPrice`: the base fee plus the node's suggested tip.
    pub async fn gas_price(&self) -> Result<u128> {
        self.provider.get_gas_price().await.map_err(|e| Error::rpc(&self.label, e))
    }

    /// `eth_maxPriorityFeePerGas`: the node's suggested tip.
    pub async fn max_priority_fee(&self) -> Result<u128> {
        self.provider.get_max_priority_fee_per_gas().await.map_err(|e| Error::rpc(&self.label, e))
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

    fn error_on(&self, account: Address, what: &str, e: alloy::contract::Error) -> Error {
        Error::read(&self.label, format!("{what} on account {account}: {e}"), e)
    }

    fn error(&self, what: &str, e: alloy::contract::Error) -> Error {
        Error::read(&self.label, format!("{what} on module {}: {e}", self.module), e)
    }

    fn read_error(&self, what: &str, e: TransportError) -> Error {
        Error::read(&self.label, format!("{what}: {e}"), e)
    }
}

/// What [`Chain::snapshot`] reads besides the session's state.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reads<'a> {
    /// The account.
    pub(crate) account: Address,
    /// The session's id.
    pub(crate) session_id: B256,
    /// The session's action hashes.
    pub(crate) action_hashes: &'a [B256],
    /// Whether to read if the account has code.
    pub(crate) code: bool,
    /// Call targets to ask the account's `isModule` about.
    pub(crate) targets: &'a [Address],
}

/// The chain as one batch of reads saw it; see [`Chain::snapshot`].
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// The session's state, without the account's modules.
    pub(crate) state: ChainState,
    /// The latest block's timestamp.
    pub(crate) now: u64,
    /// Whether the account has code, if asked.
    pub(crate) deployed: Option<bool>,
    /// `isModule` of each asked target (`None` where the call failed: an account that is not a leash account, or
    /// has no code).
    pub(crate) is_module: Vec<(Address, Option<bool>)>,
}

/// Whether a read failed because the node did not know the block it was pinned to.
fn unknown_block(error: &Error) -> bool {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    let text = text.to_ascii_lowercase();
    ["header not found", "unknown block", "block not found"].iter().any(|s| text.contains(s))
}

/// Queues `call` to `to` at block `at`.
fn eth_call<C: SolCall>(
    batch: &mut BatchRequest<'_>,
    at: BlockId,
    to: Address,
    call: &C,
) -> TransportResult<Waiter<Bytes>> {
    let tx = TransactionRequest::default().to(to).input(Bytes::from(call.abi_encode()).into());
    batch.add_call("eth_call", &(tx, at))
}

/// The decoded answer to a queued [`eth_call`], with the errors a contract binding's `call()` gives.
async fn answer<C: SolCall>(waiter: Waiter<Bytes>) -> Result<C::Return, alloy::contract::Error> {
    let data = waiter.await?;
    C::abi_decode_returns(&data).map_err(|e| match data.is_empty() {
        true => alloy::contract::Error::ZeroData(C::SIGNATURE.into(), e.into()),
        false => e.into(),
    })
}
