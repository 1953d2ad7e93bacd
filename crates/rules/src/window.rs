//! Entry windows: how long after a lesson its teacher may still write its marks
//! (`domain.md`, *Attendance*; issue 9, *Late edits stay late*).
//!
//! HEMIS lets a teacher mark a lesson on its day only. Daftar judges the lesson's date against
//! the edit time the device recorded (a teacher marking offline in class is on time, whenever
//! the change reaches the server): a journal's `meta["entry_window_days"]` (copied from the
//! catalog's policy by the administrator or the HEMIS import) says how many days after the
//! lesson day the window stays open — `0` is the lesson day itself, no key is no window. The
//! dean's office can open a lesson again until a date (`locks["opening:<lesson>"]`), usually in
//! answer to the teacher's request (`status["opening-request:<lesson>"]`). A mark written
//! outside the window is kept and synced, but it is an amendment: the value before it stays in
//! effect until the dean's office accepts it.

use serde::{Deserialize, Serialize};

use crate::values::{InvalidValue, parse_iso_date};

/// The journal meta key holding the window, in days after the lesson day.
pub const WINDOW_KEY: &str = "entry_window_days";
/// The catalog settings key holding the university's policy.
pub const POLICY_KEY: &str = "entry_window_days";
/// Key prefix of an opening in `locks`.
pub const OPENING_PREFIX: &str = "opening:";
/// Key prefix of a teacher's request in `status`.
pub const REQUEST_PREFIX: &str = "opening-request:";

/// Tashkent is UTC+5 all year.
const TASHKENT_OFFSET_MS: i64 = 5 * 3600 * 1000;
const DAY_MS: i64 = 24 * 3600 * 1000;

/// A teacher's request to open a closed lesson (`status["opening-request:<lesson>"]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpeningRequest {
    pub reason: String,
}

impl OpeningRequest {
    pub fn check(&self) -> Result<(), InvalidValue> {
        if self.reason.trim().is_empty() {
            return Err(InvalidValue::new(
                "reason",
                "a request to open a lesson needs a reason",
            ));
        }
        Ok(())
    }
}

/// The dean's office opens a lesson for its teacher until the end of `until` (`locks["opening:<lesson>"]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opening {
    /// `YYYY-MM-DD`, the last day edits count as on time.
    pub until: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Opening {
    pub fn check(&self) -> Result<(), InvalidValue> {
        parse_iso_date(&self.until).map(|_| ())
    }
}

/// The university's calendar day (Tashkent) at unix ms `now`, as `YYYY-MM-DD`: the day a
/// lesson's "today" and its entry window are counted in.
pub fn university_date(now: i64) -> String {
    let tashkent = time::UtcOffset::from_whole_seconds((TASHKENT_OFFSET_MS / 1000) as i32)
        .unwrap_or(time::UtcOffset::UTC);
    time::OffsetDateTime::from_unix_timestamp(now.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(tashkent)
        .date()
        .to_string()
}

/// Unix ms at which a Tashkent calendar day `days` after `date` ends.
pub fn end_of_day(date: &str, days: u32) -> Option<i64> {
    let d = parse_iso_date(date).ok()?;
    let midnight_utc = d.midnight().assume_utc().unix_timestamp() * 1000;
    Some(midnight_utc - TASHKENT_OFFSET_MS + (i64::from(days) + 1) * DAY_MS)
}

/// Whether an edit the device made at `edited_at` (unix ms) to a lesson of `lesson_date` is
/// outside its window (`window_days`, `None` = no window) and not covered by `opening`.
pub fn is_late(
    lesson_date: &str,
    window_days: Option<u32>,
    opening: Option<&Opening>,
    edited_at: i64,
) -> bool {
    let Some(days) = window_days else {
        return false;
    };
    let Some(closes) = end_of_day(lesson_date, days) else {
        return false;
    };
    if edited_at < closes {
        return false;
    }
    match opening.and_then(|o| end_of_day(&o.until, 0)) {
        Some(open_until) => edited_at >= open_until,
        None => true,
    }
}

/// The window a journal's meta value says (`None`: no window).
pub fn window_days(meta_value: Option<&str>) -> Option<u32> {
    meta_value.and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600 * 1000;

    #[test]
    fn the_university_day_turns_at_tashkent_midnight() {
        // 2026-09-13 18:59:59 UTC is 23:59:59 in Tashkent; a second later it is the 14th.
        let before = end_of_day("2026-09-13", 0).expect("date") - 1000;
        assert_eq!(university_date(before), "2026-09-13");
        assert_eq!(university_date(before + 1000), "2026-09-14");
        assert_eq!(university_date(0), "1970-01-01");
    }

    #[test]
    fn the_lesson_day_ends_at_midnight_in_tashkent() {
        // 2026-09-14 00:00 +05:00 = 2026-09-13 19:00 UTC.
        let start = end_of_day("2026-09-13", 0).expect("date");
        assert_eq!(start, 1_789_326_000_000);
        assert!(!is_late("2026-09-14", Some(0), None, start));
        assert!(!is_late("2026-09-14", Some(0), None, start + 23 * H));
        assert!(is_late("2026-09-14", Some(0), None, start + 24 * H));
        assert!(!is_late(
            "2026-09-14",
            Some(3),
            None,
            start + 3 * 24 * H + 23 * H
        ));
        assert!(is_late("2026-09-14", Some(3), None, start + 4 * 24 * H));
        assert!(
            !is_late("2026-09-14", None, None, start + 400 * 24 * H),
            "no window"
        );
    }

    #[test]
    fn an_opening_extends_the_window_to_its_day() {
        let start = end_of_day("2026-09-13", 0).expect("date");
        let open = Opening {
            until: "2026-09-20".into(),
            reason: None,
        };
        let on_20th = start + 6 * 24 * H + 12 * H;
        assert!(!is_late("2026-09-14", Some(0), Some(&open), on_20th));
        assert!(is_late(
            "2026-09-14",
            Some(0),
            Some(&open),
            on_20th + 24 * H
        ));
    }
}
