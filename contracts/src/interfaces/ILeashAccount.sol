// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

/// @title ILeashAccount
/// @notice What the session-key module asks a leash account during validation, so that it judges sessions by
/// the account's real configuration: which addresses are its modules, and what its owner (and only its owner)
/// signed.
interface ILeashAccount {
    /// @notice Whether `module` is installed on the account as a module of any type (validator, executor or
    /// fallback handler).
    /// @param module The address asked about.
    /// @return installed True when at least one installation of `module` is live.
    function isModule(address module) external view returns (bool installed);

    /// @notice Whether the account's owner signed `hash` itself: no module is consulted and no ERC-7739 wrapping
    /// applies, so callers must hash a domain that names the account and the chain (leash grants do).
    /// @param hash The signed digest.
    /// @param signature The owner's signature.
    /// @return valid True when the owner signed `hash`.
    function isOwnerSignature(bytes32 hash, bytes calldata signature) external view returns (bool valid);
}
