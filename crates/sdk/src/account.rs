//! The smart account: its address before deployment, the factory call that deploys it, and its owner's
//! operations. Or an EOA as the account (EIP-7702): it delegates to the account implementation and keeps its
//! address.

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
    /// An EOA as the account (EIP-7702): `address` is the owner's own, `factory` the account implementation it
    /// delegates to, and it is "deployed" once its code is the delegation to it ([`SmartAccount::delegation`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub eip7702: bool,
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
        Ok(Self { address, factory, owner, salt, validators, eip7702: false })
    }

    /// The EOA `owner` as its own account (EIP-7702), delegating to `implementation` with `validators`
    /// installed by its delegation transaction ([`crate::Owner::delegate`]).
    pub fn eip7702(owner: Address, implementation: Address, validators: Vec<Address>) -> Self {
        Self {
            address: owner,
            factory: implementation,
            owner,
            salt: B256::ZERO,
            validators,
            eip7702: true,
        }
    }

    /// An EOA account's code once it delegates to its implementation: `0xef0100 ‖ implementation` (EIP-7702).
    pub fn delegation(&self) -> Bytes {
        [&[0xef, 0x01, 0x00][..], self.factory.as_slice()].concat().into()
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

    /// Whether the account has code yet: for an EOA account, whether it delegates to its implementation.
    pub async fn is_deployed(&self, provider: &DynProvider) -> Result<bool> {
        let code = provider
            .get_code_at(self.address)
            .await
            .map_err(|e| Error::rpc("the chain", format!("eth_getCode {}: {e}", self.address)))?;
        Ok(if self.eip7702 { code == self.delegation() } else { !code.is_empty() })
    }

    /// Whether the account is deployed and, for an EOA account, has every validator installed (its
    /// initialisation ran): what [`crate::Owner::delegate`] would leave alone. Needs no key.
    pub async fn is_ready(&self, provider: &DynProvider) -> Result<bool> {
        if !self.is_deployed(provider).await? {
            return Ok(false);
        }
        if !self.eip7702 {
            return Ok(true);
        }
        let account = leash_contracts::bindings::LeashAccount::new(self.address, provider);
        for validator in &self.validators {
            let installed = account
                .isModuleInstalled(alloy::primitives::U256::from(1), *validator, Bytes::new())
                .call()
                .await
                .map_err(|e| Error::rpc("the chain", format!("isModuleInstalled: {e}")))?;
            if !installed {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// What an operation of the account needs to deploy it: the factory and its call, or nothing when it is
    /// deployed. An EOA account cannot be deployed by an operation (EntryPoint v0.7 carries no authorisation):
    /// it must delegate first, by its own transaction.
    pub(crate) fn deployment(&self, deployed: bool) -> Result<Option<(Address, Bytes)>> {
        match (deployed, self.eip7702) {
            (true, _) => Ok(None),
            (false, false) => Ok(Some((self.factory, self.factory_data()))),
            (false, true) => Err(Error::Setup(format!(
                "the EOA {} does not delegate to the leash account implementation {} yet: delegate it first \
                 (`leash account deploy`, or Owner::delegate), from the EOA itself",
                self.address, self.factory
            ))),
        }
    }
}
