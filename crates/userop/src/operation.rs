//! ERC-4337 v0.7 UserOperations: the JSON form bundlers speak, the packed form the EntryPoint takes, and
//! the hash the EntryPoint computes.
//!
//! [`UserOperation`] is the unpacked operation of the v0.7 bundler JSON-RPC API (ERC-7769): `factory` and
//! `factoryData` instead of `initCode`, separate gas limits and fees, `paymaster` with its own gas limits and
//! `paymasterData`. [`UserOperation::pack`] turns it into the EntryPoint's `PackedUserOperation`
//! ([`leash_contracts::bindings::EntryPoint::PackedUserOperation`]) and [`UserOperation::from_packed`] turns
//! it back; [`UserOperation::hash`] is `EntryPoint.getUserOpHash` computed locally, without a single heap
//! allocation:
//!
//! ```text
//! keccak256(abi.encode(
//!     keccak256(abi.encode(sender, nonce, keccak256(initCode), keccak256(callData), accountGasLimits,
//!                          preVerificationGas, gasFees, keccak256(paymasterAndData))),
//!     entryPoint, chainId))
//! ```
//!
//! The types are our own rather than alloy's RPC types because those drop or merge fields that the hash
//! depends on. Decoding is lenient where real bundlers differ (numbers as hex strings, decimal strings or
//! JSON numbers; optional fields absent or `null`; the packed field names of some implementations);
//! encoding always produces the canonical v0.7 shape with hex quantities.
//!
//! ```
//! use alloy::primitives::{address, bytes, U256};
//! use leash_contracts::ENTRYPOINT_V07;
//! use leash_userop::{Lane, NonceKey, UserOperation};
//!
//! # fn main() -> Result<(), leash_userop::UserOpError> {
//! let validator = address!("00000000000000000000000000000000000000aa");
//! let op = UserOperation::builder(address!("1111111111111111111111111111111111111111"))
//!     .nonce_key(NonceKey::session(validator, Lane::named("payroll")), 0)
//!     .call_data(bytes!("e9ae5c53"))
//!     .call_gas_limit(300_000)
//!     .verification_gas_limit(600_000)
//!     .pre_verification_gas(60_000)
//!     .fees(2_000_000_000, 1_000_000_000)
//!     .build()?;
//!
//! // What `EntryPoint.getUserOpHash(op.pack()?)` returns on chain 1.
//! let hash = op.hash(ENTRYPOINT_V07, 1)?;
//! assert_eq!(hash, leash_userop::hash_packed(&op.pack()?, ENTRYPOINT_V07, 1));
//!
//! // The session gas budget charges the limits times maxFeePerGas.
//! assert_eq!(op.max_gas_cost(), U256::from(960_000u64 * 2_000_000_000));
//!
//! // JSON as bundlers expect it: hex quantities, no factory or paymaster fields when there are none.
//! let json = serde_json::to_value(&op).unwrap();
//! assert_eq!(json["callGasLimit"], "0x493e0");
//! assert!(json.get("paymaster").is_none());
//! # Ok(())
//! # }
//! ```

use crate::NonceKey;
use alloy::primitives::{keccak256, Address, Bytes, Keccak256, B256, KECCAK256_EMPTY, U256};
use leash_contracts::bindings::EntryPoint::PackedUserOperation;
use serde::{ser::SerializeStruct, Deserialize, Serialize, Serializer};

/// Bytes of `paymasterAndData` before `paymasterData`: the paymaster address and its two 16-byte gas limits.
pub const PAYMASTER_DATA_OFFSET: usize = 52;

/// The largest gas value the EntryPoint accepts (`type(uint120).max`); anything above is rejected with
/// `AA94 gas values overflow`.
pub const MAX_GAS_VALUE: U256 = U256::from_limbs([u64::MAX, (1 << 56) - 1, 0, 0]);

