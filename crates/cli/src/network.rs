//! Networks by name: `networks.toml` in the data directory, environment overrides, and the built-in devnet.
//!
//! ```toml
//! default = "base-sepolia"
//!
//! [networks.base-sepolia]
//! chain_id = 84532
//! rpc_url = "https://sepolia.base.org"
//! bundler_url = "https://bundler.example/base-sepolia"
//! paymaster_url = "https://paymaster.example/base-sepolia"   # optional: sponsors every operation
//! module = "0x…"    # the SessionKeyValidator
//! factory = "0x…"   # the LeashAccountFactory
//! tokens = { USDC = { address = "0x036CbD53842c5426634e7929541eC2318f3dCF7e", decimals = 6 } }
//! addresses = { router = "0x…" }
//! ```
//!
//! Ethereum, Base, Optimism, Arbitrum and their Sepolia test networks are built in by name (`ethereum`, `base`,
//! `optimism`, `arbitrum`, `sepolia`, `base-sepolia`, `optimism-sepolia`, `arbitrum-sepolia`: chain id, the
//! canonical USDC, the explorer, the release's module and factory); an entry of the same name in the file
//! overrides any of it and adds the URLs, which only the user can give:
//!
//! ```toml
//! [networks.base]
//! rpc_url = "https://base-mainnet.example/v2/KEY"
//! bundler_url = "https://api.pimlico.io/v2/8453/rpc?apikey=KEY"
//! factory = "0x…"   # your staked factory front (`leash deploy --front-owner`), else the bare factory
//! bundler_price_limit = 4   # the most times the node's gas price the bundler's own price may be (default 4)
//! max_operation_cost = "0.1 ETH"   # the most one operation may cost with the bundler's gas estimate
//! ```
//!
//! `--network` or `$LEASH_NETWORK` picks one; without either, the file's `default`, else `devnet`: the local
//! stack `leash devnet` runs (chain 31337, RPC on port 8545, bundler on port 4337), whose addresses every
//! fresh devnet shares. `$LEASH_RPC_URL`, `$LEASH_BUNDLER_URL` and `$LEASH_PAYMASTER_URL` override the chosen
//! network's URLs.

use crate::failure::{Failure, Kind, Result};
use alloy::{
    primitives::{Address, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
};
use leash_contracts::release;
use leash_core::{PolicyContext, TokenTable};
use leash_devnet::Deployment;
use leash_sdk::{
    bundler::{BundlerClient, DEFAULT_COST_LIMIT, DEFAULT_PRICE_LIMIT},
    paymaster::PaymasterClient,
    presets::{Preset, PRESETS},
    Chain, Submitter,
};
use serde::{Deserialize, Serialize};
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

/// The name of the built-in local network.
pub(crate) const DEVNET: &str = "devnet";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    default: Option<String>,
    #[serde(default)]
    networks: BTreeMap<String, NetworkEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkEntry {
    /// Required unless the name is a preset's.
    chain_id: Option<u64>,
    rpc_url: Option<String>,
    bundler_url: Option<String>,
    paymaster_url: Option<String>,
    /// The release's module unless set.
    module: Option<Address>,
    /// The release's factory unless set.
    factory: Option<Address>,
    explorer: Option<String>,
    /// The most times the node's gas price a bundler's own price may be.
    bundler_price_limit: Option<u32>,
    /// The most one operation may cost with the bundler's gas estimate ("0.1 ETH").
    max_operation_cost: Option<String>,
    #[serde(default)]
    tokens: BTreeMap<String, TokenEntry>,
    #[serde(default)]
    addresses: BTreeMap<String, Address>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    address: Address,
    decimals: u8,
}

/// One network, with the environment's overrides applied.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Network {
    pub(crate) name: String,
    pub(crate) chain_id: u64,
    /// Empty when not given (a preset without an entry): [`Network::provider`] says what to set.
    #[serde(skip)]
    pub(crate) rpc_url: String,
    #[serde(skip)]
    pub(crate) bundler_url: Option<String>,
    #[serde(skip)]
    pub(crate) paymaster_url: Option<String>,
    pub(crate) module: Address,
    pub(crate) factory: Address,
    pub(crate) tokens: TokenTable,
    pub(crate) addresses: BTreeMap<String, Address>,
    /// The block explorer's base URL.
    pub(crate) explorer: Option<String>,
    /// The most times the node's gas price the bundler's own price may be.
    pub(crate) bundler_price_limit: u32,
    /// The most one operation may cost with the bundler's gas estimate, in wei.
    #[serde(skip)]
    pub(crate) max_operation_cost: U256,
}

