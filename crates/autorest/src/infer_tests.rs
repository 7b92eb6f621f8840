use super::*;
use crate::decode::{decode, page_rows};
use crate::table::paging::{Paging, strip_next_links};
use crate::table::{KEY_METADATA_KEY, TYPE_METADATA_KEY};
use connectkit_core::client::HttpRules;
use serde_json::json;

fn endpoint() -> Arc<Endpoint> {
    Arc::new(Endpoint {
        url: "https://api.example.com/v1/things".into(),
        headers: Vec::new(),
        paging: Paging::default(),
        http: HttpRules::default(),
        follow_links: true,
        ..Endpoint::default()
    })
}

/// Infers the tables of a sample body the way the connector does.
fn sample(name: &str, mut body: Value) -> (Value, Vec<TableDef>) {
    strip_next_links(&mut body);
    let mut out = Vec::new();
    let found = discover_rows(&body);
    let several = found.len() > 1;
    for (field, at) in found {
        let rows = page_rows(&at, &body).unwrap();
        let table = match (several, field) {
            (true, Some(f)) => format!("{name}_{f}"),
            _ => name.to_owned(),
        };
        out.extend(infer_tables(&table, &endpoint(), &at, &rows));
    }
    (body, out)
}

fn fixture(file: &str) -> Value {
    let path = format!(
        "{}/../../fixtures/autorest/samples/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The Arrow schemas, as `table` then one line per field with its metadata.
fn render_schemas(tables: &[TableDef]) -> String {
    let mut s = String::new();
    for t in tables {
        s.push_str(&t.name);
        s.push('\n');
        for f in t.schema.fields() {
            let key = f.metadata().get(KEY_METADATA_KEY).map_or("", |_| " KEY");
            let null = if f.is_nullable() { "" } else { " NOT NULL" };
            let ty = &f.metadata()[TYPE_METADATA_KEY];
            s.push_str(&format!(
                "  {}: {ty} ({}){null}{key}\n",
                f.name(),
                f.data_type()
            ));
        }
    }
    s
}

/// The rows of every child table as JSON lines.
fn render_child_rows(body: &Value, tables: &[TableDef]) -> String {
    let mut s = String::new();
    for t in tables.iter().filter(|t| !t.levels.is_empty()) {
        let rows = page_rows(&t.rows, body).unwrap();
        let batch = decode(t, &rows, 0, 0, None).unwrap().batch;
        let mut w = arrow_json::LineDelimitedWriter::new(Vec::new());
        w.write(&batch).unwrap();
        w.finish().unwrap();
        s.push_str(&format!(
            "{}\n{}",
            t.name,
            String::from_utf8(w.into_inner()).unwrap()
        ));
    }
    s
}

#[test]
fn schemas_of_every_sample_fixture() {
    for (file, name) in [
        ("countries.json", "countries"),
        ("envelope.json", "users"),
        ("nested.json", "customers"),
        ("orders.json", "orders"),
        ("tags.json", "posts"),
        ("measurements.json", "measurements"),
        ("events.json", "events"),
        ("nulls.json", "people"),
        ("users_by_id.json", "users"),
        ("teams.json", "teams"),
        ("varying.json", "things"),
    ] {
        let (body, tables) = sample(name, fixture(file));
        insta::assert_snapshot!(format!("schema_{file}"), render_schemas(&tables));
        if tables.len() > 1 {
            insta::assert_snapshot!(
                format!("child_rows_{file}"),
                render_child_rows(&body, &tables)
            );
        }
    }
}

#[test]
fn row_discovery() {
    assert_eq!(discover_rows(&json!([1, 2])), [(None, Rows::Path(vec![]))]);
    assert_eq!(
        discover_rows(&json!({"data": [{"a": 1}], "meta": {"n": 1}})),
        [(Some("data".into()), Rows::Path(vec!["data".into()]))]
    );
    // An object holding only arrays is dropped and its arrays promoted.
    assert_eq!(
        discover_rows(&json!({"_embedded": {"users": [{"a": 1}]}, "count": 1})),
        [(
            Some("users".into()),
            Rows::Path(vec!["_embedded".into(), "users".into()])
        )]
    );
    assert_eq!(
        discover_rows(&json!({"a": 1, "tags": ["x"]})),
        [(None, Rows::Single)]
    );
    let several = discover_rows(&json!({"users": [{"a": 1}], "groups": [{"b": 2}]}));
    assert_eq!(several.len(), 2);
}

#[test]
fn table_names_from_urls() {
    let name = |u: &str| table_name_for(&url::Url::parse(u).unwrap());
    assert_eq!(name("https://example.com/countries/"), "countries");
    assert_eq!(name("https://example.com/v1/users?page=1"), "users");
    assert_eq!(name("https://example.com"), "URL_");
    assert_eq!(name("https://example.com/"), "URL_");
    // A record's identifier names it together with its collection.
    assert_eq!(name("https://example.com/customers/1"), "customers_1");
    assert_eq!(name("https://example.com/customers/042/"), "customers_042");
    assert_eq!(
        name("https://example.com/v2/orders/3F2504E0-4F89-11D3-9A0C-0305E82C3301"),
        "orders_3F2504E0-4F89-11D3-9A0C-0305E82C3301"
    );
    // Not identifier values: names, versions, hex that is not a UUID.
    assert_eq!(name("https://example.com/customers/1/orders"), "orders");
    assert_eq!(name("https://example.com/api/v1"), "v1");
    assert_eq!(name("https://example.com/blobs/deadbeef"), "deadbeef");
    // A bare identifier keeps its name: nothing precedes it.
    assert_eq!(name("https://example.com/7"), "7");
}

#[test]
fn primary_key_rule() {
    let key = |rows: Value| {
        let (_, t) = sample("t", rows);
        t[0].columns.iter().find(|c| c.key).map(|c| c.name.clone())
    };
    assert_eq!(key(json!([{"id": 1}, {"id": 2}])), Some("id".into()));
    // Duplicates, nulls, floats, long strings and nested fields are skipped.
    assert_eq!(
        key(json!([{"a": 1, "b": "x"}, {"a": 1, "b": "y"}])),
        Some("b".into())
    );
    assert_eq!(
        key(json!([{"a": null, "b": 1}, {"a": 2, "b": 2}])),
        Some("b".into())
    );
    assert_eq!(key(json!([{"a": 1.5}, {"a": 2.5}])), None);
    let long = "x".repeat(33);
    assert_eq!(key(json!([{"a": long}])), None);
    assert_eq!(key(json!([{"o": {"id": 1}}, {"o": {"id": 2}}])), None);
    assert_eq!(key(json!([{"d": "2026-01-01"}, {"d": "2026-01-02"}])), None);
}

#[test]
fn widening_and_lengths() {
    let (_, t) = sample(
        "t",
        json!([{"n": 1, "s": "abc", "m": 1, "b": true, "z": null},
               {"n": 2.5, "s": "x".repeat(80), "m": "one", "b": false, "z": null}]),
    );
    let types: Vec<_> = t[0]
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.sql_type.to_string()))
        .collect();
    assert_eq!(
        types,
        [
            ("n", "Double".to_owned()),
            ("s", "VarChar(80)".to_owned()),
            ("m", "VarChar(64)".to_owned()),
            ("b", "Boolean".to_owned()),
            ("z", "VarChar(64)".to_owned()),
        ]
    );
}

