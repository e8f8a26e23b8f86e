//! Pre-flight: evaluates a batch of calls against a session and the chain's counters exactly as the module's
//! `validateUserOp` would, before anything is signed. A differential test holds it to the chain's verdicts.

use crate::{
    model::{Action, AmountCap, CallScope, Condition, Session, Target},
    period::PeriodError,
    PeriodSlot,
};
use alloy::primitives::{aliases::U48, Address, Bytes, FixedBytes, B256, U256};
use leash_contracts::{
    bindings::SessionKeyValidator as onchain, ENTRYPOINTS, MAX_BATCH, MAX_RULES,
};
use onchain::SessionKeyValidatorErrors as E;
use std::collections::{HashMap, HashSet};

const NO_END: u64 = (1 << 48) - 1;

/// One call of a batch.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Call {
    /// The contract (or address) called.
    pub target: Address,
    /// Native value sent (wei).
    #[serde(default)]
    pub value: U256,
    /// The calldata (empty for a plain transfer).
    #[serde(default)]
    pub data: Bytes,
}

/// A session's state on chain for one account, as the module's and the account's views return it.
///
/// The default is a fresh account with the module installed (as the leash factory creates it): nothing
/// granted, epoch 0, no other module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainState {
    /// `isInstalled(account)`: the module is installed on the account (an undeployed account: it will be at
    /// creation). Without it the account never consults the module and no grant is possible (`NotInstalled`).
    pub installed: bool,
    /// `sessionRecord(account, id)`.
    pub session: SessionRecord,
    /// `epochOf(account)`.
    pub epoch: u32,
    /// `actionRecord(account, id, hash)` by action hash (actions with equal contents share one record). An
    /// action's record exists (`enabled`) once it was used with counters; one without counters never has one.
    pub actions: HashMap<B256, ActionRecord>,
    /// Call targets known to be modules installed on the account (the account's `isModule`): a session may
    /// never call them. Only the targets of the calls evaluated need to be known.
    pub modules: HashSet<Address>,
}

impl Default for ChainState {
    fn default() -> Self {
        Self {
            installed: true,
            session: SessionRecord::default(),
            epoch: 0,
            actions: HashMap::new(),
            modules: HashSet::new(),
        }
    }
}

/// Whether a session is granted, as stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SessionState {
    /// Never granted.
    #[default]
    None,
    /// Granted (live if its epoch is the account's).
    Enabled,
    /// Revoked for good.
    Revoked,
}

/// The session's stored counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionRecord {
    /// Stored state.
    pub state: SessionState,
    /// The epoch it was granted in.
    pub epoch: u32,
    /// The period of `uses`.
    pub uses_period: u32,
    /// Operations counted in `uses_period`.
    pub uses: u32,
    /// Wei of gas committed so far.
    pub gas_spent: u128,
}

/// One action's stored counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ActionRecord {
    /// The record exists: the action proved it belongs to the session (its first use), so later operations
    /// may carry it without its proof.
    pub enabled: bool,
    /// The period the counters belong to.
    pub period: u32,
    /// Calls counted.
    pub uses: u32,
    /// Amount summed.
    pub amount_spent: u128,
    /// Native value summed.
    pub value_spent: u128,
}

/// The gas fields of a UserOperation that the gas budget charges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpGas {
    /// `preVerificationGas`.
    pub pre_verification_gas: u128,
    /// `verificationGasLimit`.
    pub verification_gas_limit: u128,
    /// `callGasLimit`.
    pub call_gas_limit: u128,
    /// `paymasterVerificationGasLimit` (counted when a paymaster is used).
    pub paymaster_verification_gas_limit: u128,
    /// `paymasterPostOpGasLimit` (counted when a paymaster is used).
    pub paymaster_post_op_gas_limit: u128,
    /// `maxFeePerGas`.
    pub max_fee_per_gas: u128,
}

