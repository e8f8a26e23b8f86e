// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";

/// @title DevPaymaster
/// @notice A paymaster for the local chain that sponsors every operation from its EntryPoint deposit, so sessions
/// that require a paymaster can be exercised end to end. Never deploy it where its deposit is worth anything.
contract DevPaymaster {
    /// @notice The EntryPoint it serves.
    address public immutable entryPoint;

    /// @notice Only the EntryPoint may call the paymaster hooks.
    error NotEntryPoint(address caller);

    constructor(address entryPoint_) {
        entryPoint = entryPoint_;
    }

    /// @notice Accepts every operation (no context, no time bounds).
    function validatePaymasterUserOp(PackedUserOperation calldata, bytes32, uint256)
        external
        view
        returns (bytes memory context, uint256 validationData)
    {
        require(msg.sender == entryPoint, NotEntryPoint(msg.sender));
        return ("", 0);
    }

    /// @notice Nothing to settle after the operation.
    function postOp(uint8, bytes calldata, uint256, uint256) external view {
        require(msg.sender == entryPoint, NotEntryPoint(msg.sender));
    }
}
