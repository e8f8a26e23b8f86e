//! `leash mcp`: opens the sessions' keys and serves them to agents through `leash-mcp`, over stdio or
//! streamable HTTP.

use crate::{
    failure::Result, home::Home, network::Networks, password::KeyPassword, session::Stored,
};
use leash_mcp::{LeashMcp, ServedSession};
use leash_sdk::Standing;
use std::{net::SocketAddr, path::PathBuf, sync::Arc};

/// Options of `leash mcp`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A session to serve; repeat for several (each agent names its own in tool calls).
    #[arg(long = "session", value_name = "NAME", required = true)]
    sessions: Vec<String>,
    /// Serve over streamable HTTP instead of standard input and output.
    #[arg(long)]
    http: bool,
    /// Where HTTP listens. Requests must name a loopback host (DNS-rebinding protection), so reach it from
    /// elsewhere through a tunnel or a reverse proxy; the bearer token guards it either way.
    #[arg(long, default_value = "127.0.0.1:8765", requires = "http")]
    listen: SocketAddr,
    /// A file holding the bearer token HTTP clients must send; else $LEASH_MCP_TOKEN; else a random token is
    /// generated and shown once on standard error.
    #[arg(long, value_name = "FILE", requires = "http")]
    token_file: Option<PathBuf>,
    #[command(flatten)]
    password: KeyPassword,
}

/// Loads the sessions and their keys, then serves until the client leaves (stdio) or Ctrl-C (HTTP).
pub(crate) async fn run(args: Args, home: &Home, networks: &Networks) -> Result<()> {
    let mut sessions = Vec::new();
    for name in &args.sessions {
        let stored = Stored::load(home, name).await?;
        let network = stored.network(networks)?;
        let chain = network.connect().await?;
        let key = stored.open_key(&args.password)?;
        let agent = stored.agent(home, &network, chain, key.into_shared()).await?;
        // Served anyway (the owner may grant it again), but the operator should know every send will be refused.
        if let Ok(standing) = agent.view().standing().await {
            if matches!(standing.state, Standing::REVOKED | Standing::VOID) {
                eprintln!(
                    "warning: session `{name}` is {} on `{}`: every send through it will be refused",
                    standing.label, network.name
                );
            }
        }
        let bundler = match network.submitter() {
            Ok(leash_sdk::Submitter::Bundler(bundler)) => Some(bundler),
            _ => None,
        };
        sessions.push(ServedSession {
            name: name.clone(),
            tokens: stored.tokens(&network),
            grant: stored.grant,
            session: stored.session,
            network: network.name.clone(),
            chain_id: network.chain_id,
            addresses: network.addresses.clone(),
            agent: std::sync::Arc::new(agent),
            bundler,
        });
    }
    let server = LeashMcp::new(sessions, Arc::new(home.clone()));
    if args.http {
        leash_mcp::http::serve(server, args.listen, args.token_file.as_deref()).await
    } else {
        leash_mcp::serve_stdio(server).await
    }
}