impl OpGas {
    /// The most wei the operation may cost: what the session's gas budget is charged.
    pub fn max_cost(&self, with_paymaster: bool) -> U256 {
        let mut gas = U256::from(self.pre_verification_gas)
            + U256::from(self.verification_gas_limit)
            + U256::from(self.call_gas_limit);
        if with_paymaster {
            gas += U256::from(self.paymaster_verification_gas_limit)
                + U256::from(self.paymaster_post_op_gas_limit);
        }
        gas * U256::from(self.max_fee_per_gas)
    }
}

/// The operation being checked: where, when and with what gas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {
    /// The smart account.
    pub account: Address,
    /// The session-key module.
    pub module: Address,
    /// The time the operation states (it picks the periods charged).
    pub time: u64,
    /// Gas fields.
    pub gas: OpGas,
    /// The paymaster, if any.
    pub paymaster: Option<Address>,
    /// The operation grants the session itself (lazy grant), with the owner's signature for this account
    /// epoch (the module refuses any other epoch: `GrantVoidedByRevokeAll`).
    pub grant: Option<u32>,
}

/// What the module would do with an allowed operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowed {
    /// First second the operation may execute.
    pub valid_after: u64,
    /// Last second it may execute.
    pub valid_until: u64,
    /// For each call, the index of the session action it uses (`None` under sudo).
    pub call_actions: Vec<Option<usize>>,
    /// The state after the operation.
    pub after: ChainState,
}

/// Why an operation would be rejected: the module's error (exactly as the chain would revert with it), in words
/// with [`Rejection::explain`] and in machine form with [`Rejection::to_json`].
///
/// ```
/// use alloy::primitives::U256;
/// use leash_contracts::bindings::SessionKeyValidator::{SessionKeyValidatorErrors, UseLimitExceeded};
/// use leash_core::{Action, CallScope, Rejection, Session, PublicKey, SessionPolicy, Target, TokenTable};
///
/// let session = Session {
///     key: PublicKey::ecdsa(alloy::primitives::Address::repeat_byte(1)),
///     policy: SessionPolicy::builder().action(Action::new(Target::Any, CallScope::Any)).build()?,
/// };
/// let rejection = Rejection::Module(SessionKeyValidatorErrors::UseLimitExceeded(UseLimitExceeded {
///     callIndex: U256::ZERO,
///     uses: U256::from(2),
///     maxUses: U256::from(1),
/// }));
/// assert_eq!(rejection.rule(), "UseLimitExceeded");
/// assert_eq!(
///     rejection.explain(&session, &TokenTable::default()),
///     "call 1: the action allows 1 call per period; this would be call number 2"
/// );
/// assert_eq!(rejection.to_json(&session, &TokenTable::default())["call"], 0);
/// # Ok::<(), leash_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The module would revert with this error (the EntryPoint reports it as AA23).
    Module(E),
    /// The module would fail on arithmetic overflow (`Panic(0x11)`), e.g. an amount argument near 2^256 after
    /// earlier spending; the chain refuses the operation all the same.
    Overflow,
    /// The module's window does not include the current time (the EntryPoint's AA22).
    OutOfTime {
        /// The chain's current time.
        now: u64,
        /// The window the module returns.
        valid_after: u64,
        /// Its last second.
        valid_until: u64,
    },
}

fn u48(v: u64) -> U48 {
    U48::from(v.min(NO_END))
}

fn period_error(e: PeriodError) -> E {
    match e {
        PeriodError::Invalid(kind) => E::InvalidPeriod(onchain::InvalidPeriod { kind }),
        PeriodError::Outside { time, start, end } => {
            E::OutsidePeriodWindow(onchain::OutsidePeriodWindow {
                time: u48(time),
                windowStart: u48(start),
                windowEnd: u48(end),
            })
        }
    }
}

