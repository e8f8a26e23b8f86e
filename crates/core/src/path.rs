//! Argument paths: how a rule or an amount names a value inside a call's ABI-encoded arguments (a struct's
//! field, an array's element or every element, a length, an item of packed bytes such as a Uniswap V3 path), how
//! a path written against a function signature (`params.path.token[-1]`, `orders[*].offerer`, `len(path)`)
//! becomes [`Step`]s, how steps are packed for the module (docs/encoding.md), and how the pre-flight follows them
//! exactly as the module's `ArgumentPaths` contract does.

use crate::Error;
use alloy::{
    dyn_abi::DynSolType,
    json_abi::{Function, Param},
    primitives::{I256, U256},
};
use leash_contracts::{bindings::SessionKeyValidator as onchain, StepKind};
use onchain::SessionKeyValidatorErrors as E;

/// The most bytes a packed path may take (its length travels in one byte).
pub const MAX_PATH_BYTES: usize = 255;

/// The most `[*]` steps one path may take.
pub const MAX_EVERY: usize = 2;

/// One step of an argument path, taken from the word the path starts at (docs/encoding.md, "Path").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// The word at this byte offset in the tuple at hand.
    Field(u16),
    /// Follow the offset in the word at hand to the tuple, array or `bytes` it points at; `head` is the byte size
    /// of the head that holds the offset (the offset must be at least that, so it never points back into it).
    Deref {
        /// Byte size of the enclosing head.
        head: u16,
    },
    /// Element `index` of the array at hand (negative: from the end).
    Index {
        /// The element; -1 is the last.
        index: i16,
        /// An element's byte size; 0 for dynamic elements, reached through their offsets.
        stride: u16,
    },
    /// The rest of the path, for every element of the array at hand; more than `max` elements fail.
    Every {
        /// The most elements allowed.
        max: u16,
        /// An element's byte size; 0 for dynamic elements.
        stride: u16,
    },
    /// The length of the array or `bytes` at hand. Last step.
    Length,
    /// Item `index` of packed `bytes` (negative: from the end). Last step.
    Packed {
        /// The item; -1 is the last.
        index: i16,
        /// How the bytes are cut into items.
        layout: PackedLayout,
    },
    /// Every item of packed `bytes`; more than `max` items fail. Last step.
    PackedEvery {
        /// The most items allowed.
        max: u16,
        /// How the bytes are cut into items.
        layout: PackedLayout,
    },
}

/// How packed `bytes` are cut into items: records of `stride` bytes, the item `size` bytes at `at` in its
/// record, the whole `first + n * stride` bytes long.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PackedLayout {
    /// Where the item starts in its record.
    pub at: u8,
    /// The item's size in bytes (1 to 32).
    pub size: u8,
    /// A record's size in bytes.
    pub stride: u8,
    /// The length of the bytes with one record less than `stride` (a path of one token).
    pub first: u8,
}

impl PackedLayout {
    /// The tokens of a Uniswap V3 path (`token fee token fee ... token`: 20 + 23n bytes).
    pub const UNISWAP_V3_TOKEN: Self = Self { at: 0, size: 20, stride: 23, first: 20 };
    /// The fee tiers of a Uniswap V3 path (3 bytes between each pair of tokens).
    pub const UNISWAP_V3_FEE: Self = Self { at: 20, size: 3, stride: 23, first: 20 };
}

const FIELD: u8 = StepKind::FIELD;
const DEREF: u8 = StepKind::DEREF;
const INDEX: u8 = StepKind::INDEX;
const EVERY: u8 = StepKind::EVERY;
const LENGTH: u8 = StepKind::LENGTH;
const PACKED: u8 = StepKind::PACKED;
const PACKED_EVERY: u8 = StepKind::PACKED_EVERY;

/// The packed steps (docs/encoding.md, "Path").
pub fn pack(steps: &[Step]) -> Vec<u8> {
    let mut out = Vec::new();
    for step in steps {
        match *step {
            Step::Field(offset) => {
                out.push(FIELD);
                out.extend(offset.to_be_bytes());
            }
            Step::Deref { head } => {
                out.push(DEREF);
                out.extend(head.to_be_bytes());
            }
            Step::Index { index, stride } => {
                out.push(INDEX);
                out.extend(index.to_be_bytes());
                out.extend(stride.to_be_bytes());
            }
            Step::Every { max, stride } => {
                out.push(EVERY);
                out.extend(max.to_be_bytes());
                out.extend(stride.to_be_bytes());
            }
            Step::Length => out.push(LENGTH),
            Step::Packed { index, layout } => {
                out.push(PACKED);
                out.extend(index.to_be_bytes());
                out.extend([layout.at, layout.size, layout.stride, layout.first]);
            }
            Step::PackedEvery { max, layout } => {
                out.push(PACKED_EVERY);
                out.extend(max.to_be_bytes());
                out.extend([layout.at, layout.size, layout.stride, layout.first]);
            }
        }
    }
    out
}

