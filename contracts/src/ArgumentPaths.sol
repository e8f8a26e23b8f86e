// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {SessionTypes} from "./SessionTypes.sol";
import {CallPolicyLib} from "./libraries/CallPolicyLib.sol";

/// @title ArgumentPaths
/// @notice Follows an argument rule's path through a call's ABI-encoded arguments (docs/encoding.md): offsets into
/// structs, arrays and `bytes`, an element (counted from either end) or every element, a length, an item of packed
/// bytes such as a Uniswap V3 path. The session-key module asks it about rules with a path and amounts reached by
/// one; rules on a word of the head stay in the module.
/// @dev A contract of its own because the module with this code would pass the EIP-170 code size limit. The module
/// creates it in its constructor, so its address follows from the module's. It is pure (no storage, no
/// environment), so calling it during validation is within ERC-7562. It reverts with the module's errors
/// ({CallPolicyLib}), which the module passes on unchanged.
///
/// Bounds: every word read lies inside the call's arguments; an offset must be a multiple of 32, at least the
/// size of the head that holds it (it can never point back into a head, where it would alias a static field)
/// and leave a word inside the arguments; an array's length must fit its elements (or, for dynamic elements,
/// their offsets) inside the arguments, as Solidity's decoder requires; packed bytes must have the stated shape.
/// Positions only grow (unsigned offsets are added to them after these checks), so none wraps around to bytes
/// before the arguments. The module follows the same offsets the called contract's ABI decoder follows, so a
/// rule checks the value the contract will use.
contract ArgumentPaths {
    /// @notice An offset or a length in the call's arguments that a path follows is not a multiple of 32, points
    /// into the head that holds it or past the arguments, or packed bytes have the wrong length (`at`: where, in
    /// the arguments).
    error MalformedArguments(uint256 callIndex, uint256 at);
    /// @notice A path names an element the array or packed bytes do not have.
    error NoSuchElement(uint256 callIndex, int256 index, uint256 length);
    /// @notice A rule on every element met more elements than its bound.
    error TooManyElements(uint256 callIndex, uint256 length, uint256 max);

    /// @notice Reverts unless every value the path of rule `r` (packed, with `RULE_PATH`) reaches in call `i`'s
    /// calldata `data` passes the rule.
    function check(uint256 i, uint256 r, bytes calldata rule, bytes calldata data) external pure {
        bytes calldata rule_ = CallPolicyLib.ruleAt(rule, 0);
        require(
            rule_.length == rule.length && uint8(rule[0]) >= SessionTypes.RULE_PATH, CallPolicyLib.InvalidRule(i, r)
        );
        Reader memory reader = _reader(i, r, true, data);
        uint256 offset = (CallPolicyLib.wordAt(rule, 0) >> 232) & 0xffff;
        _walk(reader, rule, rule[5:5 + uint8(rule[4])], 0, reader.start, reader.start + offset);
    }

    /// @notice The amount `steps` reach from the word at `offset` in call `i`'s calldata `data`.
    function amount(uint256 i, uint256 offset, bytes calldata steps, bytes calldata data)
        external
        pure
        returns (uint256)
    {
        Reader memory reader = _reader(i, 0, false, data);
        return _walk(reader, steps[0:0], steps, 0, reader.start, reader.start + offset);
    }

    /// @dev Where a path reads: the call, the rule, and its arguments as `[start, end)` calldata positions.
    /// `check`: each value a path reaches must pass the rule; otherwise the path leads to one value (an amount).
    struct Reader {
        uint256 i;
        uint256 r;
        bool check;
        uint256 start;
        uint256 end;
    }

    /// @dev A reader of the call's arguments (after the selector; none when the call has no selector).
    function _reader(uint256 i, uint256 r, bool checking, bytes calldata data) private pure returns (Reader memory) {
        uint256 end;
        assembly ("memory-safe") {
            end := add(data.offset, data.length)
        }
        return Reader(i, r, checking, data.length < 4 ? end : end - data.length + 4, end);
    }

    /// @dev Takes `steps` from byte `s` on, with `base` the start of the tuple (or array, or bytes) at hand and
    /// `pos` the word at hand, then checks (or returns) the value reached. An `EVERY` step takes the rest of the
    /// path once per element. Every position read is checked to lie inside the arguments first; the positions
    /// only grow (offsets are unsigned and added), so none can wrap around to bytes before them.
    function _walk(Reader memory x, bytes calldata rule, bytes calldata steps, uint256 s, uint256 base, uint256 pos)
        private
        pure
        returns (uint256)
    {
        while (s < steps.length) {
            uint256 head = CallPolicyLib.wordAt(steps, s);
            uint256 kind = head >> 248;
            uint256 arg = (head >> 232) & 0xffff;
            if (kind == SessionTypes.STEP_FIELD) {
                require(steps.length - s >= 3, CallPolicyLib.MalformedSignature());
                pos = base + arg;
                s += 3;
            } else if (kind == SessionTypes.STEP_DEREF) {
                require(steps.length - s >= 3, CallPolicyLib.MalformedSignature());
                base = _follow(x, base, _read(x, pos), arg);
                pos = base;
                s += 3;
            } else if (kind == SessionTypes.STEP_INDEX || kind == SessionTypes.STEP_EVERY) {
                require(steps.length - s >= 5, CallPolicyLib.MalformedSignature());
                uint256 stride = (head >> 216) & 0xffff;
                uint256 length = _read(x, base);
                uint256 area = base + 32;
                // The whole array (or its heads) lies inside the arguments, as Solidity's decoder requires.
                require(length <= (x.end - area) / (stride == 0 ? 32 : stride), MalformedArguments(x.i, base - x.start));
                if (kind == SessionTypes.STEP_INDEX) {
                    base = _element(x, area, _index(x, arg, length), stride, length);
                    pos = base;
                    s += 5;
                } else {
                    require(length <= arg, TooManyElements(x.i, length, arg));
                    require(x.check, CallPolicyLib.InvalidRule(x.i, x.r));
                    for (uint256 k = 0; k < length; ++k) {
                        uint256 element = _element(x, area, k, stride, length);
                        _walk(x, rule, steps, s + 5, element, element);
                    }
                    return 0;
                }
            } else if (kind == SessionTypes.STEP_LENGTH) {
                require(steps.length - s == 1, CallPolicyLib.MalformedSignature());
                uint256 length = _read(x, base);
                // A length past the arguments is no length the decoder reads (and one that keeps only its low
                // bits would read another): refused, never compared.
                require(length <= x.end - base - 32, MalformedArguments(x.i, base - x.start));
                return _reached(x, rule, length);
            } else {
                require(
                    (kind == SessionTypes.STEP_PACKED || kind == SessionTypes.STEP_PACKED_EVERY)
                        && steps.length - s == 7,
                    CallPolicyLib.MalformedSignature()
                );
                return _packed(x, rule, head, base, kind == SessionTypes.STEP_PACKED_EVERY);
            }
        }
        return _reached(x, rule, _read(x, pos));
    }

    /// @dev The value of the item (or, with `every`, each item) of the packed bytes at `base` that a `PACKED` step
    /// names: items of `size` bytes at `at` in records of `stride` bytes, the bytes `first + n * stride` long.
    function _packed(Reader memory x, bytes calldata rule, uint256 head, uint256 base, bool every)
        private
        pure
        returns (uint256 value)
    {
        uint256 arg = (head >> 232) & 0xffff;
        uint256 at = (head >> 224) & 0xff;
        uint256 size = (head >> 216) & 0xff;
        uint256 stride = (head >> 208) & 0xff;
        uint256 first = (head >> 200) & 0xff;
        require(size != 0 && size <= 32 && stride != 0, CallPolicyLib.InvalidRule(x.i, x.r));
        uint256 length = _read(x, base);
        uint256 bytesAt = base + 32;
        require(
            length <= x.end - bytesAt && length >= first && (length - first) % stride == 0,
            MalformedArguments(x.i, base - x.start)
        );
        uint256 items = length < at + size ? 0 : (length - at - size) / stride + 1;
        if (!every) return _reached(x, rule, _bytesAt(bytesAt + at + _index(x, arg, items) * stride, size));
        require(items <= arg, TooManyElements(x.i, items, arg));
        require(x.check, CallPolicyLib.InvalidRule(x.i, x.r));
        for (uint256 k = 0; k < items; ++k) {
            _reached(x, rule, _bytesAt(bytesAt + at + k * stride, size));
        }
    }

    /// @dev The value a path reached: checked against the rule, or returned as the amount.
    function _reached(Reader memory x, bytes calldata rule, uint256 value) private pure returns (uint256) {
        if (x.check) {
            require(
                CallPolicyLib.ruleHolds(x.i, x.r, rule, bytes32(value)),
                CallPolicyLib.ArgumentRuleFailed(x.i, x.r, uint8(rule[0]) & 0x7f, bytes32(value))
            );
        }
        return value;
    }

    /// @dev The word at calldata position `at`, which must lie inside the arguments.
    function _read(Reader memory x, uint256 at) private pure returns (uint256 word) {
        require(at <= x.end && x.end - at >= 32, CallPolicyLib.ArgumentOutOfBounds(x.i, at - x.start, x.end - x.start));
        assembly ("memory-safe") {
            word := calldataload(at)
        }
    }

    /// @dev Where `offset`, read in the head of the tuple at `base` (whose head is `head` bytes), points: a multiple
    /// of 32, past the head, with at least a word inside the arguments.
    function _follow(Reader memory x, uint256 base, uint256 offset, uint256 head) private pure returns (uint256) {
        require(
            offset % 32 == 0 && offset >= head && x.end - base >= 32 && offset <= x.end - base - 32,
            MalformedArguments(x.i, base - x.start)
        );
        return base + offset;
    }

    /// @dev Element `k` of an array whose elements start at `area`: `stride` bytes each, or (stride 0) reached
    /// through the offsets in the array's head of `length` words.
    function _element(Reader memory x, uint256 area, uint256 k, uint256 stride, uint256 length)
        private
        pure
        returns (uint256)
    {
        if (stride != 0) return area + k * stride;
        return _follow(x, area, _read(x, area + 32 * k), 32 * length);
    }

    /// @dev The element a signed 16-bit index names among `length` (negative counts from the end).
    function _index(Reader memory x, uint256 raw, uint256 length) private pure returns (uint256 index) {
        int256 signed = int256(int16(uint16(raw)));
        require(signed >= 0 ? uint256(signed) < length : uint256(-signed) <= length, NoSuchElement(x.i, signed, length));
        index = signed >= 0 ? uint256(signed) : length - uint256(-signed);
    }

    /// @dev `size` bytes at calldata position `at` as a big-endian number (bounded by the caller).
    function _bytesAt(uint256 at, uint256 size) private pure returns (uint256 value) {
        assembly ("memory-safe") {
            value := shr(sub(256, mul(8, size)), calldataload(at))
        }
    }
}
