//! Sampled tables over paged endpoints: nothing is dropped without a word.

use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::connectkit;

/// Pages 1..=4 of `/items?page=N`; `page3` and `page4` are the rows of
/// those pages.
async fn paged(page3: serde_json::Value, page4: serde_json::Value) -> MockServer {
    let server = MockServer::builder().start().await;
    let base = server.uri();
    Mock::given(path("/items"))
        .respond_with(move |req: &Request| {
            let n: u64 = req
                .url
                .query_pairs()
                .find(|(k, _)| k == "page")
                .map_or(1, |(_, v)| v.parse().unwrap());
            let rows = match n {
                1 => json!([{"id": 1, "score": 0.5}, {"id": 2, "score": 1.5}]),
                2 => json!([{"id": 3, "score": 2.5}]),
                3 => page3.clone(),
                _ => page4.clone(),
            };
            let mut body = json!({"data": rows});
            if n < 4 {
                body["next"] = json!(format!("{base}/items?page={}", n + 1));
            }
            ResponseTemplate::new(200).set_body_json(body)
        })
        .mount(&server)
        .await;
    server
}

/// A sample of 1,000 rows covers every page here: the field of page 3 is a
/// column, and each page is still requested once.
#[tokio::test]
async fn the_sample_covers_later_pages_so_their_fields_are_columns() {
    let server = paged(
        json!([{"id": 4, "score": 3.5, "region": "EU"}]),
        json!([{"id": 5, "score": 4.5}]),
    )
    .await;
    let url = format!(
        "autorest:Sample={}/items?page=1;ColumnDiscoverySampleSize=1000",
        server.uri()
    );
    let run = connectkit(&["query", &url, "items", "--format", "jsonl"], None).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{}", run.stdout);
    assert_eq!(lines[3], r#"{"id":4,"score":3.5,"region":"EU"}"#);
    assert_eq!(lines[4], r#"{"id":5,"score":4.5,"region":null}"#);
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
}

#[tokio::test]
async fn a_field_beyond_the_sample_stops_the_scan_with_its_name() {
    let server = paged(
        json!([{"id": 4, "score": 3.5, "region": "EU"}]),
        json!([{"id": 5, "score": 4.5}]),
    )
    .await;
    // A sample of the first page: the error names the size that covers page 3.
    let url = format!(
        "autorest:Sample={}/items?page=1;ColumnDiscoverySampleSize=1",
        server.uri()
    );
    let run = connectkit(&["query", &url, "items", "--format", "jsonl"], None).await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    insta::assert_snapshot!("late_field_error", errors_and_warnings(&run.stderr));
    // The rows before it were delivered, and nothing past page 3 was asked for.
    assert_eq!(run.stdout.lines().count(), 3, "{}", run.stdout);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
    // The size it names works.
    let url = url.replace("SampleSize=1", "SampleSize=4");
    let run = connectkit(&["query", &url, "items", "--format", "jsonl"], None).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout.lines().nth(3),
        Some(r#"{"id":4,"score":3.5,"region":"EU"}"#)
    );
}

/// A projection or an aggregate without the field goes on, and says once
/// what it left out; so does a whole-row query with UnsampledFieldPolicy=Ignore.
#[tokio::test]
async fn queries_that_do_not_output_the_field_go_on_with_one_warning() {
    let server = paged(
        json!([{"id": 4, "score": 3.5, "region": "EU"}]),
        json!([{"id": 5, "score": 4.5, "region": "US"}]),
    )
    .await;
    let url = format!(
        "autorest:Sample={}/items?page=1;ColumnDiscoverySampleSize=1",
        server.uri()
    );
    let run = connectkit(
        &["query", &url, "items", "--columns", "id", "--format", "csv"],
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "id\n1\n2\n3\n4\n5\n");
    insta::assert_snapshot!("late_field_projection", errors_and_warnings(&run.stderr));
    let sql = "SELECT count(*) AS n FROM api.items";
    let run = connectkit(
        &["sql", "--source", "api=-", "--format", "csv", sql],
        Some(&url),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "n\n5\n");
    assert_eq!(
        errors_and_warnings(&run.stderr).lines().count(),
        1,
        "{}",
        run.stderr
    );
    let ignore = format!("{url};UnsampledFieldPolicy=Ignore");
    let run = connectkit(&["query", &ignore, "items", "--format", "jsonl"], None).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 5);
    assert!(!run.stdout.contains("region"), "{}", run.stdout);
    insta::assert_snapshot!("late_field_ignored", errors_and_warnings(&run.stderr));
}

/// The lines of standard error meant for the user (diagnostics are on in
/// tests: `RUST_LOG=trace`).
fn errors_and_warnings(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| l.starts_with("error: ") || l.starts_with("warning: "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn a_type_change_beyond_the_sample_names_column_page_and_both_types() {
    let server = paged(
        json!([{"id": 4, "score": 3.5}]),
        json!([{"id": 5, "score": "n/a"}]),
    )
    .await;
    let url = format!(
        "autorest:Sample={}/items?page=1;ColumnDiscoverySampleSize=3",
        server.uri()
    );
    let run = connectkit(&["query", &url, "items", "--format", "csv"], None).await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            r#"table items, column score, row 5 (page /items): expected Double, found a string: "n/a""#
        ),
        "{}",
        run.stderr
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
}

#[tokio::test]
async fn sampling_an_endpoint_that_answers_404_is_an_error_naming_status_and_path() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/v1/cutsomers"))
        .respond_with(ResponseTemplate::new(404).set_body_string("Not Found"))
        .mount(&server)
        .await;
    let url = format!("autorest:Sample={}/v1/cutsomers?key=abc", server.uri());
    for command in ["tables", "schema"] {
        let mut args = vec![command, url.as_str()];
        if command == "schema" {
            args.push("cutsomers");
        }
        let run = connectkit(&args, None).await;
        assert_eq!(run.code, 4, "{command}: {}", run.stderr);
        let line = format!("GET {}/v1/cutsomers: HTTP 404: Not Found", server.uri());
        assert!(run.stderr.contains(&line), "{command}: {}", run.stderr);
        assert!(!run.stderr.contains("key=abc"));
    }
}

/// A model file as the vendor's Composer writes it (write keys, `#options`)
/// loads; one warning names each key ignored, and the table reads.
#[tokio::test]
async fn a_composer_model_file_loads_with_one_warning() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/customers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": 1, "name": "a", "address": {"city": "Oslo"}}],
            "meta": {"pages": 1}
        })))
        .mount(&server)
        .await;
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/autorest/models/composer.rest"
    );
    let text = std::fs::read_to_string(fixture)
        .unwrap()
        .replace("https://api.example.com", &server.uri());
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("customers.rest");
    std::fs::write(&model, text).unwrap();
    let url = format!("autorest:Config={}", model.display());
    let run = connectkit(&["query", &url, "customers", "--format", "csv"], None).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "id,name,address_city\n1,a,Oslo\n");
    let warnings = errors_and_warnings(&run.stderr).replace(&model.display().to_string(), "MODEL");
    insta::assert_snapshot!("composer_model_file_warning", warnings);
}
