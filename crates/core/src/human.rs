//! Words for people: why a call is rejected, and what a session may do.

use crate::{
    explain::Rejection,
    model::{
        Action, ArgRule, CallScope, Condition, Period, Session, SessionPolicy, Target,
        TypedDataScope,
    },
    units::{format_duration, format_units},
    Step, TokenTable, TypedDataLayout,
};
use alloy::{
    dyn_abi::DynSolType,
    primitives::{Address, U256},
};
use leash_contracts::bindings::SessionKeyValidator::SessionKeyValidatorErrors as E;
use serde_json::{json, Value};

impl Rejection {
    /// The rule's name: the module's error name (`AmountLimitExceeded`, `TargetNotAllowed`, ...), `Overflow`,
    /// or `OutOfTime` for the EntryPoint's time check.
    pub fn rule(&self) -> &'static str {
        match self {
            Rejection::Module(e) => error_name(e),
            Rejection::Overflow => "Overflow",
            Rejection::OutOfTime { .. } => "OutOfTime",
        }
    }

    /// The index of the call the rule rejects, if it is about one call.
    pub fn call_index(&self) -> Option<usize> {
        let index = match self {
            Rejection::Module(e) => match e {
                E::ForbiddenTarget(x) => x.callIndex,
                E::TargetNotAllowed(x) => x.callIndex,
                E::SelectorNotAllowed(x) => x.callIndex,
                E::NativeTransferNotAllowed(x) => x.callIndex,
                E::ValuePerCallExceeded(x) => x.callIndex,
                E::ArgumentOutOfBounds(x) => x.callIndex,
                E::ArgumentRuleFailed(x) => x.callIndex,
                E::InvalidRule(x) => x.callIndex,
                E::MalformedArguments(x) => x.callIndex,
                E::NoSuchElement(x) => x.callIndex,
                E::TooManyElements(x) => x.callIndex,
                E::MissingCallAction(x) => x.callIndex,
                E::ActionNotGranted(x) => x.callIndex,
                E::UseLimitExceeded(x) => x.callIndex,
                E::AmountLimitExceeded(x) => x.callIndex,
                E::ValueLimitExceeded(x) => x.callIndex,
                _ => return None,
            },
            _ => return None,
        };
        Some(index.saturating_to())
    }

    /// The rejection in words, using the session's action names and the token table for units.
    pub fn explain(&self, session: &Session, tokens: &TokenTable) -> String {
        self.explain_for(session, tokens, &[])
    }

    /// [`explain`](Self::explain), knowing which action each call was judged against (the pre-flight's
    /// [`Evaluator::choose_actions`](crate::Evaluator::choose_actions)): a failed rule is then named from the
    /// call's own action, not guessed among the actions whose rule at that index the value fails.
    pub fn explain_for(
        &self,
        session: &Session,
        tokens: &TokenTable,
        call_actions: &[Option<usize>],
    ) -> String {
        let call = |i: U256| format!("call {}", i.saturating_to::<usize>() + 1);
        let e = match self {
            Rejection::Overflow => {
                return "an amount argument is so large that the module's running sum overflows; the chain \
                        refuses it"
                    .into()
            }
            Rejection::OutOfTime { now, valid_after, valid_until } => {
                return if now < valid_after {
                    format!("the operation may only run from {} (now {})", ts(*valid_after), ts(*now))
                } else {
                    format!("the operation's window ended at {} (now {})", ts(*valid_until), ts(*now))
                }
            }
            Rejection::Module(e) => e,
        };
        match e {
            E::SessionNotGranted(_) => "the session is not granted on this account".into(),
            E::SessionVoidedByRevokeAll(_) => {
                "the session was revoked by \"revoke all\" (or by uninstalling the session module); the owner \
                 must grant it again with a new signature"
                    .into()
            }
            E::GrantVoidedByRevokeAll(x) => format!(
                "the owner signed this grant for epoch {} but the account is at epoch {} since a \"revoke all\"; \
                 the grant is void: the owner must sign a new grant",
                x.grantEpoch, x.accountEpoch
            ),
            E::GasBudgetRequired(_) => {
                "the session has neither a gas budget nor a required paymaster, so its fees would be unbounded; \
                 the module refuses to grant it"
                    .into()
            }
            E::NotInstalled(x) => format!(
                "the session module is not installed on account {}, so it holds no sessions for it; install it \
                 first",
                x.account
            ),
            E::SessionIsRevoked(_) => "the session was revoked by the owner".into(),
            E::InvalidSession(_) => {
                "the session is malformed (format version, signer key, time window or packing)".into()
            }
            E::MalformedSignature(_) => "the operation's session signature is not well-formed packed data (a \
                                         length or count runs past its end, or bytes are left over)"
                .into(),
            E::UnsupportedFormat(x) => format!(
                "the operation's session signature has format version {}; the module reads version {}",
                x.version,
                leash_contracts::FORMAT_VERSION
            ),
            E::PaymasterRequired(x) => {
                format!("the session requires paymaster {}; the operation uses {}", x.required, name_or_none(x.used))
            }
            E::GasBudgetExceeded(x) => format!(
                "the operation may cost up to {} ETH of gas; the session's budget has {} ETH left of {} ETH",
                format_units(x.cost, 18),
                format_units(x.budget.saturating_sub(x.spent), 18),
                format_units(x.budget, 18)
            ),
            E::SessionUseLimitExceeded(x) => format!(
                "the session allows {} per period; this would be number {}",
                plural(U256::from(x.maxUses), "operation"),
                x.uses
            ),
            E::PeriodInPast(x) => format!(
                "the operation states a time in period {} but period {} was already charged; state the current time",
                x.stated, x.charged
            ),
            E::OutsidePeriodWindow(x) if x.windowEnd.is_zero() => {
                format!("{} is outside every window the session may act in", ts(x.time.to()))
            }
            E::OutsidePeriodWindow(x) => format!(
                "{} is outside the period's open window ({} to {})",
                ts(x.time.to()),
                ts(x.windowStart.to()),
                ts(x.windowEnd.to())
            ),
            E::InvalidPeriod(_) => "the period is malformed (zero length or too far in time)".into(),
            E::BatchTooLarge(x) => format!("the batch has {} calls; a session may send at most {}", x.calls, x.max),
            E::ForbiddenTarget(x) => format!(
                "{}: a session may never call {} ({}); whatever its policy (sudo included) it may not reach \
                 the account itself, address(0), the account's modules or an EntryPoint",
                call(x.callIndex),
                forbidden_kind(x.target),
                x.target
            ),
            E::TargetNotAllowed(x) => {
                let mut allowed: Vec<String> = Vec::new();
                for action in &session.policy.actions {
                    let name = match action.target {
                        Target::Contract(address) => address_name(address, tokens),
                        Target::Any => "any contract".into(),
                    };
                    if !allowed.contains(&name) {
                        allowed.push(name);
                    }
                }
                format!(
                    "{}: {} is not a contract this session may call{}",
                    call(x.callIndex),
                    address_name(x.target, tokens),
                    if allowed.is_empty() {
                        String::new()
                    } else {
                        format!(" (allowed: {})", allowed.join(", "))
                    }
                )
            }
            E::SelectorNotAllowed(x) => {
                let mut allowed: Vec<String> = Vec::new();
                for signature in session.policy.actions.iter().filter_map(|a| a.function.as_ref().map(|f| f.signature())) {
                    if !allowed.contains(&signature) {
                        allowed.push(signature);
                    }
                }
                format!(
                    "{}: function {} is not allowed{}",
                    call(x.callIndex),
                    x.selector,
                    if allowed.is_empty() { String::new() } else { format!(" (allowed: {})", allowed.join(", ")) }
                )
            }
            E::NativeTransferNotAllowed(x) => {
                format!("{}: a plain transfer of native value is not allowed", call(x.callIndex))
            }
            E::ValuePerCallExceeded(x) => format!(
                "{}: sends {} ETH; at most {} ETH per call",
                call(x.callIndex),
                format_units(x.value, 18),
                format_units(x.max, 18)
            ),
            E::ArgumentOutOfBounds(x) => format!(
                "{}: the calldata is too short for the argument at byte {} ({} bytes of arguments)",
                call(x.callIndex),
                x.offset,
                x.argumentsLength
            ),
            E::MalformedArguments(x) => format!(
                "{}: an offset or length in the arguments (at byte {}) is not a multiple of 32, points back into \
                 the head that holds it or past the arguments, or packed bytes have the wrong length; the module \
                 refuses arguments it cannot read unambiguously",
                call(x.callIndex),
                x.at
            ),
            E::NoSuchElement(x) => format!(
                "{}: a rule reads element {} of a list that has {}",
                call(x.callIndex),
                x.index,
                x.length
            ),
            E::TooManyElements(x) => format!(
                "{}: a rule on every element allows at most {} elements; the call has {}",
                call(x.callIndex),
                x.max,
                x.length
            ),
            E::ArgumentRuleFailed(x) => {
                let value = U256::from_be_bytes(x.value.0);
                let r = x.ruleIndex.saturating_to::<usize>();
                let judged = call_actions
                    .get(x.callIndex.saturating_to::<usize>())
                    .copied()
                    .flatten()
                    .and_then(|a| session.policy.actions.get(a));
                let rule = match judged {
                    Some(action) => action.rules.get(r).map(|rule| (action, rule)),
                    None => session.policy.actions.iter().find_map(|a| {
                        a.rules
                            .get(r)
                            .filter(|rule| {
                                rule.condition.op() as u8 == x.op
                                    && rule.condition.holds(value) == Some(false)
                            })
                            .map(|rule| (a, rule))
                    }),
                };
                let (what, condition, shown) = match rule {
                    Some((action, rule)) => (
                        rule_name(action, rule),
                        describe_condition(&rule.condition, |v| rule_value(action, rule.offset, &rule.path, *v, tokens, &AddressBook::new())),
                        rule_value(action, rule.offset, &rule.path, value, tokens, &AddressBook::new()),
                    ),
                    None => ("an argument".into(), "its rule".into(), word_text(value)),
                };
                format!("{}: {what} is {shown}; the policy requires {what} {condition}", call(x.callIndex))
            }
            E::InvalidRule(x) => format!("{}: argument rule {} is malformed", call(x.callIndex), x.ruleIndex),
            E::MissingCallAction(x) => format!("{}: no action of the session covers this call", call(x.callIndex)),
            E::ActionNotGranted(x) => format!(
                "{}: the action it uses ({}) has no record yet and its Merkle proof does not lead to the \
                 session's actionsRoot: it is not one of the session's actions, or its proof is missing",
                call(x.callIndex),
                x.actionHash
            ),
            E::UseLimitExceeded(x) => format!(
                "{}: the action allows {} per period; this would be call number {}",
                call(x.callIndex),
                plural(x.maxUses, "call"),
                x.uses
            ),
            E::AmountLimitExceeded(x) => {
                let action = session
                    .policy
                    .actions
                    .iter()
                    .find(|a| a.amount_cap.as_ref().is_some_and(|c| U256::from(c.cap) == x.cap));
                let amount = |v: U256| match action {
                    Some(action) => amount_text(action, v, tokens),
                    None => v.to_string(),
                };
                format!(
                    "{}: would bring the amount spent this period to {}; the cap is {}",
                    call(x.callIndex),
                    amount(x.wouldSpend),
                    amount(x.cap)
                )
            }
            E::ValueLimitExceeded(x) => format!(
                "{}: would bring native value sent this period to {} ETH; the cap is {} ETH",
                call(x.callIndex),
                format_units(x.wouldSpend, 18),
                format_units(x.cap, 18)
            ),
            E::EmptyValidityWindow(x) => format!(
                "the session's window and the periods charged do not overlap ({} to {})",
                ts(x.validAfter.to()),
                ts(x.validUntil.to())
            ),
            other => format!("the module refuses the operation: {other:?}"),
        }
    }

    /// The rejection in machine form: `{"rule": ..., "call": ..., "message": ..., "error": ...}`.
    pub fn to_json(&self, session: &Session, tokens: &TokenTable) -> Value {
        json!({
            "rule": self.rule(),
            "call": self.call_index(),
            "message": self.explain(session, tokens),
            "error": match self {
                Rejection::Module(e) => module_error_fields(e),
                Rejection::Overflow => json!({ "name": "Panic", "code": "17" }),
                Rejection::OutOfTime { now, valid_after, valid_until } => json!({
                    "name": "OutOfTime",
                    "now": now.to_string(),
                    "validAfter": valid_after.to_string(),
                    "validUntil": valid_until.to_string(),
                }),
            },
        })
    }
}

