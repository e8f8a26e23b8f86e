//! Benchmarks of what `SessionAgent::send` does for one operation once the chain has been read: build the
//! UserOperation, hash it, sign the use digest with the session key and encode the session signature.
//!
//! `cargo bench -p leash-sdk --bench userop` (target: one signed operation in at most 100 µs).

use alloy::primitives::{address, Address, Bytes, B256, U256};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use leash_contracts::ENTRYPOINT_V07;
use leash_core::{
    calls_hash, encode_call, encode_execute, use_digest, ActionRecord, Call, ChainState, Evaluator,
    OpGas, Operation, PolicyContext, PolicyFile, PublicKey, Session, SessionRecord, SessionState,
    SessionUse, Timestamp,
};
use leash_sdk::{
    gas::GasLimits,
    lanes::{Lane, NonceKey},
    signer::{EcdsaSigner, P256Signer, SessionSigner, SignerError},
    userop::UserOperation,
};
use std::{collections::HashMap, hint::black_box, path::PathBuf};

const CHAIN_ID: u64 = 8453;
const ACCOUNT: Address = address!("00000000000000000000000000000000000000aa");
const MODULE: Address = address!("00000000000000000000000000000000000000bb");
const USDC: Address = address!("0000000000000000000000000000000000005dc0");
/// The `merchant` of `examples/policies/subscription.toml`.
const MERCHANT: Address = address!("4d65726368616e74000000000000000000000001");
const MAX_FEE: u128 = 2_000_000_000;
const PRIORITY_FEE: u128 = 1_000_000_000;

/// The subscription session of `signer`, the month's payment and the time the operation states.
struct Fixture {
    session: Session,
    /// Computed once, as the agent does.
    session_id: B256,
    action_hashes: Vec<B256>,
    calls: [Call; 1],
    call_actions: [usize; 1],
    time: u64,
}

impl Fixture {
    fn new(signer: &dyn SessionSigner) -> Self {
        let mut context = PolicyContext { account: Some(ACCOUNT), ..Default::default() };
        context.tokens.insert("USDC", USDC, 6);
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/policies/subscription.toml");
        let policy =
            PolicyFile::load(path, &context).expect("examples/policies/subscription.toml reads");
        let key = PublicKey { kind: signer.kind(), public: signer.signer_bytes() };
        let payment = Call {
            target: USDC,
            value: U256::ZERO,
            data: encode_call(
                "transfer(address,uint256)",
                &[MERCHANT.into_word().into(), U256::from(100_000_000u64)],
            )
            .expect("transfer(address,uint256) encodes"),
        };
        let session = Session { key, policy };
        Self {
            session_id: session.id().expect("the session packs"),
            action_hashes: session.policy.action_hashes().expect("the actions pack"),
            session,
            calls: [payment],
            call_actions: [0],
            time: Timestamp::parse("2027-03-01T09:00:00Z").expect("a valid time").0,
        }
    }

    /// The operation with nonce `sequence` on lane 0, before it is signed.
    fn unsigned_op(&self, sequence: u64) -> UserOperation {
        let gas = GasLimits::default_for(self.calls.len(), false, false);
        UserOperation::builder(ACCOUNT)
            .nonce(NonceKey::session(MODULE, Lane::DEFAULT).nonce(sequence))
            .call_data(encode_execute(&self.calls))
            .verification_gas_limit(gas.verification)
            .call_gas_limit(gas.call)
            .pre_verification_gas(gas.pre_verification)
            .fees(MAX_FEE, PRIORITY_FEE)
            .build()
            .expect("the operation builds")
    }

    /// The operation with nonce `sequence` on lane 0, signed: as `SessionAgent::send` and `sign` build it.
    fn signed_op(
        &self,
        sequence: u64,
        sign: impl Fn(B256) -> Result<Bytes, SignerError>,
    ) -> UserOperation {
        let mut op = self.unsigned_op(sequence);
        let hash = op.hash(ENTRYPOINT_V07, CHAIN_ID).expect("gas values fit");
        let charged: Vec<B256> = self.call_actions.iter().map(|&a| self.action_hashes[a]).collect();
        let digest = use_digest(hash, self.session_id, self.time, calls_hash(&charged));
        let signature = sign(digest).expect("the session key signs");
        op.signature = SessionUse {
            session: &self.session,
            call_actions: &self.call_actions,
            recorded: &[],
            time: self.time,
            signature,
            grant: None,
        }
        .encode()
        .expect("the session use packs");
        op
    }

