//! Back from the packed wire format to the on-chain structs and the model, for sessions that travel as bytes
//! (grant documents).
//!
//! Decoding is strict, like the module's: every field is read at the position the format gives it, a count or
//! length that runs past the end, a format version other than [`FORMAT_VERSION`], more than [`MAX_RULES`] rules
//! or anything left after the end is refused ([`Error::Malformed`]). Decoding into the model also refuses
//! bytes the model would not encode back exactly (a flag it does not know, a field its flags ignore), so a
//! decoded session always has the id of the bytes it came from.

use crate::{
    encode::{signer_length, MAX_LENGTH},
    model::{
        Action, ActivePart, AmountCap, ArgRule, CallScope, Condition, NestedStruct, Period,
        PublicKey, Session, SessionPolicy, SigningPolicy, SigningUseLimit, Target, TypedDataScope,
        UseLimit, Window, DEFAULT_GAS_BUDGET,
    },
    Error, Timestamp,
};
use alloy::primitives::{
    aliases::{U48, U96},
    Address, Bytes, FixedBytes, B256, U256,
};
use leash_contracts::{
    bindings::SessionEncoderHarness as onchain, ActionFlags, PeriodKind, RuleOp, SessionFlags,
    SignerKind, FORMAT_VERSION, MAX_RULES, RULE_PATH,
};

