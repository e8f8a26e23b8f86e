//! The agent's side: a session key acting for an account. Every operation is explained against the session
//! and the chain's counters before it is signed; a rejected batch is never signed.

use crate::{
    account::SmartAccount,
    bundler::BundlerClient,
    chain::{Chain, Reads},
    gas::GasLimits,
    lanes::{EntryPointNonces, Lane, LaneAllocator, NonceKey, NonceLease},
    paymaster::PaymasterClient,
    payment::SignedSlots,
    signer::SessionSigner,
    submit::{rule_of_bundler_error, OpOutcome, Submitter},
    userop::UserOperation,
    view::SessionView,
    Error, Result,
};
use alloy::{
    primitives::{Address, Bytes, B256, U256},
    providers::DynProvider,
};
use leash_core::{
    encode_execute, erc1271_signature, message_digest, use_digest, ActionAllowance, Allowed, Call,
    ChainState, Evaluator, GrantProof, OpGas, Rejection, Session, SessionState, SessionUse,
    TokenTable, TypedDataRequest,
};
use std::{sync::Arc, time::Duration};

/// A session key acting for an account on one chain.
#[derive(Debug)]
pub struct SessionAgent {
    /// What the agent knows of its session without the key: the pre-flight and the status.
    view: SessionView,
    signer: Arc<dyn SessionSigner>,
    submitter: Arc<Submitter>,
    paymaster: Option<(PaymasterClient, serde_json::Value)>,
    lanes: LaneAllocator<EntryPointNonces<DynProvider>>,
    wait: Duration,
    /// The payment slots this agent has signed ([`SessionAgent::authorize_transfer`]).
    slots: SignedSlots,
}

/// The outcome of a pre-flight: the operation's window if allowed, or the rule that rejects it.
#[derive(Clone, Debug)]
pub struct Explanation {
    /// The time the operation would state.
    pub time: u64,
    /// The verdict.
    pub verdict: std::result::Result<Allowed, Rejection>,
    /// The verdict in words.
    pub message: String,
}

/// A message the session key signed for the account, ready for the verifier to check through ERC-1271.
#[derive(Clone, Debug)]
pub struct SignedMessage {
    /// The message (`keccak256("\x19\x01" || domainSeparator || structHash)`), as the verifier computes it.
    pub hash: B256,
    /// What to pass to the account's `isValidSignature(hash, signature)`.
    pub signature: Bytes,
    /// The signing scope it was signed under (`None` under unrestricted signing).
    pub scope: Option<usize>,
}

/// An operation that was sent and included.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SentOperation {
    /// Its hash.
    pub user_op_hash: B256,
    /// Its nonce lane.
    pub lane: u32,
    /// Whether it granted the session on the way.
    pub granted: bool,
    /// The inclusion.
    pub outcome: OpOutcome,
}

/// An operation the bundler accepted and has not included yet.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Submitted {
    /// The UserOperation hash.
    pub user_op_hash: B256,
    /// The nonce lane it went on.
    pub lane: u32,
    /// Whether it carries the session's lazy grant.
    pub granted: bool,
}

/// An operation signed and not yet sent ([`SessionAgent::sign_operation`]); it holds its nonce until
/// [`SessionAgent::send_signed`] sends it or it is dropped.
#[derive(Debug)]
pub struct SignedOperation {
    /// The operation, signed.
    pub op: UserOperation,
    /// Its hash, as the EntryPoint computes it.
    pub user_op_hash: B256,
    /// The nonce lane it goes on.
    pub lane: u32,
    /// Whether it carries the session's lazy grant.
    pub granted: bool,
    lease: NonceLease,
}

/// The session's state on chain, in the model's terms.
#[derive(Clone, Debug)]
pub struct SessionStatus {
    /// Granted, revoked, or not granted (also after a "revoke all").
    pub state: SessionState,
    /// The raw counters.
    pub chain: ChainState,
    /// What each action has left now.
    pub allowances: Vec<ActionAllowance>,
    /// The chain's time the allowances are for.
    pub now: u64,
}