/// What can be wrong with a UserOperation before it is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UserOpError {
    /// A gas value does not fit in the 16 bytes the EntryPoint packs it into.
    #[error("{field} is {value}, which does not fit in 128 bits (the EntryPoint packs it into 16 bytes)")]
    GasOverflow {
        /// The JSON name of the field.
        field: &'static str,
        /// The value given.
        value: U256,
    },
    /// A gas value is above what the EntryPoint accepts (`AA94 gas values overflow`).
    #[error(
        "{field} is {value}, above the EntryPoint's limit of 2^120 - 1 (it would reject the operation \
         with AA94 gas values overflow)"
    )]
    GasAboveEntryPointLimit {
        /// The JSON name of the field.
        field: &'static str,
        /// The value given.
        value: U256,
    },
    /// `initCode` is neither empty nor long enough to hold a factory address.
    #[error("initCode is {len} bytes: it must be empty or start with a 20-byte factory address")]
    InitCodeTooShort {
        /// Its length.
        len: usize,
    },
    /// `paymasterAndData` is neither empty nor long enough to hold the paymaster and its gas limits.
    #[error(
        "paymasterAndData is {len} bytes: it must be empty or hold at least 52 (paymaster address, \
         verification and post-op gas limits)"
    )]
    PaymasterAndDataTooShort {
        /// Its length.
        len: usize,
    },
    /// A required field is missing from a JSON UserOperation.
    #[error("the UserOperation has no {0} (nor its packed form)")]
    MissingField(&'static str),
    /// `factoryData` without a `factory`.
    #[error("the UserOperation has factoryData but no factory")]
    FactoryDataWithoutFactory,
}

/// The account factory of an operation that deploys its account (`initCode = address || data`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Factory {
    /// The factory contract.
    pub address: Address,
    /// The call to the factory that deploys the account.
    pub data: Bytes,
}

/// The paymaster of a sponsored operation
/// (`paymasterAndData = address || verificationGasLimit || postOpGasLimit || data`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Paymaster {
    /// The paymaster contract.
    pub address: Address,
    /// Gas for the paymaster's `validatePaymasterUserOp` (16 bytes when packed).
    pub verification_gas_limit: U256,
    /// Gas for the paymaster's `postOp` (16 bytes when packed).
    pub post_op_gas_limit: U256,
    /// Data for the paymaster, typically its signature and validity window.
    pub data: Bytes,
}

/// An ERC-4337 v0.7 UserOperation in the unpacked form of the bundler JSON-RPC API.
///
/// Gas values are [`U256`] so that any quantity a bundler or a file holds can be read; the 128-bit packing
/// limit is checked when the operation is packed or hashed, with an error naming the field
/// ([`UserOpError::GasOverflow`]), and [`validate`](Self::validate) also checks the EntryPoint's own limit.
///
/// JSON: `factory`/`factoryData` appear only with a factory and the four paymaster fields only with a
/// paymaster. On decoding, absent and `null` mean the same, and a zero-address `factory` or `paymaster`
/// (which some bundlers write for "none") means none, its companion fields dropped with it. The packed
/// names (`initCode`, `accountGasLimits`, `gasFees`, `paymasterAndData`) are read too when the unpacked
/// ones are absent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(try_from = "WireUserOperation")]
pub struct UserOperation {
    /// The account.
    pub sender: Address,
    /// The nonce: a 192-bit key ([`NonceKey`]) and a 64-bit sequence number.
    pub nonce: U256,
    /// The factory, when this operation deploys the account.
    pub factory: Option<Factory>,
    /// The call the account executes.
    pub call_data: Bytes,
    /// Gas for the execution phase.
    pub call_gas_limit: U256,
    /// Gas for account deployment and `validateUserOp`.
    pub verification_gas_limit: U256,
    /// Gas paid to the bundler outside the EntryPoint's metering (calldata, overhead).
    pub pre_verification_gas: U256,
    /// The most wei per gas the operation pays.
    pub max_fee_per_gas: U256,
    /// The most wei per gas above the base fee the operation pays.
    pub max_priority_fee_per_gas: U256,
    /// The paymaster, when someone else pays for gas.
    pub paymaster: Option<Paymaster>,
    /// The account's (or its validator's) signature.
    pub signature: Bytes,
}

impl UserOperation {
    /// A builder for an operation of `sender`; see [`UserOperationBuilder`] for the defaults.
    pub fn builder(sender: Address) -> UserOperationBuilder {
        UserOperationBuilder { op: Self { sender, ..Self::default() } }
    }

    /// The nonce key: which validator the account routes the operation to, and the lane.
    pub fn nonce_key(&self) -> NonceKey {
        NonceKey::from_nonce(self.nonce)
    }

