// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title DexRouter
/// @notice A DEX-like router for the trading demo: fixed rates per ordered pair, paid out of the router's own
/// reserves (tokens minted or sent to it). Quotes never move, so a demo's outcome is known in advance.
/// @dev `swapExactTokensForTokens` keeps every argument static and in this order, because session policies
/// constrain it by argument word offset: `amountIn` at 0, `amountOutMin` at 32, `tokenIn` at 64, `tokenOut` at 96,
/// `to` at 128, `deadline` at 160. Changing the order or a type breaks every policy written for it.
///
/// DEVNET ONLY: anyone may set any rate, and so drain the reserves.
contract DexRouter {
    using SafeERC20 for IERC20;

    /// @notice Rates are scaled by 1e18: `amountOut = amountIn * rateWad / WAD`.
    uint256 public constant WAD = 1e18;

    /// @notice Raw units of `tokenOut` paid per 1e18 raw units of `tokenIn` (decimals are not adjusted for);
    /// zero means the pair is not traded.
    mapping(address tokenIn => mapping(address tokenOut => uint256 rateWad)) public rates;

    /// @notice A rate was set (zero: the pair was closed).
    event RateSet(address indexed tokenIn, address indexed tokenOut, uint256 rateWad);

    /// @notice `sender` paid `amountIn` of `tokenIn`; `to` received `amountOut` of `tokenOut`.
    event Swap(
        address indexed sender,
        address indexed tokenIn,
        address indexed tokenOut,
        uint256 amountIn,
        uint256 amountOut,
        address to
    );

    /// @notice No rate is set for swapping `tokenIn` into `tokenOut`.
    error NoRate(address tokenIn, address tokenOut);
    /// @notice The swap would pay `amountOut`, less than the caller's `amountOutMin`.
    error SlippageExceeded(uint256 amountOut, uint256 amountOutMin);
    /// @notice The swap ran at `timestamp`, after the caller's `deadline`.
    error DeadlinePassed(uint256 deadline, uint256 timestamp);
    /// @notice The router holds `reserves` of `tokenOut`, less than the `amountOut` the swap must pay.
    error InsufficientReserves(address tokenOut, uint256 reserves, uint256 amountOut);

    /// @notice Sets the rate for swapping `tokenIn` into `tokenOut` (one direction only). Open to every caller.
    /// @param tokenIn The token the swapper pays.
    /// @param tokenOut The token the router pays out.
    /// @param rateWad Raw units of `tokenOut` per 1e18 raw units of `tokenIn`; zero closes the pair.
    function setRate(address tokenIn, address tokenOut, uint256 rateWad) external {
        rates[tokenIn][tokenOut] = rateWad;
        emit RateSet(tokenIn, tokenOut, rateWad);
    }

    /// @notice How much of `tokenOut` a swap of `amountIn` of `tokenIn` pays, reserves aside.
    /// @dev Reverts with {NoRate} when the pair is not traded.
    /// @param amountIn Raw units of `tokenIn`.
    /// @param tokenIn The token paid.
    /// @param tokenOut The token received.
    /// @return amountOut Raw units of `tokenOut`, rounded down.
    function getAmountOut(uint256 amountIn, address tokenIn, address tokenOut) public view returns (uint256 amountOut) {
        uint256 rateWad = rates[tokenIn][tokenOut];
        if (rateWad == 0) revert NoRate(tokenIn, tokenOut);
        return Math.mulDiv(amountIn, rateWad, WAD);
    }

    /// @notice Swaps exactly `amountIn` of `tokenIn` from the caller for `tokenOut` paid to `to` at the pair's rate.
    /// @dev The caller must have approved `amountIn` of `tokenIn` to this router.
    /// @param amountIn Raw units of `tokenIn` taken from the caller (argument word 0).
    /// @param amountOutMin The least `tokenOut` the caller accepts (word 1).
    /// @param tokenIn The token paid (word 2).
    /// @param tokenOut The token received (word 3).
    /// @param to The receiver of `tokenOut` (word 4).
    /// @param deadline The last timestamp at which the swap may run (word 5).
    /// @return amountOut Raw units of `tokenOut` sent to `to`.
    function swapExactTokensForTokens(
        uint256 amountIn,
        uint256 amountOutMin,
        address tokenIn,
        address tokenOut,
        address to,
        uint256 deadline
    ) external returns (uint256 amountOut) {
        if (block.timestamp > deadline) revert DeadlinePassed(deadline, block.timestamp);
        amountOut = getAmountOut(amountIn, tokenIn, tokenOut);
        if (amountOut < amountOutMin) revert SlippageExceeded(amountOut, amountOutMin);
        uint256 reserves = IERC20(tokenOut).balanceOf(address(this));
        if (reserves < amountOut) revert InsufficientReserves(tokenOut, reserves, amountOut);

        IERC20(tokenIn).safeTransferFrom(msg.sender, address(this), amountIn);
        IERC20(tokenOut).safeTransfer(to, amountOut);
        emit Swap(msg.sender, tokenIn, tokenOut, amountIn, amountOut, to);
    }
}
