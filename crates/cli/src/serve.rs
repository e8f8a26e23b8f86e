//! `leash serve`: the multi-tenant service (`leash-service`) on a network and a PostgreSQL database, or with
//! `--devnet` on a local chain, bundler and PostgreSQL of its own.

use crate::{
    failure::{Failure, Result},
    network::Networks,
};
use leash_service::{
    postgres::LocalPostgres, Config, Db, KeyEncryptionKey, LocalKek, Network, Service,
};
use std::{net::SocketAddr, path::PathBuf, sync::Arc};
use zeroize::Zeroizing;

/// Options of `leash serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The PostgreSQL database (`postgres://user:password@host/db`); replicas share it. Without it (and without
    /// --devnet), a PostgreSQL cluster of the data directory's own, kept between runs, with its key-encryption key
    /// and admin token beside it in DATA_DIR/serve.
    #[arg(long, env = "LEASH_DATABASE_URL", value_name = "URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Start a local chain, bundler and (without --database-url) PostgreSQL, and serve on them.
    #[arg(long)]
    devnet: bool,
    /// Where the API listens.
    #[arg(long, default_value = "127.0.0.1:8780")]
    listen: SocketAddr,
    /// A file holding the key-encryption key (64 hex digits, mode 0600) that wraps tenants' data keys; else
    /// $LEASH_KEK. With --devnet and neither, a new one for this run.
    #[arg(long, value_name = "FILE")]
    kek_file: Option<PathBuf>,
    /// A file holding the admin token (`leash_admin_` and at least 32 random characters); else
    /// $LEASH_ADMIN_TOKEN. With --devnet and neither, a new one, printed once.
    #[arg(long, value_name = "FILE")]
    admin_token_file: Option<PathBuf>,
    /// This replica's name in lane leases (unique among running replicas; default: host, process and a random
    /// suffix).
    #[arg(long)]
    replica: Option<String>,
    /// Nonce lanes per new account: how many of its operations may be in flight at once (a bundler holds 4 of
    /// an unstaked account's, ERC-7562 UREP-010).
    #[arg(long, default_value_t = 4)]
    lanes: u32,
    /// Requests per second per tenant (with its agents), and the burst above it.
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// The burst a tenant may make above its rate.
    #[arg(long, default_value_t = 400)]
    burst: u32,
    /// How long a lane lease lasts, in seconds (at least 6): an operation whose replica died is settled by another
    /// this long after. A send waits for inclusion a third of it.
    #[arg(long, default_value_t = 60)]
    lease_seconds: u64,
    /// Database connections of this replica.
    #[arg(long, default_value_t = 20)]
    connections: u32,
}

