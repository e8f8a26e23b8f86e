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

/// @notice A rule on one 32-byte word of a call's arguments.
struct ArgRule {
    /// One of the `OP_*` constants in {SessionTypes}.
    uint8 op;
    /// Byte offset of the word in the call's arguments (0 is the first word after the selector).
    uint16 offset;
    /// The operands: one for EQ..LTE, `[min, max]` for IN_RANGE, the allowed set for ONE_OF.
    bytes32[] values;
}

/// @notice One kind of call a session may make, with its limits.
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
    /// Byte offset (in the arguments) of the amount summed against `amountCap`.
    uint16 amountOffset;
    /// Sum of the amount argument allowed per period (with `ACTION_AMOUNT_CAP`).
    uint96 amountCap;
    /// Sum of native value allowed per period (with `ACTION_VALUE_CAP`).
    uint96 valueCap;
}

/// @notice A session: a signer and the envelope it may act in. Its id is the hash of these contents.
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
    /// With `SESSION_ERC1271`: the contracts that may verify the session's ERC-1271 signatures; empty for any.
    address[] signatureVerifiers;
    /// With `SESSION_ERC1271`: the EIP-712 type hashes (e.g. `Permit(...)`) the session may sign; empty for any.
    /// When set, each ERC-1271 signature carries its typed data, which must hash to the message it signs.
    bytes32[] signatureTypes;
    /// `keccak256(abi.encodePacked(actionHash...))` over the session's actions, in order.
    bytes32 actionsHash;
    /// Makes equal envelopes distinct sessions.
    bytes32 salt;
}

/// @notice What a session's UserOperation carries in its signature (after a one-byte mode).
struct SessionUse {
    Session session;
    /// The actions this operation's calls use (each must belong to the session).
    Action[] actions;
    /// For each call of the batch, the index of its action in `actions`.
    bytes callActions;
    /// The time the operation means to run at; it picks the periods that are charged.
    uint48 time;
    /// The session signer's signature over {SessionKeyValidator-useDigest}.
    bytes signature;
}

/// @notice The owner's approval of a session, carried by a lazy grant or checked by `grantSession`.
struct Grant {
    /// The hashes of all the session's actions, in order (they hash to `Session.actionsHash`).
    bytes32[] actionHashes;
    /// Merkle proof of this chain's grant digest under the root the owner signed (empty for one chain).
    bytes32[] proof;
    /// The owner's signature over the root, checked through the account's ERC-1271.
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

    /// Any target (never the account or the module).
    uint8 internal constant ACTION_ANY_TARGET = 1;
    /// Any function, and native transfers.
    uint8 internal constant ACTION_ANY_SELECTOR = 2;
    /// A call with empty calldata (a native transfer).
    uint8 internal constant ACTION_NATIVE_TRANSFER = 4;
    /// `amountCap` applies.
    uint8 internal constant ACTION_AMOUNT_CAP = 8;
    /// `valueCap` applies.
    uint8 internal constant ACTION_VALUE_CAP = 16;

    /// Full power over calls (still never the account, the module or delegatecall).
    uint8 internal constant SESSION_SUDO = 1;
    /// `gasBudget` applies.
    uint8 internal constant SESSION_GAS_BUDGET = 2;
    /// The session may sign ERC-1271 messages for the account.
    uint8 internal constant SESSION_ERC1271 = 4;

    uint8 internal constant STATE_NONE = 0;
    uint8 internal constant STATE_ENABLED = 1;
    uint8 internal constant STATE_REVOKED = 2;

    uint8 internal constant MODE_USE = 0;
    uint8 internal constant MODE_GRANT_AND_USE = 1;

    uint256 internal constant MAX_RULES = 32;
    uint256 internal constant MAX_BATCH = 32;
}
