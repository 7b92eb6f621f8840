//! The one-pass reader must agree with the general path (`decode.rs`) on
//! every body: same batches, same errors.

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::decode::{decode, page_rows};
use crate::model::{Entry, parse};
use crate::table::{Rows, TableDef};

fn decode_page(
    t: &TableDef,
    bytes: &[u8],
    root_offset: usize,
    row_offset: usize,
    max_rows: Option<usize>,
) -> Result<Streamed, StreamError> {
    PageReader::for_table(t)
        .expect("a top-level table with a row path")
        .decode(t, bytes, root_offset, row_offset, max_rows)
}

/// The declared tables of a model file.
fn model(text: &str) -> Vec<Arc<TableDef>> {
    let m = parse(text, false, "m.rest", None).unwrap();
    m.entries
        .into_iter()
        .flat_map(|e| match e {
            Entry::Declared(tables) => tables,
            Entry::Sampled { .. } => Vec::new(),
        })
        .map(Arc::new)
        .collect()
}

const PEOPLE: &str = r##"{"people": {
    "#path": "https://api.example.com/people /data/items",
    "id": "Integer #key", "name": "VarChar(8)", "score": "Double",
    "addr": {"city": "VarChar(20)", "zip": "Integer"},
    "born": "Date", "active": "Boolean"
}}"##;

/// The general path's reading of `body`, as a comparable string.
fn general(t: &TableDef, body: &Value, limit: Option<usize>) -> Result<String, String> {
    let rows = page_rows(&t.rows, body)?;
    let b = decode(t, &rows, 3, 10, limit)
        .map_err(|e| e.to_string())?
        .batch;
    Ok(format!("{} rows: {b:?}", rows.len()))
}

/// The one-pass reading of `body`, as a comparable string.
fn streamed(t: &TableDef, body: &Value, limit: Option<usize>) -> Result<String, String> {
    let bytes = serde_json::to_vec(body).unwrap();
    match decode_page(t, &bytes, 3, 10, limit) {
        Ok(s) => Ok(format!("{} rows: {:?}", s.rows, s.batch)),
        Err(StreamError::NoRows(p)) => Err(p),
        Err(StreamError::Decode(e)) => Err(e.to_string()),
        Err(StreamError::Json(e)) => panic!("valid JSON rejected: {e}"),
    }
}

fn agree(t: &TableDef, body: Value, limit: Option<usize>) -> Result<String, String> {
    // Both read the same bytes, as a scan does (numbers parse the same way).
    let body: Value = serde_json::from_slice(&serde_json::to_vec(&body).unwrap()).unwrap();
    let g = general(t, &body, limit);
    assert_eq!(streamed(t, &body, limit), g, "{body}");
    g
}

#[test]
fn model_tables_read_the_same() {
    let t = &model(PEOPLE)[0];
    assert!(PageReader::for_table(t).is_some());
    let body = json!({"meta": {"next": "x"}, "data": {"items": [
        {"id": 1, "name": "ann", "score": 1.5, "addr": {"city": "Oslo", "zip": 123},
         "born": "2020-01-02", "active": true, "extra": {"deep": [1, {"x": 2}]}},
        {"name": "bob", "id": "2", "addr": null, "active": "false"},
        {"id": 3, "addr": {"zip": 9, "city": null, "more": [1]}, "id": 4},
        {"id": 5}
    ]}});
    let out = agree(t, body.clone(), None).unwrap();
    assert!(out.starts_with("4 rows"), "{out}");
    let two = agree(t, body, Some(2)).unwrap();
    assert!(two.starts_with("4 rows"), "{two}");
    assert!(
        two.contains("PrimitiveArray<Int32>\n[\n  1,\n  2,\n]"),
        "{two}"
    );
}

#[test]
fn the_rest_of_the_body_is_kept_for_paging() {
    let t = &model(PEOPLE)[0];
    let body = json!({"meta": {"next": "x", "total": 9}, "data": {"items": [{"id": 1}], "n": 1}});
    let s = decode_page(t, &serde_json::to_vec(&body).unwrap(), 0, 0, None).unwrap();
    assert_eq!(
        s.body,
        json!({"meta": {"next": "x", "total": 9}, "data": {"items": [], "n": 1}})
    );
    assert_eq!((s.rows, s.batch.num_rows()), (1, 1));
}

#[test]
fn errors_name_the_same_table_column_row_and_value() {
    let t = &model(PEOPLE)[0];
    let long = json!({"data": {"items": [{"id": 1}, {"id": 2, "name": "far too long"}]}});
    let e = agree(t, long, None).unwrap_err();
    assert!(
        e.contains("people") && e.contains("name") && e.contains("row 12"),
        "{e}"
    );
    let bad = json!({"data": {"items": [{"id": 1, "addr": {"zip": "nine"}}]}});
    assert!(agree(t, bad, None).unwrap_err().contains("addr_zip"));
    for (body, path) in [
        (json!({"data": {}}), "/data/items"),
        (json!({"data": [1]}), "/data/items"),
        (json!([]), "/data/items"),
    ] {
        assert_eq!(agree(t, body, None).unwrap_err(), path);
    }
}

