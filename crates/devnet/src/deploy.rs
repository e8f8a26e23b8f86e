//! The contracts every devnet starts with, and how they get there quickly.
//!
//! All deployment transactions come from one fixed deployer address (not one of anvil's dev accounts, which
//! stay untouched: nonce 0 and their full balance), so every devnet has the same addresses. Nobody holds its
//! key: anvil impersonates it, so nothing is signed on this side (signing 90 KB of creation code is most of
//! the cost in a debug build). The transactions carry explicit nonces, gas limits and fees and are sent one
//! after the other without waiting in between (anvil mines each on arrival); only then are the receipts
//! checked: no gas estimation and no waiting per transaction. Each contract address is computed before
//! sending and compared with the receipt.

use std::{
    collections::BTreeMap,
    sync::Once,
    time::{Duration, Instant},
};

use alloy::{
    network::TransactionBuilder,
    primitives::{keccak256, Address, Bytes, TxHash, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
    sol_types::{SolCall, SolConstructor},
};
use leash_contracts::{
    bindings::{
        entry_point_creation_code, permit2,
        seaport::{ConduitController, Seaport},
        DevCollection, DevPaymaster, DevToken, DevUsdc, DexRouter, EntryPoint, GameItems,
        LeashAccountFactory, LeashFactoryStaker, SessionKeyValidator, YieldVault,
    },
    release::{self, ReleaseContract},
    CREATE2_DEPLOYER, ENTRYPOINT_V07, ENTRYPOINT_V07_SALT,
};
use serde::{Deserialize, Serialize};

use crate::{
    aave::{self, Aave},
    error::{DevnetError, Result},
    rpc::wait_for_receipt,
    uniswap::{Tokens, Uniswap},
};

/// The devnet's price of WETH: the [`DexRouter`] quotes 1 WETH = 3,000 USDC in both directions, and Uniswap's
/// pairs and pools are seeded at 1 WETH = 3,000 USDC = 3,000 DAI.
pub const WETH_PRICE_IN_USDC: u64 = 3_000;

/// Whole USDC minted to the [`DexRouter`] as reserves at start-up.
pub const DEX_USDC_RESERVES: u64 = 10_000_000;

/// Whole WETH minted to the [`DexRouter`] as reserves at start-up.
pub const DEX_WETH_RESERVES: u64 = 10_000;

/// EIP-170: the largest runtime code mainnet accepts.
pub const EIP170_CODE_SIZE_LIMIT: usize = 0x6000;

/// Gas limit of each contract creation: enough for any contract within EIP-170, under the EIP-7825 cap
/// (2^24) and half a default 30M block, so two creations fit one block.
const CREATE_GAS: u64 = 15_000_000;

/// Gas limit of each set-up call (rates, mints).
const CALL_GAS: u64 = 200_000;

/// What the deployer holds for gas and for [`crate::Devnet::deposit_to_entry_point`]: 1e9 ETH.
pub(crate) const DEPLOYER_BALANCE: U256 = U256::from_limbs([0x9fd0803ce8000000, 0x33b2e3c, 0, 0]);

/// An ERC-20 of the devnet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// The token contract.
    pub address: Address,
    /// Its ERC-20 name.
    pub name: String,
    /// Raw units per whole token are `10^decimals`.
    pub decimals: u8,
}

