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
///
/// It serialises as the map itself, `{"USDC": {"address": …, "decimals": 6}}`, and also reads the form earlier
/// releases wrote, the same map nested under a `tokens` key.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "TokenTableForm")]
pub struct TokenTable {
    #[serde(flatten)]
    tokens: BTreeMap<String, Token>,
}

/// The forms a token table is read from: the map (written now), or the map under `tokens` (written before).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum TokenTableForm {
    Flat(BTreeMap<String, Token>),
    Nested { tokens: BTreeMap<String, Token> },
}

impl From<TokenTableForm> for TokenTable {
    fn from(form: TokenTableForm) -> Self {
        match form {
            TokenTableForm::Flat(tokens) | TokenTableForm::Nested { tokens } => Self { tokens },
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::address;

    fn usdc() -> TokenTable {
        let mut tokens = TokenTable::default();
        tokens.insert("USDC", address!("A0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"), 6);
        tokens
    }

    #[test]
    fn a_table_is_written_as_the_map_itself() {
        let json = serde_json::to_value(usdc()).unwrap();
        assert_eq!(json["USDC"]["decimals"], 6);
        assert!(json.get("tokens").is_none(), "{json}");
    }

    #[test]
    fn both_the_map_and_the_earlier_nested_form_are_read() {
        let flat =
            r#"{"USDC": {"address": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "decimals": 6}}"#;
        let nested = format!(r#"{{"tokens": {flat}}}"#);
        assert_eq!(serde_json::from_str::<TokenTable>(flat).unwrap(), usdc());
        assert_eq!(serde_json::from_str::<TokenTable>(&nested).unwrap(), usdc());
        assert_eq!(serde_json::from_str::<TokenTable>("{}").unwrap(), TokenTable::default());
        assert_eq!(
            serde_json::from_str::<TokenTable>(r#"{"tokens": {}}"#).unwrap(),
            TokenTable::default()
        );
    }
}