/// Starts what `--devnet` asks for, connects, and serves until Ctrl-C.
pub(crate) async fn run(args: Args, networks: Networks, home: &std::path::Path) -> Result<()> {
    // Held until the end: dropping them stops the local chain, bundler and database.
    let mut _local: (
        Option<leash_devnet::Devnet>,
        Option<leash_bundler::LocalBundler>,
        Option<LocalPostgres>,
    ) = (None, None, None);
    // What is read from files and the environment is checked first: a wrong key or token is named before
    // anything starts or is reached.
    let kept = (args.database_url.is_none() && !args.devnet).then(|| home.join("serve"));
    let kek = kek(&args, kept.as_deref())?;
    let admin = admin_token(&args, kept.as_deref())?;
    let network = if args.devnet {
        let devnet = leash_devnet::Devnet::builder()
            .port(0)
            .start()
            .await
            .map_err(|e| Failure::network(format!("the devnet did not start: {e}")))?;
        let bundler = leash_devnet::start_bundler(&devnet, SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|e| Failure::network(format!("the bundler did not start: {e}")))?;
        let network = devnet_network(&devnet, bundler.url().as_str()).await?;
        eprintln!("devnet    {} (chain {})", devnet.rpc_url(), devnet.chain_id());
        eprintln!("bundler   {}", bundler.url());
        _local.0 = Some(devnet);
        _local.1 = Some(bundler);
        network
    } else {
        let chosen = networks.selected();
        let bundler_url = chosen.bundler_url.clone().ok_or_else(|| {
            Failure::bad_input(format!(
                "network `{}` has no bundler_url; the service sends through one",
                chosen.name
            ))
        })?;
        let chain = chosen.connect().await?;
        Network {
            name: chosen.name.clone(),
            chain,
            bundler: leash_sdk::bundler::BundlerClient::builder(&bundler_url)
                .price_limit(chosen.bundler_price_limit)
                .cost_limit(chosen.max_operation_cost)
                .build()
                .map_err(|e| Failure::bad_input(format!("network `{}`: {e}", chosen.name)))?,
            factory: chosen.factory,
            tokens: chosen.tokens.clone(),
            addresses: chosen.addresses.clone(),
        }
    };
    let database_url = match (&args.database_url, args.devnet) {
        (Some(url), _) => Zeroizing::new(url.clone()),
        (None, true) => {
            let postgres =
                LocalPostgres::start().await.map_err(|e| Failure::failed(e.to_string()))?;
            let url = postgres
                .create_database("leash")
                .await
                .map_err(|e| Failure::failed(e.to_string()))?;
            eprintln!("database  PostgreSQL on 127.0.0.1:{} (for this run)", postgres.port());
            _local.2 = Some(postgres);
            Zeroizing::new(url)
        }
        (None, false) => {
            // The embedded default: a PostgreSQL cluster of this data directory's own, kept between runs.
            let dir = LocalPostgres::default_dir(&home.join("serve"));
            let postgres = LocalPostgres::open(&dir).await.map_err(|e| {
                Failure::failed(e.to_string())
                    .with_hint("or give --database-url to use a PostgreSQL server")
            })?;
            let url = postgres
                .ensure_database("leash")
                .await
                .map_err(|e| Failure::failed(e.to_string()))?;
            eprintln!(
                "database  PostgreSQL in {} on 127.0.0.1:{} (kept between runs)",
                dir.display(),
                postgres.port()
            );
            _local.2 = Some(postgres);
            Zeroizing::new(url)
        }
    };
    let db = Db::connect(&database_url, args.connections).await.map_err(|e| {
        Failure::network(leash_sdk::bundler::scrub_urls(&e.to_string()))
            .with_hint("check --database-url: PostgreSQL must be reachable and the user allowed to create tables")
    })?;
    let config = Config {
        replica: args.replica.clone().unwrap_or_else(|| Config::default().replica),
        lanes_per_account: args.lanes.max(1),
        rate: (args.rate, args.burst),
        lease: std::time::Duration::from_secs(args.lease_seconds.max(6)),
        inclusion_wait: std::time::Duration::from_secs((args.lease_seconds / 3).clamp(2, 30)),
        ..Config::default()
    };
    let service = Service::new(db, network, kek, &admin.0, config);
    service
        .run(args.listen, |address| {
            eprintln!("leash serve listening on http://{address} (OpenAPI at /openapi.json)");
            if admin.1 {
                eprintln!("admin token (shown once): {}", admin.0.as_str());
            } else if let Some(dir) = &kept {
                eprintln!("admin token in {}", dir.join("admin-token").display());
            }
        })
        .await
        .map_err(|e| Failure::failed(format!("cannot serve on {}: {e}", args.listen)))
}

/// Writes `text` to a new file only its owner reads (its directory created for the owner only).
fn write_private(path: &std::path::Path, text: &str) -> Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let failed =
        |e: std::io::Error| Failure::failed(format!("cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        let mut builder = std::fs::DirBuilder::new();
        std::os::unix::fs::DirBuilderExt::mode(builder.recursive(true), 0o700);
        builder.create(dir).map_err(failed)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)
}

