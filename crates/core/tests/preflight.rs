//! The pre-flight's rules that mirror the module's newest checks: targets no session may call, voided sessions
//! and grants, an account without the module, the default gas budget, and the calls hash the key signs.

use alloy::primitives::{address, keccak256, Address, Bytes, B256, U256};
use leash_contracts::{
    bindings::SessionKeyValidator::SessionKeyValidatorErrors as E, SessionFlags, ENTRYPOINTS,
    ENTRYPOINT_V06, ENTRYPOINT_V07, ENTRYPOINT_V08,
};
use leash_core::{
    calls_hash, use_digest, Action, ActionRecord, Call, CallScope, ChainState, Evaluator, OpGas,
    Operation, PublicKey, Rejection, Session, SessionPolicy, SessionRecord, SessionState, Target,
    TokenTable, DEFAULT_GAS_BUDGET,
};
use std::collections::{HashMap, HashSet};

const ACCOUNT: Address = address!("00000000000000000000000000000000000000aa");
const MODULE: Address = address!("00000000000000000000000000000000000000bb");
const OTHER_MODULE: Address = address!("00000000000000000000000000000000000000cc");
const SHOP: Address = address!("0000000000000000000000000000000000005b0b");
const TIME: u64 = 1_800_000_000;

fn session(policy: SessionPolicy) -> Session {
    Session { key: PublicKey::ecdsa(Address::repeat_byte(1)), policy }
}

fn any_call() -> SessionPolicy {
    SessionPolicy::builder()
        .action(Action::new(Target::Any, CallScope::Any).with_max_value_per_call(1_000))
        .build()
        .unwrap()
}

fn sudo() -> SessionPolicy {
    SessionPolicy::builder().sudo().build().unwrap()
}

fn op() -> Operation {
    Operation {
        account: ACCOUNT,
        module: MODULE,
        time: TIME,
        gas: OpGas::default(),
        paymaster: None,
        grant: None,
    }
}

/// The session granted at the account's current epoch, with `OTHER_MODULE` installed on the account.
fn granted(session: &Session) -> ChainState {
    ChainState {
        session: SessionRecord { state: SessionState::Enabled, ..Default::default() },
        actions: session
            .policy
            .action_hashes()
            .unwrap()
            .into_iter()
            .map(|h| (h, ActionRecord { enabled: true, ..Default::default() }))
            .collect::<HashMap<_, _>>(),
        modules: HashSet::from([OTHER_MODULE]),
        ..Default::default()
    }
}

fn ping(target: Address) -> Call {
    Call { target, value: U256::ZERO, data: Bytes::from(vec![0xde, 0xad, 0xbe, 0xef]) }
}

fn forbidden(index: usize, target: Address) -> Rejection {
    Rejection::Module(E::ForbiddenTarget(
        leash_contracts::bindings::SessionKeyValidator::ForbiddenTarget {
            callIndex: U256::from(index),
            target,
        },
    ))
}

