//! How the server listens: TLS with a certificate a private CA (generated
//! here with rcgen) signed, trusted by a client that trusts only that CA
//! and refused by one that does not; TLS files that cannot work, named;
//! plain text refused off loopback unless asked for.

use std::net::SocketAddr;
use std::path::Path;

use arrow_flight::sql::client::FlightSqlServiceClient;
use connectkit_flight_sql::{Listen, ServeConfig, Server, hash_password};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::*;

/// A server started by [`start`].
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<connectkit_core::Result<()>>,
}

impl Running {
    /// Stops the server and returns how serving ended.
    pub async fn stop(self) -> connectkit_core::Result<()> {
        let _ = self.stop.send(());
        self.task.await.unwrap()
    }
}

/// A `sources.toml` in `dir` with one source `shop` (the table `items` at
/// `{api}/items`, `limit`/`offset` paged by `page_size`, its token from
/// `POST {api}/token` by the client credentials grant) and alice as user.
pub fn config(dir: &Path, api: &str, page_size: usize, limits: &str) -> ServeConfig {
    let model = json!({
        "#maximumPageSize": page_size,
        "#pageSizeParameter": "limit",
        "#rowOffsetParameter": "offset",
        "items": {
            "#path": [format!("{api}/items /data")],
            "id": "Integer,#key",
            "name": "VarChar(32)",
            "qty": "Integer"
        }
    });
    std::fs::write(dir.join("shop.rest"), model.to_string()).unwrap();
    let url = format!(
        "autorest:Config={};AuthenticationMethod=OAuth2-ClientCredentials;ClientID=svc;ClientSecret=svc-s3cret;TokenURI=POST {api}/token;MaxConcurrentRequests=1",
        dir.join("shop.rest").display(),
    );
    std::fs::write(dir.join("shop.url"), url).unwrap();
    let hash = hash_password(&PASSWORD.to_owned().into()).unwrap();
    let text = format!(
        "[sources]\nshop = \"@shop.url\"\n\n[users.alice]\npassword = \"{hash}\"\n\n[limits]\n{limits}\n"
    );
    ServeConfig::parse(&text, &dir.join("sources.toml")).unwrap()
}

/// Builds the server of `config` and serves on `listener` as `listen` says.
pub async fn start(config: &ServeConfig, listener: TcpListener, listen: Listen) -> Running {
    let mut registry = connectkit_core::Registry::new();
    connectkit_autorest::register(&mut registry);
    let server = Server::new(config, &registry).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .serve(listener, &listen, async {
                let _ = stopped.await;
            })
            .await
    });
    Running { addr, stop, task }
}