/// Reads big-endian fields front to back, refusing to read past the end.
struct Reader<'a> {
    /// What is read, for errors ("the packed session").
    what: &'static str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(what: &'static str, bytes: &'a [u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_LENGTH {
            return Err(Error::Malformed(format!(
                "{what} is {} bytes; the format holds at most {MAX_LENGTH}",
                bytes.len()
            )));
        }
        Ok(Self { what, bytes, at: 0 })
    }

    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], Error> {
        let left = self.bytes.len() - self.at;
        if n > left {
            return Err(Error::Malformed(format!(
                "{} is truncated: its {field} needs {n} bytes at byte {}, {left} are left",
                self.what, self.at
            )));
        }
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N], Error> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    fn u8(&mut self, field: &str) -> Result<u8, Error> {
        Ok(self.array::<1>(field)?[0])
    }

    fn u16(&mut self, field: &str) -> Result<u16, Error> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    fn u32(&mut self, field: &str) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    fn u48(&mut self, field: &str) -> Result<U48, Error> {
        Ok(U48::from_be_bytes(self.array::<6>(field)?))
    }

    fn u96(&mut self, field: &str) -> Result<U96, Error> {
        Ok(U96::from_be_bytes(self.array::<12>(field)?))
    }

    fn u128(&mut self, field: &str) -> Result<u128, Error> {
        Ok(u128::from_be_bytes(self.array(field)?))
    }

    fn address(&mut self, field: &str) -> Result<Address, Error> {
        Ok(Address::from(self.array::<20>(field)?))
    }

    fn b256(&mut self, field: &str) -> Result<B256, Error> {
        Ok(B256::from(self.array::<32>(field)?))
    }

    /// A path of `length` bytes, whose steps must be well formed.
    fn path(&mut self, length: u8, field: &str) -> Result<Bytes, Error> {
        let bytes = self.take(length.into(), field)?;
        crate::path::unpack(bytes).map_err(|e| Error::Malformed(format!("{field}: {e}")))?;
        Ok(Bytes::copy_from_slice(bytes))
    }

    fn period(&mut self, of: &str) -> Result<onchain::Period, Error> {
        let kind = self.u8(&format!("{of} kind"))?;
        let anchor = self.u48(&format!("{of} anchor"))?;
        let length = self.u32(&format!("{of} length"))?;
        let active_from = self.u32(&format!("{of} activeFrom"))?;
        let active_for = self.u32(&format!("{of} activeFor"))?;
        let count = self.u8(&format!("{of} window count"))?;
        let mut windows = Vec::with_capacity(2 * usize::from(count));
        for i in 0..count {
            windows.push(self.u48(&format!("{of} window {i} start"))?);
            windows.push(self.u48(&format!("{of} window {i} end"))?);
        }
        Ok(onchain::Period {
            kind,
            anchor,
            length,
            activeFrom: active_from,
            activeFor: active_for,
            windows,
        })
    }

    fn rules(&mut self, count: u8, of: &str) -> Result<Vec<onchain::ArgRule>, Error> {
        (0..count)
            .map(|r| {
                let op = self.u8(&format!("{of} rule {r} operator"))?;
                let offset = self.u16(&format!("{of} rule {r} offset"))?;
                let operands = self.u8(&format!("{of} rule {r} operand count"))?;
                let path = if op & RULE_PATH != 0 {
                    let length = self.u8(&format!("{of} rule {r} path length"))?;
                    self.path(length, &format!("{of} rule {r} path"))?
                } else {
                    Bytes::new()
                };
                let values = (0..operands)
                    .map(|v| self.b256(&format!("{of} rule {r} operand {v}")))
                    .collect::<Result<_, _>>()?;
                Ok(onchain::ArgRule { op: op & !RULE_PATH, offset, values, path })
            })
            .collect()
    }

    fn scope(&mut self, s: u8) -> Result<onchain::TypedDataScope, Error> {
        let of = format!("signing scope {s}");
        let verifier = self.address(&format!("{of} verifier"))?;
        let type_hash = self.b256(&format!("{of} typeHash"))?;
        let max_uses = self.u16(&format!("{of} maxUses"))?;
        let (nonce_field, valid_after_field, valid_before_field, period) = if max_uses == 0 {
            (0, 0, 0, Period::Lifetime.to_onchain())
        } else {
            (
                self.u16(&format!("{of} nonceField"))?,
                self.u16(&format!("{of} validAfterField"))?,
                self.u16(&format!("{of} validBeforeField"))?,
                self.period(&of)?,
            )
        };
        let count = self.u8(&format!("{of} nested struct count"))?;
        let nested = (0..count)
            .map(|n| {
                Ok(onchain::NestedStruct {
                    field: self.u16(&format!("{of} nested struct {n} field"))?,
                    typeHash: self.b256(&format!("{of} nested struct {n} typeHash"))?,
                    length: self.u16(&format!("{of} nested struct {n} length"))?,
                })
            })
            .collect::<Result<_, Error>>()?;
        let rules = self.u8(&format!("{of} rule count"))?;
        let rules = self.rules(rules, &of)?;
        Ok(onchain::TypedDataScope {
            verifier,
            typeHash: type_hash,
            nested,
            rules,
            maxUses: max_uses,
            nonceField: nonce_field,
            validAfterField: valid_after_field,
            validBeforeField: valid_before_field,
            period,
        })
    }

    /// Refuses anything after the last field.
    fn finish(self) -> Result<(), Error> {
        match self.bytes.len() - self.at {
            0 => Ok(()),
            extra => Err(Error::Malformed(format!(
                "{} has {extra} byte(s) after its end (byte {})",
                self.what, self.at
            ))),
        }
    }
}

