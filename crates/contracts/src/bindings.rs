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

/// The hex string `field` of a committed artifact (`"bytecode"` or `"deployedBytecode"`).
fn artifact_code(artifact: &str, field: &str) -> alloy::primitives::Bytes {
    let key = format!("\"{field}\": \"");
    let start = artifact.find(&key).expect("artifact has the field") + key.len();
    let end = start + artifact[start..].find('"').expect("the field is a string");
    artifact[start..end].parse().expect("the field is hex")
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
