use base64::Engine;
use connectkit_oauth_refresh::ClientCredentialsMode;
use wiremock::MockServer;

use crate::{CountingIssuer, builder, token_requests};

/// A server on 127.0.0.1 whose `/token` issues `at-1`, `at-2`, ... for an hour.
async fn token_server() -> MockServer {
    let server = MockServer::builder().start().await;
    CountingIssuer {
        expires_in: 3600,
        ..Default::default()
    }
    .mount(&server)
    .await;
    server
}

async fn one_request(
    mode: ClientCredentialsMode,
    prefix: &str,
    scope: Option<&str>,
) -> crate::Received {
    let server = token_server().await;
    let mut b = builder(&server, prefix).client_credentials_mode(mode);
    if let Some(s) = scope {
        b = b.scope(s);
    }
    let flow = b.build().unwrap();
    flow.access_token().await.unwrap();
    let mut reqs = token_requests(&server).await;
    assert_eq!(reqs.len(), 1);
    reqs.remove(0)
}

#[tokio::test]
async fn every_mode_with_get_and_post() {
    use ClientCredentialsMode::*;
    for (mode, name) in [(All, "all"), (Basic, "basic"), (Url, "url"), (Post, "post")] {
        for (prefix, m) in [("", "get"), ("POST ", "post")] {
            if mode == Post && prefix.is_empty() {
                continue; // a configuration error, tested below
            }
            let r = one_request(
                mode,
                prefix,
                Some("https://www.googleapis.com/auth/analytics.readonly"),
            )
            .await;
            insta::assert_yaml_snapshot!(format!("mode_{name}_{m}"), r);
        }
    }
}

#[tokio::test]
async fn scope_absent_is_not_sent_and_prefix_is_case_insensitive() {
    let r = one_request(ClientCredentialsMode::Basic, "post ", None).await;
    assert_eq!(r.method, "POST");
    assert!(!r.form.iter().any(|(k, _)| k == "scope"), "{r:?}");
    let r = one_request(ClientCredentialsMode::Basic, "Get ", None).await;
    assert_eq!(r.method, "GET");
    assert!(!r.query.iter().any(|(k, _)| k == "scope"), "{r:?}");
}

#[tokio::test]
async fn basic_credentials_are_form_urlencoded_before_base64() {
    let server = token_server().await;
    let flow = builder(&server, "POST ")
        .client_id("id:with space")
        .client_secret("p@ss+/=")
        .client_credentials_mode(ClientCredentialsMode::Basic)
        .build()
        .unwrap();
    flow.access_token().await.unwrap();
    let r = token_requests(&server).await.remove(0);
    let b64 = r
        .authorization
        .unwrap()
        .strip_prefix("Basic ")
        .unwrap()
        .to_owned();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_eq!(
        String::from_utf8(raw).unwrap(),
        "id%3Awith+space:p%40ss%2B%2F%3D"
    );
}

#[tokio::test]
async fn force_post_overrides_the_get_default() {
    let server = token_server().await;
    let flow = builder(&server, "")
        .force_post(true)
        .client_credentials_mode(ClientCredentialsMode::Post)
        .build()
        .unwrap();
    flow.access_token().await.unwrap();
    let r = token_requests(&server).await.remove(0);
    assert_eq!(r.method, "POST");
    assert!(r.query.is_empty());
    assert!(
        r.form
            .contains(&("client_secret".into(), crate::CLIENT_SECRET.into()))
    );
}

