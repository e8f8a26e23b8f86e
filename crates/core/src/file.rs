//! The TOML policy file: human units in, the policy model out, errors that name file, line and problem.
//!
//! ```toml
//! version = 1
//!
//! [addresses]
//! merchant = "0x1111111111111111111111111111111111111111"
//!
//! [session]
//! name = "streaming subscription"
//! valid_from = "2026-01-01T00:00:00Z"
//! valid_until = "2027-01-01T00:00:00Z"
//!
//! [[action]]
//! name = "monthly payment"
//! target = "USDC"
//! function = "transfer(address to, uint256 amount)"
//! rules = [{ arg = "to", eq = "merchant" }]
//! spend = { arg = "amount", max = "100 USDC" }
//! max_uses = 1
//! period = { monthly = true, active_for = "1 day" }
//!
//! [[signing.typed_data]]
//! name = "USDC permits for the merchant"
//! verifier = "USDC"
//! type = "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
//! rules = [{ field = "spender", eq = "merchant" }, { field = "value", lte = "100 USDC" }]
//! ```

use crate::{
    abi,
    model::{
        Action, ActivePart, AmountCap, ArgRule, CallScope, Condition, Period, SessionPolicy,
        SigningPolicy, SigningUseLimit, Target, TypedDataScope, UseLimit, Window,
    },
    parse_amount, parse_duration,
    typed::TypedDataLayout,
    Error, Timestamp, TokenTable,
};
use alloy::{
    dyn_abi::DynSolType,
    json_abi::Function,
    primitives::{aliases::U96, keccak256, Address, B256, U256},
};
use schemars::JsonSchema;
use serde::Deserialize;
use std::{
    collections::BTreeMap,
    ops::Range,
    path::{Path, PathBuf},
};
use toml::Spanned;

/// The file format's version this crate reads.
const VERSION: u32 = 1;

/// A policy file (see the module docs for an example; [`policy_schema`] for every field).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "leash session policy",
    description = "A session key's envelope: what it may do, how much, how often, until when."
)]
pub struct PolicyFile {
    /// Format version; must be 1.
    version: u32,
    /// Tokens by symbol, usable as targets and units ("100 USDC"); added to the network's token table.
    #[serde(default)]
    tokens: BTreeMap<String, TokenEntry>,
    /// Named addresses, usable wherever an address is expected (targets, rule values, paymaster).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    addresses: BTreeMap<String, Spanned<String>>,
    /// The session's window and session-wide limits.
    session: SessionEntry,
    /// The calls the session may make.
    #[serde(default, rename = "action")]
    actions: Vec<ActionEntry>,
    /// What the session may sign for the account through ERC-1271 (permits, payment authorisations); nothing
    /// when left out.
    signing: Option<SigningEntry>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    /// The token contract.
    #[schemars(with = "String")]
    address: Spanned<String>,
    /// Its decimals.
    decimals: u8,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SessionEntry {
    /// A name for people.
    name: Option<String>,
    /// First moment the session may act (RFC 3339, e.g. "2026-01-01T00:00:00Z"); default: no start limit.
    #[schemars(with = "Option<String>")]
    valid_from: Option<Spanned<String>>,
    /// Last moment the session may act (RFC 3339); default: no end.
    #[schemars(with = "Option<String>")]
    valid_until: Option<Spanned<String>>,
    /// Operations allowed per period over all actions, e.g. { count = 20, per = "1 hour" }.
    max_ops: Option<MaxOpsEntry>,
    /// Most gas the session may commit over its life, in ETH units ("0.05 ETH").
    #[schemars(with = "Option<String>")]
    gas_budget: Option<Spanned<String>>,
    /// A paymaster every operation must use (address or name).
    #[schemars(with = "Option<String>")]
    paymaster: Option<Spanned<String>>,
    /// Full power over calls, for trusted internal systems only.
    #[serde(default)]
    sudo: bool,
    /// Any text or a 0x-prefixed 32-byte hex: makes otherwise equal sessions distinct.
    salt: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct MaxOpsEntry {
    /// Operations allowed per period.
    count: u32,
    /// The period: "lifetime", "monthly", a duration ("1 hour") or a period table.
    #[schemars(with = "PeriodEntry")]
    per: Spanned<PeriodEntry>,
}

/// ERC-1271 signing: typed data of the listed kinds, or (explicit opt-in, like sudo) anything.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SigningEntry {
    /// Unrestricted signing: any message, for any verifier. For trusted internal systems only, like sudo.
    #[schemars(with = "Option<bool>")]
    any: Option<Spanned<bool>>,
    /// The EIP-712 typed data the session may sign, each for one verifier and with rules on its fields.
    #[serde(default)]
    typed_data: Vec<TypedDataEntry>,
}

/// One kind of typed data the session may sign.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TypedDataEntry {
    /// A name for people.
    name: Option<String>,
    /// The contract that asks the account to verify (its EIP-712 domain): an address, a name or a token.
    #[schemars(with = "String")]
    verifier: Spanned<String>,
    /// The full EIP-712 encodeType string: the primary type, then the structs it uses
    /// ("PermitSingle(PermitDetails details,address spender,uint256 sigDeadline)PermitDetails(...)").
    #[serde(rename = "type")]
    #[schemars(with = "String")]
    type_: Spanned<String>,
    /// Rules on the message's fields, all of which must hold.
    #[serde(default)]
    rules: Vec<FieldRuleEntry>,
    /// How many messages of this kind may take effect per period ("at most 100 payments a day"); enforced on
    /// chain through the message's nonce and validity window (docs/payments.md).
    max_uses: Option<SigningUsesEntry>,
}

