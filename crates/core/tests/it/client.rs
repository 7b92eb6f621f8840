//! The shared HTTP layer against servers on 127.0.0.1: retries, limits,
//! messages and the credential scope.

use std::sync::Arc;
use std::time::Duration;

use connectkit_core::client::{
    ApiClient, ApiError, CredentialScope, Fetched, HttpRules, RetryConfig,
};
use connectkit_core::{ErrorKind, SecretString, StaticHeaderAuth};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn client_for(base: &str, token: &str) -> ApiClient {
    let url = reqwest::Url::parse(base).unwrap();
    let mut scope = CredentialScope::new();
    scope.allow(&url, "Sample", true).unwrap();
    let auth = StaticHeaderAuth::bearer(SecretString::from(token.to_owned())).unwrap();
    // No timers of its own (no idle-pool sweep), so that paused time
    // advances only by the layer's waits.
    let http = connectkit_core::client::client_builder()
        .expect("TLS setup")
        .pool_idle_timeout(None)
        .build()
        .unwrap();
    ApiClient::new(http, Arc::new(auth), scope)
}

fn get(url: &str) -> reqwest::Request {
    reqwest::Request::new(reqwest::Method::GET, url.parse().unwrap())
}

async fn fetch(client: &ApiClient, req: reqwest::Request) -> connectkit_core::Result<Fetched> {
    client.fetch(req, &HttpRules::standard()).await
}

#[tokio::test(start_paused = true)]
async fn gateway_errors_are_retried_for_get_only() {
    let server = MockServer::builder().start().await;
    for p in ["/get", "/post"] {
        Mock::given(path(p))
            .respond_with(ResponseTemplate::new(502))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(path(p))
            .respond_with(ResponseTemplate::new(504))
            .up_to_n_times(1)
            .with_priority(2)
            .mount(&server)
            .await;
        Mock::given(path(p))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .mount(&server)
            .await;
    }
    let c = client_for(&server.uri(), "t0k3n");
    match fetch(&c, get(&format!("{}/get", server.uri())))
        .await
        .unwrap()
    {
        Fetched::Body(b) => assert_eq!(b.bytes, b"ok"),
        other => panic!("{other:?}"),
    }
    let post = reqwest::Request::new(
        reqwest::Method::POST,
        format!("{}/post", server.uri()).parse().unwrap(),
    );
    let e = fetch(&c, post).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Api);
    assert_eq!(
        e.to_string(),
        format!("POST {}/post: HTTP 502: (empty body)", server.uri())
    );
    let got: Vec<_> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(got, ["GET /get", "GET /get", "GET /get", "POST /post"]);
}

#[tokio::test(start_paused = true)]
async fn retry_after_in_seconds_and_as_a_date() {
    let server = MockServer::builder().start().await;
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(30));
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", date.as_str()))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let c = client_for(&server.uri(), "t0k3n");
    let start = tokio::time::Instant::now();
    fetch(&c, get(&format!("{}/x", server.uri())))
        .await
        .unwrap();
    let waited = start.elapsed();
    // 7 s, then the date's ~30 s (it is read against the wall clock).
    assert!(
        waited >= Duration::from_secs(34) && waited <= Duration::from_secs(38),
        "{waited:?}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn retries_are_bounded_in_number_and_time() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .mount(&server)
        .await;
    let mut retry = RetryConfig::default();
    retry.max_retries = 2;
    let c = client_for(&server.uri(), "t0k3n").with_retry(retry);
    let e = fetch(&c, get(&format!("{}/x?secret=1", server.uri())))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "api.retries_exhausted");
    assert_eq!(
        e.to_string(),
        format!(
            "GET {}/x: still HTTP 429 after 3 attempts (MaxRetries=2)",
            server.uri()
        )
    );
    let mut retry = RetryConfig::default();
    retry.timeout = Duration::from_secs(10);
    let server = MockServer::builder().start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "6"))
        .mount(&server)
        .await;
    let c = client_for(&server.uri(), "t0k3n").with_retry(retry);
    let e = fetch(&c, get(&format!("{}/x", server.uri())))
        .await
        .unwrap_err();
    assert!(
        e.to_string().ends_with(
            "still HTTP 503 after 2 attempts (waiting 6s more would pass RetryTimeout=10s)"
        ),
        "{e}"
    );
}

#[tokio::test]
async fn status_errors_are_typed_redacted_and_escaped() {
    let server = MockServer::builder().start().await;
    // An error page that echoes the credentials it was sent, and tries to
    // drive the terminal.
    Mock::given(path("/echo"))
        .respond_with(|r: &Request| {
            let auth = r.headers["authorization"].to_str().unwrap().to_owned();
            ResponseTemplate::new(403).set_body_string(format!(
                "denied \u{1b}[31m{auth} token=t0k3n%2Bx&again=dDBrM24reA=="
            ))
        })
        .mount(&server)
        .await;
    let c = client_for(&server.uri(), "t0k3n+x");
    let e = fetch(&c, get(&format!("{}/echo?q=1", server.uri())))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Forbidden);
    assert_eq!(e.status(), Some(403));
    assert_eq!(
        e.to_string(),
        format!(
            "GET {}/echo: HTTP 403: denied \\u{{1b}}[31m*** token=***&again=***",
            server.uri()
        )
    );
    assert!(matches!(
        e.downcast_ref(),
        Some(ApiError::Status { status: 403, .. })
    ));
}

