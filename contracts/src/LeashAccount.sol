// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {Account} from "@openzeppelin/contracts/account/Account.sol";
import {AccountERC7579} from "@openzeppelin/contracts/account/extensions/draft-AccountERC7579.sol";
import {IEntryPoint} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {SignerECDSA} from "@openzeppelin/contracts/utils/cryptography/signers/SignerECDSA.sol";
import {Initializable} from "@openzeppelin/contracts/proxy/utils/Initializable.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ERC721Holder} from "@openzeppelin/contracts/token/ERC721/utils/ERC721Holder.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";

/// @title LeashAccount
/// @notice ERC-4337 v0.7 + ERC-7579 modular smart account with one ECDSA owner.
/// @dev Built on OpenZeppelin's audited `AccountERC7579`. A UserOperation whose nonce key starts with the
/// address of an installed validator module (for example the session-key module) is validated by that module;
/// any other nonce key is validated against the owner's ECDSA signature over the raw `userOpHash` (which the
/// EntryPoint already binds to the chain, itself and this account). ERC-1271 signatures go to the module named
/// in their first 20 bytes and otherwise to the owner.
///
/// Accounts are deployed as ERC-1967 proxies by {LeashAccountFactory}; the implementation is never used directly.
/// They accept ERC-721 and ERC-1155 tokens sent with the safe transfer functions (game items, NFTs).
contract LeashAccount is AccountERC7579, SignerECDSA, Initializable, ERC721Holder, ERC1155Holder {
    /// @notice ERC-4337 EntryPoint v0.7 at its canonical address.
    IEntryPoint internal constant ENTRYPOINT_V07 = IEntryPoint(0x0000000071727De22E5E9d8BAf0edAc6f37da032);

    /// @notice The ERC-1271 "valid signature" magic value.
    bytes4 internal constant ERC1271_MAGIC = IERC1271.isValidSignature.selector;

    /// @dev The implementation keeps no owner: it is locked at construction.
    constructor() SignerECDSA(address(0)) {
        _disableInitializers();
    }

    /// @notice Sets the owner and installs the given validator modules. Called once by the factory.
    /// @param accountOwner The ECDSA owner; it signs UserOperations and ERC-1271 messages for the account.
    /// @param validators Validator modules to install at deployment (may be empty).
    /// @param validatorData The `onInstall` data of each validator, in the same order.
    function initialize(address accountOwner, address[] calldata validators, bytes[] calldata validatorData)
        external
        initializer
    {
        require(accountOwner != address(0), InvalidOwner());
        require(validators.length == validatorData.length, InvalidOwner());
        _setSigner(accountOwner);
        for (uint256 i = 0; i < validators.length; ++i) {
            _installModule(1, validators[i], validatorData[i]);
        }
    }

    /// @notice The zero address was given as owner, or the module lists do not match.
    error InvalidOwner();

    /// @inheritdoc Account
    function entryPoint() public pure override returns (IEntryPoint) {
        return ENTRYPOINT_V07;
    }

    /// @notice The account's ECDSA owner.
    function owner() external view returns (address) {
        return signer();
    }

    /// @notice ERC-1271: a module-routed signature (module address first) or the owner's ECDSA signature.
    /// @dev The owner path signs the raw hash: callers must hash a domain that names this account (EIP-712
    /// permits and leash grants do).
    function isValidSignature(bytes32 hash, bytes calldata signature) public view override returns (bytes4) {
        if (AccountERC7579.isValidSignature(hash, signature) == ERC1271_MAGIC) return ERC1271_MAGIC;
        return _rawSignatureValidation(hash, signature) ? ERC1271_MAGIC : bytes4(0xffffffff);
    }

    /// @dev The owner's ECDSA signature; `AccountERC7579` alone would refuse every non-module signature.
    function _rawSignatureValidation(bytes32 hash, bytes calldata signature)
        internal
        view
        override(AccountERC7579, SignerECDSA)
        returns (bool)
    {
        return SignerECDSA._rawSignatureValidation(hash, signature);
    }
}
