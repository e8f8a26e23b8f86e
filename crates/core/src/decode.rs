//! Back from the on-chain encoding to the model, for sessions that travel as encoded bytes (grant documents).

use crate::{
    model::{
        Action, ActivePart, AmountCap, ArgRule, CallScope, Condition, NestedStruct, Period,
        Session, SessionKey, SessionPolicy, SigningPolicy, Target, TypedDataScope, UseLimit,
        Window, DEFAULT_GAS_BUDGET,
    },
    Error, Timestamp,
};
use alloy::primitives::U256;
use leash_contracts::{
    bindings::SessionKeyValidator as onchain, ActionFlags, PeriodKind, RuleOp, SessionFlags,
    SignerKind,
};

impl Period {
    /// The model of an on-chain `Period`.
    pub fn decode(period: &onchain::Period) -> Result<Self, Error> {
        let active = ActivePart { from: period.activeFrom, duration: period.activeFor };
        Ok(match period.kind {
            k if k == PeriodKind::Lifetime as u8 => Period::Lifetime,
            k if k == PeriodKind::Fixed as u8 => Period::Every {
                start: Timestamp(period.anchor.to()),
                length: period.length,
                active,
            },
            k if k == PeriodKind::Monthly as u8 => Period::Monthly { active },
            k if k == PeriodKind::Windows as u8 => Period::Windows(
                period
                    .windows
                    .chunks(2)
                    .filter(|pair| pair.len() == 2)
                    .map(|pair| Window {
                        start: Timestamp(pair[0].to()),
                        end: Timestamp(pair[1].to()),
                    })
                    .collect(),
            ),
            other => return Err(Error::Invalid(format!("unknown period kind {other}"))),
        })
    }
}

impl ArgRule {
    /// The model of an on-chain `ArgRule`.
    pub fn decode(rule: &onchain::ArgRule) -> Result<Self, Error> {
        let values: Vec<U256> = rule.values.iter().map(|v| U256::from_be_bytes(v.0)).collect();
        let one = || {
            values.first().copied().filter(|_| values.len() == 1).ok_or_else(|| {
                Error::Invalid(format!("rule operator {} takes one operand", rule.op))
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
            op => return Err(Error::Invalid(format!("unknown or malformed rule operator {op}"))),
        };
        Ok(ArgRule { offset: rule.offset, condition })
    }
}

impl TypedDataScope {
    /// The model of an on-chain `TypedDataScope` (without name or type string, which the chain does not keep).
    pub fn decode(scope: &onchain::TypedDataScope) -> Result<Self, Error> {
        Ok(Self {
            name: None,
            verifier: scope.verifier,
            type_hash: scope.typeHash,
            nested: scope
                .nested
                .iter()
                .map(|n| NestedStruct { field: n.field, type_hash: n.typeHash, length: n.length })
                .collect(),
            rules: scope.rules.iter().map(ArgRule::decode).collect::<Result<_, _>>()?,
            encode_type: None,
        })
    }
}

impl Action {
    /// The model of an on-chain `Action` (without name or ABI, which the chain does not keep).
    pub fn decode(action: &onchain::Action) -> Result<Self, Error> {
        let flags = action.flags;
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
        let rules = action.rules.iter().map(ArgRule::decode).collect::<Result<_, _>>()?;
        let mut out = Action::new(target, call);
        out.max_value_per_call = action.maxValuePerCall;
        out.rules = rules;
        out.period = Period::decode(&action.period)?;
        out.max_uses = (action.maxUses != 0).then_some(action.maxUses);
        out.amount_cap = (flags & ActionFlags::AMOUNT_CAP != 0)
            .then_some(AmountCap { offset: action.amountOffset, cap: action.amountCap });
        out.value_cap = (flags & ActionFlags::VALUE_CAP != 0).then_some(action.valueCap);
        Ok(out)
    }
}

impl Session {
    /// The model of an on-chain `Session` and its actions; fails if the actions do not hash to its
    /// `actionsHash`.
    pub fn decode(session: &onchain::Session, actions: &[onchain::Action]) -> Result<Self, Error> {
        let kind = match session.signerKind {
            0 => SignerKind::Ecdsa,
            1 => SignerKind::P256,
            2 => SignerKind::WebAuthn,
            other => return Err(Error::Invalid(format!("unknown signer kind {other}"))),
        };
        let flags = session.flags;
        let policy = SessionPolicy {
            name: None,
            valid_after: Timestamp(session.validAfter.to()),
            valid_until: (!session.validUntil.is_zero())
                .then(|| Timestamp(session.validUntil.to())),
            max_ops: (session.maxUses != 0)
                .then(|| {
                    Period::decode(&session.usesPeriod)
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
                    .map(TypedDataScope::decode)
                    .collect::<Result<_, _>>()?,
            },
            actions: actions.iter().map(Action::decode).collect::<Result<_, _>>()?,
            salt: session.salt,
        };
        let decoded = Session { key: SessionKey { kind, public: session.signer.clone() }, policy };
        if decoded.policy.actions_hash() != session.actionsHash {
            return Err(Error::Invalid(
                "the actions do not hash to the session's actionsHash: the document was altered"
                    .into(),
            ));
        }
        Ok(decoded)
    }
}
