//! Uniswap V2 and V3 on a devnet: the contracts as published on npm, deployed unchanged from the devnet's
//! deployer and seeded with liquidity at the devnet's prices, so that session policies are held to the calldata
//! of the real routers (packed V3 paths, V2 path arrays, deadlines, recipients).
//!
//! | contract | npm package |
//! | --- | --- |
//! | `UniswapV2Factory` (and the `UniswapV2Pair`s it creates) | `@uniswap/v2-core` 1.0.1 |
//! | `UniswapV2Router02` | `@uniswap/v2-periphery` 1.1.0-beta.0 |
//! | `UniswapV3Factory` (and the `UniswapV3Pool`s it creates) | `@uniswap/v3-core` 1.0.1 |
//! | `SwapRouter`, `QuoterV2`, `NonfungiblePositionManager` | `@uniswap/v3-periphery` 1.4.4 |

use std::collections::BTreeMap;

use alloy::{
    primitives::{
        aliases::{I24, U24},
        keccak256, Address, U160, U256, U512,
    },
    sol_types::{SolCall, SolConstructor, SolValue},
};
use leash_contracts::bindings::{
    uniswap::{
        INonfungiblePositionManager, NonfungiblePositionManager, QuoterV2, SwapRouter,
        UniswapV2Factory, UniswapV2Router02, UniswapV3Factory, V2_PAIR_INIT_CODE_HASH,
        V3_POOL_INIT_CODE_HASH,
    },
    DevToken,
};
use serde::{Deserialize, Serialize};

use crate::deploy::{Step, WETH_PRICE_IN_USDC};

/// Whole WETH in each seeded V2 pair and V3 pool; the other side holds its worth in USDC or DAI (3,000,000 at
/// 1 WETH = [`WETH_PRICE_IN_USDC`] USDC = [`WETH_PRICE_IN_USDC`] DAI).
pub const UNISWAP_POOL_WETH: u64 = 1_000;

/// Gas limit of each seeding call: creating a V3 pool through the position manager takes about 5M gas.
const SEED_GAS: u64 = 10_000_000;

/// Where Uniswap is on a devnet ([`crate::Deployment::uniswap`]). The pairs and pools are keyed by their tokens'
/// symbols (`"USDC/WETH"`), the V3 pools also by fee in hundredths of a basis point
/// (`"USDC/WETH/500"` is the 0.05% pool). Every pair and pool holds full-range liquidity at the devnet's prices,
/// owned by [`crate::Deployment::deployer`].
///
/// The routers take the devnet's WETH `DevToken` as their WETH9. It has no `deposit` or `withdraw`, so what goes
/// through ether (`swapExactETHForTokens`, `addLiquidityETH`, `unwrapWETH9`, `refundETH`, a swap paid with
/// `msg.value`) reverts on a devnet; swaps and liquidity between tokens, WETH included, work as on mainnet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Uniswap {
    /// `UniswapV2Factory` (`@uniswap/v2-core` 1.0.1); the deployer is its `feeToSetter`, the protocol fee off.
    pub v2_factory: Address,
    /// `UniswapV2Router02` (`@uniswap/v2-periphery` 1.1.0-beta.0).
    pub v2_router: Address,
    /// `UniswapV3Factory` (`@uniswap/v3-core` 1.0.1) with its fee tiers 500, 3000 and 10000; the deployer owns
    /// it.
    pub v3_factory: Address,
    /// The V3 `SwapRouter` (`@uniswap/v3-periphery` 1.4.4): `exactInputSingle`, `exactInput` (packed paths) and
    /// their exact-output forms.
    pub v3_swap_router: Address,
    /// `QuoterV2` (`@uniswap/v3-periphery` 1.4.4), for `eth_call` quotes.
    pub v3_quoter: Address,
    /// `NonfungiblePositionManager` (`@uniswap/v3-periphery` 1.4.4), which seeded the pools.
    pub v3_position_manager: Address,
    /// The V2 pairs: `"USDC/WETH"`, `"WETH/DAI"`.
    pub v2_pairs: BTreeMap<String, Address>,
    /// The V3 pools: `"USDC/WETH/500"`, `"USDC/WETH/3000"`, `"WETH/DAI/3000"`.
    pub v3_pools: BTreeMap<String, Address>,
}

