//! [`LocalStack`]: the devnet, the local bundler, and an owner with a deployed, funded smart account.

use crate::{Deployment, Devnet};
use alloy::sol_types::SolCall;
use alloy::{
    primitives::{Address, B256, U256},
    providers::DynProvider,
    signers::local::PrivateKeySigner,
};
use leash_bundler::{BundlerConfig, LocalBundler};
use leash_core::{Call, PolicyContext, PublicKey, Session, SessionPolicy, TokenTable};
use leash_sdk::{
    bundler::BundlerClient,
    signer::{EcdsaSigner, SessionSigner},
    Chain, OpOutcome, Owner, SessionAgent, SmartAccount, Submitter,
};
use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
};

alloy::sol! {
    /// The EntryPoint's stake manager: locks the caller's stake.
    function addStake(uint32 unstakeDelaySec) external payable;
}

/// One ether, in wei.
pub const ETH: u128 = 1_000_000_000_000_000_000;

/// The chain's clock at start: 2026-06-01T00:00:00Z, whatever today's date, so that the scenarios' dates
/// (2026-2027) are always ahead.
pub const GENESIS: u64 = 1_780_272_000;

/// Why the stack could not start.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// anvil or the deployment failed.
    #[error(transparent)]
    Devnet(#[from] crate::DevnetError),
    /// The bundler failed to start.
    #[error(transparent)]
    Bundler(#[from] leash_bundler::StartError),
    /// The SDK refused (connecting, deploying the account).
    #[error(transparent)]
    Sdk(#[from] leash_sdk::Error),
    /// Any other step.
    #[error("{0}")]
    Setup(String),
}

/// How to start a [`LocalStack`].
#[derive(Clone, Debug)]
pub struct StackOptions {
    /// The chain id.
    pub chain_id: u64,
    /// The owner's key (a fixed development key by default).
    pub owner_key: B256,
    /// The account's CREATE2 salt.
    pub salt: B256,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self { chain_id: 31_337, owner_key: B256::repeat_byte(0x42), salt: B256::ZERO }
    }
}

/// A running local stack: anvil with EntryPoint v0.7 and the leash contracts, the local bundler, and an owner
/// whose account is deployed (through the bundler) and holds 10 ETH, 10,000 USDC and a 1 ETH EntryPoint
/// deposit.
#[derive(Debug)]
pub struct LocalStack {
    /// The chain.
    pub devnet: Devnet,
    /// The bundler serving it.
    pub bundler: LocalBundler,
    /// The chain as the SDK sees it.
    pub chain: Chain,
    /// The owner.
    pub owner: Owner,
    /// The owner's account.
    pub account: SmartAccount,
    /// Sends through the bundler.
    pub submitter: Arc<Submitter>,
}

impl LocalStack {
    /// Starts a stack with the default options.
    pub async fn start() -> Result<Self, StackError> {
        Self::start_with(StackOptions::default()).await
    }

    /// Starts a stack.
    pub async fn start_with(options: StackOptions) -> Result<Self, StackError> {
        let devnet = Devnet::builder()
            .chain_id(options.chain_id)
            .arg("--timestamp")
            .arg(GENESIS.to_string())
            .start()
            .await?;
        let deployment = devnet.deployment().expect("the devnet deploys the stack").clone();
        let bundler = start_bundler(&devnet, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        let provider: DynProvider = devnet.provider().clone();
        let chain = Chain::connect(
            provider.clone(),
            deployment.session_key_validator,
            devnet.rpc_url().to_string(),
        )
        .await?;
        let submitter = Arc::new(Submitter::Bundler(bundler_client(&bundler)?));

        let owner_key = PrivateKeySigner::from_bytes(&options.owner_key)
            .map_err(|e| StackError::Setup(format!("owner key: {e}")))?;
        let account = SmartAccount::counterfactual(
            &provider,
            // The staked front of the factory: a new account's first session operation may then grant the
            // session too (ERC-7562 STO-022).
            deployment.factory_staker,
            owner_key.address(),
            options.salt,
            vec![deployment.session_key_validator],
        )
        .await?;
        devnet.fund(account.address, U256::from(10 * ETH)).await?;
        devnet.mint_usdc(account.address, U256::from(10_000_000_000u64)).await?;
        devnet.deposit_to_entry_point(account.address, U256::from(ETH)).await?;
        let owner = Owner::new(owner_key, account.clone())?;
        // The account deploys with the owner's first (empty) operation, through the bundler.
        owner.execute(&chain, &submitter, &[]).await?;
        Ok(Self { devnet, bundler, chain, owner, account, submitter })
    }

    /// What the devnet deployed.
    pub fn deployment(&self) -> &Deployment {
        self.devnet.deployment().expect("the devnet deploys the stack")
    }

    /// A client for the local bundler.
    pub fn bundler_client(&self) -> BundlerClient {
        bundler_client(&self.bundler).expect("the bundler's URL is valid")
    }

    /// The devnet's tokens by symbol.
    pub fn tokens(&self) -> TokenTable {
        let mut tokens = TokenTable::default();
        for (symbol, token) in &self.deployment().tokens {
            tokens.insert(symbol.clone(), token.address, token.decimals);
        }
        tokens
    }

    /// The policy context: the devnet's tokens, its contracts by name (`router`, `game`, `vault`), and the
    /// account as `self`.
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

    /// An agent for `policy` with a fresh ECDSA session key, sending through the bundler.
    pub fn agent(&self, policy: SessionPolicy) -> Result<SessionAgent, StackError> {
        self.agent_with(policy, Arc::new(EcdsaSigner::random()))
    }

    /// An agent for `policy` signing with `signer`.
    pub fn agent_with(
        &self,
        policy: SessionPolicy,
        signer: Arc<dyn SessionSigner>,
    ) -> Result<SessionAgent, StackError> {
        let session = Session {
            key: PublicKey { kind: signer.kind(), public: signer.signer_bytes() },
            policy,
        };
        Ok(SessionAgent::builder(self.chain.clone(), self.account.address, session, signer)
            .submitter(self.submitter.clone())
            .tokens(self.tokens())
            .build()?)
    }

    /// Moves the chain's clock to `time` and mines a block there, so that the next operation is judged at
    /// `time`.
    pub async fn set_clock(&self, time: u64) -> Result<(), StackError> {
        self.devnet.set_next_block_timestamp(time).await?;
        self.devnet.mine().await?;
        Ok(())
    }

    /// Stakes the account with the EntryPoint (`wei` locked for a day), by the owner. A staked account may
    /// have any number of operations waiting in the bundler's mempool (ERC-7562 UREP-011), which parallel
    /// lanes need; an unstaked one may have 4 (UREP-010).
    pub async fn stake_account(&self, wei: U256) -> Result<OpOutcome, StackError> {
        let data = addStakeCall { unstakeDelaySec: 86_400 }.abi_encode();
        let call = Call { target: self.chain.entry_point, value: wei, data: data.into() };
        Ok(self.owner.execute(&self.chain, &self.submitter, &[call]).await?)
    }

    /// The account's balance of `token`.
    pub async fn balance_of(&self, token: Address, who: Address) -> Result<U256, StackError> {
        leash_contracts::bindings::DevToken::new(token, self.devnet.provider())
            .balanceOf(who)
            .call()
            .await
            .map_err(|e| StackError::Setup(format!("balanceOf: {e}")))
    }
}

/// Starts a bundler for `devnet` on `listen`. The devnet's last development key signs the bundles, so the others
/// stay free for tests and scenarios.
pub async fn start_bundler(
    devnet: &Devnet,
    listen: SocketAddr,
) -> Result<LocalBundler, StackError> {
    let key = devnet.dev_keys().last().expect("anvil has development keys").clone();
    let mut config = BundlerConfig::new(devnet.rpc_url().clone(), key);
    config.listen = listen;
    Ok(LocalBundler::start(config).await?)
}

fn bundler_client(bundler: &LocalBundler) -> Result<BundlerClient, StackError> {
    BundlerClient::new(bundler.url().as_str())
        .map(|client| client.with_entry_point(bundler.entry_point()))
        .map_err(|e| StackError::Setup(format!("bundler client: {e}")))
}
