//! A session seen without its key: what it may do (the pre-flight) and where it stands (its status on chain).
//! Explaining and reading status need no key, so [`SessionView`] holds none and signs nothing; a
//! [`SessionAgent`](crate::SessionAgent) is a view with a key and a way to send.

use crate::{
    account::SmartAccount,
    agent::{Explanation, SessionStatus},
    chain::{Chain, Reads},
    gas::GasLimits,
    Error, Result,
};
use alloy::primitives::{Address, B256};
use leash_core::{
    format_units, ActionAllowance, Call, ChainState, Evaluator, GrantProof, OpGas, Operation,
    Rejection, Session, SessionState, Timestamp, TokenTable,
};

/// A session on one account and chain, without its key.
///
/// ```no_run
/// use leash_sdk::{Chain, SessionView};
/// # async fn show(chain: Chain, account: alloy::primitives::Address, session: leash_core::Session,
/// #     calls: Vec<leash_core::Call>) -> leash_sdk::Result<()> {
/// let view = SessionView::new(chain, account, session)?;
/// println!("{}", view.explain(&calls).await?.message);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SessionView {
    pub(crate) chain: Chain,
    pub(crate) account: Address,
    pub(crate) deploy: Option<SmartAccount>,
    pub(crate) session: Session,
    /// The session's id and action hashes, computed once: hashing costs more than evaluating.
    pub(crate) session_id: B256,
    pub(crate) action_hashes: Vec<B256>,
    pub(crate) grant: Option<GrantProof>,
    pub(crate) tokens: TokenTable,
}

impl SessionView {
    /// The view of `session` on `account`; fails if the session does not pack.
    pub fn new(chain: Chain, account: Address, session: Session) -> Result<Self> {
        Ok(Self {
            chain,
            account,
            deploy: None,
            session_id: session.id()?,
            action_hashes: session.policy.action_hashes()?,
            session,
            grant: None,
            tokens: TokenTable::default(),
        })
    }

    /// The account's deployment, when its first operation may create it.
    pub fn deploy(mut self, account: SmartAccount) -> Self {
        self.deploy = Some(account);
        self
    }

    /// The owner's approval, when the session's first operation grants it (lazy grant).
    pub fn lazy_grant(mut self, grant: GrantProof) -> Self {
        self.grant = Some(grant);
        self
    }

    /// Token symbols for explanations.
    pub fn tokens(mut self, tokens: TokenTable) -> Self {
        self.tokens = tokens;
        self
    }

    /// The session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The session's id (the hash of the packed session).
    pub fn session_id(&self) -> B256 {
        self.session_id
    }

    /// The account.
    pub fn account(&self) -> Address {
        self.account
    }

    /// The chain.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// The token symbols explanations use.
    pub fn tokens_table(&self) -> &TokenTable {
        &self.tokens
    }

    /// The session's on-chain state and what each action has left now.
    pub async fn status(&self) -> Result<SessionStatus> {
        SessionStatus::read(&self.chain, self.account, &self.session).await
    }

    /// Where the session stands, in words, and what it has left (nothing once revoked or voided).
    pub async fn standing(&self) -> Result<Standing> {
        let status = self.status().await?;
        let grant_epoch = self.grant.as_ref().map(|g| g.epoch);
        let (state, label, usable) = match status.state {
            SessionState::Enabled => (Standing::ENABLED, "enabled", true),
            SessionState::Revoked => (Standing::REVOKED, "revoked", false),
            // Granted under an older epoch: a "revoke all" voided it.
            SessionState::None if status.chain.session.state == SessionState::Enabled => {
                (Standing::REVOKED, "revoked (all sessions of the account were revoked)", false)
            }
            // The grant names the epoch it was signed in; a "revoke all" since then voided it.
            SessionState::None if grant_epoch.is_some_and(|epoch| epoch < status.chain.epoch) => (
                Standing::VOID,
                "void (every session of the account was revoked after this grant was signed)",
                false,
            ),
            SessionState::None => {
                (Standing::NOT_GRANTED, "not granted yet (its first operation grants it)", true)
            }
        };
        // The counters would still allow something; a session that cannot act has nothing left.
        let allowances = if usable { status.allowances.clone() } else { Vec::new() };
        let mut left: Vec<String> =
            allowances.iter().map(|a| describe_allowance(&self.session, a, &self.tokens)).collect();
        if !usable {
            left.push(format!("nothing left: the session is {label}"));
        }
        Ok(Standing { state, label, allowances, left, status })
    }

    /// Explains `calls` as an operation stated at the chain's current time, with default gas limits.
    pub async fn explain(&self, calls: &[Call]) -> Result<Explanation> {
        if calls.is_empty() {
            return Err(Error::Setup("nothing to explain: give at least one call".into()));
        }
        let (state, now, deploys) = self.call_state(calls).await?;
        let grants = self.grants(&state);
        let gas = GasLimits::default_for(calls.len(), deploys, grants);
        let (max_fee, _) = self.chain.fees().await?;
        let op = self.operation(now, op_gas(gas, max_fee), grants);
        Ok(self.verdict(calls, &op, &state, now))
    }

