//! EIP-712 `encodeType` strings as a session's typed-data scope reads them: the type hash, and where each field
//! a rule names lies in the encoded fields the module checks (the primary type's words, then each nested
//! struct's, in the order the scope lists them).
//!
//! ```
//! use leash_core::TypedDataLayout;
//!
//! let mut layout = TypedDataLayout::parse(
//!     "PermitSingle(PermitDetails details,address spender,uint256 sigDeadline)\
//!      PermitDetails(address token,uint160 amount,uint48 expiration,uint48 nonce)",
//! )?;
//! // `spender` is the primary type's second word.
//! assert_eq!(layout.field("spender")?.0, 32);
//! // `details.amount` is the nested struct's second word, after the primary type's three.
//! assert_eq!(layout.field("details.amount")?.0, 3 * 32 + 32);
//! assert_eq!(layout.nested().len(), 1);
//! assert_eq!(layout.nested()[0].length, 4 * 32);
//! # Ok::<(), leash_core::Error>(())
//! ```

use crate::{model::NestedStruct, Error};
use alloy::primitives::{keccak256, B256};
use std::collections::{BTreeMap, BTreeSet};

/// One EIP-712 struct type: its fields as `(type, name)`, in order.
type Fields = Vec<(String, String)>;

/// A parsed `encodeType` string and the nested structs the rules read so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypedDataLayout {
    primary: String,
    types: BTreeMap<String, Fields>,
    nested: Vec<NestedStruct>,
    /// For each nested struct (same order): its dotted path, its type name, and where its words start.
    regions: Vec<(String, String, u16)>,
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// Whether `ty` is an EIP-712 atomic or dynamic type (not a struct).
fn is_builtin(ty: &str) -> bool {
    let base = ty.split('[').next().unwrap_or(ty);
    matches!(base, "address" | "bool" | "string" | "bytes")
        || base.strip_prefix("uint").or_else(|| base.strip_prefix("int")).is_some_and(|bits| {
            bits.is_empty() || bits.parse::<u16>().is_ok_and(|b| b > 0 && b <= 256 && b % 8 == 0)
        })
        || base
            .strip_prefix("bytes")
            .is_some_and(|n| n.parse::<u8>().is_ok_and(|n| (1..=32).contains(&n)))
}

impl TypedDataLayout {
    /// Parses a full `encodeType` string (`Primary(type name,...)Dependency(...)...`). Spaces after commas are
    /// tolerated; every struct type used must be defined, and every defined type used.
    pub fn parse(encode_type: &str) -> Result<Self, Error> {
        let fail = |why: String| Error::Invalid(format!("typed data type `{encode_type}`: {why}"));
        let mut rest = encode_type.trim();
        let mut order = Vec::new();
        let mut types = BTreeMap::new();
        while !rest.is_empty() {
            let open =
                rest.find('(').ok_or_else(|| fail("expected `Name(` to open a type".into()))?;
            let close =
                rest.find(')').ok_or_else(|| fail("a type is not closed with `)`".into()))?;
            if close < open {
                return Err(fail("unbalanced parentheses".into()));
            }
            let name = rest[..open].trim();
            if !is_identifier(name) {
                return Err(fail(format!("`{name}` is not a type name")));
            }
            let body = rest[open + 1..close].trim();
            let mut fields = Fields::new();
            if !body.is_empty() {
                for member in body.split(',') {
                    let mut words = member.split_whitespace();
                    let (Some(ty), Some(field), None) = (words.next(), words.next(), words.next())
                    else {
                        return Err(fail(format!(
                            "`{}` is not a field written as `type name`",
                            member.trim()
                        )));
                    };
                    if !is_identifier(field) {
                        return Err(fail(format!("`{field}` is not a field name")));
                    }
                    if fields.iter().any(|(_, f)| f == field) {
                        return Err(fail(format!("field `{field}` appears twice in {name}")));
                    }
                    fields.push((ty.to_string(), field.to_string()));
                }
            }
            if types.insert(name.to_string(), fields).is_some() {
                return Err(fail(format!("type {name} is defined twice")));
            }
            order.push(name.to_string());
            rest = rest[close + 1..].trim_start();
        }
        let Some(primary) = order.first().cloned() else {
            return Err(fail("it is empty".into()));
        };
        // Every referenced struct type must be defined; every defined type must be reachable.
        let mut reached = BTreeSet::new();
        let mut stack = vec![primary.clone()];
        while let Some(name) = stack.pop() {
            if !reached.insert(name.clone()) {
                continue;
            }
            for (ty, field) in &types[&name] {
                let base = ty.split('[').next().unwrap_or(ty);
                if is_builtin(base) {
                    continue;
                }
                if !types.contains_key(base) {
                    return Err(fail(format!(
                        "field `{field}` of {name} has type {base}, which is neither an EIP-712 type nor \
                         defined in the string"
                    )));
                }
                stack.push(base.to_string());
            }
        }
        if let Some(unused) = order.iter().find(|t| !reached.contains(*t)) {
            return Err(fail(format!("type {unused} is defined but {primary} does not use it")));
        }
        Ok(Self { primary, types, nested: Vec::new(), regions: Vec::new() })
    }

