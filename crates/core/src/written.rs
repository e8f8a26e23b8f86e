//! Calls as people write them: `USDC "transfer(address,uint256)" merchant "100 USDC"`, like `cast send`, in a
//! batch file or in an agent's tool call.
//!
//! A target or an `address` argument may be an address, a token symbol (`USDC`), a contract the network names
//! (`router`), or `self` (the account). A `uint` argument may be an amount with its unit (`"100 USDC"`,
//! `"0.01 ETH"`, `"5 gwei"`): it is converted to raw units. The command line and the MCP server read calls with
//! this one parser, so a call means the same on both.

use crate::{parse_amount, parse_function, Call, Error, TokenTable};
use alloy::{
    dyn_abi::{DynSolType, DynSolValue, JsonAbiExt},
    hex,
    primitives::{Address, Bytes, U256},
};
use serde::Deserialize;
use std::collections::BTreeMap;

type Result<T> = std::result::Result<T, Error>;

fn bad(message: impl Into<String>) -> Error {
    Error::Call(message.into())
}

/// One call of a batch, as a batch file or a tool call writes it.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallEntry {
    /// The contract or address called: 0x…, a token symbol ("USDC"), a contract name ("router"), or "self".
    pub to: String,
    /// The function, e.g. "transfer(address to, uint256 amount)"; omit for a plain value transfer.
    pub function: Option<String>,
    /// The arguments, in order: addresses or names, numbers (as JSON numbers or strings; large ones as strings),
    /// booleans, or amounts with a unit ("100 USDC").
    #[serde(default, deserialize_with = "scalars")]
    #[schemars(with = "Vec<Scalar>")]
    pub args: Vec<String>,
    /// Native value sent: "0.01 ETH", "5 gwei" or wei (a string, or a JSON number of wei).
    #[serde(default, deserialize_with = "optional_scalar")]
    #[schemars(with = "Option<Scalar>")]
    pub value: Option<String>,
    /// Raw calldata in hex, instead of function and args.
    pub data: Option<String>,
}

/// An argument as a person or a model writes it: text, a JSON number, or a boolean. A JSON number is taken as its
/// digits only when it is an integer no larger than 2^53 - 1: past that, JSON parsers (JavaScript's, which most
/// MCP hosts run) may already have rounded it before it arrived, so such a number is refused with what to write
/// instead (the same digits as a string). Fractions are refused by the argument's type.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Scalar {
    /// Text: an address, a name, a number, an amount with its unit.
    Text(String),
    /// A JSON number.
    Number(serde_json::Number),
    /// A boolean.
    Bool(bool),
}

impl Scalar {
    /// The text the parser reads. A number past 2^53 - 1 is refused (it may have been rounded on its way); a
    /// whole number written as a float (`1.0`, `1e3`) is that whole number.
    fn into_text(self) -> std::result::Result<String, String> {
        const SAFE: f64 = 9_007_199_254_740_991.0;
        match self {
            Scalar::Text(text) => Ok(text),
            Scalar::Number(number) => {
                let magnitude = match (number.as_u64(), number.as_i64(), number.as_f64()) {
                    (Some(n), _, _) => n as f64,
                    (_, Some(n), _) => n.unsigned_abs() as f64,
                    (_, _, Some(n)) => n.abs(),
                    _ => f64::INFINITY,
                };
                if magnitude > SAFE {
                    return Err(format!(
                        "the number {number} is past 2^53 - 1, where JSON numbers lose digits: write it as a \
                         string, e.g. \"123456789012345678901\""
                    ));
                }
                match number.as_f64().filter(|n| number.is_f64() && n.fract() == 0.0) {
                    Some(whole) => Ok(format!("{}", whole as i64)),
                    None => Ok(number.to_string()),
                }
            }
            Scalar::Bool(b) => Ok(b.to_string()),
        }
    }
}

/// Deserializes a list of [`Scalar`]s as their text (for `#[serde(deserialize_with)]`).
pub fn scalars<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Vec<String>, D::Error> {
    Vec::<Scalar>::deserialize(deserializer)?
        .into_iter()
        .map(|s| s.into_text().map_err(serde::de::Error::custom))
        .collect()
}

/// Deserializes an optional [`Scalar`] as its text (for `#[serde(deserialize_with)]`).
pub fn optional_scalar<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<String>, D::Error> {
    Option::<Scalar>::deserialize(deserializer)?
        .map(|s| s.into_text().map_err(serde::de::Error::custom))
        .transpose()
}