/// The devnet tokens Uniswap is seeded with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tokens {
    pub(crate) usdc: Address,
    pub(crate) weth: Address,
    pub(crate) dai: Address,
}

/// One seeded market: two tokens by symbol, their addresses and the raw amounts that go in.
struct Market {
    symbols: (&'static str, &'static str),
    tokens: (Address, Address),
    amounts: (U256, U256),
}

/// The V3 pools that are seeded, by market index and fee.
const V3_POOLS: [(usize, u32); 3] = [(0, 500), (0, 3000), (1, 3000)];

impl Tokens {
    /// USDC/WETH and WETH/DAI, each with [`UNISWAP_POOL_WETH`] WETH against its worth.
    fn markets(&self) -> [Market; 2] {
        let weth = units(UNISWAP_POOL_WETH, 18);
        let worth = UNISWAP_POOL_WETH * WETH_PRICE_IN_USDC;
        [
            Market {
                symbols: ("USDC", "WETH"),
                tokens: (self.usdc, self.weth),
                amounts: (units(worth, 6), weth),
            },
            Market {
                symbols: ("WETH", "DAI"),
                tokens: (self.weth, self.dai),
                amounts: (weth, units(worth, 18)),
            },
        ]
    }
}

impl Uniswap {
    /// The addresses when the deployer `from` creates the first Uniswap contract at nonce `first_create`
    /// (the order of [`Self::creations`]).
    pub(crate) fn layout(from: Address, first_create: u64, tokens: Tokens) -> Self {
        let at = |i: u64| from.create(first_create + i);
        let (v2_factory, v3_factory) = (at(0), at(2));
        let markets = tokens.markets();
        let v2_pairs = markets
            .iter()
            .map(|m| (format!("{}/{}", m.symbols.0, m.symbols.1), v2_pair(v2_factory, m.tokens)))
            .collect();
        let v3_pools = V3_POOLS
            .iter()
            .map(|&(market, fee)| {
                let m = &markets[market];
                (
                    format!("{}/{}/{fee}", m.symbols.0, m.symbols.1),
                    v3_pool(v3_factory, m.tokens, fee),
                )
            })
            .collect();
        Self {
            v2_factory,
            v2_router: at(1),
            v3_factory,
            v3_swap_router: at(3),
            v3_quoter: at(4),
            v3_position_manager: at(5),
            v2_pairs,
            v3_pools,
        }
    }

    /// The contract creations, in the order of [`Self::layout`].
    pub(crate) fn creations(&self, from: Address, weth: Address) -> Vec<Step> {
        let with_args = |code: &[u8], args: Vec<u8>| [code, &args].concat();
        let v2_factory = UniswapV2Factory::constructorCall { _feeToSetter: from };
        let v2_router =
            UniswapV2Router02::constructorCall { _factory: self.v2_factory, _WETH: weth };
        let swap_router = SwapRouter::constructorCall { _factory: self.v3_factory, _WETH9: weth };
        let quoter = QuoterV2::constructorCall { _factory: self.v3_factory, _WETH9: weth };
        // The descriptor only renders `tokenURI`, the positions' NFT metadata, which nothing on a devnet reads;
        // with no contract there, `tokenURI` reverts and everything else works.
        let position_manager = NonfungiblePositionManager::constructorCall {
            _factory: self.v3_factory,
            _WETH9: weth,
            _tokenDescriptor_: Address::ZERO,
        };
        vec![
            Step::create(
                "UniswapV2Factory",
                self.v2_factory,
                with_args(&UniswapV2Factory::BYTECODE, v2_factory.abi_encode()),
            ),
            Step::create(
                "UniswapV2Router02",
                self.v2_router,
                with_args(&UniswapV2Router02::BYTECODE, v2_router.abi_encode()),
            ),
            Step::create("UniswapV3Factory", self.v3_factory, UniswapV3Factory::BYTECODE.to_vec()),
            Step::create(
                "SwapRouter",
                self.v3_swap_router,
                with_args(&SwapRouter::BYTECODE, swap_router.abi_encode()),
            ),
            Step::create(
                "QuoterV2",
                self.v3_quoter,
                with_args(&QuoterV2::BYTECODE, quoter.abi_encode()),
            ),
            Step::create(
                "NonfungiblePositionManager",
                self.v3_position_manager,
                with_args(&NonfungiblePositionManager::BYTECODE, position_manager.abi_encode()),
            ),
        ]
    }

