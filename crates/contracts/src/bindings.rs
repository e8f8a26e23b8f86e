//! `sol!` bindings generated from the committed artifacts in `crates/contracts/artifacts`.
//!
//! Each contract module holds its calls, events, errors and structs, an RPC instance type and, for contracts
//! the local stack deploys, the creation bytecode. The module takes sessions and actions as packed bytes
//! (docs/encoding.md), so its ABI has no session struct: the struct types (`Session`, `Action`, `Period`,
//! `ArgRule`, `TypedDataScope`, `NestedStruct`) are [`SessionEncoderHarness`]'s, the reference encoder the Rust
//! packer is held to.

#![allow(missing_docs, clippy::too_many_arguments)]

use alloy::sol;

/// `sol!` with `#[sol(rpc)]` (instance types, calls through a provider, `deploy`) when the `rpc` feature is on,
/// and the types, calls, events, errors and bytecode alone when it is off, so that crates that only encode and
/// decode (the policy model) do not compile an HTTP stack.
macro_rules! bind {
    ($($body:tt)*) => {
        #[cfg(feature = "rpc")]
        sol! {
            #[sol(rpc)]
            $($body)*
        }
        #[cfg(not(feature = "rpc"))]
        sol! {
            $($body)*
        }
    };
}

bind! {
    #[derive(Debug, PartialEq, Eq)]
    SessionKeyValidator,
    "artifacts/SessionKeyValidator.json"
}

bind! {
    #[derive(Debug, PartialEq, Eq)]
    SessionEncoderHarness,
    "artifacts/SessionEncoderHarness.json"
}

bind! {
    #[derive(Debug, PartialEq, Eq)]
    LeashAccount,
    "artifacts/LeashAccount.json"
}

bind! {
    #[derive(Debug, PartialEq, Eq)]
    LeashAccountFactory,
    "artifacts/LeashAccountFactory.json"
}

bind! {
    #[derive(Debug, PartialEq, Eq)]
    LeashFactoryStaker,
    "artifacts/LeashFactoryStaker.json"
}

bind! {
    #[derive(Debug, PartialEq, Eq)]
    DevToken,
    "artifacts/DevToken.json"
}

bind! {
    #[derive(Debug, PartialEq, Eq)]
    DevUsdc,
    "artifacts/DevUsdc.json"
}

bind! {
    #[derive(Debug, PartialEq, Eq)]
    DevCollection,
    "artifacts/DevCollection.json"
}

bind! {
    #[derive(Debug, PartialEq, Eq)]
    GameItems,
    "artifacts/GameItems.json"
}

bind! {
    #[derive(Debug, PartialEq, Eq)]
    DexRouter,
    "artifacts/DexRouter.json"
}

bind! {
    #[derive(Debug, PartialEq, Eq)]
    YieldVault,
    "artifacts/YieldVault.json"
}

bind! {
    #[derive(Debug, PartialEq, Eq)]
    DevPaymaster,
    "artifacts/DevPaymaster.json"
}

// The EntryPoint's JSON ABI nests `PackedUserOperation` inside `UserOpsPerAggregator`, which the JSON form of
// `sol!` cannot resolve; the part of its interface the SDK uses is spelled out instead (signatures as in
// `@account-abstraction/contracts` 0.7.0). Its creation code is [`entry_point_creation_code`].
bind! {
    #[derive(Debug, PartialEq, Eq)]
    interface EntryPoint {
        struct PackedUserOperation {
            address sender;
            uint256 nonce;
            bytes initCode;
            bytes callData;
            bytes32 accountGasLimits;
            uint256 preVerificationGas;
            bytes32 gasFees;
            bytes paymasterAndData;
            bytes signature;
        }

        event UserOperationEvent(bytes32 indexed userOpHash, address indexed sender, address indexed paymaster, uint256 nonce, bool success, uint256 actualGasCost, uint256 actualGasUsed);
        event UserOperationRevertReason(bytes32 indexed userOpHash, address indexed sender, uint256 nonce, bytes revertReason);
        event AccountDeployed(bytes32 indexed userOpHash, address indexed sender, address factory, address paymaster);
        event Deposited(address indexed account, uint256 totalDeposit);

        error FailedOp(uint256 opIndex, string reason);
        error FailedOpWithRevert(uint256 opIndex, string reason, bytes inner);
        error SenderAddressResult(address sender);

        function handleOps(PackedUserOperation[] calldata ops, address payable beneficiary) external;
        function getUserOpHash(PackedUserOperation calldata userOp) external view returns (bytes32);
        function getNonce(address sender, uint192 key) external view returns (uint256 nonce);
        function getSenderAddress(bytes memory initCode) external;
        function balanceOf(address account) external view returns (uint256);
        function depositTo(address account) external payable;

        struct DepositInfo {
            uint256 deposit;
            bool staked;
            uint112 stake;
            uint32 unstakeDelaySec;
            uint48 withdrawTime;
        }
        function getDepositInfo(address account) external view returns (DepositInfo memory info);
    }
}

