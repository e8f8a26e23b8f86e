//! Aave V3 on a devnet: the contracts `@aave/core-v3` 1.19.3 ships, deployed as Aave's own deployment scripts
//! do (addresses provider, ACL, logic libraries linked into the pool and configurator, proxies created by the
//! provider), with two reserves listed: the devnet's USDC and WETH, priced by fixed feeds at the devnet's prices.
//!
//! Every step comes from the devnet's deployer at a known nonce, so every address, the proxies the provider and
//! the configurator create included, is known before anything is sent: [`plan`] lists the steps and the
//! addresses together, and [`Aave`] is what it found.

use std::collections::BTreeMap;

use alloy::{
    primitives::{Address, Bytes, U256},
    sol_types::{SolCall, SolConstructor},
};
use leash_contracts::bindings::aave::{
    ACLManager, AToken, AaveOracle, AaveProtocolDataProvider, BorrowLogic, BridgeLogic,
    ConfiguratorInputTypes, ConfiguratorLogic, DefaultReserveInterestRateStrategy, EModeLogic,
    Libraries, LiquidationLogic, MockAggregator, Pool, PoolAddressesProvider, PoolConfigurator,
    PoolLogic, StableDebtToken, SupplyLogic, VariableDebtToken,
};
use serde::{Deserialize, Serialize};

use crate::{
    deploy::{Step, WETH_PRICE_IN_USDC},
    uniswap::Tokens,
};

/// Gas limit of each Aave set-up call: listing two reserves creates six token proxies, about 2.5M gas.
const AAVE_CALL_GAS: u64 = 10_000_000;

/// The market id the addresses provider is created with.
pub const AAVE_MARKET_ID: &str = "Leash Devnet Market";

/// Where Aave V3 is on a devnet ([`crate::Deployment::aave`]). The deployer is the market's owner, ACL admin,
/// pool admin and emergency admin, and the treasury of its reserves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Aave {
    /// The `Pool` proxy: `supply`, `withdraw`, `borrow`, `repay`, flash loans.
    pub pool: Address,
    /// The `PoolConfigurator` proxy, which listed the reserves.
    pub pool_configurator: Address,
    /// `PoolAddressesProvider`, the market's registry (market id [`AAVE_MARKET_ID`]).
    pub pool_addresses_provider: Address,
    /// `ACLManager`, the market's roles.
    pub acl_manager: Address,
    /// `AaveOracle`, prices in USD with 8 decimals, from the reserves' feeds.
    pub oracle: Address,
    /// `AaveProtocolDataProvider`, reserve and user data for `eth_call`.
    pub pool_data_provider: Address,
    /// The reserves by the underlying token's symbol: `"USDC"`, `"WETH"`.
    pub reserves: BTreeMap<String, AaveReserve>,
}

/// One reserve of the devnet's Aave market.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AaveReserve {
    /// The underlying token (the devnet's USDC or WETH).
    pub asset: Address,
    /// The interest-bearing token suppliers get (`aUSDC`, `aWETH`), an upgradeable proxy.
    pub a_token: Address,
    /// The variable-rate debt token (`variableDebtUSDC`, …).
    pub variable_debt_token: Address,
    /// The stable-rate debt token (stable borrowing is off, as on Aave's own V3 markets).
    pub stable_debt_token: Address,
    /// The fixed price feed (`MockAggregator`, 8 decimals): 1 USDC = $1, 1 WETH = $[`WETH_PRICE_IN_USDC`].
    pub price_feed: Address,
}

impl Aave {
    /// The reserve of the token with this symbol (`"USDC"`, `"WETH"`).
    pub fn reserve(&self, symbol: &str) -> Option<&AaveReserve> {
        self.reserves.get(symbol)
    }

    /// `Pool.supply(asset, amount, onBehalfOf, 0)`'s call data: the caller, who approved the pool, supplies
    /// `amount` of `asset` and `on_behalf_of` gets the aTokens.
    pub fn supply_call(asset: Address, amount: U256, on_behalf_of: Address) -> Bytes {
        Pool::supplyCall { asset, amount, onBehalfOf: on_behalf_of, referralCode: 0 }
            .abi_encode()
            .into()
    }

