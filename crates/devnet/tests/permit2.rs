//! Permit2 on a devnet: at its canonical address with the EIP-712 domain of the devnet's chain, whatever the
//! chain id; a signed one-time transfer and a signed allowance move tokens; a used signature is refused.

use alloy::{
    network::TransactionBuilder,
    primitives::{aliases::U48, Address, Bytes, U160, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
    sol_types::SolCall,
};
use leash_contracts::bindings::{permit2::Permit2, DevToken};
use leash_devnet::{
    permit2::{self, AllowancePermit, TransferPermit, PERMIT2},
    Devnet,
};

fn usdc(whole: u64) -> U256 {
    U256::from(whole) * U256::from(1_000_000)
}

fn tx(from: Address, input: Bytes) -> TransactionRequest {
    TransactionRequest::default().with_from(from).with_to(PERMIT2).with_input(input)
}

async fn send(devnet: &Devnet, tx: TransactionRequest) {
    let pending = devnet.provider().send_transaction(tx).await.expect("sent");
    assert!(pending.get_receipt().await.expect("mined").status(), "reverted");
}

#[tokio::test]
async fn permit2_is_at_its_address_with_the_domain_of_the_chain() {
    for chain_id in [31_337u64, 7] {
        let devnet = Devnet::builder().chain_id(chain_id).start().await.expect("the devnet starts");
        assert_eq!(devnet.deployment().unwrap().permit2, PERMIT2);
        let code = devnet.provider().get_code_at(PERMIT2).await.expect("eth_getCode");
        assert_eq!(code.len(), 9_152, "chain {chain_id}");
        let permit2 = Permit2::new(PERMIT2, devnet.provider());
        let separator = permit2.DOMAIN_SEPARATOR().call().await.expect("DOMAIN_SEPARATOR()");
        assert_eq!(separator, permit2::domain(chain_id).separator(), "chain {chain_id}");
    }
}

#[tokio::test]
async fn a_signed_transfer_and_a_signed_allowance_move_tokens_once() {
    let devnet = Devnet::start().await.expect("the devnet starts");
    let d = devnet.deployment().unwrap().clone();
    let provider = devnet.provider();
    let owner = devnet.dev_keys()[1].clone();
    let spender = devnet.dev_accounts()[2];
    let merchant = devnet.dev_accounts()[3];
    let token = DevToken::new(d.usdc, provider);
    devnet.mint_usdc(owner.address(), usdc(100)).await.unwrap();
    // The one on-chain approval a Permit2 user makes per token.
    let approve = token.approve(PERMIT2, U256::MAX).from(owner.address()).send().await.unwrap();
    assert!(approve.get_receipt().await.unwrap().status());

    // SignatureTransfer: the spender moves 10 USDC (of 15 permitted) to the merchant, once.
    let permit = TransferPermit {
        token: d.usdc,
        amount: usdc(15),
        spender,
        nonce: U256::from(7),
        deadline: U256::from(u64::MAX),
    };
    let signature = permit.sign(&owner, devnet.chain_id()).unwrap();
    let transfer = permit.transfer_call(owner.address(), merchant, usdc(10), signature);
    send(&devnet, tx(spender, transfer.clone())).await;
    assert_eq!(token.balanceOf(merchant).call().await.unwrap(), usdc(10));
    assert!(provider.call(tx(spender, transfer.clone())).await.is_err(), "nonce used twice");
    // Only the named spender may use it.
    let other = TransferPermit { nonce: U256::from(8), ..permit.clone() };
    let signature = other.sign(&owner, devnet.chain_id()).unwrap();
    let stolen = other.transfer_call(owner.address(), merchant, usdc(1), signature);
    assert!(provider.call(tx(merchant, stolen)).await.is_err(), "another spender used the permit");

    // AllowanceTransfer: anyone submits the signed allowance, then the spender pulls within it.
    let allowance = AllowancePermit {
        token: d.usdc,
        amount: U160::from(usdc(20)),
        expiration: U48::from(u64::from(u32::MAX)),
        nonce: U48::ZERO,
        spender,
        sig_deadline: U256::from(u64::MAX),
    };
    let signature = allowance.sign(&owner, devnet.chain_id()).unwrap();
    send(&devnet, tx(merchant, allowance.permit_call(owner.address(), signature))).await;
    let pull = |amount: u64| {
        Bytes::from(
            Permit2::transferFrom_1Call {
                from: owner.address(),
                to: merchant,
                amount: U160::from(usdc(amount)),
                token: d.usdc,
            }
            .abi_encode(),
        )
    };
    send(&devnet, tx(spender, pull(12))).await;
    assert_eq!(token.balanceOf(merchant).call().await.unwrap(), usdc(22));
    let left = Permit2::new(PERMIT2, provider)
        .allowance(owner.address(), d.usdc, spender)
        .call()
        .await
        .unwrap();
    assert_eq!(left.amount, U160::from(usdc(8)));
    assert_eq!(left.nonce, U48::from(1));
    assert!(provider.call(tx(spender, pull(9))).await.is_err(), "pulled past the allowance");
}
