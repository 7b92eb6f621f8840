//! Column formats: a Date, Time or Timestamp column written
//! `"Timestamp,<pattern>"` reads its values with a Java `SimpleDateFormat`
//! pattern (as the vendor does), translated once, when the model file is
//! loaded, into chrono format items; `#epochSeconds` / `#epochMillis` read
//! numbers since 1970-01-01T00:00:00Z. Filter values sent to the API for
//! such a column are written in the same format.
//!
//! Pattern letters: `G` (era, `AD` only), `y` (`yy`: two digits), `M`
//! (`MMM` short and `MMMM` long English month names), `d`, `H`, `h`, `a`,
//! `m`, `s`, `SSS` (milliseconds), `E` (`EEE`/`EEEE` day names), `Z`
//! (`-0800`), `X`/`XX`/`XXX` (`Z` or `-08`, `-0800`, `-08:00`); text in
//! single quotes is literal (`''` is a quote). Any other letter is refused
//! when the file is loaded, naming the column and the pattern, rather than
//! misread later.

use chrono::format::{Fixed, Item, Parsed, StrftimeItems};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde_json::Value;

/// How a column's date/time values are written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Format {
    /// A `SimpleDateFormat` pattern and its chrono items.
    Pattern {
        text: String,
        items: Vec<Item<'static>>,
    },
    /// Seconds since the epoch, a number.
    EpochSeconds,
    /// Milliseconds since the epoch, a number.
    EpochMillis,
}

/// Translates a `SimpleDateFormat` pattern; the error says which letter is
/// not supported.
pub(crate) fn pattern(text: &str) -> Result<Format, String> {
    let mut items: Vec<Item<'static>> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let literal = |items: &mut Vec<Item<'static>>, s: String| {
        if !s.is_empty() {
            items.push(Item::OwnedLiteral(s.into_boxed_str()));
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // Quoted text; '' is one quote.
            let mut s = String::new();
            i += 1;
            if chars.get(i) == Some(&'\'') {
                literal(&mut items, "'".into());
                i += 1;
                continue;
            }
            loop {
                match chars.get(i) {
                    None => return Err("an unterminated quote".into()),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        s.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            literal(&mut items, s);
            continue;
        }
        if !c.is_ascii_alphabetic() {
            let mut s = String::new();
            while i < chars.len() && !chars[i].is_ascii_alphabetic() && chars[i] != '\'' {
                s.push(chars[i]);
                i += 1;
            }
            literal(&mut items, s);
            continue;
        }
        let mut n = 0;
        while i < chars.len() && chars[i] == c {
            n += 1;
            i += 1;
        }
        let spec: &'static str = match (c, n) {
            ('G', _) => {
                literal(&mut items, "AD".into());
                continue;
            }
            ('y', 2) => "%y",
            ('y', _) => "%Y",
            ('M', 1) => "%-m",
            ('M', 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', 1) => "%-d",
            ('d', _) => "%d",
            ('H', 1) => "%-H",
            ('H', _) => "%H",
            ('h', 1) => "%-I",
            ('h', _) => "%I",
            ('m', 1) => "%-M",
            ('m', _) => "%M",
            ('s', 1) => "%-S",
            ('s', _) => "%S",
            ('S', 3) => "%3f",
            ('a', _) => "%p",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('Z', _) => "%z",
            ('X', 1) | ('X', 2) => {
                items.push(Item::Fixed(Fixed::TimezoneOffsetZ));
                continue;
            }
            ('X', 3) => {
                items.push(Item::Fixed(Fixed::TimezoneOffsetColonZ));
                continue;
            }
            ('S', _) => {
                return Err(format!(
                    "{} (only SSS, milliseconds, is supported)",
                    "S".repeat(n)
                ));
            }
            _ => {
                return Err(format!(
                    "the letter {c} (supported: G y M d H h a m s SSS E Z X and 'quoted text')"
                ));
            }
        };
        items.extend(StrftimeItems::new(spec));
    }
    Ok(Format::Pattern {
        text: text.to_owned(),
        items,
    })
}

fn parsed(text: &str, items: &[Item<'static>]) -> Option<Parsed> {
    let mut p = Parsed::new();
    chrono::format::parse(&mut p, text.trim(), items.iter()).ok()?;
    Some(p)
}

/// Microseconds since the epoch of a number of seconds or milliseconds.
fn epoch_micros(v: &Value, per_second: i64) -> Option<i64> {
    let n = match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            (f.fract() == 0.0).then_some(f as i64)
        })?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    n.checked_mul(1_000_000 / per_second)
}

/// A timestamp value (microseconds since the epoch) read in `format`.
pub(crate) fn timestamp(v: &Value, format: &Format) -> Option<i64> {
    match format {
        Format::EpochSeconds => epoch_micros(v, 1),
        Format::EpochMillis => epoch_micros(v, 1000),
        Format::Pattern { items, .. } => {
            let p = parsed(v.as_str()?, items)?;
            let instant = match p.to_datetime() {
                Ok(dt) => dt.with_timezone(&Utc),
                // No offset in the pattern: the value is UTC.
                Err(_) => p.to_naive_datetime_with_offset(0).ok()?.and_utc(),
            };
            Some(instant.timestamp_micros())
        }
    }
}

/// A date value (days since the epoch) read in `format`.
pub(crate) fn date(v: &Value, format: &Format) -> Option<i32> {
    let day = match format {
        Format::Pattern { items, .. } => parsed(v.as_str()?, items)?.to_naive_date().ok()?,
        _ => DateTime::from_timestamp_micros(timestamp(v, format)?)?.date_naive(),
    };
    i32::try_from((day - NaiveDate::default()).num_days()).ok()
}

/// A time-of-day value (microseconds since midnight) read in `format`.
pub(crate) fn time(v: &Value, format: &Format) -> Option<i64> {
    let t = match format {
        Format::Pattern { items, .. } => parsed(v.as_str()?, items)?.to_naive_time().ok()?,
        _ => DateTime::from_timestamp_micros(timestamp(v, format)?)?.time(),
    };
    (t - NaiveTime::MIN).num_microseconds()
}

fn write(dt: NaiveDateTime, format: &Format) -> Option<String> {
    use std::fmt::Write;
    match format {
        Format::EpochSeconds => Some(dt.and_utc().timestamp().to_string()),
        Format::EpochMillis => Some(dt.and_utc().timestamp_millis().to_string()),
        Format::Pattern { items, .. } => {
            let mut out = String::new();
            // A pattern with fields the value lacks fails here, not panics.
            write!(out, "{}", dt.and_utc().format_with_items(items.iter())).ok()?;
            Some(out)
        }
    }
}

/// A date (days since the epoch) as a filter value: `format`, else ISO.
pub(crate) fn date_text(days: i32, format: Option<&Format>) -> Option<String> {
    let d = NaiveDate::default().checked_add_signed(chrono::Duration::days(days.into()))?;
    match format {
        None => Some(d.format("%Y-%m-%d").to_string()),
        Some(f) => write(d.and_time(NaiveTime::MIN), f),
    }
}

/// An instant (microseconds since the epoch) as a filter value: `format`,
/// else RFC 3339 in UTC.
pub(crate) fn timestamp_text(us: i64, format: Option<&Format>) -> Option<String> {
    let dt = DateTime::from_timestamp_micros(us)?;
    match format {
        None => Some(dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        Some(f) => write(dt.naive_utc(), f),
    }
}

#[cfg(test)]
#[path = "formats_tests.rs"]
mod tests;