/// The on-chain `Session` a packed session holds (the inverse of [`crate::pack_session`]).
pub fn unpack_session(bytes: &[u8]) -> Result<onchain::Session, Error> {
    let mut r = Reader::new("the packed session", bytes)?;
    let version = r.u8("format version")?;
    if version != FORMAT_VERSION {
        return Err(Error::Malformed(format!(
            "the packed session has format version {version}; this leash reads version {FORMAT_VERSION}"
        )));
    }
    let signer_kind = r.u8("signerKind")?;
    let kind = signer_kind_of(signer_kind)?;
    let flags = r.u8("flags")?;
    let valid_after = r.u48("validAfter")?;
    let valid_until = r.u48("validUntil")?;
    let max_uses = r.u32("maxUses")?;
    let gas_budget = r.u128("gasBudget")?;
    let paymaster = r.address("paymaster")?;
    let actions_root = r.b256("actionsRoot")?;
    let salt = r.b256("salt")?;
    let signer = Bytes::copy_from_slice(r.take(signer_length(kind), "signer")?);
    let uses_period = r.period("usesPeriod")?;
    let scopes = r.u8("signing scope count")?;
    let signing = (0..scopes).map(|s| r.scope(s)).collect::<Result<_, _>>()?;
    r.finish()?;
    Ok(onchain::Session {
        signerKind: signer_kind,
        signer,
        validAfter: valid_after,
        validUntil: valid_until,
        maxUses: max_uses,
        usesPeriod: uses_period,
        gasBudget: gas_budget,
        paymaster,
        flags,
        signing,
        actionsRoot: actions_root,
        salt,
    })
}

/// The on-chain `Action` a packed action holds (the inverse of [`crate::pack_action`]).
pub fn unpack_action(bytes: &[u8]) -> Result<onchain::Action, Error> {
    let mut r = Reader::new("the packed action", bytes)?;
    let target = r.address("target")?;
    let selector = FixedBytes::from(r.array::<4>("selector")?);
    let flags = r.u8("flags")?;
    let max_value_per_call = r.u128("maxValuePerCall")?;
    let max_uses = r.u32("maxUses")?;
    let amount_offset = r.u16("amountOffset")?;
    let amount_cap = r.u96("amountCap")?;
    let value_cap = r.u96("valueCap")?;
    let rules = r.u8("rule count")?;
    if usize::from(rules) > MAX_RULES {
        return Err(Error::Malformed(format!(
            "the packed action has {rules} rules; at most {MAX_RULES}"
        )));
    }
    let rules = r.rules(rules, "the action's")?;
    let amount_path = if flags & ActionFlags::AMOUNT_PATH != 0 {
        let length = r.u8("amount path length")?;
        r.path(length, "amount path")?
    } else {
        Bytes::new()
    };
    let period = r.period("period")?;
    r.finish()?;
    Ok(onchain::Action {
        target,
        selector,
        // Set from the amount's path when packed, like a rule's path bit.
        flags: flags & !ActionFlags::AMOUNT_PATH,
        maxValuePerCall: max_value_per_call,
        rules,
        period,
        maxUses: max_uses,
        amountOffset: amount_offset,
        amountPath: amount_path,
        amountCap: amount_cap,
        valueCap: value_cap,
    })
}

fn signer_kind_of(kind: u8) -> Result<SignerKind, Error> {
    Ok(match kind {
        k if k == SignerKind::Ecdsa as u8 => SignerKind::Ecdsa,
        k if k == SignerKind::P256 as u8 => SignerKind::P256,
        k if k == SignerKind::WebAuthn as u8 => SignerKind::WebAuthn,
        other => return Err(Error::Malformed(format!("unknown signer kind {other}"))),
    })
}

impl Period {
    /// The model of an on-chain `Period`.
    pub fn from_onchain(period: &onchain::Period) -> Result<Self, Error> {
        let active = ActivePart { from: period.activeFrom, duration: period.activeFor };
        Ok(match period.kind {
            k if k == PeriodKind::Lifetime as u8 => Period::Lifetime,
            k if k == PeriodKind::Fixed as u8 => Period::Every {
                start: Timestamp(period.anchor.to()),
                length: period.length,
                active,
            },
            k if k == PeriodKind::Monthly as u8 => Period::Monthly { active },
            k if k == PeriodKind::Windows as u8 => {
                if !period.windows.len().is_multiple_of(2) {
                    return Err(Error::Malformed(
                        "a period's windows are not [start, end) pairs".into(),
                    ));
                }
                Period::Windows(
                    period
                        .windows
                        .chunks_exact(2)
                        .map(|pair| Window {
                            start: Timestamp(pair[0].to()),
                            end: Timestamp(pair[1].to()),
                        })
                        .collect(),
                )
            }
            other => return Err(Error::Malformed(format!("unknown period kind {other}"))),
        })
    }
}

