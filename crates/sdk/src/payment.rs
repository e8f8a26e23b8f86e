//! Payments signed by the session key: EIP-3009 `transferWithAuthorization` messages from the account, the
//! authorisation x402's `exact` scheme carries (docs/payments.md).
//!
//! The token asks the account (ERC-1271) whether the authorisation is its own; the account asks the module,
//! which accepts the session key's signature only under a signing scope of the session: the token as verifier,
//! rules on the payee, the value and the window, and, for a counted scope, a nonce derived from (session, scope,
//! period, slot) with a window inside that period. The token executes each nonce once, so a counted scope lets
//! at most `count` payments through per period, whoever submits them.
//!
//! [`SessionAgent::authorize_transfer`] picks a free slot of the current period (one the token has not used and
//! this agent has not signed yet), fills the window and the nonce, runs the module's checks off-chain, and only
//! then signs. A refusal names the rule, as a refused operation does.

use crate::{agent::SessionAgent, Error, Result};
use alloy::{
    primitives::{keccak256, Address, Bytes, B256, U256},
    sol,
    sol_types::SolValue,
};
use leash_core::{use_nonce, PeriodSlot, SigningUseLimit, TypedDataRequest};
use rand::RngCore;
use std::{collections::HashMap, sync::Mutex, time::Duration};

sol! {
    /// What the SDK reads of an EIP-3009 token (USDC v2.2 and the devnet's USDC).
    #[sol(rpc)]
    interface IERC3009 {
        function authorizationState(address authorizer, bytes32 nonce) external view returns (bool);
        function DOMAIN_SEPARATOR() external view returns (bytes32);
        function name() external view returns (string);
        function version() external view returns (string);
    }
}

/// EIP-3009's `TransferWithAuthorization` type, as a signing scope names it.
pub const TRANSFER_WITH_AUTHORIZATION: &str = "TransferWithAuthorization(address from,address to,uint256 \
                                               value,uint256 validAfter,uint256 validBefore,bytes32 nonce)";

/// How far before the chain's time an authorisation's window opens, so a verifier whose clock is a little
/// behind still accepts it (never before the period's start for a counted scope).
pub const CLOCK_SKEW: u64 = 60;

/// Fewest seconds a payment authorisation is signed for: facilitators refuse one that expires within seconds
/// (the reference implementation within 6).
pub const MIN_VALIDITY: u64 = 30;

/// Slots read from the token at once while looking for a free one.
const SLOT_BATCH: u16 = 8;

/// A random 32-byte nonce for an uncounted scope (EIP-3009 nonces are not a counter).
fn random_nonce() -> B256 {
    let mut nonce = B256::ZERO;
    rand::rngs::OsRng.fill_bytes(nonce.as_mut_slice());
    nonce
}

/// A payment to authorise.
#[derive(Clone, Debug)]
pub struct TransferRequest {
    /// The EIP-3009 token (its contract is the verifier).
    pub token: Address,
    /// The payee.
    pub to: Address,
    /// Raw token units.
    pub value: U256,
    /// How long the authorisation stays valid from the chain's time (cut at the end of a counted period).
    pub valid_for: Duration,
}

/// A signed EIP-3009 authorisation from the account: what a facilitator submits with
/// `transferWithAuthorization(from, to, value, validAfter, validBefore, nonce, signature)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferAuthorization {
    /// The token.
    pub token: Address,
    /// The account paying.
    pub from: Address,
    /// The payee.
    pub to: Address,
    /// Raw token units.
    pub value: U256,
    /// Valid strictly after this time.
    pub valid_after: u64,
    /// Valid strictly before this time.
    pub valid_before: u64,
    /// The authorisation's nonce (the slot's, for a counted scope).
    pub nonce: B256,
    /// The account's ERC-1271 signature (the module's prefix, the session, the key's signature, the fields).
    pub signature: Bytes,
    /// For a counted scope: the period's index and the slot used.
    pub slot: Option<(u32, u16)>,
}

/// What a counted payment scope has left in the current period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentsLeft {
    /// The signing scope.
    pub scope: usize,
    /// Payments allowed per period.
    pub count: u16,
    /// Payments still possible this period: slots neither used on chain nor signed by this agent.
    pub left: u16,
    /// The most one payment may carry, when a rule caps `value`.
    pub per_payment: Option<U256>,
    /// When the next period opens (`None`: never).
    pub next_period: Option<u64>,
}