/// Where a devnet's contracts are. Serialises to JSON with camelCase keys:
///
/// ```json
/// { "chainId": 31337, "entryPoint": "0x0000000071727De22E5E9d8BAf0edAc6f37da032", "...": "...",
///   "tokens": { "USDC": { "address": "0x...", "name": "USD Coin (devnet)", "decimals": 6 } } }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// The chain these addresses are on.
    pub chain_id: u64,
    /// The account that deployed the contracts below (a fixed key, not a dev account).
    pub deployer: Address,
    /// ERC-4337 EntryPoint v0.7, at its canonical address.
    pub entry_point: Address,
    /// The session-key validator module.
    pub session_key_validator: Address,
    /// The account factory (ownerless; accounts' addresses come from it).
    pub account_factory: Address,
    /// The staked front of the account factory, owned by [`Deployment::deployer`] and staked with
    /// [`FACTORY_STAKE_ETH`] for a day: the factory operations name, so that a new account's first operation may
    /// also grant a session (ERC-7562 STO-022).
    pub factory_staker: Address,
    /// The account implementation every account proxy points to (created by the factory).
    pub account_implementation: Address,
    /// "USD Coin (devnet)", 6 decimals, open mint, with USDC's EIP-3009 (`transferWithAuthorization`,
    /// `receiveWithAuthorization`, `cancelAuthorization`; EIP-712 domain version "2", ERC-1271 signers accepted).
    pub usdc: Address,
    /// "Wrapped Ether (devnet)", 18 decimals, open mint. A `DevToken` like the others: it has no `deposit` or
    /// `withdraw`.
    pub weth: Address,
    /// "Dai Stablecoin (devnet)", 18 decimals, open mint: a second stablecoin, worth 1 USDC, for a token a
    /// policy leaves off its list.
    pub dai: Address,
    /// The ERC-1155 game collection (GOLD = 1, WOOD = 2, IRON = 3, legendaries from 1,000,000).
    pub game_items: Address,
    /// The fixed-rate router, quoting USDC/WETH at [`WETH_PRICE_IN_USDC`] with reserves of both.
    pub dex_router: Address,
    /// The ERC-4626 vault over USDC ("yUSDC").
    pub yield_vault: Address,
    /// A paymaster that sponsors every operation from its EntryPoint deposit ([`PAYMASTER_DEPOSIT_ETH`]).
    pub dev_paymaster: Address,
    /// The ERC-20s by symbol: USDC, WETH, DAI and the vault's share token yUSDC.
    pub tokens: BTreeMap<String, Token>,
    /// Uniswap V2 and V3 from their npm releases, with pairs and pools seeded at the devnet's prices.
    pub uniswap: Uniswap,
    /// Permit2 at its canonical address, `0x000000000022D473030F116dDEE9F6B43aC78BA3` (its runtime code set
    /// there, with the domain separator of this chain).
    pub permit2: Address,
    /// "Leash Punks (devnet)" (LPUNK), an ERC-721 anyone may mint (`mint(to, tokenId)`), to list on Seaport.
    pub collection: Address,
    /// Seaport 1.6 (`@opensea/seaport-js` 4.3.0's build; not the canonical address). Orders are built with
    /// [`crate::seaport::Listing`].
    pub seaport: Address,
    /// Seaport's `ConduitController`, which Seaport was created with (listings need no conduit).
    pub seaport_conduit_controller: Address,
    /// Aave V3 (`@aave/core-v3` 1.19.3) with USDC and WETH reserves.
    pub aave: Aave,
}

impl Deployment {
    /// Where a devnet started on a fresh chain puts everything: the deployer's creations are numbered from
    /// its nonce, so the addresses are the same on every fresh devnet whatever its chain id or port. Tools
    /// use this to find the contracts of a running `leash devnet` without asking it.
    pub fn fresh(chain_id: u64) -> Self {
        // Nonce 0 deploys the EntryPoint through the CREATE2 proxy; the creations start at nonce 1.
        Self::layout(chain_id, deployer(), 1)
    }