    /// `Pool.withdraw(asset, amount, to)`'s call data: burns the caller's aTokens and sends `amount` of `asset`
    /// to `to` (`U256::MAX`: the whole balance).
    pub fn withdraw_call(asset: Address, amount: U256, to: Address) -> Bytes {
        Pool::withdrawCall { asset, amount, to }.abi_encode().into()
    }
}

/// The deployer's transactions, from nonce `nonce` on, and the addresses their creations get.
struct Plan {
    from: Address,
    nonce: u64,
    steps: Vec<Step>,
}

impl Plan {
    fn create(&mut self, contract: &'static str, code: Vec<u8>) -> Address {
        let address = self.from.create(self.nonce);
        self.steps.push(Step::create(contract, address, code));
        self.nonce += 1;
        address
    }

    fn call(&mut self, contract: &'static str, to: Address, input: Vec<u8>) {
        self.steps.push(Step::call(contract, to, input, AAVE_CALL_GAS));
        self.nonce += 1;
    }
}

fn with_args(code: &[u8], args: Vec<u8>) -> Vec<u8> {
    [code, &args].concat()
}

/// 1 in Aave's ray (27 decimals) times `percent` / 100.
fn ray_percent(percent: u64) -> U256 {
    U256::from(10u64).pow(U256::from(27)) * U256::from(percent) / U256::from(100)
}

