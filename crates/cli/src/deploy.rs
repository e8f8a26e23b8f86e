//! `leash deploy` and `leash network check`: the release's contracts on a network, deployed where missing
//! through the deterministic deployment proxy, and what is deployed where.

use crate::{
    failure::{Failure, Kind, Result},
    home::Home,
    network::Network,
    password::{self, KeyPassword},
    Out,
};
use alloy::{
    network::EthereumWallet,
    primitives::{utils::format_units, Address},
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use leash_sdk::{
    keystore::Keystore,
    release::{self, DeployOptions, Presence, ReleaseStatus},
    signer::SessionKey,
};
use leash_store::Store;
use serde_json::json;

/// `leash deploy`: the arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The keystore key (ECDSA) that sends the transactions and pays their gas.
    #[arg(long, value_name = "KEY")]
    from: String,
    /// Also deploy the staked factory front whose stake this address owns (its address follows from the
    /// owner, the same on every chain). With --stake and no owner given: the --from key's address.
    #[arg(long, value_name = "ADDRESS")]
    front_owner: Option<Address>,
    /// Bring the front's stake in the EntryPoint up to this much, e.g. "0.1 ETH" (locked for a day once
    /// unlocked; only the front's owner stakes, so --from must be it).
    #[arg(long, value_name = "AMOUNT")]
    stake: Option<String>,
    #[command(flatten)]
    password: KeyPassword,
}

/// `leash network check`: the arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// The network (default: the chosen one).
    pub(crate) name: Option<String>,
    /// Also check the factory front this address owns, and its stake.
    #[arg(long, value_name = "ADDRESS")]
    front_owner: Option<Address>,
}

/// Deploys what is missing on `network` and says what it did.
pub(crate) async fn run(args: Args, home: &Home, network: &Network, out: &Out) -> Result<()> {
    let stake = args
        .stake
        .as_deref()
        .map(|amount| {
            crate::network::native_amount(amount).map_err(|e| {
                Failure::bad_input(format!(
                    "--stake: {e} (the EntryPoint takes a stake in ether, never an empty one)"
                ))
            })
        })
        .transpose()?;
    let rpc = network.rpc()?;
    let signer = open_key(home, &args.from, &args.password).await?;
    let from = signer.address();
    let front_owner = args.front_owner.or(stake.map(|_| from));
    let provider =
        ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(rpc).erased();
    network.connect().await?;
    let options = DeployOptions { front_owner, stake };
    let sent = release::deploy(&provider, from, &options).await?;
    let status = release::check(&provider, front_owner).await?;
    let value = json!({ "network": network.name, "sent": sent, "status": status });
    out.show(value, || {
        if sent.is_empty() {
            println!("nothing to deploy on `{}`: every contract is there", network.name);
        }
        for step in &sent {
            println!("deployed  {:<26} {}  (tx {})", step.name, step.address, step.transaction);
        }
        print_status(network, &status);
    });
    Ok(())
}

/// Says what of the release is on `network`; fails (exit 1) when something is missing or different.
pub(crate) async fn check(args: CheckArgs, network: &Network, out: &Out) -> Result<()> {
    network.connect().await?;
    let status = release::check(&network.provider()?, args.front_owner).await?;
    let complete = status.complete();
    out.show(json!({ "network": network.name, "status": status, "complete": complete }), || {
        print_status(network, &status);
        if !complete {
            println!(
                "not complete: deploy what is missing with `leash deploy --network {} --from KEY`",
                network.name
            );
        }
    });
    if complete {
        Ok(())
    } else {
        Err(crate::failure::already_shown(Kind::Failed))
    }
}

fn print_status(network: &Network, status: &ReleaseStatus) {
    println!("network `{}` (chain {})", network.name, status.chain_id);
    for contract in &status.contracts {
        let state = match contract.presence {
            Presence::Deployed => "deployed",
            Presence::Missing => "missing",
            Presence::Different => "OTHER CODE",
        };
        println!("  {state:<10} {:<26} {}", contract.name, contract.address);
    }
    if let Some(stake) = &status.stake {
        println!(
            "  stake      {} ETH, {}, unlock delay {} s",
            format_units(stake.amount, 18).unwrap_or_default(),
            if stake.staked { "staked" } else { "not staked" },
            stake.unstake_delay
        );
    }
}

/// An ECDSA key of the keystore, after its password.
async fn open_key(home: &Home, name: &str, password: &KeyPassword) -> Result<PrivateKeySigner> {
    let stored = home.key(name).await?;
    crate::home::warn_if_exposed(&stored.source);
    let password = password::read(password.request(format!("key `{name}`"), false))?;
    match Keystore::decrypt(&stored.source, &stored.document, password.as_bytes())? {
        SessionKey::Ecdsa(key) => Ok(PrivateKeySigner::from(key)),
        _ => Err(Failure::bad_input(format!("key `{name}` is not an ECDSA key"))),
    }
}