impl ArgRule {
    /// The model of an on-chain `ArgRule`.
    pub fn from_onchain(rule: &onchain::ArgRule) -> Result<Self, Error> {
        let values: Vec<U256> = rule.values.iter().map(|v| U256::from_be_bytes(v.0)).collect();
        let one = || {
            values.first().copied().filter(|_| values.len() == 1).ok_or_else(|| {
                Error::Malformed(format!("rule operator {} takes one operand", rule.op))
            })
        };
        let condition = match rule.op {
            op if op == RuleOp::Eq as u8 => Condition::Eq(one()?),
            op if op == RuleOp::Neq as u8 => Condition::Neq(one()?),
            op if op == RuleOp::Gt as u8 => Condition::Gt(one()?),
            op if op == RuleOp::Gte as u8 => Condition::Gte(one()?),
            op if op == RuleOp::Lt as u8 => Condition::Lt(one()?),
            op if op == RuleOp::Lte as u8 => Condition::Lte(one()?),
            op if op == RuleOp::InRange as u8 && values.len() == 2 => {
                Condition::InRange(values[0], values[1])
            }
            op if op == RuleOp::OneOf as u8 => Condition::OneOf(values),
            op => return Err(Error::Malformed(format!("unknown or malformed rule operator {op}"))),
        };
        let path = crate::path::unpack(&rule.path).map_err(Error::Malformed)?;
        Ok(ArgRule { offset: rule.offset, path, condition })
    }
}

impl TypedDataScope {
    /// The model of an on-chain `TypedDataScope` (without name or type string, which the chain does not keep).
    pub fn from_onchain(scope: &onchain::TypedDataScope) -> Result<Self, Error> {
        Ok(Self {
            name: None,
            verifier: scope.verifier,
            type_hash: scope.typeHash,
            nested: scope
                .nested
                .iter()
                .map(|n| NestedStruct { field: n.field, type_hash: n.typeHash, length: n.length })
                .collect(),
            rules: scope.rules.iter().map(ArgRule::from_onchain).collect::<Result<_, _>>()?,
            encode_type: None,
            max_uses: match scope.maxUses {
                0 => None,
                count => Some(SigningUseLimit {
                    count,
                    period: Period::from_onchain(&scope.period)?,
                    nonce: scope.nonceField,
                    valid_after: scope.validAfterField,
                    valid_before: scope.validBeforeField,
                }),
            },
        })
    }
}

/// Refuses bytes the model does not encode back exactly: they would not have the hash they came with.
fn check_canonical(what: &str, bytes: &[u8], reencoded: &[u8]) -> Result<(), Error> {
    if bytes != reencoded {
        return Err(Error::Malformed(format!(
            "{what} holds a value its flags or kind ignore (or a flag leash does not know): it is not the \
             encoding of any {what}"
        )));
    }
    Ok(())
}

