//! `leash-service`: `leash serve`, one stateless HTTP service for many tenants' agents, its state in PostgreSQL.
//!
//! Where it sits (docs/architecture.md): beside the command line and the MCP server, on top of the SDK. Each
//! request reads what it needs from the database and holds nothing a replica could lose: run as many replicas
//! as the load needs behind one address; the chain and the bundler are the rest of the distributed system.
//!
//! - Tenants, their accounts and their agents' sessions ([`api`]); the service never holds an owner key: it
//!   prepares what the owner signs (a session's grant digest, a revoke operation) and takes the signature made
//!   elsewhere.
//! - Session keys sealed at rest by envelope encryption ([`seal`]), bound to their tenant and session.
//! - Tokens stored hashed ([`token`]): an admin token, one per tenant, one per agent that reaches only its
//!   session.
//! - Nonce lanes leased in the database ([`send`]) so replicas sending for one account never collide or wait on
//!   each other; an operation in doubt after a crash is settled by whichever replica finds it, with the same
//!   signed bytes, so it lands at most once.
//! - An append-only audit log per tenant ([`db::AuditEntry`]).

pub mod api;
pub mod db;
mod error;
mod limits;
#[cfg(unix)]
pub mod postgres;
pub mod seal;
pub mod send;
mod store;
pub mod token;

use alloy::primitives::Address;
use leash_core::TokenTable;
use leash_sdk::{bundler::BundlerClient, Chain, Submitter};
use std::{collections::BTreeMap, net::SocketAddr, sync::Arc, time::Duration};

pub use db::Db;
pub use seal::{KeyEncryptionKey, LocalKek};
pub use store::PgStore;

/// The chain the service acts on: its node, its bundler and leash's contracts there.
#[derive(Clone, Debug)]
pub struct Network {
    /// Its name, for messages.
    pub name: String,
    /// The chain (node, EntryPoint, session module).
    pub chain: Chain,
    /// The bundler operations go through.
    pub bundler: BundlerClient,
    /// The account factory.
    pub factory: Address,
    /// Token symbols for policies and explanations.
    pub tokens: TokenTable,
    /// Contracts by name, for policies and calls.
    pub addresses: BTreeMap<String, Address>,
}

/// How a replica runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// This replica's name: it holds lane leases under it (unique per running replica).
    pub replica: String,
    /// The nonce lanes each new account gets: how many of its operations can be in flight at once. ERC-7562
    /// lets a bundler hold 4 operations of an unstaked account (UREP-010), so more lanes help staked accounts only.
    pub lanes_per_account: u32,
    /// How long a lane lease lasts without renewal; an operation whose replica died is settled after it.
    pub lease: Duration,
    /// How long a send waits for a free lane before answering 503.
    pub lane_wait: Duration,
    /// How long a send waits for its operation to be included.
    pub inclusion_wait: Duration,
    /// Requests per second each tenant may make (with its agents), and the burst above it.
    pub rate: (u32, u32),
    /// The largest request body, in bytes.
    pub max_body: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            replica: default_replica_name(),
            lanes_per_account: 4,
            lease: Duration::from_secs(60),
            lane_wait: Duration::from_secs(20),
            inclusion_wait: Duration::from_secs(30),
            rate: (200, 400),
            max_body: 64 * 1024,
        }
    }
}

/// The host's name, the process id and a random suffix: unique among replicas even where every process is pid 1
/// (containers).
fn default_replica_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let suffix: u32 = rand::random();
    format!("{host}-{}-{suffix:08x}", std::process::id())
}

/// One replica of the service.
#[derive(Clone, Debug)]
pub struct Service {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    kek: Arc<dyn KeyEncryptionKey>,
    admin: [u8; 32],
    network: Network,
    submitter: Arc<Submitter>,
    config: Config,
    limits: limits::RateLimits,
    /// Sends of this replica under way per account, bounded: the rest are turned away at once.
    sends: limits::SendsPerAccount,
}

impl Service {
    /// A replica over `db` on `network`; `admin_token` creates tenants.
    pub fn new(
        db: Db,
        network: Network,
        kek: Arc<dyn KeyEncryptionKey>,
        admin_token: &str,
        config: Config,
    ) -> Self {
        let submitter = Arc::new(Submitter::Bundler(network.bundler.clone()));
        // A send holds its lane's lease while it waits for inclusion: the wait must end well before the lease.
        let mut config = config;
        config.inclusion_wait = config.inclusion_wait.min(config.lease / 3);
        let limits = limits::RateLimits::new(config.rate.0, config.rate.1);
        // Each lane serves one send at a time; a few more may wait their turn, no more.
        let sends = limits::SendsPerAccount::new(config.lanes_per_account.max(1) as usize * 4);
        Self {
            inner: Arc::new(Inner {
                db,
                kek,
                admin: token::hash(admin_token),
                network,
                submitter,
                config,
                limits,
                sends,
            }),
        }
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The network.
    pub fn network(&self) -> &Network {
        &self.inner.network
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Serves on `listener` until `shutdown` resolves, settling operations in doubt in the background.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let settler = tokio::spawn(send::settle_forever(self.clone()));
        let app = api::router(self.clone());
        let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
        settler.abort();
        served
    }

    /// Binds `listen` and serves until Ctrl-C; returns the bound address through `bound` first.
    pub async fn run(
        self,
        listen: SocketAddr,
        bound: impl FnOnce(SocketAddr),
    ) -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        bound(listener.local_addr()?);
        self.serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    }
}
