// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {DevToken} from "../src/devnet/DevToken.sol";
import {SessionKeyValidator} from "../src/SessionKeyValidator.sol";
import {SessionEncoder} from "../src/SessionEncoder.sol";
import {Action, ArgRule, Session, SessionTypes, SessionUse} from "../src/SessionTypes.sol";
import {LeashTest} from "./utils/LeashTest.sol";

/// @notice The parts of Uniswap V3 (npm releases v3-core 1.0.1, v3-periphery 1.4.4) the benchmark calls.
interface IUniswapV3Factory {
    function createPool(address tokenA, address tokenB, uint24 fee) external returns (address pool);
}

interface IUniswapV3Pool {
    function token0() external view returns (address);
    function token1() external view returns (address);
    function initialize(uint160 sqrtPriceX96) external;
    function mint(address recipient, int24 tickLower, int24 tickUpper, uint128 amount, bytes calldata data)
        external
        returns (uint256 amount0, uint256 amount1);
}

interface ISwapRouter {
    struct ExactInputSingleParams {
        address tokenIn;
        address tokenOut;
        uint24 fee;
        address recipient;
        uint256 deadline;
        uint256 amountIn;
        uint256 amountOutMinimum;
        uint160 sqrtPriceLimitX96;
    }

    function exactInputSingle(ExactInputSingleParams calldata params) external payable returns (uint256 amountOut);
}

/// @notice The parts of Seaport 1.6 (npm release @opensea/seaport-js 4.3.0) the benchmark calls; enums as their
/// ABI type, uint8.
interface ISeaport {
    struct OfferItem {
        uint8 itemType;
        address token;
        uint256 identifierOrCriteria;
        uint256 startAmount;
        uint256 endAmount;
    }

    struct ConsiderationItem {
        uint8 itemType;
        address token;
        uint256 identifierOrCriteria;
        uint256 startAmount;
        uint256 endAmount;
        address payable recipient;
    }

    struct OrderComponents {
        address offerer;
        address zone;
        OfferItem[] offer;
        ConsiderationItem[] consideration;
        uint8 orderType;
        uint256 startTime;
        uint256 endTime;
        bytes32 zoneHash;
        uint256 salt;
        bytes32 conduitKey;
        uint256 counter;
    }

    struct AdditionalRecipient {
        uint256 amount;
        address payable recipient;
    }

    struct BasicOrderParameters {
        address considerationToken;
        uint256 considerationIdentifier;
        uint256 considerationAmount;
        address payable offerer;
        address zone;
        address offerToken;
        uint256 offerIdentifier;
        uint256 offerAmount;
        uint8 basicOrderType;
        uint256 startTime;
        uint256 endTime;
        bytes32 zoneHash;
        uint256 salt;
        bytes32 offererConduitKey;
        bytes32 fulfillerConduitKey;
        uint256 totalOriginalAdditionalRecipients;
        AdditionalRecipient[] additionalRecipients;
        bytes signature;
    }

    function fulfillBasicOrder(BasicOrderParameters calldata parameters) external payable returns (bool fulfilled);
    function getOrderHash(OrderComponents calldata order) external view returns (bytes32 orderHash);
    function information()
        external
        view
        returns (string memory version, bytes32 domainSeparator, address conduitController);
}

/// @notice The collection a seller lists on Seaport.
contract Collection is ERC721 {
    constructor() ERC721("Collection", "COL") {}

    function mint(address to, uint256 id) external {
        _mint(to, id);
    }
}

