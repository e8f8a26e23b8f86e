//! Public networks by name: what leash knows of each without being told (chain id, the canonical USDC, the
//! block explorer). EntryPoint v0.7 and the release's contracts ([`leash_contracts::release`]) are at the
//! same addresses on all of them. RPC and bundler URLs are the user's to give: they usually carry API keys.

use alloy::primitives::{address, Address};

/// A public network leash knows by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preset {
    /// The name it goes by (`--network base`).
    pub name: &'static str,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Circle's native USDC (6 decimals).
    pub usdc: Option<Address>,
    /// The block explorer's base URL.
    pub explorer: &'static str,
    /// Whether it is a test network.
    pub testnet: bool,
}

/// Ethereum, Base, Optimism, Arbitrum and their Sepolia test networks.
pub const PRESETS: [Preset; 8] = [
    Preset {
        name: "ethereum",
        chain_id: 1,
        usdc: Some(address!("A0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")),
        explorer: "https://etherscan.io",
        testnet: false,
    },
    Preset {
        name: "base",
        chain_id: 8453,
        usdc: Some(address!("833589fCD6eDb6E08f4c7C32D4f71b54bdA02913")),
        explorer: "https://basescan.org",
        testnet: false,
    },
    Preset {
        name: "optimism",
        chain_id: 10,
        usdc: Some(address!("0b2C639c533813f4Aa9D7837CAf62653d097Ff85")),
        explorer: "https://optimistic.etherscan.io",
        testnet: false,
    },
    Preset {
        name: "arbitrum",
        chain_id: 42161,
        usdc: Some(address!("af88d065e77c8cC2239327C5EDb3A432268e5831")),
        explorer: "https://arbiscan.io",
        testnet: false,
    },
    Preset {
        name: "sepolia",
        chain_id: 11_155_111,
        usdc: Some(address!("1c7D4B196Cb0C7B01d743Fbc6116a902379C7238")),
        explorer: "https://sepolia.etherscan.io",
        testnet: true,
    },
    Preset {
        name: "base-sepolia",
        chain_id: 84532,
        usdc: Some(address!("036CbD53842c5426634e7929541eC2318f3dCF7e")),
        explorer: "https://sepolia.basescan.org",
        testnet: true,
    },
    Preset {
        name: "optimism-sepolia",
        chain_id: 11_155_420,
        usdc: Some(address!("5fd84259d66Cd46123540766Be93DFE6D43130D7")),
        explorer: "https://sepolia-optimism.etherscan.io",
        testnet: true,
    },
    Preset {
        name: "arbitrum-sepolia",
        chain_id: 421_614,
        usdc: Some(address!("75faf114eafb1BDbe2F0316DF893fd58CE46AA4d")),
        explorer: "https://sepolia.arbiscan.io",
        testnet: true,
    },
];

/// The preset called `name`.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_chain_ids_are_unique() {
        for (i, a) in PRESETS.iter().enumerate() {
            for b in &PRESETS[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(a.chain_id, b.chain_id);
            }
        }
        assert_eq!(preset("base").map(|p| p.chain_id), Some(8453));
        assert!(preset("base-goerli").is_none());
    }
}
