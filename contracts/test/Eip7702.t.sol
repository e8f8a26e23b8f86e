// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {Account as OZAccount} from "@openzeppelin/contracts/account/Account.sol";
import {IERC7579ModuleConfig} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {ERC1967Utils} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Utils.sol";
import {LeashAccount} from "../src/LeashAccount.sol";
import {SessionKeyValidator} from "../src/SessionKeyValidator.sol";
import {Action, Session, SessionUse} from "../src/SessionTypes.sol";
import {LeashTest} from "./utils/LeashTest.sol";
import {deployAccountImplementation, deployValidator} from "./utils/Release.sol";

/// @dev What an earlier delegation may have left: anything in any slot. This one writes an address of its choice
/// into the first sequential slots (where an owner or a module set would live) and can be called by anyone.
contract StoragePlanter {
    function plant(address value) external {
        for (uint256 slot = 0; slot < 16; ++slot) {
            assembly ("memory-safe") {
                sstore(slot, value)
            }
        }
    }
}

/// @notice An EOA as the account (EIP-7702): it delegates to the leash implementation, its own key is the owner,
/// sessions work on its address as on a smart account's, and nothing an earlier delegation left in its storage
/// (an owner, modules, sessions) counts. The delegation is what a type-4 authorisation leaves: the designator
/// `0xef0100 ‖ implementation` as the EOA's code.
contract Eip7702Test is LeashTest {
    uint256 internal constant EOA_KEY = 0xE0A;
    uint256 internal constant THIEF_KEY = 0x7E1F;

    function setUp() public override {
        super.setUp();
        ownerKey = EOA_KEY;
        owner = vm.addr(EOA_KEY);
        delegate(owner, address(factory.implementation()));
        initialize(owner);
        account = LeashAccount(payable(owner));
        vm.deal(owner, 100 ether);
        usdc.mint(owner, 1_000_000e6);
        ENTRYPOINT.depositTo{value: 1 ether}(owner);
    }

    function delegate(address eoa, address implementation) internal {
        vm.etch(eoa, abi.encodePacked(hex"ef0100", implementation));
    }

    /// @dev The EOA's own call (as in the type-4 transaction that delegates, sent to itself).
    function initialize(address eoa) internal {
        (address[] memory validators, bytes[] memory data) = moduleList();
        vm.prank(eoa);
        LeashAccount(payable(eoa)).initializeEoa(validators, data);
    }

    function grantedTransfers(uint96 cap) internal returns (SessionUse memory use) {
        Action[] memory actions = one(transferAction(cap, lifetime()));
        Session memory s = newSession(sessionSigner, actions);
        grantByOwner(s, actions);
        use = useOf(s, actions, 1);
    }

    function test_TheEoasKeyIsTheOwner() public view {
        assertEq(account.owner(), owner, "the EOA owns itself");
        assertTrue(account.isModuleInstalled(1, address(validator), ""), "the module is installed");
    }

    function test_SessionOperationLandsAndAnOutOfPolicyOneIsRefused() public {
        SessionUse memory use = grantedTransfers(100e6);
        send(sessionOp(transferCall(merchant, 60e6), use));
        assertEq(usdc.balanceOf(merchant), 60e6, "the session's transfer landed from the EOA");
        expectRejected(
            sessionOp(transferCall(merchant, 50e6), use),
            abi.encodeWithSelector(SessionKeyValidator.AmountLimitExceeded.selector, 0, 110e6, 100e6)
        );
    }

    function test_RevokeWorksOnTheEoa() public {
        SessionUse memory use = grantedTransfers(100e6);
        revokeByOwner(sessionIdOf(use.session));
        expectRejected(
            sessionOp(transferCall(merchant, 1e6), use),
            abi.encodeWithSelector(SessionKeyValidator.SessionIsRevoked.selector, sessionIdOf(use.session))
        );
    }

    /// @dev Whoever sends the delegation (a relayer may carry the authorisation), only the EOA sets it up.
    function test_RevertWhen_AStrangerInitializesTheEoa() public {
        address fresh = vm.addr(0xF00D);
        delegate(fresh, address(factory.implementation()));
        (address[] memory validators, bytes[] memory data) = moduleList();
        vm.prank(merchant);
        vm.expectRevert(abi.encodeWithSelector(OZAccount.AccountUnauthorized.selector, merchant));
        LeashAccount(payable(fresh)).initializeEoa(validators, data);
        // Nor through the proxies' initializer, which would otherwise name a module of the caller's.
        vm.prank(merchant);
        vm.expectRevert(LeashAccount.UseInitializeEoa.selector);
        LeashAccount(payable(fresh)).initialize(merchant, validators, data);
    }

    /// @dev An earlier delegation wrote a thief's address into every sequential slot (where OpenZeppelin keeps an
    /// owner and module sets): the EOA still sets up, and the thief signs nothing.
    function test_StorageAnEarlierDelegationLeftNamesNoOwner() public {
        address eoa = vm.addr(0xBEEF5);
        StoragePlanter planter = new StoragePlanter();
        delegate(eoa, address(planter));
        StoragePlanter(eoa).plant(vm.addr(THIEF_KEY));
        delegate(eoa, address(factory.implementation()));
        initialize(eoa);
        vm.deal(eoa, 1 ether);
        account = LeashAccount(payable(eoa));
        assertEq(account.owner(), eoa, "the planted owner is not read");

        PackedUserOperation memory op = baseOp(eoa, 0, singleCall(merchant, 1, ""));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(THIEF_KEY, ENTRYPOINT.getUserOpHash(op));
        op.signature = abi.encodePacked(r, s, v);
        expectFailedOp(op, "AA24 signature error");
    }

    /// @dev Modules of an earlier delegation (here a second validator the EOA installed before starting over)
    /// count for nothing once the EOA initialises again.
    function test_ModulesOfAnEarlierEpochDoNotCount() public {
        SessionKeyValidator earlier = deployValidator();
        bytes memory call = abi.encodeCall(IERC7579ModuleConfig.installModule, (1, address(earlier), ""));
        send(ownerOp(singleCall(owner, 0, call)));
        assertTrue(account.isModuleInstalled(1, address(earlier), ""), "installed in the first epoch");
        assertTrue(account.isModule(address(earlier)), "a module in the first epoch");

        initialize(owner);
        assertFalse(account.isModuleInstalled(1, address(earlier), ""), "forgotten in the new epoch");
        assertFalse(account.isModule(address(earlier)), "not a module in the new epoch");
        assertTrue(account.isModuleInstalled(1, address(validator), ""), "the module installed again is");
    }

    /// @dev Sessions of an earlier delegation do not come back with the module: the EOA delegated elsewhere and
    /// back, then initialised again.
    /// forge-config: default.isolate = true
    /// (isolated: each call is its own transaction, as on chain, so the account's transient flag clears)
    function test_SessionsOfAnEarlierDelegationDoNotComeBack() public {
        SessionUse memory use = grantedTransfers(100e6);
        send(sessionOp(transferCall(merchant, 1e6), use));
        StoragePlanter other = new StoragePlanter();
        delegate(owner, address(other));
        delegate(owner, address(factory.implementation()));
        initialize(owner);
        expectRejected(
            sessionOp(transferCall(merchant, 1e6), use),
            abi.encodeWithSelector(SessionKeyValidator.SessionVoidedByRevokeAll.selector, sessionIdOf(use.session))
        );
    }

    /// @dev A session of the module survives a new epoch that left the module out, but not the module's
    /// reinstallation: its install over a record never uninstalled revokes what it kept.
    /// forge-config: default.isolate = true
    /// (isolated: each call is its own transaction, as on chain, so the account's transient flag clears)
    function test_SessionsDoNotComeBackWhenTheModuleIsInstalledAgain() public {
        SessionUse memory use = grantedTransfers(100e6);
        vm.prank(owner);
        account.initializeEoa(new address[](0), new bytes[](0));
        assertFalse(account.isModuleInstalled(1, address(validator), ""), "a new epoch without the module");
        bytes memory call = abi.encodeCall(IERC7579ModuleConfig.installModule, (1, address(validator), ""));
        send(ownerOp(singleCall(owner, 0, call)));
        expectRejected(
            sessionOp(transferCall(merchant, 1e6), use),
            abi.encodeWithSelector(SessionKeyValidator.SessionVoidedByRevokeAll.selector, sessionIdOf(use.session))
        );
    }

    /// @dev The EOA's key cannot be rotated away and its code is its delegation: both are refused, the upgrade
    /// even when an earlier delegation left an ERC-1967 implementation slot that makes the EOA look like a proxy.
    function test_RevertWhen_TheEoaSetsAnOwnerOrUpgrades() public {
        vm.prank(owner);
        vm.expectRevert(LeashAccount.DelegatedEoa.selector);
        account.setOwner(merchant);
        LeashAccount next = deployAccountImplementation();
        vm.store(owner, ERC1967Utils.IMPLEMENTATION_SLOT, bytes32(uint256(uint160(address(factory.implementation())))));
        vm.prank(owner);
        vm.expectRevert(LeashAccount.DelegatedEoa.selector);
        account.upgradeToAndCall(address(next), "");
        assertEq(account.owner(), owner, "the EOA still owns itself");
    }

    function test_RevertWhen_InitializeEoaIsCalledOnAProxy() public {
        LeashAccount proxy = createAccount(vm.addr(0xABC), bytes32(uint256(1)));
        (address[] memory validators, bytes[] memory data) = moduleList();
        vm.prank(address(proxy));
        vm.expectRevert(LeashAccount.NotADelegatedEoa.selector);
        proxy.initializeEoa(validators, data);
    }
}
