// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {Account as OZAccount} from "@openzeppelin/contracts/account/Account.sol";
import {ERC1967Utils} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Utils.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts/proxy/utils/UUPSUpgradeable.sol";
import {LeashAccount} from "../src/LeashAccount.sol";
import {CallPolicyLib} from "../src/libraries/CallPolicyLib.sol";
import {SessionKeyValidator} from "../src/SessionKeyValidator.sol";
import {Action, Grant, Session, SessionUse} from "../src/SessionTypes.sol";
import {LeashTest} from "./utils/LeashTest.sol";
import {Vm} from "./utils/TestBase.sol";
import {deployAccountImplementation} from "./utils/Release.sol";

/// @notice Owner rotation and upgrades: the owner's alone, through an operation it signed; never a session's,
/// whatever its policy; an upgrade keeps the account's storage, so its owner, modules and sessions.
contract OwnerChangesTest is LeashTest {
    uint256 internal constant NEW_OWNER_KEY = 0xB0B;

    function setUp() public override {
        super.setUp();
        ENTRYPOINT.depositTo{value: 1 ether}(address(account));
    }

    function setOwnerCall(address newOwner) internal view returns (bytes memory) {
        return singleCall(address(account), 0, abi.encodeCall(LeashAccount.setOwner, (newOwner)));
    }

    /// @dev A granted session allowed any call to any target (never the account itself).
    function grantedWide() internal returns (SessionUse memory use) {
        Action[] memory actions = one(anyCall());
        Session memory s = newSession(sessionSigner, actions);
        grantByOwner(s, actions);
        use = useOf(s, actions, 1);
    }

    function test_OwnerRotates() public {
        address newOwner = vm.addr(NEW_OWNER_KEY);
        send(ownerOp(setOwnerCall(newOwner)));
        assertEq(account.owner(), newOwner, "the new owner is the owner");

        // The old key signs nothing for the account any more.
        PackedUserOperation memory op = ownerOp(transferCall(merchant, 1e6));
        expectFailedOp(op, "AA24 signature error");
        assertFalse(account.isOwnerSignature(keccak256("x"), signWith(ownerKey, keccak256("x"))), "old key");

        // The new one does.
        op = baseOp(address(account), 0, transferCall(merchant, 1e6));
        op.signature = signWith(NEW_OWNER_KEY, ENTRYPOINT.getUserOpHash(op));
        send(op);
        assertEq(usdc.balanceOf(merchant), 1e6, "the new owner's operation landed");
    }

    function test_RevertWhen_OwnerIsRotatedToZero() public {
        vm.recordLogs();
        send(ownerOp(setOwnerCall(address(0))));
        assertEq(
            keccak256(revertReason()),
            keccak256(abi.encodeWithSelector(LeashAccount.InvalidOwner.selector)),
            "refused as no owner"
        );
        assertEq(account.owner(), owner, "the owner stayed");
    }

    /// @dev The revert reason of the last operation whose execution reverted (the EntryPoint's event).
    function revertReason() internal returns (bytes memory reason) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        bytes32 topic = keccak256("UserOperationRevertReason(bytes32,address,uint256,bytes)");
        for (uint256 i = logs.length; i > 0; --i) {
            if (logs[i - 1].topics[0] == topic) {
                (, reason) = abi.decode(logs[i - 1].data, (uint256, bytes));
                return reason;
            }
        }
        revert("no operation reverted");
    }

    function test_RevertWhen_StrangerSetsOwner() public {
        vm.prank(merchant);
        vm.expectRevert(abi.encodeWithSelector(OZAccount.AccountUnauthorized.selector, merchant));
        account.setOwner(merchant);
    }

    /// @dev A session allowed any call cannot name the account as its target: the module refuses it.
    function test_RevertWhen_SessionSetsOwnerThroughExecute() public {
        SessionUse memory use = grantedWide();
        PackedUserOperation memory op = sessionOp(setOwnerCall(sessionSigner), use);
        expectRejected(op, abi.encodeWithSelector(CallPolicyLib.ForbiddenTarget.selector, 0, address(account)));
        assertEq(account.owner(), owner, "the owner stayed");
    }

    /// @dev Nor can its operation's call data be `setOwner` itself, which the EntryPoint would call directly.
    function test_RevertWhen_SessionOperationCallsSetOwnerDirectly() public {
        SessionUse memory use = grantedWide();
        bytes memory callData = abi.encodeCall(LeashAccount.setOwner, (sessionSigner));
        PackedUserOperation memory op = sessionOp(callData, use);
        expectRejected(
            op, abi.encodeWithSelector(CallPolicyLib.UnsupportedCallData.selector, LeashAccount.setOwner.selector)
        );
        assertEq(account.owner(), owner, "the owner stayed");
    }

    /// @dev An owner's rotation in the bundle of a session's operation is refused when it executes: the session's
    /// calls were judged against the old configuration.
    /// forge-config: default.isolate = true
    /// (isolated: each `handleOps` is its own transaction, as on chain, so the account's transient flag clears)
    function test_RevertWhen_RotationSharesABundleWithASessionOperation() public {
        SessionUse memory use = grantedWide();
        PackedUserOperation[] memory ops = new PackedUserOperation[](2);
        ops[0] = sessionOp(transferCall(merchant, 1e6), use);
        ops[1] = ownerOp(setOwnerCall(vm.addr(NEW_OWNER_KEY)));
        ENTRYPOINT.handleOps(ops, beneficiary);
        assertEq(usdc.balanceOf(merchant), 1e6, "the session's operation landed");
        assertEq(account.owner(), owner, "the rotation was refused");
        send(ownerOp(setOwnerCall(vm.addr(NEW_OWNER_KEY))));
        assertEq(account.owner(), vm.addr(NEW_OWNER_KEY), "sent alone, it rotates");
    }

    /// @dev A grant the old owner signed and nobody used yet cannot start a session after the rotation.
    function test_RevertWhen_OldOwnersUnusedGrantIsUsedAfterRotation() public {
        Action[] memory actions = one(anyCall());
        Session memory s = newSession(sessionSigner, actions);
        Grant memory grant = ownerGrant(address(account), s);
        send(ownerOp(setOwnerCall(vm.addr(NEW_OWNER_KEY))));
        PackedUserOperation memory op = grantingOp(transferCall(merchant, 1e6), useOf(s, actions, 1), grant);
        expectRejected(op, abi.encodeWithSelector(SessionKeyValidator.InvalidGrantSignature.selector, sessionIdOf(s)));
    }

    function test_UpgradeKeepsOwnerModulesAndSessions() public {
        SessionUse memory use = grantedWide();
        LeashAccount next = deployAccountImplementation();
        bytes memory call = abi.encodeCall(UUPSUpgradeable.upgradeToAndCall, (address(next), ""));
        send(ownerOp(singleCall(address(account), 0, call)));

        bytes32 slot = vm.load(address(account), ERC1967Utils.IMPLEMENTATION_SLOT);
        assertEq(address(uint160(uint256(slot))), address(next), "the proxy points to the new implementation");
        assertEq(account.owner(), owner, "the owner carried over");
        assertTrue(account.isModuleInstalled(1, address(validator), ""), "the module carried over");
        send(sessionOp(transferCall(merchant, 2e6), use));
        assertEq(usdc.balanceOf(merchant), 2e6, "the session still works");
    }

    function test_RevertWhen_SessionUpgradesTheAccount() public {
        SessionUse memory use = grantedWide();
        LeashAccount next = deployAccountImplementation();
        bytes memory callData = abi.encodeCall(UUPSUpgradeable.upgradeToAndCall, (address(next), ""));
        expectRejected(
            sessionOp(callData, use),
            abi.encodeWithSelector(
                CallPolicyLib.UnsupportedCallData.selector, UUPSUpgradeable.upgradeToAndCall.selector
            )
        );
        expectRejected(
            sessionOp(singleCall(address(account), 0, callData), use),
            abi.encodeWithSelector(CallPolicyLib.ForbiddenTarget.selector, 0, address(account))
        );
    }

    function test_RevertWhen_StrangerUpgradesTheAccount() public {
        LeashAccount next = deployAccountImplementation();
        vm.prank(merchant);
        vm.expectRevert(abi.encodeWithSelector(OZAccount.AccountUnauthorized.selector, merchant));
        account.upgradeToAndCall(address(next), "");
    }

    /// @dev A contract that is not a UUPS implementation would brick the account: OpenZeppelin refuses it.
    function test_RevertWhen_UpgradeTargetIsNotAnImplementation() public {
        bytes32 before = vm.load(address(account), ERC1967Utils.IMPLEMENTATION_SLOT);
        bytes memory call = abi.encodeCall(UUPSUpgradeable.upgradeToAndCall, (address(usdc), ""));
        vm.recordLogs();
        send(ownerOp(singleCall(address(account), 0, call)));
        assertEq(
            keccak256(revertReason()),
            keccak256(abi.encodeWithSelector(ERC1967Utils.ERC1967InvalidImplementation.selector, address(usdc))),
            "refused as not an implementation"
        );
        assertEq(vm.load(address(account), ERC1967Utils.IMPLEMENTATION_SLOT), before, "the implementation stayed");
    }

    function signWith(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }
}
