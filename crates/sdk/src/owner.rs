//! The owner's operations: deploy the account, grant a session by transaction, approve a lazy or multichain
//! grant with one signature, revoke one session or all of them.

use crate::{
    account::SmartAccount,
    chain::Chain,
    gas::GasLimits,
    lanes::{Lane, NonceKey},
    submit::{OpOutcome, Submitter},
    userop::UserOperation,
    Error, Result,
};
use alloy::{
    primitives::{Bytes, B256, U256},
    signers::{local::PrivateKeySigner, Signer},
    sol_types::SolCall,
};
use leash_contracts::bindings::{EntryPoint, SessionKeyValidator};
use leash_core::{encode_execute, Call, GrantProof, GrantTarget, MultichainGrant, Session};
use std::time::Duration;

/// The account's owner: signs UserOperations with the account's ECDSA key and approves sessions.
#[derive(Clone, Debug)]
pub struct Owner {
    signer: PrivateKeySigner,
    account: SmartAccount,
}

/// A grant the owner approved with one signature for one or several chains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedGrant {
    /// The per-chain leaves, the root and the proofs.
    pub grant: MultichainGrant,
    /// The owner's signature over the root digest.
    pub owner_signature: Bytes,
}

impl SignedGrant {
    /// What the session's first operation on `chain_id` carries to grant itself.
    pub fn proof_for(&self, chain_id: u64) -> Option<GrantProof> {
        let (target, proof) = self.grant.for_chain(chain_id)?;
        Some(GrantProof {
            proof: proof.to_vec(),
            epoch: target.epoch,
            owner_signature: self.owner_signature.clone(),
        })
    }
}

impl Owner {
    /// The owner of `account`, signing with `signer` (whose address must be the account's owner).
    pub fn new(signer: PrivateKeySigner, account: SmartAccount) -> Result<Self> {
        if signer.address() != account.owner {
            return Err(Error::Setup(format!(
                "the key's address {} is not the account's owner {}",
                signer.address(),
                account.owner
            )));
        }
        Ok(Self { signer, account })
    }

    /// The account.
    pub fn account(&self) -> &SmartAccount {
        &self.account
    }

    /// Runs `calls` from the account as the owner (deploying the account first if needed) and waits for the
    /// outcome.
    pub async fn execute(
        &self,
        chain: &Chain,
        submitter: &Submitter,
        calls: &[Call],
    ) -> Result<OpOutcome> {
        let (mut op, hash) = prepare_owner_operation(chain, &self.account, calls).await?;
        // The account checks its owner's ECDSA signature over the raw UserOperation hash.
        let signature = self.signer.sign_hash(&hash).await.map_err(Error::OwnerSigning)?;
        op.signature = signature.as_bytes().to_vec().into();
        let hash = submitter.send(chain, &op).await?;
        submitter.wait(hash, Duration::from_secs(60)).await?.succeeded()
    }

    /// Grants `session` on `chain` by an owner operation (`grantSession`).
    pub async fn grant(
        &self,
        chain: &Chain,
        submitter: &Submitter,
        session: &Session,
    ) -> Result<OpOutcome> {
        let call = SessionKeyValidator::grantSessionCall { session: session.encode()? };
        self.execute(chain, submitter, &[module_call(chain, call.abi_encode())]).await
    }

    /// Revokes one session for good.
    pub async fn revoke(
        &self,
        chain: &Chain,
        submitter: &Submitter,
        session_id: B256,
    ) -> Result<OpOutcome> {
        self.execute(chain, submitter, &[revoke_call(chain, Some(session_id))]).await
    }

    /// Revokes every session of the account at once (and every grant signed but not yet used).
    pub async fn revoke_all(&self, chain: &Chain, submitter: &Submitter) -> Result<OpOutcome> {
        self.execute(chain, submitter, &[revoke_call(chain, None)]).await
    }

    /// Approves `session` on every target with one signature over the Merkle root of the per-chain grant
    /// digests. The session's first operation on each chain carries its proof and grants itself.
    pub async fn approve(&self, session: &Session, targets: &[GrantTarget]) -> Result<SignedGrant> {
        if targets.is_empty() {
            return Err(Error::Grant("a grant needs at least one chain".into()));
        }
        let grant = MultichainGrant::new(session.id()?, targets);
        let signature =
            self.signer.sign_hash(&grant.digest()).await.map_err(Error::OwnerSigning)?;
        Ok(SignedGrant { grant, owner_signature: signature.as_bytes().to_vec().into() })
    }
}

/// The owner's operation running `calls` from `account` (deploying it first if needed), unsigned, and the hash
/// the owner signs: the account checks its owner's ECDSA signature over this raw hash. For an owner whose key is
/// elsewhere (a wallet, a hardware key, another machine): sign the hash there and put the 65-byte signature in
/// `signature`.
pub async fn prepare_owner_operation(
    chain: &Chain,
    account: &SmartAccount,
    calls: &[Call],
) -> Result<(UserOperation, B256)> {
    let sender = account.address;
    let deployed = account.is_deployed(&chain.provider).await?;
    let key = NonceKey::owner(Lane::from(0));
    let nonce = EntryPoint::new(chain.entry_point, &chain.provider)
        .getNonce(sender, key.raw())
        .call()
        .await
        .map_err(|e| Error::rpc(&chain.label, format!("getNonce: {e}")))?;
    let (max_fee, priority) = chain.fees().await?;
    let gas = GasLimits::default_for(calls.len(), !deployed, false);
    let mut builder = UserOperation::builder(sender)
        .nonce(nonce)
        .call_data(encode_execute(calls))
        .verification_gas_limit(gas.verification)
        .call_gas_limit(gas.call)
        .pre_verification_gas(gas.pre_verification)
        .fees(max_fee, priority);
    if !deployed {
        builder = builder.factory(account.factory, account.factory_data());
    }
    let op = builder.build()?;
    let hash = op.hash(chain.entry_point, chain.chain_id)?;
    Ok((op, hash))
}

/// The owner's call to the session module that revokes `session_id`, or every session when `None`.
pub fn revoke_call(chain: &Chain, session_id: Option<B256>) -> Call {
    match session_id {
        Some(id) => module_call(
            chain,
            SessionKeyValidator::revokeSessionCall { sessionId: id }.abi_encode(),
        ),
        None => module_call(chain, SessionKeyValidator::revokeAllSessionsCall {}.abi_encode()),
    }
}

fn module_call(chain: &Chain, data: Vec<u8>) -> Call {
    Call { target: chain.module, value: U256::ZERO, data: data.into() }
}
