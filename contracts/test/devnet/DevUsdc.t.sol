// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {DevUsdc} from "../../src/devnet/DevUsdc.sol";
import {LeashAccount} from "../../src/LeashAccount.sol";
import {LeashAccountFactory} from "../../src/LeashAccountFactory.sol";
import {TestBase} from "../utils/TestBase.sol";
import {deployAccountImplementation, deployFactory} from "../utils/Release.sol";

/// @notice The devnet USDC's EIP-3009 authorizations, signed by an EOA and by a smart account's owner (ERC-1271).
contract DevUsdcTest is TestBase {
    uint256 internal constant PAYER_KEY = 0xA11CE;
    uint256 internal constant OWNER_KEY = 0x0B0B;
    address internal constant MERCHANT = address(0x3E2C4A47);
    uint256 internal constant NOW = 1_767_225_600; // 2026-01-01T00:00:00Z

    DevUsdc internal usdc;
    address internal payer;
    LeashAccount internal account;

    function setUp() public {
        vm.warp(NOW);
        usdc = new DevUsdc();
        payer = vm.addr(PAYER_KEY);
        usdc.mint(payer, 1000e6);
        account = deployFactory(deployAccountImplementation())
            .createAccount(vm.addr(OWNER_KEY), bytes32(0), new address[](0), new bytes[](0));
        usdc.mint(address(account), 1000e6);
    }

    function transferDigest(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce
    ) internal view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(usdc.TRANSFER_WITH_AUTHORIZATION_TYPEHASH(), from, to, value, validAfter, validBefore, nonce)
        );
        return keccak256(abi.encodePacked(hex"1901", usdc.DOMAIN_SEPARATOR(), structHash));
    }

    function sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev The account owner's ERC-7739 `PersonalSign` signature of `digest`, nested in the account's domain:
    /// what the account's ERC-1271 `isValidSignature` accepts from its owner.
    function accountSign(bytes32 digest) internal view returns (bytes memory) {
        (, string memory name, string memory version, uint256 chainId, address verifying,,) = account.eip712Domain();
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256(bytes(name)),
                keccak256(bytes(version)),
                chainId,
                verifying
            )
        );
        bytes32 structHash = keccak256(abi.encode(keccak256("PersonalSign(bytes prefixed)"), digest));
        return sign(OWNER_KEY, keccak256(abi.encodePacked(hex"1901", domain, structHash)));
    }

    function test_DomainIsUsdcsVersion2() public view {
        (, string memory name, string memory version, uint256 chainId, address verifying,,) = usdc.eip712Domain();
        assertEq(keccak256(bytes(name)), keccak256("USD Coin (devnet)"), "name");
        assertEq(keccak256(bytes(version)), keccak256("2"), "version");
        assertEq(keccak256(bytes(usdc.version())), keccak256("2"), "version()");
        assertEq(chainId, vm.getChainId(), "chain id");
        assertEq(verifying, address(usdc), "verifying contract");
        assertEq(usdc.decimals(), 6, "decimals");
        assertEq(
            usdc.TRANSFER_WITH_AUTHORIZATION_TYPEHASH(),
            0x7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267,
            "USDC's TransferWithAuthorization typehash"
        );
        assertEq(
            usdc.RECEIVE_WITH_AUTHORIZATION_TYPEHASH(),
            0xd099cc98ef71107a616c4f0f941f04c322d8e254fe26b3c6668db87aae413de8,
            "USDC's ReceiveWithAuthorization typehash"
        );
        assertEq(
            usdc.CANCEL_AUTHORIZATION_TYPEHASH(),
            0x158b0a9edf7a828aad02f63cd515c68ef2f50ba807396f6d12842833a1597429,
            "USDC's CancelAuthorization typehash"
        );
    }

    function test_EoaAuthorizesATransferAnyoneSubmits() public {
        bytes32 nonce = keccak256("invoice 1");
        bytes memory signature = sign(PAYER_KEY, transferDigest(payer, MERCHANT, 10e6, 0, NOW + 60, nonce));
        vm.prank(address(0xBEEF));
        usdc.transferWithAuthorization(payer, MERCHANT, 10e6, 0, NOW + 60, nonce, signature);
        assertEq(usdc.balanceOf(MERCHANT), 10e6, "merchant paid");
        assertEq(usdc.balanceOf(payer), 990e6, "payer charged");
        assertTrue(usdc.authorizationState(payer, nonce), "nonce used");
    }

    function test_SplitSignatureFormIsTheSame() public {
        bytes32 nonce = keccak256("invoice 2");
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, transferDigest(payer, MERCHANT, 1e6, 0, NOW + 60, nonce));
        usdc.transferWithAuthorization(payer, MERCHANT, 1e6, 0, NOW + 60, nonce, v, r, s);
        assertEq(usdc.balanceOf(MERCHANT), 1e6, "merchant paid");
    }

    function test_SmartAccountAuthorizesThroughErc1271() public {
        bytes32 nonce = keccak256("account invoice");
        bytes32 digest = transferDigest(address(account), MERCHANT, 25e6, 0, NOW + 60, nonce);
        usdc.transferWithAuthorization(address(account), MERCHANT, 25e6, 0, NOW + 60, nonce, accountSign(digest));
        assertEq(usdc.balanceOf(MERCHANT), 25e6, "merchant paid by the account");
        assertEq(usdc.balanceOf(address(account)), 975e6, "account charged");
    }

    function test_RevertWhen_OwnerSignsTheRawDigestForTheAccount() public {
        bytes32 nonce = keccak256("raw");
        bytes32 digest = transferDigest(address(account), MERCHANT, 1e6, 0, NOW + 60, nonce);
        bytes memory raw = sign(OWNER_KEY, digest);
        vm.expectRevert(abi.encodeWithSelector(DevUsdc.InvalidAuthorizationSignature.selector, address(account)));
        usdc.transferWithAuthorization(address(account), MERCHANT, 1e6, 0, NOW + 60, nonce, raw);
    }

    function test_RevertWhen_Replayed() public {
        bytes32 nonce = keccak256("once");
        bytes memory signature = sign(PAYER_KEY, transferDigest(payer, MERCHANT, 1e6, 0, NOW + 60, nonce));
        usdc.transferWithAuthorization(payer, MERCHANT, 1e6, 0, NOW + 60, nonce, signature);
        vm.expectRevert(abi.encodeWithSelector(DevUsdc.AuthorizationUsedOrCanceled.selector, payer, nonce));
        usdc.transferWithAuthorization(payer, MERCHANT, 1e6, 0, NOW + 60, nonce, signature);
    }

    function test_RevertWhen_Expired() public {
        bytes32 nonce = keccak256("late");
        bytes memory signature = sign(PAYER_KEY, transferDigest(payer, MERCHANT, 1e6, 0, NOW + 60, nonce));
        vm.warp(NOW + 60);
        vm.expectRevert(abi.encodeWithSelector(DevUsdc.AuthorizationExpired.selector, NOW + 60, NOW + 60));
        usdc.transferWithAuthorization(payer, MERCHANT, 1e6, 0, NOW + 60, nonce, signature);
    }

    function test_RevertWhen_NotYetValid() public {
        bytes32 nonce = keccak256("early");
        bytes memory signature = sign(PAYER_KEY, transferDigest(payer, MERCHANT, 1e6, NOW, NOW + 60, nonce));
        vm.expectRevert(abi.encodeWithSelector(DevUsdc.AuthorizationNotYetValid.selector, NOW, NOW));
        usdc.transferWithAuthorization(payer, MERCHANT, 1e6, NOW, NOW + 60, nonce, signature);
    }

    function test_RevertWhen_SignedByAnotherKey() public {
        bytes32 nonce = keccak256("forged");
        bytes memory signature = sign(0xBAD, transferDigest(payer, MERCHANT, 1e6, 0, NOW + 60, nonce));
        vm.expectRevert(abi.encodeWithSelector(DevUsdc.InvalidAuthorizationSignature.selector, payer));
        usdc.transferWithAuthorization(payer, MERCHANT, 1e6, 0, NOW + 60, nonce, signature);
    }

    function test_RevertWhen_AmountDiffersFromTheSigned() public {
        bytes32 nonce = keccak256("tampered");
        bytes memory signature = sign(PAYER_KEY, transferDigest(payer, MERCHANT, 1e6, 0, NOW + 60, nonce));
        vm.expectRevert(abi.encodeWithSelector(DevUsdc.InvalidAuthorizationSignature.selector, payer));
        usdc.transferWithAuthorization(payer, MERCHANT, 2e6, 0, NOW + 60, nonce, signature);
    }

    function test_ReceiveOnlyByThePayee() public {
        bytes32 nonce = keccak256("deposit");
        bytes32 structHash =
            keccak256(abi.encode(usdc.RECEIVE_WITH_AUTHORIZATION_TYPEHASH(), payer, MERCHANT, 5e6, 0, NOW + 60, nonce));
        bytes memory signature =
            sign(PAYER_KEY, keccak256(abi.encodePacked(hex"1901", usdc.DOMAIN_SEPARATOR(), structHash)));
        vm.expectRevert(abi.encodeWithSelector(DevUsdc.CallerNotPayee.selector, address(this), MERCHANT));
        usdc.receiveWithAuthorization(payer, MERCHANT, 5e6, 0, NOW + 60, nonce, signature);

        vm.prank(MERCHANT);
        usdc.receiveWithAuthorization(payer, MERCHANT, 5e6, 0, NOW + 60, nonce, signature);
        assertEq(usdc.balanceOf(MERCHANT), 5e6, "payee received");
    }

    function test_ReceiveRefusesATransferSignature() public {
        bytes32 nonce = keccak256("wrong type");
        bytes memory signature = sign(PAYER_KEY, transferDigest(payer, MERCHANT, 1e6, 0, NOW + 60, nonce));
        vm.prank(MERCHANT);
        vm.expectRevert(abi.encodeWithSelector(DevUsdc.InvalidAuthorizationSignature.selector, payer));
        usdc.receiveWithAuthorization(payer, MERCHANT, 1e6, 0, NOW + 60, nonce, signature);
    }

    function test_CanceledAuthorizationCannotBeUsed() public {
        bytes32 nonce = keccak256("changed my mind");
        bytes memory signature = sign(PAYER_KEY, transferDigest(payer, MERCHANT, 1e6, 0, NOW + 60, nonce));
        bytes32 cancelHash = keccak256(abi.encode(usdc.CANCEL_AUTHORIZATION_TYPEHASH(), payer, nonce));
        bytes memory cancel =
            sign(PAYER_KEY, keccak256(abi.encodePacked(hex"1901", usdc.DOMAIN_SEPARATOR(), cancelHash)));
        usdc.cancelAuthorization(payer, nonce, cancel);
        assertTrue(usdc.authorizationState(payer, nonce), "nonce spent by the cancellation");
        vm.expectRevert(abi.encodeWithSelector(DevUsdc.AuthorizationUsedOrCanceled.selector, payer, nonce));
        usdc.transferWithAuthorization(payer, MERCHANT, 1e6, 0, NOW + 60, nonce, signature);
        vm.expectRevert(abi.encodeWithSelector(DevUsdc.AuthorizationUsedOrCanceled.selector, payer, nonce));
        usdc.cancelAuthorization(payer, nonce, cancel);
    }

    function test_RevertWhen_CancellationSignedByAnotherKey() public {
        bytes32 nonce = keccak256("not yours");
        bytes32 cancelHash = keccak256(abi.encode(usdc.CANCEL_AUTHORIZATION_TYPEHASH(), payer, nonce));
        bytes memory cancel = sign(0xBAD, keccak256(abi.encodePacked(hex"1901", usdc.DOMAIN_SEPARATOR(), cancelHash)));
        vm.expectRevert(abi.encodeWithSelector(DevUsdc.InvalidAuthorizationSignature.selector, payer));
        usdc.cancelAuthorization(payer, nonce, cancel);
        assertTrue(!usdc.authorizationState(payer, nonce), "nonce still open");
    }

    function testFuzz_ValidOnlyStrictlyInsideTheWindow(uint256 validAfter, uint256 validBefore, uint256 at) public {
        validAfter = bound(validAfter, 0, NOW * 2);
        validBefore = bound(validBefore, 0, NOW * 2);
        at = bound(at, 1, NOW * 2);
        vm.warp(at);
        bytes32 nonce = keccak256(abi.encode(validAfter, validBefore, at));
        bytes memory signature = sign(PAYER_KEY, transferDigest(payer, MERCHANT, 1, validAfter, validBefore, nonce));
        bool inside = at > validAfter && at < validBefore;
        if (!inside) vm.expectRevert();
        usdc.transferWithAuthorization(payer, MERCHANT, 1, validAfter, validBefore, nonce, signature);
        assertEq(usdc.balanceOf(MERCHANT), inside ? 1 : 0, "moved iff inside the window");
    }
}
