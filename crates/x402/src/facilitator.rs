//! Facilitators: who checks a payment and puts it on chain for a seller.
//!
//! - [`RemoteFacilitator`]: any x402 facilitator over HTTP (`POST /verify`, `POST /settle`), such as the reference
//!   implementation's.
//! - [`LocalFacilitator`]: the seller settles itself, from a key that pays the gas: it checks the authorisation
//!   against the offer, simulates `transferWithAuthorization` (which asks the payer's ERC-1271 when the payer is
//!   a contract, so a leash session's limits are checked by the module itself), then sends it.

use crate::{
    wire::{
        FacilitatorRequest, PaymentPayload, PaymentRequirements, SettleResponse, VerifyResponse,
    },
    Error,
};
use alloy::contract::SolCallBuilder;
use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use async_trait::async_trait;

// The binding's `transferWithAuthorization` takes EIP-3009's seven arguments and the instance.
#[allow(clippy::too_many_arguments)]
mod bindings {
    alloy::sol! {
        /// EIP-3009's transfer with a `bytes` signature (USDC v2.2), which takes ERC-1271 signatures of any length,
        /// and the errors of tokens that report failures as custom errors (the devnet's USDC).
        #[sol(rpc)]
        interface IERC3009Transfer {
            error AuthorizationNotYetValid(uint256 validAfter, uint256 blockTimestamp);
            error AuthorizationExpired(uint256 validBefore, uint256 blockTimestamp);
            error AuthorizationUsedOrCanceled(address authorizer, bytes32 nonce);
            error InvalidAuthorizationSignature(address authorizer);

            function transferWithAuthorization(
                address from,
                address to,
                uint256 value,
                uint256 validAfter,
                uint256 validBefore,
                bytes32 nonce,
                bytes signature
            ) external;
        }
    }
}
use bindings::IERC3009Transfer;

/// Checks payments and settles them.
#[async_trait]
pub trait Facilitator: Send + Sync + std::fmt::Debug {
    /// Whether `payment` meets `requirements` and would settle now.
    async fn verify(
        &self,
        payment: &PaymentPayload,
        requirements: &PaymentRequirements,
    ) -> Result<VerifyResponse, Error>;

    /// Puts `payment` on chain.
    async fn settle(
        &self,
        payment: &PaymentPayload,
        requirements: &PaymentRequirements,
    ) -> Result<SettleResponse, Error>;
}

/// An x402 facilitator over HTTP.
#[derive(Clone, Debug)]
pub struct RemoteFacilitator {
    http: reqwest::Client,
    url: String,
}

impl RemoteFacilitator {
    /// The facilitator at `url` (its `/verify` and `/settle` are under it).
    pub fn new(url: impl Into<String>) -> Self {
        Self { http: reqwest::Client::new(), url: url.into().trim_end_matches('/').to_string() }
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        payment: &PaymentPayload,
        requirements: &PaymentRequirements,
    ) -> Result<T, Error> {
        let url = format!("{}/{path}", self.url);
        let body = FacilitatorRequest {
            x402_version: payment.x402_version,
            payment_payload: payment.clone(),
            payment_requirements: requirements.clone(),
        };
        let response =
            self.http.post(&url).json(&body).send().await.map_err(|e| Error::http(&url, e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| Error::http(&url, e))?;
        serde_json::from_str(&text).map_err(|e| {
            Error::Malformed(format!(
                "the facilitator's {path} answered {status} with {text:.200}: {e}"
            ))
        })
    }
}

#[async_trait]
impl Facilitator for RemoteFacilitator {
    async fn verify(
        &self,
        payment: &PaymentPayload,
        requirements: &PaymentRequirements,
    ) -> Result<VerifyResponse, Error> {
        self.call("verify", payment, requirements).await
    }

    async fn settle(
        &self,
        payment: &PaymentPayload,
        requirements: &PaymentRequirements,
    ) -> Result<SettleResponse, Error> {
        self.call("settle", payment, requirements).await
    }
}

/// A seller's own facilitator: settles from `key`, which pays the gas.
#[derive(Clone, Debug)]
pub struct LocalFacilitator {
    provider: DynProvider,
    from: Address,
    chain_id: u64,
}

/// Seconds an authorisation must still be valid for when it is checked, so it lands before it expires.
const SETTLE_MARGIN: u64 = 6;

impl LocalFacilitator {
    /// A facilitator sending from `key` through the node at `rpc_url`.
    pub async fn connect(rpc_url: &str, key: PrivateKeySigner) -> Result<Self, Error> {
        let from = key.address();
        let url =
            rpc_url.parse().map_err(|e| Error::Malformed(format!("RPC URL {rpc_url}: {e}")))?;
        let provider =
            // Settlements may be sent side by side: nonces are counted here, not asked of the node each time.
            ProviderBuilder::new()
                .with_cached_nonce_management()
                .wallet(EthereumWallet::from(key))
                .connect_http(url)
                .erased();
        // A seller waits for each settlement before it answers: poll for the receipt every 50 ms rather than
        // alloy's 250 ms for a local node, which would dominate a payment on a chain that mines at once.
        provider.client().set_poll_interval(std::time::Duration::from_millis(50));
        let chain_id = provider.get_chain_id().await.map_err(|e| Error::http(rpc_url, e))?;
        Ok(Self { provider, from, chain_id })
    }

