// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

/// @notice A contract sessions call in tests: records the last call and accepts value.
contract Target {
    uint256 public calls;
    bytes public lastData;
    uint256 public lastValue;

    function ping(uint256 a, uint256 b, address c) external payable returns (uint256) {
        calls++;
        lastData = msg.data;
        lastValue = msg.value;
        return a ^ b ^ uint256(uint160(c));
    }

    /// @dev Sixteen static words, for rules at every offset.
    function wide(uint256[16] calldata words) external {
        calls++;
        words;
    }

    receive() external payable {
        calls++;
        lastValue = msg.value;
    }

    fallback() external payable {
        calls++;
        lastData = msg.data;
    }
}
