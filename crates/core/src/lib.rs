//! The policy model of leash: what a session key may do, as one Rust type tree.
//!
//! Where it sits (docs/architecture.md): at the bottom of the flow, above `leash-contracts` only. Policies
//! become sessions here; the SDK turns sessions into signed operations. It reads no chain and compiles no
//! network code.
//!
//! Everything that describes a session goes through these types:
//!
//! - [`SessionPolicy`] and [`Action`] (with [`ArgRule`], [`Period`], [`AmountCap`], ...) are the model. They are
//!   read from a TOML policy file with human units ([`PolicyFile`]), built in code ([`SessionPolicy::builder`]),
//!   or both. [`policy_schema`] is the JSON Schema of the file format, generated from the same types.
//! - [`Session`] pairs a policy with its key. [`Session::encode`] and [`Action::encode`] pack them into the wire
//!   format the on-chain module reads (docs/encoding.md; [`Session::decode`] and [`Action::decode`] read it back
//!   strictly); [`Session::id`] and [`Action::hash`] are `keccak256` of those bytes. A session commits to its
//!   actions by the root of a [`MerkleTree`] over their hashes ([`SessionPolicy::actions_tree`]), so an operation
//!   carries only the actions its calls use, each with its proof until its record exists on chain.
//!   [`SessionUse`] is the session part of a UserOperation's signature.
//! - [`grant_digest`], [`MultichainGrant`] and [`use_digest`] are what the owner and the session key sign.
//! - [`SessionPolicy::check_signing`] is the pre-flight of an ERC-1271 signing request ([`TypedDataRequest`]):
//!   the scope the module would accept it under, or the [`SigningRefusal`] that names the failing rule.
//! - [`Evaluator`] is the pre-flight: it runs the module's checks on a batch of [`Call`]s against the chain's
//!   counters ([`ChainState`]) and returns the window the operation may run in, or the [`Rejection`] with the rule
//!   that refuses it, in words ([`Rejection::explain`]) and in machine form ([`Rejection::to_json`]).
//!
//! Data flows one way: policy file or builder → this crate (model, encode, hash, evaluate) → `leash-sdk`
//! (UserOperations, signing, sending) → chain.

mod abi;
mod calls;
mod decode;
mod digest;
mod encode;
mod error;
mod explain;
mod file;
mod human;
mod merkle;
mod model;
pub mod path;
mod period;
mod signing;
mod time;
mod tokens;
mod typed;
mod units;
mod validate;
pub mod written;

pub use abi::{argument_offset, parse_function};
pub use calls::{encode_call, encode_execute};
pub use decode::{unpack_action, unpack_session};
pub use digest::{
    calls_hash, grant_digest, grant_root_digest, message_digest, use_digest, GrantTarget,
    MultichainGrant,
};
pub use encode::{pack_action, pack_session, GrantProof, SessionUse};
pub use error::Error;
pub use explain::{
    ActionAllowance, ActionRecord, Allowed, Call, ChainState, Evaluator, OpGas, Operation,
    Rejection, SessionRecord, SessionState,
};
pub use file::{policy_schema, PolicyContext, PolicyFile};
pub use merkle::MerkleTree;
pub use model::{
    Action, ActivePart, AmountCap, ArgRule, CallScope, Condition, NestedStruct, Period, PublicKey,
    Selector, Session, SessionPolicy, SessionPolicyBuilder, SigningPolicy, SigningUseLimit, Target,
    TypedDataScope, UseLimit, Window, DEFAULT_GAS_BUDGET,
};
pub use path::{PackedLayout, Step};
pub use period::{PeriodError, PeriodSlot};
pub use signing::{erc1271_signature, use_nonce, SigningRefusal, TypedDataRequest};
pub use time::Timestamp;
pub use tokens::{Token, TokenTable};
pub use typed::TypedDataLayout;
pub use units::{format_duration, format_units, parse_amount, parse_duration, Amount};
pub use written::{CallEntry, Names};
