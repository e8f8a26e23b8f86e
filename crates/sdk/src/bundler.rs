//! A typed client for the standard ERC-4337 bundler JSON-RPC API (ERC-7769), for EntryPoint v0.7.
//!
//! [`BundlerClient`] speaks `eth_sendUserOperation`, `eth_estimateUserOperationGas`,
//! `eth_getUserOperationByHash`, `eth_getUserOperationReceipt`, `eth_supportedEntryPoints` and `eth_chainId`
//! over HTTP (alloy's [`RpcClient`]) and waits for receipts ([`BundlerClient::wait_for_receipt`]).
//!
//! Responses are decoded as real bundlers send them, not only as the specification shows them: quantities
//! as hex strings, decimal strings or JSON numbers; optional fields absent or `null`; a zero address for "no
//! paymaster"; `entrypoint` for `entryPoint`; `verificationGas` for `verificationGasLimit`.
//!
//! Failures come in three kinds a caller can act on ([`BundlerError`]):
//! - the bundler could not be reached (connection refused, DNS, TLS, time-out): [`BundlerError::Unreachable`],
//!   or it answered with an HTTP error and no JSON-RPC body: [`BundlerError::Http`];
//! - the bundler refused: [`BundlerError::Rejected`], with the JSON-RPC code mapped to a [`RejectionKind`]
//!   (`-32500` rejected by EntryPoint simulation with its `AAxx` reason, `-32507` signature, ...), the message
//!   and the `data` field;
//! - the answer could not be read: [`BundlerError::Decode`].
//!
//! Bundler URLs often carry an API key in their path or query, so errors show only the scheme, host and port.
//!
//! ```no_run
//! use leash_sdk::{bundler::BundlerClient, userop::UserOperation};
//! use std::time::Duration;
//!
//! # async fn send(mut op: UserOperation) -> Result<(), Box<dyn std::error::Error>> {
//! let bundler = BundlerClient::new("http://127.0.0.1:4337")?;
//! let chain_id = bundler.chain_id().await?;
//!
//! // Fill the gas limits, sign, send, and wait for the bundle to land.
//! bundler.estimate_user_operation_gas(&op).await?.apply_to(&mut op);
//! let hash = op.hash(bundler.entry_point(), chain_id)?;
//! // op.signature = signer.sign_digest(...).await?;
//! let sent = bundler.send_user_operation(&op).await?;
//! assert_eq!(sent, hash);
//! let receipt = bundler
//!     .wait_for_receipt_with_progress(sent, Duration::from_secs(1), Duration::from_secs(60), |progress| {
//!         eprintln!("still waiting after {:?} ({} polls)", progress.elapsed, progress.attempt);
//!     })
//!     .await?;
//! println!("included in {} (success: {})", receipt.receipt.transaction_hash, receipt.success);
//! # Ok(())
//! # }
//! ```

use crate::userop::UserOperation;
use alloy::{
    primitives::{Address, Bytes, B256, U256, U64},
    rpc::client::RpcClient,
    transports::{
        http::reqwest::{self, Url},
        RpcError, TransportErrorKind,
    },
};
use leash_contracts::ENTRYPOINT_V07;
pub use leash_userop::rpc::{
    BundleReceipt, GasEstimate, ReceiptLog, UserOperationByHash, UserOperationReceipt,
};
use serde::{de::DeserializeOwned, Serialize};
use std::{
    error::Error as StdError,
    fmt,
    time::{Duration, Instant},
};

/// How long one HTTP request may take unless told otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------

/// What a JSON-RPC error code means, per ERC-7769 and JSON-RPC 2.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectionKind {
    /// `-32602`: invalid UserOperation struct or fields.
    InvalidParams,
    /// `-32500`: rejected by the EntryPoint's simulation during account creation or validation; the
    /// message carries the EntryPoint's `AAxx` reason.
    SimulationRejected,
    /// `-32501`: rejected by the paymaster's `validatePaymasterUserOp`.
    PaymasterRejected,
    /// `-32502`: an ERC-7562 opcode or storage-access rule was violated.
    OpcodeViolation,
    /// `-32503`: out of the time range the account or paymaster returned (expired or not yet valid).
    OutOfTimeRange,
    /// `-32504`: the paymaster, aggregator or factory is throttled or banned.
    ThrottledOrBanned,
    /// `-32505`: the paymaster, aggregator or factory stake or unstake delay is too low.
    StakeTooLow,
    /// `-32506`: the account asked for an unsupported signature aggregator.
    UnsupportedAggregator,
    /// `-32507`: the account's (or paymaster's) signature check failed.
    InvalidSignature,
    /// `-32508`: the paymaster's deposit does not cover its pending operations.
    PaymasterBalance,
    /// `-32521`: the operation reverted (or would revert) in its execution phase.
    ExecutionReverted,
    /// `-32601`: the endpoint does not implement the method.
    MethodNotFound,
    /// `-32603`: the endpoint failed internally.
    Internal,
    /// The fees are below what the bundler asks (some bundlers answer this without a code): ask its price
    /// method (`pimlico_getUserOperationGasPrice`) or raise them.
    Underpriced,
    /// Any other code, or none.
    Other,
}

