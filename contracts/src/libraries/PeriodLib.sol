// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {SessionTypes} from "../SessionTypes.sol";

/// @title PeriodLib
/// @notice Finds the period that contains a stated time, and the window inside it in which use is open.
/// @dev Pure arithmetic on the stated time: nothing here reads TIMESTAMP, so it is safe in validation.
/// Period indexes start at 1 so that 0 in storage means "never charged". A period is read packed (see
/// docs/encoding.md): kind (1 byte), anchor (6), length (4), activeFrom (4), activeFor (4), window count (1), then
/// each window's start and end (6 + 6); every read is bounds-checked against the bytes given.
library PeriodLib {
    /// @notice The period has an unknown kind or a zero length.
    error InvalidPeriod(uint8 kind);
    /// @notice `time` is not inside a period's usable window.
    error OutsidePeriodWindow(uint48 time, uint48 windowStart, uint48 windowEnd);

    uint48 private constant NO_END = type(uint48).max;

    /// @notice The period containing `time`: its index and the inclusive window in which use is open.
    /// @dev Reverts when `time` falls outside every usable window.
    function resolve(bytes calldata period, uint48 time)
        internal
        pure
        returns (uint32 index, uint48 windowStart, uint48 windowLast)
    {
        require(period.length >= 20, InvalidPeriod(0));
        uint256 head = _word(period, 0);
        uint8 kind = uint8(head >> 248);
        if (kind == SessionTypes.PERIOD_LIFETIME) return (1, 0, NO_END);
        if (kind == SessionTypes.PERIOD_WINDOWS) return _explicitWindow(period, time);

        uint256 start;
        uint256 end;
        uint256 anchor = uint48(head >> 200);
        if (kind == SessionTypes.PERIOD_FIXED) {
            uint256 length = uint32(head >> 168);
            require(length != 0, InvalidPeriod(kind));
            require(time >= anchor, OutsidePeriodWindow(time, uint48(anchor), NO_END));
            uint256 n = (time - anchor) / length;
            start = anchor + n * length;
            end = start + length;
            index = _index(n, kind);
        } else if (kind == SessionTypes.PERIOD_MONTHLY) {
            (uint256 year, uint256 month) = _yearMonth(time);
            uint256 n = (year - 1970) * 12 + month - 1;
            start = _monthStart(year, month);
            end = month == 12 ? _monthStart(year + 1, 1) : _monthStart(year, month + 1);
            index = _index(n, kind);
        } else {
            revert InvalidPeriod(kind);
        }

        uint256 activeFor = uint32(head >> 104);
        uint256 open = start + uint32(head >> 136);
        uint256 close = activeFor == 0 ? end : _min(end, open + activeFor);
        if (close > NO_END) close = NO_END;
        require(time >= open && time < close, OutsidePeriodWindow(time, uint48(_min(open, NO_END)), uint48(close)));
        return (index, uint48(open), uint48(close - 1));
    }

    /// @notice Whether the explicit windows of `period` (bounds-checked by the caller) are in order and apart: each
    /// ends after it starts and no later than the next starts. A counted signing scope needs it, or a message could
    /// pick which of two overlapping windows its count is charged to.
    function disjoint(bytes calldata period) internal pure returns (bool) {
        uint256 count = uint8(period[19]);
        uint256 last;
        for (uint256 i = 0; i < count; ++i) {
            uint256 pair = _word(period, 20 + 12 * i);
            uint256 start = uint48(pair >> 208);
            uint256 end = uint48(pair >> 160);
            if (start < last || end <= start) return false;
            last = end;
        }
        return true;
    }

    /// @notice The byte length of the packed period at the start of `data`: 20, plus 12 per window.
    function size(bytes calldata data) internal pure returns (uint256) {
        return 20 + 12 * uint256(uint8(data[19]));
    }

    /// @dev The word at byte `at`, unchecked: callers bound it first.
    function _word(bytes calldata data, uint256 at) private pure returns (uint256 word) {
        assembly ("memory-safe") {
            word := calldataload(add(data.offset, at))
        }
    }

    function _explicitWindow(bytes calldata period, uint48 time)
        private
        pure
        returns (uint32 index, uint48 windowStart, uint48 windowLast)
    {
        uint256 count = uint8(period[19]);
        require(period.length >= 20 + 12 * count, InvalidPeriod(SessionTypes.PERIOD_WINDOWS));
        for (uint256 i = 0; i < count; ++i) {
            uint256 pair = _word(period, 20 + 12 * i);
            uint48 start = uint48(pair >> 208);
            uint48 end = uint48(pair >> 160);
            if (time >= start && time < end) return (_index(i, SessionTypes.PERIOD_WINDOWS), start, end - 1);
        }
        revert OutsidePeriodWindow(time, 0, 0);
    }

    function _index(uint256 n, uint8 kind) private pure returns (uint32) {
        require(n < type(uint32).max, InvalidPeriod(kind));
        return uint32(n + 1);
    }

    /// @dev Gregorian year and month of a unix time (H. Hinnant's civil-from-days).
    function _yearMonth(uint256 time) private pure returns (uint256 year, uint256 month) {
        uint256 z = time / 1 days + 719_468;
        uint256 era = z / 146_097;
        uint256 doe = z - era * 146_097;
        uint256 yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        uint256 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        uint256 mp = (5 * doy + 2) / 153;
        month = mp < 10 ? mp + 3 : mp - 9;
        year = yoe + era * 400 + (month <= 2 ? 1 : 0);
    }

    /// @dev Unix time of 00:00 UTC on the first day of `month` (days-from-civil).
    function _monthStart(uint256 year, uint256 month) private pure returns (uint256) {
        if (month <= 2) year -= 1;
        uint256 era = year / 400;
        uint256 yoe = year - era * 400;
        uint256 doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5;
        uint256 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return (era * 146_097 + doe - 719_468) * 1 days;
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }
}
