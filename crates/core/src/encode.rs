//! The packed wire format of docs/encoding.md: sessions and actions as the module reads them, their hashes, the
//! session's actions tree, and the session part of a UserOperation's signature.
//!
//! The model maps to the on-chain structs first (`to_onchain`, the types of the Solidity reference encoder), and
//! those are packed field by field ([`pack_session`], [`pack_action`]), so the Rust packer can be held to the
//! Solidity one struct for struct. Every count and length is checked against the width of its field: what does
//! not fit is an [`Error::Encoding`], never truncated.

use crate::{
    model::{
        Action, ArgRule, CallScope, Period, PublicKey, Session, SessionPolicy, Target,
        TypedDataScope,
    },
    Error, MerkleTree,
};
use alloy::primitives::{aliases::U48, keccak256, Bytes, B256};
use leash_contracts::{
    bindings::SessionEncoderHarness as onchain, ActionFlags, PeriodKind, SessionFlags,
    SignatureMode, SignerKind, FORMAT_VERSION, MAX_RULES, RULE_PATH,
};

/// Most bytes a `uint16` length field can announce: a packed session or action, a signature.
pub(crate) const MAX_LENGTH: usize = u16::MAX as usize;
/// Most items a `uint8` count can announce: windows, operands, scopes, nested structs, calls.
pub(crate) const MAX_COUNT: usize = u8::MAX as usize;

fn u48(seconds: u64) -> U48 {
    U48::from(seconds.min(crate::Timestamp::MAX.0))
}

/// The bytes a signer of `kind` takes in a packed session: an address, or a P-256 key `x || y`.
pub(crate) fn signer_length(kind: SignerKind) -> usize {
    match kind {
        SignerKind::Ecdsa => 20,
        SignerKind::P256 | SignerKind::WebAuthn => 64,
    }
}

/// Appends big-endian fields without padding; counts and lengths are checked against their field's width.
#[derive(Default)]
struct Packer(Vec<u8>);

impl Packer {
    fn put(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.extend_from_slice(bytes);
        self
    }

    fn u8(&mut self, value: u8) -> &mut Self {
        self.put(&[value])
    }

    /// A `uint8` count of `what`.
    fn count(&mut self, count: usize, what: &str) -> Result<&mut Self, Error> {
        let count = u8::try_from(count).map_err(|_| {
            Error::Encoding(format!("{count} {what}; the packed format holds at most {MAX_COUNT}"))
        })?;
        Ok(self.u8(count))
    }

    /// A `uint16` length, then the bytes.
    fn sized(&mut self, bytes: &[u8], what: &str) -> Result<&mut Self, Error> {
        let length = u16::try_from(bytes.len()).map_err(|_| {
            Error::Encoding(format!(
                "{what} is {} bytes; the packed format holds at most {MAX_LENGTH}",
                bytes.len()
            ))
        })?;
        Ok(self.put(&length.to_be_bytes()).put(bytes))
    }

    fn period(&mut self, period: &onchain::Period) -> Result<&mut Self, Error> {
        if !period.windows.len().is_multiple_of(2) {
            return Err(Error::Encoding(format!(
                "a period lists {} window bounds; windows come in [start, end) pairs",
                period.windows.len()
            )));
        }
        self.u8(period.kind)
            .put(&period.anchor.to_be_bytes::<6>())
            .put(&period.length.to_be_bytes())
            .put(&period.activeFrom.to_be_bytes())
            .put(&period.activeFor.to_be_bytes())
            .count(period.windows.len() / 2, "windows")?;
        for bound in &period.windows {
            self.put(&bound.to_be_bytes::<6>());
        }
        Ok(self)
    }

    /// The rules, one after another (their count is the caller's).
    fn rules(&mut self, rules: &[onchain::ArgRule]) -> Result<&mut Self, Error> {
        for rule in rules {
            if rule.op & RULE_PATH != 0 {
                return Err(Error::Encoding(format!(
                    "rule operator {:#x} has the path bit set; it is set from the path",
                    rule.op
                )));
            }
            if rule.path.is_empty() {
                self.u8(rule.op)
                    .put(&rule.offset.to_be_bytes())
                    .count(rule.values.len(), "operands")?;
            } else {
                self.u8(rule.op | RULE_PATH)
                    .put(&rule.offset.to_be_bytes())
                    .count(rule.values.len(), "operands")?
                    .count(rule.path.len(), "bytes of a rule's path")?
                    .put(&rule.path);
            }
            for value in &rule.values {
                self.put(value.as_slice());
            }
        }
        Ok(self)
    }