    /// The primary type's name.
    pub fn primary(&self) -> &str {
        &self.primary
    }

    /// One struct's own part of `encodeType`: `Name(type name,...)`.
    fn member_string(&self, name: &str) -> String {
        let fields = &self.types[name];
        let body: Vec<String> = fields.iter().map(|(ty, field)| format!("{ty} {field}")).collect();
        format!("{name}({})", body.join(","))
    }

    /// The canonical `encodeType` of the struct `name`: itself, then every struct it uses, sorted by name.
    pub fn encode_type_of(&self, name: &str) -> String {
        let mut used = BTreeSet::new();
        let mut stack = vec![name.to_string()];
        while let Some(current) = stack.pop() {
            for (ty, _) in &self.types[&current] {
                let base = ty.split('[').next().unwrap_or(ty);
                if self.types.contains_key(base) && base != name && used.insert(base.to_string()) {
                    stack.push(base.to_string());
                }
            }
        }
        let mut out = self.member_string(name);
        for dependency in used {
            out.push_str(&self.member_string(&dependency));
        }
        out
    }

    /// The canonical `encodeType` of the primary type.
    pub fn encode_type(&self) -> String {
        self.encode_type_of(&self.primary)
    }

    /// The primary type's hash: `keccak256(encodeType)`.
    pub fn type_hash(&self) -> B256 {
        keccak256(self.encode_type())
    }

    /// The nested structs the fields named so far need, in the order the encoded fields carry them.
    pub fn nested(&self) -> &[NestedStruct] {
        &self.nested
    }

    /// Byte length of the primary type's encoded fields.
    fn top_length(&self) -> usize {
        32 * self.types[&self.primary].len()
    }

    /// Byte length of all encoded fields (primary, then nested structs).
    pub fn fields_length(&self) -> usize {
        self.top_length() + self.nested.iter().map(|n| n.length as usize).sum::<usize>()
    }

    /// The byte offset, in the encoded fields, of the field at the dotted `path` (`"spender"`,
    /// `"details.amount"`), and its EIP-712 type. A path through a struct adds that struct to
    /// [`TypedDataLayout::nested`] (once), so the module can prove and read its fields.
    pub fn field(&mut self, path: &str) -> Result<(u16, String), Error> {
        let fail =
            |why: String| Error::Invalid(format!("field `{path}` of {}: {why}", self.primary));
        let parts: Vec<&str> = path.split('.').map(str::trim).collect();
        let mut struct_name = self.primary.clone();
        let mut region_start = 0usize;
        let mut prefix = String::new();
        for (depth, part) in parts.iter().enumerate() {
            let fields = &self.types[&struct_name];
            let Some(index) = fields.iter().position(|(_, f)| f == part) else {
                let known: Vec<&str> = fields.iter().map(|(_, f)| f.as_str()).collect();
                return Err(fail(format!(
                    "{struct_name} has no field `{part}` (its fields: {})",
                    known.join(", ")
                )));
            };
            let ty = fields[index].0.clone();
            let word = region_start + 32 * index;
            if !prefix.is_empty() {
                prefix.push('.');
            }
            prefix.push_str(part);
            if depth + 1 == parts.len() {
                if ty.contains('[') || ty == "string" || ty == "bytes" {
                    return Err(fail(format!(
                        "it is a {ty}, which typed data carries as a hash; rules read atomic fields \
                         (address, uintN, intN, bool, bytesN) and the fields of nested structs"
                    )));
                }
                if self.types.contains_key(&ty) {
                    return Err(fail(format!(
                        "it is a struct ({ty}); name one of its fields, e.g. `{path}.{}`",
                        self.types[&ty].first().map_or("field", |(_, f)| f.as_str())
                    )));
                }
                let offset = u16::try_from(word)
                    .map_err(|_| fail("it lies too far into the typed data".into()))?;
                return Ok((offset, ty));
            }
            if !self.types.contains_key(&ty) {
                return Err(fail(format!("`{prefix}` is a {ty}, not a struct")));
            }
            region_start = match self.regions.iter().find(|(p, _, _)| *p == prefix) {
                Some((_, _, start)) => *start as usize,
                None => {
                    let start = self.fields_length();
                    let length = 32 * self.types[&ty].len();
                    let too_far = || fail("it lies too far into the typed data".into());
                    let nested = NestedStruct {
                        field: u16::try_from(word).map_err(|_| too_far())?,
                        type_hash: keccak256(self.encode_type_of(&ty)),
                        length: u16::try_from(length).map_err(|_| too_far())?,
                    };
                    u16::try_from(start + length).map_err(|_| too_far())?;
                    self.nested.push(nested);
                    self.regions.push((prefix.clone(), ty.clone(), start as u16));
                    start
                }
            };
            struct_name = ty;
        }
        Err(fail("the path is empty".into()))
    }

