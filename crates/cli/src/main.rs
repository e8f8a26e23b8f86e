//! `leash`: the local stack (`leash devnet`) and the demo (`leash demo`).

mod demo;
mod devnet;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Session keys for smart accounts, enforced on chain.
#[derive(Debug, Parser)]
#[command(name = "leash", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the local stack (anvil with EntryPoint v0.7 and the leash contracts, and a local ERC-4337 bundler)
    /// until Ctrl-C, and prints its addresses and URLs.
    Devnet(devnet::Args),
    /// Runs the seed scenarios: agents acting through session keys on a local chain, allowed actions landing
    /// and out-of-policy ones refused with the reason.
    Demo(demo::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Devnet(args) => devnet::run(args).await,
        Command::Demo(args) => demo::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
