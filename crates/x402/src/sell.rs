//! Selling: an axum middleware that charges per request and is paid into the seller's own account.
//!
//! ```ignore
//! let paywall = Paywall::new(price, facilitator);
//! let app = Router::new()
//!     .route("/answer", get(answer))
//!     .layer(axum::middleware::from_fn_with_state(Arc::new(paywall), leash_x402::charge));
//! ```
//!
//! A request without a payment gets `402` with the offer in the `PAYMENT-REQUIRED` header (and the body). A
//! paying request is verified by the facilitator, served, and settled before the response leaves: the buyer
//! gets the resource only with the `PAYMENT-RESPONSE` receipt, and a handler that fails (status 400 or more) is
//! not charged, as the reference implementation does. A payment whose `accepted` is not this offer is refused,
//! and so is one already being served (the same header sent twice at once runs the handler once).

use crate::{
    facilitator::Facilitator,
    wire::{
        decode_header, encode_header, PaymentPayload, PaymentRequired, PaymentRequirements,
        ResourceInfo, EXACT, PAYMENT_REQUIRED, PAYMENT_RESPONSE, PAYMENT_SIGNATURE, X402_VERSION,
    },
};
use alloy::primitives::{Address, B256, U256};
use axum::{
    body::{to_bytes, Body},
    extract::{Request, State},
    http::{header::CONTENT_TYPE, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::{SystemTime, UNIX_EPOCH},
};

/// Largest response body the middleware holds back until the payment settles.
pub const MAX_BODY: usize = 16 << 20;

/// What a request costs, in an EIP-3009 token, paid to whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Price {
    /// The chain (`eip155:<id>`).
    pub chain_id: u64,
    /// The token.
    pub asset: Address,
    /// Raw token units per request.
    pub amount: U256,
    /// The payee: the seller's account.
    pub pay_to: Address,
    /// The token's EIP-712 domain name (USDC's is "USD Coin").
    pub token_name: String,
    /// The token's EIP-712 domain version (USDC's is "2").
    pub token_version: String,
    /// How long a payment authorisation may stay valid.
    pub max_timeout_seconds: u64,
    /// What the resource is, for buyers.
    pub description: Option<String>,
}

impl Price {
    /// The price of `amount` raw units of `asset`, paid to `pay_to`, with the chain and the token's EIP-712 name
    /// and version read from the chain (buyers sign under that domain), valid for up to 300 s.
    pub async fn of_token(
        provider: &alloy::providers::DynProvider,
        asset: Address,
        amount: U256,
        pay_to: Address,
    ) -> Result<Self, crate::Error> {
        use alloy::providers::Provider;
        let token = leash_sdk::payment::IERC3009::new(asset, provider.clone());
        let read = |what: &str, e: &dyn std::fmt::Display| {
            crate::Error::Malformed(format!(
                "{asset} does not say its {what} (is it an EIP-3009 token?): {e}"
            ))
        };
        let chain_id = provider.get_chain_id().await.map_err(|e| read("chain", &e))?;
        let token_name = token.name().call().await.map_err(|e| read("name", &e))?;
        let token_version = token.version().call().await.map_err(|e| read("version", &e))?;
        Ok(Self {
            chain_id,
            asset,
            amount,
            pay_to,
            token_name,
            token_version,
            max_timeout_seconds: 300,
            description: None,
        })
    }

    /// The offer as x402 requirements.
    pub fn requirements(&self) -> PaymentRequirements {
        PaymentRequirements {
            scheme: EXACT.into(),
            network: format!("eip155:{}", self.chain_id),
            amount: self.amount.to_string(),
            asset: self.asset.to_checksum(None),
            pay_to: self.pay_to.to_checksum(None),
            max_timeout_seconds: self.max_timeout_seconds,
            extra: Some(serde_json::json!({
                "name": self.token_name,
                "version": self.token_version,
            })),
        }
    }
}

/// The middleware's state: the price, who settles, and the payments being served.
#[derive(Debug)]
pub struct Paywall {
    price: Price,
    facilitator: Arc<dyn Facilitator>,
    /// (payer, nonce) of the verified payments being served, and of those settled, until they expire: one payment
    /// serves one request, even sent many times at once, and even to a facilitator that would settle it again.
    /// Only a verified payment takes a place here, so nobody can hold a payer's nonce with a forged one.
    in_flight: Mutex<HashMap<(Address, B256), Served>>,
}

/// Where a payment stands in [`Paywall`]'s register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Served {
    /// Verified, being served.
    Serving,
    /// Settled; remembered until it expires (unix seconds).
    Settled(u64),
}

/// A payment being served: forgotten when dropped unless it settled, whatever became of the request.
struct InFlight<'a> {
    paywall: &'a Paywall,
    key: (Address, B256),
}