    /// The sequence number within the nonce key (the low 64 bits of the nonce).
    pub fn nonce_sequence(&self) -> u64 {
        self.nonce.as_limbs()[0]
    }

    /// `initCode` as the EntryPoint sees it: `factory || factoryData`, or empty.
    pub fn init_code(&self) -> Bytes {
        match &self.factory {
            None => Bytes::new(),
            Some(factory) => [factory.address.as_slice(), &factory.data].concat().into(),
        }
    }

    /// `paymasterAndData` as the EntryPoint sees it:
    /// `paymaster || verificationGasLimit (16) || postOpGasLimit (16) || paymasterData`, or empty.
    pub fn paymaster_and_data(&self) -> Result<Bytes, UserOpError> {
        let Some(paymaster) = &self.paymaster else { return Ok(Bytes::new()) };
        let (verification, post_op) = paymaster_gas(paymaster)?;
        let mut out = Vec::with_capacity(PAYMASTER_DATA_OFFSET + paymaster.data.len());
        out.extend_from_slice(paymaster.address.as_slice());
        out.extend_from_slice(&verification.to_be_bytes());
        out.extend_from_slice(&post_op.to_be_bytes());
        out.extend_from_slice(&paymaster.data);
        Ok(out.into())
    }

    /// `accountGasLimits`: `verificationGasLimit (16 bytes) || callGasLimit (16 bytes)`.
    pub fn account_gas_limits(&self) -> Result<B256, UserOpError> {
        Ok(pack_pair(
            fit_128("verificationGasLimit", self.verification_gas_limit)?,
            fit_128("callGasLimit", self.call_gas_limit)?,
        ))
    }

    /// `gasFees`: `maxPriorityFeePerGas (16 bytes) || maxFeePerGas (16 bytes)`.
    pub fn gas_fees(&self) -> Result<B256, UserOpError> {
        Ok(pack_pair(
            fit_128("maxPriorityFeePerGas", self.max_priority_fee_per_gas)?,
            fit_128("maxFeePerGas", self.max_fee_per_gas)?,
        ))
    }

    /// The EntryPoint's `PackedUserOperation`. Fails only when a packed gas value does not fit in 128 bits.
    pub fn pack(&self) -> Result<PackedUserOperation, UserOpError> {
        Ok(PackedUserOperation {
            sender: self.sender,
            nonce: self.nonce,
            initCode: self.init_code(),
            callData: self.call_data.clone(),
            accountGasLimits: self.account_gas_limits()?,
            preVerificationGas: self.pre_verification_gas,
            gasFees: self.gas_fees()?,
            paymasterAndData: self.paymaster_and_data()?,
            signature: self.signature.clone(),
        })
    }

    /// The unpacked form of an EntryPoint `PackedUserOperation`; `pack` of the result gives it back.
    pub fn from_packed(packed: &PackedUserOperation) -> Result<Self, UserOpError> {
        let (verification_gas_limit, call_gas_limit) = unpack_pair(packed.accountGasLimits);
        let (max_priority_fee_per_gas, max_fee_per_gas) = unpack_pair(packed.gasFees);
        Ok(Self {
            sender: packed.sender,
            nonce: packed.nonce,
            factory: split_init_code(&packed.initCode)?,
            call_data: packed.callData.clone(),
            call_gas_limit,
            verification_gas_limit,
            pre_verification_gas: packed.preVerificationGas,
            max_fee_per_gas,
            max_priority_fee_per_gas,
            paymaster: split_paymaster_and_data(&packed.paymasterAndData)?,
            signature: packed.signature.clone(),
        })
    }

    /// The operation's hash exactly as `EntryPoint.getUserOpHash` computes it for the EntryPoint at
    /// `entry_point` on chain `chain_id`. This is what the account (or its validator) signs over.
    ///
    /// Computed without allocating: `initCode` and `paymasterAndData` are hashed piece by piece.
    pub fn hash(&self, entry_point: Address, chain_id: u64) -> Result<B256, UserOpError> {
        let init_code_hash = match &self.factory {
            None => KECCAK256_EMPTY,
            Some(factory) => {
                let mut hasher = Keccak256::new();
                hasher.update(factory.address);
                hasher.update(&factory.data);
                hasher.finalize()
            }
        };
        let paymaster_hash = match &self.paymaster {
            None => KECCAK256_EMPTY,
            Some(paymaster) => {
                let (verification, post_op) = paymaster_gas(paymaster)?;
                let mut hasher = Keccak256::new();
                hasher.update(paymaster.address);
                hasher.update(verification.to_be_bytes());
                hasher.update(post_op.to_be_bytes());
                hasher.update(&paymaster.data);
                hasher.finalize()
            }
        };
        let inner = encode_and_hash(
            self.sender,
            self.nonce,
            init_code_hash,
            keccak256(&self.call_data),
            self.account_gas_limits()?,
            self.pre_verification_gas,
            self.gas_fees()?,
            paymaster_hash,
        );
        Ok(outer_hash(inner, entry_point, chain_id))
    }

