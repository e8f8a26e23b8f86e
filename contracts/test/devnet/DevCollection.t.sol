// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {DevCollection} from "../../src/devnet/DevCollection.sol";
import {TestBase} from "../utils/TestBase.sol";

/// @notice The devnet's ERC-721 collection, which the marketplace demos list on Seaport.
contract DevCollectionTest is TestBase {
    address internal constant ALICE = address(0xA11CE);
    address internal constant BOB = address(0xB0B);

    DevCollection internal punks;

    function setUp() public {
        punks = new DevCollection();
    }

    function test_HasItsNameAndSymbol() public view {
        assertEq(keccak256(bytes(punks.name())), keccak256("Leash Punks (devnet)"), "name");
        assertEq(keccak256(bytes(punks.symbol())), keccak256("LPUNK"), "symbol");
    }

    function testFuzz_AnyoneMintsAnIdOnce(address minter, uint256 id) public {
        vm.prank(minter);
        punks.mint(ALICE, id);
        assertEq(punks.ownerOf(id), ALICE, "minted to alice");
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721InvalidSender.selector, address(0)));
        punks.mint(BOB, id);
    }

    function test_HolderTransfersAndTokenUriIsWellFormed() public {
        punks.mint(ALICE, 7);
        vm.prank(ALICE);
        punks.transferFrom(ALICE, BOB, 7);
        assertEq(punks.ownerOf(7), BOB, "bob owns it");
        assertEq(keccak256(bytes(punks.tokenURI(7))), keccak256("https://leash.invalid/devnet/punks/7"), "token URI");
    }

    function test_RevertWhen_MintingToAContractThatRefusesNfts() public {
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721InvalidReceiver.selector, address(this)));
        punks.mint(address(this), 1);
    }
}
