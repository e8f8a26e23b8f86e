// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IEntryPointStake, PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {LeashAccount} from "../src/LeashAccount.sol";
import {LeashFactoryStaker} from "../src/LeashFactoryStaker.sol";
import {LeashTest} from "./utils/LeashTest.sol";
import {deployStaker} from "./utils/Release.sol";

/// The EntryPoint v0.7 stake record.
struct DepositInfo {
    uint256 deposit;
    bool staked;
    uint112 stake;
    uint32 unstakeDelaySec;
    uint48 withdrawTime;
}

interface IEntryPointDeposits {
    function getDepositInfo(address account) external view returns (DepositInfo memory info);
}

contract FactoryStakerTest is LeashTest {
    LeashFactoryStaker internal staker;
    address internal stakeOwner = vm.addr(0x57A4E);

    function setUp() public override {
        super.setUp();
        staker = deployStaker(stakeOwner, factory);
        vm.deal(stakeOwner, 10 ether);
    }

    function stakeInfo() internal view returns (DepositInfo memory) {
        return IEntryPointDeposits(address(ENTRYPOINT)).getDepositInfo(address(staker));
    }

    function test_AnAccountCreatedThroughTheStakerHasTheFactorysAddress() public {
        uint256 key = 0xC0FFEE;
        address newOwner = vm.addr(key);
        (address[] memory validators, bytes[] memory data) = moduleList();
        address predicted = factory.getAddress(newOwner, bytes32(uint256(9)), validators, data);
        assertEq(staker.getAddress(newOwner, bytes32(uint256(9)), validators, data), predicted, "same address");
        vm.deal(predicted, 1 ether);
        usdc.mint(predicted, 10e6);

        send(firstOp(address(staker), predicted, key, bytes32(uint256(9)), transferCall(merchant, 10e6)));

        assertTrue(predicted.code.length > 0, "deployed by its first op");
        assertEq(LeashAccount(payable(predicted)).owner(), newOwner, "owner set");
        assertEq(usdc.balanceOf(merchant), 10e6, "first op executed");
        // The factory answers for the account afterwards too: it is the factory's, not the staker's.
        assertEq(
            address(factory.createAccount(newOwner, bytes32(uint256(9)), validators, data)), predicted, "the factory's"
        );
    }

    function test_TheOwnerStakesUnlocksAndWithdraws() public {
        vm.prank(stakeOwner);
        staker.addStake{value: 2 ether}(IEntryPointStake(address(ENTRYPOINT)), 1 days);
        DepositInfo memory info = stakeInfo();
        assertTrue(info.staked, "staked");
        assertEq(info.stake, 2 ether, "stake amount");
        assertEq(info.unstakeDelaySec, 1 days, "unstake delay");

        vm.prank(stakeOwner);
        staker.unlockStake(IEntryPointStake(address(ENTRYPOINT)));
        assertTrue(!stakeInfo().staked, "unlocked stake no longer counts");

        address payable recipient = payable(vm.addr(0x2EC1));
        vm.prank(stakeOwner);
        vm.expectRevert(bytes("Stake withdrawal is not due"));
        staker.withdrawStake(IEntryPointStake(address(ENTRYPOINT)), recipient);

        vm.warp(vm.getBlockTimestamp() + 1 days);
        vm.prank(stakeOwner);
        staker.withdrawStake(IEntryPointStake(address(ENTRYPOINT)), recipient);
        assertEq(recipient.balance, 2 ether, "the stake is paid out");
        assertEq(stakeInfo().stake, 0, "nothing left staked");
    }

    function test_RevertWhen_AnyoneElseManagesTheStake() public {
        address stranger = vm.addr(0x5742);
        vm.deal(stranger, 1 ether);
        IEntryPointStake entryPoint = IEntryPointStake(address(ENTRYPOINT));

        bytes memory refused = abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger);
        vm.prank(stranger);
        vm.expectRevert(refused);
        staker.addStake{value: 1 ether}(entryPoint, 1 days);
        vm.prank(stranger);
        vm.expectRevert(refused);
        staker.unlockStake(entryPoint);
        vm.prank(stranger);
        vm.expectRevert(refused);
        staker.withdrawStake(entryPoint, payable(stranger));
        assertTrue(!stakeInfo().staked, "nothing was staked");
    }
}
