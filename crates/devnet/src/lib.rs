//! placeholder docs
mod anvil;
mod builder;
mod deploy;
mod devnet;
mod error;
mod rpc;

pub use anvil::ANVIL_ENV;
pub use builder::{DevnetBuilder, Mining, DEFAULT_CHAIN_ID};
pub use deploy::{
    Deployment, Token, DEX_USDC_RESERVES, DEX_WETH_RESERVES, EIP170_CODE_SIZE_LIMIT,
    WETH_PRICE_IN_USDC,
};
pub use devnet::{Devnet, Snapshot};
pub use error::{DevnetError, Result};