// `EntryPointSimulations` (v0.7) is the EntryPoint plus `simulateValidation` / `simulateHandleOp`; bundlers
// run it in place of the EntryPoint's code (a state override at [`crate::ENTRYPOINT_V07`]) to validate a
// UserOperation without sending it. Its JSON ABI has the same nested `PackedUserOperation` as the EntryPoint's,
// so the simulation interface is spelled out here too (signatures as in `IEntryPointSimulations` of
// `@account-abstraction/contracts` 0.7.0). Its runtime code is [`entry_point_simulations_runtime_code`].
bind! {
    #[derive(Debug, PartialEq, Eq)]
    interface EntryPointSimulations {
        struct PackedUserOperation {
            address sender;
            uint256 nonce;
            bytes initCode;
            bytes callData;
            bytes32 accountGasLimits;
            uint256 preVerificationGas;
            bytes32 gasFees;
            bytes paymasterAndData;
            bytes signature;
        }

        struct ReturnInfo {
            uint256 preOpGas;
            uint256 prefund;
            uint256 accountValidationData;
            uint256 paymasterValidationData;
            bytes paymasterContext;
        }

        struct StakeInfo {
            uint256 stake;
            uint256 unstakeDelaySec;
        }

        struct AggregatorStakeInfo {
            address aggregator;
            StakeInfo stakeInfo;
        }

        struct ValidationResult {
            ReturnInfo returnInfo;
            StakeInfo senderInfo;
            StakeInfo factoryInfo;
            StakeInfo paymasterInfo;
            AggregatorStakeInfo aggregatorInfo;
        }

        struct ExecutionResult {
            uint256 preOpGas;
            uint256 paid;
            uint256 accountValidationData;
            uint256 paymasterValidationData;
            bool targetSuccess;
            bytes targetResult;
        }

        error FailedOp(uint256 opIndex, string reason);
        error FailedOpWithRevert(uint256 opIndex, string reason, bytes inner);
        error PostOpReverted(bytes returnData);
        error SignatureValidationFailed(address aggregator);

        function simulateValidation(PackedUserOperation calldata userOp) external returns (ValidationResult memory);
        function simulateHandleOp(PackedUserOperation calldata op, address target, bytes calldata targetCallData)
            external
            returns (ExecutionResult memory);
    }
}

impl From<EntryPoint::PackedUserOperation> for EntryPointSimulations::PackedUserOperation {
    fn from(op: EntryPoint::PackedUserOperation) -> Self {
        Self {
            sender: op.sender,
            nonce: op.nonce,
            initCode: op.initCode,
            callData: op.callData,
            accountGasLimits: op.accountGasLimits,
            preVerificationGas: op.preVerificationGas,
            gasFees: op.gasFees,
            paymasterAndData: op.paymasterAndData,
            signature: op.signature,
        }
    }
}

/// Test-only contracts that break or respect ERC-7562 validation rules, for bundler tests: a bundler must
/// reject a UserOperation validated by [`ClockValidator`](testing::ClockValidator) (OP-011) or
/// [`OracleValidator`](testing::OracleValidator) (STO-021) and accept one validated by
/// [`CleanValidator`](testing::CleanValidator).
pub mod testing {
    use alloy::sol;

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        ClockValidator,
        "artifacts/ClockValidator.json"
    }

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        Oracle,
        "artifacts/Oracle.json"
    }

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        OracleValidator,
        "artifacts/OracleValidator.json"
    }

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        CleanValidator,
        "artifacts/CleanValidator.json"
    }
}

