//! Function signatures and argument offsets: rules name arguments; the module reads 32-byte words.

use crate::Error;
use alloy::{
    dyn_abi::DynSolType,
    json_abi::{Function, Param},
};

/// Parses `"transfer(address to, uint256 amount)"` (with or without the `function` keyword), structs written
/// with their fields named: `exactInputSingle((address tokenIn, address tokenOut, uint24 fee) params)`.
///
/// alloy's parser reads the rest of the signature but keeps no names inside a tuple, and rules reach struct
/// fields by name (`params.tokenIn`); so each tuple's fields are read here, their names kept, and each
/// elementary type is still checked by alloy ([`DynSolType::parse`]).
pub fn parse_function(signature: &str) -> Result<Function, Error> {
    let bad = |why: String| {
        Error::Abi(format!(
            "`{signature}` is not a function signature like `transfer(address to, uint256 amount)` ({why})"
        ))
    };
    let text = signature.trim();
    let text = text.strip_prefix("function ").unwrap_or(text).trim();
    if !text.contains("((") && !text.contains(", (") && !text.contains(",(") {
        return Function::parse(text).map_err(|e| bad(e.to_string()));
    }
    let open = text.find('(').ok_or_else(|| bad("no `(`".into()))?;
    let name = text[..open].trim();
    let close = matching(text, open).ok_or_else(|| bad("a `(` is not closed".into()))?;
    let inputs = parameters(&text[open + 1..close]).map_err(bad)?;
    let mut function = Function::parse(&format!("{name}()")).map_err(|e| bad(e.to_string()))?;
    function.inputs = inputs;
    Ok(function)
}

/// The index of the `)` that closes the `(` at `open`.
fn matching(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (k, c) in text.char_indices().skip(open) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(k);
                }
            }
            _ => {}
        }
    }
    None
}

/// Comma-separated parameters (`type [location] [name]`), tuples in parentheses with named fields.
fn parameters(text: &str) -> Result<Vec<Param>, String> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    let text = text.trim();
    if text.is_empty() {
        return Ok(out);
    }
    for (k, c) in text.char_indices().chain([(text.len(), ',')]) {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or("a `)` without its `(`")?,
            ',' if depth == 0 => {
                out.push(parameter(text[start..k].trim())?);
                start = k + 1;
            }
            _ => {}
        }
    }
    Ok(out)
}

fn parameter(text: &str) -> Result<Param, String> {
    let (components, rest) = if text.starts_with('(') || text.starts_with("tuple(") {
        let open = text.find('(').expect("checked");
        let close = matching(text, open).ok_or("a `(` is not closed")?;
        (Some(parameters(&text[open + 1..close])?), &text[close + 1..])
    } else {
        (None, text)
    };
    let mut words = rest.split_whitespace();
    let ty = match &components {
        // The array suffix (`[]`, `[2]`) directly after the tuple's `)`.
        Some(_) => {
            let suffix = if rest.starts_with('[') { words.next().unwrap_or_default() } else { "" };
            format!("tuple{suffix}")
        }
        None => words.next().ok_or("an empty parameter")?.to_string(),
    };
    let mut name = words.next().unwrap_or_default();
    if matches!(name, "calldata" | "memory" | "storage") {
        name = words.next().unwrap_or_default();
    }
    if words.next().is_some() {
        return Err(format!("`{text}` has more than a type and a name"));
    }
    let components = components.unwrap_or_default();
    let param = Param { ty, name: name.to_string(), components, internal_type: None };
    DynSolType::parse(&param.selector_type()).map_err(|e| format!("`{text}`: {e}"))?;
    Ok(param)
}

/// The byte offset (after the selector) of the one-word value `name` names: an argument, or a field of a struct
/// passed inline (`params.amountIn`). A value behind an ABI offset has none (a rule reaches it by its path,
/// [`crate::path::resolve`]).
pub fn argument_offset(function: &Function, name: &str) -> Result<u16, Error> {
    let found = crate::path::resolve(function, name, None)?;
    if !found.steps.is_empty() {
        return Err(Error::Abi(format!(
            "`{name}` of `{}` sits behind an ABI offset, not at a fixed byte: name it in a rule's `arg`, which follows \
             the offset",
            function.name
        )));
    }
    Ok(found.offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structs_keep_their_field_names_and_the_selector() {
        let f = parse_function(
            "function exactInputSingle((address tokenIn, address tokenOut, uint24 fee, address recipient, uint256 deadline, uint256 amountIn, uint256 amountOutMinimum, uint160 sqrtPriceLimitX96) calldata params)",
        )
        .unwrap();
        // SwapRouter's `exactInputSingle` selector.
        assert_eq!(f.selector().to_string(), "0x414bf389");
        let fields: Vec<&str> = f.inputs[0].components.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(fields[0], "tokenIn");
        assert_eq!(fields[3], "recipient");
        let nested =
            parse_function("f(uint256 a, (address token, (uint8 x, bytes y)[] deep)[2] legs)")
                .unwrap();
        assert_eq!(nested.signature(), "f(uint256,(address,(uint8,bytes)[])[2])");
        assert_eq!(nested.inputs[1].components[1].components[1].name, "y");
        assert!(parse_function("f((address to uint256 x) p)").is_err());
        assert!(parse_function("f((address to, uint257 x) p)").is_err());
    }
}