    /// Checks what the EntryPoint checks of the numbers before it runs anything: every gas value and fee
    /// at most 2^120 - 1 (`AA94 gas values overflow`). Packing needs only 128 bits; this is stricter.
    pub fn validate(&self) -> Result<(), UserOpError> {
        let mut fields = [
            ("callGasLimit", self.call_gas_limit),
            ("verificationGasLimit", self.verification_gas_limit),
            ("preVerificationGas", self.pre_verification_gas),
            ("maxFeePerGas", self.max_fee_per_gas),
            ("maxPriorityFeePerGas", self.max_priority_fee_per_gas),
            ("paymasterVerificationGasLimit", U256::ZERO),
            ("paymasterPostOpGasLimit", U256::ZERO),
        ];
        if let Some(paymaster) = &self.paymaster {
            fields[5].1 = paymaster.verification_gas_limit;
            fields[6].1 = paymaster.post_op_gas_limit;
        }
        match fields.into_iter().find(|(_, value)| *value > MAX_GAS_VALUE) {
            Some((field, value)) => Err(UserOpError::GasAboveEntryPointLimit { field, value }),
            None => Ok(()),
        }
    }

    /// The most gas the operation can be charged for: `preVerificationGas + verificationGasLimit +
    /// callGasLimit`, plus the paymaster's verification and post-op limits when it has a paymaster.
    ///
    /// Saturates instead of overflowing, so a hostile operation cannot wrap it around.
    pub fn max_gas(&self) -> U256 {
        let mut gas = self
            .pre_verification_gas
            .saturating_add(self.verification_gas_limit)
            .saturating_add(self.call_gas_limit);
        if let Some(paymaster) = &self.paymaster {
            gas = gas
                .saturating_add(paymaster.verification_gas_limit)
                .saturating_add(paymaster.post_op_gas_limit);
        }
        gas
    }

    /// [`max_gas`](Self::max_gas) times `maxFeePerGas`: what the session-key module charges against a
    /// session's gas budget, and the prefund the EntryPoint requires of whoever pays.
    pub fn max_gas_cost(&self) -> U256 {
        self.max_gas().saturating_mul(self.max_fee_per_gas)
    }
}

impl TryFrom<&UserOperation> for PackedUserOperation {
    type Error = UserOpError;

    fn try_from(op: &UserOperation) -> Result<Self, Self::Error> {
        op.pack()
    }
}

impl TryFrom<&PackedUserOperation> for UserOperation {
    type Error = UserOpError;

    fn try_from(packed: &PackedUserOperation) -> Result<Self, Self::Error> {
        Self::from_packed(packed)
    }
}

/// `EntryPoint.getUserOpHash` of a packed operation, for the EntryPoint at `entry_point` on `chain_id`.
pub fn hash_packed(op: &PackedUserOperation, entry_point: Address, chain_id: u64) -> B256 {
    let inner = encode_and_hash(
        op.sender,
        op.nonce,
        keccak256(&op.initCode),
        keccak256(&op.callData),
        op.accountGasLimits,
        op.preVerificationGas,
        op.gasFees,
        keccak256(&op.paymasterAndData),
    );
    outer_hash(inner, entry_point, chain_id)
}