impl SessionStatus {
    /// Reads `session`'s state for `account` on `chain`: no key needed, so tools can show any session's status.
    pub async fn read(chain: &Chain, account: Address, session: &Session) -> Result<Self> {
        let action_hashes = session.policy.action_hashes()?;
        let reads = Reads {
            account,
            session_id: session.id()?,
            action_hashes: &action_hashes,
            code: false,
            targets: &[],
        };
        let snapshot = chain.snapshot(reads).await?;
        let (state, now) = (snapshot.state, snapshot.now);
        let live =
            state.session.state == SessionState::Enabled && state.session.epoch == state.epoch;
        let standing = match state.session.state {
            SessionState::Revoked => SessionState::Revoked,
            _ if live => SessionState::Enabled,
            _ => SessionState::None,
        };
        let allowances = Evaluator::new(session)?.allowances(&state, now);
        Ok(Self { state: standing, chain: state, allowances, now })
    }
}

/// Builds a [`SessionAgent`].
#[derive(Debug)]
pub struct SessionAgentBuilder {
    /// What the agent knows without its key; an error (a session that does not pack) is reported by `build`.
    view: Result<SessionView>,
    signer: Arc<dyn SessionSigner>,
    submitter: Option<Arc<Submitter>>,
    paymaster: Option<(PaymasterClient, serde_json::Value)>,
}

impl SessionAgentBuilder {
    /// Deploys the account with the session's first operation if it has no code yet.
    pub fn deploy(mut self, account: SmartAccount) -> Self {
        self.view = self.view.map(|view| view.deploy(account));
        self
    }

    /// The owner's approval: the session grants itself with its first operation (lazy grant).
    pub fn lazy_grant(mut self, grant: GrantProof) -> Self {
        self.view = self.view.map(|view| view.lazy_grant(grant));
        self
    }

    /// Sends through this bundler.
    pub fn bundler(mut self, bundler: BundlerClient) -> Self {
        self.submitter = Some(Arc::new(Submitter::Bundler(bundler)));
        self
    }

    /// Sends through this submitter (shared between agents).
    pub fn submitter(mut self, submitter: Arc<Submitter>) -> Self {
        self.submitter = Some(submitter);
        self
    }

    /// Sponsors every operation through this ERC-7677 paymaster service, with its `context` (for example a
    /// sponsorship policy id); the paymaster it names is what a session's "must use paymaster" rule checks.
    pub fn paymaster(mut self, client: PaymasterClient, context: serde_json::Value) -> Self {
        self.paymaster = Some((client, context));
        self
    }

    /// Token symbols for explanations.
    pub fn tokens(mut self, tokens: TokenTable) -> Self {
        self.view = self.view.map(|view| view.tokens(tokens));
        self
    }

    /// The agent; without a bundler or submitter, operations go straight to `handleOps` from `provider`'s
    /// wallet with `beneficiary` refunded.
    pub fn build(self) -> Result<SessionAgent> {
        let submitter = self.submitter.ok_or_else(|| {
            Error::Setup("no bundler or submitter configured for the agent".into())
        })?;
        let view = self.view?;
        let lanes = LaneAllocator::new(EntryPointNonces::new(
            view.chain.entry_point,
            view.chain.provider.clone(),
        ));
        Ok(SessionAgent {
            view,
            signer: self.signer,
            submitter,
            paymaster: self.paymaster,
            lanes,
            wait: Duration::from_secs(120),
            slots: SignedSlots::default(),
        })
    }
}

impl SessionAgent {
    /// An agent for `session` on `account`, signing with `signer`.
    pub fn builder(
        chain: Chain,
        account: Address,
        session: Session,
        signer: Arc<dyn SessionSigner>,
    ) -> SessionAgentBuilder {
        SessionAgentBuilder {
            view: SessionView::new(chain, account, session),
            signer,
            submitter: None,
            paymaster: None,
        }
    }

    pub(crate) fn signed_slots(&self) -> &SignedSlots {
        &self.slots
    }

    pub(crate) fn signer(&self) -> &dyn SessionSigner {
        self.signer.as_ref()
    }

