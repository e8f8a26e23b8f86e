//! x402 against its reference implementation, on the local stack with the EIP-3009 USDC: the `@x402/express`
//! resource server and the `@x402/evm` facilitator (settling from a devnet key) are the counterparts, never code
//! written here. A leash session pays them from the smart account, within its signing rules; every payment the
//! rules forbid is refused before signing, and refused by the token and the module when forced; and the
//! reference client pays a leash-served endpoint into a leash account.

mod common;

use alloy::primitives::{address, keccak256, Address, U256};
use axum::{routing::get, Json, Router};
use common::{example, facilitator, granted, reference_pay, resource, stack, usdc_of};
use leash_core::{erc1271_signature, message_digest, PolicyFile, TypedDataRequest};
use leash_sdk::{payment::TRANSFER_WITH_AUTHORIZATION, signer::SessionSigner, SessionAgent};
use leash_x402::{
    wire::{
        Authorization, ExactPayload, FacilitatorRequest, PaymentPayload, PaymentRequirements,
        SettleResponse, VerifyResponse, X402_VERSION,
    },
    Error, Payer, Paywall, RemoteFacilitator,
};
use std::sync::Arc;

/// The example's sellers.
const ANSWERS: Address = address!("416e737765727300000000000000000000000001");
const STRANGER: Address = address!("5757575757575757575757575757575757575757");
/// 0.01 USDC, the example's cap per payment.
const CENT: u64 = 10_000;

fn policy_text(count: u32) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/policies/x402-payments.toml");
    std::fs::read_to_string(path).unwrap().replace("count = 100", &format!("count = {count}"))
}

/// The agent's authorisation of one cent of `usdc` to ANSWERS, valid for five minutes.
async fn a_cent(
    agent: &leash_sdk::SessionAgent,
    usdc: alloy::primitives::Address,
) -> leash_sdk::TransferAuthorization {
    let request = leash_sdk::TransferRequest {
        token: usdc,
        to: ANSWERS,
        value: U256::from(CENT),
        valid_for: std::time::Duration::from_secs(300),
    };
    agent.authorize_transfer(&request).await.unwrap()
}

async fn get_answer(payer: &Payer, url: &str) -> Result<leash_x402::Paid, Error> {
    let request = payer.request(reqwest::Method::GET, &format!("{url}/answer")).build().unwrap();
    payer.send(request).await
}

#[tokio::test]
async fn a_session_pays_the_reference_server_and_the_reference_facilitator_settles() {
    let stack = stack().await;
    let (agent, _) = granted(&stack, example(&stack, "x402-payments.toml", &[])).await;
    let facilitator = facilitator(&stack).await;
    let server = resource(&stack, &facilitator, ANSWERS, CENT).await;
    let (account, seller) = (stack.account.address, usdc_of(&stack, ANSWERS).await);
    let before = usdc_of(&stack, account).await;

    let payer = Payer::new(agent.clone());
    let paid = get_answer(&payer, &server.url).await.expect("the payment is accepted");
    assert_eq!(paid.status, 200);
    let body: serde_json::Value = serde_json::from_slice(&paid.body).unwrap();
    assert_eq!(body["answer"], 42);
    let payment = paid.payment.expect("the resource asked for a payment");
    assert!(payment.receipt.success, "settled: {:?}", payment.receipt);
    assert_eq!(payment.receipt.network, format!("eip155:{}", stack.chain.chain_id));
    assert_eq!(payment.authorization.from, account, "the smart account pays");
    assert_eq!(payment.authorization.slot.map(|(_, slot)| slot), Some(0), "the day's first slot");
    assert_eq!(usdc_of(&stack, ANSWERS).await - seller, U256::from(CENT));
    assert_eq!(before - usdc_of(&stack, account).await, U256::from(CENT));

    // The second payment takes the next slot.
    let paid = get_answer(&payer, &server.url).await.unwrap();
    assert_eq!(paid.payment.unwrap().authorization.slot.map(|(_, slot)| slot), Some(1));
    assert_eq!(usdc_of(&stack, ANSWERS).await - seller, U256::from(2 * CENT));
}

