// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

/// @notice How a counter's period is cut out of time. Periodic counters reset when the period changes.
/// @dev The validator never reads TIMESTAMP: a UserOperation states the time it means to run at, each period
/// is derived from that time, and the validator returns the intersection of the usable windows as
/// `validAfter`/`validUntil`, so the EntryPoint refuses the operation unless it really runs inside them.
struct Period {
    /// One of the `PERIOD_*` constants in {SessionTypes}.
    uint8 kind;
    /// `PERIOD_FIXED`: the start of period 1 (unix seconds).
    uint48 anchor;
    /// `PERIOD_FIXED`: the length of a period in seconds.
    uint32 length;
    /// Seconds after the start of each period before use opens (`PERIOD_FIXED` and `PERIOD_MONTHLY`).
    uint32 activeFrom;
    /// Seconds use stays open after `activeFrom`; 0 keeps it open to the end of the period.
    uint32 activeFor;
    /// `PERIOD_WINDOWS`: explicit windows as `[start0, end0, start1, end1, ...]`, each end exclusive.
    uint48[] windows;
}

/// @notice A rule on a value in a call's arguments: a 32-byte word of the head, or, with a path, a value the path
/// reaches by following ABI offsets (into structs, arrays and `bytes`), every element of an array, a length, or a
/// slice of packed bytes (docs/encoding.md).
struct ArgRule {
    /// One of the `OP_*` constants in {SessionTypes}.
    uint8 op;
    /// Byte offset of the word in the call's arguments (0 is the first word after the selector); where a path
    /// starts.
    uint16 offset;
    /// The operands: one for EQ..LTE, `[min, max]` for IN_RANGE, the allowed set for ONE_OF.
    bytes32[] values;
    /// Packed `STEP_*` steps taken from the word at `offset`; empty for the word itself. Call rules only.
    bytes path;
}

/// @notice A struct nested in signed typed data, whose hash is a field of its parent: the signature carries its
/// encoded fields after the parent's, so rules can read them (Permit2's `PermitSingle.details`, say).
struct NestedStruct {
    /// Byte offset, in the typed data's fields, of the word holding this struct's hash (it must precede the
    /// struct's own fields).
    uint16 field;
    /// The nested struct's EIP-712 type hash.
    bytes32 typeHash;
    /// Byte length of its encoded fields (32 per field).
    uint16 length;
}

/// @notice One kind of EIP-712 typed data a session may sign through the account's ERC-1271, with rules on its
/// fields (an EIP-2612 permit's `spender` and `value`, an EIP-3009 authorisation's `to`, `value`, `validBefore`).
struct TypedDataScope {
    /// The contract that asks the account (ERC-1271's sender, whose domain the message is hashed under).
    address verifier;
    /// The primary type's EIP-712 type hash.
    bytes32 typeHash;
    /// Structs nested in the primary type whose fields the rules read, in the order the signature carries them.
    NestedStruct[] nested;
    /// Rules every message must pass (AND); offsets index the encoded fields: the primary type's, then each
    /// nested struct's in order.
    ArgRule[] rules;
    /// Messages of this scope that can take effect per `period`; 0 leaves them uncounted. A counted message's
    /// nonce must be the one derived for (session, scope, period, slot) with the slot below `maxUses`, and its
    /// validity window must lie inside that period, so the verifier's own nonce registry (EIP-3009's
    /// `authorizationState`) lets at most `maxUses` of them take effect in any period (docs/payments.md).
    uint16 maxUses;
    /// Counted scopes: byte offsets, in the encoded fields, of the nonce (bytes32), and of the first and the
    /// excluded last second of validity (EIP-3009's `validAfter` and `validBefore`).
    uint16 nonceField;
    /// See `nonceField`.
    uint16 validAfterField;
    /// See `nonceField`.
    uint16 validBeforeField;
    /// Counted scopes: the period of `maxUses`.
    Period period;
}