/// @notice Gas benchmark on the real EntryPoint v0.7: one UserOperation per `handleOps` call.
/// @dev Run by `make gas` as `forge test --isolate`, where every top-level call is its own transaction, so
/// `lastCallGas` is the gas of the whole `handleOps` transaction (intrinsic and calldata included), the method
/// of the public aa-benchmarks tables. Accounts, nonce lanes and action slots are warmed by an earlier op, so
/// the figures are those of an account in steady use; each account pays gas from an EntryPoint deposit (no
/// prefund transfer); the recipient already holds tokens and ether. The last log line is one JSON object with
/// every figure; `forge snapshot` records the same figures (`snapshots/GasBenchmark.json`), which CI checks.
/// Without `--isolate` (as in `make test`) it only checks that every measured op lands.
contract GasBenchmark is LeashTest {
    event log(string);

    string internal json;

    string internal constant UNISWAP_FACTORY_ARTIFACT =
        "../node_modules/@uniswap/v3-core/artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json";
    string internal constant SWAP_ROUTER_ARTIFACT =
        "../node_modules/@uniswap/v3-periphery/artifacts/contracts/SwapRouter.sol/SwapRouter.json";
    string internal constant SEAPORT_ARTIFACTS = "../node_modules/@opensea/seaport-js/src/artifacts/seaport/contracts/";
    uint24 internal constant POOL_FEE = 3000;
    /// The widest range on the 0.3% tier, whose ticks are multiples of 60 (the pool's bound is 887,272).
    int24 internal constant FULL_RANGE = 887_220;
    uint8 internal constant ITEM_NATIVE = 0;
    uint8 internal constant ITEM_ERC721 = 2;
    /// Ether for an ERC-721, open to any fulfiller, no partial fills (Seaport's `BasicOrderType` 0).
    uint8 internal constant ETH_TO_ERC721_FULL_OPEN = 0;
    uint256 internal constant SELLER_KEY = 0x5E11E2;
    uint256 internal constant LISTING_PRICE = 0.1 ether;

    DevToken internal weth;
    ISwapRouter internal router;
    ISeaport internal seaport;
    Collection internal collection;

    /// @dev The protocols are deployed here, not in the test, so the test's own gas (`.gas-snapshot`) stays that of
    /// its operations.
    function setUp() public override {
        super.setUp();
        deployUniswap();
        deploySeaport();
    }

    function test_GasOfOneUserOpPerHandleOps() public {
        usdc.mint(merchant, 1e6);
        vm.deal(merchant, 1 ether);
        // Every account pays from an EntryPoint deposit, so no op pays a prefund transfer and all are alike.
        ENTRYPOINT.depositTo{value: 1 ether}(address(account));

        // Owner: warm the account (deposit, nonce lane 0), then measure.
        send(ownerOp(transferCall(merchant, 1)));
        measure("owner_native_transfer", ownerOp(singleCall(merchant, 1 gwei, "")));
        measure("owner_erc20_transfer", ownerOp(transferCall(merchant, 1e6)));

        // Session: time window, target + selector, 2 argument rules, per-period spend cap and use limit.
        Action[] memory actions = one(benchmarkAction());
        Session memory s = benchmarkSession(actions, 0);
        grantByOwner(s, actions);
        SessionUse memory use = useOf(s, actions, 1);
        send(sessionOp(transferCall(merchant, 1e6), use));
        uint256 sessionStart = usdc.balanceOf(merchant);
        measure("session_erc20_transfer", sessionOp(transferCall(merchant, 1e6), use));
        assertEq(usdc.balanceOf(merchant), sessionStart + 1e6, "session transfer landed");

        // First use of a new session, granted inside the op (owner's signature in the signature field).
        Session memory lazy = benchmarkSession(actions, bytes32(uint256(1)));
        measure(
            "session_erc20_transfer_enable",
            grantingOp(transferCall(merchant, 1e6), useOf(lazy, actions, 1), ownerGrant(address(account), lazy))
        );
        assertEq(validator.sessionState(address(account), sessionIdOf(lazy)), 1, "lazy grant landed");

        Execution[] memory calls = new Execution[](3);
        for (uint256 i = 0; i < 3; ++i) {
            calls[i] = Execution(address(usdc), 0, abi.encodeCall(usdc.transfer, (merchant, 1e6)));
        }
        use.callActions = new bytes(3);
        uint256 batchStart = usdc.balanceOf(merchant);
        measure("session_batch3_erc20_transfer", sessionOp(batchCall(calls), use));
        assertEq(usdc.balanceOf(merchant), batchStart + 3e6, "batch landed");

        // Sessions holding 100 actions: the first op grants one lazily and proves the last action; the second
        // op uses a warm one (its action's record written, so it carries no proof).
        Action[] memory many = hundredActions();
        Session memory big = benchmarkSession(many, bytes32(uint256(2)));
        measure(
            "session_lazy_grant_100_actions",
            grantingOp(transferCall(merchant, 1e6), useOfLast(big, many), ownerGrant(address(account), big))
        );
        SessionUse memory bigUse = useOfLast(big, many);
        bigUse.proofs[0] = new bytes32[](0);
        uint256 bigStart = usdc.balanceOf(merchant);
        measure("session_erc20_transfer_100_actions", sessionOp(transferCall(merchant, 1e6), bigUse));
        assertEq(usdc.balanceOf(merchant), bigStart + 1e6, "100-action session transfer landed");

        // A native transfer: recipient fixed, per-call value and per-period value cap.
        Action memory pay;
        pay.target = merchant;
        pay.flags = SessionTypes.ACTION_NATIVE_TRANSFER | SessionTypes.ACTION_VALUE_CAP;
        pay.maxValuePerCall = 0.1 ether;
        pay.valueCap = 1 ether;
        pay.period = everySeconds(30 days);
        pay.period.anchor = 0;
        Session memory native = benchmarkSession(one(pay), bytes32(uint256(3)));
        grantByOwner(native, one(pay));
        SessionUse memory nativeUse = useOf(native, one(pay), 1);
        send(sessionOp(singleCall(merchant, 1 gwei, ""), nativeUse));
        measure("session_native_transfer", sessionOp(singleCall(merchant, 1 gwei, ""), nativeUse));

        // The benchmark session signed by a P-256 key, raw and through WebAuthn.
        measureP256("session_p256_erc20_transfer", SessionTypes.SIGNER_P256, actions, 4);
        measureP256("session_webauthn_erc20_transfer", SessionTypes.SIGNER_WEBAUTHN, actions, 5);

        // A new account deployed by its first op, which is an owner ERC-20 transfer.
        (address[] memory validators, bytes[] memory data) = moduleList();
        address predicted = factory.getAddress(owner, bytes32(uint256(9)), validators, data);
        ENTRYPOINT.depositTo{value: 1 ether}(predicted);
        usdc.mint(predicted, 10e6);
        PackedUserOperation memory deployOp = baseOp(predicted, 0, transferCall(merchant, 1e6));
        deployOp.initCode = abi.encodePacked(
            address(factory), abi.encodeCall(factory.createAccount, (owner, bytes32(uint256(9)), validators, data))
        );
        deployOp.signature = ownerSignature(deployOp);
        measure("account_deploy_and_owner_erc20_transfer", deployOp);
        assertTrue(predicted.code.length > 0, "account deployed");

        measureUniswap();
        measureSeaport();

        emit log(string.concat("{", json, "}"));
    }

    /// @dev Uniswap V3's factory and SwapRouter from their npm artifacts, a USDC/WETH pool at 3,000 USDC per WETH
    /// with full-range liquidity, and the account's approval of the router.
    function deployUniswap() internal {
        weth = new DevToken("Wrapped Ether", "WETH", 18);
        IUniswapV3Factory uniswap = IUniswapV3Factory(deployArtifact(UNISWAP_FACTORY_ARTIFACT, ""));
        // The router wraps and unwraps ether through WETH9 only for native input or output, which no swap here has.
        router = ISwapRouter(deployArtifact(SWAP_ROUTER_ARTIFACT, abi.encode(uniswap, weth)));
        IUniswapV3Pool pool = IUniswapV3Pool(uniswap.createPool(address(usdc), address(weth), POOL_FEE));
        (uint256 perToken0, uint256 perToken1) =
            address(usdc) < address(weth) ? (uint256(3000e6), uint256(1e18)) : (uint256(1e18), uint256(3000e6));
        pool.initialize(uint160(Math.sqrt((perToken1 << 192) / perToken0)));
        pool.mint(address(this), -FULL_RANGE, FULL_RANGE, 1e16, "");

        // An account that swaps approved the router once, before.
        vm.prank(address(account));
        usdc.approve(address(router), type(uint256).max);
    }

    /// @dev `exactInputSingle` of 1,000 USDC for WETH signed by the owner, and by a session whose rules read the
    /// inline params struct as head words: tokenIn and tokenOut one of USDC and WETH, the recipient the account,
    /// amountIn summed against a daily cap.
    function measureUniswap() internal {
        bytes memory swap = singleCall(address(router), 0, swapUsdcForWeth());
        send(ownerOp(swap));
        uint256 ownerStart = weth.balanceOf(address(account));
        measure("owner_uniswap_v3_exact_input_single", ownerOp(swap));
        assertTrue(weth.balanceOf(address(account)) > ownerStart, "owner swap landed");

        Action memory a;
        a.target = address(router);
        a.selector = ISwapRouter.exactInputSingle.selector;
        a.flags = SessionTypes.ACTION_AMOUNT_CAP;
        a.amountOffset = 160;
        // In the input token's units, whichever of the two it is.
        a.amountCap = 10_000e6;
        a.period = everySeconds(1 days);
        a.period.anchor = 0;
        a.rules = new ArgRule[](3);
        a.rules[0] = eitherToken(0);
        a.rules[1] = eitherToken(32);
        a.rules[2] = rule(SessionTypes.OP_EQ, 96, bytes32(uint256(uint160(address(account)))));
        Session memory s = benchmarkSession(one(a), bytes32(uint256(6)));
        grantByOwner(s, one(a));
        SessionUse memory use = useOf(s, one(a), 1);
        send(sessionOp(swap, use));
        uint256 sessionStart = weth.balanceOf(address(account));
        measure("session_uniswap_v3_exact_input_single", sessionOp(swap, use));
        assertTrue(weth.balanceOf(address(account)) > sessionStart, "session swap landed");
    }

    function swapUsdcForWeth() internal view returns (bytes memory) {
        ISwapRouter.ExactInputSingleParams memory p;
        p.tokenIn = address(usdc);
        p.tokenOut = address(weth);
        p.fee = POOL_FEE;
        p.recipient = address(account);
        p.deadline = vm.getBlockTimestamp() + 1 hours;
        p.amountIn = 1000e6;
        return abi.encodeCall(router.exactInputSingle, (p));
    }

    /// @dev The word at `offset` is USDC or WETH.
    function eitherToken(uint16 offset) internal view returns (ArgRule memory r) {
        r.op = SessionTypes.OP_ONE_OF;
        r.offset = offset;
        r.values = new bytes32[](2);
        r.values[0] = bytes32(uint256(uint160(address(usdc))));
        r.values[1] = bytes32(uint256(uint160(address(weth))));
    }

    /// @dev Seaport 1.6 and its conduit controller from their npm artifacts, and a seller's ERC-721 tokens, approved
    /// to Seaport.
    function deploySeaport() internal {
        address controller = deployArtifact(
            string.concat(SEAPORT_ARTIFACTS, "conduit/ConduitController.sol/LocalConduitController.json"), ""
        );
        seaport = ISeaport(
            deployArtifact(string.concat(SEAPORT_ARTIFACTS, "Seaport.sol/Seaport.json"), abi.encode(controller))
        );
        collection = new Collection();
        // The seller holds every token listed, so no sale empties a balance.
        address seller = vm.addr(SELLER_KEY);
        for (uint256 id = 1; id <= 4; ++id) {
            collection.mint(seller, id);
        }
        vm.prank(seller);
        collection.setApprovalForAll(address(seaport), true);
    }

    /// @dev `fulfillBasicOrder` of listings at 0.1 ether, paying ether, signed by the owner, and by a session whose
    /// rules follow the offset of the (dynamic) parameters struct: the offered token the collection, the
    /// consideration ether; at most 0.5 ether a call and 2 ether a day.
    function measureSeaport() internal {
        send(ownerOp(buyCall(1)));
        measure("owner_seaport_fulfill_basic_order", ownerOp(buyCall(2)));
        assertEq(collection.ownerOf(2), address(account), "owner purchase landed");

        Action memory a;
        a.target = address(seaport);
        a.selector = ISeaport.fulfillBasicOrder.selector;
        a.flags = SessionTypes.ACTION_VALUE_CAP;
        a.maxValuePerCall = 0.5 ether;
        a.valueCap = 2 ether;
        a.period = everySeconds(1 days);
        a.period.anchor = 0;
        a.rules = new ArgRule[](2);
        a.rules[0] = rule(SessionTypes.OP_EQ, 0, bytes32(uint256(uint160(address(collection)))));
        a.rules[0].path = parametersField(160);
        a.rules[1] = rule(SessionTypes.OP_EQ, 0, bytes32(0));
        a.rules[1].path = parametersField(0);
        Session memory s = benchmarkSession(one(a), bytes32(uint256(7)));
        grantByOwner(s, one(a));
        SessionUse memory use = useOf(s, one(a), 1);
        send(sessionOp(buyCall(3), use));
        measure("session_seaport_fulfill_basic_order", sessionOp(buyCall(4), use));
        assertEq(collection.ownerOf(4), address(account), "session purchase landed");
    }

    /// @dev The steps to the word at `at` in `fulfillBasicOrder`'s parameters: the struct is dynamic (it holds an
    /// array and `bytes`), so the one head word holds its offset. Seaport refuses any offset but 0x20
    /// (`InvalidBasicOrderParameterEncoding`), so head words would read the same values here for less gas
    /// (docs/gas.md); the path is what holds for any contract's decoder.
    function parametersField(uint16 at) internal pure returns (bytes memory) {
        return abi.encodePacked(SessionTypes.STEP_DEREF, uint16(32), SessionTypes.STEP_FIELD, at);
    }

    /// @dev The account buying token `id`, listed by the seller's signed order.
    function buyCall(uint256 id) internal view returns (bytes memory) {
        address payable seller = payable(vm.addr(SELLER_KEY));
        uint256 start = vm.getBlockTimestamp() - 1 hours;
        uint256 end = vm.getBlockTimestamp() + 30 days;

        ISeaport.OrderComponents memory order;
        order.offerer = seller;
        order.offer = new ISeaport.OfferItem[](1);
        order.offer[0] = ISeaport.OfferItem(ITEM_ERC721, address(collection), id, 1, 1);
        order.consideration = new ISeaport.ConsiderationItem[](1);
        order.consideration[0] =
            ISeaport.ConsiderationItem(ITEM_NATIVE, address(0), 0, LISTING_PRICE, LISTING_PRICE, seller);
        order.startTime = start;
        order.endTime = end;
        order.salt = id;
        (, bytes32 domainSeparator,) = seaport.information();
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", domainSeparator, seaport.getOrderHash(order)));
        (uint8 v, bytes32 r, bytes32 sig) = vm.sign(SELLER_KEY, digest);

        ISeaport.BasicOrderParameters memory p;
        p.considerationAmount = LISTING_PRICE;
        p.offerer = seller;
        p.offerToken = address(collection);
        p.offerIdentifier = id;
        p.offerAmount = 1;
        p.basicOrderType = ETH_TO_ERC721_FULL_OPEN;
        p.startTime = start;
        p.endTime = end;
        p.salt = id;
        p.signature = abi.encodePacked(r, sig, v);
        return singleCall(address(seaport), LISTING_PRICE, abi.encodeCall(seaport.fulfillBasicOrder, (p)));
    }

    /// @dev The pool asks its minter to pay for the liquidity it adds; the test tokens mint what it owes.
    function uniswapV3MintCallback(uint256 amount0Owed, uint256 amount1Owed, bytes calldata) external {
        IUniswapV3Pool pool = IUniswapV3Pool(msg.sender);
        DevToken(pool.token0()).mint(msg.sender, amount0Owed);
        DevToken(pool.token1()).mint(msg.sender, amount1Owed);
    }

    /// @dev Deploys a contract from an npm artifact (Hardhat's format: `bytecode` is the creation code).
    function deployArtifact(string memory path, bytes memory constructorArgs) internal returns (address deployed) {
        bytes memory initCode = abi.encodePacked(vm.parseJsonBytes(vm.readFile(path), ".bytecode"), constructorArgs);
        assembly ("memory-safe") {
            deployed := create(0, add(initCode, 0x20), mload(initCode))
        }
        require(deployed != address(0), "the artifact did not deploy");
    }

    function benchmarkAction() internal view returns (Action memory a) {
        a = transferAction(1_000_000e6, everySeconds(30 days));
        a.period.anchor = 0;
        a.maxUses = 1000;
        a.rules = new ArgRule[](2);
        a.rules[0] = rule(SessionTypes.OP_EQ, 0, bytes32(uint256(uint160(merchant))));
        a.rules[1] = rule(SessionTypes.OP_LTE, 32, bytes32(uint256(1000e6)));
    }

    /// @dev 99 actions on other tokens, then the benchmark action.
    function hundredActions() internal view returns (Action[] memory many) {
        many = new Action[](100);
        for (uint256 i = 0; i < 99; ++i) {
            many[i] = benchmarkAction();
            many[i].target = address(uint160(0x10000 + i));
        }
        many[99] = benchmarkAction();
    }

    /// @dev A use of the session's last action alone, with its proof in the session's tree.
    function useOfLast(Session memory s, Action[] memory all) internal view returns (SessionUse memory use) {
        use = useOf(s, one(all[all.length - 1]), 1);
        use.proofs = new bytes32[][](1);
        use.proofs[0] = SessionEncoder.proof(hashesOf(all), all.length - 1);
    }

    function benchmarkSession(Action[] memory actions, bytes32 salt) internal view returns (Session memory s) {
        s = newSession(sessionSigner, actions);
        s.validAfter = uint48(vm.getBlockTimestamp() - 1 days);
        s.validUntil = uint48(vm.getBlockTimestamp() + 365 days);
        s.salt = salt;
    }

    /// @dev Grants the benchmark session to the P-256 key (`kind`), warms it, then measures a transfer.
    function measureP256(string memory label, uint8 kind, Action[] memory actions, uint256 salt) internal {
        Session memory s = withP256Signer(benchmarkSession(actions, bytes32(salt)), kind);
        grantByOwner(s, actions);
        send(p256Op(s, actions, kind));
        measure(label, p256Op(s, actions, kind));
    }

    function p256Op(Session memory s, Action[] memory actions, uint8 kind)
        internal
        view
        returns (PackedUserOperation memory op)
    {
        SessionUse memory use = useOf(s, actions, 1);
        op = baseOp(address(account), sessionKeyNonce(0), transferCall(merchant, 1e6));
        bytes32 digest = validator.useDigest(ENTRYPOINT.getUserOpHash(op), sessionIdOf(s), use.time, callsHash(use));
        if (kind == SessionTypes.SIGNER_P256) {
            (bytes32 r, bytes32 sig) = signP256(digest);
            use.signature = abi.encodePacked(r, sig);
        } else {
            use.signature = webAuthnSignature(digest);
        }
        op.signature = packUse(use);
    }

    function measure(string memory label, PackedUserOperation memory op) internal {
        send(op);
        uint256 gas = vm.lastCallGas().gasTotalUsed;
        vm.snapshotValue("GasBenchmark", label, gas);
        emit log(string.concat(label, " ", vm.toString(gas)));
        json = string.concat(json, bytes(json).length == 0 ? "" : ",", '"', label, '":', vm.toString(gas));
    }
}
