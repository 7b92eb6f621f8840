//! The data source: properties, the builder mirroring the vendor's
//! `AutoRESTDataSource`, the property catalogue and registration.

use std::fmt;
use std::sync::Arc;

use connectkit_core::client::HttpService;
use connectkit_core::{Connector, Properties, Registry, Result, SecretString};
use connectkit_oauth_refresh::ClientCredentialsMode;

use crate::UnsampledFieldPolicy;
use crate::connector::AutoRestConnector;
use crate::properties::catalogue;

/// Registers the connector for the `autorest` subprotocol
/// (`jdbc:datadirect:autorest:...`).
pub fn register(registry: &mut Registry) {
    registry.register("autorest", catalogue(), |props| {
        let c = AutoRestConnector::from_properties(props)?;
        Ok(Box::new(c) as Box<dyn Connector>)
    });
    // The endpoints and scope a Config model file declares.
    registry.register_grant_defaults("autorest", |props| {
        crate::model::model_auth::ModelAuth::from_properties(props)?.fill(props);
        Ok(())
    });
}

/// A data source, set up like the vendor's `AutoRESTDataSource`: set the
/// properties, then [`build`](AutoRestDataSource::build) the connector.
///
/// ```
/// use connectkit_autorest::AutoRestDataSource;
///
/// let ds = AutoRestDataSource::new()
///     .description("My Autonomous REST Data Source")
///     .authentication_method("OAuth2-RefreshToken")
///     .client_id("1234567898-a1bc2de3fgh4ij567klmn8opqr9stu.apps.googleusercontent.com")
///     .client_secret("FaZBFRsGXTaR")
///     .config("C:/path/to/googleanalytics.rest")
///     .refresh_token("1/abCD0F1GHijkLmNOPqrs_T2VWx3Y-Zabc45dE6FGh")
///     .token_uri("https://accounts.google.com/o/oauth2/token");
/// assert!(!format!("{ds:?}").contains("FaZBFRsGXTaR"));
/// assert_eq!(ds.properties().get_str("Config"), Some("C:/path/to/googleanalytics.rest"));
/// ```
#[derive(Clone, Default)]
pub struct AutoRestDataSource {
    props: Properties,
    client: Option<reqwest::Client>,
    service: Option<Arc<dyn HttpService>>,
}

