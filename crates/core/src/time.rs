//! Points in time as the module sees them: unix seconds that fit 48 bits.

use chrono::{DateTime, SecondsFormat, Utc};
use std::fmt;

/// A unix time in seconds (at most 2^48 - 1, the module's `uint48`).
///
/// ```
/// use leash_core::Timestamp;
///
/// let t = Timestamp::parse("2026-01-01T00:00:00Z")?;
/// assert_eq!(t.0, 1_767_225_600);
/// assert_eq!(t.to_string(), "2026-01-01T00:00:00Z");
/// # Ok::<(), leash_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The latest time the module can state.
    pub const MAX: Self = Self((1 << 48) - 1);

    /// Parses an RFC 3339 time such as `2026-01-01T00:00:00Z` (an offset other than `Z` is converted to UTC).
    pub fn parse(text: &str) -> Result<Self, crate::Error> {
        let parsed = DateTime::parse_from_rfc3339(text.trim()).map_err(|e| {
            crate::Error::Time(format!(
                "`{text}` is not an RFC 3339 time like 2026-01-01T00:00:00Z ({e})"
            ))
        })?;
        let seconds = parsed.timestamp();
        if seconds < 0 || seconds as u64 > Self::MAX.0 {
            return Err(crate::Error::Time(format!("`{text}` is outside 1970..=year 8921999")));
        }
        Ok(Self(seconds as u64))
    }

    /// The module's `uint48` form.
    pub fn as_u48(self) -> u64 {
        self.0.min(Self::MAX.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match DateTime::<Utc>::from_timestamp(self.0 as i64, 0) {
            Some(time) => f.write_str(&time.to_rfc3339_opts(SecondsFormat::Secs, true)),
            None => write!(f, "{}s", self.0),
        }
    }
}