impl InFlight<'_> {
    /// Keeps the payment in the register until `valid_before`: it may not be served again.
    fn settled(&self, valid_before: u64) {
        let mut register = self.paywall.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        register.insert(self.key, Served::Settled(valid_before));
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut register = self.paywall.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        if register.get(&self.key) == Some(&Served::Serving) {
            register.remove(&self.key);
        }
    }
}

impl Paywall {
    /// Charges `price` per request, verified and settled by `facilitator`.
    pub fn new(price: Price, facilitator: Arc<dyn Facilitator>) -> Self {
        Self { price, facilitator, in_flight: Mutex::default() }
    }

    /// Registers a verified payment as being served, unless it is served or settled already.
    fn hold(&self, payment: &PaymentPayload) -> Option<InFlight<'_>> {
        let key = (payment.payload.authorization.from, payment.payload.authorization.nonce);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut register = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        register.retain(|_, served| !matches!(served, Served::Settled(until) if *until < now));
        if register.contains_key(&key) {
            return None;
        }
        register.insert(key, Served::Serving);
        Some(InFlight { paywall: self, key })
    }

    fn required(&self, url: &str, error: Option<String>) -> PaymentRequired {
        PaymentRequired {
            x402_version: X402_VERSION,
            error,
            resource: Some(ResourceInfo {
                url: url.to_string(),
                description: self.price.description.clone(),
                mime_type: None,
            }),
            accepts: vec![serde_json::to_value(self.price.requirements()).unwrap_or_default()],
            extensions: None,
        }
    }

    /// A 402 answer carrying the offer (and why a payment was refused).
    fn payment_required(&self, url: &str, error: impl Into<String>) -> Response {
        let required = self.required(url, Some(error.into()));
        let mut response = (StatusCode::PAYMENT_REQUIRED, Json(&required)).into_response();
        if let Ok(header) = HeaderValue::from_str(&encode_header(&required)) {
            response.headers_mut().insert(PAYMENT_REQUIRED, header);
        }
        response
    }
}

/// The middleware: charge the paywall's price for every request it wraps.
pub async fn charge(State(paywall): State<Arc<Paywall>>, request: Request, next: Next) -> Response {
    let url = request.uri().to_string();
    let Some(header) = request.headers().get(PAYMENT_SIGNATURE) else {
        return paywall.payment_required(&url, "Payment required");
    };
    let payment: PaymentPayload = match decode_header(PAYMENT_SIGNATURE, header.as_bytes()) {
        Ok(payment) => payment,
        Err(why) => return paywall.payment_required(&url, why),
    };
    let requirements = paywall.price.requirements();
    // The payment must be against this offer, not one the buyer wrote.
    let accepted = serde_json::from_value::<PaymentRequirements>(payment.accepted.clone());
    if payment.x402_version != X402_VERSION || accepted.as_ref().ok() != Some(&requirements) {
        return paywall.payment_required(&url, "the payment is not for this resource's offer");
    }
    match paywall.facilitator.verify(&payment, &requirements).await {
        Ok(verdict) if verdict.is_valid => {}
        Ok(verdict) => {
            return paywall.payment_required(
                &url,
                verdict.invalid_reason.unwrap_or_else(|| "the payment is not valid".into()),
            )
        }
        Err(e) => return facilitator_unavailable(e),
    }
    let Some(held) = paywall.hold(&payment) else {
        return paywall.payment_required(&url, "this payment is already served or being served");
    };
    let response = next.run(request).await;
    // As the reference implementation: an answer under 400 (a redirect too) is what was paid for; an error is free.
    if response.status().as_u16() >= 400 {
        return response;
    }
    // Held back until the payment settles: the resource leaves only with its receipt.
    let (mut parts, body) = response.into_parts();
    let body = match to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(_) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "the response is too large to sell")
                .into_response()
        }
    };
    let receipt = match paywall.facilitator.settle(&payment, &requirements).await {
        Ok(receipt) if receipt.success => {
            held.settled(payment.payload.authorization.valid_before.parse().unwrap_or(u64::MAX));
            receipt
        }
        Ok(receipt) => {
            return paywall.payment_required(
                &url,
                receipt.error_reason.unwrap_or_else(|| "the payment did not settle".into()),
            )
        }
        Err(e) => return facilitator_unavailable(e),
    };
    if let Ok(header) = HeaderValue::from_str(&encode_header(&receipt)) {
        parts.headers.insert(PAYMENT_RESPONSE, header);
    }
    Response::from_parts(parts, Body::from(body))
}

fn facilitator_unavailable(error: crate::Error) -> Response {
    tracing::warn!(%error, "the facilitator failed");
    let mut response =
        (StatusCode::BAD_GATEWAY, format!("the payment could not be checked: {error}"))
            .into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}
