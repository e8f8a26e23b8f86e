// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {ArgumentPaths} from "../src/ArgumentPaths.sol";
import {CallPolicyLib} from "../src/libraries/CallPolicyLib.sol";
import {Action, ArgRule, Session, SessionTypes, SessionUse} from "../src/SessionTypes.sol";
import {LeashTest} from "./utils/LeashTest.sol";

/// @dev Functions with dynamic arguments, decoded by Solidity itself: what the called contract would read.
contract Decoders {
    struct Leg {
        address token;
        uint256 amount;
        bytes route;
    }

    struct ExactInput {
        bytes path;
        address recipient;
        uint256 amountIn;
    }

    uint256 public calls;

    function route(uint256, address[] calldata path) external pure returns (address last, uint256 length) {
        return (path[path.length - 1], path.length);
    }

    function legs(uint256, Leg[] calldata list) external pure returns (address lastToken, uint256 lastAmount) {
        return (list[list.length - 1].token, list[list.length - 1].amount);
    }

    function exactInput(ExactInput calldata params) external pure returns (address recipient, uint256 amountIn) {
        return (params.recipient, params.amountIn);
    }

    /// @dev Something a session calls for real (the module judges its arguments, this only counts).
    function swap(address[] calldata, address) external {
        ++calls;
    }
}

