//! leash's own contracts at one address on every EVM chain.
//!
//! The account implementation, the session-key module and the account factory are created through the
//! deterministic deployment proxy at [`CREATE2_DEPLOYER`] (present on nearly every EVM chain) with the fixed
//! [`SALT`] and the committed init code, so their addresses depend on nothing but this release's bytecode:
//! the same module on Base, Optimism, Arbitrum or a devnet (a multichain grant binds the module's address), the
//! same account for one owner and salt everywhere (an account's address comes from the factory). Anyone may
//! deploy them anywhere and gets exactly these contracts.
//!
//! The factory's staked front ([`factory_front`]) is the exception by design: its stake has an owner, who alone
//! may unlock and withdraw it, and the owner is part of its init code. Whoever runs the front (an application,
//! a bundler operator) deploys it for their own address, which gives them the same front on every chain; the
//! release names no stake owner of its own.

use crate::{
    bindings::{LeashAccount, LeashAccountFactory, LeashFactoryStaker, SessionKeyValidator},
    CREATE2_DEPLOYER,
};
use alloy::{
    primitives::{address, b256, Address, Bytes, B256},
    sol_types::SolConstructor,
};

/// The CREATE2 salt of every release contract: "leash" in ASCII, left-aligned.
pub const SALT: B256 = b256!("6c65617368000000000000000000000000000000000000000000000000000000");

/// The session-key module ([`SessionKeyValidator`]) of this release.
pub const SESSION_KEY_VALIDATOR: Address = address!("dfc1322ee9f279782fe563ae7b1ff8836707367b");

/// The account implementation ([`LeashAccount`]) every account proxy of this release points to.
pub const ACCOUNT_IMPLEMENTATION: Address = address!("2b0b150162a8d6942776ff68a08e0d774d8aeb66");

/// The account factory ([`LeashAccountFactory`]) of this release: ownerless, storage-free.
pub const ACCOUNT_FACTORY: Address = address!("9d44a2cb4d5ce825198684683d79a8da2845b1eb");

/// The deterministic deployment proxy's runtime code, the same on every chain that has it: `salt ‖ initCode` in
/// the call data, CREATE2 with that salt, the new address (20 bytes) out.
pub const CREATE2_DEPLOYER_CODE: [u8; 69] = alloy::hex!("7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe03601600081602082378035828234f58015156039578182fd5b8082525050506014600cf3");

/// keccak256 of EntryPoint v0.7's runtime code at its canonical address, the same on every chain (its one
/// immutable, the sender creator it deploys, is at the same address everywhere too).
pub const ENTRYPOINT_V07_CODE_HASH: B256 =
    b256!("8db5ff695839d655407cc8490bb7a5d82337a86a6b39c3f0258aa6c3b582fc58");

/// One contract of the release: what to send the deployment proxy and where it lands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseContract {
    /// The contract's name, as in `contracts/src`.
    pub name: &'static str,
    /// Its creation code and constructor arguments.
    pub init_code: Bytes,
    /// Where the deployment proxy creates it.
    pub address: Address,
    /// The runtime code it must have there, immutables aside.
    pub runtime_code: &'static [u8],
    /// Where the runtime code holds immutables, as (start, length) in bytes: set by the constructor (the
    /// EIP-712 domain names the chain), so they are left out of the comparison.
    immutables: Vec<(usize, usize)>,
}

impl ReleaseContract {
    fn new(
        name: &'static str,
        init_code: Vec<u8>,
        runtime_code: &'static [u8],
        artifact: &str,
    ) -> Self {
        let address = CREATE2_DEPLOYER.create2_from_code(SALT, &init_code);
        Self {
            name,
            init_code: init_code.into(),
            address,
            runtime_code,
            immutables: immutables(artifact),
        }
    }

    /// The deployment proxy's call data that creates the contract: [`SALT`] then the init code.
    pub fn deployment_input(&self) -> Bytes {
        [SALT.as_slice(), &self.init_code].concat().into()
    }

