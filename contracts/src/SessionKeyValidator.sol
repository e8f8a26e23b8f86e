// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {
    IERC7579Validator,
    IERC7579Module,
    IERC7579Execution,
    IERC7579ModuleConfig,
    MODULE_TYPE_VALIDATOR
} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ERC4337Utils} from "@openzeppelin/contracts/account/utils/ERC4337Utils.sol";
import {ERC7579Utils, Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {P256} from "@openzeppelin/contracts/utils/cryptography/P256.sol";
import {WebAuthn} from "@openzeppelin/contracts/utils/cryptography/WebAuthn.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {ActionRecord, SessionRecord, SessionTypes} from "./SessionTypes.sol";
import {ILeashAccount} from "./interfaces/ILeashAccount.sol";
import {PeriodLib} from "./libraries/PeriodLib.sol";
import {CallPolicyLib} from "./libraries/CallPolicyLib.sol";
import {ArgumentPaths} from "./ArgumentPaths.sol";

/// @title SessionKeyValidator
/// @notice ERC-7579 validator that lets a session key act for an account inside an envelope the owner granted:
/// time window, allowed calls with argument rules, per-call and per-period limits, use counts, gas budget,
/// required paymaster and ERC-1271 signing. Installs on any ERC-7579 account.
///
/// @dev Layout of a session UserOperation: the nonce key starts with this module's address (the account routes
/// validation here); `callData` is `execute(mode, executionCalldata)` with a single or batch call; `signature`
/// is the packed session use of docs/encoding.md: format version, mode (0 use, 1 grant and use), stated time,
/// the session, the actions the calls use with their Merkle proofs, each call's action, the key's signature and,
/// in mode 1, the owner's grant.
///
/// Nothing is re-encoded to be hashed: a session's id and an action's hash are `keccak256` of their packed bytes
/// as they sit in calldata, and every length is checked against the end of the bytes before it is followed.
/// Cost does not grow with the size of a session: the session commits to its actions by a Merkle root, an action
/// proves its membership on first use, and everything is checked against one slot per session and one slot per
/// action used, keyed by hashes (no lists are walked, and each slot is written at most once per operation).
///
/// A session may never reach, whatever its policy says (sudo included): the account itself (its address or
/// `address(0)`, which OpenZeppelin's executor turns into the account), this module, any module installed on
/// the account, a canonical EntryPoint, delegatecall. Grants are approved by the account's owner only (the
/// leash account's {ILeashAccount-isOwnerSignature}), never by whatever else its ERC-1271 accepts.
///
/// ERC-7562: validation reads no banned opcode (time is stated by the operation and enforced through
/// `validAfter`/`validUntil`), and every slot it touches is keyed by the account (see each declaration). The
/// only external calls are views of the account itself (its modules, its owner's grant signature).
contract SessionKeyValidator is IERC7579Validator, EIP712 {
    /// @notice EIP-712 type of the per-chain grant the owner approves (one leaf of the multichain root).
    bytes32 public constant GRANT_TYPEHASH = keccak256("SessionGrant(address account,bytes32 sessionId,uint32 epoch)");
    /// @notice EIP-712 type of the root the owner signs once for every chain.
    bytes32 public constant GRANT_ROOT_TYPEHASH = keccak256("SessionGrantRoot(bytes32 root)");
    /// @notice EIP-712 type the session key signs for an ERC-1271 message on behalf of the account.
    bytes32 public constant MESSAGE_TYPEHASH =
        keccak256("SessionMessage(address account,bytes32 sessionId,bytes32 hash)");

    bytes32 private constant CHAINLESS_DOMAIN_TYPEHASH = keccak256("EIP712Domain(string name,string version)");
    bytes4 private constant ERC1271_MAGIC = IERC1271.isValidSignature.selector;
    bytes4 private constant ERC1271_INVALID = 0xffffffff;
    uint48 private constant NO_END = type(uint48).max;
    /// @dev Where a packed session's signer starts (docs/encoding.md).
    uint256 private constant SIGNER_AT = 119;

    /// @dev Session state ({SessionRecord}, packed in one word), keyed `sessionId => account`: the slot is
    /// keccak(account || keccak(id || slot)), which ERC-7562 treats as storage associated with the account.
    mapping(bytes32 sessionId => mapping(address account => uint256 record)) private _sessions;

    /// @dev Action state ({ActionRecord}, packed in one word), keyed `keccak256(sessionId, actionHash) => account`
    /// (associated with the account).
    mapping(bytes32 actionKey => mapping(address account => uint256 record)) private _actions;

    /// @dev Bumped by "revoke all" and on uninstall; a session is live only at the epoch it was granted in.
    /// Keyed by the account (associated storage).
    mapping(address account => AccountState) private _accounts;

    /// @dev Per account: the "revoke all" epoch and whether this module is installed (one slot).
    struct AccountState {
        uint32 epoch;
        bool installed;
    }

    /// @notice A session was granted for `account`.
    event SessionGranted(address indexed account, bytes32 indexed sessionId, uint32 epoch);
    /// @notice A session was revoked for `account`; it can never be granted again.
    event SessionRevoked(address indexed account, bytes32 indexed sessionId);
    /// @notice Every session of `account` was revoked at once.
    event AllSessionsRevoked(address indexed account, uint32 newEpoch);

    /// @notice The session is not granted.
    error SessionNotGranted(bytes32 sessionId);
    /// @notice The session was granted, then voided by "revoke all" (or by uninstalling the module).
    error SessionVoidedByRevokeAll(bytes32 sessionId);
    /// @notice The owner signed this grant before a "revoke all": it can never be used.
    error GrantVoidedByRevokeAll(bytes32 sessionId, uint32 grantEpoch, uint32 accountEpoch);
    /// @notice The session has neither a gas budget nor a required paymaster, so its fees would be unbounded.
    error GasBudgetRequired(bytes32 sessionId);
    /// @notice The module is not installed on the calling account, so it keeps no sessions for it.
    error NotInstalled(address account);
    /// @notice The session was revoked.
    error SessionIsRevoked(bytes32 sessionId);
    /// @notice The session's contents are malformed (format, signer, empty window, lengths, ...).
    error InvalidSession(bytes32 sessionId);
    /// @notice The owner's grant signature does not verify for this chain, account, module and epoch.
    error InvalidGrantSignature(bytes32 sessionId);
    /// @notice The signature's first byte is not a format version this module reads.
    error UnsupportedFormat(uint8 version);
    /// @notice The signature's mode byte is not a known mode.
    error UnknownSignatureMode(uint8 mode);
    /// @notice The operation's `sender` is not the account asking for validation.
    error SenderMismatch(address sender, address account);
    /// @notice The operation would push the session's use count past its limit for the period.
    error SessionUseLimitExceeded(uint32 uses, uint32 maxUses);
    /// @notice The operation's gas limits times `maxFeePerGas` would exceed the session's gas budget.
    error GasBudgetExceeded(uint256 spent, uint256 cost, uint256 budget);
    /// @notice The session requires a paymaster and the operation uses another (or none).
    error PaymasterRequired(address required, address used);
    /// @notice The session's window, the periods charged and their active windows do not overlap.
    error EmptyValidityWindow(uint48 validAfter, uint48 validUntil);
    /// @notice The operation names a period older than one the action (or session) was already charged in.
    error PeriodInPast(uint32 charged, uint32 stated);
    /// @notice A call names an action that is not part of the granted session (its proof does not lead to the
    /// session's actions root, and it has no record yet).
    error ActionNotGranted(uint256 callIndex, bytes32 actionHash);
    /// @notice A call's action index points past the actions carried by the operation.
    error MissingCallAction(uint256 callIndex);
    /// @notice The call would push the action's use count past its limit for the period.
    error UseLimitExceeded(uint256 callIndex, uint256 uses, uint256 maxUses);
    /// @notice The call would push the summed amount argument past the action's cap for the period.
    error AmountLimitExceeded(uint256 callIndex, uint256 wouldSpend, uint256 cap);
    /// @notice The call would push the summed native value past the action's cap for the period.
    error ValueLimitExceeded(uint256 callIndex, uint256 wouldSpend, uint256 cap);

    /// @notice Follows the paths of argument rules and amounts (a contract of its own: see {ArgumentPaths}).
    ArgumentPaths public immutable argumentPaths;

    constructor() EIP712("leash", "1") {
        argumentPaths = new ArgumentPaths();
    }

    // ---------------------------------------------------------------------------------------------------------
    // ERC-7579 module
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Marks the module installed for the calling account; sessions are granted one by one. Nothing can
    /// be granted before (grants need the module installed), so no grant written earlier goes live now.
    /// @dev Only a real installation counts: the account must already list this module as a validator (ERC-7579
    /// accounts register a module before calling its `onInstall`). Otherwise a session could call `onInstall`
    /// on a module instance the account has not installed yet, then plant grants in it. An account still being
    /// constructed (no code yet: the factory's proxy initialises it) cannot be asked, and no session can act
    /// from it. An install over a record never uninstalled (an EOA that delegated elsewhere and back, or that
    /// started a new storage epoch without this module, EIP-7702) revokes every session and grant it kept: they
    /// must not come back with it. A first install revokes nothing, so grants signed for a counterfactual
    /// account stay valid.
    function onInstall(bytes calldata) external override {
        require(
            msg.sender.code.length == 0
                || IERC7579ModuleConfig(msg.sender).isModuleInstalled(MODULE_TYPE_VALIDATOR, address(this), ""),
            NotInstalled(msg.sender)
        );
        if (_accounts[msg.sender].installed) _revokeAll(msg.sender);
        _accounts[msg.sender].installed = true;
    }

    /// @notice Uninstalling revokes every session, so a later reinstall revives none of them.
    function onUninstall(bytes calldata) external override {
        _revokeAll(msg.sender);
        _accounts[msg.sender].installed = false;
    }

    /// @notice This module is a validator (type 1).
    function isModuleType(uint256 moduleTypeId) external pure override returns (bool) {
        return moduleTypeId == MODULE_TYPE_VALIDATOR;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Lifecycle (called by the account, so only the owner's operations reach them)
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Grants a session for the calling account. The owner approves by having the account make this call.
    /// @param session The packed session (docs/encoding.md); it commits to its actions by their Merkle root.
    /// @return sessionId The session's id.
    function grantSession(bytes calldata session) external returns (bytes32 sessionId) {
        sessionId = keccak256(session);
        _grant(msg.sender, sessionId, session);
    }

    /// @notice Revokes one session of the calling account, for good.
    function revokeSession(bytes32 sessionId) external {
        require(_accounts[msg.sender].installed, NotInstalled(msg.sender));
        uint256 word = _sessions[sessionId][msg.sender];
        _sessions[sessionId][msg.sender] = (word & ~uint256(0xff)) | SessionTypes.STATE_REVOKED;
        emit SessionRevoked(msg.sender, sessionId);
    }

    /// @notice Revokes every session of the calling account, and every grant signed but not yet used.
    function revokeAllSessions() external {
        _revokeAll(msg.sender);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Validation
    // ---------------------------------------------------------------------------------------------------------

    /// @dev An action carried by the operation: where its packed bytes and proof sit in calldata, its hash, and
    /// its record once loaded (charged in memory, written once at the end).
    struct Carried {
        uint256 offset;
        uint256 length;
        bytes32 hash;
        uint256 proofOffset;
        uint256 proofCount;
        bool loaded;
        bool counted;
        uint256 stored;
        ActionRecord record;
    }

    /// @dev Where a call is checked: the account, the session, the window narrowed so far, and the last target
    /// found not to be one of the account's modules (a batch to one contract asks the account once).
    struct CallContext {
        address account;
        bytes32 sessionId;
        bytes32 actionsRoot;
        bool sudo;
        uint48 time;
        uint48 validAfter;
        uint48 validUntil;
        /// The last target found allowed, as a number: it starts above every address, so the first call (to
        /// `address(0)` included) is always checked.
        uint256 vetted;
    }

    /// @notice Validates a session's UserOperation: grant (mode 1), signer, session limits, every call's action.
    /// @return validationData Signature result and the window (`validAfter`, `validUntil`) the op must run in.
    function validateUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash)
        external
        override
        returns (uint256 validationData)
    {
        address account = msg.sender;
        require(userOp.sender == account, SenderMismatch(userOp.sender, account));
        bytes calldata signature = userOp.signature;
        require(signature.length >= 10, CallPolicyLib.MalformedSignature());
        uint256 head = _word(signature, 0);
        require(uint8(head >> 248) == SessionTypes.FORMAT_VERSION, UnsupportedFormat(uint8(head >> 248)));
        uint8 mode = uint8(head >> 240);
        uint48 time = uint48(head >> 192);
        (bytes calldata session, uint256 at) = _prefixed(signature, 8);
        bytes32 sessionId = keccak256(session);

        Carried[] memory carried;
        bytes calldata callActions;
        bytes calldata keySignature;
        (carried, at) = _carried(signature, at);
        callActions = _slice(signature, at + 1, _uint(signature, at, 1));
        (keySignature, at) = _prefixed(signature, at + 1 + callActions.length);
        if (mode == SessionTypes.MODE_GRANT_AND_USE) {
            at = _lazyGrant(account, sessionId, session, signature, at);
        } else {
            require(mode == SessionTypes.MODE_USE, UnknownSignatureMode(mode));
        }
        require(at == signature.length, CallPolicyLib.MalformedSignature());

        CallContext memory ctx = _chargeSession(account, sessionId, session, time, userOp);
        bytes32 callsHash = _chargeCalls(ctx, carried, callActions, userOp.callData);
        bool signatureOk = _verifySigner(session, useDigest(userOpHash, sessionId, time, callsHash), keySignature);
        // A window whose last second is 0 would read as "no expiry" to the EntryPoint: refuse it as empty.
        require(
            ctx.validAfter <= ctx.validUntil && ctx.validUntil != 0, EmptyValidityWindow(ctx.validAfter, ctx.validUntil)
        );
        return
            ERC4337Utils.packValidationData(signatureOk, ctx.validAfter, ctx.validUntil == NO_END ? 0 : ctx.validUntil);
    }

    /// @notice ERC-1271 for a session: `data` is packed (docs/encoding.md): format version, the session, the
    /// session key's signature over {messageDigest}, then the scope index, the domain separator and the typed
    /// data's fields. The message must be typed data of that scope of the session: asked by its verifier (or by
    /// an account without code, about a message under the verifier's own `DOMAIN_SEPARATOR()`), equal to
    /// `keccak256("\x19\x01" || domainSeparator || keccak256(typeHash || fields[0:top]))`, each nested struct's
    /// hash equal to its field, every rule holding on the fields and, for a counted scope, its nonce that of a free
    /// slot of the period (docs/payments.md). A session with `SESSION_SIGN_ANY`
    /// (an explicit opt-in) may end the data after the key's signature, for any message and verifier.
    /// @dev Never valid when this module itself asks (`sender == this`), so a session can never approve a grant.
    /// Reads the time only for a session with a window, so paymasters may check permits of windowless sessions
    /// during validation (ERC-7562 bans TIMESTAMP there).
    /// @param sender Who asks the account (the verifier, or anyone checking a message under its domain).
    /// @param hash The message.
    /// @param data The session, its key's signature and, for typed data, the scope and the fields.
    /// @return magic `0x1626ba7e` when valid, `0xffffffff` otherwise.
    function isValidSignatureWithSender(address sender, bytes32 hash, bytes calldata data)
        external
        view
        override
        returns (bytes4 magic)
    {
        if (sender == address(this) || data.length < 3 || uint8(data[0]) != SessionTypes.FORMAT_VERSION) {
            return ERC1271_INVALID;
        }
        (bytes calldata session, uint256 at) = _prefixed(data, 1);
        bytes32 sessionId = keccak256(session);
        uint256 record = _sessions[sessionId][msg.sender];
        if (uint8(record) != SessionTypes.STATE_ENABLED || uint32(record >> 8) != _accounts[msg.sender].epoch) {
            return ERC1271_INVALID;
        }
        // Granted, so the session's bytes passed {_checkSessionShape}.
        bytes calldata signature;
        (signature, at) = _prefixed(data, at);
        if (uint8(session[2]) & SessionTypes.SESSION_SIGN_ANY == 0) {
            if (at == data.length || !_typedDataAllowed(session, sessionId, sender, hash, data[at:])) {
                return ERC1271_INVALID;
            }
        }
        uint48 validAfter = uint48(bytes6(session[3:9]));
        uint48 validUntil = uint48(bytes6(session[9:15]));
        if (validAfter != 0 || validUntil != 0) {
            uint48 until = validUntil == 0 ? NO_END : validUntil;
            if (block.timestamp < validAfter || block.timestamp > until) return ERC1271_INVALID;
        }
        bytes32 digest = messageDigest(msg.sender, sessionId, hash);
        return _verifySigner(session, digest, signature) ? ERC1271_MAGIC : ERC1271_INVALID;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Hashes (the off-chain encoder reproduces these)
    // ---------------------------------------------------------------------------------------------------------

    /// @notice A session's id: `keccak256` of its packed bytes.
    function hashSession(bytes calldata session) external pure returns (bytes32) {
        return keccak256(session);
    }

    /// @notice The per-chain grant digest: binds chain id, this module, the account, the session and the epoch.
    function grantDigest(address account, bytes32 sessionId, uint32 epoch) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(GRANT_TYPEHASH, account, sessionId, epoch)));
    }

    /// @notice What the owner signs: the root of the per-chain grant digests, under a domain with no chain id so
    /// one signature serves every chain (each chain then proves its own leaf).
    function grantRootDigest(bytes32 root) public pure returns (bytes32) {
        bytes32 domain = keccak256(abi.encode(CHAINLESS_DOMAIN_TYPEHASH, keccak256("leash"), keccak256("1")));
        return MessageHashUtils.toTypedDataHash(domain, keccak256(abi.encode(GRANT_ROOT_TYPEHASH, root)));
    }

    /// @notice What the session key signs for a UserOperation: the op hash bound to the session, the stated time
    /// and the actions its calls are charged to, so nobody who relays the operation can charge another action.
    /// @param callsHash `keccak256(abi.encodePacked(actionHash...))` over the calls, in order (empty under sudo).
    function useDigest(bytes32 userOpHash, bytes32 sessionId, uint48 time, bytes32 callsHash)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(userOpHash, sessionId, time, callsHash));
    }

    /// @notice The nonce a counted signing scope's message must carry to use `slot` of `period` (docs/payments.md).
    /// @param sessionId The session signing.
    /// @param scope The index of the counted scope in the session.
    /// @param period The index of the period (PeriodLib) that contains the message's `validAfter`.
    /// @param slot Which of the period's `maxUses` uses.
    /// @return The nonce (EIP-3009's `bytes32 nonce`).
    function useNonce(bytes32 sessionId, uint8 scope, uint32 period, uint16 slot) public pure returns (bytes32) {
        return keccak256(abi.encode(sessionId, scope, period, slot));
    }

    /// @notice What the session key signs to approve `hash` for `account` through ERC-1271.
    function messageDigest(address account, bytes32 sessionId, bytes32 hash) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(MESSAGE_TYPEHASH, account, sessionId, hash)));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Status
    // ---------------------------------------------------------------------------------------------------------

    /// @notice The account's current epoch (grants must name it).
    function epochOf(address account) external view returns (uint32) {
        return _accounts[account].epoch;
    }

    /// @notice Whether the module is installed on `account` (grants and revocations of one session need it).
    function isInstalled(address account) external view returns (bool) {
        return _accounts[account].installed;
    }

    /// @notice A session's state for `account`: 0 none, 1 granted, 2 revoked. A grant from before the last
    /// "revoke all" reads as none.
    function sessionState(address account, bytes32 sessionId) public view returns (uint8) {
        SessionRecord memory record = sessionRecord(account, sessionId);
        if (record.state == SessionTypes.STATE_ENABLED && record.epoch != _accounts[account].epoch) {
            return SessionTypes.STATE_NONE;
        }
        return record.state;
    }

    /// @notice The raw counters of a session for `account`.
    function sessionRecord(address account, bytes32 sessionId) public view returns (SessionRecord memory) {
        return _unpackSession(_sessions[sessionId][account]);
    }

    /// @notice The raw counters of one action of a session for `account` (`enabled`: its membership was proven
    /// and its counters written at least once).
    function actionRecord(address account, bytes32 sessionId, bytes32 actionHash)
        public
        view
        returns (ActionRecord memory)
    {
        return _unpackAction(_actions[_actionKey(sessionId, actionHash)][account]);
    }

    /// @notice What the packed `action` has left in the period containing `time`.
    /// @return periodIndex The period containing `time` (reverts if `time` is outside every usable window).
    /// @return usesLeft Calls left (`type(uint256).max` when uncounted).
    /// @return amountLeft Amount left under `amountCap` (`type(uint256).max` without a cap).
    /// @return valueLeft Native value left under `valueCap` (`type(uint256).max` without a cap).
    function actionAllowance(address account, bytes32 sessionId, bytes calldata action, uint48 time)
        external
        view
        returns (uint32 periodIndex, uint256 usesLeft, uint256 amountLeft, uint256 valueLeft)
    {
        (periodIndex,,) = PeriodLib.resolve(CallPolicyLib.periodOf(action), time);
        ActionRecord memory record = actionRecord(account, sessionId, keccak256(action));
        bool samePeriod = record.period == periodIndex;
        uint8 flags = uint8(action[24]);
        uint256 maxUses = uint32(bytes4(action[41:45]));
        usesLeft = maxUses == 0 ? type(uint256).max : maxUses - (samePeriod ? record.uses : 0);
        amountLeft = flags & SessionTypes.ACTION_AMOUNT_CAP == 0
            ? type(uint256).max
            : uint96(bytes12(action[47:59])) - (samePeriod ? record.amountSpent : 0);
        valueLeft = flags & SessionTypes.ACTION_VALUE_CAP == 0
            ? type(uint256).max
            : uint96(bytes12(action[59:71])) - (samePeriod ? record.valueSpent : 0);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internals: grants
    // ---------------------------------------------------------------------------------------------------------

    function _grant(address account, bytes32 sessionId, bytes calldata session) private {
        AccountState memory state = _accounts[account];
        require(state.installed, NotInstalled(account));
        uint256 word = _sessions[sessionId][account];
        require(uint8(word) != SessionTypes.STATE_REVOKED, SessionIsRevoked(sessionId));
        uint32 epoch = state.epoch;
        if (uint8(word) == SessionTypes.STATE_ENABLED && uint32(word >> 8) == epoch) return;
        _checkSessionShape(sessionId, session);
        // State and epoch change; counters (gas spent, uses) carry over a re-grant.
        _sessions[sessionId][account] =
            (word & ~uint256(0xffffffffff)) | (uint256(epoch) << 8) | SessionTypes.STATE_ENABLED;
        emit SessionGranted(account, sessionId, epoch);
    }

    function _revokeAll(address account) private {
        uint32 epoch = _accounts[account].epoch + 1;
        _accounts[account].epoch = epoch;
        emit AllSessionsRevoked(account, epoch);
    }

    /// @dev The whole packed session, checked once when it is granted: format version, signer, window, fee bound,
    /// period and signing scopes, with nothing left over. Its id is the hash of these exact bytes, so every later
    /// use reads a session that passed here.
    function _checkSessionShape(bytes32 sessionId, bytes calldata s) private pure {
        require(s.length >= SIGNER_AT && uint8(s[0]) == SessionTypes.FORMAT_VERSION, InvalidSession(sessionId));
        uint8 kind = uint8(s[1]);
        uint256 signerLength = kind == SessionTypes.SIGNER_ECDSA ? 20 : 64;
        require(kind <= SessionTypes.SIGNER_WEBAUTHN && s.length >= SIGNER_AT + signerLength, InvalidSession(sessionId));
        require(
            kind != SessionTypes.SIGNER_ECDSA || bytes20(s[SIGNER_AT:SIGNER_AT + 20]) != 0, InvalidSession(sessionId)
        );
        uint48 validUntil = uint48(bytes6(s[9:15]));
        require(uint48(bytes6(s[3:9])) <= (validUntil == 0 ? NO_END : validUntil), InvalidSession(sessionId));
        // Without either, an agent that bundles its own operations could set any fee and be paid it.
        require(
            uint8(s[2]) & SessionTypes.SESSION_GAS_BUDGET != 0 || bytes20(s[35:55]) != 0, GasBudgetRequired(sessionId)
        );

        uint256 at = SIGNER_AT + signerLength;
        require(s.length >= at + 20 && uint8(s[at]) <= SessionTypes.PERIOD_WINDOWS, InvalidSession(sessionId));
        at += PeriodLib.size(s[at:]);
        require(s.length > at, InvalidSession(sessionId));
        uint256 scopes = uint8(s[at++]);
        for (uint256 k = 0; k < scopes; ++k) {
            at += _scopeLength(s, at);
        }
        require(at == s.length, InvalidSession(sessionId));
    }

    /// @dev The byte length of the packed typed-data scope at `at`: verifier, type hash, use count (with, when
    /// counted, the fields it reads and its period), nested structs, rules.
    function _scopeLength(bytes calldata s, uint256 at) private pure returns (uint256) {
        uint256 end = at + 54;
        require(s.length > end, CallPolicyLib.MalformedSignature());
        if (uint16(bytes2(s[at + 52:at + 54])) != 0) {
            uint256 period = end + 6;
            require(
                s.length >= period + 20 && uint8(s[period]) <= SessionTypes.PERIOD_WINDOWS,
                CallPolicyLib.MalformedSignature()
            );
            end = period + PeriodLib.size(s[period:]);
            // Overlapping windows would let a message choose the period it is counted in.
            require(s.length > end && PeriodLib.disjoint(s[period:end]), CallPolicyLib.MalformedSignature());
        }
        end += 1 + 36 * uint256(uint8(s[end]));
        require(s.length > end, CallPolicyLib.MalformedSignature());
        uint256 rules = uint8(s[end++]);
        require(rules <= SessionTypes.MAX_RULES, CallPolicyLib.TooManyRules(rules, SessionTypes.MAX_RULES));
        for (uint256 r = 0; r < rules; ++r) {
            end += CallPolicyLib.ruleAt(s, end).length;
        }
        return end - at;
    }

    /// @dev Mode 1: the owner's grant after the key's signature (epoch, Merkle proof of this chain's grant
    /// digest, owner signature); grants the session. Returns where the grant ends.
    function _lazyGrant(
        address account,
        bytes32 sessionId,
        bytes calldata session,
        bytes calldata signature,
        uint256 at
    ) private returns (uint256) {
        uint32 grantEpoch = uint32(_uint(signature, at, 4));
        bytes32[] calldata proof = _proof(signature, at + 5, _uint(signature, at + 4, 1));
        bytes calldata ownerSignature;
        (ownerSignature, at) = _prefixed(signature, at + 5 + 32 * proof.length);

        uint32 epoch = _accounts[account].epoch;
        require(grantEpoch == epoch, GrantVoidedByRevokeAll(sessionId, grantEpoch, epoch));
        bytes32 root = MerkleProof.processProofCalldata(proof, grantDigest(account, sessionId, epoch));
        // The owner and nothing else: the account's ERC-1271 would also accept other validators' signatures (a
        // session of another module could approve a sudo grant here). Accounts that cannot say what their owner
        // signed grant by a transaction (`grantSession`).
        (bool ok, bytes memory result) =
            account.staticcall(abi.encodeCall(ILeashAccount.isOwnerSignature, (grantRootDigest(root), ownerSignature)));
        require(ok && result.length == 32 && abi.decode(result, (bool)), InvalidGrantSignature(sessionId));
        _grant(account, sessionId, session);
        return at;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internals: charging
    // ---------------------------------------------------------------------------------------------------------

    /// @dev The actions the operation carries, each hashed once: count, then (length, action, proof count,
    /// proof) for each.
    function _carried(bytes calldata signature, uint256 at) private pure returns (Carried[] memory carried, uint256) {
        uint256 count = _uint(signature, at++, 1);
        require(count <= SessionTypes.MAX_BATCH, CallPolicyLib.MalformedSignature());
        carried = new Carried[](count);
        for (uint256 k = 0; k < count; ++k) {
            bytes calldata action;
            (action, at) = _prefixed(signature, at);
            uint256 proofCount = _uint(signature, at, 1);
            bytes calldata proof = _slice(signature, at + 1, 32 * proofCount);
            carried[k].offset = _offsetOf(action);
            carried[k].length = action.length;
            bytes32 actionHash = keccak256(action);
            // One record per action: two copies would each load, charge and write the same slot, and the last
            // write would undo the other's charge.
            for (uint256 j = 0; j < k; ++j) {
                require(carried[j].hash != actionHash, CallPolicyLib.MalformedSignature());
            }
            carried[k].hash = actionHash;
            carried[k].proofOffset = _offsetOf(proof);
            carried[k].proofCount = proofCount;
            at += 1 + proof.length;
        }
        return (carried, at);
    }

    function _liveSession(address account, bytes32 sessionId) private view returns (SessionRecord memory record) {
        record = _unpackSession(_sessions[sessionId][account]);
        require(record.state != SessionTypes.STATE_REVOKED, SessionIsRevoked(sessionId));
        require(record.state == SessionTypes.STATE_ENABLED, SessionNotGranted(sessionId));
        require(record.epoch == _accounts[account].epoch, SessionVoidedByRevokeAll(sessionId));
    }

    /// @dev Session-wide checks: live state, paymaster, gas budget, use count (one write to the session's slot).
    /// Returns the context for the calls, holding the session's window narrowed by its use period.
    function _chargeSession(
        address account,
        bytes32 sessionId,
        bytes calldata session,
        uint48 time,
        PackedUserOperation calldata userOp
    ) private returns (CallContext memory ctx) {
        SessionRecord memory record = _liveSession(account, sessionId);
        // Granted, so the session's bytes passed {_checkSessionShape}.
        uint256 head = _word(session, 0);
        uint8 flags = uint8(head >> 232);
        uint48 validUntil = uint48(head >> 136);
        ctx = CallContext(
            account,
            sessionId,
            bytes32(_word(session, 55)),
            flags & SessionTypes.SESSION_SUDO != 0,
            time,
            uint48(head >> 184),
            validUntil == 0 ? NO_END : validUntil,
            type(uint256).max
        );

        address paymaster = address(uint160(_word(session, 35) >> 96));
        if (paymaster != address(0)) {
            bytes calldata paymasterAndData = userOp.paymasterAndData;
            address used = paymasterAndData.length >= 20 ? address(bytes20(paymasterAndData[0:20])) : address(0);
            require(used == paymaster, PaymasterRequired(paymaster, used));
        }

        bool changed;
        if (flags & SessionTypes.SESSION_GAS_BUDGET != 0) {
            uint256 cost = _maxGasCost(userOp);
            uint256 budget = uint128(_word(session, 19) >> 128);
            uint256 spent = record.gasSpent;
            require(cost <= budget && spent <= budget - cost, GasBudgetExceeded(spent, cost, budget));
            record.gasSpent = uint128(spent + cost);
            changed = true;
        }

        uint32 maxUses = uint32(head >> 104);
        if (maxUses != 0) {
            uint256 periodAt = SIGNER_AT + (uint8(head >> 240) == SessionTypes.SIGNER_ECDSA ? 20 : 64);
            (uint32 period, uint48 start, uint48 last) = PeriodLib.resolve(session[periodAt:], time);
            require(period >= record.usesPeriod, PeriodInPast(record.usesPeriod, period));
            uint32 uses = period == record.usesPeriod ? record.uses : 0;
            require(uses < maxUses, SessionUseLimitExceeded(uses + 1, maxUses));
            record.usesPeriod = period;
            record.uses = uses + 1;
            (ctx.validAfter, ctx.validUntil) = _intersect(ctx.validAfter, ctx.validUntil, start, last);
            changed = true;
        }

        if (changed) _sessions[sessionId][account] = _packSession(record);
    }

    /// @dev Checks every call of the operation against its action, charges the actions' counters in memory and
    /// writes each action's slot once.
    /// @return callsHash The hash of the actions charged, in call order, which the session key signs.
    function _chargeCalls(
        CallContext memory ctx,
        Carried[] memory carried,
        bytes calldata callActions,
        bytes calldata callData
    ) private returns (bytes32 callsHash) {
        (bool isBatch, bytes calldata execution) = CallPolicyLib.decodeExecute(callData);
        uint256 callCount = 1;
        if (isBatch) {
            Execution[] calldata calls = CallPolicyLib.decodeBatch(execution);
            callCount = calls.length;
            bytes32[] memory charged = new bytes32[](ctx.sudo ? 0 : calls.length);
            for (uint256 i = 0; i < calls.length; ++i) {
                bytes32 actionHash =
                    _chargeCall(ctx, carried, callActions, i, calls[i].target, calls[i].value, calls[i].callData);
                if (!ctx.sudo) charged[i] = actionHash;
            }
            callsHash = keccak256(abi.encodePacked(charged));
        } else {
            (address target, uint256 value, bytes calldata data) = CallPolicyLib.decodeSingle(execution);
            bytes32 single = _chargeCall(ctx, carried, callActions, 0, target, value, data);
            callsHash = ctx.sudo ? keccak256("") : keccak256(abi.encode(single));
        }
        // Nothing the calls do not use may ride along: one action and one index per call (none under sudo), so
        // the signature has one encoding.
        require(
            callActions.length == (ctx.sudo ? 0 : callCount) && (!ctx.sudo || carried.length == 0),
            CallPolicyLib.MalformedSignature()
        );
        for (uint256 k = 0; k < carried.length; ++k) {
            Carried memory c = carried[k];
            require(c.loaded, CallPolicyLib.MalformedSignature());
            if (!c.counted) continue;
            uint256 word = _packAction(c.record);
            if (word != c.stored) _actions[_actionKey(ctx.sessionId, c.hash)][ctx.account] = word;
        }
    }

    function _chargeCall(
        CallContext memory ctx,
        Carried[] memory carried,
        bytes calldata callActions,
        uint256 i,
        address target,
        uint256 value,
        bytes calldata data
    ) private view returns (bytes32) {
        if (uint160(target) != ctx.vetted) {
            CallPolicyLib.checkTarget(i, target, ctx.account);
            ctx.vetted = uint160(target);
        }
        if (ctx.sudo) return bytes32(0);

        require(i < callActions.length && uint8(callActions[i]) < carried.length, MissingCallAction(i));
        Carried memory c = carried[uint8(callActions[i])];
        bytes calldata action = _at(c.offset, c.length);
        (bytes calldata amountPath, bytes calldata period) =
            CallPolicyLib.checkCall(argumentPaths, action, i, target, value, data);
        if (!c.loaded) _load(ctx, c, i, action, period);
        _charge(i, action, amountPath, value, data, c.record);
        return c.hash;
    }

    /// @dev Loads the action's record once per operation: an action without a record proves that it belongs to
    /// the session (Merkle proof to the session's actions root); moves it to the stated period and narrows the
    /// window to the period's usable part.
    function _load(CallContext memory ctx, Carried memory c, uint256 i, bytes calldata action, bytes calldata period)
        private
        view
    {
        c.loaded = true;
        c.stored = _actions[_actionKey(ctx.sessionId, c.hash)][ctx.account];
        ActionRecord memory record = _unpackAction(c.stored);
        if (!record.enabled) {
            bytes32[] calldata proof = _proofAt(c.proofOffset, c.proofCount);
            require(MerkleProof.processProofCalldata(proof, c.hash) == ctx.actionsRoot, ActionNotGranted(i, c.hash));
            record.enabled = true;
        }
        uint256 flags = _word(action, 24) >> 248;
        c.counted = uint32(_word(action, 41) >> 224) != 0
            || flags & (SessionTypes.ACTION_AMOUNT_CAP | SessionTypes.ACTION_VALUE_CAP) != 0;

        (uint32 index, uint48 start, uint48 last) = PeriodLib.resolve(period, ctx.time);
        require(index >= record.period, PeriodInPast(record.period, index));
        if (index != record.period) {
            record.period = index;
            record.uses = 0;
            record.amountSpent = 0;
            record.valueSpent = 0;
        }
        c.record = record;
        (ctx.validAfter, ctx.validUntil) = _intersect(ctx.validAfter, ctx.validUntil, start, last);
    }

    function _charge(
        uint256 i,
        bytes calldata action,
        bytes calldata amountPath,
        uint256 value,
        bytes calldata data,
        ActionRecord memory record
    ) private view {
        // The fixed fields were checked present by {CallPolicyLib-checkCall}.
        uint256 maxUses = _word(action, 41) >> 224;
        if (maxUses != 0) {
            uint256 uses = uint256(record.uses) + 1;
            require(uses <= maxUses && uses <= type(uint24).max, UseLimitExceeded(i, uses, maxUses));
            record.uses = uint24(uses);
        }
        uint256 flags = _word(action, 24) >> 248;
        if (flags & SessionTypes.ACTION_AMOUNT_CAP != 0) {
            uint256 amount = CallPolicyLib.amountOf(argumentPaths, i, action, amountPath, data);
            uint256 cap = _word(action, 47) >> 160;
            require(
                amount <= cap && record.amountSpent <= cap - amount,
                AmountLimitExceeded(i, amount + record.amountSpent, cap)
            );
            record.amountSpent += uint96(amount);
        }
        if (flags & SessionTypes.ACTION_VALUE_CAP != 0) {
            uint256 cap = _word(action, 59) >> 160;
            require(
                value <= cap && record.valueSpent <= cap - value, ValueLimitExceeded(i, value + record.valueSpent, cap)
            );
            record.valueSpent += uint96(value);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internals: signers and typed data
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Checks the key's signature against the granted session's signer (20-byte ECDSA address, or a 64-byte
    /// P-256 key for P-256 and WebAuthn).
    function _verifySigner(bytes calldata session, bytes32 digest, bytes calldata signature)
        private
        view
        returns (bool)
    {
        // Granted, so the signer's bytes are there ({_checkSessionShape}).
        uint8 kind = uint8(_word(session, 0) >> 240);
        if (kind == SessionTypes.SIGNER_ECDSA) {
            (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
            return err == ECDSA.RecoverError.NoError && recovered == address(uint160(_word(session, SIGNER_AT) >> 96));
        }
        bytes32 qx = bytes32(_word(session, SIGNER_AT));
        bytes32 qy = bytes32(_word(session, SIGNER_AT + 32));
        if (kind == SessionTypes.SIGNER_P256) {
            return
                signature.length == 64
                    && P256.verify(digest, bytes32(signature[0:32]), bytes32(signature[32:64]), qx, qy);
        }
        (bool decoded, WebAuthn.WebAuthnAuth calldata auth) = WebAuthn.tryDecodeAuth(signature);
        return decoded && WebAuthn.verify(abi.encodePacked(digest), auth, qx, qy);
    }

    /// @dev Whether the message is typed data of the scope `typed` names (scope index, the slot of a counted scope,
    /// domain separator, fields), asked by that scope's verifier or hashed under its domain, with every nested
    /// struct proven, every rule holding on the fields and, for a counted scope, its nonce and window those of a
    /// slot of the period.
    function _typedDataAllowed(
        bytes calldata session,
        bytes32 sessionId,
        address sender,
        bytes32 hash,
        bytes calldata typed
    ) private view returns (bool) {
        if (typed.length < 33) return false;
        (bool found, bytes calldata scope) = _scope(session, uint8(typed[0]));
        if (!found) return false;
        bool counted = uint16(bytes2(scope[52:54])) != 0;
        // A counted scope's signature carries its slot (uint16) after the scope index.
        uint256 from = counted ? 3 : 1;
        if (typed.length < from + 32) return false;
        bytes32 domainSeparator = bytes32(typed[from:from + 32]);
        address verifier = address(bytes20(scope[0:20]));
        // Besides the verifier, only an account without code may ask (an `eth_call` from a facilitator's key, an
        // ERC-6492 checker in its constructor), and only about a message under the verifier's own domain: no other
        // contract can act on the answer, even one that shares the domain.
        if (verifier != sender && (sender.code.length != 0 || !_isDomainOf(verifier, domainSeparator))) return false;
        bytes calldata fields = typed[from + 32:];

        // The primary type's fields come first, then each nested struct's, in the scope's order.
        uint256 at = counted ? 60 + PeriodLib.size(scope[60:]) : 54;
        uint256 nestedCount = uint8(scope[at++]);
        uint256 nestedLength;
        for (uint256 n = 0; n < nestedCount; ++n) {
            nestedLength += uint16(bytes2(scope[at + 36 * n + 34:at + 36 * n + 36]));
        }
        if (nestedLength > fields.length) return false;
        uint256 top = fields.length - nestedLength;
        if (top % 32 != 0) return false;
        bytes32 structHash = keccak256(abi.encodePacked(bytes32(scope[20:52]), fields[0:top]));
        if (MessageHashUtils.toTypedDataHash(domainSeparator, structHash) != hash) return false;

        uint256 start = top;
        for (uint256 n = 0; n < nestedCount; ++n) {
            bytes calldata nested = scope[at + 36 * n:at + 36 * (n + 1)];
            uint256 field = uint16(bytes2(nested[0:2]));
            uint256 length = uint16(bytes2(nested[34:36]));
            uint256 end = start + length;
            // The parent's word precedes the struct, so every nested hash chains up to the signed message.
            if (field + 32 > start || length % 32 != 0) return false;
            bytes32 nestedHash = keccak256(abi.encodePacked(bytes32(nested[2:34]), fields[start:end]));
            if (bytes32(fields[field:field + 32]) != nestedHash) return false;
            start = end;
        }

        at += 36 * nestedCount;
        uint256 rules = uint8(scope[at++]);
        for (uint256 r = 0; r < rules; ++r) {
            bytes calldata rule = CallPolicyLib.ruleAt(scope, at);
            // Typed data's fields are flat words: a path (which follows ABI offsets) has nothing to follow there.
            if (uint8(rule[0]) >= SessionTypes.RULE_PATH) return false;
            uint256 offset = uint16(bytes2(rule[1:3]));
            if (offset + 32 > fields.length) return false;
            if (!CallPolicyLib.ruleHolds(0, r, rule, bytes32(fields[offset:offset + 32]))) return false;
            at += rule.length;
        }
        return !counted || _countedUseAllowed(sessionId, scope, typed, fields);
    }

    /// @dev Whether `domainSeparator` is `verifier`'s own `DOMAIN_SEPARATOR()` (EIP-2612, EIP-3009 and Permit2
    /// expose it): an x402 facilitator checks a payment with an `eth_call` from its own address before the token
    /// asks.
    function _isDomainOf(address verifier, bytes32 domainSeparator) private view returns (bool matches) {
        assembly ("memory-safe") {
            mstore(0, 0x3644e515) // DOMAIN_SEPARATOR()
            let ok := staticcall(gas(), verifier, 28, 4, 0, 32)
            matches := and(and(ok, eq(returndatasize(), 32)), eq(mload(0), domainSeparator))
        }
    }

    /// @dev A counted scope's message: its slot is below `maxUses`, the period is the one that contains the first
    /// second it may take effect (`validAfter + 1`), its `validBefore` is at most one second past that period's
    /// usable window, and its nonce is `keccak256(abi.encode(sessionId, scopeIndex, period, slot))`. The verifier
    /// executes it only strictly between `validAfter` and `validBefore`, so inside that period, and only once per
    /// nonce, so at most `maxUses` messages of the scope take effect per period, however many the key signs.
    /// @dev Reverts (`OutsidePeriodWindow`) when `validAfter + 1` is in no usable window: a verifier's ERC-1271
    /// call then fails, which it takes as an invalid signature.
    function _countedUseAllowed(bytes32 sessionId, bytes calldata scope, bytes calldata typed, bytes calldata fields)
        private
        pure
        returns (bool)
    {
        uint256 slot = uint16(bytes2(typed[1:3]));
        uint256 nonceAt = uint16(bytes2(scope[54:56]));
        uint256 afterAt = uint16(bytes2(scope[56:58]));
        uint256 beforeAt = uint16(bytes2(scope[58:60]));
        if (slot >= uint16(bytes2(scope[52:54]))) return false;
        if (nonceAt + 32 > fields.length || afterAt + 32 > fields.length || beforeAt + 32 > fields.length) {
            return false;
        }
        uint256 validAfter = uint256(bytes32(fields[afterAt:afterAt + 32]));
        if (validAfter >= type(uint48).max) return false;
        (uint32 period,, uint48 last) = PeriodLib.resolve(scope[60:], uint48(validAfter + 1));
        if (uint256(bytes32(fields[beforeAt:beforeAt + 32])) > uint256(last) + 1) return false;
        return bytes32(fields[nonceAt:nonceAt + 32]) == useNonce(sessionId, uint8(typed[0]), period, uint16(slot));
    }

    /// @dev The granted session's typed-data scope number `index`, if it has one.
    function _scope(bytes calldata session, uint256 index) private pure returns (bool found, bytes calldata scope) {
        uint256 at = SIGNER_AT + (uint8(session[1]) == SessionTypes.SIGNER_ECDSA ? 20 : 64);
        at += PeriodLib.size(session[at:]);
        uint256 count = uint8(session[at++]);
        if (index >= count) return (false, session[0:0]);
        for (uint256 k = 0; k < index; ++k) {
            at += _scopeLength(session, at);
        }
        return (true, session[at:at + _scopeLength(session, at)]);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internals: packing and reading
    // ---------------------------------------------------------------------------------------------------------

    function _maxGasCost(PackedUserOperation calldata userOp) private pure returns (uint256) {
        uint256 gas =
            userOp.preVerificationGas + ERC4337Utils.verificationGasLimit(userOp) + ERC4337Utils.callGasLimit(userOp);
        if (userOp.paymasterAndData.length >= 52) {
            gas += ERC4337Utils.paymasterVerificationGasLimit(userOp) + ERC4337Utils.paymasterPostOpGasLimit(userOp);
        }
        return gas * ERC4337Utils.maxFeePerGas(userOp);
    }

    function _intersect(uint48 after1, uint48 until1, uint48 after2, uint48 until2)
        private
        pure
        returns (uint48, uint48)
    {
        return (after1 > after2 ? after1 : after2, until1 < until2 ? until1 : until2);
    }

    function _actionKey(bytes32 sessionId, bytes32 actionHash) private pure returns (bytes32 key) {
        assembly ("memory-safe") {
            mstore(0x00, sessionId)
            mstore(0x20, actionHash)
            key := keccak256(0x00, 0x40)
        }
    }

    /// @dev {SessionRecord} in one word, in the order Solidity would pack it (state in the lowest byte).
    function _packSession(SessionRecord memory r) private pure returns (uint256) {
        return uint256(r.state) | (uint256(r.epoch) << 8) | (uint256(r.usesPeriod) << 40) | (uint256(r.uses) << 72)
            | (uint256(r.gasSpent) << 104);
    }

    function _unpackSession(uint256 w) private pure returns (SessionRecord memory) {
        return SessionRecord(uint8(w), uint32(w >> 8), uint32(w >> 40), uint32(w >> 72), uint128(w >> 104));
    }

    /// @dev {ActionRecord} in one word, in the order Solidity would pack it (`enabled` in the lowest byte).
    function _packAction(ActionRecord memory r) private pure returns (uint256) {
        return (r.enabled ? 1 : 0) | (uint256(r.period) << 8) | (uint256(r.uses) << 40) | (uint256(r.amountSpent) << 64)
            | (uint256(r.valueSpent) << 160);
    }

    function _unpackAction(uint256 w) private pure returns (ActionRecord memory) {
        return ActionRecord(uint8(w) != 0, uint32(w >> 8), uint24(w >> 40), uint96(w >> 64), uint96(w >> 160));
    }

    /// @dev The unsigned integer of `size` bytes at `at` in `data`.
    function _uint(bytes calldata data, uint256 at, uint256 size) private pure returns (uint256 value) {
        require(data.length >= at + size, CallPolicyLib.MalformedSignature());
        assembly ("memory-safe") {
            value := shr(sub(256, mul(8, size)), calldataload(add(data.offset, at)))
        }
    }

    function _slice(bytes calldata data, uint256 at, uint256 length) private pure returns (bytes calldata field) {
        require(data.length >= at + length, CallPolicyLib.MalformedSignature());
        assembly ("memory-safe") {
            field.offset := add(data.offset, at)
            field.length := length
        }
    }

    /// @dev The word at byte `at` of `data`, unchecked: the caller has bounded `at`, or reads a granted session,
    /// whose bytes passed {_checkSessionShape}.
    function _word(bytes calldata data, uint256 at) private pure returns (uint256) {
        return CallPolicyLib.wordAt(data, at);
    }

    /// @dev The bytes at `at` prefixed by their 2-byte length, and where they end.
    function _prefixed(bytes calldata data, uint256 at) private pure returns (bytes calldata field, uint256 end) {
        field = _slice(data, at + 2, _uint(data, at, 2));
        end = at + 2 + field.length;
    }

    /// @dev `count` proof nodes at `at` in `data`, checked to lie inside it.
    function _proof(bytes calldata data, uint256 at, uint256 count) private pure returns (bytes32[] calldata) {
        return _proofAt(_offsetOf(_slice(data, at, 32 * count)), count);
    }

    function _offsetOf(bytes calldata data) private pure returns (uint256 offset) {
        assembly ("memory-safe") {
            offset := data.offset
        }
    }

    /// @dev Calldata bounds-checked by {_carried} when the offset was taken.
    function _proofAt(uint256 offset, uint256 count) private pure returns (bytes32[] calldata proof) {
        assembly ("memory-safe") {
            proof.offset := offset
            proof.length := count
        }
    }

    /// @dev Calldata bounds-checked by {_carried} when the offset was taken.
    function _at(uint256 offset, uint256 length) private pure returns (bytes calldata data) {
        assembly ("memory-safe") {
            data.offset := offset
            data.length := length
        }
    }
}
