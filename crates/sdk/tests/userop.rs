//! UserOperation v0.7: packing, hashing and JSON against the EntryPoint's definitions and known vectors.

use alloy::{
    primitives::{address, keccak256, Address, Bytes, B256, U256},
    signers::{local::PrivateKeySigner, SignerSync},
    sol_types::SolValue,
};
use leash_contracts::{bindings::EntryPoint::PackedUserOperation, ENTRYPOINT_V07};
use leash_sdk::{
    lanes::{Lane, NonceKey},
    userop::{hash_packed, Factory, Paymaster, UserOpError, UserOperation},
};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::Value;
use std::time::Instant;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/userop/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn vector_op(name: &str) -> UserOperation {
    serde_json::from_value(fixture("vectors.json")["ops"][name].clone()).unwrap()
}

/// `EntryPoint.getUserOpHash` written from `UserOperationLib.encode` and `EntryPoint.getUserOpHash`, with
/// alloy's ABI encoder: `keccak256(abi.encode(keccak256(abi.encode(sender, nonce, keccak256(initCode),
/// keccak256(callData), accountGasLimits, preVerificationGas, gasFees, keccak256(paymasterAndData))),
/// entryPoint, block.chainid))`.
fn entry_point_formula(op: &PackedUserOperation, entry_point: Address, chain_id: u64) -> B256 {
    let encoded = (
        op.sender,
        op.nonce,
        keccak256(&op.initCode),
        keccak256(&op.callData),
        op.accountGasLimits,
        op.preVerificationGas,
        op.gasFees,
        keccak256(&op.paymasterAndData),
    )
        .abi_encode();
    keccak256((keccak256(encoded), entry_point, U256::from(chain_id)).abi_encode())
}

fn random_bytes(rng: &mut StdRng, max: usize) -> Bytes {
    let len = rng.gen_range(0..=max);
    (0..len).map(|_| rng.gen::<u8>()).collect::<Vec<_>>().into()
}

fn random_gas(rng: &mut StdRng) -> U256 {
    match rng.gen_range(0..4) {
        0 => U256::ZERO,
        1 => U256::from(u128::MAX),
        _ => U256::from(rng.gen::<u64>()),
    }
}

fn random_op(rng: &mut StdRng) -> UserOperation {
    UserOperation {
        sender: Address::from(rng.gen::<[u8; 20]>()),
        nonce: U256::from_be_bytes(rng.gen::<[u8; 32]>()),
        factory: rng.gen_bool(0.5).then(|| Factory {
            address: Address::from(rng.gen::<[u8; 20]>()),
            data: random_bytes(rng, 200),
        }),
        call_data: random_bytes(rng, 600),
        call_gas_limit: random_gas(rng),
        verification_gas_limit: random_gas(rng),
        pre_verification_gas: U256::from_be_bytes(rng.gen::<[u8; 32]>()),
        max_fee_per_gas: random_gas(rng),
        max_priority_fee_per_gas: random_gas(rng),
        paymaster: rng.gen_bool(0.5).then(|| Paymaster {
            address: Address::from(rng.gen::<[u8; 20]>()),
            verification_gas_limit: random_gas(rng),
            post_op_gas_limit: random_gas(rng),
            data: random_bytes(rng, 150),
        }),
        signature: random_bytes(rng, 300),
    }
}

#[test]
fn known_vectors_from_the_entry_point() {
    let vectors = fixture("vectors.json");
    let entry_point: Address = serde_json::from_value(vectors["entryPoint"].clone()).unwrap();
    assert_eq!(entry_point, ENTRYPOINT_V07);
    let mut checked = 0;
    for (name, hashes) in vectors["hashes"].as_object().unwrap() {
        let op = vector_op(name);
        for (chain, expected) in hashes.as_object().unwrap() {
            let chain_id: u64 = chain.parse().unwrap();
            let expected: B256 = expected.as_str().unwrap().parse().unwrap();
            assert_eq!(
                op.hash(entry_point, chain_id).unwrap(),
                expected,
                "{name} on chain {chain_id}"
            );
            assert_eq!(hash_packed(&op.pack().unwrap(), entry_point, chain_id), expected);
            assert_eq!(entry_point_formula(&op.pack().unwrap(), entry_point, chain_id), expected);
            checked += 1;
        }
    }
    assert_eq!(checked, 4);
}

#[test]
fn vector_nonce_is_a_session_lane_nonce() {
    let op = vector_op("full");
    let validator = address!("c0ffee254729296a45a3885639ac7e10f9d54979");
    assert_eq!(op.nonce, NonceKey::session(validator, Lane::new(7)).nonce(3));
    assert_eq!(op.nonce_key().validator(), Some(validator));
    assert_eq!(op.nonce_key().lane(), Lane::new(7));
    assert_eq!(op.nonce_sequence(), 3);
}