    /// The addresses when the deployer's first creation has nonce `first_create`. New contracts are created
    /// after the ones before them, so that the addresses tools have kept stay where they were.
    fn layout(chain_id: u64, from: Address, first_create: u64) -> Self {
        let at = |i: u64| from.create(first_create + i);
        // Nonces 0, 1 and 8 deploy the release's contracts through the CREATE2 proxy (their addresses are the
        // release's); the other contracts keep the addresses of the deployer's nonces.
        let (usdc, weth, game_items, router, vault, paymaster, dai) =
            (at(2), at(3), at(4), at(5), at(6), at(7), at(9));
        let token = |address, name: &str, decimals| Token { address, name: name.into(), decimals };
        let tokens = BTreeMap::from([
            ("USDC".to_string(), token(usdc, "USD Coin (devnet)", 6)),
            ("WETH".to_string(), token(weth, "Wrapped Ether (devnet)", 18)),
            ("DAI".to_string(), token(dai, "Dai Stablecoin (devnet)", 18)),
            ("yUSDC".to_string(), token(vault, "Yield USDC (devnet)", 6)),
        ]);
        let uniswap = Uniswap::layout(from, first_create + 10, Tokens { usdc, weth, dai });
        let (aave, _) = aave::plan(from, first_create + 19, Tokens { usdc, weth, dai });
        Self {
            chain_id,
            deployer: from,
            entry_point: ENTRYPOINT_V07,
            session_key_validator: release::SESSION_KEY_VALIDATOR,
            account_factory: release::ACCOUNT_FACTORY,
            factory_staker: release::factory_front(from).address,
            account_implementation: release::ACCOUNT_IMPLEMENTATION,
            usdc,
            weth,
            dai,
            game_items,
            dex_router: router,
            yield_vault: vault,
            dev_paymaster: paymaster,
            tokens,
            uniswap,
            permit2: permit2::PERMIT2,
            collection: at(16),
            seaport_conduit_controller: at(17),
            seaport: at(18),
            aave,
        }
    }

    /// The ERC-20 with this symbol (`"USDC"`, `"WETH"`, `"DAI"`, `"yUSDC"`).
    pub fn token(&self, symbol: &str) -> Option<&Token> {
        self.tokens.get(symbol)
    }
}

/// The address every devnet deploys from: the last 20 bytes of keccak256("leash devnet deployer"), an
/// address without a known key that anvil impersonates.
pub(crate) fn deployer() -> Address {
    Address::from_word(keccak256("leash devnet deployer"))
}

/// Ether the [`Deployment::dev_paymaster`] holds in the EntryPoint.
pub const PAYMASTER_DEPOSIT_ETH: u64 = 1_000;

/// Ether the [`Deployment::factory_staker`] stakes in the EntryPoint (locked for a day).
pub const FACTORY_STAKE_ETH: u64 = 10;

/// How long the [`Deployment::factory_staker`]'s stake stays locked once unlocked: a day, what bundlers ask.
const FACTORY_STAKE_DELAY: u32 = 86_400;

/// The runtime-code size limit anvil must allow for the contracts deployed here, when it is above EIP-170.
///
/// Every contract fits EIP-170 today (`make check-artifacts` fails otherwise); should one grow past it, the
/// devnet lifts anvil's limit to exactly what the largest contract needs and says so once, so the local stack
/// keeps working while the contract is brought back under the limit.
pub(crate) fn required_code_size_limit() -> Option<usize> {
    let sizes = [
        ("SessionKeyValidator", SessionKeyValidator::DEPLOYED_BYTECODE.len()),
        ("LeashAccount", leash_contracts::bindings::LeashAccount::DEPLOYED_BYTECODE.len()),
        ("LeashAccountFactory", LeashAccountFactory::DEPLOYED_BYTECODE.len()),
        ("GameItems", GameItems::DEPLOYED_BYTECODE.len()),
        ("YieldVault", YieldVault::DEPLOYED_BYTECODE.len()),
    ];
    let (name, size) = sizes.into_iter().max_by_key(|(_, size)| *size)?;
    if size <= EIP170_CODE_SIZE_LIMIT {
        return None;
    }
    static WARN: Once = Once::new();
    WARN.call_once(|| {
        tracing::warn!(
            contract = name,
            size,
            limit = EIP170_CODE_SIZE_LIMIT,
            "runtime code exceeds EIP-170; the devnet lifts anvil's code size limit, mainnet would not"
        );
    });
    Some(size)
}