/// Reads packed steps back, strictly: a truncated step, an unknown kind or a step after a last step is an error.
pub fn unpack(bytes: &[u8]) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    let mut at = 0;
    let u16_at = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
    while at < bytes.len() {
        let size = match bytes[at] {
            FIELD | DEREF => 3,
            INDEX | EVERY => 5,
            LENGTH => 1,
            PACKED | PACKED_EVERY => 7,
            other => return Err(format!("unknown path step {other}")),
        };
        if bytes.len() - at < size {
            return Err("a path step is cut short".into());
        }
        let layout = || PackedLayout {
            at: bytes[at + 3],
            size: bytes[at + 4],
            stride: bytes[at + 5],
            first: bytes[at + 6],
        };
        steps.push(match bytes[at] {
            FIELD => Step::Field(u16_at(at + 1)),
            DEREF => Step::Deref { head: u16_at(at + 1) },
            INDEX => Step::Index { index: u16_at(at + 1) as i16, stride: u16_at(at + 3) },
            EVERY => Step::Every { max: u16_at(at + 1), stride: u16_at(at + 3) },
            LENGTH => Step::Length,
            PACKED => Step::Packed { index: u16_at(at + 1) as i16, layout: layout() },
            _ => Step::PackedEvery { max: u16_at(at + 1), layout: layout() },
        });
        at += size;
    }
    check(&steps)?;
    Ok(steps)
}

/// Whether the steps make a path the module follows: a last step (length, packed) only last, a packed layout
/// with an item of 1 to 32 bytes inside a non-empty record, at most [`MAX_PATH_BYTES`] packed.
pub fn check(steps: &[Step]) -> Result<(), String> {
    for (k, step) in steps.iter().enumerate() {
        let last = k + 1 == steps.len();
        match step {
            Step::Length if !last => return Err("`len(...)` must end the path".into()),
            Step::Packed { layout, .. } | Step::PackedEvery { layout, .. } => {
                if !last {
                    return Err("an item of packed bytes must end the path".into());
                }
                if layout.size == 0 || layout.size > 32 || layout.stride == 0 {
                    return Err(format!("packed layout {layout:?} has no item of 1 to 32 bytes"));
                }
            }
            _ => {}
        }
    }
    let every =
        steps.iter().filter(|s| matches!(s, Step::Every { .. } | Step::PackedEvery { .. })).count();
    if every > MAX_EVERY {
        // Each `[*]` multiplies the elements the module reads (elements may share their bytes, so calldata
        // does not bound it): the gas of validation grows as the product of the bounds.
        return Err(format!("a path takes `[*]` at most {MAX_EVERY} times"));
    }
    if pack(steps).len() > MAX_PATH_BYTES {
        return Err(format!("a path packs into at most {MAX_PATH_BYTES} bytes"));
    }
    Ok(())
}

/// Whether the path takes every element somewhere (a rule on each; never an amount).
pub fn has_every(steps: &[Step]) -> bool {
    steps.iter().any(|s| matches!(s, Step::Every { .. } | Step::PackedEvery { .. }))
}

// -------------------------------------------------------------------------------------------------------------
// Following a path, as `ArgumentPaths` does
// -------------------------------------------------------------------------------------------------------------

/// A call's arguments as the module reads them: byte positions in the call's data, `[start, end)`.
struct Reader<'a> {
    i: usize,
    data: &'a [u8],
    start: usize,
    end: usize,
}

/// Follows `steps` from the word at `offset` in call `i`'s arguments (`data` with its selector) and hands each
/// value reached to `reached` (several with an `Every` step), failing as the module does: `ArgumentOutOfBounds`,
/// `MalformedArguments`, `NoSuchElement`, `TooManyElements`, or whatever `reached` returns. `amount`: one value
/// is wanted (an `Every` step is `InvalidRule`, which validation refuses before).
pub(crate) fn follow(
    i: usize,
    r: usize,
    data: &[u8],
    offset: u16,
    steps: &[Step],
    amount: bool,
    reached: &mut dyn FnMut(U256) -> Result<(), E>,
) -> Result<(), E> {
    let start = if data.len() < 4 { data.len() } else { 4 };
    let x = Reader { i, data, start, end: data.len() };
    x.walk(r, steps, start, start + offset as usize, amount, reached)
}

/// The values `steps` reach from the word at `offset` in a call's arguments (`data` with its selector), as the
/// module reads them: one, or one per element with an `Every` step; or the module's error for the arguments
/// (`ArgumentOutOfBounds`, `MalformedArguments`, `NoSuchElement`, `TooManyElements`).
pub fn values(data: &[u8], offset: u16, steps: &[Step]) -> Result<Vec<U256>, E> {
    let mut out = Vec::new();
    follow(0, 0, data, offset, steps, false, &mut |value| {
        out.push(value);
        Ok(())
    })?;
    Ok(out)
}

