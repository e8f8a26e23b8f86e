//! `leash devnet`: the local stack, kept running.

use alloy::primitives::Address;
use leash_devnet::Devnet;
use serde_json::json;
use std::net::{Ipv4Addr, SocketAddr};

/// Options of `leash devnet`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The chain's RPC port (0: any free port).
    #[arg(long, default_value_t = 8545)]
    port: u16,
    /// The bundler's port (0: any free port).
    #[arg(long, default_value_t = 4337)]
    bundler_port: u16,
    /// The chain id.
    #[arg(long, default_value_t = 31_337)]
    chain_id: u64,
}

pub(crate) async fn run(args: Args, json: bool) -> Result<(), String> {
    let devnet = Devnet::builder()
        .port(args.port)
        .chain_id(args.chain_id)
        .start()
        .await
        .map_err(|e| format!("the devnet did not start: {e}"))?;
    let deployment = devnet.deployment().expect("the devnet deploys the stack").clone();
    let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, args.bundler_port));
    let bundler = leash_devnet::start_bundler(&devnet, listen)
        .await
        .map_err(|e| format!("the bundler did not start: {e}"))?;

    let dev_accounts = devnet.dev_accounts();
    if json {
        let mut out = json!({
            "rpcUrl": devnet.rpc_url().as_str(),
            "bundlerUrl": bundler.url().as_str(),
            "chainId": devnet.chain_id(),
            "deployment": deployment,
            "devAccounts": dev_accounts,
        });
        leash_sdk::report::checksum_addresses(&mut out);
        println!("{}", serde_json::to_string_pretty(&out).expect("JSON"));
    } else {
        println!("leash devnet (chain {})", devnet.chain_id());
        println!("  rpc       {}", devnet.rpc_url());
        println!("  bundler   {}  (ERC-4337 v0.7, ERC-7562 rules enforced)", bundler.url());
        println!();
        let uniswap = &deployment.uniswap;
        let aave = &deployment.aave;
        let rows: [(&str, Address); 28] = [
            ("EntryPoint v0.7", deployment.entry_point),
            ("SessionKeyValidator", deployment.session_key_validator),
            ("LeashAccountFactory", deployment.account_factory),
            ("LeashFactoryStaker (staked)", deployment.factory_staker),
            ("LeashAccount (implementation)", deployment.account_implementation),
            ("USDC (6 decimals)", deployment.usdc),
            ("WETH", deployment.weth),
            ("DAI", deployment.dai),
            ("GameItems", deployment.game_items),
            ("DexRouter", deployment.dex_router),
            ("YieldVault (yUSDC)", deployment.yield_vault),
            ("DevPaymaster", deployment.dev_paymaster),
            ("Uniswap V2 factory", uniswap.v2_factory),
            ("Uniswap V2 Router02", uniswap.v2_router),
            ("Uniswap V3 factory", uniswap.v3_factory),
            ("Uniswap V3 SwapRouter", uniswap.v3_swap_router),
            ("Uniswap V3 QuoterV2", uniswap.v3_quoter),
            ("Uniswap V3 positions (NFT)", uniswap.v3_position_manager),
            ("Permit2", deployment.permit2),
            ("Leash Punks (ERC-721)", deployment.collection),
            ("Seaport 1.6", deployment.seaport),
            ("Seaport ConduitController", deployment.seaport_conduit_controller),
            ("Aave V3 Pool", aave.pool),
            ("Aave V3 PoolConfigurator", aave.pool_configurator),
            ("Aave V3 PoolAddressesProvider", aave.pool_addresses_provider),
            ("Aave V3 oracle", aave.oracle),
            ("Aave V3 data provider", aave.pool_data_provider),
            ("deployer", deployment.deployer),
        ];
        for (name, address) in rows {
            println!("  {name:<30} {address}");
        }
        for (name, address) in &uniswap.v2_pairs {
            println!("  {:<30} {address}", format!("Uniswap V2 pair {name}"));
        }
        for (name, address) in &uniswap.v3_pools {
            println!("  {:<30} {address}", format!("Uniswap V3 pool {name}"));
        }
        for (symbol, reserve) in &aave.reserves {
            println!("  {:<30} {}", format!("Aave V3 a{symbol}"), reserve.a_token);
        }
        println!();
        println!("  funded development accounts (anvil's well-known test keys; never use them elsewhere):");
        for account in dev_accounts.iter().take(dev_accounts.len().saturating_sub(1)) {
            println!("    {account}");
        }
        println!("  the last one signs the bundler's transactions.");
        println!();
        println!("Ctrl-C stops the chain and the bundler.");
    }
    tokio::signal::ctrl_c().await.map_err(|e| format!("waiting for Ctrl-C: {e}"))?;
    drop(bundler);
    drop(devnet);
    Ok(())
}
