//! Differential test: random sessions and random call batches judged by the pre-flight evaluator and by the
//! module on chain. Every verdict must agree: the same window when allowed, the same error (with the same
//! data) when rejected, and after an allowed operation the same counters. Sessions and signatures are packed
//! by the Rust encoder, so every case also holds it to the module's decoder; some cases leave out every
//! action's proof, and some send packed bytes the module must refuse (truncated, a byte left over, another
//! format version).
//!
//! `LEASH_DIFF_CASES` sets the number of batches (default 2,000; `make differential` runs 100,000) and
//! `LEASH_DIFF_SEED` the seed, printed so any disagreement can be replayed.

use crate::common;

use alloy::{
    dyn_abi::{DynSolValue, JsonAbiExt},
    json_abi::Function,
    primitives::{aliases::U96, Address, Bytes, FixedBytes, B256, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
    sol_types::SolCall,
};
use common::Stack;
use leash_contracts::{
    bindings::{
        LeashAccount, SessionKeyValidator, SessionKeyValidator::SessionKeyValidatorErrors as E,
    },
    ENTRYPOINTS,
};
use leash_core::{
    encode_execute, use_digest, Action, ActivePart, AmountCap, ArgRule, Call, CallScope, Condition,
    Evaluator, NestedStruct, OpGas, Operation, Period, PublicKey, Rejection, Session,
    SessionPolicy, SessionUse, SigningPolicy, SigningUseLimit, Target, Timestamp, TypedDataScope,
    UseLimit, Window,
};
use leash_sdk::{signer::EcdsaSigner, submit::decode_module_revert, userop::UserOperation};
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use std::collections::BTreeMap;

const NO_END: u64 = (1 << 48) - 1;
/// 2027-03-01T00:00:00Z: times are drawn around it.
const BASE: u64 = 1_803_859_200;

struct World {
    targets: Vec<Address>,
    selectors: Vec<FixedBytes<4>>,
    account: Address,
    module: Address,
    /// Addresses no session may call: `address(0)`, the canonical EntryPoints, another module of the account.
    forbidden: Vec<Address>,
    paymasters: [Address; 2],
    /// A function with structs, arrays and packed bytes, for rules with paths.
    dynamic: Function,
}

/// The function rules with paths are written against: a static struct inline, dynamic arrays of words and of
/// dynamic structs, packed bytes (a Uniswap V3 path inside a struct and at the top).
const DYNAMIC: &str = "route(uint256 amount, (address to, uint256 deadline) dst, address[] path, (address token, uint256 amount, bytes route)[] legs, (bytes path, address recipient, uint256 amountIn) params)";

/// Paths over [`DYNAMIC`] the rules and amounts use.
const PATHS: &[&str] = &[
    "amount",
    "dst.to",
    "dst.deadline",
    "path[0]",
    "path[-1]",
    "path[1]",
    "path[*]",
    "len(path)",
    "legs[0].token",
    "legs[-1].amount",
    "legs[*].token",
    "legs[*].amount",
    "legs[0].route.token[0]",
    "legs[*].route.fee[*]",
    "len(legs[1].route)",
    "params.path.token[0]",
    "params.path.token[-1]",
    "params.path.token[*]",
    "params.path.fee[*]",
    "params.path.fee[1]",
    "params.recipient",
    "params.amountIn",
    "len(params.path)",
];

fn word(rng: &mut StdRng, world: &World) -> U256 {
    match rng.gen_range(0..10) {
        0..=2 => U256::from(rng.gen_range(0u64..8)),
        3..=4 => U256::from(rng.gen_range(0u64..2_000)),
        5..=6 => world.targets.choose(rng).unwrap().into_word().into(),
        7 => U256::MAX - U256::from(rng.gen_range(0u64..3)),
        8 => U256::from(1) << rng.gen_range(60..200),
        _ => U256::from(rng.gen::<u64>()),
    }
}

fn period(rng: &mut StdRng) -> Period {
    match rng.gen_range(0..10) {
        0..=3 => Period::Lifetime,
        4..=5 => {
            let length = *[60u32, 3_600, 86_400, 604_800].choose(rng).unwrap();
            let active = if rng.gen_bool(0.5) {
                ActivePart::default()
            } else {
                let from = rng.gen_range(0..length / 2);
                ActivePart { from, duration: rng.gen_range(0..length - from) }
            };
            let start = Timestamp(
                BASE - rng.gen_range(0..4 * u64::from(length)) + rng.gen_range(0..3) * 1_000,
            );
            Period::Every { start, length, active }
        }
        6..=7 => {
            let active = if rng.gen_bool(0.5) {
                ActivePart::default()
            } else {
                ActivePart {
                    from: rng.gen_range(0..3) * 86_400,
                    duration: rng.gen_range(0..3) * 86_400,
                }
            };
            Period::Monthly { active }
        }
        _ => {
            let mut start = BASE - rng.gen_range(0..200_000);
            let windows = (0..rng.gen_range(1..4))
                .map(|_| {
                    let end = start + rng.gen_range(1..300_000);
                    let window = Window { start: Timestamp(start), end: Timestamp(end) };
                    start = end + rng.gen_range(0..100_000);
                    window
                })
                .collect();
            Period::Windows(windows)
        }
    }
}

fn condition(rng: &mut StdRng, world: &World) -> Condition {
    let mut w = || word(rng, world);
    let (a, b) = (w(), w());
    match rng.gen_range(0..8) {
        0 => Condition::Eq(a),
        1 => Condition::Neq(a),
        2 => Condition::Gt(a),
        3 => Condition::Gte(a),
        4 => Condition::Lt(a),
        5 => Condition::Lte(a),
        6 => Condition::InRange(a.min(b), a.max(b)),
        _ => Condition::OneOf((0..rng.gen_range(1..4)).map(|_| word(rng, world)).collect()),
    }
}

/// Random arguments for [`DYNAMIC`]: arrays of 0 to 3 elements, packed paths mostly well formed (20 + 23n
/// bytes), values from [`word`] or the world's addresses.
fn dynamic_arguments(rng: &mut StdRng, world: &World) -> Vec<DynSolValue> {
    let address = |rng: &mut StdRng| DynSolValue::Address(*world.targets.choose(rng).unwrap());
    let number = |rng: &mut StdRng| DynSolValue::Uint(word(rng, world), 256);
    let packed = |rng: &mut StdRng| {
        let hops = rng.gen_range(0..4);
        let mut bytes = world.targets.choose(rng).unwrap().to_vec();
        for _ in 0..hops {
            bytes.extend_from_slice(
                &[*[0u32, 500, 3_000, 10_000].choose(rng).unwrap()].map(|f| f.to_be_bytes())[0]
                    [1..],
            );
            bytes.extend_from_slice(world.targets.choose(rng).unwrap().as_slice());
        }
        if rng.gen_bool(0.1) {
            bytes.truncate(rng.gen_range(0..bytes.len() + 1));
        }
        DynSolValue::Bytes(bytes)
    };
    vec![
        number(rng),
        DynSolValue::Tuple(vec![address(rng), number(rng)]),
        DynSolValue::Array((0..rng.gen_range(0..4)).map(|_| address(rng)).collect()),
        DynSolValue::Array(
            (0..rng.gen_range(0..4))
                .map(|_| DynSolValue::Tuple(vec![address(rng), number(rng), packed(rng)]))
                .collect(),
        ),
        DynSolValue::Tuple(vec![packed(rng), address(rng), number(rng)]),
    ]
}

/// Calldata for [`DYNAMIC`], sometimes tampered with: an offset or length word replaced (into the head, past
/// the end, unaligned, huge), a word cut off the end, or bytes appended.
fn dynamic_calldata(rng: &mut StdRng, world: &World, arguments: &[DynSolValue]) -> Vec<u8> {
    let mut data = world.dynamic.abi_encode_input(arguments).unwrap();
    if rng.gen_bool(0.25) {
        let words = (data.len() - 4) / 32;
        let at = 4 + 32 * rng.gen_range(0..words);
        let replaced = match rng.gen_range(0..7) {
            0 => U256::from(rng.gen_range(0u64..0x60)),
            1 => U256::from(data.len() - 4 + rng.gen_range(0..64)),
            2 => U256::from(rng.gen_range(0u64..0x400) | 1),
            3 => U256::MAX - U256::from(rng.gen_range(0u64..64)),
            4 => U256::from(1) << rng.gen_range(64..255),
            5 => U256::from_be_slice(&data[4 + 32 * rng.gen_range(0..words)..][..32]),
            _ => U256::from(rng.gen_range(0u64..8)),
        };
        data[at..at + 32].copy_from_slice(&replaced.to_be_bytes::<32>());
    }
    match rng.gen_range(0..20) {
        0 => data.truncate(data.len() - rng.gen_range(1..64.min(data.len() - 4))),
        1 => data.extend_from_slice(&[0xee; 7]),
        _ => {}
    }
    data
}

/// A condition on the values a path reached in an example call: mostly one they pass, sometimes random.
fn condition_on(rng: &mut StdRng, world: &World, values: &[U256]) -> Condition {
    if values.is_empty() || rng.gen_bool(0.2) {
        return condition(rng, world);
    }
    let (min, max) = (*values.iter().min().unwrap(), *values.iter().max().unwrap());
    match rng.gen_range(0..6) {
        0 => Condition::Eq(values[0]),
        1 => Condition::OneOf(values.to_vec()),
        2 => Condition::Lte(max),
        3 => Condition::Gte(min),
        4 => Condition::InRange(min, max),
        _ => Condition::Neq(max ^ U256::from(1)),
    }
}

/// An action on [`DYNAMIC`] with rules by path (and sometimes an amount by path), fitted to an example call.
fn dynamic_action(rng: &mut StdRng, world: &World) -> Action {
    let target = *world.targets.choose(rng).unwrap();
    let mut action = Action::call(target, DYNAMIC).unwrap();
    let example = world.dynamic.abi_encode_input(&dynamic_arguments(rng, world)).unwrap();
    for _ in 0..rng.gen_range(1..4) {
        let text = *PATHS.choose(rng).unwrap();
        let found =
            leash_core::path::resolve(&world.dynamic, text, Some(rng.gen_range(0..5))).unwrap();
        let values =
            leash_core::path::values(&example, found.offset, &found.steps).unwrap_or_default();
        let condition = condition_on(rng, world, &values);
        action.rules.push(ArgRule { offset: found.offset, path: found.steps, condition });
    }
    if rng.gen_bool(0.4) {
        let text = *[
            "amount",
            "params.amountIn",
            "legs[0].amount",
            "legs[-1].amount",
            "len(path)",
            "dst.deadline",
        ]
        .choose(rng)
        .unwrap();
        let found = leash_core::path::resolve(&world.dynamic, text, None).unwrap();
        action.amount_cap = Some(AmountCap {
            offset: found.offset,
            path: found.steps,
            cap: U96::from(rng.gen_range(0u64..5_000)),
        });
    }
    action.period = period(rng);
    action.max_uses = rng.gen_bool(0.3).then(|| rng.gen_range(1..5));
    action
}

fn action(rng: &mut StdRng, world: &World) -> Action {
    if rng.gen_bool(0.3) {
        return dynamic_action(rng, world);
    }
    let target = if rng.gen_bool(0.15) {
        Target::Any
    } else {
        Target::Contract(*world.targets.choose(rng).unwrap())
    };
    let selector = *world.selectors.choose(rng).unwrap();
    let call = match rng.gen_range(0..10) {
        0 => CallScope::Any,
        1 => CallScope::NativeTransfer,
        2 => CallScope::FunctionOrNativeTransfer(selector),
        _ => CallScope::Function(selector),
    };
    let mut action = Action::new(target, call);
    action.max_value_per_call = *[0u128, 0, 1_000, 1_000_000, u128::MAX].choose(rng).unwrap();
    action.rules = (0..rng.gen_range(0..4))
        .map(|_| ArgRule {
            offset: *[0u16, 32, 32, 64, 96, 1].choose(rng).unwrap(),
            path: vec![],
            condition: condition(rng, world),
        })
        .collect();
    action.period = period(rng);
    action.max_uses = rng.gen_bool(0.4).then(|| rng.gen_range(1..5));
    action.amount_cap = rng.gen_bool(0.5).then(|| AmountCap {
        offset: *[32u16, 32, 0, 64].choose(rng).unwrap(),
        path: vec![],
        cap: U96::from(rng.gen_range(0u64..5_000)),
    });
    action.value_cap = rng.gen_bool(0.3).then(|| U96::from(rng.gen_range(0u64..3_000)));
    action
}

fn session(rng: &mut StdRng, world: &World, key: Address) -> Session {
    let valid_after = Timestamp(BASE - rng.gen_range(0..400_000));
    let valid_until =
        rng.gen_bool(0.6).then(|| Timestamp(valid_after.0 + rng.gen_range(1..2_000_000)));
    let policy = SessionPolicy {
        name: None,
        valid_after,
        valid_until,
        max_ops: rng
            .gen_bool(0.3)
            .then(|| UseLimit { count: rng.gen_range(1..6), period: period(rng) }),
        gas_budget: rng.gen_bool(0.3).then(|| rng.gen_range(0u128..50_000_000_000_000_000)),
        paymaster: rng.gen_bool(0.15).then_some(world.paymasters[0]),
        sudo: rng.gen_bool(0.05),
        signing: signing(rng, world),
        actions: (0..rng.gen_range(1..5)).map(|_| action(rng, world)).collect(),
        salt: B256::from(U256::from(rng.gen::<u64>())),
    };
    Session { key: PublicKey::ecdsa(key), policy }
}

/// Signing scopes travel in every operation's session: the module must decode them whatever they hold.
fn signing(rng: &mut StdRng, world: &World) -> SigningPolicy {
    let scopes = if rng.gen_bool(0.15) { rng.gen_range(1..3) } else { 0 };
    SigningPolicy {
        any: rng.gen_bool(0.05),
        typed_data: (0..scopes)
            .map(|_| TypedDataScope {
                name: None,
                verifier: *world.targets.choose(rng).unwrap(),
                type_hash: B256::from(U256::from(rng.gen::<u64>())),
                nested: (0..rng.gen_range(0..2))
                    .map(|_| NestedStruct {
                        field: 0,
                        type_hash: B256::repeat_byte(rng.gen()),
                        length: 128,
                    })
                    .collect(),
                rules: (0..rng.gen_range(0..3))
                    .map(|_| ArgRule { offset: 32, path: vec![], condition: condition(rng, world) })
                    .collect(),
                encode_type: None,
                max_uses: rng.gen_bool(0.3).then(|| SigningUseLimit {
                    count: rng.gen_range(1..5),
                    period: period(rng),
                    nonce: 160,
                    valid_after: 96,
                    valid_before: 128,
                }),
            })
            .collect(),
    }
}

/// A value that passes `condition` (or a near miss when `miss`).
fn satisfying(condition: &Condition, rng: &mut StdRng) -> U256 {
    match condition {
        Condition::Eq(v) | Condition::Gte(v) | Condition::Lte(v) => *v,
        Condition::Neq(v) => *v ^ U256::from(1),
        Condition::Gt(v) => v.saturating_add(U256::from(1)),
        Condition::Lt(v) => v.saturating_sub(U256::from(1)),
        Condition::InRange(min, max) => {
            if rng.gen_bool(0.5) {
                *min
            } else {
                *max
            }
        }
        Condition::OneOf(values) => *values.choose(rng).unwrap(),
    }
}

/// A call built to fit one of the session's actions (its rules, caps and value), so that limits and counters
/// get exercised, not only the scope checks.
fn fitting_call(rng: &mut StdRng, world: &World, session: &Session) -> Call {
    let action = session.policy.actions.choose(rng).unwrap();
    let target = match action.target {
        Target::Contract(t) => t,
        Target::Any => *world.targets.choose(rng).unwrap(),
    };
    let mut words: Vec<U256> = (0..4).map(|_| U256::from(rng.gen_range(0u64..50))).collect();
    for rule in &action.rules {
        if rule.offset % 32 == 0 && (rule.offset as usize) < 128 {
            words[rule.offset as usize / 32] = satisfying(&rule.condition, rng);
        }
    }
    if action.function.is_some() {
        // An action on the dynamic function: arguments fitted to its rules often enough, or random.
        let mut arguments = dynamic_arguments(rng, world);
        for _ in 0..8 {
            let data = world.dynamic.abi_encode_input(&arguments).unwrap();
            let fits = action.rules.iter().all(|rule| {
                leash_core::path::values(&data, rule.offset, &rule.path)
                    .is_ok_and(|v| v.iter().all(|x| rule.condition.holds(*x) == Some(true)))
            });
            if fits {
                break;
            }
            arguments = dynamic_arguments(rng, world);
        }
        let data = dynamic_calldata(rng, world, &arguments);
        return Call { target, value: U256::ZERO, data: data.into() };
    }
    if let Some(cap) = &action.amount_cap {
        if cap.offset % 32 == 0 && rng.gen_bool(0.7) {
            let most: u64 = U256::from(cap.cap).to();
            words[cap.offset as usize / 32] = U256::from(rng.gen_range(0..=most / 2 + 1));
        }
    }
    let data = match action.call {
        CallScope::NativeTransfer => Vec::new(),
        CallScope::Any if rng.gen_bool(0.3) => Vec::new(),
        CallScope::Function(s) | CallScope::FunctionOrNativeTransfer(s) => {
            let mut data = s.to_vec();
            words.iter().for_each(|w| data.extend_from_slice(&w.to_be_bytes::<32>()));
            data
        }
        CallScope::Any => {
            let mut data = world.selectors.choose(rng).unwrap().to_vec();
            words.iter().for_each(|w| data.extend_from_slice(&w.to_be_bytes::<32>()));
            data
        }
    };
    let max = action.max_value_per_call.min(2_000);
    let value =
        if max > 0 && rng.gen_bool(0.5) { U256::from(rng.gen_range(0..=max)) } else { U256::ZERO };
    Call { target, value, data: data.into() }
}

fn call(rng: &mut StdRng, world: &World, session: &Session) -> Call {
    if rng.gen_bool(0.6) {
        return fitting_call(rng, world, session);
    }
    let from_session = session.policy.actions.choose(rng).unwrap();
    let target = match (rng.gen_range(0..12), from_session.target) {
        (0..=6, Target::Contract(t)) => t,
        (7, _) => world.account,
        (8, _) => world.module,
        (9, _) => *world.forbidden.choose(rng).unwrap(),
        _ => *world.targets.choose(rng).unwrap(),
    };
    let mut data = Vec::new();
    match rng.gen_range(0..12) {
        0 => {}
        1 => data.extend_from_slice(&[0xab, 0xcd]),
        n => {
            let selector = match (n, from_session.call) {
                (2..=8, CallScope::Function(s) | CallScope::FunctionOrNativeTransfer(s)) => s,
                _ => *world.selectors.choose(rng).unwrap(),
            };
            data.extend_from_slice(selector.as_slice());
            for _ in 0..rng.gen_range(0..5) {
                data.extend_from_slice(&word(rng, world).to_be_bytes::<32>());
            }
            if rng.gen_bool(0.1) {
                data.extend_from_slice(&[7; 5]);
            }
        }
    }
    let value = match rng.gen_range(0..10) {
        0..=5 => U256::ZERO,
        6..=8 => U256::from(rng.gen_range(1u64..2_000)),
        _ => U256::from(rng.gen::<u128>()),
    };
    Call { target, value, data: data.into() }
}

fn op_gas(rng: &mut StdRng) -> OpGas {
    OpGas {
        pre_verification_gas: rng.gen_range(0..100_000),
        verification_gas_limit: rng.gen_range(0..1_000_000),
        call_gas_limit: rng.gen_range(0..1_000_000),
        paymaster_verification_gas_limit: rng.gen_range(0..100_000),
        paymaster_post_op_gas_limit: rng.gen_range(0..100_000),
        max_fee_per_gas: if rng.gen_bool(0.7) {
            rng.gen_range(0..1_000_000_000)
        } else {
            rng.gen_range(0..20_000_000_000)
        },
    }
}

/// The module's verdict: `Ok((validAfter, validUntil))` or the rejection it reverts with.
fn chain_verdict(result: Result<U256, Option<Bytes>>) -> Result<(u64, u64), Option<Rejection>> {
    match result {
        Ok(data) => {
            assert_eq!(data & U256::from(1), U256::ZERO, "the session signature must verify");
            let until: u64 = ((data >> 160usize) & U256::from(NO_END)).to();
            let after: u64 = (data >> 208usize).to();
            Ok((after, if until == 0 { NO_END } else { until }))
        }
        Err(data) => Err(data.and_then(|d| decode_module_revert(&d))),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_agrees_with_the_chain() {
    let cases: usize =
        std::env::var("LEASH_DIFF_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000);
    let seed: u64 =
        std::env::var("LEASH_DIFF_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x1ea5);
    agree(Stack::start().await, cases, seed).await;
}

/// The same on an EOA account (EIP-7702): the module judges it by the same rules. A tenth of the cases
/// (`LEASH_DIFF_CASES`), from another seed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_agrees_with_the_chain_on_an_eoa_account() {
    let cases: usize =
        std::env::var("LEASH_DIFF_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000) / 10;
    let seed: u64 =
        std::env::var("LEASH_DIFF_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x7702);
    agree(Stack::start_eip7702().await, cases, seed).await;
}

async fn agree(stack: Stack, cases: usize, seed: u64) {
    let provider = stack.devnet.provider().clone();
    let d = stack.deployment();
    let account = stack.account.address;
    let module = stack.chain.module;
    let world = World {
        targets: vec![
            d.usdc,
            d.weth,
            d.game_items,
            d.dex_router,
            Address::repeat_byte(0x51),
            Address::repeat_byte(0x52),
        ],
        selectors: ["a9059cbb", "095ea7b3", "3e85d596", "f242432a", "deadbeef"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect(),
        account,
        module,
        forbidden: Vec::new(),
        paymasters: [Address::repeat_byte(0x71), Address::repeat_byte(0x72)],
        dynamic: leash_core::parse_function(DYNAMIC).unwrap(),
    };
    let mut world = world;
    // The account sends the module's calls itself (anvil impersonation), exactly as during validation.
    let _: () = provider.raw_request("anvil_impersonateAccount".into(), (account,)).await.unwrap();
    let send_as_account = |data: Vec<u8>| {
        let provider = provider.clone();
        async move {
            let tx = TransactionRequest::default()
                .from(account)
                .to(module)
                .input(Bytes::from(data).into())
                .gas_limit(3_000_000);
            let hash: B256 =
                provider.raw_request("eth_sendTransaction".into(), (tx,)).await.unwrap();
            loop {
                if let Some(receipt) = provider.get_transaction_receipt(hash).await.unwrap() {
                    return receipt.status();
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        }
    };

    // Another validator on the account (a second deployment of the module): sessions may never call it.
    let second_module = SessionKeyValidator::deploy(&provider).await.unwrap();
    let install = LeashAccount::installModuleCall {
        moduleTypeId: U256::from(1),
        module: *second_module.address(),
        initData: Bytes::new(),
    };
    {
        let tx = TransactionRequest::default()
            .from(account)
            .to(account)
            .input(Bytes::from(install.abi_encode()).into())
            .gas_limit(1_000_000);
        let hash: B256 = provider.raw_request("eth_sendTransaction".into(), (tx,)).await.unwrap();
        loop {
            if let Some(receipt) = provider.get_transaction_receipt(hash).await.unwrap() {
                assert!(receipt.status(), "the account installs a second validator");
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }
    world.forbidden =
        [Address::ZERO, *second_module.address()].into_iter().chain(ENTRYPOINTS).collect();
    let modules = stack.chain.modules_among(account, &world.forbidden).await.unwrap();
    assert_eq!(modules, [*second_module.address()].into(), "the account names its other module");

    let kind = if stack.account.eip7702 { "an EOA account (EIP-7702)" } else { "a smart account" };
    eprintln!("differential: seed {seed}, {cases} cases, on {kind}");
    let mut rng = StdRng::seed_from_u64(seed);
    let key = EcdsaSigner::random();
    let mut rules: BTreeMap<&'static str, usize> = BTreeMap::new();
    let (mut done, mut allowed) = (0usize, 0usize);
    while done < cases {
        let session = session(&mut rng, &world, key.address());
        let id = session.id().unwrap();
        let grant = SessionKeyValidator::grantSessionCall { session: session.encode().unwrap() };
        assert!(
            send_as_account(grant.abi_encode()).await,
            "grantSession succeeds for a valid session"
        );
        let evaluator = Evaluator::new(&session).unwrap();
        let mut time = BASE - rng.gen_range(0..300_000);
        for _ in 0..rng.gen_range(1..8) {
            if done == cases {
                break;
            }
            match rng.gen_range(0..100) {
                0 => assert!(
                    send_as_account(
                        SessionKeyValidator::revokeSessionCall { sessionId: id }.abi_encode()
                    )
                    .await
                ),
                1 if rng.gen_bool(0.5) => assert!(
                    send_as_account(SessionKeyValidator::revokeAllSessionsCall {}.abi_encode())
                        .await
                ),
                _ => {}
            }
            // Mostly forward in time, sometimes back (an older period than one already charged).
            time = if rng.gen_bool(0.1) {
                time.saturating_sub(rng.gen_range(0..200_000))
            } else {
                time + rng.gen_range(0..150_000)
            };
            let size = match rng.gen_range(0..100) {
                0 => 33,
                1..=60 => 1,
                _ => rng.gen_range(2..5),
            };
            let calls: Vec<Call> = (0..size).map(|_| call(&mut rng, &world, &session)).collect();
            let paymaster = match (rng.gen_range(0..10), session.policy.paymaster) {
                (0..=7, required) => required,
                (8, _) => Some(world.paymasters[1]),
                _ => None,
            };
            let gas = op_gas(&mut rng);
            let operation = Operation { account, module, time, gas, paymaster, grant: None };
            let mut state = stack.chain.session_state(account, &session).await.unwrap();
            let targets: Vec<Address> = calls.iter().map(|c| c.target).collect();
            state.modules = stack.chain.modules_among(account, &targets).await.unwrap();
            let mut call_actions = evaluator.choose_actions(&calls, &operation, &state);
            if rng.gen_bool(0.05) && !session.policy.sudo {
                // A wrong or missing action for some call.
                let i = rng.gen_range(0..call_actions.len());
                call_actions[i] = Some(rng.gen_range(0..session.policy.actions.len() + 2));
            }
            // The actions whose record exists travel without their proof, as the SDK sends them; sometimes every
            // action does (a caller wrongly claiming them recorded), which the module refuses for an action
            // still without a record (`ActionNotGranted`), unless its proof is empty anyway (one action).
            let recorded = if rng.gen_bool(0.05) {
                (0..session.policy.actions.len()).collect()
            } else {
                evaluator.recorded(&state)
            };
            let predicted =
                evaluator.evaluate_unproven(&calls, &call_actions, &recorded, &operation, &state);

            let mut builder = UserOperation::builder(account)
                .nonce(U256::from(rng.gen::<u64>()))
                .call_data(encode_execute(&calls))
                .verification_gas_limit(gas.verification_gas_limit)
                .call_gas_limit(gas.call_gas_limit)
                .pre_verification_gas(gas.pre_verification_gas)
                .fees(gas.max_fee_per_gas, 0);
            if let Some(paymaster) = paymaster {
                builder = builder.paymaster(
                    paymaster,
                    gas.paymaster_verification_gas_limit,
                    gas.paymaster_post_op_gas_limit,
                    Bytes::new(),
                );
            }
            let mut op = builder.build().unwrap();
            let hash = op.hash(stack.chain.entry_point, stack.chain.chain_id).unwrap();
            let calls_hash = evaluator.calls_hash(&call_actions);
            let signature = key.sign_digest_sync(use_digest(hash, id, time, calls_hash)).unwrap();
            let indices: Vec<usize> = if session.policy.sudo {
                Vec::new()
            } else {
                call_actions.iter().map(|a| a.unwrap_or(usize::MAX)).collect()
            };
            op.signature = SessionUse {
                session: &session,
                call_actions: &indices,
                recorded: &recorded,
                time,
                signature,
                grant: None,
            }
            .encode()
            .unwrap();
            // Packed bytes the module must refuse whatever they carry: cut short, with a byte left over, or of
            // another format version. Judged by a call only: nothing is charged.
            if rng.gen_bool(0.03) {
                let packed = op.signature.to_vec();
                let (mangled, expected) = match rng.gen_range(0..3) {
                    0 => (
                        packed[..rng.gen_range(0..packed.len())].to_vec(),
                        E::MalformedSignature(SessionKeyValidator::MalformedSignature {}),
                    ),
                    1 => (
                        [packed.as_slice(), &[rng.gen()]].concat(),
                        E::MalformedSignature(SessionKeyValidator::MalformedSignature {}),
                    ),
                    _ => {
                        let mut other = packed;
                        other[0] = rng.gen_range(2..=u8::MAX);
                        let version = other[0];
                        (
                            other,
                            E::UnsupportedFormat(SessionKeyValidator::UnsupportedFormat {
                                version,
                            }),
                        )
                    }
                };
                let mut mangled_op = op.clone();
                mangled_op.signature = mangled.into();
                let call = SessionKeyValidator::validateUserOpCall {
                    userOp: convert(mangled_op.pack().unwrap()),
                    userOpHash: hash,
                };
                let tx = TransactionRequest::default()
                    .from(account)
                    .to(module)
                    .input(Bytes::from(call.abi_encode()).into());
                let verdict = match provider.call(tx).await {
                    Ok(data) => Ok(U256::from_be_slice(&data)),
                    Err(e) => Err(e.as_error_resp().and_then(|r| r.as_revert_data())),
                };
                let expected = Rejection::Module(expected);
                assert_eq!(
                    chain_verdict(verdict),
                    Err(Some(expected.clone())),
                    "malformed signature (seed {seed}, case {done})"
                );
                *rules.entry(expected.rule()).or_default() += 1;
            }
            let validate = SessionKeyValidator::validateUserOpCall {
                userOp: convert(op.pack().unwrap()),
                userOpHash: hash,
            };
            let tx = TransactionRequest::default()
                .from(account)
                .to(module)
                .input(Bytes::from(validate.abi_encode()).into());
            let result = match provider.call(tx).await {
                Ok(data) => Ok(U256::from_be_slice(&data)),
                Err(e) => Err(e.as_error_resp().and_then(|r| r.as_revert_data())),
            };
            let actual = chain_verdict(result);
            match (&predicted, &actual) {
                (Ok(allowed_op), Ok((after, until))) => {
                    assert_eq!((allowed_op.valid_after, allowed_op.valid_until), (*after, *until), "window differs (seed {seed}, case {done})");
                    // Charge it for real and compare the counters the evaluator predicted.
                    assert!(send_as_account(validate.abi_encode()).await);
                    let mut after_state = stack.chain.session_state(account, &session).await.unwrap();
                    after_state.modules = state.modules.clone();
                    assert_eq!(after_state, allowed_op.after, "counters differ after an allowed op (seed {seed}, case {done})");
                    allowed += 1;
                    *rules.entry("allowed").or_default() += 1;
                    let by_path = call_actions.iter().flatten().any(|a| {
                        session.policy.actions.get(*a).is_some_and(|a| a.function.is_some())
                    });
                    if by_path {
                        *rules.entry("allowed, rules by path").or_default() += 1;
                    }
                }
                (Err(expected), Err(Some(got))) => {
                    assert_eq!(expected, got, "rejections differ (seed {seed}, case {done}): calls {calls:?}");
                    *rules.entry(expected.rule()).or_default() += 1;
                }
                _ => panic!(
                    "verdicts differ (seed {seed}, case {done}):\n  pre-flight: {predicted:?}\n  chain:      {actual:?}\n  session: {session:?}\n  calls: {calls:?}\n  time {time}"
                ),
            }
            done += 1;
        }
    }
    eprintln!("differential: {done} cases, 0 disagreements; {allowed} allowed; verdicts by rule: {rules:?}");
    assert!(allowed > cases / 20, "too few allowed cases to be meaningful: {allowed}");
    assert!(rules.len() > 12, "too few distinct rules exercised: {rules:?}");
    for rule in ["allowed, rules by path", "MalformedArguments", "NoSuchElement", "TooManyElements"]
    {
        assert!(rules.contains_key(rule), "no case ended in `{rule}`: {rules:?}");
    }
}

/// The EntryPoint binding's packed operation as the module binding's type (same Solidity struct).
fn convert(
    op: leash_contracts::bindings::EntryPoint::PackedUserOperation,
) -> SessionKeyValidator::PackedUserOperation {
    SessionKeyValidator::PackedUserOperation {
        sender: op.sender,
        nonce: op.nonce,
        initCode: op.initCode,
        callData: op.callData,
        accountGasLimits: op.accountGasLimits,
        preVerificationGas: op.preVerificationGas,
        gasFees: op.gasFees,
        paymasterAndData: op.paymasterAndData,
        signature: op.signature,
    }
}