impl TransferAuthorization {
    fn of(
        from: Address,
        request: &TransferRequest,
        window: (u64, u64),
        nonce: B256,
        signature: Bytes,
        slot: Option<(u32, u16)>,
    ) -> Self {
        Self {
            token: request.token,
            from,
            to: request.to,
            value: request.value,
            valid_after: window.0,
            valid_before: window.1,
            nonce,
            signature,
            slot,
        }
    }
}

/// The slots this agent has signed: a slot stays taken until its authorisation expires, used or not, since a
/// signed authorisation may still be submitted until then.
#[derive(Debug, Default)]
pub(crate) struct SignedSlots {
    taken: Mutex<HashMap<B256, u64>>,
    /// Per (scope, period): every slot below is used on chain or signed here, so a search starts there rather than
    /// at 0 (a slot below that was signed but expired unused is not offered again: the count only loses it).
    next: Mutex<HashMap<(usize, u32), u16>>,
}

impl SignedSlots {
    fn start(&self, scope: usize, period: u32) -> u16 {
        self.next.lock().map(|n| n.get(&(scope, period)).copied().unwrap_or(0)).unwrap_or(0)
    }

    fn advance(&self, scope: usize, period: u32, past: u16) {
        if let Ok(mut next) = self.next.lock() {
            let cursor = next.entry((scope, period)).or_insert(0);
            *cursor = (*cursor).max(past);
        }
    }

    fn is_taken(&self, nonce: B256, now: u64) -> bool {
        self.taken.lock().map(|t| t.get(&nonce).is_some_and(|until| *until > now)).unwrap_or(true)
    }

    /// Takes `nonce` until `until`, unless another task took it first.
    fn take(&self, nonce: B256, until: u64, now: u64) -> bool {
        let Ok(mut taken) = self.taken.lock() else { return false };
        taken.retain(|_, expiry| *expiry > now);
        if taken.contains_key(&nonce) {
            return false;
        }
        taken.insert(nonce, until);
        true
    }

    /// Gives back `slot` of (scope, period), signed for nothing: the next search starts there again.
    fn release(&self, nonce: B256, scope: usize, period: u32, slot: u16) {
        if let Ok(mut taken) = self.taken.lock() {
            taken.remove(&nonce);
        }
        if let Ok(mut next) = self.next.lock() {
            if let Some(cursor) = next.get_mut(&(scope, period)) {
                *cursor = (*cursor).min(slot);
            }
        }
    }
}

