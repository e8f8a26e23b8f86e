// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {
    IERC7579Execution,
    IERC7579ModuleConfig,
    MODULE_TYPE_VALIDATOR,
    MODULE_TYPE_EXECUTOR
} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {ILeashAccount} from "../interfaces/ILeashAccount.sol";
import {ERC7579Utils, Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {SessionTypes} from "../SessionTypes.sol";
import {PeriodLib} from "./PeriodLib.sol";
import {ArgumentPaths} from "../ArgumentPaths.sol";

/// @title CallPolicyLib
/// @notice Reads a session UserOperation's calls exactly as the account will execute them, and checks one call
/// against one packed action (docs/encoding.md): target, selector, native value and argument rules.
/// @dev Decoding is strict: only `execute(mode, executionCalldata)` with the canonical ABI offset, single or
/// batch call type, no mode selector or payload, and every call's bytes inside the execution data. Whatever
/// this library accepts, OpenZeppelin's ERC-7579 account decodes to the same calls (it uses the same decoder).
library CallPolicyLib {
    /// @notice The operation calls something other than `execute(bytes32,bytes)`.
    error UnsupportedCallData(bytes4 selector);
    /// @notice The execution mode is not single or batch with default or try execution.
    error UnsupportedExecutionMode(bytes32 mode);
    /// @notice Sessions may never delegatecall.
    error DelegateCallForbidden();
    /// @notice The execution data is not a well-formed encoding.
    error MalformedExecution();
    /// @notice The batch holds more calls than a session operation may.
    error BatchTooLarge(uint256 calls, uint256 max);
    /// @notice Sessions may never call the account itself (its address or `address(0)`, which the account's
    /// executor turns into itself), this module, another of the account's modules, or an EntryPoint.
    error ForbiddenTarget(uint256 callIndex, address target);
    /// @notice The call's target is not the action's.
    error TargetNotAllowed(uint256 callIndex, address target, address allowed);
    /// @notice The call's function is not the action's.
    error SelectorNotAllowed(uint256 callIndex, bytes4 selector, bytes4 allowed);
    /// @notice The call is a native transfer (or has a truncated selector) and the action does not allow one.
    error NativeTransferNotAllowed(uint256 callIndex);
    /// @notice The call carries more native value than the action allows per call.
    error ValuePerCallExceeded(uint256 callIndex, uint256 value, uint256 max);
    /// @notice A rule or limit reads past the end of the call's arguments.
    error ArgumentOutOfBounds(uint256 callIndex, uint256 offset, uint256 argumentsLength);
    /// @notice An argument rule rejected the call.
    error ArgumentRuleFailed(uint256 callIndex, uint256 ruleIndex, uint8 op, bytes32 value);
    /// @notice A rule has an unknown operator or the wrong number of operands.
    error InvalidRule(uint256 callIndex, uint256 ruleIndex);
    /// @notice The action holds more rules than allowed.
    error TooManyRules(uint256 count, uint256 max);
    /// @notice Packed bytes (the signature, a session, an action, a rule) are malformed: a length past their end,
    /// or bytes left over.
    error MalformedSignature();

    /// @dev The canonical EntryPoints (v0.6, v0.7, v0.8): their deposit, stake and nonce functions act for the
    /// account that calls them.
    address internal constant ENTRYPOINT_V06 = 0x5FF137D4b0FDCD49DcA30c7CF57E578a026d2789;
    address internal constant ENTRYPOINT_V07 = 0x0000000071727De22E5E9d8BAf0edAc6f37da032;
    address internal constant ENTRYPOINT_V08 = 0x4337084D9E255Ff0702461CF8895CE9E3b5Ff108;

    bytes1 private constant CALLTYPE_SINGLE = 0x00;
    bytes1 private constant CALLTYPE_BATCH = 0x01;
    bytes1 private constant CALLTYPE_DELEGATECALL = 0xff;
    bytes1 private constant EXECTYPE_DEFAULT = 0x00;
    bytes1 private constant EXECTYPE_TRY = 0x01;

    /// @notice Splits `execute(mode, executionCalldata)` into its call type and execution data.
    function decodeExecute(bytes calldata callData) internal pure returns (bool isBatch, bytes calldata execution) {
        require(callData.length >= 4, UnsupportedCallData(bytes4(0)));
        require(bytes4(callData[0:4]) == IERC7579Execution.execute.selector, UnsupportedCallData(bytes4(callData[0:4])));
        require(callData.length >= 100, MalformedExecution());
        bytes32 mode = bytes32(callData[4:36]);
        bytes1 callType = mode[0];
        require(callType != CALLTYPE_DELEGATECALL, DelegateCallForbidden());
        // Everything after the call and exec types (unused bytes, mode selector, payload) must be zero.
        require(
            (callType == CALLTYPE_SINGLE || callType == CALLTYPE_BATCH)
                && (mode[1] == EXECTYPE_DEFAULT || mode[1] == EXECTYPE_TRY) && uint256(mode) << 16 == 0,
            UnsupportedExecutionMode(mode)
        );
        // The canonical head offset makes the bytes checked here the bytes the account's decoder executes.
        require(uint256(bytes32(callData[36:68])) == 0x40, MalformedExecution());
        uint256 length = uint256(bytes32(callData[68:100]));
        require(length <= callData.length - 100, MalformedExecution());
        return (callType == CALLTYPE_BATCH, callData[100:100 + length]);
    }

    /// @notice The calls of a batch, each checked to lie inside `execution`.
    function decodeBatch(bytes calldata execution) internal pure returns (Execution[] calldata calls) {
        calls = ERC7579Utils.decodeBatch(execution);
        require(calls.length <= SessionTypes.MAX_BATCH, BatchTooLarge(calls.length, SessionTypes.MAX_BATCH));
        uint256 end = _end(execution);
        uint256 base;
        assembly ("memory-safe") {
            base := calls.offset
        }
        for (uint256 i = 0; i < calls.length; ++i) {
            // Every offset is read raw and bounded unsigned, before Solidity follows it: an offset that wraps
            // around to point before the execution data (or past it) would make this check bytes of the operation
            // that the account, decoding its own calldata, does not execute.
            uint256 headOffset;
            assembly ("memory-safe") {
                headOffset := calldataload(add(base, mul(i, 0x20)))
            }
            require(end - base >= 0x60 && headOffset <= end - base - 0x60, MalformedExecution());
            uint256 head = base + headOffset;
            uint256 dataOffset;
            assembly ("memory-safe") {
                dataOffset := calldataload(add(head, 0x40))
            }
            require(dataOffset >= 0x60 && dataOffset <= end - head - 0x20, MalformedExecution());
            uint256 lengthAt = head + dataOffset;
            uint256 length;
            assembly ("memory-safe") {
                length := calldataload(lengthAt)
            }
            require(length <= end - lengthAt - 0x20, MalformedExecution());
        }
    }

    /// @notice The single call of `execution`.
    function decodeSingle(bytes calldata execution)
        internal
        pure
        returns (address target, uint256 value, bytes calldata data)
    {
        require(execution.length >= 52, MalformedExecution());
        return ERC7579Utils.decodeSingle(execution);
    }

    /// @notice Reverts when a call would reach what a session may never touch: the account (its address, or
    /// `address(0)`, which OpenZeppelin's ERC-7579 executor calls as the account itself), this module, a
    /// canonical EntryPoint (v0.6, v0.7, v0.8: deposit, stake and nonce functions), or any module installed on
    /// the account (it would act as the account towards that module: grants, configuration).
    /// @dev The account is asked which addresses are its modules ({ILeashAccount-isModule}, every module type);
    /// an account without that view is asked for its validators and executors (ERC-7579 offers no lookup of a
    /// fallback handler by address). Calls to the account are allowed in validation (ERC-7562: it is the sender).
    function checkTarget(uint256 i, address target, address account) internal view {
        require(
            target != account && target != address(0) && target != address(this) && target != ENTRYPOINT_V07
                && target != ENTRYPOINT_V06 && target != ENTRYPOINT_V08 && !isModuleOf(account, target),
            ForbiddenTarget(i, target)
        );
    }

    /// @notice Whether `target` is one of `account`'s modules.
    function isModuleOf(address account, address target) internal view returns (bool) {
        (bool ok, bytes memory answer) = account.staticcall(abi.encodeCall(ILeashAccount.isModule, (target)));
        if (ok && answer.length == 32) return abi.decode(answer, (bool));
        IERC7579ModuleConfig config = IERC7579ModuleConfig(account);
        return config.isModuleInstalled(MODULE_TYPE_VALIDATOR, target, "")
            || config.isModuleInstalled(MODULE_TYPE_EXECUTOR, target, "");
    }

    /// @notice Checks target, selector, per-call value and argument rules of one call against the packed `action`.
    /// @dev The fixed fields lie in the first 92 bytes, checked present first, then read as raw words (a packed
    /// layout has no padding to decode); each rule is bounds-checked by {ruleAt} before it is read.
    /// @return amountPath The steps to the amount (empty: the word at the amount offset).
    /// @return period The action's packed period (what follows its rules), checked to fill the action exactly.
    function checkCall(
        ArgumentPaths paths,
        bytes calldata action,
        uint256 i,
        address target,
        uint256 value,
        bytes calldata data
    ) internal pure returns (bytes calldata amountPath, bytes calldata period) {
        require(action.length >= 92, MalformedSignature());
        uint256 flags = wordAt(action, 24) >> 248;
        if (flags & SessionTypes.ACTION_ANY_TARGET == 0) {
            address allowed = address(uint160(wordAt(action, 0) >> 96));
            require(target == allowed, TargetNotAllowed(i, target, allowed));
        }
        if (flags & SessionTypes.ACTION_ANY_SELECTOR == 0) {
            if (data.length == 0) {
                require(flags & SessionTypes.ACTION_NATIVE_TRANSFER != 0, NativeTransferNotAllowed(i));
            } else {
                require(data.length >= 4, NativeTransferNotAllowed(i));
                bytes4 selector = bytes4(bytes32(wordAt(action, 20)));
                bytes4 called = bytes4(bytes32(wordAt(data, 0)));
                require(called == selector, SelectorNotAllowed(i, called, selector));
            }
        }
        uint256 maxValue = wordAt(action, 25) >> 128;
        require(value <= maxValue, ValuePerCallExceeded(i, value, maxValue));

        uint256 count = wordAt(action, 71) >> 248;
        require(count <= SessionTypes.MAX_RULES, TooManyRules(count, SessionTypes.MAX_RULES));
        uint256 at = 72;
        for (uint256 r = 0; r < count; ++r) {
            bytes calldata rule = ruleAt(action, at);
            if (uint8(rule[0]) < SessionTypes.RULE_PATH) {
                bytes32 word = bytes32(argumentWord(i, data, (wordAt(rule, 0) >> 232) & 0xffff));
                require(ruleHolds(i, r, rule, word), ArgumentRuleFailed(i, r, uint8(rule[0]), word));
            } else {
                paths.check(i, r, rule, data);
            }
            unchecked {
                at += rule.length;
            }
        }
        return _tail(action, flags, at);
    }

    /// @notice The amount the action's amount cap sums in a call: the word at its offset, or where its path leads.
    function amountOf(
        ArgumentPaths paths,
        uint256 i,
        bytes calldata action,
        bytes calldata amountPath,
        bytes calldata data
    ) internal pure returns (uint256) {
        uint256 offset = wordAt(action, 45) >> 240;
        if (amountPath.length == 0) return argumentWord(i, data, offset);
        return paths.amount(i, offset, amountPath, data);
    }

    /// @notice The word at byte `at` of `data`, unchecked: the caller has bounded `at` (calldata past its end
    /// reads as zeros, and a packed field shorter than a word is shifted out of the rest).
    function wordAt(bytes calldata data, uint256 at) internal pure returns (uint256 word) {
        assembly ("memory-safe") {
            word := calldataload(add(data.offset, at))
        }
    }

    /// @notice The packed period of a packed action (what follows its rules and amount path), checked to fill the
    /// action exactly.
    function periodOf(bytes calldata action) internal pure returns (bytes calldata period) {
        require(action.length >= 92, MalformedSignature());
        uint256 count = uint8(action[71]);
        require(count <= SessionTypes.MAX_RULES, TooManyRules(count, SessionTypes.MAX_RULES));
        uint256 at = 72;
        for (uint256 r = 0; r < count; ++r) {
            at += ruleAt(action, at).length;
        }
        (, period) = _tail(action, uint8(action[24]), at);
    }

    /// @dev What follows the rules: the amount path (with `ACTION_AMOUNT_PATH`: its length, then its steps), then
    /// the period, which must end the action.
    function _tail(bytes calldata action, uint256 flags, uint256 at)
        private
        pure
        returns (bytes calldata amountPath, bytes calldata period)
    {
        amountPath = action[0:0];
        if (flags & SessionTypes.ACTION_AMOUNT_PATH != 0) {
            require(action.length > at, MalformedSignature());
            uint256 length = uint8(action[at]);
            require(action.length - at - 1 >= length, MalformedSignature());
            amountPath = action[at + 1:at + 1 + length];
            at += 1 + length;
        }
        require(action.length >= at + 20, MalformedSignature());
        assembly ("memory-safe") {
            period.offset := add(action.offset, at)
            period.length := sub(action.length, at)
        }
        require(PeriodLib.size(period) == period.length, MalformedSignature());
    }

    /// @notice The packed rule starting at byte `at` of `data`: op, offset, operand count, the path (with
    /// `RULE_PATH`: its length, then its steps), operands.
    function ruleAt(bytes calldata data, uint256 at) internal pure returns (bytes calldata rule) {
        require(data.length >= at + 4, MalformedSignature());
        uint256 head = wordAt(data, at);
        uint256 length = 4 + 32 * ((head >> 224) & 0xff);
        if (head >> 255 != 0) {
            require(data.length >= at + 5, MalformedSignature());
            length += 1 + ((head >> 216) & 0xff);
        }
        require(data.length - at >= length, MalformedSignature());
        assembly ("memory-safe") {
            rule.offset := add(data.offset, at)
            rule.length := length
        }
    }

    /// @notice The 32-byte word at `offset` in the call's arguments (after the 4-byte selector).
    function argumentWord(uint256 i, bytes calldata data, uint256 offset) internal pure returns (uint256) {
        uint256 argumentsLength = data.length < 4 ? 0 : data.length - 4;
        require(
            argumentsLength >= 32 && offset <= argumentsLength - 32, ArgumentOutOfBounds(i, offset, argumentsLength)
        );
        return wordAt(data, 4 + offset);
    }

    /// @notice Whether `word` passes the packed `rule` (reverts on a malformed rule). The rule's length was
    /// checked by {ruleAt} to hold its operands, which end it.
    function ruleHolds(uint256 i, uint256 r, bytes calldata rule, bytes32 word) internal pure returns (bool) {
        uint256 head = wordAt(rule, 0);
        uint256 op = (head >> 248) & 0x7f;
        uint256 count = (head >> 224) & 0xff;
        uint256 operands = rule.length - 32 * count;
        uint256 x = uint256(word);
        if (op == SessionTypes.OP_ONE_OF) {
            require(count != 0, InvalidRule(i, r));
            for (uint256 k = 0; k < count; ++k) {
                if (wordAt(rule, operands + 32 * k) == x) return true;
            }
            return false;
        }
        if (op == SessionTypes.OP_IN_RANGE) {
            require(count == 2, InvalidRule(i, r));
            return x >= wordAt(rule, operands) && x <= wordAt(rule, operands + 32);
        }
        require(count == 1 && op <= SessionTypes.OP_LTE, InvalidRule(i, r));
        uint256 v = wordAt(rule, operands);
        if (op == SessionTypes.OP_EQ) return x == v;
        if (op == SessionTypes.OP_NEQ) return x != v;
        if (op == SessionTypes.OP_GT) return x > v;
        if (op == SessionTypes.OP_GTE) return x >= v;
        if (op == SessionTypes.OP_LT) return x < v;
        return x <= v;
    }

    function _end(bytes calldata data) private pure returns (uint256 end) {
        assembly ("memory-safe") {
            end := add(data.offset, data.length)
        }
    }
}
