// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {Vm} from "./TestBase.sol";
import {LeashAccount} from "../../src/LeashAccount.sol";
import {LeashAccountFactory} from "../../src/LeashAccountFactory.sol";
import {LeashFactoryStaker} from "../../src/LeashFactoryStaker.sol";
import {SessionKeyValidator} from "../../src/SessionKeyValidator.sol";

// The release's contracts, deployed from their compiled artifacts rather than with `new`: a contract that creates
// another carries the other's whole creation code, which the IR pipeline would optimise again inside every test
// contract that does it (the module alone takes most of a compilation).

Vm constant VM = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

function deployValidator() returns (SessionKeyValidator) {
    return SessionKeyValidator(VM.deployCode("SessionKeyValidator.sol:SessionKeyValidator"));
}

function deployAccountImplementation() returns (LeashAccount) {
    return LeashAccount(payable(VM.deployCode("LeashAccount.sol:LeashAccount")));
}

function deployFactory(LeashAccount implementation) returns (LeashAccountFactory) {
    return LeashAccountFactory(VM.deployCode("LeashAccountFactory.sol:LeashAccountFactory", abi.encode(implementation)));
}

function deployStaker(address stakeOwner, LeashAccountFactory factory) returns (LeashFactoryStaker) {
    return LeashFactoryStaker(
        payable(VM.deployCode("LeashFactoryStaker.sol:LeashFactoryStaker", abi.encode(stakeOwner, factory)))
    );
}
