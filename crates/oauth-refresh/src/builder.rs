//! [`RefreshTokenFlowBuilder`]: configuration from code or from connection
//! properties, checked once at `build`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use connectkit_core::client::{HostNameInCertificate, HttpService, ProxySettings, TrustStore};
use connectkit_core::{StaticHeaderAuth, TokenInfo};
use secrecy::SecretString;
use url::Url;

use crate::RetryConfig;
use crate::assertion::{ClientAssertion, JwtBearer};
use crate::config::{ClientCredentialsMode, TokenForm, TokenMethod, TokenUri};
use crate::error::Error;
use crate::flow::RefreshTokenFlow;
use crate::grant::GrantType;
use crate::refresh::{Inner, State, TokenCallback};
use crate::service_account::ServiceAccountKey;
use crate::signing_key::SigningKey;
use crate::store::{MemoryStore, TokenStore};

/// Builds a [`RefreshTokenFlow`]. Setter names mirror the DataDirect properties.
#[derive(Default)]
pub struct RefreshTokenFlowBuilder {
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<SecretString>,
    pub(crate) refresh_token: Option<SecretString>,
    pub(crate) access_token: Option<SecretString>,
    pub(crate) token_uri: Option<TokenUri>,
    /// TokenURI carried an explicit `GET ` or `POST ` prefix.
    pub(crate) method_explicit: bool,
    pub(crate) scope: Option<String>,
    /// `None`: left at the default (All), which allows the default-form fallback.
    pub(crate) mode: Option<ClientCredentialsMode>,
    pub(crate) auth_header: Option<StaticHeaderAuth>,
    pub(crate) security_token: Option<SecretString>,
    pub(crate) force_post: bool,
    pub(crate) skew: Option<Duration>,
    /// `None`: [`RetryConfig::token_endpoint`].
    pub(crate) retry: Option<RetryConfig>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) refresh_timeout: Option<Duration>,
    pub(crate) allow_insecure_http: bool,
    pub(crate) store: Option<Arc<dyn TokenStore>>,
    pub(crate) on_change: Option<TokenCallback>,
    pub(crate) client: Option<reqwest::Client>,
    pub(crate) service: Option<Arc<dyn HttpService>>,
    pub(crate) proxy: Option<ProxySettings>,
    pub(crate) trust_store: Option<TrustStore>,
    pub(crate) host_name_in_certificate: Option<HostNameInCertificate>,
    pub(crate) grant_type: GrantType,
    /// The client authenticates with a signed JWT instead of its secret.
    pub(crate) client_assertion: Option<ClientAssertion>,
    /// The JWT bearer grant's key and claims.
    pub(crate) jwt_bearer: Option<JwtBearer>,
    /// ClaimsAudience: the `aud` of the JWT bearer grant's assertion.
    pub(crate) claims_audience: Option<String>,
    /// The connection-property layer's defaults (the vendor's): GET without
    /// a prefix, ClientCredentialsMode All, and the default-form fallback.
    pub(crate) vendor_defaults: bool,
    /// `authorize`: without a prefix or ClientCredentialsMode, the token
    /// requests start as RFC 6749 says (POST, `client_secret_basic`); the
    /// vendor's default form belongs to the refresh grant.
    pub(crate) rfc_form_first: bool,
}

impl RefreshTokenFlow {
    /// A builder with the defaults.
    pub fn builder() -> RefreshTokenFlowBuilder {
        RefreshTokenFlowBuilder::new()
    }
}

