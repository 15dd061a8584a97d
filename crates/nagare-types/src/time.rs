//! UTC calendar fields of a Unix time, for the date texts the wire formats need (Java's
//! `Date.toString()` in error messages, SigV4's `X-Amz-Date`). No time zones, no I/O.

/// A Unix time broken into UTC calendar fields (proleptic Gregorian).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UtcDateTime {
    pub year: i64,
    /// 1..=12
    pub month: u32,
    /// 1..=31
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 = Thursday (1970-01-01 was one), counting forward.
    pub weekday_from_thursday: u32,
}

impl UtcDateTime {
    /// The calendar fields of `secs` seconds since 1970-01-01T00:00:00Z (negative: before).
    pub fn from_unix_secs(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        // Civil-from-days (Howard Hinnant's algorithm), exact over the whole i64 day range
        // that fits the arithmetic below.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        UtcDateTime {
            year: yoe + era * 400 + i64::from(month <= 2),
            month: month as u32,
            day: day as u32,
            hour: (sod / 3600) as u32,
            minute: (sod / 60 % 60) as u32,
            second: (sod % 60) as u32,
            weekday_from_thursday: days.rem_euclid(7) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_fields_of_known_instants() {
        let epoch = UtcDateTime::from_unix_secs(0);
        assert_eq!(
            (
                epoch.year,
                epoch.month,
                epoch.day,
                epoch.weekday_from_thursday
            ),
            (1970, 1, 1, 0)
        );
        let leap = UtcDateTime::from_unix_secs(951_782_400);
        assert_eq!((leap.year, leap.month, leap.day), (2000, 2, 29));
        let t = UtcDateTime::from_unix_secs(1_795_700_000);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second),
            (2026, 11, 26, 13, 33, 20)
        );
        let before = UtcDateTime::from_unix_secs(-1);
        assert_eq!(
            (before.year, before.month, before.day, before.hour),
            (1969, 12, 31, 23)
        );
    }
}
