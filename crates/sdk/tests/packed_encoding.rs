//! The Rust packer held to the Solidity reference encoder (`SessionEncoder`, behind `SessionEncoderHarness`) on
//! anvil: the same bytes for sessions and actions, the same actions root and the same proofs, for sessions with
//! every signer kind, every period kind, windows, signing scopes with nested structs, and 1 to 100 actions. The
//! module hashes the same bytes to the same session id.

use crate::common;

use alloy::primitives::{aliases::U96, keccak256, Address, Bytes, FixedBytes, B256, U256};
use leash_contracts::{bindings::SessionEncoderHarness, SignerKind};
use leash_core::{
    Action, ActivePart, AmountCap, ArgRule, CallScope, Condition, NestedStruct, Period, PublicKey,
    Session, SessionPolicy, SigningPolicy, SigningUseLimit, Target, Timestamp, TypedDataScope,
    UseLimit, Window,
};
use leash_devnet::Devnet;
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};

fn word(rng: &mut StdRng) -> U256 {
    match rng.gen_range(0..4) {
        0 => U256::from(rng.gen_range(0u64..100)),
        1 => U256::MAX - U256::from(rng.gen_range(0u64..3)),
        2 => Address::repeat_byte(rng.gen()).into_word().into(),
        _ => U256::from_be_bytes(rng.gen::<[u8; 32]>()),
    }
}

fn condition(rng: &mut StdRng) -> Condition {
    let (a, b) = (word(rng), word(rng));
    match rng.gen_range(0..8) {
        0 => Condition::Eq(a),
        1 => Condition::Neq(a),
        2 => Condition::Gt(a),
        3 => Condition::Gte(a),
        4 => Condition::Lt(a),
        5 => Condition::Lte(a),
        6 => Condition::InRange(a.min(b), a.max(b)),
        _ => Condition::OneOf((0..rng.gen_range(1..=12)).map(|_| word(rng)).collect()),
    }
}

fn rules(rng: &mut StdRng, most: usize) -> Vec<ArgRule> {
    (0..rng.gen_range(0..=most))
        .map(|_| ArgRule {
            offset: rng.gen_range(0..20) * 32,
            path: vec![],
            condition: condition(rng),
        })
        .collect()
}

fn active(rng: &mut StdRng) -> ActivePart {
    ActivePart { from: rng.gen_range(0..100_000), duration: rng.gen_range(0..100_000) }
}

/// Every period kind, with and without an active part; windows up to the most a count holds.
fn period(rng: &mut StdRng, kind: usize) -> Period {
    match kind % 4 {
        0 => Period::Lifetime,
        1 => Period::Every {
            start: Timestamp(rng.gen_range(0..(1 << 48))),
            length: rng.gen_range(1..=u32::MAX),
            active: active(rng),
        },
        2 => Period::Monthly { active: active(rng) },
        _ => {
            let count = *[1usize, 2, 12, 255].choose(rng).unwrap();
            let mut start = rng.gen_range(0..1_000_000_000u64);
            Period::Windows(
                (0..count)
                    .map(|_| {
                        let end = start + rng.gen_range(1..1_000_000);
                        let window = Window { start: Timestamp(start), end: Timestamp(end) };
                        start = end + rng.gen_range(0..1_000);
                        window
                    })
                    .collect(),
            )
        }
    }
}

fn action(rng: &mut StdRng, i: usize) -> Action {
    let selector = FixedBytes::<4>::from(rng.gen::<[u8; 4]>());
    let target = if rng.gen_bool(0.2) {
        Target::Any
    } else {
        Target::Contract(Address::repeat_byte(rng.gen()))
    };
    let call = match rng.gen_range(0..4) {
        0 => CallScope::Any,
        1 => CallScope::NativeTransfer,
        2 => CallScope::FunctionOrNativeTransfer(selector),
        _ => CallScope::Function(selector),
    };
    let mut action = Action::new(target, call);
    action.max_value_per_call = rng.gen();
    action.rules = rules(rng, if i.is_multiple_of(10) { 32 } else { 4 });
    action.period = period(rng, i);
    action.max_uses = rng.gen_bool(0.5).then(|| rng.gen_range(1..=u32::MAX));
    action.amount_cap = rng.gen_bool(0.5).then(|| AmountCap {
        offset: rng.gen(),
        path: vec![],
        cap: U96::from_be_bytes(rng.gen::<[u8; 12]>()),
    });
    action.value_cap = rng.gen_bool(0.5).then(|| U96::from_be_bytes(rng.gen::<[u8; 12]>()));
    action
}