impl SessionAgent {
    /// Signs an EIP-3009 authorisation paying `request.value` of `request.token` to `request.to` from the
    /// account, under the first signing scope of the session that allows it. Nothing is signed unless the module
    /// would accept it: the scope's rules on payee, value and window hold, the session is live, and for a counted
    /// scope a slot of the current period is free (the token has not used its nonce and this agent has not signed
    /// it). Refusals are [`Error::SigningRefused`], naming the rule (`SigningUsesExceeded` when every slot of the
    /// period is taken, with when the next period opens).
    pub async fn authorize_transfer(
        &self,
        request: &TransferRequest,
    ) -> Result<TransferAuthorization> {
        let type_hash = keccak256(TRANSFER_WITH_AUTHORIZATION);
        let policy = &self.session().policy;
        let scopes: Vec<(usize, Option<&SigningUseLimit>)> = policy
            .signing
            .typed_data
            .iter()
            .enumerate()
            .filter(|(_, s)| s.verifier == request.token && s.type_hash == type_hash)
            .map(|(i, s)| (i, s.max_uses.as_ref()))
            .collect();
        let chain = self.chain();
        let token = IERC3009::new(request.token, chain.provider.clone());
        let domain_separator = own_domain(&token, chain).await?;
        let now = chain.now().await?;
        let valid_for = request.valid_for.as_secs().max(1);
        let mut refusal = None;
        // A session with unrestricted signing, or none for this token, goes through the plain signing path,
        // which refuses or signs with a random nonce.
        let candidates: Vec<Option<(usize, Option<&SigningUseLimit>)>> =
            if scopes.is_empty() { vec![None] } else { scopes.into_iter().map(Some).collect() };
        for candidate in candidates {
            let (window, nonce, slot) = match candidate {
                Some((index, Some(limit))) => {
                    let period = match limit.period.resolve(now) {
                        Ok(period) => period,
                        Err(_) => {
                            refusal = Some(Error::SigningRefused {
                                rule: "OutsidePeriodWindow".into(),
                                message: format!(
                                    "signing scope {index}: the chain's time ({now}) is in no usable window of \
                                     its period"
                                ),
                            });
                            continue;
                        }
                    };
                    // Valid from the period's first second on: the token needs time > validAfter.
                    let after = now.saturating_sub(CLOCK_SKEW).max(period.start.saturating_sub(1));
                    let before = (now + valid_for).min(period.last + 1);
                    // Too close to the period's end to settle: a signature now would only spend a slot.
                    if before < now + MIN_VALIDITY {
                        let next = limit.period.next_open(now).map_or_else(
                            || "it never renews".to_string(),
                            |t| format!("the next period opens at {t}"),
                        );
                        refusal = Some(Error::SigningRefused {
                            rule: "PeriodEnding".into(),
                            message: format!(
                                "signing scope {index}: the period ends in {} s, too soon for a payment to settle; \
                                 {next}",
                                before.saturating_sub(now)
                            ),
                        });
                        continue;
                    }
                    // The scope's rules on payee and amount first: they say more than a full period does.
                    if let Err(e) =
                        self.check_rules(request, domain_separator, (after, before), index, period)
                    {
                        refusal = Some(e);
                        continue;
                    }
                    match self.free_slot(&token, index, limit, period, now, before).await? {
                        Ok((slot, nonce)) => ((after, before), nonce, Some((period.index, slot))),
                        Err(e) => {
                            refusal = Some(e);
                            continue;
                        }
                    }
                }
                _ => ((now.saturating_sub(CLOCK_SKEW), now + valid_for), random_nonce(), None),
            };
            let account = self.account();
            let typed = transfer_message(account, request, domain_separator, window, nonce, slot);
            match self.sign_typed_data(&typed).await {
                Ok(signed) => {
                    return Ok(TransferAuthorization::of(
                        account,
                        request,
                        window,
                        nonce,
                        signed.signature,
                        slot,
                    ))
                }
                Err(e) => {
                    // The slot was taken for this signature: give it back.
                    if let (Some((index, _)), Some((period, slot))) = (candidate, slot) {
                        self.signed_slots().release(nonce, index, period, slot);
                    }
                    refusal = Some(e);
                }
            }
        }
        Err(refusal.unwrap_or_else(|| Error::SigningRefused {
            rule: "SigningScopeMissing".into(),
            message: format!(
                "no signing scope allows transfer authorisations of {}",
                request.token
            ),
        }))
    }

    /// Signs an authorisation for `request` in `slot` of the current period, under the first signing scope for
    /// the token (with a random nonce when that scope is not counted), skipping every check
    /// [`authorize_transfer`](Self::authorize_transfer) makes. It exists to show, and to test, that the token
    /// and the module refuse what the pre-flight would: paying never needs it.
    pub async fn authorize_transfer_unchecked(
        &self,
        request: &TransferRequest,
        slot: u16,
    ) -> Result<TransferAuthorization> {
        let type_hash = keccak256(TRANSFER_WITH_AUTHORIZATION);
        let chain = self.chain();
        let token = IERC3009::new(request.token, chain.provider.clone());
        let domain_separator = token.DOMAIN_SEPARATOR().call().await.map_err(|e| {
            Error::rpc(&chain.label, format!("DOMAIN_SEPARATOR of {}: {e}", request.token))
        })?;
        let now = chain.now().await?;
        let scopes = &self.session().policy.signing.typed_data;
        let scope =
            scopes.iter().position(|s| s.verifier == request.token && s.type_hash == type_hash);
        let counted = scope.and_then(|i| Some((i, scopes[i].max_uses.as_ref()?)));
        let (window, nonce, slot) = match counted {
            Some((index, limit)) => {
                let period = limit.period.resolve(now).unwrap_or(PeriodSlot {
                    index: 1,
                    start: now,
                    last: now + request.valid_for.as_secs(),
                });
                let scope_index = u8::try_from(index).map_err(|_| {
                    Error::Setup(format!("signing scope {index} has no packed index"))
                })?;
                (
                    (
                        now.saturating_sub(CLOCK_SKEW).max(period.start.saturating_sub(1)),
                        (now + request.valid_for.as_secs()).min(period.last + 1),
                    ),
                    use_nonce(self.session_id(), scope_index, period.index, slot),
                    Some((period.index, slot)),
                )
            }
            None => (
                (now.saturating_sub(CLOCK_SKEW), now + request.valid_for.as_secs()),
                random_nonce(),
                None,
            ),
        };
        let account = self.account();
        let typed = transfer_message(account, request, domain_separator, window, nonce, slot);
        let hash = typed.hash(typed.fields.len());
        let digest = leash_core::message_digest(
            chain.chain_id,
            chain.module,
            account,
            self.session_id(),
            hash,
        );
        let key_signature = self.signer().sign_digest(digest).await?;
        let signature = leash_core::erc1271_signature(
            chain.module,
            self.session(),
            &key_signature,
            scope,
            &typed,
        )?;
        Ok(TransferAuthorization::of(account, request, window, nonce, signature, slot))
    }