fn call_index(i: usize) -> U256 {
    U256::from(i)
}

impl Reader<'_> {
    fn walk(
        &self,
        r: usize,
        steps: &[Step],
        mut base: usize,
        mut pos: usize,
        amount: bool,
        reached: &mut dyn FnMut(U256) -> Result<(), E>,
    ) -> Result<(), E> {
        for (k, step) in steps.iter().enumerate() {
            match *step {
                Step::Field(offset) => pos = base + offset as usize,
                Step::Deref { head } => {
                    base = self.follow(base, self.read(pos)?, head as usize)?;
                    pos = base;
                }
                Step::Index { index, stride } => {
                    let (length, area) = self.array(base, stride)?;
                    base = self.element(area, self.index(index, length)?, stride, length)?;
                    pos = base;
                }
                Step::Every { max, stride } => {
                    let (length, area) = self.array(base, stride)?;
                    if length > max as usize {
                        return Err(self.too_many(length, max));
                    }
                    if amount {
                        return Err(invalid_rule(self.i, r));
                    }
                    for e in 0..length {
                        let element = self.element(area, e, stride, length)?;
                        self.walk(r, &steps[k + 1..], element, element, amount, reached)?;
                    }
                    return Ok(());
                }
                Step::Length => {
                    let length = self.read_word(base)?;
                    if length > U256::from(self.end - base - 32) {
                        return Err(self.malformed(base));
                    }
                    return reached(length);
                }
                Step::Packed { index, layout } => {
                    let (bytes_at, items) = self.packed(r, base, layout)?;
                    let item = self.index(index, items)?;
                    return reached(self.item(bytes_at, item, layout));
                }
                Step::PackedEvery { max, layout } => {
                    let (bytes_at, items) = self.packed(r, base, layout)?;
                    if items > max as usize {
                        return Err(self.too_many(items, max));
                    }
                    if amount {
                        return Err(invalid_rule(self.i, r));
                    }
                    for item in 0..items {
                        reached(self.item(bytes_at, item, layout))?;
                    }
                    return Ok(());
                }
            }
        }
        reached(self.read_word(pos)?)
    }

    /// The word at `at`, which must lie inside the arguments (`ArgumentOutOfBounds` otherwise).
    fn read_word(&self, at: usize) -> Result<U256, E> {
        if at > self.end || self.end - at < 32 {
            return Err(E::ArgumentOutOfBounds(onchain::ArgumentOutOfBounds {
                callIndex: call_index(self.i),
                offset: U256::from(at - self.start),
                argumentsLength: U256::from(self.end - self.start),
            }));
        }
        Ok(U256::from_be_slice(&self.data[at..at + 32]))
    }

    fn read(&self, at: usize) -> Result<U256, E> {
        self.read_word(at)
    }

    fn malformed(&self, at: usize) -> E {
        E::MalformedArguments(onchain::MalformedArguments {
            callIndex: call_index(self.i),
            at: U256::from(at - self.start),
        })
    }

    fn too_many(&self, length: usize, max: u16) -> E {
        E::TooManyElements(onchain::TooManyElements {
            callIndex: call_index(self.i),
            length: U256::from(length),
            max: U256::from(max),
        })
    }

    /// `_follow`: where `offset`, read in the head of the tuple at `base` (a head of `head` bytes), points.
    fn follow(&self, base: usize, offset: U256, head: usize) -> Result<usize, E> {
        let room = self.end.saturating_sub(base);
        let ok = offset % U256::from(32) == U256::ZERO
            && offset >= U256::from(head)
            && self.end - base >= 32
            && offset <= U256::from(room - 32);
        if !ok {
            return Err(self.malformed(base));
        }
        Ok(base + offset.to::<usize>())
    }

    /// The length of the array at `base` and where its elements start, the whole array (or its heads) checked to
    /// lie inside the arguments.
    fn array(&self, base: usize, stride: u16) -> Result<(usize, usize), E> {
        let length = self.read(base)?;
        let area = base + 32;
        let unit = if stride == 0 { 32 } else { stride as usize };
        if length > U256::from((self.end - area) / unit) {
            return Err(self.malformed(base));
        }
        Ok((length.to::<usize>(), area))
    }

    fn element(&self, area: usize, k: usize, stride: u16, length: usize) -> Result<usize, E> {
        if stride != 0 {
            return Ok(area + k * stride as usize);
        }
        self.follow(area, self.read(area + 32 * k)?, 32 * length)
    }

    /// `_index`: the element a signed index names among `length`.
    fn index(&self, index: i16, length: usize) -> Result<usize, E> {
        let back = index.unsigned_abs() as usize;
        let ok = if index >= 0 { back < length } else { back <= length };
        if !ok {
            return Err(E::NoSuchElement(onchain::NoSuchElement {
                callIndex: call_index(self.i),
                index: I256::try_from(index).expect("16 bits"),
                length: U256::from(length),
            }));
        }
        Ok(if index >= 0 { back } else { length - back })
    }

    /// `_packed`: where the packed bytes at `base` start and how many items they hold.
    fn packed(&self, r: usize, base: usize, layout: PackedLayout) -> Result<(usize, usize), E> {
        if layout.size == 0 || layout.size > 32 || layout.stride == 0 {
            return Err(invalid_rule(self.i, r));
        }
        let length = self.read(base)?;
        let bytes_at = base + 32;
        let (first, stride) = (layout.first as usize, layout.stride as usize);
        if length > U256::from(self.end - bytes_at) {
            return Err(self.malformed(base));
        }
        let length = length.to::<usize>();
        if length < first || (length - first) % stride != 0 {
            return Err(self.malformed(base));
        }
        let reach = layout.at as usize + layout.size as usize;
        let items = if length < reach { 0 } else { (length - reach) / stride + 1 };
        Ok((bytes_at, items))
    }

    fn item(&self, bytes_at: usize, item: usize, layout: PackedLayout) -> U256 {
        let at = bytes_at + layout.at as usize + item * layout.stride as usize;
        U256::from_be_slice(&self.data[at..at + layout.size as usize])
    }
}

