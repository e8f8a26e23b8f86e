//! An ERC-7677 paymaster web-service client: who pays for an operation's gas, and with what data.
//!
//! ERC-7677 has two methods, both called with `[userOp, entryPoint, chainId (hex), context]`:
//! - `pm_getPaymasterStubData` answers placeholder paymaster fields good enough for gas estimation
//!   ([`PaymasterStubData`]), perhaps who sponsors the operation, and `isFinal` when they are already the
//!   real ones;
//! - `pm_getPaymasterData` answers the real fields for the estimated operation ([`PaymasterData`]), usually
//!   carrying the paymaster's signature, so it comes after the gas limits are set and before the account
//!   signs.
//!
//! The `context` is whatever the service defines (a sponsorship policy id, an ERC-20 token to pay in...).
//! Both results are applied to a [`UserOperation`] with `apply_to`. Services for EntryPoint v0.6 answer a
//! packed `paymasterAndData`; when a service does that for v0.7 it is split into the v0.7 fields. The
//! operation is sent in its v0.7 JSON form as it stands, signature included (a stub or empty signature
//! before signing; services ignore it).
//!
//! ```no_run
//! use leash_sdk::{bundler::BundlerClient, paymaster::PaymasterClient, userop::UserOperation};
//! use serde_json::json;
//!
//! # async fn sponsor(mut op: UserOperation) -> Result<(), Box<dyn std::error::Error>> {
//! let bundler = BundlerClient::new("http://127.0.0.1:4337")?;
//! let paymaster = PaymasterClient::new("https://paymaster.example/rpc", 8453)?;
//! let context = json!({ "sponsorshipPolicyId": "sp_example" });
//!
//! let stub = paymaster.get_paymaster_stub_data(&op, &context).await?;
//! stub.data.apply_to(&mut op);
//! bundler.estimate_user_operation_gas(&op).await?.apply_to(&mut op);
//! if !stub.is_final {
//!     paymaster.get_paymaster_data(&op, &context).await?.apply_to(&mut op);
//! }
//! // sign op, then bundler.send_user_operation(&op)
//! # Ok(())
//! # }
//! ```

use crate::{
    bundler::{CallError, Endpoint, RpcRejection, DEFAULT_REQUEST_TIMEOUT},
    userop::{Paymaster, UserOpError, UserOperation, PAYMASTER_DATA_OFFSET},
};
use alloy::{
    primitives::{Address, Bytes, U256},
    rpc::client::RpcClient,
};
use leash_contracts::ENTRYPOINT_V07;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::time::Duration;

/// What can go wrong talking to a paymaster service.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PaymasterError {
    /// The paymaster URL is not an http(s) URL.
    #[error("the paymaster URL is not valid: {0}")]
    InvalidUrl(String),
    /// No answer: connection refused, DNS, TLS, time-out.
    #[error("paymaster service at {url} is unreachable: {reason}")]
    Unreachable {
        /// The service (scheme, host and port only).
        url: String,
        /// What failed.
        reason: String,
    },
    /// An HTTP error status without a JSON-RPC answer in its body.
    #[error("paymaster service at {url} answered {method} with HTTP {status}: {body}")]
    Http {
        /// The service (scheme, host and port only).
        url: String,
        /// The method called.
        method: &'static str,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The service refused (no sponsorship for this operation, unknown policy, ...).
    #[error("paymaster service rejected {method}: {rejection}")]
    Rejected {
        /// The method called.
        method: &'static str,
        /// The JSON-RPC error.
        rejection: RpcRejection,
    },
    /// The answer is not an ERC-7677 result.
    #[error(
        "paymaster service at {url} answered {method} with something leash cannot read: {reason}"
    )]
    Decode {
        /// The service (scheme, host and port only).
        url: String,
        /// The method called.
        method: &'static str,
        /// What did not decode.
        reason: String,
    },
    /// The request could not be encoded.
    #[error("could not encode the {method} request: {reason}")]
    Encode {
        /// The method.
        method: &'static str,
        /// Why.
        reason: String,
    },
}

impl PaymasterError {
    /// The JSON-RPC rejection, when the service refused.
    pub const fn rejection(&self) -> Option<&RpcRejection> {
        match self {
            Self::Rejected { rejection, .. } => Some(rejection),
            _ => None,
        }
    }

    fn from_call(err: CallError, url: &str, method: &'static str) -> Self {
        let url = url.to_owned();
        match err {
            CallError::Unreachable(reason) => Self::Unreachable { url, reason },
            CallError::Http { status, body } => Self::Http { url, method, status, body },
            CallError::Rejected(rejection) => Self::Rejected { method, rejection },
            CallError::Decode(reason) => Self::Decode { url, method, reason },
            CallError::Encode(reason) => Self::Encode { method, reason },
        }
    }
}

