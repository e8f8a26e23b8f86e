// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {GameItems} from "../src/devnet/GameItems.sol";
import {LeashTest} from "./utils/LeashTest.sol";

/// @dev A minimal NFT collection for the receipt test.
contract TestNft is ERC721("Test NFT", "NFT") {
    function mint(address to, uint256 id) external {
        _safeMint(to, id);
    }
}

contract TokenReceiptTest is LeashTest {
    function test_AccountReceivesErc1155Items() public {
        GameItems items = new GameItems();
        uint256 gold = items.GOLD();
        items.mint(address(account), gold, 500);
        assertEq(items.balanceOf(address(account), gold), 500, "gold arrived through the safe transfer hook");
    }

    function test_AccountReceivesErc721Tokens() public {
        TestNft nft = new TestNft();
        nft.mint(address(account), 7);
        assertEq(nft.ownerOf(7), address(account), "the NFT arrived through the safe transfer hook");
    }
}
