//! Consistency checks a policy must pass before it is encoded: what the module would refuse, what would
//! silently mean something else on chain, or what the packed format cannot carry, is refused here with a
//! message that says what to fix.

use crate::{
    model::{Action, ArgRule, Condition, Period, SessionPolicy, TypedDataScope},
    Error, Timestamp, TypedDataLayout,
};
use leash_contracts::MAX_RULES;

impl SessionPolicy {
    /// Checks the policy: window order, periods, limits, rules.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(until) = self.valid_until {
            if until < self.valid_after {
                return Err(Error::Invalid(format!(
                    "the session ends ({until}) before it starts ({})",
                    self.valid_after
                )));
            }
            if until.0 == 0 || until > Timestamp::MAX {
                return Err(Error::Invalid(format!("valid_until {until} is out of range")));
            }
        }
        if self.valid_after > Timestamp::MAX {
            return Err(Error::Invalid(format!("valid_from {} is out of range", self.valid_after)));
        }
        if let Some(limit) = &self.max_ops {
            if limit.count == 0 {
                return Err(Error::Invalid(
                    "max_ops is 0; allow at least 1, or leave it out for no limit".into(),
                ));
            }
            check_period(&limit.period, "the session's max_ops")?;
        }
        if self.actions.is_empty() && !self.sudo && self.signing.is_empty() {
            return Err(Error::Invalid(
                "the session allows nothing: add an [[action]] (or sudo, or signing)".into(),
            ));
        }
        for (i, scope) in self.signing.typed_data.iter().enumerate() {
            check_scope(scope).map_err(|e| {
                Error::Invalid(format!(
                    "signing typed_data {} ({}): {e}",
                    i + 1,
                    scope.name.as_deref().unwrap_or("unnamed")
                ))
            })?;
        }
        for (i, action) in self.actions.iter().enumerate() {
            check_action(action).map_err(|e| {
                Error::Invalid(format!("action {} ({}): {e}", i + 1, label(action)))
            })?;
        }
        // What the packed format cannot carry (a count past 255, a session or action past 65,535 bytes).
        for (i, action) in self.actions.iter().enumerate() {
            action.encode().map_err(|e| {
                Error::Invalid(format!("action {} ({}): {e}", i + 1, label(action)))
            })?;
        }
        self.check_packs().map_err(|e| Error::Invalid(format!("the session: {e}")))
    }
}

fn label(action: &Action) -> String {
    action.name.clone().unwrap_or_else(|| match &action.function {
        Some(f) => f.name.clone(),
        None => "unnamed".into(),
    })
}

