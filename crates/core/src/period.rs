//! Periods off-chain, exactly as the module's `PeriodLib` resolves them.

use crate::model::{ActivePart, Period};

const NO_END: u64 = (1 << 48) - 1;
const DAY: u64 = 86_400;

/// Why a stated time has no usable period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeriodError {
    /// A zero-length period, or an index past `u32` (`InvalidPeriod(kind)`).
    Invalid(u8),
    /// The time lies outside the usable window (`OutsidePeriodWindow(time, start, end)`).
    Outside {
        /// The stated time.
        time: u64,
        /// Where the window opens (0 when the time is in no window at all).
        start: u64,
        /// Where it closes, exclusive.
        end: u64,
    },
}

/// The period containing a time: its 1-based index and the inclusive window in which use is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeriodSlot {
    /// 1-based index (0 means "never charged" on chain).
    pub index: u32,
    /// First second use is open.
    pub start: u64,
    /// Last second use is open.
    pub last: u64,
}

impl Period {
    /// The period containing `time` (a `uint48`), or why there is none.
    pub fn resolve(&self, time: u64) -> Result<PeriodSlot, PeriodError> {
        let kind = self.kind() as u8;
        let (n, start, end, active) = match self {
            Period::Lifetime => return Ok(PeriodSlot { index: 1, start: 0, last: NO_END }),
            Period::Windows(windows) => {
                for (i, w) in windows.iter().enumerate() {
                    let (start, end) = (w.start.as_u48(), w.end.as_u48());
                    if time >= start && time < end {
                        return Ok(PeriodSlot {
                            index: index(i as u64, kind)?,
                            start,
                            last: end - 1,
                        });
                    }
                }
                return Err(PeriodError::Outside { time, start: 0, end: 0 });
            }
            Period::Every { start: anchor, length, active } => {
                let anchor = anchor.as_u48();
                if *length == 0 {
                    return Err(PeriodError::Invalid(kind));
                }
                if time < anchor {
                    return Err(PeriodError::Outside { time, start: anchor, end: NO_END });
                }
                let n = (time - anchor) / u64::from(*length);
                let start = anchor + n * u64::from(*length);
                (n, start, start + u64::from(*length), active)
            }
            Period::Monthly { active } => {
                let (year, month) = year_month(time);
                let n = (year - 1970) * 12 + month - 1;
                let start = month_start(year, month);
                let end = if month == 12 {
                    month_start(year + 1, 1)
                } else {
                    month_start(year, month + 1)
                };
                (n, start, end, active)
            }
        };
        let index = index(n, kind)?;
        let ActivePart { from, duration } = *active;
        let open = start + u64::from(from);
        let close =
            if duration == 0 { end } else { end.min(open + u64::from(duration)) }.min(NO_END);
        if time < open || time >= close {
            return Err(PeriodError::Outside { time, start: open.min(NO_END), end: close });
        }
        Ok(PeriodSlot { index, start: open, last: close - 1 })
    }
}

impl Period {
    /// When a limit spent in the period containing `time` is available again: the first second use is open in the
    /// next period. `None` when it never is (a lifetime limit, or no later window).
    ///
    /// ```
    /// use leash_core::{ActivePart, Period, Timestamp};
    ///
    /// let daily = Period::Every { start: Timestamp(0), length: 86_400, active: ActivePart::default() };
    /// assert_eq!(daily.next_open(90_000), Some(172_800));
    /// assert_eq!(Period::Lifetime.next_open(90_000), None);
    /// ```
    pub fn next_open(&self, time: u64) -> Option<u64> {
        let next = match self {
            Period::Lifetime => return None,
            Period::Windows(windows) => {
                return windows.iter().map(|w| w.start.as_u48()).filter(|s| *s > time).min()
            }
            Period::Every { start: anchor, length, active } => {
                let (anchor, length) = (anchor.as_u48(), u64::from(*length));
                if length == 0 {
                    return None;
                }
                let n = time.saturating_sub(anchor) / length;
                let next = if time < anchor { anchor } else { anchor + (n + 1) * length };
                next + u64::from(active.from)
            }
            Period::Monthly { active } => {
                let (year, month) = year_month(time);
                let next = if month == 12 {
                    month_start(year + 1, 1)
                } else {
                    month_start(year, month + 1)
                };
                next + u64::from(active.from)
            }
        };
        (next <= NO_END).then_some(next)
    }
}

fn index(n: u64, kind: u8) -> Result<u32, PeriodError> {
    if n >= u64::from(u32::MAX) {
        return Err(PeriodError::Invalid(kind));
    }
    Ok(n as u32 + 1)
}

/// Gregorian year and month of a unix time (civil-from-days).
fn year_month(time: u64) -> (u64, u64) {
    let z = time / DAY + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + u64::from(month <= 2), month)
}

/// Unix time of 00:00 UTC on the first day of `month` (days-from-civil).
pub(crate) fn month_start(year: u64, month: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let yoe = year - era * 400;
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * DAY
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;
    use chrono::{Datelike, TimeZone, Utc};

    #[test]
    fn monthly_periods_follow_the_calendar() {
        for t in (0..4_102_444_800u64).step_by(86_400 * 13 + 3_607) {
            let date = Utc.timestamp_opt(t as i64, 0).unwrap();
            let slot = Period::monthly().resolve(t).unwrap();
            let first = Utc.with_ymd_and_hms(date.year(), date.month(), 1, 0, 0, 0).unwrap();
            assert_eq!(slot.start, first.timestamp() as u64, "{date}");
            assert_eq!(slot.index as i64, (date.year() as i64 - 1970) * 12 + date.month() as i64);
        }
    }

    #[test]
    fn active_part_limits_use_inside_each_period() {
        let day_one = Period::Monthly { active: ActivePart { from: 0, duration: 86_400 } };
        let jan1 = Timestamp::parse("2026-01-01T12:00:00Z").unwrap().0;
        let jan2 = Timestamp::parse("2026-01-02T00:00:00Z").unwrap().0;
        assert_eq!(day_one.resolve(jan1).unwrap().last, jan2 - 1);
        assert!(matches!(day_one.resolve(jan2), Err(PeriodError::Outside { .. })));
    }
}