/// A module error as `{"name": …, field: value, …}`, its fields named as in the module's ABI; integers as decimal
/// strings, addresses checksummed, bytes in hex.
fn module_error_fields(error: &E) -> Value {
    use alloy::{dyn_abi::JsonAbiExt, json_abi::JsonAbi, sol_types::SolInterface};
    use std::sync::OnceLock;
    static ABI: OnceLock<Option<JsonAbi>> = OnceLock::new();
    let abi = ABI.get_or_init(|| {
        let artifact: Value =
            serde_json::from_str(leash_contracts::SESSION_KEY_VALIDATOR_ARTIFACT).ok()?;
        serde_json::from_value(artifact.get("abi")?.clone()).ok()
    });
    let data = error.abi_encode();
    let mut fields = serde_json::Map::new();
    fields.insert("name".into(), json!(error_name(error)));
    let found =
        abi.as_ref().and_then(|abi| abi.errors().find(|e| e.selector().as_slice() == &data[..4]));
    if let Some(definition) = found {
        if let Ok(values) = definition.abi_decode_input(&data[4..]) {
            for (param, value) in definition.inputs.iter().zip(&values) {
                fields.insert(param.name.clone(), plain_json(value));
            }
        }
    }
    Value::Object(fields)
}

fn plain_json(value: &alloy::dyn_abi::DynSolValue) -> Value {
    use alloy::dyn_abi::DynSolValue as V;
    match value {
        V::Bool(b) => json!(b),
        V::Int(i, _) => json!(i.to_string()),
        V::Uint(u, _) => json!(u.to_string()),
        V::Address(a) => json!(a.to_string()),
        V::FixedBytes(word, size) => json!(alloy::hex::encode_prefixed(&word[..*size])),
        V::Bytes(bytes) => json!(alloy::hex::encode_prefixed(bytes)),
        V::String(s) => json!(s),
        V::Array(items) | V::FixedArray(items) | V::Tuple(items) => {
            Value::Array(items.iter().map(plain_json).collect())
        }
        other => json!(format!("{other:?}")),
    }
}