    /// Whether `code` (from `eth_getCode` at [`ReleaseContract::address`]) is this contract's runtime code:
    /// byte for byte, except where the compiler placed immutables.
    pub fn is_runtime_code(&self, code: &[u8]) -> bool {
        if code.len() != self.runtime_code.len() {
            return false;
        }
        let mut expected = self.runtime_code.to_vec();
        let mut actual = code.to_vec();
        for &(start, length) in &self.immutables {
            expected[start..start + length].fill(0);
            actual[start..start + length].fill(0);
        }
        expected == actual
    }
}

/// The contracts every chain shares, in the order they are deployed: the account implementation, the module,
/// the factory (which names the implementation).
pub fn contracts() -> [ReleaseContract; 3] {
    let implementation = ReleaseContract::new(
        "LeashAccount",
        LeashAccount::BYTECODE.to_vec(),
        &LeashAccount::DEPLOYED_BYTECODE,
        include_str!("../artifacts/LeashAccount.json"),
    );
    let module = ReleaseContract::new(
        "SessionKeyValidator",
        SessionKeyValidator::BYTECODE.to_vec(),
        &SessionKeyValidator::DEPLOYED_BYTECODE,
        crate::SESSION_KEY_VALIDATOR_ARTIFACT,
    );
    let factory_args =
        LeashAccountFactory::constructorCall { implementation_: implementation.address };
    let factory = ReleaseContract::new(
        "LeashAccountFactory",
        [&LeashAccountFactory::BYTECODE[..], &factory_args.abi_encode()].concat(),
        &LeashAccountFactory::DEPLOYED_BYTECODE,
        include_str!("../artifacts/LeashAccountFactory.json"),
    );
    [implementation, module, factory]
}

/// The staked front of [`ACCOUNT_FACTORY`] whose stake `owner` manages: at the same address on every chain for
/// the same owner.
pub fn factory_front(owner: Address) -> ReleaseContract {
    let args =
        LeashFactoryStaker::constructorCall { initialOwner: owner, factory_: ACCOUNT_FACTORY };
    ReleaseContract::new(
        "LeashFactoryStaker",
        [&LeashFactoryStaker::BYTECODE[..], &args.abi_encode()].concat(),
        &LeashFactoryStaker::DEPLOYED_BYTECODE,
        include_str!("../artifacts/LeashFactoryStaker.json"),
    )
}

/// The immutables' places in a committed artifact (`immutableReferences`, written by `tools/artifacts.js`).
fn immutables(artifact: &str) -> Vec<(usize, usize)> {
    let json: serde_json::Value =
        serde_json::from_str(artifact).expect("committed artifact is JSON");
    json["immutableReferences"]
        .as_array()
        .expect("release artifacts list their immutables")
        .iter()
        .map(|span| {
            let field = |key: &str| span[key].as_u64().expect("immutable span field") as usize;
            (field("start"), field("length"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The addresses printed in docs/deployment.md are these; a change to a release contract's bytecode moves
    /// them, and this says so.
    #[test]
    fn the_release_addresses_are_the_published_constants() {
        let [implementation, module, factory] = contracts();
        assert_eq!(
            [implementation.address, module.address, factory.address],
            [ACCOUNT_IMPLEMENTATION, SESSION_KEY_VALIDATOR, ACCOUNT_FACTORY],
            "[LeashAccount, SessionKeyValidator, LeashAccountFactory]: update the constants and \
             docs/deployment.md"
        );
    }

    #[test]
    fn a_front_is_the_same_for_one_owner_and_differs_between_owners() {
        let a = address!("00000000000000000000000000000000000000aa");
        let b = address!("00000000000000000000000000000000000000bb");
        assert_eq!(factory_front(a).address, factory_front(a).address);
        assert_ne!(factory_front(a).address, factory_front(b).address);
    }

    #[test]
    fn runtime_code_is_compared_outside_immutables_only() {
        let module = &contracts()[1];
        assert!(!module.immutables.is_empty(), "the module's EIP-712 domain is immutable");
        let mut code = module.runtime_code.to_vec();
        assert!(module.is_runtime_code(&code));
        let (start, _) = module.immutables[0];
        code[start] ^= 0xff;
        assert!(module.is_runtime_code(&code), "an immutable may differ");
        code[start - 1] ^= 0xff;
        assert!(!module.is_runtime_code(&code), "code outside immutables may not");
        assert!(!module.is_runtime_code(&module.runtime_code[1..]), "nor its length");
    }
}