/// Who sponsors the operation, for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sponsor {
    /// The sponsor's name.
    pub name: String,
    /// An icon (URL or data URI), if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
}

/// The paymaster fields of an operation as a service answers them (`pm_getPaymasterData`).
///
/// The gas limits are `None` when the service leaves them to gas estimation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "WirePaymasterResult")]
pub struct PaymasterData {
    /// The paymaster contract.
    pub paymaster: Address,
    /// Its data (for the stub, a placeholder of the right size).
    pub paymaster_data: Bytes,
    /// `paymasterVerificationGasLimit`, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paymaster_verification_gas_limit: Option<U256>,
    /// `paymasterPostOpGasLimit`, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paymaster_post_op_gas_limit: Option<U256>,
}

impl PaymasterData {
    /// Sets `op`'s paymaster and data; gas limits the service gave replace `op`'s, the others are kept
    /// (zero when `op` had no paymaster).
    pub fn apply_to(&self, op: &mut UserOperation) {
        let previous = op.paymaster.take();
        let (verification, post_op) =
            previous.map(|p| (p.verification_gas_limit, p.post_op_gas_limit)).unwrap_or_default();
        op.paymaster = Some(Paymaster {
            address: self.paymaster,
            verification_gas_limit: self.paymaster_verification_gas_limit.unwrap_or(verification),
            post_op_gas_limit: self.paymaster_post_op_gas_limit.unwrap_or(post_op),
            data: self.paymaster_data.clone(),
        });
    }
}

/// The answer of `pm_getPaymasterStubData`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WirePaymasterResult")]
pub struct PaymasterStubData {
    /// The placeholder paymaster fields, for gas estimation.
    #[serde(flatten)]
    pub data: PaymasterData,
    /// Who sponsors the operation, if the service says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sponsor: Option<Sponsor>,
    /// The stub fields are final: `pm_getPaymasterData` need not be called.
    #[serde(rename = "isFinal")]
    pub is_final: bool,
}

/// Every shape of an ERC-7677 result seen on the wire.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePaymasterResult {
    #[serde(default)]
    paymaster: Option<Address>,
    #[serde(default)]
    paymaster_data: Option<Bytes>,
    #[serde(default)]
    paymaster_verification_gas_limit: Option<U256>,
    #[serde(default)]
    paymaster_post_op_gas_limit: Option<U256>,
    #[serde(default)]
    paymaster_and_data: Option<Bytes>,
    #[serde(default)]
    sponsor: Option<Sponsor>,
    #[serde(default)]
    is_final: Option<bool>,
}

impl TryFrom<WirePaymasterResult> for PaymasterData {
    type Error = String;

    fn try_from(wire: WirePaymasterResult) -> Result<Self, Self::Error> {
        if let Some(paymaster) = wire.paymaster {
            return Ok(Self {
                paymaster,
                paymaster_data: wire.paymaster_data.unwrap_or_default(),
                paymaster_verification_gas_limit: wire.paymaster_verification_gas_limit,
                paymaster_post_op_gas_limit: wire.paymaster_post_op_gas_limit,
            });
        }
        let packed = wire
            .paymaster_and_data
            .ok_or("the result has neither paymaster nor paymasterAndData")?;
        if packed.len() < PAYMASTER_DATA_OFFSET {
            return Err(UserOpError::PaymasterAndDataTooShort { len: packed.len() }.to_string());
        }
        Ok(Self {
            paymaster: Address::from_slice(&packed[..20]),
            paymaster_data: packed.slice(PAYMASTER_DATA_OFFSET..),
            paymaster_verification_gas_limit: Some(U256::from_be_slice(&packed[20..36])),
            paymaster_post_op_gas_limit: Some(U256::from_be_slice(
                &packed[36..PAYMASTER_DATA_OFFSET],
            )),
        })
    }
}

impl TryFrom<WirePaymasterResult> for PaymasterStubData {
    type Error = String;

    fn try_from(mut wire: WirePaymasterResult) -> Result<Self, Self::Error> {
        let sponsor = wire.sponsor.take();
        let is_final = wire.is_final.unwrap_or(false);
        Ok(Self { data: wire.try_into()?, sponsor, is_final })
    }
}

/// A client for one ERC-7677 paymaster service, for one chain and EntryPoint (v0.7 by default).
#[derive(Debug, Clone)]
pub struct PaymasterClient {
    endpoint: Endpoint,
    entry_point: Address,
    chain_id: u64,
}

impl PaymasterClient {
    /// A client for the service at `url` (http or https) sponsoring on `chain_id`.
    pub fn new(url: &str, chain_id: u64) -> Result<Self, PaymasterError> {
        Self::with_request_timeout(url, chain_id, DEFAULT_REQUEST_TIMEOUT)
    }

