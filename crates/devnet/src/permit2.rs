//! Permit2 signatures: a one-time signed transfer (`permitTransferFrom`) and a signed allowance (`permit`), the
//! two ways a dapp moves a user's tokens through Permit2 once the user has approved Permit2 for the token. The
//! devnet has Permit2 at its canonical address [`PERMIT2`] with the domain separator of its chain.
//!
//! ```
//! use alloy::{primitives::{address, U256}, signers::local::PrivateKeySigner};
//! use leash_devnet::permit2::TransferPermit;
//!
//! let owner = PrivateKeySigner::random();
//! let usdc = address!("00000000000000000000000000000000000000aa");
//! let spender = address!("00000000000000000000000000000000000000bb");
//! // 10 USDC, once, by `spender`, before the deadline.
//! let permit = TransferPermit { token: usdc, amount: U256::from(10_000_000), spender, nonce: U256::ZERO, deadline: U256::from(u64::MAX) };
//! let signature = permit.sign(&owner, 31_337)?;
//! // `spender` sends this to Permit2 and 10 USDC move from `owner` to where it says.
//! let call_data = permit.transfer_call(owner.address(), spender, permit.amount, signature);
//! # let _ = call_data;
//! # Ok::<(), alloy::signers::Error>(())
//! ```

use alloy::{
    primitives::{aliases::U48, Address, Bytes, B256, U160, U256},
    signers::SignerSync,
    sol,
    sol_types::{eip712_domain, Eip712Domain, SolCall, SolStruct},
};
pub use leash_contracts::bindings::permit2::PERMIT2;
use leash_contracts::bindings::permit2::{IAllowanceTransfer, ISignatureTransfer, Permit2};

sol! {
    /// The signed form of `permitTransferFrom`'s permit: Permit2 adds the caller as `spender`.
    #[derive(Debug, PartialEq, Eq)]
    struct PermitTransferFrom {
        TokenPermissions permitted;
        address spender;
        uint256 nonce;
        uint256 deadline;
    }

    /// A token and an amount.
    #[derive(Debug, PartialEq, Eq)]
    struct TokenPermissions {
        address token;
        uint256 amount;
    }

    /// The signed form of `permit`'s allowance.
    #[derive(Debug, PartialEq, Eq)]
    struct PermitSingle {
        PermitDetails details;
        address spender;
        uint256 sigDeadline;
    }

    /// One token's allowance.
    #[derive(Debug, PartialEq, Eq)]
    struct PermitDetails {
        address token;
        uint160 amount;
        uint48 expiration;
        uint48 nonce;
    }
}

/// Permit2's EIP-712 domain on `chain_id`: name "Permit2", the chain id and [`PERMIT2`], no version.
pub fn domain(chain_id: u64) -> Eip712Domain {
    eip712_domain! {
        name: "Permit2",
        chain_id: chain_id,
        verifying_contract: PERMIT2,
    }
}

fn sign(signer: &impl SignerSync, digest: B256) -> alloy::signers::Result<Bytes> {
    Ok(signer.sign_hash_sync(&digest)?.as_bytes().to_vec().into())
}

/// A one-time transfer the owner signs (`SignatureTransfer`): `spender` may move up to `amount` of `token`
/// once, before `deadline`. Nonces are unordered: any unused 256-bit value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferPermit {
    /// The ERC-20, which the owner approved Permit2 for.
    pub token: Address,
    /// The most `spender` may move.
    pub amount: U256,
    /// Who may submit it.
    pub spender: Address,
    /// Any value the owner has not used (Permit2 keeps a bitmap per owner).
    pub nonce: U256,
    /// Unix seconds after which it is refused.
    pub deadline: U256,
}

impl TransferPermit {
    /// The EIP-712 digest the owner signs on `chain_id`.
    pub fn signing_hash(&self, chain_id: u64) -> B256 {
        PermitTransferFrom {
            permitted: TokenPermissions { token: self.token, amount: self.amount },
            spender: self.spender,
            nonce: self.nonce,
            deadline: self.deadline,
        }
        .eip712_signing_hash(&domain(chain_id))
    }

    /// The owner's signature (65 bytes) on `chain_id`.
    pub fn sign(&self, owner: &impl SignerSync, chain_id: u64) -> alloy::signers::Result<Bytes> {
        sign(owner, self.signing_hash(chain_id))
    }

    /// `permitTransferFrom`'s call data: the spender moves `amount` (at most the permitted one) from `owner` to
    /// `to`.
    pub fn transfer_call(
        &self,
        owner: Address,
        to: Address,
        amount: U256,
        signature: Bytes,
    ) -> Bytes {
        Permit2::permitTransferFrom_0Call {
            permit: ISignatureTransfer::PermitTransferFrom {
                permitted: ISignatureTransfer::TokenPermissions {
                    token: self.token,
                    amount: self.amount,
                },
                nonce: self.nonce,
                deadline: self.deadline,
            },
            transferDetails: ISignatureTransfer::SignatureTransferDetails {
                to,
                requestedAmount: amount,
            },
            owner,
            signature,
        }
        .abi_encode()
        .into()
    }
}

/// An allowance the owner signs (`AllowanceTransfer`): once submitted with `permit`, `spender` may move up to
/// `amount` of `token` with `transferFrom` until `expiration`. Nonces are ordered per (owner, token, spender):
/// the current one is in `allowance(owner, token, spender)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowancePermit {
    /// The ERC-20, which the owner approved Permit2 for.
    pub token: Address,
    /// The allowance.
    pub amount: U160,
    /// Unix seconds when the allowance ends (0: at the end of the block it is set in).
    pub expiration: U48,
    /// The current nonce of (owner, token, spender).
    pub nonce: U48,
    /// Who gets the allowance.
    pub spender: Address,
    /// Unix seconds after which the signature is refused.
    pub sig_deadline: U256,
}

impl AllowancePermit {
    /// The EIP-712 digest the owner signs on `chain_id`.
    pub fn signing_hash(&self, chain_id: u64) -> B256 {
        PermitSingle {
            details: PermitDetails {
                token: self.token,
                amount: self.amount,
                expiration: self.expiration,
                nonce: self.nonce,
            },
            spender: self.spender,
            sigDeadline: self.sig_deadline,
        }
        .eip712_signing_hash(&domain(chain_id))
    }

    /// The owner's signature (65 bytes) on `chain_id`.
    pub fn sign(&self, owner: &impl SignerSync, chain_id: u64) -> alloy::signers::Result<Bytes> {
        sign(owner, self.signing_hash(chain_id))
    }

    /// `permit`'s call data, which anyone may send to set the allowance.
    pub fn permit_call(&self, owner: Address, signature: Bytes) -> Bytes {
        Permit2::permit_1Call {
            owner,
            permitSingle: IAllowanceTransfer::PermitSingle {
                details: IAllowanceTransfer::PermitDetails {
                    token: self.token,
                    amount: self.amount,
                    expiration: self.expiration,
                    nonce: self.nonce,
                },
                spender: self.spender,
                sigDeadline: self.sig_deadline,
            },
            signature,
        }
        .abi_encode()
        .into()
    }
}