/// What a forbidden target is, as far as the address alone tells.
fn forbidden_kind(target: Address) -> &'static str {
    if target.is_zero() {
        "address(0), which the account executes as a call to itself"
    } else if leash_contracts::ENTRYPOINTS.contains(&target) {
        "an ERC-4337 EntryPoint"
    } else {
        "the account itself or one of its modules"
    }
}

fn plural(n: U256, noun: &str) -> String {
    format!("{n} {noun}{}", if n == U256::from(1) { "" } else { "s" })
}

fn ts(seconds: u64) -> String {
    crate::Timestamp(seconds).to_string()
}

fn name_or_none(address: Address) -> String {
    if address.is_zero() {
        "none".into()
    } else {
        address.to_string()
    }
}

/// Names for addresses in descriptions: a policy file's `[addresses]` and a network's contracts.
type AddressBook = std::collections::BTreeMap<String, Address>;

/// An address by its token symbol or its name in `names`, with the address: "merchant (0x4D65…0001)".
fn address_named(address: Address, tokens: &TokenTable, names: &AddressBook) -> String {
    match names.iter().find(|(_, a)| **a == address) {
        Some((name, _)) if tokens.symbol_of(address).is_none() => format!("{name} ({address})"),
        _ => address_name(address, tokens),
    }
}