    fn scope(&mut self, scope: &onchain::TypedDataScope) -> Result<&mut Self, Error> {
        self.put(scope.verifier.as_slice())
            .put(scope.typeHash.as_slice())
            .put(&scope.maxUses.to_be_bytes());
        if scope.maxUses != 0 {
            self.put(&scope.nonceField.to_be_bytes())
                .put(&scope.validAfterField.to_be_bytes())
                .put(&scope.validBeforeField.to_be_bytes())
                .period(&scope.period)?;
        }
        self.count(scope.nested.len(), "nested structs in a signing scope")?;
        for nested in &scope.nested {
            self.put(&nested.field.to_be_bytes())
                .put(nested.typeHash.as_slice())
                .put(&nested.length.to_be_bytes());
        }
        self.count(scope.rules.len(), "rules in a signing scope")?.rules(&scope.rules)
    }
}

/// The packed session (docs/encoding.md, "Session"): `keccak256` of it is the session's id. Refuses a signer
/// whose length is not its kind's, and a session past 65,535 bytes (the length field that carries it).
pub fn pack_session(session: &onchain::Session) -> Result<Bytes, Error> {
    let kind = match session.signerKind {
        k if k == SignerKind::Ecdsa as u8 => SignerKind::Ecdsa,
        k if k == SignerKind::P256 as u8 => SignerKind::P256,
        k if k == SignerKind::WebAuthn as u8 => SignerKind::WebAuthn,
        other => return Err(Error::Encoding(format!("unknown signer kind {other}"))),
    };
    if session.signer.len() != signer_length(kind) {
        return Err(Error::Encoding(format!(
            "a {kind:?} session key is {} bytes, not {}",
            signer_length(kind),
            session.signer.len()
        )));
    }
    let mut out = Packer::default();
    out.u8(FORMAT_VERSION)
        .u8(session.signerKind)
        .u8(session.flags)
        .put(&session.validAfter.to_be_bytes::<6>())
        .put(&session.validUntil.to_be_bytes::<6>())
        .put(&session.maxUses.to_be_bytes())
        .put(&session.gasBudget.to_be_bytes())
        .put(session.paymaster.as_slice())
        .put(session.actionsRoot.as_slice())
        .put(session.salt.as_slice())
        .put(&session.signer)
        .period(&session.usesPeriod)?
        .count(session.signing.len(), "signing scopes")?;
    for scope in &session.signing {
        out.scope(scope)?;
    }
    if out.0.len() > MAX_LENGTH {
        return Err(Error::Encoding(format!(
            "the session is {} bytes packed; at most {MAX_LENGTH} fit a signature: list fewer signing \
             scopes, rules or windows",
            out.0.len()
        )));
    }
    Ok(out.0.into())
}

/// The packed action (docs/encoding.md, "Action"): `keccak256` of it is the action's hash. Refuses more than
/// [`MAX_RULES`] rules and an action past 65,535 bytes (the length field that carries it).
pub fn pack_action(action: &onchain::Action) -> Result<Bytes, Error> {
    if action.rules.len() > MAX_RULES {
        return Err(Error::Encoding(format!(
            "an action has {} rules; at most {MAX_RULES}",
            action.rules.len()
        )));
    }
    if action.flags & ActionFlags::AMOUNT_PATH != 0 {
        return Err(Error::Encoding(
            "the action's flags have the amount-path bit set; it is set from the amount's path"
                .into(),
        ));
    }
    let mut out = Packer::default();
    out.put(action.target.as_slice())
        .put(action.selector.as_slice())
        .u8(if action.amountPath.is_empty() {
            action.flags
        } else {
            action.flags | ActionFlags::AMOUNT_PATH
        })
        .put(&action.maxValuePerCall.to_be_bytes())
        .put(&action.maxUses.to_be_bytes())
        .put(&action.amountOffset.to_be_bytes())
        .put(&action.amountCap.to_be_bytes::<12>())
        .put(&action.valueCap.to_be_bytes::<12>())
        .count(action.rules.len(), "rules")?
        .rules(&action.rules)?;
    if !action.amountPath.is_empty() {
        out.count(action.amountPath.len(), "bytes of the amount's path")?.put(&action.amountPath);
    }
    out.period(&action.period)?;
    if out.0.len() > MAX_LENGTH {
        return Err(Error::Encoding(format!(
            "an action is {} bytes packed; at most {MAX_LENGTH} fit a signature: fewer operands or windows",
            out.0.len()
        )));
    }
    Ok(out.0.into())
}

impl Period {
    /// The on-chain kind.
    pub fn kind(&self) -> PeriodKind {
        match self {
            Period::Lifetime => PeriodKind::Lifetime,
            Period::Every { .. } => PeriodKind::Fixed,
            Period::Monthly { .. } => PeriodKind::Monthly,
            Period::Windows(_) => PeriodKind::Windows,
        }
    }

