//! The policy model: one type tree for a session's envelope, shared by the policy file, the builder, the
//! on-chain encoding and the pre-flight evaluator.

use crate::time::Timestamp;
use alloy::primitives::{aliases::U96, Address, Bytes, FixedBytes, B256, U256};
use leash_contracts::{RuleOp, SignerKind};
use std::fmt;

/// A 4-byte function selector.
pub type Selector = FixedBytes<4>;

/// What a session may do for an account, everything but its key: time window, session-wide limits and the
/// allowed actions. Policies compose with AND.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A name for people (not part of the on-chain encoding).
    pub name: Option<String>,
    /// First second the session may act.
    pub valid_after: Timestamp,
    /// Last second the session may act; `None` for no end.
    pub valid_until: Option<Timestamp>,
    /// UserOperations allowed per period, over all actions.
    pub max_ops: Option<UseLimit>,
    /// Most wei of gas the session may commit over its life (limits times `maxFeePerGas`). The module refuses
    /// a session with neither a gas budget nor a required paymaster, so a policy that states neither gets
    /// [`DEFAULT_GAS_BUDGET`]: see [`SessionPolicy::effective_gas_budget`].
    pub gas_budget: Option<u128>,
    /// A paymaster every operation must use.
    pub paymaster: Option<Address>,
    /// Full power over calls. Never a default; calls to the account, `address(0)`, a module, an EntryPoint
    /// and delegatecall stay refused.
    pub sudo: bool,
    /// What the session may sign for the account through ERC-1271; the default signs nothing.
    pub signing: SigningPolicy,
    /// The calls the session may make.
    pub actions: Vec<Action>,
    /// Makes equal envelopes distinct sessions.
    pub salt: B256,
}

/// A number of uses allowed per period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UseLimit {
    /// Uses allowed per period (at least 1).
    pub count: u32,
    /// The period the count resets with.
    pub period: Period,
}

/// The gas budget of a policy that states neither a gas budget nor a paymaster: 0.1 ETH (in wei) over the
/// session's life. The module refuses such a session (`GasBudgetRequired`), since an agent that bundles its
/// own operations could otherwise set any fee and be paid it; leash states this default instead, and shows it
/// as "(default)".
pub const DEFAULT_GAS_BUDGET: u128 = 100_000_000_000_000_000;

/// The ERC-1271 signing a session may do for the account: nothing by default, typed data of the listed
/// scopes, or (explicit opt-in, like sudo) anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SigningPolicy {
    /// Unrestricted signing (`SESSION_SIGN_ANY`): any message, for any verifier. Never a default.
    pub any: bool,
    /// The EIP-712 typed data the session may sign, each with its verifier and rules on its fields.
    pub typed_data: Vec<TypedDataScope>,
}

impl SigningPolicy {
    /// Whether the session may sign anything at all.
    pub fn is_empty(&self) -> bool {
        !self.any && self.typed_data.is_empty()
    }
}

/// One kind of EIP-712 typed data a session may sign (an EIP-2612 permit, an EIP-3009 authorisation, a Permit2
/// permit), asked by one verifier, with rules on its fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypedDataScope {
    /// A name for people (not part of the on-chain encoding).
    pub name: Option<String>,
    /// The contract that asks the account (ERC-1271's sender, whose domain the message is hashed under).
    pub verifier: Address,
    /// The primary type's EIP-712 type hash.
    pub type_hash: B256,
    /// Structs nested in the primary type whose fields the rules read, in the order a signature carries them.
    pub nested: Vec<NestedStruct>,
    /// Rules every message must pass (AND); offsets index the encoded fields: the primary type's, then each
    /// nested struct's in order.
    pub rules: Vec<ArgRule>,
    /// The full EIP-712 `encodeType` string, when known (not part of the on-chain encoding): lets
    /// explanations name fields and lets the SDK encode messages of this type.
    pub encode_type: Option<String>,
    /// How many messages of this scope may take effect per period (payments per day, say); `None` leaves them
    /// uncounted.
    pub max_uses: Option<SigningUseLimit>,
}

