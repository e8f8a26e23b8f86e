//! Pre-flight of an ERC-1271 signing request: whether the module would accept the session key's signature of
//! a typed-data message for the account, and under which scope; or the rule that refuses it. It mirrors the
//! module's `isValidSignatureWithSender` step by step (the fields are the message's, each nested struct hashes
//! to its parent's field, the verifier is the scope's, every rule holds), so the SDK signs only what the chain
//! will accept. Whether the session is live and inside its window is the caller's part (it reads the chain), and
//! so is, for a counted scope, whether the verifier has already used the message's nonce.

use crate::{
    model::{SessionPolicy, SigningUseLimit, TypedDataScope},
    ArgRule,
};
use alloy::{
    primitives::{keccak256, Address, Bytes, B256, U256},
    sol_types::SolValue,
};
use leash_contracts::MAX_RULES;
use std::fmt;

/// A message a verifier asks the account to sign: EIP-712 typed data, given by its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypedDataRequest {
    /// The contract that will call the account's `isValidSignature` (a token, Permit2).
    pub verifier: Address,
    /// The verifier's EIP-712 domain separator.
    pub domain_separator: B256,
    /// The primary type's hash.
    pub type_hash: B256,
    /// The encoded fields: the primary type's words, then each nested struct's the scope names, in its order.
    pub fields: Bytes,
    /// For a counted scope ([`SigningUseLimit`]): which of the period's uses the message takes. Its nonce must
    /// be [`use_nonce`] of that slot.
    pub slot: Option<u16>,
}

/// The nonce a message of counted scope `scope` must carry to take use `slot` of period `period` (the period's
/// 1-based index, [`Period::resolve`](crate::Period::resolve)): the module's `useNonce`.
pub fn use_nonce(session_id: B256, scope: u8, period: u32, slot: u16) -> B256 {
    keccak256((session_id, U256::from(scope), U256::from(period), U256::from(slot)).abi_encode())
}

impl TypedDataRequest {
    /// The message the verifier checks: `keccak256("\x19\x01" || domainSeparator || structHash)`, where the
    /// struct hash covers the primary fields only (`primary_length` bytes).
    pub fn hash(&self, primary_length: usize) -> B256 {
        let primary = &self.fields[..primary_length.min(self.fields.len())];
        let struct_hash = keccak256([self.type_hash.as_slice(), primary].concat());
        keccak256(
            [&[0x19, 0x01][..], self.domain_separator.as_slice(), struct_hash.as_slice()].concat(),
        )
    }
}

/// Why the module would refuse to accept the session's signature of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SigningRefusal {
    /// The session may sign nothing (no typed-data scopes and no `any`).
    NoSigning,
    /// No scope names this verifier and type.
    NoScope {
        /// The verifier that would ask.
        verifier: Address,
        /// The message's type hash.
        type_hash: B256,
    },
    /// The fields are too short for the scope's nested structs, or not whole words.
    MalformedFields {
        /// The scope tried.
        scope: usize,
    },
    /// A nested struct's fields do not hash to its parent's field.
    NestedMismatch {
        /// The scope tried.
        scope: usize,
        /// Which nested struct.
        nested: usize,
    },
    /// A counted scope's message names no slot, or one past the scope's count.
    UsesExceeded {
        /// The scope tried.
        scope: usize,
        /// The slot named, if any.
        slot: Option<u16>,
        /// Messages allowed per period.
        count: u16,
    },
    /// A counted message's first second (`validAfter + 1`) is in no usable window of the scope's period.
    OutsidePeriod {
        /// The scope tried.
        scope: usize,
        /// The message's `validAfter`.
        valid_after: U256,
    },
    /// A counted message stays valid past the end of the period its `validAfter` is in.
    ValidPastPeriod {
        /// The scope tried.
        scope: usize,
        /// The message's `validBefore`.
        valid_before: U256,
        /// The latest `validBefore` the period allows (one past its last second).
        latest: u64,
    },
    /// A counted message's nonce is not the one derived for its slot and period.
    NonceMismatch {
        /// The scope tried.
        scope: usize,
        /// The nonce the slot and period call for.
        expected: B256,
    },
    /// A rule on a field failed (or reads past the fields).
    RuleFailed {
        /// The scope tried.
        scope: usize,
        /// Which rule of the scope.
        rule: usize,
        /// The byte offset the rule reads.
        offset: u16,
        /// The word read (zero when past the fields).
        value: U256,
    },
}

