//! Consistency checks a policy must pass before it is encoded: what the module would refuse, or what would
//! silently mean something else on chain, is refused here with a message that says what to fix.

use crate::{
    model::{Action, Condition, Period, SessionPolicy},
    Error, Timestamp,
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
        if self.actions.is_empty() && !self.sudo && self.signing.is_none() {
            return Err(Error::Invalid(
                "the session allows nothing: add an [[action]] (or sudo, or signing)".into(),
            ));
        }
        for (i, action) in self.actions.iter().enumerate() {
            check_action(action).map_err(|e| {
                Error::Invalid(format!("action {} ({}): {e}", i + 1, label(action)))
            })?;
        }
        Ok(())
    }
}

fn label(action: &Action) -> String {
    action.name.clone().unwrap_or_else(|| match &action.function {
        Some(f) => f.name.clone(),
        None => "unnamed".into(),
    })
}

fn check_action(action: &Action) -> Result<(), String> {
    if action.rules.len() > MAX_RULES {
        return Err(format!("{} rules; at most {MAX_RULES}", action.rules.len()));
    }
    for rule in &action.rules {
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
    if action.max_uses == Some(0) {
        return Err("max_uses is 0; allow at least 1, or leave it out for no limit".into());
    }
    check_period(&action.period, "the action's period").map_err(|e| e.to_string())
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