impl CallEntry {
    /// The call, resolved against `names`.
    pub fn resolve(&self, names: &Names<'_>) -> Result<Call> {
        call(
            names,
            &self.to,
            self.function.as_deref(),
            &self.args,
            self.value.as_deref(),
            self.data.as_deref(),
        )
    }
}

/// Names the calls may use.
#[derive(Debug)]
pub struct Names<'a> {
    /// Token symbols.
    pub tokens: &'a TokenTable,
    /// Contracts and addresses by name (a network's, a policy file's).
    pub addresses: &'a BTreeMap<String, Address>,
    /// What `self` names: the account.
    pub account: Address,
}

impl Names<'_> {
    /// An address, a token symbol, a name, or `self`.
    pub fn address(&self, text: &str) -> Result<Address> {
        let text = text.trim();
        if text.starts_with("0x") {
            return text.parse().map_err(|_| bad(format!("`{text}` is not an address")));
        }
        if text == "self" {
            return Ok(self.account);
        }
        if let Some(token) = self.tokens.get(text) {
            return Ok(token.address);
        }
        if let Some(address) = self.addresses.get(text) {
            return Ok(*address);
        }
        let mut known: Vec<&str> =
            self.tokens.symbols().chain(self.addresses.keys().map(String::as_str)).collect();
        known.push("self");
        Err(bad(format!(
            "`{text}` is neither an address nor a known name (known: {})",
            known.join(", ")
        )))
    }

    /// An amount with its unit ("100 USDC"), in raw units.
    pub fn amount(&self, text: &str) -> Result<U256> {
        parse_amount(text, self.tokens).map(|a| a.raw)
    }

    /// A call's native value: ETH, gwei or wei. A token amount there would send that many wei of ETH, so it is
    /// refused with what to write instead.
    pub fn native_value(&self, text: &str) -> Result<U256> {
        let amount = parse_amount(text, self.tokens)?;
        match amount.unit.as_deref() {
            Some(unit) if !["wei", "gwei", "eth", "ether"].contains(&unit.to_ascii_lowercase().as_str()) => {
                Err(bad(format!(
                    "a call's value is native value: write it in ETH, gwei or wei (\"0.01 ETH\"), not `{text}`; \
                     to move {unit}, call its transfer function (`--function \"transfer(address to, uint256 amount)\"`)"
                )))
            }
            _ => Ok(amount.raw),
        }
    }
}

/// One call from its parts: the target, the function and its arguments or raw calldata, and native value.
pub fn call(
    names: &Names<'_>,
    to: &str,
    function: Option<&str>,
    args: &[String],
    value: Option<&str>,
    data: Option<&str>,
) -> Result<Call> {
    let target = names.address(to)?;
    let value = value.map(|v| names.native_value(v)).transpose()?.unwrap_or_default();
    let data: Bytes = match (function, data) {
        (Some(_), Some(_)) => {
            return Err(bad("give a function with arguments, or --data, not both"))
        }
        (None, Some(hex_data)) => {
            hex::decode(hex_data.trim()).map_err(|e| bad(format!("--data is not hex: {e}")))?.into()
        }
        (None, None) if !args.is_empty() => {
            return Err(bad("arguments were given without a function signature"))
        }
        (None, None) => Bytes::new(),
        (Some(signature), None) => encode(names, signature, args)?,
    };
    Ok(Call { target, value, data })
}

