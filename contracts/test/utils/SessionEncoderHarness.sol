// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {Action, Session} from "../../src/SessionTypes.sol";
import {SessionEncoder} from "../../src/SessionEncoder.sol";

/// @notice {SessionEncoder} behind external functions, so the Rust encoder can be held to it on a local chain
/// (and its ABI gives the Rust side the session's struct types).
contract SessionEncoderHarness {
    function encodeSession(Session calldata s) external pure returns (bytes memory) {
        return SessionEncoder.encode(s);
    }

    function encodeAction(Action calldata a) external pure returns (bytes memory) {
        return SessionEncoder.encode(a);
    }

    function actionsRoot(bytes32[] calldata leaves) external pure returns (bytes32) {
        return SessionEncoder.root(leaves);
    }

    function actionProof(bytes32[] calldata leaves, uint256 index) external pure returns (bytes32[] memory) {
        return SessionEncoder.proof(leaves, index);
    }
}