fn address_name(address: Address, tokens: &TokenTable) -> String {
    match tokens.symbol_of(address) {
        Some(symbol) => format!("{symbol} ({address})"),
        None => address.to_string(),
    }
}

fn describe_condition(condition: &Condition, v: impl Fn(&U256) -> String) -> String {
    match condition {
        Condition::Eq(x) => format!("= {}", v(x)),
        Condition::Neq(x) => format!("≠ {}", v(x)),
        Condition::Gt(x) => format!("> {}", v(x)),
        Condition::Gte(x) => format!("≥ {}", v(x)),
        Condition::Lt(x) => format!("< {}", v(x)),
        Condition::Lte(x) => format!("≤ {}", v(x)),
        Condition::InRange(a, b) => format!("between {} and {}", v(a), v(b)),
        Condition::OneOf(values) => {
            format!("one of {}", values.iter().map(v).collect::<Vec<_>>().join(", "))
        }
    }
}

/// A rule's value: in the token's units when the rule is on the argument the action's spending cap counts (so
/// "amount ≤ 100 USDC", not "≤ 100000000"), as an address for an `address` argument, else as [`word_text`]
/// shows it.
fn rule_value(
    action: &Action,
    offset: u16,
    path: &[Step],
    word: U256,
    tokens: &TokenTable,
    names: &AddressBook,
) -> String {
    if action.amount_cap.as_ref().is_some_and(|cap| cap.offset == offset && cap.path == path) {
        return amount_text(action, word, tokens);
    }
    if let Some((symbol, decimals)) = amount_token(action, offset, path, tokens) {
        return format!("{} {symbol}", format_units(word, decimals));
    }
    let declared = action.function.as_ref().and_then(|f| crate::path::describe(f, offset, path));
    match declared {
        // An address argument reads as an address, however small the number.
        Some((_, DynSolType::Address)) => {
            address_named(Address::from_word(word.to_be_bytes::<32>().into()), tokens, names)
        }
        _ => word_text(word),
    }
}

/// A word as an address when it looks like one, else as a number.
fn word_text(word: U256) -> String {
    let bytes = word.to_be_bytes::<32>();
    if word > U256::from(u64::MAX) && bytes[..12].iter().all(|b| *b == 0) {
        Address::from_slice(&bytes[12..]).to_string()
    } else {
        word.to_string()
    }
}

fn error_name(e: &E) -> &'static str {
    macro_rules! names {
        ($($v:ident),* $(,)?) => {
            match e {
                $(E::$v(_) => stringify!($v),)*
                _ => "ModuleError",
            }
        };
    }
    names!(
        ActionNotGranted,
        AmountLimitExceeded,
        ArgumentOutOfBounds,
        ArgumentRuleFailed,
        BatchTooLarge,
        DelegateCallForbidden,
        EmptyValidityWindow,
        ForbiddenTarget,
        GasBudgetExceeded,
        GasBudgetRequired,
        GrantVoidedByRevokeAll,
        InvalidGrantSignature,
        InvalidPeriod,
        InvalidRule,
        InvalidSession,
        MalformedArguments,
        MalformedExecution,
        MalformedSignature,
        MissingCallAction,
        NativeTransferNotAllowed,
        NoSuchElement,
        NotInstalled,
        OutsidePeriodWindow,
        PaymasterRequired,
        PeriodInPast,
        SelectorNotAllowed,
        SenderMismatch,
        SessionIsRevoked,
        SessionNotGranted,
        SessionVoidedByRevokeAll,
        SessionUseLimitExceeded,
        TargetNotAllowed,
        TooManyElements,
        TooManyRules,
        UnknownSignatureMode,
        UnsupportedFormat,
        UnsupportedCallData,
        UnsupportedExecutionMode,
        UseLimitExceeded,
        ValueLimitExceeded,
        ValuePerCallExceeded,
    )
}

