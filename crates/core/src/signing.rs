//! Pre-flight of an ERC-1271 signing request: whether the module would accept the session key's signature of
//! a typed-data message for the account, and under which scope; or the rule that refuses it. It mirrors the
//! module's `isValidSignatureWithSender` step by step (the fields are the message's, each nested struct hashes
//! to its parent's field, the verifier is the scope's, every rule holds), so the SDK signs only what the chain
//! will accept. Whether the session is live and inside its window is the caller's part (it reads the chain).

use crate::{
    model::{SessionPolicy, TypedDataScope},
    ArgRule,
};
use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
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
            Self::RuleFailed { scope, rule, offset, value } => write!(
                f,
                "scope {scope}: rule {rule} on the field at byte {offset} fails (the message has {value})"
            ),
        }
    }
}

impl SessionPolicy {
    /// Checks a typed-data signing request as the module would: returns the index of the first scope under
    /// which the signature is valid, or why none is. A session with unrestricted signing (`any`) accepts every
    /// request, as scope `None`.
    pub fn check_signing(
        &self,
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
            match check_scope(index, scope, request) {
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
    let scope = scope.map(|index| (index, request.domain_separator, request.fields.as_ref()));
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
        }
    }

    #[test]
    fn a_message_inside_its_scope_is_signed_under_that_scope() {
        let verifier = Address::repeat_byte(2);
        let details = B256::repeat_byte(3);
        let policy = permit_single_policy(verifier, details);
        assert_eq!(policy.check_signing(&request(verifier, details, 50, 50)), Ok(Some(0)));
    }

    #[test]
    fn a_nested_amount_over_its_cap_names_the_rule() {
        let verifier = Address::repeat_byte(2);
        let details = B256::repeat_byte(3);
        let policy = permit_single_policy(verifier, details);
        let refusal = policy.check_signing(&request(verifier, details, 51, 51)).unwrap_err();
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
        let refusal = policy.check_signing(&request(verifier, details, 10, 1_000_000)).unwrap_err();
        assert_eq!(refusal, SigningRefusal::NestedMismatch { scope: 0, nested: 0 });
    }

    #[test]
    fn another_verifier_or_no_signing_is_refused_and_any_is_explicit() {
        let verifier = Address::repeat_byte(2);
        let details = B256::repeat_byte(3);
        let mut policy = permit_single_policy(verifier, details);
        let other = request(Address::repeat_byte(9), details, 1, 1);
        assert_eq!(policy.check_signing(&other).unwrap_err().rule(), "SigningScopeMissing");
        policy.signing.typed_data.clear();
        assert_eq!(policy.check_signing(&other), Err(SigningRefusal::NoSigning));
        policy.signing.any = true;
        assert_eq!(policy.check_signing(&other), Ok(None));
    }
}
