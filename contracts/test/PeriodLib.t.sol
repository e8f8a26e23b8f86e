// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {PeriodLib} from "../src/libraries/PeriodLib.sol";
import {Period, SessionTypes} from "../src/SessionTypes.sol";
import {SessionEncoder} from "../src/SessionEncoder.sol";
import {TestBase} from "./utils/TestBase.sol";

/// @notice Exposes {PeriodLib-resolve} (which reads a packed period from calldata) as an external call.
contract PeriodHarness {
    function resolve(Period calldata period, uint48 time)
        external
        view
        returns (uint32 index, uint48 windowStart, uint48 windowLast)
    {
        return this.resolvePacked(SessionEncoder.encode(period), time);
    }

    function resolvePacked(bytes calldata period, uint48 time)
        external
        pure
        returns (uint32 index, uint48 windowStart, uint48 windowLast)
    {
        return PeriodLib.resolve(period, time);
    }
}

/// @notice Fuzzes {PeriodLib-resolve} for every period kind against independent references: monthly periods
/// against a calendar walked year by year and month by month with the Gregorian leap-year rules, fixed periods
/// and their active sub-windows against the arithmetic of the spec, explicit windows against a linear scan.
contract PeriodLibTest is TestBase {
    uint48 internal constant NO_END = type(uint48).max;
    /// 2201-01-01T00:00:00Z: every time before it lies in a year from 1970 to 2200.
    uint256 internal constant YEAR_2201 = 7_289_654_400;

    PeriodHarness internal harness;

    function setUp() public {
        harness = new PeriodHarness();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Reference calendar (walks years and months; shares nothing with the library's civil-from-days)
    // ---------------------------------------------------------------------------------------------------------

    function isLeap(uint256 year) internal pure returns (bool) {
        return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    }

    function daysInMonth(uint256 year, uint256 month) internal pure returns (uint256) {
        if (month == 2) return isLeap(year) ? 29 : 28;
        if (month == 4 || month == 6 || month == 9 || month == 11) return 30;
        return 31;
    }

    /// @dev The year, month (1-based), first second of the month and first second of the next month of `t`.
    function calendarOf(uint256 t)
        internal
        pure
        returns (uint256 year, uint256 month, uint256 monthStart, uint256 nextMonthStart)
    {
        year = 1970;
        uint256 yearStart = 0;
        while (true) {
            uint256 yearLength = isLeap(year) ? 366 days : 365 days;
            if (t < yearStart + yearLength) break;
            yearStart += yearLength;
            ++year;
        }
        monthStart = yearStart;
        for (month = 1; month <= 12; ++month) {
            nextMonthStart = monthStart + daysInMonth(year, month) * 1 days;
            if (t < nextMonthStart) return (year, month, monthStart, nextMonthStart);
            monthStart = nextMonthStart;
        }
        revert("calendar: unreachable");
    }

    function monthlyPeriod(uint32 activeFrom, uint32 activeFor) internal pure returns (Period memory p) {
        p.kind = SessionTypes.PERIOD_MONTHLY;
        p.activeFrom = activeFrom;
        p.activeFor = activeFor;
    }

    function fixedPeriod(uint48 anchor, uint32 length, uint32 activeFrom, uint32 activeFor)
        internal
        pure
        returns (Period memory p)
    {
        p.kind = SessionTypes.PERIOD_FIXED;
        p.anchor = anchor;
        p.length = length;
        p.activeFrom = activeFrom;
        p.activeFor = activeFor;
    }

    /// @dev The usable part `[open, close)` of a period `[start, end)`, as {Period} documents it.
    function activePart(uint256 start, uint256 end, uint32 activeFrom, uint32 activeFor)
        internal
        pure
        returns (uint256 open, uint256 close)
    {
        open = start + activeFrom;
        close = end;
        if (activeFor != 0 && open + activeFor < close) close = open + activeFor;
    }

    function expectOutside(uint256 t, uint256 open, uint256 close) internal {
        vm.expectRevert(abi.encodeWithSelector(PeriodLib.OutsidePeriodWindow.selector, t, open, close));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Reference sanity: known dates (the reference must be right for the fuzz tests to mean anything)
    // ---------------------------------------------------------------------------------------------------------

    function test_ReferenceCalendarKnownDates() public pure {
        (uint256 y, uint256 m, uint256 start, uint256 next) = calendarOf(0);
        assertEq(y * 100 + m, 197_001, "epoch is January 1970");
        assertEq(start, 0, "January 1970 starts at 0");
        assertEq(next, 2_678_400, "February 1970");
        (y, m, start, next) = calendarOf(1_767_225_600);
        assertEq(y * 100 + m, 202_601, "2026-01-01");
        assertEq(start, 1_767_225_600, "starts at midnight");
        (y, m, start, next) = calendarOf(949_363_200); // 2000-02-01: 2000 is a leap year (divisible by 400)
        assertEq(next - start, 29 days, "February 2000 has 29 days");
        assertEq(next, 951_868_800, "2000-03-01");
        (y, m, start, next) = calendarOf(4_105_123_200); // 2100-02-01: 2100 is not a leap year
        assertEq(next - start, 28 days, "February 2100 has 28 days");
        assertEq(next, 4_107_542_400, "2100-03-01");
        (y, m, start,) = calendarOf(YEAR_2201 - 1);
        assertEq(y * 100 + m, 220_012, "last second of 2200");
        assertEq(start, 7_286_976_000, "2200-12-01");
    }

    // ---------------------------------------------------------------------------------------------------------
    // PERIOD_MONTHLY
    // ---------------------------------------------------------------------------------------------------------

    function testFuzz_Monthly_WindowIsTheCalendarMonth(uint256 seed) public view {
        uint48 t = uint48(bound(seed, 0, YEAR_2201 - 1));
        (uint256 year, uint256 month, uint256 monthStart, uint256 nextMonthStart) = calendarOf(t);
        (uint32 index, uint48 windowStart, uint48 windowLast) = harness.resolve(monthlyPeriod(0, 0), t);
        assertEq(windowStart, monthStart, "starts on day 1 of t's month");
        assertEq(windowStart % 1 days, 0, "starts at 00:00 UTC");
        assertEq(windowLast, nextMonthStart - 1, "ends the second before the next month");
        assertEq(index, (year - 1970) * 12 + month, "index counts months from January 1970 (1-based)");
        assertTrue(windowStart <= t && t <= windowLast, "contains t");

        // The month's first and last seconds belong to it too.
        Period memory p = monthlyPeriod(0, 0);
        (uint32 firstIndex, uint48 firstStart, uint48 firstLast) = harness.resolve(p, uint48(monthStart));
        (uint32 lastIndex, uint48 lastStart, uint48 lastLast) = harness.resolve(p, uint48(nextMonthStart - 1));
        assertEq(firstIndex, index, "first second: same month");
        assertEq(lastIndex, index, "last second: same month");
        assertEq(firstStart, monthStart, "first second: same start");
        assertEq(lastStart, monthStart, "last second: same start");
        assertEq(firstLast, windowLast, "first second: same end");
        assertEq(lastLast, windowLast, "last second: same end");
    }

    function testFuzz_Monthly_ConsecutiveMonthsHaveConsecutiveIndexes(uint256 seed) public view {
        uint48 t = uint48(bound(seed, 0, YEAR_2201 - 1));
        Period memory p = monthlyPeriod(0, 0);
        (uint32 index, uint48 windowStart, uint48 windowLast) = harness.resolve(p, t);

        (uint32 nextIndex, uint48 nextStart,) = harness.resolve(p, windowLast + 1);
        assertEq(nextIndex, uint256(index) + 1, "next month is the next index");
        assertEq(nextStart, uint256(windowLast) + 1, "next month starts right after this one");

        if (windowStart > 0) {
            (uint32 prevIndex,, uint48 prevLast) = harness.resolve(p, windowStart - 1);
            assertEq(prevIndex + 1, index, "previous month is the previous index");
            assertEq(prevLast + 1, windowStart, "previous month ends right before this one");
        } else {
            assertEq(index, 1, "January 1970 is period 1");
        }
    }

    function testFuzz_Monthly_ActiveSubWindow(uint256 seed, uint32 activeFrom, uint32 activeFor) public {
        uint48 t = uint48(bound(seed, 0, YEAR_2201 - 1));
        activeFrom = uint32(bound(activeFrom, 0, 32 days));
        activeFor = uint32(bound(activeFor, 0, 32 days));
        (uint256 year, uint256 month, uint256 monthStart, uint256 nextMonthStart) = calendarOf(t);
        (uint256 open, uint256 close) = activePart(monthStart, nextMonthStart, activeFrom, activeFor);
        Period memory p = monthlyPeriod(activeFrom, activeFor);
        if (t >= open && t < close) {
            (uint32 index, uint48 windowStart, uint48 windowLast) = harness.resolve(p, t);
            assertEq(index, (year - 1970) * 12 + month, "index of t's month");
            assertEq(windowStart, open, "window opens activeFrom after the month starts");
            assertEq(windowLast, close - 1, "window closes after activeFor or at the month's end");
        } else {
            expectOutside(t, open, close);
            harness.resolve(p, t);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // PERIOD_FIXED
    // ---------------------------------------------------------------------------------------------------------

    function testFuzz_Fixed_WindowContainsTimeAndHasTheLength(uint48 anchor, uint32 length, uint256 offset)
        public
        view
    {
        anchor = uint48(bound(anchor, 0, 1 << 40));
        length = uint32(bound(length, 1, type(uint32).max));
        // Keep the period index below 2^32 - 1 (see testFuzz_Fixed_RevertWhen_IndexOverflows).
        uint256 maxOffset = uint256(length) * (uint256(type(uint32).max) - 1) - 1;
        offset = bound(offset, 0, maxOffset < (1 << 41) ? maxOffset : 1 << 41);
        uint48 t = uint48(anchor + offset);

        (uint32 index, uint48 windowStart, uint48 windowLast) = harness.resolve(fixedPeriod(anchor, length, 0, 0), t);
        assertTrue(windowStart <= t && t <= windowLast, "start <= t <= last");
        assertEq(uint256(windowLast) - windowStart + 1, length, "the window is one whole period");
        assertEq(index, offset / length + 1, "index = (t - anchor) / length + 1");
        assertEq(windowStart, anchor + uint256(index - 1) * length, "periods are laid end to end from the anchor");

        (uint32 nextIndex, uint48 nextStart,) = harness.resolve(fixedPeriod(anchor, length, 0, 0), windowLast + 1);
        assertEq(nextIndex, uint256(index) + 1, "the next period has the next index");
        assertEq(nextStart, uint256(windowLast) + 1, "and starts right after");
    }

    function testFuzz_Fixed_ActiveSubWindow(
        uint48 anchor,
        uint32 length,
        uint32 activeFrom,
        uint32 activeFor,
        uint256 offset
    ) public {
        anchor = uint48(bound(anchor, 0, 1 << 40));
        length = uint32(bound(length, 1, 400 days));
        activeFrom = uint32(bound(activeFrom, 0, uint256(length) + 10));
        activeFor = uint32(bound(activeFor, 0, 2 * uint256(length)));
        offset = bound(offset, 0, uint256(length) * 1000);
        uint48 t = uint48(anchor + offset);

        uint256 n = offset / length;
        uint256 start = anchor + n * length;
        (uint256 open, uint256 close) = activePart(start, start + length, activeFrom, activeFor);
        Period memory p = fixedPeriod(anchor, length, activeFrom, activeFor);
        if (t >= open && t < close) {
            (uint32 index, uint48 windowStart, uint48 windowLast) = harness.resolve(p, t);
            assertEq(index, n + 1, "index = (t - anchor) / length + 1");
            assertEq(windowStart, open, "window opens activeFrom into the period");
            assertEq(windowLast, close - 1, "window closes after activeFor or at the period's end");
            assertTrue(windowStart <= t && t <= windowLast, "contains t");
        } else {
            expectOutside(t, open, close);
            harness.resolve(p, t);
        }
    }

    function testFuzz_Fixed_RevertWhen_BeforeAnchor(uint48 anchor, uint32 length, uint48 t) public {
        anchor = uint48(bound(anchor, 1, NO_END));
        length = uint32(bound(length, 1, type(uint32).max));
        t = uint48(bound(t, 0, anchor - 1));
        expectOutside(t, anchor, NO_END);
        harness.resolve(fixedPeriod(anchor, length, 0, 0), t);
    }

    function testFuzz_Fixed_RevertWhen_LengthIsZero(uint48 anchor, uint48 t) public {
        vm.expectRevert(abi.encodeWithSelector(PeriodLib.InvalidPeriod.selector, SessionTypes.PERIOD_FIXED));
        harness.resolve(fixedPeriod(anchor, 0, 0, 0), t);
    }

    function testFuzz_Fixed_RevertWhen_IndexOverflows(uint32 length, uint256 offset) public {
        length = uint32(bound(length, 1, 60));
        // Period number n = offset / length reaches 2^32 - 1: its 1-based index would not fit in uint32.
        offset = bound(offset, uint256(length) * type(uint32).max, uint256(length) * type(uint32).max + 1 days);
        vm.expectRevert(abi.encodeWithSelector(PeriodLib.InvalidPeriod.selector, SessionTypes.PERIOD_FIXED));
        harness.resolve(fixedPeriod(0, length, 0, 0), uint48(offset));
    }

    // ---------------------------------------------------------------------------------------------------------
    // PERIOD_WINDOWS
    // ---------------------------------------------------------------------------------------------------------

    /// @dev 1 to 8 sorted, disjoint (possibly touching) windows drawn from `seed`.
    function sortedWindows(uint256 seed) internal pure returns (Period memory p) {
        uint256 count = 1 + seed % 8;
        p.kind = SessionTypes.PERIOD_WINDOWS;
        p.windows = new uint48[](2 * count);
        uint256 cursor = uint256(keccak256(abi.encode(seed, "origin"))) % (1 << 40);
        for (uint256 i = 0; i < count; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            cursor += (r % 3 == 0) ? 0 : (r >> 8) % 30 days; // gap (sometimes none)
            p.windows[2 * i] = uint48(cursor);
            cursor += 1 + (r >> 64) % 30 days; // length >= 1
            p.windows[2 * i + 1] = uint48(cursor);
        }
    }

    function testFuzz_Windows_TimeInsideWindowReturnsIt(uint256 seed, uint256 which, uint256 offset) public view {
        Period memory p = sortedWindows(seed);
        uint256 i = which % (p.windows.length / 2);
        uint48 start = p.windows[2 * i];
        uint48 end = p.windows[2 * i + 1];
        uint48 t = uint48(start + offset % (end - start));
        (uint32 index, uint48 windowStart, uint48 windowLast) = harness.resolve(p, t);
        assertEq(index, i + 1, "window i is period i + 1");
        assertEq(windowStart, start, "its start");
        assertEq(windowLast, end - 1, "its last second (ends are exclusive)");
    }

    function testFuzz_Windows_RevertWhen_TimeOutsideEveryWindow(uint256 seed, uint256 where, uint256 offset) public {
        Period memory p = sortedWindows(seed);
        uint256 count = p.windows.length / 2;
        // A gap: before the first window, between window k-1 and k, or after the last one (always non-empty).
        uint256 k = where % (count + 1);
        uint256 lo = k == 0 ? 0 : p.windows[2 * k - 1];
        uint256 hiExclusive = k == count ? uint256(NO_END) + 1 : p.windows[2 * k];
        if (lo >= hiExclusive) (lo, hiExclusive) = (p.windows[2 * count - 1], uint256(NO_END) + 1);
        uint48 t = uint48(lo + offset % (hiExclusive - lo));
        expectOutside(t, 0, 0);
        harness.resolve(p, t);
    }

    /// @dev Any list (unsorted, overlapping, empty or odd-length): the first window containing t wins.
    function testFuzz_Windows_FirstContainingWindowWins(uint48[] memory raw, uint256 tSeed) public {
        uint48[] memory windows = new uint48[](raw.length % 25);
        for (uint256 i = 0; i < windows.length; ++i) {
            windows[i] = raw[i];
        }
        uint48 t = uint48(tSeed);
        if (windows.length > 0 && tSeed % 2 == 0) {
            // Land on or next to a bound half of the time, so that hits and edge misses are common.
            uint48 pick = windows[(tSeed >> 8) % windows.length];
            uint256 nudge = (tSeed >> 16) % 3;
            t = nudge == 0 || pick == 0 ? pick : nudge == 1 || pick == NO_END ? pick - 1 : pick + 1;
        }
        Period memory p;
        p.kind = SessionTypes.PERIOD_WINDOWS;
        p.windows = windows;
        for (uint256 i = 0; i < windows.length / 2; ++i) {
            if (t >= windows[2 * i] && t < windows[2 * i + 1]) {
                (uint32 index, uint48 windowStart, uint48 windowLast) = harness.resolve(p, t);
                assertEq(index, i + 1, "first containing window");
                assertEq(windowStart, windows[2 * i], "its start");
                assertEq(windowLast, windows[2 * i + 1] - 1, "its last second");
                return;
            }
        }
        expectOutside(t, 0, 0);
        harness.resolve(p, t);
    }

    // ---------------------------------------------------------------------------------------------------------
    // PERIOD_LIFETIME and unknown kinds
    // ---------------------------------------------------------------------------------------------------------

    function testFuzz_Lifetime_OnePeriodForever(uint48 t, uint48 anchor, uint32 length) public view {
        Period memory p = fixedPeriod(anchor, length, 7, 7);
        p.kind = SessionTypes.PERIOD_LIFETIME;
        (uint32 index, uint48 windowStart, uint48 windowLast) = harness.resolve(p, t);
        assertEq(index, 1, "always period 1");
        assertEq(windowStart, 0, "open since 0");
        assertEq(windowLast, NO_END, "never closes");
    }

    function testFuzz_RevertWhen_KindIsUnknown(uint8 kind, uint48 anchor, uint32 length, uint48 t) public {
        kind = uint8(bound(kind, SessionTypes.PERIOD_WINDOWS + 1, type(uint8).max));
        Period memory p = fixedPeriod(anchor, length, 0, 0);
        p.kind = kind;
        vm.expectRevert(abi.encodeWithSelector(PeriodLib.InvalidPeriod.selector, kind));
        harness.resolve(p, t);
    }
}
