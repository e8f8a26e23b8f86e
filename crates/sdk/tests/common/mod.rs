//! The local stack every integration test runs on: anvil with EntryPoint v0.7 at its canonical address, the
//! module, the factory and the devnet assets; one owner with a funded, counterfactual account.

#![allow(dead_code, unreachable_pub)]

use alloy::{
    primitives::{Address, B256, U256},
    providers::DynProvider,
    signers::local::PrivateKeySigner,
};
use leash_core::{PolicyContext, PolicyFile, PublicKey, Session, SessionPolicy, TokenTable};
use leash_devnet::{Deployment, Devnet};
use leash_sdk::{
    signer::{EcdsaSigner, SessionSigner},
    Chain, Owner, SessionAgent, SmartAccount, Submitter,
};
use std::{path::Path, sync::Arc};

pub struct Stack {
    pub devnet: Devnet,
    pub chain: Chain,
    pub owner: Owner,
    pub account: SmartAccount,
    pub submitter: Arc<Submitter>,
    /// The local bundler, when the stack sends through one ([`Stack::start_bundled`]).
    pub bundler: Option<leash_bundler::LocalBundler>,
}

pub const ETH: u128 = 1_000_000_000_000_000_000;

/// 2026-06-01T00:00:00Z.
pub const GENESIS: u64 = 1_780_272_000;

/// A devnet on `chain_id` whose clock starts at [`GENESIS`].
pub async fn devnet(chain_id: u64) -> Devnet {
    Devnet::builder()
        .chain_id(chain_id)
        .arg("--timestamp")
        .arg(GENESIS.to_string())
        .start()
        .await
        .expect("devnet starts")
}

/// The devnet's addresses, its provider and the chain with its module.
async fn connect(devnet: &Devnet) -> (Deployment, DynProvider, Chain) {
    let deployment = devnet.deployment().expect("deployed").clone();
    let provider: DynProvider = devnet.provider().clone();
    let chain = Chain::connect(
        provider.clone(),
        deployment.session_key_validator,
        devnet.rpc_url().to_string(),
    )
    .await
    .unwrap();
    (deployment, provider, chain)
}

impl Stack {
    /// A devnet with an owner whose account is deployed, funded with 10 ETH and 10,000 USDC. Its clock starts at
    /// [`GENESIS`] whatever the date, so the tests' dates (the example policies run in 2026-2027) never expire.
    pub async fn start() -> Stack {
        Self::start_with(devnet(31_337).await, B256::ZERO).await
    }

    pub async fn start_with(devnet: Devnet, salt: B256) -> Stack {
        let (deployment, provider, chain) = connect(&devnet).await;
        let owner_key = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x42)).unwrap();
        let account = SmartAccount::counterfactual(
            &provider,
            deployment.account_factory,
            owner_key.address(),
            salt,
            vec![deployment.session_key_validator],
        )
        .await
        .unwrap();
        devnet.fund(account.address, U256::from(10 * ETH)).await.unwrap();
        devnet.mint_usdc(account.address, U256::from(10_000_000_000u64)).await.unwrap();
        let submitter = Arc::new(Submitter::direct(provider, devnet.dev_accounts()[0]));
        let owner = Owner::new(owner_key, account.clone()).unwrap();
        // Deploy the account with an empty owner batch.
        owner.execute(&chain, &submitter, &[]).await.expect("account deploys");
        Stack { devnet, chain, owner, account, submitter, bundler: None }
    }

    /// A devnet whose account is an EOA (EIP-7702), funded with 10 ETH and 10,000 USDC, that has delegated to
    /// the account implementation by its own type-4 transaction.
    pub async fn start_eip7702() -> Stack {
        let devnet = devnet(31_337).await;
        let (deployment, provider, chain) = connect(&devnet).await;
        let owner_key = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x43)).unwrap();
        let account = SmartAccount::eip7702(
            owner_key.address(),
            deployment.account_implementation,
            vec![deployment.session_key_validator],
        );
        devnet.fund(account.address, U256::from(10 * ETH)).await.unwrap();
        devnet.mint_usdc(account.address, U256::from(10_000_000_000u64)).await.unwrap();
        let submitter = Arc::new(Submitter::direct(provider, devnet.dev_accounts()[0]));
        let owner = Owner::new(owner_key, account.clone()).unwrap();
        owner.delegate(&chain).await.expect("the EOA delegates").expect("a transaction");
        Stack { devnet, chain, owner, account, submitter, bundler: None }
    }

    /// Like [`Stack::start`], but every operation after the account's deployment goes through the local bundler,
    /// which enforces the ERC-7562 validation rules.
    pub async fn start_bundled() -> Stack {
        Self::start().await.bundled().await
    }

    /// From now on, operations go through the local bundler.
    pub async fn bundled(self) -> Stack {
        let mut stack = self;
        let key = stack.devnet.dev_keys().last().unwrap().clone();
        let config = leash_bundler::BundlerConfig::new(stack.devnet.rpc_url().clone(), key);
        let bundler = leash_bundler::LocalBundler::start(config).await.expect("the bundler starts");
        let client = leash_sdk::bundler::BundlerClient::new(bundler.url().as_str()).unwrap();
        stack.submitter = Arc::new(Submitter::Bundler(client));
        stack.bundler = Some(bundler);
        stack
    }

    pub fn deployment(&self) -> &Deployment {
        self.devnet.deployment().unwrap()
    }

    pub fn usdc(&self) -> Address {
        self.deployment().usdc
    }

    pub fn tokens(&self) -> TokenTable {
        let mut tokens = TokenTable::default();
        for (symbol, token) in &self.deployment().tokens {
            tokens.insert(symbol.clone(), token.address, token.decimals);
        }
        tokens
    }

    /// The policy context of this devnet: its tokens, its contracts by name, and the account.
    pub fn context(&self) -> PolicyContext {
        let d = self.deployment();
        let mut context = PolicyContext {
            tokens: self.tokens(),
            account: Some(self.account.address),
            ..Default::default()
        };
        for (name, address) in d.named_contracts() {
            context.addresses.insert(name.into(), address);
        }
        context
    }

    pub fn example(&self, name: &str) -> SessionPolicy {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies").join(name);
        PolicyFile::load(path, &self.context()).expect("example policy reads")
    }

    /// An agent for `policy` with a fresh ECDSA key.
    pub fn agent(&self, policy: SessionPolicy) -> SessionAgent {
        self.agent_with(policy, Arc::new(EcdsaSigner::random()))
    }

    pub fn agent_with(
        &self,
        policy: SessionPolicy,
        signer: Arc<dyn SessionSigner>,
    ) -> SessionAgent {
        let key = PublicKey { kind: signer.kind(), public: signer.signer_bytes() };
        let session = Session { key, policy };
        SessionAgent::builder(self.chain.clone(), self.account.address, session, signer)
            .submitter(self.submitter.clone())
            .tokens(self.tokens())
            .build()
            .unwrap()
    }

    pub async fn usdc_balance(&self, who: Address) -> U256 {
        leash_contracts::bindings::DevToken::new(self.usdc(), self.devnet.provider())
            .balanceOf(who)
            .call()
            .await
            .unwrap()
    }
}

