//! The release's contracts on a chain: what is deployed where ([`check`]), and deploying what is missing
//! ([`deploy`]).
//!
//! Everything goes through the deterministic deployment proxy with the release's salt and committed init code
//! ([`leash_contracts::release`]), so a contract lands at the address every other chain has, whoever sends
//! the transaction. Deploying is idempotent: what is there with the release's code is left alone, and a
//! second run sends nothing.

use crate::{Error, Result};
use alloy::{
    network::TransactionBuilder,
    primitives::{keccak256, Address, Bytes, TxHash, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
    sol_types::SolCall,
};
use leash_contracts::{
    bindings::{entry_point_creation_code, EntryPoint, LeashFactoryStaker},
    release::{self, ReleaseContract},
    CREATE2_DEPLOYER, ENTRYPOINT_V07, ENTRYPOINT_V07_SALT,
};
use serde::Serialize;

/// How long a front's stake stays locked once unlocked: a day, what public bundlers ask of a staked factory.
pub const FRONT_UNSTAKE_DELAY: u32 = 86_400;

/// What an address holds, compared with what the release puts there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Presence {
    /// The release's code (immutables aside).
    Deployed,
    /// No code.
    Missing,
    /// Code, but not the release's: nothing of leash should be trusted there.
    Different,
}

/// One contract of the release on a chain.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContractStatus {
    /// The contract's name.
    pub name: String,
    /// Its address (the same on every chain).
    pub address: Address,
    /// What is there.
    pub presence: Presence,
}

/// The stake of a factory front in the EntryPoint.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stake {
    /// Wei staked (a decimal string in JSON).
    #[serde(serialize_with = "decimal")]
    pub amount: U256,
    /// Seconds the stake stays locked once unlocked.
    pub unstake_delay: u32,
    /// Whether it counts as staked (not unlocking).
    pub staked: bool,
}

/// The release on one chain.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseStatus {
    /// The chain asked.
    pub chain_id: u64,
    /// The deployment proxy, EntryPoint v0.7, then the release's contracts (and the front, when asked).
    pub contracts: Vec<ContractStatus>,
    /// The front's stake, when a front was asked about and is deployed.
    pub stake: Option<Stake>,
}

impl ReleaseStatus {
    /// Whether everything asked about is there with the release's code, and the front (when asked about) staked.
    pub fn complete(&self) -> bool {
        self.contracts.iter().all(|c| c.presence == Presence::Deployed)
            && self
                .stake
                .as_ref()
                .is_none_or(|stake| stake.staked && stake.unstake_delay >= FRONT_UNSTAKE_DELAY)
    }
}

/// What [`deploy`] is asked to do beyond the shared contracts.
#[derive(Clone, Debug, Default)]
pub struct DeployOptions {
    /// Deploy the factory front whose stake this address owns.
    pub front_owner: Option<Address>,
    /// Bring the front's stake up to this many wei (the sender must be the front's owner).
    pub stake: Option<U256>,
}

/// One thing [`deploy`] did.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployStep {
    /// What: a contract's name, or the front's stake.
    pub name: String,
    /// The contract (or the front staked).
    pub address: Address,
    /// The transaction that did it.
    pub transaction: TxHash,
}

