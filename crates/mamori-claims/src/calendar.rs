//! Japanese public holidays and bank business days.
//!
//! Holidays follow the Act on National Holidays (国民の祝日に関する法律) as amended, for
//! the years [`FIRST_YEAR`] to [`LAST_YEAR`]:
//!
//! - Fixed days: New Year's Day 1/1, National Foundation Day 2/11, Emperor's Birthday
//!   (12/23 until 2018, 2/23 from 2020, none in 2019), Shōwa Day 4/29 (Greenery Day until
//!   2006), Constitution Memorial Day 5/3, Greenery Day 5/4 (from 2007), Children's Day 5/5,
//!   Mountain Day 8/11 (from 2016), Culture Day 11/3, Labour Thanksgiving Day 11/23.
//! - Happy Monday days: Coming of Age Day (2nd Monday of January), Marine Day (3rd Monday
//!   of July from 2003, 7/20 before), Respect for the Aged Day (3rd Monday of September from
//!   2003, 9/15 before), Health and Sports Day, Sports Day from 2020 (2nd Monday of October).
//! - Vernal and Autumnal Equinox Days by the standard formula for 1980–2099,
//!   `floor(20.8431 + 0.242194 (y − 1980) − floor((y − 1980) / 4))` for March and
//!   `floor(23.2488 + ...)` for September, in exact integer arithmetic. The official day is
//!   announced in February of the year before: later years are the formula's prediction.
//! - Special days: 2019-05-01 (Enthronement Day), 2019-10-22 (Enthronement Ceremony Day);
//!   the Olympic moves of 2020 (Marine Day 7/23, Sports Day 7/24, Mountain Day 8/10) and
//!   2021 (7/22, 7/23, 8/8), which replace those days' usual dates.
//! - Substitute Holiday (振替休日): a holiday on a Sunday makes the next day that is not
//!   itself a holiday a holiday.
//! - Citizens' Holiday (国民の休日): a day that is not a holiday but falls between two
//!   holidays is one (5/4 until 2006 unless a Sunday; 2019-04-30 and 2019-05-02; some
//!   September Tuesdays such as 2009-09-22, 2015-09-22, 2026-09-22).
//!
//! Outside [`FIRST_YEAR`]..=[`LAST_YEAR`] nothing is known: [`is_public_holiday`] is
//! `false` and [`holiday_name`] is `None` (check [`supported`] first), and a bank business
//! day is then any weekday other than 12/31 to 1/3.
//!
//! A bank business day (銀行営業日) is a day that is not a Saturday, Sunday, public holiday
//! or one of the year-end closing days 12/31, 1/1, 1/2 and 1/3.

use jiff::civil::{Date, Weekday};

/// The first year whose holidays are known.
pub const FIRST_YEAR: i16 = 2000;

/// The last year whose holidays are known.
pub const LAST_YEAR: i16 = 2099;

/// Whether the holidays of `year` are known.
pub fn supported(year: i16) -> bool {
    (FIRST_YEAR..=LAST_YEAR).contains(&year)
}

/// Whether `d` is a public holiday: a national holiday, a substitute holiday or a
/// citizens' holiday. Always `false` outside the [`supported`] years.
pub fn is_public_holiday(d: Date) -> bool {
    holiday_name(d).is_some()
}

/// The English name of the public holiday on `d`, if it is one ("Vernal Equinox Day",
/// "Substitute Holiday", "Citizens' Holiday", ...). Always `None` outside the
/// [`supported`] years.
pub fn holiday_name(d: Date) -> Option<&'static str> {
    if let Some(name) = national(d) {
        return Some(name);
    }
    if !supported(d.year()) {
        return None;
    }
    // Substitute: the nearest non-holiday after a run of holidays that began on a Sunday.
    let mut p = d.yesterday().ok();
    while let Some(q) = p {
        if national(q).is_none() {
            break;
        }
        if q.weekday() == Weekday::Sunday {
            return Some("Substitute Holiday");
        }
        p = q.yesterday().ok();
    }
    // Citizens': between two national holidays (until 2006, not on a Sunday).
    let before = d.yesterday().ok().and_then(national).is_some();
    let after = d.tomorrow().ok().and_then(national).is_some();
    if before && after && (d.year() >= 2007 || d.weekday() != Weekday::Sunday) {
        return Some("Citizens' Holiday");
    }
    None
}