impl RejectionKind {
    /// The kind of a JSON-RPC error code.
    pub const fn from_code(code: i64) -> Self {
        match code {
            -32602 => Self::InvalidParams,
            -32500 => Self::SimulationRejected,
            -32501 => Self::PaymasterRejected,
            -32502 => Self::OpcodeViolation,
            -32503 => Self::OutOfTimeRange,
            -32504 => Self::ThrottledOrBanned,
            -32505 => Self::StakeTooLow,
            -32506 => Self::UnsupportedAggregator,
            -32507 => Self::InvalidSignature,
            -32508 => Self::PaymasterBalance,
            -32521 => Self::ExecutionReverted,
            -32601 => Self::MethodNotFound,
            -32603 => Self::Internal,
            _ => Self::Other,
        }
    }

    /// What it means, in a few words.
    pub const fn description(self) -> &'static str {
        match self {
            Self::InvalidParams => "invalid UserOperation fields",
            Self::SimulationRejected => "rejected by EntryPoint simulation",
            Self::PaymasterRejected => "rejected by the paymaster",
            Self::OpcodeViolation => "ERC-7562 opcode or storage rule violated",
            Self::OutOfTimeRange => "outside its validity time range",
            Self::ThrottledOrBanned => "entity throttled or banned",
            Self::StakeTooLow => "entity stake or unstake delay too low",
            Self::UnsupportedAggregator => "unsupported signature aggregator",
            Self::InvalidSignature => "signature check failed",
            Self::PaymasterBalance => "paymaster deposit too low",
            Self::ExecutionReverted => "execution reverted",
            Self::MethodNotFound => "method not supported",
            Self::Internal => "internal error of the endpoint",
            Self::Underpriced => "fees below the bundler's price",
            Self::Other => "error",
        }
    }
}

/// A JSON-RPC error answer: the endpoint understood the request and refused it.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcRejection {
    /// What the code means.
    pub kind: RejectionKind,
    /// The JSON-RPC error code.
    pub code: i64,
    /// The message, for EntryPoint rejections starting with the `AAxx` reason.
    pub message: String,
    /// The `data` field, as sent (object, string, ... or `None` when absent or `null`).
    pub data: Option<serde_json::Value>,
}

/// The most of a bundler's error message that is kept: it is shown, logged and stored (the service keeps it as
/// the operation's error), and its text is the bundler's own, so it is also cleared of URLs' credentials.
const MAX_MESSAGE_CHARS: usize = 2_000;

impl RpcRejection {
    fn new(code: i64, message: String, data: Option<&str>) -> Self {
        let message = truncate(&scrub_urls(&message), MAX_MESSAGE_CHARS);
        let data = data
            .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw).ok())
            .filter(|value| !value.is_null());
        let kind = match RejectionKind::from_code(code) {
            RejectionKind::Other if is_underpriced(&message) => RejectionKind::Underpriced,
            RejectionKind::Other if code == 0 && find_aa_code(&message).is_some() => {
                RejectionKind::SimulationRejected
            }
            kind => kind,
        };
        Self { kind, code, message, data }
    }

    /// An error object without a `code` (JSON-RPC requires one; some bundlers leave it out, sometimes with an
    /// HTTP error status): still the bundler's refusal, not a network failure. Its code reads as 0.
    /// Only a JSON-RPC envelope (`jsonrpc` and `error`) counts: a gateway's error page is not the bundler's word.
    fn from_body(body: &str) -> Option<Self> {
        let response: serde_json::Value = serde_json::from_str(body).ok()?;
        response.get("jsonrpc")?;
        let error = response.get("error")?;
        let message = error.get("message")?.as_str()?.to_owned();
        let code = error.get("code").and_then(serde_json::Value::as_i64).unwrap_or(0);
        let data = error.get("data").map(serde_json::Value::to_string);
        Some(Self::new(code, message, data.as_deref()))
    }

    /// The EntryPoint's `AAxx` code (`"AA23"`, `"AA25"`, ...) in the message or in `data.reason`.
    pub fn aa_code(&self) -> Option<&str> {
        find_aa_code(&self.message).or_else(|| {
            let reason = self.data.as_ref()?.get("reason")?.as_str()?;
            find_aa_code(reason)
        })
    }

    /// Revert bytes the bundler attached: `data` itself when it is a hex string, else its `revertData`,
    /// `revert_data` or `data` member; without `data`, the hex after the `AAxx` reason in the message, where
    /// some bundlers put it ("UserOperation reverted with reason: AA23 reverted - 0x…").
    pub fn revert_data(&self) -> Option<Bytes> {
        let from_data = self.data.as_ref().and_then(|data| {
            let text = match data {
                serde_json::Value::String(text) => text.as_str(),
                serde_json::Value::Object(members) => ["revertData", "revert_data", "data"]
                    .iter()
                    .find_map(|name| members.get(*name).and_then(|value| value.as_str()))?,
                _ => return None,
            };
            text.parse().ok()
        });
        from_data.or_else(|| revert_in_text(&self.message))
    }
}

