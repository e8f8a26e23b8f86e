//! What one send costs the node and the key: the chain reads of a send take the same number of round trips
//! whatever the number of the session's actions, and the session key signs each sent operation once (the gas
//! estimate carries a stub signature of the right shape).

use crate::common;

use alloy::{
    primitives::{Address, Bytes, B256},
    providers::{Provider, ProviderBuilder},
    rpc::client::RpcClient,
    transports::{
        http::{reqwest::Client, Http},
        BoxTransport, TransportError, TransportFut,
    },
};
use alloy_json_rpc::{RequestPacket, ResponsePacket};
use async_trait::async_trait;
use common::{transfer, usdc, Stack};
use leash_core::{Action, Condition, PublicKey, Session, SessionPolicy, Timestamp};
use leash_sdk::{
    lanes::Lane,
    signer::{EcdsaSigner, P256Signer, SessionSigner, SignerError, SignerKind, WebAuthnSigner},
    Chain, SessionAgent,
};
use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    task::{Context, Poll},
};

/// A transport that counts the HTTP round trips (a batch is one) and the JSON-RPC requests it carries.
#[derive(Clone, Debug)]
struct Counting {
    inner: BoxTransport,
    round_trips: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

impl tower::Service<RequestPacket> for Counting {
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: RequestPacket) -> Self::Future {
        self.round_trips.fetch_add(1, Ordering::SeqCst);
        let requests = match &request {
            RequestPacket::Single(_) => 1,
            RequestPacket::Batch(batch) => batch.len(),
        };
        self.requests.fetch_add(requests, Ordering::SeqCst);
        self.inner.call(request)
    }
}

/// A session key that counts its signatures.
#[derive(Debug)]
struct CountingSigner {
    inner: Arc<dyn SessionSigner>,
    signed: AtomicUsize,
}

#[async_trait]
impl SessionSigner for CountingSigner {
    fn kind(&self) -> SignerKind {
        self.inner.kind()
    }

    fn signer_bytes(&self) -> Bytes {
        self.inner.signer_bytes()
    }

    async fn sign_digest(&self, digest: B256) -> Result<Bytes, SignerError> {
        self.signed.fetch_add(1, Ordering::SeqCst);
        self.inner.sign_digest(digest).await
    }

    fn stub_signature(&self, digest: B256) -> Bytes {
        self.inner.stub_signature(digest)
    }
}

fn recipient(i: usize) -> Address {
    Address::left_padding_from(&(0x5eed_0000u64 + i as u64).to_be_bytes())
}

/// A session with `actions` actions: a USDC transfer to each of `actions` recipients.
fn policy(stack: &Stack, actions: usize) -> SessionPolicy {
    let mut builder = SessionPolicy::builder()
        .name(format!("{actions} recipients"))
        .valid_until(Timestamp::parse("2030-01-01T00:00:00Z").unwrap());
    for i in 0..actions {
        builder = builder.action(
            Action::call(stack.usdc(), "transfer(address to, uint256 amount)")
                .unwrap()
                .with_arg_rule("to", Condition::Eq(recipient(i).into_word().into()))
                .unwrap(),
        );
    }
    builder.build().unwrap()
}

/// `stack`'s chain read through a counting transport.
async fn counted_chain(stack: &Stack) -> (Chain, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let round_trips = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let transport = Counting {
        inner: BoxTransport::new(Http::<Client>::new(stack.devnet.rpc_url().clone())),
        round_trips: round_trips.clone(),
        requests: requests.clone(),
    };
    let provider = ProviderBuilder::new().connect_client(RpcClient::new(transport, true)).erased();
    let chain = Chain::connect(provider, stack.chain.module, stack.devnet.rpc_url().to_string())
        .await
        .unwrap();
    (chain, round_trips, requests)
}

fn agent(
    stack: &Stack,
    chain: Chain,
    policy: SessionPolicy,
    signer: Arc<dyn SessionSigner>,
) -> SessionAgent {
    let key = PublicKey { kind: signer.kind(), public: signer.signer_bytes() };
    let session = Session { key, policy };
    SessionAgent::builder(chain, stack.account.address, session, signer)
        .submitter(stack.submitter.clone())
        .tokens(stack.tokens())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_send_reads_the_chain_in_as_many_round_trips_whatever_the_number_of_actions() {
    let stack = Stack::start_bundled().await;
    let mut counts = Vec::new();
    for actions in [1, 20] {
        let (chain, round_trips, requests) = counted_chain(&stack).await;
        let agent = agent(&stack, chain, policy(&stack, actions), Arc::new(EcdsaSigner::random()));
        stack.owner.grant(&stack.chain, &stack.submitter, agent.session()).await.unwrap();
        round_trips.store(0, Ordering::SeqCst);
        requests.store(0, Ordering::SeqCst);
        let call = transfer(stack.usdc(), recipient(actions - 1), usdc(1));
        agent.send(&[call], Lane::from(0)).await.unwrap();
        let counted = (round_trips.load(Ordering::SeqCst), requests.load(Ordering::SeqCst));
        eprintln!(
            "a session of {actions} action(s): {} round trips, {} requests",
            counted.0, counted.1
        );
        counts.push(counted);
    }
    assert_eq!(counts[0].0, counts[1].0, "round trips grow with the number of actions: {counts:?}");
}

#[tokio::test]
async fn the_session_key_signs_each_sent_operation_once() {
    let stack = Stack::start_bundled().await;
    let signers: [Arc<dyn SessionSigner>; 3] = [
        Arc::new(EcdsaSigner::random()),
        Arc::new(P256Signer::random()),
        Arc::new(WebAuthnSigner::random()),
    ];
    for inner in signers {
        let kind = inner.kind();
        let signer = Arc::new(CountingSigner { inner, signed: AtomicUsize::new(0) });
        let agent = agent(&stack, stack.chain.clone(), policy(&stack, 2), signer.clone());
        stack.owner.grant(&stack.chain, &stack.submitter, agent.session()).await.unwrap();
        for sent in 1..=2 {
            let call = transfer(stack.usdc(), recipient(1), usdc(1));
            agent.send(&[call], Lane::from(0)).await.unwrap();
            assert_eq!(signer.signed.load(Ordering::SeqCst), sent, "{kind:?}");
        }
    }
}
