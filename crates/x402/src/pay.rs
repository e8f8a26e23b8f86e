//! Paying: an HTTP client whose payer is the smart account and whose signer is the session key.
//!
//! [`Payer::send`] sends a request; on `402 Payment Required` it reads the offers, keeps those it can pay
//! (`exact` on this chain, within the caller's `max`), asks the agent for an EIP-3009 authorisation of the first
//! one the session's signing rules allow ([`SessionAgent::authorize_transfer`]: the pre-flight, then the
//! signature), retries with it, and returns the resource with the settlement receipt. Nothing is signed for an
//! offer the session would refuse; the refusal names the rule.

use crate::{
    wire::{
        decode_header, encode_header, ExactPayload, PaymentPayload, PaymentRequired,
        PaymentRequirements, SettleResponse, EXACT, PAYMENT_REQUIRED, PAYMENT_RESPONSE,
        PAYMENT_SIGNATURE, X402_VERSION,
    },
    Error,
};
use alloy::primitives::{Address, U256};
use leash_sdk::{SessionAgent, TransferAuthorization, TransferRequest};
use reqwest::{header::HeaderMap, StatusCode};
use std::{sync::Arc, time::Duration};

/// Most seconds an authorisation stays valid, whatever an offer asks (a shorter window leaves less time for a
/// signed payment to be used by someone else).
pub const MAX_VALIDITY: u64 = 3_600;

/// An HTTP client that pays x402 offers from the account, with the session key.
#[derive(Clone, Debug)]
pub struct Payer {
    http: reqwest::Client,
    agent: Arc<SessionAgent>,
    max: Option<(Address, U256)>,
}

/// A response, and the payment made for it if there was one.
#[derive(Debug)]
pub struct Paid {
    /// The final HTTP status.
    pub status: StatusCode,
    /// The final response's headers.
    pub headers: HeaderMap,
    /// The final response's body.
    pub body: axum::body::Bytes,
    /// The payment, when the resource asked for one.
    pub payment: Option<Payment>,
}

/// What a first request got: the resource, or a payment asked for (and the request to send again).
#[derive(Debug)]
enum Asked {
    Served(Paid),
    Payment(reqwest::Request, PaymentRequired),
}

/// A payment made for a resource.
#[derive(Clone, Debug)]
pub struct Payment {
    /// The offer paid.
    pub requirements: PaymentRequirements,
    /// The signed authorisation sent.
    pub authorization: TransferAuthorization,
    /// The settlement receipt from the `PAYMENT-RESPONSE` header.
    pub receipt: SettleResponse,
}

impl Payer {
    /// A payer for `agent`'s account, paying any amount its session allows. Its HTTP client follows no
    /// redirect: a paying request's header would go wherever the server points.
    pub fn new(agent: Arc<SessionAgent>) -> Self {
        // Fails only where `reqwest::Client::new` would panic too (no TLS backend): never fall back to a client
        // that follows redirects.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client builds");
        Self { http, agent, max: None }
    }

    /// Pays only in `token`, at most `amount` raw units per request: any other offer is refused before signing.
    pub fn max(mut self, token: Address, amount: U256) -> Self {
        self.max = Some((token, amount));
        self
    }

    /// Uses `http` for the requests (timeouts, proxies); give it no redirect policy that would carry a payment
    /// header to another host.
    pub fn http(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// The agent paying.
    pub fn agent(&self) -> &SessionAgent {
        &self.agent
    }

    /// A request builder on this payer's HTTP client; send the built request with [`Payer::send`].
    pub fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.http.request(method, url)
    }

    /// Sends `request`, paying once if the resource asks for it. A request whose body cannot be sent twice (a
    /// stream) is refused.
    pub async fn send(&self, request: reqwest::Request) -> Result<Paid, Error> {
        let (retry, required) = match self.ask(request).await? {
            Asked::Served(paid) => return Ok(paid),
            Asked::Payment(retry, required) => (retry, required),
        };
        let (offer, authorization) = self.authorize(&required).await?;
        self.pay(retry, &required, offer, authorization).await
    }

