//! [`Dynamics365DataSource`]: the connection's configuration, from code (as
//! the vendor's `Dynamics365DataSource`) or from connection properties.

use std::fmt;
use std::sync::Arc;

use connectkit_core::{
    AccessTokenAuth, AuthFlow, Properties, PropertySpec, Registry, Result, SecretString,
};
use connectkit_oauth_refresh::{
    ClientCredentialsMode, GrantType, RefreshTokenFlowBuilder, connector_catalogue,
};

use crate::cache::MetadataCache;
use crate::connector::Dynamics365Connector;
use crate::error::Dynamics365Error;
use connectkit_core::client::{
    ApiClient, ClientOptions, CredentialScope, HttpService, PagingLimits, RetryConfig,
};

use crate::http::{Api, odata_detail};
use crate::service_url::{default_scope, parse_service_url};

/// The URL subprotocol of this connector: `jdbc:datadirect:dynamics365:...`.
pub const SUBPROTOCOL: &str = "dynamics365";
/// The `odata.maxpagesize` asked for when PageSize is not given (the
/// catalogue's default, which the connector reads; a test keeps the two equal).
pub const DEFAULT_PAGE_SIZE: u32 = 5000;

/// The connector's own properties, beside [`COMMON_PROPERTIES`] and [`GRANT_PROPERTIES`].
const OWN_PROPERTIES: &[PropertySpec] = &[
    PropertySpec::new(
        "ServiceURL",
        "The Web API root, e.g. https://org.api.crm.dynamics.com/api/data/v9.2/.",
    )
    .required(),
    PropertySpec::new(
        "AuthenticationMethod",
        "How requests are authorized: OAuth2 (the refresh token grant when RefreshToken or TokenFile is set, else client credentials).",
    )
    .default_value("OAuth2"),
    PropertySpec::new(
        "IncludeFormattedValues",
        "true: label columns (<column>_label, <lookup>_entity) beside choice, yes/no, lookup and multi-select choice columns.",
    )
    .default_value("false"),
    PropertySpec::new(
        "MetadataCache",
        "true: keep $metadata in MetadataCacheDir and revalidate it with ETag/Last-Modified instead of downloading it again; false: always download.",
    )
    .default_value("true"),
    PropertySpec::new(
        "MetadataCacheDir",
        "Where MetadataCache keeps documents (default: <user cache dir>/connectkit/dynamics365-metadata).",
    ),
    PropertySpec::new(
        "PageSize",
        "Rows per page asked for with Prefer: odata.maxpagesize.",
    )
    .default_value("5000"),
    PropertySpec::new(
        "WSTimeout",
        "Seconds one request may take, connect to last byte; 0 for none.",
    )
    .default_value("300"),
    PropertySpec::new(
        "PartitionColumn",
        "connectkit extension: the column partitioned scans split a table on (an integer, Edm.Date or Edm.DateTimeOffset column whose values do not change during the export); default createdon.",
    ),
];

/// The vendor's default `WSTimeout` for Dynamics 365 (the catalogue's
/// default, which the connector reads; a test keeps the two equal).
pub const DEFAULT_WS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Every property a `dynamics365` connection accepts: `Description`, the
/// refresh token grant's properties, `ServiceURL` (required),
/// `AuthenticationMethod` (default `OAuth2`), `PageSize` (default 5000) and
/// `WSTimeout` (seconds, default 300, 0 for none).
pub fn catalogue() -> Vec<PropertySpec> {
    connector_catalogue(OWN_PROPERTIES)
}

/// Registers the connector for the `dynamics365` subprotocol.
///
/// ```
/// let mut registry = connectkit_core::Registry::new();
/// connectkit_dynamics365::register(&mut registry);
/// assert_eq!(registry.subprotocols(), ["dynamics365"]);
/// ```
pub fn register(registry: &mut Registry) {
    registry.register(SUBPROTOCOL, catalogue(), |props| {
        let connector = Dynamics365DataSource::from_properties(props)?.build()?;
        Ok(Box::new(connector))
    });
    registry.register_grant_defaults(SUBPROTOCOL, grant_defaults);
}

/// An AccessToken given without anything that renews tokens (RefreshToken,
/// TokenFile, ClientSecret, JWTCertStore).
fn access_token_alone(props: &Properties) -> Option<SecretString> {
    let renews = ["RefreshToken", "TokenFile", "ClientSecret", "JWTCertStore"]
        .iter()
        .any(|p| props.contains(p));
    props.secret("AccessToken").filter(|_| !renews)
}

