// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";

/// @title YieldVault
/// @notice A plain OpenZeppelin ERC-4626 vault over one ERC-20 asset, for the treasury-automation demo: a session
/// key may `deposit(assets, receiver)` idle funds with `receiver` pinned to the account by a policy rule.
/// @dev Nothing is added to OpenZeppelin's audited `ERC4626`. The vault earns nothing by itself; a demo simulates
/// yield by transferring (or minting) assets to the vault, which raises the value of every share.
contract YieldVault is ERC4626 {
    /// @param asset_ The ERC-20 the vault holds (a {DevToken} on the devnet).
    /// @param name_ The share token name (`"Yield USDC"`).
    /// @param symbol_ The share token symbol (`"yUSDC"`).
    constructor(IERC20 asset_, string memory name_, string memory symbol_) ERC20(name_, symbol_) ERC4626(asset_) {}
}
