//! Benchmarks of the policy model on the shipped subscription policy: the pre-flight of a one-call batch,
//! encoding and hashing the session, and reading the policy file.
//!
//! `cargo bench -p leash-core --bench policy` (target: one pre-flight evaluation in at most 1 µs).

use alloy::primitives::{address, Address, U256};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use leash_core::{
    encode_call, ActionRecord, Call, ChainState, Evaluator, OpGas, Operation, PolicyContext,
    PolicyFile, PublicKey, Session, SessionRecord, SessionState, Timestamp,
};
use std::{collections::HashMap, hint::black_box, path::PathBuf};

const ACCOUNT: Address = address!("00000000000000000000000000000000000000aa");
const MODULE: Address = address!("00000000000000000000000000000000000000bb");
const USDC: Address = address!("0000000000000000000000000000000000005dc0");
/// The `merchant` of `examples/policies/subscription.toml`.
const MERCHANT: Address = address!("4d65726368616e74000000000000000000000001");
const ONE_USDC: u64 = 1_000_000;

fn subscription_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies/subscription.toml")
}

fn context() -> PolicyContext {
    let mut context = PolicyContext { account: Some(ACCOUNT), ..Default::default() };
    context.tokens.insert("USDC", USDC, 6);
    context
}

fn subscription() -> Session {
    let policy = PolicyFile::load(subscription_path(), &context())
        .expect("examples/policies/subscription.toml reads");
    Session { key: PublicKey::ecdsa(Address::repeat_byte(0x5e)), policy }
}

fn time(rfc3339: &str) -> u64 {
    Timestamp::parse(rfc3339).expect("a valid time").0
}

/// This month's payment: 100 USDC to the merchant.
fn payment() -> Call {
    Call {
        target: USDC,
        value: U256::ZERO,
        data: encode_call(
            "transfer(address,uint256)",
            &[MERCHANT.into_word().into(), U256::from(100 * ONE_USDC)],
        )
        .expect("transfer(address,uint256) encodes"),
    }
}

/// The session granted, last month's payment made: this month's resets the counters.
fn granted_state(session: &Session, last_payment: u64) -> ChainState {
    let action = &session.policy.actions[0];
    let period =
        action.period.resolve(last_payment).expect("the last payment is in a window").index;
    let record = ActionRecord {
        enabled: true,
        period,
        uses: 1,
        amount_spent: u128::from(100 * ONE_USDC),
        value_spent: 0,
    };
    ChainState {
        session: SessionRecord { state: SessionState::Enabled, ..Default::default() },
        epoch: 0,
        actions: HashMap::from([(action.hash().expect("the action packs"), record)]),
        ..Default::default()
    }
}

fn operation(time: u64) -> Operation {
    Operation {
        account: ACCOUNT,
        module: MODULE,
        time,
        gas: OpGas {
            pre_verification_gas: 60_000,
            verification_gas_limit: 290_000,
            call_gas_limit: 220_000,
            max_fee_per_gas: 2_000_000_000,
            ..Default::default()
        },
        paymaster: None,
        grant: None,
    }
}

fn preflight(c: &mut Criterion) {
    let session = subscription();
    let evaluator = Evaluator::new(&session).expect("the session packs");
    let state = granted_state(&session, time("2027-02-01T09:00:00Z"));
    let op = operation(time("2027-03-01T09:00:00Z"));
    let calls = [payment()];
    let allowed = evaluator.evaluate(&calls, &op, &state).expect("this month's payment is allowed");
    assert_eq!(allowed.valid_until, time("2027-03-01T23:59:59Z"));

    let mut group = c.benchmark_group("preflight");
    group.throughput(Throughput::Elements(1));
    group.bench_function("evaluate_one_call", |b| {
        b.iter(|| evaluator.evaluate(black_box(&calls), black_box(&op), black_box(&state)))
    });
    // What `SessionAgent` does per verdict: a fresh evaluator, which hashes the session and its actions.
    group.bench_function("new_evaluator_and_evaluate", |b| {
        b.iter(|| Evaluator::new(black_box(&session)).map(|e| e.evaluate(&calls, &op, &state)))
    });
    group.finish();
}

fn encoding(c: &mut Criterion) {
    let session = subscription();
    let mut group = c.benchmark_group("encoding");
    group.throughput(Throughput::Elements(1));
    group.bench_function("session_encode_id_action_hashes", |b| {
        b.iter(|| {
            let session = black_box(&session);
            (session.encode(), session.id(), session.policy.action_hashes())
        })
    });
    group.finish();
}

fn policy_file(c: &mut Criterion) {
    let path = subscription_path();
    let text = std::fs::read_to_string(&path).expect("examples/policies/subscription.toml exists");
    let context = context();
    let mut group = c.benchmark_group("policy_file");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse_subscription", |b| {
        b.iter(|| PolicyFile::parse(black_box(&text), &path, &context).expect("the policy reads"))
    });
    group.finish();
}

criterion_group!(benches, preflight, encoding, policy_file);
criterion_main!(benches);