/// Writes the Dynamics 365 defaults its token requests depend on into
/// `props`, as every connection applies them: the token request is a POST
/// (the Microsoft identity platform requires it: a `GET ` prefix on TokenURI
/// is replaced), client credentials go in the form body unless
/// ClientCredentialsMode says otherwise, and Scope defaults to
/// [`default_scope`] of ServiceURL (without `offline_access` for the client
/// credentials grant, which has no refresh token).
pub fn grant_defaults(props: &mut Properties) -> Result<()> {
    if let Some(uri) = props.get_str("TokenURI").map(str::trim).map(str::to_owned) {
        let bare = match uri.split_once(char::is_whitespace) {
            Some((m, rest)) if m.eq_ignore_ascii_case("GET") || m.eq_ignore_ascii_case("POST") => {
                rest.trim().to_owned()
            }
            _ => uri,
        };
        props.set("TokenURI", format!("POST {bare}"));
    }
    if !props.contains("ClientCredentialsMode") {
        props.set("ClientCredentialsMode", "Post");
    }
    // A certificate credential signs as Microsoft Entra documents it: PS256.
    if props.contains("JWTCertStore") && !props.contains("JWTAlgorithm") {
        props.set("JWTAlgorithm", "PS256");
    }
    if !props.contains("Scope") {
        let service = props.get_str("ServiceURL").unwrap_or_default();
        let scope = default_scope(&parse_service_url(service)?);
        let scope = match GrantType::for_oauth2(props) {
            GrantType::ClientCredentials | GrantType::JwtBearer => {
                scope.replace(" offline_access", "")
            }
            _ => scope,
        };
        props.set("Scope", scope);
    }
    Ok(())
}

/// A Dynamics 365 connection, configured as the vendor's `Dynamics365DataSource`.
///
/// Setters mirror the seed's `setServiceURL`, `setClientID`, ...; secrets are
/// held as [`SecretString`] and never printed.
#[derive(Clone, Default)]
pub struct Dynamics365DataSource {
    properties: Properties,
    http_client: Option<reqwest::Client>,
    service: Option<Arc<dyn HttpService>>,
    max_retries: Option<u32>,
}

impl Dynamics365DataSource {
    /// An empty configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a connection's properties, checked against [`catalogue`]
    /// (unknown names and a missing ServiceURL are errors).
    pub fn from_properties(properties: &Properties) -> Result<Self> {
        let mut properties = properties.clone();
        properties.validate(&catalogue())?;
        Ok(Self {
            properties,
            ..Self::default()
        })
    }

    /// The properties as configured so far (secrets stay secret).
    pub fn properties(&self) -> &Properties {
        &self.properties
    }

    fn set(mut self, name: &str, value: impl Into<String>) -> Self {
        self.properties.set(name, value);
        self
    }

    fn set_secret(mut self, name: &str, value: SecretString) -> Self {
        self.properties.set_secret(name, value);
        self
    }

    /// `ServiceURL`: the Web API root, with or without a trailing `/`.
    pub fn service_url(self, url: impl Into<String>) -> Self {
        self.set("ServiceURL", url)
    }

    /// `AuthenticationMethod`: only `OAuth2` (the default) is supported: the
    /// refresh token grant with RefreshToken or TokenFile, else client credentials.
    pub fn authentication_method(self, method: impl Into<String>) -> Self {
        self.set("AuthenticationMethod", method)
    }

    /// `ClientID`.
    pub fn client_id(self, id: impl Into<String>) -> Self {
        self.set("ClientID", id)
    }

    /// `ClientSecret`.
    pub fn client_secret(self, secret: impl Into<SecretString>) -> Self {
        self.set_secret("ClientSecret", secret.into())
    }

    /// `JWTCertStore`: a certificate credential in place of ClientSecret (a
    /// PKCS#12 `.pfx`, or a PEM file with the private key and its
    /// certificate); the client signs a JWT assertion in Microsoft Entra's
    /// form (PS256, `x5t#S256` of the certificate) for every token request.
    pub fn jwt_cert_store(self, path: impl Into<String>) -> Self {
        self.set("JWTCertStore", path)
    }

    /// `JWTCertPassword`: the password of a PKCS#12 JWTCertStore.
    pub fn jwt_cert_password(self, password: impl Into<SecretString>) -> Self {
        self.set_secret("JWTCertPassword", password.into())
    }

    /// `TokenURI`: the token endpoint (always POSTed to).
    pub fn token_uri(self, uri: impl Into<String>) -> Self {
        self.set("TokenURI", uri)
    }

    /// `RefreshToken`.
    pub fn refresh_token(self, token: impl Into<SecretString>) -> Self {
        self.set_secret("RefreshToken", token.into())
    }