    /// The on-chain `Period` struct.
    pub fn to_onchain(&self) -> onchain::Period {
        let mut out = onchain::Period {
            kind: self.kind() as u8,
            anchor: U48::ZERO,
            length: 0,
            activeFrom: 0,
            activeFor: 0,
            windows: Vec::new(),
        };
        match self {
            Period::Lifetime => {}
            Period::Every { start, length, active } => {
                out.anchor = u48(start.0);
                out.length = *length;
                out.activeFrom = active.from;
                out.activeFor = active.duration;
            }
            Period::Monthly { active } => {
                out.activeFrom = active.from;
                out.activeFor = active.duration;
            }
            Period::Windows(windows) => {
                out.windows = windows.iter().flat_map(|w| [u48(w.start.0), u48(w.end.0)]).collect();
            }
        }
        out
    }
}

impl ArgRule {
    /// The on-chain `ArgRule` struct.
    pub fn to_onchain(&self) -> onchain::ArgRule {
        onchain::ArgRule {
            op: self.condition.op() as u8,
            offset: self.offset,
            values: self.condition.operands().into_iter().map(B256::from).collect(),
            path: crate::path::pack(&self.path).into(),
        }
    }
}

impl TypedDataScope {
    /// The on-chain `TypedDataScope` struct.
    pub fn to_onchain(&self) -> onchain::TypedDataScope {
        onchain::TypedDataScope {
            verifier: self.verifier,
            typeHash: self.type_hash,
            nested: self
                .nested
                .iter()
                .map(|n| onchain::NestedStruct {
                    field: n.field,
                    typeHash: n.type_hash,
                    length: n.length,
                })
                .collect(),
            rules: self.rules.iter().map(ArgRule::to_onchain).collect(),
            maxUses: self.max_uses.as_ref().map_or(0, |l| l.count),
            nonceField: self.max_uses.as_ref().map_or(0, |l| l.nonce),
            validAfterField: self.max_uses.as_ref().map_or(0, |l| l.valid_after),
            validBeforeField: self.max_uses.as_ref().map_or(0, |l| l.valid_before),
            period: self
                .max_uses
                .as_ref()
                .map_or_else(|| Period::Lifetime.to_onchain(), |l| l.period.to_onchain()),
        }
    }
}

impl Action {
    /// The on-chain `Action` struct.
    pub fn to_onchain(&self) -> onchain::Action {
        let mut flags = 0u8;
        let (target, selector) = (
            match self.target {
                Target::Any => {
                    flags |= ActionFlags::ANY_TARGET;
                    Default::default()
                }
                Target::Contract(address) => address,
            },
            match self.call {
                CallScope::Any => {
                    flags |= ActionFlags::ANY_SELECTOR;
                    Default::default()
                }
                CallScope::Function(selector) => selector,
                CallScope::NativeTransfer => {
                    flags |= ActionFlags::NATIVE_TRANSFER;
                    Default::default()
                }
                CallScope::FunctionOrNativeTransfer(selector) => {
                    flags |= ActionFlags::NATIVE_TRANSFER;
                    selector
                }
            },
        );
        if self.amount_cap.is_some() {
            flags |= ActionFlags::AMOUNT_CAP;
        }
        if self.value_cap.is_some() {
            flags |= ActionFlags::VALUE_CAP;
        }
        onchain::Action {
            target,
            selector,
            flags,
            maxValuePerCall: self.max_value_per_call,
            rules: self.rules.iter().map(ArgRule::to_onchain).collect(),
            period: self.period.to_onchain(),
            maxUses: self.max_uses.unwrap_or(0),
            amountOffset: self.amount_cap.as_ref().map_or(0, |c| c.offset),
            amountPath: self
                .amount_cap
                .as_ref()
                .map_or_else(Vec::new, |c| crate::path::pack(&c.path))
                .into(),
            amountCap: self.amount_cap.as_ref().map_or(Default::default(), |c| c.cap),
            valueCap: self.value_cap.unwrap_or_default(),
        }
    }

    /// The packed action, as a UserOperation carries it ([`pack_action`]).
    pub fn encode(&self) -> Result<Bytes, Error> {
        pack_action(&self.to_onchain())
    }

    /// The action's hash: `keccak256` of the packed action, a leaf of the session's actions tree.
    pub fn hash(&self) -> Result<B256, Error> {
        Ok(keccak256(self.encode()?))
    }

    /// Whether the module keeps counters for the action (calls counted, an amount or value cap), and so writes
    /// its record on use. An action without counters is never written: it carries its proof on every use.
    pub fn has_counters(&self) -> bool {
        self.max_uses.is_some_and(|m| m != 0)
            || self.amount_cap.is_some()
            || self.value_cap.is_some()
    }
}

impl SessionPolicy {
    /// The hashes of the actions, in order: the leaves of [`SessionPolicy::actions_tree`].
    pub fn action_hashes(&self) -> Result<Vec<B256>, Error> {
        self.actions.iter().map(Action::hash).collect()
    }

    /// The Merkle tree over the action hashes in order; an action's proof is `actions_tree()?.proof(i)`.
    pub fn actions_tree(&self) -> Result<MerkleTree, Error> {
        Ok(MerkleTree::new(self.action_hashes()?))
    }

