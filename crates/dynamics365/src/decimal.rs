//! Exact decimal text to `Decimal128` values.

/// Parses decimal text (`-12.345`, `1.5E3`) into an integer scaled by
/// 10^`scale`, rounding half away from zero; `None` if it is not a number
/// or does not fit an `i128`.
pub(crate) fn parse_decimal(text: &str, scale: i8) -> Option<i128> {
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
    let shift = i64::from(exp) - frac.len() as i64 + i64::from(scale);
    let (keep, round_up) = if shift >= 0 {
        (digits.as_str(), false)
    } else {
        let drop = usize::try_from(-shift).ok()?;
        match digits.len().checked_sub(drop) {
            Some(k) => (&digits[..k], digits.as_bytes()[k] >= b'5'),
            None => ("", false),
        }
    };
    let mut v: i128 = 0;
    for b in keep.bytes() {
        v = v.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
    }
    if shift > 0 && v != 0 {
        v = v.checked_mul(10i128.checked_pow(u32::try_from(shift).ok()?)?)?;
    }
    if round_up {
        v = v.checked_add(1)?;
    }
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal("12.345", 2), Some(1235));
        assert_eq!(parse_decimal("-12.344", 2), Some(-1234));
        assert_eq!(parse_decimal("-12.345", 2), Some(-1235));
        assert_eq!(parse_decimal("1.5E3", 1), Some(15000));
        assert_eq!(parse_decimal("0.0004", 3), Some(0));
        assert_eq!(parse_decimal("0.0005", 3), Some(1));
        assert_eq!(parse_decimal("5", 0), Some(5));
        assert_eq!(parse_decimal(".5", 1), Some(5));
        assert_eq!(parse_decimal("0e999999", 2), Some(0));
        assert_eq!(
            parse_decimal("123456789012345678901234.1234567891", 10),
            Some(1234567890123456789012341234567891)
        );
        for bad in ["", "-", "1.2.3", "abc", "1e", "1e99"] {
            assert_eq!(parse_decimal(bad, 2), None, "{bad}");
        }
    }
}
