//! The Rust encoding constants must equal the Solidity ones, and the EntryPoint artifact the project deploys
//! must land on the canonical address.

use alloy_primitives::keccak256;
use leash_contracts::{
    ActionFlags, PeriodKind, RuleOp, SessionFlags, SignatureMode, SignerKind, CREATE2_DEPLOYER,
    ENTRYPOINT_V07, ENTRYPOINT_V07_SALT, MAX_BATCH, MAX_RULES,
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
            Some((name.trim().to_string(), value.trim().parse().ok()?))
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
        ("SESSION_SUDO", SessionFlags::SUDO as u64),
        ("SESSION_GAS_BUDGET", SessionFlags::GAS_BUDGET as u64),
        ("SESSION_ERC1271", SessionFlags::ERC1271 as u64),
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
    let artifact =
        repo_root().join("node_modules/@account-abstraction/contracts/artifacts/EntryPoint.json");
    let Ok(text) = std::fs::read_to_string(&artifact) else {
        panic!("{} is missing: run `make toolchain` (npm install) first", artifact.display());
    };
    let marker = "\"bytecode\": \"0x";
    let start = text.find(marker).expect("artifact has a bytecode field") + marker.len();
    let end = start + text[start..].find('"').expect("bytecode string ends");
    let init_code: Vec<u8> = (start..end)
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("bytecode is hex"))
        .collect();
    let deployed = CREATE2_DEPLOYER.create2(ENTRYPOINT_V07_SALT, keccak256(&init_code));
    assert_eq!(deployed, ENTRYPOINT_V07);
}