/// `keccak256(abi.encode(...))` of the eight static words of `UserOperationLib.encode`.
#[allow(clippy::too_many_arguments)]
fn encode_and_hash(
    sender: Address,
    nonce: U256,
    init_code_hash: B256,
    call_data_hash: B256,
    account_gas_limits: B256,
    pre_verification_gas: U256,
    gas_fees: B256,
    paymaster_and_data_hash: B256,
) -> B256 {
    let mut words = [0u8; 256];
    words[12..32].copy_from_slice(sender.as_slice());
    words[32..64].copy_from_slice(&nonce.to_be_bytes::<32>());
    words[64..96].copy_from_slice(init_code_hash.as_slice());
    words[96..128].copy_from_slice(call_data_hash.as_slice());
    words[128..160].copy_from_slice(account_gas_limits.as_slice());
    words[160..192].copy_from_slice(&pre_verification_gas.to_be_bytes::<32>());
    words[192..224].copy_from_slice(gas_fees.as_slice());
    words[224..256].copy_from_slice(paymaster_and_data_hash.as_slice());
    keccak256(words)
}

/// `keccak256(abi.encode(userOpHash, entryPoint, chainId))`.
fn outer_hash(inner: B256, entry_point: Address, chain_id: u64) -> B256 {
    let mut words = [0u8; 96];
    words[..32].copy_from_slice(inner.as_slice());
    words[44..64].copy_from_slice(entry_point.as_slice());
    words[88..96].copy_from_slice(&chain_id.to_be_bytes());
    keccak256(words)
}

fn fit_128(field: &'static str, value: U256) -> Result<u128, UserOpError> {
    u128::try_from(value).map_err(|_| UserOpError::GasOverflow { field, value })
}

fn paymaster_gas(paymaster: &Paymaster) -> Result<(u128, u128), UserOpError> {
    Ok((
        fit_128("paymasterVerificationGasLimit", paymaster.verification_gas_limit)?,
        fit_128("paymasterPostOpGasLimit", paymaster.post_op_gas_limit)?,
    ))
}

fn pack_pair(high: u128, low: u128) -> B256 {
    let mut word = [0u8; 32];
    word[..16].copy_from_slice(&high.to_be_bytes());
    word[16..].copy_from_slice(&low.to_be_bytes());
    B256::new(word)
}

fn unpack_pair(word: B256) -> (U256, U256) {
    (U256::from_be_slice(&word[..16]), U256::from_be_slice(&word[16..]))
}

fn split_init_code(init_code: &[u8]) -> Result<Option<Factory>, UserOpError> {
    match init_code.len() {
        0 => Ok(None),
        len if len < 20 => Err(UserOpError::InitCodeTooShort { len }),
        _ => Ok(Some(Factory {
            address: Address::from_slice(&init_code[..20]),
            data: Bytes::copy_from_slice(&init_code[20..]),
        })),
    }
}

fn split_paymaster_and_data(data: &[u8]) -> Result<Option<Paymaster>, UserOpError> {
    match data.len() {
        0 => Ok(None),
        len if len < PAYMASTER_DATA_OFFSET => Err(UserOpError::PaymasterAndDataTooShort { len }),
        _ => Ok(Some(Paymaster {
            address: Address::from_slice(&data[..20]),
            verification_gas_limit: U256::from_be_slice(&data[20..36]),
            post_op_gas_limit: U256::from_be_slice(&data[36..PAYMASTER_DATA_OFFSET]),
            data: Bytes::copy_from_slice(&data[PAYMASTER_DATA_OFFSET..]),
        })),
    }
}

impl Serialize for UserOperation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let len =
            9 + 2 * usize::from(self.factory.is_some()) + 4 * usize::from(self.paymaster.is_some());
        let mut out = serializer.serialize_struct("UserOperation", len)?;
        out.serialize_field("sender", &self.sender)?;
        out.serialize_field("nonce", &self.nonce)?;
        if let Some(factory) = &self.factory {
            out.serialize_field("factory", &factory.address)?;
            out.serialize_field("factoryData", &factory.data)?;
        }
        out.serialize_field("callData", &self.call_data)?;
        out.serialize_field("callGasLimit", &self.call_gas_limit)?;
        out.serialize_field("verificationGasLimit", &self.verification_gas_limit)?;
        out.serialize_field("preVerificationGas", &self.pre_verification_gas)?;
        out.serialize_field("maxFeePerGas", &self.max_fee_per_gas)?;
        out.serialize_field("maxPriorityFeePerGas", &self.max_priority_fee_per_gas)?;
        if let Some(paymaster) = &self.paymaster {
            out.serialize_field("paymaster", &paymaster.address)?;
            out.serialize_field(
                "paymasterVerificationGasLimit",
                &paymaster.verification_gas_limit,
            )?;
            out.serialize_field("paymasterPostOpGasLimit", &paymaster.post_op_gas_limit)?;
            out.serialize_field("paymasterData", &paymaster.data)?;
        }
        out.serialize_field("signature", &self.signature)?;
        out.end()
    }
}