    /// The session seen without its key: explain and status need nothing else.
    pub fn view(&self) -> &SessionView {
        &self.view
    }

    /// The session.
    pub fn session(&self) -> &Session {
        &self.view.session
    }

    /// The session's id (the hash of the packed session).
    pub fn session_id(&self) -> B256 {
        self.view.session_id
    }

    /// The account.
    pub fn account(&self) -> Address {
        self.view.account
    }

    /// The chain.
    pub fn chain(&self) -> &Chain {
        &self.view.chain
    }

    /// The session's on-chain state and what each action has left now.
    pub async fn status(&self) -> Result<SessionStatus> {
        self.view.status().await
    }

    /// Explains `calls` as an operation stated at the chain's current time, with default gas limits.
    pub async fn explain(&self, calls: &[Call]) -> Result<Explanation> {
        self.view.explain(calls).await
    }

    /// Signs typed data for the account (a permit, a payment authorisation) through its ERC-1271, only after the
    /// checks the module makes: the message fits one of the session's signing scopes (its verifier, its type,
    /// every rule on its fields, nested structs included), the session is granted and live (not revoked, not
    /// voided by revoke-all), and the chain's time is inside its window. A refused request is never signed:
    /// the error ([`Error::SigningRefused`]) names the rule.
    pub async fn sign_typed_data(&self, request: &TypedDataRequest) -> Result<SignedMessage> {
        let refused =
            |rule: &str, message: String| Error::SigningRefused { rule: rule.into(), message };
        let policy = &self.view.session.policy;
        let scope = policy.check_signing(self.view.session_id, request).map_err(|r| {
            refused(r.rule(), policy.describe_signing_refusal(&r, &self.view.tokens))
        })?;
        let snapshot = self.view.chain.snapshot(self.view.reads(false, &[])).await?;
        let (state, now) = (snapshot.state, snapshot.now);
        let record = &state.session;
        if record.state != SessionState::Enabled || record.epoch != state.epoch {
            return Err(refused(
                "SessionNotLive",
                "the session is not granted, or was revoked or voided by revoke-all: it signs nothing".into(),
            ));
        }
        let after = policy.valid_after.as_u48();
        let until = policy.valid_until.map_or(0, |t| t.as_u48());
        // A session without a window (both bounds 0) passes whatever the time, as in the module.
        if now < after || (until != 0 && now > until) {
            return Err(refused(
                "OutOfTime",
                format!("the session's window does not include the chain's time ({now})"),
            ));
        }
        let primary = match scope {
            Some(i) => {
                policy.signing.typed_data[i].primary_length(request.fields.len()).unwrap_or(0)
            }
            None => request.fields.len(),
        };
        let hash = request.hash(primary);
        let digest = message_digest(
            self.view.chain.chain_id,
            self.view.chain.module,
            self.view.account,
            self.view.session_id,
            hash,
        );
        let key_signature = self.signer.sign_digest(digest).await?;
        let signature = erc1271_signature(
            self.view.chain.module,
            &self.view.session,
            &key_signature,
            scope,
            request,
        )?;
        Ok(SignedMessage { hash, signature, scope })
    }

    /// Explains, signs and sends `calls` as one operation on `lane`, and waits for it to be included.
    /// A batch the pre-flight rejects is never signed: the error names the rule.
    pub async fn send(&self, calls: &[Call], lane: Lane) -> Result<SentOperation> {
        let submitted = self.submit(calls, lane).await?;
        let outcome = self.wait(submitted.user_op_hash).await?;
        Ok(SentOperation {
            user_op_hash: submitted.user_op_hash,
            lane: submitted.lane,
            granted: submitted.granted,
            outcome,
        })
    }

    /// Waits for the operation `hash` to be included; an operation whose calls reverted is an error.
    pub async fn wait(&self, hash: B256) -> Result<OpOutcome> {
        self.wait_outcome(hash).await?.succeeded()
    }

    /// Waits for the operation `hash` to be included and returns its outcome, reverted or not (to record it
    /// before [`OpOutcome::succeeded`] turns a revert into an error).
    pub async fn wait_outcome(&self, hash: B256) -> Result<OpOutcome> {
        self.submitter.wait(hash, self.wait).await
    }

