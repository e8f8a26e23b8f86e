//! The integration tests of this crate, one module per file, built as one binary.

mod erc7562;
mod local_stack;