/// What is deployed on the chain behind `provider`: the deployment proxy, EntryPoint v0.7, the release's
/// contracts and, when `front` names its owner, that owner's factory front and its stake.
pub async fn check(provider: &DynProvider, front: Option<Address>) -> Result<ReleaseStatus> {
    let url = "the node";
    let chain_id =
        provider.get_chain_id().await.map_err(|e| Error::read(url, "eth_chainId".into(), e))?;
    let mut contracts = Vec::new();
    let code = |address: Address| async move {
        provider
            .get_code_at(address)
            .await
            .map_err(|e| Error::read(url, format!("eth_getCode at {address}"), e))
    };
    // These two are the same on every chain: compared whole (the deployment proxy) or by hash (the EntryPoint).
    let proxy = code(CREATE2_DEPLOYER).await?;
    let entry_point = code(ENTRYPOINT_V07).await?;
    let expected = [
        proxy.as_ref() == release::CREATE2_DEPLOYER_CODE,
        keccak256(&entry_point) == release::ENTRYPOINT_V07_CODE_HASH,
    ];
    for ((name, address, found), expected) in [
        ("CREATE2 deployment proxy", CREATE2_DEPLOYER, &proxy),
        ("EntryPoint v0.7", ENTRYPOINT_V07, &entry_point),
    ]
    .into_iter()
    .zip(expected)
    {
        let presence = match (found.is_empty(), expected) {
            (true, _) => Presence::Missing,
            (false, true) => Presence::Deployed,
            (false, false) => Presence::Different,
        };
        contracts.push(ContractStatus { name: name.into(), address, presence });
    }
    let mut asked: Vec<ReleaseContract> = release::contracts().into();
    asked.extend(front.map(release::factory_front));
    for contract in &asked {
        let found = code(contract.address).await?;
        contracts.push(ContractStatus {
            name: contract.name.into(),
            address: contract.address,
            presence: presence(contract, &found),
        });
    }
    let mut stake = None;
    if let Some(front) = front.map(release::factory_front) {
        if contracts.last().is_some_and(|c| c.presence == Presence::Deployed) {
            stake = Some(stake_of(provider, front.address).await?);
        }
    }
    Ok(ReleaseStatus { chain_id, contracts, stake })
}

/// Deploys whatever of the release is missing on the chain behind `provider`, from `from` (the provider signs
/// for it), then the front and its stake when `options` ask. Returns what it sent: nothing when everything
/// was already there.
///
/// Fails before sending anything when the deployment proxy is missing (it is deployed by its own keyless
/// transaction, which a chain with replay protection may refuse) or when an address holds other code.
pub async fn deploy(
    provider: &DynProvider,
    from: Address,
    options: &DeployOptions,
) -> Result<Vec<DeployStep>> {
    // First, a transaction of `from` still pending may be an earlier run's: what it deploys or stakes is not
    // visible yet, so this run would send it again (a stake would be added twice).
    let nonce = |pending: bool| async move {
        let count = provider.get_transaction_count(from);
        let count = if pending { count.pending() } else { count.latest() };
        count.await.map_err(|e| Error::read("the node", format!("the nonce of {from}"), e))
    };
    let (included, pending) = (nonce(false).await?, nonce(true).await?);
    if pending > included {
        return Err(Error::Setup(format!(
            "{from} has {} transaction(s) waiting to be included; nothing was sent: run this again once they \
             are in a block (an earlier run's deployment or stake would otherwise be sent twice), or replace a \
             stuck one from your wallet with a transaction of the same nonce",
            pending - included
        )));
    }
    let status = check(provider, options.front_owner).await?;
    let find = |address: Address| {
        status.contracts.iter().find(|c| c.address == address).map(|c| c.presence)
    };
    if find(CREATE2_DEPLOYER) == Some(Presence::Missing) {
        return Err(Error::Setup(format!(
            "chain {} has no deterministic deployment proxy at {CREATE2_DEPLOYER}: deploy it first (its keyless \
             transaction, see docs/deployment.md), then run this again",
            status.chain_id
        )));
    }
    if let Some(other) = status.contracts.iter().find(|c| c.presence == Presence::Different) {
        return Err(Error::Setup(format!(
            "{} at {} has code that is not this release's; nothing was sent",
            other.name, other.address
        )));
    }
    if let (Some(_), Some(owner)) = (options.stake, options.front_owner) {
        if owner != from {
            return Err(Error::Setup(format!(
                "only the front's owner {owner} may stake it; {from} is sending"
            )));
        }
    }
    let mut sent = Vec::new();
    if find(ENTRYPOINT_V07) == Some(Presence::Missing) {
        let input = [ENTRYPOINT_V07_SALT.as_slice(), &entry_point_creation_code()].concat();
        let tx = TransactionRequest::default().with_to(CREATE2_DEPLOYER).with_input(input);
        let hash = send(provider, from, tx, "EntryPoint v0.7").await?;
        let code = provider
            .get_code_at(ENTRYPOINT_V07)
            .await
            .map_err(|e| Error::read("the node", format!("eth_getCode at {ENTRYPOINT_V07}"), e))?;
        if keccak256(&code) != release::ENTRYPOINT_V07_CODE_HASH {
            return Err(Error::Setup(format!(
                "EntryPoint v0.7 was sent ({hash}) but {ENTRYPOINT_V07} does not hold its code"
            )));
        }
        sent.push(DeployStep {
            name: "EntryPoint v0.7".into(),
            address: ENTRYPOINT_V07,
            transaction: hash,
        });
    }
    let mut wanted: Vec<ReleaseContract> = release::contracts().into();
    wanted.extend(options.front_owner.map(release::factory_front));
    for contract in wanted {
        if find(contract.address) == Some(Presence::Deployed) {
            continue;
        }
        let tx = TransactionRequest::default()
            .with_to(CREATE2_DEPLOYER)
            .with_input(contract.deployment_input());
        let hash = send(provider, from, tx, contract.name).await?;
        let found = provider.get_code_at(contract.address).await.map_err(|e| {
            Error::read("the node", format!("eth_getCode at {}", contract.address), e)
        })?;
        if !contract.is_runtime_code(&found) {
            return Err(Error::Setup(format!(
                "{} was sent ({hash}) but {} does not hold its code",
                contract.name, contract.address
            )));
        }
        sent.push(DeployStep {
            name: contract.name.into(),
            address: contract.address,
            transaction: hash,
        });
    }

    if let (Some(wanted), Some(owner)) = (options.stake, options.front_owner) {
        let front = release::factory_front(owner).address;
        let current = stake_of(provider, front).await?;
        let short = wanted.saturating_sub(current.amount);
        let delay_ok = current.unstake_delay >= FRONT_UNSTAKE_DELAY;
        if !short.is_zero() || !current.staked || !delay_ok {
            let call = LeashFactoryStaker::addStakeCall {
                entryPoint: ENTRYPOINT_V07,
                unstakeDelaySec: current.unstake_delay.max(FRONT_UNSTAKE_DELAY),
            };
            let tx = TransactionRequest::default()
                .with_to(front)
                .with_input(call.abi_encode())
                .with_value(short);
            let hash = send(provider, from, tx, "the front's stake").await?;
            sent.push(DeployStep {
                name: "LeashFactoryStaker stake".into(),
                address: front,
                transaction: hash,
            });
        }
    }
    Ok(sent)
}

