// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {IERC7579Execution, IERC7579ModuleConfig} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {SessionKeyValidator} from "../../src/SessionKeyValidator.sol";
import {LeashAccount} from "../../src/LeashAccount.sol";
import {CallPolicyLib} from "../../src/libraries/CallPolicyLib.sol";
import {
    Action,
    ActionRecord,
    Grant,
    Session,
    SessionRecord,
    SessionTypes,
    SessionUse
} from "../../src/SessionTypes.sol";
import {SessionEncoder} from "../../src/SessionEncoder.sol";
import {TestBase, Vm} from "../utils/TestBase.sol";
import {IEntryPointErrors, IEntryPointV07, LeashTest} from "../utils/LeashTest.sol";
import {deployValidator} from "../utils/Release.sol";

// =============================================================================================================
// Shared handler machinery
// =============================================================================================================

/// @notice Base of every handler: builds the whole {LeashTest} fixture itself (EntryPoint v0.7, factory, module,
/// token, account), keeps a clock that survives between fuzzed calls, and sends UserOperations through the real
/// `handleOps` without ever reverting, reporting whether each op was included, whether its execution succeeded
/// and, when refused, which check refused it.
abstract contract SessionHandler is LeashTest {
    bytes32 internal constant USER_OPERATION_EVENT =
        keccak256("UserOperationEvent(bytes32,address,address,uint256,bool,uint256,uint256)");
    bytes32 internal constant MODE_SINGLE_TRY = bytes32(uint256(0x0001) << 240);
    bytes32 internal constant MODE_BATCH = bytes32(uint256(0x0100) << 240);
    bytes32 internal constant MODE_BATCH_TRY = bytes32(uint256(0x0101) << 240);
    bytes32 internal constant MODE_DELEGATECALL = bytes32(uint256(0xff00) << 240);

    /// The time of the fuzzed sequence (a warp inside one call is not relied on to outlive the call).
    uint256 public clock;

    constructor() {
        LeashTest.setUp();
        clock = vm.getBlockTimestamp();
    }

    /// @dev The constructor built the fixture; a stray call must not rebuild it.
    function setUp() public override {}

    modifier step() {
        vm.warp(clock);
        _;
    }

    function accountAddress() external view returns (address) {
        return address(account);
    }

    function validatorAddress() external view returns (address) {
        return address(validator);
    }

    function tokenAddress() external view returns (address) {
        return address(usdc);
    }

    function ownerAddress() external view returns (address) {
        return owner;
    }

    function merchantAddress() external view returns (address) {
        return merchant;
    }

    /// @dev Moves the clock forward: to the next `boundary` exactly, to the last second before it, or by a random
    /// amount up to `maxDelta`. Boundaries are counted from {LeashTest-START}.
    function advance(uint256 seed, uint256 maxDelta, uint256 boundary) internal {
        uint256 next = START + ((clock - START) / boundary + 1) * boundary;
        uint256 how = seed % 8;
        if (how == 0) clock = next;
        else if (how == 1) clock = next - 1;
        else clock += (seed >> 8) % (maxDelta + 1);
        vm.warp(clock);
    }

    /// @dev Sends one op. `included`: it passed validation and ran (whatever the outcome of its calls).
    /// `succeeded`: its execution did not revert. `refusal`: the module's (or account's) custom error selector
    /// when refused in validation, or `bytes4(keccak256(reason))` for the EntryPoint's own refusals.
    function submit(PackedUserOperation memory op) internal returns (bool included, bool succeeded, bytes4 refusal) {
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = op;
        vm.recordLogs();
        try ENTRYPOINT.handleOps(ops, beneficiary) {
            included = true;
        } catch (bytes memory err) {
            refusal = refusalOf(err);
        }
        Vm.Log[] memory logs = vm.getRecordedLogs();
        if (!included) return (false, false, refusal);
        for (uint256 i = 0; i < logs.length; ++i) {
            if (
                logs[i].emitter == address(ENTRYPOINT) && logs[i].topics.length > 0
                    && logs[i].topics[0] == USER_OPERATION_EVENT
            ) {
                (, succeeded,,) = abi.decode(logs[i].data, (uint256, bool, uint256, uint256));
            }
        }
    }

    function refusalOf(bytes memory err) internal pure returns (bytes4) {
        if (err.length < 4) return bytes4(0);
        bytes4 selector = bytes4(err);
        bytes memory body = new bytes(err.length - 4);
        for (uint256 i = 0; i < body.length; ++i) {
            body[i] = err[i + 4];
        }
        if (selector == IEntryPointErrors.FailedOpWithRevert.selector) {
            (,, bytes memory inner) = abi.decode(body, (uint256, string, bytes));
            return inner.length < 4 ? bytes4(0) : bytes4(inner);
        }
        if (selector == IEntryPointErrors.FailedOp.selector) {
            (, string memory reason) = abi.decode(body, (uint256, string));
            return bytes4(keccak256(bytes(reason)));
        }
        return selector;
    }

    function executeWith(bytes32 mode, bytes memory executionData) internal pure returns (bytes memory) {
        return abi.encodeCall(IERC7579Execution.execute, (mode, executionData));
    }

    function batchWith(bytes32 mode, Execution[] memory execs) internal pure returns (bytes memory) {
        return executeWith(mode, abi.encode(execs));
    }

    function pingAction() internal view returns (Action memory a) {
        a.target = address(target);
        a.selector = target.ping.selector;
    }

    function pingData(uint256 n) internal view returns (bytes memory) {
        return abi.encodeCall(target.ping, (n, 0, merchant));
    }

    /// @dev `grantingOp` for any sender (the fixture's helper is bound to the main account).
    function grantingOpOn(address sender, bytes memory callData, SessionUse memory use, Grant memory grant)
        internal
        view
        returns (PackedUserOperation memory op)
    {
        op = baseOp(sender, sessionKeyNonce(0), callData);
        use.signature = signUse(op, use, sessionKey);
        op.signature = packGrantingUse(use, grant);
    }
}

// =============================================================================================================
// a, b, f: spending caps, use limits, balance conservation
// =============================================================================================================