/// A counted signing scope: its count and its period. The type must carry EIP-3009's `bytes32 nonce`,
/// `validAfter` and `validBefore`, with EIP-3009's meaning (valid strictly between them, each nonce used once): the
/// count rests on it (docs/payments.md).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SigningUsesEntry {
    /// Messages that may take effect per period (1 to 65,535).
    #[schemars(with = "u16")]
    count: Spanned<u64>,
    /// The period: "lifetime", "monthly", a duration ("1 day") or a period table.
    #[schemars(with = "PeriodEntry")]
    per: Spanned<PeriodEntry>,
}

/// A rule on one field of signed typed data: which field, and exactly one comparison.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FieldRuleEntry {
    /// The field by name; a dotted path reads a nested struct's field ("details.amount").
    #[schemars(with = "String")]
    field: Spanned<String>,
    #[schemars(with = "Option<Value>")]
    eq: Option<Spanned<Value>>,
    #[schemars(with = "Option<Value>")]
    neq: Option<Spanned<Value>>,
    #[schemars(with = "Option<Value>")]
    gt: Option<Spanned<Value>>,
    #[schemars(with = "Option<Value>")]
    gte: Option<Spanned<Value>>,
    #[schemars(with = "Option<Value>")]
    lt: Option<Spanned<Value>>,
    #[schemars(with = "Option<Value>")]
    lte: Option<Spanned<Value>>,
    /// [min, max], both included.
    #[schemars(with = "Option<[Value; 2]>")]
    in_range: Option<Spanned<[Value; 2]>>,
    /// The allowed values.
    #[schemars(with = "Option<Vec<Value>>")]
    one_of: Option<Spanned<Vec<Value>>>,
}

/// The comparison operators of one rule, whichever kind of rule holds them.
struct Operators<'a> {
    eq: &'a Option<Spanned<Value>>,
    neq: &'a Option<Spanned<Value>>,
    gt: &'a Option<Spanned<Value>>,
    gte: &'a Option<Spanned<Value>>,
    lt: &'a Option<Spanned<Value>>,
    lte: &'a Option<Spanned<Value>>,
    in_range: &'a Option<Spanned<[Value; 2]>>,
    one_of: &'a Option<Spanned<Vec<Value>>>,
}

impl RuleEntry {
    fn operators(&self) -> Operators<'_> {
        Operators {
            eq: &self.eq,
            neq: &self.neq,
            gt: &self.gt,
            gte: &self.gte,
            lt: &self.lt,
            lte: &self.lte,
            in_range: &self.in_range,
            one_of: &self.one_of,
        }
    }
}

impl FieldRuleEntry {
    fn operators(&self) -> Operators<'_> {
        Operators {
            eq: &self.eq,
            neq: &self.neq,
            gt: &self.gt,
            gte: &self.gte,
            lt: &self.lt,
            lte: &self.lte,
            in_range: &self.in_range,
            one_of: &self.one_of,
        }
    }
}

