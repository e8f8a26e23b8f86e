//! The integration tests of this crate, one module per file, built as one binary.

mod common;

mod bundler;
mod differential;
mod eip7702;
mod examples;
mod grant_document;
mod keystore;
mod lifecycle;
mod packed_encoding;
mod protocols;
mod round_trips;
mod signers;
mod sponsored;
mod userop;
