//! The Rust encoding constants must equal the Solidity ones, and the EntryPoint artifact the project deploys
//! must land on the canonical address.

use alloy::{primitives::keccak256, sol_types::SolCall};
use leash_contracts::{
    ActionFlags, PeriodKind, RuleOp, SessionFlags, SignatureMode, SignerKind, StepKind,
    CREATE2_DEPLOYER, ENTRYPOINT_V07, ENTRYPOINT_V07_SALT, FORMAT_VERSION, MAX_BATCH, MAX_RULES,
    RULE_PATH,
};
use std::{collections::HashMap, path::Path};

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("crate lives in crates/")
}

/// `NAME = value` for every `uint8`/`uint256 internal constant` in `SessionTypes.sol`.
fn solidity_constants() -> HashMap<String, u64> {
    let source = std::fs::read_to_string(repo_root().join("contracts/src/SessionTypes.sol"))
        .expect("contracts/src/SessionTypes.sol is readable");
    source
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("uint")?;
            let (_, rest) = rest.split_once("internal constant ")?;
            let (name, value) = rest.trim_end_matches(';').split_once(" = ")?;
            let value = value.trim();
            let value = match value.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok()?,
                None => value.parse().ok()?,
            };
            Some((name.trim().to_string(), value))
        })
        .collect()
}

#[test]
fn rust_encoding_matches_solidity() {
    let sol = solidity_constants();
    let expect = [
        ("SIGNER_ECDSA", SignerKind::Ecdsa as u64),
        ("SIGNER_P256", SignerKind::P256 as u64),
        ("SIGNER_WEBAUTHN", SignerKind::WebAuthn as u64),
        ("PERIOD_LIFETIME", PeriodKind::Lifetime as u64),
        ("PERIOD_FIXED", PeriodKind::Fixed as u64),
        ("PERIOD_MONTHLY", PeriodKind::Monthly as u64),
        ("PERIOD_WINDOWS", PeriodKind::Windows as u64),
        ("OP_EQ", RuleOp::Eq as u64),
        ("OP_NEQ", RuleOp::Neq as u64),
        ("OP_GT", RuleOp::Gt as u64),
        ("OP_GTE", RuleOp::Gte as u64),
        ("OP_LT", RuleOp::Lt as u64),
        ("OP_LTE", RuleOp::Lte as u64),
        ("OP_IN_RANGE", RuleOp::InRange as u64),
        ("OP_ONE_OF", RuleOp::OneOf as u64),
        ("ACTION_ANY_TARGET", ActionFlags::ANY_TARGET as u64),
        ("ACTION_ANY_SELECTOR", ActionFlags::ANY_SELECTOR as u64),
        ("ACTION_NATIVE_TRANSFER", ActionFlags::NATIVE_TRANSFER as u64),
        ("ACTION_AMOUNT_CAP", ActionFlags::AMOUNT_CAP as u64),
        ("ACTION_VALUE_CAP", ActionFlags::VALUE_CAP as u64),
        ("ACTION_AMOUNT_PATH", ActionFlags::AMOUNT_PATH as u64),
        ("RULE_PATH", RULE_PATH as u64),
        ("STEP_FIELD", StepKind::FIELD as u64),
        ("STEP_DEREF", StepKind::DEREF as u64),
        ("STEP_INDEX", StepKind::INDEX as u64),
        ("STEP_EVERY", StepKind::EVERY as u64),
        ("STEP_LENGTH", StepKind::LENGTH as u64),
        ("STEP_PACKED", StepKind::PACKED as u64),
        ("STEP_PACKED_EVERY", StepKind::PACKED_EVERY as u64),
        ("SESSION_SUDO", SessionFlags::SUDO as u64),
        ("SESSION_GAS_BUDGET", SessionFlags::GAS_BUDGET as u64),
        ("SESSION_SIGN_ANY", SessionFlags::SIGN_ANY as u64),
        ("FORMAT_VERSION", u64::from(FORMAT_VERSION)),
        ("MODE_USE", SignatureMode::Use as u64),
        ("MODE_GRANT_AND_USE", SignatureMode::GrantAndUse as u64),
        ("MAX_RULES", MAX_RULES as u64),
        ("MAX_BATCH", MAX_BATCH as u64),
    ];
    for (name, rust) in expect {
        let solidity =
            sol.get(name).unwrap_or_else(|| panic!("{name} is missing from SessionTypes.sol"));
        assert_eq!(*solidity, rust, "{name}: Solidity has {solidity}, Rust has {rust}");
    }
}

#[test]
fn entrypoint_artifact_deploys_at_the_canonical_address() {
    let code = leash_contracts::bindings::entry_point_creation_code();
    assert_eq!(CREATE2_DEPLOYER.create2(ENTRYPOINT_V07_SALT, keccak256(&code)), ENTRYPOINT_V07);
}

#[test]
fn bindings_carry_the_validator_types_and_bytecode() {
    use leash_contracts::bindings::{
        LeashAccountFactory, SessionEncoderHarness, SessionKeyValidator,
    };
    // The module takes sessions packed; the struct types come from the reference encoder, whose `sol!` structs
    // encode exactly like the Solidity ones: spot-check selectors and the bytecode.
    assert_eq!(SessionKeyValidator::grantSessionCall::SIGNATURE, "grantSession(bytes)");
    assert_eq!(
        SessionEncoderHarness::encodeSessionCall::SIGNATURE,
        "encodeSession((uint8,bytes,uint48,uint48,uint32,(uint8,uint48,uint32,uint32,uint32,uint48[]),uint128,\
         address,uint8,(address,bytes32,(uint16,bytes32,uint16)[],(uint8,uint16,bytes32[],bytes)[],uint16,uint16,uint16,\
         uint16,(uint8,uint48,uint32,uint32,uint32,uint48[]))[],bytes32,bytes32))"
    );
    assert!(SessionKeyValidator::BYTECODE.len() > 1000);
    assert!(SessionEncoderHarness::BYTECODE.len() > 1000);
    assert!(LeashAccountFactory::BYTECODE.len() > 1000);
}