#[test]
fn no_session_reaches_the_account_address_zero_an_entrypoint_or_a_module() {
    let targets = [
        ACCOUNT,
        Address::ZERO,
        MODULE,
        OTHER_MODULE,
        ENTRYPOINT_V06,
        ENTRYPOINT_V07,
        ENTRYPOINT_V08,
    ];
    assert_eq!(ENTRYPOINTS, [ENTRYPOINT_V06, ENTRYPOINT_V07, ENTRYPOINT_V08]);
    for policy in [any_call(), sudo()] {
        let session = session(policy);
        let state = granted(&session);
        let evaluator = Evaluator::new(&session).unwrap();
        // Allowed to an ordinary contract, single and batched.
        assert!(evaluator.evaluate(&[ping(SHOP)], &op(), &state).is_ok());
        assert!(evaluator.evaluate(&[ping(SHOP), ping(SHOP)], &op(), &state).is_ok());
        for target in targets {
            // A single call, and the same call second in a batch.
            let single = evaluator.evaluate(&[ping(target)], &op(), &state).unwrap_err();
            assert_eq!(single, forbidden(0, target), "sudo {}: {target}", session.policy.sudo);
            let batch = evaluator.evaluate(&[ping(SHOP), ping(target)], &op(), &state).unwrap_err();
            assert_eq!(batch, forbidden(1, target), "sudo {}: {target}", session.policy.sudo);
            let words = single.explain(&session, &TokenTable::default());
            assert!(words.contains("may never call"), "{words}");
        }
    }
    // Only the targets known to be modules are: without OTHER_MODULE in the state, it is an ordinary contract.
    let session = session(any_call());
    let mut state = granted(&session);
    state.modules.clear();
    assert!(Evaluator::new(&session)
        .unwrap()
        .evaluate(&[ping(OTHER_MODULE)], &op(), &state)
        .is_ok());
    // The explanation says what the target is.
    let words = forbidden(0, Address::ZERO).explain(&session, &TokenTable::default());
    assert!(words.contains("address(0)"), "{words}");
    let words = forbidden(0, ENTRYPOINT_V07).explain(&session, &TokenTable::default());
    assert!(words.contains("EntryPoint"), "{words}");
}

#[test]
fn a_session_voided_by_revoke_all_is_named_and_its_old_grant_too() {
    let session = session(any_call());
    let mut state = granted(&session);
    state.epoch = 1; // "revoke all" since the grant
    let evaluator = Evaluator::new(&session).unwrap();
    let rejection = evaluator.evaluate(&[ping(SHOP)], &op(), &state).unwrap_err();
    assert_eq!(rejection.rule(), "SessionVoidedByRevokeAll");
    let words = rejection.explain(&session, &TokenTable::default());
    assert!(words.contains("revoke all") && words.contains("grant it again"), "{words}");

    // A lazy grant signed for the old epoch is void; one for the current epoch grants it again.
    let old = Operation { grant: Some(0), ..op() };
    let rejection = evaluator.evaluate(&[ping(SHOP)], &old, &state).unwrap_err();
    assert_eq!(rejection.rule(), "GrantVoidedByRevokeAll");
    assert!(matches!(
        &rejection,
        Rejection::Module(E::GrantVoidedByRevokeAll(x)) if x.grantEpoch == 0 && x.accountEpoch == 1
    ));
    let words = rejection.explain(&session, &TokenTable::default());
    assert!(words.contains("new grant"), "{words}");
    let current = Operation { grant: Some(1), ..op() };
    let allowed = evaluator.evaluate(&[ping(SHOP)], &current, &state).unwrap();
    assert_eq!(allowed.after.session.epoch, 1);

    // Never granted at all is still SessionNotGranted.
    let rejection = evaluator.evaluate(&[ping(SHOP)], &op(), &ChainState::default()).unwrap_err();
    assert_eq!(rejection.rule(), "SessionNotGranted");
}

#[test]
fn without_the_module_installed_nothing_is_granted_or_used() {
    let session = session(any_call());
    let state = ChainState { installed: false, ..granted(&session) };
    let evaluator = Evaluator::new(&session).unwrap();
    for grant in [None, Some(0)] {
        let rejection =
            evaluator.evaluate(&[ping(SHOP)], &Operation { grant, ..op() }, &state).unwrap_err();
        assert_eq!(rejection.rule(), "NotInstalled");
        let words = rejection.explain(&session, &TokenTable::default());
        assert!(words.contains("not installed"), "{words}");
    }
}