/// The session checker: holds the session and its action hashes so that each evaluation only does the work
/// the module does.
///
/// ```
/// use alloy::primitives::{address, aliases::U96, Address, U256};
/// use leash_core::{
///     encode_call, Action, Call, ChainState, Evaluator, Operation, Session, PublicKey, SessionPolicy,
/// };
///
/// let usdc = address!("A0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48");
/// let policy = SessionPolicy::builder()
///     .action(Action::call(usdc, "transfer(address to, uint256 amount)")?
///         .with_amount_cap("amount", U96::from(100_000_000u64))?)
///     .build()?;
/// let session = Session { key: PublicKey::ecdsa(Address::repeat_byte(1)), policy };
/// let evaluator = Evaluator::new(&session)?;
/// let op = Operation {
///     account: Address::repeat_byte(2), module: Address::repeat_byte(3), time: 1_800_000_000,
///     gas: Default::default(), paymaster: None, grant: Some(0),
/// };
/// let pay = |amount: u64| Call {
///     target: usdc,
///     value: U256::ZERO,
///     data: encode_call("transfer(address,uint256)", &[Address::repeat_byte(9).into_word().into(), U256::from(amount)]).unwrap(),
/// };
/// assert!(evaluator.evaluate(&[pay(60_000_000)], &op, &ChainState::default()).is_ok());
/// let rejected = evaluator.evaluate(&[pay(60_000_000), pay(60_000_000)], &op, &ChainState::default()).unwrap_err();
/// assert_eq!(rejected.rule(), "AmountLimitExceeded");
/// # Ok::<(), leash_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Evaluator<'a> {
    session: &'a Session,
    id: B256,
    hashes: std::borrow::Cow<'a, [B256]>,
    shape_ok: bool,
    /// The encoded session has a gas budget or a required paymaster (else `GasBudgetRequired` at grant).
    fees_bounded: bool,
}

impl<'a> Evaluator<'a> {
    /// Prepares `session` for evaluation (hashes it once); fails if the session does not pack
    /// ([`crate::Error::Encoding`]).
    pub fn new(session: &'a Session) -> Result<Self, crate::Error> {
        Ok(Self::build(session, session.id()?, session.policy.action_hashes()?.into()))
    }

    /// Prepares `session` with its id and action hashes already computed (an agent keeps them, since hashing
    /// the session costs more than evaluating it).
    pub fn prepared(session: &'a Session, id: B256, action_hashes: &'a [B256]) -> Self {
        Self::build(session, id, action_hashes.into())
    }

    fn build(session: &'a Session, id: B256, hashes: std::borrow::Cow<'a, [B256]>) -> Self {
        let policy = &session.policy;
        let key = &session.key;
        let signer_ok = match key.kind {
            leash_contracts::SignerKind::Ecdsa => {
                key.public.len() == 20 && key.public.iter().any(|b| *b != 0)
            }
            _ => key.public.len() == 64,
        };
        let until = policy.valid_until.map_or(NO_END, |t| t.as_u48());
        let until = if until == 0 { NO_END } else { until };
        let fees_bounded = policy.effective_gas_budget().is_some()
            || policy.paymaster.is_some_and(|p| !p.is_zero());
        Self {
            session,
            id,
            hashes,
            shape_ok: signer_ok && policy.valid_after.as_u48() <= until,
            fees_bounded,
        }
    }

    /// The session's id.
    pub fn session_id(&self) -> B256 {
        self.id
    }

    /// The hashes of the session's actions, in order.
    pub fn action_hashes(&self) -> &[B256] {
        &self.hashes
    }

    /// The session's actions (by index) whose record exists in `state`: an operation carries them without
    /// their Merkle proof ([`crate::SessionUse::recorded`]).
    pub fn recorded(&self, state: &ChainState) -> Vec<usize> {
        (0..self.hashes.len())
            .filter(|&a| state.actions.get(&self.hashes[a]).is_some_and(|r| r.enabled))
            .collect()
    }