    /// `AccessToken`: an initial access token; given alone (without
    /// RefreshToken, TokenFile or ClientSecret), the only one, sent until
    /// the API rejects it.
    pub fn access_token(self, token: impl Into<SecretString>) -> Self {
        self.set_secret("AccessToken", token.into())
    }

    /// `Scope`; see [`default_scope`] for the value used when it is not set.
    pub fn scope(self, scope: impl Into<String>) -> Self {
        self.set("Scope", scope)
    }

    /// `ClientCredentialsMode`: where the client credentials go in the token
    /// request ([`Post`](ClientCredentialsMode::Post), the form body, unless set).
    pub fn client_credentials_mode(self, mode: ClientCredentialsMode) -> Self {
        self.set("ClientCredentialsMode", mode.to_string())
    }

    /// `Description`: free text.
    pub fn description(self, text: impl Into<String>) -> Self {
        self.set("Description", text)
    }

    /// `IncludeFormattedValues`: label columns beside choice, yes/no,
    /// lookup and multi-select choice columns (default false; see the
    /// crate docs, *Labels*).
    pub fn include_formatted_values(self, on: bool) -> Self {
        self.set("IncludeFormattedValues", on.to_string())
    }

    /// `PageSize`: rows per page asked for (default 5000).
    pub fn page_size(self, rows: u32) -> Self {
        self.set("PageSize", rows.to_string())
    }

    /// `ScanPartitions`: the most partitions one scan splits into (default
    /// the number of cores, at most `MaxConcurrentRequests`).
    pub fn scan_partitions(self, n: usize) -> Self {
        self.set("ScanPartitions", n.to_string())
    }

    /// `PartitionColumn`: the column partitioned scans split a table on
    /// (default `createdon`; see the crate docs, *Partitions*).
    pub fn partition_column(self, column: impl Into<String>) -> Self {
        self.set("PartitionColumn", column)
    }

    /// Any other property of [`catalogue`] (AuthHeader, AccessToken, ...).
    /// Secret properties are stored as secrets.
    pub fn property(self, name: &str, value: impl Into<String>) -> Self {
        self.set(name, value)
    }

    /// The HTTP client for API requests (the token endpoint keeps its own,
    /// which follows no redirects).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Sends API and token requests through `service` (pages from memory,
    /// a transport of your own) instead of the HTTP client; scope checks,
    /// authorization, retries, status rules, limits and paging stay
    /// connectkit's ([`ApiClient::with_service`]).
    pub fn http_service(mut self, service: Arc<dyn HttpService>) -> Self {
        self.service = Some(service);
        self
    }

    /// How many times a throttled (429/503) request is retried (default 5;
    /// the property `MaxRetries` sets the same).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = Some(retries);
        self
    }

    /// Checks the configuration and builds the connector. Nothing is sent
    /// until the first request.
    pub fn build(self) -> Result<Dynamics365Connector> {
        let mut props = self.properties.clone();
        let catalogue = catalogue();
        props.validate(&catalogue)?;
        let typed = props.typed(&catalogue);
        let service = props.get_str("ServiceURL").unwrap_or_default();
        let base = parse_service_url(service)?;
        let method = typed.text("AuthenticationMethod").unwrap_or_default();
        if !method.trim().eq_ignore_ascii_case("OAuth2") {
            return Err(Dynamics365Error::UnsupportedAuthenticationMethod {
                found: method.to_owned(),
            }
            .into());
        }
        let page_size = typed.positive::<u32>("PageSize")?;
        let labels = typed.boolean("IncludeFormattedValues")?;
        let cache = MetadataCache::configure(
            typed.boolean("MetadataCache")?,
            props.get_str("MetadataCacheDir"),
        )?;
        let flow: Arc<dyn AuthFlow> = match access_token_alone(&props) {
            // Nothing to renew it with: sent until the API rejects it.
            Some(token) => Arc::new(AccessTokenAuth::new(token)?),
            None => {
                let grant_type = GrantType::for_oauth2(&props);
                grant_defaults(&mut props)?;
                let mut grant = RefreshTokenFlowBuilder::from_properties_for(&props, grant_type)?;
                if let Some(service) = &self.service {
                    grant = grant.http_service(Arc::clone(service));
                }
                Arc::new(grant.build()?)
            }
        };
        let client = match &self.http_client {
            Some(c) => c.clone(),
            None => ClientOptions::from_properties(&props, &catalogue)?
                .with_user_agent(concat!(
                    "connectkit-dynamics365/",
                    env!("CARGO_PKG_VERSION")
                ))
                .api_client()?,
        };
        let mut retry = RetryConfig::from_properties(&props)?;
        if let Some(n) = self.max_retries {
            retry.max_retries = n;
        }
        let mut scope = CredentialScope::new();
        scope.allow(&base, "ServiceURL", true)?;
        let mut client = ApiClient::new(client, flow.clone(), scope)
            .with_retry(retry)
            .with_error_detail(odata_detail);
        if let Some(service) = &self.service {
            client = client.with_service(Arc::clone(service));
        }
        let api = Api { client, base };
        let limits = PagingLimits::from_properties(&props)?;
        let partition_column = props
            .get_str("PartitionColumn")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        Ok(Dynamics365Connector::new(
            api,
            flow,
            page_size,
            limits,
            labels,
            cache,
            partition_column,
        ))
    }
}