fn scope(rng: &mut StdRng) -> TypedDataScope {
    TypedDataScope {
        name: None,
        verifier: Address::repeat_byte(rng.gen()),
        type_hash: B256::from(rng.gen::<[u8; 32]>()),
        nested: (0..rng.gen_range(0..=3))
            .map(|_| NestedStruct {
                field: rng.gen_range(0..8) * 32,
                type_hash: B256::from(rng.gen::<[u8; 32]>()),
                length: rng.gen_range(1..8) * 32,
            })
            .collect(),
        rules: rules(rng, 6),
        encode_type: None,
        max_uses: rng.gen_bool(0.5).then(|| SigningUseLimit {
            count: rng.gen_range(1..=u16::MAX),
            period: {
                let kind = rng.gen_range(0..4);
                period(rng, kind)
            },
            nonce: rng.gen(),
            valid_after: rng.gen(),
            valid_before: rng.gen(),
        }),
    }
}

fn session(rng: &mut StdRng, kind: SignerKind, actions: usize, variant: usize) -> Session {
    let public = match kind {
        SignerKind::Ecdsa => Bytes::copy_from_slice(Address::repeat_byte(rng.gen()).as_slice()),
        _ => Bytes::from(rng.gen::<[u8; 32]>().repeat(2)),
    };
    let valid_after = Timestamp(rng.gen_range(0..2_000_000_000));
    let policy = SessionPolicy {
        name: None,
        valid_after,
        valid_until: rng
            .gen_bool(0.5)
            .then(|| Timestamp(valid_after.0 + rng.gen_range(1..1_000_000_000))),
        max_ops: rng
            .gen_bool(0.7)
            .then(|| UseLimit { count: rng.gen_range(1..=u32::MAX), period: period(rng, variant) }),
        gas_budget: rng.gen_bool(0.5).then(|| rng.gen()),
        paymaster: rng.gen_bool(0.3).then(|| Address::repeat_byte(rng.gen())),
        sudo: actions == 0,
        signing: SigningPolicy {
            any: rng.gen_bool(0.2),
            typed_data: (0..rng.gen_range(0..=3)).map(|_| scope(rng)).collect(),
        },
        actions: (0..actions).map(|i| action(rng, variant + i)).collect(),
        salt: B256::from(rng.gen::<[u8; 32]>()),
    };
    policy.validate().expect("the generated policy is valid");
    Session { key: PublicKey { kind, public }, policy }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_packer_equals_the_solidity_encoder() {
    let devnet = Devnet::builder().bare().start().await.expect("anvil starts");
    let harness = SessionEncoderHarness::deploy(devnet.provider()).await.unwrap();
    let mut rng = StdRng::seed_from_u64(0x9ac4);
    let mut checked = (0usize, 0usize, 0usize);
    let kinds = [SignerKind::Ecdsa, SignerKind::P256, SignerKind::WebAuthn];
    for (variant, &count) in [0usize, 1, 2, 3, 7, 100, 1, 2, 3, 7, 4, 5].iter().enumerate() {
        let kind = kinds[variant % kinds.len()];
        let session = session(&mut rng, kind, count, variant);
        let onchain = session.to_onchain().unwrap();
        let packed = session.encode().unwrap();
        assert_eq!(
            harness.encodeSession(onchain).call().await.unwrap(),
            packed,
            "session {variant} ({kind:?}, {count} actions)"
        );
        assert_eq!(session.id().unwrap(), keccak256(&packed));

        let tree = session.policy.actions_tree().unwrap();
        let hashes = tree.leaves().to_vec();
        for (i, action) in session.policy.actions.iter().enumerate() {
            let bytes = action.encode().unwrap();
            assert_eq!(
                harness.encodeAction(action.to_onchain()).call().await.unwrap(),
                bytes,
                "session {variant}, action {i}"
            );
            assert_eq!(hashes[i], keccak256(&bytes));
            checked.1 += 1;
        }
        assert_eq!(
            harness.actionsRoot(hashes.clone()).call().await.unwrap(),
            session.policy.actions_root().unwrap(),
            "session {variant}: root of {count} actions"
        );
        for i in 0..count {
            let proof = harness.actionProof(hashes.clone(), U256::from(i)).call().await.unwrap();
            assert_eq!(proof, tree.proof(i).unwrap(), "session {variant}: proof of action {i}");
            checked.2 += 1;
        }
        checked.0 += 1;
    }
    assert_eq!(checked, (12, 135, 135));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_module_hashes_the_packed_session_to_its_id() {
    let devnet = common::devnet(31_337).await;
    let module = leash_contracts::bindings::SessionKeyValidator::new(
        devnet.deployment().expect("deployed").session_key_validator,
        devnet.provider(),
    );
    let mut rng = StdRng::seed_from_u64(0x1d);
    for (variant, kind) in
        [SignerKind::Ecdsa, SignerKind::P256, SignerKind::WebAuthn].into_iter().enumerate()
    {
        let session = session(&mut rng, kind, 3, variant);
        assert_eq!(
            module.hashSession(session.encode().unwrap()).call().await.unwrap(),
            session.id().unwrap()
        );
    }
}
