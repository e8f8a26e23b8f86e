//! `leash-demo`: the seed scenarios of agents acting through session keys, run on the local stack
//! ([`leash_devnet::LocalStack`]: anvil, EntryPoint v0.7, the leash contracts and a local ERC-4337 bundler
//! enforcing ERC-7562).

pub mod scenarios;

pub use leash_devnet::{start_bundler, LocalStack, StackError, StackOptions, ETH, GENESIS};
pub use scenarios::{run_all, DemoError, Outcome, Progress, Scenario, Silent, Step};
