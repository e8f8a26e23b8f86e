//! Calls as people write them: `USDC "transfer(address,uint256)" merchant "100 USDC"`, like `cast send`, or a
//! batch file.
//!
//! A target or an `address` argument may be an address, a token symbol (`USDC`), a contract the network names
//! (`router`), or `self` (the account). Names a policy file defined for itself are not kept in the grant, so
//! calls spell those addresses out. A `uint` argument may be an
//! amount with its unit (`"100 USDC"`, `"0.01 ETH"`, `"5 gwei"`): it is converted to raw units.

use crate::failure::{Failure, Result};
use alloy::{
    dyn_abi::{DynSolType, DynSolValue, JsonAbiExt},
    hex,
    primitives::{Address, Bytes, U256},
};
use leash_core::{parse_amount, parse_function, Call, TokenTable};
use serde::Deserialize;
use std::{collections::BTreeMap, path::PathBuf};

/// One call from the command line, or a batch from a file.
#[derive(Debug, clap::Args)]
pub(crate) struct CallArgs {
    /// The contract or address called: 0x…, a token symbol, a contract name, or `self`.
    #[arg(required_unless_present = "batch")]
    pub(crate) to: Option<String>,
    /// The function, e.g. "transfer(address,uint256)"; omit for a plain value transfer.
    pub(crate) function: Option<String>,
    /// The function's arguments, in order.
    pub(crate) args: Vec<String>,
    /// Native value sent with the call: "0.01 ETH", "5 gwei", or wei.
    #[arg(long)]
    pub(crate) value: Option<String>,
    /// Raw calldata in hex, instead of a function and arguments.
    #[arg(long, conflicts_with = "function")]
    pub(crate) data: Option<String>,
    /// A JSON file with a batch of calls, sent as one operation:
    /// [{"to": "USDC", "function": "transfer(address,uint256)", "args": ["0x…", "100 USDC"]}, …].
    #[arg(long, value_name = "FILE", conflicts_with_all = ["to", "function", "args", "value", "data"])]
    pub(crate) batch: Option<PathBuf>,
}

/// One call of a batch, as a batch file or a tool call writes it.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallEntry {
    /// The contract or address called: 0x…, a token symbol ("USDC"), a contract name ("router"), or "self".
    pub(crate) to: String,
    /// The function, e.g. "transfer(address to, uint256 amount)"; omit for a plain value transfer.
    pub(crate) function: Option<String>,
    /// The arguments, in order, as strings: addresses or names, numbers, or amounts with a unit ("100 USDC").
    #[serde(default)]
    pub(crate) args: Vec<String>,
    /// Native value sent: "0.01 ETH", "5 gwei" or wei.
    pub(crate) value: Option<String>,
    /// Raw calldata in hex, instead of function and args.
    pub(crate) data: Option<String>,
}

impl CallEntry {
    /// The call, resolved against `names`.
    pub(crate) fn resolve(&self, names: &Names<'_>) -> Result<Call> {
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
pub(crate) struct Names<'a> {
    pub(crate) tokens: &'a TokenTable,
    pub(crate) addresses: &'a BTreeMap<String, Address>,
    pub(crate) account: Address,
}

impl Names<'_> {
    pub(crate) fn address(&self, text: &str) -> Result<Address> {
        let text = text.trim();
        if text.starts_with("0x") {
            return text
                .parse()
                .map_err(|_| Failure::bad_input(format!("`{text}` is not an address")));
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
        Err(Failure::bad_input(format!(
            "`{text}` is neither an address nor a known name (known: {})",
            known.join(", ")
        )))
    }

    fn amount(&self, text: &str) -> Result<U256> {
        parse_amount(text, self.tokens).map(|a| a.raw).map_err(Failure::from)
    }

    /// A call's native value: ETH, gwei or wei. A token amount there would send that many wei of ETH, so it is
    /// refused with what to write instead.
    fn native_value(&self, text: &str) -> Result<U256> {
        let amount = parse_amount(text, self.tokens).map_err(Failure::from)?;
        match amount.unit.as_deref() {
            Some(unit) if !["wei", "gwei", "eth", "ether"].contains(&unit.to_ascii_lowercase().as_str()) => {
                Err(Failure::bad_input(format!(
                    "a call's value is native value: write it in ETH, gwei or wei (\"0.01 ETH\"), not `{text}`; \
                     to move {unit}, call its transfer function (`--function \"transfer(address to, uint256 amount)\"`)"
                )))
            }
            _ => Ok(amount.raw),
        }
    }
}

impl CallArgs {
    /// The calls, resolved against `names`.
    pub(crate) fn calls(&self, names: &Names<'_>) -> Result<Vec<Call>> {
        if let Some(path) = &self.batch {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Failure::bad_input(format!("cannot read the batch file {}: {e}", path.display()))
            })?;
            let entries: Vec<CallEntry> = serde_json::from_str(&text).map_err(|e| {
                Failure::bad_input(format!("{}:{}:{}: {e}", path.display(), e.line(), e.column()))
            })?;
            if entries.is_empty() {
                return Err(Failure::bad_input(format!(
                    "the batch file {} has no calls",
                    path.display()
                )));
            }
            return entries
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    call(
                        names,
                        &e.to,
                        e.function.as_deref(),
                        &e.args,
                        e.value.as_deref(),
                        e.data.as_deref(),
                    )
                    .map_err(|f| f.context(format!("call {} of {}", i + 1, path.display())))
                })
                .collect();
        }
        let to = self.to.as_deref().expect("clap requires a target without --batch");
        Ok(vec![call(
            names,
            to,
            self.function.as_deref(),
            &self.args,
            self.value.as_deref(),
            self.data.as_deref(),
        )?])
    }
}