impl crate::SessionPolicy {
    /// What an owner should think twice about before granting this policy: sudo, signing anything, no end, and
    /// actions with no cap on uses, amounts or value. Empty for a tightly bounded session.
    ///
    /// ```
    /// use leash_core::{Action, SessionPolicy};
    /// use alloy::primitives::Address;
    ///
    /// let open = SessionPolicy::builder()
    ///     .action(Action::call(Address::repeat_byte(1), "transfer(address to, uint256 amount)").unwrap())
    ///     .build()
    ///     .unwrap();
    /// let warnings = open.warnings();
    /// assert!(warnings.iter().any(|w| w.contains("no end")));
    /// assert!(warnings.iter().any(|w| w.contains("no cap")));
    /// ```
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.sudo {
            warnings.push(
                "sudo: the session may call any contract and function (all but the account, its modules and \
                 the EntryPoints), with no per-action limit"
                    .to_owned(),
            );
        }
        if self.signing.any {
            warnings.push("the session may sign any message for the account (ERC-1271)".to_owned());
        }
        if self.valid_until.is_none() {
            warnings.push("no end: the session stays valid until it is revoked".to_owned());
        }
        for (i, action) in self.actions.iter().enumerate() {
            if action.max_uses.is_none()
                && action.amount_cap.is_none()
                && action.value_cap.is_none()
            {
                let name = action.name.clone().unwrap_or_else(|| format!("action {}", i + 1));
                warnings.push(format!(
                    "{name} has no cap: no limit on its uses, the amounts it moves or the value it sends"
                ));
            }
            let name = || action.name.clone().unwrap_or_else(|| format!("action {}", i + 1));
            for rule in &action.rules {
                let (what, ty) = action
                    .function
                    .as_ref()
                    .and_then(|f| crate::path::describe(f, rule.offset, &rule.path))
                    .unwrap_or_else(|| (rule_name(action, rule), DynSolType::Uint(256)));
                // The module compares whole words; a contract compiled with ABI coder v1 (Uniswap V2's router,
                // Circle's USDC) or reading calldata itself (Seaport) keeps only a narrower value's low bits, so a
                // word with other bits set passes these and reaches it as the value they meant to refuse.
                let narrow = match &ty {
                    DynSolType::Address | DynSolType::Bool => true,
                    DynSolType::Uint(bits) | DynSolType::Int(bits) => *bits < 256,
                    DynSolType::FixedBytes(size) => *size < 32,
                    _ => false,
                };
                let lower_bound = matches!(
                    rule.condition,
                    Condition::Neq(_) | Condition::Gt(_) | Condition::Gte(_)
                );
                if narrow && lower_bound {
                    warnings.push(format!(
                        "{}: the rule on {what} (a {ty}) holds against contracts that refuse malformed words \
                         (Solidity 0.8, ABI coder v2) but not against ones that keep only its bits: prefer eq, \
                         one_of, lt, lte or in_range",
                        name()
                    ));
                }
                if crate::path::has_every(&rule.path) {
                    warnings.push(format!(
                        "{}: the rule on {what} holds for a call with no element there at all; add a rule on its \
                         length (len(...) >= 1) if one is required",
                        name()
                    ));
                }
            }
        }
        warnings
    }
}

impl Session {
    /// The session's envelope in plain words, one line per fact.
    pub fn describe(&self, tokens: &TokenTable) -> Vec<String> {
        self.policy.describe(tokens)
    }
}

impl crate::SessionPolicy {
    /// The policy's envelope in plain words, one line per fact.
    pub fn describe(&self, tokens: &TokenTable) -> Vec<String> {
        self.describe_named(tokens, &AddressBook::new())
    }

