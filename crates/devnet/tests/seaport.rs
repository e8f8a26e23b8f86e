//! Seaport 1.6 on a devnet: a seller lists an NFT of the devnet collection with a signed order, a buyer fills it
//! with `fulfillBasicOrder` paying ether, and the NFT and the ether move as the order says.

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
};
use leash_contracts::bindings::{seaport::Seaport, DevCollection};
use leash_devnet::{seaport, seaport::Listing, Deployment, Devnet};

fn ether(thousandths: u64) -> U256 {
    U256::from(thousandths) * U256::from(10).pow(U256::from(15))
}

async fn start() -> (Devnet, Deployment) {
    let devnet = Devnet::start().await.expect("the devnet starts");
    let deployment = devnet.deployment().expect("the devnet deploys the stack").clone();
    (devnet, deployment)
}

/// Mints token `id` of the collection to `seller` and approves Seaport for the seller's tokens.
async fn own_and_approve(devnet: &Devnet, d: &Deployment, seller: Address, id: u64) {
    let punks = DevCollection::new(d.collection, devnet.provider());
    let mint = punks.mint(seller, U256::from(id)).send().await.expect("sent");
    assert!(mint.get_receipt().await.expect("mined").status());
    let approve = punks.setApprovalForAll(d.seaport, true).from(seller).send().await.expect("sent");
    assert!(approve.get_receipt().await.expect("mined").status());
}

async fn now(devnet: &Devnet) -> u64 {
    let block = devnet.provider().get_block_number().await.expect("eth_blockNumber");
    let block = devnet.provider().get_block_by_number(block.into()).await.expect("block");
    block.expect("the latest block exists").header.timestamp
}

#[tokio::test]
async fn a_buyer_fills_a_signed_listing_and_the_nft_and_the_ether_move() {
    let (devnet, d) = start().await;
    let provider = devnet.provider();
    let seller = devnet.dev_keys()[1].clone();
    let buyer = devnet.dev_accounts()[2];
    let marketplace = devnet.dev_accounts()[3];

    let seaport = Seaport::new(d.seaport, provider);
    let information = seaport.information().call().await.expect("information()");
    assert_eq!(information.version, seaport::SEAPORT_VERSION);
    assert_eq!(information.conduitController, d.seaport_conduit_controller);
    // The domain the helpers sign in is the one Seaport checks against.
    assert_eq!(
        information.domainSeparator,
        seaport::domain(d.seaport, devnet.chain_id()).separator()
    );

    own_and_approve(&devnet, &d, seller.address(), 7).await;
    let counter = seaport.getCounter(seller.address()).call().await.expect("getCounter");
    let start = now(&devnet).await;
    let listing = Listing::new(seller.address(), d.collection, U256::from(7), ether(1_000))
        .fee(marketplace, ether(25))
        .valid_between(start - 10, start + 3_600)
        .salt(U256::from(42))
        .counter(counter);
    let order_hash = listing.order_hash();
    assert_eq!(
        seaport.getOrderHash(listing.order_components()).call().await.expect("getOrderHash"),
        order_hash
    );

    let signature = listing.sign(&seller, d.seaport, devnet.chain_id()).expect("signs");
    let balance = |who: Address| async move { provider.get_balance(who).await.expect("balance") };
    let (seller_before, marketplace_before) =
        (balance(seller.address()).await, balance(marketplace).await);
    let fill = TransactionRequest::default()
        .with_from(buyer)
        .with_to(d.seaport)
        .with_input(listing.fulfill_call(signature.clone()))
        .with_value(listing.total_price());
    let receipt = provider
        .send_transaction(fill.clone())
        .await
        .expect("sent")
        .get_receipt()
        .await
        .expect("mined");
    assert!(receipt.status(), "fulfillBasicOrder reverted");
    eprintln!("fulfillBasicOrder (ETH for an ERC-721, one fee): {} gas", receipt.gas_used);

    let punks = DevCollection::new(d.collection, provider);
    assert_eq!(punks.ownerOf(U256::from(7)).call().await.expect("ownerOf"), buyer);
    assert_eq!(balance(seller.address()).await - seller_before, ether(1_000));
    assert_eq!(balance(marketplace).await - marketplace_before, ether(25));
    let status = seaport.getOrderStatus(order_hash).call().await.expect("getOrderStatus");
    assert!(status.isValidated);
    assert_eq!((status.totalFilled, status.totalSize), (U256::from(1), U256::from(1)));

    // The order is spent: the same fill is refused.
    assert!(provider.call(fill).await.is_err(), "a filled order was filled again");
}

#[tokio::test]
async fn seaport_refuses_an_order_not_signed_by_the_seller_or_paid_less() {
    let (devnet, d) = start().await;
    let provider = devnet.provider();
    let seller = devnet.dev_keys()[1].clone();
    let other = devnet.dev_keys()[4].clone();
    let buyer = devnet.dev_accounts()[2];
    own_and_approve(&devnet, &d, seller.address(), 8).await;
    let listing = Listing::new(seller.address(), d.collection, U256::from(8), ether(500));
    let try_fill = |listing: &Listing, signature, value| {
        let tx = TransactionRequest::default()
            .with_from(buyer)
            .with_to(d.seaport)
            .with_input(listing.fulfill_call(signature))
            .with_value(value);
        async move { provider.call(tx).await }
    };

    let forged = listing.sign(&other, d.seaport, devnet.chain_id()).expect("signs");
    assert!(
        try_fill(&listing, forged, listing.total_price()).await.is_err(),
        "forged order filled"
    );

    // Signed at 0.5 ETH, offered at 0.1 ETH: the order hash differs, so the signature does not hold.
    let signature = listing.sign(&seller, d.seaport, devnet.chain_id()).expect("signs");
    let cheaper = Listing { price: ether(100), ..listing.clone() };
    assert!(
        try_fill(&cheaper, signature.clone(), ether(100)).await.is_err(),
        "underpaid order filled"
    );

    // Signed for another chain's Seaport domain: refused too.
    let elsewhere = listing.sign(&seller, d.seaport, 1).expect("signs");
    assert!(try_fill(&listing, elsewhere, listing.total_price()).await.is_err());

    // The genuine one goes through.
    assert!(try_fill(&listing, signature, listing.total_price()).await.is_ok());
}