    pub(crate) fn evaluator(&self) -> Evaluator<'_> {
        Evaluator::prepared(&self.session, self.session_id, &self.action_hashes)
    }

    pub(crate) fn verdict(
        &self,
        calls: &[Call],
        op: &Operation,
        state: &ChainState,
        now: u64,
    ) -> Explanation {
        let verdict = self.evaluator().evaluate(calls, op, state).and_then(|allowed| {
            if now < allowed.valid_after || now > allowed.valid_until {
                Err(Rejection::OutOfTime {
                    now,
                    valid_after: allowed.valid_after,
                    valid_until: allowed.valid_until,
                })
            } else {
                Ok(allowed)
            }
        });
        let message = match &verdict {
            Ok(allowed) => format!(
                "allowed: {} call(s), may run until {}",
                calls.len(),
                leash_core::Timestamp(allowed.valid_until)
            ),
            Err(rejection) => {
                let judged = self.evaluator().choose_actions(calls, op, state);
                let mut message = rejection.explain_for(&self.session, &self.tokens, &judged);
                message
                    .push_str(&self.limit_reset(rejection, calls, op, state).unwrap_or_default());
                message
            }
        };
        Explanation { time: op.time, verdict, message }
    }

    /// For a spent limit: when the action the call was charged to has it again (its next period opens), that
    /// it never will (a lifetime limit, no later window), or that the session ends first.
    fn limit_reset(
        &self,
        rejection: &Rejection,
        calls: &[Call],
        op: &Operation,
        state: &ChainState,
    ) -> Option<String> {
        use leash_contracts::bindings::SessionKeyValidator::SessionKeyValidatorErrors as E;
        let Rejection::Module(error) = rejection else { return None };
        let index = match error {
            E::UseLimitExceeded(x) => x.callIndex,
            E::AmountLimitExceeded(x) => x.callIndex,
            E::ValueLimitExceeded(x) => x.callIndex,
            _ => return None,
        };
        let charged = self.evaluator().choose_actions(calls, op, state);
        let action = (*charged.get(index.saturating_to::<usize>())?)?;
        let period = &self.session.policy.actions.get(action)?.period;
        let ends = self.session.policy.valid_until.map(|t| t.0);
        Some(match period.next_open(op.time) {
            Some(next) if ends.is_some_and(|end| next > end) => {
                "; the session ends before this limit resets".into()
            }
            Some(next) => format!("; the limit resets at {}", Timestamp(next)),
            None if matches!(period, leash_core::Period::Windows(_)) => {
                "; no later window of this action opens".into()
            }
            None => "; this limit is for the session's whole life: it never resets".into(),
        })
    }

    /// The chain state the pre-flight judges `calls` against, the chain's time and whether the operation creates
    /// the account, read in one round trip whatever the number of actions and calls ([`Chain::snapshot`]): the
    /// session's counters, whether the module is installed, and which call targets are the account's modules. An
    /// account the operation creates has the validators its factory call installs, and no other module.
    pub(crate) async fn call_state(&self, calls: &[Call]) -> Result<(ChainState, u64, bool)> {
        let targets: Vec<Address> = calls.iter().map(|c| c.target).collect();
        let snapshot = self.chain.snapshot(self.reads(self.deploy.is_some(), &targets)).await?;
        let deploys = snapshot.deployed == Some(false);
        let mut state = snapshot.state;
        match (&self.deploy, deploys) {
            (Some(account), true) => {
                state.installed = account.validators.contains(&self.chain.module);
                state.modules = calls
                    .iter()
                    .map(|c| c.target)
                    .filter(|t| account.validators.contains(t))
                    .collect();
            }
            // Without the module the pre-flight stops at `NotInstalled`: the modules do not matter.
            _ if !state.installed => {}
            // Accounts other than leash's answer `isModuleInstalled` instead, one more round trip.
            _ => state.modules = self.chain.modules_of(self.account, snapshot.is_module).await?,
        }
        Ok((state, snapshot.now, deploys))
    }

    pub(crate) fn reads<'a>(&'a self, code: bool, targets: &'a [Address]) -> Reads<'a> {
        Reads {
            account: self.account,
            session_id: self.session_id,
            action_hashes: &self.action_hashes,
            code,
            targets,
        }
    }

    pub(crate) fn operation(&self, time: u64, gas: OpGas, grants: bool) -> Operation {
        Operation {
            account: self.account,
            module: self.chain.module,
            time,
            gas,
            paymaster: None,
            grant: self.grant.as_ref().filter(|_| grants).map(|g| g.epoch),
        }
    }

    /// Whether this operation must grant the session: not live on chain, not revoked, and an owner approval is at
    /// hand. A session voided by "revoke all" whose approval names an older epoch does not carry it (the module
    /// would refuse it): the pre-flight then names the session as voided.
    pub(crate) fn grants(&self, state: &ChainState) -> bool {
        let live =
            state.session.state == SessionState::Enabled && state.session.epoch == state.epoch;
        let voided =
            state.session.state == SessionState::Enabled && state.session.epoch != state.epoch;
        match &self.grant {
            Some(grant) if !live && state.session.state != SessionState::Revoked => {
                !voided || grant.epoch == state.epoch
            }
            _ => false,
        }
    }

    /// Puts the chain's rejection in the session's words.
    pub(crate) fn explain_chain_error(&self, error: Error) -> Error {
        match error {
            Error::Rejected { code, rule, rejection: Some(rejection), .. } => Error::Rejected {
                message: rejection.explain(&self.session, &self.tokens),
                code,
                rule,
                rejection: Some(rejection),
            },
            other => other,
        }
    }
}

