//! The smart account: its address before deployment, the factory call that deploys it, and its owner's
//! operations.

use crate::{Error, Result};
use alloy::{
    primitives::{Address, Bytes, B256},
    providers::{DynProvider, Provider},
    sol_types::SolCall,
};
use leash_contracts::bindings::LeashAccountFactory;

/// A leash account: an ERC-4337 v0.7 + ERC-7579 account with one ECDSA owner, deployed by
/// `LeashAccountFactory` through CREATE2, so its address is known before it exists.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmartAccount {
    /// The account's address (counterfactual until deployed).
    pub address: Address,
    /// The factory that deploys it.
    pub factory: Address,
    /// Its owner.
    pub owner: Address,
    /// The salt that, with the owner and the validators, picks the address.
    pub salt: B256,
    /// Validator modules installed at deployment (the session-key module, typically).
    pub validators: Vec<Address>,
}

impl SmartAccount {
    /// The account for `owner` and `salt` with `validators` installed at deployment, its address asked from the
    /// factory (`getAddress`), so it is right whatever the factory's implementation.
    pub async fn counterfactual(
        provider: &DynProvider,
        factory: Address,
        owner: Address,
        salt: B256,
        validators: Vec<Address>,
    ) -> Result<Self> {
        let data = vec![Bytes::new(); validators.len()];
        let address = LeashAccountFactory::new(factory, provider)
            .getAddress(owner, salt, validators.clone(), data)
            .call()
            .await
            .map_err(|e| {
                Error::rpc("the chain", format!("factory.getAddress at {factory}: {e}"))
            })?;
        Ok(Self { address, factory, owner, salt, validators })
    }

    /// The factory call that deploys the account (`factoryData` of its first operation).
    pub fn factory_data(&self) -> Bytes {
        LeashAccountFactory::createAccountCall {
            owner: self.owner,
            salt: self.salt,
            validators: self.validators.clone(),
            validatorData: vec![Bytes::new(); self.validators.len()],
        }
        .abi_encode()
        .into()
    }

    /// Whether the account has code yet.
    pub async fn is_deployed(&self, provider: &DynProvider) -> Result<bool> {
        let code = provider
            .get_code_at(self.address)
            .await
            .map_err(|e| Error::rpc("the chain", format!("eth_getCode {}: {e}", self.address)))?;
        Ok(!code.is_empty())
    }
}
