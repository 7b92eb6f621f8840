//! The errors of this crate, each naming the property, key, table, column or
//! URL at fault, and never a secret.

use connectkit_core::{Error, ErrorKind};

/// What went wrong in the Autonomous REST connector.
///
/// Converted into [`connectkit_core::Error::Connector`] with the matching
/// [`ErrorKind`]; get it back with [`connectkit_core::Error::downcast_ref`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AutoRestError {
    /// Config and Sample were both given, or neither.
    #[error("set exactly one of Config and Sample ({0})")]
    ConfigAndSample(&'static str),
    /// AuthenticationMethod has a value this connector does not support.
    #[error(
        "property AuthenticationMethod: unsupported value {0:?}; supported: None, OAuth2-RefreshToken, OAuth2-ClientCredentials, OAuth2-JWTBearer, OAuth2, HttpHeader, BearerToken, Basic, UrlParameter"
    )]
    UnsupportedAuthMethod(String),
    /// A property this authentication method needs is absent.
    #[error("AuthenticationMethod {method} needs property {property}")]
    MissingAuthProperty {
        /// The authentication method.
        method: String,
        /// The missing property.
        property: &'static str,
    },
    /// The model file could not be read.
    #[error("model file {path}: cannot read it")]
    ModelRead {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The model file is not valid JSON or YAML.
    #[error("model file {path}: not valid {format}: {message}")]
    ModelSyntax {
        /// The file.
        path: String,
        /// `JSON` or `YAML`.
        format: &'static str,
        /// The parser's message.
        message: String,
    },
    /// A key of the model file is unknown (a typo, most likely).
    #[error("model file: unknown key {key} in {table}{}", suggestion.as_ref().map(|s| format!(" (did you mean {s}?)")).unwrap_or_default())]
    UnknownModelKey {
        /// The key as written.
        key: String,
        /// The table, or `the top level`.
        table: String,
        /// The closest known key.
        suggestion: Option<String>,
    },
    /// The model file holds a credential, which belongs in the connection properties.
    #[error(
        "model file: key {key} in {table} holds a credential; client ids, secrets and tokens belong in the connection properties, not in the model file"
    )]
    SecretInModel {
        /// The key as written.
        key: String,
        /// The table, or `the top level`.
        table: String,
    },
    /// A value in the model file is not acceptable.
    #[error("model file: {table}: key {key}: {message}")]
    ModelValue {
        /// The table, or `the top level`.
        table: String,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A `{name}` input of a table's path or body that neither a filter nor
    /// a `#default` supplies.
    #[error(
        "table {table}: the request needs input {{{input}}}: add WHERE {column} = <value> to the query, or a #default to column {column} in the model file"
    )]
    MissingInput {
        /// The table.
        table: String,
        /// The input's name, as in the path or body.
        input: String,
        /// The column whose filter supplies it.
        column: String,
    },
    /// No endpoint of a table's `#path` array has its `{inputs}` supplied.
    #[error("table {table}: no endpoint of its #path has all its inputs in the query: {endpoints}")]
    NoEndpoint {
        /// The table.
        table: String,
        /// Each endpoint and the filters that would supply its inputs.
        endpoints: String,
    },
    /// A URL (Sample, `#path`, a next link) is not valid.
    #[error("invalid URL {url:?}: {message}")]
    Url {
        /// The URL, without its query string.
        url: String,
        /// Why.
        message: String,
    },
    /// A page could not be read in full (too large, or the connection failed).
    #[error("GET {url}: {message}")]
    Page {
        /// The page URL, without its query.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A page is not JSON (an HTML error page, a truncated body).
    #[error("{url}: the response is not JSON ({message}){}", excerpt.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
    NotJson {
        /// The URL, without its query string.
        url: String,
        /// The parser's message, or the content type.
        message: String,
        /// The start of the body.
        excerpt: Option<String>,
    },
    /// The response has no rows where the table expects them.
    #[error("{url}: no rows at {path}")]
    NoRows {
        /// The URL, without its query string.
        url: String,
        /// The expected element.
        path: String,
    },
    /// A value does not fit its column's type (for a sampled table: a later
    /// page holds a value of another type than the sample did).
    #[error(
        "table {table}, column {column}, row {row}{}: expected {sql_type}, found {found}: {value}",
        page_note(page)
    )]
    Cast {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The row, counting from 1 in the scan.
        row: usize,
        /// The value, shortened.
        value: String,
        /// What the value is.
        found: JsonKind,
        /// The declared type.
        sql_type: crate::SqlType,
        /// The path of the page's URL (never its query string), once known.
        page: Option<String>,
    },
    /// A `#notNull` or key column is null.
    #[error(
        "table {table}, column {column}, row {row}{}: null in a not-null column",
        page_note(page)
    )]
    NullValue {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The row, counting from 1 in the scan.
        row: usize,
        /// The path of the page's URL (never its query string), once known.
        page: Option<String>,
    },
    /// A sampled table's page holds a field the sample did not, and the
    /// scan would output it: the scan stops rather than drop the field's
    /// values unseen (`UnsampledFieldPolicy=Error`, the default).
    #[error(
        "table {table}: field {field} first holds a value in page {page} ({path}, row {row} of the page) and is not in the sampled schema; the scan stops rather than drop it: set ColumnDiscoverySampleSize={sample_size} (or more) to sample it, UnsampledFieldPolicy=Ignore to leave it out, or select only the columns you need"
    )]
    NewField {
        /// The table.
        table: String,
        /// The field, as the column it would be (`_`-joined path).
        field: String,
        /// The page, counting from 1.
        page: u64,
        /// The row within the page, counting from 1.
        row: usize,
        /// The page URL's path (never its query).
        path: String,
        /// The smallest `ColumnDiscoverySampleSize` whose sample reads this page.
        sample_size: u64,
    },
    /// Building a record batch failed.
    #[error("table {table}: {message}")]
    Arrow {
        /// The table.
        table: String,
        /// Arrow's message.
        message: String,
    },
}