impl SigningRefusal {
    /// A short name for programs, like a module rule.
    pub fn rule(&self) -> &'static str {
        match self {
            Self::NoSigning => "SigningNotAllowed",
            Self::NoScope { .. } => "SigningScopeMissing",
            Self::MalformedFields { .. } => "MalformedTypedData",
            Self::NestedMismatch { .. } => "NestedStructMismatch",
            Self::RuleFailed { .. } => "SigningRuleFailed",
            Self::UsesExceeded { .. } => "SigningUsesExceeded",
            Self::OutsidePeriod { .. } => "OutsidePeriodWindow",
            Self::ValidPastPeriod { .. } => "ValidPastPeriod",
            Self::NonceMismatch { .. } => "UseNonceMismatch",
        }
    }
}

impl fmt::Display for SigningRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSigning => write!(f, "the session may not sign messages for the account"),
            Self::NoScope { verifier, type_hash } => write!(
                f,
                "no signing scope allows type {type_hash} verified by {verifier}: the session may sign only \
                 the typed data its policy lists"
            ),
            Self::MalformedFields { scope } => {
                write!(f, "scope {scope}: the fields are not whole words or miss a nested struct")
            }
            Self::NestedMismatch { scope, nested } => write!(
                f,
                "scope {scope}: nested struct {nested}'s fields do not hash to the field of the message that \
                 holds it"
            ),
            Self::UsesExceeded { scope, slot: Some(slot), count } => write!(
                f,
                "scope {scope}: slot {slot} is past the {count} messages allowed per period"
            ),
            Self::UsesExceeded { scope, slot: None, count } => write!(
                f,
                "scope {scope} allows {count} messages per period: a message must name the slot it uses"
            ),
            Self::OutsidePeriod { scope, valid_after } => write!(
                f,
                "scope {scope}: the second after the message's validAfter ({valid_after}) is in no usable window \
                 of the scope's period"
            ),
            Self::ValidPastPeriod { scope, valid_before, latest } => write!(
                f,
                "scope {scope}: the message's validBefore ({valid_before}) is past the end of its period: at \
                 most {latest}"
            ),
            Self::NonceMismatch { scope, expected } => write!(
                f,
                "scope {scope}: the message's nonce is not the one of its slot and period ({expected})"
            ),
            Self::RuleFailed { scope, rule, offset, value } => write!(
                f,
                "scope {scope}: rule {rule} on the field at byte {offset} fails (the message has {value})"
            ),
        }
    }
}

impl SessionPolicy {
    /// Checks a typed-data signing request of session `session_id` as the module would: returns the index of
    /// the first scope under which the signature is valid, or why none is. A session with unrestricted signing
    /// (`any`) accepts every request, as scope `None`.
    pub fn check_signing(
        &self,
        session_id: B256,
        request: &TypedDataRequest,
    ) -> Result<Option<usize>, SigningRefusal> {
        if self.signing.any {
            return Ok(None);
        }
        if self.signing.typed_data.is_empty() {
            return Err(SigningRefusal::NoSigning);
        }
        let mut last = None;
        for (index, scope) in self.signing.typed_data.iter().enumerate() {
            if scope.verifier != request.verifier || scope.type_hash != request.type_hash {
                continue;
            }
            match check_scope(session_id, index, scope, request) {
                Ok(()) => return Ok(Some(index)),
                Err(refusal) => last = Some(refusal),
            }
        }
        Err(last.unwrap_or(SigningRefusal::NoScope {
            verifier: request.verifier,
            type_hash: request.type_hash,
        }))
    }
}

impl TypedDataScope {
    /// Bytes of the primary type's fields in a request of `fields_length` bytes.
    pub fn primary_length(&self, fields_length: usize) -> Option<usize> {
        let nested: usize = self.nested.iter().map(|n| usize::from(n.length)).sum();
        fields_length.checked_sub(nested)
    }
}

fn check_scope(
    session_id: B256,
    index: usize,
    scope: &TypedDataScope,
    request: &TypedDataRequest,
) -> Result<(), SigningRefusal> {
    let fields = &request.fields;
    let malformed = SigningRefusal::MalformedFields { scope: index };
    let top = scope.primary_length(fields.len()).ok_or(malformed.clone())?;
    if top % 32 != 0 {
        return Err(malformed);
    }
    let mut start = top;
    for (n, nested) in scope.nested.iter().enumerate() {
        let field = usize::from(nested.field);
        let end = start + usize::from(nested.length);
        if field + 32 > start || nested.length % 32 != 0 {
            return Err(SigningRefusal::MalformedFields { scope: index });
        }
        let hash = keccak256([nested.type_hash.as_slice(), &fields[start..end]].concat());
        if fields[field..field + 32] != hash[..] {
            return Err(SigningRefusal::NestedMismatch { scope: index, nested: n });
        }
        start = end;
    }
    if scope.rules.len() > MAX_RULES {
        return Err(SigningRefusal::MalformedFields { scope: index });
    }
    for (r, ArgRule { offset, condition, .. }) in scope.rules.iter().enumerate() {
        let at = usize::from(*offset);
        let value = fields.get(at..at + 32).map(U256::from_be_slice);
        if value.and_then(|v| condition.holds(v)) != Some(true) {
            return Err(SigningRefusal::RuleFailed {
                scope: index,
                rule: r,
                offset: *offset,
                value: value.unwrap_or_default(),
            });
        }
    }
    match &scope.max_uses {
        Some(limit) => check_counted(session_id, index, limit, request),
        None => Ok(()),
    }
}

