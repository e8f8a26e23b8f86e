//! Human units: token amounts ("100 USDC", "0.05 ETH", "2 gwei") and durations ("1 day", "90 minutes").

use crate::{tokens::TokenTable, Error};
use alloy::primitives::U256;

/// An amount with its unit resolved to raw units, and the symbol it was written in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Amount {
    /// Raw units (wei, or the token's smallest unit).
    pub raw: U256,
    /// The unit it was written in (`None` for a bare raw number).
    pub unit: Option<String>,
}

/// Parses an amount: `"<number> <unit>"` where the unit is `wei`, `gwei`, `ETH` (native) or a token of the
/// table, or a bare integer of raw units. Decimals beyond the unit's precision are an error, not rounded.
///
/// ```
/// use leash_core::{parse_amount, TokenTable};
/// use alloy::primitives::{address, U256};
///
/// let mut tokens = TokenTable::default();
/// tokens.insert("USDC", address!("A0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"), 6);
/// assert_eq!(parse_amount("100 USDC", &tokens)?.raw, U256::from(100_000_000u64));
/// assert_eq!(parse_amount("0.05 ETH", &tokens)?.raw, U256::from(50_000_000_000_000_000u64));
/// assert!(parse_amount("0.0000001 USDC", &tokens).is_err());
/// # Ok::<(), leash_core::Error>(())
/// ```
pub fn parse_amount(text: &str, tokens: &TokenTable) -> Result<Amount, Error> {
    let text = text.trim();
    let mut parts = text.split_whitespace();
    let number = parts
        .next()
        .ok_or_else(|| Error::Unit("an empty amount; write e.g. \"100 USDC\"".into()))?;
    let unit = parts.next();
    if parts.next().is_some() {
        return Err(Error::Unit(format!(
            "`{text}` is not an amount like \"100 USDC\" or \"0.05 ETH\""
        )));
    }
    let Some(unit) = unit else {
        if number.contains('.') {
            return Err(Error::Unit(format!(
                "`{text}` has decimals but no unit; write e.g. \"{text} USDC\" or give raw units as an integer"
            )));
        }
        return Ok(Amount { raw: parse_integer(number, text)?, unit: None });
    };
    let decimals = match unit.to_ascii_lowercase().as_str() {
        "wei" => 0,
        "gwei" => 9,
        "eth" | "ether" => 18,
        _ => match tokens.get(unit) {
            Some(token) => token.decimals,
            None => {
                return Err(Error::Unit(format!(
                    "unknown token `{unit}` in `{text}`; known units: wei, gwei, ETH{}",
                    tokens.symbols().map(|s| format!(", {s}")).collect::<String>()
                )))
            }
        },
    };
    Ok(Amount { raw: scale(number, decimals, text)?, unit: Some(unit.to_string()) })
}

fn parse_integer(digits: &str, text: &str) -> Result<U256, Error> {
    let clean = digits.replace('_', "");
    if clean.is_empty() || !clean.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::Unit(format!("`{text}` is not a number")));
    }
    U256::from_str_radix(&clean, 10)
        .map_err(|_| Error::Unit(format!("`{text}` does not fit 256 bits")))
}

fn scale(number: &str, decimals: u8, text: &str) -> Result<U256, Error> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > decimals as usize {
        return Err(Error::Unit(format!(
            "`{text}` has {} decimals; the unit has {decimals}",
            fraction.len()
        )));
    }
    let digits = format!(
        "{}{fraction:0<width$}",
        if whole.is_empty() { "0" } else { whole },
        width = decimals as usize
    );
    parse_integer(&digits, text)
}

/// Formats raw units with `decimals` for people (`100000000`, 6 → `100`; `1500000`, 6 → `1.5`).
pub fn format_units(raw: U256, decimals: u8) -> String {
    let digits = raw.to_string();
    let decimals = decimals as usize;
    if decimals == 0 {
        return digits;
    }
    let padded = format!("{digits:0>width$}", width = decimals + 1);
    let (whole, fraction) = padded.split_at(padded.len() - decimals);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        whole.to_string()
    } else {
        format!("{whole}.{fraction}")
    }
}

/// Parses a duration: `"<integer> <unit>"` with seconds, minutes, hours, days or weeks (`"1 day"`, `"90 min"`,
/// `"2h"`). Months are not durations: use a monthly period.
///
/// ```
/// assert_eq!(leash_core::parse_duration("1 day").unwrap(), 86_400);
/// assert_eq!(leash_core::parse_duration("90 minutes").unwrap(), 5_400);
/// assert!(leash_core::parse_duration("1 month").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<u64, Error> {
    let compact: String = text.split_whitespace().collect();
    let split = compact.find(|c: char| !c.is_ascii_digit()).unwrap_or(compact.len());
    let (number, unit) = compact.split_at(split);
    let count: u64 = number.parse().map_err(|_| {
        Error::Unit(format!("`{text}` is not a duration like \"1 day\" or \"30 minutes\""))
    })?;
    let seconds = match unit.to_ascii_lowercase().as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        "mo" | "month" | "months" => {
            return Err(Error::Unit(format!(
                "`{text}`: months differ in length; use period = \"monthly\" for calendar months"
            )))
        }
        "" => {
            return Err(Error::Unit(format!(
                "`{text}` has no unit; write e.g. \"{count} seconds\""
            )))
        }
        other => {
            return Err(Error::Unit(format!(
            "unknown time unit `{other}` in `{text}`; use seconds, minutes, hours, days or weeks"
        )))
        }
    };
    count.checked_mul(seconds).ok_or_else(|| Error::Unit(format!("`{text}` is too long")))
}

/// Formats seconds for people (`86400` → `1 day`, `5400` → `90 minutes`).
pub fn format_duration(seconds: u64) -> String {
    let units =
        [(604_800, "week"), (86_400, "day"), (3_600, "hour"), (60, "minute"), (1, "second")];
    for (size, name) in units {
        if seconds >= size && seconds.is_multiple_of(size) {
            let n = seconds / size;
            return format!("{n} {name}{}", if n == 1 { "" } else { "s" });
        }
    }
    "0 seconds".into()
}
