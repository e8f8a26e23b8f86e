// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {IERC7579ModuleConfig} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {SessionKeyValidator} from "../src/SessionKeyValidator.sol";
import {LeashAccount} from "../src/LeashAccount.sol";
import {CallPolicyLib} from "../src/libraries/CallPolicyLib.sol";
import {Action, Grant, Period, Session, SessionRecord, SessionTypes, SessionUse} from "../src/SessionTypes.sol";
import {DevPaymaster} from "../src/devnet/DevPaymaster.sol";
import {SessionEncoder} from "../src/SessionEncoder.sol";
import {LeashTest} from "./utils/LeashTest.sol";

/// @notice Grant (by transaction, lazily, multichain), status, revoke one and all, signers, gas budget,
/// paymaster, ERC-1271 and sudo, all through `handleOps`.
contract SessionLifecycleTest is LeashTest {
    function defaultSession() internal view returns (Session memory s, Action[] memory actions) {
        actions = one(transferAction(1000e6, lifetime()));
        s = newSession(sessionSigner, actions);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Grant
    // ---------------------------------------------------------------------------------------------------------

    function test_GrantByOwnerTransaction() public {
        (Session memory s, Action[] memory actions) = defaultSession();
        bytes32 id = sessionIdOf(s);
        assertEq(validator.sessionState(address(account), id), SessionTypes.STATE_NONE, "not granted yet");
        grantByOwner(s, actions);
        assertEq(validator.sessionState(address(account), id), SessionTypes.STATE_ENABLED, "granted");
        send(sessionOp(transferCall(merchant, 7e6), useOf(s, actions, 1)));
        assertEq(usdc.balanceOf(merchant), 7e6, "session op landed");
    }

    function test_LazyGrantInFirstOp() public {
        (Session memory s, Action[] memory actions) = defaultSession();
        send(grantingOp(transferCall(merchant, 3e6), useOf(s, actions, 1), ownerGrant(address(account), s)));
        assertEq(usdc.balanceOf(merchant), 3e6, "first op landed");
        bytes32 id = sessionIdOf(s);
        assertEq(validator.sessionState(address(account), id), SessionTypes.STATE_ENABLED, "granted by the op");
        // Later ops need no grant.
        send(sessionOp(transferCall(merchant, 3e6), useOf(s, actions, 1)));
        assertEq(usdc.balanceOf(merchant), 6e6, "second op landed");
    }

    function test_RevertWhen_LazyGrantSignedBySessionKey() public {
        (Session memory s, Action[] memory actions) = defaultSession();
        Grant memory grant = ownerGrant(address(account), s);
        bytes32 leaf = validator.grantDigest(address(account), sessionIdOf(s), 0);
        (uint8 v, bytes32 r, bytes32 sig) = vm.sign(sessionKey, validator.grantRootDigest(leaf));
        grant.ownerSignature = abi.encodePacked(r, sig, v);
        expectRejected(
            grantingOp(transferCall(merchant, 1), useOf(s, actions, 1), grant),
            abi.encodeWithSelector(SessionKeyValidator.InvalidGrantSignature.selector, sessionIdOf(s))
        );
    }

    /// @dev A session with the ERC-1271 policy routes a "grant signature" through this module: refused.
    function test_RevertWhen_SessionSignsItsOwnGrantThroughTheModule() public {
        (Session memory s, Action[] memory actions) = defaultSession();
        s.flags |= SessionTypes.SESSION_SIGN_ANY;
        grantByOwner(s, actions);
        // A second, wider session the first one tries to grant.
        Action memory anything = anyCall();
        Session memory wide = newSession(sessionSigner, one(anything));
        bytes32 wideId = sessionIdOf(wide);
        Grant memory grant;
        grant.epoch = 0;
        grant.ownerSignature =
            sessionSignature(s, validator.grantRootDigest(validator.grantDigest(address(account), wideId, 0)));
        expectRejected(
            grantingOp(transferCall(merchant, 1), useOf(wide, one(anything), 1), grant),
            abi.encodeWithSelector(SessionKeyValidator.InvalidGrantSignature.selector, wideId)
        );
    }

    function test_RevertWhen_GrantForAnotherAccount() public {
        (Session memory s, Action[] memory actions) = defaultSession();
        LeashAccount other = createAccount(owner, bytes32(uint256(1)));
        vm.deal(address(other), 1 ether);
        Grant memory grantForOther = ownerGrant(address(other), s);
        expectRejected(
            grantingOp(transferCall(merchant, 1), useOf(s, actions, 1), grantForOther),
            abi.encodeWithSelector(SessionKeyValidator.InvalidGrantSignature.selector, sessionIdOf(s))
        );
    }

    /// @dev The operation carries an action that is not in the session's tree, with a proof that pairs it with a
    /// granted action: the proof leads to another root, so the call is refused and nothing is charged.
    function test_RevertWhen_CarriedActionIsNotInTheSession() public {
        (Session memory s, Action[] memory actions) = defaultSession();
        Action memory smuggled = anyCall();
        SessionUse memory use = useOf(s, one(smuggled), 1);
        use.proofs = new bytes32[][](1);
        use.proofs[0] = new bytes32[](1);
        use.proofs[0][0] = actionHashOf(actions[0]);
        expectRejected(
            grantingOp(transferCall(merchant, 1), use, ownerGrant(address(account), s)),
            abi.encodeWithSelector(SessionKeyValidator.ActionNotGranted.selector, 0, actionHashOf(smuggled))
        );
    }

    /// @dev Once granted, an action without a record must prove itself on every use: leaving out the proof of
    /// the second action of a two-action session is refused.
    function test_RevertWhen_UnrecordedActionComesWithoutProof() public {
        Action[] memory actions = new Action[](2);
        actions[0] = transferAction(10e6, lifetime());
        actions[1] = anyCall();
        Session memory s = newSession(sessionSigner, actions);
        grantByOwner(s, actions);
        SessionUse memory use = useOf(s, one(actions[1]), 1);
        use.proofs = new bytes32[][](1);
        use.proofs[0] = new bytes32[](0);
        expectRejected(
            sessionOp(singleCall(merchant, 0, ""), use),
            abi.encodeWithSelector(SessionKeyValidator.ActionNotGranted.selector, 0, actionHashOf(actions[1]))
        );
        use.proofs[0] = new bytes32[](1);
        use.proofs[0][0] = actionHashOf(actions[0]);
        send(sessionOp(singleCall(merchant, 0, ""), use));
    }

    function test_RevertWhen_GrantHasInvalidSigner() public {
        (Session memory s, Action[] memory actions) = defaultSession();
        s.signer = hex"1234";
        assertTrue(s.actionsRoot == actionsRoot(actions), "the session commits to its actions");
        bytes memory call = abi.encodeCall(SessionKeyValidator.grantSession, (SessionEncoder.encode(s)));
        PackedUserOperation memory op = ownerOp(singleCall(address(validator), 0, call));
        // The owner's op is included, but its call reverts inside: nothing is granted.
        send(op);
        assertEq(validator.sessionState(address(account), sessionIdOf(s)), SessionTypes.STATE_NONE, "not granted");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Multichain: one owner signature, several chains
    // ---------------------------------------------------------------------------------------------------------

    function test_MultichainGrant_OneSignatureTwoChains() public {
        (Session memory s, Action[] memory actions) = defaultSession();
        bytes32 id = sessionIdOf(s);
        uint256 chainA = vm.getChainId();
        uint256 chainB = 8453;
        bytes32 leafA = validator.grantDigest(address(account), id, 0);
        vm.chainId(chainB);
        bytes32 leafB = validator.grantDigest(address(account), id, 0);
        vm.chainId(chainA);
        assertTrue(leafA != leafB, "leaves bind the chain");
        bytes32 root = Hashes.commutativeKeccak256(leafA, leafB);
        bytes memory ownerSignature = signRoot(root);

        Grant memory grant;
        grant.ownerSignature = ownerSignature;
        grant.proof = new bytes32[](1);

        uint256 before = vm.snapshotState();
        grant.proof[0] = leafB;
        send(grantingOp(transferCall(merchant, 1e6), useOf(s, actions, 1), grant));
        assertEq(usdc.balanceOf(merchant), 1e6, "works on chain A");
        vm.revertToState(before);

        vm.chainId(chainB);
        grant.proof[0] = leafA;
        send(grantingOp(transferCall(merchant, 2e6), useOf(s, actions, 1), grant));
        assertEq(usdc.balanceOf(merchant), 2e6, "works on chain B");
        vm.revertToState(before);

        // A third chain is not in the tree: no proof makes the signature valid there.
        vm.chainId(10);
        grant.proof[0] = leafA;
        expectRejected(
            grantingOp(transferCall(merchant, 1), useOf(s, actions, 1), grant),
            abi.encodeWithSelector(SessionKeyValidator.InvalidGrantSignature.selector, id)
        );
    }

    // ---------------------------------------------------------------------------------------------------------
    // Revoke
    // ---------------------------------------------------------------------------------------------------------

    function test_RevokeOne() public {
        (Session memory s, Action[] memory actions) = defaultSession();
        bytes32 id = grantByOwner(s, actions);
        send(sessionOp(transferCall(merchant, 1), useOf(s, actions, 1)));
        revokeByOwner(id);
        assertEq(validator.sessionState(address(account), id), SessionTypes.STATE_REVOKED, "revoked");
        expectRejected(
            sessionOp(transferCall(merchant, 1), useOf(s, actions, 1)),
            abi.encodeWithSelector(SessionKeyValidator.SessionIsRevoked.selector, id)
        );
    }

    function test_RevertWhen_RevokedSessionReplaysItsGrant() public {
        (Session memory s, Action[] memory actions) = defaultSession();
        Grant memory grant = ownerGrant(address(account), s);
        send(grantingOp(transferCall(merchant, 1), useOf(s, actions, 1), grant));
        bytes32 id = sessionIdOf(s);
        revokeByOwner(id);
        expectRejected(
            grantingOp(transferCall(merchant, 1), useOf(s, actions, 1), grant),
            abi.encodeWithSelector(SessionKeyValidator.SessionIsRevoked.selector, id)
        );
    }

    function test_RevokeAll() public {
        (Session memory s1, Action[] memory actions) = defaultSession();
        Session memory s2 = newSession(sessionSigner, actions);
        s2.salt = bytes32(uint256(2));
        Grant memory grant2 = ownerGrant(address(account), s2);
        grantByOwner(s1, actions);
        revokeAllByOwner();
        assertEq(validator.epochOf(address(account)), 1, "epoch bumped");
        expectRejected(
            sessionOp(transferCall(merchant, 1), useOf(s1, actions, 1)),
            abi.encodeWithSelector(SessionKeyValidator.SessionVoidedByRevokeAll.selector, sessionIdOf(s1))
        );
        // A grant signed before "revoke all" and never used is dead too, and says so.
        expectRejected(
            grantingOp(transferCall(merchant, 1), useOf(s2, actions, 1), grant2),
            abi.encodeWithSelector(
                SessionKeyValidator.GrantVoidedByRevokeAll.selector, sessionIdOf(s2), uint32(0), uint32(1)
            )
        );
        // Restating the new epoch does not help: the owner signed the old one.
        grant2.epoch = 1;
        expectRejected(
            grantingOp(transferCall(merchant, 1), useOf(s2, actions, 1), grant2),
            abi.encodeWithSelector(SessionKeyValidator.InvalidGrantSignature.selector, sessionIdOf(s2))
        );
        // The owner can grant anew in the new epoch.
        send(grantingOp(transferCall(merchant, 1), useOf(s2, actions, 1), ownerGrant(address(account), s2)));
        assertEq(usdc.balanceOf(merchant), 1, "new grant works");
    }

    function test_UninstallRevokesEverySession() public {
        (Session memory s, Action[] memory actions) = defaultSession();
        bytes32 id = grantByOwner(s, actions);
        bytes memory uninstall = abi.encodeCall(IERC7579ModuleConfig.uninstallModule, (1, address(validator), ""));
        send(ownerOp(singleCall(address(account), 0, uninstall)));
        bytes memory install = abi.encodeCall(IERC7579ModuleConfig.installModule, (1, address(validator), ""));
        send(ownerOp(singleCall(address(account), 0, install)));
        assertEq(validator.sessionState(address(account), id), SessionTypes.STATE_NONE, "not revived by reinstall");
        expectRejected(
            sessionOp(transferCall(merchant, 1), useOf(s, actions, 1)),
            abi.encodeWithSelector(SessionKeyValidator.SessionVoidedByRevokeAll.selector, id)
        );
    }

    function test_RevokeOnlyAffectsTheCallingAccount() public {
        (Session memory s, Action[] memory actions) = defaultSession();
        bytes32 id = grantByOwner(s, actions);
        vm.prank(address(0xBAD));
        validator.revokeAllSessions();
        // An address the module is not installed on keeps no sessions, so it may not mark any revoked either.
        vm.prank(address(0xBAD));
        vm.expectRevert(abi.encodeWithSelector(SessionKeyValidator.NotInstalled.selector, address(0xBAD)));
        validator.revokeSession(id);
        assertEq(validator.sessionState(address(account), id), SessionTypes.STATE_ENABLED, "still granted");
    }

    function test_SessionsAreIsolatedPerAccount() public {
        (Session memory s, Action[] memory actions) = defaultSession();
        grantByOwner(s, actions);
        LeashAccount other = createAccount(owner, bytes32(uint256(1)));
        vm.deal(address(other), 1 ether);
        usdc.mint(address(other), 100e6);
        expectRejected(
            sessionOpOn(address(other), 0, transferCall(merchant, 1), useOf(s, actions, 1), sessionKey),
            abi.encodeWithSelector(SessionKeyValidator.SessionNotGranted.selector, sessionIdOf(s))
        );
    }

    // ---------------------------------------------------------------------------------------------------------
    // Signers
    // ---------------------------------------------------------------------------------------------------------

    function p256Session(uint8 kind) internal view returns (Session memory s, Action[] memory actions) {
        actions = one(transferAction(1000e6, lifetime()));
        s = withP256Signer(newSession(sessionSigner, actions), kind);
    }

    function p256Op(Session memory s, Action[] memory actions, bytes memory callData)
        internal
        view
        returns (PackedUserOperation memory op, bytes32 digest)
    {
        SessionUse memory use = useOf(s, actions, 1);
        op = baseOp(address(account), sessionKeyNonce(0), callData);
        digest = validator.useDigest(ENTRYPOINT.getUserOpHash(op), sessionIdOf(s), use.time, callsHash(use));
        (bytes32 r, bytes32 sig) = signP256(digest);
        use.signature = abi.encodePacked(r, sig);
        op.signature = packUse(use);
    }

    function test_P256SessionKey() public {
        (Session memory s, Action[] memory actions) = p256Session(SessionTypes.SIGNER_P256);
        grantByOwner(s, actions);
        (PackedUserOperation memory op,) = p256Op(s, actions, transferCall(merchant, 4e6));
        send(op);
        assertEq(usdc.balanceOf(merchant), 4e6, "P-256 signed op landed");
    }

    function test_RevertWhen_P256SignatureIsHighS() public {
        (Session memory s, Action[] memory actions) = p256Session(SessionTypes.SIGNER_P256);
        grantByOwner(s, actions);
        SessionUse memory use = useOf(s, actions, 1);
        PackedUserOperation memory op = baseOp(address(account), sessionKeyNonce(0), transferCall(merchant, 4e6));
        bytes32 digest = validator.useDigest(ENTRYPOINT.getUserOpHash(op), sessionIdOf(s), use.time, callsHash(use));
        (bytes32 r, bytes32 low) = signP256(digest);
        use.signature = abi.encodePacked(r, bytes32(P256_N - uint256(low)));
        op.signature = packUse(use);
        expectFailedOp(op, "AA24 signature error");
    }

    function test_WebAuthnSessionKey() public {
        (Session memory s, Action[] memory actions) = p256Session(SessionTypes.SIGNER_WEBAUTHN);
        grantByOwner(s, actions);
        SessionUse memory use = useOf(s, actions, 1);
        PackedUserOperation memory op = baseOp(address(account), sessionKeyNonce(0), transferCall(merchant, 5e6));
        bytes32 digest = validator.useDigest(ENTRYPOINT.getUserOpHash(op), sessionIdOf(s), use.time, callsHash(use));
        use.signature = webAuthnSignature(digest);
        op.signature = packUse(use);
        send(op);
        assertEq(usdc.balanceOf(merchant), 5e6, "WebAuthn signed op landed");

        // An assertion for another challenge fails.
        op = baseOp(address(account), sessionKeyNonce(0), transferCall(merchant, 5e6));
        use.signature = webAuthnSignature(keccak256("another challenge"));
        op.signature = packUse(use);
        expectFailedOp(op, "AA24 signature error");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Gas budget and paymaster
    // ---------------------------------------------------------------------------------------------------------

    function test_GasBudget() public {
        (Session memory s, Action[] memory actions) = defaultSession();
        // baseOp: (60k + 600k + 300k) gas at 2 gwei = 0.00192 ether per op; allow two.
        uint256 perOp = (60_000 + 600_000 + 300_000) * 2 gwei;
        s.gasBudget = uint128(perOp * 2);
        grantByOwner(s, actions);
        SessionUse memory use = useOf(s, actions, 1);
        send(sessionOp(transferCall(merchant, 1), use));
        send(sessionOp(transferCall(merchant, 1), use));
        expectRejected(
            sessionOp(transferCall(merchant, 1), use),
            abi.encodeWithSelector(SessionKeyValidator.GasBudgetExceeded.selector, perOp * 2, perOp, perOp * 2)
        );
        SessionRecord memory record = validator.sessionRecord(address(account), sessionIdOf(s));
        assertEq(record.gasSpent, perOp * 2, "budget spent");
    }

    function testFuzz_GasBudgetCountsEveryLimit(uint64 pvg, uint64 vgl, uint64 cgl, uint64 fee) public {
        pvg = uint64(bound(pvg, 50_000, 500_000));
        vgl = uint64(bound(vgl, 300_000, 2_000_000));
        cgl = uint64(bound(cgl, 100_000, 2_000_000));
        fee = uint64(bound(fee, 1, 10 gwei));
        (Session memory s, Action[] memory actions) = defaultSession();
        s.gasBudget = 0.01 ether;
        grantByOwner(s, actions);
        SessionUse memory use = useOf(s, actions, 1);
        PackedUserOperation memory op = baseOp(address(account), sessionKeyNonce(0), transferCall(merchant, 1));
        op.preVerificationGas = pvg;
        op.accountGasLimits = bytes32((uint256(vgl) << 128) | cgl);
        op.gasFees = bytes32((uint256(fee) << 128) | fee);
        use.signature = signUse(op, use, sessionKey);
        op.signature = packUse(use);
        uint256 cost = (uint256(pvg) + vgl + cgl) * fee;
        if (cost <= s.gasBudget) {
            send(op);
            assertEq(validator.sessionRecord(address(account), sessionIdOf(s)).gasSpent, cost, "charged");
        } else {
            expectRejected(
                op, abi.encodeWithSelector(SessionKeyValidator.GasBudgetExceeded.selector, 0, cost, s.gasBudget)
            );
        }
    }

    function test_RequiredPaymaster() public {
        DevPaymaster paymaster = new DevPaymaster(address(ENTRYPOINT));
        ENTRYPOINT.depositTo{value: 10 ether}(address(paymaster));
        (Session memory s, Action[] memory actions) = defaultSession();
        s.paymaster = address(paymaster);
        grantByOwner(s, actions);
        SessionUse memory use = useOf(s, actions, 1);

        expectRejected(
            sessionOp(transferCall(merchant, 1), use),
            abi.encodeWithSelector(SessionKeyValidator.PaymasterRequired.selector, address(paymaster), address(0))
        );

        PackedUserOperation memory op = baseOp(address(account), sessionKeyNonce(0), transferCall(merchant, 1));
        op.paymasterAndData = abi.encodePacked(address(paymaster), uint128(100_000), uint128(50_000));
        use.signature = signUse(op, use, sessionKey);
        op.signature = packUse(use);
        uint256 accountBalance = address(account).balance;
        send(op);
        assertEq(usdc.balanceOf(merchant), 1, "sponsored op landed");
        assertEq(address(account).balance, accountBalance, "the account paid no gas");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Sudo
    // ---------------------------------------------------------------------------------------------------------

    /// @dev A granted sudo session (no actions) and a use of it.
    function grantedSudo() internal returns (SessionUse memory use) {
        (Session memory s,) = defaultSession();
        Action[] memory none = new Action[](0);
        s.flags |= SessionTypes.SESSION_SUDO;
        s.actionsRoot = actionsRoot(none);
        grantByOwner(s, none);
        use = useOf(s, none, 0);
    }

    function test_SudoMayCallAnything() public {
        SessionUse memory use = grantedSudo();
        send(sessionOp(transferCall(merchant, 500_000e6), use));
        send(sessionOp(singleCall(merchant, 5 ether, ""), use));
        assertEq(usdc.balanceOf(merchant), 500_000e6, "any amount");
        assertEq(merchant.balance, 5 ether, "any value");
    }

    function test_RevertWhen_SudoCallsTheAccount() public {
        SessionUse memory use = grantedSudo();
        bytes memory uninstall = abi.encodeCall(IERC7579ModuleConfig.uninstallModule, (1, address(validator), ""));
        expectRejected(
            sessionOp(singleCall(address(account), 0, uninstall), use),
            abi.encodeWithSelector(CallPolicyLib.ForbiddenTarget.selector, 0, address(account))
        );
    }

    // ---------------------------------------------------------------------------------------------------------
    // Nonce lanes
    // ---------------------------------------------------------------------------------------------------------

    function test_IndependentLanes() public {
        (Session memory s, Action[] memory actions) = defaultSession();
        grantByOwner(s, actions);
        SessionUse memory use = useOf(s, actions, 1);
        PackedUserOperation[] memory ops = new PackedUserOperation[](3);
        for (uint32 lane = 0; lane < 3; ++lane) {
            ops[lane] = sessionOpOn(address(account), lane + 1, transferCall(merchant, 1), use, sessionKey);
        }
        // Sent out of order: lanes never wait on each other.
        PackedUserOperation[] memory reversed = new PackedUserOperation[](3);
        for (uint256 i = 0; i < 3; ++i) {
            reversed[i] = ops[2 - i];
        }
        ENTRYPOINT.handleOps(reversed, beneficiary);
        assertEq(usdc.balanceOf(merchant), 3, "three lanes landed in one bundle");
    }
}