fn invalid_rule(i: usize, r: usize) -> E {
    E::InvalidRule(onchain::InvalidRule { callIndex: U256::from(i), ruleIndex: U256::from(r) })
}

// -------------------------------------------------------------------------------------------------------------
// Paths written against a function signature
// -------------------------------------------------------------------------------------------------------------

/// A path written against a function's arguments, resolved: where it starts, its steps, and the type of the
/// value it reaches (for reading rule operands in that type).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Byte offset of the top-level argument's head word.
    pub offset: u16,
    /// The steps from there.
    pub steps: Vec<Step>,
    /// The type of the value reached.
    pub ty: DynSolType,
}

/// Where the walk stands: at a head slot (`rel` bytes from the base, the value inline or, if dynamic, its
/// offset there) or at the start of a dynamic value the base points at.
struct Cursor {
    steps: Vec<Step>,
    /// Byte size of the head the base's tuple has (for `Deref`).
    head: usize,
    /// The value's position from the base, when at a head slot.
    slot: Option<usize>,
    ty: DynSolType,
    components: Vec<Param>,
}

impl Cursor {
    /// Steps to the start of the dynamic value at the slot.
    fn enter(&mut self) -> Result<(), Error> {
        if let Some(rel) = self.slot.take() {
            self.steps.push(Step::Field(u16_of(rel)?));
            self.steps.push(Step::Deref { head: u16_of(self.head)? });
        }
        Ok(())
    }
}

fn u16_of(n: usize) -> Result<u16, Error> {
    u16::try_from(n)
        .map_err(|_| Error::Abi("the path reaches past 65,535 bytes into a head".into()))
}

/// Byte size of a static ABI type (`None` for dynamic types).
fn static_size(ty: &DynSolType) -> Option<usize> {
    match ty {
        DynSolType::FixedArray(inner, n) => static_size(inner).map(|s| s * n),
        DynSolType::Tuple(types) => types.iter().map(static_size).sum(),
        DynSolType::Array(_) | DynSolType::Bytes | DynSolType::String => None,
        _ => Some(32),
    }
}

/// Byte size of a type's head slot (32 for a dynamic type: its offset).
fn head_size(ty: &DynSolType) -> usize {
    static_size(ty).unwrap_or(32)
}

fn param_type(param: &Param) -> Result<DynSolType, Error> {
    DynSolType::parse(&param.selector_type())
        .map_err(|e| Error::Abi(format!("argument `{}`: {e}", param.name)))
}