    /// [`describe`](Self::describe), naming the addresses `names` knows (a policy file's `[addresses]`, a
    /// network's contracts) as the file does: "to = merchant (0x4D65…)".
    pub fn describe_named(
        &self,
        tokens: &TokenTable,
        names: &std::collections::BTreeMap<String, Address>,
    ) -> Vec<String> {
        let policy = self;
        let mut lines = Vec::new();
        lines.push(match policy.valid_until {
            Some(until) => format!("valid from {} until {until}", policy.valid_after),
            None => format!("valid from {} with no end", policy.valid_after),
        });
        if policy.sudo {
            lines.push(
                "may make any call (sudo), except to the account itself, address(0), its modules, an \
                 EntryPoint, or by delegatecall"
                    .into(),
            );
        }
        if policy.signing.any {
            lines.push(
                "may sign any message for the account (unrestricted ERC-1271 signing, like sudo: permits, \
                 payment authorisations, orders, for any contract)"
                    .into(),
            );
        }
        for action in &policy.actions {
            lines.push(describe_action(action, tokens, names));
        }
        if let Some(limit) = &policy.max_ops {
            let usable =
                describe_usable(&limit.period).map(|u| format!(", {u}")).unwrap_or_default();
            lines.push(format!(
                "at most {} operations {}{usable}",
                limit.count,
                describe_period(&limit.period)
            ));
        }
        if let Some(budget) = policy.effective_gas_budget() {
            lines.push(format!(
                "gas budget {} ETH over the session's life{}",
                format_units(U256::from(budget), 18),
                if policy.gas_budget_is_default() { " (default)" } else { "" }
            ));
        }
        if let Some(paymaster) = policy.paymaster {
            lines.push(format!("every operation must use paymaster {paymaster}"));
        }
        for scope in &policy.signing.typed_data {
            lines.push(describe_scope(scope, tokens, names));
        }
        lines
    }
}

fn describe_scope(scope: &TypedDataScope, tokens: &TokenTable, names: &AddressBook) -> String {
    let layout = scope.encode_type.as_deref().and_then(|t| TypedDataLayout::parse(t).ok());
    let what = match (&scope.name, &layout) {
        (Some(name), Some(layout)) => format!("{name} ({} typed data)", layout.primary()),
        (Some(name), None) => format!("{name} (typed data {})", scope.type_hash),
        (None, Some(layout)) => format!("{} typed data", layout.primary()),
        (None, None) => format!("typed data of type {}", scope.type_hash),
    };
    let layout = layout.map(|l| l.with_nested(&scope.nested));
    let mut text = format!("may sign {what} for {}", address_named(scope.verifier, tokens, names));
    let mut per_message = None;
    for rule in &scope.rules {
        let (name, ty) = match layout.as_ref().and_then(|l| l.field_at(rule.offset)) {
            Some((name, ty)) => (name, Some(ty)),
            None => (format!("word at byte {}", rule.offset), None),
        };
        // An EIP-2612 permit's `value` or an EIP-3009 authorisation's on a token reads in its units.
        let token = tokens
            .symbol_of(scope.verifier)
            .and_then(|s| tokens.get(s).map(|t| (s, t.decimals)))
            .filter(|_| ty.as_deref().is_some_and(|t| t.starts_with("uint")))
            .filter(|_| name == "value" || name == "amount");
        let condition = describe_condition(&rule.condition, |x| match token {
            Some((symbol, decimals)) => format!("{} {symbol}", format_units(*x, decimals)),
            None => field_value(ty.as_deref(), *x, tokens, names),
        });
        text.push_str(&format!(", {name} {condition}"));
        if let (Some((symbol, decimals)), Condition::Lte(cap)) = (token, &rule.condition) {
            per_message = Some((*cap, symbol, decimals));
        }
    }
    if let Some(limit) = &scope.max_uses {
        text.push_str(&format!(
            ", at most {} such messages take effect {}",
            limit.count,
            describe_period(&limit.period)
        ));
        // The count times the per-message cap is the bound the chain keeps (docs/payments.md).
        if let Some((cap, symbol, decimals)) = per_message {
            let total = cap.saturating_mul(U256::from(limit.count));
            text.push_str(&format!(" (at most {} {symbol})", format_units(total, decimals)));
        }
    }
    text
}

impl SessionPolicy {
    /// A signing refusal in the policy's words: for a rule on a field, the field by name, what the message has and
    /// what the rule requires ("to is 0x57…; the policy requires to = 0x41…"), amounts in the token's units.
    pub fn describe_signing_refusal(
        &self,
        refusal: &crate::SigningRefusal,
        tokens: &TokenTable,
    ) -> String {
        let crate::SigningRefusal::RuleFailed { scope, rule, offset, value } = refusal else {
            return refusal.to_string();
        };
        let Some(typed) = self.signing.typed_data.get(*scope) else { return refusal.to_string() };
        let Some(rule) = typed.rules.get(*rule) else { return refusal.to_string() };
        let names = AddressBook::new();
        let layout = typed
            .encode_type
            .as_deref()
            .and_then(|t| TypedDataLayout::parse(t).ok())
            .map(|l| l.with_nested(&typed.nested));
        let Some((name, ty)) = layout.as_ref().and_then(|l| l.field_at(*offset)) else {
            return refusal.to_string();
        };
        let token = tokens
            .symbol_of(typed.verifier)
            .and_then(|s| tokens.get(s).map(|t| (s, t.decimals)))
            .filter(|_| ty.starts_with("uint") && (name == "value" || name == "amount"));
        let show = |x: &U256| match token {
            Some((symbol, decimals)) => format!("{} {symbol}", format_units(*x, decimals)),
            None => field_value(Some(&ty), *x, tokens, &names),
        };
        let what = typed.name.clone().unwrap_or_else(|| format!("signing scope {scope}"));
        format!(
            "{what}: {name} is {}; the policy requires {name} {}",
            show(value),
            describe_condition(&rule.condition, show)
        )
    }
}

