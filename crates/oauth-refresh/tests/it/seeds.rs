use connectkit_core::ConnectionUrl;
use connectkit_oauth_refresh::{ClientCredentialsMode, RefreshTokenFlowBuilder};
use wiremock::MockServer;

use crate::{CountingIssuer, token_requests};

fn seed(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/seeds")
        .join(name);
    std::fs::read_to_string(p).unwrap()
}

#[tokio::test]
async fn autorest_seed_sends_a_get_with_all_credentials() {
    let server = MockServer::builder().start().await;
    CountingIssuer {
        expires_in: 3600,
        ..Default::default()
    }
    .mount_at(&server, "/o/oauth2/token")
    .await;
    let text = seed("autorest.url").replace(
        "https://accounts.google.com/o/oauth2",
        &format!("{}/o/oauth2", server.uri()),
    );
    let url: ConnectionUrl = text.parse().unwrap();
    let flow = RefreshTokenFlowBuilder::from_properties(url.properties())
        .unwrap()
        .build()
        .unwrap();
    flow.access_token().await.unwrap();
    let reqs: Vec<_> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(crate::received)
        .collect();
    assert_eq!(reqs.len(), 1);
    insta::assert_yaml_snapshot!("seed_autorest_token_request", reqs[0]);
}

#[tokio::test]
async fn dynamics_seed_sends_a_post_form_with_credentials_in_the_body() {
    let server = MockServer::builder().start().await;
    CountingIssuer {
        expires_in: 3600,
        ..Default::default()
    }
    .mount(&server)
    .await;
    let text = seed("dynamics365.url").replace(
        "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        &format!("{}/token", server.uri()),
    );
    let url: ConnectionUrl = text.parse().unwrap();
    let flow = RefreshTokenFlowBuilder::from_properties(url.properties())
        .unwrap()
        .force_post(true)
        .client_credentials_mode(ClientCredentialsMode::Post)
        .scope("https://mywebinstance.crm.dynamics.com/.default offline_access")
        .build()
        .unwrap();
    flow.access_token().await.unwrap();
    let reqs = token_requests(&server).await;
    assert_eq!(reqs.len(), 1);
    insta::assert_yaml_snapshot!("seed_dynamics_token_request", reqs[0]);
}

#[test]
fn from_properties_names_what_is_missing() {
    let url: ConnectionUrl = "autorest:ClientID=a;ClientSecret=b;TokenURI=https://h/t"
        .parse()
        .unwrap();
    let err = RefreshTokenFlowBuilder::from_properties(url.properties()).unwrap_err();
    assert_eq!(err.to_string(), "missing required property RefreshToken");
    let url: ConnectionUrl =
        "autorest:ClientID=a;ClientSecret=b;RefreshToken=c;TokenURI=https://h/t;AuthHeader=X-T"
            .parse()
            .unwrap();
    let err = RefreshTokenFlowBuilder::from_properties(url.properties()).unwrap_err();
    assert_eq!(err.to_string(), "missing required property SecurityToken");
    let url: ConnectionUrl = "autorest:ClientID=a;ClientSecret=b;RefreshToken=c;TokenURI=https://h/t;ClientCredentialsMode=Header"
        .parse()
        .unwrap();
    let err = RefreshTokenFlowBuilder::from_properties(url.properties()).unwrap_err();
    assert!(
        err.to_string().contains("ClientCredentialsMode") && err.to_string().contains("\"Header\""),
        "{err}"
    );
}