/// Uniswap V2 and V3 as published on npm (`@uniswap/v2-core` 1.0.1, `@uniswap/v2-periphery` 1.1.0-beta.0,
/// `@uniswap/v3-core` 1.0.1, `@uniswap/v3-periphery` 1.4.4), the bytecode mainnet runs: the devnet deploys
/// them so that session policies are held to the real routers' calldata.
///
/// The routers find a pair or a pool by CREATE2 from an init code hash compiled into them, never by asking the
/// factory: [`V2_PAIR_INIT_CODE_HASH`](uniswap::V2_PAIR_INIT_CODE_HASH) and
/// [`V3_POOL_INIT_CODE_HASH`](uniswap::V3_POOL_INIT_CODE_HASH) are those hashes, and a test holds them to the
/// pair's and the pool's creation code.
pub mod uniswap {
    use alloy::{
        primitives::{b256, B256},
        sol,
    };

    /// keccak256 of `UniswapV2Pair`'s creation code, as `UniswapV2Library.pairFor` in Router02 has it.
    pub const V2_PAIR_INIT_CODE_HASH: B256 =
        b256!("96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f");

    /// keccak256 of `UniswapV3Pool`'s creation code, `PoolAddress.POOL_INIT_CODE_HASH` of the V3 periphery.
    pub const V3_POOL_INIT_CODE_HASH: B256 =
        b256!("e34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54");

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        UniswapV2Factory,
        "artifacts/UniswapV2Factory.json"
    }

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        UniswapV2Pair,
        "artifacts/UniswapV2Pair.json"
    }

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        UniswapV2Router02,
        "artifacts/UniswapV2Router02.json"
    }

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        UniswapV3Factory,
        "artifacts/UniswapV3Factory.json"
    }

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        UniswapV3Pool,
        "artifacts/UniswapV3Pool.json"
    }

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        SwapRouter,
        "artifacts/SwapRouter.json"
    }

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        QuoterV2,
        "artifacts/QuoterV2.json"
    }

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        NonfungiblePositionManager,
        "artifacts/NonfungiblePositionManager.json"
    }
}

/// Permit2 (`0x000000000022D473030F116dDEE9F6B43aC78BA3`), Uniswap's token approval contract: the runtime code
/// that `@uniswap/v4-periphery` 1.0.3 embeds in `lib/permit2/test/utils/DeployPermit2.sol`, the code Uniswap's
/// own tests place at Permit2's address, and the ABI of the interfaces it implements.
///
/// No npm release ships Permit2's canonical creation code, so the devnet sets the runtime code at the canonical
/// address ([`runtime_code`](permit2::runtime_code)) instead of creating it. That code keeps two immutables
/// Permit2's constructor computes, the chain id and the EIP-712 domain separator; the shipped copy holds those
/// of the test run that produced it (chain 31337, another address), which [`runtime_code`](permit2::runtime_code)
/// replaces with what the constructor would have written at [`PERMIT2`](permit2::PERMIT2) on the chain at hand.
pub mod permit2 {
    use alloy::{
        primitives::{address, keccak256, Address, Bytes, B256, U256},
        sol,
        sol_types::SolValue,
    };

    /// Permit2's address on every chain it is deployed on.
    pub const PERMIT2: Address = address!("000000000022D473030F116dDEE9F6B43aC78BA3");

    /// Where the runtime code holds `_CACHED_CHAIN_ID`: the 32 bytes after a `PUSH32` (0x7f) at byte 6,944.
    pub const CACHED_CHAIN_ID_OFFSET: usize = 6_945;

