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
    eips::eip7702::Authorization,
    network::{EthereumWallet, TransactionBuilder, TransactionBuilder7702},
    primitives::{Address, Bytes, B256, U256},
    providers::{Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::{local::PrivateKeySigner, Signer},
    sol_types::SolCall,
};
use leash_contracts::bindings::{EntryPoint, LeashAccount, SessionKeyValidator};
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

    /// A submitter that sends the owner's operations without a bundler: `handleOps` from the owner's own
    /// address, which pays its gas (the account refunds it, as it would a bundler). A revocation then waits on
    /// no bundler: one that is down, refuses, or asks too much cannot keep a session alive.
    pub fn direct_submitter(&self, chain: &Chain) -> Submitter {
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(self.signer.clone()))
            .connect_provider(chain.provider.clone())
            .erased();
        Submitter::direct(provider, self.signer.address())
    }

    /// Runs `calls` from the account as the owner (deploying the account first if needed) and waits for the
    /// outcome.
    pub async fn execute(
        &self,
        chain: &Chain,
        submitter: &Submitter,
        calls: &[Call],
    ) -> Result<OpOutcome> {
        let (mut op, hash) =
            prepare_owner_operation_for(chain, submitter, &self.account, calls).await?;
        // The account checks its owner's ECDSA signature over the raw UserOperation hash.
        let signature = self.signer.sign_hash(&hash).await.map_err(Error::OwnerSigning)?;
        op.signature = signature.as_bytes().to_vec().into();
        let hash = submitter.send(chain, &op).await?;
        submitter.wait(hash, Duration::from_secs(60)).await?.succeeded()
    }

    /// Makes the owner's EOA its own account (EIP-7702), for an account made with [`SmartAccount::eip7702`]:
    /// one type-4 transaction from the EOA to itself, paid by the EOA, carrying its authorisation to delegate to
    /// the account implementation and calling `initializeEoa` with the account's validators. Delegating and
    /// initialising in one transaction leaves no moment in which anyone else could act on the delegated EOA.
    ///
    /// When the EOA delegates to another contract, that delegation is cleared first (an authorisation to the
    /// zero address, in a transaction of its own), and the new delegation and its initialisation follow in a
    /// later block. The other contract may write the EOA's storage for as long as it is delegated to; the new
    /// storage epoch comes from the hash of the block before the initialisation, which is not known until the
    /// other contract can no longer run, so nothing it wrote can be read as the account's modules.
    /// An EOA that delegates already but whose validators are not installed (its initialisation failed) is
    /// initialised. Returns the last transaction sent; `None` when the EOA was a leash account already.
    pub async fn delegate(&self, chain: &Chain) -> Result<Option<B256>> {
        let account = &self.account;
        if !account.eip7702 {
            return Err(Error::Setup(format!(
                "{} is not an EOA account (EIP-7702)",
                account.address
            )));
        }
        let code = chain
            .provider
            .get_code_at(account.address)
            .await
            .map_err(|e| Error::rpc(&chain.label, format!("eth_getCode: {e}")))?;
        if code == account.delegation() && account.is_ready(&chain.provider).await? {
            return Ok(None);
        }
        // An authorisation to an address without the implementation would delegate to nothing now and to
        // whatever is deployed there later.
        let implementation = chain
            .provider
            .get_code_at(account.factory)
            .await
            .map_err(|e| Error::rpc(&chain.label, format!("eth_getCode: {e}")))?;
        let release = &leash_contracts::release::contracts()[0];
        if implementation.is_empty()
            || (account.factory == release.address && !release.is_runtime_code(&implementation))
        {
            return Err(Error::Setup(format!(
                "chain {} has no leash account implementation at {}: nothing was signed (deploy the release \
                 there first: `leash deploy`)",
                chain.chain_id, account.factory
            )));
        }
        let hash = if code == account.delegation() {
            self.initialize_eoa(chain).await?.0
        } else {
            let cleared = if code.is_empty() {
                None
            } else {
                Some(self.send_delegation(chain, Address::ZERO, None).await?)
            };
            let call = LeashAccount::initializeEoaCall {
                validators: account.validators.clone(),
                validatorData: vec![Bytes::new(); account.validators.len()],
            };
            let (hash, block) = self.send_delegation(chain, account.factory, Some(call)).await?;
            match cleared {
                // A receipt seen before its block was final (a reorg, a pre-confirmation) can put both in one
                // block, where the other contract ran before the new epoch was drawn: initialise once more.
                Some((_, cleared_at)) if block <= cleared_at => self.initialize_eoa(chain).await?.0,
                _ => hash,
            }
        };
        if !account.is_ready(&chain.provider).await? {
            return Err(Error::Setup(format!(
                "after {hash}, {} does not have its validators installed",
                account.address
            )));
        }
        Ok(Some(hash))
    }

    /// Starts a new storage epoch on an EOA account that delegates to the implementation already: every module
    /// and session of before stops counting, and the account's validators are installed afresh. For an EOA that
    /// came back to the implementation by another route than [`delegate`](Self::delegate) (another wallet's
    /// tool, an authorisation someone relayed), which keeps the epoch it had, and with it what was granted
    /// under it and what another delegation wrote there. Returns the transaction.
    pub async fn reinitialize(&self, chain: &Chain) -> Result<B256> {
        let account = &self.account;
        let code = chain
            .provider
            .get_code_at(account.address)
            .await
            .map_err(|e| Error::rpc(&chain.label, format!("eth_getCode: {e}")))?;
        if !account.eip7702 || code != account.delegation() {
            return Err(Error::Setup(format!(
                "{} is not an EOA that delegates to the leash account implementation {}: delegate it first \
                 (`Owner::delegate`, `leash account deploy` without --reinitialize)",
                account.address, account.factory
            )));
        }
        let (hash, _) = self.initialize_eoa(chain).await?;
        if !account.is_ready(&chain.provider).await? {
            return Err(Error::Setup(format!(
                "after {hash}, {} does not have its validators installed",
                account.address
            )));
        }
        Ok(hash)
    }

    /// One type-4 transaction from the EOA to itself that delegates it to `to` (the zero address clears its
    /// delegation) and then calls `initialize` on it; waits for its successful receipt and checks the
    /// delegation took. The transaction takes the EOA's next nonce (pending ones counted), and the
    /// authorisation, by the same account, the one after: both are set here, so that no other transaction can
    /// slip between them.
    async fn send_delegation(
        &self,
        chain: &Chain,
        to: Address,
        initialize: Option<LeashAccount::initializeEoaCall>,
    ) -> Result<(B256, u64)> {
        let account = &self.account;
        let nonce = chain
            .provider
            .get_transaction_count(account.address)
            .pending()
            .await
            .map_err(|e| Error::rpc(&chain.label, format!("eth_getTransactionCount: {e}")))?;
        let authorization =
            Authorization { chain_id: U256::from(chain.chain_id), address: to, nonce: nonce + 1 };
        let signature = self
            .signer
            .sign_hash(&authorization.signature_hash())
            .await
            .map_err(Error::OwnerSigning)?;
        let tx = TransactionRequest::default()
            .with_from(account.address)
            .with_to(account.address)
            .with_nonce(nonce)
            .with_authorization_list(vec![authorization.into_signed(signature)])
            .with_input(initialize.map(|call| call.abi_encode()).unwrap_or_default());
        let (receipt, code) = self.send_from_eoa(chain, tx, "the delegation").await?;
        let expected = if to.is_zero() { Bytes::new() } else { account.delegation() };
        if code != expected {
            return Err(Error::Setup(format!(
                "{} does not delegate to {to} after {}: the authorisation was not applied (its nonce was \
                 taken); run the delegation again",
                account.address, receipt.transaction_hash
            )));
        }
        if !receipt.status() {
            return Err(Error::Setup(format!(
                "initializeEoa reverted in {}; run the delegation again",
                receipt.transaction_hash
            )));
        }
        Ok((receipt.transaction_hash, receipt.block_number.unwrap_or_default()))
    }

    /// Sends `initializeEoa` from the EOA, which delegates already, to itself and waits for its successful
    /// receipt.
    async fn initialize_eoa(&self, chain: &Chain) -> Result<(B256, u64)> {
        let account = &self.account;
        let call = LeashAccount::initializeEoaCall {
            validators: account.validators.clone(),
            validatorData: vec![Bytes::new(); account.validators.len()],
        };
        let tx = TransactionRequest::default()
            .with_from(account.address)
            .with_to(account.address)
            .with_input(call.abi_encode());
        let (receipt, _) = self.send_from_eoa(chain, tx, "initializeEoa").await?;
        if !receipt.status() {
            return Err(Error::Setup(format!(
                "initializeEoa reverted in {}; run the delegation again",
                receipt.transaction_hash
            )));
        }
        Ok((receipt.transaction_hash, receipt.block_number.unwrap_or_default()))
    }

    /// Sends `tx` signed by the EOA and waits for its receipt; returns it with the EOA's code at its block (read
    /// there: a node that lags behind its own receipt must not read as a failure).
    async fn send_from_eoa(
        &self,
        chain: &Chain,
        tx: TransactionRequest,
        what: &str,
    ) -> Result<(alloy::rpc::types::TransactionReceipt, Bytes)> {
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(self.signer.clone()))
            .connect_provider(chain.provider.clone());
        let pending = provider
            .send_transaction(tx)
            .await
            .map_err(|e| Error::rpc(&chain.label, format!("sending {what}: {e}")))?;
        let receipt = pending
            .with_timeout(Some(Duration::from_secs(120)))
            .get_receipt()
            .await
            .map_err(|e| Error::rpc(&chain.label, format!("waiting for {what}: {e}")))?;
        let address = self.account.address;
        let code = match receipt.block_number {
            Some(block) => chain.provider.get_code_at(address).block_id(block.into()).await,
            None => chain.provider.get_code_at(address).await,
        }
        .map_err(|e| Error::rpc(&chain.label, format!("eth_getCode: {e}")))?;
        Ok((receipt, code))
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
    if let Some((factory, data)) = account.deployment(deployed)? {
        builder = builder.factory(factory, data);
    }
    let op = builder.build()?;
    let hash = op.hash(chain.entry_point, chain.chain_id)?;
    Ok((op, hash))
}

/// [`prepare_owner_operation`] for sending through `submitter`: through a bundler, with its price and its
/// estimate (taken with a signature of the real one's shape, which the estimate does not check), so that the
/// bundler's gas rules are met.
pub async fn prepare_owner_operation_for(
    chain: &Chain,
    submitter: &Submitter,
    account: &SmartAccount,
    calls: &[Call],
) -> Result<(UserOperation, B256)> {
    let (mut op, hash) = prepare_owner_operation(chain, account, calls).await?;
    let Submitter::Bundler(bundler) = submitter else {
        return Ok((op, hash));
    };
    let (max_fee, priority) = submitter.fees(chain).await?;
    op.max_fee_per_gas = U256::from(max_fee);
    op.max_priority_fee_per_gas = U256::from(priority);
    op.signature = Bytes::from(vec![0xff; 65]);
    let estimate = bundler.estimate_user_operation_gas(&op).await?;
    crate::gas::apply_estimate(bundler, &estimate, &mut op)?;
    op.signature = Bytes::new();
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
