// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {SessionKeyValidator} from "../src/SessionKeyValidator.sol";
import {CallPolicyLib} from "../src/libraries/CallPolicyLib.sol";
import {PeriodLib} from "../src/libraries/PeriodLib.sol";
import {Action, ActionRecord, ArgRule, Period, Session, SessionTypes, SessionUse} from "../src/SessionTypes.sol";
import {SessionEncoder} from "../src/SessionEncoder.sol";
import {LeashTest} from "./utils/LeashTest.sol";

/// @notice Argument rules, cumulative limits, use counts, periods and windows through `handleOps`.
contract SessionLimitsTest is LeashTest {
    function grantedOne(Action memory action) internal returns (SessionUse memory use) {
        Action[] memory actions = one(action);
        Session memory s = newSession(sessionSigner, actions);
        grantByOwner(s, actions);
        use = useOf(s, actions, 1);
    }

    function pingCall(uint256 a, uint256 b, address c) internal view returns (bytes memory) {
        return singleCall(address(target), 0, abi.encodeCall(target.ping, (a, b, c)));
    }

    function pingAction(ArgRule[] memory rules) internal view returns (Action memory a) {
        a.target = address(target);
        a.selector = target.ping.selector;
        a.rules = rules;
    }

    function oneRule(ArgRule memory r) internal pure returns (ArgRule[] memory rules) {
        rules = new ArgRule[](1);
        rules[0] = r;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Argument rules
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Each comparison operator, fuzzed on both sides of its bound, against what it must mean.
    function testFuzz_ComparisonRules(uint8 op, uint256 bound_, uint256 x) public {
        op = uint8(bound(op, SessionTypes.OP_EQ, SessionTypes.OP_LTE));
        if (x % 3 == 0) x = bound_;
        SessionUse memory use = grantedOne(pingAction(oneRule(rule(op, 0, bytes32(bound_)))));
        bool expected = op == SessionTypes.OP_EQ
            ? x == bound_
            : op == SessionTypes.OP_NEQ
                ? x != bound_
                : op == SessionTypes.OP_GT
                    ? x > bound_
                    : op == SessionTypes.OP_GTE ? x >= bound_ : op == SessionTypes.OP_LT ? x < bound_ : x <= bound_;
        PackedUserOperation memory op_ = sessionOp(pingCall(x, 0, merchant), use);
        if (expected) {
            send(op_);
            assertEq(target.calls(), 1, "allowed call landed");
        } else {
            expectRejected(op_, abi.encodeWithSelector(CallPolicyLib.ArgumentRuleFailed.selector, 0, 0, op, bytes32(x)));
        }
    }

    function testFuzz_InRange(uint256 lo, uint256 hi, uint256 x) public {
        if (lo > hi) (lo, hi) = (hi, lo);
        if (x % 4 == 0) x = lo;
        if (x % 4 == 1) x = hi;
        ArgRule memory r;
        r.op = SessionTypes.OP_IN_RANGE;
        r.offset = 32;
        r.values = new bytes32[](2);
        r.values[0] = bytes32(lo);
        r.values[1] = bytes32(hi);
        SessionUse memory use = grantedOne(pingAction(oneRule(r)));
        PackedUserOperation memory op = sessionOp(pingCall(0, x, merchant), use);
        if (x >= lo && x <= hi) {
            send(op);
            assertEq(target.calls(), 1, "in range lands");
        } else {
            expectRejected(
                op,
                abi.encodeWithSelector(
                    CallPolicyLib.ArgumentRuleFailed.selector, 0, 0, SessionTypes.OP_IN_RANGE, bytes32(x)
                )
            );
        }
    }

    function test_OneOf_RecipientAllowlist() public {
        ArgRule memory r;
        r.op = SessionTypes.OP_ONE_OF;
        r.offset = 0;
        r.values = new bytes32[](3);
        r.values[0] = bytes32(uint256(uint160(address(0xA1))));
        r.values[1] = bytes32(uint256(uint160(address(0xA2))));
        r.values[2] = bytes32(uint256(uint160(merchant)));
        Action memory a = transferAction(1000e6, lifetime());
        a.rules = oneRule(r);
        SessionUse memory use = grantedOne(a);
        send(sessionOp(transferCall(merchant, 5), use));
        send(sessionOp(transferCall(address(0xA2), 5), use));
        assertEq(usdc.balanceOf(merchant) + usdc.balanceOf(address(0xA2)), 10, "both listed recipients paid");
        expectRejected(
            sessionOp(transferCall(address(0xE7E), 5), use),
            abi.encodeWithSelector(
                CallPolicyLib.ArgumentRuleFailed.selector,
                0,
                0,
                SessionTypes.OP_ONE_OF,
                bytes32(uint256(uint160(address(0xE7E))))
            )
        );
    }

    /// @dev An address rule compares the whole word: dirty upper bits cannot pass for the allowed address.
    function test_RevertWhen_AddressWordHasDirtyUpperBits() public {
        Action memory a = transferAction(1000e6, lifetime());
        a.rules = oneRule(rule(SessionTypes.OP_EQ, 0, bytes32(uint256(uint160(merchant)))));
        SessionUse memory use = grantedOne(a);
        bytes32 dirty = bytes32(uint256(uint160(merchant)) | (uint256(1) << 200));
        bytes memory data = abi.encodePacked(usdc.transfer.selector, dirty, uint256(5));
        expectRejected(
            sessionOp(singleCall(address(usdc), 0, data), use),
            abi.encodeWithSelector(CallPolicyLib.ArgumentRuleFailed.selector, 0, 0, SessionTypes.OP_EQ, dirty)
        );
    }

    function test_SixteenRulesOnOneAction() public {
        ArgRule[] memory rules = new ArgRule[](16);
        uint256[16] memory words;
        for (uint256 i = 0; i < 16; ++i) {
            words[i] = 100 + i;
            rules[i] = rule(SessionTypes.OP_EQ, uint16(32 * i), bytes32(words[i]));
        }
        Action memory a;
        a.target = address(target);
        a.selector = target.wide.selector;
        a.rules = rules;
        SessionUse memory use = grantedOne(a);
        send(sessionOp(singleCall(address(target), 0, abi.encodeCall(target.wide, (words))), use));
        assertEq(target.calls(), 1, "all sixteen rules passed");

        words[15] = 7;
        expectRejected(
            sessionOp(singleCall(address(target), 0, abi.encodeCall(target.wide, (words))), use),
            abi.encodeWithSelector(
                CallPolicyLib.ArgumentRuleFailed.selector, 0, 15, SessionTypes.OP_EQ, bytes32(words[15])
            )
        );
    }

    function test_RevertWhen_TooManyRules() public {
        ArgRule[] memory rules = new ArgRule[](33);
        for (uint256 i = 0; i < 33; ++i) {
            rules[i] = rule(SessionTypes.OP_GTE, 0, bytes32(0));
        }
        SessionUse memory use = grantedOne(pingAction(rules));
        expectRejected(
            sessionOp(pingCall(1, 2, merchant), use),
            abi.encodeWithSelector(CallPolicyLib.TooManyRules.selector, 33, 32)
        );
    }

    function testFuzz_RevertWhen_RuleOffsetPastTheArguments(uint16 offset) public {
        offset = uint16(bound(offset, 65, type(uint16).max));
        SessionUse memory use = grantedOne(pingAction(oneRule(rule(SessionTypes.OP_GTE, offset, bytes32(0)))));
        expectRejected(
            sessionOp(pingCall(1, 2, merchant), use),
            abi.encodeWithSelector(CallPolicyLib.ArgumentOutOfBounds.selector, 0, offset, 96)
        );
    }

    function test_RevertWhen_CallDataShorterThanRule() public {
        SessionUse memory use = grantedOne(pingAction(oneRule(rule(SessionTypes.OP_EQ, 32, bytes32(uint256(2))))));
        // The call stops after the first argument: the rule on the second must not read zero padding.
        bytes memory data = abi.encodePacked(target.ping.selector, uint256(1));
        expectRejected(
            sessionOp(singleCall(address(target), 0, data), use),
            abi.encodeWithSelector(CallPolicyLib.ArgumentOutOfBounds.selector, 0, 32, 32)
        );
    }

    function test_RevertWhen_RuleIsMalformed() public {
        ArgRule memory unknownOp = rule(9, 0, bytes32(0));
        SessionUse memory use = grantedOne(pingAction(oneRule(unknownOp)));
        expectRejected(
            sessionOp(pingCall(1, 2, merchant), use), abi.encodeWithSelector(CallPolicyLib.InvalidRule.selector, 0, 0)
        );
        ArgRule memory emptyOneOf;
        emptyOneOf.op = SessionTypes.OP_ONE_OF;
        use = grantedOne(pingAction(oneRule(emptyOneOf)));
        expectRejected(
            sessionOp(pingCall(1, 2, merchant), use), abi.encodeWithSelector(CallPolicyLib.InvalidRule.selector, 0, 0)
        );
    }

    // ---------------------------------------------------------------------------------------------------------
    // Cumulative limits
    // ---------------------------------------------------------------------------------------------------------

    function testFuzz_LifetimeAmountCap(uint96 cap, uint96 first, uint96 second) public {
        cap = uint96(bound(cap, 1, 1_000_000e6));
        first = uint96(bound(first, 0, cap));
        second = uint96(bound(second, 0, 1_000_000e6));
        SessionUse memory use = grantedOne(transferAction(cap, lifetime()));
        send(sessionOp(transferCall(merchant, first), use));
        PackedUserOperation memory op = sessionOp(transferCall(merchant, second), use);
        if (uint256(first) + second <= cap) {
            send(op);
            assertEq(usdc.balanceOf(merchant), uint256(first) + second, "both within the cap");
        } else {
            expectRejected(
                op,
                abi.encodeWithSelector(
                    SessionKeyValidator.AmountLimitExceeded.selector, 0, uint256(first) + second, cap
                )
            );
        }
    }

    function test_RevertWhen_AmountOverflowsTheCounter() public {
        SessionUse memory use = grantedOne(transferAction(100e6, lifetime()));
        expectRejected(
            sessionOp(transferCall(merchant, type(uint256).max), use),
            abi.encodeWithSelector(SessionKeyValidator.AmountLimitExceeded.selector, 0, type(uint256).max, 100e6)
        );
    }

    function testFuzz_DailyCapResetsEachDay(uint96 spend, uint8 days_) public {
        spend = uint96(bound(spend, 1, 10e6));
        days_ = uint8(bound(days_, 1, 30));
        SessionUse memory use = grantedOne(transferAction(10e6, everySeconds(1 days)));
        for (uint256 d = 0; d < days_; ++d) {
            vm.warp(START + d * 1 days + 3600);
            use.time = uint48(vm.getBlockTimestamp());
            send(sessionOp(transferCall(merchant, spend), use));
            uint256 over = 10e6 - spend + 1;
            expectRejected(
                sessionOp(transferCall(merchant, over), use),
                abi.encodeWithSelector(SessionKeyValidator.AmountLimitExceeded.selector, 0, spend + over, 10e6)
            );
        }
        assertEq(usdc.balanceOf(merchant), uint256(spend) * days_, "one spend per day");
    }

    function test_NativeValueCapPerPeriod() public {
        Action memory a;
        a.target = merchant;
        a.flags = SessionTypes.ACTION_NATIVE_TRANSFER | SessionTypes.ACTION_VALUE_CAP;
        a.maxValuePerCall = 1 ether;
        a.valueCap = 1.5 ether;
        a.period = everySeconds(1 days);
        SessionUse memory use = grantedOne(a);
        send(sessionOp(singleCall(merchant, 1 ether, ""), use));
        expectRejected(
            sessionOp(singleCall(merchant, 0.6 ether, ""), use),
            abi.encodeWithSelector(SessionKeyValidator.ValueLimitExceeded.selector, 0, 1.6 ether, 1.5 ether)
        );
        vm.warp(START + 1 days);
        use.time = uint48(vm.getBlockTimestamp());
        send(sessionOp(singleCall(merchant, 1 ether, ""), use));
        assertEq(merchant.balance, 2 ether, "one ether each day");
    }

    function testFuzz_UseLimitPerAction(uint8 maxUses) public {
        maxUses = uint8(bound(maxUses, 1, 12));
        Action memory a = pingAction(new ArgRule[](0));
        a.maxUses = maxUses;
        SessionUse memory use = grantedOne(a);
        for (uint256 i = 0; i < maxUses; ++i) {
            send(sessionOp(pingCall(i, 0, merchant), use));
        }
        expectRejected(
            sessionOp(pingCall(0, 0, merchant), use),
            abi.encodeWithSelector(SessionKeyValidator.UseLimitExceeded.selector, 0, uint256(maxUses) + 1, maxUses)
        );
        assertEq(target.calls(), maxUses, "exactly maxUses calls");
    }

    function test_SessionUseLimitPerHour() public {
        Action[] memory actions = one(pingAction(new ArgRule[](0)));
        Session memory s = newSession(sessionSigner, actions);
        s.maxUses = 2;
        s.usesPeriod = everySeconds(1 hours);
        grantByOwner(s, actions);
        SessionUse memory use = useOf(s, actions, 1);
        send(sessionOp(pingCall(1, 0, merchant), use));
        send(sessionOp(pingCall(2, 0, merchant), use));
        expectRejected(
            sessionOp(pingCall(3, 0, merchant), use),
            abi.encodeWithSelector(SessionKeyValidator.SessionUseLimitExceeded.selector, 3, 2)
        );
        vm.warp(START + 1 hours);
        use.time = uint48(vm.getBlockTimestamp());
        send(sessionOp(pingCall(3, 0, merchant), use));
        assertEq(target.calls(), 3, "limit reset in the next hour");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Stated time and periods
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Stating a future period to get a fresh cap fails: the op is only valid inside that period.
    function test_RevertWhen_StatedTimeIsInAFuturePeriod() public {
        SessionUse memory use = grantedOne(transferAction(10e6, everySeconds(1 days)));
        send(sessionOp(transferCall(merchant, 10e6), use));
        use.time = uint48(vm.getBlockTimestamp() + 1 days);
        expectFailedOp(sessionOp(transferCall(merchant, 10e6), use), "AA22 expired or not due");
        assertEq(usdc.balanceOf(merchant), 10e6, "no second spend today");
    }

    function test_RevertWhen_StatedTimeIsInAnEarlierPeriod() public {
        SessionUse memory use = grantedOne(transferAction(10e6, everySeconds(1 days)));
        vm.warp(START + 2 days);
        use.time = uint48(vm.getBlockTimestamp());
        send(sessionOp(transferCall(merchant, 1e6), use));
        use.time = START + 1 days;
        expectRejected(
            sessionOp(transferCall(merchant, 1e6), use),
            abi.encodeWithSelector(SessionKeyValidator.PeriodInPast.selector, 3, 2)
        );
    }

    function test_RevertWhen_StatedTimeBeforeAnchor() public {
        SessionUse memory use = grantedOne(transferAction(10e6, everySeconds(1 days)));
        use.time = START - 1;
        expectRejected(
            sessionOp(transferCall(merchant, 1), use),
            abi.encodeWithSelector(PeriodLib.OutsidePeriodWindow.selector, START - 1, START, type(uint48).max)
        );
    }

    /// @dev A window ending at second 0 must not reach the EntryPoint as validUntil = 0 ("never expires").
    function test_RevertWhen_WindowEndsAtSecondZero() public {
        Period memory p;
        p.kind = SessionTypes.PERIOD_WINDOWS;
        p.windows = new uint48[](2);
        p.windows[1] = 1;
        Action[] memory actions = one(transferAction(10e6, p));
        Session memory s = newSession(sessionSigner, actions);
        s.validAfter = 0;
        grantByOwner(s, actions);
        SessionUse memory use = useOf(s, actions, 1);
        use.time = 0;
        expectRejected(
            sessionOp(transferCall(merchant, 10e6), use),
            abi.encodeWithSelector(SessionKeyValidator.EmptyValidityWindow.selector, 0, 0)
        );
        assertEq(usdc.balanceOf(merchant), 0, "nothing moved");
    }

    function test_RevertWhen_PeriodHasNoLength() public {
        Period memory p = everySeconds(0);
        SessionUse memory use = grantedOne(transferAction(10e6, p));
        expectRejected(
            sessionOp(transferCall(merchant, 1), use),
            abi.encodeWithSelector(PeriodLib.InvalidPeriod.selector, SessionTypes.PERIOD_FIXED)
        );
    }

    // ---------------------------------------------------------------------------------------------------------
    // The subscription: 100 USDC to one merchant, once, on day one of each month, for 12 months
    // ---------------------------------------------------------------------------------------------------------

    function subscription(Period memory period) internal view returns (Action memory a) {
        a = transferAction(100e6, period);
        a.maxUses = 1;
        a.rules = oneRule(rule(SessionTypes.OP_EQ, 0, bytes32(uint256(uint160(merchant)))));
    }

    function twelveWindows() internal pure returns (Period memory p) {
        p.kind = SessionTypes.PERIOD_WINDOWS;
        p.windows = new uint48[](24);
        // 2026: first day of each month, UTC.
        uint48[12] memory starts = [
            uint48(1_767_225_600),
            1_769_904_000,
            1_772_323_200,
            1_775_001_600,
            1_777_593_600,
            1_780_272_000,
            1_782_864_000,
            1_785_542_400,
            1_788_220_800,
            1_790_812_800,
            1_793_491_200,
            1_796_083_200
        ];
        for (uint256 i = 0; i < 12; ++i) {
            p.windows[2 * i] = starts[i];
            p.windows[2 * i + 1] = starts[i] + 1 days;
        }
    }

    function compactMonthly() internal pure returns (Period memory p) {
        p = monthly();
        p.activeFor = 1 days;
    }

    function runSubscription(Period memory period) internal {
        Action[] memory actions = one(subscription(period));
        Session memory s = newSession(sessionSigner, actions);
        s.validUntil = 1_798_761_600 - 1; // through 2026-12-31
        grantByOwner(s, actions);
        SessionUse memory use = useOf(s, actions, 1);
        Period memory exact = twelveWindows();

        for (uint256 m = 0; m < 12; ++m) {
            uint48 dayOne = exact.windows[2 * m];
            vm.warp(dayOne + 9 hours);
            use.time = uint48(vm.getBlockTimestamp());
            send(sessionOp(transferCall(merchant, 100e6), use));

            // A second payment the same day.
            expectRejected(
                sessionOp(transferCall(merchant, 100e6), use),
                abi.encodeWithSelector(SessionKeyValidator.UseLimitExceeded.selector, 0, 2, 1)
            );
            // Another merchant.
            expectRejected(
                sessionOp(transferCall(address(0xE7E), 100e6), use),
                abi.encodeWithSelector(
                    CallPolicyLib.ArgumentRuleFailed.selector,
                    0,
                    0,
                    SessionTypes.OP_EQ,
                    bytes32(uint256(uint160(address(0xE7E))))
                )
            );
            // Day two of the month: outside the window.
            vm.warp(dayOne + 1 days + 9 hours);
            use.time = uint48(vm.getBlockTimestamp());
            PackedUserOperation memory late = sessionOp(transferCall(merchant, 100e6), use);
            vm.expectRevert();
            send(late);
        }
        assertEq(usdc.balanceOf(merchant), 1200e6, "twelve payments of 100 USDC");

        // Month thirteen: the session has ended.
        vm.warp(1_798_761_600 + 9 hours);
        use.time = uint48(vm.getBlockTimestamp());
        PackedUserOperation memory afterEnd = sessionOp(transferCall(merchant, 100e6), use);
        vm.expectRevert();
        send(afterEnd);
    }

    function test_Subscription_TwelveExactWindows() public {
        runSubscription(twelveWindows());
    }

    function test_Subscription_CompactMonthly() public {
        runSubscription(compactMonthly());
    }

    function test_RevertWhen_SubscriptionPaysMoreThan100() public {
        Action[] memory actions = one(subscription(compactMonthly()));
        Session memory s = newSession(sessionSigner, actions);
        grantByOwner(s, actions);
        SessionUse memory use = useOf(s, actions, 1);
        expectRejected(
            sessionOp(transferCall(merchant, 101e6), use),
            abi.encodeWithSelector(SessionKeyValidator.AmountLimitExceeded.selector, 0, 101e6, 100e6)
        );
    }

    function test_ActionAllowanceView() public {
        Action memory a = transferAction(100e6, everySeconds(1 days));
        a.maxUses = 3;
        SessionUse memory use = grantedOne(a);
        send(sessionOp(transferCall(merchant, 40e6), use));
        bytes32 id = sessionIdOf(use.session);
        (uint32 period, uint256 usesLeft, uint256 amountLeft, uint256 valueLeft) =
            validator.actionAllowance(address(account), id, SessionEncoder.encode(a), uint48(vm.getBlockTimestamp()));
        assertEq(period, 1, "first period");
        assertEq(usesLeft, 2, "two uses left");
        assertEq(amountLeft, 60e6, "60 USDC left");
        assertEq(valueLeft, type(uint256).max, "no value cap");
        (, usesLeft, amountLeft,) = validator.actionAllowance(
            address(account), id, SessionEncoder.encode(a), uint48(vm.getBlockTimestamp() + 1 days)
        );
        assertEq(usesLeft, 3, "fresh uses tomorrow");
        assertEq(amountLeft, 100e6, "fresh cap tomorrow");
    }
}