#[tokio::test]
async fn an_unreachable_host_names_method_host_path_and_cause() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let base = format!("http://127.0.0.1:{port}");
    let c = client_for(&base, "t0k3n");
    let e = fetch(&c, get(&format!("{base}/items?key=s")))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport);
    assert_eq!(e.code(), "api.transport");
    // Its own level only; the causes follow in `source()`, each once.
    assert_eq!(
        e.to_string(),
        format!("GET {base}/items: connection failed")
    );
    let text = connectkit_core::Report(&e).to_string();
    assert!(
        text.starts_with(&format!("GET {base}/items: connection failed: ")),
        "{text}"
    );
    assert!(text.contains("Connection refused"), "{text}");
    assert_eq!(text.matches("Connection refused").count(), 1, "{text}");
    assert!(!text.contains("key=s"));
}

#[tokio::test]
async fn requests_outside_the_scope_are_refused_before_sending() {
    let server = MockServer::builder().start().await;
    let other = MockServer::builder().start().await;
    let c = client_for(&server.uri(), "t0k3n");
    let e = fetch(&c, get(&format!("{}/x", other.uri())))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "api.foreign_origin");
    assert!(other.received_requests().await.unwrap().is_empty());
}

/// A server that answers one request with `head` and then streams `total`
/// bytes of body in 1 MiB chunks, and reports how many it managed to write
/// before the client hung up.
async fn streaming_server(
    head: &'static str,
    total: usize,
) -> (String, tokio::task::JoinHandle<usize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = socket.read(&mut buf).await;
        socket.write_all(head.as_bytes()).await.unwrap();
        let chunk = vec![b'x'; 1 << 20];
        let mut written = 0;
        while written < total {
            if socket.write_all(&chunk).await.is_err() {
                break;
            }
            written += chunk.len();
        }
        written
    });
    (base, task)
}

#[tokio::test]
async fn a_300_mb_page_and_a_300_mb_error_body_are_cut_off() {
    const MB300: usize = 300 << 20;
    let (base, server) = streaming_server(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
        MB300,
    )
    .await;
    let c = client_for(&base, "t0k3n");
    let e = fetch(&c, get(&format!("{base}/page"))).await.unwrap_err();
    assert_eq!(e.code(), "api.body_too_large");
    assert_eq!(
        e.to_string(),
        format!("GET {base}/page: response body exceeds 67108864 bytes")
    );
    drop(c);
    let written = server.await.unwrap();
    assert!(
        written < 80 << 20,
        "the server wrote {written} bytes: the page was not cut off"
    );

    let (base, server) =
        streaming_server("HTTP/1.1 500 Oops\r\nConnection: close\r\n\r\n", MB300).await;
    let c = client_for(&base, "t0k3n");
    let e = fetch(&c, get(&format!("{base}/error"))).await.unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("GET {base}/error: HTTP 500: xxxx")),
        "{e}"
    );
    assert!(e.to_string().len() < 400);
    drop(c);
    let written = server.await.unwrap();
    assert!(
        written < 16 << 20,
        "the server wrote {written} bytes: the error body was not cut off"
    );
}

/// `body` compressed as `encoding` names it (`gzip`, or `deflate`: zlib).
fn compress(encoding: &str, body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let level = flate2::Compression::fast();
    match encoding {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
            e.write_all(body).unwrap();
            e.finish().unwrap()
        }
        _ => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), level);
            e.write_all(body).unwrap();
            e.finish().unwrap()
        }
    }
}

#[tokio::test]
async fn pages_are_asked_for_compressed_and_read_decompressed() {
    let server = MockServer::builder().start().await;
    let page = br#"{"data": [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}]}"#.repeat(50);
    for encoding in ["gzip", "deflate"] {
        Mock::given(path(format!("/{encoding}")))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "application/json")
                    .insert_header("content-encoding", encoding)
                    .set_body_raw(compress(encoding, &page), "application/json"),
            )
            .mount(&server)
            .await;
    }
    let c = client_for(&server.uri(), "t0k3n");
    for encoding in ["gzip", "deflate"] {
        let fetched = fetch(&c, get(&format!("{}/{encoding}", server.uri())))
            .await
            .unwrap();
        let Fetched::Body(body) = fetched else {
            panic!("{encoding}: no body");
        };
        assert_eq!(body.bytes, page, "{encoding}");
    }
    for r in server.received_requests().await.unwrap() {
        let accepted = r
            .headers
            .get("accept-encoding")
            .map(|v| v.to_str().unwrap());
        assert!(
            accepted.is_some_and(|a| a.contains("gzip") && a.contains("deflate")),
            "{} asked for {accepted:?}",
            r.url
        );
    }
}

#[tokio::test]
async fn the_page_limit_counts_decompressed_bytes() {
    // 80 MiB of zeros compress to well under a megabyte: the limit must
    // stop what the page inflates to, not what crossed the wire.
    let server = MockServer::builder().start().await;
    let bomb = compress("gzip", &vec![0u8; 80 << 20]);
    assert!(bomb.len() < 1 << 20);
    Mock::given(path("/bomb"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-encoding", "gzip")
                .set_body_raw(bomb, "application/json"),
        )
        .mount(&server)
        .await;
    let c = client_for(&server.uri(), "t0k3n");
    let e = fetch(&c, get(&format!("{}/bomb", server.uri())))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "api.body_too_large");
}