    /// What each counted scope for `token` transfers has left in the current period: slots the token has not
    /// used and this agent has not signed.
    pub async fn payments_left(&self, token: Address) -> Result<Vec<PaymentsLeft>> {
        let type_hash = keccak256(TRANSFER_WITH_AUTHORIZATION);
        let chain = self.chain();
        let erc3009 = IERC3009::new(token, chain.provider.clone());
        let now = chain.now().await?;
        let id = self.session_id();
        let mut out = Vec::new();
        for (index, scope) in self.session().policy.signing.typed_data.iter().enumerate() {
            let Some(limit) = scope
                .max_uses
                .as_ref()
                .filter(|_| scope.verifier == token && scope.type_hash == type_hash)
            else {
                continue;
            };
            let per_payment = scope.rules.iter().find_map(|rule| match rule.condition {
                // `value` is the authorisation's third word.
                leash_core::Condition::Lte(cap) if rule.offset == 64 => Some(cap),
                _ => None,
            });
            let next_period = limit.period.next_open(now);
            let Ok(period) = limit.period.resolve(now) else {
                out.push(PaymentsLeft {
                    scope: index,
                    count: limit.count,
                    left: 0,
                    per_payment,
                    next_period,
                });
                continue;
            };
            let scope_index = u8::try_from(index)
                .map_err(|_| Error::Setup(format!("signing scope {index} has no packed index")))?;
            let nonces: Vec<B256> = (0..limit.count)
                .map(|slot| use_nonce(id, scope_index, period.index, slot))
                .collect();
            let mut left = 0u16;
            for batch in nonces.chunks(usize::from(SLOT_BATCH) * 4) {
                let reads = batch.iter().map(|nonce| {
                    let call = erc3009.authorizationState(self.account(), *nonce);
                    async move { call.call().await }
                });
                for (nonce, used) in batch.iter().zip(futures::future::join_all(reads).await) {
                    let used = used.map_err(|e| {
                        Error::rpc(&chain.label, format!("authorizationState: {e}"))
                    })?;
                    if !used && !self.signed_slots().is_taken(*nonce, now) {
                        left += 1;
                    }
                }
            }
            out.push(PaymentsLeft {
                scope: index,
                count: limit.count,
                left,
                per_payment,
                next_period,
            });
        }
        Ok(out)
    }

    /// Whether the scope's rules (payee, amount, window) allow `request`, judged on the message it would be in
    /// slot 0 of `period`: a refusal other than the slot's own is the answer, before any slot is looked for.
    fn check_rules(
        &self,
        request: &TransferRequest,
        domain_separator: B256,
        window: (u64, u64),
        scope: usize,
        period: PeriodSlot,
    ) -> Result<()> {
        let scope_index = u8::try_from(scope)
            .map_err(|_| Error::Setup(format!("signing scope {scope} has no packed index")))?;
        let nonce = use_nonce(self.session_id(), scope_index, period.index, 0);
        let message = transfer_message(
            self.account(),
            request,
            domain_separator,
            window,
            nonce,
            Some((period.index, 0)),
        );
        match self.session().policy.check_signing(self.session_id(), &message) {
            Ok(_) => Ok(()),
            Err(refusal) => Err(Error::SigningRefused {
                rule: refusal.rule().into(),
                message: self
                    .session()
                    .policy
                    .describe_signing_refusal(&refusal, self.view().tokens_table()),
            }),
        }
    }

