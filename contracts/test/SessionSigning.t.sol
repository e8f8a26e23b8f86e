// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {Action, ArgRule, NestedStruct, Session, SessionTypes, TypedDataScope} from "../src/SessionTypes.sol";
import {SessionEncoder} from "../src/SessionEncoder.sol";
import {LeashTest} from "./utils/LeashTest.sol";

/// @notice What a session key may sign for the account through ERC-1271: only typed data of a scope the owner
/// granted, asked by that scope's verifier, with rules on its fields (nested structs included); anything at all
/// only with the explicit `SESSION_SIGN_ANY` opt-in.
contract SessionSigningTest is LeashTest {
    bytes4 internal constant VALID = IERC1271.isValidSignature.selector;
    bytes4 internal constant INVALID = bytes4(0xffffffff);

    bytes32 internal constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");
    bytes32 internal constant PERMIT_DETAILS_TYPEHASH =
        keccak256("PermitDetails(address token,uint160 amount,uint48 expiration,uint48 nonce)");
    bytes32 internal constant PERMIT_SINGLE_TYPEHASH = keccak256(
        "PermitSingle(PermitDetails details,address spender,uint256 sigDeadline)PermitDetails(address token,uint160 amount,uint48 expiration,uint48 nonce)"
    );
    bytes32 internal constant TRANSFER_WITH_AUTHORIZATION_TYPEHASH = keccak256(
        "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );

    /// @dev A stand-in for Permit2's address (the verifier, i.e. ERC-1271's sender).
    address internal constant PERMIT2 = address(0x2222);
    bytes32 internal constant DOMAIN = keccak256("verifier's EIP-712 domain");

    function session(TypedDataScope[] memory scopes) internal returns (Session memory s) {
        Action[] memory actions = one(transferAction(1e6, lifetime()));
        s = newSession(sessionSigner, actions);
        s.signing = scopes;
        grantByOwner(s, actions);
    }

    function lte(uint16 offset, uint256 max) internal pure returns (ArgRule memory) {
        return rule(SessionTypes.OP_LTE, offset, bytes32(max));
    }

    function eq(uint16 offset, address value) internal pure returns (ArgRule memory) {
        return rule(SessionTypes.OP_EQ, offset, bytes32(uint256(uint160(value))));
    }

    function typedHash(bytes32 typeHash, bytes memory fields) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(hex"1901", DOMAIN, keccak256(abi.encodePacked(typeHash, fields))));
    }

    /// @dev The session's ERC-1271 signature for scope `scope` with `fields` (primary, then nested structs).
    function typedSignature(Session memory s, bytes32 hash, uint256 scope, bytes memory fields)
        internal
        view
        returns (bytes memory)
    {
        return abi.encodePacked(
            address(validator),
            SessionEncoder.encodeMessage(s, sessionKeySig(s, hash), abi.encodePacked(uint8(scope), DOMAIN, fields))
        );
    }

    function ask(address verifier, bytes32 hash, bytes memory signature) internal returns (bytes4) {
        vm.prank(verifier);
        return account.isValidSignature(hash, signature);
    }

    // ---------------------------------------------------------------------------------------------------------
    // EIP-2612 permit: spender and value bounded
    // ---------------------------------------------------------------------------------------------------------

    function permitScope() internal view returns (TypedDataScope[] memory scopes) {
        scopes = new TypedDataScope[](1);
        scopes[0].verifier = address(usdc);
        scopes[0].typeHash = PERMIT_TYPEHASH;
        scopes[0].rules = new ArgRule[](2);
        scopes[0].rules[0] = eq(32, merchant); // spender
        scopes[0].rules[1] = lte(64, 100e6); // value
    }

    function permit(address spender, uint256 value) internal view returns (bytes memory) {
        return abi.encode(address(account), spender, value, uint256(0), uint256(START + 1 days));
    }

    function test_Erc1271_PermitWithinItsRules() public {
        Session memory s = session(permitScope());
        bytes memory fields = permit(merchant, 100e6);
        bytes32 hash = typedHash(PERMIT_TYPEHASH, fields);
        assertEq(uint32(ask(address(usdc), hash, typedSignature(s, hash, 0, fields))), uint32(VALID), "allowed permit");
    }

    function testFuzz_RevertWhen_PermitBreaksItsRules(address spender, uint256 value) public {
        vm.assume(spender != merchant || value > 100e6);
        Session memory s = session(permitScope());
        bytes memory fields = permit(spender, value);
        bytes32 hash = typedHash(PERMIT_TYPEHASH, fields);
        assertEq(uint32(ask(address(usdc), hash, typedSignature(s, hash, 0, fields))), uint32(INVALID), "refused");
    }

    function test_RevertWhen_PermitAskedByAnotherVerifier() public {
        Session memory s = session(permitScope());
        bytes memory fields = permit(merchant, 1e6);
        bytes32 hash = typedHash(PERMIT_TYPEHASH, fields);
        bytes memory signature = typedSignature(s, hash, 0, fields);
        assertEq(uint32(ask(address(target), hash, signature)), uint32(INVALID), "another verifier");
        assertEq(uint32(ask(address(validator), hash, signature)), uint32(INVALID), "the module itself");
    }

    function test_RevertWhen_FieldsDoNotHashToTheMessage() public {
        Session memory s = session(permitScope());
        // The fields shown obey the rules; the message signed is a permit for the whole balance.
        bytes32 hash = typedHash(PERMIT_TYPEHASH, permit(merchant, type(uint256).max));
        bytes memory signature = typedSignature(s, hash, 0, permit(merchant, 1e6));
        assertEq(uint32(ask(address(usdc), hash, signature)), uint32(INVALID), "fields must be the message's");
    }

    function test_RevertWhen_TypeIsNotInTheScope() public {
        Session memory s = session(permitScope());
        bytes memory fields = permit(merchant, 1e6);
        bytes32 hash = typedHash(keccak256("Other(address a,address b,uint256 c,uint256 d,uint256 e)"), fields);
        assertEq(uint32(ask(address(usdc), hash, typedSignature(s, hash, 0, fields))), uint32(INVALID), "type");
        // A scope index past the list is refused too.
        hash = typedHash(PERMIT_TYPEHASH, fields);
        assertEq(uint32(ask(address(usdc), hash, typedSignature(s, hash, 1, fields))), uint32(INVALID), "scope");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Permit2 PermitSingle: rules on the nested details
    // ---------------------------------------------------------------------------------------------------------

    function permit2Scope() internal view returns (TypedDataScope[] memory scopes) {
        scopes = new TypedDataScope[](1);
        scopes[0].verifier = PERMIT2;
        scopes[0].typeHash = PERMIT_SINGLE_TYPEHASH;
        scopes[0].nested = new NestedStruct[](1);
        scopes[0].nested[0] = NestedStruct({field: 0, typeHash: PERMIT_DETAILS_TYPEHASH, length: 128});
        scopes[0].rules = new ArgRule[](4);
        scopes[0].rules[0] = eq(32, merchant); // spender
        scopes[0].rules[1] = lte(64, START + 1 days); // sigDeadline
        scopes[0].rules[2] = eq(96, address(usdc)); // details.token (first nested field, after 3 primary words)
        scopes[0].rules[3] = lte(128, 50e6); // details.amount
    }

    function permitSingle(uint160 amount) internal view returns (bytes memory fields, bytes32 hash) {
        bytes memory details = abi.encode(address(usdc), amount, uint48(START + 30 days), uint48(0));
        bytes32 detailsHash = keccak256(abi.encodePacked(PERMIT_DETAILS_TYPEHASH, details));
        bytes memory primary = abi.encode(detailsHash, merchant, uint256(START + 1 hours));
        hash = typedHash(PERMIT_SINGLE_TYPEHASH, primary);
        fields = abi.encodePacked(primary, details);
    }

    function test_Erc1271_Permit2WithinItsNestedRules() public {
        Session memory s = session(permit2Scope());
        (bytes memory fields, bytes32 hash) = permitSingle(50e6);
        assertEq(uint32(ask(PERMIT2, hash, typedSignature(s, hash, 0, fields))), uint32(VALID), "allowed PermitSingle");
    }

    function test_RevertWhen_Permit2AllowsTheWholeBalance() public {
        Session memory s = session(permit2Scope());
        (bytes memory fields, bytes32 hash) = permitSingle(type(uint160).max);
        assertEq(uint32(ask(PERMIT2, hash, typedSignature(s, hash, 0, fields))), uint32(INVALID), "uint160.max");
    }

    function test_RevertWhen_NestedFieldsAreNotTheSignedOnes() public {
        Session memory s = session(permit2Scope());
        (, bytes32 hash) = permitSingle(type(uint160).max);
        (bytes memory smallFields,) = permitSingle(1e6);
        // The primary fields of the real message with small details attached: their hash is not the signed one.
        (bytes memory bigFields,) = permitSingle(type(uint160).max);
        bytes memory mixed = abi.encodePacked(_slice(bigFields, 0, 96), _slice(smallFields, 96, 128));
        assertEq(uint32(ask(PERMIT2, hash, typedSignature(s, hash, 0, mixed))), uint32(INVALID), "nested hash");
    }

    function _slice(bytes memory data, uint256 from, uint256 length) internal pure returns (bytes memory out) {
        out = new bytes(length);
        for (uint256 i = 0; i < length; ++i) {
            out[i] = data[from + i];
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // EIP-3009 authorisation: recipient, value and deadline bounded
    // ---------------------------------------------------------------------------------------------------------

    function test_Erc1271_Eip3009WithinItsRules() public {
        TypedDataScope[] memory scopes = new TypedDataScope[](1);
        scopes[0].verifier = address(usdc);
        scopes[0].typeHash = TRANSFER_WITH_AUTHORIZATION_TYPEHASH;
        scopes[0].rules = new ArgRule[](3);
        scopes[0].rules[0] = eq(32, merchant); // to
        scopes[0].rules[1] = lte(64, 10e6); // value
        scopes[0].rules[2] = lte(128, START + 1 days); // validBefore
        Session memory s = session(scopes);
        bytes memory ok = abi.encode(address(account), merchant, 10e6, 0, START + 1 hours, bytes32("n1"));
        bytes32 hash = typedHash(TRANSFER_WITH_AUTHORIZATION_TYPEHASH, ok);
        assertEq(uint32(ask(address(usdc), hash, typedSignature(s, hash, 0, ok))), uint32(VALID), "allowed");
        bytes memory late = abi.encode(address(account), merchant, 10e6, 0, START + 2 days, bytes32("n2"));
        hash = typedHash(TRANSFER_WITH_AUTHORIZATION_TYPEHASH, late);
        assertEq(uint32(ask(address(usdc), hash, typedSignature(s, hash, 0, late))), uint32(INVALID), "too late");
        bytes memory all = abi.encode(address(account), merchant, 1_000_000e6, 0, START + 1 hours, bytes32("n3"));
        hash = typedHash(TRANSFER_WITH_AUTHORIZATION_TYPEHASH, all);
        assertEq(uint32(ask(address(usdc), hash, typedSignature(s, hash, 0, all))), uint32(INVALID), "too much");
    }

    // ---------------------------------------------------------------------------------------------------------
    // No signing, and the explicit opt-in
    // ---------------------------------------------------------------------------------------------------------

    function test_RevertWhen_SessionWithoutScopesSigns() public {
        Session memory s = session(new TypedDataScope[](0));
        bytes32 hash = keccak256("anything");
        assertEq(uint32(ask(address(usdc), hash, sessionSignature(s, hash))), uint32(INVALID), "signs nothing");
        bytes memory fields = permit(merchant, 1e6);
        hash = typedHash(PERMIT_TYPEHASH, fields);
        assertEq(uint32(ask(address(usdc), hash, typedSignature(s, hash, 0, fields))), uint32(INVALID), "no scope");
    }

    function test_Erc1271_SignAnyIsAnExplicitOptIn() public {
        Action[] memory actions = one(transferAction(1e6, lifetime()));
        Session memory s = newSession(sessionSigner, actions);
        s.flags |= SessionTypes.SESSION_SIGN_ANY;
        bytes32 id = grantByOwner(s, actions);
        bytes32 hash = keccak256("anything");
        assertEq(uint32(ask(address(target), hash, sessionSignature(s, hash))), uint32(VALID), "anything, anyone");
        vm.warp(s.validUntil + 1);
        assertEq(uint32(ask(address(target), hash, sessionSignature(s, hash))), uint32(INVALID), "expired");
        vm.warp(START);
        revokeByOwner(id);
        assertEq(uint32(ask(address(target), hash, sessionSignature(s, hash))), uint32(INVALID), "revoked");
    }

    /// @dev A session without a window never reads the time in ERC-1271 (a paymaster may check its permits
    /// during validation, where ERC-7562 bans TIMESTAMP); its signatures hold at any time until revoked.
    function test_Erc1271_WindowlessSessionSignsAtAnyTime() public {
        Action[] memory actions = one(transferAction(1e6, lifetime()));
        Session memory s = newSession(sessionSigner, actions);
        s.validAfter = 0;
        s.validUntil = 0;
        s.signing = permitScope();
        grantByOwner(s, actions);
        bytes memory fields = permit(merchant, 1e6);
        bytes32 hash = typedHash(PERMIT_TYPEHASH, fields);
        vm.warp(START + 3650 days);
        assertEq(uint32(ask(address(usdc), hash, typedSignature(s, hash, 0, fields))), uint32(VALID), "any time");
    }
}
