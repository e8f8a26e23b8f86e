//! Talking to anvil: providers, readiness and receipts.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::{Duration, Instant},
};

use alloy::{
    network::EthereumWallet,
    primitives::TxHash,
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::{client::RpcClient, types::TransactionReceipt},
    transports::http::{
        reqwest::{self, Url},
        Http,
    },
};

use crate::error::{DevnetError, Result};

/// How often providers made here poll for receipts and blocks. alloy's default for a local node is 250 ms,
/// which would dominate every `send().await?.get_receipt()` on an automining devnet.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// The URL to reach a server listening on `listen` (the loopback address when it listens on all).
pub(crate) fn rpc_url(listen: SocketAddr) -> Result<Url> {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let url = format!("http://{}", SocketAddr::new(ip, listen.port()));
    url.parse().map_err(|e| DevnetError::UnexpectedOutput(format!("listen address {listen}: {e}")))
}

/// A JSON-RPC client for `url` over `http` (one HTTP client, and its connection pool, per devnet).
pub(crate) fn client(http: &reqwest::Client, url: &Url) -> RpcClient {
    RpcClient::new(Http::with_client(http.clone(), url.clone()), true)
        .with_poll_interval(POLL_INTERVAL)
}

/// A provider that fills gas, fees, nonce and chain id, and signs with `wallet`.
///
/// Nonces are asked of anvil for every transaction (the pending count) rather than counted locally, as
/// alloy's default does: a devnet's state jumps back on [`crate::Devnet::revert`], and tests often send from
/// one account through several providers, either of which would leave a local count wrong.
pub(crate) fn with_wallet(client: RpcClient, wallet: EthereumWallet) -> DynProvider {
    ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(wallet)
        .connect_client(client)
        .erased()
}

/// Like [`with_wallet`], but leaves signing to the node (`eth_sendTransaction`), for accounts anvil holds
/// or impersonates.
pub(crate) fn unsigned(client: RpcClient) -> DynProvider {
    ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .connect_client(client)
        .erased()
}

/// Asks for the chain id until anvil answers or `deadline` passes; returns it.
pub(crate) async fn wait_for_rpc(
    provider: &DynProvider,
    url: &Url,
    deadline: Instant,
    timeout: Duration,
) -> Result<u64> {
    let mut pause = Duration::from_millis(1);
    loop {
        match provider.get_chain_id().await {
            Ok(chain_id) => return Ok(chain_id),
            Err(e) if Instant::now() >= deadline => {
                tracing::debug!(%url, error = %e, "anvil's RPC is not answering");
                return Err(DevnetError::RpcTimeout { url: Some(url.to_string()), timeout });
            }
            Err(_) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(50));
            }
        }
    }
}

/// Polls for the receipt of `hash` until it exists or `deadline` passes (then `None`). Polls fast at first:
/// an automining anvil mines within a millisecond.
pub(crate) async fn wait_for_receipt(
    provider: &DynProvider,
    hash: TxHash,
    deadline: Instant,
) -> Result<Option<TransactionReceipt>> {
    let mut pause = Duration::from_micros(500);
    loop {
        let receipt = provider
            .get_transaction_receipt(hash)
            .await
            .map_err(DevnetError::rpc("eth_getTransactionReceipt"))?;
        if receipt.is_some() || Instant::now() >= deadline {
            return Ok(receipt);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(POLL_INTERVAL);
    }
}
