//! TLS against a real server on 127.0.0.1 whose certificate a private CA
//! (generated here) signed: trusted through TrustStore, refused without it
//! with a message naming the property, refused for another host name; and
//! the TrustStore files that cannot work, named before anything is sent.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use connectkit_core::client::{ApiClient, ClientOptions, CredentialScope, Fetched, HttpRules};
use connectkit_core::{ConnectionUrl, ErrorKind, NoAuth, PropertySpec};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CATALOGUE: &[PropertySpec] =
    &[PropertySpec::new("WSTimeout", "seconds").default_value("120")];

/// A CA (its PEM) and a server certificate it signed for `names`.
fn private_ca(names: &[&str]) -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "connectkit test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let cert = CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (
        ca_cert.pem(),
        cert.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}

/// An https server on 127.0.0.1 answering every request with `[]`; counts
/// the requests that got through the handshake.
async fn https_server(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> (String, Arc<AtomicUsize>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let count = count.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n[]")
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (format!("https://127.0.0.1:{port}"), served)
}

fn options(props: &str) -> connectkit_core::Result<ClientOptions> {
    let props = format!("x:{props}")
        .parse::<ConnectionUrl>()?
        .into_parts()
        .1;
    ClientOptions::from_properties(&props, CATALOGUE)
}

async fn get(options: &ClientOptions, base: &str) -> connectkit_core::Result<Fetched> {
    let mut scope = CredentialScope::new();
    scope
        .allow(&reqwest::Url::parse(base).unwrap(), "Sample", true)
        .unwrap();
    let c = ApiClient::new(options.api_client()?, Arc::new(NoAuth), scope);
    let req = reqwest::Request::new(
        reqwest::Method::GET,
        format!("{base}/items").parse().unwrap(),
    );
    c.fetch(req, &HttpRules::standard()).await
}

fn pem_file(text: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text).unwrap();
    f
}

#[tokio::test]
async fn a_private_ca_is_trusted_through_trust_store_only() {
    let (ca_pem, cert, key) = private_ca(&["127.0.0.1"]);
    let (base, served) = https_server(cert, key).await;
    let ca = pem_file(ca_pem.as_bytes());

    let trusted = options(&format!("TrustStore={}", ca.path().display())).unwrap();
    let Fetched::Body(body) = get(&trusted, &base).await.unwrap() else {
        panic!("expected a body")
    };
    assert_eq!(body.bytes, b"[]");
    assert_eq!(served.load(Ordering::SeqCst), 1);

    // Without it: refused in the handshake, nothing sent, and the message
    // names the host and the property that fixes it.
    let e = get(&options("").unwrap(), &base).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport);
    let text = e.to_string();
    assert!(
        text.contains("127.0.0.1") && text.contains("TrustStore"),
        "{text}"
    );
    assert!(text.contains("UnknownIssuer"), "{text}");
    // The issuer that was not trusted, by its distinguished name.
    assert!(text.contains("CN=connectkit test CA"), "{text}");
    assert_eq!(e.kind().exit_code(), 4);
    assert_eq!(served.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_certificate_for_another_host_is_refused_even_with_its_ca_trusted() {
    let (ca_pem, cert, key) = private_ca(&["api.internal.example"]);
    let (base, served) = https_server(cert, key).await;
    let ca = pem_file(ca_pem.as_bytes());
    let trusted = options(&format!("TrustStore={}", ca.path().display())).unwrap();
    let e = get(&trusted, &base).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport);
    let text = e.to_string();
    assert!(text.contains("NotValidForName"), "{text}");
    // What was checked, what the certificate holds, and the property.
    assert!(
        text.contains("not valid for 127.0.0.1")
            && text.contains("holds api.internal.example")
            && text.contains("HostNameInCertificate"),
        "{text}"
    );
    assert_eq!(served.load(Ordering::SeqCst), 0);

    // HostNameInCertificate: the certificate is checked against that name
    // (the request still goes to 127.0.0.1).
    let named = options(&format!(
        "TrustStore={};HostNameInCertificate=api.internal.example",
        ca.path().display()
    ))
    .unwrap();
    let Fetched::Body(body) = get(&named, &base).await.unwrap() else {
        panic!("expected a body")
    };
    assert_eq!(body.bytes, b"[]");
    assert_eq!(served.load(Ordering::SeqCst), 1);

    // A name the certificate does not hold is refused, naming the property.
    let wrong = options(&format!(
        "TrustStore={};HostNameInCertificate=other.internal.example",
        ca.path().display()
    ))
    .unwrap();
    let e = get(&wrong, &base).await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("not valid for other.internal.example")
            && text.contains("the name checked is HostNameInCertificate"),
        "{text}"
    );
    assert_eq!(served.load(Ordering::SeqCst), 1);

    // Without its CA, the name alone does not make it trusted.
    let untrusted = options("HostNameInCertificate=api.internal.example").unwrap();
    let e = get(&untrusted, &base).await.unwrap_err();
    assert!(e.to_string().contains("UnknownIssuer"), "{e}");
    assert_eq!(served.load(Ordering::SeqCst), 1);
}