/// A typed-data field's value: an address for an `address` field, else as [`word_text`] shows it.
fn field_value(ty: Option<&str>, word: U256, tokens: &TokenTable, names: &AddressBook) -> String {
    match ty {
        Some("address") => {
            address_named(Address::from_word(word.to_be_bytes::<32>().into()), tokens, names)
        }
        _ => word_text(word),
    }
}

/// An amount of the action's capped argument, in the target token's units when the target is a known token.
fn amount_text(action: &Action, raw: U256, tokens: &TokenTable) -> String {
    match action
        .amount_cap
        .as_ref()
        .and_then(|cap| amount_token(action, cap.offset, &cap.path, tokens))
        .or_else(|| target_token(action, tokens))
    {
        Some((symbol, decimals)) => format!("{} {symbol}", format_units(raw, decimals)),
        None => raw.to_string(),
    }
}

impl Action {
    /// The token the action's capped amount counts in, when the policy says: the target token's, or a router's
    /// `amountIn`/`amountOut` in the token its `tokenIn`/`tokenOut` rule fixes.
    pub fn cap_token<'t>(&self, tokens: &'t TokenTable) -> Option<(&'t str, u8)> {
        self.amount_cap
            .as_ref()
            .and_then(|cap| amount_token(self, cap.offset, &cap.path, tokens))
            .or_else(|| target_token(self, tokens))
    }
}

/// The action's target, when it is a known token.
fn target_token<'t>(action: &Action, tokens: &'t TokenTable) -> Option<(&'t str, u8)> {
    match action.target {
        Target::Contract(t) => {
            tokens.symbol_of(t).and_then(|s| tokens.get(s).map(|tk| (s, tk.decimals)))
        }
        Target::Any => None,
    }
}

/// The token an amount argument counts in, when the action says: on a token, its `amount`, `value` or `wad`; on
/// a router, `amountIn` (or `amountInMax`) in the token an `eq` rule fixes `tokenIn` to, `amountOut…` in `tokenOut`'s.
fn amount_token<'t>(
    action: &Action,
    offset: u16,
    path: &[Step],
    tokens: &'t TokenTable,
) -> Option<(&'t str, u8)> {
    let function = action.function.as_ref()?;
    let (name, ty) = crate::path::describe(function, offset, path)?;
    if !matches!(ty, DynSolType::Uint(_)) {
        return None;
    }
    // The field's own name, and the struct it sits in (`params.amountIn` pairs with `params.tokenIn`).
    let (within, name) = name.rsplit_once('.').unwrap_or(("", &name));
    if matches!(name, "amount" | "value" | "wad") {
        if let Some(token) = target_token(action, tokens) {
            return Some(token);
        }
    }
    let suffix = name.strip_prefix("amount")?;
    // The token an `amountIn` counts in: a rule fixing `tokenIn` beside it, or the first token of a route beside
    // it (`path[0]`, a Uniswap V3 `path.token[0]`); `amountOut…` likewise with `tokenOut` and the last token.
    let prefix = if within.is_empty() { String::new() } else { format!("{within}.") };
    // A Uniswap V3 exact-output path runs from the output token back to the input one.
    let (first, last) =
        if function.name.starts_with("exactOutput") { ("-1", "0") } else { ("0", "-1") };
    let route = if suffix.starts_with("In") {
        [format!("{prefix}path[0]"), format!("{prefix}path.token[{first}]")]
    } else {
        [format!("{prefix}path[-1]"), format!("{prefix}path.token[{last}]")]
    };
    action.rules.iter().find_map(|rule| {
        let Condition::Eq(word) = rule.condition else { return None };
        let (token_name, token_ty) = crate::path::describe(function, rule.offset, &rule.path)?;
        let on_route = route.contains(&token_name);
        let (token_within, token_name) = token_name.rsplit_once('.').unwrap_or(("", &token_name));
        let side = token_name.strip_prefix("token").unwrap_or("-");
        let beside = token_within == within && !side.is_empty() && suffix.starts_with(side);
        if token_ty != DynSolType::Address || !(beside || on_route) {
            return None;
        }
        let address = Address::from_word(word.to_be_bytes::<32>().into());
        tokens.symbol_of(address).and_then(|s| tokens.get(s).map(|tk| (s, tk.decimals)))
    })
}

/// What a rule reads, in words: the argument's name or path (`params.path.token[-1]`), else where it sits
/// (`the word at byte 32`, with its steps).
fn rule_name(action: &Action, rule: &ArgRule) -> String {
    action.argument_name(rule.offset, &rule.path).unwrap_or_else(|| {
        if rule.path.is_empty() {
            format!("the word at byte {}", rule.offset)
        } else {
            format!(
                "the value a path of {} steps reaches from the word at byte {}",
                rule.path.len(),
                rule.offset
            )
        }
    })
}

