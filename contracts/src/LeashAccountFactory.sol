// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {Create2} from "@openzeppelin/contracts/utils/Create2.sol";
import {LeashAccount} from "./LeashAccount.sol";

/// @title LeashAccountFactory
/// @notice Deploys {LeashAccount}s as ERC-1967 proxies with CREATE2, so an account's address is known (and can
/// receive funds) before it exists. Called by the EntryPoint through a UserOperation's `initCode`.
/// @dev Reads no storage of its own, so an unstaked factory passes ERC-7562 validation rules.
contract LeashAccountFactory {
    /// @notice The account implementation every proxy points to.
    LeashAccount public immutable implementation;

    /// @param implementation_ The {LeashAccount} implementation, deployed on its own (at a fixed address
    /// through the CREATE2 deployer, like this factory), so that accounts can be upgraded away from it and EOAs
    /// can delegate to it.
    constructor(LeashAccount implementation_) {
        implementation = implementation_;
    }

    /// @notice Deploys the account for `owner` and `salt`, or returns it if it already exists.
    /// @param owner The account's ECDSA owner.
    /// @param salt Any value; different salts give different accounts for one owner.
    /// @param validators Validator modules to install at deployment (they take part in the address).
    /// @param validatorData Their `onInstall` data.
    function createAccount(address owner, bytes32 salt, address[] calldata validators, bytes[] calldata validatorData)
        external
        returns (LeashAccount account)
    {
        bytes memory initCode = _initCode(owner, validators, validatorData);
        bytes32 create2Salt = _salt(owner, salt);
        address predicted = Create2.computeAddress(create2Salt, keccak256(initCode));
        if (predicted.code.length > 0) return LeashAccount(payable(predicted));
        return LeashAccount(payable(Create2.deploy(0, create2Salt, initCode)));
    }

    /// @notice The address `createAccount` deploys (or deployed) for these arguments.
    function getAddress(address owner, bytes32 salt, address[] calldata validators, bytes[] calldata validatorData)
        external
        view
        returns (address)
    {
        return Create2.computeAddress(_salt(owner, salt), keccak256(_initCode(owner, validators, validatorData)));
    }

    function _salt(address owner, bytes32 salt) private pure returns (bytes32) {
        return keccak256(abi.encode(owner, salt));
    }

    function _initCode(address owner, address[] calldata validators, bytes[] calldata validatorData)
        private
        view
        returns (bytes memory)
    {
        bytes memory init = abi.encodeCall(LeashAccount.initialize, (owner, validators, validatorData));
        return abi.encodePacked(type(ERC1967Proxy).creationCode, abi.encode(address(implementation), init));
    }
}