/// A counted signing scope (docs/payments.md): at most `count` of its messages take effect per period, however
/// many the key signs. Each message must carry the nonce derived for (session, scope, period, slot) with the slot
/// below `count`, and a validity window inside the period, so the verifier's own nonce registry (EIP-3009's
/// `authorizationState`) does the counting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningUseLimit {
    /// Messages that may take effect per period (at least 1).
    pub count: u16,
    /// The period the count resets with.
    pub period: Period,
    /// Byte offset, in the encoded fields, of the message's nonce (`bytes32`).
    pub nonce: u16,
    /// Byte offset of the first second the message is valid after (EIP-3009's `validAfter`, exclusive).
    pub valid_after: u16,
    /// Byte offset of the second before which it is valid (EIP-3009's `validBefore`, exclusive).
    pub valid_before: u16,
}

/// A struct nested in signed typed data, whose hash is a field of its parent (Permit2's
/// `PermitSingle.details`): a signature carries its encoded fields after the parent's so rules can read them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NestedStruct {
    /// Byte offset, in the encoded fields, of the word holding this struct's hash (it precedes the struct).
    pub field: u16,
    /// The nested struct's EIP-712 type hash.
    pub type_hash: B256,
    /// Byte length of its encoded fields (32 per field).
    pub length: u16,
}

/// One kind of call a session may make, with its limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    /// A name for people, e.g. "pay the merchant" (not part of the on-chain encoding).
    pub name: Option<String>,
    /// The contract called.
    pub target: Target,
    /// The function called.
    pub call: CallScope,
    /// The ABI of the function, when known: lets explanations name arguments.
    pub function: Option<alloy::json_abi::Function>,
    /// Most native value one call may carry (wei).
    pub max_value_per_call: u128,
    /// Rules on the call's arguments (AND).
    pub rules: Vec<ArgRule>,
    /// The period of `max_uses`, `amount_cap` and `value_cap`.
    pub period: Period,
    /// Calls allowed per period.
    pub max_uses: Option<u32>,
    /// A cap on the sum of one argument (a token amount) per period.
    pub amount_cap: Option<AmountCap>,
    /// A cap on the sum of native value per period (wei).
    pub value_cap: Option<U96>,
}

/// The contract an action may call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// Any contract (never the account, `address(0)`, a module or an EntryPoint).
    Any,
    /// This contract only.
    Contract(Address),
}

/// The function an action may call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallScope {
    /// Any function, and native transfers.
    Any,
    /// Only this function.
    Function(Selector),
    /// Only a plain native transfer (empty calldata).
    NativeTransfer,
    /// This function or a plain native transfer.
    FunctionOrNativeTransfer(Selector),
}

/// A cap on the sum of one argument per period: a 32-byte word of the head, or one a path reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AmountCap {
    /// Byte offset of the amount in the call's arguments (after the selector), or where its path starts.
    pub offset: u16,
    /// The steps from that word to the amount (none: the word itself); never every element.
    pub path: Vec<crate::Step>,
    /// Most the amounts may sum to per period.
    pub cap: U96,
}

/// A rule on a value in a call's arguments, compared as an unsigned number: the 32-byte word at `offset`, or each
/// value its path reaches from there (a struct's field, an array's element or every element, a length, an item of
/// a Uniswap V3 path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgRule {
    /// Byte offset of the word in the call's arguments (0 is the first word after the selector); where the path
    /// starts.
    pub offset: u16,
    /// The steps from that word (none: the word itself). Rules on typed data have none.
    pub path: Vec<crate::Step>,
    /// The comparison.
    pub condition: Condition,
}

/// The comparison of an argument rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Equal to.
    Eq(U256),
    /// Not equal to.
    Neq(U256),
    /// Greater than.
    Gt(U256),
    /// Greater than or equal to.
    Gte(U256),
    /// Less than.
    Lt(U256),
    /// Less than or equal to.
    Lte(U256),
    /// Between both bounds, included.
    InRange(U256, U256),
    /// One of these values.
    OneOf(Vec<U256>),
}

impl Condition {
    /// The on-chain operator.
    pub fn op(&self) -> RuleOp {
        match self {
            Self::Eq(_) => RuleOp::Eq,
            Self::Neq(_) => RuleOp::Neq,
            Self::Gt(_) => RuleOp::Gt,
            Self::Gte(_) => RuleOp::Gte,
            Self::Lt(_) => RuleOp::Lt,
            Self::Lte(_) => RuleOp::Lte,
            Self::InRange(..) => RuleOp::InRange,
            Self::OneOf(_) => RuleOp::OneOf,
        }
    }