/// The national holiday (国民の祝日) on `d`, without substitute and citizens' holidays.
fn national(d: Date) -> Option<&'static str> {
    let (y, m, day) = (d.year(), d.month(), d.day());
    if !supported(y) {
        return None;
    }
    match (y, m, day) {
        (2019, 5, 1) => return Some("Enthronement Day"),
        (2019, 10, 22) => return Some("Enthronement Ceremony Day"),
        (2020, 7, 23) | (2021, 7, 22) => return Some("Marine Day"),
        (2020, 7, 24) | (2021, 7, 23) => return Some("Sports Day"),
        (2020, 8, 10) | (2021, 8, 8) => return Some("Mountain Day"),
        _ => {}
    }
    let olympic = y == 2020 || y == 2021;
    let nth_monday = |n: i8| d.weekday() == Weekday::Monday && (day - 1) / 7 + 1 == n;
    let name = match (m, day) {
        (1, 1) => "New Year's Day",
        (1, _) if nth_monday(2) => "Coming of Age Day",
        (2, 11) => "National Foundation Day",
        (2, 23) if y >= 2020 => "Emperor's Birthday",
        (3, _) if day == equinox(y, VERNAL) => "Vernal Equinox Day",
        (4, 29) if y >= 2007 => "Shōwa Day",
        (4, 29) => "Greenery Day",
        (5, 3) => "Constitution Memorial Day",
        (5, 4) if y >= 2007 => "Greenery Day",
        (5, 5) => "Children's Day",
        (7, 20) if y < 2003 => "Marine Day",
        (7, _) if y >= 2003 && !olympic && nth_monday(3) => "Marine Day",
        (8, 11) if y >= 2016 && !olympic => "Mountain Day",
        (9, 15) if y < 2003 => "Respect for the Aged Day",
        (9, _) if y >= 2003 && nth_monday(3) => "Respect for the Aged Day",
        (9, _) if day == equinox(y, AUTUMNAL) => "Autumnal Equinox Day",
        (10, _) if !olympic && nth_monday(2) => {
            if y >= 2020 {
                "Sports Day"
            } else {
                "Health and Sports Day"
            }
        }
        (11, 3) => "Culture Day",
        (11, 23) => "Labour Thanksgiving Day",
        (12, 23) if y <= 2018 => "Emperor's Birthday",
        _ => return None,
    };
    Some(name)
}

/// 20.8431 in millionths.
const VERNAL: i64 = 20_843_100;
/// 23.2488 in millionths.
const AUTUMNAL: i64 = 23_248_800;

/// The day of the equinox in its month (March or September), for 1980..=2099.
fn equinox(year: i16, base_millionths: i64) -> i8 {
    let t = i64::from(year) - 1980;
    ((base_millionths + 242_194 * t).div_euclid(1_000_000) - t.div_euclid(4)) as i8
}

/// Whether Japanese banks are open on `d`: not a Saturday, Sunday or public holiday, and
/// not 12/31, 1/1, 1/2 or 1/3.
pub fn is_bank_business_day(d: Date) -> bool {
    if matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) {
        return false;
    }
    if (d.month() == 12 && d.day() == 31) || (d.month() == 1 && d.day() <= 3) {
        return false;
    }
    !is_public_holiday(d)
}

/// The `n`-th bank business day after `start` (`start` itself is not counted). With
/// `n = 0`: `start` if it is a business day, else the next business day (so from a closed
/// day, `n = 0` and `n = 1` give the same day).
///
/// # Panics
/// If the result would be after 9999-12-31; see [`checked_add_business_days`].
pub fn add_business_days(start: Date, n: u32) -> Date {
    checked_add_business_days(start, n).expect("business day within 9999-12-31")
}

/// [`add_business_days`], or `None` if the result would be after 9999-12-31.
pub fn checked_add_business_days(start: Date, n: u32) -> Option<Date> {
    let mut d = start;
    if n == 0 {
        while !is_bank_business_day(d) {
            d = d.tomorrow().ok()?;
        }
        return Some(d);
    }
    let mut left = n;
    while left > 0 {
        d = d.tomorrow().ok()?;
        if is_bank_business_day(d) {
            left -= 1;
        }
    }
    Some(d)
}

