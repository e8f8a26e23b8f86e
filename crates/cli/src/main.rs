//! `leash`: session keys for smart accounts from the command line.
//!
//! Where it sits (docs/architecture.md): on top; its records go through `leash-store`, its sessions act
//! through `leash-sdk`, `leash devnet` starts `leash-devnet`'s local stack.
//!
//! Keys, accounts and sessions live by name in a data directory ([`home`]); networks come from a config file
//! with the local devnet built in ([`network`]). Output is for people by default and JSON with `--json`; the
//! exit code says what kind of failure it was ([`failure::Kind`]).

/// Lines on standard output that end quietly when the reader goes away (`leash session list | head`): the process
/// exits with 0 instead of panicking on the broken pipe. It replaces the standard `println!` throughout the crate
/// (macros defined here are in scope in every module below), so that SIGPIPE can stay ignored, as Rust sets it:
/// restoring its default would kill the process silently on any socket a server closes while leash writes to it
/// (an `https://` URL pointed at a plain HTTP port), instead of reporting a network failure.
macro_rules! println {
    () => {
        $crate::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod account;
mod calls;
mod demo;
mod deploy;
mod devnet;
mod failure;
mod home;
mod keystore;
mod mcp;
mod network;
mod operation;
mod password;
mod pay;
mod policy;
mod progress;
mod serve;
mod session;

use clap::{CommandFactory, Parser, Subcommand};
use failure::{Exit, Failure, Result};
use home::Home;
use network::Networks;
use serde_json::{json, Value};
use std::{path::PathBuf, process::ExitCode};

/// Session keys for smart accounts, enforced on chain.
///
/// Exit codes: 0 done; 1 failed (e.g. an execution reverted); 2 bad input (files, names, passwords, usage);
/// 3 refused by the session's policy; 4 network failure (node, bundler or paymaster).
#[derive(Debug, Parser)]
#[command(name = "leash", version, about, long_about)]
struct Cli {
    /// Print the result as JSON on standard output (errors too: {"error": {...}}).
    #[arg(long, global = true)]
    json: bool,
    /// The data directory (keystores, accounts, sessions, networks.toml).
    #[arg(long, global = true, env = "LEASH_HOME", value_name = "DIR")]
    home: Option<PathBuf>,
    /// The network, by name (see `leash network list`); the local devnet when none is configured.
    #[arg(long, short = 'n', global = true, env = "LEASH_NETWORK", value_name = "NAME")]
    network: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Keys at rest: create, import, list, show, remove, export.
    #[command(subcommand)]
    Keystore(keystore::Command),
    /// Smart accounts: list, create (counterfactual address), info, status on chain, fund, deploy.
    #[command(subcommand)]
    Account(account::Command),
    /// Session keys: create under a policy, grant, list, remove, info, status, explain, send, revoke.
    #[command(subcommand)]
    Session(session::Command),
    /// Policy files: check one (its envelope in words and warnings) without creating anything.
    #[command(subcommand)]
    Policy(policy::Command),
    /// Operations sent: show one by its hash (pending, included with its receipt, or unknown).
    #[command(subcommand)]
    Operation(operation::Command),
    /// The networks: the built-in ones (devnet, Ethereum, Base, Optimism, Arbitrum and their Sepolias) and
    /// networks.toml's; `check` says what of leash is deployed on one.
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Deploys leash's contracts where they are missing on the chosen network, at the addresses they have on
    /// every chain (the CREATE2 deployment proxy); a second run sends nothing. `--stake` also deploys and stakes
    /// a factory front, for first operations that create an account and grant a session in one.
    Deploy(deploy::Args),
    /// Fetches an x402 resource, paying once if it asks (402), from a session's account with its key, within its
    /// signing rules: `leash pay https://api.example/answer --session bot --max "0.10 USDC"`.
    Pay(pay::Args),
    /// Serves the Model Context Protocol so AI agents act through session keys by tool calls (stdio, or
    /// streamable HTTP with a bearer token).
    Mcp(mcp::Args),
    /// Serves many tenants' agents over HTTP from a PostgreSQL database: tenants, accounts, sessions created
    /// from policy documents, grants and revocations signed by owners elsewhere, sends on leased nonce lanes, an
    /// audit log. `leash serve --devnet` runs it all locally.
    Serve(serve::Args),
    /// Prints the JSON Schema of the policy file format.
    Schema,
    /// Runs the local stack (anvil with EntryPoint v0.7 and the leash contracts, and a local ERC-4337 bundler)
    /// until Ctrl-C, and prints its addresses and URLs.
    Devnet(devnet::Args),
    /// Runs the seed scenarios: agents acting through session keys on a local chain, allowed actions landing
    /// and out-of-policy ones refused with the reason.
    Demo,
    /// Prints a shell completion script: `leash completions bash > ~/.local/share/bash-completion/completions/leash`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
enum NetworkCommand {
    /// Lists the networks and which one is chosen.
    List,
    /// Shows one network (default: the chosen one).
    Show {
        /// The network's name.
        name: Option<String>,
    },
    /// Says what of leash is deployed on a network (EntryPoint v0.7, the account implementation, the module,
    /// the factory; with --front-owner, that owner's factory front and its stake), each compared with the
    /// release's code. Exits 1 when something is missing.
    Check(deploy::CheckArgs),
}

/// Where results go: a person reads lines, a program reads one JSON value.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Out {
    json: bool,
}

impl Out {
    /// Prints `value` as JSON with `--json`, else runs `human`.
    pub(crate) fn show(&self, mut value: Value, human: impl FnOnce()) {
        if self.json {
            leash_sdk::report::checksum_addresses(&mut value);
            println!("{}", serde_json::to_string_pretty(&value).expect("JSON values serialise"));
        } else {
            human();
        }
    }
}

/// An address from a JSON value, checksummed for people (JSON carries it in lower case).
pub(crate) fn shown_address(value: &Value) -> String {
    value
        .as_str()
        .and_then(|text| text.parse::<alloy::primitives::Address>().ok())
        .map(|address| address.to_string())
        .unwrap_or_default()
}

/// Writes to standard output; a reader that has gone away ends the process quietly (see `println!` above).
pub(crate) fn write_out(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(text).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A service's operator needs its warnings (an operation in doubt, a failed request) without asking.
    init_logging(if matches!(cli.command, Command::Serve(_)) { "warn" } else { "off" });
    // Over stdio, standard output is the protocol's channel: `leash mcp` reports a failed start on standard
    // error only.
    let out = Out { json: cli.json && !matches!(cli.command, Command::Mcp(_)) };
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if failure::is_already_shown(&failure) {
                return failure.exit_code();
            }
            if out.json {
                println!("{}", serde_json::to_string_pretty(&failure.to_json()).expect("JSON"));
            } else {
                failure.print();
            }
            failure.exit_code()
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let out = Out { json: cli.json };
    let home = || home::locate(cli.home.clone());
    let networks = |home: &Home| Networks::load(&home.networks_file(), cli.network.as_deref());
    match cli.command {
        Command::Keystore(command) => keystore::run(command, &home()?, &out).await,
        Command::Account(command) => {
            let home = home()?;
            account::run(command, &home, &networks(&home)?, &out).await
        }
        Command::Session(command) => {
            let home = home()?;
            session::run(command, &home, &networks(&home)?, &out).await
        }
        Command::Policy(command) => {
            let home = home()?;
            policy::run(command, &home, &networks(&home)?, &out).await
        }
        Command::Operation(command) => {
            let home = home()?;
            operation::run(command, &home, &networks(&home)?, &out).await
        }
        Command::Network(command) => {
            let home = home()?;
            network_command(command, &home, &networks(&home)?, &out).await
        }
        Command::Deploy(args) => {
            let home = home()?;
            let networks = networks(&home)?;
            deploy::run(args, &home, &networks.selected(), &out).await
        }
        Command::Pay(args) => {
            let home = home()?;
            pay::run(args, &home, &networks(&home)?, &out).await
        }
        Command::Mcp(args) => {
            let home = home()?;
            mcp::run(args, &home, &networks(&home)?).await
        }
        Command::Serve(args) => {
            let home = home()?;
            serve::run(args, networks(&home)?, home.root()).await
        }
        Command::Schema => {
            // The schema is JSON either way.
            println!(
                "{}",
                serde_json::to_string_pretty(&leash_core::policy_schema()).expect("JSON")
            );
            Ok(())
        }
        Command::Devnet(args) => devnet::run(args, cli.json).await.map_err(Failure::network),
        Command::Demo => demo::run(cli.json).await.map_err(Failure::failed),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "leash", &mut script);
            write_out(format_args!("{}", String::from_utf8_lossy(&script)));
            Ok(())
        }
    }
}