/// @notice One kind of call a session may make, with its limits. It travels packed (docs/encoding.md); its hash is
/// the `keccak256` of the packed bytes.
struct Action {
    /// The contract called; ignored with `ACTION_ANY_TARGET`.
    address target;
    /// The function called; ignored with `ACTION_ANY_SELECTOR` and for native transfers.
    bytes4 selector;
    /// `ACTION_*` flags in {SessionTypes}.
    uint8 flags;
    /// Most native value one call may carry.
    uint128 maxValuePerCall;
    /// Rules every call must pass (AND), at most `MAX_RULES`.
    ArgRule[] rules;
    /// The period of `maxUses`, `amountCap` and `valueCap`; `PERIOD_LIFETIME` never resets.
    Period period;
    /// Calls allowed per period; 0 leaves calls uncounted.
    uint32 maxUses;
    /// Byte offset (in the arguments) of the amount summed against `amountCap`; where `amountPath` starts.
    uint16 amountOffset;
    /// Packed `STEP_*` steps from the word at `amountOffset` to the amount (no `STEP_EVERY` or
    /// `STEP_PACKED_EVERY`: one amount per call); empty for the word itself.
    bytes amountPath;
    /// Sum of the amount argument allowed per period (with `ACTION_AMOUNT_CAP`).
    uint96 amountCap;
    /// Sum of native value allowed per period (with `ACTION_VALUE_CAP`).
    uint96 valueCap;
}

/// @notice A session: a signer and the envelope it may act in. It travels packed (docs/encoding.md); its id is the
/// `keccak256` of the packed bytes.
struct Session {
    /// `SIGNER_*` in {SessionTypes}.
    uint8 signerKind;
    /// ECDSA: the 20-byte address; P-256 and WebAuthn: the 64-byte public key `x || y`.
    bytes signer;
    /// First second the session may act.
    uint48 validAfter;
    /// Last second the session may act; 0 means no end.
    uint48 validUntil;
    /// UserOperations allowed per `usesPeriod`; 0 leaves them uncounted.
    uint32 maxUses;
    /// The period of `maxUses`.
    Period usesPeriod;
    /// Most wei of gas (limits times maxFeePerGas, paymaster limits included) over the session's life.
    uint128 gasBudget;
    /// A paymaster every operation must use; the zero address requires none.
    address paymaster;
    /// `SESSION_*` flags in {SessionTypes}.
    uint8 flags;
    /// The typed data the session may sign for the account through ERC-1271 (none: it signs nothing, unless
    /// `SESSION_SIGN_ANY` opts in to signing anything).
    TypedDataScope[] signing;
    /// The root of the Merkle tree over the session's action hashes, in order (see docs/encoding.md); zero for a
    /// session without actions.
    bytes32 actionsRoot;
    /// Makes equal envelopes distinct sessions.
    bytes32 salt;
}

/// @notice What a session's UserOperation carries in its signature, before packing (the tests' view of it).
struct SessionUse {
    Session session;
    /// The actions this operation's calls use (each must belong to the session).
    Action[] actions;
    /// For each of `actions`, its Merkle proof under `session.actionsRoot` (needed until its record exists).
    bytes32[][] proofs;
    /// For each call of the batch, the index of its action in `actions`.
    bytes callActions;
    /// The time the operation means to run at; it picks the periods that are charged.
    uint48 time;
    /// The session signer's signature over {SessionKeyValidator-useDigest}, which binds the action each call
    /// is charged to.
    bytes signature;
}

/// @notice The owner's approval of a session, carried by a lazy grant (before packing).
struct Grant {
    /// Merkle proof of this chain's grant digest under the root the owner signed (empty for one chain).
    bytes32[] proof;
    /// The account's epoch the owner signed for (a grant from before a "revoke all" is void).
    uint32 epoch;
    /// The owner's signature over the root: checked against the leash account's owner, never through another
    /// module.
    bytes ownerSignature;
}

/// @notice On-chain state of a session for one account.
/// @dev 232 bits: one storage slot.
struct SessionRecord {
    uint8 state;
    uint32 epoch;
    uint32 usesPeriod;
    uint32 uses;
    uint128 gasSpent;
}

/// @notice On-chain state of one action of one session for one account.
/// @dev 256 bits: one storage slot, so checking and charging an action costs one cold access.
struct ActionRecord {
    bool enabled;
    uint32 period;
    uint24 uses;
    uint96 amountSpent;
    uint96 valueSpent;
}

