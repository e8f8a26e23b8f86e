// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";

/// @title DevCollection
/// @notice An ERC-721 collection for the marketplace demos ("Leash Punks (devnet)"): NFTs that a seller lists on
/// Seaport and a session key buys, within a price a policy sets.
/// @dev A TEST FAUCET: anyone may mint any unminted id to anyone. Never deploy it where its tokens mean money.
contract DevCollection is ERC721 {
    /// @dev Metadata is never fetched on a devnet; the base URI only keeps `tokenURI` well-formed.
    constructor() ERC721("Leash Punks (devnet)", "LPUNK") {}

    /// @notice Test faucet: mints token `tokenId` to `to`. Open to every caller on purpose.
    /// @dev Reverts with `ERC721InvalidSender(address(0))` when the id exists; calls `onERC721Received` when
    /// `to` is a contract, like `_safeMint`.
    /// @param to The receiver of the token.
    /// @param tokenId The token id, any that is not minted yet.
    function mint(address to, uint256 tokenId) external {
        _safeMint(to, tokenId);
    }

    function _baseURI() internal pure override returns (string memory) {
        return "https://leash.invalid/devnet/punks/";
    }
}