/// @notice The argument-path reader on its own (fuzzed against Solidity's decoder) and through the module.
contract ArgumentPathsTest is LeashTest {
    ArgumentPaths internal paths;
    Decoders internal decoders;

    function setUp() public override {
        super.setUp();
        paths = validator.argumentPaths();
        decoders = new Decoders();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Steps
    // ---------------------------------------------------------------------------------------------------------

    function field(uint16 offset) internal pure returns (bytes memory) {
        return abi.encodePacked(SessionTypes.STEP_FIELD, offset);
    }

    function deref(uint16 head) internal pure returns (bytes memory) {
        return abi.encodePacked(SessionTypes.STEP_DEREF, head);
    }

    function index(int16 i, uint16 stride) internal pure returns (bytes memory) {
        return abi.encodePacked(SessionTypes.STEP_INDEX, i, stride);
    }

    function every(uint16 max, uint16 stride) internal pure returns (bytes memory) {
        return abi.encodePacked(SessionTypes.STEP_EVERY, max, stride);
    }

    function v3Token(int16 i) internal pure returns (bytes memory) {
        return abi.encodePacked(SessionTypes.STEP_PACKED, i, uint8(0), uint8(20), uint8(23), uint8(20));
    }

    function pathRule(uint8 op, uint16 offset, bytes memory steps, bytes32 value) internal pure returns (bytes memory) {
        return abi.encodePacked(op | SessionTypes.RULE_PATH, offset, uint8(1), uint8(steps.length), steps, value);
    }

    function lastOfRoute() internal pure returns (bytes memory) {
        // route(uint256, address[] path): path's offset in the second head word; the last element.
        return abi.encodePacked(deref(64), index(-1, 32));
    }

    // ---------------------------------------------------------------------------------------------------------
    // The reader against Solidity's decoder
    // ---------------------------------------------------------------------------------------------------------

    function testFuzz_LastElement_IsWhatSolidityDecodes(address[] memory list) public view {
        vm.assume(list.length > 0);
        bytes memory data = abi.encodeCall(Decoders.route, (7, list));
        uint256 read = paths.amount(0, 32, lastOfRoute(), data);
        assertEq(address(uint160(read)), list[list.length - 1], "path[-1]");
        uint256 length = paths.amount(0, 32, abi.encodePacked(deref(64), SessionTypes.STEP_LENGTH), data);
        assertEq(length, list.length, "len(path)");
    }

    /// @dev The property the module stands on: from arguments with any word replaced by anything, what the module
    /// reads is what Solidity's decoder reads, whenever both read. (Where only the module reads, as a dirty
    /// address it compares as a number, the called contract refuses the call: nothing happens.)
    function testFuzz_TamperedWord_ReadAsSolidityReadsIt(address[8] memory pool, uint8 count, uint8 at, bytes32 word)
        public
        view
    {
        address[] memory list = new address[](bound(count, 1, 8));
        for (uint256 i = 0; i < list.length; ++i) {
            list[i] = pool[i];
        }
        bytes memory data = abi.encodeCall(Decoders.route, (7, list));
        uint256 position = 4 + 32 * (uint256(at) % ((data.length - 4) / 32));
        assembly ("memory-safe") {
            mstore(add(add(data, 0x20), position), word)
        }
        try paths.amount(0, 32, lastOfRoute(), data) returns (uint256 read) {
            (bool ok, bytes memory answer) = address(decoders).staticcall(data);
            if (ok) {
                (address last,) = abi.decode(answer, (address, uint256));
                assertEq(uint256(uint160(last)), read, "the same element");
            }
        } catch {}
    }

    function testFuzz_StructInArray_ReadAsSolidityReadsIt(uint8 count, uint8 at, bytes32 word, bool tamper)
        public
        view
    {
        Decoders.Leg[] memory list = new Decoders.Leg[](bound(count, 1, 4));
        for (uint256 i = 0; i < list.length; ++i) {
            list[i] = Decoders.Leg(address(uint160(0x1000 + i)), 100 + i, new bytes(i * 7));
        }
        bytes memory data = abi.encodeCall(Decoders.legs, (7, list));
        if (tamper) {
            uint256 position = 4 + 32 * (uint256(at) % ((data.length - 4) / 32));
            assembly ("memory-safe") {
                mstore(add(add(data, 0x20), position), word)
            }
        }
        // legs[-1].amount: follow `list`, the last (dynamic) element, its second field.
        bytes memory steps = abi.encodePacked(deref(64), index(-1, 0), field(32));
        try paths.amount(0, 32, steps, data) returns (uint256 read) {
            (bool ok, bytes memory answer) = address(decoders).staticcall(data);
            assertTrue(ok || tamper, "Solidity decodes well-formed arguments");
            if (ok) {
                (, uint256 amount) = abi.decode(answer, (address, uint256));
                assertEq(amount, read, "the same amount");
            }
        } catch {
            assertTrue(tamper, "well-formed arguments are read");
        }
    }

    function testFuzz_DynamicStruct_ReadAsSolidityReadsIt(bytes memory path, uint256 amountIn, uint8 at, bytes32 word)
        public
        view
    {
        bytes memory data = abi.encodeCall(Decoders.exactInput, (Decoders.ExactInput(path, address(0xbeef), amountIn)));
        uint256 position = 4 + 32 * (uint256(at) % ((data.length - 4) / 32));
        assembly ("memory-safe") {
            mstore(add(add(data, 0x20), position), word)
        }
        // params.amountIn: the struct behind the first head word (a head of 32), its third field.
        bytes memory steps = abi.encodePacked(deref(32), field(64));
        try paths.amount(0, 0, steps, data) returns (uint256 read) {
            (bool ok, bytes memory answer) = address(decoders).staticcall(data);
            if (ok) {
                (, uint256 decoded) = abi.decode(answer, (address, uint256));
                assertEq(decoded, read, "the same amountIn");
            }
        } catch {}
    }

    // ---------------------------------------------------------------------------------------------------------
    // Refusals, each named
    // ---------------------------------------------------------------------------------------------------------

    function routeData(uint256 n) internal pure returns (bytes memory) {
        address[] memory list = new address[](n);
        for (uint256 i = 0; i < n; ++i) {
            list[i] = address(uint160(0xa0 + i));
        }
        return abi.encodeCall(Decoders.route, (7, list));
    }

    function setWord(bytes memory data, uint256 at, uint256 word) internal pure returns (bytes memory) {
        assembly ("memory-safe") {
            mstore(add(add(data, 0x20), add(4, at)), word)
        }
        return data;
    }

    function test_RevertWhen_OffsetPointsIntoTheHead() public {
        // The offset of `path` pointed at the first argument's word: it would alias a static field.
        bytes memory data = setWord(routeData(2), 32, 0);
        vm.expectRevert(abi.encodeWithSelector(ArgumentPaths.MalformedArguments.selector, 0, 0));
        paths.amount(0, 32, lastOfRoute(), data);
    }

    function test_RevertWhen_OffsetIsUnaligned() public {
        bytes memory data = setWord(routeData(2), 32, 0x41);
        vm.expectRevert(abi.encodeWithSelector(ArgumentPaths.MalformedArguments.selector, 0, 0));
        paths.amount(0, 32, lastOfRoute(), data);
    }

    function test_RevertWhen_OffsetPointsPastTheArguments() public {
        bytes memory data = setWord(routeData(2), 32, type(uint256).max - 31);
        vm.expectRevert(abi.encodeWithSelector(ArgumentPaths.MalformedArguments.selector, 0, 0));
        paths.amount(0, 32, lastOfRoute(), data);
    }

    function test_RevertWhen_LengthPassesTheArguments() public {
        // Two elements, a length of 2^200: reading element -1 would wrap around.
        bytes memory data = setWord(routeData(2), 64, 1 << 200);
        vm.expectRevert(abi.encodeWithSelector(ArgumentPaths.MalformedArguments.selector, 0, 64));
        paths.amount(0, 32, lastOfRoute(), data);
    }

    function test_RevertWhen_LengthWordPassesTheArguments() public {
        // len(path) with a length of 2^32: a reader keeping 32 bits would see 0; the module refuses it.
        bytes memory steps = abi.encodePacked(deref(64), SessionTypes.STEP_LENGTH);
        vm.expectRevert(abi.encodeWithSelector(ArgumentPaths.MalformedArguments.selector, 0, 64));
        paths.amount(0, 32, steps, setWord(routeData(2), 64, 1 << 32));
        assertEq(paths.amount(0, 32, steps, routeData(2)), 2, "a length that fits is read");
    }

    function test_RevertWhen_ElementIsMissing() public {
        vm.expectRevert(abi.encodeWithSelector(ArgumentPaths.NoSuchElement.selector, 0, int256(-1), 0));
        paths.amount(0, 32, lastOfRoute(), routeData(0));
        vm.expectRevert(abi.encodeWithSelector(ArgumentPaths.NoSuchElement.selector, 0, int256(3), 3));
        paths.amount(0, 32, abi.encodePacked(deref(64), index(3, 32)), routeData(3));
    }

    function test_RevertWhen_MoreElementsThanTheBound() public {
        bytes memory rule = pathRule(SessionTypes.OP_NEQ, 32, abi.encodePacked(deref(64), every(2, 32)), 0);
        paths.check(0, 0, rule, routeData(2));
        vm.expectRevert(abi.encodeWithSelector(ArgumentPaths.TooManyElements.selector, 0, 3, 2));
        paths.check(0, 0, rule, routeData(3));
    }

    function test_EveryElement_MustPass() public {
        // path[*] != 0xa1: the second element fails, and the error names its value.
        bytes memory rule =
            pathRule(SessionTypes.OP_NEQ, 32, abi.encodePacked(deref(64), every(8, 32)), bytes32(uint256(0xa1)));
        paths.check(0, 0, rule, routeData(1));
        vm.expectRevert(
            abi.encodeWithSelector(
                CallPolicyLib.ArgumentRuleFailed.selector, 0, 0, SessionTypes.OP_NEQ, bytes32(uint256(0xa1))
            )
        );
        paths.check(0, 0, rule, routeData(3));
    }

    function test_UniswapV3Path_Hops() public view {
        address a = address(0xA);
        address b = address(0xB);
        address c = address(0xC);
        bytes memory path = abi.encodePacked(a, uint24(500), b, uint24(3000), c);
        bytes memory data = abi.encodeCall(Decoders.exactInput, (Decoders.ExactInput(path, address(0xbeef), 1)));
        bytes memory toPath = abi.encodePacked(deref(32), field(0), deref(96));
        assertEq(paths.amount(0, 0, abi.encodePacked(toPath, v3Token(0)), data), uint160(a), "first token");
        assertEq(paths.amount(0, 0, abi.encodePacked(toPath, v3Token(-1)), data), uint160(c), "last token");
        bytes memory fee =
            abi.encodePacked(SessionTypes.STEP_PACKED, int16(1), uint8(20), uint8(3), uint8(23), uint8(20));
        assertEq(paths.amount(0, 0, abi.encodePacked(toPath, fee), data), 3000, "second fee tier");
    }

    function test_RevertWhen_UniswapV3PathHasTrailingBytes() public {
        // A router reads 43 bytes of this path and ignores the rest: the module would not read the same last
        // token, so it refuses a path of any other shape than 20 + 23n bytes.
        bytes memory path = abi.encodePacked(address(0xA), uint24(500), address(0xB), bytes5(0));
        bytes memory data = abi.encodeCall(Decoders.exactInput, (Decoders.ExactInput(path, address(0xbeef), 1)));
        bytes memory steps = abi.encodePacked(deref(32), field(0), deref(96), v3Token(-1));
        vm.expectRevert(abi.encodeWithSelector(ArgumentPaths.MalformedArguments.selector, 0, 128));
        paths.amount(0, 0, steps, data);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Through the module and the EntryPoint
    // ---------------------------------------------------------------------------------------------------------

    /// @dev `swap(address[] path, address to)` on the decoders, every hop one of two tokens, path[-1] the second.
    function swapAction() internal view returns (Action memory a) {
        a.target = address(decoders);
        a.selector = Decoders.swap.selector;
        a.rules = new ArgRule[](2);
        a.rules[0].op = SessionTypes.OP_ONE_OF;
        a.rules[0].offset = 0;
        a.rules[0].path = abi.encodePacked(deref(64), every(3, 32));
        a.rules[0].values = new bytes32[](2);
        a.rules[0].values[0] = bytes32(uint256(uint160(address(usdc))));
        a.rules[0].values[1] = bytes32(uint256(uint160(address(0xE7))));
        a.rules[1] = rule(SessionTypes.OP_EQ, 0, bytes32(uint256(uint160(address(0xE7)))));
        a.rules[1].path = abi.encodePacked(deref(64), index(-1, 32));
    }

    function swapCall(address[] memory path) internal view returns (bytes memory) {
        return singleCall(address(decoders), 0, abi.encodeCall(Decoders.swap, (path, merchant)));
    }

    function test_PathRules_AllowAndRefuseThroughTheEntryPoint() public {
        Action[] memory actions = one(swapAction());
        grantByOwner(newSessionOf(actions), actions);
        address[] memory good = new address[](2);
        good[0] = address(usdc);
        good[1] = address(0xE7);
        SessionUse memory use = useOf(newSessionOf(actions), actions, 1);
        send(sessionOp(swapCall(good), use));
        assertEq(decoders.calls(), 1, "the swap on an allowed path landed");

        // Routed through a token off the list.
        address[] memory offList = new address[](3);
        offList[0] = address(usdc);
        offList[1] = address(0xBAD);
        offList[2] = address(0xE7);
        expectRejected(
            sessionOp(swapCall(offList), use),
            abi.encodeWithSelector(
                CallPolicyLib.ArgumentRuleFailed.selector,
                0,
                0,
                SessionTypes.OP_ONE_OF,
                bytes32(uint256(uint160(address(0xBAD))))
            )
        );
        // Ending on the wrong token.
        address[] memory wrongEnd = new address[](1);
        wrongEnd[0] = address(usdc);
        expectRejected(
            sessionOp(swapCall(wrongEnd), use),
            abi.encodeWithSelector(
                CallPolicyLib.ArgumentRuleFailed.selector,
                0,
                1,
                SessionTypes.OP_EQ,
                bytes32(uint256(uint160(address(usdc))))
            )
        );
        // More hops than the bound.
        address[] memory long = new address[](4);
        for (uint256 i = 0; i < 4; ++i) {
            long[i] = address(usdc);
        }
        expectRejected(
            sessionOp(swapCall(long), use), abi.encodeWithSelector(ArgumentPaths.TooManyElements.selector, 0, 4, 3)
        );
        assertEq(decoders.calls(), 1, "nothing refused ran");
    }

    function newSessionOf(Action[] memory actions) internal view returns (Session memory) {
        return newSession(sessionSigner, actions);
    }
}