macro_rules! setters {
    ($($(#[$doc:meta])* $fn:ident => $prop:literal;)*) => {
        $(
            $(#[$doc])*
            pub fn $fn(mut self, value: impl Into<String>) -> Self {
                self.props.set($prop, value);
                self
            }
        )*
    };
}

macro_rules! secret_setters {
    ($($(#[$doc:meta])* $fn:ident => $prop:literal;)*) => {
        $(
            $(#[$doc])*
            pub fn $fn(mut self, value: impl Into<SecretString>) -> Self {
                self.props.set_secret($prop, value.into());
                self
            }
        )*
    };
}

impl AutoRestDataSource {
    /// A data source with no properties set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A data source from already-parsed properties (e.g. a connection URL's),
    /// checked against [`catalogue`].
    pub fn from_properties(props: &Properties) -> Result<Self> {
        let mut props = props.clone();
        props.validate(&catalogue())?;
        Ok(Self {
            props,
            ..Self::default()
        })
    }

    setters! {
        /// `Description`: free text.
        description => "Description";
        /// `AuthenticationMethod`: `None` (default), `OAuth2-RefreshToken` (or
        /// the legacy `OAuth2`), `HttpHeader` or `BearerToken`.
        authentication_method => "AuthenticationMethod";
        /// `ClientID`: the application's client ID.
        client_id => "ClientID";
        /// `Config`: path of a model file.
        config => "Config";
        /// `Sample`: an endpoint to sample.
        sample => "Sample";
        /// `Table`: the name of the sampled table.
        table => "Table";
        /// `TokenURI`: `[GET |POST ]<url>` of the token endpoint.
        token_uri => "TokenURI";
        /// `Scope`: space-separated OAuth scopes.
        scope => "Scope";
        /// `AuthHeader`: name of the header that carries SecurityToken.
        auth_header => "AuthHeader";
        /// `User`: the user name of `Basic` authentication.
        user => "User";
        /// `AuthParam`: the query parameter that carries SecurityToken
        /// (`UrlParameter` authentication).
        auth_param => "AuthParam";
        /// `ServerName`: base URL for relative model-file paths.
        server_name => "ServerName";
    }

    secret_setters! {
        /// `ClientSecret` (kept secret).
        client_secret => "ClientSecret";
        /// `RefreshToken` (kept secret).
        refresh_token => "RefreshToken";
        /// `AccessToken` (kept secret): an initial access token; given
        /// alone with `OAuth2`, the only one, used until the API rejects it.
        access_token => "AccessToken";
        /// `SecurityToken` (kept secret): the AuthHeader value, the bearer
        /// token, or the API key of `UrlParameter`.
        security_token => "SecurityToken";
        /// `Password` (kept secret): the password of `Basic` authentication.
        password => "Password";
    }

    /// `ColumnDiscoverySampleSize`: rows a sampled table's schema is
    /// inferred from (`Sample`, and model-file tables without columns):
    /// pages are read as the table pages until this many rows, at least the
    /// first page (default [`DEFAULT_SAMPLE_ROWS`](crate::DEFAULT_SAMPLE_ROWS)).
    pub fn column_discovery_sample_size(mut self, rows: usize) -> Self {
        self.props
            .set("ColumnDiscoverySampleSize", rows.to_string());
        self
    }

    /// `UnsampledFieldPolicy`: what a scan that outputs whole rows does with
    /// a field first holding a value beyond the sample (default
    /// [`Error`](UnsampledFieldPolicy::Error)).
    pub fn unsampled_field_policy(mut self, policy: UnsampledFieldPolicy) -> Self {
        self.props.set("UnsampledFieldPolicy", policy.to_string());
        self
    }

    /// `ClientCredentialsMode`: where the client credentials go in the token
    /// request (the DataDirect default, [`All`](ClientCredentialsMode::All),
    /// unless set).
    pub fn client_credentials_mode(mut self, mode: ClientCredentialsMode) -> Self {
        self.props.set("ClientCredentialsMode", mode.to_string());
        self
    }

    /// `WSTimeout`: request timeout in seconds; 0 for none (default 120).
    pub fn ws_timeout(mut self, seconds: u64) -> Self {
        self.props.set("WSTimeout", seconds.to_string());
        self
    }

    /// `MaxConcurrentRequests`: page requests of one scan in flight at once
    /// (default 4); 1 reads one page after another.
    pub fn max_concurrent_requests(mut self, n: usize) -> Self {
        self.props.set("MaxConcurrentRequests", n.to_string());
        self
    }

    /// `ScanPartitions`: the most partitions one scan splits into (default
    /// the number of cores, at most `MaxConcurrentRequests`).
    pub fn scan_partitions(mut self, n: usize) -> Self {
        self.props.set("ScanPartitions", n.to_string());
        self
    }

    /// `MaxRetries`: how many times a throttled (429/503) or, for GETs, a
    /// failed (502/504, reset connection) request is retried (default 5).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.props.set("MaxRetries", retries.to_string());
        self
    }

    /// The HTTP client for API requests, in place of one built from
    /// WSTimeout: to share a connection pool or set proxies and TLS roots.
    /// Its own timeouts apply; WSTimeout is then ignored.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Sends API and token requests through `service` (pages from memory,
    /// a transport of your own) instead of the HTTP client; scope checks,
    /// authorization, retries, status rules, limits and paging stay
    /// connectkit's
    /// ([`ApiClient::with_service`](connectkit_core::client::ApiClient::with_service)).
    pub fn http_service(mut self, service: Arc<dyn HttpService>) -> Self {
        self.service = Some(service);
        self
    }

    /// The properties set so far (secrets stay secret).
    pub fn properties(&self) -> &Properties {
        &self.props
    }

    /// Checks the properties and builds the connector. Model files are read
    /// now; endpoints are first contacted by [`Connector::tables`].
    pub fn build(self) -> Result<AutoRestConnector> {
        let mut props = self.props;
        props.validate(&catalogue())?;
        AutoRestConnector::with_client(&props, self.client, self.service)
    }
}

impl fmt::Debug for AutoRestDataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AutoRestDataSource")
            .field("properties", &self.props)
            .finish()
    }
}
