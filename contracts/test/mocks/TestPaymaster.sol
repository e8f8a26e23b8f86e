// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";

/// @notice A paymaster that sponsors every operation from its EntryPoint deposit (test sponsor).
contract TestPaymaster {
    address public immutable entryPoint;

    constructor(address entryPoint_) {
        entryPoint = entryPoint_;
    }

    function validatePaymasterUserOp(PackedUserOperation calldata, bytes32, uint256)
        external
        view
        returns (bytes memory context, uint256 validationData)
    {
        require(msg.sender == entryPoint, "only entry point");
        return ("", 0);
    }

    function postOp(uint8, bytes calldata, uint256, uint256) external view {
        require(msg.sender == entryPoint, "only entry point");
    }
}