#[test]
fn hash_equals_the_entry_point_formula_for_random_operations() {
    let mut rng = StdRng::seed_from_u64(4337);
    for _ in 0..500 {
        let op = random_op(&mut rng);
        let chain_id = rng.gen::<u64>();
        let entry_point = Address::from(rng.gen::<[u8; 20]>());
        let packed = op.pack().unwrap();
        // The binding's own ABI round trip, so the packed struct is what the EntryPoint would decode.
        let decoded = PackedUserOperation::abi_decode(&packed.abi_encode()).unwrap();
        assert_eq!(decoded, packed);
        assert_eq!(
            op.hash(entry_point, chain_id).unwrap(),
            entry_point_formula(&packed, entry_point, chain_id)
        );
    }
}

#[test]
fn pack_and_unpack_round_trip() {
    let mut rng = StdRng::seed_from_u64(7579);
    for _ in 0..500 {
        let op = random_op(&mut rng);
        let packed = op.pack().unwrap();
        let back = UserOperation::from_packed(&packed).unwrap();
        assert_eq!(back, op);
        assert_eq!(back.pack().unwrap(), packed);
        // And through the conversion traits.
        let again: UserOperation =
            (&PackedUserOperation::try_from(&back).unwrap()).try_into().unwrap();
        assert_eq!(again, op);
    }
}

#[test]
fn packed_layout_of_the_vector() {
    let op = vector_op("full");
    let packed = op.pack().unwrap();
    let factory = op.factory.as_ref().unwrap();
    let paymaster = op.paymaster.as_ref().unwrap();
    assert_eq!(&packed.initCode[..20], factory.address.as_slice());
    assert_eq!(&packed.initCode[20..], &factory.data[..]);
    assert_eq!(
        packed.accountGasLimits,
        "0x00000000000000000000000000060b0100000000000000000000000000013880"
            .parse::<B256>()
            .unwrap()
    );
    assert_eq!(
        packed.gasFees,
        "0x0000000000000000000000003b9aca00000000000000000000000007a5cf70d5"
            .parse::<B256>()
            .unwrap()
    );
    assert_eq!(&packed.paymasterAndData[..20], paymaster.address.as_slice());
    assert_eq!(
        &packed.paymasterAndData[20..36],
        &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x8a, 0x8e]
    );
    assert_eq!(&packed.paymasterAndData[36..52], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(&packed.paymasterAndData[52..], &paymaster.data[..]);
    assert_eq!(op.init_code(), packed.initCode);
    assert_eq!(op.paymaster_and_data().unwrap(), packed.paymasterAndData);
}

#[test]
fn json_round_trip_keeps_the_canonical_v07_shape() {
    for name in ["full", "minimal"] {
        let original = fixture("vectors.json")["ops"][name].clone();
        let op: UserOperation = serde_json::from_value(original.clone()).unwrap();
        let encoded = serde_json::to_value(&op).unwrap();
        // Same members, same values (addresses come back checksummed, hence the case-insensitive compare).
        assert_eq!(
            encoded.to_string().to_lowercase(),
            original.to_string().to_lowercase(),
            "{name} changed in a JSON round trip"
        );
        let back: UserOperation = serde_json::from_value(encoded.clone()).unwrap();
        assert_eq!(back, op);
    }
    // Member order as in ERC-7769.
    let text = serde_json::to_string(&vector_op("full")).unwrap();
    let order = [
        "sender",
        "nonce",
        "factory",
        "factoryData",
        "callData",
        "callGasLimit",
        "verificationGasLimit",
        "preVerificationGas",
        "maxFeePerGas",
        "maxPriorityFeePerGas",
        "paymaster",
        "paymasterVerificationGasLimit",
        "paymasterPostOpGasLimit",
        "paymasterData",
        "signature",
    ];
    let positions: Vec<usize> =
        order.iter().map(|key| text.find(&format!("\"{key}\"")).unwrap()).collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
}

#[test]
fn minimal_json_omits_factory_and_paymaster() {
    let json = serde_json::to_value(vector_op("minimal")).unwrap();
    let members: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    for absent in
        ["factory", "factoryData", "paymaster", "paymasterData", "paymasterVerificationGasLimit"]
    {
        assert!(!members.contains(&absent), "{absent} in {json}");
    }
    assert_eq!(json["nonce"], "0x0");
    assert_eq!(json["callData"], "0x");
    assert_eq!(json["signature"], "0x");
}

#[test]
fn decodes_the_shapes_other_implementations_send() {
    let minimal = vector_op("minimal");
    for name in ["minimal.nulls.json", "minimal.zero_addresses.json"] {
        let op: UserOperation = serde_json::from_value(fixture(name)).unwrap();
        assert_eq!(op, minimal, "{name}");
    }
    let full = vector_op("full");
    for name in ["full.packed_names.json", "full.loose_numbers.json"] {
        let op: UserOperation = serde_json::from_value(fixture(name)).unwrap();
        assert_eq!(op, full, "{name}");
    }
}