/// Every shape of a v0.7 operation seen on the wire; [`UserOperation`]'s `TryFrom` settles it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireUserOperation {
    sender: Address,
    nonce: U256,
    #[serde(default)]
    factory: Option<Address>,
    #[serde(default)]
    factory_data: Option<Bytes>,
    #[serde(default)]
    init_code: Option<Bytes>,
    call_data: Bytes,
    #[serde(default)]
    call_gas_limit: Option<U256>,
    #[serde(default)]
    verification_gas_limit: Option<U256>,
    #[serde(default)]
    account_gas_limits: Option<B256>,
    #[serde(default)]
    pre_verification_gas: Option<U256>,
    #[serde(default)]
    max_fee_per_gas: Option<U256>,
    #[serde(default)]
    max_priority_fee_per_gas: Option<U256>,
    #[serde(default)]
    gas_fees: Option<B256>,
    #[serde(default)]
    paymaster: Option<Address>,
    #[serde(default)]
    paymaster_verification_gas_limit: Option<U256>,
    #[serde(default)]
    paymaster_post_op_gas_limit: Option<U256>,
    #[serde(default)]
    paymaster_data: Option<Bytes>,
    #[serde(default)]
    paymaster_and_data: Option<Bytes>,
    #[serde(default)]
    signature: Option<Bytes>,
}

impl TryFrom<WireUserOperation> for UserOperation {
    type Error = UserOpError;

    fn try_from(wire: WireUserOperation) -> Result<Self, Self::Error> {
        let factory = match wire.factory {
            Some(address) if !address.is_zero() => {
                Some(Factory { address, data: wire.factory_data.unwrap_or_default() })
            }
            // An explicit (zero) factory field settles it; otherwise fall back on the packed form.
            Some(_) => None,
            None => match wire.init_code {
                Some(init_code) => split_init_code(&init_code)?,
                None if wire.factory_data.as_ref().is_some_and(|data| !data.is_empty()) => {
                    return Err(UserOpError::FactoryDataWithoutFactory)
                }
                None => None,
            },
        };
        let paymaster = match wire.paymaster {
            Some(address) if !address.is_zero() => Some(Paymaster {
                address,
                verification_gas_limit: wire.paymaster_verification_gas_limit.unwrap_or_default(),
                post_op_gas_limit: wire.paymaster_post_op_gas_limit.unwrap_or_default(),
                data: wire.paymaster_data.unwrap_or_default(),
            }),
            Some(_) => None,
            None => match wire.paymaster_and_data {
                Some(data) => split_paymaster_and_data(&data)?,
                None => None,
            },
        };
        let packed_limits = wire.account_gas_limits.map(unpack_pair);
        let packed_fees = wire.gas_fees.map(unpack_pair);
        Ok(Self {
            sender: wire.sender,
            nonce: wire.nonce,
            factory,
            call_data: wire.call_data,
            call_gas_limit: wire
                .call_gas_limit
                .or(packed_limits.map(|(_, call)| call))
                .ok_or(UserOpError::MissingField("callGasLimit"))?,
            verification_gas_limit: wire
                .verification_gas_limit
                .or(packed_limits.map(|(verification, _)| verification))
                .ok_or(UserOpError::MissingField("verificationGasLimit"))?,
            pre_verification_gas: wire
                .pre_verification_gas
                .ok_or(UserOpError::MissingField("preVerificationGas"))?,
            max_fee_per_gas: wire
                .max_fee_per_gas
                .or(packed_fees.map(|(_, max_fee)| max_fee))
                .ok_or(UserOpError::MissingField("maxFeePerGas"))?,
            max_priority_fee_per_gas: wire
                .max_priority_fee_per_gas
                .or(packed_fees.map(|(priority, _)| priority))
                .ok_or(UserOpError::MissingField("maxPriorityFeePerGas"))?,
            paymaster,
            signature: wire.signature.unwrap_or_default(),
        })
    }
}

