// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {DevToken} from "./DevToken.sol";

/// @title DevUsdc
/// @notice The devnet's USDC: a {DevToken} with 6 decimals and USDC v2.2's EIP-3009 ("transfer with
/// authorization"), so that signed-payment flows (x402 and the like) run on the local stack as on mainnet: the
/// holder signs an EIP-712 authorization off-chain and anyone submits it.
/// @dev The interface is FiatTokenV2_2's: the same functions (each with a `(v, r, s)` and a `bytes signature`
/// form), typehashes, events and state, an EIP-712 domain with version "2" and the token's name. As in v2.2,
/// signatures are checked with ERC-1271 when the authorizer has code, so a smart account pays by its owner's
/// signature. Failures are custom errors rather than USDC's revert strings. A TEST FAUCET like {DevToken}:
/// anyone may mint.
contract DevUsdc is DevToken, EIP712 {
    /// @notice EIP-3009 `transferWithAuthorization`'s typehash.
    bytes32 public constant TRANSFER_WITH_AUTHORIZATION_TYPEHASH = keccak256(
        "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );

    /// @notice EIP-3009 `receiveWithAuthorization`'s typehash.
    bytes32 public constant RECEIVE_WITH_AUTHORIZATION_TYPEHASH = keccak256(
        "ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );

    /// @notice EIP-3009 `cancelAuthorization`'s typehash.
    bytes32 public constant CANCEL_AUTHORIZATION_TYPEHASH =
        keccak256("CancelAuthorization(address authorizer,bytes32 nonce)");

    /// @dev Whether an authorizer's nonce has been used or canceled. Nonces are random 32-byte values chosen by
    /// the signer, not a counter, so that several authorizations may be outstanding and land in any order.
    mapping(address authorizer => mapping(bytes32 nonce => bool)) private _authorizationStates;

    /// @notice An authorization was executed.
    event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce);

    /// @notice An authorization was canceled before use.
    event AuthorizationCanceled(address indexed authorizer, bytes32 indexed nonce);

    /// @notice The authorization's `validAfter` has not passed yet.
    error AuthorizationNotYetValid(uint256 validAfter, uint256 blockTimestamp);

    /// @notice The authorization's `validBefore` has passed.
    error AuthorizationExpired(uint256 validBefore, uint256 blockTimestamp);

    /// @notice The authorizer already used or canceled this nonce.
    error AuthorizationUsedOrCanceled(address authorizer, bytes32 nonce);

    /// @notice The signature is not the authorizer's (ECDSA for an address without code, ERC-1271 otherwise).
    error InvalidAuthorizationSignature(address authorizer);

    /// @notice `receiveWithAuthorization` was called by someone other than the payee.
    error CallerNotPayee(address caller, address payee);

    /// @dev Name, symbol and decimals are the devnet USDC's; the EIP-712 domain is (name, "2"), as USDC's.
    constructor() DevToken("USD Coin (devnet)", "USDC", 6) EIP712("USD Coin (devnet)", "2") {}

    /// @notice The EIP-712 domain separator of the authorizations (USDC's `DOMAIN_SEPARATOR`).
    /// @return The separator for this chain and this contract.
    // forge-lint: disable-next-line(mixed-case-function)
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice The EIP-712 domain version, "2" as USDC's.
    /// @return The version string.
    function version() external pure returns (string memory) {
        return "2";
    }

    /// @notice Whether `authorizer` has used or canceled `nonce`.
    /// @param authorizer The signer of the authorization.
    /// @param nonce The authorization's nonce.
    /// @return True once used or canceled.
    function authorizationState(address authorizer, bytes32 nonce) external view returns (bool) {
        return _authorizationStates[authorizer][nonce];
    }

    /// @notice Moves `value` from `from` to `to` on `from`'s signed authorization; anyone may submit it.
    /// @param from The payer, who signed.
    /// @param to The payee.
    /// @param value Raw units to move.
    /// @param validAfter The authorization is valid after this time (seconds since the epoch).
    /// @param validBefore The authorization is valid before this time.
    /// @param nonce A unique 32-byte nonce chosen by the payer.
    /// @param signature The payer's signature of the `TransferWithAuthorization` typed data (65-byte ECDSA, or
    /// what the payer's ERC-1271 `isValidSignature` accepts).
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes memory signature
    ) public {
        _checkWindow(from, validAfter, validBefore, nonce);
        bytes32 structHash = keccak256(
            abi.encode(TRANSFER_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce)
        );
        _useAuthorization(from, nonce, structHash, signature);
        _transfer(from, to, value);
    }

    /// @notice {transferWithAuthorization} with the ECDSA signature split into `v`, `r`, `s`.
    /// @param from The payer, who signed.
    /// @param to The payee.
    /// @param value Raw units to move.
    /// @param validAfter The authorization is valid after this time.
    /// @param validBefore The authorization is valid before this time.
    /// @param nonce A unique 32-byte nonce chosen by the payer.
    /// @param v The signature's recovery byte.
    /// @param r The signature's `r`.
    /// @param s The signature's `s`.
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        transferWithAuthorization(from, to, value, validAfter, validBefore, nonce, abi.encodePacked(r, s, v));
    }

    /// @notice Like {transferWithAuthorization}, but only the payee may submit it, so that a front-runner
    /// cannot move the funds without the payee's contract seeing the call (EIP-3009's guard for deposits).
    /// @param from The payer, who signed.
    /// @param to The payee, who must be the caller.
    /// @param value Raw units to move.
    /// @param validAfter The authorization is valid after this time.
    /// @param validBefore The authorization is valid before this time.
    /// @param nonce A unique 32-byte nonce chosen by the payer.
    /// @param signature The payer's signature of the `ReceiveWithAuthorization` typed data.
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes memory signature
    ) public {
        require(to == msg.sender, CallerNotPayee(msg.sender, to));
        _checkWindow(from, validAfter, validBefore, nonce);
        bytes32 structHash =
            keccak256(abi.encode(RECEIVE_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce));
        _useAuthorization(from, nonce, structHash, signature);
        _transfer(from, to, value);
    }

    /// @notice {receiveWithAuthorization} with the ECDSA signature split into `v`, `r`, `s`.
    /// @param from The payer, who signed.
    /// @param to The payee, who must be the caller.
    /// @param value Raw units to move.
    /// @param validAfter The authorization is valid after this time.
    /// @param validBefore The authorization is valid before this time.
    /// @param nonce A unique 32-byte nonce chosen by the payer.
    /// @param v The signature's recovery byte.
    /// @param r The signature's `r`.
    /// @param s The signature's `s`.
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        receiveWithAuthorization(from, to, value, validAfter, validBefore, nonce, abi.encodePacked(r, s, v));
    }

    /// @notice Cancels an unused authorization of `authorizer`; anyone may submit the signed cancellation.
    /// @param authorizer The signer of the authorization to cancel.
    /// @param nonce Its nonce.
    /// @param signature The authorizer's signature of the `CancelAuthorization` typed data.
    function cancelAuthorization(address authorizer, bytes32 nonce, bytes memory signature) public {
        require(!_authorizationStates[authorizer][nonce], AuthorizationUsedOrCanceled(authorizer, nonce));
        bytes32 structHash = keccak256(abi.encode(CANCEL_AUTHORIZATION_TYPEHASH, authorizer, nonce));
        _checkSignature(authorizer, structHash, signature);
        _authorizationStates[authorizer][nonce] = true;
        emit AuthorizationCanceled(authorizer, nonce);
    }

    /// @notice {cancelAuthorization} with the ECDSA signature split into `v`, `r`, `s`.
    /// @param authorizer The signer of the authorization to cancel.
    /// @param nonce Its nonce.
    /// @param v The signature's recovery byte.
    /// @param r The signature's `r`.
    /// @param s The signature's `s`.
    function cancelAuthorization(address authorizer, bytes32 nonce, uint8 v, bytes32 r, bytes32 s) external {
        cancelAuthorization(authorizer, nonce, abi.encodePacked(r, s, v));
    }

    function _checkWindow(address authorizer, uint256 validAfter, uint256 validBefore, bytes32 nonce) private view {
        // EIP-3009's validity window is in seconds of block time, by design.
        // forge-lint: disable-next-line(block-timestamp)
        require(block.timestamp > validAfter, AuthorizationNotYetValid(validAfter, block.timestamp));
        // forge-lint: disable-next-line(block-timestamp)
        require(block.timestamp < validBefore, AuthorizationExpired(validBefore, block.timestamp));
        require(!_authorizationStates[authorizer][nonce], AuthorizationUsedOrCanceled(authorizer, nonce));
    }

    function _useAuthorization(address authorizer, bytes32 nonce, bytes32 structHash, bytes memory signature) private {
        _checkSignature(authorizer, structHash, signature);
        _authorizationStates[authorizer][nonce] = true;
        emit AuthorizationUsed(authorizer, nonce);
    }

    function _checkSignature(address authorizer, bytes32 structHash, bytes memory signature) private view {
        require(
            SignatureChecker.isValidSignatureNow(authorizer, _hashTypedDataV4(structHash), signature),
            InvalidAuthorizationSignature(authorizer)
        );
    }
}