#[test]
fn a_policy_without_budget_or_paymaster_gets_the_default_gas_budget() {
    assert_eq!(DEFAULT_GAS_BUDGET, 100_000_000_000_000_000);
    for policy in [any_call(), sudo()] {
        assert_eq!(policy.gas_budget, None);
        assert_eq!(policy.effective_gas_budget(), Some(DEFAULT_GAS_BUDGET));
        let session = session(policy);
        let onchain = session.to_onchain().unwrap();
        assert_ne!(onchain.flags & SessionFlags::GAS_BUDGET, 0);
        assert_eq!(onchain.gasBudget, DEFAULT_GAS_BUDGET);
        // It reads back as unstated, so the session keeps its id.
        let actions: Vec<Bytes> =
            session.policy.actions.iter().map(|a| a.encode().unwrap()).collect();
        let decoded = Session::decode(&session.encode().unwrap(), &actions).unwrap();
        assert_eq!(decoded.policy.gas_budget, None);
        assert_eq!(decoded.id().unwrap(), session.id().unwrap());
        let lines = session.describe(&TokenTable::default());
        assert!(
            lines.iter().any(|l| l == "gas budget 0.1 ETH over the session's life (default)"),
            "{lines:?}"
        );

        // The pre-flight charges the same budget: an operation that may cost more than 0.1 ETH is refused.
        let state = granted(&session);
        let gas = OpGas {
            call_gas_limit: 1_000_000,
            max_fee_per_gas: 200_000_000_000,
            ..Default::default()
        };
        let rejection = Evaluator::new(&session)
            .unwrap()
            .evaluate(&[ping(SHOP)], &Operation { gas, ..op() }, &state)
            .unwrap_err();
        assert_eq!(rejection.rule(), "GasBudgetExceeded");
    }
    // A stated budget or a required paymaster replaces the default.
    let paid = SessionPolicy { paymaster: Some(Address::repeat_byte(0x77)), ..any_call() };
    assert_eq!(paid.effective_gas_budget(), None);
    assert_eq!(session(paid).to_onchain().unwrap().flags & SessionFlags::GAS_BUDGET, 0);
    let stated = SessionPolicy { gas_budget: Some(5), ..any_call() };
    assert_eq!(session(stated.clone()).to_onchain().unwrap().gasBudget, 5);
    assert!(!session(stated)
        .describe(&TokenTable::default())
        .iter()
        .any(|l| l.contains("(default)")));
}

#[test]
fn the_key_signs_the_actions_each_call_is_charged_to() {
    let policy = SessionPolicy::builder()
        .action(Action::new(Target::Contract(SHOP), CallScope::Any))
        .action(Action::new(Target::Any, CallScope::Any))
        .build()
        .unwrap();
    let session = session(policy);
    let hashes = session.policy.action_hashes().unwrap();
    let evaluator = Evaluator::new(&session).unwrap();
    let allowed = evaluator
        .evaluate(&[ping(SHOP), ping(Address::repeat_byte(9))], &op(), &granted(&session))
        .unwrap();
    assert_eq!(allowed.call_actions, vec![Some(0), Some(1)]);
    let charged = evaluator.calls_hash(&allowed.call_actions);
    assert_eq!(charged, keccak256([hashes[0].0, hashes[1].0].concat()));
    assert_eq!(charged, calls_hash(&hashes));
    // Charging the other action gives another hash, so a relayer cannot swap actions under the signature.
    assert_ne!(charged, evaluator.calls_hash(&[Some(1), Some(1)]));
    // One call: the hash of its action's hash. Sudo: nothing is charged.
    assert_eq!(evaluator.calls_hash(&[Some(0)]), keccak256(hashes[0]));
    let sudo = session_of_sudo();
    assert_eq!(Evaluator::new(&sudo).unwrap().calls_hash(&[None, None]), keccak256([]));

    // useDigest = keccak256(abi.encode(userOpHash, sessionId, uint48 time, callsHash)).
    let (op_hash, id) = (B256::repeat_byte(5), session.id().unwrap());
    let mut encoded = Vec::new();
    encoded.extend_from_slice(op_hash.as_slice());
    encoded.extend_from_slice(id.as_slice());
    encoded.extend_from_slice(&U256::from(TIME).to_be_bytes::<32>());
    encoded.extend_from_slice(charged.as_slice());
    assert_eq!(use_digest(op_hash, id, TIME, charged), keccak256(&encoded));
}

fn session_of_sudo() -> Session {
    session(sudo())
}
