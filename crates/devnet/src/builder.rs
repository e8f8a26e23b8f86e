//! [`DevnetBuilder`]: every knob of a devnet, with the defaults tests want.

use std::{ffi::OsString, path::PathBuf, time::Duration};

use alloy::primitives::Address;

use crate::{devnet::Devnet, error::Result};

/// anvil's default chain id, and the devnet's.
pub const DEFAULT_CHAIN_ID: u64 = 31337;

/// How blocks are made once the devnet is up. Deployment at start-up always runs with automine, so it takes
/// the same (short) time whatever is chosen here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mining {
    /// A block per transaction, as soon as it arrives (anvil's default).
    #[default]
    Auto,
    /// A block every interval, with whatever is pending. anvil counts in whole seconds.
    Interval(Duration),
    /// Blocks only when asked for ([`Devnet::mine`]); helpers that send transactions mine one themselves.
    Manual,
}

/// Configures and starts a [`Devnet`].
///
/// ```no_run
/// # async fn run() -> leash_devnet::Result<()> {
/// use std::time::Duration;
/// use leash_devnet::DevnetBuilder;
///
/// let devnet = DevnetBuilder::new()
///     .chain_id(1337)
///     .block_time(Duration::from_secs(2))
///     .arg("--steps-tracing")
///     .start()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct DevnetBuilder {
    pub(crate) chain_id: u64,
    pub(crate) port: u16,
    pub(crate) mining: Mining,
    pub(crate) anvil: Option<PathBuf>,
    pub(crate) args: Vec<OsString>,
    pub(crate) bare: bool,
    pub(crate) startup_timeout: Duration,
    /// Who deploys the stack, from which nonce; `None`: the fixed devnet deployer from its current nonce.
    pub(crate) deployer: Option<(Address, u64)>,
}

impl Default for DevnetBuilder {
    fn default() -> Self {
        Self {
            chain_id: DEFAULT_CHAIN_ID,
            port: 0,
            mining: Mining::Auto,
            anvil: None,
            args: Vec::new(),
            bare: false,
            // A start takes a fraction of a second on an idle machine; the real protocols' ~60 deployment
            // transactions take much longer on a machine busy compiling and running other devnets, and a slow
            // start is not a failure: the limit is there for a chain that never answers.
            startup_timeout: Duration::from_secs(120),
            deployer: None,
        }
    }
}

impl DevnetBuilder {
    /// The defaults: chain id 31337, a port the operating system picks, automine, the pinned anvil, the full
    /// stack deployed, 120 seconds to get there.
    pub fn new() -> Self {
        Self::default()
    }

    /// The chain id (default [`DEFAULT_CHAIN_ID`]).
    pub fn chain_id(mut self, chain_id: u64) -> Self {
        self.chain_id = chain_id;
        self
    }

    /// A fixed port to listen on (e.g. 8545 for wallets that expect it). By default the operating system picks a free
    /// one, which is what parallel tests need: two devnets never race for a port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// How blocks are made once the devnet is up (default [`Mining::Auto`]).
    pub fn mining(mut self, mining: Mining) -> Self {
        self.mining = mining;
        self
    }

    /// A block every `interval` (whole seconds): [`Mining::Interval`].
    pub fn block_time(self, interval: Duration) -> Self {
        self.mining(Mining::Interval(interval))
    }

    /// `true`: a block per transaction ([`Mining::Auto`]); `false`: blocks only on request ([`Mining::Manual`]).
    pub fn automine(self, automine: bool) -> Self {
        self.mining(if automine { Mining::Auto } else { Mining::Manual })
    }

    /// The anvil binary to run, before [`crate::ANVIL_ENV`] and the pinned toolchain.
    pub fn anvil_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.anvil = Some(path.into());
        self
    }

    /// One more command-line argument for anvil (after the ones the builder sets: `--port`, `--chain-id`
    /// and, while the validator exceeds EIP-170, `--code-size-limit`; do not repeat those, nor pass
    /// `--silent`, whose banner the devnet reads).
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// More command-line arguments for anvil; see [`Self::arg`].
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Starts anvil alone: no EntryPoint, no contracts; [`Devnet::deployment`] is `None`.
    pub fn bare(mut self) -> Self {
        self.bare = true;
        self
    }

    /// Deploys the stack from `address` (impersonated), starting at `nonce`, instead of the fixed devnet
    /// deployer. The release's contracts (module, factory, account implementation) land at their addresses
    /// whoever deploys them; the devnet's own contracts (tokens, protocols) and the factory front (owned by the
    /// deployer) move with the deployer and its nonce, and [`crate::Deployment::fresh`] no longer finds them.
    pub fn deployer(mut self, address: Address, nonce: u64) -> Self {
        self.deployer = Some((address, nonce));
        self
    }

    /// How long start-up (anvil listening, then the deployment) may take before it fails (default 120 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Starts the devnet: anvil, then (unless [`Self::bare`]) the deployment.
    pub async fn start(self) -> Result<Devnet> {
        Devnet::launch(self).await
    }
}