fn decimal<S: serde::Serializer>(
    value: &U256,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(&value.to_string())
}

fn presence(contract: &ReleaseContract, code: &Bytes) -> Presence {
    if code.is_empty() {
        Presence::Missing
    } else if contract.is_runtime_code(code) {
        Presence::Deployed
    } else {
        Presence::Different
    }
}

async fn stake_of(provider: &DynProvider, front: Address) -> Result<Stake> {
    let info =
        EntryPoint::new(ENTRYPOINT_V07, provider).getDepositInfo(front).call().await.map_err(
            |e| Error::read("the node", format!("the EntryPoint's deposit info of {front}"), e),
        )?;
    Ok(Stake {
        amount: U256::from(info.stake),
        unstake_delay: info.unstakeDelaySec,
        staked: info.staked,
    })
}

/// Sends `tx` from `from` (gas estimated by the node) and waits for a successful receipt.
async fn send(
    provider: &DynProvider,
    from: Address,
    tx: TransactionRequest,
    what: &str,
) -> Result<TxHash> {
    let pending = provider
        .send_transaction(tx.with_from(from))
        .await
        .map_err(|e| Error::rpc("the node", format!("sending {what}: {e}")))?;
    let receipt = pending
        .with_timeout(Some(std::time::Duration::from_secs(180)))
        .get_receipt()
        .await
        .map_err(|e| Error::rpc("the node", format!("waiting for {what}: {e}")))?;
    if !receipt.status() {
        return Err(Error::Setup(format!(
            "the transaction deploying {what} reverted ({})",
            receipt.transaction_hash
        )));
    }
    Ok(receipt.transaction_hash)
}
