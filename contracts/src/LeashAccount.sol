// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {Account} from "@openzeppelin/contracts/account/Account.sol";
import {AccountERC7579} from "@openzeppelin/contracts/account/extensions/draft-AccountERC7579.sol";
import {IEntryPoint, PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {SignerECDSA} from "@openzeppelin/contracts/utils/cryptography/signers/SignerECDSA.sol";
import {Initializable} from "@openzeppelin/contracts/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts/proxy/utils/UUPSUpgradeable.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ERC721Holder} from "@openzeppelin/contracts/token/ERC721/utils/ERC721Holder.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";
import {ERC7739} from "@openzeppelin/contracts/utils/cryptography/signers/draft-ERC7739.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {AbstractSigner} from "@openzeppelin/contracts/utils/cryptography/signers/AbstractSigner.sol";
import {
    IERC7579Module,
    IERC7579Validator,
    MODULE_TYPE_VALIDATOR,
    MODULE_TYPE_EXECUTOR,
    MODULE_TYPE_FALLBACK
} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {ERC7579Utils} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {ILeashAccount} from "./interfaces/ILeashAccount.sol";

/// @title LeashAccount
/// @notice ERC-4337 v0.7 + ERC-7579 modular smart account with one ECDSA owner.
/// @dev Built on OpenZeppelin's audited `AccountERC7579`. A UserOperation whose nonce key starts with the
/// address of an installed validator module (for example the session-key module) is validated by that module;
/// any other nonce key is validated against the owner's ECDSA signature over the raw `userOpHash` (which the
/// EntryPoint already binds to the chain, itself and this account). ERC-1271 signatures go to the validator
/// named in their first 20 bytes and otherwise to the owner through ERC-7739 nested typed data, so an owner's
/// signature is valid for this account only, even when the owner holds several accounts.
///
/// It answers {ILeashAccount}: which addresses are its modules (of any type, counted across installs) and
/// whether its owner, and nothing else, signed a digest; the session-key module uses both.
///
/// Accounts are deployed as ERC-1967 proxies by {LeashAccountFactory}; the implementation is never used directly.
/// They accept ERC-721 and ERC-1155 tokens sent with the safe transfer functions (game items, NFTs).
///
/// The owner can be changed ({setOwner}) and the account upgraded (UUPS, {upgradeToAndCall}), both only by the
/// account itself acting for its owner: an operation the owner signed, never one a module validated, so no
/// session can take the account over through them.
///
/// An EOA can also be the account (EIP-7702): it delegates to this implementation and its own key is the owner,
/// always; nothing in its storage can name another. {initializeEoa}, which only the EOA itself can call, installs
/// its modules under a fresh storage epoch, so modules that an earlier delegation left in the EOA's storage
/// (this one's or another contract's) count for nothing. One limit: the epoch is unpredictable only from
/// before its block, so a delegation able to write the EOA's storage in the same block, before the switch, could
/// prepare entries for it; leaving such a delegation, initialise again in a later block (the SDK does).
contract LeashAccount is
    ILeashAccount,
    AccountERC7579,
    SignerECDSA,
    ERC7739,
    Initializable,
    UUPSUpgradeable,
    ERC721Holder,
    ERC1155Holder
{
    /// @notice ERC-4337 EntryPoint v0.7 at its canonical address.
    IEntryPoint internal constant ENTRYPOINT_V07 = IEntryPoint(0x0000000071727De22E5E9d8BAf0edAc6f37da032);

    /// @notice The ERC-1271 "valid signature" magic value.
    bytes4 internal constant ERC1271_MAGIC = IERC1271.isValidSignature.selector;

    /// @dev The account's modules, kept here rather than in OpenZeppelin's sets (whose sequential slots an EOA's
    /// earlier delegation may have filled with anything): per storage epoch, always 0 for a proxy, fresh at each
    /// {initializeEoa} for a delegated EOA, so nothing installed before it counts.
    /// @custom:storage-location erc7201:leash.account.modules
    struct Modules {
        uint256 epoch;
        mapping(uint256 epoch => Registry) registries;
    }

    /// @dev One epoch's modules. `installations` counts live installations per address over every type, so that
    /// "is this address one of my modules" is one read of the account's own storage (ERC-7562 allows it during
    /// validation), whatever the module's type.
    struct Registry {
        mapping(address module => bool) validators;
        mapping(address module => bool) executors;
        mapping(bytes4 selector => address) fallbacks;
        mapping(address module => uint256) installations;
    }

    /// @dev keccak256(abi.encode(uint256(keccak256("leash.account.modules")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant MODULES_SLOT = 0x22caba8b7ac599c376a1c63176e75901465f90f9e72337d8ba82bafff1241900;

    /// @dev The implementation keeps no owner: it is locked at construction.
    constructor() SignerECDSA(address(0)) EIP712("LeashAccount", "1") {
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
        // On a delegated EOA anyone could call this first and install their own module: such an account is set
        // up by {initializeEoa}, which only the EOA calls.
        require(!_isDelegatedEoa(), UseInitializeEoa());
        require(accountOwner != address(0), InvalidOwner());
        require(validators.length == validatorData.length, InvalidOwner());
        _setSigner(accountOwner);
        for (uint256 i = 0; i < validators.length; ++i) {
            _installModule(1, validators[i], validatorData[i]);
        }
    }

    /// @notice Sets up an EOA that delegates to this implementation (EIP-7702): starts a fresh storage epoch, so
    /// that no module an earlier delegation left in the EOA's storage counts, and installs `validators`. Only the
    /// EOA itself may call it: its own transaction (the type-4 transaction that delegates, calling itself), or an
    /// operation its key signed. Calling it again uninstalls every module at once (a new epoch).
    /// @param validators Validator modules to install (may be empty).
    /// @param validatorData Their `onInstall` data, in the same order.
    function initializeEoa(address[] calldata validators, bytes[] calldata validatorData) external {
        require(_isDelegatedEoa(), NotADelegatedEoa());
        require(msg.sender == address(this), AccountUnauthorized(msg.sender));
        require(validators.length == validatorData.length, InvalidOwner());
        Modules storage modules = _modules();
        // Unpredictable before this block: an earlier delegation cannot have prepared entries for it.
        uint256 epoch = uint256(keccak256(abi.encode(modules.epoch, blockhash(block.number - 1), address(this))));
        modules.epoch = epoch;
        for (uint256 i = 0; i < validators.length; ++i) {
            // leash's module revokes, at this install, every session it kept for this address under an earlier
            // delegation or epoch (its `onInstall`).
            _installModule(MODULE_TYPE_VALIDATOR, validators[i], validatorData[i]);
        }
        emit EoaInitialized(epoch);
    }

    /// @notice The zero address was given as owner, or the module lists do not match.
    error InvalidOwner();

    /// @notice {initialize} was called on a delegated EOA; it is set up with {initializeEoa}.
    error UseInitializeEoa();

    /// @notice {initializeEoa} was called on an account that is not a delegated EOA.
    error NotADelegatedEoa();

    /// @notice A delegated EOA's owner is the EOA's own key, which cannot be changed, and its code is its
    /// delegation, changed by a new authorisation, not by an upgrade.
    error DelegatedEoa();

    /// @notice A delegated EOA started a fresh storage epoch: every earlier module installation is forgotten.
    event EoaInitialized(uint256 epoch);

    /// @notice The account's owner changed: `newOwner` signs for it from now on, `previousOwner` no longer does.
    event OwnerChanged(address indexed previousOwner, address indexed newOwner);

    /// @notice An owner-only change (a new owner, an upgrade) was asked in a bundle that also carries an
    /// operation of this account a module validated. Send it on its own.
    error OwnerChangeAlongsideModuleOperation();

    /// @notice A module cannot be installed in a bundle that also carries an operation a module validated: that
    /// operation's calls were judged before the install (ERC-4337 validates every operation of a bundle before
    /// executing any), so they could reach the new module as the account. Send the install on its own.
    error InstallAlongsideModuleOperation(address module);

    /// @dev Transient flag: an operation validated by a module (a session) is in this transaction's bundle.
    /// ERC-7562 treats transient storage like storage, and this is the account's own.
    bytes32 private constant MODULE_OPERATION_PENDING = keccak256("leash.account.moduleOperationPending");

    /// @inheritdoc Account
    function entryPoint() public pure override returns (IEntryPoint) {
        return ENTRYPOINT_V07;
    }

    /// @notice The account's ECDSA owner: the EOA itself when it is a delegated EOA.
    function owner() external view returns (address) {
        return signer();
    }

    /// @notice The ECDSA key that signs for the account: a delegated EOA's own address whatever its storage
    /// holds, else the owner set at creation or by {setOwner}.
    function signer() public view override returns (address) {
        return _isDelegatedEoa() ? address(this) : super.signer();
    }

    /// @notice ERC-7579: whether `module` is installed as a module of that type (on a delegated EOA: since
    /// its latest {initializeEoa}).
    function isModuleInstalled(uint256 moduleTypeId, address module, bytes calldata additionalContext)
        public
        view
        override
        returns (bool)
    {
        Registry storage registry = _registry();
        if (moduleTypeId == MODULE_TYPE_VALIDATOR) return registry.validators[module];
        if (moduleTypeId == MODULE_TYPE_EXECUTOR) return registry.executors[module];
        if (moduleTypeId == MODULE_TYPE_FALLBACK) {
            return additionalContext.length > 3 && registry.fallbacks[bytes4(additionalContext[0:4])] == module;
        }
        return false;
    }

    /// @notice Hands the account to `newOwner`: from now on only its signature validates owner operations,
    /// ERC-1271 messages and session grants. Sessions already active stay active (revoke them in the same
    /// batch when the old key leaked); a grant the old owner signed that was never used can no longer start.
    /// @param newOwner The new ECDSA owner; not the zero address.
    function setOwner(address newOwner) external {
        _checkOwnerOperation();
        require(!_isDelegatedEoa(), DelegatedEoa());
        require(newOwner != address(0), InvalidOwner());
        emit OwnerChanged(signer(), newOwner);
        _setSigner(newOwner);
    }

    /// @dev UUPS: only an owner operation upgrades the account (OpenZeppelin checks the new implementation is
    /// UUPS and that the call comes through the proxy). The storage stays, so the owner, the installed modules
    /// and the sessions they keep carry over.
    function _authorizeUpgrade(address) internal view override {
        _checkOwnerOperation();
        require(!_isDelegatedEoa(), DelegatedEoa());
    }

    /// @dev Whether this code runs for an EOA that delegates to it (EIP-7702): its code is then the 23-byte
    /// delegation designator. A proxy's code is longer, and empty while the factory creates it.
    function _isDelegatedEoa() private view returns (bool) {
        return address(this).code.length == 23;
    }

    function _modules() private pure returns (Modules storage modules) {
        assembly ("memory-safe") {
            modules.slot := MODULES_SLOT
        }
    }

    /// @dev The modules of the current storage epoch: 0 for a proxy (read without touching the epoch), the
    /// latest {initializeEoa}'s for a delegated EOA.
    function _registry() private view returns (Registry storage) {
        Modules storage modules = _modules();
        return modules.registries[_isDelegatedEoa() ? modules.epoch : 0];
    }

    function _fallbackHandler(bytes4 selector) internal view override returns (address) {
        return _registry().fallbacks[selector];
    }

    /// @dev The account calling itself (an `execute` the owner signed; sessions may never target the account)
    /// or the EntryPoint directly (an operation the owner validated), and no operation of this account in the
    /// bundle validated by a module: a session's operation reaches the account's own functions only through
    /// the EntryPoint, and this refuses it even if a module let such a call through.
    function _checkOwnerOperation() private view {
        _checkEntryPointOrSelf();
        bytes32 slot = MODULE_OPERATION_PENDING;
        uint256 pending;
        assembly ("memory-safe") {
            pending := tload(slot)
        }
        require(pending == 0, OwnerChangeAlongsideModuleOperation());
    }

    /// @notice ERC-1271: a signature that starts with an installed validator's address is that validator's
    /// answer alone; any other is the owner's, as ERC-7739 nested typed data (`TypedDataSign` or `PersonalSign`)
    /// bound to this account's domain. The owner's signature over a raw hash is never accepted here.
    /// @param hash The digest the caller verifies.
    /// @param signature A validator's address and its signature data, or the owner's ERC-7739 signature.
    /// @return magic `0x1626ba7e` when valid (and ERC-7739's `0x77390001` for its detection request).
    function isValidSignature(bytes32 hash, bytes calldata signature)
        public
        view
        override(AccountERC7579, ERC7739)
        returns (bytes4 magic)
    {
        if (signature.length >= 20) {
            address module = address(bytes20(signature[0:20]));
            if (isModuleInstalled(MODULE_TYPE_VALIDATOR, module, signature[0:0])) {
                try IERC7579Validator(module).isValidSignatureWithSender(msg.sender, hash, signature[20:]) returns (
                    bytes4 answer
                ) {
                    return answer == ERC1271_MAGIC ? ERC1271_MAGIC : bytes4(0xffffffff);
                } catch {
                    return bytes4(0xffffffff);
                }
            }
        }
        return ERC7739.isValidSignature(hash, signature);
    }

    /// @inheritdoc ILeashAccount
    function isModule(address module) external view returns (bool) {
        return _registry().installations[module] != 0;
    }

    /// @inheritdoc ILeashAccount
    function isOwnerSignature(bytes32 hash, bytes calldata signature) external view returns (bool) {
        return SignerECDSA._rawSignatureValidation(hash, signature);
    }

    /// @dev Marks that a module validated an operation of this account in this bundle (see {_installModule}).
    function _validateUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash, bytes calldata signature)
        internal
        override
        returns (uint256)
    {
        if (isModuleInstalled(MODULE_TYPE_VALIDATOR, _extractUserOpValidator(userOp), signature[0:0])) {
            bytes32 slot = MODULE_OPERATION_PENDING;
            assembly ("memory-safe") {
                tstore(slot, 1)
            }
        }
        return super._validateUserOp(userOp, userOpHash, signature);
    }

    /// @dev OpenZeppelin's checks and events, over this account's own registry (see {Modules}).
    function _installModule(uint256 moduleTypeId, address module, bytes memory initData) internal override {
        bytes32 slot = MODULE_OPERATION_PENDING;
        uint256 pending;
        assembly ("memory-safe") {
            pending := tload(slot)
        }
        require(pending == 0, InstallAlongsideModuleOperation(module));
        require(supportsModule(moduleTypeId), ERC7579Utils.ERC7579UnsupportedModuleType(moduleTypeId));
        require(
            IERC7579Module(module).isModuleType(moduleTypeId),
            ERC7579Utils.ERC7579MismatchedModuleTypeId(moduleTypeId, module)
        );
        Registry storage registry = _registry();
        bool added;
        if (moduleTypeId == MODULE_TYPE_VALIDATOR) {
            added = !registry.validators[module];
            registry.validators[module] = true;
        } else if (moduleTypeId == MODULE_TYPE_EXECUTOR) {
            added = !registry.executors[module];
            registry.executors[module] = true;
        } else {
            bytes4 selector;
            (selector, initData) = _decodeFallbackData(initData);
            added = registry.fallbacks[selector] == address(0);
            registry.fallbacks[selector] = module;
        }
        require(added, ERC7579Utils.ERC7579AlreadyInstalledModule(moduleTypeId, module));
        ++registry.installations[module];
        IERC7579Module(module).onInstall(initData);
        emit ModuleInstalled(moduleTypeId, module);
    }

    function _uninstallModule(uint256 moduleTypeId, address module, bytes memory deInitData) internal override {
        require(supportsModule(moduleTypeId), ERC7579Utils.ERC7579UnsupportedModuleType(moduleTypeId));
        Registry storage registry = _registry();
        bool removed;
        if (moduleTypeId == MODULE_TYPE_VALIDATOR) {
            removed = registry.validators[module];
            delete registry.validators[module];
        } else if (moduleTypeId == MODULE_TYPE_EXECUTOR) {
            removed = registry.executors[module];
            delete registry.executors[module];
        } else {
            bytes4 selector;
            (selector, deInitData) = _decodeFallbackData(deInitData);
            removed = module != address(0) && registry.fallbacks[selector] == module;
            delete registry.fallbacks[selector];
        }
        require(removed, ERC7579Utils.ERC7579UninstalledModule(moduleTypeId, module));
        --registry.installations[module];
        IERC7579Module(module).onUninstall(deInitData);
        emit ModuleUninstalled(moduleTypeId, module);
    }

    /// @dev The owner's ECDSA signature; `AccountERC7579` alone would refuse every non-module signature.
    function _rawSignatureValidation(bytes32 hash, bytes calldata signature)
        internal
        view
        override(AbstractSigner, AccountERC7579, SignerECDSA)
        returns (bool)
    {
        return SignerECDSA._rawSignatureValidation(hash, signature);
    }
}