impl RefreshTokenFlowBuilder {
    /// A builder with RFC 6749's defaults: the token request is a POST with
    /// a form body (section 3.2) and the client authenticates with HTTP
    /// Basic (`client_secret_basic`, section 2.3.1); 60 s skew
    /// (at most half a token's lifetime), 3 retries, 10 s connect and 30 s
    /// read timeouts, 30 s per token request and 90 s per refresh in total.
    pub fn new() -> Self {
        Self {
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(30)),
            // TokenRequestTimeout and TokenRefreshTimeout: the catalogue's.
            request_timeout: crate::config::default_timeout("TokenRequestTimeout"),
            refresh_timeout: crate::config::default_timeout("TokenRefreshTimeout"),
            ..Self::default()
        }
    }

    /// Which grant renews the access token (default: the refresh token grant).
    pub fn grant_type(mut self, grant: GrantType) -> Self {
        self.grant_type = grant;
        self
    }

    /// Authenticates the client with a JWT signed by its private key
    /// (`private_key_jwt`, RFC 7523 section 2.2: a certificate credential,
    /// as Microsoft Entra calls it) instead of a client secret: `iss` and
    /// `sub` are the ClientID, `aud` the token endpoint, with a fresh `jti`
    /// and a five-minute `exp` for every request; the header carries `kid`,
    /// `x5t` and `x5t#S256` where the key has them. The token request is
    /// always a POST.
    pub fn private_key_jwt(mut self, key: SigningKey) -> Self {
        self.client_assertion = Some(ClientAssertion::PrivateKey(key));
        self
    }

    /// Authenticates the client with a JWT signed by HS256 with its
    /// ClientSecret (`client_secret_jwt`) instead of sending the secret.
    pub fn client_secret_jwt(mut self) -> Self {
        self.client_assertion = Some(ClientAssertion::ClientSecret);
        self
    }

    /// The JWT bearer grant (RFC 7523 section 2.1) with an assertion
    /// signed by `key`: `iss` = `issuer` (ClaimsIssuer), `sub` = `subject`
    /// (ClaimsSubject, omitted when `None`), `aud` = the token endpoint
    /// (or [`claims_audience`](Self::claims_audience)), `scope` = Scope.
    /// No refresh token, client ID or secret is needed; a ClientSecret, if
    /// given, authenticates the client as usual.
    pub fn jwt_bearer(
        mut self,
        key: SigningKey,
        issuer: impl Into<String>,
        subject: Option<String>,
    ) -> Self {
        self.grant_type = GrantType::JwtBearer;
        self.jwt_bearer = Some(JwtBearer {
            key,
            issuer: issuer.into(),
            subject,
            audience: None,
        });
        self
    }

    /// The JWT bearer grant for a service account's key file: the issuer
    /// is its `client_email`, the key's `kid` its `private_key_id`, and its
    /// `token_uri` is the token endpoint unless one is set.
    pub fn service_account(
        mut self,
        account: ServiceAccountKey,
        subject: Option<String>,
    ) -> Result<Self, Error> {
        if self.token_uri.is_none() {
            let uri = account
                .token_uri
                .clone()
                .ok_or_else(|| Error::MissingProperty {
                    property: "TokenURI".into(),
                })?;
            self = self.token_url(Url::parse(&uri).map_err(|e| {
                Error::config(
                    "JWTCertStore",
                    format!("a service-account key file whose token_uri is an absolute URL ({e})"),
                )
            })?);
        }
        Ok(self.jwt_bearer(account.key, account.client_email, subject))
    }

    /// `ClaimsAudience`: the `aud` of the JWT bearer grant's assertion
    /// (default: the token endpoint).
    pub fn claims_audience(mut self, audience: impl Into<String>) -> Self {
        self.claims_audience = Some(audience.into());
        self
    }

    /// `ClientID`.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// `ClientSecret`.
    pub fn client_secret(mut self, secret: impl Into<SecretString>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// `RefreshToken`: used when the token store holds none.
    pub fn refresh_token(mut self, token: impl Into<SecretString>) -> Self {
        self.refresh_token = Some(token.into());
        self
    }

    /// `AccessToken`: an initial access token, used until rejected.
    pub fn access_token(mut self, token: impl Into<SecretString>) -> Self {
        self.access_token = Some(token.into());
        self
    }

    /// `TokenURI`: `[GET |POST ]<url>`, prefix case-insensitive; without a
    /// prefix the request is a POST. (Read from connection properties by
    /// [`from_properties`](Self::from_properties), a TokenURI without prefix
    /// means the DataDirect default instead: GET, with a fallback to POST
    /// forms when the endpoint refuses it.)
    pub fn token_uri(mut self, uri: &str) -> Result<Self, Error> {
        self.token_uri = Some(uri.parse()?);
        self.method_explicit = uri.trim().split_once(char::is_whitespace).is_some();
        Ok(self)
    }

    /// The token endpoint, POSTed to: [`token_uri`](Self::token_uri) for a
    /// parsed URL.
    pub fn token_url(mut self, url: Url) -> Self {
        self.token_uri = Some(TokenUri {
            method: TokenMethod::Post,
            url,
        });
        self.method_explicit = true;
        self
    }

    /// The request-form defaults of DataDirect's connection properties, for
    /// endpoints configured as the DataDirect drivers expect: a TokenURI
    /// without prefix is a GET with the parameters in the query, the client
    /// credentials go both in a Basic header and in the parameters
    /// (ClientCredentialsMode All), and while neither is set explicitly an
    /// endpoint that refuses that form is retried with POST forms (the form
    /// that worked is kept). [`from_properties`](Self::from_properties)
    /// applies them.
    pub fn datadirect_defaults(mut self) -> Self {
        self.vendor_defaults = true;
        self
    }

    /// `Scope`: a space-separated list, sent as given.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// `ClientCredentialsMode`: where the client credentials go (default
    /// [`Basic`](ClientCredentialsMode::Basic); with connection properties,
    /// the DataDirect default `All`). Setting it, even to `All`, turns the
    /// default-form fallback off: an explicit choice is never overridden.
    pub fn client_credentials_mode(mut self, mode: ClientCredentialsMode) -> Self {
        self.mode = Some(mode);
        self
    }

    /// `AuthHeader` and `SecurityToken`: an extra header for every API request.
    pub fn auth_header(
        mut self,
        name: &str,
        value: impl Into<SecretString>,
    ) -> Result<Self, Error> {
        let value = value.into();
        self.auth_header = Some(
            StaticHeaderAuth::new(name, value.clone())
                .map_err(|e| Error::config("AuthHeader", e.to_string()))?,
        );
        self.security_token = Some(value);
        Ok(self)
    }

    /// Always POST the token request, whatever TokenURI's prefix (Dynamics 365).
    pub fn force_post(mut self, yes: bool) -> Self {
        self.force_post = yes;
        self
    }

    /// Refresh when less than this is left of the token's life (default 60 s).
    pub fn expiry_skew(mut self, skew: Duration) -> Self {
        self.skew = Some(skew);
        self
    }

    /// How often and after how long the token request is retried on 429
    /// and 5xx (default [`RetryConfig::token_endpoint`]: 3 retries, backoff
    /// from 100 ms with jitter, waits of at most 30 s). Its `timeout` bounds
    /// the retries of one token request; [`refresh_timeout`](Self::refresh_timeout)
    /// bounds a whole refresh.
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Connect timeout of the token request (`None`: no limit).
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Read timeout of the token request (`None`: no limit).
    pub fn read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// The longest one token request may take, connect to last body byte,
    /// however slowly the server drips its answer (default 30 s; `None`: no limit).
    pub fn token_request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The longest a refresh may take across its retries and request forms
    /// (default 90 s; `None`: no limit). Callers waiting on it wait no longer.
    pub fn refresh_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.refresh_timeout = timeout;
        self
    }

    /// Allows a plain-http TokenURI on a non-loopback host (tests and labs only).
    pub fn allow_insecure_http(mut self, yes: bool) -> Self {
        self.allow_insecure_http = yes;
        self
    }

    /// Where refresh tokens are loaded from and saved to (default: memory).
    pub fn token_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Called with every new token set (after a rotated refresh token is saved).
    pub fn on_token_change(mut self, f: impl Fn(&TokenInfo) + Send + Sync + 'static) -> Self {
        self.on_change = Some(Arc::new(f));
        self
    }

    /// CA certificates the token request trusts beside the operating
    /// system's (TrustStore). Ignored when [`http_client`](Self::http_client)
    /// gives the client.
    pub fn trust_store(mut self, store: TrustStore) -> Self {
        self.trust_store = Some(store);
        self
    }

    /// The name the token endpoint's certificate must hold instead of
    /// TokenURI's host (HostNameInCertificate). Ignored when
    /// [`http_client`](Self::http_client) gives a client.
    pub fn host_name_in_certificate(mut self, name: HostNameInCertificate) -> Self {
        self.host_name_in_certificate = Some(name);
        self
    }

    /// The forward proxy token requests go through (ProxyHost and its
    /// companions); without one, the environment's (`HTTPS_PROXY`, ...).
    /// Ignored when [`http_client`](Self::http_client) gives the client.
    pub fn proxy(mut self, proxy: ProxySettings) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// The HTTP client for token requests. The default follows no redirects,
    /// so client credentials never reach another host.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Sends token requests through `service` (a transport of your own,
    /// answers from memory) instead of the HTTP client, which still builds
    /// them. Retries, timeouts, body limits and the handling of every answer
    /// stay the flow's. The service must follow no redirect, so that client
    /// credentials never reach another host.
    pub fn http_service(mut self, service: Arc<dyn HttpService>) -> Self {
        self.service = Some(service);
        self
    }

    /// Checks the configuration and builds the flow.
    pub fn build(self) -> Result<RefreshTokenFlow, Error> {
        let mut uri = self.token_uri.ok_or_else(|| Error::MissingProperty {
            property: "TokenURI".into(),
        })?;
        // Without a RefreshToken the store must supply one (checked when a
        // token is first needed, once the store has been read).
        let refresh_token = match (self.grant_type, self.refresh_token, &self.store) {
            (GrantType::RefreshToken, Some(t), _) => t,
            (GrantType::RefreshToken, None, Some(_))
            | (GrantType::ClientCredentials | GrantType::JwtBearer, _, _) => {
                SecretString::from(String::new())
            }
            (GrantType::RefreshToken, None, None) => {
                return Err(Error::MissingProperty {
                    property: "RefreshToken".into(),
                });
            }
        };
        let private_key = matches!(self.client_assertion, Some(ClientAssertion::PrivateKey(_)));
        if self.grant_type == GrantType::ClientCredentials
            && self.client_secret.is_none()
            && !private_key
        {
            return Err(Error::MissingProperty {
                property: "ClientSecret".into(),
            });
        }
        if matches!(self.client_assertion, Some(ClientAssertion::ClientSecret))
            && self.client_secret.is_none()
        {
            return Err(Error::MissingProperty {
                property: "ClientSecret".into(),
            });
        }
        if self.client_assertion.is_some() && self.client_id.is_none() {
            return Err(Error::MissingProperty {
                property: "ClientID".into(),
            });
        }
        let jwt_bearer = match (self.grant_type, self.jwt_bearer) {
            (GrantType::JwtBearer, None) => {
                return Err(Error::MissingProperty {
                    property: "JWTCertStore".into(),
                });
            }
            (_, Some(mut j)) => {
                if let Some(aud) = self.claims_audience {
                    j.audience = Some(aud);
                }
                Some(j)
            }
            (_, None) => None,
        };
        // A signed JWT (the client assertion, or the grant itself) goes in
        // a POST body, never in a URL where servers log it; no other form
        // is tried.
        let signs = self.client_assertion.is_some() || self.grant_type == GrantType::JwtBearer;
        if self.force_post
            || ((!self.vendor_defaults || self.rfc_form_first) && !self.method_explicit)
        {
            uri.method = TokenMethod::Post;
        }
        // A defaulted ClientCredentialsMode falls back under a defaulted
        // method or an explicit `POST ` prefix; an explicit GET stays GET.
        let fallback = self.vendor_defaults
            && !self.force_post
            && self.mode.is_none()
            && (!self.method_explicit || uri.method == TokenMethod::Post);
        let fallback = fallback && !signs;
        if signs {
            uri.method = TokenMethod::Post;
        }
        let default_mode = if self.vendor_defaults && !self.rfc_form_first {
            ClientCredentialsMode::All
        } else {
            ClientCredentialsMode::Basic
        };
        let mode = self.mode.unwrap_or(default_mode);
        if uri.url.scheme() == "http" && !uri.is_loopback() && !self.allow_insecure_http {
            return Err(Error::config(
                "TokenURI",
                "an https URL (plain http is allowed only on loopback hosts)",
            ));
        }
        if mode == ClientCredentialsMode::Post && uri.method == TokenMethod::Get {
            return Err(Error::config(
                "ClientCredentialsMode and TokenURI",
                "ClientCredentialsMode=Post needs a POST token request: prefix TokenURI with `POST `",
            ));
        }
        // Without a secret the client does not authenticate: the JWT
        // bearer grant needs no ClientID then.
        let authenticates = self.client_secret.is_some() || self.client_assertion.is_some();
        if mode != ClientCredentialsMode::Url
            && mode != ClientCredentialsMode::Post
            && self.client_id.is_none()
            && (self.grant_type != GrantType::JwtBearer || authenticates)
        {
            return Err(Error::MissingProperty {
                property: "ClientID".into(),
            });
        }
        if let Some(h) = &self.auth_header
            && h.header_name() == reqwest::header::AUTHORIZATION
        {
            return Err(Error::config(
                "AuthHeader",
                "a header other than Authorization, which carries the grant's bearer token",
            ));
        }
        let client = match self.client {
            Some(c) => c,
            None => {
                let tls = connectkit_core::client::tls_settings(
                    self.trust_store.as_ref(),
                    self.host_name_in_certificate.clone(),
                )
                .map_err(|e| Error::config("TokenURI", e.to_string()))?;
                let mut b = reqwest::Client::builder()
                    .tls_backend_preconfigured(tls)
                    .redirect(reqwest::redirect::Policy::none());
                if let Some(t) = self.connect_timeout {
                    b = b.connect_timeout(t);
                }
                if let Some(t) = self.read_timeout {
                    b = b.read_timeout(t);
                }
                if let Some(p) = &self.proxy {
                    b = p.apply(b).map_err(Error::from)?;
                }
                b.build().map_err(|e| {
                    Error::config("TokenURI", format!("cannot build an HTTP client: {e}"))
                })?
            }
        };
        let form = TokenForm {
            method: uri.method,
            mode,
        };
        let service = match self.service {
            Some(s) => s,
            None => Arc::new(client.clone()),
        };
        Ok(RefreshTokenFlow::from_inner(Inner {
            client,
            service,
            uri,
            fallback,
            client_id: self.client_id,
            client_secret: self.client_secret,
            client_assertion: self.client_assertion,
            jwt_bearer,
            security_token: self.security_token,
            scope: self.scope,
            extra_header: self.auth_header,
            skew: self.skew.unwrap_or(Duration::from_secs(60)),
            retry: self.retry.unwrap_or_else(RetryConfig::token_endpoint),
            request_timeout: self.request_timeout,
            refresh_timeout: self.refresh_timeout,
            store: match self.grant_type {
                GrantType::RefreshToken => self.store,
                GrantType::ClientCredentials | GrantType::JwtBearer => None,
            }
            .unwrap_or_else(|| Arc::new(MemoryStore::new())),
            on_change: self.on_change,
            proxy_password: self.proxy.as_ref().and_then(|p| p.password.clone()),
            initial_access_token: self
                .access_token
                .filter(|_| self.grant_type == GrantType::RefreshToken),
            configured_refresh_token: refresh_token.clone(),
            grant_type: self.grant_type,
            state: tokio::sync::Mutex::new(State::new(refresh_token, form)),
            loaded: tokio::sync::OnceCell::new(),
            cache: Default::default(),
        }))
    }
}

impl fmt::Debug for RefreshTokenFlowBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTokenFlowBuilder")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "***"))
            .field(
                "token_uri",
                &self.token_uri.as_ref().map(ToString::to_string),
            )
            .field("scope", &self.scope)
            .field("mode", &self.mode)
            .field("grant_type", &self.grant_type)
            .field("client_assertion", &self.client_assertion)
            .field("jwt_bearer", &self.jwt_bearer)
            .finish_non_exhaustive()
    }
}
