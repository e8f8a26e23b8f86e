// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {DevToken} from "../../src/devnet/DevToken.sol";
import {GameItems} from "../../src/devnet/GameItems.sol";
import {DexRouter} from "../../src/devnet/DexRouter.sol";
import {YieldVault} from "../../src/devnet/YieldVault.sol";
import {Vm, TestBase} from "../utils/TestBase.sol";

/// @notice The devnet assets the local stack and the demos deploy: faucet tokens, game items, the fixed-rate
/// router and the ERC-4626 vault.
contract DevnetAssetsTest is TestBase {
    address internal constant ALICE = address(0xA11CE);
    address internal constant BOB = address(0xB0B);

    DevToken internal usdc;
    DevToken internal weth;
    GameItems internal items;
    DexRouter internal dex;
    YieldVault internal vault;

    function setUp() public {
        usdc = new DevToken("USD Coin (devnet)", "USDC", 6);
        weth = new DevToken("Wrapped Ether (devnet)", "WETH", 18);
        items = new GameItems();
        dex = new DexRouter();
        vault = new YieldVault(usdc, "Yield USDC", "yUSDC");
    }

    // ---------------------------------------------------------------------------------------------------------
    // DevToken
    // ---------------------------------------------------------------------------------------------------------

    function test_TokenHasChosenMetadata() public view {
        assertEq(usdc.decimals(), 6, "usdc decimals");
        assertEq(weth.decimals(), 18, "weth decimals");
        assertEq(keccak256(bytes(usdc.symbol())), keccak256("USDC"), "symbol");
        assertEq(keccak256(bytes(weth.name())), keccak256("Wrapped Ether (devnet)"), "name");
    }

    function testFuzz_AnyoneMintsAndHolderTransfers(address minter, uint256 amount, uint256 sent) public {
        amount = bound(amount, 0, type(uint128).max);
        sent = bound(sent, 0, amount);
        vm.prank(minter);
        usdc.mint(ALICE, amount);
        assertEq(usdc.balanceOf(ALICE), amount, "minted");
        assertEq(usdc.totalSupply(), amount, "supply");

        vm.prank(ALICE);
        usdc.transfer(BOB, sent);
        assertEq(usdc.balanceOf(ALICE), amount - sent, "sender balance");
        assertEq(usdc.balanceOf(BOB), sent, "receiver balance");
    }

    // ---------------------------------------------------------------------------------------------------------
    // GameItems
    // ---------------------------------------------------------------------------------------------------------

    function test_MaterialIdsAreFixed() public view {
        assertEq(items.GOLD(), 1, "gold");
        assertEq(items.WOOD(), 2, "wood");
        assertEq(items.IRON(), 3, "iron");
        assertEq(items.LEGENDARY_MIN(), 1_000_000, "legendary min");
    }

    function testFuzz_LegendaryFromLegendaryMinUp(uint256 id) public view {
        vm.assertEq(items.isLegendary(id), id >= 1_000_000, "legendary iff id >= LEGENDARY_MIN");
    }

    function test_MaterialsAreNotLegendary() public view {
        assertTrue(!items.isLegendary(items.GOLD()), "gold");
        assertTrue(!items.isLegendary(items.WOOD()), "wood");
        assertTrue(!items.isLegendary(items.IRON()), "iron");
        assertTrue(!items.isLegendary(999_999), "just below");
        assertTrue(items.isLegendary(1_000_000), "lowest legendary");
    }

    function test_MintAndSafeTransferItems() public {
        uint256 gold = items.GOLD();
        uint256 sword = items.LEGENDARY_MIN() + 7;
        items.mint(ALICE, gold, 500);
        items.mint(ALICE, sword, 1);

        vm.prank(ALICE);
        items.safeTransferFrom(ALICE, BOB, gold, 120, "");
        vm.prank(ALICE);
        items.safeTransferFrom(ALICE, BOB, sword, 1, "");

        assertEq(items.balanceOf(ALICE, gold), 380, "alice gold");
        assertEq(items.balanceOf(BOB, gold), 120, "bob gold");
        assertEq(items.balanceOf(ALICE, sword), 0, "alice sword");
        assertEq(items.balanceOf(BOB, sword), 1, "bob sword");
    }

    function test_RevertWhen_ItemsMovedWithoutApproval() public {
        uint256 gold = items.GOLD();
        items.mint(ALICE, gold, 500);
        vm.expectRevert(abi.encodeWithSignature("ERC1155MissingApprovalForAll(address,address)", BOB, ALICE));
        vm.prank(BOB);
        items.safeTransferFrom(ALICE, BOB, gold, 1, "");
    }

    function test_UriIsOneTemplate() public view {
        assertEq(keccak256(bytes(items.uri(1))), keccak256(bytes(items.uri(1_000_000))), "same template");
    }

    /// @dev Policies constrain the item id as the argument word at offset 64 of `safeTransferFrom`.
    function testFuzz_ItemIdAtArgumentOffset64(uint256 id) public view {
        bytes memory data = abi.encodeCall(items.safeTransferFrom, (ALICE, BOB, id, 1, ""));
        assertEq(argWord(data, 64), bytes32(id), "id word");
    }

    // ---------------------------------------------------------------------------------------------------------
    // DexRouter
    // ---------------------------------------------------------------------------------------------------------

    /// @dev 1 USDC (1e6 raw) buys 0.0004 WETH (4e14 raw): 4e8 raw WETH per raw USDC.
    uint256 internal constant USDC_TO_WETH = 4e8 * 1e18;

    function fundDex() internal {
        dex.setRate(address(usdc), address(weth), USDC_TO_WETH);
        weth.mint(address(dex), 10e18);
        usdc.mint(ALICE, 10_000e6);
        vm.prank(ALICE);
        usdc.approve(address(dex), type(uint256).max);
    }

    function swapAsAlice(uint256 amountIn, uint256 amountOutMin, uint256 deadline) internal returns (uint256) {
        vm.prank(ALICE);
        return dex.swapExactTokensForTokens(amountIn, amountOutMin, address(usdc), address(weth), BOB, deadline);
    }

    function test_SwapPaysAtFixedRate() public {
        fundDex();
        vm.recordLogs();
        uint256 out = swapAsAlice(100e6, 0.04e18, block.timestamp);

        assertEq(out, 0.04e18, "amount out");
        assertEq(usdc.balanceOf(ALICE), 9900e6, "alice paid");
        assertEq(usdc.balanceOf(address(dex)), 100e6, "router received");
        assertEq(weth.balanceOf(BOB), 0.04e18, "receiver paid");
        assertEq(weth.balanceOf(address(dex)), 10e18 - 0.04e18, "reserves");

        Vm.Log[] memory logs = vm.getRecordedLogs();
        Vm.Log memory swap = logs[logs.length - 1];
        assertEq(swap.topics[0], DexRouter.Swap.selector, "swap event");
        assertEq(swap.topics[1], bytes32(uint256(uint160(ALICE))), "sender");
        assertEq(swap.topics[2], bytes32(uint256(uint160(address(usdc)))), "token in");
        assertEq(swap.topics[3], bytes32(uint256(uint160(address(weth)))), "token out");
        assertEq(keccak256(swap.data), keccak256(abi.encode(100e6, 0.04e18, BOB)), "event data");
    }

    function testFuzz_QuoteIsAmountTimesRate(uint128 amountIn, uint128 rateWad) public {
        vm.assume(rateWad > 0);
        dex.setRate(address(usdc), address(weth), rateWad);
        assertEq(
            dex.getAmountOut(amountIn, address(usdc), address(weth)),
            uint256(amountIn) * rateWad / 1e18,
            "amountIn * rate / 1e18"
        );
    }

    function test_RatesAreOneDirection() public {
        dex.setRate(address(usdc), address(weth), USDC_TO_WETH);
        assertEq(dex.rates(address(usdc), address(weth)), USDC_TO_WETH, "set direction");
        assertEq(dex.rates(address(weth), address(usdc)), 0, "reverse untouched");
    }

    function test_RevertWhen_PairHasNoRate() public {
        fundDex();
        vm.expectRevert(abi.encodeWithSelector(DexRouter.NoRate.selector, address(weth), address(usdc)));
        vm.prank(ALICE);
        dex.swapExactTokensForTokens(1e18, 0, address(weth), address(usdc), BOB, block.timestamp);
    }

    function test_RevertWhen_RateWasReset() public {
        fundDex();
        dex.setRate(address(usdc), address(weth), 0);
        vm.expectRevert(abi.encodeWithSelector(DexRouter.NoRate.selector, address(usdc), address(weth)));
        swapAsAlice(100e6, 0, block.timestamp);
    }

    function test_RevertWhen_SlippageExceeded() public {
        fundDex();
        vm.expectRevert(abi.encodeWithSelector(DexRouter.SlippageExceeded.selector, 0.04e18, 0.04e18 + 1));
        swapAsAlice(100e6, 0.04e18 + 1, block.timestamp);
    }

    function test_RevertWhen_DeadlinePassed() public {
        fundDex();
        vm.warp(1_000_000);
        vm.expectRevert(abi.encodeWithSelector(DexRouter.DeadlinePassed.selector, 999_999, 1_000_000));
        swapAsAlice(100e6, 0, 999_999);
    }

    function test_SwapAtDeadlineSucceeds() public {
        fundDex();
        vm.warp(1_000_000);
        assertEq(swapAsAlice(100e6, 0, 1_000_000), 0.04e18, "runs at the deadline itself");
    }

    function test_RevertWhen_ReservesInsufficient() public {
        fundDex();
        // 10 WETH of reserves pay for 25_000 USDC; 30_000 USDC asks for 12 WETH.
        usdc.mint(ALICE, 20_000e6);
        vm.expectRevert(abi.encodeWithSelector(DexRouter.InsufficientReserves.selector, address(weth), 10e18, 12e18));
        swapAsAlice(30_000e6, 0, block.timestamp);
    }

    function test_RevertWhen_SwapperHasNotApproved() public {
        fundDex();
        vm.prank(ALICE);
        usdc.approve(address(dex), 0);
        vm.expectRevert(
            abi.encodeWithSignature("ERC20InsufficientAllowance(address,uint256,uint256)", address(dex), 0, 100e6)
        );
        swapAsAlice(100e6, 0, block.timestamp);
    }

    /// @dev Policies constrain the swap by argument word: amountIn 0, tokenIn 64, tokenOut 96, to 128.
    function testFuzz_SwapArgumentOffsets(uint256 amountIn, uint256 amountOutMin, uint256 deadline) public view {
        bytes memory data = abi.encodeCall(
            dex.swapExactTokensForTokens, (amountIn, amountOutMin, address(usdc), address(weth), BOB, deadline)
        );
        assertEq(data.length, 4 + 6 * 32, "six static words");
        assertEq(argWord(data, 0), bytes32(amountIn), "amountIn");
        assertEq(argWord(data, 32), bytes32(amountOutMin), "amountOutMin");
        assertEq(argWord(data, 64), bytes32(uint256(uint160(address(usdc)))), "tokenIn");
        assertEq(argWord(data, 96), bytes32(uint256(uint160(address(weth)))), "tokenOut");
        assertEq(argWord(data, 128), bytes32(uint256(uint160(BOB))), "to");
        assertEq(argWord(data, 160), bytes32(deadline), "deadline");
    }

    // ---------------------------------------------------------------------------------------------------------
    // YieldVault
    // ---------------------------------------------------------------------------------------------------------

    function test_VaultWrapsAsset() public view {
        assertEq(vault.asset(), address(usdc), "asset");
        assertEq(vault.decimals(), 6, "share decimals follow the asset");
        assertEq(keccak256(bytes(vault.symbol())), keccak256("yUSDC"), "symbol");
    }

    function testFuzz_VaultDepositWithdrawRoundTrip(uint256 assets) public {
        assets = bound(assets, 1, 1e30);
        usdc.mint(ALICE, assets);
        vm.prank(ALICE);
        usdc.approve(address(vault), assets);

        vm.prank(ALICE);
        uint256 shares = vault.deposit(assets, ALICE);
        assertEq(shares, assets, "1:1 shares on an empty vault");
        assertEq(vault.balanceOf(ALICE), shares, "shares minted");
        assertEq(vault.totalAssets(), assets, "vault holds the assets");
        assertEq(usdc.balanceOf(ALICE), 0, "assets pulled");

        vm.prank(ALICE);
        uint256 burned = vault.withdraw(assets, ALICE, ALICE);
        assertEq(burned, shares, "withdraw burns the shares");
        assertEq(vault.balanceOf(ALICE), 0, "no shares left");
        assertEq(usdc.balanceOf(ALICE), assets, "assets back");
        assertEq(vault.totalAssets(), 0, "vault empty");
    }

    function test_VaultDepositForReceiverAndRedeemWithYield() public {
        usdc.mint(ALICE, 1000e6);
        vm.prank(ALICE);
        usdc.approve(address(vault), 1000e6);
        vm.prank(ALICE);
        uint256 shares = vault.deposit(1000e6, BOB);
        assertEq(vault.balanceOf(BOB), shares, "receiver holds the shares");
        assertEq(vault.balanceOf(ALICE), 0, "depositor holds none");

        // Simulated yield: assets sent to the vault raise the value of every share.
        usdc.mint(address(vault), 100e6);
        vm.prank(BOB);
        uint256 assets = vault.redeem(shares, BOB, BOB);
        // ERC-4626 rounds in the vault's favour (the virtual share takes a sliver of the yield).
        assertLe(assets, 1100e6, "never more than deposited plus yield");
        assertLe(1100e6 - 1, assets, "all the yield, less rounding");
        assertEq(usdc.balanceOf(BOB), assets, "receiver paid");
    }

    /// @dev The 32-byte argument word at `offset` after the selector.
    function argWord(bytes memory data, uint256 offset) internal pure returns (bytes32 word) {
        assembly ("memory-safe") {
            word := mload(add(add(data, 0x24), offset))
        }
    }
}
