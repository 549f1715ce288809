//! Event time. mamori never reads the wall clock inside its core: every time is the
//! time an event says it happened, and whatever needs "now" is handed a [`Clock`].

use std::fmt;

/// Microseconds in one second.
pub const MICROS_PER_SEC: i64 = 1_000_000;

/// An instant in event time: microseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

/// A signed length of time in microseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span(pub i64);

/// Why a time or span could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("expected an RFC 3339 timestamp with an offset, such as 2026-11-21T10:00:00+09:00: {0}")]
    Rfc3339(String),
    #[error("expected a local date-time YYYY-MM-DDTHH:MM:SS[.fff], got {0:?}")]
    Naive(String),
    #[error("expected a span such as 90s, 10m, 24h, 30d or 2w, got {0:?}")]
    Span(String),
    #[error("time out of range")]
    Range,
}

impl Timestamp {
    pub const MIN: Timestamp = Timestamp(i64::MIN);
    pub const MAX: Timestamp = Timestamp(i64::MAX);

    /// Parses RFC 3339 with a mandatory offset (`Z` or `+09:00`).
    pub fn parse_rfc3339(s: &str) -> Result<Self, TimeError> {
        let ts: jiff::Timestamp = s.parse().map_err(|e: jiff::Error| TimeError::Rfc3339(e.to_string()))?;
        Ok(Timestamp(ts.as_microsecond()))
    }

    /// Parses a local date-time without offset (`YYYY-MM-DDTHH:MM:SS` or with a space,
    /// optional fraction) and places it at `offset_secs` east of UTC. This is the fast
    /// path for bulk files; it checks every digit and the calendar.
    pub fn parse_naive(s: &[u8], offset_secs: i32) -> Result<Self, TimeError> {
        Self::naive(s, offset_secs).ok_or_else(|| TimeError::Naive(String::from_utf8_lossy(s).into_owned()))
    }

    /// [`Timestamp::parse_naive`], `None` for text it refuses.
    #[inline]
    fn naive(s: &[u8], offset_secs: i32) -> Option<Self> {
        if s.len() < 19 || s[4] != b'-' || s[7] != b'-' || (s[10] != b'T' && s[10] != b' ') || s[13] != b':' || s[16] != b':' {
            return None;
        }
        // The two digits at `i`, as a number.
        let two = |i: usize| {
            let (a, b) = (s[i].wrapping_sub(b'0'), s[i + 1].wrapping_sub(b'0'));
            (a < 10 && b < 10).then_some(i64::from(a) * 10 + i64::from(b))
        };
        let y = two(0)? * 100 + two(2)?;
        let (mo, d, h, mi, sec) = (two(5)?, two(8)?, two(11)?, two(14)?, two(17)?);
        if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59 {
            return None;
        }
        let mut micros = 0i64;
        if s.len() > 19 {
            if s[19] != b'.' || s.len() == 20 || s.len() > 26 {
                return None;
            }
            for &c in &s[20..] {
                let c = c.wrapping_sub(b'0');
                if c >= 10 {
                    return None;
                }
                micros = micros * 10 + i64::from(c);
            }
            micros *= 10i64.pow(26 - s.len() as u32);
        }
        let days = days_from_civil(y, mo, d);
        let secs = days * 86_400 + h * 3600 + mi * 60 + sec - i64::from(offset_secs);
        Some(Timestamp(secs * MICROS_PER_SEC + micros))
    }

    pub fn from_secs(secs: i64) -> Self {
        Timestamp(secs * MICROS_PER_SEC)
    }

