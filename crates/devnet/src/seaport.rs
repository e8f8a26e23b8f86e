//! Seaport 1.6 listings: an ERC-721 offered for ether, signed by its seller and bought with
//! `fulfillBasicOrder`, the path marketplaces use for a single NFT. Demos and tests build orders here; the
//! devnet deploys Seaport and its `ConduitController` ([`crate::Deployment::seaport`]) and an ERC-721 collection
//! to list ([`crate::Deployment::collection`]).
//!
//! ```
//! use alloy::{primitives::{address, U256}, signers::local::PrivateKeySigner};
//! use leash_devnet::seaport::Listing;
//!
//! let seller = PrivateKeySigner::random();
//! let seaport = address!("00000000000000000000000000000000000000aa");
//! let punks = address!("00000000000000000000000000000000000000bb");
//! // Token 7 for 1 ETH to the seller and 0.025 ETH to a fee recipient: the buyer sends 1.025 ETH.
//! let listing = Listing::new(seller.address(), punks, U256::from(7), U256::from(10).pow(U256::from(18)))
//!     .fee(address!("00000000000000000000000000000000000000cc"), U256::from(25_000_000_000_000_000u64));
//! let signature = listing.sign(&seller, seaport, 31_337)?;
//! let call_data = listing.fulfill_call(signature); // to Seaport, with value `listing.total_price()`
//! assert_eq!(listing.total_price(), U256::from(1_025_000_000_000_000_000u64));
//! # let _ = call_data;
//! # Ok::<(), alloy::signers::Error>(())
//! ```

use alloy::{
    primitives::{keccak256, Address, Bytes, B256, U256},
    signers::SignerSync,
    sol_types::{eip712_domain, Eip712Domain, SolCall, SolStruct},
};
use leash_contracts::bindings::seaport::Seaport::{
    self, AdditionalRecipient, BasicOrderParameters, ConsiderationItem, OfferItem, OrderComponents,
};

/// The version in Seaport 1.6's EIP-712 domain (its name is "Seaport").
pub const SEAPORT_VERSION: &str = "1.6";

/// Seaport's `ItemType.NATIVE`: ether.
const ITEM_NATIVE: u8 = 0;
/// Seaport's `ItemType.ERC721`.
const ITEM_ERC721: u8 = 2;
/// `OrderType.FULL_OPEN`: no partial fills, anyone may fulfil, no zone.
const ORDER_FULL_OPEN: u8 = 0;
/// `BasicOrderType.ETH_TO_ERC721_FULL_OPEN`: the buyer pays ether for an ERC-721 of a `FULL_OPEN` order.
const BASIC_ETH_TO_ERC721_FULL_OPEN: u8 = 0;

/// The EIP-712 domain of the Seaport 1.6 contract at `seaport` on `chain_id`, which orders are signed in.
pub fn domain(seaport: Address, chain_id: u64) -> Eip712Domain {
    eip712_domain! {
        name: "Seaport",
        version: SEAPORT_VERSION,
        chain_id: chain_id,
        verifying_contract: seaport,
    }
}

/// An ERC-721 listed for ether: one token of `collection`, paid `price` to the seller and each fee to its
/// recipient, open to any buyer between `start_time` and `end_time`. The seller approves Seaport itself for the
/// collection (`setApprovalForAll(seaport, true)`): no conduit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// Who signs and gets the price (Seaport's offerer).
    pub seller: Address,
    /// The ERC-721 contract.
    pub collection: Address,
    /// The token offered.
    pub token_id: U256,
    /// Wei paid to the seller.
    pub price: U256,
    /// Wei paid to others (marketplace or creator fees): `(recipient, amount)`.
    pub fees: Vec<(Address, U256)>,
    /// Unix seconds from which the order may be filled.
    pub start_time: U256,
    /// Unix seconds from which it may no longer be filled.
    pub end_time: U256,
    /// Makes otherwise equal orders distinct.
    pub salt: U256,
    /// The seller's Seaport counter (`getCounter`), which the seller raises to cancel every order signed before.
    pub counter: U256,
}

impl Listing {
    /// Token `token_id` of `collection` for `price` wei, no fees, valid from the epoch for ever, salt 0, counter 0.
    pub fn new(seller: Address, collection: Address, token_id: U256, price: U256) -> Self {
        Self {
            seller,
            collection,
            token_id,
            price,
            fees: Vec::new(),
            start_time: U256::ZERO,
            end_time: U256::MAX,
            salt: U256::ZERO,
            counter: U256::ZERO,
        }
    }