    /// The operands in on-chain order.
    pub fn operands(&self) -> Vec<U256> {
        match self {
            Self::Eq(v)
            | Self::Neq(v)
            | Self::Gt(v)
            | Self::Gte(v)
            | Self::Lt(v)
            | Self::Lte(v) => vec![*v],
            Self::InRange(min, max) => vec![*min, *max],
            Self::OneOf(values) => values.clone(),
        }
    }

    /// Whether `word` passes (`None` for a malformed rule, which the chain refuses as `InvalidRule`).
    pub fn holds(&self, word: U256) -> Option<bool> {
        Some(match self {
            Self::Eq(v) => word == *v,
            Self::Neq(v) => word != *v,
            Self::Gt(v) => word > *v,
            Self::Gte(v) => word >= *v,
            Self::Lt(v) => word < *v,
            Self::Lte(v) => word <= *v,
            Self::InRange(min, max) => word >= *min && word <= *max,
            Self::OneOf(values) if values.is_empty() => return None,
            Self::OneOf(values) => values.contains(&word),
        })
    }
}

/// How a counter's period is cut out of time. Counters reset when the period changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Period {
    /// Never resets.
    #[default]
    Lifetime,
    /// Back-to-back periods of `length` seconds from `start`, usable only in their active part.
    Every {
        /// The start of the first period.
        start: Timestamp,
        /// Seconds per period (at least 1).
        length: u32,
        /// The part of each period in which use is open.
        active: ActivePart,
    },
    /// Calendar months (UTC), usable only in their active part.
    Monthly {
        /// The part of each month in which use is open.
        active: ActivePart,
    },
    /// Explicit windows; each window is its own period.
    Windows(Vec<Window>),
}

/// The part of each period in which use is open: from `from` seconds after its start, for `duration` seconds
/// (0 for the rest of the period).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ActivePart {
    /// Seconds after the start of the period.
    pub from: u32,
    /// Seconds open; 0 keeps it open to the end of the period.
    pub duration: u32,
}

/// An explicit window `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// First second inside.
    pub start: Timestamp,
    /// First second after.
    pub end: Timestamp,
}

/// The session key's public half, as the module checks signatures against it: its kind and its public key. The
/// secret half is the SDK's `signer::SessionKey`; `signer::KeyIdentity` is the same public half with what a keystore
/// records beside it (a WebAuthn key's relying party).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// ECDSA, P-256 or WebAuthn.
    pub kind: SignerKind,
    /// The 20-byte address (ECDSA) or the 64-byte public key `x || y` (P-256, WebAuthn).
    pub public: Bytes,
}

impl PublicKey {
    /// An ECDSA session key by its address.
    pub fn ecdsa(address: Address) -> Self {
        Self { kind: SignerKind::Ecdsa, public: Bytes::copy_from_slice(address.as_slice()) }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({:?}, {})", self.kind, self.public)
    }
}

/// A session: the key that signs and the envelope it acts in. Its id is the hash of its packed encoding.
///
/// ```
/// use alloy::primitives::{address, keccak256, Address};
/// use leash_core::{Action, CallScope, Session, PublicKey, SessionPolicy, Target};
///
/// let policy = SessionPolicy::builder()
///     .action(Action::new(Target::Any, CallScope::NativeTransfer).with_max_value_per_call(10u128.pow(15)))
///     .build()?;
/// let session = Session { key: PublicKey::ecdsa(address!("00000000000000000000000000000000000a6e47")), policy };
/// // What the module reads, and the id it stores the session under.
/// let packed = session.encode()?;
/// assert_eq!(session.id()?, keccak256(&packed));
/// // The session commits to its actions by their Merkle root (one action: its hash).
/// assert_eq!(session.to_onchain()?.actionsRoot, session.policy.actions[0].hash()?);
/// assert_eq!(Session::decode(&packed, &[session.policy.actions[0].encode()?])?, session);
/// # Ok::<(), leash_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The session's key.
    pub key: PublicKey,
    /// The session's envelope.
    pub policy: SessionPolicy,
}

