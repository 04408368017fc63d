//! The two time formats of §4: `server_time_ms` (Unix time in milliseconds)
//! and `created_at`/`last_seen`/`ts` (RFC 3339 in UTC with `Z` and
//! milliseconds, `2026-11-21T05:00:00.123Z`, formatted by `humantime`).
//! Times before 1970 are clamped to the epoch: the server never has any.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Unix time in milliseconds (0 for times before 1970).
pub fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// RFC 3339 in UTC with milliseconds and `Z`.
pub fn rfc3339_millis(time: SystemTime) -> String {
    let clamped = UNIX_EPOCH + Duration::from_millis(unix_millis(time));
    humantime::format_rfc3339_millis(clamped).to_string()
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
}