#[test]
fn gas_beyond_128_bits_is_an_error_not_a_truncation() {
    let mut json = fixture("vectors.json")["ops"]["full"].clone();
    json["callGasLimit"] = Value::from("0x100000000000000000000000000000000");
    let op: UserOperation = serde_json::from_value(json.clone()).unwrap();
    let err = op.hash(ENTRYPOINT_V07, 1).unwrap_err();
    assert!(matches!(err, UserOpError::GasOverflow { field: "callGasLimit", .. }), "{err}");
    assert!(err.to_string().contains("callGasLimit"), "{err}");
    assert!(op.pack().is_err());

    json["callGasLimit"] = Value::from("0x1");
    json["paymasterVerificationGasLimit"] = Value::from(format!("{:#x}", U256::MAX));
    let op: UserOperation = serde_json::from_value(json).unwrap();
    assert!(matches!(
        op.hash(ENTRYPOINT_V07, 1),
        Err(UserOpError::GasOverflow { field: "paymasterVerificationGasLimit", .. })
    ));
}

#[test]
fn missing_required_fields_are_named() {
    let mut json = fixture("vectors.json")["ops"]["minimal"].clone();
    json.as_object_mut().unwrap().remove("callGasLimit");
    let err = serde_json::from_value::<UserOperation>(json).unwrap_err();
    assert!(err.to_string().contains("callGasLimit"), "{err}");
}

#[test]
fn builder_sets_every_field_and_checks_the_entry_point_limit() {
    let validator = address!("c0ffee254729296a45a3885639ac7e10f9d54979");
    let full = vector_op("full");
    let factory = full.factory.clone().unwrap();
    let paymaster = full.paymaster.clone().unwrap();
    let built = UserOperation::builder(full.sender)
        .nonce_key(NonceKey::session(validator, Lane::new(7)), 3)
        .factory(factory.address, factory.data)
        .call_data(full.call_data.clone())
        .call_gas_limit(0x13880)
        .verification_gas_limit(0x60b01)
        .pre_verification_gas(0xd3e3)
        .fees(0x7a5cf70d5, 0x3b9aca00)
        .paymaster(paymaster.address, 0x8a8e, 1, paymaster.data)
        .signature(full.signature.clone())
        .build()
        .unwrap();
    assert_eq!(built, full);

    let err = UserOperation::builder(Address::ZERO).call_gas_limit(1 << 120).build().unwrap_err();
    assert!(
        matches!(err, UserOpError::GasAboveEntryPointLimit { field: "callGasLimit", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("AA94"), "{err}");
}

#[test]
fn max_gas_cost_is_what_the_session_budget_charges() {
    let op = vector_op("full");
    let gas = 0xd3e3u64 + 0x60b01 + 0x13880 + 0x8a8e + 1;
    assert_eq!(op.max_gas(), U256::from(gas));
    assert_eq!(op.max_gas_cost(), U256::from(gas) * U256::from(0x7a5cf70d5u64));
    assert_eq!(vector_op("minimal").max_gas_cost(), U256::ZERO);
}

/// Build, hash and sign one operation: the per-operation cost an agent pays before sending. The SDK's own
/// part (build and hash) must stay a few microseconds; signing is secp256k1 in pure Rust (k256) and takes
/// most of the time.
#[test]
fn build_hash_and_sign_is_fast() {
    let signer = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x42)).unwrap();
    let full = vector_op("full");
    let rounds: u32 = if cfg!(debug_assertions) { 50 } else { 2_000 };
    let build_and_hash = |sequence: u32| {
        let op = UserOperation::builder(full.sender)
            .nonce_key(NonceKey::owner(Lane::new(1)), u64::from(sequence))
            .call_data(full.call_data.clone())
            .call_gas_limit(0x13880)
            .verification_gas_limit(0x60b01)
            .pre_verification_gas(0xd3e3)
            .fees(0x7a5cf70d5, 0x3b9aca00)
            .build()
            .unwrap();
        let hash = op.hash(ENTRYPOINT_V07, 8453).unwrap();
        (op, hash)
    };
    let start = Instant::now();
    for sequence in 0..rounds {
        std::hint::black_box(build_and_hash(sequence));
    }
    let ours = start.elapsed() / rounds;
    let start = Instant::now();
    for sequence in 0..rounds {
        let (mut op, hash) = build_and_hash(sequence);
        op.signature = signer.sign_hash_sync(&hash).unwrap().as_bytes().into();
        assert_eq!(op.signature.len(), 65);
    }
    let total = start.elapsed() / rounds;
    eprintln!("build + hash: {ours:?}; build + hash + sign: {total:?} per operation");
    if !cfg!(debug_assertions) {
        assert!(ours.as_micros() < 50, "build + hash took {ours:?} per operation");
    }
}