/// A session's state on one chain, in words, with what it has left.
#[derive(Clone, Debug)]
pub struct Standing {
    /// The state as a stable word: `enabled`, `revoked`, `void` or `not-granted`.
    pub state: &'static str,
    /// The state as a sentence: "enabled", "revoked (all sessions of the account were revoked)", …
    pub label: &'static str,
    /// What each action has left now; empty when the session cannot act.
    pub allowances: Vec<ActionAllowance>,
    /// The same in words.
    pub left: Vec<String>,
    /// The state as read.
    pub status: SessionStatus,
}

impl Standing {
    /// Granted and live.
    pub const ENABLED: &'static str = "enabled";
    /// Revoked by the owner, alone or with every session of the account.
    pub const REVOKED: &'static str = "revoked";
    /// Its grant was signed before a "revoke all": it can never be granted.
    pub const VOID: &'static str = "void";
    /// Not granted yet: its first operation grants it.
    pub const NOT_GRANTED: &'static str = "not-granted";
}

/// One action's allowance in words: "monthly payment: 1 use(s) left, 100 USDC left, this window ends …".
pub fn describe_allowance(
    session: &Session,
    allowance: &ActionAllowance,
    tokens: &TokenTable,
) -> String {
    let action = &session.policy.actions[allowance.action];
    let label = action.name.clone().unwrap_or_else(|| format!("action {}", allowance.action + 1));
    if allowance.period.is_none() {
        return format!("{label}: outside its usable windows now");
    }
    let mut parts = Vec::new();
    if let Some(uses) = allowance.uses_left {
        parts.push(format!("{uses} use(s) left"));
    }
    if let Some(amount) = allowance.amount_left {
        parts.push(match action.cap_token(tokens) {
            Some((symbol, decimals)) => format!("{} {symbol} left", format_units(amount, decimals)),
            None => format!("{amount} (raw units) left"),
        });
    }
    if let Some(value) = allowance.value_left {
        parts.push(format!("{} ETH of value left", format_units(value, 18)));
    }
    // A lifetime action's window ends with the session, or never (the module's 2^48 - 1): only an earlier end is
    // news.
    const NEVER: u64 = (1 << 48) - 1;
    let session_ends = session.policy.valid_until.map_or(NEVER, |t| t.0.min(NEVER));
    if let Some(end) = allowance.window_ends.filter(|end| *end < session_ends) {
        parts.push(format!("this window ends {}", Timestamp(end)));
    }
    if parts.is_empty() {
        parts.push("no counted limit".into());
    }
    format!("{label}: {}", parts.join(", "))
}

pub(crate) fn op_gas(gas: GasLimits, max_fee: u128) -> OpGas {
    OpGas {
        pre_verification_gas: gas.pre_verification,
        verification_gas_limit: gas.verification,
        call_gas_limit: gas.call,
        paymaster_verification_gas_limit: 0,
        paymaster_post_op_gas_limit: 0,
        max_fee_per_gas: max_fee,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::U256;
    use alloy::primitives::{address, aliases::U96};
    use leash_core::{Action, SessionPolicy};

    #[test]
    fn an_allowance_in_words_names_the_token_and_only_a_real_window_end() {
        let usdc = address!("00000000000000000000000000000000000000c0");
        let mut tokens = TokenTable::default();
        tokens.insert("USDC", usdc, 6);
        let action = Action::call(usdc, "transfer(address to, uint256 amount)")
            .unwrap()
            .named("pay")
            .with_amount_cap("amount", U96::from(50_000_000u64))
            .unwrap();
        let policy = SessionPolicy::builder().action(action).build().unwrap();
        let session = Session { key: leash_core::PublicKey::ecdsa(Address::ZERO), policy };
        let allowance = |window_ends| ActionAllowance {
            action: 0,
            period: Some(0),
            window_ends,
            uses_left: None,
            amount_left: Some(U256::from(45_000_000u64)),
            value_left: None,
        };
        // A lifetime action's window is open-ended: no end is shown, least of all a raw 2^48 - 1.
        let lifetime = describe_allowance(&session, &allowance(Some((1 << 48) - 1)), &tokens);
        assert_eq!(lifetime, "pay: 45 USDC left");
        let monthly = describe_allowance(&session, &allowance(Some(1_796_083_199)), &tokens);
        assert_eq!(monthly, "pay: 45 USDC left, this window ends 2026-11-30T23:59:59Z");
    }
}