    /// The session's `actionsRoot`: the root of [`SessionPolicy::actions_tree`] (zero without actions).
    pub fn actions_root(&self) -> Result<B256, Error> {
        Ok(self.actions_tree()?.root())
    }
}

impl Session {
    /// The on-chain `Session` struct (its `actionsRoot` needs every action packed, hence the result).
    pub fn to_onchain(&self) -> Result<onchain::Session, Error> {
        onchain_session(&self.policy, &self.key)
    }

    /// The packed session, as a UserOperation carries it ([`pack_session`]).
    pub fn encode(&self) -> Result<Bytes, Error> {
        pack_session(&self.to_onchain()?)
    }

    /// The session's id: `keccak256` of the packed session, as the module computes it.
    pub fn id(&self) -> Result<B256, Error> {
        Ok(keccak256(self.encode()?))
    }
}

fn onchain_session(policy: &SessionPolicy, key: &PublicKey) -> Result<onchain::Session, Error> {
    let mut flags = 0u8;
    if policy.sudo {
        flags |= SessionFlags::SUDO;
    }
    let gas_budget = policy.effective_gas_budget();
    if gas_budget.is_some() {
        flags |= SessionFlags::GAS_BUDGET;
    }
    if policy.signing.any {
        flags |= SessionFlags::SIGN_ANY;
    }
    Ok(onchain::Session {
        signerKind: key.kind as u8,
        signer: key.public.clone(),
        validAfter: u48(policy.valid_after.0),
        validUntil: policy.valid_until.map_or(U48::ZERO, |t| u48(t.0)),
        maxUses: policy.max_ops.as_ref().map_or(0, |l| l.count),
        usesPeriod: policy
            .max_ops
            .as_ref()
            .map_or(Period::Lifetime, |l| l.period.clone())
            .to_onchain(),
        gasBudget: gas_budget.unwrap_or(0),
        paymaster: policy.paymaster.unwrap_or_default(),
        flags,
        signing: policy.signing.typed_data.iter().map(TypedDataScope::to_onchain).collect(),
        actionsRoot: policy.actions_root()?,
        salt: policy.salt,
    })
}

/// The owner's approval a lazy grant carries in the session's first UserOperation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantProof {
    /// Merkle proof of this chain's grant digest under the signed root (empty for one chain).
    pub proof: Vec<B256>,
    /// The account's epoch the owner signed for; the module refuses a grant from another epoch
    /// (`GrantVoidedByRevokeAll`).
    pub epoch: u32,
    /// The owner's signature over the root digest, checked against the account's owner alone
    /// (`isOwnerSignature`), never through ERC-1271.
    pub owner_signature: Bytes,
}

/// The session part of a UserOperation: which actions its calls use, the stated time, and the session key's
/// signature over [`crate::use_digest`].
///
/// ```
/// use alloy::primitives::{Address, Bytes};
/// use leash_core::{Action, CallScope, Session, PublicKey, SessionPolicy, SessionUse, Target};
///
/// let policy = SessionPolicy::builder()
///     .action(Action::new(Target::Any, CallScope::NativeTransfer).with_max_uses(3))
///     .action(Action::new(Target::Contract(Address::repeat_byte(7)), CallScope::Any))
///     .build()?;
/// let session = Session { key: PublicKey::ecdsa(Address::repeat_byte(1)), policy };
/// let first = SessionUse {
///     session: &session,
///     call_actions: &[0],
///     recorded: &[],
///     time: 1_800_000_000,
///     signature: Bytes::from(vec![0; 65]),
///     grant: None,
/// };
/// // Once the first action's record exists on chain, its proof stays home.
/// let later = SessionUse { recorded: &[0], ..first.clone() };
/// assert_eq!(first.encode()?.len(), later.encode()?.len() + 32);
/// # Ok::<(), leash_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionUse<'a> {
    /// The session.
    pub session: &'a Session,
    /// For each call, the index of its action in the session (empty under sudo).
    pub call_actions: &'a [usize],
    /// The session's actions (by index) whose record exists on chain (`actionRecord(...).enabled`): the module
    /// checks an action's Merkle proof only until then, so these travel without it. An action without
    /// counters ([`Action::has_counters`]) never gets a record and should never be listed.
    pub recorded: &'a [usize],
    /// The time the operation means to run at.
    pub time: u64,
    /// The session key's signature.
    pub signature: Bytes,
    /// A lazy grant: the session is granted by this operation.
    pub grant: Option<GrantProof>,
}