    /// The first slot of `period` the token has not used and this agent has not signed, taken until `until`;
    /// or the refusal when every one is.
    async fn free_slot(
        &self,
        token: &IERC3009::IERC3009Instance<alloy::providers::DynProvider>,
        scope: usize,
        limit: &SigningUseLimit,
        period: PeriodSlot,
        now: u64,
        until: u64,
    ) -> Result<std::result::Result<(u16, B256), Error>> {
        let id = self.session_id();
        let account = self.account();
        let scope_index = u8::try_from(scope)
            .map_err(|_| Error::Setup(format!("signing scope {scope} has no packed index")))?;
        let nonce = |slot: u16| use_nonce(id, scope_index, period.index, slot);
        let mut first = self.signed_slots().start(scope, period.index);
        while first < limit.count {
            let last = first.saturating_add(SLOT_BATCH).min(limit.count);
            let open: Vec<u16> =
                (first..last).filter(|s| !self.signed_slots().is_taken(nonce(*s), now)).collect();
            let reads = open.iter().map(|s| {
                let call = token.authorizationState(account, nonce(*s));
                async move { call.call().await }
            });
            let used = futures::future::join_all(reads).await;
            for (slot, used) in open.iter().zip(used) {
                let used = used.map_err(|e| {
                    Error::rpc(&self.chain().label, format!("authorizationState: {e}"))
                })?;
                if !used && self.signed_slots().take(nonce(*slot), until, now) {
                    // Every slot from the search's start to this one is used or signed.
                    self.signed_slots().advance(scope, period.index, *slot + 1);
                    return Ok(Ok((*slot, nonce(*slot))));
                }
            }
            first = last;
        }
        let next = limit.period.next_open(now).map_or_else(
            || " (the period never renews)".to_string(),
            |t| format!("; the next period opens at {t}"),
        );
        Ok(Err(Error::SigningRefused {
            rule: "SigningUsesExceeded".into(),
            message: format!(
                "signing scope {scope}: all {} payments of the current period are used or signed{next}",
                limit.count
            ),
        }))
    }
}

/// The EIP-3009 message paying `request` from `account`, as a signing request.
fn transfer_message(
    account: Address,
    request: &TransferRequest,
    domain_separator: B256,
    window: (u64, u64),
    nonce: B256,
    slot: Option<(u32, u16)>,
) -> TypedDataRequest {
    let fields =
        (account, request.to, request.value, U256::from(window.0), U256::from(window.1), nonce)
            .abi_encode();
    TypedDataRequest {
        verifier: request.token,
        domain_separator,
        type_hash: keccak256(TRANSFER_WITH_AUTHORIZATION),
        fields: fields.into(),
        slot: slot.map(|(_, s)| s),
    }
}

/// The token's EIP-712 domain separator, once it is checked to be the token's own: `keccak256` of its name, its
/// version, the chain and its own address. A contract that reports another's separator (a payee's fake asset
/// passing on USDC's, say) would have the key sign a message that other contract acts on: nothing is signed for it.
async fn own_domain(
    token: &IERC3009::IERC3009Instance<alloy::providers::DynProvider>,
    chain: &crate::Chain,
) -> Result<B256> {
    let read = |what: &str, e: alloy::contract::Error| {
        Error::rpc(&chain.label, format!("{what} of {}: {e}", token.address()))
    };
    let (separator, name, version) = tokio::join!(
        async { token.DOMAIN_SEPARATOR().call().await },
        async { token.name().call().await },
        async { token.version().call().await },
    );
    let separator = separator.map_err(|e| read("DOMAIN_SEPARATOR", e))?;
    let (name, version) =
        (name.map_err(|e| read("name", e))?, version.map_err(|e| read("version", e))?);
    let own = keccak256(
        (
            keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
            keccak256(name.as_bytes()),
            keccak256(version.as_bytes()),
            U256::from(chain.chain_id),
            *token.address(),
        )
            .abi_encode(),
    );
    if own != separator {
        return Err(Error::SigningRefused {
            rule: "ForeignDomain".into(),
            message: format!(
                "{} reports an EIP-712 domain that is not its own (name {name:?}, version {version:?}, chain {}): \
                 nothing is signed for it",
                token.address(),
                chain.chain_id
            ),
        });
    }
    Ok(separator)
}