/// Resolves `text` (`to`, `params.recipient`, `path[0]`, `path[-1]`, `orders[*].offerer`, `len(path)`,
/// `params.path.token[-1]`, `params.path.fee[*]`) against `function`'s arguments. `max_elements` bounds each
/// `[*]`; a path with `[*]` and no bound is refused.
pub fn resolve(
    function: &Function,
    text: &str,
    max_elements: Option<u16>,
) -> Result<Resolved, Error> {
    let text = text.trim();
    let (length, inner) = match text.strip_prefix("len(").and_then(|t| t.strip_suffix(')')) {
        Some(inner) => (true, inner.trim()),
        None => (false, text),
    };
    let parts = parse_parts(inner)?;
    let Some(Part::Name(first)) = parts.first() else {
        return Err(Error::Abi(format!("`{text}` does not start with an argument name")));
    };
    let inputs = &function.inputs;
    let Some(k) = inputs.iter().position(|p| &p.name == first) else {
        let known: Vec<&str> = inputs.iter().map(|p| p.name.as_str()).collect();
        return Err(Error::Abi(format!(
            "`{}` has no argument named `{first}` (its arguments: {})",
            function.signature(),
            if known.iter().all(|n| n.is_empty()) {
                "unnamed; name them in the signature".into()
            } else {
                known.join(", ")
            }
        )));
    };
    let types = inputs.iter().map(param_type).collect::<Result<Vec<_>, _>>()?;
    let rel = types[..k].iter().map(head_size).sum();
    let mut at = Cursor {
        steps: Vec::new(),
        head: types.iter().map(head_size).sum(),
        slot: Some(rel),
        ty: types[k].clone(),
        components: inputs[k].components.clone(),
    };
    let mut shown = first.clone();
    for part in &parts[1..] {
        step(&mut at, part, &shown, max_elements)?;
        shown.push_str(&part.to_string());
    }
    if length {
        if !matches!(at.ty, DynSolType::Array(_) | DynSolType::Bytes | DynSolType::String) {
            return Err(Error::Abi(format!(
                "`len({shown})`: `{shown}` is `{}`; len() takes a dynamic array or bytes",
                at.ty
            )));
        }
        at.enter()?;
        at.steps.push(Step::Length);
        at.ty = DynSolType::Uint(256);
    } else if let Some(rel) = at.slot {
        if static_size(&at.ty) != Some(32) {
            return Err(Error::Abi(format!(
                "`{shown}` is `{}`{}, not one word: rules read one word, so name one of its parts{}",
                at.ty,
                if static_size(&at.ty).is_none() { ", a dynamic type" } else { "" },
                match at.ty {
                    DynSolType::Array(_) => " (`[0]`, `[-1]`, `[*]`) or its length (`len(...)`)",
                    DynSolType::Tuple(_) => " (`.field`)",
                    DynSolType::Bytes => " (its length `len(...)`, or `.token[i]`/`.fee[i]` of a Uniswap V3 path)",
                    DynSolType::String => " (its length `len(...)`)",
                    _ => "",
                }
            )));
        }
        at.steps.push(Step::Field(u16_of(rel)?));
    } else if !at
        .steps
        .last()
        .is_some_and(|s| matches!(s, Step::Packed { .. } | Step::PackedEvery { .. }))
    {
        // At the start of a dynamic value, or of an array element with no more steps: a word is read there.
        if static_size(&at.ty) != Some(32) {
            return Err(Error::Abi(format!("`{shown}` is `{}`, not one word", at.ty)));
        }
    }
    if pending_packed(&at) {
        return Err(Error::Abi(format!(
            "`{text}`: name the item, as in `.token[0]`, `.token[-1]` or `.fee[*]`"
        )));
    }
    let Some(Step::Field(offset)) = at.steps.first().copied() else {
        unreachable!("a path starts at a top-level argument's slot")
    };
    let steps = at.steps[1..].to_vec();
    check(&steps).map_err(|e| Error::Abi(format!("`{text}`: {e}")))?;
    if has_every(&steps) && max_elements.is_none() {
        return Err(Error::Abi(format!(
            "`{text}` takes every element: state how many at most with `max_elements`"
        )));
    }
    Ok(Resolved { offset, steps, ty: at.ty })
}

/// One part of a written path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Name(String),
    Index(i16),
    Every,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Part::Name(n) => write!(f, ".{n}"),
            Part::Index(i) => write!(f, "[{i}]"),
            Part::Every => write!(f, "[*]"),
        }
    }
}

fn parse_parts(text: &str) -> Result<Vec<Part>, Error> {
    let bad =
        |why: &str| Error::Abi(format!("`{text}` is not a path like `params.path[-1]` ({why})"));
    let mut parts = Vec::new();
    let mut rest = text;
    let mut name = true;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            let close = r.find(']').ok_or_else(|| bad("a `[` is not closed"))?;
            let inside = r[..close].trim();
            parts.push(if inside == "*" {
                Part::Every
            } else {
                Part::Index(
                    inside.parse().map_err(|_| {
                        bad("an index is a whole number from -32768 to 32767, or `*`")
                    })?,
                )
            });
            rest = &r[close + 1..];
            name = false;
            continue;
        }
        let r = if name {
            rest
        } else {
            rest.strip_prefix('.').ok_or_else(|| bad("expected `.` or `[`"))?
        };
        let end = r.find(['.', '[']).unwrap_or(r.len());
        let ident = &r[..end];
        if ident.is_empty() || !ident.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(bad("a name has letters, digits and `_` only"));
        }
        parts.push(Part::Name(ident.to_string()));
        rest = &r[end..];
        name = false;
    }
    Ok(parts)
}

