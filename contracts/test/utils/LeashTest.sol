// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {TestBase} from "./TestBase.sol";
import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {IERC7579Execution} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {
    ERC7579Utils,
    Execution,
    Mode,
    CallType,
    ExecType,
    ModeSelector,
    ModePayload
} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {LeashAccount} from "../../src/LeashAccount.sol";
import {LeashAccountFactory} from "../../src/LeashAccountFactory.sol";
import {SessionKeyValidator} from "../../src/SessionKeyValidator.sol";
import {Action, ArgRule, Grant, Period, Session, SessionTypes, SessionUse} from "../../src/SessionTypes.sol";
import {SessionEncoder} from "../../src/SessionEncoder.sol";
import {DevToken} from "../../src/devnet/DevToken.sol";
import {Base64} from "@openzeppelin/contracts/utils/Base64.sol";
import {Target} from "../mocks/Target.sol";
import {deployAccountImplementation, deployFactory, deployValidator} from "./Release.sol";

/// @notice The parts of EntryPoint v0.7 the tests use.
interface IEntryPointV07 {
    function handleOps(PackedUserOperation[] calldata ops, address payable beneficiary) external;
    function getNonce(address sender, uint192 key) external view returns (uint256);
    function getUserOpHash(PackedUserOperation calldata userOp) external view returns (bytes32);
    function depositTo(address account) external payable;
    function balanceOf(address account) external view returns (uint256);
}

/// @notice The EntryPoint v0.7 errors tests expect.
interface IEntryPointErrors {
    error FailedOp(uint256 opIndex, string reason);
    error FailedOpWithRevert(uint256 opIndex, string reason, bytes inner);
}

