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

    /// @dev The account's EIP-712 domain separator (ERC-7739 nests the owner's signatures in it).
    function accountDomain(LeashAccount which) internal view returns (bytes32) {
        (, string memory name, string memory version, uint256 chainId, address verifying,,) = which.eip712Domain();
        return keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256(bytes(name)),
                keccak256(bytes(version)),
                chainId,
                verifying
            )
        );
    }

    /// @dev The owner's ERC-7739 `PersonalSign` signature of `hash` for `which`.
    function personalSign(LeashAccount which, bytes32 hash) internal view returns (bytes memory) {
        bytes32 structHash = keccak256(abi.encode(keccak256("PersonalSign(bytes prefixed)"), hash));
        bytes32 digest = keccak256(abi.encodePacked(hex"1901", accountDomain(which), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ownerKey, digest);
        return abi.encodePacked(r, s, v);
    }

    function test_OwnerErc1271IsNestedForThisAccount() public {
        bytes32 hash = keccak256("message");
        assertEq(
            account.isValidSignature(hash, personalSign(account, hash)),
            IERC1271.isValidSignature.selector,
            "owner's ERC-7739 signature valid"
        );
        // The same owner's second account refuses the first account's signature: no replay across accounts.
        LeashAccount second = createAccount(owner, bytes32(uint256(7)));
        assertEq(
            second.isValidSignature(hash, personalSign(account, hash)),
            bytes4(0xffffffff),
            "not valid on another account"
        );
        assertEq(
            second.isValidSignature(hash, personalSign(second, hash)),
            IERC1271.isValidSignature.selector,
            "valid when nested for that account"
        );
    }

    function test_RevertWhen_OwnerSignsARawHash() public view {
        bytes32 hash = keccak256("message");
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ownerKey, hash);
        assertEq(account.isValidSignature(hash, abi.encodePacked(r, s, v)), bytes4(0xffffffff), "raw hash refused");
        bytes memory other = personalSignBy(sessionKey, hash);
        assertEq(account.isValidSignature(hash, other), bytes4(0xffffffff), "other key refused");
    }

    function personalSignBy(uint256 key, bytes32 hash) internal view returns (bytes memory) {
        bytes32 structHash = keccak256(abi.encode(keccak256("PersonalSign(bytes prefixed)"), hash));
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(key, keccak256(abi.encodePacked(hex"1901", accountDomain(account), structHash)));
        return abi.encodePacked(r, s, v);
    }

    function test_Erc7739Detection() public view {
        bytes32 probe = 0x7739773977397739773977397739773977397739773977397739773977397739;
        assertEq(account.isValidSignature(probe, ""), bytes4(0x77390001), "ERC-7739 supported");
    }

    function test_IsOwnerSignatureAnswersForTheOwnerOnly() public view {
        bytes32 hash = keccak256("grant root");
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ownerKey, hash);
        assertTrue(account.isOwnerSignature(hash, abi.encodePacked(r, s, v)), "owner");
        (v, r, s) = vm.sign(sessionKey, hash);
        assertTrue(!account.isOwnerSignature(hash, abi.encodePacked(r, s, v)), "not the owner");
        // A module-routed signature is never the owner's.
        assertTrue(!account.isOwnerSignature(hash, abi.encodePacked(address(validator), r, s, v)), "module-routed");
    }

    function test_IsModuleCountsEveryInstall() public {
        assertTrue(account.isModule(address(validator)), "the session module");
        assertTrue(!account.isModule(address(usdc)), "a token is no module");
        bytes memory uninstall =
            abi.encodeWithSignature("uninstallModule(uint256,address,bytes)", 1, address(validator), "");
        send(ownerOp(singleCall(address(account), 0, uninstall)));
        assertTrue(!account.isModule(address(validator)), "uninstalled");
    }
}
