use super::*;
use serde_json::json;

fn f(p: &str) -> Format {
    pattern(p).unwrap()
}

const DAY: i64 = 86_400_000_000;

#[test]
fn vendor_example_pattern_reads_dates() {
    // The vendor's own example: "birthday":"date,d-M-y-G".
    let fmt = f("d-M-y-G");
    assert_eq!(date(&json!("2-1-1970-AD"), &fmt), Some(1));
    assert_eq!(date(&json!("31-12-1969-AD"), &fmt), Some(-1));
    assert_eq!(date(&json!("2-1-1970-BC"), &fmt), None);
    assert_eq!(date_text(1, Some(&fmt)).as_deref(), Some("2-1-1970-AD"));
}

#[test]
fn timestamps_with_zones_names_and_quotes() {
    let fmt = f("yyyy-MM-dd'T'HH:mm:ss.SSSXXX");
    assert_eq!(
        timestamp(&json!("1970-01-02T01:00:00.250+01:00"), &fmt),
        Some(DAY + 250_000)
    );
    assert_eq!(
        timestamp(&json!("1970-01-02T00:00:00.000Z"), &fmt),
        Some(DAY)
    );
    let rfc1123 = f("EEE, dd MMM yyyy HH:mm:ss Z");
    assert_eq!(
        timestamp(&json!("Fri, 02 Jan 1970 00:00:01 +0000"), &rfc1123),
        Some(DAY + 1_000_000)
    );
    let us = f("MM/dd/yy hh:mm a");
    assert_eq!(
        timestamp(&json!("01/02/70 01:30 PM"), &us),
        Some(DAY + 48_600_000_000)
    );
    // No offset in the pattern: UTC.
    let plain = f("yyyyMMddHHmmss");
    assert_eq!(timestamp(&json!("19700102000000"), &plain), Some(DAY));
    assert_eq!(timestamp(&json!("1970-01-02"), &plain), None);
    let quoted = f("'It''s' yyyy");
    assert!(matches!(quoted, Format::Pattern { .. }));
    assert_eq!(
        timestamp_text(DAY, Some(&fmt)).as_deref(),
        Some("1970-01-02T00:00:00.000Z")
    );
    assert_eq!(time(&json!("13:05"), &f("HH:mm")), Some(47_100_000_000));
}

#[test]
fn epochs_read_numbers() {
    assert_eq!(timestamp(&json!(86_400), &Format::EpochSeconds), Some(DAY));
    assert_eq!(
        timestamp(&json!("86400000"), &Format::EpochMillis),
        Some(DAY)
    );
    assert_eq!(timestamp(&json!("soon"), &Format::EpochMillis), None);
    assert_eq!(date(&json!(86_400), &Format::EpochSeconds), Some(1));
    assert_eq!(
        timestamp_text(DAY, Some(&Format::EpochMillis)).as_deref(),
        Some("86400000")
    );
}

#[test]
fn unknown_letters_are_refused_by_name() {
    let e = pattern("yyyy-ww").unwrap_err();
    assert!(e.contains("the letter w"), "{e}");
    assert!(pattern("HH:mm:ss.SS").unwrap_err().contains("only SSS"));
    assert!(pattern("yyyy 'open").unwrap_err().contains("unterminated"));
    assert!(pattern("z").is_err());
}