/// @notice Shared fixture: the real EntryPoint v0.7 at its canonical address, the factory, the module, a
/// USDC-like token and an account whose owner key the test holds, plus helpers to build, sign and send ops.
abstract contract LeashTest is TestBase {
    IEntryPointV07 internal constant ENTRYPOINT = IEntryPointV07(0x0000000071727De22E5E9d8BAf0edAc6f37da032);
    address internal constant CREATE2_DEPLOYER = 0x4e59b44847b379578588920cA78FbF26c0B4956C;
    bytes32 internal constant ENTRYPOINT_SALT = 0x90d8084deab30c2a37c45e8d47f49f2f7965183cb6990a98943ef94940681de3;
    string internal constant ENTRYPOINT_ARTIFACT =
        "../node_modules/@account-abstraction/contracts/artifacts/EntryPoint.json";

    LeashAccountFactory internal factory;
    SessionKeyValidator internal validator;
    DevToken internal usdc;
    Target internal target;
    LeashAccount internal account;

    uint256 internal ownerKey = 0xA11CE;
    address internal owner;
    uint256 internal sessionKey = 0x5E5510;
    address internal sessionSigner;
    address payable internal beneficiary = payable(address(0xBEEF));
    address internal merchant = address(0x3E2C4A47);

    uint48 internal constant START = 1_767_225_600; // 2026-01-01T00:00:00Z
    uint256 internal constant P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551;
    uint256 internal constant P256_KEY = 0x7E57;

    function setUp() public virtual {
        vm.warp(START);
        deployEntryPoint();
        factory = deployFactory(deployAccountImplementation());
        validator = deployValidator();
        // From artifacts, as the release's contracts (Release.sol): every test contract would carry them.
        usdc = DevToken(vm.deployCode("DevToken.sol:DevToken", abi.encode("USD Coin", "USDC", 6)));
        target = Target(payable(vm.deployCode("Target.sol:Target")));
        owner = vm.addr(ownerKey);
        sessionSigner = vm.addr(sessionKey);
        account = createAccount(owner, bytes32(0));
        vm.deal(address(account), 100 ether);
        usdc.mint(address(account), 1_000_000e6);
    }

    /// @dev Deploys the npm artifact through the deterministic deployer: it lands on the canonical address.
    function deployEntryPoint() internal {
        if (address(ENTRYPOINT).code.length > 0) return;
        bytes memory initCode = vm.parseJsonBytes(vm.readFile(ENTRYPOINT_ARTIFACT), ".bytecode");
        (bool ok,) = CREATE2_DEPLOYER.call(abi.encodePacked(ENTRYPOINT_SALT, initCode));
        require(ok && address(ENTRYPOINT).code.length > 0, "EntryPoint v0.7 did not deploy at its canonical address");
    }

    function createAccount(address accountOwner, bytes32 salt) internal returns (LeashAccount) {
        (address[] memory validators, bytes[] memory data) = moduleList();
        return factory.createAccount(accountOwner, salt, validators, data);
    }

    function moduleList() internal view returns (address[] memory validators, bytes[] memory data) {
        validators = new address[](1);
        validators[0] = address(validator);
        data = new bytes[](1);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Calls
    // ---------------------------------------------------------------------------------------------------------

    function singleCall(address to, uint256 value, bytes memory data) internal pure returns (bytes memory) {
        return abi.encodeCall(IERC7579Execution.execute, (bytes32(0), abi.encodePacked(to, value, data)));
    }

    function batchCall(Execution[] memory calls) internal pure returns (bytes memory) {
        bytes32 mode = bytes32(bytes1(0x01));
        return abi.encodeCall(IERC7579Execution.execute, (mode, abi.encode(calls)));
    }

    function transferCall(address to, uint256 amount) internal view returns (bytes memory) {
        return singleCall(address(usdc), 0, abi.encodeCall(usdc.transfer, (to, amount)));
    }

    // ---------------------------------------------------------------------------------------------------------
    // UserOperations
    // ---------------------------------------------------------------------------------------------------------

    function baseOp(address sender, uint192 key, bytes memory callData)
        internal
        view
        returns (PackedUserOperation memory op)
    {
        op.sender = sender;
        op.nonce = ENTRYPOINT.getNonce(sender, key);
        op.callData = callData;
        op.accountGasLimits = bytes32((uint256(600_000) << 128) | 300_000);
        op.preVerificationGas = 60_000;
        op.gasFees = bytes32((uint256(1 gwei) << 128) | 2 gwei);
    }

    /// The first op of a new account owned by `key`'s address: deploys it through `deployer` (the factory, or
    /// a front forwarding its `createAccount`), signed by the owner.
    function firstOp(address deployer, address sender, uint256 key, bytes32 salt, bytes memory callData)
        internal
        view
        returns (PackedUserOperation memory op)
    {
        (address[] memory validators, bytes[] memory data) = moduleList();
        op = baseOp(sender, 0, callData);
        op.initCode =
            abi.encodePacked(deployer, abi.encodeCall(factory.createAccount, (vm.addr(key), salt, validators, data)));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, ENTRYPOINT.getUserOpHash(op));
        op.signature = abi.encodePacked(r, s, v);
    }

    function ownerOp(bytes memory callData) internal view returns (PackedUserOperation memory op) {
        op = baseOp(address(account), 0, callData);
        op.signature = ownerSignature(op);
    }

    function ownerSignature(PackedUserOperation memory op) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ownerKey, ENTRYPOINT.getUserOpHash(op));
        return abi.encodePacked(r, s, v);
    }

    function sessionKeyNonce(uint32 lane) internal view returns (uint192) {
        return (uint192(uint160(address(validator))) << 32) | lane;
    }

    /// @dev A session op on lane 0, signed by `sessionKey`, in mode 0 (session already granted).
    function sessionOp(bytes memory callData, SessionUse memory use)
        internal
        view
        returns (PackedUserOperation memory)
    {
        return sessionOpOn(address(account), 0, callData, use, sessionKey);
    }

    function sessionOpOn(address sender, uint32 lane, bytes memory callData, SessionUse memory use, uint256 key)
        internal
        view
        returns (PackedUserOperation memory op)
    {
        op = baseOp(sender, sessionKeyNonce(lane), callData);
        use.signature = signUse(op, use, key);
        op.signature = packUse(use);
    }

    /// @dev The packed signature of `use` (mode 0), with default proofs where none are given.
    function packUse(SessionUse memory use) internal pure returns (bytes memory) {
        Grant memory none;
        return SessionEncoder.encode(carried(withProofs(use)), SessionTypes.MODE_USE, none);
    }

    /// @dev The packed signature of `use` with the lazy `grant` (mode 1).
    function packGrantingUse(SessionUse memory use, Grant memory grant) internal pure returns (bytes memory) {
        return SessionEncoder.encode(carried(withProofs(use)), SessionTypes.MODE_GRANT_AND_USE, grant);
    }

    /// @dev What the operation carries, as the SDK builds it: only the actions the calls use, each once, and the
    /// calls' indexes into them (an index past the actions stays past them). `use` itself is left as it is.
    function carried(SessionUse memory use) internal pure returns (SessionUse memory out) {
        out.session = use.session;
        out.time = use.time;
        out.signature = use.signature;
        out.callActions = new bytes(use.callActions.length);
        uint256[] memory position = new uint256[](use.actions.length);
        uint256 count;
        for (uint256 i = 0; i < use.callActions.length; ++i) {
            uint8 a = uint8(use.callActions[i]);
            if (a >= use.actions.length) {
                out.callActions[i] = bytes1(0xff);
                continue;
            }
            if (position[a] == 0) position[a] = ++count;
            out.callActions[i] = bytes1(uint8(position[a] - 1));
        }
        out.actions = new Action[](count);
        out.proofs = new bytes32[][](count);
        for (uint256 a = 0; a < use.actions.length; ++a) {
            if (position[a] == 0) continue;
            out.actions[position[a] - 1] = use.actions[a];
            out.proofs[position[a] - 1] = use.proofs[a];
        }
    }

    /// @dev `use` with a proof for each carried action: the given ones, or else proofs in the tree of the
    /// carried actions themselves (right when they are the session's actions, in order).
    function withProofs(SessionUse memory use) internal pure returns (SessionUse memory) {
        if (use.proofs.length == use.actions.length) return use;
        bytes32[] memory leaves = hashesOf(use.actions);
        use.proofs = new bytes32[][](leaves.length);
        for (uint256 k = 0; k < leaves.length; ++k) {
            use.proofs[k] = SessionEncoder.proof(leaves, k);
        }
        return use;
    }

    function signUse(PackedUserOperation memory op, SessionUse memory use, uint256 key)
        internal
        view
        returns (bytes memory)
    {
        bytes32 digest =
            validator.useDigest(ENTRYPOINT.getUserOpHash(op), sessionIdOf(use.session), use.time, callsHash(use));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev What the session key signs for its calls' actions: their hashes in call order (none under sudo).
    function callsHash(SessionUse memory use) internal pure returns (bytes32) {
        if (use.session.flags & SessionTypes.SESSION_SUDO != 0) return keccak256("");
        bytes32[] memory hashes = new bytes32[](use.callActions.length);
        for (uint256 i = 0; i < hashes.length; ++i) {
            uint8 a = uint8(use.callActions[i]);
            if (a < use.actions.length) hashes[i] = SessionEncoder.hash(use.actions[a]);
        }
        return keccak256(abi.encodePacked(hashes));
    }

    /// @dev A session op that grants the session in the same operation (mode 1).
    function grantingOp(bytes memory callData, SessionUse memory use, Grant memory grant)
        internal
        view
        returns (PackedUserOperation memory op)
    {
        op = baseOp(address(account), sessionKeyNonce(0), callData);
        use.signature = signUse(op, use, sessionKey);
        op.signature = packGrantingUse(use, grant);
    }

    function send(PackedUserOperation memory op) internal {
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = op;
        ENTRYPOINT.handleOps(ops, beneficiary);
    }

    /// @dev Expects the op to be refused in validation with the module's (or account's) custom error `inner`.
    function expectRejected(PackedUserOperation memory op, bytes memory inner) internal {
        vm.expectRevert(
            abi.encodeWithSelector(IEntryPointErrors.FailedOpWithRevert.selector, 0, "AA23 reverted", inner)
        );
        send(op);
    }

    /// @dev Expects the EntryPoint's own refusal (e.g. "AA22 expired or not due", "AA24 signature error").
    function expectFailedOp(PackedUserOperation memory op, string memory reason) internal {
        vm.expectRevert(abi.encodeWithSelector(IEntryPointErrors.FailedOp.selector, 0, reason));
        send(op);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Sessions
    // ---------------------------------------------------------------------------------------------------------

    function lifetime() internal pure returns (Period memory p) {}

    function everySeconds(uint32 length) internal pure returns (Period memory p) {
        p.kind = SessionTypes.PERIOD_FIXED;
        p.anchor = START;
        p.length = length;
    }

    function monthly() internal pure returns (Period memory p) {
        p.kind = SessionTypes.PERIOD_MONTHLY;
    }

    /// @dev `transfer(to, amount)` on the token, amount summed against `cap` per `period`.
    function transferAction(uint96 cap, Period memory period) internal view returns (Action memory a) {
        a.target = address(usdc);
        a.selector = usdc.transfer.selector;
        a.flags = SessionTypes.ACTION_AMOUNT_CAP;
        a.amountOffset = 32;
        a.amountCap = cap;
        a.period = period;
    }

    /// @dev The broadest action: any target, any function (still never the account or the module).
    function anyCall() internal pure returns (Action memory a) {
        a.flags = SessionTypes.ACTION_ANY_TARGET | SessionTypes.ACTION_ANY_SELECTOR;
    }

    function rule(uint8 op, uint16 offset, bytes32 value) internal pure returns (ArgRule memory r) {
        r.op = op;
        r.offset = offset;
        r.values = new bytes32[](1);
        r.values[0] = value;
    }

    function newSession(address signer, Action[] memory actions) internal pure returns (Session memory s) {
        s.signerKind = SessionTypes.SIGNER_ECDSA;
        s.signer = abi.encodePacked(signer);
        s.validAfter = START;
        s.validUntil = START + 365 days;
        s.flags = SessionTypes.SESSION_GAS_BUDGET;
        s.gasBudget = 1000 ether;
        s.actionsRoot = actionsRoot(actions);
    }

    /// @dev The root of the session's actions tree over `actions`, in order.
    function actionsRoot(Action[] memory actions) internal pure returns (bytes32) {
        return SessionEncoder.root(hashesOf(actions));
    }

    function hashesOf(Action[] memory actions) internal pure returns (bytes32[] memory hashes) {
        hashes = new bytes32[](actions.length);
        for (uint256 i = 0; i < actions.length; ++i) {
            hashes[i] = SessionEncoder.hash(actions[i]);
        }
    }

    /// @dev A session's id: the hash of its packed bytes.
    function sessionIdOf(Session memory s) internal pure returns (bytes32) {
        return SessionEncoder.id(s);
    }

    /// @dev An action's hash: the hash of its packed bytes.
    function actionHashOf(Action memory a) internal pure returns (bytes32) {
        return SessionEncoder.hash(a);
    }

    function one(Action memory a) internal pure returns (Action[] memory list) {
        list = new Action[](1);
        list[0] = a;
    }

    /// @dev A use of `actions[0]` for every call (`calls` calls) at the current block time.
    function useOf(Session memory s, Action[] memory actions, uint256 calls)
        internal
        view
        returns (SessionUse memory use)
    {
        use.session = s;
        use.actions = actions;
        use.callActions = new bytes(calls);
        use.time = uint48(vm.getBlockTimestamp());
    }

    /// @dev The owner grants `s` (whose actions are `allActions`) by an ordinary owner operation calling the module.
    function grantByOwner(Session memory s, Action[] memory allActions) internal returns (bytes32 sessionId) {
        require(s.actionsRoot == actionsRoot(allActions) || s.flags & SessionTypes.SESSION_SUDO != 0, "other actions");
        bytes memory call = abi.encodeCall(SessionKeyValidator.grantSession, (SessionEncoder.encode(s)));
        send(ownerOp(singleCall(address(validator), 0, call)));
        sessionId = sessionIdOf(s);
    }

    /// @dev The owner's one-chain grant: signs the grant digest as the root of a one-leaf tree.
    function ownerGrant(address forAccount, Session memory s) internal view returns (Grant memory grant) {
        bytes32 leaf = validator.grantDigest(forAccount, sessionIdOf(s), validator.epochOf(forAccount));
        grant.epoch = validator.epochOf(forAccount);
        grant.ownerSignature = signRoot(leaf);
    }

    function signRoot(bytes32 root) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ownerKey, validator.grantRootDigest(root));
        return abi.encodePacked(r, s, v);
    }

    /// @dev The session key's signature over `hash` for `account`'s ERC-1271 (without the routing prefix).
    function sessionKeySig(Session memory s, bytes32 hash) internal view returns (bytes memory) {
        bytes32 digest = validator.messageDigest(address(account), sessionIdOf(s), hash);
        (uint8 v, bytes32 r, bytes32 sig) = vm.sign(sessionKey, digest);
        return abi.encodePacked(r, sig, v);
    }

    /// @dev An ERC-1271 signature of a `SESSION_SIGN_ANY` session, routed to the module.
    function sessionSignature(Session memory s, bytes32 hash) internal view returns (bytes memory) {
        return abi.encodePacked(address(validator), SessionEncoder.encodeMessage(s, sessionKeySig(s, hash), ""));
    }

    function revokeByOwner(bytes32 sessionId) internal {
        send(ownerOp(singleCall(address(validator), 0, abi.encodeCall(SessionKeyValidator.revokeSession, (sessionId)))));
    }

    function revokeAllByOwner() internal {
        send(ownerOp(singleCall(address(validator), 0, abi.encodeCall(SessionKeyValidator.revokeAllSessions, ()))));
    }

    // ---------------------------------------------------------------------------------------------------------
    // P-256 and WebAuthn session keys
    // ---------------------------------------------------------------------------------------------------------

    /// @dev `s` signed by the P-256 test key (`SIGNER_P256` or `SIGNER_WEBAUTHN`).
    function withP256Signer(Session memory s, uint8 kind) internal pure returns (Session memory) {
        (uint256 x, uint256 y) = vm.publicKeyP256(P256_KEY);
        s.signerKind = kind;
        s.signer = abi.encodePacked(x, y);
        return s;
    }

    function signP256(bytes32 digest) internal pure returns (bytes32 r, bytes32 s) {
        (r, s) = vm.signP256(P256_KEY, digest);
        if (uint256(s) > P256_N / 2) s = bytes32(P256_N - uint256(s));
    }

    function webAuthnSignature(bytes32 digest) internal pure returns (bytes memory) {
        string memory clientDataJSON = string.concat(
            '{"type":"webauthn.get","challenge":"',
            Base64.encodeURL(abi.encodePacked(digest)),
            '","origin":"https://leash.local","crossOrigin":false}'
        );
        bytes memory authenticatorData = abi.encodePacked(sha256("leash.local"), bytes1(0x05), uint32(1));
        bytes32 message = sha256(abi.encodePacked(authenticatorData, sha256(bytes(clientDataJSON))));
        (bytes32 r, bytes32 s) = signP256(message);
        return abi.encode(r, s, uint256(23), uint256(1), authenticatorData, clientDataJSON);
    }
}