/// @notice Drives one session with two actions: USDC transfers capped at 100 USDC per day (fixed period of one
/// day) and `Target.ping` limited to 3 calls per 8 hours. Each call moves time forward, sends a random op (1 to 3
/// calls, single or batch, default or try mode, stated time now or in a neighbouring period, sometimes a
/// transfer that reverts in execution) and then a probe that would break the limit if it landed. Ghosts record,
/// per period of the time the op really ran at, what was charged (included) and what landed (execution ok).
contract SpendingHandler is SessionHandler {
    uint96 public constant DAILY_CAP = 100e6;
    uint32 public constant PING_USES = 3;
    uint32 public constant PING_PERIOD = 8 hours;

    bytes32 public sessionId;
    bytes32 public transferHash;
    bytes32 public pingHash;
    uint256 public initialBalance;

    /// Sum of transfer amounts in included ops, by the day (period index) they ran in.
    mapping(uint256 day => uint256) public chargedOnDay;
    /// Sum of transfer amounts that moved, by day.
    mapping(uint256 day => uint256) public landedOnDay;
    /// Ping calls in included ops, by the 8-hour period they ran in.
    mapping(uint256 period => uint256) public pingsInPeriod;
    uint256[] internal _days;
    uint256[] internal _pingPeriods;
    mapping(uint256 day => bool) internal _dayKnown;
    mapping(uint256 period => bool) internal _pingPeriodKnown;
    /// Every token amount that left the account in an op whose execution succeeded.
    uint256 public landedTotal;

    uint256 public spendCalls;
    uint256 public capProbes;
    uint256 public capProbesRefusedByCap;
    uint256 public pingCalls;
    uint256 public useProbes;
    uint256 public useProbesRefusedByLimit;
    uint256 public forgedProbes;
    uint256 public forgedProbesRefused;

    constructor() {
        Action[] memory actions = sessionActions();
        sessionId = grantByOwner(newSession(sessionSigner, actions), actions);
        transferHash = actionHashOf(actions[0]);
        pingHash = actionHashOf(actions[1]);
        initialBalance = usdc.balanceOf(address(account));
    }

    function sessionActions() public view returns (Action[] memory actions) {
        actions = new Action[](2);
        actions[0] = transferAction(DAILY_CAP, everySeconds(1 days));
        actions[1] = pingAction();
        actions[1].maxUses = PING_USES;
        actions[1].period = everySeconds(PING_PERIOD);
    }

    function dayOf(uint256 t) public pure returns (uint256) {
        return (t - START) / 1 days + 1;
    }

    function pingPeriodOf(uint256 t) public pure returns (uint256) {
        return (t - START) / PING_PERIOD + 1;
    }

    function dayCount() external view returns (uint256) {
        return _days.length;
    }

    function dayAt(uint256 i) external view returns (uint256) {
        return _days[i];
    }

    function pingPeriodCount() external view returns (uint256) {
        return _pingPeriods.length;
    }

    function pingPeriodAt(uint256 i) external view returns (uint256) {
        return _pingPeriods[i];
    }

    // ---------------------------------------------------------------------------------------------------------
    // Fuzzed entry points
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Time moves 0..2 days; a random spend; then a transfer one unit (or more) over today's cap.
    /// @param callsSeed 1 to 3 transfers. @param flavorSeed plain, to the zero address (reverts in execution),
    /// try mode, with a ping, with a ping in try mode. @param timingSeed the stated time: a day earlier, a day
    /// later, the next day's first second, the previous day's last second, or now.
    function spend(uint256 warpSeed, uint256 amountSeed, uint256 callsSeed, uint256 flavorSeed, uint256 timingSeed)
        external
        step
    {
        ++spendCalls;
        advance(warpSeed, 2 days, 1 days);
        randomSpend(amountSeed, callsSeed, flavorSeed, timingSeed);
        capProbe(amountSeed);
    }

    function randomSpend(uint256 amountSeed, uint256 callsSeed, uint256 flavorSeed, uint256 timingSeed) internal {
        uint256 n = 1 + callsSeed % 3;
        uint256[] memory amounts = new uint256[](n);
        for (uint256 k = 0; k < n; ++k) {
            amounts[k] = randomAmount(amountSeed % 5 + k, uint256(keccak256(abi.encode(amountSeed, k))));
        }
        uint256 flavor = flavorSeed % 6;
        address to = flavor == 1 && n == 1 ? address(0) : merchant;
        bool tryMode = flavor == 2 || flavor == 4;
        bool withPing = flavor == 3 || flavor == 4;
        sendTransfers(amounts, to, tryMode, withPing, statedTime(timingSeed));
    }

    function statedTime(uint256 timingSeed) internal view returns (uint48) {
        uint256 timing = timingSeed % 8;
        uint256 dayStart = START + (dayOf(clock) - 1) * 1 days;
        if (timing == 0) return uint48(clock - 1 days);
        if (timing == 1) return uint48(clock + 1 days);
        if (timing == 2) return uint48(dayStart + 1 days);
        if (timing == 3) return uint48(dayStart - 1);
        return uint48(clock);
    }

    /// @dev One transfer of one unit (or more) over what is left of today's cap.
    function capProbe(uint256 amountSeed) internal {
        uint256 spent = chargedOnDay[dayOf(clock)];
        uint256 left = spent >= DAILY_CAP ? 0 : DAILY_CAP - spent;
        uint256[] memory over = new uint256[](1);
        over[0] = left + 1 + amountSeed % DAILY_CAP;
        ++capProbes;
        bytes4 refusal = sendTransfers(over, merchant, false, false, uint48(clock));
        if (refusal == SessionKeyValidator.AmountLimitExceeded.selector) ++capProbesRefusedByCap;
    }

    /// @notice Time moves 0..12 hours; 1 to 3 pings (stated a period earlier, later, or now); then one more
    /// ping than the period has left; optionally a ping under a forged action with a larger limit.
    function ping(uint256 warpSeed, uint256 countSeed, uint256 timingSeed, bool forge) external step {
        ++pingCalls;
        advance(warpSeed, 12 hours, PING_PERIOD);
        uint256 timing = timingSeed % 6;
        uint48 stated = uint48(timing == 0 ? clock - PING_PERIOD : timing == 1 ? clock + PING_PERIOD : clock);
        sendPings(1 + countSeed % 3, sessionActions(), stated);

        uint256 used = pingsInPeriod[pingPeriodOf(clock)];
        uint256 left = used >= PING_USES ? 0 : PING_USES - used;
        ++useProbes;
        bytes4 refusal = sendPings(left + 1, sessionActions(), uint48(clock));
        if (refusal == SessionKeyValidator.UseLimitExceeded.selector) ++useProbesRefusedByLimit;

        if (forge) {
            Action[] memory forged = sessionActions();
            forged[1].maxUses = 1000;
            ++forgedProbes;
            refusal = sendPings(1, forged, uint48(clock));
            if (refusal == SessionKeyValidator.ActionNotGranted.selector) ++forgedProbesRefused;
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Ops
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Buckets: small, exactly what is left today, anything up to the cap, the cap, over the cap alone.
    function randomAmount(uint256 bucket, uint256 r) internal view returns (uint256) {
        bucket %= 5;
        uint256 spent = chargedOnDay[dayOf(clock)];
        if (bucket == 0) return r % (DAILY_CAP / 10 + 1);
        if (bucket == 1) return spent >= DAILY_CAP ? 1 : DAILY_CAP - spent;
        if (bucket == 2) return r % (uint256(DAILY_CAP) + 1);
        if (bucket == 3) return DAILY_CAP;
        return uint256(DAILY_CAP) + 1 + r % type(uint128).max;
    }

    /// @dev One op of `amounts.length` transfers (a batch when more than one, plus a ping when asked), recorded
    /// in the ghosts by the time it ran at. Returns the refusal selector (zero when included).
    function sendTransfers(uint256[] memory amounts, address to, bool tryMode, bool withPing, uint48 stated)
        internal
        returns (bytes4 refusal)
    {
        uint256 n = amounts.length + (withPing ? 1 : 0);
        SessionUse memory use = useOf(newSession(sessionSigner, sessionActions()), sessionActions(), n);
        use.time = stated;
        if (withPing) use.callActions[n - 1] = bytes1(0x01);
        (bytes memory callData, uint256 total) = transfersCallData(amounts, to, tryMode, withPing);
        bool included;
        bool succeeded;
        (included, succeeded, refusal) = submit(sessionOp(callData, use));
        if (!included) return refusal;
        uint256 day = dayOf(vm.getBlockTimestamp());
        noteDay(day);
        chargedOnDay[day] += total;
        if (withPing) notePings(1);
        if (succeeded) {
            landedOnDay[day] += total;
            landedTotal += total;
        }
    }

    function transfersCallData(uint256[] memory amounts, address to, bool tryMode, bool withPing)
        internal
        view
        returns (bytes memory callData, uint256 total)
    {
        if (amounts.length == 1 && !withPing) {
            return (singleCall(address(usdc), 0, abi.encodeCall(usdc.transfer, (to, amounts[0]))), amounts[0]);
        }
        Execution[] memory execs = new Execution[](amounts.length + (withPing ? 1 : 0));
        for (uint256 k = 0; k < amounts.length; ++k) {
            total += amounts[k];
            execs[k] = Execution(address(usdc), 0, abi.encodeCall(usdc.transfer, (to, amounts[k])));
        }
        if (withPing) execs[amounts.length] = Execution(address(target), 0, pingData(amounts.length));
        callData = batchWith(tryMode ? MODE_BATCH_TRY : MODE_BATCH, execs);
    }

    function sendPings(uint256 n, Action[] memory actions, uint48 stated) internal returns (bytes4 refusal) {
        SessionUse memory use = useOf(newSession(sessionSigner, sessionActions()), actions, n);
        use.time = stated;
        bytes memory callData;
        for (uint256 k = 0; k < n; ++k) {
            use.callActions[k] = bytes1(0x01);
        }
        if (n == 1) {
            callData = singleCall(address(target), 0, pingData(0));
        } else {
            Execution[] memory execs = new Execution[](n);
            for (uint256 k = 0; k < n; ++k) {
                execs[k] = Execution(address(target), 0, pingData(k));
            }
            callData = batchCall(execs);
        }
        bool included;
        (included,, refusal) = submit(sessionOp(callData, use));
        if (included) notePings(n);
    }

    function noteDay(uint256 day) internal {
        if (_dayKnown[day]) return;
        _dayKnown[day] = true;
        _days.push(day);
    }

    function notePings(uint256 n) internal {
        uint256 period = pingPeriodOf(vm.getBlockTimestamp());
        if (!_pingPeriodKnown[period]) {
            _pingPeriodKnown[period] = true;
            _pingPeriods.push(period);
        }
        pingsInPeriod[period] += n;
    }
}

/// @notice Invariants (a) spending never exceeds the cap of any period, (b) uses never exceed the limit of any
/// period, and (f) the account's token balance drops exactly by the transfers that landed, all through
/// `handleOps` driven by {SpendingHandler}.
contract SpendingLimitsInvariantTest is TestBase {
    SpendingHandler internal handler;
    SessionKeyValidator internal validator;
    address internal account;

    function setUp() public {
        handler = SpendingHandler(vm.deployCode("SessionInvariants.t.sol:SpendingHandler"));
        validator = SessionKeyValidator(handler.validatorAddress());
        account = handler.accountAddress();
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](2);
        selectors[0] = SpendingHandler.spend.selector;
        selectors[1] = SpendingHandler.ping.selector;
        targetSelector(address(handler), selectors);
    }

    /// @notice (a) For every day: what landed <= what was charged <= the daily cap; the module's counter never
    /// exceeds the cap and equals what the ghost saw charged in the period it holds.
    function invariant_DailySpendNeverExceedsTheCap() public view {
        uint256 cap = handler.DAILY_CAP();
        for (uint256 i = 0; i < handler.dayCount(); ++i) {
            uint256 day = handler.dayAt(i);
            assertLe(handler.landedOnDay(day), handler.chargedOnDay(day), "landed <= charged");
            assertLe(handler.chargedOnDay(day), cap, "charged on one day <= cap");
        }
        ActionRecord memory record = validator.actionRecord(account, handler.sessionId(), handler.transferHash());
        assertLe(record.amountSpent, cap, "on-chain amountSpent <= cap");
        if (record.period != 0) {
            assertEq(record.amountSpent, handler.chargedOnDay(record.period), "on-chain counter matches the ghost");
        }
    }

    /// @notice (b) For every 8-hour period: included ping calls <= maxUses; the module's counter agrees.
    function invariant_UsesPerPeriodNeverExceedTheLimit() public view {
        uint256 maxUses = handler.PING_USES();
        for (uint256 i = 0; i < handler.pingPeriodCount(); ++i) {
            assertLe(handler.pingsInPeriod(handler.pingPeriodAt(i)), maxUses, "pings in one period <= maxUses");
        }
        ActionRecord memory record = validator.actionRecord(account, handler.sessionId(), handler.pingHash());
        assertLe(record.uses, maxUses, "on-chain uses <= maxUses");
        if (record.period != 0) {
            assertEq(record.uses, handler.pingsInPeriod(record.period), "on-chain uses match the ghost");
        }
    }

    /// @notice (f) Initial balance - current balance == the sum of transfers whose op landed successfully.
    function invariant_BalanceDropsOnlyByLandedTransfers() public view {
        address token = handler.tokenAddress();
        uint256 balance = TokenLike(token).balanceOf(account);
        assertEq(handler.initialBalance() - balance, handler.landedTotal(), "account lost exactly what landed");
        assertEq(
            TokenLike(token).balanceOf(handler.merchantAddress()), handler.landedTotal(), "the merchant got it all"
        );
    }

    /// @notice Every probe really reached the limit it tests and was refused by it (not by a bad signature or
    /// window), so the invariants above would fail if the limit were not enforced.
    function afterInvariant() public view {
        assertEq(handler.capProbes(), handler.spendCalls(), "one cap probe per spend call");
        assertEq(handler.capProbesRefusedByCap(), handler.capProbes(), "every cap probe refused by the cap");
        assertEq(handler.useProbes(), handler.pingCalls(), "one use probe per ping call");
        assertEq(handler.useProbesRefusedByLimit(), handler.useProbes(), "every use probe refused by the limit");
        assertEq(handler.forgedProbesRefused(), handler.forgedProbes(), "forged actions refused as not granted");
    }

    /// @notice The handler itself: a transfer that reverts in execution still counts against the cap, spends land
    /// up to the cap exactly, probes are refused by the limit they test, caps and use limits reset with their
    /// periods and hold to a period's last second.
    function test_HandlerSpendsUpToTheCapAndProbesAreRefused() public {
        uint256 cap = handler.DAILY_CAP();
        // warpSeed 2: no warp; timing 4: stated now.
        handler.spend(2, 0, 0, 1, 4); // a small transfer to the zero address: charged, reverts in execution
        uint256 day = handler.dayOf(vm.getBlockTimestamp());
        uint256 reverted = handler.chargedOnDay(day);
        assertEq(handler.landedOnDay(day), 0, "the reverted transfer moved nothing");
        handler.spend(2, 1, 0, 0, 4); // exactly what is left today
        assertEq(handler.chargedOnDay(day), cap, "the day's cap is reached exactly");
        assertEq(handler.landedOnDay(day), cap - reverted, "the reverted transfer still used up its part of the cap");
        assertEq(handler.capProbesRefusedByCap(), 2, "both probes refused by the cap");
        handler.spend(0, 3, 0, 0, 4); // warpSeed 0: to the next day's first second; the whole cap again
        assertEq(handler.chargedOnDay(day + 1), cap, "fresh cap the next day");
        handler.spend(1, 0, 2, 4, 4); // warpSeed 1: the day's last second; a batch of 3 and a ping, try mode
        assertEq(handler.chargedOnDay(day + 1), cap, "the cap holds to the day's last second");
        assertEq(handler.landedTotal(), 2 * cap - reverted, "what landed");
        assertEq(handler.capProbes(), 4, "one probe per call");

        for (uint256 i = 0; i < 4; ++i) {
            handler.ping(2, 2, 2, true); // three pings, then the probe and a forged action
        }
        assertEq(handler.useProbesRefusedByLimit(), 4, "every use probe refused by the limit");
        assertEq(handler.forgedProbesRefused(), 4, "forged actions refused");
        assertEq(handler.pingsInPeriod(handler.pingPeriodOf(vm.getBlockTimestamp())), 3, "three pings in the period");
        handler.ping(0, 0, 2, false); // next period: one ping lands again
        assertEq(
            handler.pingsInPeriod(handler.pingPeriodOf(vm.getBlockTimestamp())), 1, "limit reset in the next period"
        );

        invariant_DailySpendNeverExceedsTheCap();
        invariant_UsesPerPeriodNeverExceedTheLimit();
        invariant_BalanceDropsOnlyByLandedTransfers();
        afterInvariant();
    }
}

/// @notice The one token function the invariants read.
interface TokenLike {
    function balanceOf(address) external view returns (uint256);
}

// =============================================================================================================
// c: revocation
// =============================================================================================================

/// @notice Three sessions of the main account, each with an owner's lazy grant signed at epoch 0 (session 0
/// uses its grant at once; the others are pending). Fuzzed calls use sessions (plainly, by replaying the
/// original grant, or with a fresher grant), re-sign grants, grant by transaction, revoke one session or revoke
/// all (epoch bump); every revoke is followed at once by plain ops and grant replays of the victims. A model of
/// the owner's intent classifies each attempt and counts the ones that landed when they must not have.
contract RevocationHandler is SessionHandler {
    uint256 public constant SESSIONS = 3;
    uint32 public constant NEVER = type(uint32).max;
    uint256 internal constant PLAIN = 0;
    uint256 internal constant ORIGINAL_GRANT = 1;
    uint256 internal constant FRESH_GRANT = 2;

    bytes32[3] public ids;
    bytes[3] internal originalSignature;
    bytes[3] internal freshSignature;
    uint32[3] public freshEpoch;
    bool[3] public revoked;
    uint32[3] public grantedEpoch;
    uint32 public epoch;

    uint256 public revokes;
    uint256 public revokeAlls;
    uint256 public attemptsAfterRevoke;
    uint256 public refusedAfterRevoke;
    uint256 public landedAfterRevoke;
    uint256 public attemptsAfterRevokeAll;
    uint256 public refusedAfterRevokeAll;
    uint256 public landedAfterRevokeAll;
    uint256 public attemptsUngranted;
    uint256 public landedUngranted;
    uint256 public liveAttempts;
    uint256 public liveLanded;
    uint256 public revokedRegranted;

    constructor() {
        for (uint256 i = 0; i < SESSIONS; ++i) {
            Session memory s = sessionNumber(i);
            ids[i] = sessionIdOf(s);
            originalSignature[i] = ownerGrant(address(account), s).ownerSignature;
            freshEpoch[i] = NEVER;
            grantedEpoch[i] = NEVER;
        }
        attempt(0, ORIGINAL_GRANT);
    }

    function actions() internal view returns (Action[] memory) {
        return one(pingAction());
    }

    function sessionNumber(uint256 i) internal view returns (Session memory s) {
        s = newSession(sessionSigner, actions());
        s.salt = bytes32(i + 1);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Fuzzed entry points
    // ---------------------------------------------------------------------------------------------------------

    /// @notice A session op: plain (mode 0), replaying the original grant, or with the freshest grant.
    function use(uint256 which, uint256 kind, uint256 warpSeed) external step {
        advance(warpSeed, 1 days, 1 hours);
        attempt(which % SESSIONS, kind % 3);
    }

    /// @notice The owner revokes one session; its key tries again at once, plainly and with its grants.
    function revoke(uint256 which, uint256 warpSeed) external step {
        advance(warpSeed, 1 days, 1 hours);
        uint256 i = which % SESSIONS;
        bytes memory call = abi.encodeCall(SessionKeyValidator.revokeSession, (ids[i]));
        (bool included, bool succeeded,) = submit(ownerOp(singleCall(address(validator), 0, call)));
        if (included && succeeded) {
            revoked[i] = true;
            ++revokes;
            attempt(i, PLAIN);
            attempt(i, ORIGINAL_GRANT);
            attempt(i, FRESH_GRANT);
        }
    }

    /// @notice The owner revokes every session (epoch bump); a session tries again at once.
    function revokeAll(uint256 which, uint256 warpSeed) external step {
        advance(warpSeed, 1 days, 1 hours);
        bytes memory call = abi.encodeCall(SessionKeyValidator.revokeAllSessions, ());
        (bool included, bool succeeded,) = submit(ownerOp(singleCall(address(validator), 0, call)));
        if (included && succeeded) {
            ++epoch;
            ++revokeAlls;
            uint256 i = which % SESSIONS;
            attempt(i, PLAIN);
            attempt(i, ORIGINAL_GRANT);
            attempt(i, FRESH_GRANT);
        }
    }

    /// @notice The owner signs a new lazy grant at the current epoch, and maybe grants by transaction too.
    function regrant(uint256 which, bool byTransaction) external step {
        uint256 i = which % SESSIONS;
        Session memory s = sessionNumber(i);
        freshSignature[i] = ownerGrant(address(account), s).ownerSignature;
        freshEpoch[i] = epoch;
        if (!byTransaction) return;
        bytes memory call = abi.encodeCall(SessionKeyValidator.grantSession, (SessionEncoder.encode(s)));
        (bool included, bool succeeded,) = submit(ownerOp(singleCall(address(validator), 0, call)));
        if (included && succeeded) {
            if (revoked[i]) ++revokedRegranted;
            else grantedEpoch[i] = epoch;
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Attempts, classified by the owner's intent
    // ---------------------------------------------------------------------------------------------------------

    function attempt(uint256 i, uint256 kind) internal {
        if (kind == FRESH_GRANT && freshEpoch[i] == NEVER) kind = ORIGINAL_GRANT;
        Session memory s = sessionNumber(i);
        SessionUse memory u = useOf(s, actions(), 1);
        bytes memory callData = singleCall(address(target), 0, pingData(i));
        PackedUserOperation memory op;
        uint32 signedAt;
        if (kind == PLAIN) {
            op = sessionOp(callData, u);
        } else {
            Grant memory grant;
            grant.ownerSignature = kind == FRESH_GRANT ? freshSignature[i] : originalSignature[i];
            signedAt = kind == FRESH_GRANT ? freshEpoch[i] : 0;
            grant.epoch = signedAt;
            op = grantingOp(callData, u, grant);
        }

        bool wasRevoked = revoked[i];
        // Mode 0 needs a grant of the current epoch; mode 1 needs a grant signed at the current epoch.
        bool stale = kind == PLAIN ? grantedEpoch[i] != NEVER && grantedEpoch[i] != epoch : signedAt != epoch;
        bool ungranted = kind == PLAIN && grantedEpoch[i] == NEVER;

        (bool included,, bytes4 refusal) = submit(op);
        bool refusedByLifecycle = !included
            && (refusal == SessionKeyValidator.SessionIsRevoked.selector
                || refusal == SessionKeyValidator.SessionNotGranted.selector
                || refusal == SessionKeyValidator.SessionVoidedByRevokeAll.selector
                || refusal == SessionKeyValidator.GrantVoidedByRevokeAll.selector
                || refusal == SessionKeyValidator.InvalidGrantSignature.selector);

        if (wasRevoked) {
            ++attemptsAfterRevoke;
            if (included) ++landedAfterRevoke;
            if (refusedByLifecycle) ++refusedAfterRevoke;
        }
        if (stale) {
            ++attemptsAfterRevokeAll;
            if (included) ++landedAfterRevokeAll;
            if (refusedByLifecycle) ++refusedAfterRevokeAll;
        }
        if (ungranted) {
            ++attemptsUngranted;
            if (included) ++landedUngranted;
        }
        if (!wasRevoked && !stale && !ungranted) {
            ++liveAttempts;
            if (included) {
                ++liveLanded;
                grantedEpoch[i] = epoch;
            }
        }
    }

    /// @notice The state the owner's actions say session `i` must be in.
    function expectedState(uint256 i) external view returns (uint8) {
        if (revoked[i]) return SessionTypes.STATE_REVOKED;
        return grantedEpoch[i] == epoch ? SessionTypes.STATE_ENABLED : SessionTypes.STATE_NONE;
    }
}

/// @notice Invariant (c): a revoked session never validates again, neither plainly nor by replaying its old
/// lazy grant, and "revoke all" kills every earlier session and every grant signed before it.
contract RevocationInvariantTest is TestBase {
    RevocationHandler internal handler;
    SessionKeyValidator internal validator;
    address internal account;

    function setUp() public {
        handler = RevocationHandler(vm.deployCode("SessionInvariants.t.sol:RevocationHandler"));
        validator = SessionKeyValidator(handler.validatorAddress());
        account = handler.accountAddress();
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](4);
        selectors[0] = RevocationHandler.use.selector;
        selectors[1] = RevocationHandler.revoke.selector;
        selectors[2] = RevocationHandler.revokeAll.selector;
        selectors[3] = RevocationHandler.regrant.selector;
        targetSelector(address(handler), selectors);
    }

    /// @notice No op of a revoked session landed (plain or grant replay); no revoked session was re-granted;
    /// the module reports every revoked session as revoked.
    function invariant_RevokedSessionNeverValidatesAgain() public view {
        assertEq(handler.landedAfterRevoke(), 0, "an op landed after its session was revoked");
        assertEq(handler.revokedRegranted(), 0, "a revoked session was granted again");
        for (uint256 i = 0; i < handler.SESSIONS(); ++i) {
            if (handler.revoked(i)) {
                assertEq(
                    validator.sessionState(account, handler.ids(i)), SessionTypes.STATE_REVOKED, "reads as revoked"
                );
            }
        }
    }

    /// @notice No op landed on a grant from an earlier epoch (a session granted before "revoke all", or a lazy
    /// grant signed before it) nor for a session never granted; epoch and states match the owner's actions.
    function invariant_RevokeAllKillsEveryEarlierSessionAndGrant() public view {
        assertEq(handler.landedAfterRevokeAll(), 0, "an op landed on a grant from an earlier epoch");
        assertEq(handler.landedUngranted(), 0, "an op of a never-granted session landed");
        assertEq(validator.epochOf(account), handler.epoch(), "epoch == number of revoke-alls");
        for (uint256 i = 0; i < handler.SESSIONS(); ++i) {
            assertEq(validator.sessionState(account, handler.ids(i)), handler.expectedState(i), "session state");
        }
    }

    /// @notice Every revoke was followed by attempts, all refused by the lifecycle checks (not by accident), and
    /// every op the owner's intent allows did land (the model is live, not vacuous).
    function afterInvariant() public view {
        assertLe(handler.revokes(), handler.attemptsAfterRevoke(), "attempts after every revoke");
        assertEq(handler.refusedAfterRevoke(), handler.attemptsAfterRevoke(), "refused as revoked");
        assertLe(handler.revokeAlls(), handler.attemptsAfterRevokeAll(), "attempts after every revoke-all");
        assertEq(handler.refusedAfterRevokeAll(), handler.attemptsAfterRevokeAll(), "refused as stale");
        assertEq(handler.liveLanded(), handler.liveAttempts(), "every allowed op landed");
    }

    /// @notice The handler itself: pending and fresh grants land while live; plain ops and grant replays after a
    /// revoke or a revoke-all are refused by the lifecycle checks; a revoked session cannot be granted again.
    function test_HandlerRevokesAndReplaysAreRefused() public {
        assertEq(handler.liveLanded(), 1, "session 0 granted lazily by its first op");
        // warpSeed 2: no warp.
        handler.use(0, 0, 2); // plain use of session 0
        handler.use(1, 1, 2); // session 1's pending grant
        handler.revoke(0, 2);
        handler.revokeAll(1, 2);
        handler.use(2, 1, 2); // session 2's pending grant, signed before the revoke-all
        handler.regrant(2, false);
        handler.use(2, 2, 2); // fresh grant: lands
        handler.regrant(0, true); // revoked: granting by transaction fails
        assertEq(handler.liveLanded(), 4, "ops the owner allows landed");
        assertTrue(handler.attemptsAfterRevoke() >= 3, "replays after revoke");
        assertTrue(handler.attemptsAfterRevokeAll() >= 3, "replays after revoke-all");
        invariant_RevokedSessionNeverValidatesAgain();
        invariant_RevokeAllKillsEveryEarlierSessionAndGrant();
        afterInvariant();
    }
}

// =============================================================================================================
// d: no privilege escalation
// =============================================================================================================

/// @notice A module that would own the account if it were ever installed: any module type, accepts every op
/// and every signature; run by delegatecall it installs itself from inside the account.
contract RogueModule {
    function onInstall(bytes calldata) external {}

    function onUninstall(bytes calldata) external {}

    function isModuleType(uint256) external pure returns (bool) {
        return true;
    }

    function validateUserOp(PackedUserOperation calldata, bytes32) external pure returns (uint256) {
        return 0;
    }

    function isValidSignatureWithSender(address, bytes32, bytes calldata) external pure returns (bytes4) {
        return 0x1626ba7e;
    }

    function takeOver(address module) external {
        IERC7579ModuleConfig(address(this)).installModule(1, module, "");
    }
}

/// @notice An ordinary contract a broad session may call, which forwards any call: the indirect route.
contract Relay {
    function forward(address to, bytes calldata data) external returns (bool ok) {
        (ok,) = to.call(data);
    }
}

/// @notice A session with the broadest action (`ACTION_ANY_TARGET | ACTION_ANY_SELECTOR`) attacks its account:
/// module management, nested `execute`, the module's lifecycle functions, delegatecall, batches mixing allowed
/// and forbidden calls, non-canonical encodings and unsupported modes. It also makes allowed calls, including
/// through a relay that forwards forbidden calls. The owner meanwhile grants and revokes a decoy session.
contract EscalationHandler is SessionHandler {
    bytes4 public constant ROGUE_SELECTOR = 0xdeadbeef;
    /// How many kinds of forbidden call {forbiddenCall} makes.
    uint256 public constant KINDS = 18;
    bytes32 internal constant IMPLEMENTATION_SLOT = 0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc;

    RogueModule public rogue;
    Relay public relay;
    /// A second validator installed on the account: a session acting as the account towards it would grant itself
    /// sudo there.
    SessionKeyValidator public secondValidator;
    /// Where a session would withdraw the account's EntryPoint deposit to.
    address public constant THIEF = address(0xD1E);
    /// The nonce key a session would bump to invalidate the owner's signed operations.
    uint192 public constant OWNER_KEY = 0x777;
    bytes32 public wideId;
    bytes32 public wideHash;
    bytes32 public sudoId;
    bytes32 public decoyId;
    bytes32 public implementation;
    uint8 public expectedDecoyState;

    uint256 public attacks;
    uint256 public attacksLanded;
    uint256 public attacksRefusedByPolicy;
    uint256 public allowedAttempts;
    uint256 public allowedLanded;
    uint256 public ownerActions;

    constructor() {
        rogue = new RogueModule();
        relay = new Relay();
        secondValidator = deployValidator();
        bytes memory install = abi.encodeCall(IERC7579ModuleConfig.installModule, (1, address(secondValidator), ""));
        send(ownerOp(singleCall(address(account), 0, install)));
        vm.deal(address(this), 1 ether);
        ENTRYPOINT.depositTo{value: 1 ether}(address(account));
        Action[] memory actions = wideActions();
        wideId = grantByOwner(newSession(sessionSigner, actions), actions);
        wideHash = actionHashOf(actions[0]);
        sudoId = sessionIdOf(sudoSession());
        decoyId = sessionIdOf(decoySession());
        implementation = vm.load(address(account), IMPLEMENTATION_SLOT);
    }

    function wideActions() internal pure returns (Action[] memory) {
        Action memory any;
        any.flags = SessionTypes.ACTION_ANY_TARGET | SessionTypes.ACTION_ANY_SELECTOR;
        return one(any);
    }

    function sudoSession() internal view returns (Session memory s) {
        s = newSession(sessionSigner, new Action[](0));
        s.flags = SessionTypes.SESSION_SUDO;
        s.salt = "sudo";
    }

    function decoySession() internal view returns (Session memory s) {
        s = newSession(address(0xDEC0), one(pingAction()));
        s.salt = "decoy";
    }

    // ---------------------------------------------------------------------------------------------------------
    // Fuzzed entry points
    // ---------------------------------------------------------------------------------------------------------

    /// @notice One forbidden call (`kind`) wrapped in one of the op shapes (`shape`).
    function attack(uint256 kind, uint256 shape, uint256 arg) external step {
        (address to, bytes memory data) = forbiddenCall(kind, arg);
        bytes memory callData;
        uint256 n = 1;
        shape %= 9;
        if (shape == 0) {
            callData = singleCall(to, 0, data);
        } else if (shape == 1) {
            callData = executeWith(MODE_SINGLE_TRY, abi.encodePacked(to, uint256(0), data));
        } else if (shape == 2 || shape == 3) {
            // Allowed pings around the forbidden call, which sits at a random position.
            n = 2 + arg % 3;
            Execution[] memory execs = new Execution[](n);
            uint256 at = (arg >> 8) % n;
            for (uint256 k = 0; k < n; ++k) {
                execs[k] = k == at ? Execution(to, 0, data) : Execution(address(target), 0, pingData(k));
            }
            callData = batchWith(shape == 2 ? MODE_BATCH : MODE_BATCH_TRY, execs);
        } else if (shape == 4) {
            // Delegatecall into code that installs a module from inside the account.
            callData = executeWith(
                MODE_DELEGATECALL,
                abi.encodePacked(address(rogue), abi.encodeCall(RogueModule.takeOver, (address(rogue))))
            );
        } else if (shape == 5) {
            // Delegatecall straight into the forbidden call's target.
            callData = executeWith(MODE_DELEGATECALL, abi.encodePacked(to, data));
        } else if (shape == 6) {
            // Non-canonical ABI offset (0x60) with a junk word: the account would still decode the call.
            bytes memory execution = abi.encodePacked(to, uint256(0), data);
            callData = abi.encodePacked(
                IERC7579Execution.execute.selector, bytes32(0), uint256(0x60), uint256(arg), execution.length, execution
            );
        } else if (shape == 7) {
            // A mode the account executes as a single call but with a non-zero selector/payload.
            callData = executeWith(bytes32(uint256(1 + arg % 255)), abi.encodePacked(to, uint256(0), data));
        } else {
            // An unknown call type (0xfe).
            callData = executeWith(bytes32(uint256(0xfe) << 248), abi.encodePacked(to, uint256(0), data));
        }
        ++attacks;
        (bool included,, bytes4 refusal) = submit(sessionOp(callData, wideUse(n)));
        if (included) ++attacksLanded;
        if (
            refusal == CallPolicyLib.ForbiddenTarget.selector || refusal == CallPolicyLib.DelegateCallForbidden.selector
                || refusal == CallPolicyLib.MalformedExecution.selector
                || refusal == CallPolicyLib.UnsupportedExecutionMode.selector
        ) ++attacksRefusedByPolicy;
    }

    /// @notice Allowed calls: pings, or a relay forwarding a forbidden call (lands, changes nothing of the account).
    function allowed(uint256 kind, uint256 arg) external step {
        bytes memory callData;
        uint256 n = 1;
        if (kind % 3 == 0) {
            callData = singleCall(address(target), 0, pingData(arg));
        } else if (kind % 3 == 1) {
            n = 2;
            Execution[] memory execs = new Execution[](2);
            execs[0] = Execution(address(target), 0, pingData(arg));
            execs[1] = Execution(address(target), 0, pingData(~arg));
            callData = batchCall(execs);
        } else {
            (address to, bytes memory data) = forbiddenCall(arg, arg >> 8);
            callData = singleCall(address(relay), 0, abi.encodeCall(Relay.forward, (to, data)));
        }
        ++allowedAttempts;
        (bool included,,) = submit(sessionOp(callData, wideUse(n)));
        if (included) ++allowedLanded;
    }

    /// @notice The owner grants the decoy session, or revokes it (the only legitimate state changes).
    function ownerActsOnDecoy(bool revokeIt) external step {
        bytes memory call = revokeIt
            ? abi.encodeCall(SessionKeyValidator.revokeSession, (decoyId))
            : abi.encodeCall(SessionKeyValidator.grantSession, (SessionEncoder.encode(decoySession())));
        (bool included, bool succeeded,) = submit(ownerOp(singleCall(address(validator), 0, call)));
        if (!included || !succeeded) return;
        ++ownerActions;
        if (revokeIt) expectedDecoyState = SessionTypes.STATE_REVOKED;
        else if (expectedDecoyState == SessionTypes.STATE_NONE) expectedDecoyState = SessionTypes.STATE_ENABLED;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------

    function wideUse(uint256 n) internal view returns (SessionUse memory) {
        return useOf(newSession(sessionSigner, wideActions()), wideActions(), n);
    }

    /// @dev Calls a session must never make: on the account (module management, nested execution, anything)
    /// or on the module (lifecycle of its own or other sessions).
    function forbiddenCall(uint256 kind, uint256 arg) internal view returns (address, bytes memory) {
        address a = address(account);
        address v = address(validator);
        kind %= KINDS;
        if (kind == 0) return (a, abi.encodeCall(IERC7579ModuleConfig.installModule, (1, address(rogue), "")));
        if (kind == 1) return (a, abi.encodeCall(IERC7579ModuleConfig.installModule, (2, address(rogue), "")));
        if (kind == 2) {
            return (
                a,
                abi.encodeCall(
                    IERC7579ModuleConfig.installModule, (3, address(rogue), abi.encodePacked(ROGUE_SELECTOR))
                )
            );
        }
        if (kind == 3) return (a, abi.encodeCall(IERC7579ModuleConfig.uninstallModule, (1, v, "")));
        if (kind == 4) {
            bytes memory inner = abi.encodeCall(SessionKeyValidator.revokeAllSessions, ());
            return (a, abi.encodeCall(IERC7579Execution.execute, (bytes32(0), abi.encodePacked(v, uint256(0), inner))));
        }
        if (kind == 5) {
            bytes memory inner = abi.encodeCall(IERC7579ModuleConfig.installModule, (1, address(rogue), ""));
            return (a, abi.encodeCall(IERC7579Execution.execute, (bytes32(0), abi.encodePacked(a, uint256(0), inner))));
        }
        if (kind == 6) {
            return (v, abi.encodeCall(SessionKeyValidator.grantSession, (SessionEncoder.encode(sudoSession()))));
        }
        if (kind == 7) return (v, abi.encodeCall(SessionKeyValidator.revokeSession, (wideId)));
        if (kind == 8) return (v, abi.encodeCall(SessionKeyValidator.revokeAllSessions, ()));
        if (kind == 9) return (v, abi.encodeCall(SessionKeyValidator.onUninstall, ("")));
        if (kind == 10) return (v, abi.encodeCall(SessionKeyValidator.revokeSession, (decoyId)));
        if (kind == 11) return (a, abi.encodePacked(bytes4(uint32(arg)), arg)); // any function of the account
        // address(0): the account's executor calls the account itself.
        if (kind == 13) {
            return (address(0), abi.encodeCall(IERC7579ModuleConfig.installModule, (1, address(rogue), "")));
        }
        if (kind == 14) {
            return
                (address(0), abi.encodeCall(SessionKeyValidator.grantSession, (SessionEncoder.encode(sudoSession()))));
        }
        // The EntryPoint: the account's deposit and nonces.
        if (kind == 15) return (address(ENTRYPOINT), abi.encodeWithSignature("withdrawTo(address,uint256)", THIEF, 1));
        if (kind == 16) return (address(ENTRYPOINT), abi.encodeWithSignature("incrementNonce(uint192)", OWNER_KEY));
        // Another installed validator: sudo there.
        if (kind == 17) {
            return (
                address(secondValidator),
                abi.encodeCall(SessionKeyValidator.grantSession, (SessionEncoder.encode(sudoSession())))
            );
        }
        return (a, ""); // a plain call (native transfer) to the account
    }
}

/// @notice Invariant (d): a session, however broad, never changes the account's modules, owner or
/// implementation, nor its own or any other session's permissions; only the owner's actions change them.
contract PrivilegeEscalationInvariantTest is TestBase {
    EscalationHandler internal handler;
    SessionKeyValidator internal validator;
    LeashAccount internal account;
    address internal owner;

    function setUp() public {
        handler = EscalationHandler(vm.deployCode("SessionInvariants.t.sol:EscalationHandler"));
        validator = SessionKeyValidator(handler.validatorAddress());
        account = LeashAccount(payable(handler.accountAddress()));
        owner = handler.ownerAddress();
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](3);
        selectors[0] = EscalationHandler.attack.selector;
        selectors[1] = EscalationHandler.allowed.selector;
        selectors[2] = EscalationHandler.ownerActsOnDecoy.selector;
        targetSelector(address(handler), selectors);
    }

    /// @notice No op carrying a forbidden call landed; owner, modules and implementation are unchanged; the
    /// module still holds the session as granted with untouched counters, no sudo grant, no revoke-all, and the
    /// decoy session only in the state the owner put it in.
    function invariant_SessionNeverChangesModulesOwnerOrPermissions() public view {
        assertEq(handler.attacksLanded(), 0, "an op with a forbidden call landed");
        // The account.
        assertEq(account.owner(), owner, "owner unchanged");
        assertTrue(account.isModuleInstalled(1, address(validator), ""), "the session module is still installed");
        address rogue = address(handler.rogue());
        assertTrue(!account.isModuleInstalled(1, rogue, ""), "no rogue validator");
        assertTrue(!account.isModuleInstalled(2, rogue, ""), "no rogue executor");
        assertTrue(
            !account.isModuleInstalled(3, rogue, abi.encodePacked(handler.ROGUE_SELECTOR())), "no rogue fallback"
        );
        assertEq(
            vm.load(address(account), 0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc),
            handler.implementation(),
            "implementation unchanged"
        );
        // The module's view of the account.
        assertEq(validator.epochOf(address(account)), 0, "no revoke-all happened");
        assertEq(
            validator.sessionState(address(account), handler.wideId()), SessionTypes.STATE_ENABLED, "still granted"
        );
        SessionRecord memory record = validator.sessionRecord(address(account), handler.wideId());
        assertEq(record.epoch, 0, "session epoch unchanged");
        // Only the gas budget moves: the allowed calls the handler mixes in pay for their gas.
        assertEq(record.uses + record.usesPeriod, 0, "session counters untouched");
        // The wide action has no counters, so nothing (no attack either) ever writes its record.
        ActionRecord memory wide = validator.actionRecord(address(account), handler.wideId(), handler.wideHash());
        assertTrue(!wide.enabled && wide.period == 0 && wide.uses == 0, "the uncounted action's record is untouched");
        assertEq(validator.sessionState(address(account), handler.sudoId()), SessionTypes.STATE_NONE, "no sudo grant");
        assertEq(
            handler.secondValidator().sessionState(address(account), handler.sudoId()),
            SessionTypes.STATE_NONE,
            "no sudo grant on the other installed validator"
        );
        assertEq(handler.THIEF().balance, 0, "the EntryPoint deposit was never withdrawn");
        assertEq(
            IEntryPointV07(0x0000000071727De22E5E9d8BAf0edAc6f37da032).getNonce(address(account), handler.OWNER_KEY()),
            uint256(handler.OWNER_KEY()) << 64,
            "the owner's nonces were never bumped"
        );
        assertEq(
            validator.sessionState(address(account), handler.decoyId()),
            handler.expectedDecoyState(),
            "decoy state only as the owner set it"
        );
    }

    /// @notice Every attack reached the call policy and was refused by it; every allowed call landed.
    function afterInvariant() public view {
        assertEq(handler.attacksRefusedByPolicy(), handler.attacks(), "every attack refused by the call policy");
        assertEq(handler.allowedLanded(), handler.allowedAttempts(), "every allowed call landed");
    }

    /// @notice The handler itself: every forbidden call in every op shape is refused by the call policy, and the
    /// relay's indirect attempts land without effect.
    function test_HandlerAttacksEveryShapeAndKind() public {
        for (uint256 shape = 0; shape < 9; ++shape) {
            for (uint256 kind = 0; kind < handler.KINDS(); ++kind) {
                handler.attack(kind, shape, kind * 7 + shape);
            }
        }
        for (uint256 kind = 0; kind < handler.KINDS(); ++kind) {
            handler.allowed(2, kind); // relay forwards each forbidden call
        }
        handler.allowed(0, 1);
        handler.allowed(1, 2);
        handler.ownerActsOnDecoy(false);
        handler.ownerActsOnDecoy(true);
        handler.ownerActsOnDecoy(false); // a revoked decoy cannot come back
        assertEq(handler.attacks(), 9 * handler.KINDS(), "every attack tried");
        assertEq(handler.allowedLanded(), handler.KINDS() + 2, "allowed calls landed");
        assertEq(handler.ownerActions(), 2, "the owner granted then revoked the decoy");
        invariant_SessionNeverChangesModulesOwnerOrPermissions();
        afterInvariant();
    }
}

// =============================================================================================================
// e: grants are bound to one chain and one account
// =============================================================================================================

/// @notice Lazy grants signed for account A (or for chain X) are presented on account B of the same owner (or
/// under chain Y), one-leaf and multichain (Merkle) alike; sessions granted on A are used on B. Each fresh
/// session is then, half the time, used where its grant is meant to work, to show the grant itself was good.
contract CrossDomainHandler is SessionHandler {
    uint256[4] internal chains = [uint256(0), 1, 8453, 10];
    uint256 public home;
    LeashAccount public other;
    uint256 public otherInitialBalance;
    uint256 internal sessionCounter;

    /// Sessions whose grants never named B / never named A (they must never be granted there).
    bytes32[] internal _offB;
    bytes32[] internal _offA;
    uint256 public crossAttempts;
    uint256 public crossLanded;
    uint256 public crossRefusedByGrantCheck;
    uint256 public legitAttempts;
    uint256 public legitLanded;
    /// Tokens B rightly sent (a grant signed for B, used on B).
    uint256 public legitSpentByB;

    constructor() {
        home = vm.getChainId();
        chains[0] = home;
        other = createAccount(owner, bytes32(uint256(1)));
        vm.deal(address(other), 100 ether);
        usdc.mint(address(other), 1000e6);
        otherInitialBalance = usdc.balanceOf(address(other));
    }

    modifier atHome() {
        vm.chainId(home);
        _;
        vm.chainId(home);
    }

    function offCount(bool onB) external view returns (uint256) {
        return onB ? _offB.length : _offA.length;
    }

    function offAt(bool onB, uint256 i) external view returns (bytes32) {
        return onB ? _offB[i] : _offA[i];
    }

    // ---------------------------------------------------------------------------------------------------------
    // Fuzzed entry points
    // ---------------------------------------------------------------------------------------------------------

    /// @notice A grant for one account presented on the other (either direction).
    function grantOnOtherAccount(uint256 seed) external step atHome {
        bool forA = seed % 2 == 0;
        (Session memory s, Action[] memory actions) = freshSession(seed, forA);
        address signedFor = forA ? address(account) : address(other);
        address usedOn = forA ? address(other) : address(account);
        Grant memory grant = ownerGrant(signedFor, s);
        tryCross(grantingOpOn(usedOn, transferCall(merchant, 1), useOf(s, actions, 1), grant));
        if ((seed >> 8) % 2 == 0) {
            bool landed = tryLegit(grantingOpOn(signedFor, transferCall(merchant, 1), useOf(s, actions, 1), grant));
            if (landed && !forA) legitSpentByB += 1;
        }
    }

    /// @notice A one-leaf grant signed for chain X presented under chain Y.
    function grantOnOtherChain(uint256 seed, uint256 x, uint256 y) external step atHome {
        (Session memory s, Action[] memory actions) = freshSession(seed, true);
        x %= 4;
        uint256 chainX = chains[x];
        uint256 chainY = chains[(x + 1 + y % 3) % 4];
        vm.chainId(chainX);
        Grant memory grant = ownerGrant(address(account), s);
        vm.chainId(chainY);
        tryCross(grantingOp(transferCall(merchant, 1), useOf(s, actions, 1), grant));
        if ((seed >> 8) % 2 == 0) {
            vm.chainId(chainX);
            tryLegit(grantingOp(transferCall(merchant, 1), useOf(s, actions, 1), grant));
        }
    }

    /// @notice One owner signature over the root of two chains' leaves, presented under a third chain (with
    /// either proof) and on the other account (under a chain in the tree).
    function multichainGrantElsewhere(uint256 seed, uint256 x) external step atHome {
        (Session memory s, Action[] memory actions) = freshSession(seed, true);
        bytes32 id = sessionIdOf(s);
        x %= 4;
        uint256 chainX = chains[x];
        uint256 chainZ = chains[(x + 1) % 4];
        uint256 chainY = chains[(x + 2 + (seed >> 16) % 2) % 4];
        vm.chainId(chainX);
        bytes32 leafX = validator.grantDigest(address(account), id, 0);
        vm.chainId(chainZ);
        bytes32 leafZ = validator.grantDigest(address(account), id, 0);
        Grant memory grant;
        grant.ownerSignature = signRoot(Hashes.commutativeKeccak256(leafX, leafZ));
        grant.proof = new bytes32[](1);

        vm.chainId(chainY);
        grant.proof[0] = (seed >> 24) % 2 == 0 ? leafX : leafZ;
        tryCross(grantingOp(transferCall(merchant, 1), useOf(s, actions, 1), grant));
        vm.chainId(chainX);
        grant.proof[0] = leafZ;
        tryCross(grantingOpOn(address(other), transferCall(merchant, 1), useOf(s, actions, 1), grant));
        if ((seed >> 8) % 2 == 0) {
            vm.chainId(chainZ);
            grant.proof[0] = leafX;
            tryLegit(grantingOp(transferCall(merchant, 1), useOf(s, actions, 1), grant));
        }
    }

    /// @notice A session granted (lazily) on A is used on B, plainly and with A's grant.
    function grantedOnAUsedOnB(uint256 seed) external step atHome {
        (Session memory s, Action[] memory actions) = freshSession(seed, true);
        Grant memory grant = ownerGrant(address(account), s);
        tryLegit(grantingOp(transferCall(merchant, 1), useOf(s, actions, 1), grant));
        tryCross(sessionOpOn(address(other), 0, transferCall(merchant, 1), useOf(s, actions, 1), sessionKey));
        tryCross(grantingOpOn(address(other), transferCall(merchant, 1), useOf(s, actions, 1), grant));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------

    /// @dev A session never used before; its grants name only A (`offB`) or only B.
    function freshSession(uint256 seed, bool offB) internal returns (Session memory s, Action[] memory actions) {
        actions = one(transferAction(1000e6, lifetime()));
        s = newSession(sessionSigner, actions);
        s.salt = keccak256(abi.encode(seed, ++sessionCounter));
        if (offB) _offB.push(sessionIdOf(s));
        else _offA.push(sessionIdOf(s));
    }

    function tryCross(PackedUserOperation memory op) internal {
        ++crossAttempts;
        (bool included,, bytes4 refusal) = submit(op);
        if (included) ++crossLanded;
        if (
            refusal == SessionKeyValidator.InvalidGrantSignature.selector
                || refusal == SessionKeyValidator.SessionNotGranted.selector
        ) ++crossRefusedByGrantCheck;
    }

    function tryLegit(PackedUserOperation memory op) internal returns (bool included) {
        ++legitAttempts;
        (included,,) = submit(op);
        if (included) ++legitLanded;
    }
}

/// @notice Invariant (e): a grant signed for one chain or one account never validates on another.
contract CrossDomainGrantInvariantTest is TestBase {
    CrossDomainHandler internal handler;
    SessionKeyValidator internal validator;

    function setUp() public {
        handler = CrossDomainHandler(vm.deployCode("SessionInvariants.t.sol:CrossDomainHandler"));
        validator = SessionKeyValidator(handler.validatorAddress());
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](4);
        selectors[0] = CrossDomainHandler.grantOnOtherAccount.selector;
        selectors[1] = CrossDomainHandler.grantOnOtherChain.selector;
        selectors[2] = CrossDomainHandler.multichainGrantElsewhere.selector;
        selectors[3] = CrossDomainHandler.grantedOnAUsedOnB.selector;
        targetSelector(address(handler), selectors);
    }

    /// @notice No cross attempt landed; no session whose grants never named B (or A) is granted there; B's
    /// tokens moved only by grants signed for B; the chain id is back home.
    function invariant_GrantNeverValidatesOnAnotherChainOrAccount() public view {
        assertEq(handler.crossLanded(), 0, "a grant validated outside its chain or account");
        address other = address(handler.other());
        address account = handler.accountAddress();
        for (uint256 i = 0; i < handler.offCount(true); ++i) {
            assertEq(validator.sessionState(other, handler.offAt(true, i)), SessionTypes.STATE_NONE, "not granted on B");
        }
        for (uint256 i = 0; i < handler.offCount(false); ++i) {
            assertEq(validator.sessionState(account, handler.offAt(false, i)), SessionTypes.STATE_NONE, "not on A");
        }
        assertEq(
            handler.otherInitialBalance() - TokenLike(handler.tokenAddress()).balanceOf(other),
            handler.legitSpentByB(),
            "B's tokens moved only by B's own grants"
        );
        assertEq(vm.getChainId(), handler.home(), "chain id restored");
    }

    /// @notice Every cross attempt was refused by the grant check itself; every rightful use landed.
    function afterInvariant() public view {
        assertEq(handler.crossRefusedByGrantCheck(), handler.crossAttempts(), "refused by the grant check");
        assertEq(handler.legitLanded(), handler.legitAttempts(), "the same grants work where they belong");
    }

    /// @notice The handler itself: each grant is refused away from its chain or account and works at home.
    function test_HandlerCrossAttemptsAreRefusedAndGrantsWorkAtHome() public {
        handler.grantOnOtherAccount(0); // A's grant on B, then on A
        handler.grantOnOtherAccount(1); // B's grant on A, then on B
        for (uint256 x = 0; x < 4; ++x) {
            handler.grantOnOtherChain(x, x, x + 1);
            handler.multichainGrantElsewhere(x << 16, x);
        }
        handler.grantedOnAUsedOnB(7);
        assertEq(handler.crossAttempts(), 2 + 4 + 8 + 2, "cross attempts");
        assertEq(handler.legitLanded(), 2 + 4 + 4 + 1, "rightful uses");
        invariant_GrantNeverValidatesOnAnotherChainOrAccount();
        afterInvariant();
    }
}