/// The module's `_countedUseAllowed`: the slot is below the count, `validAfter + 1` (the first second the message
/// may take effect) is in a usable window of the period, `validBefore` at most one second past it, and the nonce
/// is the slot's.
fn check_counted(
    session_id: B256,
    index: usize,
    limit: &SigningUseLimit,
    request: &TypedDataRequest,
) -> Result<(), SigningRefusal> {
    let slot = match request.slot {
        Some(slot) if slot < limit.count => slot,
        slot => {
            return Err(SigningRefusal::UsesExceeded { scope: index, slot, count: limit.count })
        }
    };
    let word = |offset: u16| {
        let at = usize::from(offset);
        request.fields.get(at..at + 32).map(|w| (U256::from_be_slice(w), B256::from_slice(w)))
    };
    let malformed = SigningRefusal::MalformedFields { scope: index };
    let (valid_after, _) = word(limit.valid_after).ok_or(malformed.clone())?;
    let (valid_before, _) = word(limit.valid_before).ok_or(malformed.clone())?;
    let (_, nonce) = word(limit.nonce).ok_or(malformed)?;
    // The period of the first second the message may take effect (the verifier needs time > validAfter).
    let period = u64::try_from(valid_after)
        .ok()
        .filter(|after| *after < (1 << 48) - 1)
        .and_then(|after| limit.period.resolve(after + 1).ok())
        .ok_or(SigningRefusal::OutsidePeriod { scope: index, valid_after })?;
    if valid_before > U256::from(period.last + 1) {
        return Err(SigningRefusal::ValidPastPeriod {
            scope: index,
            valid_before,
            latest: period.last + 1,
        });
    }
    let expected = use_nonce(session_id, index as u8, period.index, slot);
    if nonce != expected {
        return Err(SigningRefusal::NonceMismatch { scope: index, expected });
    }
    Ok(())
}

