//! Function signatures and argument offsets: rules name arguments; the module reads 32-byte words.

use crate::Error;
use alloy::{
    dyn_abi::DynSolType,
    json_abi::{Function, Param},
};

/// Parses `"transfer(address to, uint256 amount)"` (with or without the `function` keyword).
pub fn parse_function(signature: &str) -> Result<Function, Error> {
    let text = signature.trim();
    let text = text.strip_prefix("function ").unwrap_or(text);
    Function::parse(text).map_err(|e| {
        Error::Abi(format!("`{signature}` is not a function signature like `transfer(address to, uint256 amount)` ({e})"))
    })
}

/// Words a static ABI type takes in the head; `None` for dynamic types.
fn static_words(ty: &DynSolType) -> Option<usize> {
    match ty {
        DynSolType::Bool
        | DynSolType::Int(_)
        | DynSolType::Uint(_)
        | DynSolType::Address
        | DynSolType::Function
        | DynSolType::FixedBytes(_) => Some(1),
        DynSolType::FixedArray(inner, n) => static_words(inner).map(|w| w * n),
        DynSolType::Tuple(types) => types.iter().map(static_words).sum(),
        _ => None,
    }
}

/// The byte offset (after the selector) of argument `name`, which must be a one-word static type.
pub fn argument_offset(function: &Function, name: &str) -> Result<u16, Error> {
    let mut words = 0usize;
    for input in &function.inputs {
        let ty = DynSolType::parse(&input.selector_type()).map_err(|e| {
            Error::Abi(format!("argument `{}` of `{}`: {e}", input.name, function.name))
        })?;
        let size = static_words(&ty);
        if input.name == name {
            return match (&ty, size) {
                (_, Some(1)) => u16::try_from(words * 32)
                    .map_err(|_| Error::Abi(format!("argument `{name}` is too far into the call"))),
                (_, None) => Err(Error::Abi(format!(
                    "argument `{name}` of `{}` is `{ty}`, a dynamic type: its head word is an offset, not the \
                     value; rules apply to one-word arguments (address, uintN, bool, bytesN) or a raw `offset`",
                    function.name
                ))),
                _ => Err(Error::Abi(format!(
                    "argument `{name}` of `{}` is `{ty}`, which takes several words; use a raw `offset` for one \
                     of them",
                    function.name
                ))),
            };
        }
        // A dynamic argument takes one head word (its offset).
        words += size.unwrap_or(1);
    }
    let known: Vec<&str> = function.inputs.iter().map(|p| p.name.as_str()).collect();
    Err(Error::Abi(format!(
        "`{}` has no argument named `{name}` (its arguments: {})",
        function.signature(),
        if known.iter().all(|n| n.is_empty()) {
            "unnamed; name them in the signature".into()
        } else {
            known.join(", ")
        }
    )))
}

/// The name of the argument at `offset`, if the signature names it.
pub(crate) fn argument_name(function: &Function, offset: u16) -> Option<String> {
    let (input, _) = input_at(function, offset)?;
    (!input.name.is_empty()).then(|| input.name.clone())
}

/// The input whose head word starts at byte `offset` of the arguments, with its type.
pub(crate) fn input_at(function: &Function, offset: u16) -> Option<(&Param, DynSolType)> {
    let mut words = 0usize;
    for input in &function.inputs {
        let ty = DynSolType::parse(&input.selector_type()).ok()?;
        if words * 32 == offset as usize {
            return Some((input, ty));
        }
        words += static_words(&ty).unwrap_or(1);
    }
    None
}

/// The ABI type of argument `name`.
pub(crate) fn argument_type(function: &Function, name: &str) -> Option<DynSolType> {
    let input = function.inputs.iter().find(|p| p.name == name)?;
    DynSolType::parse(&input.selector_type()).ok()
}