fn step(at: &mut Cursor, part: &Part, shown: &str, max: Option<u16>) -> Result<(), Error> {
    match (&at.ty.clone(), part) {
        (DynSolType::Tuple(types), Part::Name(name)) => {
            let Some(k) = at.components.iter().position(|p| &p.name == name) else {
                let known: Vec<&str> = at.components.iter().map(|p| p.name.as_str()).collect();
                return Err(Error::Abi(format!(
                    "`{shown}` has no field `{name}` (its fields: {})",
                    if known.iter().all(|n| n.is_empty()) {
                        "unnamed; name them in the signature".into()
                    } else {
                        known.join(", ")
                    }
                )));
            };
            let rel: usize = types[..k].iter().map(head_size).sum();
            if static_size(&at.ty).is_none() {
                at.enter()?;
                at.head = types.iter().map(head_size).sum();
                at.slot = Some(rel);
            } else {
                at.slot = Some(at.slot.unwrap_or(0) + rel);
            }
            at.components = at.components[k].components.clone();
            at.ty = types[k].clone();
        }
        (DynSolType::FixedArray(inner, n), Part::Index(i)) if static_size(inner).is_some() => {
            let index = if *i < 0 { *n as i64 + *i as i64 } else { *i as i64 };
            if index < 0 || index >= *n as i64 {
                return Err(Error::Abi(format!("`{shown}` has {n} elements; `[{i}]` is not one")));
            }
            let size = static_size(inner).expect("static");
            at.slot = Some(at.slot.unwrap_or(0) + index as usize * size);
            at.ty = (**inner).clone();
        }
        (DynSolType::Array(inner), Part::Index(_) | Part::Every) => {
            at.enter()?;
            let stride = u16_of(static_size(inner).unwrap_or(0))?;
            at.steps.push(match part {
                Part::Index(index) => Step::Index { index: *index, stride },
                _ => Step::Every { max: max.unwrap_or(0), stride },
            });
            // At the element: a static one inline (its fields from here), a dynamic one at its start.
            at.slot = static_size(inner).map(|_| 0);
            if let DynSolType::Tuple(types) = &**inner {
                if static_size(inner).is_none() {
                    at.head = types.iter().map(head_size).sum();
                }
            }
            at.ty = (**inner).clone();
        }
        (DynSolType::Bytes, Part::Name(name)) if name == "token" || name == "fee" => {
            at.enter()?;
            // The layout is taken by the index that follows; remembered as a pending packed step.
            let layout = if name == "token" {
                PackedLayout::UNISWAP_V3_TOKEN
            } else {
                PackedLayout::UNISWAP_V3_FEE
            };
            at.steps.push(Step::Packed { index: i16::MIN, layout });
            at.ty = DynSolType::Tuple(Vec::new());
            at.components = Vec::new();
        }
        (DynSolType::Tuple(t), Part::Index(index)) if t.is_empty() && pending_packed(at) => {
            let Some(Step::Packed { layout, .. }) = at.steps.pop() else { unreachable!() };
            at.steps.push(Step::Packed { index: *index, layout });
            at.ty = packed_type(layout);
        }
        (DynSolType::Tuple(t), Part::Every) if t.is_empty() && pending_packed(at) => {
            let Some(Step::Packed { layout, .. }) = at.steps.pop() else { unreachable!() };
            at.steps.push(Step::PackedEvery { max: max.unwrap_or(0), layout });
            at.ty = packed_type(layout);
        }
        (ty, part) => {
            return Err(Error::Abi(format!(
                "`{shown}` is `{ty}`; `{part}` does not apply to it{}",
                match ty {
                    DynSolType::Bytes =>
                        ": on bytes, `.token[i]` and `.fee[i]` read a Uniswap V3 path",
                    DynSolType::FixedArray(..) => ": `[*]` needs a dynamic array",
                    _ => "",
                }
            )))
        }
    }
    Ok(())
}

fn pending_packed(at: &Cursor) -> bool {
    matches!(at.steps.last(), Some(Step::Packed { index: i16::MIN, .. }))
}

fn packed_type(layout: PackedLayout) -> DynSolType {
    if layout == PackedLayout::UNISWAP_V3_TOKEN {
        DynSolType::Address
    } else {
        DynSolType::Uint(8 * layout.size as usize)
    }
}

/// The path written back against `function`, when its steps follow the function's arguments
/// (`params.path.token[-1]`, or `params.recipient` for a word inside a struct passed inline); `None` when they
/// do not.
pub fn name(function: &Function, offset: u16, steps: &[Step]) -> Option<String> {
    describe(function, offset, steps).map(|(text, _)| text)
}

