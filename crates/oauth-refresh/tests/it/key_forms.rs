//! Every PEM form of a private key in JWTCertStore (issue 28): PKCS#1,
//! SEC1, encrypted PKCS#8 (opened with JWTCertPassword), and the file the
//! conversion command suggested for OpenSSL's legacy encrypted PEM writes.
//! Each signs a client assertion the token endpoint receives, verified here
//! with the public key; what cannot be read is named with the file, the
//! property and a command that works, never with a password or the key.
//! The fixtures and the commands that made them: `keys/README.md`.

use connectkit_oauth_refresh::{SigningAlgorithm, SigningKey};
use jsonwebtoken::{Algorithm, DecodingKey};
use secrecy::SecretString;

use crate::assertions::{
    config_error, from_props, key_path, key_text, param, rsa_public, token_server, verify,
};
use crate::{CLIENT_ID, token_requests};

fn ec_public() -> DecodingKey {
    DecodingKey::from_ec_pem(key_text("ec.pub.pem").as_bytes()).unwrap()
}

/// The base64 body of the unencrypted test keys, which must never be shown.
fn key_material() -> Vec<String> {
    [
        "rsa.pkcs8.pem",
        "ec.pkcs8.pem",
        "ec.sec1.pem",
        "rsa.pkcs1.pem",
    ]
    .iter()
    .flat_map(|f| {
        key_text(f)
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 20)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    })
    .collect()
}

#[tokio::test]
async fn every_pem_form_signs_a_client_assertion_that_verifies() {
    for (file, password, alg) in [
        ("rsa.pkcs1.pem", None, Algorithm::RS256),
        ("rsa.encrypted.pem", Some("x"), Algorithm::RS256),
        // What the legacy form's conversion command wrote.
        (
            "rsa.legacy-converted.pem",
            Some("new-pass"),
            Algorithm::RS256,
        ),
        ("ec.sec1.pem", None, Algorithm::ES256),
        ("ec.encrypted.pem", Some("ec-pass"), Algorithm::ES256),
    ] {
        let (server, _) = token_server().await;
        let token_url = format!("{}/token", server.uri());
        let password = password
            .map(|p| format!(";JWTCertPassword={p}"))
            .unwrap_or_default();
        let flow = from_props(&format!(
            "ClientID={CLIENT_ID};TokenURI=POST {token_url};JWTCertStore={}{password}",
            key_path(file).display()
        ))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        flow.access_token().await.unwrap();
        let r = &token_requests(&server).await[0];
        let public = if alg == Algorithm::ES256 {
            ec_public()
        } else {
            rsa_public()
        };
        let (header, claims) = verify(
            param(r, "client_assertion").unwrap(),
            &public,
            alg,
            &token_url,
        );
        assert_eq!(header.alg, alg, "{file}");
        assert_eq!(claims["iss"], CLIENT_ID, "{file}");
    }
}

#[test]
fn an_encrypted_key_opens_with_its_password_alone_and_shows_neither() {
    let password = SecretString::from("ec-pass");
    let key = SigningKey::from_file(key_path("ec.encrypted.pem"), Some(&password), None).unwrap();
    assert_eq!(key.algorithm(), SigningAlgorithm::ES256);
    let shown = format!("{key:?}");
    assert!(shown.contains("ec.encrypted.pem"), "{shown}");
    assert!(!shown.contains("ec-pass"), "{shown}");
    for line in key_material() {
        assert!(!shown.contains(&line), "{shown}");
    }
    // An RSA key from an encrypted file takes PS256 as any RSA key does.
    let rsa = SigningKey::from_file(
        key_path("rsa.encrypted.pem"),
        Some(&SecretString::from("x")),
        None,
    )
    .unwrap()
    .with_algorithm(SigningAlgorithm::PS256)
    .unwrap();
    assert_eq!(rsa.algorithm(), SigningAlgorithm::PS256);
}

/// The message of a key store that cannot be read: it names the property
/// and the file, never the password given or the key.
fn refused(file: &str, password: Option<&str>) -> String {
    let path = key_path(file);
    let password_prop = password
        .map(|p| format!(";JWTCertPassword={p}"))
        .unwrap_or_default();
    let e = config_error(&format!(
        "ClientID={CLIENT_ID};TokenURI=POST https://login.example/token;JWTCertStore={}{password_prop}",
        path.display()
    ));
    assert!(
        e.starts_with(&format!("property JWTCertStore: {} ", path.display())),
        "{e}"
    );
    let debug = format!("{:?}", from_props(&format!(
        "ClientID={CLIENT_ID};TokenURI=POST https://login.example/token;JWTCertStore={}{password_prop}",
        path.display()
    )).unwrap_err());
    for shown in [&e, &debug] {
        if let Some(p) = password {
            assert!(!shown.contains(p), "{file}: the password is shown: {shown}");
        }
        for line in key_material() {
            assert!(!shown.contains(&line), "{file}: key material shown");
        }
    }
    e
}

#[test]
fn key_forms_that_cannot_be_read_say_why_and_how_to_convert_them() {
    let e = refused("rsa.encrypted.pem", None);
    assert!(
        e.ends_with(
            "holds an encrypted PKCS#8 key (`BEGIN ENCRYPTED PRIVATE KEY`): give its password in JWTCertPassword"
        ),
        "{e}"
    );
    let e = refused("ec.encrypted.pem", Some("not-the-ec-password"));
    assert!(
        e.ends_with("does not open with the JWTCertPassword given"),
        "{e}"
    );

    // OpenSSL's legacy encryption: the conversion named is the one that
    // wrote rsa.legacy-converted.pem, which the test above signs with.
    let e = refused("rsa.legacy-encrypted.pem", Some("legacy-pass"));
    assert!(e.contains("`Proc-Type: 4,ENCRYPTED`"), "{e}");
    assert!(
        e.contains("`openssl pkcs8 -topk8 -in key.pem -out key-pkcs8.pem`"),
        "{e}"
    );
    assert!(e.contains("JWTCertPassword"), "{e}");

    // PBES1 (pbeWithSHA1And3-KeyTripleDES-CBC): the right password, a
    // scheme no maintained crate decrypts.
    let e = refused("rsa.pbes1.pem", Some("old-pass"));
    assert!(
        e.contains("encrypted with a scheme connectkit does not read (1.2.840.113549.1.12.1.3"),
        "{e}"
    );
    assert!(
        e.contains("`openssl pkcs8 -topk8 -in key.pem -out key-pkcs8.pem`"),
        "{e}"
    );
}