#[tokio::test]
async fn payments_the_rules_forbid_are_refused_before_signing() {
    let stack = stack().await;
    let policy =
        PolicyFile::parse(&policy_text(1), "x402-payments.toml", &stack.context()).unwrap();
    let (agent, _) = granted(&stack, policy).await;
    let facilitator = facilitator(&stack).await;
    let payer = Payer::new(agent.clone());
    let account = stack.account.address;
    let before = usdc_of(&stack, account).await;

    // Over the cap per payment: the session's rule on `value`.
    let dear = resource(&stack, &facilitator, ANSWERS, CENT + 1).await;
    let error = get_answer(&payer, &dear.url).await.unwrap_err();
    assert_eq!(error.rule(), Some("SigningRuleFailed"), "{error}");
    // To a payee the session does not list.
    let other = resource(&stack, &facilitator, STRANGER, CENT).await;
    let error = get_answer(&payer, &other.url).await.unwrap_err();
    assert_eq!(error.rule(), Some("SigningRuleFailed"), "{error}");
    // Over the caller's own maximum.
    let fair = resource(&stack, &facilitator, ANSWERS, CENT).await;
    let usdc = stack.deployment().usdc;
    let capped = Payer::new(agent.clone()).max(usdc, U256::from(CENT - 1));
    let error = get_answer(&capped, &fair.url).await.unwrap_err();
    assert_eq!(error.rule(), Some("MaxPerRequest"), "{error}");
    // A maximum in another token pays nothing in this one.
    let elsewhere = Payer::new(agent.clone()).max(stack.deployment().dai, U256::from(1_000_000u64));
    let error = get_answer(&elsewhere, &fair.url).await.unwrap_err();
    assert!(matches!(error, Error::NoOffer { .. }), "{error}");
    assert_eq!(usdc_of(&stack, account).await, before, "nothing paid");

    // One payment a day: the first lands, the second is refused before signing and says when the next day
    // opens.
    get_answer(&payer, &fair.url).await.expect("the day's payment");
    let error = get_answer(&payer, &fair.url).await.unwrap_err();
    assert_eq!(error.rule(), Some("SigningUsesExceeded"), "{error}");
    assert!(error.to_string().contains("next period opens"), "{error}");
    assert_eq!(before - usdc_of(&stack, account).await, U256::from(CENT));
}

/// Signs an authorisation with the session key directly, skipping every check the SDK makes.
async fn forged(
    stack: &leash_devnet::LocalStack,
    agent: &SessionAgent,
    key: &dyn SessionSigner,
    authorization: &Authorization,
    slot: u16,
) -> ExactPayload {
    let usdc = stack.deployment().usdc;
    let domain = leash_sdk::payment::IERC3009::new(usdc, stack.chain.provider.clone())
        .DOMAIN_SEPARATOR()
        .call()
        .await
        .unwrap();
    let fields = alloy::sol_types::SolValue::abi_encode(&(
        authorization.from,
        authorization.to,
        U256::from_str_radix(&authorization.value, 10).unwrap(),
        U256::from_str_radix(&authorization.valid_after, 10).unwrap(),
        U256::from_str_radix(&authorization.valid_before, 10).unwrap(),
        authorization.nonce,
    ));
    let request = TypedDataRequest {
        verifier: usdc,
        domain_separator: domain,
        type_hash: keccak256(TRANSFER_WITH_AUTHORIZATION),
        fields: fields.into(),
        slot: Some(slot),
    };
    let hash = request.hash(request.fields.len());
    let digest = message_digest(
        stack.chain.chain_id,
        stack.chain.module,
        agent.account(),
        agent.session_id(),
        hash,
    );
    let key_signature = key.sign_digest(digest).await.unwrap();
    let signature =
        erc1271_signature(stack.chain.module, agent.session(), &key_signature, Some(0), &request)
            .unwrap();
    ExactPayload { signature, authorization: authorization.clone() }
}

/// The reference facilitator's verdict on `payload`, and its settlement.
async fn verify_and_settle(
    facilitator: &str,
    requirements: &PaymentRequirements,
    payload: ExactPayload,
) -> (VerifyResponse, SettleResponse) {
    let body = FacilitatorRequest {
        x402_version: X402_VERSION,
        payment_payload: PaymentPayload {
            x402_version: X402_VERSION,
            resource: None,
            accepted: serde_json::to_value(requirements).unwrap(),
            payload,
            extensions: None,
        },
        payment_requirements: requirements.clone(),
    };
    let http = reqwest::Client::new();
    let verify = http.post(format!("{facilitator}/verify")).json(&body).send().await.unwrap();
    let verify = verify.json().await.unwrap();
    let settle = http.post(format!("{facilitator}/settle")).json(&body).send().await.unwrap();
    (verify, settle.json().await.unwrap())
}