impl Action {
    /// An action on `target` calling `call`, with no limits yet; see the `with_*` methods.
    pub fn new(target: Target, call: CallScope) -> Self {
        Self {
            name: None,
            target,
            call,
            function: None,
            max_value_per_call: 0,
            rules: Vec::new(),
            period: Period::Lifetime,
            max_uses: None,
            amount_cap: None,
            value_cap: None,
        }
    }

    /// An action calling the function with this signature (e.g. `"transfer(address to,uint256 amount)"`) on
    /// `target`; argument names become usable in [`Action::with_arg_rule`] and [`Action::with_amount_cap`].
    pub fn call(target: Address, signature: &str) -> Result<Self, crate::Error> {
        let function = crate::abi::parse_function(signature)?;
        let mut action =
            Self::new(Target::Contract(target), CallScope::Function(function.selector()));
        action.function = Some(function);
        Ok(action)
    }

    /// Names the action for people.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds a rule on the argument `name` of the action's function, or on what a path names in it
    /// (`params.recipient`, `path[-1]`, `len(path)`, `params.path.token[0]`; a path with `[*]` takes
    /// [`Action::with_each_rule`]).
    pub fn with_arg_rule(mut self, name: &str, condition: Condition) -> Result<Self, crate::Error> {
        let found = self.resolve(name, None)?;
        self.rules.push(ArgRule { offset: found.offset, path: found.steps, condition });
        Ok(self)
    }

    /// Adds a rule every element the path `name` takes (`path[*]`, `orders[*].offerer`,
    /// `params.path.token[*]`) must pass, with at most `max_elements` of them.
    pub fn with_each_rule(
        mut self,
        name: &str,
        max_elements: u16,
        condition: Condition,
    ) -> Result<Self, crate::Error> {
        let found = self.resolve(name, Some(max_elements))?;
        self.rules.push(ArgRule { offset: found.offset, path: found.steps, condition });
        Ok(self)
    }

    /// Caps the sum of the argument `name` (or what a path names in it, such as `params.amountIn`) per period.
    pub fn with_amount_cap(mut self, name: &str, cap: U96) -> Result<Self, crate::Error> {
        let found = self.resolve(name, None)?;
        self.amount_cap = Some(AmountCap { offset: found.offset, path: found.steps, cap });
        Ok(self)
    }

    fn resolve(&self, name: &str, max: Option<u16>) -> Result<crate::path::Resolved, crate::Error> {
        let function =
            self.function.as_ref().ok_or_else(|| crate::Error::NoAbi(name.to_string()))?;
        crate::path::resolve(function, name, max)
    }

    /// Limits the calls per period.
    pub fn with_max_uses(mut self, uses: u32) -> Self {
        self.max_uses = Some(uses);
        self
    }

    /// Sets the period of the action's counters.
    pub fn with_period(mut self, period: Period) -> Self {
        self.period = period;
        self
    }

    /// Allows up to `wei` of native value per call.
    pub fn with_max_value_per_call(mut self, wei: u128) -> Self {
        self.max_value_per_call = wei;
        self
    }

    /// Caps the sum of native value per period.
    pub fn with_value_cap(mut self, wei: U96) -> Self {
        self.value_cap = Some(wei);
        self
    }

    /// The name of the argument at `offset` (or of what the path from it reaches), when the ABI is known.
    pub fn argument_name(&self, offset: u16, path: &[crate::Step]) -> Option<String> {
        crate::path::name(self.function.as_ref()?, offset, path)
    }
}

impl SessionPolicy {
    /// A builder, starting from a session valid from `valid_after` with no end, no limits and no actions.
    pub fn builder() -> SessionPolicyBuilder {
        SessionPolicyBuilder::default()
    }

    /// The gas budget the session is encoded with: the stated one, or [`DEFAULT_GAS_BUDGET`] when the policy
    /// states neither a gas budget nor a paymaster (the module requires one of them). Encoding, the pre-flight
    /// and descriptions all use this.
    pub fn effective_gas_budget(&self) -> Option<u128> {
        match (self.gas_budget, self.paymaster.filter(|p| !p.is_zero())) {
            (Some(budget), _) => Some(budget),
            (None, Some(_)) => None,
            (None, None) => Some(DEFAULT_GAS_BUDGET),
        }
    }