    /// The settling call, after checking the authorisation against the offer; or why it does not meet it.
    fn transfer(
        &self,
        payment: &PaymentPayload,
        requirements: &PaymentRequirements,
        now: u64,
    ) -> Result<IERC3009Transfer::transferWithAuthorizationCall, String> {
        let a = &payment.payload.authorization;
        let number = |text: &str, what: &str| {
            U256::from_str_radix(text, 10).map_err(|_| format!("invalid_exact_evm_payload_{what}"))
        };
        if requirements.chain_id() != Some(self.chain_id) {
            return Err("invalid_network".into());
        }
        if requirements.pay_to() != Some(a.to) {
            return Err("invalid_exact_evm_payload_recipient_mismatch".into());
        }
        let value = number(&a.value, "authorization_value")?;
        if requirements.amount() != Some(value) {
            return Err("invalid_exact_evm_payload_authorization_value".into());
        }
        let (after, before) =
            (number(&a.valid_after, "valid_after")?, number(&a.valid_before, "valid_before")?);
        let now = U256::from(now);
        if before < now + U256::from(SETTLE_MARGIN) {
            return Err("invalid_exact_evm_payload_authorization_valid_before".into());
        }
        if after > now {
            return Err("invalid_exact_evm_payload_authorization_valid_after".into());
        }
        Ok(IERC3009Transfer::transferWithAuthorizationCall {
            from: a.from,
            to: a.to,
            value,
            validAfter: after,
            validBefore: before,
            nonce: a.nonce,
            signature: payment.payload.signature.clone(),
        })
    }

    /// The chain's time: the token checks the window against the block's, not this machine's clock.
    async fn now(&self) -> Result<u64, Error> {
        let block = self
            .provider
            .get_block_by_number(Default::default())
            .await
            .map_err(|e| Error::http("the facilitator's node", e))?
            .ok_or_else(|| Error::Malformed("the node has no latest block".into()))?;
        Ok(block.header.timestamp)
    }

    fn token(&self, requirements: &PaymentRequirements) -> Result<Address, String> {
        requirements.asset().ok_or_else(|| "invalid_payment_requirements".to_string())
    }
}

#[async_trait]
impl Facilitator for LocalFacilitator {
    async fn verify(
        &self,
        payment: &PaymentPayload,
        requirements: &PaymentRequirements,
    ) -> Result<VerifyResponse, Error> {
        let payer = Some(payment.payload.authorization.from.to_string());
        let invalid = |reason: String| VerifyResponse {
            is_valid: false,
            invalid_reason: Some(reason),
            payer: payer.clone(),
        };
        let now = self.now().await?;
        let (call, token) =
            match (self.transfer(payment, requirements, now), self.token(requirements)) {
                (Ok(call), Ok(token)) => (call, token),
                (Err(reason), _) | (_, Err(reason)) => return Ok(invalid(reason)),
            };
        // The token itself decides: signature (ERC-1271 for an account, so the session's rules), nonce, balance.
        let simulated =
            SolCallBuilder::new_sol(&self.provider, &token, &call).from(self.from).call().await;
        Ok(match simulated {
            Ok(_) => VerifyResponse { is_valid: true, invalid_reason: None, payer },
            Err(e) => invalid(format!("transaction_simulation_failed: {}", revert_reason(&e))),
        })
    }

    async fn settle(
        &self,
        payment: &PaymentPayload,
        requirements: &PaymentRequirements,
    ) -> Result<SettleResponse, Error> {
        let network = requirements.network.clone();
        let payer = Some(payment.payload.authorization.from.to_string());
        let failed = |reason: String| SettleResponse {
            success: false,
            error_reason: Some(reason),
            payer: payer.clone(),
            transaction: String::new(),
            network: network.clone(),
        };
        let verdict = self.verify(payment, requirements).await?;
        if !verdict.is_valid {
            return Ok(failed(verdict.invalid_reason.unwrap_or_default()));
        }
        let now = self.now().await?;
        let (Ok(call), Ok(token)) =
            (self.transfer(payment, requirements, now), self.token(requirements))
        else {
            return Ok(failed("invalid_payment_requirements".into()));
        };
        let sent = SolCallBuilder::new_sol(&self.provider, &token, &call).send().await;
        let pending = match sent {
            Ok(pending) => pending,
            Err(e) => return Ok(failed(format!("unexpected_settle_error: {e}"))),
        };
        let hash: B256 = *pending.tx_hash();
        match pending.get_receipt().await {
            Ok(receipt) if receipt.status() => Ok(SettleResponse {
                success: true,
                error_reason: None,
                payer,
                transaction: hash.to_string(),
                network,
            }),
            Ok(_) => Ok(SettleResponse {
                transaction: hash.to_string(),
                ..failed("transaction_reverted".into())
            }),
            Err(e) => Ok(failed(format!("unexpected_settle_error: {e}"))),
        }
    }
}

/// The token's refusal by name when it is one of EIP-3009's custom errors, else the node's words.
fn revert_reason(error: &alloy::contract::Error) -> String {
    use IERC3009Transfer::IERC3009TransferErrors as Errors;
    match error.as_decoded_interface_error::<Errors>() {
        Some(Errors::InvalidAuthorizationSignature(e)) => {
            format!(
                "InvalidAuthorizationSignature({}): the payer's signature is not valid for it",
                e.authorizer
            )
        }
        Some(Errors::AuthorizationUsedOrCanceled(e)) => {
            format!(
                "AuthorizationUsedOrCanceled({}, {}): the nonce is spent",
                e.authorizer, e.nonce
            )
        }
        Some(Errors::AuthorizationExpired(e)) => format!("AuthorizationExpired({})", e.validBefore),
        Some(Errors::AuthorizationNotYetValid(e)) => {
            format!("AuthorizationNotYetValid({})", e.validAfter)
        }
        None => error.to_string(),
    }
}