    /// Mints the tokens to the deployer `from`, approves the V2 router and the position manager, adds the V2
    /// liquidity (which creates the pairs) and creates, prices and fills the V3 pools over their full range.
    pub(crate) fn seeding(&self, from: Address, tokens: Tokens) -> Vec<Step> {
        let markets = tokens.markets();
        let mut needed: BTreeMap<Address, U256> = BTreeMap::new();
        for (i, market) in markets.iter().enumerate() {
            // Once for the V2 pair and once per V3 pool of the market.
            let pools = V3_POOLS.iter().filter(|&&(pool_market, _)| pool_market == i).count();
            let times = U256::from(1 + pools);
            *needed.entry(market.tokens.0).or_default() += market.amounts.0 * times;
            *needed.entry(market.tokens.1).or_default() += market.amounts.1 * times;
        }
        let mut steps = Vec::new();
        for (&token, &amount) in &needed {
            let mint = DevToken::mintCall { to: from, amount }.abi_encode();
            steps.push(Step::call("DevToken (Uniswap liquidity)", token, mint, SEED_GAS));
        }
        for spender in [self.v2_router, self.v3_position_manager] {
            for &token in needed.keys() {
                let approve = DevToken::approveCall { spender, value: U256::MAX }.abi_encode();
                steps.push(Step::call("DevToken (approve Uniswap)", token, approve, SEED_GAS));
            }
        }
        for m in &markets {
            let add = UniswapV2Router02::addLiquidityCall {
                tokenA: m.tokens.0,
                tokenB: m.tokens.1,
                amountADesired: m.amounts.0,
                amountBDesired: m.amounts.1,
                amountAMin: m.amounts.0,
                amountBMin: m.amounts.1,
                to: from,
                deadline: U256::MAX,
            };
            steps.push(Step::call(
                "UniswapV2Router02 (addLiquidity)",
                self.v2_router,
                add.abi_encode(),
                SEED_GAS,
            ));
        }
        for &(market, fee) in &V3_POOLS {
            let m = &markets[market];
            // A pool orders its tokens by address; its price is token1 per token0 in raw units.
            let ((token0, amount0), (token1, amount1)) = if m.tokens.0 < m.tokens.1 {
                ((m.tokens.0, m.amounts.0), (m.tokens.1, m.amounts.1))
            } else {
                ((m.tokens.1, m.amounts.1), (m.tokens.0, m.amounts.0))
            };
            let fee24 = U24::from(fee);
            let create = NonfungiblePositionManager::createAndInitializePoolIfNecessaryCall {
                token0,
                token1,
                fee: fee24,
                sqrtPriceX96: sqrt_price_x96(amount0, amount1),
            };
            let (tick_lower, tick_upper) = full_range(fee);
            let mint = NonfungiblePositionManager::mintCall {
                params: INonfungiblePositionManager::MintParams {
                    token0,
                    token1,
                    fee: fee24,
                    tickLower: tick_lower,
                    tickUpper: tick_upper,
                    amount0Desired: amount0,
                    amount1Desired: amount1,
                    // The pool takes the amounts at its own (rounded) price: at most a few raw units less.
                    amount0Min: U256::ZERO,
                    amount1Min: U256::ZERO,
                    recipient: from,
                    deadline: U256::MAX,
                },
            };
            steps.push(Step::call(
                "NonfungiblePositionManager (create pool)",
                self.v3_position_manager,
                create.abi_encode(),
                SEED_GAS,
            ));
            steps.push(Step::call(
                "NonfungiblePositionManager (mint)",
                self.v3_position_manager,
                mint.abi_encode(),
                SEED_GAS,
            ));
        }
        steps
    }
}

fn units(whole: u64, decimals: u8) -> U256 {
    U256::from(whole) * U256::from(10u64).pow(U256::from(decimals))
}

