//! `leash-devnet`: the embedded local chain of leash and the local stack on it: anvil from the pinned toolchain, with ERC-4337 EntryPoint v0.7, the
//! leash contracts and a set of test assets deployed, ready in a fraction of a second. Tests, examples, the
//! demo and `leash devnet` all start one.
//!
//! # What a devnet is made of
//!
//! - **anvil** ([`DevnetBuilder`], `anvil` module): found through [`ANVIL_ENV`] (`LEASH_ANVIL`), else the
//!   pinned npm package (`node_modules`, searched upward from the current directory and from this crate's
//!   source). The platform binary inside the package is run directly, not the Node launcher. anvil listens
//!   on a port the operating system picks (or a fixed one), so any number of devnets run side by side; the
//!   devnet reads the port, and the dev keys, from anvil's start-up banner.
//! - **the stack** ([`Deployment`]): EntryPoint v0.7 at its canonical address
//!   `0x0000000071727De22E5E9d8BAf0edAc6f37da032`, placed by CREATE2 through the deterministic deployment
//!   proxy at `0x4e59b44847b379578588920cA78FbF26c0B4956C` with the canonical salt (anvil 1.x has the
//!   proxy in its genesis state; where it is missing it is installed with `anvil_setCode`); then the
//!   `SessionKeyValidator`, the `LeashAccountFactory` (and the account implementation it creates), and
//!   the assets: USDC (6 decimals), WETH (18) and DAI (18) `DevToken`s with open mint, `GameItems`
//!   (ERC-1155), a `DexRouter` quoting 1 WETH = [`WETH_PRICE_IN_USDC`] USDC both ways with reserves of both,
//!   and a `YieldVault` (ERC-4626) over USDC. A fixed deployer address that anvil impersonates sends it all, so
//!   the addresses are the same on every devnet and the dev accounts stay untouched.
//! - **Uniswap V2 and V3** ([`Uniswap`]): the factories, Router02, the V3 `SwapRouter`, `QuoterV2` and
//!   `NonfungiblePositionManager` from their npm releases, unchanged, with USDC/WETH and WETH/DAI pairs and
//!   pools seeded over the full range at 1 WETH = 3,000 USDC = 3,000 DAI. The routers' ether paths revert:
//!   the devnet's WETH has no `deposit` or `withdraw`.
//! - **Permit2, Seaport 1.6 and Aave V3**: Permit2's runtime code at its canonical address with this chain's
//!   domain separator ([`permit2`] signs its transfers and allowances); Seaport 1.6 and its `ConduitController`
//!   with an ERC-721 collection to list ([`seaport::Listing`] builds, signs and fills a listing); an Aave V3
//!   market ([`Aave`]) with USDC and WETH reserves, its libraries linked at deployment. The devnet's USDC also
//!   has USDC's EIP-3009 (`transferWithAuthorization`, ERC-1271 signers accepted). docs/local-stack.md says
//!   which npm release each comes from.
//! - **helpers** on [`Devnet`]: [`fund`](Devnet::fund), [`mint_usdc`](Devnet::mint_usdc),
//!   [`deposit_to_entry_point`](Devnet::deposit_to_entry_point), the clock
//!   ([`set_next_block_timestamp`](Devnet::set_next_block_timestamp), [`increase_time`](Devnet::increase_time),
//!   [`mine`](Devnet::mine)) and [`snapshot`](Devnet::snapshot)/[`revert`](Devnet::revert).
//!
//! - **the local stack** ([`LocalStack`]): a devnet, the local ERC-4337 bundler ([`start_bundler`], from
//!   `leash-bundler`, enforcing ERC-7562) and an owner whose account is deployed and funded, through the SDK.
//!   The demo, the tests and `leash devnet` start it from here.
//!
//! # Lifetime
//!
//! Dropping the [`Devnet`] stops anvil (SIGTERM, SIGKILL if it lingers) and reaps it. On Linux anvil also
//! dies with the process that started it (`PR_SET_PDEATHSIG`), so a test that is killed, interrupted or
//! aborts leaves no anvil behind. Every anvil is forked by one thread that lives as long as the process,
//! because that signal follows the forking *thread*: a devnet shared by many tests outlives the test thread
//! that happened to start it.
//!
//! # Contract size
//!
//! Every contract fits EIP-170 (24,576 bytes of runtime code; `make check-artifacts` fails otherwise). Should
//! one grow past it, the devnet starts anvil with `--code-size-limit` set to exactly what the largest contract
//! needs and logs a warning once, so the local stack keeps working meanwhile.
//!
//! # Example
//!
//! ```
//! use alloy::primitives::U256;
//! use leash_contracts::{bindings::DexRouter, ENTRYPOINT_V07};
//! use leash_devnet::Devnet;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let devnet = Devnet::start().await?;
//! let deployment = devnet.deployment().expect("started with the stack");
//! assert_eq!(deployment.entry_point, ENTRYPOINT_V07);
//!
//! // Give the first dev account 3,000 USDC and quote it in WETH on the router.
//! let alice = devnet.dev_accounts()[0];
//! let usdc = deployment.token("USDC").expect("USDC is deployed");
//! let amount = U256::from(3_000) * U256::from(10).pow(U256::from(usdc.decimals));
//! devnet.mint_usdc(alice, amount).await?;
//!
//! let router = DexRouter::new(deployment.dex_router, devnet.provider());
//! let weth = router.getAmountOut(amount, deployment.usdc, deployment.weth).call().await?;
//! assert!(weth > U256::from(999_999_999_999_999_000u64)); // about one WETH
//!
//! println!("{}", serde_json::to_string_pretty(deployment)?);
//! # Ok(())
//! # }
//! // Dropping `devnet` stops anvil.
//! ```

mod aave;
mod anvil;
mod builder;
mod deploy;
mod devnet;
mod error;
mod names;
pub mod permit2;
mod rpc;
pub mod seaport;
mod stack;
mod uniswap;

pub use aave::{Aave, AaveReserve, AAVE_MARKET_ID};
pub use anvil::ANVIL_ENV;
pub use builder::{DevnetBuilder, Mining, DEFAULT_CHAIN_ID};
pub use deploy::{
    Deployment, Token, DEX_USDC_RESERVES, DEX_WETH_RESERVES, EIP170_CODE_SIZE_LIMIT,
    FACTORY_STAKE_ETH, PAYMASTER_DEPOSIT_ETH, WETH_PRICE_IN_USDC,
};
pub use devnet::{Devnet, Snapshot};
pub use error::{DevnetError, Result};
pub use stack::{start_bundler, LocalStack, StackError, StackOptions, ETH, GENESIS};
pub use uniswap::{Uniswap, UNISWAP_POOL_WETH};