    /// Whether the gas budget is [`DEFAULT_GAS_BUDGET`] because the policy states none.
    pub fn gas_budget_is_default(&self) -> bool {
        self.gas_budget.is_none() && self.paymaster.is_none_or(|p| p.is_zero())
    }
}

/// Builds a [`SessionPolicy`] step by step.
///
/// ```
/// use alloy::primitives::{address, aliases::U96};
/// use leash_core::{Action, Condition, Period, SessionPolicy, Timestamp};
///
/// let usdc = address!("A0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48");
/// let merchant = address!("1111111111111111111111111111111111111111");
/// let policy = SessionPolicy::builder()
///     .name("subscription")
///     .valid_until(Timestamp::parse("2027-01-01T00:00:00Z")?)
///     .action(
///         Action::call(usdc, "transfer(address to, uint256 amount)")?
///             .with_arg_rule("to", Condition::Eq(merchant.into_word().into()))?
///             .with_amount_cap("amount", U96::from(100_000_000u64))?
///             .with_max_uses(1)
///             .with_period(Period::monthly()),
///     )
///     .build()?;
/// assert_eq!(policy.actions.len(), 1);
/// # Ok::<(), leash_core::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct SessionPolicyBuilder {
    policy: SessionPolicy,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            name: None,
            valid_after: Timestamp(0),
            valid_until: None,
            max_ops: None,
            gas_budget: None,
            paymaster: None,
            sudo: false,
            signing: SigningPolicy::default(),
            actions: Vec::new(),
            salt: B256::ZERO,
        }
    }
}

impl SessionPolicyBuilder {
    /// Names the session.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.policy.name = Some(name.into());
        self
    }

    /// First second the session may act.
    pub fn valid_after(mut self, at: Timestamp) -> Self {
        self.policy.valid_after = at;
        self
    }

    /// Last second the session may act.
    pub fn valid_until(mut self, at: Timestamp) -> Self {
        self.policy.valid_until = Some(at);
        self
    }

    /// Limits the session's operations per period.
    pub fn max_ops(mut self, count: u32, period: Period) -> Self {
        self.policy.max_ops = Some(UseLimit { count, period });
        self
    }

    /// Caps the wei of gas the session may commit over its life.
    pub fn gas_budget(mut self, wei: u128) -> Self {
        self.policy.gas_budget = Some(wei);
        self
    }

    /// Requires this paymaster on every operation.
    pub fn paymaster(mut self, paymaster: Address) -> Self {
        self.policy.paymaster = Some(paymaster);
        self
    }

    /// Grants full power over calls (still never the account, `address(0)`, a module, an EntryPoint or
    /// delegatecall).
    pub fn sudo(mut self) -> Self {
        self.policy.sudo = true;
        self
    }

    /// Lets the session sign ERC-1271 messages under `signing`.
    pub fn signing(mut self, signing: SigningPolicy) -> Self {
        self.policy.signing = signing;
        self
    }

    /// Lets the session sign typed data of `scope` (adds to the scopes already listed).
    pub fn sign_typed_data(mut self, scope: TypedDataScope) -> Self {
        self.policy.signing.typed_data.push(scope);
        self
    }

    /// Lets the session sign any ERC-1271 message for any verifier: unrestricted, like sudo. Never a default.
    pub fn sign_any(mut self) -> Self {
        self.policy.signing.any = true;
        self
    }

    /// Adds an allowed action.
    pub fn action(mut self, action: Action) -> Self {
        self.policy.actions.push(action);
        self
    }

    /// Distinguishes this session from another with the same envelope.
    pub fn salt(mut self, salt: B256) -> Self {
        self.policy.salt = salt;
        self
    }

    /// The policy, checked (see [`SessionPolicy::validate`]).
    pub fn build(self) -> Result<SessionPolicy, crate::Error> {
        self.policy.validate()?;
        Ok(self.policy)
    }
}

impl Period {
    /// Calendar months, open all month.
    pub fn monthly() -> Self {
        Self::Monthly { active: ActivePart::default() }
    }

    /// Back-to-back periods of `length` seconds from the unix epoch (days start at 00:00 UTC).
    pub fn every(length: u32) -> Self {
        Self::Every { start: Timestamp(0), length, active: ActivePart::default() }
    }
}
