use super::*;
use crate::table::ColumnInput;
use serde_json::json;

#[test]
fn placeholders_skip_paging_templates_and_code_braces() {
    let text = "https://h/u/{login}/r?x={LIMIT}&y={a.b-c}&z={ not }&w={}";
    let names: Vec<_> = placeholders(text).into_iter().map(|(_, _, n)| n).collect();
    assert_eq!(names, ["login", "a.b-c"]);
    let gql = "query { items(first: 2) { nodes { id } } }";
    assert!(placeholders(gql).is_empty());
}

#[test]
fn path_placeholders_bind_to_parameters_columns_or_new_virtual_columns() {
    let endpoint = Endpoint {
        url: "https://h/orgs/{org}/teams/{team}/members/{member_id}".into(),
        ..Endpoint::default()
    };
    let mut team = ColumnDef::new(
        "team_slug",
        SqlType::VarChar(32),
        Source::Field(vec!["slug".into()]),
        false,
        true,
    );
    team.input = Some(ColumnInput {
        params: vec![(FilterOp::Eq, "team".into())],
        ..ColumnInput::default()
    });
    let member = ColumnDef::new(
        "MEMBER_ID",
        SqlType::BigInt,
        Source::Field(vec!["id".into()]),
        false,
        true,
    );
    let mut columns = vec![team, member];
    bind_path(&mut columns, &endpoint);
    let names: Vec<_> = columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["team_slug", "MEMBER_ID", "org"]);
    assert_eq!(
        columns[1].input.as_ref().unwrap().params,
        [(FilterOp::Eq, "member_id".to_owned())]
    );
    assert!(!columns[1].input.as_ref().unwrap().is_virtual);
    assert!(columns[2].input.as_ref().unwrap().is_virtual);
    assert_eq!(columns[2].source, Source::Input(None));
}

#[test]
fn body_values_take_their_column_type_when_whole() {
    let body = json!({"n": "{n}", "b": "{b}", "s": "{s}", "mixed": "id:{n}", "bad": "{n2}"});
    let values = [
        ("n".to_owned(), "42".to_owned(), SqlType::Integer),
        ("b".to_owned(), "true".to_owned(), SqlType::Boolean),
        ("s".to_owned(), "42".to_owned(), SqlType::VarChar(8)),
        ("n2".to_owned(), "x1".to_owned(), SqlType::Integer),
    ];
    assert_eq!(
        fill(&body, &values),
        json!({"n": 42, "b": true, "s": "42", "mixed": "id:42", "bad": "x1"})
    );
}

#[test]
fn input_keys_check_their_values() {
    let mut i = ColumnInput::default();
    i.set("#gt", &json!("from"), "t").unwrap();
    i.set("#gt", &json!("after"), "t").unwrap();
    i.set("#default", &json!(3), "t").unwrap();
    assert_eq!(i.params, [(FilterOp::Gt, "after".to_owned())]);
    assert_eq!(i.default.as_deref(), Some("3"));
    let e = i.set("#virtual", &json!("yes"), "t").unwrap_err();
    assert!(
        e.to_string().contains("#virtual: expected true or false"),
        "{e}"
    );
    let e = i.set("#eq", &json!(" "), "t").unwrap_err();
    assert!(e.to_string().contains("expected a parameter name"), "{e}");
}

#[test]
fn post_fields_are_inputs_with_their_sample_as_default() {
    let mut endpoint = Endpoint {
        url: "https://h/country".into(),
        post: Some(
            json!({"START_DATE": "2018-08-31", "region": "EU", "max": 10,
            "from": "{OFFSET}", "query": "{ items { id } }", "filter": {"a": 1}}),
        ),
        ..Endpoint::default()
    };
    let region = ColumnDef::new(
        "REGION",
        SqlType::VarChar(8),
        Source::Field(vec!["region".into()]),
        false,
        true,
    );
    let mut columns = vec![region];
    bind_body(&mut columns, &mut endpoint);
    let cols: Vec<_> = columns
        .iter()
        .map(|c| (c.name.as_str(), c.sql_type, c.input.clone().unwrap()))
        .collect();
    let input = |default: &str, is_virtual, param: &str| ColumnInput {
        params: vec![(FilterOp::Eq, param.to_owned())],
        default: Some(default.to_owned()),
        is_virtual,
    };
    assert_eq!(
        cols,
        [
            ("REGION", SqlType::VarChar(8), input("EU", false, "region")),
            (
                "START_DATE",
                SqlType::Date,
                input("2018-08-31", true, "START_DATE")
            ),
            ("max", SqlType::BigInt, input("10", true, "max")),
        ]
    );
    assert_eq!(
        endpoint.post.unwrap(),
        json!({"START_DATE": "{START_DATE}", "region": "{region}", "max": "{max}",
            "from": "{OFFSET}", "query": "{ items { id } }", "filter": {"a": 1}})
    );
}