/// @notice Constants shared by the module, its libraries and the off-chain encoder.
library SessionTypes {
    uint8 internal constant SIGNER_ECDSA = 0;
    uint8 internal constant SIGNER_P256 = 1;
    uint8 internal constant SIGNER_WEBAUTHN = 2;

    uint8 internal constant PERIOD_LIFETIME = 0;
    uint8 internal constant PERIOD_FIXED = 1;
    uint8 internal constant PERIOD_MONTHLY = 2;
    uint8 internal constant PERIOD_WINDOWS = 3;

    uint8 internal constant OP_EQ = 0;
    uint8 internal constant OP_NEQ = 1;
    uint8 internal constant OP_GT = 2;
    uint8 internal constant OP_GTE = 3;
    uint8 internal constant OP_LT = 4;
    uint8 internal constant OP_LTE = 5;
    uint8 internal constant OP_IN_RANGE = 6;
    uint8 internal constant OP_ONE_OF = 7;

    /// Any target (never the account, `address(0)`, a module or the EntryPoint).
    uint8 internal constant ACTION_ANY_TARGET = 1;
    /// Any function, and native transfers.
    uint8 internal constant ACTION_ANY_SELECTOR = 2;
    /// A call with empty calldata (a native transfer).
    uint8 internal constant ACTION_NATIVE_TRANSFER = 4;
    /// `amountCap` applies.
    uint8 internal constant ACTION_AMOUNT_CAP = 8;
    /// `valueCap` applies.
    uint8 internal constant ACTION_VALUE_CAP = 16;
    /// The amount is reached by a path (packed after the rules).
    uint8 internal constant ACTION_AMOUNT_PATH = 32;

    /// Set on a rule's op: a path follows the rule's head.
    uint8 internal constant RULE_PATH = 0x80;

    /// Path steps (docs/encoding.md). `FIELD offset`: the word at `offset` in the current tuple.
    uint8 internal constant STEP_FIELD = 1;
    /// `DEREF head`: follow the offset in the current word to the tuple, array or `bytes` it points at. The offset
    /// must be a multiple of 32, at least `head` (the byte size of the enclosing head) and inside the arguments.
    uint8 internal constant STEP_DEREF = 2;
    /// `INDEX index stride`: element `index` of the array at hand (negative: from the end); `stride` is an
    /// element's byte size, 0 for dynamic elements (reached through their offsets).
    uint8 internal constant STEP_INDEX = 3;
    /// `EVERY max stride`: the rest of the path, for every element; more than `max` elements fail.
    uint8 internal constant STEP_EVERY = 4;
    /// `LENGTH`: the length of the array or `bytes` at hand (last step).
    uint8 internal constant STEP_LENGTH = 5;
    /// `PACKED index at size stride first`: item `index` of packed `bytes` holding records of `stride` bytes, the
    /// item `size` bytes at `at` in its record; the bytes must be `first + n * stride` long (a Uniswap V3 path:
    /// tokens at 0 and fees at 20, size 20 and 3, stride 23, first 20). Last step.
    uint8 internal constant STEP_PACKED = 6;
    /// `PACKED_EVERY max at size stride first`: every item; more than `max` items fail. Last step.
    uint8 internal constant STEP_PACKED_EVERY = 7;

    /// Full power over calls (still never the account, a module, the EntryPoint or delegatecall).
    uint8 internal constant SESSION_SUDO = 1;
    /// `gasBudget` applies. A session must have a gas budget or a required paymaster.
    uint8 internal constant SESSION_GAS_BUDGET = 2;
    /// The session may sign any ERC-1271 message for the account, for any verifier: an explicit opt-in, like sudo.
    uint8 internal constant SESSION_SIGN_ANY = 4;

    uint8 internal constant STATE_NONE = 0;
    uint8 internal constant STATE_ENABLED = 1;
    uint8 internal constant STATE_REVOKED = 2;

    /// The version of the packed formats (first byte of a session, a UserOperation signature, an ERC-1271 one).
    uint8 internal constant FORMAT_VERSION = 1;
    uint8 internal constant MODE_USE = 0;
    uint8 internal constant MODE_GRANT_AND_USE = 1;

    uint256 internal constant MAX_RULES = 32;
    uint256 internal constant MAX_BATCH = 32;
}
