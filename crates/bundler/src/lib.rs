//! `leash-bundler`: a local ERC-4337 bundler for EntryPoint v0.7 that enforces the ERC-7562 validation rules.
//!
//! Where it sits (docs/architecture.md): beside the SDK, on `leash-userop` and `leash-contracts` only; it knows
//! nothing of leash's policies and passes the account's revert data on for the client to read.
//!
//! It serves the standard JSON-RPC methods (`eth_sendUserOperation`, `eth_estimateUserOperationGas`,
//! `eth_getUserOperationByHash`, `eth_getUserOperationReceipt`, `eth_supportedEntryPoints`, `eth_chainId`).
//! Each operation is simulated with `simulateValidation` (the EntryPoint's `EntryPointSimulations` code in a
//! state override) under a JavaScript `debug_traceCall` tracer; the opcode and storage rules are judged on
//! what the tracer saw, and a refusal carries the rule's code (`OP-011`, `STO-021`, ...) and the standard
//! error code. Accepted operations are bundled into `handleOps` transactions a few milliseconds later,
//! validated together first, and their receipts are served from the EntryPoint's events.
//!
//! ```no_run
//! use leash_bundler::{BundlerConfig, LocalBundler};
//! # async fn run(rpc_url: alloy::transports::http::reqwest::Url, key: alloy::signers::local::PrivateKeySigner)
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! let bundler = LocalBundler::start(BundlerConfig::new(rpc_url, key)).await?;
//! println!("bundler at {}", bundler.url());
//! # Ok(()) }
//! ```

mod bundle;
pub mod error;
mod mempool;
pub mod rules;
mod server;
pub mod simulate;
pub mod trace;

pub use error::RpcError;
pub use mempool::SAME_SENDER_MEMPOOL_COUNT;
pub use simulate::StakePolicy;

use alloy::{
    network::EthereumWallet,
    primitives::{Address, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
    transports::http::reqwest::Url,
};
use leash_contracts::ENTRYPOINT_V07;
use std::{
    fmt,
    net::{Ipv4Addr, SocketAddr},
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::{sync::Notify, task::JoinHandle};

/// How to run a [`LocalBundler`].
#[derive(Clone)]
pub struct BundlerConfig {
    /// The node (it must answer `debug_traceCall` with JavaScript tracers and state overrides, as anvil does).
    pub rpc_url: Url,
    /// The key that signs and pays for bundle transactions.
    pub signer: PrivateKeySigner,
    /// Where the EntryPoint refunds go; the signer's address when `None`.
    pub beneficiary: Option<Address>,
    /// The EntryPoint served.
    pub entry_point: Address,
    /// Where to listen; 127.0.0.1 on a port the system picks by default.
    pub listen: SocketAddr,
    /// What counts as staked.
    pub stake: StakePolicy,
    /// The most operations in one bundle.
    pub max_bundle_size: usize,
    /// How long to wait for more operations before bundling.
    pub bundle_delay: Duration,
}

impl fmt::Debug for BundlerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BundlerConfig")
            .field("rpc_url", &self.rpc_url.as_str())
            .field("signer", &self.signer.address())
            .field("entry_point", &self.entry_point)
            .field("listen", &self.listen)
            .field("stake", &self.stake)
            .field("max_bundle_size", &self.max_bundle_size)
            .field("bundle_delay", &self.bundle_delay)
            .finish_non_exhaustive()
    }
}

impl BundlerConfig {
    /// Defaults: EntryPoint v0.7 at its canonical address, 127.0.0.1 on a free port, stake of at least 1 ETH
    /// locked for a day (ERC-7562 `MIN_UNSTAKE_DELAY`), bundles of up to 32 operations after 5 ms.
    pub fn new(rpc_url: Url, signer: PrivateKeySigner) -> Self {
        Self {
            rpc_url,
            signer,
            beneficiary: None,
            entry_point: ENTRYPOINT_V07,
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            stake: StakePolicy {
                min_stake: U256::from(10).pow(U256::from(18)),
                min_unstake_delay: 86_400,
            },
            max_bundle_size: 32,
            bundle_delay: Duration::from_millis(5),
        }
    }

    fn beneficiary(&self) -> Address {
        self.beneficiary.unwrap_or_else(|| self.signer.address())
    }
}

/// Why the bundler could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The node did not answer.
    #[error("the node at {url} did not answer eth_chainId: {message}")]
    Node {
        /// The node's URL (scheme, host and port).
        url: String,
        /// The error.
        message: String,
    },
    /// The EntryPoint has no code on that chain.
    #[error("no EntryPoint at {0} on this chain; deploy EntryPoint v0.7 first (the devnet does)")]
    NoEntryPoint(Address),
    /// The listening address is taken or not allowed.
    #[error("cannot listen on {address}: {message}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// The error.
        message: String,
    },
}

pub(crate) struct State {
    config: BundlerConfig,
    chain_id: u64,
    /// Reads and simulations.
    provider: DynProvider,
    /// Signs and sends bundles.
    wallet: DynProvider,
    pool: Mutex<mempool::Mempool>,
    wake: Notify,
}

/// A running bundler; dropping it stops it.
pub struct LocalBundler {
    url: Url,
    state: Arc<State>,
    tasks: Vec<JoinHandle<()>>,
}

impl fmt::Debug for LocalBundler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalBundler").field("url", &self.url.as_str()).finish_non_exhaustive()
    }
}

impl LocalBundler {
    /// Connects to the node, checks the EntryPoint, and starts serving and bundling.
    pub async fn start(config: BundlerConfig) -> Result<Self, StartError> {
        let node = || config.rpc_url.origin().ascii_serialization();
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_http(config.rpc_url.clone())
            .erased();
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| StartError::Node { url: node(), message: e.to_string() })?;
        let code = provider
            .get_code_at(config.entry_point)
            .await
            .map_err(|e| StartError::Node { url: node(), message: e.to_string() })?;
        if code.is_empty() {
            return Err(StartError::NoEntryPoint(config.entry_point));
        }
        let wallet = ProviderBuilder::new()
            .wallet(EthereumWallet::from(config.signer.clone()))
            .connect_http(config.rpc_url.clone())
            .erased();

        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| StartError::Listen { address: config.listen, message: e.to_string() })?;
        let address = listener
            .local_addr()
            .map_err(|e| StartError::Listen { address: config.listen, message: e.to_string() })?;
        let url: Url = format!("http://{address}").parse().expect("a socket address is a URL");

        let state = Arc::new(State {
            config,
            chain_id,
            provider,
            wallet,
            pool: Mutex::new(mempool::Mempool::default()),
            wake: Notify::new(),
        });
        let app = axum::Router::new()
            .route("/", axum::routing::post(server::handle))
            .with_state(state.clone());
        let serving = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the bundler's server stopped");
            }
        });
        let bundling = tokio::spawn(bundle::run(state.clone()));
        tracing::info!(%url, chain_id, "bundler listening");
        Ok(Self { url, state, tasks: vec![serving, bundling] })
    }

    /// The JSON-RPC URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The EntryPoint served.
    pub fn entry_point(&self) -> Address {
        self.state.config.entry_point
    }

    /// The chain's id.
    pub fn chain_id(&self) -> u64 {
        self.state.chain_id
    }

    /// Operations waiting for a bundle.
    pub fn waiting(&self) -> usize {
        self.state.pool.lock().expect("mempool lock").waiting()
    }
}

impl Drop for LocalBundler {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