    /// The hash of the actions the calls are charged to ([`crate::calls_hash`]), which the session key signs in
    /// [`crate::use_digest`]: under sudo no action is charged.
    pub fn calls_hash(&self, call_actions: &[Option<usize>]) -> B256 {
        if self.session.policy.sudo {
            return crate::calls_hash(&[]);
        }
        let charged: Vec<B256> = call_actions
            .iter()
            .map(|a| a.and_then(|a| self.hashes.get(a).copied()).unwrap_or_default())
            .collect();
        crate::calls_hash(&charged)
    }

    /// Evaluates `calls` (one call is sent as a single execution, more as a batch), choosing for each call the
    /// first session action under which it, and the calls before it, would pass (see
    /// [`Evaluator::choose_actions`]). Returns the window and charges, or the rule that rejects.
    pub fn evaluate(
        &self,
        calls: &[Call],
        op: &Operation,
        state: &ChainState,
    ) -> Result<Allowed, Rejection> {
        let (chosen, verdict) = self.choose(calls, op, state);
        verdict.unwrap_or_else(|| self.evaluate_with(calls, &chosen, op, state))
    }

    /// The action each call would use: the first under which the batch so far passes (counters included, so
    /// an exhausted action gives way to the next one that fits); when none does, the action whose check got
    /// furthest, so that the rejection names the rule that matters. `None` under sudo.
    pub fn choose_actions(
        &self,
        calls: &[Call],
        op: &Operation,
        state: &ChainState,
    ) -> Vec<Option<usize>> {
        self.choose(calls, op, state).0
    }

    /// The choice, and the full verdict when the last choice already computed it.
    fn choose(
        &self,
        calls: &[Call],
        op: &Operation,
        state: &ChainState,
    ) -> (Vec<Option<usize>>, Option<Result<Allowed, Rejection>>) {
        let actions = &self.session.policy.actions;
        if self.session.policy.sudo || actions.is_empty() {
            return (vec![None; calls.len()], None);
        }
        let mut chosen: Vec<Option<usize>> = Vec::with_capacity(calls.len());
        let mut last = None;
        for i in 0..calls.len() {
            let mut best: Option<(u8, usize)> = None;
            let mut picked = None;
            for a in 0..actions.len() {
                chosen.push(Some(a));
                let verdict = self.evaluate_with(&calls[..=i], &chosen, op, state);
                chosen.pop();
                let rank = match &verdict {
                    Ok(_) => None,
                    Err(rejection) if rejection.call_index() == Some(i) => Some(reach(rejection)),
                    // Refused for a reason that is not this call's (the session, an earlier call, the window):
                    // the action does not change the verdict.
                    Err(_) => None,
                };
                match rank {
                    None => {
                        picked = Some(a);
                        last = Some(verdict);
                        break;
                    }
                    Some(rank) if best.is_none_or(|(r, _)| rank > r) => best = Some((rank, a)),
                    Some(_) => {}
                }
            }
            if picked.is_none() {
                last = None;
            }
            chosen.push(picked.or(best.map(|(_, a)| a)));
        }
        // When the last call picked a fit, its evaluation covered the whole batch with exactly these choices.
        (chosen, last)
    }

    /// Evaluates `calls` with the given action for each call (`None` when no action is carried for it), each
    /// action carried with its Merkle proof when its record does not exist yet (as the SDK sends it).
    pub fn evaluate_with(
        &self,
        calls: &[Call],
        call_actions: &[Option<usize>],
        op: &Operation,
        state: &ChainState,
    ) -> Result<Allowed, Rejection> {
        self.evaluate_unproven(calls, call_actions, &[], op, state)
    }

