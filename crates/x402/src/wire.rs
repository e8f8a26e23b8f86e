//! The x402 v2 messages as they travel: JSON, base64-encoded in the `PAYMENT-REQUIRED`, `PAYMENT-SIGNATURE` and
//! `PAYMENT-RESPONSE` headers, and as the facilitator's `/verify` and `/settle` bodies.
//!
//! Written here rather than taken from the `x402-types` crate: these are a few serde structs, the crate's
//! `SettleResponse` reads and writes `error_reason` where the specification and the reference implementation
//! say `errorReason`, and its client types cannot carry an ERC-1271 signature from a smart account. The field
//! names follow the reference implementation (`@x402/core`) exactly; the end-to-end tests run against it.

use alloy::primitives::{Address, Bytes, B256, U256};
use base64::{engine::general_purpose::STANDARD, Engine};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::Value;

/// The protocol version these messages speak.
pub const X402_VERSION: u8 = 2;
/// The header of a 402 answer: the base64 JSON [`PaymentRequired`].
pub const PAYMENT_REQUIRED: &str = "payment-required";
/// The header of the paying retry: the base64 JSON [`PaymentPayload`].
pub const PAYMENT_SIGNATURE: &str = "payment-signature";
/// The header of the paid answer: the base64 JSON [`SettleResponse`].
pub const PAYMENT_RESPONSE: &str = "payment-response";
/// The scheme leash pays and sells: a fixed amount by an EIP-3009 authorisation.
pub const EXACT: &str = "exact";

/// The resource a payment is for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceInfo {
    /// The resource's URL.
    pub url: String,
    /// What it is, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
}

/// One way to pay that a resource accepts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequirements {
    /// The scheme (`exact`).
    pub scheme: String,
    /// The CAIP-2 network (`eip155:31337`).
    pub network: String,
    /// Raw token units, as a decimal string.
    pub amount: String,
    /// The token contract.
    pub asset: String,
    /// The payee.
    pub pay_to: String,
    /// How long the payment authorisation should stay valid.
    pub max_timeout_seconds: u64,
    /// Scheme data: for `exact` on EVM, the token's EIP-712 domain `name` and `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Value>,
}

impl PaymentRequirements {
    /// The chain id of an `eip155:` network.
    pub fn chain_id(&self) -> Option<u64> {
        self.network.strip_prefix("eip155:")?.parse().ok()
    }

    /// The amount in raw units.
    pub fn amount(&self) -> Option<U256> {
        U256::from_str_radix(&self.amount, 10).ok()
    }

    /// The token.
    pub fn asset(&self) -> Option<Address> {
        self.asset.parse().ok()
    }

    /// The payee.
    pub fn pay_to(&self) -> Option<Address> {
        self.pay_to.parse().ok()
    }
}

/// A 402 answer's body and `PAYMENT-REQUIRED` header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequired {
    /// The protocol version.
    pub x402_version: u8,
    /// Why the request was not served (a failed payment's reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceInfo>,
    /// The ways to pay, as offered: kept as JSON so a payment echoes its choice byte for byte.
    #[serde(default)]
    pub accepts: Vec<Value>,
    /// Protocol extensions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Value>,
}

/// An EIP-3009 authorisation as the `exact` scheme carries it (numbers as decimal strings).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authorization {
    /// The payer.
    pub from: Address,
    /// The payee.
    pub to: Address,
    /// Raw token units.
    pub value: String,
    /// Valid strictly after this unix time.
    pub valid_after: String,
    /// Valid strictly before this unix time.
    pub valid_before: String,
    /// The authorisation's nonce.
    pub nonce: B256,
}

impl From<&leash_sdk::TransferAuthorization> for ExactPayload {
    /// A signed authorisation as the `exact` scheme carries it.
    fn from(a: &leash_sdk::TransferAuthorization) -> Self {
        Self {
            signature: a.signature.clone(),
            authorization: Authorization {
                from: a.from,
                to: a.to,
                value: a.value.to_string(),
                valid_after: a.valid_after.to_string(),
                valid_before: a.valid_before.to_string(),
                nonce: a.nonce,
            },
        }
    }
}

/// The `exact` scheme's payload: the authorisation and the payer's signature (65 bytes from a key, or any
/// length from a smart account, checked by ERC-1271).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExactPayload {
    /// The payer's signature of the authorisation.
    pub signature: Bytes,
    /// The authorisation.
    pub authorization: Authorization,
}

/// The `PAYMENT-SIGNATURE` header of a paying request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentPayload {
    /// The protocol version.
    pub x402_version: u8,
    /// The resource paid for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceInfo>,
    /// The requirements paid against, exactly as offered.
    pub accepted: Value,
    /// The scheme's payload.
    pub payload: ExactPayload,
    /// Protocol extensions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Value>,
}