    /// Where the runtime code holds `_CACHED_DOMAIN_SEPARATOR`: the 32 bytes after a `PUSH32` at byte 6,982.
    pub const CACHED_DOMAIN_SEPARATOR_OFFSET: usize = 6_983;

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        Permit2,
        "artifacts/Permit2.json"
    }

    /// Permit2's EIP-712 domain separator at [`PERMIT2`] on `chain_id`: the domain has a name ("Permit2"), the
    /// chain id and the verifying contract, and no version.
    pub fn domain_separator(chain_id: u64) -> B256 {
        let type_hash =
            keccak256("EIP712Domain(string name,uint256 chainId,address verifyingContract)");
        keccak256((type_hash, keccak256("Permit2"), U256::from(chain_id), PERMIT2).abi_encode())
    }

    /// The runtime code to set at [`PERMIT2`] on `chain_id`: the shipped code with the two immutables its
    /// constructor computes written for this address and chain. Without them `DOMAIN_SEPARATOR()` would answer
    /// the shipped separator on chain 31337 and every signature made for the real domain would be refused.
    pub fn runtime_code(chain_id: u64) -> Bytes {
        let mut code = Permit2::DEPLOYED_BYTECODE.to_vec();
        code[CACHED_CHAIN_ID_OFFSET..CACHED_CHAIN_ID_OFFSET + 32]
            .copy_from_slice(&U256::from(chain_id).to_be_bytes::<32>());
        code[CACHED_DOMAIN_SEPARATOR_OFFSET..CACHED_DOMAIN_SEPARATOR_OFFSET + 32]
            .copy_from_slice(domain_separator(chain_id).as_slice());
        code.into()
    }
}

/// Seaport 1.6, OpenSea's marketplace protocol, and its `ConduitController`, as `@opensea/seaport-js` 4.3.0
/// compiles them for its tests (the `seaport` 1.6.0 contracts over `seaport-core` 1.6.6, solc 0.8.24, 200
/// optimizer runs, without via-IR). The source is the canonical deployment's; the bytecode and so the address are
/// not (mainnet's `0x0000000000000068F116a894984e2DB1123eB395` was compiled through via-IR).
pub mod seaport {
    use alloy::sol;

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        Seaport,
        "artifacts/Seaport.json"
    }

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        ConduitController,
        "artifacts/ConduitController.json"
    }
}