/// The account's revert bytes where alto writes them in its message: right after `AA23 reverted` (the account's
/// validation reverted), as `AA23 reverted - 0x…` or `AA23 reverted 0x…`. Only AA23: a paymaster's or factory's
/// revert is not the session's; only the word right after it, at least four bytes.
fn revert_in_text(message: &str) -> Option<Bytes> {
    let code = find_aa_code(message).filter(|code| *code == "AA23")?;
    let start = code.as_ptr() as usize - message.as_ptr() as usize;
    // The reason opens the message, or follows alto's "…with reason: ": not text quoted from elsewhere.
    let before = message[..start].trim_end();
    if !(before.is_empty() || before.ends_with("with reason:")) {
        return None;
    }
    let rest = message[start + code.len()..].strip_prefix(" reverted")?.trim_start();
    let rest = rest.strip_prefix(['-', ':']).unwrap_or(rest).trim_start();
    let word = rest.split(|c: char| !c.is_ascii_alphanumeric()).next()?;
    let hex = word.strip_prefix("0x")?;
    (hex.len() >= 8 && hex.len() % 2 == 0).then(|| word.parse().ok()).flatten()
}

/// Whether a message says the fees are too low for the bundler (alto: "maxFeePerGas must be at least …").
fn is_underpriced(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    (lower.contains("maxfeepergas") || lower.contains("maxpriorityfeepergas"))
        && (lower.contains("must be at least")
            || lower.contains("too low")
            || lower.contains("underpriced"))
}

impl fmt::Display for RpcRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (JSON-RPC error {}: {})", self.message, self.code, self.kind.description())
    }
}

fn find_aa_code(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(3)).find_map(|i| {
        let at_word_start = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let at_word_end = bytes.get(i + 4).is_none_or(|b| !b.is_ascii_alphanumeric());
        (at_word_start
            && at_word_end
            && &bytes[i..i + 2] == b"AA"
            && bytes[i + 2].is_ascii_digit()
            && bytes[i + 3].is_ascii_digit())
        .then(|| &text[i..i + 4])
    })
}

/// What can go wrong talking to a bundler.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BundlerError {
    /// The bundler URL is not an http(s) URL.
    #[error("the bundler URL is not valid: {0}")]
    InvalidUrl(String),
    /// No answer: connection refused, DNS, TLS, time-out.
    #[error("bundler at {url} is unreachable: {reason}")]
    Unreachable {
        /// The bundler (scheme, host and port only).
        url: String,
        /// What failed.
        reason: String,
    },
    /// An HTTP error status without a JSON-RPC answer in its body.
    #[error("bundler at {url} answered {method} with HTTP {status}: {body}")]
    Http {
        /// The bundler (scheme, host and port only).
        url: String,
        /// The method called.
        method: &'static str,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The bundler refused the request with a JSON-RPC error.
    #[error("bundler rejected {method}: {rejection}")]
    Rejected {
        /// The method called.
        method: &'static str,
        /// The error, its code mapped to a kind.
        rejection: RpcRejection,
    },
    /// The answer is not what the method returns.
    #[error("bundler at {url} answered {method} with something leash cannot read: {reason}")]
    Decode {
        /// The bundler (scheme, host and port only).
        url: String,
        /// The method called.
        method: &'static str,
        /// What did not decode.
        reason: String,
    },
    /// The bundler's own price is more than its client's limit times the node's: leash does not offer it (the
    /// price is paid from the account's ether and counts against a session's gas budget).
    #[error(
        "the bundler at {url} asks a {what} of {asked} wei, more than {limit} times the node's price of {node} \
         wei: leash does not offer it"
    )]
    Overpriced {
        /// The bundler (scheme, host and port only).
        url: String,
        /// Which fee: `maxFeePerGas` or `maxPriorityFeePerGas`.
        what: &'static str,
        /// The bundler's.
        asked: u128,
        /// The node's.
        node: u128,
        /// The client's limit, in times the node's price.
        limit: u32,
    },
    /// With the bundler's gas estimate, the operation could cost more than its client's limit: leash does not
    /// sign it (`preVerificationGas` is paid in full whatever is used, so an inflated estimate is a charge).
    #[error(
        "with the gas limits the bundler at {url} (or its paymaster) gave, the operation could cost {cost} wei, \
         more than the limit of {limit} wei: leash does not sign it"
    )]
    TooCostly {
        /// The bundler (scheme, host and port only).
        url: String,
        /// Every gas limit of the operation times its `maxFeePerGas`.
        cost: U256,
        /// The client's limit.
        limit: U256,
    },
    /// The request could not be encoded.
    #[error("could not encode the {method} request: {reason}")]
    Encode {
        /// The method.
        method: &'static str,
        /// Why.
        reason: String,
    },
    /// No receipt arrived in time.
    #[error(
        "no receipt for UserOperation {hash} after {waited:?} ({attempts} polls){}",
        last_error.as_ref().map(|err| format!("; last error: {err}")).unwrap_or_default()
    )]
    ReceiptTimeout {
        /// The UserOperation hash waited for.
        hash: B256,
        /// How long it waited.
        waited: Duration,
        /// How many times it asked.
        attempts: u32,
        /// The last transient failure while polling, if the last poll failed.
        last_error: Option<String>,
    },
    /// The bundler stopped answering while an operation it had accepted was awaited: every poll for
    /// [`BundlerClient::GONE_AFTER`] failed to connect, or got 502, 503 or 504 from a gateway in front of it. The
    /// operation may still land; its hash follows it.
    #[error(
        "the bundler at {url} stopped answering while UserOperation {hash} was awaited ({reason}); it may still \
         land: follow it by its hash"
    )]
    Gone {
        /// The UserOperation hash waited for.
        hash: B256,
        /// The bundler (scheme, host and port only).
        url: String,
        /// The last connection failure.
        reason: String,
    },
}