#[tokio::test]
async fn forbidden_payments_signed_anyway_are_refused_by_the_token_and_the_module() {
    let stack = stack().await;
    let policy =
        PolicyFile::parse(&policy_text(1), "x402-payments.toml", &stack.context()).unwrap();
    let (agent, key) = granted(&stack, policy).await;
    let facilitator = facilitator(&stack).await;
    let usdc = stack.deployment().usdc;
    let account = stack.account.address;
    let price = common::price(&stack, ANSWERS, CENT);
    // The day's one payment, properly made: it takes slot 0.
    let good = a_cent(&agent, usdc).await;
    let base = Authorization {
        from: account,
        to: ANSWERS,
        value: CENT.to_string(),
        valid_after: good.valid_after.to_string(),
        valid_before: good.valid_before.to_string(),
        nonce: good.nonce,
    };
    let before = usdc_of(&stack, account).await;
    let period = good.slot.unwrap().0;
    let slot_nonce = |slot: u16| leash_core::use_nonce(agent.session_id(), 0, period, slot);

    let mut cases = Vec::new();
    // A second slot of a one-a-day scope.
    cases.push(("slot past the count", Authorization { nonce: slot_nonce(1), ..base.clone() }, 1));
    // A nonce of the signer's choosing.
    cases.push(("free nonce", Authorization { nonce: keccak256("mine"), ..base.clone() }, 0));
    // Valid into the next day.
    let late = (good.valid_before + 86_400).to_string();
    cases.push(("past the period", Authorization { valid_before: late, ..base.clone() }, 0));
    // Another payee, and more than the cap.
    cases.push(("stranger", Authorization { to: STRANGER, ..base.clone() }, 0));
    let dear = (CENT * 100).to_string();
    cases.push(("over the cap", Authorization { value: dear, ..base.clone() }, 0));
    for (what, authorization, slot) in cases {
        let mut requirements = price.requirements();
        requirements.pay_to = authorization.to.to_checksum(None);
        requirements.amount = authorization.value.clone();
        let payload = forged(&stack, &agent, key.as_ref(), &authorization, slot).await;
        let (verdict, settled) = verify_and_settle(&facilitator.url, &requirements, payload).await;
        assert!(
            !verdict.is_valid,
            "{what}: the facilitator's check through the account refuses it"
        );
        assert!(!settled.success, "{what}: nothing settles");
    }
    assert_eq!(usdc_of(&stack, account).await, before, "no forged payment moved money");

    // The proper one settles once; presented again, the token has used its nonce.
    let requirements = price.requirements();
    let payload = ExactPayload { signature: good.signature.clone(), authorization: base.clone() };
    let (verdict, settled) =
        verify_and_settle(&facilitator.url, &requirements, payload.clone()).await;
    assert!(verdict.is_valid && settled.success, "{verdict:?} {settled:?}");
    let (verdict, settled) = verify_and_settle(&facilitator.url, &requirements, payload).await;
    assert!(!verdict.is_valid && !settled.success, "a nonce settles once");
    assert_eq!(before - usdc_of(&stack, account).await, U256::from(CENT));

    // Revoked: an authorisation signed before the revocation no longer settles.
    let (agent2, _) =
        granted(&stack, PolicyFile::parse(&policy_text(3), "p.toml", &stack.context()).unwrap())
            .await;
    let pending = a_cent(&agent2, usdc).await;
    stack.owner.revoke(&stack.chain, &stack.submitter, agent2.session_id()).await.unwrap();
    let payload = ExactPayload::from(&pending);
    let (verdict, settled) = verify_and_settle(&facilitator.url, &requirements, payload).await;
    assert!(!verdict.is_valid && !settled.success, "revoked before settlement");
    assert_eq!(before - usdc_of(&stack, account).await, U256::from(CENT));
}

#[tokio::test]
async fn the_reference_client_pays_a_leash_served_endpoint_into_a_leash_account() {
    let stack = stack().await;
    let facilitator = facilitator(&stack).await;
    let seller = stack.account.address;
    let price = common::price(&stack, seller, CENT);
    let paywall = Arc::new(Paywall::new(price, Arc::new(RemoteFacilitator::new(&facilitator.url))));
    let app = Router::new()
        .route("/answer", get(|| async { Json(serde_json::json!({ "answer": 42 })) }))
        .layer(axum::middleware::from_fn_with_state(paywall, leash_x402::charge));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    // An EOA buyer with USDC.
    let buyer = stack.devnet.dev_keys()[4].clone();
    stack.devnet.mint_usdc(buyer.address(), U256::from(1_000_000u64)).await.unwrap();
    let before = usdc_of(&stack, seller).await;

    let report = reference_pay(&format!("{url}/answer"), &buyer).await;
    assert_eq!(report["status"], 200, "{report}");
    assert_eq!(report["body"]["answer"], 42, "{report}");
    assert_eq!(report["paymentResponse"]["success"], true, "{report}");
    assert_eq!(
        usdc_of(&stack, seller).await - before,
        U256::from(CENT),
        "paid into the leash account"
    );

    // Without paying: 402 with the offer; the reference client reads it as such.
    let unpaid = reqwest::get(format!("{url}/answer")).await.unwrap();
    assert_eq!(unpaid.status(), 402);
    assert!(unpaid.headers().contains_key("payment-required"));
}

