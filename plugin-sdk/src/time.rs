//! Times for pages and headers: Unix seconds as a UTC calendar date and clock time. Components
//! have no time-zone database, so everything is UTC; [`now_ms`](crate::now_ms) gives the present.
//! The server formats its own times (UI pages, the access log) with this module too: it is the
//! one copy of the conversion.
//!
//! ```
//! use buildbot_plugin_sdk::time::UtcTime;
//!
//! let t = UtcTime::from_unix(1_700_000_000);
//! assert_eq!(t.to_string(), "2023-11-14 22:13:20");
//! assert_eq!((t.date(), t.clock()), ("2023-11-14".into(), "22:13:20".into()));
//! assert_eq!(t.http_date(), "Tue, 14 Nov 2023 22:13:20 GMT");
//! ```

use std::fmt;

/// A moment in UTC, split into calendar fields (proleptic Gregorian calendar).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    /// Year, e.g. 2023.
    pub year: i64,
    /// Month, 1 to 12.
    pub month: u32,
    /// Day of the month, 1 to 31.
    pub day: u32,
    /// Hour, 0 to 23.
    pub hour: u32,
    /// Minute, 0 to 59.
    pub minute: u32,
    /// Second, 0 to 59.
    pub second: u32,
    /// Day of the week, 0 = Monday to 6 = Sunday.
    pub weekday: u32,
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl UtcTime {
    /// The UTC date and time of `seconds` since 1970-01-01 00:00:00 UTC (negative: before).
    pub fn from_unix(seconds: i64) -> UtcTime {
        let days = seconds.div_euclid(86_400);
        let in_day = seconds.rem_euclid(86_400) as u32;
        // Days to a civil date by 400-year eras counted from 0000-03-01, so that the leap day
        // is the last day of a year (Howard Hinnant's civil_from_days).
        let shifted = days + 719_468;
        let era = shifted.div_euclid(146_097);
        let day_of_era = shifted.rem_euclid(146_097);
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
        UtcTime {
            year: year_of_era + era * 400 + i64::from(month <= 2),
            month: month as u32,
            day: day as u32,
            hour: in_day / 3600,
            minute: in_day % 3600 / 60,
            second: in_day % 60,
            // 1970-01-01 was a Thursday.
            weekday: (days + 3).rem_euclid(7) as u32,
        }
    }

    /// `YYYY-MM-DD`.
    pub fn date(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// `HH:MM:SS`.
    pub fn clock(&self) -> String {
        format!("{:02}:{:02}:{:02}", self.hour, self.minute, self.second)
    }

    /// The month's English abbreviation: `Jan` to `Dec`.
    pub fn month_abbr(&self) -> &'static str {
        MONTHS[(self.month - 1) as usize]
    }

    /// The HTTP date format (`Last-Modified`, `Date`): `Tue, 14 Nov 2023 22:13:20 GMT`.
    pub fn http_date(&self) -> String {
        format!(
            "{}, {:02} {} {} {} GMT",
            WEEKDAYS[self.weekday as usize],
            self.day,
            self.month_abbr(),
            self.year,
            self.clock()
        )
    }
}

/// `YYYY-MM-DD HH:MM:SS`.
impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.date(), self.clock())
    }
}

#[cfg(test)]
mod tests {
    use super::UtcTime;

    /// Every day over 1900..2400 against a naive calendar walk (from before the epoch, so
    /// negative day counts are checked too), with the weekdays going round.
    #[test]
    fn agrees_with_a_calendar_walk() {
        let mut days = -25_567i64; // 1900-01-01, a Monday
        for year in 1900..2400i64 {
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
            let february = if leap { 29 } else { 28 };
            let lengths = [31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
            for (m, len) in lengths.iter().enumerate() {
                for d in 1..=*len {
                    let t = UtcTime::from_unix(days * 86_400 + 3_723);
                    assert_eq!(
                        (t.year, t.month, t.day, t.hour, t.minute, t.second),
                        (year, m as u32 + 1, d, 1, 2, 3)
                    );
                    assert_eq!(i64::from(t.weekday), (days + 25_567).rem_euclid(7));
                    days += 1;
                }
            }
        }
    }

    #[test]
    fn calendar_edges() {
        for (seconds, text, weekday) in [
            (0, "1970-01-01 00:00:00", 3),
            (-1, "1969-12-31 23:59:59", 2),
            (951_782_400, "2000-02-29 00:00:00", 1),
            (4_107_542_400, "2100-03-01 00:00:00", 0),
            (1_700_000_000, "2023-11-14 22:13:20", 1),
        ] {
            let t = UtcTime::from_unix(seconds);
            assert_eq!(
                (t.to_string().as_str(), t.weekday),
                (text, weekday),
                "{seconds}"
            );
        }
        assert_eq!(
            UtcTime::from_unix(784_111_777).http_date(),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
    }
}
