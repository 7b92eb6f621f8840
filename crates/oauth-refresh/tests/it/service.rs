//! Token requests through an `HttpService` of the caller's own: the grant
//! as the endpoint would receive it, the answer handled as over HTTP
//! (retried when busy), and a service's own error typed, its cause kept,
//! no secret shown.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use connectkit_core::ErrorKind;
use connectkit_core::client::{HttpService, ServiceError, ServiceFuture};
use connectkit_oauth_refresh::{Error, RefreshTokenFlow};
use secrecy::ExposeSecret;

use crate::{CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, token_json};

type Answer = Result<(u16, String), ServiceError>;
/// (method, URL, form fields) of one request.
type Sent = (String, String, HashMap<String, String>);

/// Answers from a queue; records (method, URL, form) of each request.
#[derive(Debug, Default)]
struct Endpoint {
    answers: Mutex<VecDeque<Answer>>,
    forms: Mutex<Vec<Sent>>,
}

impl HttpService for Endpoint {
    fn call(&self, request: reqwest::Request) -> ServiceFuture {
        let body = request
            .body()
            .and_then(|b| b.as_bytes())
            .unwrap_or_default();
        let form = url::form_urlencoded::parse(body).into_owned().collect();
        self.forms.lock().unwrap().push((
            request.method().to_string(),
            request.url().to_string(),
            form,
        ));
        let answer = self.answers.lock().unwrap().pop_front().expect("scripted");
        Box::pin(async move {
            let (status, body) = answer?;
            let response = http::Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .header("retry-after", "0")
                .body(body)?;
            Ok(response.into())
        })
    }
}

fn flow(endpoint: &Arc<Endpoint>) -> RefreshTokenFlow {
    RefreshTokenFlow::builder()
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .refresh_token(REFRESH_TOKEN)
        // Port 9 (discard): a request past the service would fail.
        .token_uri("http://127.0.0.1:9/token")
        .unwrap()
        .http_service(endpoint.clone())
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_grant_goes_through_the_service_and_a_busy_answer_is_retried() {
    let endpoint = Arc::new(Endpoint::default());
    endpoint.answers.lock().unwrap().extend([
        Ok((503, "{}".to_owned())),
        Ok((200, token_json("at-from-service", 3600).to_string())),
    ]);
    let token = flow(&endpoint).access_token().await.unwrap();
    assert_eq!(token.expose_secret(), "at-from-service");
    let forms = endpoint.forms.lock().unwrap().clone();
    assert_eq!(forms.len(), 2, "the 503 was retried");
    for (method, url, form) in forms {
        assert_eq!(
            (method.as_str(), url.as_str()),
            ("POST", "http://127.0.0.1:9/token")
        );
        assert_eq!(form["grant_type"], "refresh_token");
        assert_eq!(form["refresh_token"], REFRESH_TOKEN);
    }
}

#[tokio::test]
async fn a_service_error_is_typed_and_shows_no_secret() {
    let endpoint = Arc::new(Endpoint::default());
    // A caller's error may quote the form it was sent: its secrets are masked.
    let cause = std::io::Error::other(format!(
        "no recorded answer for refresh_token={REFRESH_TOKEN}&client_secret={CLIENT_SECRET}"
    ));
    endpoint
        .answers
        .lock()
        .unwrap()
        .push_back(Err(Box::new(cause)));
    let err = flow(&endpoint).access_token().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(err.code(), "oauth.service");
    let Error::Service { host, source } = &err else {
        panic!("expected Error::Service, got {err:?}");
    };
    assert_eq!(host, "127.0.0.1");
    assert_eq!(
        source.to_string(),
        "no recorded answer for refresh_token=***&client_secret=***"
    );
    assert!(source.get_ref().downcast_ref::<std::io::Error>().is_some());
    let shown = format!("{err} {err:?} {}", connectkit_core::Report(&err));
    for secret in [CLIENT_SECRET, REFRESH_TOKEN] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert_eq!(endpoint.forms.lock().unwrap().len(), 1, "not retried");
}