    /// [`Evaluator::evaluate_with`] for an operation that carries the session actions listed in `unproven`
    /// without their Merkle proof (what [`crate::SessionUse`] does for its `recorded` actions): the module
    /// refuses a call to such an action unless its record exists (`ActionNotGranted`).
    pub fn evaluate_unproven(
        &self,
        calls: &[Call],
        call_actions: &[Option<usize>],
        unproven: &[usize],
        op: &Operation,
        state: &ChainState,
    ) -> Result<Allowed, Rejection> {
        let policy = &self.session.policy;
        let id = self.id;
        let mut after = state.clone();

        // The account consults the module only when it is installed (an undeployed account installs it at
        // creation); a lazy grant would revert with `NotInstalled` all the same.
        if !after.installed {
            return Err(Rejection::Module(E::NotInstalled(onchain::NotInstalled {
                account: op.account,
            })));
        }

        // _enter: a lazy grant first checks the owner's grant, then installs the session.
        if let Some(grant_epoch) = op.grant {
            if grant_epoch != after.epoch {
                return Err(Rejection::Module(E::GrantVoidedByRevokeAll(
                    onchain::GrantVoidedByRevokeAll {
                        sessionId: id,
                        grantEpoch: grant_epoch,
                        accountEpoch: after.epoch,
                    },
                )));
            }
            if after.session.state == SessionState::Revoked {
                return Err(Rejection::Module(E::SessionIsRevoked(onchain::SessionIsRevoked {
                    sessionId: id,
                })));
            }
            if !(after.session.state == SessionState::Enabled && after.session.epoch == after.epoch)
            {
                if !self.shape_ok {
                    return Err(Rejection::Module(E::InvalidSession(onchain::InvalidSession {
                        sessionId: id,
                    })));
                }
                if !self.fees_bounded {
                    return Err(Rejection::Module(E::GasBudgetRequired(
                        onchain::GasBudgetRequired { sessionId: id },
                    )));
                }
                after.session.state = SessionState::Enabled;
                after.session.epoch = after.epoch;
            }
        }

        // _chargeSession: _liveSession
        let record = &mut after.session;
        if record.state == SessionState::Revoked {
            return Err(Rejection::Module(E::SessionIsRevoked(onchain::SessionIsRevoked {
                sessionId: id,
            })));
        }
        if record.state != SessionState::Enabled {
            return Err(Rejection::Module(E::SessionNotGranted(onchain::SessionNotGranted {
                sessionId: id,
            })));
        }
        if record.epoch != after.epoch {
            return Err(Rejection::Module(E::SessionVoidedByRevokeAll(
                onchain::SessionVoidedByRevokeAll { sessionId: id },
            )));
        }
        let mut valid_after = policy.valid_after.as_u48();
        let mut valid_until = match policy.valid_until.map(|t| t.as_u48()) {
            None | Some(0) => NO_END,
            Some(t) => t,
        };
        if let Some(required) = policy.paymaster.filter(|p| !p.is_zero()) {
            let used = op.paymaster.unwrap_or_default();
            if used != required {
                return Err(Rejection::Module(E::PaymasterRequired(onchain::PaymasterRequired {
                    required,
                    used,
                })));
            }
        }
        if let Some(budget) = policy.effective_gas_budget() {
            let cost = op.gas.max_cost(op.paymaster.is_some());
            let spent = U256::from(record.gas_spent);
            let budget = U256::from(budget);
            if cost > budget || spent > budget - cost {
                return Err(Rejection::Module(E::GasBudgetExceeded(onchain::GasBudgetExceeded {
                    spent,
                    cost,
                    budget,
                })));
            }
            record.gas_spent = (spent + cost).to::<u128>();
        }
        if let Some(limit) = policy.max_ops.as_ref().filter(|l| l.count != 0) {
            let slot =
                limit.period.resolve(op.time).map_err(|e| Rejection::Module(period_error(e)))?;
            if slot.index < record.uses_period {
                return Err(Rejection::Module(E::PeriodInPast(onchain::PeriodInPast {
                    charged: record.uses_period,
                    stated: slot.index,
                })));
            }
            let uses = if slot.index == record.uses_period { record.uses } else { 0 };
            if uses >= limit.count {
                return Err(Rejection::Module(E::SessionUseLimitExceeded(
                    onchain::SessionUseLimitExceeded { uses: uses + 1, maxUses: limit.count },
                )));
            }
            record.uses_period = slot.index;
            record.uses = uses + 1;
            (valid_after, valid_until) = intersect(valid_after, valid_until, slot);
        }

        // _chargeCalls
        if calls.len() > 1 && calls.len() > MAX_BATCH {
            return Err(Rejection::Module(E::BatchTooLarge(onchain::BatchTooLarge {
                calls: U256::from(calls.len()),
                max: U256::from(MAX_BATCH),
            })));
        }
        for (i, call) in calls.iter().enumerate() {
            let index = U256::from(i);
            if forbidden(call.target, op, &after) {
                return Err(Rejection::Module(E::ForbiddenTarget(onchain::ForbiddenTarget {
                    callIndex: index,
                    target: call.target,
                })));
            }
            if policy.sudo {
                continue;
            }
            let Some(a) =
                call_actions.get(i).copied().flatten().filter(|a| *a < policy.actions.len())
            else {
                return Err(Rejection::Module(E::MissingCallAction(onchain::MissingCallAction {
                    callIndex: index,
                })));
            };
            let action = &policy.actions[a];
            check_call(i, action, call).map_err(Rejection::Module)?;
            // _load: an action without a record proves it belongs to the session (its Merkle proof, which the
            // operation carries unless told otherwise). The only action of a session is the root itself: its
            // proof is empty, so it needs none.
            let hash = self.hashes[a];
            let mut record = after.actions.get(&hash).copied().unwrap_or_default();
            if !record.enabled && unproven.contains(&a) && self.hashes.len() != 1 {
                return Err(Rejection::Module(E::ActionNotGranted(onchain::ActionNotGranted {
                    callIndex: index,
                    actionHash: hash,
                })));
            }
            record.enabled = true;
            let slot =
                action.period.resolve(op.time).map_err(|e| Rejection::Module(period_error(e)))?;
            if slot.index < record.period {
                return Err(Rejection::Module(E::PeriodInPast(onchain::PeriodInPast {
                    charged: record.period,
                    stated: slot.index,
                })));
            }
            if slot.index != record.period {
                record = ActionRecord { enabled: true, period: slot.index, ..Default::default() };
            }
            charge(i, action, call, &mut record).map_err(|e| match e {
                ChargeError::Module(e) => Rejection::Module(e),
                ChargeError::Overflow => Rejection::Overflow,
            })?;
            // Only an action with counters is written; one without stays unrecorded (and proves itself again).
            if action.has_counters() {
                after.actions.insert(hash, record);
            }
            (valid_after, valid_until) = intersect(valid_after, valid_until, slot);
        }

        if valid_after > valid_until || valid_until == 0 {
            return Err(Rejection::Module(E::EmptyValidityWindow(onchain::EmptyValidityWindow {
                validAfter: u48(valid_after),
                validUntil: u48(valid_until),
            })));
        }
        Ok(Allowed { valid_after, valid_until, call_actions: call_actions.to_vec(), after })
    }
}

