//! The loopback redirect of RFC 8252: a listener on 127.0.0.1 that takes
//! the one callback carrying the right `state`, answers a short page, and
//! closes. Requests to other paths (a browser's favicon) get a 404 and do
//! not count.

use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

use crate::error::{AuthorizeFailure, Error};
use connectkit_core::OAuthErrorCode;

/// The most a callback request may take to arrive, once connected.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests larger than this are not a redirect.
const MAX_REQUEST: usize = 16 * 1024;
/// Connections read at once; more are closed unread.
const MAX_CONNECTIONS: usize = 16;

/// A bound listener and the redirect URI that reaches it.
pub(crate) struct Loopback {
    listener: TcpListener,
    /// `http://127.0.0.1:<port>/<path>` (or `localhost` when RedirectURI
    /// says so), as sent in the authorization request.
    pub redirect_uri: Url,
}

impl Loopback {
    /// Binds 127.0.0.1 on RedirectURI's port (a free one when RedirectURI
    /// is absent or names none), for a RedirectURI host of `localhost` too.
    pub(crate) async fn bind(redirect: Option<&Url>) -> Result<Self, Error> {
        let mut uri = match redirect {
            Some(u) => {
                let loopback = matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
                if u.scheme() != "http" || !loopback {
                    return Err(Error::config(
                        "RedirectURI",
                        "a loopback URL such as http://127.0.0.1/callback (RFC 8252): connectkit receives the authorization code itself",
                    ));
                }
                let mut u = u.clone();
                // The listener binds IPv4 loopback only. `localhost` stays in
                // the URI sent: RFC 8252 section 7.3 allows it, and servers
                // that compare redirect URIs exactly refuse a rewritten one;
                // it resolves to 127.0.0.1, where the listener is. `[::1]`
                // names IPv6, which the listener does not bind: the URI says
                // 127.0.0.1 instead.
                if u.host_str() == Some("[::1]") {
                    let _ = u.set_host(Some("127.0.0.1"));
                }
                u
            }
            None => Url::parse("http://127.0.0.1/callback").expect("a valid literal"),
        };
        let port = uri.port().unwrap_or(0);
        let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
            Error::config(
                "RedirectURI",
                format!("a free port on 127.0.0.1 ({port} cannot be bound: {e})"),
            )
        })?;
        let bound = listener
            .local_addr()
            .map_err(|e| Error::Authorize {
                failure: AuthorizeFailure::Other,
                code: None,
                message: format!("the loopback listener has no address: {e}"),
            })?
            .port();
        let _ = uri.set_port(Some(bound));
        Ok(Self {
            listener,
            redirect_uri: uri,
        })
    }

    /// Waits for the callback on the redirect path and returns its code.
    /// A callback with another `state`, or with an `error`, ends the wait
    /// with an error: it is an answer to some other request, or a refusal.
    pub(crate) async fn wait(self, state: &SecretString) -> Result<SecretString, Error> {
        // Connections are read side by side: a browser opens speculative
        // connections that send nothing, and one of those must not hold
        // up the callback behind it until READ_TIMEOUT.
        let mut reading = FuturesUnordered::new();
        loop {
            let (mut stream, target) = tokio::select! {
                accepted = self.listener.accept() => {
                    let (stream, _) = accepted.map_err(|e| Error::Authorize {
                        failure: AuthorizeFailure::Other,
                        code: None,
                        message: format!("the loopback listener failed: {e}"),
                    })?;
                    if reading.len() >= MAX_CONNECTIONS {
                        // Refused by dropping: the callback still gets a slot
                        // once the idle ones time out.
                        continue;
                    }
                    reading.push(read_request(stream));
                    continue;
                }
                Some(read) = reading.next(), if !reading.is_empty() => read,
            };
            let Some(target) = target else {
                respond(&mut stream, 400, "Bad request", "This is not a redirect.").await;
                continue;
            };
            let Ok(url) = self.redirect_uri.join(&target) else {
                respond(&mut stream, 400, "Bad request", "This is not a redirect.").await;
                continue;
            };
            if url.path() != self.redirect_uri.path() {
                respond(&mut stream, 404, "Not found", "Nothing here.").await;
                continue;
            }
            let get = |k: &str| {
                url.query_pairs()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.into_owned())
            };
            if get("state").as_deref() != Some(state.expose_secret()) {
                respond(
                    &mut stream,
                    400,
                    "Authorization refused",
                    "The state of this redirect does not match the request connectkit made. Nothing was exchanged.",
                )
                .await;
                return Err(Error::Authorize {
                    failure: AuthorizeFailure::StateMismatch,
                    code: None,
                    message: "the redirect carried a state that does not match the authorization request (an answer to another request, or a forged one); nothing was exchanged".into(),
                });
            }
            if let Some(code) = get("error") {
                let code = OAuthErrorCode::parse(&code);
                respond(
                    &mut stream,
                    200,
                    "Authorization failed",
                    "The authorization server did not grant access. You can close this window.",
                )
                .await;
                let description = get("error_description")
                    .map(|d| format!(": {}", connectkit_core::client::escape_controls(&d)))
                    .unwrap_or_default();
                return Err(Error::Authorize {
                    failure: if code == OAuthErrorCode::AccessDenied {
                        AuthorizeFailure::Denied
                    } else {
                        AuthorizeFailure::Other
                    },
                    message: format!("the authorization server answered error={code}{description}"),
                    code: Some(code),
                });
            }
            let Some(code) = get("code").filter(|c| !c.is_empty()) else {
                respond(
                    &mut stream,
                    400,
                    "Bad request",
                    "The redirect carries no code.",
                )
                .await;
                return Err(Error::Authorize {
                    failure: AuthorizeFailure::Other,
                    code: None,
                    message: "the redirect carried neither a code nor an error".into(),
                });
            };
            respond(
                &mut stream,
                200,
                "Authorized",
                "connectkit received the authorization. You can close this window.",
            )
            .await;
            return Ok(SecretString::from(code));
        }
    }
}

/// A connection and the target of its one HTTP request, if one arrived in
/// time.
async fn read_request(mut stream: TcpStream) -> (TcpStream, Option<String>) {
    let target = read_target(&mut stream).await;
    (stream, target)
}

/// The request target of one HTTP request, if one arrives in time.
async fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let read = async {
        loop {
            let mut chunk = [0u8; 2048];
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf) {
                Ok(httparse::Status::Complete(_)) => {
                    return (req.method == Some("GET")).then(|| req.path.map(str::to_owned))?;
                }
                Ok(httparse::Status::Partial) if buf.len() < MAX_REQUEST => {}
                _ => return None,
            }
        }
    };
    tokio::time::timeout(READ_TIMEOUT, read).await.ok()?
}

async fn respond(stream: &mut TcpStream, status: u16, title: &str, text: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{text}</p></body></html>"
    );
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}