impl SessionUse<'_> {
    /// The UserOperation's `signature` field, packed (docs/encoding.md, "A session UserOperation's signature").
    ///
    /// Only the actions the calls use travel in the operation (deduplicated, each with its proof unless
    /// `recorded`), so its size grows with the logarithm of the session's actions, not their number. A call
    /// whose index is outside the session carries an index no action has: the module refuses that call
    /// (`MissingCallAction`).
    pub fn encode(&self) -> Result<Bytes, Error> {
        let actions = &self.session.policy.actions;
        let tree = self.session.policy.actions_tree()?;
        let hashes = tree.leaves();
        // The actions carried, by session index; equal actions (one hash, one record on chain) travel once.
        let mut used: Vec<usize> = Vec::new();
        let mut indexes = Vec::with_capacity(self.call_actions.len());
        for &action in self.call_actions {
            if action >= actions.len() {
                indexes.push(u8::MAX);
                continue;
            }
            let position =
                used.iter().position(|&u| hashes[u] == hashes[action]).unwrap_or_else(|| {
                    used.push(action);
                    used.len() - 1
                });
            // At most one carried action per call, and the calls' count is checked below.
            indexes.push(u8::try_from(position).unwrap_or(u8::MAX));
        }
        let mut out = Packer::default();
        out.u8(FORMAT_VERSION)
            .u8(match self.grant {
                None => SignatureMode::Use,
                Some(_) => SignatureMode::GrantAndUse,
            } as u8)
            .put(&u48(self.time).to_be_bytes::<6>())
            .sized(&self.session.encode()?, "the session")?
            .count(used.len(), "distinct actions in one operation")?;
        for &index in &used {
            out.sized(&actions[index].encode()?, "an action")?;
            let recorded = self.recorded.iter().any(|&r| hashes.get(r) == Some(&hashes[index]));
            let proof = if recorded { Vec::new() } else { tree.proof(index).unwrap_or_default() };
            out.proof(&proof)?;
        }
        out.count(indexes.len(), "calls in one operation")?
            .put(&indexes)
            .sized(&self.signature, "the session key's signature")?;
        if let Some(grant) = &self.grant {
            out.put(&grant.epoch.to_be_bytes())
                .proof(&grant.proof)?
                .sized(&grant.owner_signature, "the owner's signature")?;
        }
        Ok(out.0.into())
    }
}

impl Packer {
    /// A `uint8` count of nodes, then the nodes.
    fn proof(&mut self, proof: &[B256]) -> Result<&mut Self, Error> {
        self.count(proof.len(), "proof nodes")?;
        for node in proof {
            self.put(node.as_slice());
        }
        Ok(self)
    }
}

/// The session's ERC-1271 data after the account's module prefix (docs/encoding.md, "A session's ERC-1271
/// signature"): the packed session and the key's signature, then, for a message signed under a scope, the
/// scope's index, the verifier's domain separator and the message's fields.
pub(crate) fn pack_message_signature(
    session: &Session,
    key_signature: &[u8],
    scope: Option<(usize, Option<u16>, B256, &[u8])>,
) -> Result<Vec<u8>, Error> {
    let mut out = Packer::default();
    out.u8(FORMAT_VERSION)
        .sized(&session.encode()?, "the session")?
        .sized(key_signature, "the session key's signature")?;
    if let Some((index, slot, domain_separator, fields)) = scope {
        let index = u8::try_from(index).map_err(|_| {
            Error::Encoding(format!("signing scope {index} has no index in the packed format"))
        })?;
        out.u8(index);
        // A counted scope's message names the slot of the period it uses.
        if let Some(slot) = slot {
            out.put(&slot.to_be_bytes());
        }
        out.put(domain_separator.as_slice()).put(fields);
    }
    Ok(out.0)
}