/// The path written back against `function` ([`name`]) with the type of the value it reaches.
pub fn describe(function: &Function, offset: u16, steps: &[Step]) -> Option<(String, DynSolType)> {
    let types = function.inputs.iter().map(param_type).collect::<Result<Vec<_>, _>>().ok()?;
    let (mut text, mut ty, mut components) = field_of(&types, &function.inputs, offset as usize)?;
    let mut length = false;
    for step in steps {
        match (&ty.clone(), *step) {
            (_, Step::Deref { .. }) => {}
            (DynSolType::Tuple(types), Step::Field(o)) => {
                let (more, t, c) = field_of(types, &components, o as usize)?;
                text.push_str(&more);
                (ty, components) = (t, c);
            }
            (_, Step::Field(o)) => {
                let (more, t, c) = static_field(&ty, &components, o as usize)?;
                text.push_str(&more);
                (ty, components) = (t, c);
            }
            (DynSolType::Array(inner), Step::Index { index, .. }) => {
                text.push_str(&format!("[{index}]"));
                ty = (**inner).clone();
            }
            (DynSolType::Array(inner), Step::Every { .. }) => {
                text.push_str("[*]");
                ty = (**inner).clone();
            }
            (_, Step::Length) => length = true,
            (DynSolType::Bytes, Step::Packed { index, layout }) => {
                text.push_str(&format!(".{}[{index}]", packed_name(layout)?));
                ty = packed_type(layout);
            }
            (DynSolType::Bytes, Step::PackedEvery { layout, .. }) => {
                text.push_str(&format!(".{}[*]", packed_name(layout)?));
                ty = packed_type(layout);
            }
            _ => return None,
        }
    }
    let text = text.strip_prefix('.').unwrap_or(&text).to_string();
    let text = if length { format!("len({text})") } else { text };
    // The name is only said when it leads to exactly these steps (bounds aside): steps built by hand that
    // follow a value as an offset, or read elements with another stride, have no name.
    let found = resolve(function, &text, Some(0)).ok()?;
    let unbounded = |steps: &[Step]| -> Vec<Step> {
        steps
            .iter()
            .map(|s| match *s {
                Step::Every { stride, .. } => Step::Every { max: 0, stride },
                Step::PackedEvery { layout, .. } => Step::PackedEvery { max: 0, layout },
                other => other,
            })
            .collect()
    };
    if found.offset != offset || unbounded(&found.steps) != unbounded(steps) {
        return None;
    }
    Some(if length { (text, DynSolType::Uint(256)) } else { (text, ty) })
}

/// The field of a tuple (of `types`, named by `components`) whose head holds byte `o`, written `.name` and
/// followed into what is inline there ([`static_field`]).
fn field_of(
    types: &[DynSolType],
    components: &[Param],
    o: usize,
) -> Option<(String, DynSolType, Vec<Param>)> {
    let mut start = 0;
    for (k, t) in types.iter().enumerate() {
        let size = head_size(t);
        if o < start + size {
            let param = components.get(k)?;
            if param.name.is_empty() {
                return None;
            }
            let (more, t, c) = static_field(t, &param.components, o - start)?;
            return Some((format!(".{}{more}", param.name), t, c));
        }
        start += size;
    }
    None
}

/// The word `o` bytes into a value of type `ty` laid out inline (a static struct or fixed array; a dynamic
/// value's slot, its offset, at 0), written as `.field` and `[i]` parts, with the type and components it
/// reaches.
fn static_field(
    ty: &DynSolType,
    components: &[Param],
    o: usize,
) -> Option<(String, DynSolType, Vec<Param>)> {
    match ty {
        DynSolType::Tuple(types) if static_size(ty).is_some() => field_of(types, components, o),
        DynSolType::FixedArray(inner, n) if static_size(inner).is_some() => {
            let size = static_size(inner)?;
            let k = o / size;
            if k >= *n {
                return None;
            }
            let (more, t, c) = static_field(inner, components, o % size)?;
            Some((format!("[{k}]{more}"), t, c))
        }
        _ if o == 0 => Some((String::new(), ty.clone(), components.to_vec())),
        _ => None,
    }
}