/// The session's ERC-1271 signature as the account's `isValidSignature` takes it: the module's address, then the
/// packed data of docs/encoding.md (format version, the packed session, the key's signature, and for a message
/// signed under `scope` its index, the verifier's domain separator and the request's fields). Unrestricted
/// signing (`scope` `None`) ends after the key's signature.
pub fn erc1271_signature(
    module: Address,
    session: &crate::Session,
    key_signature: &Bytes,
    scope: Option<usize>,
    request: &TypedDataRequest,
) -> Result<Bytes, crate::Error> {
    let counted = |index: usize| {
        session.policy.signing.typed_data.get(index).is_some_and(|s| s.max_uses.is_some())
    };
    let scope = scope.map(|index| {
        let slot = if counted(index) { request.slot } else { None };
        (index, slot, request.domain_separator, request.fields.as_ref())
    });
    let body = crate::encode::pack_message_signature(session, key_signature, scope)?;
    Ok([module.as_slice(), &body].concat().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Condition, NestedStruct};

    fn word(v: u64) -> [u8; 32] {
        U256::from(v).to_be_bytes()
    }

    fn permit_single_policy(verifier: Address, details_type: B256) -> SessionPolicy {
        SessionPolicy::builder()
            .sign_typed_data(TypedDataScope {
                name: None,
                verifier,
                type_hash: B256::repeat_byte(7),
                nested: vec![NestedStruct { field: 0, type_hash: details_type, length: 64 }],
                rules: vec![
                    ArgRule {
                        offset: 32,
                        path: vec![],
                        condition: Condition::Eq(U256::from(0xAB)),
                    },
                    ArgRule { offset: 96, path: vec![], condition: Condition::Lte(U256::from(50)) },
                ],
                encode_type: None,
                max_uses: None,
            })
            .build()
            .unwrap()
    }

    fn request(
        verifier: Address,
        details_type: B256,
        amount: u64,
        hash_of: u64,
    ) -> TypedDataRequest {
        let details = [word(1u64), word(amount)].concat();
        let hashed = [word(1u64), word(hash_of)].concat();
        let details_hash = keccak256([details_type.as_slice(), &hashed].concat());
        let fields = [details_hash.as_slice(), &word(0xABu64), &details].concat();
        TypedDataRequest {
            verifier,
            domain_separator: B256::repeat_byte(1),
            type_hash: B256::repeat_byte(7),
            fields: fields.into(),
            slot: None,
        }
    }

    #[test]
    fn a_message_inside_its_scope_is_signed_under_that_scope() {
        let verifier = Address::repeat_byte(2);
        let details = B256::repeat_byte(3);
        let policy = permit_single_policy(verifier, details);
        assert_eq!(
            policy.check_signing(B256::ZERO, &request(verifier, details, 50, 50)),
            Ok(Some(0))
        );
    }

    #[test]
    fn a_nested_amount_over_its_cap_names_the_rule() {
        let verifier = Address::repeat_byte(2);
        let details = B256::repeat_byte(3);
        let policy = permit_single_policy(verifier, details);
        let refusal =
            policy.check_signing(B256::ZERO, &request(verifier, details, 51, 51)).unwrap_err();
        assert_eq!(
            refusal,
            SigningRefusal::RuleFailed { scope: 0, rule: 1, offset: 96, value: U256::from(51) }
        );
        assert_eq!(refusal.rule(), "SigningRuleFailed");
    }

    #[test]
    fn nested_fields_that_are_not_the_signed_ones_are_refused() {
        let verifier = Address::repeat_byte(2);
        let details = B256::repeat_byte(3);
        let policy = permit_single_policy(verifier, details);
        // The details shown say 10; the message's details hash says 1,000,000.
        let refusal = policy
            .check_signing(B256::ZERO, &request(verifier, details, 10, 1_000_000))
            .unwrap_err();
        assert_eq!(refusal, SigningRefusal::NestedMismatch { scope: 0, nested: 0 });
    }

    #[test]
    fn another_verifier_or_no_signing_is_refused_and_any_is_explicit() {
        let verifier = Address::repeat_byte(2);
        let details = B256::repeat_byte(3);
        let mut policy = permit_single_policy(verifier, details);
        let other = request(Address::repeat_byte(9), details, 1, 1);
        assert_eq!(
            policy.check_signing(B256::ZERO, &other).unwrap_err().rule(),
            "SigningScopeMissing"
        );
        policy.signing.typed_data.clear();
        assert_eq!(policy.check_signing(B256::ZERO, &other), Err(SigningRefusal::NoSigning));
        policy.signing.any = true;
        assert_eq!(policy.check_signing(B256::ZERO, &other), Ok(None));
    }

    #[test]
    fn a_counted_message_must_carry_its_slots_nonce_and_stay_in_its_period() {
        let verifier = Address::repeat_byte(2);
        let type_hash = B256::repeat_byte(7);
        let id = B256::repeat_byte(9);
        let policy = SessionPolicy::builder()
            .sign_typed_data(TypedDataScope {
                name: None,
                verifier,
                type_hash,
                nested: vec![],
                rules: vec![],
                encode_type: None,
                max_uses: Some(SigningUseLimit {
                    count: 2,
                    period: crate::Period::every(100),
                    nonce: 160,
                    valid_after: 96,
                    valid_before: 128,
                }),
            })
            .build()
            .unwrap();
        let message = |after: u64, before: u64, nonce: B256, slot: Option<u16>| TypedDataRequest {
            verifier,
            domain_separator: B256::repeat_byte(1),
            type_hash,
            fields: [
                &word(1)[..],
                &word(2),
                &word(3),
                &word(after),
                &word(before),
                nonce.as_slice(),
            ]
            .concat()
            .into(),
            slot,
        };
        // validAfter 150 is in period 2 ([100, 200)).
        let nonce = use_nonce(id, 0, 2, 1);
        assert_eq!(policy.check_signing(id, &message(150, 200, nonce, Some(1))), Ok(Some(0)));
        let refused = |m: TypedDataRequest| policy.check_signing(id, &m).unwrap_err();
        assert_eq!(refused(message(150, 200, nonce, None)).rule(), "SigningUsesExceeded");
        assert_eq!(
            refused(message(150, 200, use_nonce(id, 0, 2, 2), Some(2))),
            SigningRefusal::UsesExceeded { scope: 0, slot: Some(2), count: 2 }
        );
        assert_eq!(
            refused(message(150, 201, nonce, Some(1))),
            SigningRefusal::ValidPastPeriod {
                scope: 0,
                valid_before: U256::from(201),
                latest: 200
            }
        );
        // Period 1's nonce in period 2's window, and another session's.
        assert_eq!(
            refused(message(150, 200, use_nonce(id, 0, 1, 1), Some(1))).rule(),
            "UseNonceMismatch"
        );
        assert_eq!(
            refused(message(150, 200, use_nonce(B256::ZERO, 0, 2, 1), Some(1))).rule(),
            "UseNonceMismatch"
        );
    }
}
