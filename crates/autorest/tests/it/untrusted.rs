//! Hostile inputs: each a clear, bounded error, never a panic or a stack overflow.

use connectkit_autorest::AutoRestDataSource;
use connectkit_core::{Connector, ErrorKind};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn sample_error(body: Vec<u8>) -> String {
    let server = MockServer::builder().start().await;
    Mock::given(path("/items"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .mount(&server)
        .await;
    let c = AutoRestDataSource::new()
        .sample(format!("{}/items", server.uri()))
        .build()
        .unwrap();
    let e = c.tables().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    e.to_string()
}

#[tokio::test]
async fn a_100_mb_page_is_refused_before_it_is_buffered() {
    let mut body = b"[".to_vec();
    let row = br#"{"id":1,"name":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},"#;
    while body.len() < 100 * 1024 * 1024 {
        body.extend_from_slice(row);
    }
    body.extend_from_slice(br#"{"id":2}]"#);
    let msg = sample_error(body).await;
    assert!(msg.contains("exceeds 67108864 bytes"), "{msg}");
}

#[tokio::test]
async fn ten_thousand_levels_of_nesting_are_an_error() {
    let depth = 10_000;
    let body = format!("[{}1{}]", "{\"a\":".repeat(depth), "}".repeat(depth));
    let msg = sample_error(body.into_bytes()).await;
    assert!(msg.contains("recursion limit exceeded"), "{msg}");
}

#[test]
fn a_yaml_alias_bomb_is_refused() {
    let mut yaml = String::from("a0: &a0 [\"https://h/x\", \"https://h/x\"]\n");
    for i in 1..30 {
        yaml.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}]\n",
            p = i - 1
        ));
    }
    let mut f = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    std::io::Write::write_all(&mut f, yaml.as_bytes()).unwrap();
    let err = AutoRestDataSource::new()
        .config(f.path().display().to_string())
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("budget breached"), "{err}");
}

mod prop {
    use proptest::prelude::*;
    use serde_json::Value;

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "[a-z0-9 :T+-]{0,12}".prop_map(Value::String),
            Just(Value::String("2024-01-31".into())),
            Just(Value::String("2024-01-31T10:00:00Z".into())),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-c]{1,2}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Inference never panics, and every schema it gives has unique column names.
        #[test]
        fn inference_never_panics(body in json()) {
            for (name, schema) in connectkit_autorest::infer_schemas("t", &body) {
                let mut names: Vec<String> = schema.fields().iter().map(|f| f.name().to_ascii_lowercase()).collect();
                let n = names.len();
                names.sort();
                names.dedup();
                prop_assert_eq!(names.len(), n, "duplicate columns in {}: {:?}", name, schema);
            }
        }
    }
}