    /// Sends `request` once: the answer, or the payment it asks for and the request to send again with it.
    async fn ask(&self, request: reqwest::Request) -> Result<Asked, Error> {
        let retry = request.try_clone().ok_or(Error::BodyNotRepeatable)?;
        let url = request.url().to_string();
        let first = self.http.execute(request).await.map_err(|e| Error::http(&url, e))?;
        if first.status() != StatusCode::PAYMENT_REQUIRED {
            return Ok(Asked::Served(read(first, None, &url).await?));
        }
        Ok(Asked::Payment(retry, required_of(first, &url).await?))
    }

    /// Sends `request`, and pays the offer it asks for with `authorization`, made elsewhere (by
    /// [`SessionAgent::authorize_transfer_unchecked`], say, to see what the seller says to a payment the session
    /// would not sign).
    pub async fn send_signed(
        &self,
        request: reqwest::Request,
        authorization: &TransferAuthorization,
    ) -> Result<Paid, Error> {
        let (retry, required) = match self.ask(request).await? {
            Asked::Served(paid) => return Ok(paid),
            Asked::Payment(retry, required) => (retry, required),
        };
        let offer = required
            .accepts
            .iter()
            .find_map(|raw| {
                let offer = serde_json::from_value::<PaymentRequirements>(raw.clone()).ok()?;
                (offer.scheme == EXACT && offer.asset() == Some(authorization.token))
                    .then(|| (raw.clone(), offer))
            })
            .ok_or_else(|| Error::NoOffer {
                chain: format!("eip155:{}", self.agent.chain().chain_id),
                offered: format!("no exact offer in {}", authorization.token),
            })?;
        self.pay(retry, &required, offer, authorization.clone()).await
    }

    /// Sends `retry` with the payment of `offer` by `authorization`.
    async fn pay(
        &self,
        retry: reqwest::Request,
        required: &PaymentRequired,
        offer: (serde_json::Value, PaymentRequirements),
        authorization: TransferAuthorization,
    ) -> Result<Paid, Error> {
        let url = retry.url().to_string();
        let payload = PaymentPayload {
            x402_version: X402_VERSION,
            resource: required.resource.clone(),
            accepted: offer.0,
            payload: ExactPayload::from(&authorization),
            extensions: None,
        };
        let mut retry = retry;
        let header = encode_header(&payload)
            .parse()
            .map_err(|_| Error::Malformed("the payment header is not ASCII".into()))?;
        retry.headers_mut().insert(PAYMENT_SIGNATURE, header);
        // From here the authorisation is out: whatever fails, it may have been settled.
        let second = self.http.execute(retry).await.map_err(|e| Error::PaymentRefused {
            url: url.clone(),
            reason: format!("the request failed after the payment was sent: {e}"),
            nonce: authorization.nonce,
            valid_before: authorization.valid_before,
        })?;
        if second.status() == StatusCode::PAYMENT_REQUIRED {
            let refused = required_of(second, &url).await.ok();
            return Err(Error::PaymentRefused {
                url,
                reason: refused
                    .and_then(|r| r.error)
                    .unwrap_or_else(|| "the resource asked for payment again".into()),
                nonce: authorization.nonce,
                valid_before: authorization.valid_before,
            });
        }
        let paid = Payment {
            requirements: offer.1,
            authorization,
            receipt: SettleResponse {
                success: false,
                error_reason: None,
                payer: None,
                transaction: String::new(),
                network: String::new(),
            },
        };
        read(second, Some(paid), &url).await
    }