    /// [`send`](Self::send) without waiting: explains, signs and hands the operation to the bundler, and returns
    /// its hash once accepted ([`wait`](Self::wait) follows it).
    pub async fn submit(&self, calls: &[Call], lane: Lane) -> Result<Submitted> {
        let signed = self.sign_operation(calls, lane).await?;
        self.send_signed(signed).await
    }

    /// The first half of [`submit`](Self::submit): explains `calls`, estimates and signs the operation, and
    /// returns it unsent with its hash, so that a service can record it before it leaves (after a crash, the
    /// record says which operation may be in flight: [`send_signed`](Self::send_signed) sends the same bytes,
    /// and the EntryPoint's nonce lets them land at most once). A batch the pre-flight rejects is never signed.
    pub async fn sign_operation(&self, calls: &[Call], lane: Lane) -> Result<SignedOperation> {
        let Draft { state, now, grants, lease, mut op } = self.draft(calls, lane).await?;

        // ERC-7677: stub data first (so the estimate accounts for the paymaster), final data after it.
        let mut final_data = false;
        if let Some((client, context)) = &self.paymaster {
            match client.get_paymaster_stub_data(&op, context).await {
                Ok(stub) => {
                    stub.data.apply_to(&mut op);
                    if let Some(paymaster) = op.paymaster.as_mut() {
                        // Services may leave the limits to the bundler's estimate; locally, give them room.
                        if paymaster.verification_gas_limit.is_zero() {
                            paymaster.verification_gas_limit =
                                U256::from(PAYMASTER_VERIFICATION_GAS);
                        }
                        if paymaster.post_op_gas_limit.is_zero() {
                            paymaster.post_op_gas_limit = U256::from(PAYMASTER_POST_OP_GAS);
                        }
                    }
                    final_data = stub.is_final;
                }
                Err(e) => {
                    lease.resync();
                    return Err(e.into());
                }
            }
        }

        // With a bundler, its estimate replaces the local limits. The operation carries a stub key signature of
        // the real one's shape (the estimate tolerates a failed signature check): the key signs once, below.
        if let Submitter::Bundler(bundler) = self.submitter.as_ref() {
            let probe = self.evaluator_verdict(calls, &op, &state, now, grants)?;
            op.signature = self.sign(&op, now, &probe, &state, grants, KeySignature::Stub).await?;
            match bundler
                .estimate_user_operation_gas(&op)
                .await
                .and_then(|estimate| crate::gas::apply_estimate(bundler, &estimate, &mut op))
            {
                Ok(()) => {}
                Err(e) => {
                    lease.resync();
                    return Err(bundler_error(e, &self.view.session, &self.view.tokens));
                }
            }
        }

        if let (Some((client, context)), false) = (&self.paymaster, final_data) {
            match client.get_paymaster_data(&op, context).await {
                Ok(data) => data.apply_to(&mut op),
                Err(e) => {
                    lease.resync();
                    return Err(e.into());
                }
            }
            // The paymaster's final answer may set its own gas limits: held to the same cost limit.
            if let Submitter::Bundler(bundler) = self.submitter.as_ref() {
                if let Err(e) = crate::gas::check_cost(bundler, &op) {
                    lease.resync();
                    return Err(e.into());
                }
            }
        }

        let allowed = self.evaluator_verdict(calls, &op, &state, now, grants)?;
        op.signature = self.sign(&op, now, &allowed, &state, grants, KeySignature::Real).await?;
        let user_op_hash = op.hash(self.view.chain.entry_point, self.view.chain.chain_id)?;
        Ok(SignedOperation { op, user_op_hash, lane: lane.id(), granted: grants, lease })
    }