#[test]
fn null_object_and_scalar_row_elements() {
    let t = &model(PEOPLE)[0];
    assert!(
        agree(t, json!({"data": {"items": null}}), None)
            .unwrap()
            .starts_with("0 rows")
    );
    assert!(
        agree(t, json!({"data": {"items": {"id": 7}}}), None)
            .unwrap()
            .starts_with("1 rows")
    );
    let scalars = model(r##"{"v": {"#path": "https://x.test/v /items", "value": "Integer"}}"##);
    let out = agree(&scalars[0], json!({"items": [1, 2, null, [3]]}), None);
    assert!(out.unwrap_err().contains("[3]"));
    assert!(
        agree(&scalars[0], json!({"items": [1, 2, null]}), Some(2))
            .unwrap()
            .starts_with("3 rows")
    );
}

#[test]
fn not_json_is_a_parse_error() {
    let t = &model(PEOPLE)[0];
    for bad in [
        &b"{"[..],
        b"{\"data\": {\"items\": [}}",
        b"[] trailing",
        b"",
    ] {
        assert!(matches!(
            decode_page(t, bad, 0, 0, None),
            Err(StreamError::Json(_))
        ));
    }
}

#[test]
fn deep_nesting_is_bounded_not_a_stack_overflow() {
    let t = &model(PEOPLE)[0];
    let deep = |field: &str| {
        format!(
            "{{\"data\": {{\"items\": [{{\"id\": 1, \"{field}\": {}{}}}]}}}}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        )
    };
    // In a column: the parser's depth limit.
    assert!(matches!(
        decode_page(t, deep("name").as_bytes(), 0, 0, None),
        Err(StreamError::Json(_))
    ));
    // Outside the columns it is skipped without recursion.
    let s = decode_page(t, deep("other").as_bytes(), 0, 0, None).unwrap();
    assert_eq!(s.batch.num_rows(), 1);
}

/// JSON values of a few shapes, small enough to shrink well.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-5i64..300).prop_map(Value::from),
        (-1e3f64..1e3).prop_map(Value::from),
        "[a-z0-9 -]{0,10}".prop_map(Value::from),
        Just(Value::from("2021-03-04")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            prop::collection::btree_map("(id|name|score|addr|city|zip|born|active|x)", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any body gives the same batch or the same error both ways.
    #[test]
    fn any_body_reads_the_same(
        items in prop::collection::vec(value(), 0..6),
        wrap in 0..3usize,
        limit in prop::option::of(0..5usize),
    ) {
        let t = &model(PEOPLE)[0];
        let rows = Value::from(items);
        let body = match wrap {
            0 => json!({"data": {"items": rows}}),
            1 => json!({"meta": 1, "data": {"z": true, "items": rows}}),
            _ => rows,
        };
        let _ = agree(t, body, limit);
    }
}

#[test]
fn child_tables_and_discovered_rows_keep_the_general_path() {
    let tables = model(
        r##"{"t": {"#path": "https://x.test/t /items", "id": "Integer #key", "tags[]": "VarChar(8)"},
             "u": {"#path": "https://x.test/u", "id": "Integer"}}"##,
    );
    let reader = |name: &str| {
        let t = tables.iter().find(|t| t.name == name).unwrap();
        PageReader::for_table(t).is_some()
    };
    assert!(reader("t"));
    assert!(!reader("t_tags"), "a child table");
    assert!(!reader("u"), "rows discovered on each page");
}

/// A page as each reader sees it: the batch (or error) and the new fields.
fn with_new_fields(
    t: &TableDef,
    body: &Value,
    limit: Option<usize>,
) -> (Result<String, String>, Vec<(String, usize)>) {
    let names =
        |f: &[crate::decode::fields::NewField]| f.iter().map(|f| (f.name(), f.row)).collect();
    let rows = page_rows(&t.rows, body).unwrap();
    let general = match decode(t, &rows, 3, 10, limit) {
        Ok(d) => (Ok(format!("{:?}", d.batch)), names(&d.new_fields)),
        Err(e) => (Err(e.to_string()), Vec::new()),
    };
    let bytes = serde_json::to_vec(body).unwrap();
    let streamed = match decode_page(t, &bytes, 3, 10, limit) {
        Ok(s) => (Ok(format!("{:?}", s.batch)), names(&s.new_fields)),
        Err(StreamError::Decode(e)) => (Err(e.to_string()), Vec::new()),
        Err(e) => panic!("{e:?}"),
    };
    assert_eq!(streamed, general, "{body}");
    general
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// An inferred table reads any later page the same both ways, and both
    /// ways find the same fields without a column.
    #[test]
    fn inferred_tables_find_the_same_new_fields(
        sample in prop::collection::vec(value(), 1..4),
        page in prop::collection::vec(value(), 0..6),
        limit in prop::option::of(0..5usize),
    ) {
        let endpoint = model(PEOPLE)[0].endpoint.clone();
        let sample: Value = serde_json::from_slice(&serde_json::to_vec(&sample).unwrap()).unwrap();
        let tables = crate::infer::infer_body("t", &endpoint, &Rows::Path(Vec::new()), &sample)
            .unwrap();
        let t = &tables[0];
        prop_assert!(t.watch_new_fields);
        let page: Value = serde_json::from_slice(&serde_json::to_vec(&page).unwrap()).unwrap();
        let _ = with_new_fields(t, &page, limit);
    }
}
