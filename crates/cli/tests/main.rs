//! The integration tests of this crate, one module per file, built as one binary.

#[path = "support/cluster.rs"]
mod cluster;
mod common;

mod alto;
mod cli;
mod deploy;
mod eoa;
mod mcp;
mod serve;
mod serve_load;