/// The network of a devnet this process started.
async fn devnet_network(devnet: &leash_devnet::Devnet, bundler_url: &str) -> Result<Network> {
    let d = devnet.deployment().expect("the devnet deploys the stack");
    let chain =
        leash_sdk::Chain::connect(devnet.provider().clone(), d.session_key_validator, "devnet")
            .await
            .map_err(|e| Failure::network(e.to_string()))?;
    let mut tokens = leash_core::TokenTable::default();
    for (symbol, token) in &d.tokens {
        tokens.insert(symbol.clone(), token.address, token.decimals);
    }
    Ok(Network {
        name: "devnet".into(),
        chain,
        bundler: leash_sdk::bundler::BundlerClient::new(bundler_url)
            .map_err(|e| Failure::failed(e.to_string()))?,
        factory: d.factory_staker,
        tokens,
        addresses: d.named_contracts().into_iter().map(|(n, a)| (n.to_owned(), a)).collect(),
    })
}

fn kek(args: &Args, kept: Option<&std::path::Path>) -> Result<Arc<dyn KeyEncryptionKey>> {
    let bad = |e: leash_service::seal::SealError| Failure::bad_input(e.to_string());
    if let Some(path) = &args.kek_file {
        return Ok(Arc::new(LocalKek::from_file(path).map_err(bad)?));
    }
    if let Ok(text) = std::env::var("LEASH_KEK") {
        let text = Zeroizing::new(text);
        return Ok(Arc::new(LocalKek::from_hex("env:LEASH_KEK", &text).map_err(bad)?));
    }
    if args.devnet {
        let (kek, _) = LocalKek::generate("devnet");
        return Ok(Arc::new(kek));
    }
    if let Some(dir) = kept {
        // The embedded default keeps its key beside its database's password, readable by its user only.
        let path = dir.join("kek");
        if !path.exists() {
            let (_, hex) = LocalKek::generate("file");
            write_private(&path, &hex)?;
        }
        return Ok(Arc::new(LocalKek::from_file(&path).map_err(bad)?));
    }
    Err(Failure::bad_input("no key-encryption key: give --kek-file or $LEASH_KEK (64 hex digits)")
        .with_hint("make one with `openssl rand -hex 32 > kek && chmod 600 kek`; keep it apart from the database"))
}

/// The admin token, and whether it is new (to be shown once): from --admin-token-file, else $LEASH_ADMIN_TOKEN,
/// else the embedded default's file (made the first time), else a new one for a --devnet run.
fn admin_token(args: &Args, kept: Option<&std::path::Path>) -> Result<(Zeroizing<String>, bool)> {
    let from_env = std::env::var("LEASH_ADMIN_TOKEN").ok().map(Zeroizing::new);
    let (token, new) = match (&args.admin_token_file, from_env, kept) {
        (Some(path), _, _) => (read_private(path)?, false),
        (None, Some(token), _) => (token, false),
        (None, None, Some(dir)) => {
            let path = dir.join("admin-token");
            let new = !path.exists();
            if new {
                let (token, _) = leash_service::token::generate(leash_service::token::Kind::Admin);
                write_private(&path, &token)?;
            }
            (read_private(&path)?, new)
        }
        (None, None, None) if args.devnet => {
            let (token, _) = leash_service::token::generate(leash_service::token::Kind::Admin);
            (token, true)
        }
        (None, None, None) => {
            return Err(Failure::bad_input(
                "no admin token: give --admin-token-file or $LEASH_ADMIN_TOKEN",
            )
            .with_hint("make one with `echo leash_admin_$(openssl rand -hex 32)`"))
        }
    };
    if !token.starts_with("leash_admin_") || token.len() < "leash_admin_".len() + 32 {
        return Err(Failure::bad_input(
            "the admin token must be `leash_admin_` followed by at least 32 random characters",
        )
        .with_hint("make one with `echo leash_admin_$(openssl rand -hex 32)`"));
    }
    Ok((token, new))
}

/// A token file's first line; the file must be readable by its owner only.
fn read_private(path: &std::path::Path) -> Result<Zeroizing<String>> {
    let unreadable = |e: std::io::Error| {
        Failure::bad_input(format!("cannot read the admin token file {}: {e}", path.display()))
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(unreadable)?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(Failure::bad_input(format!(
                "the admin token file {} is readable by others: `chmod 600` it",
                path.display()
            )));
        }
    }
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(unreadable)?);
    Ok(Zeroizing::new(text.lines().next().unwrap_or_default().trim().to_owned()))
}
