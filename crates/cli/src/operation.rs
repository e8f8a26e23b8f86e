//! `leash operation show HASH`: where an operation stands (pending with the bundler, included, or unknown), with
//! its receipt, and what this machine recorded when it sent it.

use crate::{
    failure::{Failure, Result},
    home::Home,
    network::Networks,
    Out,
};
use alloy::primitives::B256;
use leash_core::format_units;
use leash_store::Store;
use serde_json::json;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Shows an operation by its UserOperation hash: pending, included (transaction, success, gas) or unknown,
    /// asked of the bundler of the network it was sent on (the chosen network for one sent elsewhere).
    Show {
        /// The UserOperation hash (0x…, 32 bytes).
        hash: String,
    },
}

pub(crate) async fn run(
    command: Command,
    home: &Home,
    networks: &Networks,
    out: &Out,
) -> Result<()> {
    let Command::Show { hash } = command;
    let hash: B256 = hash.trim().parse().map_err(|_| {
        Failure::bad_input(format!("`{hash}` is not a UserOperation hash (0x and 64 hex digits)"))
    })?;
    let recorded = home.operation(hash).await?;
    let network = match &recorded {
        Some(op) if !networks.named => networks.for_chain(op.chain_id)?,
        Some(op) if networks.selected().chain_id != op.chain_id => {
            eprintln!(
                "note: it was sent on chain {}; asking `{}` (chain {}) as --network says",
                op.chain_id,
                networks.selected,
                networks.selected().chain_id
            );
            networks.selected()
        }
        _ => networks.selected(),
    };
    let leash_sdk::Submitter::Bundler(bundler) = network.submitter()? else {
        return Err(Failure::bad_input(format!(
            "network `{}` has no bundler to ask",
            network.name
        )));
    };
    let receipt = bundler.get_user_operation_receipt(hash).await.map_err(leash_sdk::Error::from)?;
    let pending = match &receipt {
        Some(_) => false,
        None => bundler
            .get_user_operation_by_hash(hash)
            .await
            .map_err(leash_sdk::Error::from)?
            .is_some(),
    };
    let status = match (&receipt, pending) {
        (Some(_), _) => "included",
        (None, true) => "pending",
        (None, false) => "unknown",
    };
    let value = json!({
        "userOpHash": hash,
        "network": network.name,
        "status": status,
        "transactionHash": receipt.as_ref().map(|r| r.receipt.transaction_hash),
        "success": receipt.as_ref().map(|r| r.success),
        "gasUsed": receipt.as_ref().map(|r| r.actual_gas_used.to_string()),
        "gasCostWei": receipt.as_ref().map(|r| r.actual_gas_cost.to_string()),
        "sender": receipt.as_ref().map(|r| r.sender),
        "recorded": recorded,
    });
    out.show(value, || {
        println!("operation {hash} on {}: {status}", network.name);
        if let Some(r) = &receipt {
            println!("  transaction  {}", r.receipt.transaction_hash);
            println!("  calls        {}", if r.success { "succeeded" } else { "reverted" });
            println!(
                "  gas          {} (cost {} ETH)",
                r.actual_gas_used,
                format_units(r.actual_gas_cost, 18)
            );
        } else if status == "unknown" {
            println!("  the bundler does not know it: dropped, never sent there, or sent on another network");
        }
        if let Some(op) = &recorded {
            let by = op.session.as_deref().map_or("the owner".to_owned(), |s| format!("session `{s}`"));
            println!("  sent by      {by} for account {}", op.account);
        }
    });
    Ok(())
}