impl fmt::Debug for Dynamics365DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dynamics365DataSource")
            .field("properties", &self.properties)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> Dynamics365DataSource {
        Dynamics365DataSource::new()
            .description("My Dynamics 365 Data Source")
            .service_url("https://mywebinstance.api.crm.dynamics.com/api/data/v9.1/")
            .authentication_method("OAuth2")
            .client_id("29453d6f-6789-25gh-gd8g-44tk3c527831")
            .client_secret("12a3=bCD/EfGh4Ijk+Lm5P67qR8s=//TuV+WXy1Zabcd")
            .token_uri("https://login.microsoftonline.com/common/oauth2/v2.0/token")
            .refresh_token("12a3=bCD/EfGh4Ijk+Lgd8g-44tk3c527831")
    }

    #[test]
    fn the_seed_data_source_connects_and_never_prints_secrets() {
        let source = seed();
        let connector = source.clone().build().unwrap();
        assert_eq!(connector.page_size(), DEFAULT_PAGE_SIZE);
        let printed = format!("{source:?} {connector:?}");
        assert!(!printed.contains("12a3"), "{printed}");
        assert!(source.properties().get("ClientSecret").unwrap().is_secret());
    }

    #[test]
    fn configuration_errors_name_the_property() {
        let err = seed().authentication_method("Basic").build().unwrap_err();
        assert_eq!(err.kind(), connectkit_core::ErrorKind::Config);
        assert_eq!(
            err.to_string(),
            "property AuthenticationMethod: unsupported value \"Basic\"; supported: OAuth2"
        );
        let err = seed().page_size(0).build().unwrap_err();
        assert_eq!(err.code(), "config.invalid_property");
        assert_eq!(
            err.to_string(),
            "property PageSize: expected a positive whole number, found \"0\""
        );
        let err = seed()
            .property("PageSize", "4294967296")
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "property PageSize: expected a positive whole number up to 4294967295, found \"4294967296\""
        );
        let err = Dynamics365DataSource::new().build().unwrap_err();
        assert_eq!(err.to_string(), "missing required property ServiceURL");
        let err = seed().property("ServiceUrl2", "x").build().unwrap_err();
        assert!(
            err.to_string().contains("unknown property ServiceUrl2"),
            "{err}"
        );
        // Without RefreshToken, OAuth2 is the client credentials grant,
        // which needs the ClientSecret.
        let mut props = seed().properties().clone();
        props.remove("RefreshToken");
        props.remove("ClientSecret");
        let err = Dynamics365DataSource::from_properties(&props)
            .unwrap()
            .build()
            .unwrap_err();
        assert_eq!(err.to_string(), "missing required property ClientSecret");
        let err = seed()
            .property("IncludeFormattedValues", "maybe")
            .build()
            .unwrap_err();
        assert_eq!(err.code(), "config.invalid_property");
        assert_eq!(
            err.to_string(),
            "property IncludeFormattedValues: expected true or false, found \"maybe\""
        );
        let err = seed().token_uri("not a url").build().unwrap_err();
        assert!(err.to_string().contains("TokenURI"), "{err}");
    }

    #[test]
    fn the_catalogue_holds_the_defaults() {
        let catalogue = catalogue();
        let none = Properties::new();
        let typed = none.typed(&catalogue);
        assert_eq!(
            typed.positive::<u32>("PageSize").unwrap(),
            DEFAULT_PAGE_SIZE
        );
        assert_eq!(
            typed.timeout("WSTimeout").unwrap(),
            Some(DEFAULT_WS_TIMEOUT)
        );
        assert!(!typed.boolean("IncludeFormattedValues").unwrap());
        assert!(typed.boolean("MetadataCache").unwrap());
        assert_eq!(typed.text("AuthenticationMethod"), Some("OAuth2"));
        let on = seed()
            .property("includeformattedvalues", " TRUE ")
            .property("PageSize", "7")
            .build()
            .unwrap();
        assert_eq!(on.page_size(), 7);
    }
}