/// Aave V3 as `@aave/core-v3` 1.19.3 ships it (hardhat artifacts, solc 0.8.10): the pool, its configurator, the
/// addresses provider and ACL, the logic libraries, the token implementations, the rate strategy, the oracle and
/// the data provider, and the mock price feed the package has for tests.
///
/// `Pool`, `PoolConfigurator` and `FlashLoanLogic` call external libraries; their creation code holds solc's
/// placeholders where a library's address goes, so they have no `BYTECODE` here: [`link`](aave::link) writes the
/// addresses in ([`Libraries`](aave::Libraries) has the creation code of each).
pub mod aave {
    use alloy::{
        primitives::{hex, keccak256, Address, Bytes},
        sol,
    };

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        PoolAddressesProvider,
        "artifacts/PoolAddressesProvider.json"
    }

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        ACLManager,
        "artifacts/ACLManager.json"
    }

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        #[sol(ignore_unlinked)]
        Pool,
        "artifacts/Pool.json"
    }

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        #[sol(ignore_unlinked)]
        PoolConfigurator,
        "artifacts/PoolConfigurator.json"
    }

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        AToken,
        "artifacts/AToken.json"
    }

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        StableDebtToken,
        "artifacts/StableDebtToken.json"
    }

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        VariableDebtToken,
        "artifacts/VariableDebtToken.json"
    }

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        AaveOracle,
        "artifacts/AaveOracle.json"
    }

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        AaveProtocolDataProvider,
        "artifacts/AaveProtocolDataProvider.json"
    }

    bind! {
        #[derive(Debug, PartialEq, Eq)]
        MockAggregator,
        "artifacts/MockAggregator.json"
    }

    pub use logic::{
        borrow::BorrowLogic, flash_loan::FlashLoanLogic, BridgeLogic, ConfiguratorLogic,
        EModeLogic, LiquidationLogic, PoolLogic, SupplyLogic,
    };
    pub use rates::DefaultReserveInterestRateStrategy;

    /// The rate strategy. Its ABI, like `Pool`'s, names types of Aave's `DataTypes` library, which `sol!` turns
    /// into a `DataTypes` module beside the contract's: each such contract has a module of its own.
    pub mod rates {
        use alloy::sol;

        bind! {
            #[derive(Debug, PartialEq, Eq)]
            DefaultReserveInterestRateStrategy,
            "artifacts/DefaultReserveInterestRateStrategy.json"
        }
    }

    /// The logic libraries `Pool` and `PoolConfigurator` call (their ABIs are the events they emit for the pool).
    pub mod logic {
        use alloy::sol;

        bind! {
            #[derive(Debug, PartialEq, Eq)]
            SupplyLogic,
            "artifacts/SupplyLogic.json"
        }

        bind! {
            #[derive(Debug, PartialEq, Eq)]
            LiquidationLogic,
            "artifacts/LiquidationLogic.json"
        }

        bind! {
            #[derive(Debug, PartialEq, Eq)]
            EModeLogic,
            "artifacts/EModeLogic.json"
        }

        bind! {
            #[derive(Debug, PartialEq, Eq)]
            BridgeLogic,
            "artifacts/BridgeLogic.json"
        }

        bind! {
            #[derive(Debug, PartialEq, Eq)]
            PoolLogic,
            "artifacts/PoolLogic.json"
        }

        bind! {
            #[derive(Debug, PartialEq, Eq)]
            ConfiguratorLogic,
            "artifacts/ConfiguratorLogic.json"
        }

        /// `BorrowLogic`, whose events name `DataTypes.InterestRateMode`.
        pub mod borrow {
            use alloy::sol;

            bind! {
                #[derive(Debug, PartialEq, Eq)]
                BorrowLogic,
                "artifacts/BorrowLogic.json"
            }
        }

        /// `FlashLoanLogic` (which links `BorrowLogic`), whose events name `DataTypes.InterestRateMode`.
        pub mod flash_loan {
            use alloy::sol;

            bind! {
                #[derive(Debug, PartialEq, Eq)]
                #[sol(ignore_unlinked)]
                FlashLoanLogic,
                "artifacts/FlashLoanLogic.json"
            }
        }
    }

    /// The addresses of Aave's logic libraries, which [`Libraries::pool`], [`Libraries::pool_configurator`] and
    /// [`Libraries::flash_loan_logic`] link in.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Libraries {
        pub supply_logic: Address,
        pub borrow_logic: Address,
        pub liquidation_logic: Address,
        pub e_mode_logic: Address,
        pub bridge_logic: Address,
        pub pool_logic: Address,
        pub flash_loan_logic: Address,
        pub configurator_logic: Address,
    }

    impl Libraries {
        /// Each library by its fully qualified name (`source path:name`), which solc's placeholders hash.
        fn by_name(&self) -> [(&'static str, Address); 8] {
            [
                (
                    "contracts/protocol/libraries/logic/SupplyLogic.sol:SupplyLogic",
                    self.supply_logic,
                ),
                (
                    "contracts/protocol/libraries/logic/BorrowLogic.sol:BorrowLogic",
                    self.borrow_logic,
                ),
                (
                    "contracts/protocol/libraries/logic/LiquidationLogic.sol:LiquidationLogic",
                    self.liquidation_logic,
                ),
                ("contracts/protocol/libraries/logic/EModeLogic.sol:EModeLogic", self.e_mode_logic),
                (
                    "contracts/protocol/libraries/logic/BridgeLogic.sol:BridgeLogic",
                    self.bridge_logic,
                ),
                ("contracts/protocol/libraries/logic/PoolLogic.sol:PoolLogic", self.pool_logic),
                (
                    "contracts/protocol/libraries/logic/FlashLoanLogic.sol:FlashLoanLogic",
                    self.flash_loan_logic,
                ),
                (
                    "contracts/protocol/libraries/logic/ConfiguratorLogic.sol:ConfiguratorLogic",
                    self.configurator_logic,
                ),
            ]
        }

        /// `Pool`'s creation code (constructor arguments not included) with the libraries linked.
        pub fn pool(&self) -> Bytes {
            self.link_artifact(include_str!("../artifacts/Pool.json"))
        }

        /// `PoolConfigurator`'s creation code with `ConfiguratorLogic` linked.
        pub fn pool_configurator(&self) -> Bytes {
            self.link_artifact(include_str!("../artifacts/PoolConfigurator.json"))
        }

        /// `FlashLoanLogic`'s creation code with `BorrowLogic` linked.
        pub fn flash_loan_logic(&self) -> Bytes {
            self.link_artifact(include_str!("../artifacts/FlashLoanLogic.json"))
        }

        fn link_artifact(&self, artifact: &str) -> Bytes {
            let unlinked = super::artifact_field(artifact, "bytecode");
            link(unlinked, &self.by_name()).expect("every library Aave links is in `Libraries`")
        }
    }

    /// solc's placeholder for a library in unlinked bytecode: `__$`, the first 17 bytes of keccak256 of the
    /// library's fully qualified name (`contracts/…/BorrowLogic.sol:BorrowLogic`) in hex, and `$__`; 40
    /// characters, the width of the 20-byte address that replaces it.
    pub fn placeholder(fully_qualified_name: &str) -> String {
        format!("__${}$__", hex::encode(&keccak256(fully_qualified_name)[..17]))
    }

    /// Links libraries into unlinked bytecode (hex, `0x` optional), as `solc --link` does: every placeholder of
    /// a library in `libraries` (by fully qualified name) becomes its address. Fails with the first placeholder
    /// left, one of a library that `libraries` lacks.
    pub fn link(unlinked: &str, libraries: &[(&str, Address)]) -> Result<Bytes, String> {
        let mut code = unlinked.strip_prefix("0x").unwrap_or(unlinked).to_string();
        for (name, address) in libraries {
            code = code.replace(&placeholder(name), &hex::encode(address));
        }
        if let Some(start) = code.find("__$") {
            let left = &code[start..(start + 40).min(code.len())];
            return Err(format!("no address for the library of placeholder {left}"));
        }
        hex::decode(&code).map(Bytes::from).map_err(|e| format!("linked code is not hex: {e}"))
    }
}

