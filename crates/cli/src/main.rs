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

fn main() -> ExitCode {
    restore_sigpipe();
    tokio::runtime::Runtime::new().expect("a tokio runtime starts").block_on(run())
}

async fn run() -> ExitCode {
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

/// Rust ignores SIGPIPE, so printing into a closed pipe (`leash devnet | head`) would panic; restore the default,
/// under which the process ends quietly like other command-line tools (anvil goes with it).
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default before any other thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
