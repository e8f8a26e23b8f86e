// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {
    Action,
    ArgRule,
    Grant,
    NestedStruct,
    Period,
    Session,
    SessionUse,
    TypedDataScope,
    SessionTypes
} from "./SessionTypes.sol";

/// @title SessionEncoder
/// @notice Packs sessions and actions into the wire format the session-key module reads (docs/encoding.md), and
/// builds the Merkle root of a session's actions. For contracts and tests that build sessions on chain; the
/// module itself never packs anything (it hashes the bytes it is given).
library SessionEncoder {
    /// @notice The packed session: `keccak256` of it is the session's id.
    function encode(Session memory s) internal pure returns (bytes memory out) {
        out = abi.encodePacked(
            SessionTypes.FORMAT_VERSION,
            s.signerKind,
            s.flags,
            s.validAfter,
            s.validUntil,
            s.maxUses,
            s.gasBudget,
            s.paymaster,
            s.actionsRoot,
            s.salt
        );
        out = abi.encodePacked(out, s.signer, encode(s.usesPeriod), uint8(s.signing.length));
        for (uint256 i = 0; i < s.signing.length; ++i) {
            out = abi.encodePacked(out, encode(s.signing[i]));
        }
    }

    /// @notice The packed action: `keccak256` of it is the action's hash.
    function encode(Action memory a) internal pure returns (bytes memory out) {
        out = abi.encodePacked(
            a.target,
            a.selector,
            a.amountPath.length == 0 ? a.flags : a.flags | SessionTypes.ACTION_AMOUNT_PATH,
            a.maxValuePerCall,
            a.maxUses,
            a.amountOffset,
            a.amountCap,
            a.valueCap,
            uint8(a.rules.length)
        );
        out = abi.encodePacked(out, encode(a.rules));
        if (a.amountPath.length != 0) out = abi.encodePacked(out, uint8(a.amountPath.length), a.amountPath);
        out = abi.encodePacked(out, encode(a.period));
    }

    /// @notice The packed period.
    function encode(Period memory p) internal pure returns (bytes memory out) {
        out = abi.encodePacked(p.kind, p.anchor, p.length, p.activeFrom, p.activeFor, uint8(p.windows.length / 2));
        for (uint256 i = 0; i + 1 < p.windows.length; i += 2) {
            out = abi.encodePacked(out, p.windows[i], p.windows[i + 1]);
        }
    }

    /// @notice The packed rules, one after another (without their count).
    function encode(ArgRule[] memory rules) internal pure returns (bytes memory out) {
        for (uint256 i = 0; i < rules.length; ++i) {
            ArgRule memory rule = rules[i];
            if (rule.path.length == 0) {
                out = abi.encodePacked(out, rule.op, rule.offset, uint8(rule.values.length), rule.values);
            } else {
                out = abi.encodePacked(
                    out,
                    rule.op | SessionTypes.RULE_PATH,
                    rule.offset,
                    uint8(rule.values.length),
                    uint8(rule.path.length),
                    rule.path,
                    rule.values
                );
            }
        }
    }

    /// @notice The packed typed-data scope.
    function encode(TypedDataScope memory scope) internal pure returns (bytes memory out) {
        out = abi.encodePacked(scope.verifier, scope.typeHash, scope.maxUses);
        if (scope.maxUses != 0) {
            out = abi.encodePacked(
                out, scope.nonceField, scope.validAfterField, scope.validBeforeField, encode(scope.period)
            );
        }
        out = abi.encodePacked(out, uint8(scope.nested.length));
        for (uint256 i = 0; i < scope.nested.length; ++i) {
            NestedStruct memory n = scope.nested[i];
            out = abi.encodePacked(out, n.field, n.typeHash, n.length);
        }
        out = abi.encodePacked(out, uint8(scope.rules.length), encode(scope.rules));
    }

    /// @notice A session UserOperation's signature: `use` in `mode`, with `grant` in mode 1. `use.proofs` holds one
    /// proof per carried action.
    function encode(SessionUse memory use, uint8 mode, Grant memory grant) internal pure returns (bytes memory out) {
        bytes memory session = encode(use.session);
        out = abi.encodePacked(
            SessionTypes.FORMAT_VERSION, mode, use.time, uint16(session.length), session, uint8(use.actions.length)
        );
        for (uint256 k = 0; k < use.actions.length; ++k) {
            bytes memory action = encode(use.actions[k]);
            out = abi.encodePacked(out, uint16(action.length), action, uint8(use.proofs[k].length), use.proofs[k]);
        }
        out = abi.encodePacked(
            out, uint8(use.callActions.length), use.callActions, uint16(use.signature.length), use.signature
        );
        if (mode == SessionTypes.MODE_GRANT_AND_USE) {
            out = abi.encodePacked(
                out,
                grant.epoch,
                uint8(grant.proof.length),
                grant.proof,
                uint16(grant.ownerSignature.length),
                grant.ownerSignature
            );
        }
    }

    /// @notice A session's ERC-1271 signature for the module (without the account's 20-byte routing prefix):
    /// the session and its key's signature, then `typed` (scope index, domain separator, fields), if any.
    function encodeMessage(Session memory s, bytes memory keySignature, bytes memory typed)
        internal
        pure
        returns (bytes memory)
    {
        bytes memory session = encode(s);
        return abi.encodePacked(
            SessionTypes.FORMAT_VERSION,
            uint16(session.length),
            session,
            uint16(keySignature.length),
            keySignature,
            typed
        );
    }

    /// @notice The action's hash (a leaf of the session's actions tree).
    function hash(Action memory a) internal pure returns (bytes32) {
        return keccak256(encode(a));
    }

    /// @notice The session's id.
    function id(Session memory s) internal pure returns (bytes32) {
        return keccak256(encode(s));
    }

    /// @notice The root of the actions tree over `leaves` (zero without leaves): neighbours hashed as sorted
    /// pairs, a last node without a neighbour moved up unchanged.
    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        if (leaves.length == 0) return bytes32(0);
        bytes32[] memory level = leaves;
        while (level.length > 1) {
            bytes32[] memory next = new bytes32[]((level.length + 1) / 2);
            for (uint256 i = 0; i < next.length; ++i) {
                next[i] = 2 * i + 1 < level.length ? _pair(level[2 * i], level[2 * i + 1]) : level[2 * i];
            }
            level = next;
        }
        return level[0];
    }

    /// @notice The proof of leaf `index`: its neighbours from the leaf up.
    function proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory path) {
        bytes32[] memory siblings = new bytes32[](256);
        uint256 count;
        bytes32[] memory level = leaves;
        while (level.length > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < level.length) siblings[count++] = level[sibling];
            bytes32[] memory next = new bytes32[]((level.length + 1) / 2);
            for (uint256 i = 0; i < next.length; ++i) {
                next[i] = 2 * i + 1 < level.length ? _pair(level[2 * i], level[2 * i + 1]) : level[2 * i];
            }
            level = next;
            index /= 2;
        }
        path = new bytes32[](count);
        for (uint256 i = 0; i < count; ++i) {
            path[i] = siblings[i];
        }
    }

    function _pair(bytes32 a, bytes32 b) private pure returns (bytes32) {
        return a < b ? keccak256(abi.encodePacked(a, b)) : keccak256(abi.encodePacked(b, a));
    }
}
