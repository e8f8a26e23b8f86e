// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";

/// @title GameItems
/// @notice An ERC-1155 game collection for the gaming demo: fungible materials (GOLD, WOOD, IRON) that a session
/// key may trade freely, and legendary items (every id from {LEGENDARY_MIN} up) that a policy keeps out of its
/// reach.
/// @dev Items move with the standard `safeTransferFrom(from, to, id, amount, data)`, whose `id` is the argument
/// word at offset 64: a session policy tells materials from legendaries with one rule on that word
/// (`LT LEGENDARY_MIN`). A TEST FAUCET: anyone may mint any item to anyone.
contract GameItems is ERC1155 {
    /// @notice Fungible material: gold.
    uint256 public constant GOLD = 1;
    /// @notice Fungible material: wood.
    uint256 public constant WOOD = 2;
    /// @notice Fungible material: iron.
    uint256 public constant IRON = 3;
    /// @notice The lowest legendary item id; every id at or above it is legendary.
    uint256 public constant LEGENDARY_MIN = 1_000_000;

    /// @dev One metadata template for every id (ERC-1155 clients substitute `{id}`).
    constructor() ERC1155("https://leash.invalid/devnet/items/{id}.json") {}

    /// @notice Test faucet: mints `amount` of item `id` to `to`. Open to every caller on purpose.
    /// @dev Calls `onERC1155Received` when `to` is a contract, like any ERC-1155 mint.
    /// @param to The receiver of the items.
    /// @param id The item id (a material, a legendary, or any other id).
    /// @param amount How many to mint.
    function mint(address to, uint256 id, uint256 amount) external {
        _mint(to, id, amount, "");
    }

    /// @notice Whether item `id` is legendary (`id >= LEGENDARY_MIN`).
    /// @param id The item id.
    function isLegendary(uint256 id) external pure returns (bool) {
        return id >= LEGENDARY_MIN;
    }
}
