//! The integration tests of this crate, one module per file, built as one binary.

mod aave;
mod devnet;
mod lifetime;
mod permit2;
mod seaport;
mod startup;
mod uniswap;
mod usdc;
