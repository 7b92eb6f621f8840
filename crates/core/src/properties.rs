//! Connection properties: case-insensitive names, secret values kept as
//! [`SecretString`] from parse time, and per-connector catalogues.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};

mod typed;
pub use typed::{TypedProperties, WholeNumber};

/// Property names whose values are secrets wherever they appear, whatever the
/// connector: they are stored as [`SecretString`] the moment they are parsed.
pub const SECRET_PROPERTIES: &[&str] = &[
    "ClientSecret",
    "RefreshToken",
    "AccessToken",
    "SecurityToken",
    "Password",
    "ProxyPassword",
    "JWTCertPassword",
];

/// Whether `name` (any case) is one of [`SECRET_PROPERTIES`].
pub fn is_secret_name(name: &str) -> bool {
    SECRET_PROPERTIES
        .iter()
        .any(|s| s.eq_ignore_ascii_case(name))
}

/// One property value: plain text, or a secret that never prints.
#[derive(Clone)]
pub enum PropertyValue {
    /// A value that may be shown in messages.
    Plain(String),
    /// A secret; `Debug` and `Display` print `***`.
    Secret(SecretString),
}

impl PropertyValue {
    /// Builds a value, secret when `name` is a secret property.
    pub fn for_name(name: &str, value: String) -> Self {
        if is_secret_name(name) {
            PropertyValue::Secret(SecretString::from(value))
        } else {
            PropertyValue::Plain(value)
        }
    }

    /// The plain text, or `None` for a secret.
    pub fn as_plain(&self) -> Option<&str> {
        match self {
            PropertyValue::Plain(s) => Some(s),
            PropertyValue::Secret(_) => None,
        }
    }

    /// The value as a secret (plain values are wrapped).
    pub fn to_secret(&self) -> SecretString {
        match self {
            PropertyValue::Plain(s) => SecretString::from(s.clone()),
            PropertyValue::Secret(s) => s.clone(),
        }
    }

    /// Whether the value is a secret.
    pub fn is_secret(&self) -> bool {
        matches!(self, PropertyValue::Secret(_))
    }

    /// The raw text, secret or not. Use only to send it where it belongs.
    pub fn expose(&self) -> &str {
        match self {
            PropertyValue::Plain(s) => s,
            PropertyValue::Secret(s) => s.expose_secret(),
        }
    }

    fn is_empty(&self) -> bool {
        self.expose().trim().is_empty()
    }
}

impl fmt::Debug for PropertyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropertyValue::Plain(s) => fmt::Debug::fmt(s, f),
            PropertyValue::Secret(_) => f.write_str("***"),
        }
    }
}

impl fmt::Display for PropertyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropertyValue::Plain(s) => f.write_str(s),
            PropertyValue::Secret(_) => f.write_str("***"),
        }
    }
}

/// An ordered set of properties whose names compare case-insensitively.
///
/// Names keep the spelling they were given until [`Properties::validate`]
/// replaces it with the catalogue's canonical spelling.
#[derive(Clone, Default)]
pub struct Properties {
    entries: Vec<(String, PropertyValue)>,
}

impl Properties {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case(name))
    }

    /// Adds a property; an existing one with the same name (any case) is an error.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) -> Result<()> {
        let name = name.into();
        let value = PropertyValue::for_name(&name, value.into());
        self.insert_value(name, value)
    }

    /// Adds a property with an already-built value.
    pub fn insert_value(&mut self, name: impl Into<String>, value: PropertyValue) -> Result<()> {
        let name = name.into();
        if self.position(&name).is_some() {
            return Err(Error::DuplicateProperty { name });
        }
        self.entries.push((name, value));
        Ok(())
    }

    /// Sets a property, replacing any value it had.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = PropertyValue::for_name(&name, value.into());
        match self.position(&name) {
            Some(i) => self.entries[i] = (name, value),
            None => self.entries.push((name, value)),
        }
    }

    /// Sets `name` to a secret, replacing any earlier value: the one way
    /// a builder stores a credential, which never exists as plain text here.
    pub fn set_secret(&mut self, name: impl Into<String>, value: SecretString) {
        let name = name.into();
        let value = PropertyValue::Secret(value);
        match self.position(&name) {
            Some(i) => self.entries[i] = (name, value),
            None => self.entries.push((name, value)),
        }
    }

    /// The value of `name` (any case).
    pub fn get(&self, name: &str) -> Option<&PropertyValue> {
        self.position(name).map(|i| &self.entries[i].1)
    }

    /// The text of a non-secret property (secrets give `None`; use [`Properties::secret`]).
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(PropertyValue::as_plain)
    }

    /// The value of `name` as a secret, whatever its kind.
    pub fn secret(&self, name: &str) -> Option<SecretString> {
        self.get(name).map(PropertyValue::to_secret)
    }

    /// Removes a property and returns its value.
    pub fn remove(&mut self, name: &str) -> Option<PropertyValue> {
        self.position(name).map(|i| self.entries.remove(i).1)
    }

    /// Whether `name` (any case) is present.
    pub fn contains(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// The properties in order, with their names as currently spelled.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &PropertyValue)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of properties.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks the properties against a connector's catalogue: unknown names
    /// (with the closest known one), missing required ones and empty values
    /// are errors. Names take the catalogue's spelling; secret properties of
    /// the catalogue become secrets; defaults are not filled in.
    pub fn validate(&mut self, catalogue: &[PropertySpec]) -> Result<()> {
        for (name, value) in &mut self.entries {
            let Some(spec) = catalogue.iter().find(|s| s.name.eq_ignore_ascii_case(name)) else {
                return Err(Error::UnknownProperty {
                    suggestion: closest(name, catalogue),
                    name: name.clone(),
                });
            };
            *name = spec.name.to_owned();
            if spec.secret && !value.is_secret() {
                *value = PropertyValue::Secret(value.to_secret());
            }
            if !spec.allow_empty && value.is_empty() {
                return Err(Error::EmptyValue { name: name.clone() });
            }
        }
        if let Some(spec) = catalogue
            .iter()
            .find(|s| s.required && !self.contains(s.name))
        {
            return Err(Error::MissingProperty {
                name: spec.name.to_owned(),
            });
        }
        Ok(())
    }
}