/// `CallPolicyLib.checkTarget`: what a session may never call, whatever its policy (sudo included): the
/// account (its address, or `address(0)`, which OpenZeppelin's executor calls as the account itself), the
/// module, a canonical EntryPoint, or any module installed on the account.
fn forbidden(target: Address, op: &Operation, state: &ChainState) -> bool {
    target == op.account
        || target.is_zero()
        || target == op.module
        || ENTRYPOINTS.contains(&target)
        || state.modules.contains(&target)
}

/// How far a call got through its action's checks before `rejection` (higher is further).
fn reach(rejection: &Rejection) -> u8 {
    match rejection {
        Rejection::Module(E::TargetNotAllowed(_)) => 0,
        Rejection::Module(E::SelectorNotAllowed(_) | E::NativeTransferNotAllowed(_)) => 1,
        Rejection::Module(E::ValuePerCallExceeded(_)) => 2,
        Rejection::Module(
            E::TooManyRules(_)
            | E::ArgumentOutOfBounds(_)
            | E::MalformedArguments(_)
            | E::NoSuchElement(_)
            | E::TooManyElements(_)
            | E::InvalidRule(_)
            | E::ArgumentRuleFailed(_),
        ) => 3,
        _ => 4,
    }
}

fn intersect(after: u64, until: u64, slot: PeriodSlot) -> (u64, u64) {
    (after.max(slot.start), until.min(slot.last))
}

