//! `sol!` bindings generated from the committed artifacts in `crates/contracts/artifacts`.
//!
//! Each contract module holds its calls, events, errors and structs (the validator's `Session`, `Action`,
//! `SessionUse`, ... are `SessionKeyValidator::Session` and so on), an RPC instance type and, for contracts
//! the local stack deploys, the creation bytecode.

#![allow(missing_docs, clippy::too_many_arguments)]

use alloy::sol;

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    SessionKeyValidator,
    "artifacts/SessionKeyValidator.json"
);

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    LeashAccount,
    "artifacts/LeashAccount.json"
);

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    LeashAccountFactory,
    "artifacts/LeashAccountFactory.json"
);

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    DevToken,
    "artifacts/DevToken.json"
);

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    GameItems,
    "artifacts/GameItems.json"
);

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    DexRouter,
    "artifacts/DexRouter.json"
);

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    YieldVault,
    "artifacts/YieldVault.json"
);

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    DevPaymaster,
    "artifacts/DevPaymaster.json"
);

// The EntryPoint's JSON ABI nests `PackedUserOperation` inside `UserOpsPerAggregator`, which the JSON form of
// `sol!` cannot resolve; the part of its interface the SDK uses is spelled out instead (signatures as in
// `@account-abstraction/contracts` 0.7.0). Its creation code is [`entry_point_creation_code`].
sol! {
    #[sol(rpc)]
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

/// The creation code of EntryPoint v0.7 from `@account-abstraction/contracts` 0.7.0; deployed with
/// [`crate::ENTRYPOINT_V07_SALT`] through [`crate::CREATE2_DEPLOYER`] it lands at [`crate::ENTRYPOINT_V07`].
pub fn entry_point_creation_code() -> alloy::primitives::Bytes {
    static CODE: std::sync::OnceLock<alloy::primitives::Bytes> = std::sync::OnceLock::new();
    CODE.get_or_init(|| {
        let artifact = include_str!("../artifacts/EntryPoint.json");
        let start = artifact.find("\"bytecode\": \"").expect("artifact has a bytecode field") + 13;
        let end = start + artifact[start..].find('"').expect("bytecode field is a string");
        artifact[start..end].parse().expect("bytecode is hex")
    })
    .clone()
}