fn closest(name: &str, catalogue: &[PropertySpec]) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    catalogue
        .iter()
        .map(|s| {
            (
                strsim::jaro_winkler(&lower, &s.name.to_ascii_lowercase()),
                s.name,
            )
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n.to_owned())
}

impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl fmt::Display for Properties {
    /// `Name=value;...` with secrets as `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in &self.entries {
            match value {
                PropertyValue::Secret(_) => write!(f, "{name}=***;")?,
                PropertyValue::Plain(s) => write!(f, "{name}={};", quote_if_needed(s))?,
            }
        }
        Ok(())
    }
}

/// Quotes a value for a connection URL when it would not survive unquoted.
pub(crate) fn quote_if_needed(value: &str) -> std::borrow::Cow<'_, str> {
    let needs = value.is_empty()
        || value.contains([';', '\'', '"', '\n', '\r'])
        // An unquoted `{` opens the DataDirect brace escape.
        || value.starts_with('{')
        || value.starts_with(char::is_whitespace)
        || value.ends_with(char::is_whitespace);
    if needs {
        format!("'{}'", value.replace('\'', "''")).into()
    } else {
        value.into()
    }
}

/// One property a connector accepts: the catalogue entry `core` validates against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropertySpec {
    /// Canonical spelling, e.g. `ClientSecret`.
    pub name: &'static str,
    /// Whether a connection must give it.
    pub required: bool,
    /// The value used when it is absent, if any: the one default, read by
    /// [`Properties::typed`].
    pub default: Option<&'static str>,
    /// Whether its value is a secret.
    pub secret: bool,
    /// Whether an empty value is acceptable.
    pub allow_empty: bool,
    /// One line saying what it means.
    pub doc: &'static str,
}

impl PropertySpec {
    /// An optional, non-secret property with no default.
    pub const fn new(name: &'static str, doc: &'static str) -> Self {
        Self {
            name,
            required: false,
            default: None,
            secret: false,
            allow_empty: false,
            doc,
        }
    }

    /// Marks it required.
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Marks it secret.
    pub const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// Gives it a default.
    pub const fn default_value(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }

    /// Allows an empty value.
    pub const fn allow_empty(mut self) -> Self {
        self.allow_empty = true;
        self
    }
}

/// Properties every connector accepts.
pub const COMMON_PROPERTIES: &[PropertySpec] =
    &[PropertySpec::new("Description", "Free text describing the data source.").allow_empty()];

/// The properties of the shared HTTP layer, accepted by every connector with
/// the same names and meaning (see [`RetryConfig`](crate::client::RetryConfig)
/// and `PagingLimits`).
pub const CLIENT_PROPERTIES: &[PropertySpec] = &[
    PropertySpec::new(
        "MaxRetries",
        "Retries of a throttled (429, 503) or failed-in-transit request.",
    )
    .default_value("5"),
    PropertySpec::new(
        "MaxRetryWait",
        "The longest single wait before a retry, in seconds, Retry-After included.",
    )
    .default_value("300"),
    PropertySpec::new(
        "RetryTimeout",
        "The most time spent on one request across its retries, in seconds.",
    )
    .default_value("600"),
    PropertySpec::new(
        "MaxEmptyPages",
        "Consecutive empty pages with a next link before a scan fails.",
    )
    .default_value("3"),
    PropertySpec::new("MaxPages", "The most pages one scan reads before it fails.")
        .default_value("1000000"),
    PropertySpec::new(
        "MaxConcurrentRequests",
        "The most page requests of one scan in flight at once (1 reads one page after another).",
    )
    .default_value("4"),
    PropertySpec::new(
        "ScanPartitions",
        "The most independent partitions one scan splits into, read in parallel where the source allows an exact split; default: the number of cores, at most MaxConcurrentRequests.",
    ),
    PropertySpec::new(
        "ProxyHost",
        "The forward proxy every request goes through (a host name, or an http URL); without it HTTPS_PROXY, HTTP_PROXY and NO_PROXY apply.",
    ),
    PropertySpec::new(
        "ProxyPort",
        "The proxy's port (with a ProxyHost host name).",
    ),
    PropertySpec::new(
        "ProxyUser",
        "The user for the proxy's Basic authentication.",
    ),
    PropertySpec::new(
        "ProxyPassword",
        "The password for the proxy's Basic authentication.",
    )
    .secret(),
    PropertySpec::new(
        "TrustStore",
        "A PEM file of CA certificates trusted beside the operating system's (a private CA, a TLS-inspecting proxy's).",
    ),
    PropertySpec::new(
        "ValidateServerCertificate",
        "Only true is accepted: the server is always authenticated (use TrustStore for private CAs).",
    )
    .default_value("true"),
    PropertySpec::new(
        "HostNameInCertificate",
        "The host name the server's certificate must hold, when it is not the URL's host.",
    ),
    PropertySpec::new(
        "ConnectTimeout",
        "connectkit extension: seconds connecting may take (TCP, the proxy, the TLS handshake) for API and token requests; 0 for none.",
    )
    .default_value("30"),
];