/// What the module's typed-data check would never accept: such a scope could sign nothing.
fn check_scope(scope: &TypedDataScope) -> Result<(), String> {
    check_rules(&scope.rules)?;
    if let Some(limit) = &scope.max_uses {
        if limit.count == 0 {
            return Err("max_uses counts at least 1 message per period".into());
        }
        check_period(&limit.period, "max_uses's period").map_err(|e| e.to_string())?;
        // The count rests on EIP-3009's meaning of the three fields (valid strictly between the times, each nonce
        // used once): where the type is known, they must be those fields.
        if let Some(encode_type) = &scope.encode_type {
            let layout = TypedDataLayout::parse(encode_type).map_err(|e| e.to_string())?;
            let layout = layout.with_nested(&scope.nested);
            let is = |offset: u16, name: &str, uint: bool| {
                layout.field_at(offset).is_some_and(|(field, ty)| {
                    field == name && if uint { ty.starts_with("uint") } else { ty == "bytes32" }
                })
            };
            if !is(limit.nonce, "nonce", false)
                || !is(limit.valid_after, "validAfter", true)
                || !is(limit.valid_before, "validBefore", true)
            {
                return Err("max_uses counts EIP-3009 messages: its nonce, validAfter and validBefore must be the \
                            type's `bytes32 nonce`, `uint256 validAfter` and `uint256 validBefore`"
                    .into());
            }
        }
        // A message picks its period by its `validAfter`: overlapping windows would let it pick where it counts.
        if let Period::Windows(windows) = &limit.period {
            if windows.windows(2).any(|w| w[1].start < w[0].end) {
                return Err(
                    "max_uses's windows overlap or are out of order: list them in order, each starting no earlier than the previous one ends"
                        .into(),
                );
            }
        }
    }
    if scope.rules.iter().any(|r| !r.path.is_empty()) {
        return Err("typed data's fields are flat words: its rules take a field, not a path".into());
    }
    if let Some(encode_type) = &scope.encode_type {
        let layout = TypedDataLayout::parse(encode_type).map_err(|e| e.to_string())?;
        if layout.type_hash() != scope.type_hash {
            return Err(format!("its type hash is not keccak256 of `{encode_type}`"));
        }
    }
    // The nested structs follow the primary type's words, each after the word that holds its hash.
    let nested_length: usize = scope.nested.iter().map(|n| n.length as usize).sum();
    // A freshly parsed layout holds the primary type's words only.
    let top = scope
        .encode_type
        .as_deref()
        .and_then(|t| TypedDataLayout::parse(t).ok())
        .map(|layout| layout.fields_length());
    let mut start = top.unwrap_or(0);
    for (n, nested) in scope.nested.iter().enumerate() {
        if nested.length % 32 != 0 || nested.length == 0 {
            return Err(format!(
                "nested struct {} has length {}, not a multiple of 32",
                n + 1,
                nested.length
            ));
        }
        if top.is_some() && nested.field as usize + 32 > start {
            return Err(format!(
                "nested struct {} is read from byte {}, which does not precede its fields",
                n + 1,
                nested.field
            ));
        }
        start += nested.length as usize;
    }
    if let Some(top) = top {
        let total = top + nested_length;
        if let Some(rule) = scope.rules.iter().find(|r| r.offset as usize + 32 > total) {
            return Err(format!("a rule reads byte {} of fields {total} bytes long", rule.offset));
        }
    }
    Ok(())
}

fn check_action(action: &Action) -> Result<(), String> {
    check_rules(&action.rules)?;
    if let Some(cap) = &action.amount_cap {
        crate::path::check(&cap.path).map_err(|e| format!("the amount's path: {e}"))?;
        if crate::path::has_every(&cap.path) {
            return Err(
                "the amount's path takes every element; a cap sums one amount per call".into()
            );
        }
    }
    if action.max_uses == Some(0) {
        return Err("max_uses is 0; allow at least 1, or leave it out for no limit".into());
    }
    check_period(&action.period, "the action's period").map_err(|e| e.to_string())
}

fn check_rules(rules: &[ArgRule]) -> Result<(), String> {
    if rules.len() > MAX_RULES {
        return Err(format!("{} rules; at most {MAX_RULES}", rules.len()));
    }
    for rule in rules {
        crate::path::check(&rule.path)?;
        match &rule.condition {
            Condition::OneOf(values) if values.is_empty() => {
                return Err("`one_of` needs at least one value".into())
            }
            Condition::InRange(min, max) if min > max => {
                return Err(format!("`in_range` has min {min} above max {max}"))
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_period(period: &Period, what: &str) -> Result<(), Error> {
    match period {
        Period::Lifetime | Period::Monthly { .. } => Ok(()),
        Period::Every { length, .. } if *length == 0 => {
            Err(Error::Invalid(format!("{what} has a zero length")))
        }
        Period::Every { .. } => Ok(()),
        Period::Windows(windows) => {
            if windows.is_empty() {
                return Err(Error::Invalid(format!("{what} lists no windows")));
            }
            for w in windows {
                if w.end <= w.start {
                    return Err(Error::Invalid(format!(
                        "{what}: window end {} is not after its start {}",
                        w.end, w.start
                    )));
                }
                if w.end > Timestamp::MAX {
                    return Err(Error::Invalid(format!(
                        "{what}: window end {} is out of range",
                        w.end
                    )));
                }
            }
            Ok(())
        }
    }
}