fn call(
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
            return Err(Failure::bad_input("give a function with arguments, or --data, not both"))
        }
        (None, Some(hex_data)) => hex::decode(hex_data.trim())
            .map_err(|e| Failure::bad_input(format!("--data is not hex: {e}")))?
            .into(),
        (None, None) if !args.is_empty() => {
            return Err(Failure::bad_input("arguments were given without a function signature"))
        }
        (None, None) => Bytes::new(),
        (Some(signature), None) => encode(names, signature, args)?,
    };
    Ok(Call { target, value, data })
}

fn encode(names: &Names<'_>, signature: &str, args: &[String]) -> Result<Bytes> {
    let function = parse_function(signature)?;
    if function.inputs.len() != args.len() {
        return Err(Failure::bad_input(format!(
            "{} takes {} argument(s), {} given",
            function.signature(),
            function.inputs.len(),
            args.len()
        )));
    }
    let mut values = Vec::with_capacity(args.len());
    for (input, arg) in function.inputs.iter().zip(args) {
        let ty = DynSolType::parse(&input.selector_type())
            .map_err(|e| Failure::bad_input(format!("argument type `{}`: {e}", input.ty)))?;
        let shown = if input.name.is_empty() { input.ty.clone() } else { input.name.clone() };
        let bad = |e: String| Failure::bad_input(format!("argument `{shown}` ({}): {e}", input.ty));
        let value = match &ty {
            DynSolType::Address => DynSolValue::Address(names.address(arg)?),
            // An amount with its unit ("100 USDC") becomes raw units.
            DynSolType::Uint(bits) if arg.trim().contains(' ') => {
                DynSolValue::Uint(names.amount(arg).map_err(|f| bad(f.message))?, *bits)
            }
            _ => ty.coerce_str(arg).map_err(|e| bad(e.to_string()))?,
        };
        values.push(value);
    }
    let data = function.abi_encode_input(&values).map_err(|e| {
        Failure::bad_input(format!("cannot encode the arguments of {}: {e}", function.signature()))
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

    fn args(to: &str, function: Option<&str>, args: &[&str]) -> CallArgs {
        CallArgs {
            to: Some(to.into()),
            function: function.map(Into::into),
            args: args.iter().map(|a| a.to_string()).collect(),
            value: None,
            data: None,
            batch: None,
        }
    }

    #[test]
    fn names_and_amounts_become_addresses_and_raw_units() {
        let (tokens, addresses) = names();
        let account = address!("00000000000000000000000000000000000000ff");
        let names = Names { tokens: &tokens, addresses: &addresses, account };
        let calls =
            args("USDC", Some("transfer(address to, uint256 amount)"), &["merchant", "100 USDC"])
                .calls(&names)
                .unwrap();
        let expected = leash_core::encode_call(
            "transfer(address,uint256)",
            &[addresses["merchant"].into_word().into(), U256::from(100_000_000u64)],
        )
        .unwrap();
        assert_eq!(
            calls,
            vec![Call {
                target: tokens.get("USDC").unwrap().address,
                value: U256::ZERO,
                data: expected
            }]
        );

        let to_self = args("self", None, &[]).calls(&names).unwrap();
        assert_eq!(to_self[0].target, account);
    }

    #[test]
    fn bad_calls_say_what_is_wrong() {
        let (tokens, addresses) = names();
        let names = Names { tokens: &tokens, addresses: &addresses, account: Address::ZERO };
        let message = |a: CallArgs| a.calls(&names).unwrap_err().message;
        assert!(message(args("nobody", None, &[])).contains("neither an address nor a known name"));
        assert!(message(args("USDC", Some("transfer(address,uint256)"), &["merchant"]))
            .contains("takes 2 argument(s), 1 given"));
        assert!(message(args("USDC", Some("transfer(address,uint256)"), &["merchant", "1 DAI"]))
            .contains("argument `uint256`"));
        assert!(message(args("USDC", None, &["merchant"])).contains("without a function signature"));
    }
}
