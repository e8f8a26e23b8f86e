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
    transports::http::reqwest::Url,
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

/// A provider with the recommended fillers (nonce, gas, fees, chain id) and `wallet`.
pub(crate) fn connect(url: &Url, wallet: EthereumWallet) -> DynProvider {
    let client = RpcClient::new_http(url.clone()).with_poll_interval(POLL_INTERVAL);
    ProviderBuilder::new().wallet(wallet).connect_client(client).erased()
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