/// The merchant the tests' sessions pay.
pub const MERCHANT: Address =
    alloy::primitives::address!("4d65726368616e74000000000000000000000001");

/// Transfers of the stack's USDC to [`MERCHANT`] only, at most `cap` USDC a calendar month, until 2030.
pub fn pay_merchant_policy(stack: &Stack, cap: u64) -> SessionPolicy {
    use leash_core::{Action, Condition, Period, Timestamp};
    SessionPolicy::builder()
        .name("pay the merchant")
        .valid_until(Timestamp::parse("2030-01-01T00:00:00Z").unwrap())
        .action(
            Action::call(stack.usdc(), "transfer(address to, uint256 amount)")
                .unwrap()
                .with_arg_rule("to", Condition::Eq(MERCHANT.into_word().into()))
                .unwrap()
                .with_amount_cap("amount", alloy::primitives::aliases::U96::from(cap * 1_000_000))
                .unwrap()
                .with_period(Period::monthly()),
        )
        .build()
        .unwrap()
}

pub fn usdc(amount: u64) -> U256 {
    U256::from(amount) * U256::from(1_000_000u64)
}

pub fn transfer(token: Address, to: Address, amount: U256) -> leash_core::Call {
    leash_core::Call {
        target: token,
        value: U256::ZERO,
        data: leash_core::encode_call(
            "transfer(address,uint256)",
            &[to.into_word().into(), amount],
        )
        .unwrap(),
    }
}

/// Sends `calls` and expects them to land.
pub async fn lands(agent: &SessionAgent, calls: &[leash_core::Call], step: &str) {
    match agent.send(calls, leash_sdk::lanes::Lane::from(0)).await {
        Ok(sent) => assert!(sent.outcome.success, "{step}: the calls reverted"),
        Err(error) => panic!("{step}: expected to land, got {error}"),
    }
}

/// Expects the pre-flight to refuse `calls` with `rule`, before anything is signed.
pub async fn refused(agent: &SessionAgent, calls: &[leash_core::Call], rule: &str, step: &str) {
    let error = match agent.send(calls, leash_sdk::lanes::Lane::from(0)).await {
        Ok(_) => panic!("{step}: expected {rule} before signing, but the operation landed"),
        Err(error) => error,
    };
    assert!(matches!(error, leash_sdk::Error::PreFlight { .. }), "{step}: {error}");
    assert_eq!(error.rule(), Some(rule), "{step}: {error}");
}

/// Expects the pre-flight to refuse `calls` with `rule`, and the chain to refuse them with the same rule when
/// they are signed and sent anyway.
pub async fn refused_everywhere(
    agent: &SessionAgent,
    calls: &[leash_core::Call],
    rule: &str,
    step: &str,
) {
    refused(agent, calls, rule, step).await;
    let error = match agent.send_unchecked(calls, leash_sdk::lanes::Lane::from(0)).await {
        Ok(sent) => {
            panic!("{step}: expected the chain to refuse with {rule}, it included {sent:?}")
        }
        Err(error) => error,
    };
    assert!(matches!(error, leash_sdk::Error::Rejected { .. }), "{step}: {error}");
    assert_eq!(error.rule(), Some(rule), "{step}: {error}");
    assert!(error.to_string().contains("AA23"), "{step}: {error}");
}

pub async fn token_balance(stack: &Stack, token: Address, who: Address) -> U256 {
    leash_contracts::bindings::DevToken::new(token, stack.devnet.provider())
        .balanceOf(who)
        .call()
        .await
        .unwrap()
}

pub fn approve(token: Address, spender: Address, amount: U256) -> leash_core::Call {
    leash_core::Call {
        target: token,
        value: U256::ZERO,
        data: leash_core::encode_call(
            "approve(address,uint256)",
            &[spender.into_word().into(), amount],
        )
        .unwrap(),
    }
}