impl Operators<'_> {
    /// The name and place of each operator given.
    fn given(&self) -> Vec<(&'static str, Range<usize>)> {
        let mut ops = Vec::new();
        let single = [
            ("eq", self.eq),
            ("neq", self.neq),
            ("gt", self.gt),
            ("gte", self.gte),
            ("lt", self.lt),
            ("lte", self.lte),
        ];
        for (name, value) in single {
            if let Some(v) = value {
                ops.push((name, v.span()));
            }
        }
        if let Some(v) = self.in_range {
            ops.push(("in_range", v.span()));
        }
        if let Some(v) = self.one_of {
            ops.push(("one_of", v.span()));
        }
        ops
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ActionEntry {
    /// A name for people.
    name: Option<String>,
    /// The contract: a token symbol, a name from [addresses], an address, or "any".
    #[schemars(with = "String")]
    target: Spanned<String>,
    /// The function: an ABI signature with argument names ("transfer(address to, uint256 amount)"), a 0x
    /// selector, "native" for plain transfers of native value, or "any".
    #[schemars(with = "String")]
    function: Spanned<String>,
    /// With a function: also allow plain native transfers to the target.
    #[serde(default)]
    allow_native: bool,
    /// Most native value per call ("0.01 ETH"); default 0.
    #[schemars(with = "Option<String>")]
    max_value_per_call: Option<Spanned<String>>,
    /// Rules on arguments, all of which must hold.
    #[serde(default)]
    rules: Vec<RuleEntry>,
    /// The period of max_uses, spend and value_cap: "lifetime" (default), "monthly", a duration ("1 day") or a
    /// period table.
    #[schemars(with = "Option<PeriodEntry>")]
    period: Option<Spanned<PeriodEntry>>,
    /// Calls allowed per period.
    max_uses: Option<u32>,
    /// A cap on the sum of an amount argument per period: { arg = "amount", max = "100 USDC" }.
    spend: Option<SpendEntry>,
    /// A cap on native value sent per period ("0.5 ETH").
    #[schemars(with = "Option<String>")]
    value_cap: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SpendEntry {
    /// The argument summed, by name or by a path into it (`params.amountIn`), with a function signature.
    #[schemars(with = "Option<String>")]
    arg: Option<Spanned<String>>,
    /// Or its byte offset after the selector.
    offset: Option<u16>,
    /// The cap per period, with its unit ("100 USDC").
    #[schemars(with = "String")]
    max: Spanned<String>,
}

/// One argument rule: which argument, and exactly one comparison.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    /// The argument by name, or a path into it (needs a function signature): a struct's field
    /// (`params.recipient`), an array's element (`path[0]`, `path[-1]` from the end) or every element
    /// (`path[*]`, `orders[*].offerer`, with `max_elements`), a length (`len(path)`), a token or fee tier of a
    /// Uniswap V3 path in `bytes` (`params.path.token[-1]`, `params.path.fee[*]`).
    #[schemars(with = "Option<String>")]
    arg: Option<Spanned<String>>,
    /// Or the byte offset of its 32-byte word after the selector.
    offset: Option<u16>,
    /// With `[*]` in `arg`: the most elements a call may have there; a call with more is refused.
    max_elements: Option<u16>,
    #[schemars(with = "Option<Value>")]
    eq: Option<Spanned<Value>>,
    #[schemars(with = "Option<Value>")]
    neq: Option<Spanned<Value>>,
    #[schemars(with = "Option<Value>")]
    gt: Option<Spanned<Value>>,
    #[schemars(with = "Option<Value>")]
    gte: Option<Spanned<Value>>,
    #[schemars(with = "Option<Value>")]
    lt: Option<Spanned<Value>>,
    #[schemars(with = "Option<Value>")]
    lte: Option<Spanned<Value>>,
    /// [min, max], both included.
    #[schemars(with = "Option<[Value; 2]>")]
    in_range: Option<Spanned<[Value; 2]>>,
    /// The allowed values.
    #[schemars(with = "Option<Vec<Value>>")]
    one_of: Option<Spanned<Vec<Value>>>,
}

/// A value in a rule: an address or name, a number, an amount with unit ("50 USDC"), a boolean, or 0x hex.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
enum Value {
    Integer(i64),
    Bool(bool),
    Text(String),
}

/// A period: "lifetime", "monthly", a duration ("1 day"), or a table.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
enum PeriodEntry {
    Name(String),
    Table(PeriodTable),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PeriodTable {
    /// Fixed-length periods ("1 week").
    every: Option<String>,
    /// Calendar months (UTC).
    #[serde(default)]
    monthly: bool,
    /// With `every`: when the first period starts (RFC 3339); default 1970-01-01T00:00:00Z, so days start at
    /// 00:00 UTC.
    start: Option<String>,
    /// How long after each period's start use opens ("0 seconds" by default).
    active_from: Option<String>,
    /// How long use stays open from then ("1 day"); default: to the end of the period.
    active_for: Option<String>,
    /// Explicit windows [[start, end], ...] (RFC 3339, end excluded); each window is its own period.
    windows: Option<Vec<[String; 2]>>,
}

/// The JSON Schema of the policy file format, generated from the types that read it.
pub fn policy_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(PolicyFile)).unwrap_or_default()
}

/// What a policy file is read against: the network's tokens and named contracts, and the account.
///
/// ```
/// use alloy::primitives::address;
/// use leash_core::{PolicyContext, PolicyFile};
///
/// let mut context = PolicyContext::default();
/// context.tokens.insert("USDC", address!("A0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"), 6);
/// context.account = Some(address!("00000000000000000000000000000000000000aa"));
/// let policy = PolicyFile::parse(r#"
///     version = 1
///     [session]
///     valid_until = "2027-01-01T00:00:00Z"
///     [[action]]
///     target = "USDC"
///     function = "transfer(address to, uint256 amount)"
///     rules = [{ arg = "amount", lte = "5 USDC" }]
/// "#, "inline.toml", &context)?;
/// assert_eq!(policy.actions[0].rules.len(), 1);
/// # Ok::<(), leash_core::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct PolicyContext {
    /// Tokens by symbol ("USDC"); the file's `[tokens]` add to them.
    pub tokens: TokenTable,
    /// Named contracts ("router"); the file's `[addresses]` add to them.
    pub addresses: BTreeMap<String, Address>,
    /// The smart account the session is for: `"self"` names it in the file.
    pub account: Option<Address>,
}

/// Resolves names and units against the file's tables and reports errors at their place in the file.
struct Reader<'a> {
    path: PathBuf,
    text: &'a str,
    tokens: TokenTable,
    addresses: BTreeMap<String, Address>,
    account: Option<Address>,
}