    /// [`new`](Self::new) with another time-out for each HTTP request.
    pub fn with_request_timeout(
        url: &str,
        chain_id: u64,
        timeout: Duration,
    ) -> Result<Self, PaymasterError> {
        let endpoint = Endpoint::http(url, timeout).map_err(PaymasterError::InvalidUrl)?;
        Ok(Self { endpoint, entry_point: ENTRYPOINT_V07, chain_id })
    }

    /// A client over any alloy RPC client; `label` names it in errors.
    pub fn from_rpc_client(client: RpcClient, label: &str, chain_id: u64) -> Self {
        Self {
            endpoint: Endpoint::from_client(client, label),
            entry_point: ENTRYPOINT_V07,
            chain_id,
        }
    }

    /// The same client for another EntryPoint.
    #[must_use]
    pub fn with_entry_point(mut self, entry_point: Address) -> Self {
        self.entry_point = entry_point;
        self
    }

    /// The EntryPoint named in requests.
    pub const fn entry_point(&self) -> Address {
        self.entry_point
    }

    /// The chain named in requests.
    pub const fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The service's URL as errors show it (scheme, host and port).
    pub fn url(&self) -> &str {
        self.endpoint.shown_url()
    }

    async fn call<R: DeserializeOwned>(
        &self,
        method: &'static str,
        op: &UserOperation,
        context: &serde_json::Value,
    ) -> Result<R, PaymasterError> {
        let params = (op, self.entry_point, format!("{:#x}", self.chain_id), context);
        self.endpoint
            .call(method, params)
            .await
            .map_err(|err| PaymasterError::from_call(err, self.endpoint.shown_url(), method))
    }

    /// `pm_getPaymasterStubData`: placeholder paymaster fields for estimating `op`'s gas.
    pub async fn get_paymaster_stub_data(
        &self,
        op: &UserOperation,
        context: &serde_json::Value,
    ) -> Result<PaymasterStubData, PaymasterError> {
        self.call("pm_getPaymasterStubData", op, context).await
    }

    /// `pm_getPaymasterData`: the real paymaster fields for `op`, whose gas limits are final.
    pub async fn get_paymaster_data(
        &self,
        op: &UserOperation,
        context: &serde_json::Value,
    ) -> Result<PaymasterData, PaymasterError> {
        self.call("pm_getPaymasterData", op, context).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::address;

    #[test]
    fn splits_a_packed_answer() {
        let mut packed = vec![0x11u8; 20];
        packed.extend_from_slice(&U256::from(70_000).to_be_bytes::<32>()[16..]);
        packed.extend_from_slice(&U256::from(20_000).to_be_bytes::<32>()[16..]);
        packed.extend_from_slice(&[0xab, 0xcd]);
        let json = serde_json::json!({ "paymasterAndData": Bytes::from(packed) });
        let data: PaymasterData = serde_json::from_value(json).unwrap();
        assert_eq!(data.paymaster, address!("1111111111111111111111111111111111111111"));
        assert_eq!(data.paymaster_verification_gas_limit, Some(U256::from(70_000)));
        assert_eq!(data.paymaster_post_op_gas_limit, Some(U256::from(20_000)));
        assert_eq!(data.paymaster_data, Bytes::from(vec![0xab, 0xcd]));
    }

    #[test]
    fn apply_keeps_limits_the_service_left_out() {
        let mut op = UserOperation::builder(Address::ZERO)
            .paymaster(Address::repeat_byte(1), 5, 6, Bytes::new())
            .build()
            .unwrap();
        let data = PaymasterData {
            paymaster: Address::repeat_byte(2),
            paymaster_data: Bytes::from(vec![9]),
            paymaster_verification_gas_limit: Some(U256::from(50)),
            paymaster_post_op_gas_limit: None,
        };
        data.apply_to(&mut op);
        let paymaster = op.paymaster.unwrap();
        assert_eq!(paymaster.address, Address::repeat_byte(2));
        assert_eq!(paymaster.verification_gas_limit, U256::from(50));
        assert_eq!(paymaster.post_op_gas_limit, U256::from(6));
        assert_eq!(paymaster.data, Bytes::from(vec![9]));
    }

    #[test]
    fn stub_without_is_final_is_not_final() {
        let json = serde_json::json!({
            "paymaster": "0x2222222222222222222222222222222222222222",
            "paymasterData": "0x",
            "sponsor": { "name": "Example" }
        });
        let stub: PaymasterStubData = serde_json::from_value(json).unwrap();
        assert!(!stub.is_final);
        assert_eq!(stub.sponsor.unwrap().name, "Example");
        assert_eq!(stub.data.paymaster_verification_gas_limit, None);
    }
}
