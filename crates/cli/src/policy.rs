//! `leash policy check FILE`: a policy file read as `session create` would read it, its envelope in words and
//! what to think twice about, without creating, signing or sending anything.

use crate::{
    failure::{Failure, Result},
    home::Home,
    network::Networks,
    Out,
};
use leash_core::PolicyFile;
use leash_store::Store;
use serde_json::json;
use std::path::PathBuf;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Reads a policy file and shows its envelope in words, with warnings (sudo, no end, no cap); nothing is
    /// created. Names and units resolve against the chosen network.
    Check {
        /// The policy file (TOML).
        file: PathBuf,
        /// The account `self` names in the policy (a recorded account's name); without it `self` is an error.
        #[arg(long)]
        account: Option<String>,
    },
}

pub(crate) async fn run(
    command: Command,
    home: &Home,
    networks: &Networks,
    out: &Out,
) -> Result<()> {
    let Command::Check { file, account } = command;
    let network = networks.selected();
    let account = match &account {
        Some(name) => Some(home.account(name).await?.address),
        None => None,
    };
    let (policy, names) = PolicyFile::load_named(&file, &network.policy_context(account)).map_err(
        |e| match account {
            // The usual reason for an unknown `self`.
            None if e.to_string().contains("`self`") => Failure::from(e)
                .with_hint("the policy names the account as `self`: pass --account NAME"),
            _ => Failure::from(e),
        },
    )?;
    let envelope = policy.describe_named(&network.tokens, &names);
    let warnings = policy.warnings();
    out.show(
        json!({
            "file": file,
            "network": network.name,
            "valid": true,
            "title": policy.name,
            "envelope": envelope,
            "warnings": warnings,
        }),
        || {
            let title = policy.name.as_deref().unwrap_or("unnamed");
            println!(
                "{} is a valid policy ({title}), read for `{}`:",
                file.display(),
                network.name
            );
            for line in &envelope {
                println!("  {line}");
            }
            for warning in &warnings {
                println!("warning: {warning}");
            }
        },
    );
    Ok(())
}