/// The number of bank business days in `(a, b]`; negative (minus those in `(b, a]`) when
/// `b` is before `a`. For `n >= 1`, `business_days_between(s, add_business_days(s, n)) == n`.
pub fn business_days_between(a: Date, b: Date) -> i64 {
    if b < a {
        return -business_days_between(b, a);
    }
    let mut count = 0;
    let mut d = a;
    while d < b {
        // d < b <= 9999-12-31, so there is a next day.
        d = d.tomorrow().expect("a day before b has a next day");
        if is_bank_business_day(d) {
            count += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::ToSpan;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn holidays(year: i16) -> Vec<(i8, i8, &'static str)> {
        let mut out = Vec::new();
        let mut d = date(year, 1, 1);
        while d.year() == year {
            if let Some(name) = holiday_name(d) {
                out.push((d.month(), d.day(), name));
            }
            d = d.tomorrow().unwrap();
        }
        out
    }

    fn days(year: i16) -> Vec<(i8, i8)> {
        holidays(year).into_iter().map(|(m, d, _)| (m, d)).collect()
    }

    #[test]
    fn holidays_2026() {
        let want = [
            (1, 1, "New Year's Day"),
            (1, 12, "Coming of Age Day"),
            (2, 11, "National Foundation Day"),
            (2, 23, "Emperor's Birthday"),
            (3, 20, "Vernal Equinox Day"),
            (4, 29, "Shōwa Day"),
            (5, 3, "Constitution Memorial Day"),
            (5, 4, "Greenery Day"),
            (5, 5, "Children's Day"),
            (5, 6, "Substitute Holiday"),
            (7, 20, "Marine Day"),
            (8, 11, "Mountain Day"),
            (9, 21, "Respect for the Aged Day"),
            (9, 22, "Citizens' Holiday"),
            (9, 23, "Autumnal Equinox Day"),
            (10, 12, "Sports Day"),
            (11, 3, "Culture Day"),
            (11, 23, "Labour Thanksgiving Day"),
        ];
        assert_eq!(holidays(2026), want);
    }

    #[test]
    fn holidays_2025() {
        let want = [
            (1, 1, "New Year's Day"),
            (1, 13, "Coming of Age Day"),
            (2, 11, "National Foundation Day"),
            (2, 23, "Emperor's Birthday"),
            (2, 24, "Substitute Holiday"),
            (3, 20, "Vernal Equinox Day"),
            (4, 29, "Shōwa Day"),
            (5, 3, "Constitution Memorial Day"),
            (5, 4, "Greenery Day"),
            (5, 5, "Children's Day"),
            (5, 6, "Substitute Holiday"),
            (7, 21, "Marine Day"),
            (8, 11, "Mountain Day"),
            (9, 15, "Respect for the Aged Day"),
            (9, 23, "Autumnal Equinox Day"),
            (10, 13, "Sports Day"),
            (11, 3, "Culture Day"),
            (11, 23, "Labour Thanksgiving Day"),
            (11, 24, "Substitute Holiday"),
        ];
        assert_eq!(holidays(2025), want);
    }

    #[test]
    fn abdication_and_enthronement_2019() {
        assert_eq!(
            days(2019),
            [
                (1, 1),
                (1, 14),
                (2, 11),
                (3, 21),
                (4, 29),
                (4, 30),
                (5, 1),
                (5, 2),
                (5, 3),
                (5, 4),
                (5, 5),
                (5, 6),
                (7, 15),
                (8, 11),
                (8, 12),
                (9, 16),
                (9, 23),
                (10, 14),
                (10, 22),
                (11, 3),
                (11, 4),
                (11, 23),
            ]
        );
        assert_eq!(holiday_name(date(2019, 4, 30)), Some("Citizens' Holiday"));
        assert_eq!(holiday_name(date(2019, 5, 1)), Some("Enthronement Day"));
        assert_eq!(holiday_name(date(2019, 5, 2)), Some("Citizens' Holiday"));
        assert_eq!(holiday_name(date(2019, 10, 22)), Some("Enthronement Ceremony Day"));
        assert_eq!(holiday_name(date(2019, 10, 14)), Some("Health and Sports Day"));
        // No Emperor's Birthday in 2019.
        assert!(!is_public_holiday(date(2019, 2, 23)));
        assert!(!is_public_holiday(date(2019, 12, 23)));
        assert_eq!(holiday_name(date(2018, 12, 23)), Some("Emperor's Birthday"));
    }

    #[test]
    fn olympic_moves_2020_2021() {
        assert_eq!(
            days(2020),
            [
                (1, 1),
                (1, 13),
                (2, 11),
                (2, 23),
                (2, 24),
                (3, 20),
                (4, 29),
                (5, 3),
                (5, 4),
                (5, 5),
                (5, 6),
                (7, 23),
                (7, 24),
                (8, 10),
                (9, 21),
                (9, 22),
                (11, 3),
                (11, 23),
            ]
        );
        assert_eq!(holiday_name(date(2020, 7, 23)), Some("Marine Day"));
        assert_eq!(holiday_name(date(2020, 7, 24)), Some("Sports Day"));
        assert_eq!(holiday_name(date(2020, 8, 10)), Some("Mountain Day"));
        for (m, d) in [(7, 20), (8, 11), (10, 12)] {
            assert!(!is_public_holiday(date(2020, m, d)), "2020-{m}-{d}");
        }
        assert_eq!(
            days(2021),
            [
                (1, 1),
                (1, 11),
                (2, 11),
                (2, 23),
                (3, 20),
                (4, 29),
                (5, 3),
                (5, 4),
                (5, 5),
                (7, 22),
                (7, 23),
                (8, 8),
                (8, 9),
                (9, 20),
                (9, 23),
                (11, 3),
                (11, 23),
            ]
        );
        assert_eq!(holiday_name(date(2021, 8, 9)), Some("Substitute Holiday"));
        for (m, d) in [(7, 19), (8, 11), (10, 11)] {
            assert!(!is_public_holiday(date(2021, m, d)), "2021-{m}-{d}");
        }
    }

    #[test]
    fn substitutes() {
        for d in [date(2024, 2, 12), date(2024, 8, 12), date(2024, 11, 4), date(2008, 5, 6), date(2009, 5, 6), date(2002, 5, 6)] {
            assert_eq!(holiday_name(d), Some("Substitute Holiday"), "{d}");
            assert_ne!(d.weekday(), Weekday::Sunday);
        }
        // 2009-05-03 is a Sunday: 5/4 and 5/5 are holidays, so the substitute is 5/6.
        assert_eq!(holiday_name(date(2009, 5, 4)), Some("Greenery Day"));
        assert!(!is_public_holiday(date(2009, 5, 7)));
    }

    #[test]
    fn citizens_holidays() {
        for d in [date(2009, 9, 22), date(2015, 9, 22), date(2026, 9, 22), date(2032, 9, 21), date(2005, 5, 4)] {
            assert_eq!(holiday_name(d), Some("Citizens' Holiday"), "{d}");
        }
        // Until 2006 a Sunday between two holidays stayed a plain Sunday.
        assert_eq!(holiday_name(date(2003, 5, 4)), None);
        assert_eq!(holiday_name(date(2006, 4, 29)), Some("Greenery Day"));
        assert_eq!(holiday_name(date(2007, 4, 29)), Some("Shōwa Day"));
    }

    #[test]
    fn pre_2003_fixed_days() {
        assert_eq!(holiday_name(date(2002, 7, 20)), Some("Marine Day"));
        assert_eq!(holiday_name(date(2002, 9, 15)), Some("Respect for the Aged Day"));
        assert_eq!(holiday_name(date(2002, 9, 16)), Some("Substitute Holiday"));
        assert_eq!(holiday_name(date(2003, 7, 21)), Some("Marine Day"));
        assert_eq!(holiday_name(date(2000, 10, 9)), Some("Health and Sports Day"));
        assert!(!is_public_holiday(date(2000, 10, 10)));
        assert!(!is_public_holiday(date(2015, 8, 11)));
        assert_eq!(holiday_name(date(2016, 8, 11)), Some("Mountain Day"));
    }

    #[test]
    fn equinoxes() {
        let vernal =
            [(2000, 20), (2003, 21), (2012, 20), (2019, 21), (2023, 21), (2024, 20), (2025, 20), (2026, 20), (2027, 21), (2092, 19)];
        for (y, d) in vernal {
            assert_eq!(holiday_name(date(y, 3, d)), Some("Vernal Equinox Day"), "{y}");
        }
        let autumnal = [(2000, 23), (2012, 22), (2016, 22), (2019, 23), (2024, 22), (2025, 23), (2026, 23), (2044, 22)];
        for (y, d) in autumnal {
            assert_eq!(holiday_name(date(y, 9, d)), Some("Autumnal Equinox Day"), "{y}");
        }
    }

    #[test]
    fn every_supported_year_is_sane() {
        for y in FIRST_YEAR..=LAST_YEAR {
            let h = holidays(y);
            assert!((15..=22).contains(&h.len()), "{y}: {}", h.len());
            for (m, d, name) in h {
                let day = date(y, m, d);
                if name == "Substitute Holiday" {
                    assert_ne!(day.weekday(), Weekday::Sunday, "{day}");
                }
            }
            assert_eq!(holidays(y).iter().filter(|h| h.2 == "Vernal Equinox Day").count(), 1, "{y}");
            assert_eq!(holidays(y).iter().filter(|h| h.2 == "Autumnal Equinox Day").count(), 1, "{y}");
        }
    }

    #[test]
    fn unsupported_years() {
        assert!(!supported(1999) && supported(2000) && supported(2099) && !supported(2100));
        assert!(!is_public_holiday(date(1999, 1, 1)));
        assert!(!is_public_holiday(date(2100, 1, 1)));
        assert_eq!(holiday_name(date(2100, 11, 3)), None);
        assert!(is_bank_business_day(date(2100, 11, 3)));
        assert!(!is_bank_business_day(date(2100, 1, 1)));
    }

    #[test]
    fn bank_closing_days() {
        for d in [date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 2), date(2027, 1, 3), date(2026, 5, 6), date(2026, 9, 22)] {
            assert!(!is_bank_business_day(d), "{d}");
        }
        for d in [date(2026, 12, 29), date(2026, 12, 30), date(2027, 1, 4), date(2026, 5, 1), date(2026, 5, 7)] {
            assert!(is_bank_business_day(d), "{d}");
        }
        assert!(!is_bank_business_day(date(2026, 5, 2)));
        assert!(!is_bank_business_day(date(2026, 5, 10)));
    }

    #[test]
    fn golden_week_deadline() {
        assert_eq!(add_business_days(date(2026, 4, 30), 5), date(2026, 5, 12));
        assert_eq!(add_business_days(date(2026, 4, 30), 1), date(2026, 5, 1));
        assert_eq!(add_business_days(date(2026, 4, 30), 2), date(2026, 5, 7));
        assert_eq!(business_days_between(date(2026, 4, 30), date(2026, 5, 12)), 5);
    }

    #[test]
    fn new_year_deadline() {
        // Banks open on 12/29 and 12/30 and close 12/31 to 1/3; 2027-01-04 is a Monday.
        let start = date(2026, 12, 28);
        let got: Vec<Date> = (1..=7).map(|n| add_business_days(start, n)).collect();
        assert_eq!(
            got,
            [
                date(2026, 12, 29),
                date(2026, 12, 30),
                date(2027, 1, 4),
                date(2027, 1, 5),
                date(2027, 1, 6),
                date(2027, 1, 7),
                date(2027, 1, 8)
            ]
        );
        assert_eq!(add_business_days(start, 5), date(2027, 1, 6));
        // Coming of Age Day 2027 is 1/11.
        assert_eq!(add_business_days(date(2027, 1, 8), 1), date(2027, 1, 12));
    }

    #[test]
    fn zero_days() {
        assert_eq!(add_business_days(date(2026, 5, 1), 0), date(2026, 5, 1));
        assert_eq!(add_business_days(date(2026, 5, 2), 0), date(2026, 5, 7));
        assert_eq!(add_business_days(date(2026, 12, 31), 0), date(2027, 1, 4));
        assert_eq!(business_days_between(date(2026, 5, 7), date(2026, 5, 7)), 0);
        assert_eq!(business_days_between(date(2026, 5, 12), date(2026, 4, 30)), -5);
        assert_eq!(checked_add_business_days(date(9999, 12, 30), 1), None);
        assert_eq!(checked_add_business_days(date(9999, 12, 30), 0), Some(date(9999, 12, 30)));
    }

    fn any_date() -> impl Strategy<Value = Date> {
        (0i32..36_500).prop_map(|k| date(2000, 1, 1).checked_add(k.days()).unwrap())
    }

    proptest! {
        #[test]
        fn lands_on_a_business_day(start in any_date(), n in 0u32..400) {
            prop_assert!(is_bank_business_day(add_business_days(start, n)));
        }

        #[test]
        fn monotone_in_n(start in any_date(), n in 0u32..400) {
            let a = add_business_days(start, n);
            let b = add_business_days(start, n + 1);
            prop_assert!(a >= start);
            prop_assert!(a <= b);
            // Strictly, except that n = 0 and n = 1 meet on the day after a closed start.
            prop_assert!(a < b || (n == 0 && !is_bank_business_day(start)));
        }

        #[test]
        fn between_inverts_add(start in any_date(), n in 1u32..400) {
            let end = add_business_days(start, n);
            prop_assert_eq!(business_days_between(start, end), i64::from(n));
            prop_assert_eq!(business_days_between(end, start), -i64::from(n));
        }

        #[test]
        fn zero_is_identity_on_business_days(start in any_date()) {
            let d = add_business_days(start, 0);
            prop_assert_eq!(d == start, is_bank_business_day(start));
            prop_assert_eq!(business_days_between(start, d), i64::from(d != start));
        }
    }
}