/// The Aave deployment as the deployer `from` makes it from nonce `first_nonce`: the addresses, and the
/// transactions in the order they must be sent (each takes the next nonce).
pub(crate) fn plan(from: Address, first_nonce: u64, tokens: Tokens) -> (Aave, Vec<Step>) {
    let mut plan = Plan { from, nonce: first_nonce, steps: Vec::new() };

    // The registry first; ACLManager's constructor reads the ACL admin from it.
    let provider_args =
        PoolAddressesProvider::constructorCall { marketId: AAVE_MARKET_ID.into(), owner: from };
    let provider = plan.create(
        "Aave PoolAddressesProvider",
        with_args(&PoolAddressesProvider::BYTECODE, provider_args.abi_encode()),
    );
    // The provider creates the pool's and the configurator's proxies (its nonces 1 and 2) when their
    // implementations are set below.
    let (pool, configurator) = (provider.create(1), provider.create(2));
    let set_acl_admin = PoolAddressesProvider::setACLAdminCall { newAclAdmin: from };
    plan.call("Aave PoolAddressesProvider (ACL admin)", provider, set_acl_admin.abi_encode());
    let acl_args = ACLManager::constructorCall { provider };
    let acl =
        plan.create("Aave ACLManager", with_args(&ACLManager::BYTECODE, acl_args.abi_encode()));
    let set_acl = PoolAddressesProvider::setACLManagerCall { newAclManager: acl };
    plan.call("Aave PoolAddressesProvider (ACL manager)", provider, set_acl.abi_encode());
    let pool_admin = ACLManager::addPoolAdminCall { admin: from };
    plan.call("Aave ACLManager (pool admin)", acl, pool_admin.abi_encode());
    let emergency_admin = ACLManager::addEmergencyAdminCall { admin: from };
    plan.call("Aave ACLManager (emergency admin)", acl, emergency_admin.abi_encode());

    let mut libraries = Libraries {
        supply_logic: plan.create("Aave SupplyLogic", SupplyLogic::BYTECODE.to_vec()),
        borrow_logic: plan.create("Aave BorrowLogic", BorrowLogic::BYTECODE.to_vec()),
        liquidation_logic: plan
            .create("Aave LiquidationLogic", LiquidationLogic::BYTECODE.to_vec()),
        e_mode_logic: plan.create("Aave EModeLogic", EModeLogic::BYTECODE.to_vec()),
        bridge_logic: plan.create("Aave BridgeLogic", BridgeLogic::BYTECODE.to_vec()),
        pool_logic: plan.create("Aave PoolLogic", PoolLogic::BYTECODE.to_vec()),
        configurator_logic: plan
            .create("Aave ConfiguratorLogic", ConfiguratorLogic::BYTECODE.to_vec()),
        flash_loan_logic: Address::ZERO,
    };
    // FlashLoanLogic links BorrowLogic, so it comes after it.
    libraries.flash_loan_logic =
        plan.create("Aave FlashLoanLogic", libraries.flash_loan_logic().to_vec());

    // Each implementation is initialised once on its own (so nobody else can), then the provider creates its
    // proxy and initialises that.
    let pool_args = Pool::constructorCall { provider };
    let pool_impl = plan
        .create("Aave Pool (implementation)", with_args(&libraries.pool(), pool_args.abi_encode()));
    let initialize = Pool::initializeCall { provider }.abi_encode();
    plan.call("Aave Pool (initialize implementation)", pool_impl, initialize);
    let set_pool = PoolAddressesProvider::setPoolImplCall { newPoolImpl: pool_impl };
    plan.call("Aave PoolAddressesProvider (pool proxy)", provider, set_pool.abi_encode());
    let configurator_impl = plan
        .create("Aave PoolConfigurator (implementation)", libraries.pool_configurator().to_vec());
    let initialize = PoolConfigurator::initializeCall { provider }.abi_encode();
    plan.call("Aave PoolConfigurator (initialize implementation)", configurator_impl, initialize);
    let set_configurator = PoolAddressesProvider::setPoolConfiguratorImplCall {
        newPoolConfiguratorImpl: configurator_impl,
    };
    plan.call(
        "Aave PoolAddressesProvider (configurator proxy)",
        provider,
        set_configurator.abi_encode(),
    );

    // Prices in USD with 8 decimals, as Chainlink's feeds and Aave's V3 markets have them.
    let usd =
        |dollars: u64| alloy::primitives::I256::try_from(dollars * 100_000_000).expect("fits");
    let feed = |plan: &mut Plan, name, dollars| {
        let args = MockAggregator::constructorCall { initialAnswer: usd(dollars) };
        plan.create(name, with_args(&MockAggregator::BYTECODE, args.abi_encode()))
    };
    let usdc_feed = feed(&mut plan, "Aave MockAggregator (USDC/USD)", 1);
    let weth_feed = feed(&mut plan, "Aave MockAggregator (WETH/USD)", WETH_PRICE_IN_USDC);
    let oracle_args = AaveOracle::constructorCall {
        provider,
        assets: vec![tokens.usdc, tokens.weth],
        sources: vec![usdc_feed, weth_feed],
        fallbackOracle: Address::ZERO,
        baseCurrency: Address::ZERO,
        baseCurrencyUnit: U256::from(100_000_000u64),
    };
    let oracle =
        plan.create("Aave AaveOracle", with_args(&AaveOracle::BYTECODE, oracle_args.abi_encode()));
    let set_oracle = PoolAddressesProvider::setPriceOracleCall { newPriceOracle: oracle };
    plan.call("Aave PoolAddressesProvider (oracle)", provider, set_oracle.abi_encode());
    let data_provider_args =
        AaveProtocolDataProvider::constructorCall { addressesProvider: provider };
    let data_provider = plan.create(
        "Aave AaveProtocolDataProvider",
        with_args(&AaveProtocolDataProvider::BYTECODE, data_provider_args.abi_encode()),
    );
    let set_data_provider =
        PoolAddressesProvider::setPoolDataProviderCall { newDataProvider: data_provider };
    plan.call(
        "Aave PoolAddressesProvider (data provider)",
        provider,
        set_data_provider.abi_encode(),
    );

    // The token implementations every reserve's proxies point to, and one rate strategy for both reserves:
    // 90% optimal usage, 0% base, 4% then 60% slopes (Aave's stablecoin parameters); stable borrowing off.
    let a_token = plan.create(
        "Aave AToken",
        with_args(&AToken::BYTECODE, AToken::constructorCall { pool }.abi_encode()),
    );
    let stable_debt = plan.create(
        "Aave StableDebtToken",
        with_args(
            &StableDebtToken::BYTECODE,
            StableDebtToken::constructorCall { pool }.abi_encode(),
        ),
    );
    let variable_debt = plan.create(
        "Aave VariableDebtToken",
        with_args(
            &VariableDebtToken::BYTECODE,
            VariableDebtToken::constructorCall { pool }.abi_encode(),
        ),
    );
    let strategy_args = DefaultReserveInterestRateStrategy::constructorCall {
        provider,
        optimalUsageRatio: ray_percent(90),
        baseVariableBorrowRate: U256::ZERO,
        variableRateSlope1: ray_percent(4),
        variableRateSlope2: ray_percent(60),
        stableRateSlope1: U256::ZERO,
        stableRateSlope2: U256::ZERO,
        baseStableRateOffset: ray_percent(1),
        stableRateExcessOffset: ray_percent(8),
        optimalStableToTotalDebtRatio: ray_percent(20),
    };
    let strategy = plan.create(
        "Aave DefaultReserveInterestRateStrategy",
        with_args(&DefaultReserveInterestRateStrategy::BYTECODE, strategy_args.abi_encode()),
    );

    // (symbol, asset, decimals, feed, LTV, liquidation threshold) in basis points; 5% liquidation bonus.
    let listed = [
        ("USDC", tokens.usdc, 6u8, usdc_feed, 7_500u64, 8_000u64),
        ("WETH", tokens.weth, 18u8, weth_feed, 8_000, 8_250),
    ];
    let inputs = listed
        .iter()
        .map(|&(symbol, asset, decimals, ..)| ConfiguratorInputTypes::InitReserveInput {
            aTokenImpl: a_token,
            stableDebtTokenImpl: stable_debt,
            variableDebtTokenImpl: variable_debt,
            underlyingAssetDecimals: decimals,
            interestRateStrategyAddress: strategy,
            underlyingAsset: asset,
            treasury: from,
            incentivesController: Address::ZERO,
            aTokenName: format!("Aave {symbol}"),
            aTokenSymbol: format!("a{symbol}"),
            variableDebtTokenName: format!("Aave Variable Debt {symbol}"),
            variableDebtTokenSymbol: format!("variableDebt{symbol}"),
            stableDebtTokenName: format!("Aave Stable Debt {symbol}"),
            stableDebtTokenSymbol: format!("stableDebt{symbol}"),
            params: Bytes::new(),
        })
        .collect();
    let init = PoolConfigurator::initReservesCall { input: inputs };
    plan.call("Aave PoolConfigurator (list USDC and WETH)", configurator, init.abi_encode());
    let mut reserves = BTreeMap::new();
    for (i, &(symbol, asset, _, price_feed, ltv, threshold)) in listed.iter().enumerate() {
        // The configurator proxy creates each reserve's aToken, stable and variable debt token proxies, in
        // that order, from its nonce 1 on.
        let first = 1 + 3 * i as u64;
        reserves.insert(
            symbol.to_string(),
            AaveReserve {
                asset,
                a_token: configurator.create(first),
                stable_debt_token: configurator.create(first + 1),
                variable_debt_token: configurator.create(first + 2),
                price_feed,
            },
        );
        let collateral = PoolConfigurator::configureReserveAsCollateralCall {
            asset,
            ltv: U256::from(ltv),
            liquidationThreshold: U256::from(threshold),
            liquidationBonus: U256::from(10_500),
        };
        plan.call("Aave PoolConfigurator (collateral)", configurator, collateral.abi_encode());
        let borrowing = PoolConfigurator::setReserveBorrowingCall { asset, enabled: true };
        plan.call("Aave PoolConfigurator (borrowing)", configurator, borrowing.abi_encode());
    }

    let aave = Aave {
        pool,
        pool_configurator: configurator,
        pool_addresses_provider: provider,
        acl_manager: acl,
        oracle,
        pool_data_provider: data_provider,
        reserves,
    };
    (aave, plan.steps)
}
