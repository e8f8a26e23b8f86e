// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {SessionKeyValidator} from "../src/SessionKeyValidator.sol";
import {SessionEncoder} from "../src/SessionEncoder.sol";
import {Action, ArgRule, Session, SessionTypes, SessionUse} from "../src/SessionTypes.sol";
import {LeashTest} from "./utils/LeashTest.sol";

/// @notice Gas benchmark on the real EntryPoint v0.7: one UserOperation per `handleOps` call.
/// @dev Run by `make gas` as `forge test --isolate`, where every top-level call is its own transaction, so
/// `lastCallGas` is the gas of the whole `handleOps` transaction (intrinsic and calldata included), the method
/// of the public aa-benchmarks tables. Accounts, nonce lanes and action slots are warmed by an earlier op, so
/// the figures are those of an account in steady use; each account pays gas from an EntryPoint deposit (no
/// prefund transfer); the recipient already holds tokens and ether. The last log line is one JSON object with
/// every figure; `forge snapshot` records the same figures (`snapshots/GasBenchmark.json`), which CI checks.
/// Without `--isolate` (as in `make test`) it only checks that every measured op lands.
contract GasBenchmark is LeashTest {
    event log(string);

    string internal json;

    function test_GasOfOneUserOpPerHandleOps() public {
        usdc.mint(merchant, 1e6);
        vm.deal(merchant, 1 ether);
        // Every account pays from an EntryPoint deposit, so no op pays a prefund transfer and all are alike.
        ENTRYPOINT.depositTo{value: 1 ether}(address(account));

        // Owner: warm the account (deposit, nonce lane 0), then measure.
        send(ownerOp(transferCall(merchant, 1)));
        measure("owner_native_transfer", ownerOp(singleCall(merchant, 1 gwei, "")));
        measure("owner_erc20_transfer", ownerOp(transferCall(merchant, 1e6)));

        // Session: time window, target + selector, 2 argument rules, per-period spend cap and use limit.
        Action[] memory actions = one(benchmarkAction());
        Session memory s = benchmarkSession(actions, 0);
        grantByOwner(s, actions);
        SessionUse memory use = useOf(s, actions, 1);
        send(sessionOp(transferCall(merchant, 1e6), use));
        uint256 sessionStart = usdc.balanceOf(merchant);
        measure("session_erc20_transfer", sessionOp(transferCall(merchant, 1e6), use));
        assertEq(usdc.balanceOf(merchant), sessionStart + 1e6, "session transfer landed");

        // First use of a new session, granted inside the op (owner's signature in the signature field).
        Session memory lazy = benchmarkSession(actions, bytes32(uint256(1)));
        measure(
            "session_erc20_transfer_enable",
            grantingOp(transferCall(merchant, 1e6), useOf(lazy, actions, 1), ownerGrant(address(account), lazy))
        );
        assertEq(validator.sessionState(address(account), sessionIdOf(lazy)), 1, "lazy grant landed");

        Execution[] memory calls = new Execution[](3);
        for (uint256 i = 0; i < 3; ++i) {
            calls[i] = Execution(address(usdc), 0, abi.encodeCall(usdc.transfer, (merchant, 1e6)));
        }
        use.callActions = new bytes(3);
        uint256 batchStart = usdc.balanceOf(merchant);
        measure("session_batch3_erc20_transfer", sessionOp(batchCall(calls), use));
        assertEq(usdc.balanceOf(merchant), batchStart + 3e6, "batch landed");

        // Sessions holding 100 actions: the first op grants one lazily and proves the last action; the second
        // op uses a warm one (its action's record written, so it carries no proof).
        Action[] memory many = hundredActions();
        Session memory big = benchmarkSession(many, bytes32(uint256(2)));
        measure(
            "session_lazy_grant_100_actions",
            grantingOp(transferCall(merchant, 1e6), useOfLast(big, many), ownerGrant(address(account), big))
        );
        SessionUse memory bigUse = useOfLast(big, many);
        bigUse.proofs[0] = new bytes32[](0);
        uint256 bigStart = usdc.balanceOf(merchant);
        measure("session_erc20_transfer_100_actions", sessionOp(transferCall(merchant, 1e6), bigUse));
        assertEq(usdc.balanceOf(merchant), bigStart + 1e6, "100-action session transfer landed");

        // A native transfer: recipient fixed, per-call value and per-period value cap.
        Action memory pay;
        pay.target = merchant;
        pay.flags = SessionTypes.ACTION_NATIVE_TRANSFER | SessionTypes.ACTION_VALUE_CAP;
        pay.maxValuePerCall = 0.1 ether;
        pay.valueCap = 1 ether;
        pay.period = everySeconds(30 days);
        pay.period.anchor = 0;
        Session memory native = benchmarkSession(one(pay), bytes32(uint256(3)));
        grantByOwner(native, one(pay));
        SessionUse memory nativeUse = useOf(native, one(pay), 1);
        send(sessionOp(singleCall(merchant, 1 gwei, ""), nativeUse));
        measure("session_native_transfer", sessionOp(singleCall(merchant, 1 gwei, ""), nativeUse));

        // The benchmark session signed by a P-256 key, raw and through WebAuthn.
        measureP256("session_p256_erc20_transfer", SessionTypes.SIGNER_P256, actions, 4);
        measureP256("session_webauthn_erc20_transfer", SessionTypes.SIGNER_WEBAUTHN, actions, 5);

        // A new account deployed by its first op, which is an owner ERC-20 transfer.
        (address[] memory validators, bytes[] memory data) = moduleList();
        address predicted = factory.getAddress(owner, bytes32(uint256(9)), validators, data);
        ENTRYPOINT.depositTo{value: 1 ether}(predicted);
        usdc.mint(predicted, 10e6);
        PackedUserOperation memory deployOp = baseOp(predicted, 0, transferCall(merchant, 1e6));
        deployOp.initCode = abi.encodePacked(
            address(factory), abi.encodeCall(factory.createAccount, (owner, bytes32(uint256(9)), validators, data))
        );
        deployOp.signature = ownerSignature(deployOp);
        measure("account_deploy_and_owner_erc20_transfer", deployOp);
        assertTrue(predicted.code.length > 0, "account deployed");

        emit log(string.concat("{", json, "}"));
    }

    function benchmarkAction() internal view returns (Action memory a) {
        a = transferAction(1_000_000e6, everySeconds(30 days));
        a.period.anchor = 0;
        a.maxUses = 1000;
        a.rules = new ArgRule[](2);
        a.rules[0] = rule(SessionTypes.OP_EQ, 0, bytes32(uint256(uint160(merchant))));
        a.rules[1] = rule(SessionTypes.OP_LTE, 32, bytes32(uint256(1000e6)));
    }

    /// @dev 99 actions on other tokens, then the benchmark action.
    function hundredActions() internal view returns (Action[] memory many) {
        many = new Action[](100);
        for (uint256 i = 0; i < 99; ++i) {
            many[i] = benchmarkAction();
            many[i].target = address(uint160(0x10000 + i));
        }
        many[99] = benchmarkAction();
    }

    /// @dev A use of the session's last action alone, with its proof in the session's tree.
    function useOfLast(Session memory s, Action[] memory all) internal view returns (SessionUse memory use) {
        use = useOf(s, one(all[all.length - 1]), 1);
        use.proofs = new bytes32[][](1);
        use.proofs[0] = SessionEncoder.proof(hashesOf(all), all.length - 1);
    }

    function benchmarkSession(Action[] memory actions, bytes32 salt) internal view returns (Session memory s) {
        s = newSession(sessionSigner, actions);
        s.validAfter = uint48(vm.getBlockTimestamp() - 1 days);
        s.validUntil = uint48(vm.getBlockTimestamp() + 365 days);
        s.salt = salt;
    }

    /// @dev Grants the benchmark session to the P-256 key (`kind`), warms it, then measures a transfer.
    function measureP256(string memory label, uint8 kind, Action[] memory actions, uint256 salt) internal {
        Session memory s = withP256Signer(benchmarkSession(actions, bytes32(salt)), kind);
        grantByOwner(s, actions);
        send(p256Op(s, actions, kind));
        measure(label, p256Op(s, actions, kind));
    }

    function p256Op(Session memory s, Action[] memory actions, uint8 kind)
        internal
        view
        returns (PackedUserOperation memory op)
    {
        SessionUse memory use = useOf(s, actions, 1);
        op = baseOp(address(account), sessionKeyNonce(0), transferCall(merchant, 1e6));
        bytes32 digest = validator.useDigest(ENTRYPOINT.getUserOpHash(op), sessionIdOf(s), use.time, callsHash(use));
        if (kind == SessionTypes.SIGNER_P256) {
            (bytes32 r, bytes32 sig) = signP256(digest);
            use.signature = abi.encodePacked(r, sig);
        } else {
            use.signature = webAuthnSignature(digest);
        }
        op.signature = packUse(use);
    }

    function measure(string memory label, PackedUserOperation memory op) internal {
        send(op);
        uint256 gas = vm.lastCallGas().gasTotalUsed;
        vm.snapshotValue("GasBenchmark", label, gas);
        emit log(string.concat(label, " ", vm.toString(gas)));
        json = string.concat(json, bytes(json).length == 0 ? "" : ",", '"', label, '":', vm.toString(gas));
    }
}