    /// The first offer this payer may pay and the session signs for, with its authorisation; or why none.
    async fn authorize(
        &self,
        required: &PaymentRequired,
    ) -> Result<((serde_json::Value, PaymentRequirements), TransferAuthorization), Error> {
        let chain_id = self.agent.chain().chain_id;
        let mut why = Vec::new();
        let mut refusal = None;
        for raw in &required.accepts {
            let Ok(offer) = serde_json::from_value::<PaymentRequirements>(raw.clone()) else {
                why.push("an offer that is not x402 v2 requirements".to_string());
                continue;
            };
            if offer.scheme != EXACT || offer.chain_id() != Some(chain_id) {
                why.push(format!("{} on {}", offer.scheme, offer.network));
                continue;
            }
            let (Some(token), Some(to), Some(value)) =
                (offer.asset(), offer.pay_to(), offer.amount())
            else {
                why.push("an offer with an unreadable asset, payee or amount".into());
                continue;
            };
            match self.max {
                Some((only, _)) if only != token => {
                    why.push(format!(
                        "{} in {token}, not the token of the maximum ({only})",
                        offer.amount
                    ));
                    continue;
                }
                Some((_, max)) if value > max => {
                    refusal = Some(Error::OverMax { asked: value, max, token });
                    continue;
                }
                _ => {}
            }
            let request = TransferRequest {
                token,
                to,
                value,
                valid_for: Duration::from_secs(offer.max_timeout_seconds.clamp(1, MAX_VALIDITY)),
            };
            match self.agent.authorize_transfer(&request).await {
                Ok(authorization) => return Ok(((raw.clone(), offer), authorization)),
                Err(e) if e.rule().is_some() => refusal = Some(Error::Refused(e)),
                Err(e) => return Err(Error::Sdk(e)),
            }
        }
        Err(refusal.unwrap_or_else(|| Error::NoOffer {
            chain: format!("eip155:{chain_id}"),
            offered: if why.is_empty() { "nothing".into() } else { why.join(", ") },
        }))
    }
}

/// The 402 answer's requirements: the `PAYMENT-REQUIRED` header, or the JSON body of servers that put them
/// there.
async fn required_of(response: reqwest::Response, url: &str) -> Result<PaymentRequired, Error> {
    if let Some(header) = response.headers().get(PAYMENT_REQUIRED) {
        return decode_header(PAYMENT_REQUIRED, header.as_bytes()).map_err(Error::Malformed);
    }
    let body = body(response, url).await?;
    serde_json::from_slice(&body).map_err(|e| {
        Error::Malformed(format!(
            "{url} answered 402 without a {PAYMENT_REQUIRED} header or x402 requirements in its body: {e}"
        ))
    })
}

async fn read(
    response: reqwest::Response,
    mut payment: Option<Payment>,
    url: &str,
) -> Result<Paid, Error> {
    let status = response.status();
    let headers = response.headers().clone();
    if let Some(payment) = payment.as_mut() {
        // Without a receipt the payment may still have been settled: say so, with what can be checked.
        let unreceipted = |why: String| Error::PaymentRefused {
            url: url.to_string(),
            reason: why,
            nonce: payment.authorization.nonce,
            valid_before: payment.authorization.valid_before,
        };
        let header = headers.get(PAYMENT_RESPONSE).ok_or_else(|| {
            unreceipted(format!("it answered {status} without a {PAYMENT_RESPONSE} receipt"))
        })?;
        payment.receipt =
            decode_header(PAYMENT_RESPONSE, header.as_bytes()).map_err(unreceipted)?;
        // Paid: a body that cannot be read is a paid resource not received, not a network error to retry.
        let body = body(response, url)
            .await
            .map_err(|e| unreceipted(format!("the paid resource could not be read: {e}")))?;
        return Ok(Paid { status, headers, body, payment: Some(payment.clone()) });
    }
    let body = body(response, url).await?;
    Ok(Paid { status, headers, body, payment })
}

/// Largest response body read, so a server cannot fill the agent's memory.
pub const MAX_BODY: usize = 16 << 20;

async fn body(mut response: reqwest::Response, url: &str) -> Result<axum::body::Bytes, Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| Error::http(url, e))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(Error::Malformed(format!(
                "{url} answered with a body over {MAX_BODY} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.into())
}