/// Builds a [`UserOperation`].
///
/// Defaults: nonce 0 (the owner's lane 0, first operation), empty `callData`, no factory, no paymaster,
/// empty signature, and every gas limit and fee zero — to be filled from the bundler's estimate
/// ([`crate::rpc::GasEstimate::apply_to`]) and the chain's fee market before signing. Gas values are
/// taken as `u128`, the width the EntryPoint packs them into; [`build`](Self::build) also refuses values
/// above the EntryPoint's `uint120` limit.
#[derive(Debug, Clone)]
#[must_use]
pub struct UserOperationBuilder {
    op: UserOperation,
}

impl UserOperationBuilder {
    /// The full 256-bit nonce.
    pub fn nonce(mut self, nonce: U256) -> Self {
        self.op.nonce = nonce;
        self
    }

    /// The nonce as a key (validator and lane) and the sequence number within it.
    pub fn nonce_key(mut self, key: NonceKey, sequence: u64) -> Self {
        self.op.nonce = key.nonce(sequence);
        self
    }

    /// The call the account executes (for leash accounts, an ERC-7579 `execute`).
    pub fn call_data(mut self, call_data: impl Into<Bytes>) -> Self {
        self.op.call_data = call_data.into();
        self
    }

    /// Deploys the account through `factory` with `data` in this operation.
    pub fn factory(mut self, factory: Address, data: impl Into<Bytes>) -> Self {
        self.op.factory = Some(Factory { address: factory, data: data.into() });
        self
    }

    /// Gas for the execution phase.
    pub fn call_gas_limit(mut self, gas: u128) -> Self {
        self.op.call_gas_limit = U256::from(gas);
        self
    }

    /// Gas for deployment and validation.
    pub fn verification_gas_limit(mut self, gas: u128) -> Self {
        self.op.verification_gas_limit = U256::from(gas);
        self
    }

    /// Gas paid to the bundler for what the EntryPoint does not meter.
    pub fn pre_verification_gas(mut self, gas: u128) -> Self {
        self.op.pre_verification_gas = U256::from(gas);
        self
    }

    /// `maxFeePerGas` and `maxPriorityFeePerGas`, in wei.
    pub fn fees(mut self, max_fee_per_gas: u128, max_priority_fee_per_gas: u128) -> Self {
        self.op.max_fee_per_gas = U256::from(max_fee_per_gas);
        self.op.max_priority_fee_per_gas = U256::from(max_priority_fee_per_gas);
        self
    }

    /// A paymaster with its verification and post-op gas limits and its data.
    pub fn paymaster(
        mut self,
        paymaster: Address,
        verification_gas_limit: u128,
        post_op_gas_limit: u128,
        data: impl Into<Bytes>,
    ) -> Self {
        self.op.paymaster = Some(Paymaster {
            address: paymaster,
            verification_gas_limit: U256::from(verification_gas_limit),
            post_op_gas_limit: U256::from(post_op_gas_limit),
            data: data.into(),
        });
        self
    }

    /// The signature (usually set after hashing the built operation).
    pub fn signature(mut self, signature: impl Into<Bytes>) -> Self {
        self.op.signature = signature.into();
        self
    }