    pub fn as_micros(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch, rounded down.
    pub fn as_secs(self) -> i64 {
        self.0.div_euclid(MICROS_PER_SEC)
    }

    /// Seconds since local midnight and the day of the week (0 = Monday) at `offset_secs`.
    pub fn local_parts(self, offset_secs: i32) -> (i64, u8) {
        let local = self.as_secs() + i64::from(offset_secs);
        let days = local.div_euclid(86_400);
        let sod = local.rem_euclid(86_400);
        // 1970-01-01 was a Thursday (3 when Monday is 0).
        let dow = (days + 3).rem_euclid(7) as u8;
        (sod, dow)
    }

    pub fn saturating_sub(self, span: Span) -> Timestamp {
        Timestamp(self.0.saturating_sub(span.0))
    }

    pub fn saturating_add(self, span: Span) -> Timestamp {
        Timestamp(self.0.saturating_add(span.0))
    }

    pub fn since(self, earlier: Timestamp) -> Span {
        Span(self.0.saturating_sub(earlier.0))
    }

    /// RFC 3339 in UTC with millisecond precision, as decisions carry it.
    pub fn to_rfc3339(self) -> String {
        match jiff::Timestamp::from_microsecond(self.0) {
            Ok(ts) => format!("{ts:.3}"),
            Err(_) => format!("@{}us", self.0),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_rfc3339())
    }
}

impl Span {
    pub const ZERO: Span = Span(0);

    pub fn from_secs(s: i64) -> Self {
        Span(s * MICROS_PER_SEC)
    }

    pub fn as_micros(self) -> i64 {
        self.0
    }