impl Action {
    /// The model of an on-chain `Action` (without name or ABI, which the chain does not keep).
    pub fn from_onchain(action: &onchain::Action) -> Result<Self, Error> {
        let flags = action.flags;
        let known = ActionFlags::ANY_TARGET
            | ActionFlags::ANY_SELECTOR
            | ActionFlags::NATIVE_TRANSFER
            | ActionFlags::AMOUNT_CAP
            | ActionFlags::VALUE_CAP;
        if flags & !known != 0 {
            return Err(Error::Malformed(format!("unknown action flags {:#04x}", flags & !known)));
        }
        let target = if flags & ActionFlags::ANY_TARGET != 0 {
            Target::Any
        } else {
            Target::Contract(action.target)
        };
        let native = flags & ActionFlags::NATIVE_TRANSFER != 0;
        let call = if flags & ActionFlags::ANY_SELECTOR != 0 {
            CallScope::Any
        } else if native && action.selector.is_zero() {
            CallScope::NativeTransfer
        } else if native {
            CallScope::FunctionOrNativeTransfer(action.selector)
        } else {
            CallScope::Function(action.selector)
        };
        let rules = action.rules.iter().map(ArgRule::from_onchain).collect::<Result<_, _>>()?;
        let mut out = Action::new(target, call);
        out.max_value_per_call = action.maxValuePerCall;
        out.rules = rules;
        out.period = Period::from_onchain(&action.period)?;
        out.max_uses = (action.maxUses != 0).then_some(action.maxUses);
        out.amount_cap = (flags & ActionFlags::AMOUNT_CAP != 0)
            .then(|| -> Result<_, Error> {
                let path = crate::path::unpack(&action.amountPath).map_err(Error::Malformed)?;
                Ok(AmountCap { offset: action.amountOffset, path, cap: action.amountCap })
            })
            .transpose()?;
        out.value_cap = (flags & ActionFlags::VALUE_CAP != 0).then_some(action.valueCap);
        Ok(out)
    }

    /// The model of a packed action; refuses bytes that are not exactly the packing of an action.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let action = Self::from_onchain(&unpack_action(bytes)?)?;
        check_canonical("the packed action", bytes, &action.encode()?)?;
        Ok(action)
    }
}

impl Session {
    /// The model of an on-chain `Session` and its actions; fails if the actions' tree does not have the
    /// session's `actionsRoot`.
    pub fn from_onchain(
        session: &onchain::Session,
        actions: &[onchain::Action],
    ) -> Result<Self, Error> {
        let kind = signer_kind_of(session.signerKind)?;
        let flags = session.flags;
        let known = SessionFlags::SUDO | SessionFlags::GAS_BUDGET | SessionFlags::SIGN_ANY;
        if flags & !known != 0 {
            return Err(Error::Malformed(format!("unknown session flags {:#04x}", flags & !known)));
        }
        let policy = SessionPolicy {
            name: None,
            valid_after: Timestamp(session.validAfter.to()),
            valid_until: (!session.validUntil.is_zero())
                .then(|| Timestamp(session.validUntil.to())),
            max_ops: (session.maxUses != 0)
                .then(|| {
                    Period::from_onchain(&session.usesPeriod)
                        .map(|period| UseLimit { count: session.maxUses, period })
                })
                .transpose()?,
            // The default budget of a policy that states neither budget nor paymaster reads back as unstated.
            gas_budget: (flags & SessionFlags::GAS_BUDGET != 0)
                .then_some(session.gasBudget)
                .filter(|b| *b != DEFAULT_GAS_BUDGET || !session.paymaster.is_zero()),
            paymaster: (!session.paymaster.is_zero()).then_some(session.paymaster),
            sudo: flags & SessionFlags::SUDO != 0,
            signing: SigningPolicy {
                any: flags & SessionFlags::SIGN_ANY != 0,
                typed_data: session
                    .signing
                    .iter()
                    .map(TypedDataScope::from_onchain)
                    .collect::<Result<_, _>>()?,
            },
            actions: actions.iter().map(Action::from_onchain).collect::<Result<_, _>>()?,
            salt: session.salt,
        };
        let decoded = Session { key: PublicKey { kind, public: session.signer.clone() }, policy };
        if decoded.policy.actions_root()? != session.actionsRoot {
            return Err(Error::Invalid(
                "the actions do not hash to the session's actionsRoot: the document was altered"
                    .into(),
            ));
        }
        Ok(decoded)
    }

