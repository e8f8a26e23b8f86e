// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {ArgRule, Session, SessionTypes, TypedDataScope} from "../src/SessionTypes.sol";
import {SessionEncoder} from "../src/SessionEncoder.sol";
import {CallPolicyLib} from "../src/libraries/CallPolicyLib.sol";
import {DevUsdc} from "../src/devnet/DevUsdc.sol";
import {LeashTest} from "./utils/LeashTest.sol";

/// @notice Payments per period that the chain enforces: a counted signing scope lets at most `maxUses` EIP-3009
/// authorisations of the session take effect per period. Every test settles through the real token
/// (`transferWithAuthorization`, which asks the account's ERC-1271), so what is counted is what moves money.
contract SessionPaymentsTest is LeashTest {
    bytes32 internal constant TRANSFER_WITH_AUTHORIZATION_TYPEHASH = keccak256(
        "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );
    uint16 internal constant PER_DAY = 3;
    uint256 internal constant CAP = 100_000; // 0.10 USDC

    DevUsdc internal dollars;
    address internal facilitator = address(0xFAC1);

    function setUp() public override {
        super.setUp();
        dollars = new DevUsdc();
        dollars.mint(address(account), 1000e6);
    }

    /// @dev One scope: authorisations to `merchant` of at most CAP, PER_DAY per day (days from START).
    function paymentScope() internal view returns (TypedDataScope[] memory scopes) {
        scopes = new TypedDataScope[](1);
        scopes[0].verifier = address(dollars);
        scopes[0].typeHash = TRANSFER_WITH_AUTHORIZATION_TYPEHASH;
        scopes[0].rules = new ArgRule[](2);
        scopes[0].rules[0] = rule(SessionTypes.OP_EQ, 32, bytes32(uint256(uint160(merchant))));
        scopes[0].rules[1] = rule(SessionTypes.OP_LTE, 64, bytes32(CAP));
        scopes[0].maxUses = PER_DAY;
        scopes[0].nonceField = 160;
        scopes[0].validAfterField = 96;
        scopes[0].validBeforeField = 128;
        scopes[0].period = everySeconds(1 days);
    }

    function grantPayments(TypedDataScope[] memory scopes) internal returns (Session memory s, bytes32 id) {
        s = newSession(sessionSigner, one(transferAction(1e6, lifetime())));
        s.validUntil = START + 365 days;
        s.signing = scopes;
        id = grantByOwner(s, one(transferAction(1e6, lifetime())));
    }

    struct Authorization {
        address to;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
        uint16 slot;
        uint8 scope;
    }

    /// @dev An authorisation in `slot` of the day that contains `validAfter + 1`, valid to the day's end.
    function inSlot(bytes32 id, uint256 validAfter, uint16 slot) internal pure returns (Authorization memory a) {
        uint32 day = uint32((validAfter + 1 - START) / 1 days + 1);
        a = Authorization({
            to: address(0),
            value: CAP,
            validAfter: validAfter,
            validBefore: START + uint256(day) * 1 days,
            nonce: keccak256(abi.encode(id, uint8(0), day, slot)),
            slot: slot,
            scope: 0
        });
    }

    function signed(Session memory s, Authorization memory a) internal view returns (bytes memory) {
        bytes memory fields = abi.encode(address(account), a.to, a.value, a.validAfter, a.validBefore, a.nonce);
        bytes32 hash = keccak256(
            abi.encodePacked(
                hex"1901",
                dollars.DOMAIN_SEPARATOR(),
                keccak256(abi.encodePacked(TRANSFER_WITH_AUTHORIZATION_TYPEHASH, fields))
            )
        );
        bytes memory typed = abi.encodePacked(a.scope, a.slot, dollars.DOMAIN_SEPARATOR(), fields);
        return abi.encodePacked(address(validator), SessionEncoder.encodeMessage(s, sessionKeySig(s, hash), typed));
    }

    /// @dev Settles `a` as a facilitator would; returns whether the token moved the money.
    function settle(Session memory s, Authorization memory a) internal returns (bool) {
        bytes memory signature = signed(s, a);
        vm.prank(facilitator);
        try dollars.transferWithAuthorization(
            address(account), a.to, a.value, a.validAfter, a.validBefore, a.nonce, signature
        ) {
            return true;
        } catch {
            return false;
        }
    }

    function pay(bytes32 id, uint256 validAfter, uint16 slot) internal view returns (Authorization memory a) {
        a = inSlot(id, validAfter, slot);
        a.to = merchant;
    }

    function test_Payments_TheModuleNamesTheNonceOfASlot() public view {
        bytes32 id = keccak256("session");
        assertEq(validator.useNonce(id, 2, 7, 5), keccak256(abi.encode(id, uint8(2), uint32(7), uint16(5))), "useNonce");
    }

    function test_Payments_AtMostMaxUsesTakeEffectPerPeriod() public {
        (Session memory s, bytes32 id) = grantPayments(paymentScope());
        vm.warp(START + 1 hours);
        uint256 before = dollars.balanceOf(merchant);
        for (uint16 slot = 0; slot < PER_DAY; ++slot) {
            assertTrue(settle(s, pay(id, START, slot)), "a free slot settles");
        }
        assertEq(dollars.balanceOf(merchant) - before, PER_DAY * CAP, "PER_DAY payments of CAP");
        // Every slot of the day is used: a slot again is the token's used nonce, a further slot is refused.
        for (uint16 slot = 0; slot < PER_DAY; ++slot) {
            assertFalse(settle(s, pay(id, START + 2 hours, slot)), "a used slot never settles twice");
        }
        assertFalse(settle(s, pay(id, START, PER_DAY)), "slot past maxUses");
        assertFalse(settle(s, pay(id, START, type(uint16).max)), "largest slot");
        assertEq(dollars.balanceOf(merchant) - before, PER_DAY * CAP, "nothing more moved");
        // The next day has its own slots.
        vm.warp(START + 1 days + 1);
        assertTrue(settle(s, pay(id, START + 1 days, 0)), "next period");
    }

    function test_RevertWhen_PaymentWindowOutlivesItsPeriod() public {
        (Session memory s, bytes32 id) = grantPayments(paymentScope());
        vm.warp(START + 1 hours);
        Authorization memory a = pay(id, START, 0);
        a.validBefore += 1;
        assertFalse(settle(s, a), "valid one second into the next day");
        a.validBefore = type(uint256).max;
        assertFalse(settle(s, a), "valid forever");
        // Used tomorrow with today's nonce: refused, so a day's slots cannot be spent in another day.
        Authorization memory late = pay(id, START + 1 days, 0);
        late.nonce = pay(id, START, 1).nonce;
        vm.warp(START + 1 days + 1);
        assertFalse(settle(s, late), "yesterday's slot in today's window");
    }

    function test_RevertWhen_PaymentNonceIsNotTheSlots() public {
        (Session memory s, bytes32 id) = grantPayments(paymentScope());
        vm.warp(START + 1 hours);
        Authorization memory a = pay(id, START, 0);
        a.nonce = keccak256("any nonce");
        assertFalse(settle(s, a), "a nonce of the signer's choosing");
        a = pay(id, START, 0);
        a.slot = 1; // the signature claims slot 1 for slot 0's nonce
        assertFalse(settle(s, a), "slot and nonce disagree");
        a = pay(id, START, 0);
        a.nonce = keccak256(abi.encode(keccak256("another session"), uint8(0), uint32(1), uint16(0)));
        assertFalse(settle(s, a), "another session's slot");
        a = pay(id, START, 0);
        a.validAfter = uint256(type(uint48).max) + START;
        assertFalse(settle(s, a), "validAfter past uint48");
        a.validAfter = type(uint48).max;
        assertFalse(settle(s, a), "validAfter at the last uint48");
    }

    function test_RevertWhen_CountedPaymentBreaksTheScopesRules() public {
        (Session memory s, bytes32 id) = grantPayments(paymentScope());
        vm.warp(START + 1 hours);
        Authorization memory a = pay(id, START, 0);
        a.to = address(0xBAD);
        assertFalse(settle(s, a), "another payee");
        a = pay(id, START, 0);
        a.value = CAP + 1;
        assertFalse(settle(s, a), "over the per-payment cap");
        assertTrue(settle(s, pay(id, START, 0)), "within the rules");
    }

    /// @dev The token asks the account when it settles: a session revoked after signing pays nothing.
    function test_RevertWhen_SignedPaymentSettlesAfterRevocation() public {
        (Session memory s, bytes32 id) = grantPayments(paymentScope());
        vm.warp(START + 1 hours);
        Authorization memory a = pay(id, START, 0);
        bytes memory signature = signed(s, a);
        revokeByOwner(id);
        vm.prank(facilitator);
        vm.expectRevert(abi.encodeWithSelector(DevUsdc.InvalidAuthorizationSignature.selector, address(account)));
        dollars.transferWithAuthorization(
            address(account), a.to, a.value, a.validAfter, a.validBefore, a.nonce, signature
        );
    }

    /// @dev Each counted scope has its own slots: scope 1's nonce does not pass under scope 0.
    function test_RevertWhen_PaymentUsesAnotherScopesSlot() public {
        TypedDataScope[] memory two = new TypedDataScope[](2);
        two[0] = paymentScope()[0];
        two[1] = paymentScope()[0];
        two[1].maxUses = 1;
        (Session memory s, bytes32 id) = grantPayments(two);
        vm.warp(START + 1 hours);
        Authorization memory a = pay(id, START, 0);
        a.nonce = keccak256(abi.encode(id, uint8(1), uint32(1), uint16(0)));
        assertFalse(settle(s, a), "scope 1's slot presented under scope 0");
        a.scope = 1;
        assertTrue(settle(s, a), "under its own scope");
    }

    /// @dev Whatever window, slot and day a signer picks, a counted payment settles only if its slot is below
    /// maxUses, its nonce the slot's in the day that contains validAfter, and validBefore within that day.
    function testFuzz_Payments_SettleOnlyInsideTheirSlotAndDay(
        uint16 slot,
        uint32 afterOffset,
        uint32 length,
        uint8 nonceDay
    ) public {
        (Session memory s, bytes32 id) = grantPayments(paymentScope());
        afterOffset = uint32(bound(afterOffset, 0, 10 days));
        length = uint32(bound(length, 2, 3 days));
        uint256 validAfter = START + afterOffset;
        // The day of the first second it may take effect.
        uint32 day = uint32((afterOffset + 1) / 1 days + 1);
        slot = uint16(bound(slot, 0, 2 * PER_DAY));
        // Half the runs name the right day, so both verdicts are exercised.
        uint32 claimed = nonceDay % 2 == 0 ? day : uint32(bound(nonceDay, 1, 12));
        Authorization memory a = Authorization({
            to: merchant,
            value: CAP,
            validAfter: validAfter,
            validBefore: validAfter + length,
            nonce: keccak256(abi.encode(id, uint8(0), claimed, slot)),
            slot: slot,
            scope: 0
        });
        vm.warp(validAfter + 1);
        bool expected = slot < PER_DAY && claimed == day && a.validBefore <= START + uint256(day) * 1 days;
        assertEq(settle(s, a), expected, "settles exactly when inside its slot and day");
    }

    function test_RevertWhen_CountedScopeHasAnUnknownPeriod() public {
        TypedDataScope[] memory scopes = paymentScope();
        scopes[0].period.kind = SessionTypes.PERIOD_WINDOWS + 1;
        Session memory s = newSession(sessionSigner, one(transferAction(1e6, lifetime())));
        s.signing = scopes;
        bytes memory packed = SessionEncoder.encode(s);
        vm.prank(address(account));
        vm.expectRevert(CallPolicyLib.MalformedSignature.selector);
        validator.grantSession(packed);
    }

    /// @dev A facilitator checks a payment with an `eth_call` from its own address before the token asks: the
    /// message is under the token's own domain, so the answer is the token's. A contract other than the verifier
    /// may not ask, even about the verifier's domain (a token sharing the domain could act on the answer), and under
    /// any other domain only the verifier may.
    function test_Payments_AKeyWithoutCodeMayCheckAMessageUnderTheVerifiersDomain() public {
        (Session memory s, bytes32 id) = grantPayments(paymentScope());
        vm.warp(START + 1 hours);
        Authorization memory a = pay(id, START, 0);
        bytes memory fields = abi.encode(address(account), a.to, a.value, a.validAfter, a.validBefore, a.nonce);
        bytes32 hash = keccak256(
            abi.encodePacked(
                hex"1901",
                dollars.DOMAIN_SEPARATOR(),
                keccak256(abi.encodePacked(TRANSFER_WITH_AUTHORIZATION_TYPEHASH, fields))
            )
        );
        // Signed before the prank: the prank is for the account's call, not the signing's own calls.
        bytes memory signature = signed(s, a);
        vm.prank(facilitator);
        assertEq(uint32(account.isValidSignature(hash, signature)), uint32(0x1626ba7e), "the facilitator's check");
        vm.prank(address(target));
        assertEq(uint32(account.isValidSignature(hash, signature)), uint32(0xffffffff), "another contract asks");
        // The same fields under a domain of the signer's choosing: valid only if the verifier itself asks.
        bytes32 other = keccak256("another domain");
        bytes32 otherHash = keccak256(
            abi.encodePacked(
                hex"1901", other, keccak256(abi.encodePacked(TRANSFER_WITH_AUTHORIZATION_TYPEHASH, fields))
            )
        );
        bytes memory typed = abi.encodePacked(a.scope, a.slot, other, fields);
        signature =
            abi.encodePacked(address(validator), SessionEncoder.encodeMessage(s, sessionKeySig(s, otherHash), typed));
        vm.prank(facilitator);
        assertEq(uint32(account.isValidSignature(otherHash, signature)), uint32(0xffffffff), "someone else asks");
        vm.prank(address(target));
        assertEq(uint32(account.isValidSignature(otherHash, signature)), uint32(0xffffffff), "a contract without it");
    }

    /// @dev Overlapping or unordered windows would let a message pick the window it is counted in: a counted
    /// scope with them is refused when granted.
    function test_RevertWhen_CountedScopeHasOverlappingWindows() public {
        TypedDataScope[] memory scopes = paymentScope();
        scopes[0].period.kind = SessionTypes.PERIOD_WINDOWS;
        scopes[0].period.windows = new uint48[](4);
        (scopes[0].period.windows[0], scopes[0].period.windows[1]) = (START + 100, START + 200);
        (scopes[0].period.windows[2], scopes[0].period.windows[3]) = (START, START + 1000);
        Session memory s = newSession(sessionSigner, one(transferAction(1e6, lifetime())));
        s.signing = scopes;
        vm.prank(address(account));
        vm.expectRevert(CallPolicyLib.MalformedSignature.selector);
        validator.grantSession(SessionEncoder.encode(s));
        // Apart and in order, they are granted.
        (scopes[0].period.windows[2], scopes[0].period.windows[3]) = (START + 200, START + 1000);
        vm.prank(address(account));
        validator.grantSession(SessionEncoder.encode(s));
    }

    /// @dev A payment made in the period's first second: valid after the second before, so it settles at once,
    /// and counted in the period it settles in.
    function test_Payments_APaymentSettlesInItsPeriodsFirstSecond() public {
        (Session memory s, bytes32 id) = grantPayments(paymentScope());
        vm.warp(START + 1 days);
        Authorization memory a = pay(id, START + 1 days - 1, 0);
        assertEq(a.validBefore, START + 2 days, "the second day's slot");
        assertTrue(settle(s, a), "settles in the day's first second");
        // The day before's slots are not the day's: a window from the second before yesterday's end is yesterday's.
        Authorization memory yesterday = pay(id, START + 1 days - 2, 1);
        assertEq(yesterday.validBefore, START + 1 days, "yesterday's slot");
        assertFalse(settle(s, yesterday), "valid only before today");
    }
}
