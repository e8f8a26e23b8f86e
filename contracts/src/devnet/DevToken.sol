// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title DevToken
/// @notice An ERC-20 for the local stack and the demos: a 6-decimal USDC-like token, an 18-decimal WETH-like
/// token, or anything else a demo needs.
/// @dev A TEST FAUCET: anyone may mint any amount to anyone. Never deploy it where its balances mean money.
contract DevToken is ERC20 {
    uint8 private immutable _decimals;

    /// @param name_ The token name (`"USD Coin (devnet)"`).
    /// @param symbol_ The token symbol (`"USDC"`).
    /// @param decimals_ The number of decimals balances are expressed in (6 for USDC, 18 for WETH).
    constructor(string memory name_, string memory symbol_, uint8 decimals_) ERC20(name_, symbol_) {
        _decimals = decimals_;
    }

    /// @notice The number of decimals chosen at deployment.
    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice Test faucet: mints `amount` raw units to `to`. Open to every caller on purpose.
    /// @param to The receiver of the new tokens.
    /// @param amount The amount in raw units (`amount / 10**decimals()` whole tokens).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