impl PolicyFile {
    /// Reads the policy file at `path` against `context`.
    pub fn load(path: impl AsRef<Path>, context: &PolicyContext) -> Result<SessionPolicy, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| Error::Read { path: path.into(), source })?;
        Self::parse(&text, path, context)
    }

    /// [`load`](Self::load), with the names the file and the context give addresses (its `[addresses]` and the
    /// network's contracts), to describe the policy in the file's words
    /// ([`SessionPolicy::describe_named`]).
    pub fn load_named(
        path: impl AsRef<Path>,
        context: &PolicyContext,
    ) -> Result<(SessionPolicy, BTreeMap<String, Address>), Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| Error::Read { path: path.into(), source })?;
        Self::parse_named(&text, path, context)
    }

    /// Reads a policy from `text` against `context`; `path` names it in errors.
    pub fn parse(
        text: &str,
        path: impl AsRef<Path>,
        context: &PolicyContext,
    ) -> Result<SessionPolicy, Error> {
        Ok(Self::parse_named(text, path, context)?.0)
    }

    /// [`parse`](Self::parse), with the names the file and the context give addresses (see
    /// [`load_named`](Self::load_named)).
    pub fn parse_named(
        text: &str,
        path: impl AsRef<Path>,
        context: &PolicyContext,
    ) -> Result<(SessionPolicy, BTreeMap<String, Address>), Error> {
        let path = path.as_ref().to_path_buf();
        let mut reader = Reader {
            path,
            text,
            tokens: context.tokens.clone(),
            addresses: context.addresses.clone(),
            account: context.account,
        };
        let file: PolicyFile = toml::from_str(text).map_err(|e| {
            let message = e.message().trim_end().to_string();
            reader.error(e.span().unwrap_or(0..0), hint(&message))
        })?;
        if file.version != VERSION {
            return Err(reader.error(
                0..0,
                format!(
                    "version {} is not supported; this leash reads version {VERSION}",
                    file.version
                ),
            ));
        }
        let policy = reader.read(file)?;
        let mut names = reader.addresses;
        if let Some(account) = reader.account {
            names.insert("self".into(), account);
        }
        Ok((policy, names))
    }
}

/// Adds what to do to serde's messages where it can.
fn hint(message: &str) -> String {
    if message.starts_with("unknown field `signing`") {
        format!("{message} (signing is a top-level [signing] table: `any = true`, or [[signing.typed_data]] entries)")
    } else if message.starts_with("unknown field") {
        format!("{message} (docs/policy.schema.json lists every field)")
    } else {
        message.to_string()
    }
}

