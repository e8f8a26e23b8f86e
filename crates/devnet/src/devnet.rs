//! [`Devnet`]: a running anvil with the leash stack, and the cheat-code helpers tests use.

use std::{
    collections::HashMap,
    ffi::OsString,
    fmt,
    sync::{Mutex, OnceLock},
    time::{Duration, Instant},
};

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
    transports::http::reqwest::{self, Url},
};
use leash_contracts::bindings::{DevToken, EntryPoint};

use crate::{
    anvil::{find_anvil, AnvilProcess, Banner},
    builder::{DevnetBuilder, Mining},
    deploy::{self, Deployment},
    error::{DevnetError, Result},
    rpc::{client, rpc_url, unsigned, wait_for_receipt, wait_for_rpc, with_wallet},
};

/// How long a helper waits for its transaction beyond one block interval.
const TX_TIMEOUT: Duration = Duration::from_secs(30);

/// An id from [`Devnet::snapshot`], for [`Devnet::revert`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshot(pub U256);

/// A running local chain: anvil with EntryPoint v0.7, the leash contracts and test assets deployed.
///
/// Dropping it stops anvil and waits for it to exit. If the process holding it dies instead (a panic that
/// aborts, SIGKILL, Ctrl-C), Linux kills anvil too (`PR_SET_PDEATHSIG`).
pub struct Devnet {
    rpc_url: Url,
    chain_id: u64,
    dev_keys: Vec<PrivateKeySigner>,
    provider: DynProvider,
    /// Sends unsigned transactions, for the deployer that anvil impersonates.
    deployer_provider: DynProvider,
    deployment: Option<Deployment>,
    mining: Mining,
    /// Serialises the helpers' transactions from the deployer, so their nonces never collide.
    deployer_lock: tokio::sync::Mutex<()>,
    process: AnvilProcess,
}

impl fmt::Debug for Devnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Devnet")
            .field("rpc_url", &self.rpc_url.as_str())
            .field("chain_id", &self.chain_id)
            .field("pid", &self.process.pid())
            .field("mining", &self.mining)
            .field("deployment", &self.deployment)
            .finish_non_exhaustive()
    }
}

impl Devnet {
    /// Starts a devnet with the defaults of [`DevnetBuilder::new`].
    pub async fn start() -> Result<Self> {
        DevnetBuilder::new().start().await
    }

    /// A builder for anything but the defaults.
    pub fn builder() -> DevnetBuilder {
        DevnetBuilder::new()
    }

    pub(crate) async fn launch(config: DevnetBuilder) -> Result<Self> {
        let started = Instant::now();
        let deadline = started + config.startup_timeout;
        if let Mining::Interval(interval) = config.mining {
            if interval.is_zero() || interval.subsec_nanos() != 0 {
                return Err(DevnetError::InvalidSetting(format!(
                    "block time {interval:?}: anvil's interval mining takes a whole, non-zero number of seconds"
                )));
            }
        }
        let anvil = find_anvil(config.anvil.as_deref())?;
        let mut args: Vec<OsString> = vec![
            "--port".into(),
            config.port.to_string().into(),
            "--chain-id".into(),
            config.chain_id.to_string().into(),
        ];
        if let Some(limit) = deploy::required_code_size_limit() {
            args.extend(["--code-size-limit".into(), limit.to_string().into()]);
        }
        args.extend(config.args.iter().cloned());

        let (mut process, banner) = AnvilProcess::spawn(&anvil, &args)?;
        let timeout = || DevnetError::RpcTimeout { url: None, timeout: config.startup_timeout };
        let banner = match tokio::time::timeout_at(deadline.into(), banner).await {
            Err(_) => return Err(timeout()),
            Ok(Err(_closed)) => return Err(process.exited_error()),
            Ok(Ok(banner)) => banner?,
        };
        let Banner { listen, private_keys } = banner;
        let rpc_url = rpc_url(listen)?;
        let dev_keys = private_keys.iter().map(|key| dev_key(key)).collect::<Result<Vec<_>>>()?;

        // The first dev account signs unless a transaction names another `from`.
        let mut wallet = dev_keys.first().cloned().map(EthereumWallet::new).unwrap_or_default();
        for key in dev_keys.iter().skip(1) {
            wallet.register_signer(key.clone());
        }
        let http = reqwest::Client::new();
        let provider = with_wallet(client(&http, &rpc_url), wallet);
        let deployer_provider = unsigned(client(&http, &rpc_url));
        let chain_id = wait_for_rpc(&provider, &rpc_url, deadline, config.startup_timeout).await?;

        let deployment = if config.bare {
            None
        } else {
            let left = deadline.saturating_duration_since(Instant::now());
            Some(deploy::deploy(&deployer_provider, chain_id, left, config.deployer).await?)
        };

        match config.mining {
            Mining::Auto => {}
            Mining::Interval(interval) => provider
                .raw_request::<_, ()>("evm_setIntervalMining".into(), (interval.as_secs(),))
                .await
                .map_err(DevnetError::rpc("evm_setIntervalMining"))?,
            Mining::Manual => provider
                .raw_request::<_, ()>("evm_setAutomine".into(), (false,))
                .await
                .map_err(DevnetError::rpc("evm_setAutomine"))?,
        }
        tracing::debug!(
            url = %rpc_url,
            chain_id,
            pid = process.pid(),
            elapsed = ?started.elapsed(),
            "devnet ready"
        );

        // Any `?` above drops `process`, which stops anvil.
        Ok(Self {
            rpc_url,
            chain_id,
            dev_keys,
            provider,
            deployer_provider,
            deployment,
            mining: config.mining,
            deployer_lock: tokio::sync::Mutex::new(()),
            process,
        })
    }

