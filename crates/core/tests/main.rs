//! The integration tests of this crate, one module per file, built as one binary.

mod describe;
mod policy_files;
mod preflight;
