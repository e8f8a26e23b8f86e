//! The devnet's USDC speaks EIP-3009 like USDC v2.2: a holder signs a `TransferWithAuthorization` off-chain in
//! the token's EIP-712 domain (its name, version "2") and anyone submits it, once.

use alloy::{
    primitives::{B256, U256},
    signers::SignerSync,
    sol,
    sol_types::{eip712_domain, SolStruct},
};
use leash_contracts::bindings::DevUsdc;
use leash_devnet::Devnet;

sol! {
    struct TransferWithAuthorization {
        address from;
        address to;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
    }
}

#[tokio::test]
async fn a_signed_authorization_moves_usdc_once_whoever_submits_it() {
    let devnet = Devnet::start().await.expect("the devnet starts");
    let d = devnet.deployment().unwrap();
    let provider = devnet.provider();
    let payer = devnet.dev_keys()[1].clone();
    let (relayer, merchant) = (devnet.dev_accounts()[2], devnet.dev_accounts()[3]);
    let usdc = DevUsdc::new(d.usdc, provider);
    devnet.mint_usdc(payer.address(), U256::from(5_000_000)).await.unwrap();

    let domain = eip712_domain! {
        name: "USD Coin (devnet)",
        version: "2",
        chain_id: devnet.chain_id(),
        verifying_contract: d.usdc,
    };
    assert_eq!(usdc.DOMAIN_SEPARATOR().call().await.unwrap(), domain.separator());
    assert_eq!(usdc.name().call().await.unwrap(), d.token("USDC").unwrap().name);

    let nonce = B256::repeat_byte(0x42);
    let authorization = TransferWithAuthorization {
        from: payer.address(),
        to: merchant,
        value: U256::from(2_500_000),
        validAfter: U256::ZERO,
        validBefore: U256::from(u64::MAX),
        nonce,
    };
    let signature = payer.sign_hash_sync(&authorization.eip712_signing_hash(&domain)).unwrap();
    let submit = usdc
        .transferWithAuthorization_0(
            authorization.from,
            authorization.to,
            authorization.value,
            authorization.validAfter,
            authorization.validBefore,
            nonce,
            signature.as_bytes().to_vec().into(),
        )
        .from(relayer);
    let receipt = submit.send().await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
    assert_eq!(usdc.balanceOf(merchant).call().await.unwrap(), U256::from(2_500_000));
    assert!(usdc.authorizationState(payer.address(), nonce).call().await.unwrap());
    assert!(submit.call().await.is_err(), "an authorization was used twice");
}
