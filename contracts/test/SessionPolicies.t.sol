// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {IERC7579Execution, IERC7579ModuleConfig} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {SessionKeyValidator} from "../src/SessionKeyValidator.sol";
import {CallPolicyLib} from "../src/libraries/CallPolicyLib.sol";
import {PeriodLib} from "../src/libraries/PeriodLib.sol";
import {Action, ArgRule, Grant, Period, Session, SessionTypes, SessionUse} from "../src/SessionTypes.sol";
import {SessionEncoder} from "../src/SessionEncoder.sol";
import {LeashTest} from "./utils/LeashTest.sol";

/// @notice Every policy, allowed and rejected, through `EntryPoint.handleOps`.
contract SessionPoliciesTest is LeashTest {
    Action internal transfer100;
    Session internal session;

    function setUp() public override {
        super.setUp();
    }

    /// @dev Grants a session holding `actions` and returns a use of the first action.
    function granted(Action[] memory actions) internal returns (Session memory s, SessionUse memory use) {
        s = newSession(sessionSigner, actions);
        grantByOwner(s, actions);
        use = useOf(s, actions, 1);
    }

    function grantedOne(Action memory action) internal returns (SessionUse memory use) {
        (, use) = granted(one(action));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Time window
    // ---------------------------------------------------------------------------------------------------------

    function test_TimeWindow_AllowsInside() public {
        SessionUse memory use = grantedOne(transferAction(1000e6, lifetime()));
        send(sessionOp(transferCall(merchant, 10e6), use));
        assertEq(usdc.balanceOf(merchant), 10e6, "transfer landed");
    }

    function test_RevertWhen_BeforeValidAfter() public {
        Action[] memory actions = one(transferAction(1000e6, lifetime()));
        Session memory s = newSession(sessionSigner, actions);
        s.validAfter = START + 1 days;
        grantByOwner(s, actions);
        expectFailedOp(sessionOp(transferCall(merchant, 1), useOf(s, actions, 1)), "AA22 expired or not due");
    }

    function test_RevertWhen_AfterValidUntil() public {
        SessionUse memory use = grantedOne(transferAction(1000e6, lifetime()));
        vm.warp(START + 366 days);
        use.time = uint48(vm.getBlockTimestamp());
        expectFailedOp(sessionOp(transferCall(merchant, 1), use), "AA22 expired or not due");
    }

    function testFuzz_TimeWindow_ReturnedAsValidationData(uint48 validAfter, uint48 length, uint48 at) public {
        validAfter = uint48(bound(validAfter, START, START + 1000 days));
        length = uint48(bound(length, 1, 1000 days));
        at = uint48(bound(at, START, START + 3000 days));
        Action[] memory actions = one(transferAction(1000e6, lifetime()));
        Session memory s = newSession(sessionSigner, actions);
        s.validAfter = validAfter;
        s.validUntil = validAfter + length;
        grantByOwner(s, actions);
        vm.warp(at);
        PackedUserOperation memory op = sessionOp(transferCall(merchant, 1), useOf(s, actions, 1));
        if (at < s.validAfter || at > s.validUntil) {
            expectFailedOp(op, "AA22 expired or not due");
        } else {
            send(op);
            assertEq(usdc.balanceOf(merchant), 1, "inside the window it lands");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Action scope
    // ---------------------------------------------------------------------------------------------------------

    function test_RevertWhen_TargetNotAllowed() public {
        SessionUse memory use = grantedOne(transferAction(1000e6, lifetime()));
        bytes memory call = singleCall(address(target), 0, abi.encodeCall(usdc.transfer, (merchant, 1)));
        expectRejected(
            sessionOp(call, use),
            abi.encodeWithSelector(CallPolicyLib.TargetNotAllowed.selector, 0, address(target), address(usdc))
        );
    }

    function test_RevertWhen_SelectorNotAllowed() public {
        SessionUse memory use = grantedOne(transferAction(1000e6, lifetime()));
        bytes memory call = singleCall(address(usdc), 0, abi.encodeCall(usdc.approve, (merchant, 1)));
        expectRejected(
            sessionOp(call, use),
            abi.encodeWithSelector(
                CallPolicyLib.SelectorNotAllowed.selector, 0, usdc.approve.selector, usdc.transfer.selector
            )
        );
    }

    function test_RevertWhen_NativeTransferNotAllowed() public {
        SessionUse memory use = grantedOne(transferAction(1000e6, lifetime()));
        bytes memory call = singleCall(address(usdc), 0, "");
        expectRejected(sessionOp(call, use), abi.encodeWithSelector(CallPolicyLib.NativeTransferNotAllowed.selector, 0));
    }

    function test_RevertWhen_TruncatedSelector() public {
        SessionUse memory use = grantedOne(transferAction(1000e6, lifetime()));
        bytes memory call = singleCall(address(usdc), 0, hex"a9059c");
        expectRejected(sessionOp(call, use), abi.encodeWithSelector(CallPolicyLib.NativeTransferNotAllowed.selector, 0));
    }

    function test_NativeTransferAction() public {
        Action memory a;
        a.target = merchant;
        a.flags = SessionTypes.ACTION_NATIVE_TRANSFER;
        a.maxValuePerCall = 1 ether;
        SessionUse memory use = grantedOne(a);
        send(sessionOp(singleCall(merchant, 1 ether, ""), use));
        assertEq(merchant.balance, 1 ether, "ether sent");
        expectRejected(
            sessionOp(singleCall(merchant, 1 ether + 1, ""), use),
            abi.encodeWithSelector(CallPolicyLib.ValuePerCallExceeded.selector, 0, 1 ether + 1, 1 ether)
        );
    }

    function test_RevertWhen_ValueOnNonPayableAction() public {
        SessionUse memory use = grantedOne(transferAction(1000e6, lifetime()));
        bytes memory call = singleCall(address(usdc), 1, abi.encodeCall(usdc.transfer, (merchant, 1)));
        expectRejected(
            sessionOp(call, use), abi.encodeWithSelector(CallPolicyLib.ValuePerCallExceeded.selector, 0, 1, 0)
        );
    }

    function test_AnyTargetAnySelector() public {
        SessionUse memory use = grantedOne(anyCall());
        send(sessionOp(singleCall(address(target), 0, abi.encodeCall(target.ping, (1, 2, merchant))), use));
        send(sessionOp(transferCall(merchant, 5), use));
        assertEq(target.calls(), 1, "target called");
        assertEq(usdc.balanceOf(merchant), 5, "token called");
    }

    function test_RevertWhen_AnyTargetCallsTheAccount() public {
        SessionUse memory use = grantedOne(anyCall());
        bytes memory install = abi.encodeCall(IERC7579ModuleConfig.installModule, (1, address(0x1234), ""));
        expectRejected(
            sessionOp(singleCall(address(account), 0, install), use),
            abi.encodeWithSelector(CallPolicyLib.ForbiddenTarget.selector, 0, address(account))
        );
    }

    function test_RevertWhen_AnyTargetCallsTheModule() public {
        SessionUse memory use = grantedOne(anyCall());
        bytes memory revokeAll = abi.encodeCall(SessionKeyValidator.revokeAllSessions, ());
        expectRejected(
            sessionOp(singleCall(address(validator), 0, revokeAll), use),
            abi.encodeWithSelector(CallPolicyLib.ForbiddenTarget.selector, 0, address(validator))
        );
    }

    function test_RevertWhen_ExplicitActionOnTheAccount() public {
        Action memory a;
        a.target = address(account);
        a.selector = IERC7579ModuleConfig.uninstallModule.selector;
        SessionUse memory use = grantedOne(a);
        bytes memory uninstall = abi.encodeCall(IERC7579ModuleConfig.uninstallModule, (1, address(validator), ""));
        expectRejected(
            sessionOp(singleCall(address(account), 0, uninstall), use),
            abi.encodeWithSelector(CallPolicyLib.ForbiddenTarget.selector, 0, address(account))
        );
    }

    function test_RevertWhen_DelegateCall() public {
        SessionUse memory use = grantedOne(transferAction(1000e6, lifetime()));
        bytes memory call = abi.encodeCall(
            IERC7579Execution.execute,
            (bytes32(bytes1(0xff)), abi.encodePacked(address(target), abi.encodeCall(target.ping, (1, 2, merchant))))
        );
        expectRejected(sessionOp(call, use), abi.encodeWithSelector(CallPolicyLib.DelegateCallForbidden.selector));
    }

    function test_RevertWhen_UnknownExecutionMode() public {
        SessionUse memory use = grantedOne(transferAction(1000e6, lifetime()));
        bytes32[3] memory modes = [bytes32(bytes1(0x02)), bytes32(bytes2(0x0002)), bytes32(uint256(1) << 200)];
        for (uint256 i = 0; i < modes.length; ++i) {
            bytes memory call = abi.encodeCall(
                IERC7579Execution.execute,
                (modes[i], abi.encodePacked(address(usdc), uint256(0), abi.encodeCall(usdc.transfer, (merchant, 1))))
            );
            expectRejected(
                sessionOp(call, use), abi.encodeWithSelector(CallPolicyLib.UnsupportedExecutionMode.selector, modes[i])
            );
        }
    }

    function test_RevertWhen_CallDataIsNotExecute() public {
        SessionUse memory use = grantedOne(transferAction(1000e6, lifetime()));
        bytes memory call = abi.encodeCall(IERC7579ModuleConfig.installModule, (1, address(0x1234), ""));
        expectRejected(
            sessionOp(call, use),
            abi.encodeWithSelector(
                CallPolicyLib.UnsupportedCallData.selector, IERC7579ModuleConfig.installModule.selector
            )
        );
    }

    function test_RevertWhen_NonCanonicalExecuteOffset() public {
        SessionUse memory use = grantedOne(transferAction(1000e6, lifetime()));
        bytes memory exec = abi.encodePacked(address(usdc), uint256(0), abi.encodeCall(usdc.transfer, (merchant, 1)));
        // Head offset 0x60 instead of 0x40, with a decoy word in between.
        bytes memory call = abi.encodePacked(
            IERC7579Execution.execute.selector, bytes32(0), uint256(0x60), uint256(0), uint256(exec.length), exec
        );
        expectRejected(sessionOp(call, use), abi.encodeWithSelector(CallPolicyLib.MalformedExecution.selector));
    }

    function test_RevertWhen_ExecutionLengthPastEnd() public {
        SessionUse memory use = grantedOne(transferAction(1000e6, lifetime()));
        bytes memory call =
            abi.encodePacked(IERC7579Execution.execute.selector, bytes32(0), uint256(0x40), uint256(500), bytes20(0));
        expectRejected(sessionOp(call, use), abi.encodeWithSelector(CallPolicyLib.MalformedExecution.selector));
    }

    function test_RevertWhen_ShortCallData() public {
        SessionUse memory use = grantedOne(transferAction(1000e6, lifetime()));
        expectRejected(
            sessionOp(hex"e9ae", use), abi.encodeWithSelector(CallPolicyLib.UnsupportedCallData.selector, bytes4(0))
        );
        bytes memory shortSingle =
            abi.encodeCall(IERC7579Execution.execute, (bytes32(0), abi.encodePacked(address(usdc), uint8(1))));
        expectRejected(sessionOp(shortSingle, use), abi.encodeWithSelector(CallPolicyLib.MalformedExecution.selector));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Batches
    // ---------------------------------------------------------------------------------------------------------

    function test_BatchOfAllowedCalls() public {
        SessionUse memory use = grantedOne(transferAction(1000e6, lifetime()));
        Execution[] memory calls = new Execution[](3);
        for (uint256 i = 0; i < 3; ++i) {
            calls[i] = Execution(address(usdc), 0, abi.encodeCall(usdc.transfer, (merchant, 100e6)));
        }
        use.callActions = new bytes(3);
        send(sessionOp(batchCall(calls), use));
        assertEq(usdc.balanceOf(merchant), 300e6, "three transfers");
    }

    function test_RevertWhen_BatchSmugglesAForbiddenCall() public {
        SessionUse memory use = grantedOne(transferAction(1000e6, lifetime()));
        Execution[] memory calls = new Execution[](2);
        calls[0] = Execution(address(usdc), 0, abi.encodeCall(usdc.transfer, (merchant, 1)));
        calls[1] = Execution(address(usdc), 0, abi.encodeCall(usdc.approve, (merchant, type(uint256).max)));
        use.callActions = new bytes(2);
        expectRejected(
            sessionOp(batchCall(calls), use),
            abi.encodeWithSelector(
                CallPolicyLib.SelectorNotAllowed.selector, 1, usdc.approve.selector, usdc.transfer.selector
            )
        );
    }

    function test_RevertWhen_BatchSpendsPastTheCapTogether() public {
        SessionUse memory use = grantedOne(transferAction(250e6, lifetime()));
        Execution[] memory calls = new Execution[](3);
        for (uint256 i = 0; i < 3; ++i) {
            calls[i] = Execution(address(usdc), 0, abi.encodeCall(usdc.transfer, (merchant, 100e6)));
        }
        use.callActions = new bytes(3);
        expectRejected(
            sessionOp(batchCall(calls), use),
            abi.encodeWithSelector(SessionKeyValidator.AmountLimitExceeded.selector, 2, 300e6, 250e6)
        );
    }

    function test_RevertWhen_BatchTooLarge() public {
        SessionUse memory use = grantedOne(transferAction(1000e6, lifetime()));
        Execution[] memory calls = new Execution[](33);
        for (uint256 i = 0; i < calls.length; ++i) {
            calls[i] = Execution(address(usdc), 0, abi.encodeCall(usdc.transfer, (merchant, 1)));
        }
        use.callActions = new bytes(33);
        expectRejected(
            sessionOp(batchCall(calls), use), abi.encodeWithSelector(CallPolicyLib.BatchTooLarge.selector, 33, 32)
        );
    }

    function test_RevertWhen_CallHasNoAction() public {
        SessionUse memory use = grantedOne(transferAction(1000e6, lifetime()));
        Execution[] memory calls = new Execution[](2);
        calls[0] = Execution(address(usdc), 0, abi.encodeCall(usdc.transfer, (merchant, 1)));
        calls[1] = calls[0];
        expectRejected(
            sessionOp(batchCall(calls), use), abi.encodeWithSelector(SessionKeyValidator.MissingCallAction.selector, 1)
        );
    }

    function test_RevertWhen_BatchElementPointsOutsideExecutionData() public {
        SessionUse memory use = grantedOne(transferAction(1000e6, lifetime()));
        // One element whose offset points far past the execution data.
        bytes memory exec = abi.encodePacked(uint256(0x20), uint256(1), uint256(0x10000));
        bytes memory call = abi.encodeCall(IERC7579Execution.execute, (bytes32(bytes1(0x01)), exec));
        expectRejected(sessionOp(call, use), abi.encodeWithSelector(CallPolicyLib.MalformedExecution.selector));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Actions not in the session
    // ---------------------------------------------------------------------------------------------------------

    function test_RevertWhen_ActionWasNotGranted() public {
        SessionUse memory use = grantedOne(transferAction(100e6, lifetime()));
        // The session key edits its own action to a bigger cap: the hash no longer matches a granted action.
        use.actions[0].amountCap = 1_000_000e6;
        bytes32 forged = actionHashOf(use.actions[0]);
        expectRejected(
            sessionOp(transferCall(merchant, 500e6), use),
            abi.encodeWithSelector(SessionKeyValidator.ActionNotGranted.selector, 0, forged)
        );
    }

    function test_RevertWhen_SessionNotGranted() public {
        Action[] memory actions = one(transferAction(100e6, lifetime()));
        Session memory s = newSession(sessionSigner, actions);
        expectRejected(
            sessionOp(transferCall(merchant, 1), useOf(s, actions, 1)),
            abi.encodeWithSelector(SessionKeyValidator.SessionNotGranted.selector, sessionIdOf(s))
        );
    }

    function test_RevertWhen_SessionEditsItsOwnEnvelope() public {
        (Session memory s, SessionUse memory use) = granted(one(transferAction(100e6, lifetime())));
        use.session.validUntil = s.validUntil + 365 days;
        expectRejected(
            sessionOp(transferCall(merchant, 1), use),
            abi.encodeWithSelector(SessionKeyValidator.SessionNotGranted.selector, sessionIdOf(use.session))
        );
    }

    function test_RevertWhen_SignedByAnotherKey() public {
        SessionUse memory use = grantedOne(transferAction(100e6, lifetime()));
        PackedUserOperation memory op = sessionOpOn(address(account), 0, transferCall(merchant, 1), use, 0xBAD);
        expectFailedOp(op, "AA24 signature error");
    }

    function test_RevertWhen_SignatureBodyIsGarbage() public {
        grantedOne(transferAction(100e6, lifetime()));
        PackedUserOperation memory op = baseOp(address(account), sessionKeyNonce(0), transferCall(merchant, 1));
        // A session length past the end of the signature.
        op.signature = hex"0100ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
        expectRejected(op, abi.encodeWithSelector(CallPolicyLib.MalformedSignature.selector));
        op.signature = "";
        expectRejected(op, abi.encodeWithSelector(CallPolicyLib.MalformedSignature.selector));
        op.signature = hex"01";
        expectRejected(op, abi.encodeWithSelector(CallPolicyLib.MalformedSignature.selector));
    }

    /// @dev Every length in the packed signature is checked against its end: a use whose last byte is cut off,
    /// or that carries one byte too many, is refused whatever the byte.
    function test_RevertWhen_SignatureIsTruncatedOrHasTrailingBytes() public {
        SessionUse memory use = grantedOne(transferAction(100e6, lifetime()));
        PackedUserOperation memory op = sessionOp(transferCall(merchant, 1), use);
        bytes memory full = op.signature;
        op.signature = abi.encodePacked(full, bytes1(0));
        expectRejected(op, abi.encodeWithSelector(CallPolicyLib.MalformedSignature.selector));
        bytes memory cut = new bytes(full.length - 1);
        for (uint256 i = 0; i < cut.length; ++i) {
            cut[i] = full[i];
        }
        op.signature = cut;
        expectRejected(op, abi.encodeWithSelector(CallPolicyLib.MalformedSignature.selector));
        op.signature = full;
        send(op);
    }

    /// @dev Any byte of a valid packed signature changed: the operation is refused, or (a proof byte of an
    /// action whose record already exists, which is not read again) it does exactly what was signed, no more.
    function testFuzz_ChangedSignatureByteNeverChargesMore(uint256 where, uint8 delta) public {
        SessionUse memory use = grantedOne(transferAction(100e6, lifetime()));
        send(sessionOp(transferCall(merchant, 1e6), use));
        bytes32 id = sessionIdOf(use.session);
        bytes32 actionHash = actionHashOf(use.actions[0]);
        PackedUserOperation memory op = sessionOp(transferCall(merchant, 2e6), use);
        where = bound(where, 0, op.signature.length - 1);
        op.signature[where] = bytes1(uint8(op.signature[where]) ^ uint8(bound(delta, 1, 255)));
        uint256 before = usdc.balanceOf(merchant);
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = op;
        (bool landed,) = address(ENTRYPOINT).call(abi.encodeCall(ENTRYPOINT.handleOps, (ops, beneficiary)));
        uint256 spent = validator.actionRecord(address(account), id, actionHash).amountSpent;
        if (landed) {
            assertEq(usdc.balanceOf(merchant), before + 2e6, "only what was signed");
            assertEq(spent, 3e6, "charged once");
        } else {
            assertEq(usdc.balanceOf(merchant), before, "nothing moved");
            assertEq(spent, 1e6, "nothing charged");
        }
    }

    /// @dev The same action carried twice, each call charged to its own copy: both copies would load the same
    /// record and the last write would undo the first charge (two 10 USDC transfers under a 10 USDC cap).
    function test_RevertWhen_OneActionIsCarriedTwice() public {
        Action memory a = transferAction(10e6, lifetime());
        a.maxUses = 1;
        SessionUse memory use = grantedOne(a);
        use.actions = new Action[](2);
        use.actions[0] = a;
        use.actions[1] = a;
        use.proofs = new bytes32[][](2);
        use.callActions = hex"0001";
        Execution[] memory calls = new Execution[](2);
        calls[0] = Execution(address(usdc), 0, abi.encodeCall(usdc.transfer, (merchant, 10e6)));
        calls[1] = calls[0];
        expectRejected(
            sessionOp(batchCall(calls), use), abi.encodeWithSelector(CallPolicyLib.MalformedSignature.selector)
        );
        assertEq(usdc.balanceOf(merchant), 0, "nothing paid");
    }

    /// @dev Nothing the calls do not use may ride along in a validly signed operation: an extra carried action
    /// (with any proof), an index for a call that does not exist, or, under sudo, any action at all. Each would
    /// be a second encoding of the same operation.
    function test_RevertWhen_UnusedPartsRideAlong() public {
        Action memory a = transferAction(100e6, lifetime());
        SessionUse memory use = grantedOne(a);
        PackedUserOperation memory op = sessionOp(transferCall(merchant, 1), use);
        Grant memory none;

        bytes memory canonical = op.signature;
        SessionUse memory extra = carried(withProofs(use));
        Action[] memory two = new Action[](2);
        two[0] = a;
        two[1] = anyCall();
        bytes32[][] memory proofs = new bytes32[][](2);
        proofs[0] = extra.proofs[0];
        proofs[1] = new bytes32[](2);
        (extra.actions, extra.proofs) = (two, proofs);
        op.signature = SessionEncoder.encode(extra, SessionTypes.MODE_USE, none);
        expectRejected(op, abi.encodeWithSelector(CallPolicyLib.MalformedSignature.selector));

        extra = carried(withProofs(use));
        extra.callActions = hex"0000";
        op.signature = SessionEncoder.encode(extra, SessionTypes.MODE_USE, none);
        expectRejected(op, abi.encodeWithSelector(CallPolicyLib.MalformedSignature.selector));

        op.signature = canonical;
        send(op);
        assertEq(usdc.balanceOf(merchant), 1, "the canonical encoding lands");
    }

    function test_RevertWhen_SudoUseCarriesAnAction() public {
        (Session memory s,) = granted(one(transferAction(100e6, lifetime())));
        s.flags |= SessionTypes.SESSION_SUDO;
        s.salt = bytes32(uint256(7));
        grantByOwner(s, one(transferAction(100e6, lifetime())));
        SessionUse memory use = useOf(s, one(transferAction(100e6, lifetime())), 1);
        PackedUserOperation memory op = sessionOp(transferCall(merchant, 1), use);
        Grant memory none;
        op.signature = SessionEncoder.encode(withProofs(use), SessionTypes.MODE_USE, none);
        expectRejected(op, abi.encodeWithSelector(CallPolicyLib.MalformedSignature.selector));
        use.actions = new Action[](0);
        use.proofs = new bytes32[][](0);
        use.callActions = "";
        send(sessionOp(transferCall(merchant, 1), use));
        assertEq(usdc.balanceOf(merchant), 1, "sudo without carried actions lands");
    }

    function test_RevertWhen_UnknownMode() public {
        SessionUse memory use = grantedOne(transferAction(100e6, lifetime()));
        PackedUserOperation memory op = sessionOp(transferCall(merchant, 1), use);
        op.signature[1] = 0x07;
        expectRejected(op, abi.encodeWithSelector(SessionKeyValidator.UnknownSignatureMode.selector, 7));
    }

    function test_RevertWhen_UnknownFormatVersion() public {
        SessionUse memory use = grantedOne(transferAction(100e6, lifetime()));
        PackedUserOperation memory op = sessionOp(transferCall(merchant, 1), use);
        op.signature[0] = 0x02;
        expectRejected(op, abi.encodeWithSelector(SessionKeyValidator.UnsupportedFormat.selector, 2));
    }

    function testFuzz_GarbageSignatureNeverValidates(bytes memory garbage) public {
        grantedOne(transferAction(100e6, lifetime()));
        PackedUserOperation memory op = baseOp(address(account), sessionKeyNonce(0), transferCall(merchant, 1));
        op.signature = garbage;
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = op;
        vm.expectRevert();
        ENTRYPOINT.handleOps(ops, beneficiary);
        assertEq(usdc.balanceOf(merchant), 0, "nothing moved");
    }
}