#[tokio::test]
async fn one_payment_sent_twice_at_once_is_served_once() {
    let stack = stack().await;
    let (agent, _) = granted(&stack, example(&stack, "x402-payments.toml", &[])).await;
    let facilitator = facilitator(&stack).await;
    let usdc = stack.deployment().usdc;
    let price = common::price(&stack, ANSWERS, CENT);
    let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = served.clone();
    let paywall =
        Arc::new(Paywall::new(price.clone(), Arc::new(RemoteFacilitator::new(&facilitator.url))));
    let app = Router::new()
        .route(
            "/answer",
            get(move || {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Json(serde_json::json!({ "answer": 42 }))
                }
            }),
        )
        .layer(axum::middleware::from_fn_with_state(paywall, leash_x402::charge));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/answer", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let signed = a_cent(&agent, usdc).await;
    let payload = PaymentPayload {
        x402_version: X402_VERSION,
        resource: None,
        accepted: serde_json::to_value(price.requirements()).unwrap(),
        payload: ExactPayload::from(&signed),
        extensions: None,
    };
    let header = leash_x402::wire::encode_header(&payload);
    let before = usdc_of(&stack, ANSWERS).await;
    let http = reqwest::Client::new();
    let send = || http.get(&url).header("payment-signature", &header).send();
    let (first, second) = tokio::join!(send(), send());
    let mut statuses = vec![first.unwrap().status().as_u16(), second.unwrap().status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 402], "one request served, the other refused");
    // Sent again later, the nonce is spent.
    assert_eq!(send().await.unwrap().status().as_u16(), 402);
    // Hostile headers: each gets 402 with what was wrong, and the handler does not run.
    let reason = |answer: reqwest::Response| {
        let header = answer.headers().get("payment-required").expect("the offer again").clone();
        let required: leash_x402::wire::PaymentRequired =
            leash_x402::wire::decode_header("payment-required", header.as_bytes()).unwrap();
        required.error.unwrap_or_default()
    };
    let garbled =
        http.get(&url).header("payment-signature", "!!not base64!!").send().await.unwrap();
    assert_eq!(garbled.status().as_u16(), 402);
    assert!(reason(garbled).contains("not base64"));
    let not_x402 = leash_x402::wire::encode_header(&serde_json::json!({ "hello": 1 }));
    let wrong = http.get(&url).header("payment-signature", &not_x402).send().await.unwrap();
    assert!(reason(wrong).contains("not an x402 message"));
    let mut cheaper = payload.clone();
    cheaper.accepted["amount"] = serde_json::json!("1");
    let cheaper = leash_x402::wire::encode_header(&cheaper);
    let offer = http.get(&url).header("payment-signature", &cheaper).send().await.unwrap();
    assert!(reason(offer).contains("not for this resource's offer"));
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1, "the handler ran once");
    assert_eq!(usdc_of(&stack, ANSWERS).await - before, U256::from(CENT), "paid once");
}

#[tokio::test]
async fn a_payment_too_close_to_the_end_of_its_period_is_refused_before_signing() {
    let stack = stack().await;
    let (agent, _) = granted(&stack, example(&stack, "x402-payments.toml", &[])).await;
    // Ten seconds before the day ends: an authorisation would expire before a facilitator could settle it.
    let now = stack.chain.now().await.unwrap();
    let midnight = (now / 86_400 + 1) * 86_400;
    stack.set_clock(midnight - 10).await.unwrap();
    let request = leash_sdk::TransferRequest {
        token: stack.deployment().usdc,
        to: ANSWERS,
        value: U256::from(CENT),
        valid_for: std::time::Duration::from_secs(300),
    };
    let error = agent.authorize_transfer(&request).await.unwrap_err();
    assert_eq!(error.rule(), Some("PeriodEnding"), "{error}");
    assert!(error.to_string().contains(&format!("the next period opens at {midnight}")), "{error}");
    // In the next period it is signed, in its first slot.
    stack.set_clock(midnight).await.unwrap();
    let signed = agent.authorize_transfer(&request).await.unwrap();
    assert_eq!(signed.slot.map(|(_, slot)| slot), Some(0));
    assert_eq!(signed.valid_after, midnight - 1, "valid from the period's first second");
}
