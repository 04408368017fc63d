//! The two time formats of §4: `server_time_ms` (Unix time in milliseconds)
//! and `created_at`/`last_seen`/`ts` (RFC 3339 in UTC with `Z` and
//! milliseconds, `2026-11-21T05:00:00.123Z`).
//!
//! Written by hand (the proleptic Gregorian calendar from a day count, after
//! Howard Hinnant's `civil_from_days`) rather than pulling a date crate in
//! for one function. Times before 1970 are clamped to the epoch: the server
//! never has any.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 for earlier times, saturating far in
/// the future).
pub fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    })
}

/// `time` as RFC 3339 in UTC with milliseconds and `Z`, as §4 requires
/// (`2026-11-21T05:00:00.123Z`). Truncates below the millisecond.
pub fn rfc3339_millis(time: SystemTime) -> String {
    let millis = unix_millis(time);
    let secs = millis / 1000;
    let days = secs / 86_400;
    let secs_of_day = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        secs_of_day / 3600,
        secs_of_day / 60 % 60,
        secs_of_day % 60,
        millis % 1000
    )
}

/// (year, month 1..=12, day 1..=31) of a count of days since 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so that leap days end each 400-year era.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(millis)
    }

    #[test]
    fn formats_the_spec_example() {
        assert_eq!(
            rfc3339_millis(at(1_795_237_200_123)),
            "2026-11-21T05:00:00.123Z"
        );
    }

    #[test]
    fn formats_epoch_leap_days_and_century_rules() {
        assert_eq!(rfc3339_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(at(951_868_799_999)),
            "2000-02-29T23:59:59.999Z"
        );
        assert_eq!(
            rfc3339_millis(at(4_107_542_400_000)),
            "2100-03-01T00:00:00.000Z"
        );
        assert_eq!(
            rfc3339_millis(at(253_402_300_799_000)),
            "9999-12-31T23:59:59.000Z"
        );
        assert_eq!(
            rfc3339_millis(at(1_763_700_000_000)),
            "2025-11-21T04:40:00.000Z"
        );
    }

    #[test]
    fn truncates_below_the_millisecond_and_clamps_before_epoch() {
        let t = UNIX_EPOCH + Duration::from_nanos(1_999_999);
        assert_eq!(rfc3339_millis(t), "1970-01-01T00:00:00.001Z");
        assert_eq!(unix_millis(t), 1);
        let before = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(unix_millis(before), 0);
        assert_eq!(rfc3339_millis(before), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn every_day_of_four_centuries_is_consistent() {
        // Each following day is either the next day of the month or the 1st
        // of the next month, and months have their Gregorian lengths.
        let mut previous = civil_from_days(0);
        assert_eq!(previous, (1970, 1, 1));
        for days in 1..146_097 {
            let (y, m, d) = civil_from_days(days);
            let (py, pm, pd) = previous;
            if d == pd + 1 {
                assert_eq!((y, m), (py, pm));
            } else {
                assert_eq!(d, 1);
                let leap = py % 4 == 0 && (py % 100 != 0 || py % 400 == 0);
                let month_len = match pm {
                    2 if leap => 29,
                    2 => 28,
                    4 | 6 | 9 | 11 => 30,
                    _ => 31,
                };
                assert_eq!(pd, month_len, "{py}-{pm}");
                assert_eq!((y, m), if pm == 12 { (py + 1, 1) } else { (py, pm + 1) });
            }
            previous = (y, m, d);
        }
    }
}