impl SessionPolicy {
    /// Checks that the policy packs with any key (a 64-byte one, the longest): no count or length past its
    /// field. Part of [`SessionPolicy::validate`].
    pub(crate) fn check_packs(&self) -> Result<(), Error> {
        let key = PublicKey { kind: SignerKind::P256, public: Bytes::from(vec![1u8; 64]) };
        pack_session(&onchain_session(self, &key)?).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{model::Window, Condition, NestedStruct, SigningUseLimit, Timestamp};
    use alloy::primitives::{aliases::U96, Address, U256};

    fn key() -> PublicKey {
        PublicKey::ecdsa(Address::repeat_byte(0x5e))
    }

    fn paying() -> Action {
        let mut action = Action::new(
            Target::Contract(Address::repeat_byte(0xa0)),
            CallScope::Function([0xa9, 0x05, 0x9c, 0xbb].into()),
        )
        .with_max_uses(4)
        .with_max_value_per_call(7);
        action.amount_cap =
            Some(crate::AmountCap { offset: 32, path: vec![], cap: U96::from(1_000u64) });
        action.rules =
            vec![ArgRule { offset: 0, path: vec![], condition: Condition::Eq(U256::from(9)) }];
        action
    }

    fn session(actions: Vec<Action>) -> Session {
        let policy = SessionPolicy {
            valid_after: Timestamp(0x0102_0304_0506),
            valid_until: Some(Timestamp(0x0a0b_0c0d_0e0f)),
            max_ops: Some(crate::UseLimit { count: 0x1122_3344, period: Period::every(3_600) }),
            gas_budget: Some(0xdead),
            paymaster: Some(Address::repeat_byte(0x77)),
            actions,
            salt: B256::repeat_byte(0x99),
            ..Default::default()
        };
        Session { key: key(), policy }
    }

    #[test]
    fn a_session_packs_as_the_table_says() {
        let session = session(vec![paying()]);
        let bytes = session.encode().unwrap();
        assert_eq!(bytes[0], FORMAT_VERSION);
        assert_eq!(bytes[1], SignerKind::Ecdsa as u8);
        assert_eq!(bytes[2], SessionFlags::GAS_BUDGET);
        assert_eq!(bytes[3..9], [1, 2, 3, 4, 5, 6]);
        assert_eq!(bytes[9..15], [0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f]);
        assert_eq!(bytes[15..19], [0x11, 0x22, 0x33, 0x44]);
        assert_eq!(bytes[19..35], 0xdeadu128.to_be_bytes());
        assert_eq!(bytes[35..55], [0x77; 20]);
        // One action: the root is its hash.
        assert_eq!(bytes[55..87], paying().hash().unwrap()[..]);
        assert_eq!(bytes[87..119], [0x99; 32]);
        assert_eq!(bytes[119..139], [0x5e; 20]);
        // usesPeriod: fixed, anchor 0, 3,600 s, open all period, no windows; then no signing scope.
        assert_eq!(bytes[139], PeriodKind::Fixed as u8);
        assert_eq!(bytes[146..150], 3_600u32.to_be_bytes());
        assert_eq!(bytes[158], 0);
        assert_eq!(bytes[159], 0);
        assert_eq!(bytes.len(), 160);
        assert_eq!(session.id().unwrap(), keccak256(&bytes));
    }

    #[test]
    fn an_action_packs_as_the_table_says() {
        let bytes = paying().encode().unwrap();
        assert_eq!(bytes[0..20], [0xa0; 20]);
        assert_eq!(bytes[20..24], [0xa9, 0x05, 0x9c, 0xbb]);
        assert_eq!(bytes[24], ActionFlags::AMOUNT_CAP);
        assert_eq!(bytes[25..41], 7u128.to_be_bytes());
        assert_eq!(bytes[41..45], 4u32.to_be_bytes());
        assert_eq!(bytes[45..47], 32u16.to_be_bytes());
        assert_eq!(bytes[47..59], U96::from(1_000u64).to_be_bytes::<12>());
        assert_eq!(bytes[59..71], [0; 12]);
        assert_eq!(bytes[71], 1);
        // The rule: EQ at offset 0, one operand.
        assert_eq!(bytes[72..76], [0, 0, 0, 1]);
        assert_eq!(bytes[76..108], U256::from(9).to_be_bytes::<32>());
        // A lifetime period closes it: 20 bytes.
        assert_eq!(bytes.len(), 108 + 20);
        // The shortest action (no rules) is 92 bytes: longer than an inner node's 64-byte preimage.
        assert_eq!(Action::new(Target::Any, CallScope::Any).encode().unwrap().len(), 92);
    }

    #[test]
    fn a_scope_packs_as_the_table_says() {
        let mut session = session(Vec::new());
        session.policy.signing.typed_data.push(TypedDataScope {
            name: None,
            verifier: Address::repeat_byte(0x31),
            type_hash: B256::repeat_byte(0x32),
            nested: vec![NestedStruct {
                field: 64,
                type_hash: B256::repeat_byte(0x33),
                length: 96,
            }],
            rules: vec![ArgRule {
                offset: 128,
                path: vec![],
                condition: Condition::InRange(U256::from(1), U256::from(2)),
            }],
            encode_type: None,
            max_uses: Some(SigningUseLimit {
                count: 3,
                period: Period::every(86_400),
                nonce: 160,
                valid_after: 96,
                valid_before: 128,
            }),
        });
        let bytes = session.encode().unwrap();
        let scope = &bytes[160..];
        assert_eq!(bytes[159], 1);
        assert_eq!(scope[0..20], [0x31; 20]);
        assert_eq!(scope[20..52], [0x32; 32]);
        // Counted: maxUses, the nonce, validAfter and validBefore offsets, then the period.
        assert_eq!(scope[52..54], 3u16.to_be_bytes());
        assert_eq!(scope[54..60], [0, 160, 0, 96, 0, 128]);
        assert_eq!(scope[60], 1, "a fixed period");
        assert_eq!(scope[67..71], 86_400u32.to_be_bytes());
        assert_eq!(scope[79], 0, "no windows");
        assert_eq!(scope[80], 1);
        assert_eq!(scope[81..83], 64u16.to_be_bytes());
        assert_eq!(scope[83..115], [0x33; 32]);
        assert_eq!(scope[115..117], 96u16.to_be_bytes());
        assert_eq!(scope[117], 1);
        assert_eq!(scope[118..122], [6, 0, 128, 2]);
        assert_eq!(scope.len(), 122 + 64);
        // Uncounted: maxUses 0 and nothing else before the nested structs.
        session.policy.signing.typed_data[0].max_uses = None;
        let bytes = session.encode().unwrap();
        assert_eq!(bytes[160 + 52..160 + 55], [0, 0, 1]);
        assert_eq!(bytes.len() - 160, 96 + 64);
        // No actions: a zero root.
        assert_eq!(bytes[55..87], [0; 32]);
    }

    #[test]
    fn what_does_not_fit_its_field_is_an_error() {
        let too_many = |result: Result<Bytes, Error>, what: &str| match result {
            Err(Error::Encoding(message)) => assert!(message.contains(what), "{message}"),
            other => panic!("expected an encoding error about {what}, got {other:?}"),
        };
        let windows: Vec<Window> = (0..256u64)
            .map(|i| Window { start: Timestamp(10 * i + 1), end: Timestamp(10 * i + 2) })
            .collect();
        too_many(paying().with_period(Period::Windows(windows.clone())).encode(), "256 windows");
        let mut action = paying();
        action.rules = vec![action.rules[0].clone(); 33];
        too_many(action.encode(), "33 rules; at most 32");
        let mut action = paying();
        action.rules[0].condition = Condition::OneOf(vec![U256::from(1); 256]);
        too_many(action.encode(), "256 operands");
        // 32 rules of 255 operands: past 65,535 bytes.
        let mut action = paying();
        action.rules = vec![
            ArgRule {
                offset: 0,
                path: vec![],
                condition: Condition::OneOf(vec![U256::from(1); 255])
            };
            32
        ];
        too_many(action.encode(), "at most 65535");

        let mut session = session(vec![paying()]);
        session.key.public = Bytes::from(vec![1; 64]);
        too_many(session.encode(), "is 20 bytes, not 64");
        let mut session = self::session(vec![paying()]);
        session.policy.max_ops.as_mut().unwrap().period = Period::Windows(windows);
        too_many(session.encode(), "256 windows");
        let scope = TypedDataScope {
            name: None,
            verifier: Address::ZERO,
            type_hash: B256::ZERO,
            nested: Vec::new(),
            rules: Vec::new(),
            encode_type: None,
            max_uses: None,
        };
        let mut session = self::session(vec![paying()]);
        session.policy.signing.typed_data = vec![scope.clone(); 256];
        too_many(session.encode(), "256 signing scopes");
        let mut heavy = scope;
        heavy.rules = vec![
            ArgRule {
                offset: 0,
                path: vec![],
                condition: Condition::OneOf(vec![U256::from(1); 60])
            };
            32
        ];
        session.policy.signing.typed_data = vec![heavy; 2];
        too_many(session.encode(), "at most 65535 fit a signature");
        // Validation says so before anything is encoded.
        let error = session.policy.validate().unwrap_err().to_string();
        assert!(error.contains("the session:") && error.contains("65535"), "{error}");
    }

    /// Reads a packed UserOperation signature back, field by field, as the module does.
    struct Parsed {
        mode: u8,
        time: u64,
        session: Vec<u8>,
        actions: Vec<(Vec<u8>, Vec<B256>)>,
        indexes: Vec<u8>,
        key_signature: Vec<u8>,
        grant: Option<(u32, Vec<B256>, Vec<u8>)>,
    }

    fn parse(bytes: &[u8]) -> Parsed {
        let mut at = 0;
        let mut take = |n: usize| {
            let out = bytes[at..at + n].to_vec();
            at += n;
            out
        };
        assert_eq!(take(1), [FORMAT_VERSION]);
        let mode = take(1)[0];
        let time = take(6).iter().fold(0u64, |t, b| t << 8 | u64::from(*b));
        let sized = |take: &mut dyn FnMut(usize) -> Vec<u8>| {
            let n = take(2);
            take(usize::from(u16::from_be_bytes([n[0], n[1]])))
        };
        let session = sized(&mut take);
        let proof = |take: &mut dyn FnMut(usize) -> Vec<u8>| {
            let count = take(1)[0];
            (0..count).map(|_| B256::from_slice(&take(32))).collect::<Vec<_>>()
        };
        let count = take(1)[0];
        let actions = (0..count).map(|_| (sized(&mut take), proof(&mut take))).collect();
        let calls = take(1)[0];
        let indexes = take(usize::from(calls));
        let key_signature = sized(&mut take);
        let grant = (mode == 1).then(|| {
            let epoch = u32::from_be_bytes(take(4).try_into().unwrap());
            (epoch, proof(&mut take), sized(&mut take))
        });
        assert_eq!(at, bytes.len(), "nothing after the last field");
        Parsed { mode, time, session, actions, indexes, key_signature, grant }
    }

    #[test]
    fn a_session_use_carries_the_used_actions_with_their_proofs() {
        let actions: Vec<Action> =
            (0..5u32).map(|i| paying().with_max_value_per_call(u128::from(i))).collect();
        let session = session(actions);
        let tree = session.policy.actions_tree().unwrap();
        let use_ = SessionUse {
            session: &session,
            call_actions: &[3, 1, 3, 9],
            recorded: &[1],
            time: 1_800_000_000,
            signature: Bytes::from(vec![0xee; 65]),
            grant: None,
        };
        let parsed = parse(&use_.encode().unwrap());
        assert_eq!(parsed.mode, SignatureMode::Use as u8);
        assert_eq!(parsed.time, 1_800_000_000);
        assert_eq!(parsed.session, session.encode().unwrap().to_vec());
        // Action 3 then action 1, each once; 1 is recorded, so it travels without its proof.
        assert_eq!(parsed.actions.len(), 2);
        assert_eq!(parsed.actions[0].0, session.policy.actions[3].encode().unwrap().to_vec());
        assert_eq!(parsed.actions[0].1, tree.proof(3).unwrap());
        assert!(MerkleTree::verify(
            tree.root(),
            keccak256(&parsed.actions[0].0),
            &parsed.actions[0].1
        ));
        assert_eq!(parsed.actions[1].0, session.policy.actions[1].encode().unwrap().to_vec());
        assert!(parsed.actions[1].1.is_empty());
        // An index outside the session carries no action.
        assert_eq!(parsed.indexes, [0, 1, 0, 255]);
        assert_eq!(parsed.key_signature, [0xee; 65]);
        assert!(parsed.grant.is_none());

        let grant = GrantProof {
            proof: vec![B256::repeat_byte(1), B256::repeat_byte(2)],
            epoch: 7,
            owner_signature: Bytes::from(vec![0xcc; 65]),
        };
        let lazy = SessionUse { grant: Some(grant), ..use_ };
        let parsed = parse(&lazy.encode().unwrap());
        assert_eq!(parsed.mode, SignatureMode::GrantAndUse as u8);
        assert_eq!(
            parsed.grant,
            Some((7, vec![B256::repeat_byte(1), B256::repeat_byte(2)], vec![0xcc; 65]))
        );
    }

    #[test]
    fn equal_actions_travel_once() {
        let session = session(vec![paying(), paying(), Action::new(Target::Any, CallScope::Any)]);
        let use_ = SessionUse {
            session: &session,
            call_actions: &[1, 0, 2],
            recorded: &[],
            time: 0,
            signature: Bytes::new(),
            grant: None,
        };
        let parsed = parse(&use_.encode().unwrap());
        assert_eq!(parsed.actions.len(), 2);
        assert_eq!(parsed.indexes, [0, 0, 1]);
    }

    #[test]
    fn a_sudo_use_carries_no_action_and_oversized_parts_are_errors() {
        let mut session = session(Vec::new());
        session.policy.sudo = true;
        let use_ = SessionUse {
            session: &session,
            call_actions: &[],
            recorded: &[],
            time: 5,
            signature: Bytes::from(vec![1; 65]),
            grant: None,
        };
        let parsed = parse(&use_.encode().unwrap());
        assert!(parsed.actions.is_empty() && parsed.indexes.is_empty());

        let calls = vec![0usize; 256];
        let session = self::session(vec![paying()]);
        let many = SessionUse { session: &session, call_actions: &calls, ..use_.clone() };
        assert!(matches!(many.encode(), Err(Error::Encoding(m)) if m.contains("256 calls")));
        let long = SessionUse { signature: Bytes::from(vec![0; 70_000]), ..use_ };
        assert!(matches!(long.encode(), Err(Error::Encoding(m)) if m.contains("signature")));
    }

    #[test]
    fn an_erc1271_signature_packs_as_the_table_says() {
        let session = session(vec![paying()]);
        let packed = session.encode().unwrap();
        let fields = [7u8; 64];
        let domain = B256::repeat_byte(0xd0);
        let body =
            pack_message_signature(&session, &[0xee; 65], Some((2, None, domain, &fields[..])))
                .unwrap();
        assert_eq!(body[0], FORMAT_VERSION);
        assert_eq!(body[1..3], (packed.len() as u16).to_be_bytes());
        let rest = &body[3 + packed.len()..];
        assert_eq!(body[3..3 + packed.len()], packed[..]);
        assert_eq!(rest[0..2], 65u16.to_be_bytes());
        assert_eq!(rest[2..67], [0xee; 65]);
        assert_eq!(rest[67], 2);
        assert_eq!(rest[68..100], domain[..]);
        assert_eq!(rest[100..], fields);
        // Unrestricted signing ends after the key's signature.
        let any = pack_message_signature(&session, &[0xee; 65], None).unwrap();
        assert_eq!(any.len(), 3 + packed.len() + 2 + 65);
    }
}