impl Reader<'_> {
    fn error(&self, span: Range<usize>, message: impl Into<String>) -> Error {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        Error::File { path: self.path.clone(), line, column, message: message.into() }
    }

    fn at<T>(&self, span: Range<usize>, result: Result<T, Error>) -> Result<T, Error> {
        result.map_err(|e| self.error(span, e.to_string()))
    }

    fn read(&mut self, file: PolicyFile) -> Result<SessionPolicy, Error> {
        for (symbol, entry) in &file.tokens {
            let address = entry.address.get_ref().parse::<Address>().map_err(|_| {
                self.error(
                    entry.address.span(),
                    format!("[tokens] {symbol}: `{}` is not an address", entry.address.get_ref()),
                )
            })?;
            self.tokens.insert(symbol.clone(), address, entry.decimals);
        }
        for (name, text) in &file.addresses {
            let address = text.get_ref().parse::<Address>().map_err(|_| {
                self.error(
                    text.span(),
                    format!("[addresses] {name}: `{}` is not an address", text.get_ref()),
                )
            })?;
            self.addresses.insert(name.clone(), address);
        }
        let s = &file.session;
        let valid_after = match &s.valid_from {
            Some(t) => self.at(t.span(), Timestamp::parse(t.get_ref()))?,
            None => Timestamp(0),
        };
        let valid_until = match &s.valid_until {
            Some(t) => {
                let until = self.at(t.span(), Timestamp::parse(t.get_ref()))?;
                if until < valid_after {
                    return Err(self.error(
                        t.span(),
                        format!("valid_until {until} is before valid_from {valid_after}; the window would be empty"),
                    ));
                }
                Some(until)
            }
            None => None,
        };
        let max_ops = match &s.max_ops {
            Some(limit) => Some(UseLimit { count: limit.count, period: self.period(&limit.per)? }),
            None => None,
        };
        let gas_budget = match &s.gas_budget {
            Some(text) => {
                Some(self.native_amount(text, U256::from(u128::MAX), "gas_budget")?.to::<u128>())
            }
            None => None,
        };
        let paymaster = match &s.paymaster {
            Some(text) => Some(self.address(text)?),
            None => None,
        };
        let signing = match &file.signing {
            Some(entry) => self.signing(entry)?,
            None => SigningPolicy::default(),
        };
        let salt = s.salt.as_deref().map(salt_of).unwrap_or_default();
        let mut actions = Vec::with_capacity(file.actions.len());
        for entry in &file.actions {
            actions.push(self.action(entry)?);
        }
        let policy = SessionPolicy {
            name: s.name.clone(),
            valid_after,
            valid_until,
            max_ops,
            gas_budget,
            paymaster,
            sudo: s.sudo,
            signing,
            actions,
            salt,
        };
        policy.validate().map_err(|e| self.error(0..0, e.to_string()))?;
        Ok(policy)
    }

    fn signing(&self, entry: &SigningEntry) -> Result<SigningPolicy, Error> {
        let any = entry.any.as_ref().is_some_and(|a| *a.get_ref());
        if !any && entry.typed_data.is_empty() {
            let span = entry.any.as_ref().map_or(0..0, Spanned::span);
            return Err(self.error(
                span,
                "[signing] allows nothing: list the typed data the session may sign in                  [[signing.typed_data]] entries, or set `any = true` to let it sign any message (unrestricted,                  like sudo)",
            ));
        }
        if any && !entry.typed_data.is_empty() {
            return Err(self.error(
                entry.typed_data[0].verifier.span(),
                "[signing] sets `any = true`, which already allows every message: remove the                  [[signing.typed_data]] entries, or `any` to keep the session to them",
            ));
        }
        let mut typed_data = Vec::with_capacity(entry.typed_data.len());
        for scope in &entry.typed_data {
            typed_data.push(self.typed_data(scope)?);
        }
        Ok(SigningPolicy { any, typed_data })
    }

    fn typed_data(&self, entry: &TypedDataEntry) -> Result<TypedDataScope, Error> {
        let verifier = self.address(&entry.verifier)?;
        let mut layout =
            self.at(entry.type_.span(), TypedDataLayout::parse(entry.type_.get_ref()))?;
        let mut rules = Vec::with_capacity(entry.rules.len());
        for rule in &entry.rules {
            let (offset, ty) = self.at(rule.field.span(), layout.field(rule.field.get_ref()))?;
            let ty =
                DynSolType::parse(&ty).map_err(|e| self.error(rule.field.span(), e.to_string()))?;
            let condition =
                self.condition(&rule.operators(), Some(&ty), rule.field.span(), None)?;
            rules.push(ArgRule { offset, path: Vec::new(), condition });
        }
        let max_uses = match &entry.max_uses {
            Some(uses) => Some(self.signing_uses(uses, &mut layout)?),
            None => None,
        };
        Ok(TypedDataScope {
            name: entry.name.clone(),
            verifier,
            type_hash: layout.type_hash(),
            nested: layout.nested().to_vec(),
            rules,
            encode_type: Some(layout.encode_type()),
            max_uses,
        })
    }

    fn signing_uses(
        &self,
        entry: &SigningUsesEntry,
        layout: &mut TypedDataLayout,
    ) -> Result<SigningUseLimit, Error> {
        let count = match u16::try_from(*entry.count.get_ref()) {
            Ok(count) if count > 0 => count,
            _ => {
                return Err(self.error(
                    entry.count.span(),
                    format!(
                        "max_uses count {} is out of range: write 1 to 65,535 messages per period",
                        entry.count.get_ref()
                    ),
                ))
            }
        };
        // The count rests on EIP-3009's meaning of these fields (valid strictly between `validAfter` and
        // `validBefore`, each nonce used once): a type that names them otherwise may mean something else (an
        // inclusive deadline, a salt used many times), so it cannot be counted.
        let span = entry.count.span();
        let mut field = |name: &str, kind: &str, fits: fn(&str) -> bool| -> Result<u16, Error> {
            let fail = |why: String| {
                self.error(
                    span.clone(),
                    format!(
                        "max_uses counts EIP-3009 messages, whose type has `bytes32 nonce`, `uint256 validAfter` and \
                         `uint256 validBefore`: {why}"
                    ),
                )
            };
            let (offset, ty) = layout.field(name).map_err(|e| fail(e.to_string()))?;
            if !fits(&ty) {
                return Err(fail(format!("field `{name}` is a {ty}, not {kind}")));
            }
            Ok(offset)
        };
        Ok(SigningUseLimit {
            count,
            period: self.period(&entry.per)?,
            nonce: field("nonce", "a bytes32", |ty| ty == "bytes32")?,
            valid_after: field("validAfter", "an unsigned integer", |ty| ty.starts_with("uint"))?,
            valid_before: field("validBefore", "an unsigned integer", |ty| ty.starts_with("uint"))?,
        })
    }

    fn address(&self, text: &Spanned<String>) -> Result<Address, Error> {
        self.resolve_address(text.get_ref()).ok_or_else(|| {
            self.error(
                text.span(),
                format!(
                    "`{}` is not an address, a name from [addresses] or a token symbol{}",
                    text.get_ref(),
                    if text.get_ref() == "self" {
                        " (\"self\" needs the account the session is for)"
                    } else {
                        ""
                    }
                ),
            )
        })
    }

    fn resolve_address(&self, name: &str) -> Option<Address> {
        if let Ok(address) = name.parse::<Address>() {
            return Some(address);
        }
        if name == "self" {
            return self.account;
        }
        self.addresses.get(name).copied().or_else(|| self.tokens.get(name).map(|t| t.address))
    }

    fn native_amount(&self, text: &Spanned<String>, max: U256, field: &str) -> Result<U256, Error> {
        let amount = self.at(text.span(), parse_amount(text.get_ref(), &self.tokens))?;
        if let Some(unit) = amount
            .unit
            .as_deref()
            .filter(|u| !["wei", "gwei", "eth", "ether"].contains(&u.to_ascii_lowercase().as_str()))
        {
            return Err(self.error(
                text.span(),
                format!("{field} is native value; write it in ETH, gwei or wei, not {unit}"),
            ));
        }
        if amount.raw > max {
            return Err(self.error(
                text.span(),
                format!("{field} `{}` is too large (at most {max} wei)", text.get_ref()),
            ));
        }
        Ok(amount.raw)
    }

    fn action(&self, entry: &ActionEntry) -> Result<Action, Error> {
        let target_text = entry.target.get_ref();
        let target = if target_text.eq_ignore_ascii_case("any") {
            Target::Any
        } else {
            Target::Contract(self.address(&entry.target)?)
        };
        let function_text = entry.function.get_ref().trim();
        let mut function = None;
        let call = match function_text.to_ascii_lowercase().as_str() {
            "any" => CallScope::Any,
            "native" => CallScope::NativeTransfer,
            _ if function_text.starts_with("0x") => {
                let selector = function_text.parse().map_err(|_| {
                    self.error(
                        entry.function.span(),
                        format!("`{function_text}` is not a 4-byte selector"),
                    )
                })?;
                CallScope::Function(selector)
            }
            _ => {
                let f = self.at(entry.function.span(), abi::parse_function(function_text))?;
                let selector = f.selector();
                function = Some(f);
                CallScope::Function(selector)
            }
        };
        let call = match (call, entry.allow_native) {
            (CallScope::Function(s), true) => CallScope::FunctionOrNativeTransfer(s),
            (call, _) => call,
        };
        let mut action = Action::new(target, call);
        action.name = entry.name.clone();
        action.function = function;
        if let Some(text) = &entry.max_value_per_call {
            action.max_value_per_call =
                self.native_amount(text, U256::from(u128::MAX), "max_value_per_call")?.to();
        }
        for rule in &entry.rules {
            action.rules.push(self.rule(&action, entry, rule)?);
        }
        if let Some(period) = &entry.period {
            action.period = self.period(period)?;
        }
        action.max_uses = entry.max_uses;
        if let Some(spend) = &entry.spend {
            let (offset, path, ty) =
                self.argument(&action, spend.arg.as_ref(), spend.offset, None, entry)?;
            if crate::path::has_every(&path) {
                return Err(self.error(
                    spend.max.span(),
                    "spend sums one amount per call; `[*]` takes every element",
                ));
            }
            if let Some(ty) = &ty {
                if !matches!(ty, DynSolType::Uint(_)) {
                    let arg = spend.arg.as_ref().map(|a| a.get_ref().as_str()).unwrap_or_default();
                    return Err(self.error(
                        spend.max.span(),
                        format!("spend sums `{arg}`, a {ty}; it must be an unsigned integer"),
                    ));
                }
            }
            let amount =
                self.at(spend.max.span(), parse_amount(spend.max.get_ref(), &self.tokens))?;
            self.check_unit(&action, amount.unit.as_deref(), &spend.max)?;
            let cap = U96::checked_from_limbs_slice(amount.raw.as_limbs()).filter(|_| amount.raw <= U256::from(U96::MAX)).ok_or_else(|| {
                self.error(spend.max.span(), format!("spend max `{}` is too large: the module counts amounts in 96 bits (at most {} raw units)", spend.max.get_ref(), U96::MAX))
            })?;
            action.amount_cap = Some(AmountCap { offset, path, cap });
        }
        if let Some(text) = &entry.value_cap {
            let raw = self.native_amount(text, U256::from(U96::MAX), "value_cap")?;
            action.value_cap = Some(U96::from(raw));
        }
        Ok(action)
    }

    /// A cap written in one token's units on another token's contract is almost surely a mistake.
    fn check_unit(
        &self,
        action: &Action,
        unit: Option<&str>,
        text: &Spanned<String>,
    ) -> Result<(), Error> {
        let (Some(unit), Target::Contract(target)) = (unit, action.target) else { return Ok(()) };
        // Only ERC-20 transfers and approvals move the target token itself; a vault's `deposit(assets, ..)`
        // takes another token's units.
        let moves_target = matches!(
            action.call,
            CallScope::Function(s) | CallScope::FunctionOrNativeTransfer(s)
                if [[0xa9, 0x05, 0x9c, 0xbb], [0x23, 0xb8, 0x72, 0xdd], [0x09, 0x5e, 0xa7, 0xb3]].contains(&s.0)
        );
        if !moves_target {
            return Ok(());
        }
        let Some(token) = self.tokens.get(unit) else { return Ok(()) };
        if token.address != target && self.tokens.symbol_of(target).is_some() {
            return Err(self.error(
                text.span(),
                format!(
                    "`{}` is in {unit} but the action's target is {}",
                    text.get_ref(),
                    self.tokens.symbol_of(target).unwrap_or_default()
                ),
            ));
        }
        Ok(())
    }

    /// Where the argument (or the value its path reaches) a rule or cap names is: the byte offset, the steps
    /// from there and (with an ABI) the type of the value.
    fn argument(
        &self,
        action: &Action,
        arg: Option<&Spanned<String>>,
        offset: Option<u16>,
        max_elements: Option<u16>,
        entry: &ActionEntry,
    ) -> Result<(u16, Vec<crate::Step>, Option<DynSolType>), Error> {
        match (arg, offset) {
            (Some(name), None) => {
                let Some(function) = &action.function else {
                    return Err(self.error(
                        name.span(),
                        format!("`arg = \"{}\"` needs a function signature with argument names in `function`", name.get_ref()),
                    ));
                };
                let found = self.at(
                    name.span(),
                    crate::path::resolve(function, name.get_ref(), max_elements),
                )?;
                Ok((found.offset, found.steps, Some(found.ty)))
            }
            (None, Some(offset)) => Ok((offset, Vec::new(), None)),
            _ => Err(self.error(
                entry.target.span(),
                "each rule and spend names exactly one of `arg` or `offset`",
            )),
        }
    }

    fn rule(
        &self,
        action: &Action,
        action_entry: &ActionEntry,
        entry: &RuleEntry,
    ) -> Result<ArgRule, Error> {
        let operators = entry.operators();
        let ops = operators.given();
        let span = entry
            .arg
            .as_ref()
            .map(Spanned::span)
            .or(ops.first().map(|o| o.1.clone()))
            .unwrap_or(0..0);
        if ops.len() != 1 {
            return Err(self.error(
                span,
                "a rule has exactly one of eq, neq, gt, gte, lt, lte, in_range, one_of",
            ));
        }
        if entry.arg.is_none() && entry.offset.is_none()
            || entry.arg.is_some() && entry.offset.is_some()
        {
            return Err(self.error(span, "a rule names exactly one of `arg` or `offset`"));
        }
        let (offset, path, ty) = self.argument(
            action,
            entry.arg.as_ref(),
            entry.offset,
            entry.max_elements,
            action_entry,
        )?;
        if entry.max_elements.is_some() && !crate::path::has_every(&path) {
            return Err(self.error(
                span,
                "`max_elements` bounds a rule on every element: write `[*]` in `arg`, or remove it",
            ));
        }
        let condition = self.condition(&operators, ty.as_ref(), span, action.function.as_ref())?;
        Ok(ArgRule { offset, path, condition })
    }

    /// The comparison of a rule on a word of type `ty` (when known); `span` places errors.
    fn condition(
        &self,
        operators: &Operators<'_>,
        ty: Option<&DynSolType>,
        span: Range<usize>,
        function: Option<&Function>,
    ) -> Result<Condition, Error> {
        let ops = operators.given();
        if ops.len() != 1 {
            return Err(self.error(
                span,
                "a rule has exactly one of eq, neq, gt, gte, lt, lte, in_range, one_of",
            ));
        }
        if let Some(DynSolType::Int(_)) = ty {
            if ops[0].0 != "eq" && ops[0].0 != "neq" && ops[0].0 != "one_of" {
                return Err(self.error(span, "signed values are compared as unsigned words on chain; only eq, neq and one_of are safe on them"));
            }
        }
        let word = |v: &Spanned<Value>| self.word(v.get_ref(), ty, v.span(), function);
        Ok(if let Some(v) = operators.eq {
            Condition::Eq(word(v)?)
        } else if let Some(v) = operators.neq {
            Condition::Neq(word(v)?)
        } else if let Some(v) = operators.gt {
            Condition::Gt(word(v)?)
        } else if let Some(v) = operators.gte {
            Condition::Gte(word(v)?)
        } else if let Some(v) = operators.lt {
            Condition::Lt(word(v)?)
        } else if let Some(v) = operators.lte {
            Condition::Lte(word(v)?)
        } else if let Some(v) = operators.in_range {
            let [a, b] = v.get_ref();
            let (min, max) = (self.word(a, ty, v.span(), None)?, self.word(b, ty, v.span(), None)?);
            if min > max {
                return Err(self.error(
                    v.span(),
                    format!("in_range minimum {min} is above its maximum {max}"),
                ));
            }
            Condition::InRange(min, max)
        } else if let Some(v) = operators.one_of {
            if v.get_ref().is_empty() {
                return Err(self.error(v.span(), "one_of needs at least one value"));
            }
            Condition::OneOf(
                v.get_ref()
                    .iter()
                    .map(|x| self.word(x, ty, v.span(), None))
                    .collect::<Result<_, _>>()?,
            )
        } else {
            unreachable!("exactly one operator was checked above")
        })
    }

    /// A rule operand as the 32-byte word the module compares, typed by the argument's ABI type when known.
    fn word(
        &self,
        value: &Value,
        ty: Option<&DynSolType>,
        span: Range<usize>,
        _f: Option<&Function>,
    ) -> Result<U256, Error> {
        let fail = |message: String| self.error(span.clone(), message);
        match (value, ty) {
            (Value::Bool(b), None | Some(DynSolType::Bool)) => Ok(U256::from(*b as u8)),
            (Value::Integer(i), _) if *i < 0 => {
                Err(fail(format!("{i} is negative; rule values are unsigned")))
            }
            (Value::Integer(i), None | Some(DynSolType::Uint(_)) | Some(DynSolType::Int(_))) => {
                Ok(U256::from(*i as u64))
            }
            (Value::Text(text), Some(DynSolType::Address)) => {
                self.resolve_address(text).map(|a| a.into_word().into()).ok_or_else(|| {
                    fail(format!(
                        "`{text}` is not an address, a name from [addresses] or a token symbol"
                    ))
                })
            }
            (Value::Text(text), Some(DynSolType::Uint(bits))) => {
                let amount = parse_amount(text, &self.tokens).map_err(|e| fail(e.to_string()))?;
                if *bits < 256 && amount.raw >= (U256::from(1) << *bits) {
                    return Err(fail(format!("`{text}` does not fit uint{bits}")));
                }
                Ok(amount.raw)
            }
            (Value::Text(text), Some(DynSolType::FixedBytes(n))) => {
                let bytes: alloy::primitives::Bytes =
                    text.parse().map_err(|_| fail(format!("`{text}` is not 0x hex")))?;
                if bytes.len() != *n {
                    return Err(fail(format!(
                        "`{text}` has {} bytes; the argument is bytes{n}",
                        bytes.len()
                    )));
                }
                let mut word = [0u8; 32];
                word[..*n].copy_from_slice(&bytes);
                Ok(U256::from_be_bytes(word))
            }
            (Value::Text(text), None) => {
                if let Some(address) = self.resolve_address(text) {
                    return Ok(address.into_word().into());
                }
                if let Some(hex) = text.strip_prefix("0x") {
                    return U256::from_str_radix(hex, 16)
                        .map_err(|_| fail(format!("`{text}` is not 0x hex of at most 32 bytes")));
                }
                parse_amount(text, &self.tokens).map(|a| a.raw).map_err(|e| fail(e.to_string()))
            }
            (value, Some(ty)) => {
                Err(fail(format!("{value:?} is not a value for an argument of type {ty}")))
            }
        }
    }

    fn period(&self, entry: &Spanned<PeriodEntry>) -> Result<Period, Error> {
        let span = entry.span();
        let fail = |message: String| self.error(span.clone(), message);
        let duration = |text: &str| -> Result<u32, Error> {
            let seconds = parse_duration(text).map_err(|e| fail(e.to_string()))?;
            u32::try_from(seconds).map_err(|_| {
                fail(format!("`{text}` is too long for a period (at most ~136 years)"))
            })
        };
        match entry.get_ref() {
            PeriodEntry::Name(name) => match name.trim().to_ascii_lowercase().as_str() {
                "lifetime" => Ok(Period::Lifetime),
                "monthly" => Ok(Period::monthly()),
                "hourly" => Ok(Period::every(3_600)),
                "daily" => Ok(Period::every(86_400)),
                "weekly" => Ok(Period::every(604_800)),
                _ => Ok(Period::every(duration(name).map_err(|_| {
                    fail(format!("`{name}` is not a period: use \"lifetime\", \"monthly\", \"daily\", a duration like \"1 day\", or a table"))
                })?)),
            },
            PeriodEntry::Table(table) => {
                let active = ActivePart {
                    from: table.active_from.as_deref().map(duration).transpose()?.unwrap_or(0),
                    duration: table.active_for.as_deref().map(duration).transpose()?.unwrap_or(0),
                };
                let kinds = [table.every.is_some(), table.monthly, table.windows.is_some()];
                if kinds.iter().filter(|k| **k).count() != 1 {
                    return Err(fail("a period table has exactly one of `every`, `monthly = true` or `windows`".into()));
                }
                if let Some(every) = &table.every {
                    let length = duration(every)?;
                    if length == 0 {
                        return Err(fail("a period of zero length".into()));
                    }
                    if active.from >= length || active.from as u64 + active.duration as u64 > length as u64 {
                        return Err(fail(format!("the active part (from {} s for {} s) does not fit a period of {every}", active.from, active.duration)));
                    }
                    let start = table.start.as_deref().map(Timestamp::parse).transpose().map_err(|e| fail(e.to_string()))?.unwrap_or_default();
                    return Ok(Period::Every { start, length, active });
                }
                if table.monthly {
                    if table.start.is_some() {
                        return Err(fail("monthly periods start on the 1st of each month (UTC); remove `start`".into()));
                    }
                    if active.from as u64 + active.duration as u64 > 28 * 86_400 {
                        return Err(fail("the active part must fit in the shortest month (28 days)".into()));
                    }
                    return Ok(Period::Monthly { active });
                }
                let windows = table.windows.as_deref().unwrap_or_default();
                if windows.is_empty() {
                    return Err(fail("`windows` lists no windows".into()));
                }
                if active != ActivePart::default() || table.start.is_some() {
                    return Err(fail("explicit windows take no `start`, `active_from` or `active_for`".into()));
                }
                let mut out = Vec::with_capacity(windows.len());
                for [start, end] in windows {
                    let (start, end) = (
                        Timestamp::parse(start).map_err(|e| fail(e.to_string()))?,
                        Timestamp::parse(end).map_err(|e| fail(e.to_string()))?,
                    );
                    if end <= start {
                        return Err(fail(format!("window end {end} is not after its start {start}")));
                    }
                    out.push(Window { start, end });
                }
                Ok(Period::Windows(out))
            }
        }
    }
}

fn salt_of(text: &str) -> B256 {
    text.parse::<B256>().unwrap_or_else(|_| keccak256(text))
}