/// A CA's certificate (PEM), and a server certificate it signed for
/// 127.0.0.1 with its key (PEM).
fn private_ca() -> (String, String, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "connectkit flight-sql test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

/// An API whose token endpoint grants `upstream-access` and whose `/items`
/// serves crate::items() to that token.
async fn api() -> MockServer {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "upstream-access", "token_type": "Bearer", "expires_in": 3600})))
        .mount(&upstream)
        .await;
    Mock::given(method("GET"))
        .and(path("/items"))
        .and(header("authorization", "Bearer upstream-access"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": items()})))
        .mount(&upstream)
        .await;
    upstream
}

/// A client over TLS to `addr` that trusts only `ca` (PEM).
async fn tls_client(addr: SocketAddr, ca: &str) -> Result<FlightSqlServiceClient<Channel>, String> {
    let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
    let channel = Endpoint::new(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .map_err(|e| chain(&e))?;
    Ok(FlightSqlServiceClient::new(channel))
}

/// An error and its causes, one `: ` apart.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

#[tokio::test]
async fn tls_with_a_private_ca_serves_only_clients_that_trust_it() {
    let upstream = api().await;
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = private_ca();
    std::fs::write(dir.path().join("server.pem"), &cert).unwrap();
    std::fs::write(dir.path().join("server.key"), &key).unwrap();
    let config = config(dir.path(), &upstream.uri(), 100, "");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = start(
        &config,
        listener,
        Listen::tls(dir.path().join("server.pem"), dir.path().join("server.key")),
    )
    .await;
    let addr = running.addr;

    // Trusting only the private CA: logs in and queries.
    let mut c = tls_client(addr, &ca).await.unwrap();
    c.handshake("alice", PASSWORD).await.unwrap();
    let rows = query(
        &mut c,
        "SELECT id, name FROM shop.items WHERE id <= 2 ORDER BY id",
    )
    .await
    .unwrap();
    assert_eq!(
        rows,
        [
            json!({"id": 1, "name": "item 1"}),
            json!({"id": 2, "name": "item 2"})
        ]
    );
    let pages = upstream.received_requests().await.unwrap();
    assert!(
        pages.iter().any(|r| r.url.path() == "/items"),
        "the query reached the source: {pages:?}"
    );

    // Trusting another CA: the handshake fails on the server's certificate.
    let (other_ca, _, _) = private_ca();
    let e = match tls_client(addr, &other_ca).await {
        Ok(mut c) => c
            .handshake("alice", PASSWORD)
            .await
            .unwrap_err()
            .to_string(),
        Err(e) => e,
    };
    assert!(
        e.contains("UnknownIssuer") || e.contains("certificate"),
        "an untrusted server certificate: {e}"
    );
    assert!(!e.contains(PASSWORD), "{e}");

    // Plain text to the TLS port gets nowhere.
    let plain = Endpoint::new(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await;
    if let Ok(channel) = plain {
        let mut c = FlightSqlServiceClient::new(channel);
        assert!(c.handshake("alice", PASSWORD).await.is_err());
    }

    // Nothing but the trusted client's query reached the source.
    let after = upstream.received_requests().await.unwrap();
    assert_eq!(after.len(), pages.len(), "{after:?}");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn tls_files_that_cannot_work_are_named() {
    let upstream = api().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &upstream.uri(), 100, "");
    let (_, cert, key) = private_ca();
    std::fs::write(dir.path().join("server.pem"), &cert).unwrap();
    std::fs::write(dir.path().join("server.key"), &key).unwrap();
    let missing = dir.path().join("missing.pem");
    for (listen, file, role) in [
        (
            Listen::tls(&missing, dir.path().join("server.key")),
            missing.clone(),
            "--tls-cert",
        ),
        (
            Listen::tls(dir.path().join("server.pem"), &missing),
            missing.clone(),
            "--tls-key",
        ),
    ] {
        let early = chain(
            &listen
                .check("127.0.0.1:50051".parse().unwrap())
                .unwrap_err(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let e = start(&config, listener, listen)
            .await
            .stop()
            .await
            .unwrap_err();
        assert_eq!(e.kind(), connectkit_core::ErrorKind::Io, "{e:?}");
        assert_eq!(early, chain(&e));
        let text = chain(&e);
        assert!(
            text.contains(role) && text.contains(&file.display().to_string()),
            "{role}: {text}"
        );
        assert!(!text.contains("PRIVATE KEY"), "{text}");
    }
    // Files that are there but hold no certificate chain or key: named.
    std::fs::write(dir.path().join("notes.txt"), "not PEM").unwrap();
    let (notes, pem, key) = (
        dir.path().join("notes.txt"),
        dir.path().join("server.pem"),
        dir.path().join("server.key"),
    );
    for (listen, file, role, expected) in [
        (
            Listen::tls(&notes, &key),
            &notes,
            "--tls-cert",
            "PEM certificate",
        ),
        (
            Listen::tls(&pem, &notes),
            &notes,
            "--tls-key",
            "PEM private key",
        ),
        // A certificate where the key belongs.
        (
            Listen::tls(&pem, &pem),
            &pem,
            "--tls-key",
            "PEM private key",
        ),
    ] {
        // Found by the check `connectkit serve` makes before building sources.
        let early = chain(
            &listen
                .check("127.0.0.1:50051".parse().unwrap())
                .unwrap_err(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let e = start(&config, listener, listen)
            .await
            .stop()
            .await
            .unwrap_err();
        assert_eq!(e.kind(), connectkit_core::ErrorKind::Config, "{e:?}");
        assert_eq!(early, chain(&e));
        let text = chain(&e);
        assert!(
            text.contains(&format!("{role} {} holds no {expected}", file.display())),
            "{text}"
        );
        assert!(!text.contains("PRIVATE KEY-----"), "{text}");
    }
    // Nothing was sent upstream for a server that never listened.
    assert!(upstream.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn plain_text_is_refused_off_loopback_unless_asked_for() {
    // The rule, before anything is bound.
    let public: SocketAddr = "192.0.2.7:50051".parse().unwrap();
    let e = Listen::plain().check(public).unwrap_err();
    assert_eq!(e.kind(), connectkit_core::ErrorKind::Config, "{e:?}");
    let text = chain(&e);
    assert!(
        text.contains("--listen")
            && text.contains("192.0.2.7:50051")
            && text.contains("--tls-cert")
            && text.contains("--insecure-listen"),
        "{text}"
    );
    Listen::plain().with_insecure(true).check(public).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, cert, key) = private_ca();
    std::fs::write(dir.path().join("server.pem"), &cert).unwrap();
    std::fs::write(dir.path().join("server.key"), &key).unwrap();
    Listen::tls(dir.path().join("server.pem"), dir.path().join("server.key"))
        .check(public)
        .unwrap();
    for loopback in ["127.0.0.1:50051", "[::1]:50051"] {
        Listen::plain().check(loopback.parse().unwrap()).unwrap();
    }

    // The server refuses a listener on every interface and ends at once.
    let upstream = api().await;
    let config = config(dir.path(), &upstream.uri(), 100, "");
    let any = TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = any.local_addr().unwrap().port();
    let e = start(&config, any, Listen::plain())
        .await
        .task
        .await
        .unwrap()
        .unwrap_err();
    assert!(chain(&e).contains(&format!("0.0.0.0:{port}")), "{e}");

    // With --insecure-listen it serves there (reached over loopback), then stops.
    let any = TcpListener::bind("0.0.0.0:0").await.unwrap();
    let running = start(&config, any, Listen::plain().with_insecure(true)).await;
    let local = SocketAddr::from(([127, 0, 0, 1], running.addr.port()));
    let mut c = alice(local).await;
    let rows = query(&mut c, "SELECT count(*) AS n FROM shop.items")
        .await
        .unwrap();
    assert_eq!(rows, [json!({"n": items().len()})]);
    running.stop().await.unwrap();
}