#[test]
fn maps_keyed_by_ids_are_json_but_sparse_objects_flatten() {
    let (_, t) = sample(
        "t",
        json!([{"id": 1, "by_id": {"a1": 1, "a2": 2}, "o": {"x": 1}},
               {"id": 2, "by_id": {"b7": 3}, "o": {"x": 2, "y": "z"}}]),
    );
    let cols: Vec<_> = t[0]
        .columns
        .iter()
        .map(|c| format!("{} {}", c.name, c.sql_type))
        .collect();
    assert_eq!(
        cols,
        ["id BigInt", "by_id JSON", "o_x BigInt", "o_y VarChar(64)"]
    );
}

#[test]
fn arrays_that_were_always_empty_make_no_child_table() {
    // `/customers/1`: one record whose orders array is empty.
    let (_, t) = sample(
        "customers_1",
        json!({"id": 1, "name": "Ada", "orders": [], "tags": null}),
    );
    let names: Vec<_> = t.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["customers_1"]);
    let cols: Vec<_> = t[0].columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(cols, ["id", "name", "tags"]);
    // One element anywhere in the sample is evidence enough; empty inner
    // arrays of an array of arrays make no grandchild either.
    let (_, t) = sample(
        "t",
        json!([{"id": 1, "xs": [], "grid": [[]]}, {"id": 2, "xs": [7], "grid": []}]),
    );
    let names: Vec<_> = t.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["t", "t_xs", "t_grid"]);
    let grid: Vec<_> = t[2].columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(grid, ["t_id", "position"]);
}
