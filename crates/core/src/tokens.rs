//! The token table: symbols people write in policies, with their addresses and decimals.

use alloy::primitives::Address;
use std::collections::BTreeMap;

/// A token known by symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Token {
    /// The token contract.
    pub address: Address,
    /// Its decimals.
    pub decimals: u8,
}

/// Symbol → token, matched without regard to case ("usdc" finds "USDC").
///
/// ```
/// use leash_core::TokenTable;
/// use alloy::primitives::address;
///
/// let mut tokens = TokenTable::default();
/// tokens.insert("USDC", address!("A0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"), 6);
/// assert_eq!(tokens.get("usdc").unwrap().decimals, 6);
/// assert_eq!(tokens.symbol_of(tokens.get("USDC").unwrap().address), Some("USDC"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenTable {
    tokens: BTreeMap<String, Token>,
}

impl TokenTable {
    /// Adds or replaces a token.
    pub fn insert(&mut self, symbol: impl Into<String>, address: Address, decimals: u8) {
        self.tokens.insert(symbol.into(), Token { address, decimals });
    }

    /// The token with this symbol.
    pub fn get(&self, symbol: &str) -> Option<&Token> {
        self.tokens.get(symbol).or_else(|| {
            self.tokens.iter().find(|(s, _)| s.eq_ignore_ascii_case(symbol)).map(|(_, token)| token)
        })
    }

    /// The symbol of the token at `address`.
    pub fn symbol_of(&self, address: Address) -> Option<&str> {
        self.tokens.iter().find(|(_, t)| t.address == address).map(|(s, _)| s.as_str())
    }

    /// Every symbol, sorted.
    pub fn symbols(&self) -> impl Iterator<Item = &str> {
        self.tokens.keys().map(String::as_str)
    }

    /// Adds every token of `other`, replacing equal symbols.
    pub fn extend(&mut self, other: &TokenTable) {
        self.tokens.extend(other.tokens.iter().map(|(s, t)| (s.clone(), *t)));
    }
}