#[tokio::test]
async fn configuration_errors_name_the_property() {
    let server = MockServer::builder().start().await;
    let err = builder(&server, "")
        .client_credentials_mode(ClientCredentialsMode::Post)
        .build()
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("ClientCredentialsMode") && msg.contains("TokenURI"),
        "{msg}"
    );

    let err = connectkit_oauth_refresh::RefreshTokenFlow::builder()
        .token_uri("PUT https://h/t")
        .unwrap_err();
    assert!(
        err.to_string().contains("TokenURI") && err.to_string().contains("PUT"),
        "{err}"
    );
    let err = connectkit_oauth_refresh::RefreshTokenFlow::builder()
        .token_uri("ftp://h/t")
        .unwrap_err();
    assert!(err.to_string().contains("TokenURI"), "{err}");
    let err = connectkit_oauth_refresh::RefreshTokenFlow::builder()
        .refresh_token("x")
        .client_id("c")
        .token_uri("http://example.com/token")
        .unwrap()
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("TokenURI") && err.to_string().contains("https"),
        "{err}"
    );
    connectkit_oauth_refresh::RefreshTokenFlow::builder()
        .refresh_token("x")
        .client_id("c")
        .token_uri("http://example.com/token")
        .unwrap()
        .allow_insecure_http(true)
        .build()
        .unwrap();
    let err = "Sometimes".parse::<ClientCredentialsMode>().unwrap_err();
    assert!(err.to_string().contains("ClientCredentialsMode"), "{err}");
    assert_eq!(
        "bAsIc".parse::<ClientCredentialsMode>().unwrap(),
        ClientCredentialsMode::Basic
    );
    let err = builder(&server, "")
        .auth_header("Authorization", "x")
        .unwrap()
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("AuthHeader"), "{err}");
}

/// The Rust builder's defaults are RFC 6749's: a POST with a form body
/// (section 3.2) and the client authenticated by HTTP Basic alone (section
/// 2.3.1): no credential in the query or the body, whatever the TokenURI
/// prefix says or does not say.
#[tokio::test]
async fn the_builder_defaults_to_post_and_client_secret_basic() {
    use connectkit_oauth_refresh::RefreshTokenFlow;
    for uri in ["{}/token", "POST {}/token"] {
        let server = token_server().await;
        let flow = RefreshTokenFlow::builder()
            .client_id(crate::CLIENT_ID)
            .client_secret(crate::CLIENT_SECRET)
            .refresh_token(crate::REFRESH_TOKEN)
            .token_uri(&uri.replace("{}", &server.uri()))
            .unwrap()
            .build()
            .unwrap();
        flow.access_token().await.unwrap();
        let reqs = token_requests(&server).await;
        assert_eq!(reqs.len(), 1, "{uri}");
        let r = &reqs[0];
        assert_eq!(r.method, "POST", "{uri}");
        assert!(r.query.is_empty(), "{uri}: {:?}", r.query);
        assert_eq!(
            r.content_type.as_deref(),
            Some("application/x-www-form-urlencoded"),
            "{uri}"
        );
        let expected_basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                crate::CLIENT_ID,
                crate::CLIENT_SECRET
            ))
        );
        assert_eq!(r.authorization.as_deref(), Some(expected_basic.as_str()));
        let keys: Vec<&str> = r.form.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["grant_type", "refresh_token"], "{uri}");
    }
}

/// A public client (RFC 6749 section 2.1; native apps, RFC 8252) has no
/// secret: the refresh request names it with `client_id` in the form body
/// and sends no Basic header, from the builder and from properties alike.
#[tokio::test]
async fn a_public_client_sends_client_id_and_no_authentication() {
    use connectkit_oauth_refresh::{RefreshTokenFlow, RefreshTokenFlowBuilder};
    let server = token_server().await;
    let from_builder = RefreshTokenFlow::builder()
        .client_id(crate::CLIENT_ID)
        .refresh_token(crate::REFRESH_TOKEN)
        .token_uri(&format!("{}/token", server.uri()))
        .unwrap()
        .build()
        .unwrap();
    from_builder.access_token().await.unwrap();
    let url: connectkit_core::ConnectionUrl = format!(
        "x:ClientID={};RefreshToken={};TokenURI=POST {}/token",
        crate::CLIENT_ID,
        crate::REFRESH_TOKEN,
        server.uri()
    )
    .parse()
    .unwrap();
    let from_props = RefreshTokenFlowBuilder::from_properties(url.properties())
        .unwrap()
        .build()
        .unwrap();
    from_props.access_token().await.unwrap();
    let reqs = token_requests(&server).await;
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert_eq!(r.method, "POST");
        assert!(r.authorization.is_none(), "{r:?}");
        assert!(r.query.is_empty(), "{r:?}");
        let form: Vec<(&str, &str)> = r
            .form
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            form,
            [
                ("grant_type", "refresh_token"),
                ("refresh_token", crate::REFRESH_TOKEN),
                ("client_id", crate::CLIENT_ID)
            ]
        );
    }
}