#[test]
fn host_name_in_certificate_must_be_a_host_name() {
    let e = options("HostNameInCertificate=not a host").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("HostNameInCertificate"), "{e}");
}

/// A TCP listener that accepts connections and never answers: the TLS
/// handshake of an https request to it never completes.
async fn silent_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    format!("https://127.0.0.1:{port}")
}

#[tokio::test(start_paused = true)]
async fn connect_timeout_bounds_connecting_and_wstimeout_the_whole_request() {
    let base = silent_server().await;
    // ConnectTimeout covers the TLS handshake; WSTimeout=0 sets no other limit.
    let connect = options("ConnectTimeout=5;WSTimeout=0").unwrap();
    assert_eq!(
        connect.connect_timeout,
        Some(std::time::Duration::from_secs(5))
    );
    let e = get(&connect, &base).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport);
    assert!(
        e.to_string()
            .contains("connecting timed out (ConnectTimeout)"),
        "{e}"
    );

    // No connect limit: the whole-request limit ends it instead.
    let whole = options("ConnectTimeout=0;WSTimeout=7").unwrap();
    assert_eq!(whole.connect_timeout, None);
    let e = get(&whole, &base).await.unwrap_err();
    assert!(e.to_string().contains("timed out (WSTimeout)"), "{e}");

    // The default, and a value that is no number of seconds.
    assert_eq!(
        options("").unwrap().connect_timeout,
        Some(connectkit_core::client::CONNECT_TIMEOUT)
    );
    let e = options("ConnectTimeout=soon").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("ConnectTimeout"), "{e}");
}

#[test]
fn trust_store_files_that_cannot_work_are_named_before_anything_is_sent() {
    let missing = options("TrustStore=/nonexistent/ca.pem").unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::Io);
    assert_eq!(missing.kind().exit_code(), 2);
    assert!(
        missing.to_string().contains("/nonexistent/ca.pem"),
        "{missing}"
    );

    let jks = pem_file(&[0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2]);
    let e = options(&format!("TrustStore={}", jks.path().display())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(
        e.to_string().contains("Java keystore") && e.to_string().contains("keytool"),
        "{e}"
    );

    let der = pem_file(&[0x30, 0x82, 0x01, 0x0a]);
    let e = options(&format!("TrustStore={}", der.path().display())).unwrap_err();
    assert!(e.to_string().contains("openssl"), "{e}");

    let text = pem_file(b"not a certificate\n");
    let e = options(&format!("TrustStore={}", text.path().display())).unwrap_err();
    assert!(e.to_string().contains("BEGIN CERTIFICATE"), "{e}");

    let e = options("ValidateServerCertificate=false").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("TrustStore"), "{e}");
    assert!(options("ValidateServerCertificate=true").is_ok());
}