    /// The JSON-RPC endpoint (`http://127.0.0.1:<port>`).
    pub fn rpc_url(&self) -> &Url {
        &self.rpc_url
    }

    /// The port anvil listens on.
    pub fn port(&self) -> u16 {
        self.rpc_url.port().unwrap_or_default()
    }

    /// The chain id, as anvil reports it.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The operating system's id of the anvil process.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// anvil's funded dev accounts (10,000 ETH each, from its default mnemonic unless the extra arguments
    /// say otherwise), as signers.
    pub fn dev_keys(&self) -> &[PrivateKeySigner] {
        &self.dev_keys
    }

    /// The addresses of [`Self::dev_keys`].
    pub fn dev_accounts(&self) -> Vec<Address> {
        self.dev_keys.iter().map(PrivateKeySigner::address).collect()
    }

    /// A provider for this devnet whose wallet holds every dev key; transactions are sent from the first
    /// dev account unless they name another `from`. It fills gas, fees, chain id and the nonce, which it
    /// asks anvil for on every transaction, so it stays right after [`Self::revert`] and next to other
    /// providers; two transactions from one account sent concurrently may get the same nonce, so send those
    /// one after the other. It polls for receipts every 10 ms.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// Where the contracts are; `None` when the devnet was started [bare](DevnetBuilder::bare).
    pub fn deployment(&self) -> Option<&Deployment> {
        self.deployment.as_ref()
    }

    /// How blocks are made.
    pub fn mining(&self) -> Mining {
        self.mining
    }

    /// Sets the ETH balance of `address` to `wei` (`anvil_setBalance`).
    pub async fn fund(&self, address: Address, wei: U256) -> Result<()> {
        self.call("anvil_setBalance", (address, wei)).await
    }

    /// Mints `amount` raw units (6 decimals: `1_000_000` is 1 USDC) of the devnet USDC to `to`.
    pub async fn mint_usdc(&self, to: Address, amount: U256) -> Result<()> {
        let usdc = self.deployed("mint_usdc")?.usdc;
        self.mint(usdc, to, amount).await
    }

    /// Mints `amount` raw units of a devnet ERC-20 (`token` must be a `DevToken`: USDC, WETH or DAI) to `to`.
    pub async fn mint(&self, token: Address, to: Address, amount: U256) -> Result<()> {
        let input = DevToken::mintCall { to, amount }.abi_encode();
        self.send_from_deployer(
            "mint",
            TransactionRequest::default().with_to(token).with_input(input),
        )
        .await
    }

    /// Adds `wei` to `account`'s deposit at the EntryPoint (`depositTo`), which pays for its UserOperations.
    /// The devnet's deployer pays; it holds 1e9 ETH.
    pub async fn deposit_to_entry_point(&self, account: Address, wei: U256) -> Result<()> {
        let entry_point = self.deployed("deposit_to_entry_point")?.entry_point;
        let input = EntryPoint::depositToCall { account }.abi_encode();
        let tx =
            TransactionRequest::default().with_to(entry_point).with_input(input).with_value(wei);
        self.send_from_deployer("EntryPoint.depositTo", tx).await
    }