    /// The pre-flight `SessionAgent::send` runs before signing (an evaluator over the agent's cached hashes).
    fn preflight(&self, state: &ChainState) {
        let gas = GasLimits::default_for(self.calls.len(), false, false);
        let op = Operation {
            account: ACCOUNT,
            module: MODULE,
            time: self.time,
            gas: OpGas {
                pre_verification_gas: gas.pre_verification,
                verification_gas_limit: gas.verification,
                call_gas_limit: gas.call,
                max_fee_per_gas: MAX_FEE,
                ..Default::default()
            },
            paymaster: None,
            grant: None,
        };
        let allowed = Evaluator::prepared(&self.session, self.session_id, &self.action_hashes)
            .evaluate(&self.calls, &op, state)
            .expect("this month's payment is allowed");
        black_box(allowed);
    }

    /// The session granted and not yet used this month.
    fn granted_state(&self) -> ChainState {
        let hash = self.action_hashes[0];
        ChainState {
            session: SessionRecord { state: SessionState::Enabled, ..Default::default() },
            epoch: 0,
            actions: HashMap::from([(hash, ActionRecord { enabled: true, ..Default::default() })]),
            ..Default::default()
        }
    }
}

fn userop(c: &mut Criterion) {
    let ecdsa = EcdsaSigner::from_bytes(&B256::repeat_byte(0x11)).expect("a valid secp256k1 key");
    let p256 = P256Signer::from_bytes(&B256::repeat_byte(0x22)).expect("a valid P-256 key");
    let with_ecdsa = Fixture::new(&ecdsa);
    let with_p256 = Fixture::new(&p256);
    // The session (its one action included) travels in the signature: about 2 KB.
    assert!(with_ecdsa.signed_op(0, |d| ecdsa.sign_digest_sync(d)).signature.len() > 1_000);

    let mut group = c.benchmark_group("userop");
    group.throughput(Throughput::Elements(1));
    let mut sequence = 0u64;
    group.bench_function("build_hash_sign_ecdsa", |b| {
        b.iter(|| {
            sequence += 1;
            with_ecdsa.signed_op(black_box(sequence), |d| ecdsa.sign_digest_sync(d))
        })
    });
    group.bench_function("build_hash_sign_p256", |b| {
        b.iter(|| {
            sequence += 1;
            with_p256.signed_op(black_box(sequence), |d| p256.sign_digest_sync(d))
        })
    });
    let state = with_ecdsa.granted_state();
    group.bench_function("preflight_build_hash_sign_ecdsa", |b| {
        b.iter(|| {
            sequence += 1;
            with_ecdsa.preflight(black_box(&state));
            with_ecdsa.signed_op(black_box(sequence), |d| ecdsa.sign_digest_sync(d))
        })
    });
    group.finish();

    // Where the time of one signed operation goes.
    let mut group = c.benchmark_group("userop_parts");
    group.throughput(Throughput::Elements(1));
    let digest = B256::repeat_byte(0x33);
    group.bench_function("sign_digest_ecdsa", |b| {
        b.iter(|| ecdsa.sign_digest_sync(black_box(digest)))
    });
    group.bench_function("sign_digest_p256", |b| {
        b.iter(|| p256.sign_digest_sync(black_box(digest)))
    });
    group.bench_function("build_and_hash", |b| {
        b.iter(|| {
            sequence += 1;
            with_ecdsa.unsigned_op(black_box(sequence)).hash(ENTRYPOINT_V07, CHAIN_ID)
        })
    });
    group.bench_function("session_id", |b| b.iter(|| black_box(&with_ecdsa.session).id()));
    let signature = ecdsa.sign_digest_sync(digest).expect("the session key signs");
    group.bench_function("session_use_encode", |b| {
        b.iter(|| {
            SessionUse {
                session: black_box(&with_ecdsa.session),
                call_actions: &with_ecdsa.call_actions,
                recorded: &[],
                time: with_ecdsa.time,
                signature: signature.clone(),
                grant: None,
            }
            .encode()
        })
    });
    group.finish();
}

criterion_group!(benches, userop);
criterion_main!(benches);