fn packed_name(layout: PackedLayout) -> Option<&'static str> {
    match layout {
        PackedLayout::UNISWAP_V3_TOKEN => Some("token"),
        PackedLayout::UNISWAP_V3_FEE => Some("fee"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::parse_function;
    use alloy::{
        dyn_abi::{DynSolValue, JsonAbiExt},
        primitives::Address,
    };

    const EXACT_INPUT: &str = "exactInput((bytes path, address recipient, uint256 deadline, uint256 amountIn, uint256 amountOutMinimum) params)";
    const LEGS: &str =
        "route(uint256 amount, (address to, uint256 deadline) dst, address[] path, (address token, uint256 amount, bytes route)[] legs)";

    #[test]
    fn written_paths_resolve_and_read_back_by_name() {
        let v3 = parse_function(EXACT_INPUT).unwrap();
        let legs = parse_function(LEGS).unwrap();
        for (function, text) in [
            (&v3, "params.recipient"),
            (&v3, "params.amountIn"),
            (&v3, "params.path.token[0]"),
            (&v3, "params.path.token[-1]"),
            (&v3, "params.path.fee[*]"),
            (&v3, "len(params.path)"),
            (&legs, "amount"),
            (&legs, "dst.to"),
            (&legs, "dst.deadline"),
            (&legs, "path[-1]"),
            (&legs, "path[*]"),
            (&legs, "len(path)"),
            (&legs, "legs[0].token"),
            (&legs, "legs[*].amount"),
            (&legs, "legs[-1].route.token[0]"),
            (&legs, "len(legs[1].route)"),
        ] {
            let found = resolve(function, text, Some(4)).unwrap();
            assert_eq!(name(function, found.offset, &found.steps).as_deref(), Some(text), "{text}");
            assert_eq!(unpack(&pack(&found.steps)).unwrap(), found.steps, "{text}");
        }
        // A static struct's fields are plain words of the head.
        let dst = resolve(&legs, "dst.deadline", None).unwrap();
        assert_eq!((dst.offset, dst.steps.len()), (64, 0));
    }

    #[test]
    fn written_paths_that_cannot_be_followed_say_why() {
        let legs = parse_function(LEGS).unwrap();
        for (text, says) in [
            ("path", "not one word"),
            ("legs[0]", "not one word"),
            ("path[*]", "max_elements"),
            ("dst[0]", "does not apply"),
            ("legs[0].nope", "no field `nope`"),
            ("len(amount)", "len() takes"),
            ("legs[0].route.token", "name the item"),
            ("nobody", "no argument named"),
            ("path[99999]", "whole number"),
        ] {
            let error = resolve(&legs, text, None).unwrap_err().to_string();
            assert!(error.contains(says), "{text}: {error}");
        }
        assert!(unpack(&[LENGTH, FIELD, 0, 0]).is_err(), "a last step must be last");
        assert!(unpack(&[INDEX, 0]).is_err(), "a step cut short");
        assert!(unpack(&[9]).is_err(), "an unknown step");
    }

    /// The reader on its own, against alloy's ABI decoder: for random arguments, every path reads the value the
    /// decoder gives for it.
    #[test]
    fn values_are_what_the_abi_decoder_reads() {
        let legs = parse_function(LEGS).unwrap();
        let mut seed = 0x5eed_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..300 {
            let address = |n: u64| Address::from_word(U256::from(n).into());
            let path: Vec<Address> = (0..next() % 4).map(|_| address(next())).collect();
            let legs_value: Vec<(Address, U256, Vec<u8>)> = (0..next() % 4)
                .map(|_| {
                    let hops = next() % 3;
                    let mut route = address(next()).to_vec();
                    for _ in 0..hops {
                        route.extend_from_slice(&(next() as u32).to_be_bytes()[1..]);
                        route.extend_from_slice(address(next()).as_slice());
                    }
                    (address(next()), U256::from(next()), route)
                })
                .collect();
            let arguments = [
                DynSolValue::Uint(U256::from(next()), 256),
                DynSolValue::Tuple(vec![
                    DynSolValue::Address(address(next())),
                    DynSolValue::Uint(U256::from(next()), 256),
                ]),
                DynSolValue::Array(path.iter().map(|a| DynSolValue::Address(*a)).collect()),
                DynSolValue::Array(
                    legs_value
                        .iter()
                        .map(|(t, a, r)| {
                            DynSolValue::Tuple(vec![
                                DynSolValue::Address(*t),
                                DynSolValue::Uint(*a, 256),
                                DynSolValue::Bytes(r.clone()),
                            ])
                        })
                        .collect(),
                ),
            ];
            let data = legs.abi_encode_input(&arguments).unwrap();
            let read = |text: &str| {
                let found = resolve(&legs, text, Some(8)).unwrap();
                values(&data, found.offset, &found.steps)
            };
            let word = |a: &Address| U256::from_be_slice(a.as_slice());
            assert_eq!(read("path[*]").unwrap(), path.iter().map(word).collect::<Vec<_>>());
            assert_eq!(read("len(path)").unwrap(), vec![U256::from(path.len())]);
            match path.last() {
                Some(last) => assert_eq!(read("path[-1]").unwrap(), vec![word(last)]),
                None => assert!(matches!(read("path[-1]"), Err(E::NoSuchElement(_)))),
            }
            let amounts: Vec<U256> = legs_value.iter().map(|(_, a, _)| *a).collect();
            assert_eq!(read("legs[*].amount").unwrap(), amounts);
            if let Some((_, _, route)) = legs_value.last() {
                let last_token = U256::from_be_slice(&route[route.len() - 20..]);
                assert_eq!(read("legs[-1].route.token[-1]").unwrap(), vec![last_token]);
                assert_eq!(read("len(legs[-1].route)").unwrap(), vec![U256::from(route.len())]);
            }
        }
    }
}