impl AutoRestError {
    /// For [`AutoRestError::NewField`], the field and where it was found,
    /// without what the scan does about it (for the warning of a scan that
    /// leaves it out).
    pub(crate) fn unsampled_field(&self) -> String {
        match self {
            AutoRestError::NewField {
                table,
                field,
                page,
                row,
                path,
                sample_size,
            } => format!(
                "table {table}: field {field} first holds a value in page {page} ({path}, row {row} of the page) and is not in the sampled schema (ColumnDiscoverySampleSize={sample_size} would sample it)"
            ),
            other => other.to_string(),
        }
    }

    /// The broad classification used by [`connectkit_core::Error`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            AutoRestError::ConfigAndSample(_)
            | AutoRestError::UnsupportedAuthMethod(_)
            | AutoRestError::MissingAuthProperty { .. }
            | AutoRestError::ModelSyntax { .. }
            | AutoRestError::UnknownModelKey { .. }
            | AutoRestError::SecretInModel { .. }
            | AutoRestError::ModelValue { .. }
            | AutoRestError::MissingInput { .. }
            | AutoRestError::NoEndpoint { .. }
            | AutoRestError::Url { .. } => ErrorKind::Config,
            AutoRestError::ModelRead { .. } => ErrorKind::Io,
            AutoRestError::NotJson { .. }
            | AutoRestError::NoRows { .. }
            | AutoRestError::Cast { .. }
            | AutoRestError::NullValue { .. }
            | AutoRestError::NewField { .. } => ErrorKind::Protocol,
            _ => ErrorKind::Api,
        }
    }
}

/// The kind of a JSON value, for messages about a value of the wrong type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonKind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Boolean,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl JsonKind {
    /// The kind of `v`.
    pub fn of(v: &serde_json::Value) -> Self {
        use serde_json::Value;
        match v {
            Value::Null => Self::Null,
            Value::Bool(_) => Self::Boolean,
            Value::Number(_) => Self::Number,
            Value::String(_) => Self::String,
            Value::Array(_) => Self::Array,
            Value::Object(_) => Self::Object,
        }
    }
}

impl std::fmt::Display for JsonKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Null => "null",
            Self::Boolean => "a boolean",
            Self::Number => "a number",
            Self::String => "a string",
            Self::Array => "an array",
            Self::Object => "an object",
        })
    }
}

impl AutoRestError {
    /// The error with the page it was found in, for errors about a value:
    /// the page URL's path only, since a query string may carry a token.
    pub fn at_page(mut self, url: &url::Url) -> Self {
        if let AutoRestError::Cast { page, .. } | AutoRestError::NullValue { page, .. } = &mut self
        {
            *page = Some(url.path().to_owned());
        }
        self
    }
}

fn page_note(page: &Option<String>) -> String {
    page.as_ref()
        .map(|p| format!(" (page {p})"))
        .unwrap_or_default()
}

impl AutoRestError {
    /// A stable, machine-readable code (`autorest.model_value`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            AutoRestError::ConfigAndSample(_) => "autorest.config_and_sample",
            // One code for a bad or missing property whichever crate finds it.
            AutoRestError::UnsupportedAuthMethod(_) => "config.invalid_property",
            AutoRestError::MissingAuthProperty { .. } => "config.missing_property",
            AutoRestError::ModelRead { .. } => "autorest.model_read",
            AutoRestError::ModelSyntax { .. } => "autorest.model_syntax",
            AutoRestError::UnknownModelKey { .. } => "autorest.unknown_model_key",
            AutoRestError::SecretInModel { .. } => "autorest.secret_in_model",
            AutoRestError::ModelValue { .. } => "autorest.model_value",
            AutoRestError::MissingInput { .. } | AutoRestError::NoEndpoint { .. } => {
                "autorest.missing_input"
            }
            AutoRestError::Url { .. } => "autorest.url",
            AutoRestError::Page { .. } => "autorest.page",
            AutoRestError::NotJson { .. } => "autorest.not_json",
            AutoRestError::NoRows { .. } => "autorest.no_rows",
            AutoRestError::Cast { .. } => "autorest.cast",
            AutoRestError::NullValue { .. } => "autorest.null_value",
            AutoRestError::Arrow { .. } => "autorest.arrow",
            AutoRestError::NewField { .. } => "autorest.new_field",
        }
    }
}

impl From<AutoRestError> for Error {
    fn from(e: AutoRestError) -> Self {
        Error::coded(e.kind(), e.code(), e)
    }
}

pub(crate) use connectkit_core::client::display_url;

/// The error for a URL that does not parse, shown without its query string.
pub(crate) fn url_err(url: &str, e: url::ParseError) -> Error {
    let shown = url.split('?').next().unwrap_or(url).to_owned();
    AutoRestError::Url {
        url: shown,
        message: e.to_string(),
    }
    .into()
}

/// The start of a body for messages; `None` when it is blank.
pub(crate) fn excerpt(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    (!text.trim().is_empty()).then(|| connectkit_core::client::excerpt(&text, 120))
}