    /// The second half of [`submit`](Self::submit): hands a signed operation to the bundler (or the EntryPoint).
    /// A refusal is explained by the session's rules when the module's revert names one.
    pub async fn send_signed(&self, signed: SignedOperation) -> Result<Submitted> {
        let SignedOperation { op, user_op_hash, lane, granted, lease } = signed;
        match self.submitter.send(&self.view.chain, &op).await {
            Ok(hash) => {
                lease.commit();
                debug_assert_eq!(hash, user_op_hash, "the bundler hashes as the EntryPoint does");
                Ok(Submitted { user_op_hash: hash, lane, granted })
            }
            Err(Error::Bundler(e)) => {
                lease.resync();
                Err(bundler_error(e, &self.view.session, &self.view.tokens))
            }
            Err(e) => {
                lease.resync();
                Err(self.view.explain_chain_error(e))
            }
        }
    }

    /// Signs and sends `calls` without the pre-flight, so that the chain itself judges them. For tests that hold
    /// the pre-flight to the chain's verdicts; agents use [`SessionAgent::send`].
    #[doc(hidden)]
    pub async fn send_unchecked(&self, calls: &[Call], lane: Lane) -> Result<SentOperation> {
        let Draft { state, now, grants, lease, mut op } = self.draft(calls, lane).await?;
        let operation = self.view.operation(now, gas_of(&op), grants);
        let chosen = self.view.evaluator().choose_actions(calls, &operation, &state);
        let allowed =
            Allowed { valid_after: 0, valid_until: 0, call_actions: chosen, after: state.clone() };
        // Never sent unestimated to a bundler: its gas rules (preVerificationGas above all) are its own. A
        // refusal by the module comes back from the estimate's simulation.
        if let Submitter::Bundler(bundler) = self.submitter.as_ref() {
            op.signature =
                self.sign(&op, now, &allowed, &state, grants, KeySignature::Stub).await?;
            match bundler
                .estimate_user_operation_gas(&op)
                .await
                .and_then(|estimate| crate::gas::apply_estimate(bundler, &estimate, &mut op))
            {
                Ok(()) => {}
                Err(e) => {
                    lease.resync();
                    return Err(bundler_error(e, &self.view.session, &self.view.tokens));
                }
            }
        }
        op.signature = self.sign(&op, now, &allowed, &state, grants, KeySignature::Real).await?;
        match self.submitter.send(&self.view.chain, &op).await {
            Ok(hash) => {
                lease.commit();
                let outcome = self.submitter.wait(hash, self.wait).await?;
                Ok(SentOperation { user_op_hash: hash, lane: lane.id(), granted: grants, outcome })
            }
            Err(Error::Bundler(e)) => {
                lease.resync();
                Err(bundler_error(e, &self.view.session, &self.view.tokens))
            }
            Err(e) => {
                lease.resync();
                Err(self.view.explain_chain_error(e))
            }
        }
    }

    /// The unsigned operation for `calls` on `lane`, with the chain state it is judged against: the session's
    /// counters, the time it states, whether it grants the session (and deploys the account), its nonce lease and
    /// local gas limits.
    async fn draft(&self, calls: &[Call], lane: Lane) -> Result<Draft> {
        if calls.is_empty() {
            return Err(Error::Setup("nothing to send: give at least one call".into()));
        }
        let (state, now, deploys) = self.view.call_state(calls).await?;
        let grants = self.view.grants(&state);
        let lease = self
            .lanes
            .lease(self.view.account, NonceKey::session(self.view.chain.module, lane))
            .await
            .map_err(|e| Error::rpc(&self.view.chain.label, e))?;
        let gas = GasLimits::default_for(calls.len(), deploys, grants);
        let (max_fee, priority) = self.submitter.fees(&self.view.chain).await?;
        let mut builder = UserOperation::builder(self.view.account)
            .nonce(lease.nonce())
            .call_data(encode_execute(calls))
            .verification_gas_limit(gas.verification)
            .call_gas_limit(gas.call)
            .pre_verification_gas(gas.pre_verification)
            .fees(max_fee, priority);
        if let (true, Some(account)) = (deploys, &self.view.deploy) {
            if let Some((factory, data)) = account.deployment(false)? {
                builder = builder.factory(factory, data);
            }
        }
        Ok(Draft { state, now, grants, lease, op: builder.build()? })
    }