    /// Adds `amount` wei paid to `recipient`.
    pub fn fee(mut self, recipient: Address, amount: U256) -> Self {
        self.fees.push((recipient, amount));
        self
    }

    /// Valid from `start` (inclusive) to `end` (exclusive), Unix seconds.
    pub fn valid_between(mut self, start: u64, end: u64) -> Self {
        self.start_time = U256::from(start);
        self.end_time = U256::from(end);
        self
    }

    /// Sets the salt.
    pub fn salt(mut self, salt: U256) -> Self {
        self.salt = salt;
        self
    }

    /// Sets the seller's counter (Seaport's `getCounter(seller)`; 0 until the seller cancels everything once).
    pub fn counter(mut self, counter: U256) -> Self {
        self.counter = counter;
        self
    }

    /// The wei a buyer sends: the price and every fee.
    pub fn total_price(&self) -> U256 {
        self.fees.iter().fold(self.price, |total, (_, amount)| total + amount)
    }

    /// The order the seller signs: the NFT offered; the price to the seller first, then the fees.
    pub fn order_components(&self) -> OrderComponents {
        let ether = |amount: U256, recipient: Address| ConsiderationItem {
            itemType: ITEM_NATIVE,
            token: Address::ZERO,
            identifierOrCriteria: U256::ZERO,
            startAmount: amount,
            endAmount: amount,
            recipient,
        };
        let consideration = std::iter::once(ether(self.price, self.seller))
            .chain(self.fees.iter().map(|&(recipient, amount)| ether(amount, recipient)))
            .collect();
        OrderComponents {
            offerer: self.seller,
            zone: Address::ZERO,
            offer: vec![OfferItem {
                itemType: ITEM_ERC721,
                token: self.collection,
                identifierOrCriteria: self.token_id,
                startAmount: U256::from(1),
                endAmount: U256::from(1),
            }],
            consideration,
            orderType: ORDER_FULL_OPEN,
            startTime: self.start_time,
            endTime: self.end_time,
            zoneHash: B256::ZERO,
            salt: self.salt,
            conduitKey: B256::ZERO,
            counter: self.counter,
        }
    }

    /// The order hash, as Seaport's `getOrderHash` computes it (the EIP-712 struct hash of the order).
    pub fn order_hash(&self) -> B256 {
        self.order_components().eip712_hash_struct()
    }

    /// The EIP-712 digest the seller signs for the Seaport contract at `seaport` on `chain_id`.
    pub fn signing_hash(&self, seaport: Address, chain_id: u64) -> B256 {
        let separator = domain(seaport, chain_id).separator();
        keccak256([&[0x19, 0x01], separator.as_slice(), self.order_hash().as_slice()].concat())
    }

    /// The seller's signature (65 bytes, `r ‖ s ‖ v`) for the Seaport contract at `seaport` on `chain_id`.
    pub fn sign(
        &self,
        seller: &impl SignerSync,
        seaport: Address,
        chain_id: u64,
    ) -> alloy::signers::Result<Bytes> {
        let signature = seller.sign_hash_sync(&self.signing_hash(seaport, chain_id))?;
        Ok(signature.as_bytes().to_vec().into())
    }

    /// What a buyer passes to `fulfillBasicOrder` for this listing, signed with `signature`.
    pub fn basic_order_parameters(&self, signature: Bytes) -> BasicOrderParameters {
        BasicOrderParameters {
            considerationToken: Address::ZERO,
            considerationIdentifier: U256::ZERO,
            considerationAmount: self.price,
            offerer: self.seller,
            zone: Address::ZERO,
            offerToken: self.collection,
            offerIdentifier: self.token_id,
            offerAmount: U256::from(1),
            basicOrderType: BASIC_ETH_TO_ERC721_FULL_OPEN,
            startTime: self.start_time,
            endTime: self.end_time,
            zoneHash: B256::ZERO,
            salt: self.salt,
            offererConduitKey: B256::ZERO,
            fulfillerConduitKey: B256::ZERO,
            totalOriginalAdditionalRecipients: U256::from(self.fees.len()),
            additionalRecipients: self
                .fees
                .iter()
                .map(|&(recipient, amount)| AdditionalRecipient { amount, recipient })
                .collect(),
            signature,
        }
    }

    /// `fulfillBasicOrder`'s call data, to send to Seaport with [`Self::total_price`] wei. It is the standard ABI
    /// encoding, the only one Seaport accepts (it reads the parameters at fixed offsets).
    pub fn fulfill_call(&self, signature: Bytes) -> Bytes {
        Seaport::fulfillBasicOrderCall(self.basic_order_parameters(signature)).abi_encode().into()
    }
}