    /// The model of a packed session and its packed actions, in order; refuses bytes that are not exactly the
    /// packing of a session or an action, and actions whose tree does not have the session's `actionsRoot`.
    pub fn decode<A: AsRef<[u8]>>(session: &[u8], actions: &[A]) -> Result<Self, Error> {
        let actions = actions
            .iter()
            .enumerate()
            .map(|(i, bytes)| {
                let bytes = bytes.as_ref();
                let action = unpack_action(bytes)
                    .and_then(|action| {
                        let reencoded = Action::from_onchain(&action)?.encode()?;
                        check_canonical("the packed action", bytes, &reencoded)?;
                        Ok(action)
                    })
                    .map_err(|e| Error::Malformed(format!("action {}: {e}", i + 1)))?;
                Ok(action)
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let decoded = Self::from_onchain(&unpack_session(session)?, &actions)?;
        check_canonical("the packed session", session, &decoded.encode()?)?;
        Ok(decoded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{pack_action, pack_session};
    use alloy::primitives::aliases::U96;

    fn policy() -> SessionPolicy {
        SessionPolicy::builder()
            .valid_after(Timestamp(1_700_000_000))
            .valid_until(Timestamp(1_900_000_000))
            .max_ops(
                5,
                Period::Windows(vec![Window {
                    start: Timestamp(1_750_000_000),
                    end: Timestamp(1_760_000_000),
                }]),
            )
            .sign_typed_data(TypedDataScope {
                name: None,
                verifier: Address::repeat_byte(0x11),
                type_hash: B256::repeat_byte(0x22),
                nested: vec![NestedStruct {
                    field: 0,
                    type_hash: B256::repeat_byte(0x33),
                    length: 64,
                }],
                rules: vec![ArgRule {
                    offset: 32,
                    path: vec![],
                    condition: Condition::Lte(U256::from(9)),
                }],
                encode_type: None,
                max_uses: None,
            })
            .action(
                Action::new(
                    Target::Contract(Address::repeat_byte(0x44)),
                    CallScope::Function(FixedBytes::repeat_byte(0xab)),
                )
                .with_max_uses(3)
                .with_period(Period::monthly()),
            )
            .action({
                let mut a = Action::new(Target::Any, CallScope::NativeTransfer)
                    .with_value_cap(U96::from(1_000u64));
                a.amount_cap = Some(AmountCap { offset: 32, path: vec![], cap: U96::from(7u64) });
                a.rules = vec![ArgRule {
                    offset: 0,
                    path: vec![],
                    condition: Condition::OneOf(vec![U256::from(1), U256::from(2)]),
                }];
                a
            })
            .salt(B256::repeat_byte(0x55))
            .build()
            .unwrap()
    }

    fn session(kind: SignerKind) -> Session {
        let public = Bytes::from(vec![0x66; signer_length(kind)]);
        Session { key: PublicKey { kind, public }, policy: policy() }
    }

    fn packed(session: &Session) -> (Bytes, Vec<Bytes>) {
        let actions = session.policy.actions.iter().map(|a| a.encode().unwrap()).collect();
        (session.encode().unwrap(), actions)
    }

    fn malformed(result: Result<impl std::fmt::Debug, Error>) -> String {
        match result {
            Err(Error::Malformed(message)) => message,
            other => panic!("expected a malformed-input error, got {other:?}"),
        }
    }

    #[test]
    fn sessions_and_actions_round_trip() {
        for kind in [SignerKind::Ecdsa, SignerKind::P256, SignerKind::WebAuthn] {
            let session = session(kind);
            let (bytes, actions) = packed(&session);
            let decoded = Session::decode(&bytes, &actions).unwrap();
            assert_eq!(decoded, session);
            assert_eq!(unpack_session(&bytes).unwrap(), session.to_onchain().unwrap());
            assert_eq!(pack_session(&unpack_session(&bytes).unwrap()).unwrap(), bytes);
            for (action, bytes) in session.policy.actions.iter().zip(&actions) {
                assert_eq!(&Action::decode(bytes).unwrap(), action);
                assert_eq!(pack_action(&unpack_action(bytes).unwrap()).unwrap(), *bytes);
            }
        }
    }

    #[test]
    fn every_truncation_is_refused() {
        let session = session(SignerKind::P256);
        let (bytes, actions) = packed(&session);
        for end in 0..bytes.len() {
            let message = malformed(unpack_session(&bytes[..end]));
            assert!(message.contains("truncated"), "{end}: {message}");
        }
        for action in &actions {
            for end in 0..action.len() {
                let message = malformed(unpack_action(&action[..end]));
                assert!(message.contains("truncated"), "{end}: {message}");
            }
        }
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let session = session(SignerKind::Ecdsa);
        let (bytes, actions) = packed(&session);
        let longer = [bytes.as_ref(), &[0]].concat();
        let message = malformed(unpack_session(&longer));
        assert!(message.contains("1 byte(s) after its end"), "{message}");
        let message = malformed(Session::decode(&longer, &actions));
        assert!(message.contains("after its end"), "{message}");
        let longer = [actions[0].as_ref(), &[0, 0]].concat();
        assert!(malformed(unpack_action(&longer)).contains("2 byte(s) after its end"));
        let message = malformed(Session::decode(&bytes, &[longer.as_slice(), &actions[1]]));
        assert!(message.starts_with("action 1:"), "{message}");
    }

    #[test]
    fn oversized_input_and_counts_past_their_bound_are_refused() {
        let message = malformed(unpack_session(&vec![1u8; MAX_LENGTH + 1]));
        assert!(message.contains("at most 65535"), "{message}");
        assert!(malformed(unpack_action(&vec![0u8; MAX_LENGTH + 1])).contains("at most 65535"));

        // A rule count past 32: the action is refused before its rules are read.
        let mut action = session(SignerKind::Ecdsa).policy.actions[0].encode().unwrap().to_vec();
        action[71] = 33;
        assert!(malformed(unpack_action(&action)).contains("33 rules; at most 32"));
        // A window count announcing more windows than the bytes hold.
        let mut action = session(SignerKind::Ecdsa).policy.actions[0].encode().unwrap().to_vec();
        let last = action.len() - 1;
        action[last] = 255;
        assert!(malformed(unpack_action(&action)).contains("truncated"));
    }

    #[test]
    fn another_version_or_signer_kind_is_refused() {
        let (bytes, _) = packed(&session(SignerKind::Ecdsa));
        let mut other = bytes.to_vec();
        other[0] = 2;
        assert!(malformed(unpack_session(&other)).contains("format version 2"));
        let mut other = bytes.to_vec();
        other[1] = 3;
        assert!(malformed(unpack_session(&other)).contains("unknown signer kind 3"));
    }

    #[test]
    fn bytes_the_model_would_not_encode_back_are_refused() {
        let session = session(SignerKind::Ecdsa);
        let (bytes, actions) = packed(&session);
        // An unknown session flag.
        let mut other = bytes.to_vec();
        other[2] |= 0x80;
        assert!(malformed(Session::decode(&other, &actions)).contains("unknown session flags"));
        // A monthly period with an anchor, which monthly periods ignore.
        let mut action = actions[0].to_vec();
        let period = action.len() - 20;
        assert_eq!(action[period], PeriodKind::Monthly as u8);
        action[period + 6] = 1;
        assert!(malformed(Action::decode(&action)).contains("not the encoding"));
        // An action that is not the one the session committed to.
        let mut action = actions[0].to_vec();
        action[44] ^= 1; // maxUses
        let error = Session::decode(&bytes, &[action.as_slice(), &actions[1]]).unwrap_err();
        assert!(error.to_string().contains("actionsRoot"), "{error}");
        // Missing an action.
        let error = Session::decode(&bytes, &actions[..1]).unwrap_err();
        assert!(error.to_string().contains("actionsRoot"), "{error}");
    }
}