    /// The dotted path and type of the field at byte `offset` of the encoded fields, if it is one this layout
    /// knows (the primary type's, or a nested struct's named so far).
    pub fn field_at(&self, offset: u16) -> Option<(String, String)> {
        let offset = offset as usize;
        if !offset.is_multiple_of(32) {
            return None;
        }
        let (prefix, name, start) = if offset < self.top_length() {
            (String::new(), self.primary.clone(), 0usize)
        } else {
            let (path, name, start) = self.regions.iter().rev().find(|(_, name, start)| {
                offset >= *start as usize && offset < *start as usize + 32 * self.types[name].len()
            })?;
            (format!("{path}."), name.clone(), *start as usize)
        };
        let (ty, field) = self.types[&name].get((offset - start) / 32)?;
        Some((format!("{prefix}{field}"), ty.clone()))
    }

    /// Replays `nested` (as decoded from a session) so that [`TypedDataLayout::field_at`] can name their
    /// fields; stops at the first entry this type cannot explain.
    pub fn with_nested(mut self, nested: &[NestedStruct]) -> Self {
        for entry in nested {
            let Some((path, ty)) = self.field_at(entry.field) else { break };
            if !self.types.contains_key(&ty) {
                break;
            }
            let start = self.fields_length();
            if keccak256(self.encode_type_of(&ty)) != entry.type_hash {
                break;
            }
            self.nested.push(*entry);
            self.regions.push((path, ty, start as u16));
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERMIT: &str =
        "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)";

    #[test]
    fn permit_hash_is_the_eip2612_one() {
        let layout = TypedDataLayout::parse(PERMIT).unwrap();
        assert_eq!(
            layout.type_hash(),
            "0x6e71edae12b1b97f4d1f60370fef10105fa2faae0126114a169c64845d6126c9"
                .parse::<B256>()
                .unwrap()
        );
        // Spaces after commas are the same type.
        let spaced = TypedDataLayout::parse(&PERMIT.replace(',', ", ")).unwrap();
        assert_eq!(spaced.type_hash(), layout.type_hash());
    }

    #[test]
    fn nested_fields_follow_the_primary_ones() {
        let text = "PermitSingle(PermitDetails details,address spender,uint256 sigDeadline)\
                    PermitDetails(address token,uint160 amount,uint48 expiration,uint48 nonce)";
        let mut layout = TypedDataLayout::parse(text).unwrap();
        assert_eq!(layout.field("sigDeadline").unwrap(), (64, "uint256".into()));
        assert_eq!(layout.field("details.amount").unwrap(), (128, "uint160".into()));
        assert_eq!(layout.field("details.token").unwrap(), (96, "address".into()));
        assert_eq!(
            layout.nested(),
            &[NestedStruct {
                field: 0,
                type_hash: keccak256(
                    "PermitDetails(address token,uint160 amount,uint48 expiration,uint48 nonce)"
                ),
                length: 128,
            }]
        );
        assert_eq!(layout.field_at(128), Some(("details.amount".into(), "uint160".into())));
        assert_eq!(layout.field_at(32), Some(("spender".into(), "address".into())));
        let replayed = TypedDataLayout::parse(text).unwrap().with_nested(layout.nested());
        assert_eq!(replayed.field_at(160), Some(("details.expiration".into(), "uint48".into())));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert!(TypedDataLayout::parse("Permit(address owner").is_err());
        assert!(TypedDataLayout::parse("A(B b)").is_err());
        assert!(TypedDataLayout::parse("A(uint256 x)B(uint256 y)").is_err());
        let mut layout = TypedDataLayout::parse("A(string s,uint256[] xs,B b)B(uint8 y)").unwrap();
        assert!(layout.field("s").is_err());
        assert!(layout.field("xs").is_err());
        assert!(layout.field("b").is_err());
        assert!(layout.field("nope").is_err());
        assert_eq!(layout.field("b.y").unwrap(), (96, "uint8".into()));
    }
}