/// The string `field` of a committed artifact (`"bytecode"` or `"deployedBytecode"`), as written.
fn artifact_field<'a>(artifact: &'a str, field: &str) -> &'a str {
    let key = format!("\"{field}\": \"");
    let start = artifact.find(&key).expect("artifact has the field") + key.len();
    let end = start + artifact[start..].find('"').expect("the field is a string");
    &artifact[start..end]
}

/// The hex string `field` of a committed artifact (`"bytecode"` or `"deployedBytecode"`).
fn artifact_code(artifact: &str, field: &str) -> alloy::primitives::Bytes {
    artifact_field(artifact, field).parse().expect("the field is hex")
}

/// The creation code of EntryPoint v0.7 from `@account-abstraction/contracts` 0.7.0; deployed with
/// [`crate::ENTRYPOINT_V07_SALT`] through [`crate::CREATE2_DEPLOYER`] it lands at [`crate::ENTRYPOINT_V07`].
pub fn entry_point_creation_code() -> alloy::primitives::Bytes {
    static CODE: std::sync::OnceLock<alloy::primitives::Bytes> = std::sync::OnceLock::new();
    CODE.get_or_init(|| artifact_code(include_str!("../artifacts/EntryPoint.json"), "bytecode"))
        .clone()
}

/// The runtime code of `EntryPointSimulations` v0.7 from `@account-abstraction/contracts` 0.7.0: set as the
/// code of [`crate::ENTRYPOINT_V07`] in a state override, it answers
/// [`EntryPointSimulations::simulateValidationCall`] and [`EntryPointSimulations::simulateHandleOpCall`].
pub fn entry_point_simulations_runtime_code() -> alloy::primitives::Bytes {
    static CODE: std::sync::OnceLock<alloy::primitives::Bytes> = std::sync::OnceLock::new();
    CODE.get_or_init(|| {
        artifact_code(include_str!("../artifacts/EntryPointSimulations.json"), "deployedBytecode")
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{json_abi::JsonAbi, sol_types::SolCall, sol_types::SolError};

    fn abi(artifact: &str) -> JsonAbi {
        let json: serde_json::Value = serde_json::from_str(artifact).unwrap();
        serde_json::from_value(json["abi"].clone()).unwrap()
    }

    #[test]
    fn simulations_interface_matches_the_artifact() {
        let abi = abi(include_str!("../artifacts/EntryPointSimulations.json"));
        let function = |name: &str| abi.function(name).unwrap()[0].clone();
        let validation = function("simulateValidation");
        assert_eq!(
            validation.signature(),
            EntryPointSimulations::simulateValidationCall::SIGNATURE
        );
        assert_eq!(
            validation.outputs[0].selector_type(),
            "((uint256,uint256,uint256,uint256,bytes),(uint256,uint256),(uint256,uint256),(uint256,uint256),\
             (address,(uint256,uint256)))"
        );
        let handle_op = function("simulateHandleOp");
        assert_eq!(handle_op.signature(), EntryPointSimulations::simulateHandleOpCall::SIGNATURE);
        assert_eq!(
            handle_op.outputs[0].selector_type(),
            "(uint256,uint256,uint256,uint256,bool,bytes)"
        );
        for (name, signature) in [
            ("FailedOp", EntryPointSimulations::FailedOp::SIGNATURE),
            ("FailedOpWithRevert", EntryPointSimulations::FailedOpWithRevert::SIGNATURE),
            ("PostOpReverted", EntryPointSimulations::PostOpReverted::SIGNATURE),
            (
                "SignatureValidationFailed",
                EntryPointSimulations::SignatureValidationFailed::SIGNATURE,
            ),
        ] {
            assert_eq!(abi.error(name).unwrap()[0].signature(), signature);
        }
    }

    /// The npm releases agree with each other: Router02 (v2-periphery) finds pairs with the hash of v2-core's
    /// pair, the V3 periphery finds pools with the hash of v3-core's pool, and each factory creates exactly that
    /// pair or pool. Were one package bumped alone, every swap would revert on a pair address with no code.
    #[test]
    fn uniswap_routers_find_the_pairs_and_pools_the_factories_create() {
        use alloy::primitives::keccak256;
        use uniswap::*;

        let contains =
            |haystack: &[u8], needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
        assert_eq!(keccak256(&UniswapV2Pair::BYTECODE), V2_PAIR_INIT_CODE_HASH);
        assert!(contains(&UniswapV2Factory::BYTECODE, &UniswapV2Pair::BYTECODE));
        assert!(contains(&UniswapV2Router02::BYTECODE, V2_PAIR_INIT_CODE_HASH.as_slice()));

        assert_eq!(keccak256(&UniswapV3Pool::BYTECODE), V3_POOL_INIT_CODE_HASH);
        assert!(contains(&UniswapV3Factory::DEPLOYED_BYTECODE, &UniswapV3Pool::BYTECODE));
        for (name, code) in [
            ("SwapRouter", &SwapRouter::BYTECODE),
            ("QuoterV2", &QuoterV2::BYTECODE),
            ("NonfungiblePositionManager", &NonfungiblePositionManager::BYTECODE),
        ] {
            assert!(contains(code, V3_POOL_INIT_CODE_HASH.as_slice()), "{name}");
        }
    }

    /// The shipped Permit2 code holds its two immutables where [`permit2`] writes them: each after a PUSH32,
    /// the chain id being the 31337 of the run that produced the copy; nothing else changes.
    #[test]
    fn permit2_immutables_are_where_the_code_pushes_them() {
        use alloy::primitives::U256;
        use permit2::*;

        let shipped = &Permit2::DEPLOYED_BYTECODE;
        assert_eq!(shipped.len(), 9_152);
        for offset in [CACHED_CHAIN_ID_OFFSET, CACHED_DOMAIN_SEPARATOR_OFFSET] {
            assert_eq!(shipped[offset - 1], 0x7f, "PUSH32 before byte {offset}");
        }
        let word = |code: &[u8], at: usize| U256::from_be_slice(&code[at..at + 32]);
        assert_eq!(word(shipped, CACHED_CHAIN_ID_OFFSET), U256::from(31_337));
        let shipped_separator = word(shipped, CACHED_DOMAIN_SEPARATOR_OFFSET);
        assert_ne!(shipped_separator, U256::from_be_bytes(domain_separator(31_337).0));

        for chain_id in [31_337u64, 1, 8_453] {
            let code = runtime_code(chain_id);
            assert_eq!(word(&code, CACHED_CHAIN_ID_OFFSET), U256::from(chain_id));
            assert_eq!(
                &code[CACHED_DOMAIN_SEPARATOR_OFFSET..][..32],
                domain_separator(chain_id).as_slice()
            );
            let changed = code.iter().zip(shipped.iter()).filter(|(a, b)| a != b).count();
            assert!(changed <= 64, "{changed} bytes changed");
        }
        // What Permit2's DOMAIN_SEPARATOR() answers on Ethereum mainnet.
        assert_eq!(
            domain_separator(1).to_string(),
            "0x866a5aba21966af95d6c7ab78eb2b2fc913915c28be3b9aa07cc04ff903e3f28"
        );
    }

    /// Linking replaces exactly the placeholders the artifact's `linkReferences` list, with the library's
    /// address, and leaves no placeholder behind.
    #[test]
    fn aave_libraries_link_at_the_artifacts_offsets() {
        use aave::*;
        use alloy::primitives::Address;

        let libraries = Libraries {
            supply_logic: Address::repeat_byte(1),
            borrow_logic: Address::repeat_byte(2),
            liquidation_logic: Address::repeat_byte(3),
            e_mode_logic: Address::repeat_byte(4),
            bridge_logic: Address::repeat_byte(5),
            pool_logic: Address::repeat_byte(6),
            flash_loan_logic: Address::repeat_byte(7),
            configurator_logic: Address::repeat_byte(8),
        };
        let address_of = |name: &str| match name {
            "SupplyLogic" => libraries.supply_logic,
            "BorrowLogic" => libraries.borrow_logic,
            "LiquidationLogic" => libraries.liquidation_logic,
            "EModeLogic" => libraries.e_mode_logic,
            "BridgeLogic" => libraries.bridge_logic,
            "PoolLogic" => libraries.pool_logic,
            "FlashLoanLogic" => libraries.flash_loan_logic,
            "ConfiguratorLogic" => libraries.configurator_logic,
            other => panic!("unexpected library {other}"),
        };
        for (artifact, linked) in [
            (include_str!("../artifacts/Pool.json"), libraries.pool()),
            (include_str!("../artifacts/PoolConfigurator.json"), libraries.pool_configurator()),
            (include_str!("../artifacts/FlashLoanLogic.json"), libraries.flash_loan_logic()),
        ] {
            let json: serde_json::Value = serde_json::from_str(artifact).unwrap();
            let unlinked = json["bytecode"].as_str().unwrap();
            assert_eq!(linked.len() * 2 + 2, unlinked.len());
            let mut references = 0;
            for (file, names) in json["linkReferences"].as_object().unwrap() {
                for (name, places) in names.as_object().unwrap() {
                    let placeholder = placeholder(&format!("{file}:{name}"));
                    for place in places.as_array().unwrap() {
                        let start = place["start"].as_u64().unwrap() as usize;
                        assert_eq!(place["length"], 20);
                        assert_eq!(
                            &unlinked[2 + start * 2..][..40],
                            placeholder,
                            "{name} at {start}"
                        );
                        assert_eq!(&linked[start..start + 20], address_of(name).as_slice());
                        references += 1;
                    }
                }
            }
            assert_eq!(unlinked.matches("__$").count(), references);
        }
        let unlinked = artifact_field(include_str!("../artifacts/FlashLoanLogic.json"), "bytecode");
        let error = link(unlinked, &[]).unwrap_err();
        assert!(error.contains(&placeholder(
            "contracts/protocol/libraries/logic/BorrowLogic.sol:BorrowLogic"
        )));
    }

    #[test]
    fn simulations_runtime_code_is_the_deployed_bytecode() {
        let artifact: serde_json::Value =
            serde_json::from_str(include_str!("../artifacts/EntryPointSimulations.json")).unwrap();
        let deployed: alloy::primitives::Bytes =
            artifact["deployedBytecode"].as_str().unwrap().parse().unwrap();
        assert!(deployed.len() > 1000);
        assert_eq!(entry_point_simulations_runtime_code(), deployed);
        let creation: alloy::primitives::Bytes =
            artifact["bytecode"].as_str().unwrap().parse().unwrap();
        assert_ne!(creation, deployed);
    }
}
