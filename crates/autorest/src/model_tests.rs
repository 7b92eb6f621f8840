use super::*;

fn fixture(file: &str) -> String {
    format!(
        "{}/../../fixtures/autorest/models/{file}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn err(text: &str) -> String {
    parse(text, false, "m.rest", None).unwrap_err().to_string()
}

/// A summary of a model: tables, columns, paging and rules.
fn describe(m: &Model) -> String {
    let mut s = format!("token_uri={:?} scope={:?}\n", m.token_uri, m.scope);
    for e in &m.entries {
        match e {
            Entry::Sampled {
                name,
                endpoint,
                rows,
            } => {
                s += &format!(
                    "sampled {name} {} {rows:?} {:?}\n",
                    endpoint.url, endpoint.paging
                );
            }
            Entry::Declared(tables) => {
                for t in tables {
                    let e = &t.endpoint;
                    s += &format!(
                        "table {} {} {:?} levels={:?}\n",
                        t.name, e.url, t.rows, t.levels
                    );
                    s += &format!(
                        "  headers={:?} http={:?}\n  paging={:?}\n",
                        e.headers,
                        e.http.rules(),
                        e.paging
                    );
                    for c in &t.columns {
                        s += &format!(
                            "  {} {} {:?} key={} not_null={}\n",
                            c.name, c.sql_type, c.source, c.key, c.not_null
                        );
                    }
                }
            }
        }
    }
    s
}

#[test]
fn vendor_json_and_yaml_load_the_same() {
    let json = load(&fixture("employees.rest"), None).unwrap();
    let yaml = load(&fixture("employees.yaml"), None).unwrap();
    assert_eq!(describe(&json), describe(&yaml));
    insta::assert_snapshot!(describe(&json));
}

#[test]
fn every_paging_style_loads() {
    let m = load(&fixture("paging.rest"), None).unwrap();
    assert_eq!(m.entries.len(), 9);
    let Entry::Declared(t) = &m.entries[6] else {
        panic!()
    };
    let p = &t[0].endpoint.paging;
    assert_eq!(
        p.row_offset_param,
        Some(Param {
            name: "start".into(),
            template: "{OFFSET}".into()
        })
    );
    assert_eq!(
        p.page_size_param,
        Some(Param {
            name: "count".into(),
            template: "{LIMIT}".into()
        })
    );
    assert_eq!(
        p.total_rows_element,
        Some(vec!["meta".into(), "total".into()])
    );
    assert_eq!(t[0].rows, Rows::Path(vec!["rows".into()]));
}

#[test]
fn a_typo_in_a_paging_key_is_named_with_its_table() {
    let e = load(&fixture("bad_paging_key.rest"), None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "model file: unknown key #maximumPageSzie in orders (did you mean #maximumPageSize?)"
    );
    assert_eq!(
        err(r##"{"#colour": 1, "t": "https://h/t"}"##),
        "model file: unknown key #colour in the top level"
    );
}

#[test]
fn secrets_in_the_model_are_refused_by_key() {
    for key in [
        "#clientSecret",
        "#refresh_token",
        "#ClientID",
        "#accessToken",
        "#password",
    ] {
        let e = err(&format!(r##"{{"{key}": "x", "t": "https://h/t"}}"##));
        assert!(
            e.contains(&format!("key {key} in the top level holds a credential")),
            "{e}"
        );
    }
    let e = err(
        r##"{"t": {"#path": "https://h/t", "#headers": {"Authorization": "Bearer x"}, "a": "Integer"}}"##,
    );
    assert!(
        e.contains("key #headers/Authorization in t holds a credential"),
        "{e}"
    );
    assert!(!e.contains("Bearer x"));
}

#[test]
fn relative_paths_join_server_name_or_hostname() {
    let text = r##"{"#hostname": "https://files.example.com/api/", "t": "/v1/things", "u": {"#path": "v2/u /data", "a": "Integer"}}"##;
    let m = parse(text, false, "m.rest", None).unwrap();
    let Entry::Sampled { endpoint, rows, .. } = &m.entries[0] else {
        panic!()
    };
    assert_eq!(endpoint.url, "https://files.example.com/api/v1/things");
    assert_eq!(rows, &Rows::Auto);
    let Entry::Declared(t) = &m.entries[1] else {
        panic!()
    };
    assert_eq!(t[0].endpoint.url, "https://files.example.com/api/v2/u");
    assert_eq!(t[0].rows, Rows::Path(vec!["data".into()]));
    let m = parse(text, false, "m.rest", Some("other.example.com")).unwrap();
    let Entry::Sampled { endpoint, .. } = &m.entries[0] else {
        panic!()
    };
    assert_eq!(endpoint.url, "https://other.example.com/v1/things");
    let e = err(r##"{"t": "/v1/things"}"##);
    assert!(e.contains("needs ServerName or #hostname"), "{e}");
}

#[test]
fn bad_values_are_named() {
    let e = err(
        r##"{"t": {"#path": "https://h/t", "#http": [{"#code": 404, "#action": "IGNORE"}], "a": "Integer"}}"##,
    );
    assert!(
        e.contains("t: key #action: unknown action \"IGNORE\""),
        "{e}"
    );
    let e = err(r##"{"t": {"#path": "https://h/t", "#maximumPageSize": "lots", "a": "Integer"}}"##);
    assert!(e.contains("t: key #maximumPageSize"), "{e}");
    let e = err(r##"{"t": {"a": "Integer"}}"##);
    assert!(e.contains("t: key #path: missing"), "{e}");
    let e = err("[1]");
    assert!(e.contains("expected an object of tables"), "{e}");
    let e = parse("a: [", true, "m.yaml", None).unwrap_err().to_string();
    assert!(e.starts_with("model file m.yaml: not valid YAML"), "{e}");
    let e = err(r#"{"t": "https://h/t""#);
    assert!(e.starts_with("model file m.rest: not valid JSON"), "{e}");
}

#[test]
fn post_bodies_and_inputs_load() {
    let m = load(&fixture("post.rest"), None).unwrap();
    let Entry::Declared(t) = &m.entries[1] else {
        panic!("declared")
    };
    assert_eq!(t[0].endpoint.url, "https://api.example.com/report");
    assert_eq!(
        t[0].endpoint.post.as_ref().unwrap()["page"],
        serde_json::json!("{PAGE}")
    );
    assert!(load(&fixture("inputs.rest"), None).is_ok());
    let e = err(r##"{"t": {"#path": "https://h/x", "#post": "q=1", "id": "Integer"}}"##);
    assert!(e.contains("key #post: expected the JSON body"), "{e}");
    let e = err(r##"{"t": {"#path": "https://h/x", "#pots": {}, "id": "Integer"}}"##);
    assert_eq!(
        e,
        "model file: unknown key #pots in t (did you mean #post?)"
    );
}

#[test]
fn a_sampled_table_cannot_take_inputs() {
    let e = err(r##"{"u": "https://h/users/{login}/repos"}"##);
    assert!(e.contains("{login} needs a column to fill it"), "{e}");
    let e = err(r##"{"u": {"#path": "https://h/users/{login}"}}"##);
    assert!(e.contains("key #path: {login}"), "{e}");
}

#[test]
fn an_empty_post_body_needs_omit_when_empty_false() {
    let e = err(r##"{"t": {"#path": "POST https://h/x", "id": "Integer"}}"##);
    assert!(e.contains("a POST needs a body"), "{e}");
    let e = err(r##"{"t": "POST https://h/x"}"##);
    assert!(e.contains("a POST needs a body"), "{e}");
    let e = err(r##"{"t": {"#path": "https://h/x", "#post": {}, "id": "Integer"}}"##);
    assert!(e.contains("#omitWhenEmpty"), "{e}");
    let e = err(
        r##"{"t": {"#path": "https://h/x", "#post": {"#omitWhenEmty": false}, "id": "Integer"}}"##,
    );
    assert_eq!(
        e,
        "model file: unknown key #omitWhenEmty in t (did you mean #omitWhenEmpty?)"
    );
    let m = parse(
        r##"{"t": {"#path": "https://h/x", "#post": {"#omitWhenEmpty": false}, "#headers": {"content-type": "text/csv"}, "id": "Integer"}}"##,
        false,
        "m.rest",
        None,
    )
    .unwrap();
    let Entry::Declared(t) = &m.entries[0] else {
        panic!("declared")
    };
    assert_eq!(t[0].endpoint.post, Some(Value::Null));
    let m = parse(
        r##"{"t": {"#path": "https://h/x", "#post": {"#omitWhenEmpty": false, "q": 1}, "id": "Integer"}}"##,
        false,
        "m.rest",
        None,
    )
    .unwrap();
    let Entry::Declared(t) = &m.entries[0] else {
        panic!("declared")
    };
    assert_eq!(t[0].endpoint.post, Some(serde_json::json!({"q": "{q}"})));
}

#[test]
fn a_post_body_never_holds_a_credential() {
    let e = err(
        r##"{"t": {"#path": "https://h/x", "#post": {"auth": {"client_secret": "s"}}, "id": "Integer"}}"##,
    );
    assert!(
        e.contains("#post/client_secret") && !e.contains("\"s\""),
        "{e}"
    );
}

/// Tables, request, rules and columns with their inputs and formats.
fn describe_requests(m: &Model) -> String {
    let mut s = String::new();
    for e in &m.entries {
        match e {
            Entry::Sampled { name, endpoint, .. } => {
                s += &format!("sampled {name} {} post={:?}\n", endpoint.url, endpoint.post);
                s += &format!("  rules={:?}\n", endpoint.http.all_rules());
            }
            Entry::Declared(tables) => {
                for t in tables {
                    let e = &t.endpoint;
                    s += &format!(
                        "table {} {} post={:?}\n",
                        t.name,
                        e.url,
                        e.post.as_ref().map(|b| b.to_string())
                    );
                    s += &format!("  rules={:?}\n", e.http.all_rules());
                    for c in &t.columns {
                        let format = match &c.format {
                            Some(crate::table::formats::Format::Pattern { text, .. }) => {
                                format!(" format={text:?}")
                            }
                            Some(other) => format!(" format={other:?}"),
                            None => String::new(),
                        };
                        s += &format!(
                            "  {} {} {:?}{format} input={:?}\n",
                            c.name, c.sql_type, c.source, c.input
                        );
                    }
                }
            }
        }
    }
    s
}

#[test]
fn vendor_examples_and_feature_files_load_unchanged() {
    let mut s = String::new();
    for f in [
        "vendor_examples.rest",
        "inputs.rest",
        "formats.rest",
        "http_rules.rest",
    ] {
        s += &format!("== {f}\n");
        s += &describe_requests(&load(&fixture(f), None).unwrap());
    }
    insta::assert_snapshot!(s);
}

#[test]
fn documented_vendor_keys_that_are_not_implemented_load_and_are_named() {
    let m = load(&fixture("composer.rest"), None).unwrap();
    assert_eq!(
        m.ignored,
        [
            "#options at the top level (the Autonomous REST Composer's settings)",
            "#readonly at table customers (write access: connectkit reads only)",
            "#insert at table customers (INSERT requests: connectkit reads only)",
            "#update at table customers (UPDATE requests: connectkit reads only)",
            "#delete at table customers (DELETE requests: connectkit reads only)",
        ]
    );
    let Some(Entry::Declared(tables)) = m.entries.first() else {
        panic!("a declared table");
    };
    let paging = &tables[0].endpoint.paging;
    assert_eq!(
        paging.total_pages_element,
        Some(vec!["meta".into(), "pages".into()])
    );
    assert_eq!(paging.field_list_param.as_deref(), Some("fields"));
    // Keys nobody documents stay errors; suggestions only for typos.
    assert_eq!(
        err(r##"{"t": {"#path": "https://h/t", "#pageSizeElemnt": "size"}}"##),
        "model file: unknown key #pageSizeElemnt in t (did you mean #pageSizeElement?)"
    );
    assert_eq!(
        err(r##"{"t": {"#path": "https://h/t", "#pageSizeLimit": "size"}}"##),
        "model file: unknown key #pageSizeLimit in t"
    );
    assert_eq!(
        err(r##"{"#composer": {}, "t": "https://h/t"}"##),
        "model file: unknown key #composer in the top level"
    );
}