    /// Parses `500ms`, `90s`, `10m`, `24h`, `30d`, `2w`; a bare `0` is zero. Several
    /// parts may be joined (`1h30m`).
    pub fn parse(s: &str) -> Result<Self, TimeError> {
        let bad = || TimeError::Span(s.to_string());
        let t = s.trim();
        if t == "0" {
            return Ok(Span::ZERO);
        }
        if t.is_empty() {
            return Err(bad());
        }
        let b = t.as_bytes();
        let mut i = 0;
        let mut total: i64 = 0;
        while i < b.len() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if start == i {
                return Err(bad());
            }
            let n: i64 = t[start..i].parse().map_err(|_| bad())?;
            let ustart = i;
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            let unit = match &t[ustart..i] {
                "us" => 1,
                "ms" => 1_000,
                "s" => MICROS_PER_SEC,
                "m" => 60 * MICROS_PER_SEC,
                "h" => 3_600 * MICROS_PER_SEC,
                "d" => 86_400 * MICROS_PER_SEC,
                "w" => 7 * 86_400 * MICROS_PER_SEC,
                _ => return Err(bad()),
            };
            total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or(TimeError::Range)?;
        }
        Ok(Span(total))
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Span {
    /// Shortest exact form: `10m`, `36h`, `1500ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v == 0 {
            return f.write_str("0s");
        }
        for (unit, name) in [
            (86_400 * MICROS_PER_SEC, "d"),
            (3_600 * MICROS_PER_SEC, "h"),
            (60 * MICROS_PER_SEC, "m"),
            (MICROS_PER_SEC, "s"),
            (1_000, "ms"),
        ] {
            if v % unit == 0 {
                return write!(f, "{}{}", v / unit, name);
            }
        }
        write!(f, "{v}us")
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date (year, month 1-12, day 1-31) of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A part of a timestamp read in a fixed offset, as CEL's `getHours()` and friends give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePart {
    /// The year, such as 2026.
    FullYear,
    /// 0 for January to 11 for December.
    Month,
    /// 1 to 31.
    Date,
    /// 0 to 30.
    DayOfMonth,
    /// 0 for Sunday to 6 for Saturday.
    DayOfWeek,
    /// 0 to 365.
    DayOfYear,
    Hours,
    Minutes,
    Seconds,
    Milliseconds,
}

impl TimePart {
    /// The CEL method name of each part.
    pub const ALL: [(&'static str, TimePart); 10] = [
        ("getFullYear", TimePart::FullYear),
        ("getMonth", TimePart::Month),
        ("getDate", TimePart::Date),
        ("getDayOfMonth", TimePart::DayOfMonth),
        ("getDayOfWeek", TimePart::DayOfWeek),
        ("getDayOfYear", TimePart::DayOfYear),
        ("getHours", TimePart::Hours),
        ("getMinutes", TimePart::Minutes),
        ("getSeconds", TimePart::Seconds),
        ("getMilliseconds", TimePart::Milliseconds),
    ];
}

impl Timestamp {
    /// The part of this time at `offset_secs` east of UTC.
    pub fn part(self, part: TimePart, offset_secs: i32) -> i64 {
        let local = self.0.div_euclid(MICROS_PER_SEC) + i64::from(offset_secs);
        let days = local.div_euclid(86_400);
        let sod = local.rem_euclid(86_400);
        match part {
            TimePart::Hours => sod / 3600,
            TimePart::Minutes => sod % 3600 / 60,
            TimePart::Seconds => sod % 60,
            TimePart::Milliseconds => self.0.rem_euclid(MICROS_PER_SEC) / 1000,
            // 1970-01-01 was a Thursday (4 when Sunday is 0).
            TimePart::DayOfWeek => (days + 4).rem_euclid(7),
            TimePart::FullYear | TimePart::Month | TimePart::Date | TimePart::DayOfMonth | TimePart::DayOfYear => {
                let (y, m, d) = civil_from_days(days);
                match part {
                    TimePart::FullYear => y,
                    TimePart::Month => m - 1,
                    TimePart::Date => d,
                    TimePart::DayOfMonth => d - 1,
                    _ => days - days_from_civil(y, 1, 1),
                }
            }
        }
    }
}

/// Reads a time zone for time parts: `UTC`, `Z`, a fixed offset `+09:00`, or `Asia/Tokyo`
/// (Japan keeps no daylight saving time, so it is the fixed offset +09:00).
pub fn parse_fixed_zone(s: &str) -> Option<i32> {
    match s {
        "UTC" | "Z" | "Etc/UTC" | "GMT" => return Some(0),
        "Asia/Tokyo" | "Japan" | "JST" => return Some(9 * 3600),
        _ => {}
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// The source of "now" for the parts of mamori that need one (decided-at stamps,
/// deadlines). The detection core takes times from events only.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp(jiff::Timestamp::now().as_microsecond())
    }
}

/// A clock that tests set and advance by hand.
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    pub fn new(t: Timestamp) -> Self {
        ManualClock(std::sync::atomic::AtomicI64::new(t.0))
    }
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, std::sync::atomic::Ordering::SeqCst);
    }
    pub fn advance(&self, s: Span) {
        self.0.fetch_add(s.0, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naive_matches_rfc3339() {
        let a = Timestamp::parse_naive(b"2018-04-01T00:00:31", 0).unwrap();
        let b = Timestamp::parse_rfc3339("2018-04-01T00:00:31Z").unwrap();
        assert_eq!(a, b);
        let c = Timestamp::parse_naive(b"2018-04-01 09:00:31.25", 9 * 3600).unwrap();
        assert_eq!(c, Timestamp::parse_rfc3339("2018-04-01T00:00:31.25Z").unwrap());
        assert_eq!(Timestamp::parse_naive(b"2020-02-29T00:00:00", 0).unwrap(), Timestamp::parse_rfc3339("2020-02-29T00:00:00Z").unwrap());
    }

    #[test]
    fn naive_rejects_bad() {
        for s in [
            "2018-04-31T00:00:00",
            "2019-02-29T00:00:00",
            "2018-04-01T24:00:00",
            "2018-04-01",
            "2018-04-01T00:00:0x",
            "2018-04-01T00:00:00.",
            "2018/04/01T00:00:00",
            // The bytes beside the digits.
            "2018-04-01T00:00:00.1:",
            "2018-04-01T00:00:0:",
            "2018-04-01T00:/0:00",
            "201:-04-01T00:00:00",
        ] {
            assert!(Timestamp::parse_naive(s.as_bytes(), 0).is_err(), "{s}");
        }
    }

    /// The parser as first written, digit by digit, to hold the fast one to.
    fn naive_by_digits(s: &[u8], offset_secs: i32) -> Option<Timestamp> {
        if s.len() < 19 || s[4] != b'-' || s[7] != b'-' || (s[10] != b'T' && s[10] != b' ') || s[13] != b':' || s[16] != b':' {
            return None;
        }
        let num = |a: usize, b: usize| -> Option<i64> {
            s[a..b].iter().try_fold(0i64, |v, &c| c.is_ascii_digit().then(|| v * 10 + i64::from(c - b'0')))
        };
        let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
        let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
        if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59 {
            return None;
        }
        let mut micros = 0;
        if s.len() > 19 {
            if s[19] != b'.' || s.len() == 20 || s.len() > 26 {
                return None;
            }
            micros = num(20, s.len())? * 10i64.pow(6 - (s.len() - 20) as u32);
        }
        let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - i64::from(offset_secs);
        Some(Timestamp(secs * MICROS_PER_SEC + micros))
    }

    proptest::proptest! {
        /// Times as files hold them, and the same with one byte changed.
        #[test]
        fn naive_reads_as_digit_by_digit(
            (y, mo, d, h, mi, sec) in (0u32..10_000, 0u32..14, 0u32..33, 0u32..26, 0u32..62, 0u32..62),
            frac in proptest::option::of("[0-9]{0,7}"),
            sep in proptest::sample::select(vec!['T', ' ', 't']),
            change in proptest::option::of((0usize..27, proptest::prop_oneof![
                proptest::strategy::Just(b'/'), proptest::strategy::Just(b':'), proptest::strategy::Just(b'.'), proptest::num::u8::ANY,
            ])),
            offset in -50_400i32..50_400,
        ) {
            let mut text = format!("{y:04}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}:{sec:02}").into_bytes();
            if let Some(f) = frac {
                text.push(b'.');
                text.extend_from_slice(f.as_bytes());
            }
            if let Some((at, b)) = change && at < text.len() {
                text[at] = b;
            }
            let fast = Timestamp::parse_naive(&text, offset).ok();
            proptest::prop_assert_eq!(fast, naive_by_digits(&text, offset), "{}", String::from_utf8_lossy(&text));
        }
    }

    #[test]
    fn rfc3339_needs_offset() {
        assert!(Timestamp::parse_rfc3339("2018-04-01T00:00:31").is_err());
        assert!(Timestamp::parse_rfc3339("2018-04-01T09:00:31+09:00").is_ok());
    }

    #[test]
    fn local_parts() {
        // 2018-04-01 was a Sunday.
        let t = Timestamp::parse_naive(b"2018-04-01T05:00:00", 0).unwrap();
        assert_eq!(t.local_parts(0), (5 * 3600, 6));
    }

    #[test]
    fn parts() {
        // 2018-04-01T05:06:07.089Z was a Sunday.
        let t = Timestamp::parse_rfc3339("2018-04-01T05:06:07.089Z").unwrap();
        let get = |p| t.part(p, 0);
        assert_eq!([get(TimePart::FullYear), get(TimePart::Month), get(TimePart::Date), get(TimePart::DayOfMonth)], [2018, 3, 1, 0]);
        assert_eq!([get(TimePart::DayOfWeek), get(TimePart::DayOfYear), get(TimePart::Hours)], [0, 31 + 28 + 31, 5]);
        assert_eq!([get(TimePart::Minutes), get(TimePart::Seconds), get(TimePart::Milliseconds)], [6, 7, 89]);
        // In Tokyo it is already 14:06 on Sunday; at -06:00 it is still Saturday 23:06.
        assert_eq!(t.part(TimePart::Hours, 9 * 3600), 14);
        assert_eq!(t.part(TimePart::DayOfWeek, -6 * 3600), 6);
        for z in -1_000_000..1_000_000i64 {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(parse_fixed_zone("Asia/Tokyo"), Some(32400));
        assert_eq!(parse_fixed_zone("-05:30"), Some(-19800));
        assert_eq!(parse_fixed_zone("Europe/Paris"), None);
    }

    #[test]
    fn spans() {
        assert_eq!(Span::parse("10m").unwrap(), Span::from_secs(600));
        assert_eq!(Span::parse("1h30m").unwrap(), Span::from_secs(5400));
        assert_eq!(Span::parse("30d").unwrap().to_string(), "30d");
        assert_eq!(Span::parse("1500ms").unwrap().to_string(), "1500ms");
        for bad in ["", "m", "10", "10x", "-5m", "1.5h"] {
            assert!(Span::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn format() {
        let t = Timestamp::parse_rfc3339("2026-11-21T19:00:00.123456+09:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-21T10:00:00.123Z");
    }
}
