//! The `example` subprotocol: its properties, its registration, and a
//! connector built from a connection's properties on the shared layer.

use std::sync::Arc;

use connectkit_core::client::{
    ApiClient, ClientOptions, CredentialScope, HttpService, PagingLimits, RetryConfig,
};
use connectkit_core::reqwest::Url;
use connectkit_core::{
    AccessTokenAuth, AuthFlow, Error, Properties, PropertySpec, Registry, Result,
};
use connectkit_oauth_refresh::{GrantType, RefreshTokenFlowBuilder, connector_catalogue};

use crate::connector::ExampleConnector;

/// The URL subprotocol: `jdbc:datadirect:example:...`.
pub const SUBPROTOCOL: &str = "example";

/// The connector's own properties; [`catalogue`] adds the common ones, the
/// grant's (ClientID, ClientSecret, RefreshToken, AccessToken, TokenURI,
/// Scope, TokenFile, ...) and the HTTP layer's (retries, paging, proxy,
/// TrustStore).
const OWN_PROPERTIES: &[PropertySpec] = &[
    PropertySpec::new(
        "ServiceURL",
        "The API root, e.g. https://api.test/v1/: each table's pages are read from a path below it.",
    )
    .required(),
    PropertySpec::new("PageSize", "Rows asked for per page (the per_page parameter).")
        .default_value("100"),
    PropertySpec::new(
        "WSTimeout",
        "Seconds one request may take, connect to last byte; 0 for none.",
    )
    .default_value("120"),
];

/// Every property an `example` connection accepts.
pub fn catalogue() -> Vec<PropertySpec> {
    connector_catalogue(OWN_PROPERTIES)
}

/// Registers the connector and its grant defaults for `example` URLs.
pub fn register(registry: &mut Registry) {
    registry.register(SUBPROTOCOL, catalogue(), |props| {
        Ok(Box::new(ExampleConnector::from_properties(props)?))
    });
    registry.register_grant_defaults(SUBPROTOCOL, grant_defaults);
}

/// What this API's token requests need beyond the grant's own defaults,
/// written into `props` (every connection and `connectkit authorize` apply
/// it): the token request is a POST (RFC 6749 section 3.2) unless TokenURI
/// says `GET `.
pub fn grant_defaults(props: &mut Properties) -> Result<()> {
    if let Some(uri) = props.get_str("TokenURI").map(str::trim)
        && !uri.contains(char::is_whitespace)
    {
        let post = format!("POST {uri}");
        props.set("TokenURI", post);
    }
    Ok(())
}

/// The flow that puts a bearer token on every request: an AccessToken with
/// nothing that renews it (no RefreshToken, TokenFile or ClientSecret) is
/// sent until the API rejects it; otherwise the grant
/// `AuthenticationMethod=OAuth2` means (refresh token when RefreshToken or
/// TokenFile is set, else client credentials).
/// Token requests go through `service` when given.
fn bearer_flow(
    props: &Properties,
    service: Option<&Arc<dyn HttpService>>,
) -> Result<Arc<dyn AuthFlow>> {
    let renewable = ["RefreshToken", "TokenFile", "ClientSecret"];
    match props.secret("AccessToken") {
        Some(token) if !renewable.iter().any(|p| props.contains(p)) => {
            Ok(Arc::new(AccessTokenAuth::new(token)?))
        }
        _ => {
            let grant = GrantType::for_oauth2(props);
            let mut builder = RefreshTokenFlowBuilder::from_properties_for(props, grant)?;
            if let Some(service) = service {
                builder = builder.http_service(Arc::clone(service));
            }
            Ok(Arc::new(builder.build()?))
        }
    }
}

impl ExampleConnector {
    /// Builds the connector from a connection's properties (checked against
    /// [`catalogue`]). Nothing is sent until the first request.
    pub fn from_properties(props: &Properties) -> Result<Self> {
        Self::with_service(props, None)
    }

    /// [`from_properties`](Self::from_properties), sending API and token
    /// requests through `service` when given (pages from memory in tests, a
    /// transport of your own): scope checks, authorization, retries and
    /// paging stay the shared layer's.
    pub fn with_service(props: &Properties, service: Option<Arc<dyn HttpService>>) -> Result<Self> {
        let catalogue = catalogue();
        let mut props = props.clone();
        props.validate(&catalogue)?;
        grant_defaults(&mut props)?;
        let service_url = props.get_str("ServiceURL").unwrap_or_default();
        let base =
            Url::parse(&format!("{}/", service_url.trim_end_matches('/'))).map_err(|_| {
                Error::invalid_property("ServiceURL", "an http or https URL", Some(service_url))
            })?;
        let page_size = props.typed(&catalogue).positive::<u32>("PageSize")?;
        let auth = bearer_flow(&props, service.as_ref())?;
        let http = ClientOptions::from_properties(&props, &catalogue)?
            .with_user_agent(concat!("connectkit-example/", env!("CARGO_PKG_VERSION")))
            .api_client()?;
        // Credentials go to ServiceURL's origin only, over https unless loopback.
        let mut scope = CredentialScope::new();
        scope.allow(&base, "ServiceURL", true)?;
        let mut client =
            ApiClient::new(http, auth, scope).with_retry(RetryConfig::from_properties(&props)?);
        if let Some(service) = service {
            client = client.with_service(service);
        }
        let limits = PagingLimits::from_properties(&props)?;
        Ok(Self::new(client, base, page_size, limits))
    }
}
