//! The benchmark table: rows of 10 mixed-type columns, generated
//! deterministically from the row number, rendered as JSON page bodies once
//! so that the server only hands out bytes.

use std::fmt::Write;

use bytes::Bytes;

/// The columns and their model-file types, in order.
pub const COLUMNS: [(&str, &str); 10] = [
    ("id", "BigInt,#key"),
    ("name", "VarChar(64)"),
    ("email", "VarChar(64)"),
    ("amount", "Double"),
    ("quantity", "Integer"),
    ("active", "Boolean"),
    ("created", "Timestamp"),
    ("birthday", "Date"),
    ("category", "VarChar(16)"),
    ("score", "Double"),
];

const CATEGORIES: [&str; 5] = ["alpha", "beta", "gamma", "delta", "epsilon"];

/// A well-mixed 64-bit value of `i` (splitmix64).
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Year, month, day of a day count since 1970-01-01 (proleptic Gregorian).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Appends row `i` as a JSON object; `key` makes it a Dataverse row: the
/// `@odata.etag` annotation Dataverse sends with every row, then a GUID key
/// (`accountid`), for the Dynamics 365 entity set.
pub fn row_json(i: u64, key: bool, out: &mut String) {
    let r = mix(i);
    let secs = 1_700_000_000 + (i as i64) * 37;
    let (y, mo, d) = civil(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    let (by, bm, bd) = civil(-3_650 + (r % 18_250) as i64);
    out.push('{');
    if key {
        let _ = write!(
            out,
            r#""@odata.etag":"W/\"{}\"","accountid":"{:08x}-0000-4000-8000-{:012x}","#,
            1_000_000 + (r % 9_000_000),
            (r >> 32) as u32,
            i
        );
    }
    let _ = write!(
        out,
        r#""id":{i},"name":"customer {i}","email":"user{i}@example.com","amount":{}.{:02},"quantity":{},"active":{},"created":"{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z","birthday":"{by:04}-{bm:02}-{bd:02}","category":"{}","score":"#,
        r % 100_000,
        (r >> 20) % 100,
        (r >> 8) % 1_000,
        r & 1 == 1,
        t / 3600,
        (t / 60) % 60,
        t % 60,
        CATEGORIES[(r >> 40) as usize % CATEGORIES.len()],
    );
    if i.is_multiple_of(10) {
        out.push_str("null");
    } else {
        let _ = write!(out, "{:.3}", (r >> 24) as f64 % 10_000.0 / 7.0);
    }
    out.push('}');
}

/// The rows `start..end` as the comma-separated objects of a JSON array.
pub fn rows_json(start: u64, end: u64, key: bool) -> String {
    let mut s = String::with_capacity((end - start) as usize * 260);
    for i in start..end {
        if i > start {
            s.push(',');
        }
        row_json(i, key, &mut s);
    }
    s
}

/// `{"total":N,"data":[...]}` pages of `page` rows for the first `rows` rows.
/// Each page states the table's size (`total`), as many APIs do.
pub fn rest_pages(rows: u64, page: u64) -> Vec<Bytes> {
    (0..rows.div_ceil(page))
        .map(|p| {
            let (start, end) = (p * page, ((p + 1) * page).min(rows));
            Bytes::from(format!(
                r#"{{"total":{rows},"data":[{}]}}"#,
                rows_json(start, end, false)
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_valid_json_with_ten_columns() {
        let page = &rest_pages(25, 10)[2];
        let v: serde_json::Value = serde_json::from_slice(page).unwrap();
        let rows = v["data"].as_array().unwrap();
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[0].as_object().unwrap().len(), 10);
        assert_eq!(rows[0]["id"], 20);
        assert!(rows[0]["score"].is_null());
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(19_723), (2024, 1, 1));
        let mut s = String::new();
        row_json(7, true, &mut s);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 12);
        assert!(v["@odata.etag"].as_str().unwrap().starts_with("W/\""));
    }
}
