//! `leash-demo`: the local stack ([`LocalStack`]: anvil, EntryPoint v0.7, the leash contracts and a local
//! ERC-4337 bundler enforcing ERC-7562) and the seed scenarios of agents acting through session keys.

pub mod scenarios;
pub mod stack;

pub use scenarios::{run_all, DemoError, Outcome, Progress, Scenario, Silent, Step};
pub use stack::{start_bundler, LocalStack, StackError, StackOptions, ETH, GENESIS};
