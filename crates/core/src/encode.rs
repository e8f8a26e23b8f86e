//! The exact on-chain encoding of sessions and actions, their hashes, and the session part of a UserOperation's
//! signature.

use crate::model::{
    Action, ArgRule, CallScope, Period, Session, SessionPolicy, Target, TypedDataScope,
};
use alloy::{
    primitives::{aliases::U48, keccak256, Bytes, B256},
    sol_types::SolValue,
};
use leash_contracts::{
    bindings::SessionKeyValidator as onchain, ActionFlags, PeriodKind, SessionFlags, SignatureMode,
};

fn u48(seconds: u64) -> U48 {
    U48::from(seconds.min(crate::Timestamp::MAX.0))
}

impl Period {
    /// The on-chain `Period` struct.
    pub fn encode(&self) -> onchain::Period {
        let mut out = onchain::Period {
            kind: PeriodKind::Lifetime as u8,
            anchor: U48::ZERO,
            length: 0,
            activeFrom: 0,
            activeFor: 0,
            windows: Vec::new(),
        };
        match self {
            Period::Lifetime => {}
            Period::Every { start, length, active } => {
                out.kind = PeriodKind::Fixed as u8;
                out.anchor = u48(start.0);
                out.length = *length;
                out.activeFrom = active.from;
                out.activeFor = active.duration;
            }
            Period::Monthly { active } => {
                out.kind = PeriodKind::Monthly as u8;
                out.activeFrom = active.from;
                out.activeFor = active.duration;
            }
            Period::Windows(windows) => {
                out.kind = PeriodKind::Windows as u8;
                out.windows = windows.iter().flat_map(|w| [u48(w.start.0), u48(w.end.0)]).collect();
            }
        }
        out
    }
}

impl ArgRule {
    /// The on-chain `ArgRule` struct.
    pub fn encode(&self) -> onchain::ArgRule {
        onchain::ArgRule {
            op: self.condition.op() as u8,
            offset: self.offset,
            values: self.condition.operands().into_iter().map(B256::from).collect(),
        }
    }
}

impl TypedDataScope {
    /// The on-chain `TypedDataScope` struct.
    pub fn encode(&self) -> onchain::TypedDataScope {
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
            rules: self.rules.iter().map(ArgRule::encode).collect(),
        }
    }
}

impl Action {
    /// The on-chain `Action` struct.
    pub fn encode(&self) -> onchain::Action {
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
            rules: self.rules.iter().map(ArgRule::encode).collect(),
            period: self.period.encode(),
            maxUses: self.max_uses.unwrap_or(0),
            amountOffset: self.amount_cap.map_or(0, |c| c.offset),
            amountCap: self.amount_cap.map_or(Default::default(), |c| c.cap),
            valueCap: self.value_cap.unwrap_or_default(),
        }
    }

    /// The action's hash, as a grant lists it: `keccak256(abi.encode(action))`.
    pub fn hash(&self) -> B256 {
        keccak256(self.encode().abi_encode())
    }
}

impl SessionPolicy {
    /// The hashes of the actions, in order (what a grant carries).
    pub fn action_hashes(&self) -> Vec<B256> {
        self.actions.iter().map(Action::hash).collect()
    }

    /// `keccak256(abi.encodePacked(actionHashes))`.
    pub fn actions_hash(&self) -> B256 {
        let hashes = self.action_hashes();
        keccak256(hashes.iter().flat_map(|h| h.0).collect::<Vec<u8>>())
    }
}

impl Session {
    /// The on-chain `Session` struct.
    pub fn encode(&self) -> onchain::Session {
        let policy = &self.policy;
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
        onchain::Session {
            signerKind: self.key.kind as u8,
            signer: self.key.public.clone(),
            validAfter: u48(policy.valid_after.0),
            validUntil: policy.valid_until.map_or(U48::ZERO, |t| u48(t.0)),
            maxUses: policy.max_ops.as_ref().map_or(0, |l| l.count),
            usesPeriod: policy
                .max_ops
                .as_ref()
                .map_or(Period::Lifetime, |l| l.period.clone())
                .encode(),
            gasBudget: gas_budget.unwrap_or(0),
            paymaster: policy.paymaster.unwrap_or_default(),
            flags,
            signing: policy.signing.typed_data.iter().map(TypedDataScope::encode).collect(),
            actionsHash: policy.actions_hash(),
            salt: policy.salt,
        }
    }

    /// The session's id: `keccak256(abi.encode(session))`, as the module computes it.
    pub fn id(&self) -> B256 {
        keccak256(self.encode().abi_encode())
    }
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionUse<'a> {
    /// The session.
    pub session: &'a Session,
    /// For each call, the index of its action in the session.
    pub call_actions: &'a [usize],
    /// The time the operation means to run at.
    pub time: u64,
    /// The session key's signature.
    pub signature: Bytes,
    /// A lazy grant: the session is granted by this operation.
    pub grant: Option<GrantProof>,
}

impl SessionUse<'_> {
    /// The UserOperation's `signature` field: mode byte, then `abi.encode(SessionUse[, Grant])`.
    ///
    /// Only the actions the calls use travel in the operation (deduplicated), so its size does not grow with
    /// the session's other actions.
    pub fn encode(&self) -> Bytes {
        let actions = &self.session.policy.actions;
        let mut used: Vec<usize> = Vec::new();
        let mut indices = Vec::with_capacity(self.call_actions.len());
        for &action in self.call_actions {
            // An index outside the session carries no action: the module refuses that call (MissingCallAction).
            if action >= actions.len() {
                indices.push(u8::MAX);
                continue;
            }
            let position = used.iter().position(|&u| u == action).unwrap_or_else(|| {
                used.push(action);
                used.len() - 1
            });
            indices.push(position as u8);
        }
        // `SessionUse` and `Grant` only travel in calldata, so the ABI has no struct for them: their fields are
        // encoded as tuples, which is the same encoding.
        let body = (
            self.session.encode(),
            used.iter().map(|&i| actions[i].encode()).collect::<Vec<_>>(),
            Bytes::from(indices),
            u48(self.time),
            self.signature.clone(),
        );
        let (mode, encoded) = match &self.grant {
            None => (SignatureMode::Use, (body,).abi_encode_params()),
            Some(grant) => {
                let grant = (
                    self.session.policy.action_hashes(),
                    grant.proof.clone(),
                    grant.epoch,
                    grant.owner_signature.clone(),
                );
                (SignatureMode::GrantAndUse, (body, grant).abi_encode_params())
            }
        };
        let mut out = Vec::with_capacity(1 + encoded.len());
        out.push(mode as u8);
        out.extend_from_slice(&encoded);
        out.into()
    }
}