impl BundlerError {
    /// The JSON-RPC rejection, when the bundler refused.
    pub const fn rejection(&self) -> Option<&RpcRejection> {
        match self {
            Self::Rejected { rejection, .. } => Some(rejection),
            _ => None,
        }
    }

    /// Whether trying again later may succeed: the bundler was unreachable or answered an HTTP error.
    pub const fn is_transient(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::Http { .. })
    }

    fn from_call(err: CallError, url: &str, method: &'static str) -> Self {
        let url = url.to_owned();
        match err {
            CallError::Unreachable(reason) => Self::Unreachable { url, reason },
            CallError::Http { status, body } => Self::Http { url, method, status, body },
            CallError::Rejected(rejection) => Self::Rejected { method, rejection },
            CallError::Decode(reason) => Self::Decode { url, method, reason },
            CallError::Encode(reason) => Self::Encode { method, reason },
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// JSON-RPC plumbing shared with the paymaster client
// ---------------------------------------------------------------------------------------------------------

/// Why one JSON-RPC call failed, before the caller names the endpoint.
#[derive(Debug)]
pub(crate) enum CallError {
    Unreachable(String),
    Http { status: u16, body: String },
    Rejected(RpcRejection),
    Decode(String),
    Encode(String),
}

/// One JSON-RPC endpoint: the client and the URL as it may be shown.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    client: RpcClient,
    shown_url: String,
}

impl Endpoint {
    /// An HTTP endpoint; the error is a reason without the URL.
    pub(crate) fn http(url: &str, request_timeout: Duration) -> Result<Self, String> {
        let parsed = Url::parse(url).map_err(|err| err.to_string())?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "it must start with http:// or https://, not {}://",
                parsed.scheme()
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(request_timeout)
            .build()
            .map_err(|err| describe_error(&err.without_url()))?;
        Ok(Self {
            shown_url: redact_url(&parsed),
            client: RpcClient::new_http_with_client(http, parsed),
        })
    }

    /// An endpoint over any alloy transport; `label` is how errors name it.
    pub(crate) fn from_client(client: RpcClient, label: &str) -> Self {
        Self { client, shown_url: scrub_urls(label) }
    }

    pub(crate) fn shown_url(&self) -> &str {
        &self.shown_url
    }

    /// Calls `method`. Parameters and result go through [`serde_json::Value`] so that any serde type fits.
    pub(crate) async fn call<P: Serialize, R: DeserializeOwned>(
        &self,
        method: &'static str,
        params: P,
    ) -> Result<R, CallError> {
        let params = match serde_json::to_value(params) {
            // No parameters: an empty array, since some endpoints refuse `null` or a missing `params`.
            Ok(serde_json::Value::Null) => serde_json::Value::Array(Vec::new()),
            Ok(params) => params,
            Err(err) => return Err(CallError::Encode(err.to_string())),
        };
        let result: serde_json::Value =
            self.client.request(method, params).await.map_err(|err| match err {
                RpcError::ErrorResp(payload) => CallError::Rejected(RpcRejection::new(
                    payload.code,
                    payload.message.into_owned(),
                    payload.data.as_ref().map(|raw| raw.get()),
                )),
                RpcError::NullResp => CallError::Decode("a null result".into()),
                RpcError::DeserError { err, text } => match RpcRejection::from_body(&text) {
                    Some(rejection) => CallError::Rejected(rejection),
                    None => {
                        CallError::Decode(format!("{err} in {}", truncate(&scrub_urls(&text), 300)))
                    }
                },
                RpcError::SerError(err) => CallError::Encode(err.to_string()),
                RpcError::Transport(kind) => match kind {
                    TransportErrorKind::HttpError(http) => {
                        // A time-out, a rate limit or a gateway's failure is transient whatever its body says.
                        let transient = matches!(http.status, 408 | 429 | 502..=504);
                        match RpcRejection::from_body(&http.body).filter(|_| !transient) {
                            Some(rejection) => CallError::Rejected(rejection),
                            None => CallError::Http {
                                status: http.status,
                                body: truncate(&scrub_urls(&http.body), 300),
                            },
                        }
                    }
                    TransportErrorKind::HttpErrorWithRetryAfter { error, .. } => CallError::Http {
                        status: error.status,
                        body: truncate(&scrub_urls(&error.body), 300),
                    },
                    TransportErrorKind::Custom(err) | TransportErrorKind::NonRetryable(err) => {
                        let reason = match err.downcast::<reqwest::Error>() {
                            Ok(err) => describe_error(&err.without_url()),
                            Err(err) => describe_error(err.as_ref()),
                        };
                        CallError::Unreachable(reason)
                    }
                    other => CallError::Unreachable(describe_error(&other)),
                },
                other => CallError::Unreachable(describe_error(&other)),
            })?;
        R::deserialize(&result).map_err(|err| {
            CallError::Decode(format!(
                "{err} in {}",
                truncate(&scrub_urls(&result.to_string()), 300)
            ))
        })
    }
}

/// An error and its sources, joined, with any URL reduced to its scheme, host and port.
fn describe_error(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    scrub_urls(&text)
}

/// A URL as errors may show it: scheme, host and port; path and query (where API keys live) elided.
fn redact_url(url: &Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
        shown.push_str("/…");
    }
    shown
}

