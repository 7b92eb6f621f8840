//! Text to exact values, shared by every connector so that the same text
//! gives the same value (or the same refusal) whichever API sent it.
//!
//! Decimals are exact or refused: a value with more fractional digits than
//! the column's scale, or more digits than its precision, is an error rather
//! than a rounded number, since a changed value is worse than a clear error.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// Parses decimal text (`-12.345`, `+7`, `.5`, `1.5E3`) into an integer
/// scaled by 10^`scale`. `None` when the text is not a number, has nonzero
/// digits beyond `scale`, has more than `precision` digits (when given), or
/// does not fit an `i128`.
///
/// ```
/// use connectkit_core::value::parse_decimal;
/// assert_eq!(parse_decimal("12.30", Some(5), 2), Some(1230));
/// assert_eq!(parse_decimal("1.5E3", None, 1), Some(15000));
/// assert_eq!(parse_decimal("12.345", None, 2), None); // never rounded
/// ```
pub fn parse_decimal(text: &str, precision: Option<u8>, scale: i8) -> Option<i128> {
    let t = text.trim();
    let (neg, t) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], t[i + 1..].parse::<i32>().ok()?),
        None => (t, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let digits = format!("{int}{frac}");
    // The value is digits * 10^(exp - frac.len()); scaled, * 10^shift.
    let shift = i64::from(exp) - frac.len() as i64 + i64::from(scale);
    let keep = if shift >= 0 {
        digits.as_str()
    } else {
        let drop = usize::try_from(-shift).ok()?;
        let k = digits.len().saturating_sub(drop);
        if digits[k..].bytes().any(|b| b != b'0') {
            return None;
        }
        &digits[..k]
    };
    let keep = keep.trim_start_matches('0');
    let total = keep.len() + usize::try_from(shift.max(0)).ok()?;
    if keep.is_empty() {
        return Some(0);
    }
    if precision.is_some_and(|p| total > usize::from(p)) || total > 38 {
        return None;
    }
    let mut v: i128 = 0;
    for b in keep.bytes() {
        v = v.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
    }
    if shift > 0 {
        v = v.checked_mul(10i128.checked_pow(u32::try_from(shift).ok()?)?)?;
    }
    Some(if neg { -v } else { v })
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
pub fn parse_date(text: &str) -> Option<i32> {
    let text = text.trim();
    // The common exact form without chrono's format-string interpreter
    // (the same date, or none, as `parse_from_str` gives for it).
    if let Some((y, m, d)) = ymd(text.as_bytes()) {
        return days_from_civil(y, m, d).and_then(|days| i32::try_from(days).ok());
    }
    let d = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    // Days from 0001-01-01 (CE day 1) to 1970-01-01.
    const UNIX_EPOCH_FROM_CE: i32 = 719_163;
    Some(d.num_days_from_ce() - UNIX_EPOCH_FROM_CE)
}

/// The digits of `b` as a number, when they are all ASCII digits.
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |a, c| {
        c.is_ascii_digit().then(|| a * 10 + u32::from(c - b'0'))
    })
}