/// One deployment transaction.
pub(crate) struct Step {
    contract: &'static str,
    /// The address a creation must produce; `None` for calls.
    creates: Option<Address>,
    tx: TransactionRequest,
    /// A release contract created through the CREATE2 proxy: its address must then hold its code.
    release: Option<ReleaseContract>,
}

impl Step {
    /// Creates `contract` from `code` (creation code and constructor arguments), which must land at `address`.
    pub(crate) fn create(contract: &'static str, address: Address, code: Vec<u8>) -> Self {
        let tx = TransactionRequest::default().with_deploy_code(code).with_gas_limit(CREATE_GAS);
        Self { contract, creates: Some(address), tx, release: None }
    }

    /// Creates a contract of the release through the CREATE2 proxy, as `leash deploy` does on any chain; the
    /// code found at its address afterwards is checked against the release's.
    pub(crate) fn release(contract: &ReleaseContract) -> Self {
        let tx = TransactionRequest::default()
            .with_to(CREATE2_DEPLOYER)
            .with_input(contract.deployment_input())
            .with_gas_limit(CREATE_GAS);
        Self { contract: contract.name, creates: None, tx, release: Some(contract.clone()) }
    }

    /// Calls `to` with `input` and at most `gas`.
    pub(crate) fn call(contract: &'static str, to: Address, input: Vec<u8>, gas: u64) -> Self {
        let tx = TransactionRequest::default().with_to(to).with_input(input).with_gas_limit(gas);
        Self { contract, creates: None, tx, release: None }
    }
}

