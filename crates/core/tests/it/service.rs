//! An `HttpService` of the caller's own in place of reqwest: it receives
//! requests authorized and within the scope, its answers go through the
//! same status rules, retries and limits, and its own errors come back
//! typed with their cause (credentials masked in its message), unretried.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use connectkit_core::client::{
    ApiClient, ApiError, CredentialScope, Fetched, HttpRules, HttpService, MAX_PAGE_BYTES,
    ServiceError, ServiceFuture,
};
use connectkit_core::{ErrorKind, SecretString, StaticHeaderAuth};

const BASE: &str = "http://127.0.0.1:9";
const TOKEN: &str = "s3rvice-t0ken";

/// Answers from a queue, in order, and records what it was sent.
#[derive(Debug, Default)]
struct Scripted {
    answers: Mutex<VecDeque<Result<http::Response<Vec<u8>>, ServiceError>>>,
    /// (method, URL, Authorization) of each request.
    received: Mutex<Vec<(String, String, Option<String>)>>,
}

impl Scripted {
    fn answering(answers: Vec<Result<http::Response<Vec<u8>>, ServiceError>>) -> Arc<Scripted> {
        Arc::new(Scripted {
            answers: Mutex::new(answers.into()),
            ..Scripted::default()
        })
    }

    fn received(&self) -> Vec<(String, String, Option<String>)> {
        self.received.lock().unwrap().clone()
    }
}

impl HttpService for Scripted {
    fn call(&self, request: reqwest::Request) -> ServiceFuture {
        let auth = request
            .headers()
            .get(reqwest::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap().to_owned());
        self.received.lock().unwrap().push((
            request.method().to_string(),
            request.url().to_string(),
            auth,
        ));
        let answer = self
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .expect("more requests than scripted answers");
        Box::pin(async move { answer.map(reqwest::Response::from) })
    }
}

fn status(code: u16, body: &str) -> Result<http::Response<Vec<u8>>, ServiceError> {
    Ok(http::Response::builder()
        .status(code)
        .header("retry-after", "1")
        .body(body.as_bytes().to_vec())
        .unwrap())
}

fn client(service: Arc<Scripted>) -> ApiClient {
    let mut scope = CredentialScope::new();
    scope.allow(&BASE.parse().unwrap(), "Sample", true).unwrap();
    let auth = StaticHeaderAuth::bearer(SecretString::from(TOKEN)).unwrap();
    let http = connectkit_core::client::client_builder()
        .unwrap()
        .build()
        .unwrap();
    ApiClient::new(http, Arc::new(auth), scope).with_service(service)
}

async fn fetch(client: &ApiClient, url: &str) -> connectkit_core::Result<Fetched> {
    let request = client.http().get(url).build().unwrap();
    client.fetch(request, &HttpRules::standard()).await
}

#[tokio::test(start_paused = true)]
async fn a_service_gets_authorized_requests_and_its_answers_follow_the_shared_rules() {
    let service = Scripted::answering(vec![
        status(503, "busy"),
        status(200, r#"{"rows":[1,2,3]}"#),
    ]);
    let c = client(Arc::clone(&service));
    let Fetched::Body(page) = fetch(&c, &format!("{BASE}/rows?page=1")).await.unwrap() else {
        panic!("a 200 is a body");
    };
    assert_eq!(page.bytes, br#"{"rows":[1,2,3]}"#);
    assert_eq!(page.status, 200);
    // The 503 was retried after its Retry-After, both times authorized.
    let bearer = Some(format!("Bearer {TOKEN}"));
    assert_eq!(
        service.received(),
        vec![
            ("GET".into(), format!("{BASE}/rows?page=1"), bearer.clone()),
            ("GET".into(), format!("{BASE}/rows?page=1"), bearer),
        ]
    );
    assert_eq!(c.throttle().events(), 1);
}

#[tokio::test]
async fn a_service_error_is_typed_keeps_its_cause_and_is_not_retried() {
    // A caller's error may quote what it was sent: the token is masked.
    let cause = std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        format!("replay has no page for Bearer {TOKEN}"),
    );
    let service = Scripted::answering(vec![Err(Box::new(cause))]);
    let c = client(Arc::clone(&service));
    let err = fetch(&c, &format!("{BASE}/rows?key=k")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(err.code(), "api.service");
    let api = err.downcast_ref::<ApiError>().expect("an ApiError");
    let ApiError::Service {
        method,
        url,
        source,
    } = api
    else {
        panic!("expected ApiError::Service, got {api:?}");
    };
    assert_eq!(
        (method.as_str(), url.as_str()),
        ("GET", "http://127.0.0.1:9/rows")
    );
    assert_eq!(source.to_string(), "replay has no page for ***");
    let own = source.get_ref().downcast_ref::<std::io::Error>().unwrap();
    assert_eq!(own.kind(), std::io::ErrorKind::ConnectionReset);
    assert_eq!(
        service.received().len(),
        1,
        "a service's own error is not retried"
    );
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains(TOKEN) && !shown.contains("key=k"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_service_answer_is_held_to_the_page_limit_and_the_scope() {
    // A page one byte over the limit stops with the limit named.
    let service = Scripted::answering(vec![Ok(http::Response::new(vec![
        b' ';
        MAX_PAGE_BYTES + 1
    ]))]);
    let c = client(Arc::clone(&service));
    let err = fetch(&c, &format!("{BASE}/big")).await.unwrap_err();
    assert_eq!(err.code(), "api.body_too_large", "{err}");
    // A redirect elsewhere is refused before the service sees a request there.
    let redirect = http::Response::builder()
        .status(302)
        .header("location", "http://198.51.100.7/steal")
        .body(Vec::new())
        .unwrap();
    let service = Scripted::answering(vec![Ok(redirect)]);
    let c = client(Arc::clone(&service));
    let err = fetch(&c, &format!("{BASE}/moved")).await.unwrap_err();
    assert_eq!(err.code(), "api.foreign_origin", "{err}");
    assert_eq!(service.received().len(), 1);
}