/// The amount an action's cap sums in a call: the word at its offset (`CallPolicyLib.argumentWord`) or where its
/// path leads (`ArgumentPaths.amount`).
fn amount_of(i: usize, data: &[u8], cap: &AmountCap) -> Result<U256, E> {
    let mut amount = U256::ZERO;
    crate::path::follow(i, 0, data, cap.offset, &cap.path, true, &mut |value| {
        amount = value;
        Ok(())
    })?;
    Ok(amount)
}

/// Whether `value` passes rule `r` (`CallPolicyLib.ruleHolds`), as the module's error when it does not.
fn rule_verdict(i: usize, r: usize, condition: &Condition, value: U256) -> Result<(), E> {
    match condition.holds(value) {
        Some(true) => Ok(()),
        Some(false) => Err(E::ArgumentRuleFailed(onchain::ArgumentRuleFailed {
            callIndex: U256::from(i),
            ruleIndex: U256::from(r),
            op: condition.op() as u8,
            value: B256::from(value),
        })),
        None => Err(E::InvalidRule(onchain::InvalidRule {
            callIndex: U256::from(i),
            ruleIndex: U256::from(r),
        })),
    }
}

/// `CallPolicyLib.checkCall`: target, function, per-call value and argument rules.
fn check_call(i: usize, action: &Action, call: &Call) -> Result<(), E> {
    let index = U256::from(i);
    if let Target::Contract(allowed) = action.target {
        if call.target != allowed {
            return Err(E::TargetNotAllowed(onchain::TargetNotAllowed {
                callIndex: index,
                target: call.target,
                allowed,
            }));
        }
    }
    let (native_ok, selector) = match action.call {
        CallScope::Any => (true, None),
        CallScope::Function(s) => (false, Some(s)),
        CallScope::NativeTransfer => (true, Some(FixedBytes::ZERO)),
        CallScope::FunctionOrNativeTransfer(s) => (true, Some(s)),
    };
    if let Some(allowed) = selector {
        if call.data.is_empty() {
            if !native_ok {
                return Err(E::NativeTransferNotAllowed(onchain::NativeTransferNotAllowed {
                    callIndex: index,
                }));
            }
        } else if call.data.len() < 4 {
            return Err(E::NativeTransferNotAllowed(onchain::NativeTransferNotAllowed {
                callIndex: index,
            }));
        } else {
            let called = FixedBytes::<4>::from_slice(&call.data[..4]);
            if called != allowed {
                return Err(E::SelectorNotAllowed(onchain::SelectorNotAllowed {
                    callIndex: index,
                    selector: called,
                    allowed,
                }));
            }
        }
    }
    if call.value > U256::from(action.max_value_per_call) {
        return Err(E::ValuePerCallExceeded(onchain::ValuePerCallExceeded {
            callIndex: index,
            value: call.value,
            max: U256::from(action.max_value_per_call),
        }));
    }
    if action.rules.len() > MAX_RULES {
        return Err(E::TooManyRules(onchain::TooManyRules {
            count: U256::from(action.rules.len()),
            max: U256::from(MAX_RULES),
        }));
    }
    for (r, rule) in action.rules.iter().enumerate() {
        // A rule without a path reads the word at its offset, with the same bounds and errors.
        crate::path::follow(i, r, &call.data, rule.offset, &rule.path, false, &mut |value| {
            rule_verdict(i, r, &rule.condition, value)
        })?;
    }
    Ok(())
}