/// Deploys the stack from [`deployer`] (or `from`: an address and the nonce to start at) and returns where
/// everything is. Leaves the deployer impersonated and funded with [`DEPLOYER_BALANCE`], for the helpers.
pub(crate) async fn deploy(
    provider: &DynProvider,
    chain_id: u64,
    timeout: Duration,
    from: Option<(Address, u64)>,
) -> Result<Deployment> {
    let (from, start_nonce) = from.map_or((deployer(), None), |(a, n)| (a, Some(n)));
    if let Some(nonce) = start_nonce {
        provider
            .raw_request::<_, ()>("anvil_setNonce".into(), (from, U256::from(nonce)))
            .await
            .map_err(DevnetError::rpc("anvil_setNonce"))?;
    }
    let ((), (), nonce, fees, entry_point_code, create2_code, permit2_code) = tokio::try_join!(
        async {
            provider
                .raw_request::<_, ()>("anvil_impersonateAccount".into(), (from,))
                .await
                .map_err(DevnetError::rpc("anvil_impersonateAccount"))
        },
        async {
            provider
                .raw_request::<_, ()>("anvil_setBalance".into(), (from, DEPLOYER_BALANCE))
                .await
                .map_err(DevnetError::rpc("anvil_setBalance"))
        },
        async {
            provider
                .get_transaction_count(from)
                .await
                .map_err(DevnetError::rpc("eth_getTransactionCount"))
        },
        async {
            provider.estimate_eip1559_fees().await.map_err(DevnetError::rpc("eth_feeHistory"))
        },
        async {
            provider.get_code_at(ENTRYPOINT_V07).await.map_err(DevnetError::rpc("eth_getCode"))
        },
        async {
            provider.get_code_at(CREATE2_DEPLOYER).await.map_err(DevnetError::rpc("eth_getCode"))
        },
        async {
            provider.get_code_at(permit2::PERMIT2).await.map_err(DevnetError::rpc("eth_getCode"))
        },
    )?;

    // No npm release ships Permit2's canonical creation code, so its runtime code is set at its address, with
    // the immutables its constructor would have computed on this chain (leash_contracts' `permit2` module).
    // A chain that already has it (a fork) keeps its own.
    if permit2_code.is_empty() {
        provider
            .raw_request::<_, ()>(
                "anvil_setCode".into(),
                (permit2::PERMIT2, permit2::runtime_code(chain_id)),
            )
            .await
            .map_err(DevnetError::rpc("anvil_setCode"))?;
    }

    let mut steps = Vec::new();
    if entry_point_code.is_empty() {
        if create2_code.is_empty() {
            // anvil 1.x has it in its genesis state; it is installed only where it is missing (an older anvil,
            // a fork of a chain without it).
            let code = Bytes::from(release::CREATE2_DEPLOYER_CODE);
            provider
                .raw_request::<_, ()>("anvil_setCode".into(), (CREATE2_DEPLOYER, code))
                .await
                .map_err(DevnetError::rpc("anvil_setCode"))?;
        }
        let input = [ENTRYPOINT_V07_SALT.as_slice(), &entry_point_creation_code()].concat();
        let predicted =
            CREATE2_DEPLOYER.create2_from_code(ENTRYPOINT_V07_SALT, entry_point_creation_code());
        if predicted != ENTRYPOINT_V07 {
            return Err(DevnetError::Deploy {
                contract: "EntryPoint",
                reason: format!(
                    "its creation code would land at {predicted}, not at the canonical {ENTRYPOINT_V07}; the \
                     EntryPoint artifact in crates/contracts is not the v0.7 release"
                ),
            });
        }
        steps.push(Step {
            contract: "EntryPoint",
            creates: None,
            release: None,
            tx: TransactionRequest::default()
                .with_to(CREATE2_DEPLOYER)
                .with_input(input)
                .with_gas_limit(CREATE_GAS),
        });
    }

    // Creations take the deployer's nonces in order, so every address is known before anything is sent.
    let first_create = nonce + steps.len() as u64;
    let layout = Deployment::layout(chain_id, from, first_create);
    let Deployment {
        usdc,
        weth,
        dai,
        game_items,
        dex_router: router,
        yield_vault: vault,
        dev_paymaster: paymaster,
        factory_staker: staker,
        ref uniswap,
        ..
    } = layout;
    let token = |name: &str, symbol: &str, decimals: u8| {
        let args = DevToken::constructorCall {
            name_: name.into(),
            symbol_: symbol.into(),
            decimals_: decimals,
        };
        [&DevToken::BYTECODE[..], &args.abi_encode()].concat()
    };
    let vault_args = YieldVault::constructorCall {
        asset_: usdc,
        name_: "Yield USDC (devnet)".into(),
        symbol_: "yUSDC".into(),
    };
    let paymaster_args = DevPaymaster::constructorCall { entryPoint_: ENTRYPOINT_V07 };
    let [implementation, module, factory] = release::contracts();
    let front = release::factory_front(from);
    steps.push(Step::release(&module));
    steps.push(Step::release(&factory));
    let creations: [(&'static str, Address, Vec<u8>); 6] = [
        ("DevUsdc USDC", usdc, DevUsdc::BYTECODE.to_vec()),
        ("DevToken WETH", weth, token("Wrapped Ether (devnet)", "WETH", 18)),
        ("GameItems", game_items, GameItems::BYTECODE.to_vec()),
        ("DexRouter", router, DexRouter::BYTECODE.to_vec()),
        ("YieldVault", vault, [&YieldVault::BYTECODE[..], &vault_args.abi_encode()].concat()),
        (
            "DevPaymaster",
            paymaster,
            [&DevPaymaster::BYTECODE[..], &paymaster_args.abi_encode()].concat(),
        ),
    ];
    for (contract, address, code) in creations {
        steps.push(Step::create(contract, address, code));
    }
    steps.push(Step::release(&implementation));
    steps.push(Step::create("DevToken DAI", dai, token("Dai Stablecoin (devnet)", "DAI", 18)));
    steps.extend(uniswap.creations(from, weth));
    // Seaport and Aave come after Uniswap, so everything created before keeps its address.
    let seaport_args =
        Seaport::constructorCall { conduitController: layout.seaport_conduit_controller };
    steps.extend([
        Step::create("DevCollection", layout.collection, DevCollection::BYTECODE.to_vec()),
        Step::create(
            "Seaport ConduitController",
            layout.seaport_conduit_controller,
            ConduitController::BYTECODE.to_vec(),
        ),
        Step::create(
            "Seaport",
            layout.seaport,
            [&Seaport::BYTECODE[..], &seaport_args.abi_encode()].concat(),
        ),
    ]);
    let (aave, aave_steps) =
        aave::plan(from, nonce + steps.len() as u64, Tokens { usdc, weth, dai });
    debug_assert_eq!(aave, layout.aave);
    steps.extend(aave_steps);

    let usdc_unit = U256::from(10u64).pow(U256::from(6));
    let weth_unit = U256::from(10u64).pow(U256::from(18));
    let price = U256::from(WETH_PRICE_IN_USDC);
    // rateWad = raw units out per 1e18 raw units in.
    let usdc_to_weth = weth_unit * weth_unit / usdc_unit / price;
    let weth_to_usdc = price * usdc_unit;
    let calls: [(&'static str, Address, Vec<u8>); 4] = [
        ("DexRouter (USDC->WETH rate)", router, rate(usdc, weth, usdc_to_weth)),
        ("DexRouter (WETH->USDC rate)", router, rate(weth, usdc, weth_to_usdc)),
        (
            "DevToken USDC (router reserves)",
            usdc,
            mint(router, U256::from(DEX_USDC_RESERVES) * usdc_unit),
        ),
        (
            "DevToken WETH (router reserves)",
            weth,
            mint(router, U256::from(DEX_WETH_RESERVES) * weth_unit),
        ),
    ];
    for (contract, to, input) in calls {
        steps.push(Step::call(contract, to, input, CALL_GAS));
    }

    // The paymaster sponsors from its EntryPoint deposit.
    steps.push(Step {
        contract: "EntryPoint (paymaster deposit)",
        creates: None,
        release: None,
        tx: TransactionRequest::default()
            .with_to(ENTRYPOINT_V07)
            .with_input(EntryPoint::depositToCall { account: paymaster }.abi_encode())
            .with_value(U256::from(PAYMASTER_DEPOSIT_ETH) * U256::from(10u64).pow(U256::from(18)))
            .with_gas_limit(CALL_GAS),
    });

    // The factory's front (owned by the deployer) stakes, as a factory must on a public mempool for a first operation that also writes
    // the new account's records elsewhere (a session granted on first use).
    steps.push(Step::release(&front));
    steps.push(Step {
        contract: "LeashFactoryStaker (stake)",
        creates: None,
        release: None,
        tx: TransactionRequest::default()
            .with_to(staker)
            .with_input(
                LeashFactoryStaker::addStakeCall {
                    entryPoint: ENTRYPOINT_V07,
                    unstakeDelaySec: FACTORY_STAKE_DELAY,
                }
                .abi_encode(),
            )
            .with_value(U256::from(FACTORY_STAKE_ETH) * U256::from(10u64).pow(U256::from(18)))
            .with_gas_limit(CALL_GAS),
    });

    steps.extend(uniswap.seeding(from, Tokens { usdc, weth, dai }));

    let mut sent = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        let tx = step
            .tx
            .clone()
            .with_from(from)
            .with_chain_id(chain_id)
            .with_nonce(nonce + i as u64)
            .with_max_fee_per_gas(fees.max_fee_per_gas)
            .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
        let hash = provider
            .raw_request::<_, TxHash>("eth_sendTransaction".into(), (tx,))
            .await
            .map_err(|e| DevnetError::Deploy {
                contract: step.contract,
                reason: format!("anvil refused it: {e}"),
            })?;
        sent.push(hash);
    }

    let deadline = Instant::now() + timeout;
    for (step, hash) in steps.iter().zip(sent) {
        check(provider, step, hash, deadline).await?;
    }
    let entry_point_code =
        provider.get_code_at(ENTRYPOINT_V07).await.map_err(DevnetError::rpc("eth_getCode"))?;
    if entry_point_code.is_empty() {
        return Err(DevnetError::Deploy {
            contract: "EntryPoint",
            reason: format!("no code at {ENTRYPOINT_V07} after the CREATE2 deployment"),
        });
    }

    Ok(layout)
}

fn rate(token_in: Address, token_out: Address, rate_wad: U256) -> Vec<u8> {
    DexRouter::setRateCall { tokenIn: token_in, tokenOut: token_out, rateWad: rate_wad }
        .abi_encode()
}

fn mint(to: Address, amount: U256) -> Vec<u8> {
    DevToken::mintCall { to, amount }.abi_encode()
}

/// Waits for `hash` to be mined and checks that it did what `step` meant.
async fn check(provider: &DynProvider, step: &Step, hash: TxHash, deadline: Instant) -> Result<()> {
    let fail = |reason: String| DevnetError::Deploy { contract: step.contract, reason };
    let receipt = wait_for_receipt(provider, hash, deadline)
        .await?
        .ok_or_else(|| fail(format!("transaction {hash} was not mined in time")))?;
    if !receipt.status() {
        return Err(fail(format!(
            "transaction {hash} reverted (gas used {} of {})",
            receipt.gas_used,
            step.tx.gas.unwrap_or_default()
        )));
    }
    if let Some(contract) = &step.release {
        let code = provider
            .get_code_at(contract.address)
            .await
            .map_err(DevnetError::rpc("eth_getCode"))?;
        if !contract.is_runtime_code(&code) {
            return Err(fail(format!(
                "the code at {} is not the release's {} ({} bytes)",
                contract.address,
                contract.name,
                code.len()
            )));
        }
    }
    if let Some(expected) = step.creates {
        if receipt.contract_address != Some(expected) {
            return Err(fail(format!(
                "it was created at {:?}, not at the expected {expected}",
                receipt.contract_address
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployer_balance_is_a_billion_ether() {
        assert_eq!(DEPLOYER_BALANCE, U256::from(10u64).pow(U256::from(27)));
    }

    #[test]
    fn deployment_json_uses_camel_case() {
        let deployment = Deployment {
            chain_id: 31337,
            deployer: Address::ZERO,
            entry_point: ENTRYPOINT_V07,
            session_key_validator: Address::ZERO,
            account_factory: Address::ZERO,
            factory_staker: Address::ZERO,
            account_implementation: Address::ZERO,
            usdc: Address::ZERO,
            weth: Address::ZERO,
            dai: Address::ZERO,
            game_items: Address::ZERO,
            dex_router: Address::ZERO,
            yield_vault: Address::ZERO,
            dev_paymaster: Address::ZERO,
            tokens: BTreeMap::new(),
            ..Deployment::fresh(31337)
        };
        let json = serde_json::to_value(&deployment).expect("serialises");
        assert_eq!(json["entryPoint"], "0x0000000071727de22e5e9d8baf0edac6f37da032");
        assert_eq!(json["chainId"], 31337);
        assert!(json["uniswap"]["v3SwapRouter"].is_string());
        assert!(json["uniswap"]["v3Pools"]["USDC/WETH/500"].is_string());
        assert_eq!(json["permit2"], "0x000000000022d473030f116ddee9f6b43ac78ba3");
        assert!(json["seaportConduitController"].is_string());
        assert!(json["aave"]["poolAddressesProvider"].is_string());
        assert!(json["aave"]["reserves"]["USDC"]["aToken"].is_string());
        let back: Deployment = serde_json::from_value(json).expect("deserialises");
        assert_eq!(back, deployment);
    }
}
