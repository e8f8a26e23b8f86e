// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IEntryPointStake} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {LeashAccount} from "./LeashAccount.sol";
import {LeashAccountFactory} from "./LeashAccountFactory.sol";

/// @title LeashFactoryStaker
/// @notice The staked front of a {LeashAccountFactory}. Operations name it as their factory and it forwards the
/// call, so accounts keep the factory's addresses. Its stake in the EntryPoint is what lets bundlers accept an
/// operation that creates its account and, in the same operation, writes the account's records in another
/// contract (ERC-7562 STO-022): a session granted on its first use by a new account.
/// @dev The factory stays ownerless and storage-free; only the stake has an owner. `createAccount` and
/// `getAddress` read no storage of their own, as ERC-7562 asks of a factory.
contract LeashFactoryStaker is Ownable {
    /// @notice The factory every call is forwarded to.
    LeashAccountFactory public immutable factory;

    /// @param initialOwner Who manages the stake.
    /// @param factory_ The factory to front.
    constructor(address initialOwner, LeashAccountFactory factory_) Ownable(initialOwner) {
        factory = factory_;
    }

    /// @notice {LeashAccountFactory-createAccount}, forwarded.
    function createAccount(
        address accountOwner,
        bytes32 salt,
        address[] calldata validators,
        bytes[] calldata validatorData
    ) external returns (LeashAccount) {
        return factory.createAccount(accountOwner, salt, validators, validatorData);
    }

    /// @notice {LeashAccountFactory-getAddress}, forwarded.
    function getAddress(
        address accountOwner,
        bytes32 salt,
        address[] calldata validators,
        bytes[] calldata validatorData
    ) external view returns (address) {
        return factory.getAddress(accountOwner, salt, validators, validatorData);
    }

    /// @notice Locks `msg.value` as this staker's stake in `entryPoint`, for at least `unstakeDelaySec` once
    /// unlocked (bundlers ask for at least a day).
    function addStake(IEntryPointStake entryPoint, uint32 unstakeDelaySec) external payable onlyOwner {
        entryPoint.addStake{value: msg.value}(unstakeDelaySec);
    }

    /// @notice Starts the unstake delay; the staker counts as unstaked from now on.
    function unlockStake(IEntryPointStake entryPoint) external onlyOwner {
        entryPoint.unlockStake();
    }

    /// @notice Sends the unlocked stake to `recipient` once the delay has passed.
    function withdrawStake(IEntryPointStake entryPoint, address payable recipient) external onlyOwner {
        entryPoint.withdrawStake(recipient);
    }
}
