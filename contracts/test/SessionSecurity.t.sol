// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {IERC7579ModuleConfig} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {SessionKeyValidator} from "../src/SessionKeyValidator.sol";
import {CallPolicyLib} from "../src/libraries/CallPolicyLib.sol";
import {Action, Grant, Session, SessionRecord, SessionTypes, SessionUse} from "../src/SessionTypes.sol";
import {SessionEncoder} from "../src/SessionEncoder.sol";
import {LeashTest} from "./utils/LeashTest.sol";
import {deployValidator} from "./utils/Release.sol";

/// @notice What a session key can be made to attempt against its own account, through `handleOps`: every call
/// the account would really make to itself, its modules or the EntryPoint is refused whatever the policy says
/// (sudo included); grants are the owner's alone; the action a call is charged to is the one the key signed;
/// the module checks the bytes the account executes; fees are bounded.
contract SessionSecurityTest is LeashTest {
    SessionKeyValidator internal secondValidator;
    address internal constant THIEF = address(0xD1E);
    uint192 internal constant OWNER_KEY = 0x777;

    function setUp() public override {
        super.setUp();
        secondValidator = deployValidator();
        install(address(secondValidator));
        ENTRYPOINT.depositTo{value: 1 ether}(address(account));
    }

    function install(address module) internal {
        bytes memory call = abi.encodeCall(IERC7579ModuleConfig.installModule, (1, module, ""));
        send(ownerOp(singleCall(address(account), 0, call)));
    }

    /// @dev A granted session whose one action allows any call to any target.
    function grantedWide() internal returns (SessionUse memory use) {
        Action[] memory actions = one(anyCall());
        Session memory s = newSession(sessionSigner, actions);
        grantByOwner(s, actions);
        use = useOf(s, actions, 1);
    }

    /// @dev A granted sudo session.
    function grantedSudo() internal returns (SessionUse memory use) {
        Action[] memory none = new Action[](0);
        Session memory s = newSession(sessionSigner, none);
        s.flags |= SessionTypes.SESSION_SUDO;
        s.salt = "sudo";
        grantByOwner(s, none);
        use = useOf(s, none, 0);
    }

    function sudoSession() internal view returns (Session memory s) {
        s = newSession(sessionSigner, new Action[](0));
        s.flags |= SessionTypes.SESSION_SUDO;
        s.salt = "escalated";
    }

    /// @dev Every forbidden target and the call a session would make there as the account.
    function forbidden(uint256 which) internal view returns (address to, bytes memory data) {
        which %= 8;
        bytes memory takeOver = abi.encodeCall(IERC7579ModuleConfig.installModule, (1, address(target), ""));
        bytes memory grantSudo =
            abi.encodeCall(SessionKeyValidator.grantSession, (SessionEncoder.encode(sudoSession())));
        if (which == 0) return (address(0), takeOver);
        if (which == 1) return (address(account), takeOver);
        if (which == 2) return (address(validator), grantSudo);
        if (which == 3) return (address(secondValidator), grantSudo);
        if (which == 4) {
            return (address(ENTRYPOINT), abi.encodeWithSignature("withdrawTo(address,uint256)", THIEF, 1 ether));
        }
        if (which == 5) return (address(ENTRYPOINT), abi.encodeWithSignature("incrementNonce(uint192)", OWNER_KEY));
        if (which == 6) return (CallPolicyLib.ENTRYPOINT_V06, "");
        return (CallPolicyLib.ENTRYPOINT_V08, "");
    }

    /// @dev Everything a refused attack must leave as it was.
    struct Snapshot {
        uint256 balance;
        uint256 tokens;
        uint256 deposit;
        uint256 ownerNonce;
        uint32 epoch;
    }

    function snapshot() internal view returns (Snapshot memory) {
        return Snapshot(
            address(account).balance,
            usdc.balanceOf(address(account)),
            ENTRYPOINT.balanceOf(address(account)),
            ENTRYPOINT.getNonce(address(account), OWNER_KEY),
            validator.epochOf(address(account))
        );
    }

    function assertNothingMoved(Snapshot memory before) internal view {
        Snapshot memory now_ = snapshot();
        assertEq(now_.balance, before.balance, "ether unchanged");
        assertEq(now_.tokens, before.tokens, "tokens unchanged");
        assertEq(now_.deposit, before.deposit, "EntryPoint deposit unchanged");
        assertEq(now_.ownerNonce, before.ownerNonce, "owner's nonce unchanged");
        assertEq(now_.epoch, before.epoch, "epoch unchanged");
        assertEq(THIEF.balance, 0, "nothing withdrawn");
        assertTrue(!account.isModuleInstalled(1, address(target), ""), "no module installed");
        assertEq(validator.sessionState(address(account), sessionIdOf(sudoSession())), 0, "no sudo here");
        assertEq(secondValidator.sessionState(address(account), sessionIdOf(sudoSession())), 0, "no sudo there");
    }

    /// @dev The forbidden call at `position` of a batch of `size` allowed pings (size 1: a single call).
    function attackCallData(uint256 which, uint256 size, uint256 position)
        internal
        view
        returns (bytes memory callData, address to)
    {
        bytes memory data;
        (to, data) = forbidden(which);
        if (size == 1) return (singleCall(to, 0, data), to);
        Execution[] memory calls = new Execution[](size);
        for (uint256 k = 0; k < size; ++k) {
            calls[k] = k == position
                ? Execution(to, 0, data)
                : Execution(address(usdc), 0, abi.encodeCall(usdc.transfer, (merchant, 1)));
        }
        return (batchCall(calls), to);
    }

    function testFuzz_RevertWhen_WideSessionReachesAForbiddenTarget(uint256 which, uint256 size, uint256 position)
        public
    {
        size = bound(size, 1, 5);
        position = bound(position, 0, size - 1);
        SessionUse memory use = grantedWide();
        use.callActions = new bytes(size);
        (bytes memory callData, address to) = attackCallData(which, size, position);
        Snapshot memory before = snapshot();
        expectRejected(
            sessionOp(callData, use), abi.encodeWithSelector(CallPolicyLib.ForbiddenTarget.selector, position, to)
        );
        assertNothingMoved(before);
    }

    function testFuzz_RevertWhen_SudoReachesAForbiddenTarget(uint256 which, uint256 size, uint256 position) public {
        size = bound(size, 1, 5);
        position = bound(position, 0, size - 1);
        SessionUse memory use = grantedSudo();
        (bytes memory callData, address to) = attackCallData(which, size, position);
        Snapshot memory before = snapshot();
        expectRejected(
            sessionOp(callData, use), abi.encodeWithSelector(CallPolicyLib.ForbiddenTarget.selector, position, to)
        );
        assertNothingMoved(before);
    }

    /// forge-config: default.isolate = true
    /// (isolated: each `handleOps` is its own transaction, as on chain, so the account's transient flag clears)
    /// @dev Pre-planting: a session writes a sudo grant into a module instance that is not installed yet (an
    /// ordinary call, since it is not yet a module); installing it later brings nothing to life.
    function test_RevertWhen_SessionPrePlantsGrantsInAModuleNotYetInstalled() public {
        SessionKeyValidator nextRelease = deployValidator();
        SessionUse memory use = grantedWide();
        Session memory sudo = sudoSession();
        bytes memory plant = abi.encodeCall(SessionKeyValidator.grantSession, (SessionEncoder.encode(sudo)));
        send(sessionOp(singleCall(address(nextRelease), 0, plant), use));
        // Calling `onInstall` itself first, as the account, does not make the module installed.
        Execution[] memory calls = new Execution[](2);
        calls[0] = Execution(address(nextRelease), 0, abi.encodeCall(SessionKeyValidator.onInstall, ("")));
        calls[1] = Execution(address(nextRelease), 0, plant);
        use.callActions = new bytes(2);
        send(sessionOp(batchCall(calls), use));
        assertTrue(!nextRelease.isInstalled(address(account)), "not installed by a session");
        use.callActions = new bytes(1);
        install(address(nextRelease));
        assertEq(nextRelease.sessionState(address(account), sessionIdOf(sudo)), 0, "nothing planted");
        // Once installed it is one of the account's modules: out of reach.
        expectRejected(
            sessionOp(singleCall(address(nextRelease), 0, plant), use),
            abi.encodeWithSelector(CallPolicyLib.ForbiddenTarget.selector, 0, address(nextRelease))
        );
    }

    /// forge-config: default.isolate = true
    /// (isolated: each `handleOps` is its own transaction, as on chain, so the account's transient flag clears)
    /// @dev The attacker bundles the owner's pending "install module M" operation with a session operation that
    /// calls M: validated before the install, the call would reach M as one of the account's modules. The
    /// account refuses to install a module in a bundle that carries a module-validated operation.
    function test_RevertWhen_InstallAndSessionCallShareABundle() public {
        SessionKeyValidator nextRelease = deployValidator();
        SessionUse memory use = grantedWide();
        Session memory sudo = sudoSession();
        bytes memory plant = abi.encodeCall(SessionKeyValidator.grantSession, (SessionEncoder.encode(sudo)));
        bytes memory installCall = abi.encodeCall(IERC7579ModuleConfig.installModule, (1, address(nextRelease), ""));
        PackedUserOperation[] memory ops = new PackedUserOperation[](2);
        ops[0] = ownerOp(singleCall(address(account), 0, installCall));
        // The session op's nonce is on its own key, so both validate in one bundle.
        ops[1] = sessionOp(singleCall(address(nextRelease), 0, plant), use);
        ENTRYPOINT.handleOps(ops, beneficiary);
        assertTrue(!account.isModuleInstalled(1, address(nextRelease), ""), "the install was refused");
        assertEq(nextRelease.sessionState(address(account), sessionIdOf(sudo)), 0, "no sudo grant");
        // Sent on its own, the install goes through.
        install(address(nextRelease));
        assertTrue(account.isModuleInstalled(1, address(nextRelease), ""), "installed alone");
    }

    /// @dev A session of another installed validator, with unrestricted ERC-1271 signing, approves a sudo grant
    /// here through the account's ERC-1271 routing: refused, grants are the owner's alone.
    function test_RevertWhen_GrantIsApprovedThroughAnotherModule() public {
        Action[] memory actions = one(anyCall());
        Session memory signer = newSession(sessionSigner, actions);
        signer.flags |= SessionTypes.SESSION_SIGN_ANY;
        bytes memory call = abi.encodeCall(SessionKeyValidator.grantSession, (SessionEncoder.encode(signer)));
        send(ownerOp(singleCall(address(secondValidator), 0, call)));

        Session memory sudo = sudoSession();
        bytes32 sudoId = sessionIdOf(sudo);
        bytes32 root = validator.grantRootDigest(validator.grantDigest(address(account), sudoId, 0));
        bytes32 digest = secondValidator.messageDigest(address(account), sessionIdOf(signer), root);
        (uint8 v, bytes32 r, bytes32 sig) = vm.sign(sessionKey, digest);
        Grant memory grant;
        grant.ownerSignature = abi.encodePacked(
            address(secondValidator), SessionEncoder.encodeMessage(signer, abi.encodePacked(r, sig, v), "")
        );
        // The routed signature is valid ERC-1271 for the account...
        vm.prank(address(validator));
        assertEq(account.isValidSignature(root, grant.ownerSignature), bytes4(0x1626ba7e), "ERC-1271 accepts it");
        // ...and still approves nothing here.
        expectRejected(
            grantingOp(singleCall(merchant, 1, ""), useOf(sudo, new Action[](0), 0), grant),
            abi.encodeWithSelector(SessionKeyValidator.InvalidGrantSignature.selector, sudoId)
        );
        assertEq(validator.sessionState(address(account), sudoId), 0, "no sudo grant");
    }

    /// @dev The session key signed a call charged to the daily action; whoever relays the op re-encodes it to
    /// charge the monthly one instead: the signature no longer verifies and no counter moves.
    function test_RevertWhen_RelayerSwapsTheChargedAction() public {
        Action[] memory actions = new Action[](2);
        actions[0] = transferAction(10e6, everySeconds(1 days));
        actions[1] = transferAction(100e6, monthly());
        Session memory s = newSession(sessionSigner, actions);
        grantByOwner(s, actions);
        SessionUse memory use = useOf(s, actions, 1);
        PackedUserOperation memory op = sessionOp(transferCall(merchant, 5e6), use);
        use.callActions[0] = bytes1(uint8(1));
        op.signature = packUse(use);
        expectFailedOp(op, "AA24 signature error");
        bytes32 id = sessionIdOf(s);
        assertEq(validator.actionRecord(address(account), id, actionHashOf(actions[1])).uses, 0, "monthly");
        assertEq(usdc.balanceOf(merchant), 0, "nothing paid");
    }

    /// @dev A batch element whose `callData` offset wraps around to point before the execution data: the module
    /// would read other bytes of the operation than the account executes. Refused.
    function testFuzz_RevertWhen_BatchOffsetPointsBeforeTheExecution(uint256 back) public {
        back = bound(back, 1, 0x400);
        SessionUse memory use = grantedWide();
        Execution[] memory calls = new Execution[](1);
        calls[0] = Execution(address(usdc), 0, abi.encodeCall(usdc.transfer, (merchant, 1)));
        bytes memory execution = abi.encode(calls);
        // Layout: [0x00] array offset, [0x20] length, [0x40] element offset, [0x60] target, [0x80] value,
        // [0xa0] callData offset (relative to the element head at 0x60).
        uint256 wrapped = type(uint256).max - back + 1; // -back
        assembly ("memory-safe") {
            mstore(add(execution, 0xc0), wrapped)
        }
        bytes memory callData = abi.encodeWithSignature("execute(bytes32,bytes)", bytes32(bytes1(0x01)), execution);
        expectRejected(sessionOp(callData, use), abi.encodeWithSelector(CallPolicyLib.MalformedExecution.selector));
    }

    /// @dev Without a gas budget and without a required paymaster, an agent bundling its own op could set any
    /// fee: such a session is never granted, by transaction or lazily.
    function test_RevertWhen_SessionHasNeitherGasBudgetNorPaymaster() public {
        Action[] memory actions = one(transferAction(10e6, monthly()));
        Session memory s = newSession(sessionSigner, actions);
        s.flags = 0;
        s.gasBudget = 0;
        bytes32 id = sessionIdOf(s);
        vm.prank(address(account));
        vm.expectRevert(abi.encodeWithSelector(SessionKeyValidator.GasBudgetRequired.selector, id));
        validator.grantSession(SessionEncoder.encode(s));
        expectRejected(
            grantingOp(transferCall(merchant, 1), useOf(s, actions, 1), ownerGrant(address(account), s)),
            abi.encodeWithSelector(SessionKeyValidator.GasBudgetRequired.selector, id)
        );
        // A required paymaster bounds the account's fees as well (the paymaster pays).
        s.paymaster = address(0xAA);
        vm.prank(address(account));
        validator.grantSession(SessionEncoder.encode(s));
        assertEq(validator.sessionState(address(account), sessionIdOf(s)), 1, "granted");
    }

    /// @dev An account the module is not installed on cannot grant or revoke one session through it.
    function test_RevertWhen_GrantingOnAnAccountWithoutTheModule() public {
        Action[] memory actions = one(transferAction(10e6, monthly()));
        Session memory s = newSession(sessionSigner, actions);
        vm.prank(address(0xBEEF));
        vm.expectRevert(abi.encodeWithSelector(SessionKeyValidator.NotInstalled.selector, address(0xBEEF)));
        validator.grantSession(SessionEncoder.encode(s));
    }
}