/// The period a counter is kept for: "in total", "per calendar month", "per day", "per 6 hours", "in each of 12
/// windows".
fn describe_period(period: &Period) -> String {
    match period {
        Period::Lifetime => "in total".into(),
        Period::Monthly { .. } => "per calendar month".into(),
        Period::Every { length, .. } => match *length {
            3_600 => "per hour".into(),
            86_400 => "per day".into(),
            604_800 => "per week".into(),
            length => format!("per {}", format_duration(length.into())),
        },
        Period::Windows(windows) => format!("in each of {} windows", windows.len()),
    }
}

const DAY: u64 = 86_400;
const WEEKDAYS: [&str; 7] =
    ["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"];

/// When in each period use is open, if not all of it: "only between 08:00 and 20:00 UTC each day", "only from
/// Monday 09:00 to Friday 17:00 UTC each week", "only on day 1 of each month".
fn describe_usable(period: &Period) -> Option<String> {
    let clock = |seconds: u64| {
        let s = seconds % DAY;
        if s.is_multiple_of(60) {
            format!("{:02}:{:02}", s / 3_600, s / 60 % 60)
        } else {
            format!("{:02}:{:02}:{:02}", s / 3_600, s / 60 % 60, s % 60)
        }
    };
    match period {
        Period::Monthly { active } if active.from != 0 || active.duration != 0 => {
            let (from, duration) = (u64::from(active.from), u64::from(active.duration));
            if from.is_multiple_of(DAY) && duration.is_multiple_of(DAY) && duration > 0 {
                let (first, last) = (from / DAY + 1, (from + duration) / DAY);
                return Some(if first == last {
                    format!("only on day {first} of each month")
                } else {
                    format!("only on days {first} to {last} of each month")
                });
            }
            Some(format!(
                "only for {} from {} into each month",
                if duration == 0 { "the rest".into() } else { format_duration(duration) },
                format_duration(from)
            ))
        }
        Period::Every { start, length, active } if active.from != 0 || active.duration != 0 => {
            let (anchor, length) = (start.as_u48(), u64::from(*length));
            let (from, duration) = (u64::from(active.from), u64::from(active.duration));
            let open = anchor + from;
            let close = if duration == 0 { anchor + length } else { open + duration };
            if anchor.is_multiple_of(DAY) && length == DAY {
                return Some(format!(
                    "only between {} and {} UTC each day",
                    clock(open),
                    clock(close)
                ));
            }
            if anchor.is_multiple_of(DAY) && length == 7 * DAY {
                let day = |t: u64| WEEKDAYS[(t / DAY % 7) as usize];
                return Some(format!(
                    "only from {} {} to {} {} UTC each week",
                    day(open),
                    clock(open),
                    day(close),
                    clock(close)
                ));
            }
            Some(format!(
                "only for {} from {} into each period",
                format_duration(close - open),
                format_duration(from)
            ))
        }
        _ => None,
    }
}

/// "a", "a and b", "a, b and c".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn describe_action(action: &Action, tokens: &TokenTable, names: &AddressBook) -> String {
    let what = match (&action.call, &action.function) {
        (CallScope::Any, _) => "any function".to_string(),
        (CallScope::NativeTransfer, _) => "a plain native transfer".to_string(),
        (_, Some(f)) => f.name.clone(),
        (CallScope::Function(s) | CallScope::FunctionOrNativeTransfer(s), None) => {
            format!("function {s}")
        }
    };
    let target = match action.target {
        Target::Any => "any contract".to_string(),
        Target::Contract(t) => address_named(t, tokens, names),
    };
    let mut text = format!("may call {what} on {target}");
    for rule in &action.rules {
        let name = rule_name(action, rule);
        let condition = describe_condition(&rule.condition, |x| {
            rule_value(action, rule.offset, &rule.path, *x, tokens, names)
        });
        text.push_str(&format!(", {name} {condition}"));
    }
    if action.max_value_per_call > 0 {
        text.push_str(&format!(
            ", up to {} ETH per call",
            format_units(U256::from(action.max_value_per_call), 18)
        ));
    }
    // The limits share one period: said once, with the part of it in which use is open.
    let mut limits = Vec::new();
    if let Some(cap) = &action.amount_cap {
        limits.push(format!("at most {}", amount_text(action, U256::from(cap.cap), tokens)));
    }
    if let Some(uses) = action.max_uses {
        limits.push(format!("{uses} call{}", if uses == 1 { "" } else { "s" }));
    }
    if let Some(cap) = action.value_cap {
        limits.push(format!("at most {} ETH of value", format_units(U256::from(cap), 18)));
    }
    if !limits.is_empty() {
        text.push_str(&format!(", {} {}", and_list(&limits), describe_period(&action.period)));
    }
    if let Some(usable) = describe_usable(&action.period) {
        text.push_str(&format!(", {usable}"));
    }
    text
}