/// Year, month and day of exactly `YYYY-MM-DD` (any day number).
fn ymd(b: &[u8]) -> Option<(i64, u32, u32)> {
    match b {
        [y @ .., b'-', m0, m1, b'-', d0, d1] if y.len() == 4 => Some((
            i64::from(digits(y)?),
            digits(&[*m0, *m1])?,
            digits(&[*d0, *d1])?,
        )),
        _ => None,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date; `None` when the
/// month or the day does not exist (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> Option<i64> {
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if d == 0 || d > month_days {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// Microseconds since the epoch (UTC) of an RFC 3339 timestamp.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    // The form APIs send (`2024-01-02T03:04:05[.f](Z|±hh:mm)`) read here
    // without chrono's parser; anything else, a leap second included, is
    // chrono's to read (the fast path gives what chrono gives: proptest).
    if let Some(v) = fast_timestamp(text.as_bytes()) {
        return Some(v);
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|d| d.timestamp_micros())
}

fn fast_timestamp(b: &[u8]) -> Option<i64> {
    let (date, rest) = b.split_at_checked(10)?;
    let (y, m, d) = ymd(date)?;
    let [b'T', h0, h1, b':', n0, n1, b':', s0, s1, rest @ ..] = rest else {
        return None;
    };
    let (h, n, s) = (
        digits(&[*h0, *h1])?,
        digits(&[*n0, *n1])?,
        digits(&[*s0, *s1])?,
    );
    if h > 23 || n > 59 || s > 59 {
        return None;
    }
    let (micros, zone) = match rest {
        [b'.', frac @ ..] => {
            let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            // chrono keeps nanoseconds (nine digits) and gives micros of them.
            let kept = &frac[..n.min(6)];
            let scale = 10u32.pow(6 - u32::try_from(kept.len()).ok()?);
            (digits(kept)? * scale, &frac[n..])
        }
        zone => (0, zone),
    };
    let offset = match zone {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h0, h1, b':', m0, m1] => {
            let (oh, om) = (digits(&[*h0, *h1])?, digits(&[*m0, *m1])?);
            if oh > 23 || om > 59 {
                return None;
            }
            let secs = i64::from(oh * 3600 + om * 60);
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    let days = days_from_civil(y, m, d)?;
    let secs = days * 86_400 + i64::from(h * 3600 + n * 60 + s) - offset;
    Some(secs * 1_000_000 + i64::from(micros))
}

/// Microseconds since the epoch of an RFC 3339 timestamp, or of one
/// without offset (`2024-01-02T03:04:05`, `2024-01-02 03:04:05.6`), read as UTC.
pub fn parse_timestamp_lenient(text: &str) -> Option<i64> {
    let s = text.trim();
    parse_timestamp(s).or_else(|| {
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
            .map(|dt| dt.and_utc().timestamp_micros())
    })
}

/// Microseconds since midnight of `HH:MM:SS[.fff]` or `HH:MM`.
pub fn parse_time(text: &str) -> Option<i64> {
    let s = text.trim();
    let t = NaiveTime::parse_from_str(s, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
        .ok()?;
    Some(i64::from(t.num_seconds_from_midnight()) * 1_000_000 + i64::from(t.nanosecond() / 1_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The hand-read `YYYY-MM-DD` form gives what chrono's parser gives.
        #[test]
        fn dates_match_chrono(y in 0u32..10_000, m in 0u32..14, d in 0u32..33, pad in 0usize..2) {
            let text = format!("{}{y:04}-{m:02}-{d:02}", " ".repeat(pad));
            let chrono = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .ok()
                .and_then(|d| i32::try_from((d - NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days()).ok());
            proptest::prop_assert_eq!(parse_date(&text), chrono);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4_096))]

        /// The hand-read RFC 3339 form gives what chrono's parser gives,
        /// for values in and out of range and every fraction length.
        #[test]
        fn timestamps_match_chrono(
            y in 0u32..10_000, m in 0u32..14, d in 0u32..33,
            h in 0u32..26, n in 0u32..62, s in 0u32..62,
            frac in "(\\.[0-9]{0,12})?",
            zone in "Z|z|[+-][0-2][0-9]:[0-6][0-9]|[+-][0-9]{4}|",
            sep in "T|t| ",
        ) {
            let text = format!("{y:04}-{m:02}-{d:02}{sep}{h:02}:{n:02}:{s:02}{frac}{zone}");
            let chrono = DateTime::parse_from_rfc3339(&text).ok().map(|d| d.timestamp_micros());
            proptest::prop_assert_eq!(parse_timestamp(&text), chrono, "{}", text);
        }
    }

    #[test]
    fn decimals_are_exact_or_refused() {
        assert_eq!(parse_decimal("12.34", Some(10), 2), Some(1234));
        assert_eq!(parse_decimal("12.340", Some(10), 2), Some(1234));
        assert_eq!(parse_decimal("-0.5", Some(10), 2), Some(-50));
        assert_eq!(parse_decimal("7", Some(3), 2), Some(700));
        assert_eq!(parse_decimal("+7", None, 0), Some(7));
        assert_eq!(parse_decimal(".5", None, 1), Some(5));
        assert_eq!(parse_decimal("1.5E3", None, 1), Some(15000));
        assert_eq!(parse_decimal("150e-2", None, 1), Some(15));
        assert_eq!(parse_decimal("0e999999", None, 2), Some(0));
        assert_eq!(parse_decimal("000123.4500", Some(5), 2), Some(12345));
        assert_eq!(
            parse_decimal("123456789012345678901234.1234567891", None, 10),
            Some(1234567890123456789012341234567891)
        );
        // Never rounded, never over the precision.
        assert_eq!(parse_decimal("12.345", Some(10), 2), None);
        assert_eq!(parse_decimal("0.0005", None, 3), None);
        assert_eq!(parse_decimal("1234", Some(5), 2), None);
        for bad in ["", "-", "1.2.3", "abc", "1e", "1e99", " 1 2"] {
            assert_eq!(parse_decimal(bad, None, 2), None, "{bad}");
        }
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(parse_date("1970-01-02"), Some(1));
        assert_eq!(parse_date("2024-13-01"), None);
        assert_eq!(
            parse_timestamp("1970-01-01T00:00:01.5+01:00"),
            Some(-3_598_500_000)
        );
        assert_eq!(parse_timestamp("1970-01-01T00:00:01"), None);
        assert_eq!(
            parse_timestamp_lenient("1970-01-01 00:00:01"),
            Some(1_000_000)
        );
        assert_eq!(parse_time("01:00"), Some(3_600_000_000));
        assert_eq!(parse_time("00:00:00.25"), Some(250_000));
    }
}