/// What a facilitator's `/verify` and `/settle` take.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FacilitatorRequest {
    /// The protocol version.
    pub x402_version: u8,
    /// The client's payment.
    pub payment_payload: PaymentPayload,
    /// The requirements it must meet.
    pub payment_requirements: PaymentRequirements,
}

/// A facilitator's `/verify` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyResponse {
    /// Whether the payment would settle.
    pub is_valid: bool,
    /// Why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_reason: Option<String>,
    /// The payer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<String>,
}

/// A facilitator's `/settle` answer, and the paid response's `PAYMENT-RESPONSE` header: the settlement
/// receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettleResponse {
    /// Whether the payment settled.
    pub success: bool,
    /// Why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_reason: Option<String>,
    /// The payer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<String>,
    /// The settlement transaction's hash (empty when it failed).
    #[serde(default)]
    pub transaction: String,
    /// The network it settled on.
    pub network: String,
}

/// Encodes a message for a header: base64 of its JSON.
pub fn encode_header<T: Serialize>(message: &T) -> String {
    // Serialising these types cannot fail: every field is a string, number, bool or JSON value.
    STANDARD.encode(serde_json::to_vec(message).unwrap_or_default())
}

/// Decodes a header's message, saying what was wrong with it.
pub fn decode_header<T: DeserializeOwned>(header: &str, value: &[u8]) -> Result<T, String> {
    let json = STANDARD
        .decode(value.trim_ascii())
        .map_err(|e| format!("the {header} header is not base64: {e}"))?;
    serde_json::from_slice(&json)
        .map_err(|e| format!("the {header} header is not an x402 message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `PAYMENT-REQUIRED` message as the reference resource server writes it, with a field of a later
    /// version in its offer.
    const REQUIRED: &str = r#"{"x402Version":2,"error":"Payment required","resource":{"url":"http://127.0.0.1:4021/answer","description":"an answer","mimeType":"application/json"},"accepts":[{"scheme":"exact","network":"eip155:31337","amount":"10000","asset":"0x5FbDB2315678afecb367f032d93F642f64180aa3","payTo":"0x70997970C51812dc3A010C7d01b50e0d17dc79C8","maxTimeoutSeconds":300,"extra":{"name":"USD Coin (devnet)","version":"2"},"later":{"kept":true}}]}"#;

    #[test]
    fn the_reference_servers_requirements_read_and_their_offer_is_kept_whole() {
        let required: PaymentRequired = serde_json::from_str(REQUIRED).unwrap();
        assert_eq!(required.x402_version, 2);
        let offer: PaymentRequirements =
            serde_json::from_value(required.accepts[0].clone()).unwrap();
        assert_eq!(offer.chain_id(), Some(31337));
        assert_eq!(offer.amount(), Some(U256::from(10_000)));
        assert_eq!(
            offer.pay_to(),
            Some(alloy::primitives::address!("70997970C51812dc3A010C7d01b50e0d17dc79C8"))
        );
        assert_eq!(offer.extra.as_ref().unwrap()["version"], "2");
        // The offer a payment echoes in `accepted` keeps every field the server wrote, the unknown ones too,
        // with the addresses' case as written (servers compare them as strings).
        let echoed = serde_json::to_string(&required.accepts[0]).unwrap();
        assert!(echoed.contains(r#""later":{"kept":true}"#), "{echoed}");
        assert!(echoed.contains("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"), "{echoed}");
    }

    #[test]
    fn a_header_round_trips_and_a_bad_one_says_which_header() {
        let receipt = SettleResponse {
            success: true,
            error_reason: None,
            payer: Some("0x01".into()),
            transaction: "0xab".into(),
            network: "eip155:31337".into(),
        };
        let header = encode_header(&receipt);
        assert_eq!(
            decode_header::<SettleResponse>(PAYMENT_RESPONSE, header.as_bytes()),
            Ok(receipt)
        );
        let error = decode_header::<SettleResponse>(PAYMENT_RESPONSE, b"not base64!").unwrap_err();
        assert!(error.starts_with("the payment-response header is not base64"), "{error}");
        let error =
            decode_header::<SettleResponse>(PAYMENT_RESPONSE, STANDARD.encode("{}").as_bytes())
                .unwrap_err();
        assert!(error.contains("not an x402 message"), "{error}");
    }

    #[test]
    fn a_failed_settlement_reads_with_the_specifications_field_names() {
        let failed = r#"{"success":false,"errorReason":"invalid_exact_evm_payload_signature","transaction":"","network":"eip155:31337","payer":"0x01"}"#;
        let receipt: SettleResponse = serde_json::from_str(failed).unwrap();
        assert_eq!(receipt.error_reason.as_deref(), Some("invalid_exact_evm_payload_signature"));
    }
}