fn encode(names: &Names<'_>, signature: &str, args: &[String]) -> Result<Bytes> {
    let function = parse_function(signature)?;
    if function.inputs.len() != args.len() {
        return Err(bad(format!(
            "{} takes {} argument(s), {} given",
            function.signature(),
            function.inputs.len(),
            args.len()
        )));
    }
    let mut values = Vec::with_capacity(args.len());
    for (input, arg) in function.inputs.iter().zip(args) {
        let ty = DynSolType::parse(&input.selector_type())
            .map_err(|e| bad(format!("argument type `{}`: {e}", input.ty)))?;
        let shown = if input.name.is_empty() { input.ty.clone() } else { input.name.clone() };
        let bad_arg = |e: String| bad(format!("argument `{shown}` ({}): {e}", input.ty));
        let value = match &ty {
            DynSolType::Address => DynSolValue::Address(names.address(arg)?),
            // An amount with its unit ("100 USDC") becomes raw units.
            DynSolType::Uint(bits) if arg.trim().contains(' ') => {
                DynSolValue::Uint(names.amount(arg).map_err(|f| bad_arg(f.to_string()))?, *bits)
            }
            _ => ty.coerce_str(arg).map_err(|e| bad_arg(e.to_string()))?,
        };
        values.push(value);
    }
    let data = function.abi_encode_input(&values).map_err(|e| {
        bad(format!("cannot encode the arguments of {}: {e}", function.signature()))
    })?;
    Ok(data.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::address;

    fn names() -> (TokenTable, BTreeMap<String, Address>) {
        let mut tokens = TokenTable::default();
        tokens.insert("USDC", address!("00000000000000000000000000000000000000c0"), 6);
        (
            tokens,
            BTreeMap::from([(
                "merchant".to_owned(),
                address!("00000000000000000000000000000000000000aa"),
            )]),
        )
    }

    fn entry(to: &str, function: Option<&str>, args: &[&str]) -> CallEntry {
        CallEntry {
            to: to.into(),
            function: function.map(Into::into),
            args: args.iter().map(|a| a.to_string()).collect(),
            value: None,
            data: None,
        }
    }

    #[test]
    fn names_and_amounts_become_addresses_and_raw_units() {
        let (tokens, addresses) = names();
        let account = address!("00000000000000000000000000000000000000ff");
        let names = Names { tokens: &tokens, addresses: &addresses, account };
        let call =
            entry("USDC", Some("transfer(address to, uint256 amount)"), &["merchant", "100 USDC"])
                .resolve(&names)
                .unwrap();
        let expected = crate::encode_call(
            "transfer(address,uint256)",
            &[addresses["merchant"].into_word().into(), U256::from(100_000_000u64)],
        )
        .unwrap();
        assert_eq!(
            call,
            Call { target: tokens.get("USDC").unwrap().address, value: U256::ZERO, data: expected }
        );
        assert_eq!(entry("self", None, &[]).resolve(&names).unwrap().target, account);
    }

    #[test]
    fn numbers_and_booleans_are_read_as_written() {
        let entry: CallEntry = serde_json::from_value(serde_json::json!({
            "to": "USDC",
            "function": "f(uint256 a, bool b, uint256 c)",
            "args": [100, true, "123456789012345678901234567890"],
            "value": 5
        }))
        .unwrap();
        assert_eq!(entry.args, ["100", "true", "123456789012345678901234567890"]);
        assert_eq!(entry.value.as_deref(), Some("5"));
        // A JSON number past 2^53 - 1 may have been rounded before it arrived: refused, saying to write it as
        // a string, whether it fits 64 bits or not.
        for big in ["9007199254740993", "1234567890123456789", "123456789012345678901234567890"] {
            let rounded = serde_json::from_str::<CallEntry>(&format!(
                r#"{{"to": "USDC", "function": "f(uint256 a)", "args": [{big}]}}"#
            ))
            .unwrap_err();
            assert!(rounded.to_string().contains("write it as a string"), "{big}: {rounded}");
        }
        let safe: CallEntry = serde_json::from_str(
            r#"{"to": "USDC", "function": "f(uint256 a)", "args": [9007199254740991]}"#,
        )
        .unwrap();
        assert_eq!(safe.args, ["9007199254740991"]);
        let whole: CallEntry = serde_json::from_str(
            r#"{"to": "USDC", "function": "f(uint256 a, uint256 b, int256 c)", "args": [1.0, 1e3, -5]}"#,
        )
        .unwrap();
        assert_eq!(whole.args, ["1", "1000", "-5"]);
        let schema = serde_json::to_value(schemars::schema_for!(CallEntry)).unwrap();
        assert!(schema.to_string().contains("number"), "the schema admits numbers: {schema}");
    }

    #[test]
    fn bad_calls_say_what_is_wrong() {
        let (tokens, addresses) = names();
        let names = Names { tokens: &tokens, addresses: &addresses, account: Address::ZERO };
        let message = |e: CallEntry| e.resolve(&names).unwrap_err().to_string();
        assert!(message(entry("nobody", None, &[])).contains("neither an address nor a known name"));
        assert!(message(entry("USDC", Some("transfer(address,uint256)"), &["merchant"]))
            .contains("takes 2 argument(s), 1 given"));
        assert!(message(entry("USDC", Some("transfer(address,uint256)"), &["merchant", "1 DAI"]))
            .contains("argument `uint256`"));
        assert!(
            message(entry("USDC", None, &["merchant"])).contains("without a function signature")
        );
        let value = CallEntry { value: Some("1 USDC".into()), ..entry("merchant", None, &[]) };
        assert!(message(value).contains("write it in ETH, gwei or wei"));
    }
}
