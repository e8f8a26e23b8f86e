//! The small numbers of the on-chain encoding, as Rust types.

/// Which kind of key signs for a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SignerKind {
    /// secp256k1 ECDSA; the signer is a 20-byte address.
    Ecdsa = 0,
    /// secp256r1 (P-256) over the raw digest; the signer is the 64-byte public key.
    P256 = 1,
    /// A WebAuthn assertion whose challenge is the digest; the signer is the 64-byte P-256 public key.
    WebAuthn = 2,
}

impl SignerKind {
    /// The kind's name in keystores, JSON and policy words: `ecdsa`, `p256`, `webauthn`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ecdsa => "ecdsa",
            Self::P256 => "p256",
            Self::WebAuthn => "webauthn",
        }
    }
}

/// How a counter's period is cut out of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PeriodKind {
    /// Never resets.
    Lifetime = 0,
    /// Fixed-length periods from an anchor time.
    Fixed = 1,
    /// Calendar months, UTC.
    Monthly = 2,
    /// An explicit list of windows.
    Windows = 3,
}

/// The comparison an argument rule applies to one 32-byte word (unsigned).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RuleOp {
    /// Equal to the operand.
    Eq = 0,
    /// Not equal to the operand.
    Neq = 1,
    /// Greater than the operand.
    Gt = 2,
    /// Greater than or equal to the operand.
    Gte = 3,
    /// Less than the operand.
    Lt = 4,
    /// Less than or equal to the operand.
    Lte = 5,
    /// Between the two operands, both included.
    InRange = 6,
    /// Equal to one of the operands.
    OneOf = 7,
}

/// The version of the packed formats (docs/encoding.md): the first byte of a packed session, of a session
/// UserOperation's signature and of a session's ERC-1271 signature. The module refuses any other
/// (`UnsupportedFormat`).
pub const FORMAT_VERSION: u8 = 1;

/// The second byte of a session UserOperation's signature (after [`FORMAT_VERSION`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SignatureMode {
    /// The session is already granted: the time, the packed session, the actions the calls use with their
    /// proofs, the call indexes and the key's signature follow.
    Use = 0,
    /// Grant and use in one operation: as [`SignatureMode::Use`], then the owner's grant (epoch, proof of this
    /// chain's grant digest, owner signature).
    GrantAndUse = 1,
}

/// Bits of an action's `flags`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ActionFlags;

impl ActionFlags {
    /// Any target (never the account, `address(0)`, a module or an EntryPoint).
    pub const ANY_TARGET: u8 = 1;
    /// Any function, and native transfers.
    pub const ANY_SELECTOR: u8 = 2;
    /// A call with empty calldata.
    pub const NATIVE_TRANSFER: u8 = 4;
    /// `amountCap` applies.
    pub const AMOUNT_CAP: u8 = 8;
    /// `valueCap` applies.
    pub const VALUE_CAP: u8 = 16;
    /// The amount is reached by a path, packed after the rules.
    pub const AMOUNT_PATH: u8 = 32;
}

/// Set on a packed rule's operator byte: the rule's path follows its head.
pub const RULE_PATH: u8 = 0x80;

/// The kinds of an argument path's steps (docs/encoding.md, "Path").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StepKind;

impl StepKind {
    /// The word at an offset in the tuple at hand.
    pub const FIELD: u8 = 1;
    /// Follow the offset in the word at hand.
    pub const DEREF: u8 = 2;
    /// One element of the array at hand.
    pub const INDEX: u8 = 3;
    /// Every element of the array at hand.
    pub const EVERY: u8 = 4;
    /// The length of the array or bytes at hand.
    pub const LENGTH: u8 = 5;
    /// One item of packed bytes.
    pub const PACKED: u8 = 6;
    /// Every item of packed bytes.
    pub const PACKED_EVERY: u8 = 7;
}

/// Bits of a session's `flags`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionFlags;

impl SessionFlags {
    /// Full power over calls (never the account, a module, an EntryPoint or delegatecall).
    pub const SUDO: u8 = 1;
    /// `gasBudget` applies. A session must have a gas budget or a required paymaster.
    pub const GAS_BUDGET: u8 = 2;
    /// The session may sign any ERC-1271 message for the account, for any verifier: an explicit opt-in, like
    /// sudo. Without it a session signs only typed data matching one of its `signing` scopes.
    pub const SIGN_ANY: u8 = 4;
}