async fn network_command(
    command: NetworkCommand,
    home: &Home,
    networks: &Networks,
    out: &Out,
) -> Result<()> {
    let describe = |network: &network::Network| {
        let mut value = json!(network);
        value["rpcUrl"] = json!(network.shown_rpc_url());
        value["maxOperationCostWei"] = json!(network.max_operation_cost.to_string());
        value["bundlerUrl"] = json!(network.shown_bundler_url());
        value["paymasterUrl"] = json!(network.shown_paymaster_url());
        value["selected"] = json!(network.name == networks.selected);
        value
    };
    match command {
        NetworkCommand::List => {
            let rows: Vec<Value> = networks
                .all
                .keys()
                .map(|name| networks.get(name).map(|n| describe(&n)))
                .collect::<Result<_>>()?;
            out.show(Value::Array(rows.clone()), || {
                for row in &rows {
                    println!(
                        "{} {:<16} chain {:<10} {}",
                        if row["selected"] == json!(true) { "*" } else { " " },
                        row["name"].as_str().unwrap_or_default(),
                        row["chainId"],
                        row["rpcUrl"].as_str().unwrap_or_default()
                    );
                }
                println!("(networks.toml: {})", home.networks_file().display());
            });
        }
        NetworkCommand::Check(args) => {
            let network = match &args.name {
                Some(name) => networks.get(name)?,
                None => networks.selected(),
            };
            deploy::check(args, &network, out).await?;
        }
        NetworkCommand::Show { name } => {
            let network = match name {
                Some(name) => networks.get(&name)?,
                None => networks.selected(),
            };
            let value = describe(&network);
            out.show(value.clone(), || {
                println!("network `{}` (chain {})", network.name, network.chain_id);
                println!("  rpc        {}", network.shown_rpc_url());
                println!(
                    "  bundler    {} (price at most {} times the node's, an operation at most {} ETH)",
                    network.shown_bundler_url().unwrap_or_else(|| "none".into()),
                    network.bundler_price_limit,
                    alloy::primitives::utils::format_units(network.max_operation_cost, 18)
                        .unwrap_or_default()
                );
                if let Some(url) = network.shown_paymaster_url() {
                    println!("  paymaster  {url}");
                }
                if let Some(explorer) = &network.explorer {
                    println!("  explorer   {explorer}");
                }
                println!("  module     {}", network.module);
                println!("  factory    {}", network.factory);
                for symbol in network.tokens.symbols() {
                    let token = network.tokens.get(symbol).expect("listed");
                    println!(
                        "  token      {symbol:<8} {} ({} decimals)",
                        token.address, token.decimals
                    );
                }
                for (name, address) in &network.addresses {
                    println!("  contract   {name:<8} {address}");
                }
            });
        }
    }
    Ok(())
}

/// Logs go to standard error, filtered by `$LEASH_LOG` (e.g. `LEASH_LOG=debug`); `default` unless asked for
/// (off, but warnings for `leash serve`). URLs stay out of them: the transport that would log them is silenced.
fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LEASH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default))
        // The HTTP transport's spans carry the full RPC URL, where providers put API keys.
        .add_directive("alloy_transport_http=off".parse().expect("a valid directive"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