/// Every configured network and which one is chosen.
#[derive(Debug)]
pub(crate) struct Networks {
    pub(crate) all: BTreeMap<String, Network>,
    pub(crate) selected: String,
    /// Whether the network was named (`--network`, `$LEASH_NETWORK`) rather than the file's default.
    pub(crate) named: bool,
    /// The config file they came from (named in errors).
    file: PathBuf,
}

impl Networks {
    /// Reads `file` (absent: only the devnet) and picks `flag` (from `--network` or `$LEASH_NETWORK`).
    pub(crate) fn load(file: &Path, flag: Option<&str>) -> Result<Self> {
        let config = match std::fs::read_to_string(file) {
            Ok(text) => toml::from_str::<ConfigFile>(&text).map_err(|e| {
                let place = e
                    .span()
                    .map(|span| {
                        let line = text[..span.start].matches('\n').count() + 1;
                        format!(":{line}")
                    })
                    .unwrap_or_default();
                Failure::bad_input(format!("{}{place}: {}", file.display(), e.message().trim_end()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ConfigFile::default(),
            Err(e) => {
                return Err(Failure::bad_input(format!("cannot read {}: {e}", file.display())))
            }
        };
        let mut all = BTreeMap::from([(DEVNET.to_owned(), devnet())]);
        for preset in &PRESETS {
            all.insert(preset.name.to_owned(), from_preset(preset));
        }
        for (name, entry) in config.networks {
            let max_operation_cost =
                entry.max_operation_cost.as_deref().map(native_amount).transpose().map_err(
                    |e| {
                        Failure::bad_input(format!(
                            "{}: max_operation_cost of `{name}`: {e}",
                            file.display()
                        ))
                    },
                )?;
            if entry.bundler_price_limit == Some(0) {
                return Err(Failure::bad_input(format!(
                    "{}: bundler_price_limit of `{name}` is 0; it counts times the node's gas price, at least 1",
                    file.display()
                )));
            }
            let base = match all.remove(&name) {
                Some(known) if name != DEVNET => {
                    if entry.chain_id.is_some_and(|id| id != known.chain_id) {
                        return Err(Failure::bad_input(format!(
                            "{}: `{name}` is chain {}, not {}",
                            file.display(),
                            known.chain_id,
                            entry.chain_id.unwrap_or_default()
                        ))
                        .with_hint("give a network on another chain a name of its own"));
                    }
                    known
                }
                Some(_) => {
                    return Err(Failure::bad_input(format!(
                        "{}: `devnet` is built in and cannot be redefined",
                        file.display()
                    ))
                    .with_hint("give the network another name"))
                }
                None => {
                    let (Some(chain_id), Some(_)) = (entry.chain_id, &entry.rpc_url) else {
                        return Err(Failure::bad_input(format!(
                            "{}: network `{name}` needs chain_id and rpc_url (it is not one of the built-in \
                             networks: {})",
                            file.display(),
                            PRESETS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
                        )));
                    };
                    Network {
                        name: name.clone(),
                        chain_id,
                        rpc_url: String::new(),
                        bundler_url: None,
                        paymaster_url: None,
                        module: release::SESSION_KEY_VALIDATOR,
                        factory: release::ACCOUNT_FACTORY,
                        tokens: TokenTable::default(),
                        addresses: BTreeMap::new(),
                        explorer: None,
                        bundler_price_limit: DEFAULT_PRICE_LIMIT,
                        max_operation_cost: DEFAULT_COST_LIMIT,
                    }
                }
            };
            let mut network = entry.over(base);
            network.max_operation_cost = max_operation_cost.unwrap_or(network.max_operation_cost);
            all.insert(name, network);
        }
        let selected = flag.map(str::to_owned).or(config.default).unwrap_or_else(|| DEVNET.into());
        if !all.contains_key(&selected) {
            return Err(unknown(&selected, &all, file));
        }
        Ok(Self { all, selected, named: flag.is_some(), file: file.to_path_buf() })
    }

    /// The chosen network, with the environment's URL overrides.
    pub(crate) fn selected(&self) -> Network {
        self.get(&self.selected).expect("checked when loaded")
    }

    /// A network by name, with the environment's URL overrides.
    pub(crate) fn get(&self, name: &str) -> Result<Network> {
        let mut network =
            self.all.get(name).cloned().ok_or_else(|| unknown(name, &self.all, &self.file))?;
        let env = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
        if let Some(url) = env("LEASH_RPC_URL") {
            network.rpc_url = url;
        }
        if let Some(url) = env("LEASH_BUNDLER_URL") {
            network.bundler_url = Some(url);
        }
        if let Some(url) = env("LEASH_PAYMASTER_URL") {
            network.paymaster_url = Some(url);
        }
        Ok(network)
    }

    /// The configured networks a grant's chain may be on: those with its chain id and module, the chosen one
    /// first (several names may point at one chain, or a local chain id may be reused).
    pub(crate) fn for_grant(&self, chain_id: u64, module: Address) -> Vec<Network> {
        let mut names: Vec<&String> = self
            .all
            .iter()
            .filter(|(name, n)| {
                n.chain_id == chain_id && n.module == module && self.usable(name, n)
            })
            .map(|(name, _)| name)
            .collect();
        names.sort_by_key(|name| **name != self.selected);
        names.into_iter().filter_map(|name| self.get(name).ok()).collect()
    }

    /// The network whose chain id is `chain_id`: the chosen one if it matches, else the only configured one.
    pub(crate) fn for_chain(&self, chain_id: u64) -> Result<Network> {
        let selected = self.selected();
        if selected.chain_id == chain_id {
            return Ok(selected);
        }
        let matching: Vec<&String> = self
            .all
            .iter()
            .filter(|(name, n)| n.chain_id == chain_id && self.usable(name, n))
            .map(|(name, _)| name)
            .collect();
        match matching.as_slice() {
            [name] => self.get(name),
            [] => Err(Failure::bad_input(format!("no configured network has chain id {chain_id}"))
                .with_hint("add it to networks.toml")),
            names => Err(Failure::bad_input(format!(
                "several networks have chain id {chain_id} ({}); pick one with --network",
                names.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")
            ))),
        }
    }
}

impl NetworkEntry {
    /// `base` with what this entry sets.
    fn over(self, mut base: Network) -> Network {
        base.chain_id = self.chain_id.unwrap_or(base.chain_id);
        base.rpc_url = self.rpc_url.unwrap_or(base.rpc_url);
        base.bundler_url = self.bundler_url.or(base.bundler_url);
        base.paymaster_url = self.paymaster_url.or(base.paymaster_url);
        base.module = self.module.unwrap_or(base.module);
        base.factory = self.factory.unwrap_or(base.factory);
        base.explorer = self.explorer.or(base.explorer);
        base.bundler_price_limit = self.bundler_price_limit.unwrap_or(base.bundler_price_limit);
        // max_operation_cost is parsed, with its errors, by the caller.
        for (symbol, token) in self.tokens {
            base.tokens.insert(symbol, token.address, token.decimals);
        }
        base.addresses.extend(self.addresses);
        base
    }
}

/// A built-in public network: the release's module and bare factory, the canonical USDC; no URLs.
fn from_preset(preset: &Preset) -> Network {
    let mut tokens = TokenTable::default();
    if let Some(usdc) = preset.usdc {
        tokens.insert("USDC", usdc, 6);
    }
    Network {
        name: preset.name.into(),
        chain_id: preset.chain_id,
        rpc_url: String::new(),
        bundler_url: None,
        paymaster_url: None,
        module: release::SESSION_KEY_VALIDATOR,
        factory: release::ACCOUNT_FACTORY,
        tokens,
        addresses: BTreeMap::new(),
        explorer: Some(preset.explorer.into()),
        bundler_price_limit: DEFAULT_PRICE_LIMIT,
        max_operation_cost: DEFAULT_COST_LIMIT,
    }
}

impl Networks {
    /// Whether a network can be reached: it has an RPC URL, or it is the chosen one (which `$LEASH_RPC_URL` may
    /// give one). A built-in network nobody configured is not a candidate when looking networks up by chain.
    fn usable(&self, name: &str, network: &Network) -> bool {
        !network.rpc_url.is_empty() || name == self.selected
    }
}

fn unknown(name: &str, all: &BTreeMap<String, Network>, file: &Path) -> Failure {
    Failure::bad_input(format!(
        "unknown network `{name}`; known: {}",
        all.keys().cloned().collect::<Vec<_>>().join(", ")
    ))
    .with_hint(format!("networks are configured in {}", file.display()))
}

/// A native amount ("0.1 ETH", "20 gwei"), more than zero, in wei; the error says what to write instead.
pub(crate) fn native_amount(text: &str) -> std::result::Result<U256, String> {
    let parsed =
        leash_core::parse_amount(text, &TokenTable::default()).map_err(|e| e.to_string())?;
    let native =
        |unit: &str| ["eth", "ether", "wei", "gwei"].contains(&unit.to_ascii_lowercase().as_str());
    if !parsed.unit.as_deref().is_some_and(native) {
        return Err(format!("`{text}` is not a native amount like \"0.1 ETH\""));
    }
    if parsed.raw.is_zero() {
        return Err(format!("`{text}` is nothing; give more than zero"));
    }
    Ok(parsed.raw)
}

/// The local stack `leash devnet` runs with its default ports.
fn devnet() -> Network {
    let d = Deployment::fresh(leash_devnet::DEFAULT_CHAIN_ID);
    let mut tokens = TokenTable::default();
    for (symbol, token) in &d.tokens {
        tokens.insert(symbol.clone(), token.address, token.decimals);
    }
    Network {
        name: DEVNET.into(),
        chain_id: d.chain_id,
        rpc_url: "http://127.0.0.1:8545".into(),
        bundler_url: Some("http://127.0.0.1:4337".into()),
        paymaster_url: None,
        module: d.session_key_validator,
        factory: d.factory_staker,
        tokens,
        addresses: d.named_contracts().into_iter().map(|(n, a)| (n.to_string(), a)).collect(),
        explorer: None,
        bundler_price_limit: DEFAULT_PRICE_LIMIT,
        max_operation_cost: DEFAULT_COST_LIMIT,
    }
}

impl Network {
    /// The RPC URL as output shows it (API keys in paths or queries elided).
    pub(crate) fn shown_rpc_url(&self) -> String {
        if self.rpc_url.is_empty() {
            return "none (set rpc_url)".into();
        }
        leash_sdk::bundler::scrub_urls(&self.rpc_url)
    }

    pub(crate) fn shown_bundler_url(&self) -> Option<String> {
        self.bundler_url.as_deref().map(leash_sdk::bundler::scrub_urls)
    }

    pub(crate) fn shown_paymaster_url(&self) -> Option<String> {
        self.paymaster_url.as_deref().map(leash_sdk::bundler::scrub_urls)
    }

    /// What policy files on this network may name: its tokens and contracts, and the account as `self`.
    pub(crate) fn policy_context(&self, account: Option<Address>) -> PolicyContext {
        PolicyContext { tokens: self.tokens.clone(), addresses: self.addresses.clone(), account }
    }

    /// A provider for the RPC URL; nothing is sent yet.
    pub(crate) fn provider(&self) -> Result<DynProvider> {
        Ok(ProviderBuilder::new().connect_http(self.rpc()?).erased())
    }

    /// The RPC URL, parsed; a network without one says where to set it.
    pub(crate) fn rpc(&self) -> Result<alloy::transports::http::reqwest::Url> {
        if self.rpc_url.is_empty() {
            return Err(Failure::bad_input(format!("network `{}` has no rpc_url", self.name))
                .with_hint(format!(
                    "set rpc_url under [networks.{}] in networks.toml, or $LEASH_RPC_URL",
                    self.name
                )));
        }
        self.rpc_url.parse().map_err(|e| {
            Failure::bad_input(format!("network `{}`: rpc_url is not a URL: {e}", self.name))
        })
    }

    /// Connects and checks that the node serves the configured chain.
    pub(crate) async fn connect(&self) -> Result<Chain> {
        let chain = Chain::connect(self.provider()?, self.module, self.name.clone())
            .await
            .map_err(|e| {
                let reason = match e {
                    leash_sdk::Error::Rpc { message, .. } => message,
                    other => other.to_string(),
                };
                Failure::new(
                    Kind::Network,
                    format!(
                        "cannot reach network `{}` at {}: {}",
                        self.name,
                        self.shown_rpc_url(),
                        leash_sdk::bundler::scrub_urls(&reason)
                    ),
                )
                .with_hint(if self.name == DEVNET {
                    "start the local stack with `leash devnet`".to_owned()
                } else {
                    "check rpc_url in networks.toml or $LEASH_RPC_URL".to_owned()
                })
            })?;
        if chain.chain_id != self.chain_id {
            return Err(Failure::bad_input(format!(
                "network `{}` is configured as chain {} but its RPC serves chain {}",
                self.name, self.chain_id, chain.chain_id
            )));
        }
        Ok(chain)
    }

    /// The bundler client operations go through.
    pub(crate) fn submitter(&self) -> Result<Submitter> {
        let url = self.bundler_url.as_deref().ok_or_else(|| {
            Failure::bad_input(format!("network `{}` has no bundler_url", self.name))
                .with_hint("set bundler_url in networks.toml or $LEASH_BUNDLER_URL")
        })?;
        let client = BundlerClient::builder(url)
            .price_limit(self.bundler_price_limit)
            .cost_limit(self.max_operation_cost)
            .build()
            .map_err(|e| Failure::bad_input(e.to_string()))?;
        Ok(Submitter::Bundler(client))
    }

    /// The paymaster service, when the network has one.
    pub(crate) fn paymaster(&self) -> Result<Option<PaymasterClient>> {
        self.paymaster_url
            .as_deref()
            .map(|url| PaymasterClient::new(url, self.chain_id))
            .transpose()
            .map_err(|e| Failure::bad_input(e.to_string()))
    }
}
