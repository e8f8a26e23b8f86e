// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {
    IERC7579Validator,
    IERC7579Module,
    MODULE_TYPE_VALIDATOR
} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";

/// @notice Shared module plumbing of the validators below: a validator (type 1) that never signs for ERC-1271.
abstract contract TestValidatorBase is IERC7579Validator {
    /// @inheritdoc IERC7579Module
    function onInstall(bytes calldata) external virtual override {}

    /// @inheritdoc IERC7579Module
    function onUninstall(bytes calldata) external virtual override {}

    /// @inheritdoc IERC7579Module
    function isModuleType(uint256 moduleTypeId) external pure override returns (bool) {
        return moduleTypeId == MODULE_TYPE_VALIDATOR;
    }

    /// @inheritdoc IERC7579Validator
    function isValidSignatureWithSender(address, bytes32, bytes calldata) external pure override returns (bytes4) {
        return bytes4(0xffffffff);
    }
}

/// @notice Breaks ERC-7562 OP-011: its validation reads the forbidden TIMESTAMP opcode.
contract ClockValidator is TestValidatorBase {
    /// @inheritdoc IERC7579Validator
    function validateUserOp(PackedUserOperation calldata, bytes32) external view override returns (uint256) {
        // The TIMESTAMP read is the point of this contract.
        // forge-lint: disable-next-line(block-timestamp)
        return block.timestamp > 0 ? 0 : 1;
    }
}

/// @notice A price feed whose storage belongs to no account (read by `OracleValidator`).
contract Oracle {
    uint256 public price;

    function setPrice(uint256 newPrice) external {
        price = newPrice;
    }
}

/// @notice Breaks ERC-7562 STO-021: its validation reads storage of a contract not associated with the account.
contract OracleValidator is TestValidatorBase {
    Oracle public immutable oracle;

    constructor(Oracle oracle_) {
        oracle = oracle_;
    }

    /// @inheritdoc IERC7579Validator
    function validateUserOp(PackedUserOperation calldata, bytes32) external view override returns (uint256) {
        return oracle.price() != 0 ? 0 : 1;
    }
}

/// @notice Respects ERC-7562: its validation touches only storage keyed by the account (positive control).
contract CleanValidator is TestValidatorBase {
    mapping(address account => uint256) public uses;

    /// @inheritdoc IERC7579Validator
    function validateUserOp(PackedUserOperation calldata, bytes32) external override returns (uint256) {
        uses[msg.sender]++;
        return 0;
    }
}
