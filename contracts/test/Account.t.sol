// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {LeashAccount} from "../src/LeashAccount.sol";
import {LeashTest} from "./utils/LeashTest.sol";

contract AccountTest is LeashTest {
    function test_OwnerNativeTransfer() public {
        send(ownerOp(singleCall(merchant, 1 ether, "")));
        assertEq(merchant.balance, 1 ether, "merchant got the ether");
    }

    function test_OwnerErc20Transfer() public {
        send(ownerOp(transferCall(merchant, 100e6)));
        assertEq(usdc.balanceOf(merchant), 100e6, "merchant got the tokens");
    }

    function test_OwnerBatch() public {
        Execution[] memory calls = new Execution[](3);
        for (uint256 i = 0; i < 3; ++i) {
            calls[i] = Execution(address(usdc), 0, abi.encodeCall(usdc.transfer, (merchant, 1e6)));
        }
        send(ownerOp(batchCall(calls)));
        assertEq(usdc.balanceOf(merchant), 3e6, "three transfers landed");
    }

    function test_RevertWhen_SignedByAnotherKey() public {
        PackedUserOperation memory op = baseOp(address(account), 0, transferCall(merchant, 1));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(0xBAD, ENTRYPOINT.getUserOpHash(op));
        op.signature = abi.encodePacked(r, s, v);
        expectFailedOp(op, "AA24 signature error");
    }

    function test_RevertWhen_SignatureIsGarbage() public {
        PackedUserOperation memory op = baseOp(address(account), 0, transferCall(merchant, 1));
        op.signature = hex"deadbeef";
        expectFailedOp(op, "AA24 signature error");
    }

    function test_CounterfactualAddressDeploysWithFirstOp() public {
        uint256 key = 0xC0FFEE;
        address newOwner = vm.addr(key);
        (address[] memory validators, bytes[] memory data) = moduleList();
        address predicted = factory.getAddress(newOwner, bytes32(uint256(7)), validators, data);
        assertEq(predicted.code.length, 0, "not deployed yet");
        vm.deal(predicted, 1 ether);
        usdc.mint(predicted, 10e6);

        send(firstOp(address(factory), predicted, key, bytes32(uint256(7)), transferCall(merchant, 10e6)));

        assertTrue(predicted.code.length > 0, "deployed by its first op");
        assertEq(LeashAccount(payable(predicted)).owner(), newOwner, "owner set");
        assertEq(usdc.balanceOf(merchant), 10e6, "first op executed");
        assertTrue(
            LeashAccount(payable(predicted)).isModuleInstalled(1, address(validator), ""), "session module installed"
        );
    }

    function test_FactoryReturnsExistingAccount() public {
        LeashAccount again = createAccount(owner, bytes32(0));
        assertEq(address(again), address(account), "same owner and salt give the same account");
    }

    function test_RevertWhen_ImplementationInitialized() public {
        LeashAccount implementation = factory.implementation();
        vm.expectRevert();
        implementation.initialize(owner, new address[](0), new bytes[](0));
    }

    function test_RevertWhen_AccountInitializedTwice() public {
        vm.expectRevert();
        account.initialize(address(0xdead), new address[](0), new bytes[](0));
    }

    function test_RevertWhen_ExecuteCalledByStranger() public {
        vm.prank(address(0xBAD));
        vm.expectRevert(abi.encodeWithSignature("AccountUnauthorized(address)", address(0xBAD)));
        account.execute(bytes32(0), abi.encodePacked(merchant, uint256(1), ""));
    }

    function test_OwnerErc1271() public view {
        bytes32 hash = keccak256("message");
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ownerKey, hash);
        assertEq(
            account.isValidSignature(hash, abi.encodePacked(r, s, v)),
            IERC1271.isValidSignature.selector,
            "owner signature valid"
        );
        (v, r, s) = vm.sign(sessionKey, hash);
        assertEq(account.isValidSignature(hash, abi.encodePacked(r, s, v)), bytes4(0xffffffff), "other key invalid");
    }
}