/// `UniswapV2Library.pairFor`: CREATE2 by the factory, salted with the sorted tokens.
fn v2_pair(factory: Address, (a, b): (Address, Address)) -> Address {
    let (token0, token1) = if a < b { (a, b) } else { (b, a) };
    let salt = keccak256([token0.as_slice(), token1.as_slice()].concat());
    factory.create2(salt, V2_PAIR_INIT_CODE_HASH)
}

/// `PoolAddress.computeAddress`: CREATE2 by the factory, salted with the sorted tokens and the fee.
fn v3_pool(factory: Address, (a, b): (Address, Address), fee: u32) -> Address {
    let (token0, token1) = if a < b { (a, b) } else { (b, a) };
    let salt = keccak256((token0, token1, U24::from(fee)).abi_encode());
    factory.create2(salt, V3_POOL_INIT_CODE_HASH)
}

/// The pool price for `amount1` of token1 per `amount0` of token0 (raw units), as a V3 pool holds it:
/// `sqrt(amount1 / amount0) * 2^96`, rounded down.
fn sqrt_price_x96(amount0: U256, amount1: U256) -> U160 {
    let ratio_x192: U512 = (U512::from(amount1) << 192usize) / U512::from(amount0);
    // Fits 160 bits while amount1 / amount0 < 2^128, as for any two real token amounts.
    ratio_x192.root(2).to::<U160>()
}

/// The lowest and highest ticks a position may span in a pool with `fee` (`TickMath.MIN_TICK` and `MAX_TICK`
/// rounded towards zero to the tier's tick spacing).
fn full_range(fee: u32) -> (I24, I24) {
    const MAX_TICK: i32 = 887_272;
    let spacing = match fee {
        100 => 1,
        500 => 10,
        3000 => 60,
        _ => 200,
    };
    let max = MAX_TICK / spacing * spacing;
    (I24::unchecked_from(-max), I24::unchecked_from(max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::address;

    #[test]
    fn the_price_of_one_weth_is_3000_usdc_whichever_token_comes_first() {
        // With USDC (6 decimals) as token0, 1 WETH = 3,000 USDC is 1e18 raw WETH per 3e9 raw USDC:
        // sqrt(1e18 / 3e9) * 2^96 = 18257.418583505537... * 2^96.
        let usdc_first = sqrt_price_x96(units(3_000, 6), units(1, 18));
        let expected: U160 = "1446501726624926496477173928747177".parse().unwrap();
        assert_eq!(usdc_first, expected);
        // Reversed, it is the reciprocal, (2^96)^2 / p: each rounding down loses less than one unit of one
        // factor, so the product falls short of 2^192 by less than the sum of the two.
        let weth_first = sqrt_price_x96(units(1, 18), units(3_000, 6));
        let product = U512::from(usdc_first) * U512::from(weth_first);
        let q192 = U512::from(1u64) << 192usize;
        assert!(product <= q192);
        assert!(q192 - product < U512::from(usdc_first) + U512::from(weth_first));
    }

    #[test]
    fn full_range_ticks_are_multiples_of_the_spacing() {
        assert_eq!(full_range(500), (I24::unchecked_from(-887_270), I24::unchecked_from(887_270)));
        assert_eq!(full_range(3000), (I24::unchecked_from(-887_220), I24::unchecked_from(887_220)));
    }

    #[test]
    fn pair_and_pool_addresses_are_mainnets_for_mainnets_tokens() {
        let usdc = address!("A0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48");
        let weth = address!("C02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2");
        let v2 = v2_pair(address!("5C69bEe701ef814a2B6a3EDD4B1652CB9cc5aA6f"), (usdc, weth));
        assert_eq!(v2, address!("B4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc"));
        let v3_factory = address!("1F98431c8aD98523631AE4a59f267346ea31F984");
        assert_eq!(
            v3_pool(v3_factory, (weth, usdc), 500),
            address!("88e6A0c2dDD26FEEb64F039a2c41296FcB3f5640")
        );
        assert_eq!(
            v3_pool(v3_factory, (usdc, weth), 3000),
            address!("8ad599c3A0ff1De082011EFDDc58f1908eb6e6D8")
        );
    }
}