/// `text` with every http(s) and ws(s) URL in it, whatever the case of its scheme, reduced to scheme, host and
/// port, so that API keys in paths and queries (`https://rpc.example/v2/<key>`) never reach an error message or
/// a log.
///
/// ```
/// assert_eq!(
///     leash_sdk::bundler::scrub_urls("cannot reach https://rpc.example/v2/secret (refused)"),
///     "cannot reach https://rpc.example/… (refused)"
/// );
/// ```
pub fn scrub_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // ASCII lowercasing keeps every byte where it was: positions found in it are positions in `rest`.
    let start_of_url = |rest: &str| {
        let lower = rest.to_ascii_lowercase();
        ["http://", "https://", "ws://", "wss://"].iter().filter_map(|s| lower.find(s)).min()
    };
    while let Some(start) = start_of_url(rest) {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>' | ','))
            .unwrap_or(tail.len());
        // Punctuation closing a sentence ("… at http://host:1: refused") is not part of the URL.
        let end = tail[..end].trim_end_matches([':', '.', ';']).len();
        match Url::parse(&tail[..end]) {
            Ok(url) => out.push_str(&redact_url(&url)),
            Err(_) => out.push_str("<url>"),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------------------

/// Progress of [`BundlerClient::wait_for_receipt_with_progress`], reported after every poll without a
/// receipt.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitProgress {
    /// The UserOperation hash waited for.
    pub hash: B256,
    /// Polls so far.
    pub attempt: u32,
    /// Time since the wait began.
    pub elapsed: Duration,
    /// The transient failure of this poll, if it failed (the wait goes on).
    pub error: Option<String>,
}

/// A client for one ERC-4337 bundler and one EntryPoint (v0.7 at its canonical address by default).
#[derive(Debug, Clone)]
pub struct BundlerClient {
    endpoint: Endpoint,
    entry_point: Address,
    /// Set once the bundler refused `pimlico_getUserOperationGasPrice`: it is not asked again.
    no_price_method: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The most times the node's price the bundler's price may be.
    price_limit: u32,
    /// The most one operation may cost with the bundler's estimate, in wei.
    cost_limit: U256,
}

/// The most times the node's `maxFeePerGas` a bundler's own price may be before leash refuses to offer it:
/// bundlers add a margin for the base fee's rise until inclusion (alto's hosted default is about twice the
/// node's); many times more is a bundler overcharging, paid from the account's ether.
pub const DEFAULT_PRICE_LIMIT: u32 = 4;

/// The most one operation may cost, in wei (0.1 ether), with a bundler's gas estimate (every gas limit times
/// `maxFeePerGas`): `preVerificationGas` is charged in full whatever is used and paid to the bundler, so an
/// estimate inflated by a hostile bundler would otherwise be a charge on the account. A session's operations
/// are also bounded by its gas budget; the owner's have no other bound.
pub const DEFAULT_COST_LIMIT: U256 = U256::from_limbs([100_000_000_000_000_000, 0, 0, 0]);

/// `pimlico_getUserOperationGasPrice`'s answer: three tiers of fees.
#[derive(Debug, serde::Deserialize)]
struct GasPriceTiers {
    standard: GasPrice,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct GasPrice {
    max_fee_per_gas: alloy::primitives::U256,
    max_priority_fee_per_gas: alloy::primitives::U256,
}

/// Builds a [`BundlerClient`]: URL, EntryPoint and request time-out.
#[derive(Debug, Clone)]
#[must_use]
pub struct BundlerClientBuilder {
    url: String,
    entry_point: Address,
    request_timeout: Duration,
    price_limit: u32,
    cost_limit: U256,
}

impl BundlerClientBuilder {
    /// The EntryPoint the operations are for (default [`ENTRYPOINT_V07`]).
    pub const fn entry_point(mut self, entry_point: Address) -> Self {
        self.entry_point = entry_point;
        self
    }

    /// How long one HTTP request may take (default [`DEFAULT_REQUEST_TIMEOUT`]).
    pub const fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The most times the node's `maxFeePerGas` the bundler's own price may be (default
    /// [`DEFAULT_PRICE_LIMIT`]; at least 1): above it, operations are not sent ([`BundlerError::Overpriced`]).
    pub const fn price_limit(mut self, times: u32) -> Self {
        self.price_limit = if times == 0 { 1 } else { times };
        self
    }

    /// The most one operation may cost with the bundler's estimate, in wei (default [`DEFAULT_COST_LIMIT`]):
    /// above it, the operation is not signed ([`BundlerError::TooCostly`]).
    pub const fn cost_limit(mut self, wei: U256) -> Self {
        self.cost_limit = wei;
        self
    }

    /// The client. Fails only on a malformed URL; nothing is sent yet.
    pub fn build(self) -> Result<BundlerClient, BundlerError> {
        let endpoint =
            Endpoint::http(&self.url, self.request_timeout).map_err(BundlerError::InvalidUrl)?;
        Ok(BundlerClient {
            endpoint,
            entry_point: self.entry_point,
            no_price_method: Default::default(),
            price_limit: self.price_limit,
            cost_limit: self.cost_limit,
        })
    }
}

impl BundlerClient {
    /// How long a bundler that accepted an operation may fail every connection before the wait for its receipt
    /// gives up ([`BundlerError::Gone`]).
    pub const GONE_AFTER: Duration = Duration::from_secs(3);

    /// A client for the bundler at `url` (http or https), EntryPoint v0.7, default time-out.
    pub fn new(url: &str) -> Result<Self, BundlerError> {
        Self::builder(url).build()
    }

    /// A builder for a client of the bundler at `url`.
    pub fn builder(url: &str) -> BundlerClientBuilder {
        BundlerClientBuilder {
            url: url.to_owned(),
            entry_point: ENTRYPOINT_V07,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            price_limit: DEFAULT_PRICE_LIMIT,
            cost_limit: DEFAULT_COST_LIMIT,
        }
    }

    /// A client over any alloy RPC client (another transport, extra layers, an in-process bundler);
    /// `label` names it in errors.
    pub fn from_rpc_client(client: RpcClient, label: &str) -> Self {
        Self {
            endpoint: Endpoint::from_client(client, label),
            entry_point: ENTRYPOINT_V07,
            no_price_method: Default::default(),
            price_limit: DEFAULT_PRICE_LIMIT,
            cost_limit: DEFAULT_COST_LIMIT,
        }
    }

    /// The same client for another EntryPoint.
    #[must_use]
    pub fn with_entry_point(mut self, entry_point: Address) -> Self {
        self.entry_point = entry_point;
        self
    }

    /// The most times the node's price this bundler's price may be.
    pub const fn price_limit(&self) -> u32 {
        self.price_limit
    }

    /// The most one operation may cost with this bundler's estimate, in wei.
    pub const fn cost_limit(&self) -> U256 {
        self.cost_limit
    }

    /// The EntryPoint the operations are sent to.
    pub const fn entry_point(&self) -> Address {
        self.entry_point
    }

    /// The bundler's URL as errors show it (scheme, host and port).
    pub fn url(&self) -> &str {
        self.endpoint.shown_url()
    }

    async fn call<P: Serialize, R: DeserializeOwned>(
        &self,
        method: &'static str,
        params: P,
    ) -> Result<R, BundlerError> {
        self.endpoint
            .call(method, params)
            .await
            .map_err(|err| BundlerError::from_call(err, self.endpoint.shown_url(), method))
    }

    /// `eth_sendUserOperation`: submits a signed operation; returns its hash.
    pub async fn send_user_operation(&self, op: &UserOperation) -> Result<B256, BundlerError> {
        self.call("eth_sendUserOperation", (op, self.entry_point)).await
    }

    /// `eth_estimateUserOperationGas`: the gas limits `op` needs. Its signature must have the right
    /// length and shape (a dummy), since validation runs.
    pub async fn estimate_user_operation_gas(
        &self,
        op: &UserOperation,
    ) -> Result<GasEstimate, BundlerError> {
        self.call("eth_estimateUserOperationGas", (op, self.entry_point)).await
    }

    /// `eth_getUserOperationByHash`: the operation, and where it was included; `None` when unknown.
    pub async fn get_user_operation_by_hash(
        &self,
        hash: B256,
    ) -> Result<Option<UserOperationByHash>, BundlerError> {
        self.call("eth_getUserOperationByHash", (hash,)).await
    }

    /// `eth_getUserOperationReceipt`: the receipt; `None` while not included (or unknown).
    pub async fn get_user_operation_receipt(
        &self,
        hash: B256,
    ) -> Result<Option<UserOperationReceipt>, BundlerError> {
        self.call("eth_getUserOperationReceipt", (hash,)).await
    }

    /// The bundler's own price for operations, when it has a price method (`pimlico_getUserOperationGasPrice`,
    /// its `standard` tier): `(maxFeePerGas, maxPriorityFeePerGas)`. `None` when it has none (not asked again
    /// once it said so) or could not answer this time. [`Submitter::fees`](crate::Submitter::fees) refuses a
    /// price above the client's [`price_limit`](Self::price_limit).
    pub async fn gas_price(&self) -> Result<Option<(u128, u128)>, BundlerError> {
        if self.no_price_method.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(None);
        }
        match self.call::<_, GasPriceTiers>("pimlico_getUserOperationGasPrice", ()).await {
            Ok(tiers) => Ok(Some((
                tiers.standard.max_fee_per_gas.saturating_to(),
                tiers.standard.max_priority_fee_per_gas.saturating_to(),
            ))),
            Err(BundlerError::Rejected { rejection, .. })
                if rejection.kind == RejectionKind::MethodNotFound =>
            {
                self.no_price_method.store(true, std::sync::atomic::Ordering::Relaxed);
                Ok(None)
            }
            Err(BundlerError::Http { status: 404 | 405 | 501, .. }) => {
                self.no_price_method.store(true, std::sync::atomic::Ordering::Relaxed);
                Ok(None)
            }
            // The price is the bundler's advice, not a condition of sending: whatever else failed (a rate limit,
            // an internal error, an answer of another shape), the node's price this time, the bundler asked again
            // next time. A bundler that is down fails the send itself.
            Err(_) => Ok(None),
        }
    }

    /// `eth_supportedEntryPoints`.
    pub async fn supported_entry_points(&self) -> Result<Vec<Address>, BundlerError> {
        self.call("eth_supportedEntryPoints", ()).await
    }

    /// Whether the bundler lists this client's EntryPoint.
    pub async fn supports_entry_point(&self) -> Result<bool, BundlerError> {
        Ok(self.supported_entry_points().await?.contains(&self.entry_point))
    }

    /// `eth_chainId`: the chain the bundler sends to.
    pub async fn chain_id(&self) -> Result<u64, BundlerError> {
        let id: U64 = self.call("eth_chainId", ()).await?;
        Ok(id.to::<u64>())
    }

    /// Polls `eth_getUserOperationReceipt` every `poll_interval` until the receipt arrives or `timeout`
    /// passes ([`BundlerError::ReceiptTimeout`]; the wait may overrun `timeout` by one `poll_interval`, so
    /// that a last poll at the deadline can finish). Unreachable-bundler and HTTP errors while polling do
    /// not end the wait; rejections do.
    pub async fn wait_for_receipt(
        &self,
        hash: B256,
        poll_interval: Duration,
        timeout: Duration,
    ) -> Result<UserOperationReceipt, BundlerError> {
        self.wait_for_receipt_with_progress(hash, poll_interval, timeout, |_| {}).await
    }

    /// [`wait_for_receipt`](Self::wait_for_receipt), calling `progress` after every poll that found no
    /// receipt (to log, update a display, or record metrics).
    pub async fn wait_for_receipt_with_progress(
        &self,
        hash: B256,
        poll_interval: Duration,
        timeout: Duration,
        mut progress: impl FnMut(&WaitProgress),
    ) -> Result<UserOperationReceipt, BundlerError> {
        let start = Instant::now();
        let mut attempt = 0u32;
        // Since when every poll has failed to connect: a bundler that went away is reported in seconds, not at
        // the end of the time-out.
        let mut unreachable_since: Option<Instant> = None;
        loop {
            attempt = attempt.saturating_add(1);
            // A poll may run until the deadline, and the last one at least one interval, so the wait
            // overshoots `timeout` by one interval at most.
            let limit = timeout.saturating_sub(start.elapsed()).max(poll_interval);
            let polled = tokio::time::timeout(limit, self.get_user_operation_receipt(hash)).await;
            // Refused connections, and a gateway in front of a bundler that is down (502, 503, 504), count as gone.
            let gone = match &polled {
                Ok(Err(BundlerError::Unreachable { url, reason })) => {
                    Some((url.clone(), reason.clone()))
                }
                Ok(Err(BundlerError::Http { url, status: status @ 502..=504, .. })) => {
                    Some((url.clone(), format!("HTTP {status} from its gateway")))
                }
                _ => None,
            };
            if let Some((url, reason)) = gone {
                let since = *unreachable_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= Self::GONE_AFTER {
                    return Err(BundlerError::Gone { hash, url, reason });
                }
            } else {
                unreachable_since = None;
            }
            let error = match polled {
                Ok(Ok(Some(receipt))) => return Ok(receipt),
                Ok(Ok(None)) => None,
                Ok(Err(err)) if err.is_transient() => Some(err.to_string()),
                Ok(Err(err)) => return Err(err),
                Err(_) => Some("the poll did not finish before the time-out".to_owned()),
            };
            let elapsed = start.elapsed();
            progress(&WaitProgress { hash, attempt, elapsed, error: error.clone() });
            if elapsed >= timeout {
                return Err(BundlerError::ReceiptTimeout {
                    hash,
                    waited: elapsed,
                    attempts: attempt,
                    last_error: error,
                });
            }
            tokio::time::sleep(poll_interval.min(timeout - elapsed)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bundler's message is its own text: a URL with a key in it is cut to its host, and a message of any
    /// length to what can be shown and stored.
    #[test]
    fn a_bundlers_message_is_cleared_of_keys_and_cut_to_length() {
        let keyed = RpcRejection::from_body(
            r#"{"jsonrpc":"2.0","error":{"code":-32000,"message":"see https://rpc.example/v2/secret-key for more"}}"#,
        )
        .unwrap();
        assert!(!keyed.message.contains("secret-key"), "{}", keyed.message);
        assert!(keyed.message.contains("https://rpc.example/"), "{}", keyed.message);
        for url in ["HTTPS://rpc.example/v2/secret-key", "wss://ws.example/v2/secret-key"] {
            let scrubbed = scrub_urls(&format!("failed at {url} today"));
            assert!(!scrubbed.contains("secret-key"), "{scrubbed}");
            assert!(scrubbed.ends_with("/… today"), "{scrubbed}");
        }
        let long = RpcRejection::new(-32000, "x".repeat(100_000), None);
        assert_eq!(long.message.chars().count(), MAX_MESSAGE_CHARS + 1, "cut, with an ellipsis");
    }

    #[test]
    fn finds_aa_codes_as_words() {
        assert_eq!(find_aa_code("AA23 reverted: 0x1234"), Some("AA23"));
        assert_eq!(find_aa_code("validation failed: AA25 invalid account nonce"), Some("AA25"));
        assert_eq!(find_aa_code("AA2"), None);
        assert_eq!(find_aa_code("XAA23 AA1x"), None);
        assert_eq!(find_aa_code("(AA94)"), Some("AA94"));
    }

    /// What alto 0.0.18 sends (its text, as `make test-alto` sees it against the devnet): the module's revert in the
    /// message, an error object without a code, a price refusal.
    #[test]
    fn bundler_answers_without_data_or_code_are_still_read() {
        let refused = RpcRejection::new(
            -32500,
            "UserOperation reverted with reason: AA23 reverted - 0xdeadbeef00000001".into(),
            None,
        );
        assert_eq!(refused.revert_data().unwrap().as_ref(), [0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1]);
        let estimated = RpcRejection::new(
            -32500,
            "reverted during simulation with reason: AA23 reverted 0x12345678".into(),
            None,
        );
        assert_eq!(estimated.revert_data().unwrap().as_ref(), [0x12, 0x34, 0x56, 0x78]);
        let no_hex = RpcRejection::new(-32500, "AA23 reverted 0x12".into(), None);
        assert_eq!(no_hex.revert_data(), None, "no word of four bytes or more");
        let paymaster = RpcRejection::new(-32500, "AA33 reverted 0xdeadbeef".into(), None);
        assert_eq!(paymaster.revert_data(), None, "a paymaster's revert is not the session's");
        let quoted = RpcRejection::new(
            -32521,
            "execution reverted: merchant says AA23 reverted 0xdeadbeef".into(),
            None,
        );
        assert_eq!(quoted.revert_data(), None, "a reason quoted from elsewhere in the message");
        let colon = RpcRejection::new(-32500, "AA23 reverted: 0xdeadbeef".into(), None);
        assert_eq!(colon.revert_data().unwrap().as_ref(), [0xde, 0xad, 0xbe, 0xef]);
        let later_word = RpcRejection::new(
            -32500,
            "AA23 reverted (sender 0x1111111111111111111111111111111111111111)".into(),
            None,
        );
        assert_eq!(later_word.revert_data(), None, "only the word right after it");
        let data_first =
            RpcRejection::new(-32500, "AA23 reverted 0x11111111".into(), Some(r#""0x22222222""#));
        assert_eq!(
            data_first.revert_data().unwrap().as_ref(),
            [0x22; 4],
            "`data` wins over the text"
        );

        let codeless =
            RpcRejection::from_body(r#"{"jsonrpc":"2.0","id":1,"error":{"message":"verificationGasLimit must be at least 10000"}}"#)
                .unwrap();
        assert_eq!((codeless.code, codeless.kind), (0, RejectionKind::Other));
        let underpriced = RpcRejection::from_body(
            r#"{"jsonrpc":"2.0","error":{"message":"maxFeePerGas must be at least 2000186016 (current maxFeePerGas: 1000093008) - use pimlico_getUserOperationGasPrice to get the current gas price"}}"#,
        )
        .unwrap();
        assert_eq!(underpriced.kind, RejectionKind::Underpriced);
        let simulation = RpcRejection::from_body(
            r#"{"jsonrpc":"2.0","error":{"message":"AA23 reverted 0xdeadbeef"}}"#,
        )
        .unwrap();
        assert_eq!(simulation.kind, RejectionKind::SimulationRejected);
        assert!(
            RpcRejection::from_body("<html>bad gateway</html>").is_none(),
            "not JSON-RPC: an HTTP failure"
        );
        assert!(RpcRejection::from_body(r#"{"result":"0x1"}"#).is_none());
        assert!(
            RpcRejection::from_body(r#"{"error":{"message":"rate limited"}}"#).is_none(),
            "no JSON-RPC envelope: a gateway's answer"
        );
    }

    #[test]
    fn urls_lose_path_and_query() {
        assert_eq!(
            scrub_urls("error sending request for url (https://api.example.com/v2/secret-key?x=1)"),
            "error sending request for url (https://api.example.com/…)"
        );
        assert_eq!(scrub_urls("see http://127.0.0.1:4337/ now"), "see http://127.0.0.1:4337 now");
        assert_eq!(scrub_urls("http://u:pw@host/"), "http://host/…");
        assert_eq!(scrub_urls("no url here"), "no url here");
    }

    #[test]
    fn invalid_urls_do_not_echo_the_url() {
        let err = BundlerClient::new("ftp://host/secret").unwrap_err();
        assert!(matches!(err, BundlerError::InvalidUrl(_)));
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(BundlerClient::new("not a url").is_err());
    }

    #[test]
    fn rejection_kinds_cover_erc_7769() {
        for (code, kind) in [
            (-32602, RejectionKind::InvalidParams),
            (-32500, RejectionKind::SimulationRejected),
            (-32501, RejectionKind::PaymasterRejected),
            (-32502, RejectionKind::OpcodeViolation),
            (-32503, RejectionKind::OutOfTimeRange),
            (-32504, RejectionKind::ThrottledOrBanned),
            (-32505, RejectionKind::StakeTooLow),
            (-32506, RejectionKind::UnsupportedAggregator),
            (-32507, RejectionKind::InvalidSignature),
            (-32508, RejectionKind::PaymasterBalance),
            (-32521, RejectionKind::ExecutionReverted),
            (-1, RejectionKind::Other),
        ] {
            assert_eq!(RejectionKind::from_code(code), kind);
        }
    }
}