    fn evaluator_verdict(
        &self,
        calls: &[Call],
        op: &UserOperation,
        state: &ChainState,
        now: u64,
        grants: bool,
    ) -> Result<Allowed> {
        let mut operation = self.view.operation(now, gas_of(op), grants);
        operation.paymaster = op.paymaster.as_ref().map(|p| p.address);
        let explanation = self.view.verdict(calls, &operation, state, now);
        explanation.verdict.map_err(|rejection| Error::PreFlight {
            rule: rejection.rule().to_string(),
            message: explanation.message,
            rejection: Box::new(rejection),
        })
    }

    /// The operation's session signature: the key signs the use digest (or a stub stands in for it), and the
    /// actions the calls use travel with their proofs, except those whose record exists in `state` (the module no
    /// longer checks them).
    async fn sign(
        &self,
        op: &UserOperation,
        time: u64,
        allowed: &Allowed,
        state: &ChainState,
        grants: bool,
        key: KeySignature,
    ) -> Result<Bytes> {
        let hash = op.hash(self.view.chain.entry_point, self.view.chain.chain_id)?;
        let call_actions: Vec<usize> =
            allowed.call_actions.iter().map(|a| a.unwrap_or(0)).collect();
        let call_actions = if self.view.session.policy.sudo { Vec::new() } else { call_actions };
        // The key signs the actions the calls are charged to, exactly as the operation carries them.
        let charged: Vec<Option<usize>> = call_actions.iter().copied().map(Some).collect();
        let evaluator = self.view.evaluator();
        let calls_hash = evaluator.calls_hash(&charged);
        let digest = use_digest(hash, self.view.session_id, time, calls_hash);
        let signature = match key {
            KeySignature::Real => self.signer.sign_digest(digest).await?,
            KeySignature::Stub => self.signer.stub_signature(digest),
        };
        Ok(SessionUse {
            session: &self.view.session,
            call_actions: &call_actions,
            recorded: &evaluator.recorded(state),
            time,
            signature,
            grant: if grants { self.view.grant.clone() } else { None },
        }
        .encode()?)
    }
}

/// Paymaster gas limits when the service and no bundler set them.
const PAYMASTER_VERIFICATION_GAS: u64 = 100_000;
const PAYMASTER_POST_OP_GAS: u64 = 50_000;

/// The gas fields of `op` that the session's gas budget charges.
fn gas_of(op: &UserOperation) -> OpGas {
    OpGas {
        pre_verification_gas: op.pre_verification_gas.to(),
        verification_gas_limit: op.verification_gas_limit.to(),
        call_gas_limit: op.call_gas_limit.to(),
        paymaster_verification_gas_limit: op
            .paymaster
            .as_ref()
            .map_or(0, |p| p.verification_gas_limit.to()),
        paymaster_post_op_gas_limit: op.paymaster.as_ref().map_or(0, |p| p.post_op_gas_limit.to()),
        max_fee_per_gas: op.max_fee_per_gas.to(),
    }
}

/// Whether an operation's session signature carries the key's signature or a stub of its shape (for the gas
/// estimate, before the gas fields are final).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeySignature {
    Real,
    Stub,
}

/// An operation being prepared; see [`SessionAgent::draft`].
struct Draft {
    state: ChainState,
    now: u64,
    grants: bool,
    lease: NonceLease,
    op: UserOperation,
}

fn bundler_error(
    error: crate::bundler::BundlerError,
    session: &Session,
    tokens: &TokenTable,
) -> Error {
    match rule_of_bundler_error(&error) {
        // The bundler reports the EntryPoint's reason (`AA23 reverted`); the module's rule, read from the revert
        // data here, follows it.
        Some(rejection) => Error::Rejected {
            code: {
                let (text, rule) = (error.to_string(), rejection.rule());
                match error.rejection() {
                    Some(r) if !r.message.contains(rule) => {
                        text.replacen(&r.message, &format!("{}: {rule}", r.message), 1)
                    }
                    _ => text,
                }
            },
            rule: Some(rejection.rule().to_string()),
            message: rejection.explain(session, tokens),
            rejection: Some(Box::new(rejection)),
        },
        None => Error::Bundler(error),
    }
}
