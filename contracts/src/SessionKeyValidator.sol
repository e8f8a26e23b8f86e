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
import {
    Action,
    ActionRecord,
    ArgRule,
    Grant,
    Period,
    Session,
    SessionRecord,
    SessionTypes,
    SessionUse,
    TypedDataScope
} from "./SessionTypes.sol";
import {ILeashAccount} from "./interfaces/ILeashAccount.sol";
import {PeriodLib} from "./libraries/PeriodLib.sol";
import {CallPolicyLib} from "./libraries/CallPolicyLib.sol";

/// @title SessionKeyValidator
/// @notice ERC-7579 validator that lets a session key act for an account inside an envelope the owner granted:
/// time window, allowed calls with argument rules, per-call and per-period limits, use counts, gas budget,
/// required paymaster and ERC-1271 signing. Installs on any ERC-7579 account.
///
/// @dev Layout of a session UserOperation: the nonce key starts with this module's address (the account routes
/// validation here); `callData` is `execute(mode, executionCalldata)` with a single or batch call; `signature`
/// is one mode byte followed by `abi.encode(SessionUse)` (mode 0) or `abi.encode(SessionUse, Grant)` (mode 1,
/// grant and use in one operation).
///
/// Cost does not grow with the size of a session: the session's contents travel in the signature and are
/// checked against one slot per session and one slot per action used, keyed by hashes (no lists are walked).
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
    using CallPolicyLib for Action;

    /// @notice EIP-712 type of the per-chain grant the owner approves (one leaf of the multichain root).
    bytes32 public constant GRANT_TYPEHASH = keccak256("SessionGrant(address account,bytes32 sessionId,uint32 epoch)");
    /// @notice EIP-712 type of the root the owner signs once for every chain.
    bytes32 public constant GRANT_ROOT_TYPEHASH = keccak256("SessionGrantRoot(bytes32 root)");
    /// @notice EIP-712 type the session key signs for an ERC-1271 message on behalf of the account.
    bytes32 public constant MESSAGE_TYPEHASH =
        keccak256("SessionMessage(address account,bytes32 sessionId,bytes32 hash)");

    bytes32 private constant CHAINLESS_DOMAIN_TYPEHASH = keccak256("EIP712Domain(string name,string version)");
    bytes4 private constant ERC1271_MAGIC = IERC1271.isValidSignature.selector;
    uint48 private constant NO_END = type(uint48).max;

    /// @dev Session state, keyed `sessionId => account`: the slot is keccak(account || keccak(id || slot)), which
    /// ERC-7562 treats as storage associated with the account.
    mapping(bytes32 sessionId => mapping(address account => SessionRecord)) private _sessions;

    /// @dev Action state, keyed `keccak256(sessionId, actionHash) => account` (associated with the account).
    mapping(bytes32 actionKey => mapping(address account => ActionRecord)) private _actions;

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
    /// @notice The session's contents are malformed (signer length, empty window, ...).
    error InvalidSession(bytes32 sessionId);
    /// @notice The action hashes of a grant do not hash to the session's `actionsHash`.
    error ActionsMismatch(bytes32 sessionId);
    /// @notice The owner's grant signature does not verify for this chain, account, module and epoch.
    error InvalidGrantSignature(bytes32 sessionId);
    /// @notice The signature's first byte is not a known mode.
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
    /// @notice A call names an action that is not part of the granted session.
    error ActionNotGranted(uint256 callIndex, bytes32 actionHash);
    /// @notice A call's action index points past the actions carried by the operation.
    error MissingCallAction(uint256 callIndex);
    /// @notice The call would push the action's use count past its limit for the period.
    error UseLimitExceeded(uint256 callIndex, uint256 uses, uint256 maxUses);
    /// @notice The call would push the summed amount argument past the action's cap for the period.
    error AmountLimitExceeded(uint256 callIndex, uint256 wouldSpend, uint256 cap);
    /// @notice The call would push the summed native value past the action's cap for the period.
    error ValueLimitExceeded(uint256 callIndex, uint256 wouldSpend, uint256 cap);
    /// @notice The signature's encoding is malformed (offsets past its end).
    error MalformedSignature();

    constructor() EIP712("leash", "1") {}

    // ---------------------------------------------------------------------------------------------------------
    // ERC-7579 module
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Marks the module installed for the calling account; sessions are granted one by one. Nothing can
    /// be granted before (grants need the module installed), so no grant written earlier goes live now.
    /// @dev Only a real installation counts: the account must already list this module as a validator (ERC-7579
    /// accounts register a module before calling its `onInstall`). Otherwise a session could call `onInstall`
    /// on a module instance the account has not installed yet, then plant grants in it. An account still being
    /// constructed (no code yet: the factory's proxy initialises it) cannot be asked, and no session can act
    /// from it.
    function onInstall(bytes calldata) external override {
        require(
            msg.sender.code.length == 0
                || IERC7579ModuleConfig(msg.sender).isModuleInstalled(MODULE_TYPE_VALIDATOR, address(this), ""),
            NotInstalled(msg.sender)
        );
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

    /// @notice Grants `session` for the calling account. The owner approves by having the account make this call.
    /// @param session The session's contents.
    /// @param actionHashes The hashes of all its actions, in order.
    /// @return sessionId The session's id.
    function grantSession(Session calldata session, bytes32[] calldata actionHashes)
        external
        returns (bytes32 sessionId)
    {
        sessionId = hashSession(session);
        _grant(msg.sender, sessionId, session, actionHashes);
    }

    /// @notice Revokes one session of the calling account, for good.
    function revokeSession(bytes32 sessionId) external {
        require(_accounts[msg.sender].installed, NotInstalled(msg.sender));
        _sessions[sessionId][msg.sender].state = SessionTypes.STATE_REVOKED;
        emit SessionRevoked(msg.sender, sessionId);
    }

    /// @notice Revokes every session of the calling account, and every grant signed but not yet used.
    function revokeAllSessions() external {
        _revokeAll(msg.sender);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Validation
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Validates a session's UserOperation: grant (mode 1), signer, session limits, every call's action.
    /// @return validationData Signature result and the window (`validAfter`, `validUntil`) the op must run in.
    function validateUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash)
        external
        override
        returns (uint256 validationData)
    {
        address account = msg.sender;
        require(userOp.sender == account, SenderMismatch(userOp.sender, account));
        (SessionUse calldata use, bytes32 sessionId) = _enter(account, userOp.signature);
        CallContext memory ctx = _chargeSession(account, sessionId, use, userOp);
        bytes32 callsHash = _chargeCalls(ctx, use, userOp.callData);
        bool signatureOk =
            _verifySigner(use.session, useDigest(userOpHash, sessionId, use.time, callsHash), use.signature);
        // A window whose last second is 0 would read as "no expiry" to the EntryPoint: refuse it as empty.
        require(
            ctx.validAfter <= ctx.validUntil && ctx.validUntil != 0, EmptyValidityWindow(ctx.validAfter, ctx.validUntil)
        );
        return
            ERC4337Utils.packValidationData(signatureOk, ctx.validAfter, ctx.validUntil == NO_END ? 0 : ctx.validUntil);
    }

    /// @notice ERC-1271 for a session: `data` is `abi.encode(Session, bytes signature, uint256 scope, bytes32
    /// domainSeparator, bytes fields)`, the signature being the session key's over {messageDigest}. The message
    /// must be typed data of `session.signing[scope]`: asked by its verifier, equal to
    /// `keccak256("\x19\x01" || domainSeparator || keccak256(typeHash || fields[0:top]))`, each nested struct's
    /// hash equal to its field, and every rule holding on the fields. A session with `SESSION_SIGN_ANY` (an
    /// explicit opt-in) may instead send `abi.encode(Session, bytes signature)` for any message and verifier.
    /// @dev Never valid when this module itself asks (`sender == this`), so a session can never approve a grant.
    /// Reads the time only for a session with a window, so paymasters may check permits of windowless sessions
    /// during validation (ERC-7562 bans TIMESTAMP there).
    /// @param sender The contract asking the account (the verifier).
    /// @param hash The message.
    /// @param data The session, its key's signature and, for typed data, the scope and the fields.
    /// @return magic `0x1626ba7e` when valid, `0xffffffff` otherwise.
    function isValidSignatureWithSender(address sender, bytes32 hash, bytes calldata data)
        external
        view
        override
        returns (bytes4 magic)
    {
        if (sender == address(this)) return bytes4(0xffffffff);
        (Session calldata session, bytes calldata signature) = _messageAt(data);
        bytes32 sessionId = hashSession(session);
        SessionRecord memory record = _sessions[sessionId][msg.sender];
        if (record.state != SessionTypes.STATE_ENABLED || record.epoch != _accounts[msg.sender].epoch) {
            return bytes4(0xffffffff);
        }
        if (session.flags & SessionTypes.SESSION_SIGN_ANY == 0 && !_typedDataAllowed(session, sender, hash, data)) {
            return bytes4(0xffffffff);
        }
        if (session.validAfter != 0 || session.validUntil != 0) {
            uint48 until = session.validUntil == 0 ? NO_END : session.validUntil;
            if (block.timestamp < session.validAfter || block.timestamp > until) return bytes4(0xffffffff);
        }
        bytes32 digest = messageDigest(msg.sender, sessionId, hash);
        return _verifySigner(session, digest, signature) ? ERC1271_MAGIC : bytes4(0xffffffff);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Hashes (the off-chain encoder reproduces these)
    // ---------------------------------------------------------------------------------------------------------

    /// @notice A session's id: the hash of its contents.
    function hashSession(Session calldata session) public pure returns (bytes32) {
        return keccak256(abi.encode(session));
    }

    /// @notice An action's hash, as listed in a grant.
    function hashAction(Action calldata action) public pure returns (bytes32) {
        return keccak256(abi.encode(action));
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
        SessionRecord memory record = _sessions[sessionId][account];
        if (record.state == SessionTypes.STATE_ENABLED && record.epoch != _accounts[account].epoch) {
            return SessionTypes.STATE_NONE;
        }
        return record.state;
    }

    /// @notice The raw counters of a session for `account`.
    function sessionRecord(address account, bytes32 sessionId) external view returns (SessionRecord memory) {
        return _sessions[sessionId][account];
    }

    /// @notice The raw counters of one action of a session for `account`.
    function actionRecord(address account, bytes32 sessionId, bytes32 actionHash)
        external
        view
        returns (ActionRecord memory)
    {
        return _actions[_actionKey(sessionId, actionHash)][account];
    }

    /// @notice What an action has left in the period containing `time`.
    /// @return periodIndex The period containing `time` (reverts if `time` is outside every usable window).
    /// @return usesLeft Calls left (`type(uint256).max` when uncounted).
    /// @return amountLeft Amount left under `amountCap` (`type(uint256).max` without a cap).
    /// @return valueLeft Native value left under `valueCap` (`type(uint256).max` without a cap).
    function actionAllowance(address account, bytes32 sessionId, Action calldata action, uint48 time)
        external
        view
        returns (uint32 periodIndex, uint256 usesLeft, uint256 amountLeft, uint256 valueLeft)
    {
        (periodIndex,,) = PeriodLib.resolve(action.period, time);
        ActionRecord memory record = _actions[_actionKey(sessionId, hashAction(action))][account];
        bool samePeriod = record.period == periodIndex;
        usesLeft = action.maxUses == 0 ? type(uint256).max : action.maxUses - (samePeriod ? record.uses : 0);
        amountLeft = action.flags & SessionTypes.ACTION_AMOUNT_CAP == 0
            ? type(uint256).max
            : action.amountCap - (samePeriod ? record.amountSpent : 0);
        valueLeft = action.flags & SessionTypes.ACTION_VALUE_CAP == 0
            ? type(uint256).max
            : action.valueCap - (samePeriod ? record.valueSpent : 0);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------------------

    function _grant(address account, bytes32 sessionId, Session calldata session, bytes32[] calldata actionHashes)
        private
    {
        AccountState memory state = _accounts[account];
        require(state.installed, NotInstalled(account));
        SessionRecord storage record = _sessions[sessionId][account];
        require(record.state != SessionTypes.STATE_REVOKED, SessionIsRevoked(sessionId));
        uint32 epoch = state.epoch;
        if (record.state == SessionTypes.STATE_ENABLED && record.epoch == epoch) return;
        _checkSessionShape(sessionId, session);
        require(keccak256(abi.encodePacked(actionHashes)) == session.actionsHash, ActionsMismatch(sessionId));

        record.state = SessionTypes.STATE_ENABLED;
        record.epoch = epoch;
        for (uint256 i = 0; i < actionHashes.length; ++i) {
            _actions[_actionKey(sessionId, actionHashes[i])][account].enabled = true;
        }
        emit SessionGranted(account, sessionId, epoch);
    }

    function _revokeAll(address account) private {
        uint32 epoch = _accounts[account].epoch + 1;
        _accounts[account].epoch = epoch;
        emit AllSessionsRevoked(account, epoch);
    }

    function _checkSessionShape(bytes32 sessionId, Session calldata session) private pure {
        uint256 signerLength = session.signer.length;
        uint8 kind = session.signerKind;
        bool signerOk = kind == SessionTypes.SIGNER_ECDSA
            ? signerLength == 20 && bytes20(session.signer) != bytes20(0)
            : (kind == SessionTypes.SIGNER_P256 || kind == SessionTypes.SIGNER_WEBAUTHN) && signerLength == 64;
        uint48 until = session.validUntil == 0 ? NO_END : session.validUntil;
        require(signerOk && session.validAfter <= until, InvalidSession(sessionId));
        // Without either, an agent that bundles its own operations could set any fee and be paid it.
        require(
            session.flags & SessionTypes.SESSION_GAS_BUDGET != 0 || session.paymaster != address(0),
            GasBudgetRequired(sessionId)
        );
    }

    function _checkOwnerGrant(address account, bytes32 sessionId, Grant calldata grant) private view {
        uint32 epoch = _accounts[account].epoch;
        require(grant.epoch == epoch, GrantVoidedByRevokeAll(sessionId, grant.epoch, epoch));
        bytes32 leaf = grantDigest(account, sessionId, epoch);
        bytes32 root = MerkleProof.processProofCalldata(grant.proof, leaf);
        bytes32 digest = grantRootDigest(root);
        // The owner and nothing else: the account's ERC-1271 would also accept other validators' signatures (a
        // session of another module could approve a sudo grant here). Accounts that cannot say what their owner
        // signed grant by a transaction (`grantSession`).
        (bool ok, bytes memory result) =
            account.staticcall(abi.encodeCall(ILeashAccount.isOwnerSignature, (digest, grant.ownerSignature)));
        require(ok && result.length == 32 && abi.decode(result, (bool)), InvalidGrantSignature(sessionId));
    }

    /// @dev Decodes the session use, grants the session first in mode 1, and requires it to be live.
    function _enter(address account, bytes calldata signature)
        private
        returns (SessionUse calldata use, bytes32 sessionId)
    {
        require(signature.length > 0, MalformedSignature());
        uint8 mode = uint8(signature[0]);
        use = _useAt(signature);
        sessionId = hashSession(use.session);
        if (mode == SessionTypes.MODE_GRANT_AND_USE) {
            Grant calldata grant = _grantAt(signature);
            _checkOwnerGrant(account, sessionId, grant);
            _grant(account, sessionId, use.session, grant.actionHashes);
        } else {
            require(mode == SessionTypes.MODE_USE, UnknownSignatureMode(mode));
        }
    }

    function _liveSession(address account, bytes32 sessionId) private view returns (SessionRecord memory record) {
        record = _sessions[sessionId][account];
        require(record.state != SessionTypes.STATE_REVOKED, SessionIsRevoked(sessionId));
        require(record.state == SessionTypes.STATE_ENABLED, SessionNotGranted(sessionId));
        require(record.epoch == _accounts[account].epoch, SessionVoidedByRevokeAll(sessionId));
    }

    /// @dev Session-wide checks: live state, paymaster, gas budget, use count. Returns the context for the calls,
    /// holding the session's window narrowed by its use period.
    function _chargeSession(
        address account,
        bytes32 sessionId,
        SessionUse calldata use,
        PackedUserOperation calldata userOp
    ) private returns (CallContext memory ctx) {
        Session calldata session = use.session;
        SessionRecord memory record = _liveSession(account, sessionId);
        ctx = CallContext(
            account,
            sessionId,
            session.flags & SessionTypes.SESSION_SUDO != 0,
            session.validAfter,
            session.validUntil == 0 ? NO_END : session.validUntil,
            type(uint256).max
        );

        if (session.paymaster != address(0)) {
            bytes calldata paymasterAndData = userOp.paymasterAndData;
            address used = paymasterAndData.length >= 20 ? address(bytes20(paymasterAndData[0:20])) : address(0);
            require(used == session.paymaster, PaymasterRequired(session.paymaster, used));
        }

        bool changed;
        if (session.flags & SessionTypes.SESSION_GAS_BUDGET != 0) {
            uint256 cost = _maxGasCost(userOp);
            uint256 budget = session.gasBudget;
            uint256 spent = record.gasSpent;
            require(cost <= budget && spent <= budget - cost, GasBudgetExceeded(spent, cost, budget));
            record.gasSpent = uint128(spent + cost);
            changed = true;
        }

        if (session.maxUses != 0) {
            (uint32 period, uint48 start, uint48 last) = PeriodLib.resolve(session.usesPeriod, use.time);
            require(period >= record.usesPeriod, PeriodInPast(record.usesPeriod, period));
            uint32 uses = period == record.usesPeriod ? record.uses : 0;
            require(uses < session.maxUses, SessionUseLimitExceeded(uses + 1, session.maxUses));
            record.usesPeriod = period;
            record.uses = uses + 1;
            (ctx.validAfter, ctx.validUntil) = _intersect(ctx.validAfter, ctx.validUntil, start, last);
            changed = true;
        }

        if (changed) _sessions[sessionId][account] = record;
    }

    /// @dev Where a call is checked: the account, the session, the window narrowed so far, and the last target
    /// found not to be one of the account's modules (a batch to one contract asks the account once).
    struct CallContext {
        address account;
        bytes32 sessionId;
        bool sudo;
        uint48 validAfter;
        uint48 validUntil;
        /// The last target found allowed, as a number: it starts above every address, so the first call (to
        /// `address(0)` included) is always checked.
        uint256 vetted;
    }

    /// @dev Checks every call of the operation against its action and charges the action's counters.
    /// @return callsHash The hash of the actions charged, in call order, which the session key signs.
    function _chargeCalls(CallContext memory ctx, SessionUse calldata use, bytes calldata callData)
        private
        returns (bytes32 callsHash)
    {
        (bool isBatch, bytes calldata execution) = CallPolicyLib.decodeExecute(callData);
        if (isBatch) {
            Execution[] calldata calls = CallPolicyLib.decodeBatch(execution);
            bytes32[] memory charged = new bytes32[](ctx.sudo ? 0 : calls.length);
            for (uint256 i = 0; i < calls.length; ++i) {
                bytes32 actionHash = _chargeCall(ctx, use, i, calls[i].target, calls[i].value, calls[i].callData);
                if (!ctx.sudo) charged[i] = actionHash;
            }
            return keccak256(abi.encodePacked(charged));
        }
        (address target, uint256 value, bytes calldata data) = CallPolicyLib.decodeSingle(execution);
        bytes32 single = _chargeCall(ctx, use, 0, target, value, data);
        return ctx.sudo ? keccak256("") : keccak256(abi.encode(single));
    }

    function _chargeCall(
        CallContext memory ctx,
        SessionUse calldata use,
        uint256 i,
        address target,
        uint256 value,
        bytes calldata data
    ) private returns (bytes32 actionHash) {
        if (uint160(target) != ctx.vetted) {
            CallPolicyLib.checkTarget(i, target, ctx.account);
            ctx.vetted = uint160(target);
        }
        if (ctx.sudo) return bytes32(0);

        require(i < use.callActions.length && uint8(use.callActions[i]) < use.actions.length, MissingCallAction(i));
        Action calldata action = use.actions[uint8(use.callActions[i])];
        action.checkCall(i, target, value, data);

        return _chargeAction(ctx, i, action, value, data, use.time);
    }

    /// @dev Loads the action's slot (which proves it belongs to the session), moves it to the stated period,
    /// charges the call and narrows the window to the period's usable part.
    function _chargeAction(
        CallContext memory ctx,
        uint256 i,
        Action calldata action,
        uint256 value,
        bytes calldata data,
        uint48 time
    ) private returns (bytes32 actionHash) {
        actionHash = hashAction(action);
        ActionRecord storage slot = _actions[_actionKey(ctx.sessionId, actionHash)][ctx.account];
        ActionRecord memory record = slot;
        require(record.enabled, ActionNotGranted(i, actionHash));

        (uint32 period, uint48 start, uint48 last) = PeriodLib.resolve(action.period, time);
        require(period >= record.period, PeriodInPast(record.period, period));
        if (period != record.period) {
            record.period = period;
            record.uses = 0;
            record.amountSpent = 0;
            record.valueSpent = 0;
        }
        _charge(i, action, value, data, record);
        _write(slot, record);
        (ctx.validAfter, ctx.validUntil) = _intersect(ctx.validAfter, ctx.validUntil, start, last);
    }

    function _write(ActionRecord storage slot, ActionRecord memory record) private {
        slot.enabled = record.enabled;
        slot.period = record.period;
        slot.uses = record.uses;
        slot.amountSpent = record.amountSpent;
        slot.valueSpent = record.valueSpent;
    }

    function _charge(uint256 i, Action calldata action, uint256 value, bytes calldata data, ActionRecord memory record)
        private
        pure
    {
        if (action.maxUses != 0) {
            uint256 uses = uint256(record.uses) + 1;
            require(uses <= action.maxUses && uses <= type(uint24).max, UseLimitExceeded(i, uses, action.maxUses));
            record.uses = uint24(uses);
        }
        if (action.flags & SessionTypes.ACTION_AMOUNT_CAP != 0) {
            uint256 amount = CallPolicyLib.argumentWord(i, data, action.amountOffset);
            uint256 cap = action.amountCap;
            require(
                amount <= cap && record.amountSpent <= cap - amount,
                AmountLimitExceeded(i, amount + record.amountSpent, cap)
            );
            record.amountSpent += uint96(amount);
        }
        if (action.flags & SessionTypes.ACTION_VALUE_CAP != 0) {
            uint256 cap = action.valueCap;
            require(
                value <= cap && record.valueSpent <= cap - value, ValueLimitExceeded(i, value + record.valueSpent, cap)
            );
            record.valueSpent += uint96(value);
        }
    }

    function _verifySigner(Session calldata session, bytes32 digest, bytes calldata signature)
        private
        view
        returns (bool)
    {
        uint8 kind = session.signerKind;
        if (kind == SessionTypes.SIGNER_ECDSA) {
            (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
            return err == ECDSA.RecoverError.NoError && recovered == address(bytes20(session.signer));
        }
        if (session.signer.length != 64) return false;
        bytes32 qx = bytes32(session.signer[0:32]);
        bytes32 qy = bytes32(session.signer[32:64]);
        if (kind == SessionTypes.SIGNER_P256) {
            return
                signature.length == 64
                    && P256.verify(digest, bytes32(signature[0:32]), bytes32(signature[32:64]), qx, qy);
        }
        if (kind == SessionTypes.SIGNER_WEBAUTHN) {
            (bool decoded, WebAuthn.WebAuthnAuth calldata auth) = WebAuthn.tryDecodeAuth(signature);
            return decoded && WebAuthn.verify(abi.encodePacked(digest), auth, qx, qy);
        }
        return false;
    }

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

    /// @dev The `SessionUse` encoded after the mode byte. Solidity bounds-checks every field read against the
    /// calldata, so a malformed encoding reverts instead of reading garbage.
    function _useAt(bytes calldata signature) private pure returns (SessionUse calldata use) {
        bytes calldata body = signature[1:];
        require(body.length >= 32 && uint256(bytes32(body[0:32])) < body.length, MalformedSignature());
        assembly ("memory-safe") {
            use := add(body.offset, calldataload(body.offset))
        }
    }

    function _grantAt(bytes calldata signature) private pure returns (Grant calldata grant) {
        bytes calldata body = signature[1:];
        require(body.length >= 64 && uint256(bytes32(body[32:64])) < body.length, MalformedSignature());
        assembly ("memory-safe") {
            grant := add(body.offset, calldataload(add(body.offset, 0x20)))
        }
    }

    function _messageAt(bytes calldata data) private pure returns (Session calldata session, bytes calldata signature) {
        require(data.length >= 64, MalformedSignature());
        uint256 sessionAt = uint256(bytes32(data[0:32]));
        require(sessionAt < data.length, MalformedSignature());
        signature = _bytesAt(data, 1);
        assembly ("memory-safe") {
            session := add(data.offset, sessionAt)
        }
    }

    /// @dev The `bytes` field whose head is word `head` of `data`, checked to lie inside `data`.
    function _bytesAt(bytes calldata data, uint256 head) private pure returns (bytes calldata field) {
        require(data.length >= 32 * (head + 1), MalformedSignature());
        uint256 at = uint256(bytes32(data[32 * head:32 * (head + 1)]));
        require(at <= data.length - 32, MalformedSignature());
        uint256 length = uint256(bytes32(data[at:at + 32]));
        require(length <= data.length - at - 32, MalformedSignature());
        return data[at + 32:at + 32 + length];
    }

    /// @dev Whether the message is typed data of the scope the signature names, asked by that scope's verifier,
    /// with every nested struct proven and every rule holding on the fields.
    function _typedDataAllowed(Session calldata session, address sender, bytes32 hash, bytes calldata data)
        private
        pure
        returns (bool)
    {
        if (data.length < 160) return false;
        uint256 index = uint256(bytes32(data[64:96]));
        if (index >= session.signing.length) return false;
        TypedDataScope calldata scope = session.signing[index];
        if (scope.verifier != sender) return false;
        bytes32 domainSeparator = bytes32(data[96:128]);
        bytes calldata fields = _bytesAt(data, 4);

        // The primary type's fields come first, then each nested struct's, in the scope's order.
        uint256 nestedLength;
        for (uint256 n = 0; n < scope.nested.length; ++n) {
            nestedLength += scope.nested[n].length;
        }
        if (nestedLength > fields.length) return false;
        uint256 top = fields.length - nestedLength;
        if (top % 32 != 0) return false;
        bytes32 structHash = keccak256(abi.encodePacked(scope.typeHash, fields[0:top]));
        if (MessageHashUtils.toTypedDataHash(domainSeparator, structHash) != hash) return false;

        uint256 start = top;
        for (uint256 n = 0; n < scope.nested.length; ++n) {
            uint256 field = scope.nested[n].field;
            uint256 end = start + scope.nested[n].length;
            // The parent's word precedes the struct, so every nested hash chains up to the signed message.
            if (field + 32 > start || scope.nested[n].length % 32 != 0) return false;
            bytes32 nestedHash = keccak256(abi.encodePacked(scope.nested[n].typeHash, fields[start:end]));
            if (bytes32(fields[field:field + 32]) != nestedHash) return false;
            start = end;
        }

        ArgRule[] calldata rules = scope.rules;
        if (rules.length > SessionTypes.MAX_RULES) return false;
        for (uint256 r = 0; r < rules.length; ++r) {
            uint256 offset = rules[r].offset;
            if (offset + 32 > fields.length) return false;
            if (!CallPolicyLib.ruleHolds(0, r, rules[r], bytes32(fields[offset:offset + 32]))) return false;
        }
        return true;
    }
}
