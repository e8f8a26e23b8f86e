//! Calls as people write them: `USDC "transfer(address,uint256)" merchant "100 USDC"`, like `cast send`, or a
//! batch file.
//!
//! A target or an `address` argument may be an address, a token symbol (`USDC`), a contract the network names
//! (`router`), or `self` (the account). Names a policy file defined for itself are not kept in the grant, so
//! calls spell those addresses out. A `uint` argument may be an
//! amount with its unit (`"100 USDC"`, `"0.01 ETH"`, `"5 gwei"`): it is converted to raw units.

use crate::failure::{Failure, Result};
use leash_core::{written::call, Call};
pub(crate) use leash_core::{CallEntry, Names};
use std::path::PathBuf;

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
                    .map_err(|e| {
                        Failure::from(e).context(format!("call {} of {}", i + 1, path.display()))
                    })
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
        )
        .map_err(Failure::from)?])
    }
}