/// `_charge`: use count, amount and value against the action's caps for the period.
/// Why charging failed: a module error, or the module's own arithmetic overflowing.
enum ChargeError {
    Module(E),
    Overflow,
}
use ChargeError::Overflow;

impl From<E> for ChargeError {
    fn from(e: E) -> Self {
        Self::Module(e)
    }
}

fn charge(
    i: usize,
    action: &Action,
    call: &Call,
    record: &mut ActionRecord,
) -> Result<(), ChargeError> {
    let index = U256::from(i);
    if let Some(max) = action.max_uses.filter(|m| *m != 0) {
        let uses = u64::from(record.uses) + 1;
        if uses > u64::from(max) || uses > 0xff_ffff {
            return Err(ChargeError::Module(E::UseLimitExceeded(onchain::UseLimitExceeded {
                callIndex: index,
                uses: U256::from(uses),
                maxUses: U256::from(max),
            })));
        }
        record.uses = uses as u32;
    }
    if let Some(cap) = &action.amount_cap {
        let amount = amount_of(i, &call.data, cap)?;
        let cap_value = U256::from(cap.cap);
        let spent = U256::from(record.amount_spent);
        if amount > cap_value || spent > cap_value - amount {
            // The module computes `amount + spent` for its error; past 2^256 that is a panic instead.
            let Some(would_spend) = amount.checked_add(spent) else { return Err(Overflow) };
            return Err(ChargeError::Module(E::AmountLimitExceeded(
                onchain::AmountLimitExceeded {
                    callIndex: index,
                    wouldSpend: would_spend,
                    cap: cap_value,
                },
            )));
        }
        record.amount_spent = (spent + amount).to::<u128>();
    }
    if let Some(cap) = action.value_cap {
        let cap_value = U256::from(cap);
        let spent = U256::from(record.value_spent);
        if call.value > cap_value || spent > cap_value - call.value {
            return Err(ChargeError::Module(E::ValueLimitExceeded(onchain::ValueLimitExceeded {
                callIndex: index,
                wouldSpend: call.value.saturating_add(spent),
                cap: cap_value,
            })));
        }
        record.value_spent = (spent + call.value).to::<u128>();
    }
    Ok(())
}

/// What one action has left in the period containing a time.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionAllowance {
    /// The action's index in the session.
    pub action: usize,
    /// The period's index, or `None` when the time is outside every usable window of the action.
    pub period: Option<u32>,
    /// When the current usable window ends (inclusive), if inside one.
    pub window_ends: Option<u64>,
    /// Calls left (`None` when uncounted).
    pub uses_left: Option<u64>,
    /// Amount left under the cap (`None` without a cap).
    pub amount_left: Option<U256>,
    /// Native value left under the cap (`None` without a cap).
    pub value_left: Option<U256>,
}

impl Evaluator<'_> {
    /// What each action has left at `time`, given the chain's counters (as the module's `actionAllowance`).
    pub fn allowances(&self, state: &ChainState, time: u64) -> Vec<ActionAllowance> {
        self.session
            .policy
            .actions
            .iter()
            .enumerate()
            .map(|(i, action)| {
                let slot = action.period.resolve(time).ok();
                let record = state.actions.get(&self.hashes[i]).copied().unwrap_or_default();
                let same = slot.is_some_and(|s| s.index == record.period);
                let (uses, amount, value) = if same {
                    (record.uses, record.amount_spent, record.value_spent)
                } else {
                    (0, 0, 0)
                };
                ActionAllowance {
                    action: i,
                    period: slot.map(|s| s.index),
                    window_ends: slot.map(|s| s.last),
                    uses_left: action.max_uses.map(|m| u64::from(m.saturating_sub(uses))),
                    amount_left: action
                        .amount_cap
                        .as_ref()
                        .map(|c| U256::from(c.cap).saturating_sub(U256::from(amount))),
                    value_left: action
                        .value_cap
                        .map(|c| U256::from(c).saturating_sub(U256::from(value))),
                }
            })
            .collect()
    }
}