    /// Makes the next block's timestamp `timestamp` (Unix seconds; `evm_setNextBlockTimestamp`). It must be
    /// later than the latest block's.
    pub async fn set_next_block_timestamp(&self, timestamp: u64) -> Result<()> {
        self.call("evm_setNextBlockTimestamp", (timestamp,)).await
    }

    /// Moves the clock forward by `by` (whole seconds) for the blocks to come (`evm_increaseTime`).
    pub async fn increase_time(&self, by: Duration) -> Result<()> {
        self.call::<_, serde::de::IgnoredAny>("evm_increaseTime", (by.as_secs(),)).await.map(drop)
    }

    /// Mines one block now (`evm_mine`), whatever the mining mode.
    pub async fn mine(&self) -> Result<()> {
        self.call::<_, serde::de::IgnoredAny>("evm_mine", ()).await.map(drop)
    }

    /// Records the chain's state (`evm_snapshot`) to go back to with [`Self::revert`].
    pub async fn snapshot(&self) -> Result<Snapshot> {
        self.call("evm_snapshot", ()).await.map(Snapshot)
    }

    /// Puts the chain back to `snapshot` (`evm_revert`). A snapshot can be used once; anvil also drops the
    /// snapshots taken after it.
    pub async fn revert(&self, snapshot: Snapshot) -> Result<()> {
        let reverted: bool = self.call("evm_revert", (snapshot.0,)).await?;
        if reverted {
            Ok(())
        } else {
            Err(DevnetError::UnknownSnapshot(snapshot.0))
        }
    }

    fn deployed(&self, action: &'static str) -> Result<&Deployment> {
        self.deployment.as_ref().ok_or(DevnetError::NotDeployed { action })
    }

    async fn call<P, R>(&self, method: &'static str, params: P) -> Result<R>
    where
        P: serde::Serialize + Clone + fmt::Debug + Send + Sync + Unpin,
        R: serde::de::DeserializeOwned + fmt::Debug + Send + Sync + Unpin + 'static,
    {
        self.provider.raw_request(method.into(), params).await.map_err(DevnetError::rpc(method))
    }

    /// Sends `tx` from the deployer and waits until it is mined (mining a block itself under
    /// [`Mining::Manual`]); a revert is an error.
    async fn send_from_deployer(&self, action: &'static str, tx: TransactionRequest) -> Result<()> {
        let _one_at_a_time = self.deployer_lock.lock().await;
        let from = self.deployment.as_ref().map_or_else(deploy::deployer, |d| d.deployer);
        let tx = tx.with_from(from);
        let pending = self
            .deployer_provider
            .send_transaction(tx)
            .await
            .map_err(DevnetError::rpc("eth_sendTransaction"))?;
        let hash = *pending.tx_hash();
        if self.mining == Mining::Manual {
            self.mine().await?;
        }
        let wait = match self.mining {
            Mining::Interval(interval) => TX_TIMEOUT + interval,
            Mining::Auto | Mining::Manual => TX_TIMEOUT,
        };
        let receipt = wait_for_receipt(&self.deployer_provider, hash, Instant::now() + wait)
            .await?
            .ok_or(DevnetError::Rpc {
                method: "eth_getTransactionReceipt",
                source: alloy::transports::RpcError::NullResp,
            })?;
        if receipt.status() {
            Ok(())
        } else {
            Err(DevnetError::Reverted { action, tx_hash: hash })
        }
    }
}

/// The signer for a dev key that anvil printed. Deriving a signer's public key is slow in a debug build
/// (milliseconds per key), and every devnet has the same ten keys, so signers are kept for the process.
fn dev_key(hex: &str) -> Result<PrivateKeySigner> {
    static KNOWN: OnceLock<Mutex<HashMap<B256, PrivateKeySigner>>> = OnceLock::new();
    let bytes: B256 = hex
        .parse()
        .map_err(|_| DevnetError::UnexpectedOutput("a dev account's private key".into()))?;
    let known = KNOWN.get_or_init(Default::default);
    if let Some(signer) = known.lock().ok().and_then(|known| known.get(&bytes).cloned()) {
        return Ok(signer);
    }
    let signer = PrivateKeySigner::from_bytes(&bytes)
        .map_err(|_| DevnetError::UnexpectedOutput("a dev account's private key".into()))?;
    if let Ok(mut known) = known.lock() {
        known.insert(bytes, signer.clone());
    }
    Ok(signer)
}