    /// The operation, once its numbers pass the EntryPoint's checks ([`UserOperation::validate`]).
    pub fn build(self) -> Result<UserOperation, UserOpError> {
        self.op.validate()?;
        Ok(self.op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{
        primitives::{address, bytes},
        sol_types::SolValue,
    };

    fn sample() -> UserOperation {
        UserOperation::builder(address!("1111111111111111111111111111111111111111"))
            .nonce(U256::from(7))
            .factory(address!("2222222222222222222222222222222222222222"), bytes!("abcdef"))
            .call_data(bytes!("01020304"))
            .call_gas_limit(100_000)
            .verification_gas_limit(200_000)
            .pre_verification_gas(50_000)
            .fees(3_000_000_000, 1_000_000_000)
            .paymaster(
                address!("3333333333333333333333333333333333333333"),
                40_000,
                10_000,
                bytes!("99"),
            )
            .signature(bytes!("aa"))
            .build()
            .unwrap()
    }

    #[test]
    fn packs_fields_at_the_entry_point_offsets() {
        let packed = sample().pack().unwrap();
        assert_eq!(packed.initCode.len(), 23);
        assert_eq!(
            &packed.initCode[..20],
            address!("2222222222222222222222222222222222222222").as_slice()
        );
        assert_eq!(U256::from_be_slice(&packed.accountGasLimits[..16]), U256::from(200_000));
        assert_eq!(U256::from_be_slice(&packed.accountGasLimits[16..]), U256::from(100_000));
        assert_eq!(U256::from_be_slice(&packed.gasFees[..16]), U256::from(1_000_000_000u64));
        assert_eq!(U256::from_be_slice(&packed.gasFees[16..]), U256::from(3_000_000_000u64));
        assert_eq!(packed.paymasterAndData.len(), 53);
        assert_eq!(U256::from_be_slice(&packed.paymasterAndData[20..36]), U256::from(40_000));
        assert_eq!(U256::from_be_slice(&packed.paymasterAndData[36..52]), U256::from(10_000));
        assert_eq!(packed.paymasterAndData[52], 0x99);
    }

    #[test]
    fn hash_matches_the_packed_formula() {
        let op = sample();
        let packed = op.pack().unwrap();
        let ep = address!("0000000071727De22E5E9d8BAf0edAc6f37da032");
        let inner = keccak256(
            (
                packed.sender,
                packed.nonce,
                keccak256(&packed.initCode),
                keccak256(&packed.callData),
                packed.accountGasLimits,
                packed.preVerificationGas,
                packed.gasFees,
                keccak256(&packed.paymasterAndData),
            )
                .abi_encode(),
        );
        let expected = keccak256((inner, ep, U256::from(10u64)).abi_encode());
        assert_eq!(op.hash(ep, 10).unwrap(), expected);
        assert_eq!(hash_packed(&packed, ep, 10), expected);
    }

    #[test]
    fn refuses_gas_beyond_128_bits_naming_the_field() {
        let mut op = sample();
        op.call_gas_limit = U256::from(1) << 128;
        let err = op.hash(Address::ZERO, 1).unwrap_err();
        assert_eq!(
            err,
            UserOpError::GasOverflow { field: "callGasLimit", value: op.call_gas_limit }
        );
        assert!(err.to_string().contains("callGasLimit"));
        op.call_gas_limit = U256::ZERO;
        op.paymaster.as_mut().unwrap().post_op_gas_limit = U256::MAX;
        assert!(matches!(
            op.pack(),
            Err(UserOpError::GasOverflow { field: "paymasterPostOpGasLimit", .. })
        ));
    }

    #[test]
    fn validate_applies_the_entry_point_limit() {
        let mut op = sample();
        op.max_fee_per_gas = MAX_GAS_VALUE;
        assert!(op.validate().is_ok());
        op.max_fee_per_gas = MAX_GAS_VALUE + U256::from(1);
        assert!(matches!(
            op.validate(),
            Err(UserOpError::GasAboveEntryPointLimit { field: "maxFeePerGas", .. })
        ));
        let too_big = UserOperation::builder(Address::ZERO).pre_verification_gas(u128::MAX).build();
        assert!(too_big.is_err());
        assert_eq!(MAX_GAS_VALUE, (U256::from(1) << 120) - U256::from(1));
    }

    #[test]
    fn max_gas_cost_counts_paymaster_limits_only_with_a_paymaster() {
        let mut op = sample();
        let per_gas = U256::from(3_000_000_000u64);
        assert_eq!(op.max_gas_cost(), U256::from(400_000) * per_gas);
        op.paymaster = None;
        assert_eq!(op.max_gas_cost(), U256::from(350_000) * per_gas);
        op.call_gas_limit = U256::MAX;
        assert_eq!(op.max_gas_cost(), U256::MAX);
    }

    #[test]
    fn short_packed_fields_are_errors() {
        let mut packed = sample().pack().unwrap();
        packed.paymasterAndData = Bytes::from(vec![1u8; 51]);
        assert_eq!(
            UserOperation::from_packed(&packed),
            Err(UserOpError::PaymasterAndDataTooShort { len: 51 })
        );
        packed.paymasterAndData = Bytes::new();
        packed.initCode = Bytes::from(vec![1u8; 19]);
        assert_eq!(
            UserOperation::from_packed(&packed),
            Err(UserOpError::InitCodeTooShort { len: 19 })
        );
        packed.initCode = Bytes::from(vec![1u8; 20]);
        let op = UserOperation::from_packed(&packed).unwrap();
        assert_eq!(op.factory.unwrap().data, Bytes::new());
    }
}
