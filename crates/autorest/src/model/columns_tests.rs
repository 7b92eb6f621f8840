use super::*;
use crate::table::paging::Paging;
use connectkit_core::client::HttpRules;
use serde_json::json;

fn endpoint() -> Arc<Endpoint> {
    Arc::new(Endpoint {
        url: "https://h/e".into(),
        headers: Vec::new(),
        paging: Paging::default(),
        http: HttpRules::default(),
        follow_links: false,
        ..Endpoint::default()
    })
}

#[test]
fn columns_children_and_modifiers() {
    let obj = json!({
        "#path": "https://h/e",
        "employeeID": "VarChar(32),#key",
        "title": "VarChar(46),#notNull",
        "address": {"city": "VarChar(64)"},
        "phones[]": {"number": "VarChar(20)", "tags[]": "VarChar(8)"}
    });
    let tables = declared_tables(
        "employees",
        obj.as_object().unwrap(),
        endpoint(),
        Rows::Auto,
    )
    .unwrap();
    let names: Vec<_> = tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["employees", "employees_phones", "employees_phones_tags"]
    );
    let cols: Vec<_> = tables[0]
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.sql_type.to_string(), c.key, c.not_null))
        .collect();
    assert_eq!(
        cols,
        [
            ("employeeID", "VarChar(32)".to_owned(), true, true),
            ("title", "VarChar(46)".to_owned(), false, true),
            ("address_city", "VarChar(64)".to_owned(), false, false),
        ]
    );
    let tags: Vec<_> = tables[2].columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        tags,
        [
            "employees_employeeID",
            "employees_phones_position",
            "position",
            "value"
        ]
    );
}

#[test]
fn bad_types_and_modifiers_are_named() {
    let obj = json!({"a": "Strng"});
    let e = declared_tables("t", obj.as_object().unwrap(), endpoint(), Rows::Auto).unwrap_err();
    assert!(e.to_string().contains("unknown type \"Strng\""), "{e}");
    let obj = json!({"a": "Integer,#kye"});
    let e = declared_tables("t", obj.as_object().unwrap(), endpoint(), Rows::Auto).unwrap_err();
    assert_eq!(
        e.to_string(),
        "model file: unknown key #kye in t (did you mean #key?)"
    );
}

#[test]
fn formats_modifiers_and_column_objects() {
    let obj = json!({
        "born": "Date,d-M-y-G",
        "seen": "Timestamp,#notNull,EEE, dd MMM yyyy HH:mm:ss Z",
        "at": "Timestamp #epochMillis",
        "price": "Decimal(10,2),#key",
        "lang": {"#type": "VarChar(8)", "#eq": "language", "#default": "en"},
        "since": {"#type": "Date,yyyyMMdd", "#ge": "from", "#virtual": true}
    });
    let t = declared_tables("t", obj.as_object().unwrap(), endpoint(), Rows::Auto).unwrap();
    let c = &t[0].columns;
    assert!(matches!(&c[0].format, Some(Format::Pattern { text, .. }) if text == "d-M-y-G"));
    assert!(c[1].not_null);
    assert!(
        matches!(&c[1].format, Some(Format::Pattern { text, .. }) if text == "EEE, dd MMM yyyy HH:mm:ss Z")
    );
    assert_eq!(c[2].format, Some(Format::EpochMillis));
    assert_eq!(c[3].sql_type, SqlType::Decimal(10, 2));
    assert!(c[3].key);
    let lang = c[4].input.as_ref().unwrap();
    assert_eq!(lang.default.as_deref(), Some("en"));
    assert_eq!(c[4].source, Source::Field(vec!["lang".into()]));
    assert_eq!(c[5].source, Source::Input(None));
    assert!(c[5].format.is_some());
}

#[test]
fn bad_formats_and_column_object_keys_are_named() {
    let bad = |obj: serde_json::Value| {
        declared_tables("t", obj.as_object().unwrap(), endpoint(), Rows::Auto)
            .unwrap_err()
            .to_string()
    };
    let e = bad(json!({"born": "Date,yyyy-ww"}));
    assert!(
        e.contains("key born") && e.contains("\"yyyy-ww\"") && e.contains("the letter w"),
        "{e}"
    );
    let e = bad(json!({"n": "Integer,yyyy"}));
    assert!(e.contains("needs a Date, Time or Timestamp column"), "{e}");
    let e = bad(json!({"n": "Integer,#epochSeconds"}));
    assert!(e.contains("needs a Date, Time or Timestamp column"), "{e}");
    let e = bad(json!({"n": {"#type": "Integer", "#eqq": "x"}}));
    assert_eq!(e, "model file: unknown key #eqq in t (did you mean #eq?)");
    let e = bad(json!({"n": {"#type": "Integer", "#password": "x"}}));
    assert!(e.contains("#password"), "{e}");
}
