//! The properties an `autorest` connection accepts: the catalogue every
//! part of the connector reads defaults from, and the registry validates
//! connection URLs against.

use connectkit_core::PropertySpec;
use connectkit_oauth_refresh::connector_catalogue;

/// The properties of this connector beyond the common and grant ones.
const OWN_PROPERTIES: &[PropertySpec] = &[
    PropertySpec::new("Config", "Path of a model file (.rest JSON, or YAML)."),
    PropertySpec::new("Sample", "An endpoint URL to sample for one table."),
    PropertySpec::new("Table", "The name of the sampled table."),
    PropertySpec::new(
        "AuthenticationMethod",
        "None, OAuth2-RefreshToken, OAuth2-ClientCredentials, OAuth2 (the refresh token grant when RefreshToken or TokenFile is set, else client credentials), HttpHeader, BearerToken, Basic or UrlParameter.",
    )
    .default_value("None"),
    PropertySpec::new("WSTimeout", "Request timeout in seconds; 0 for none.").default_value("120"),
    PropertySpec::new(
        "ColumnDiscoverySampleSize",
        "Rows a sampled endpoint's schema is inferred from: pages are read (following next links) until this many rows; at least the first page (the default).",
    )
    .default_value("1"),
    PropertySpec::new(
        "ServerName",
        "Base URL that relative model-file paths join.",
    ),
    PropertySpec::new("User", "The user name of AuthenticationMethod=Basic."),
    PropertySpec::new("Password", "The password of AuthenticationMethod=Basic.").secret(),
    PropertySpec::new(
        "AuthParam",
        "The query parameter that carries SecurityToken (AuthenticationMethod=UrlParameter).",
    ),
];

/// Every property the `autorest` subprotocol accepts: the common ones, the
/// refresh token grant's, and Config, Sample, Table, AuthenticationMethod,
/// WSTimeout and ServerName.
pub fn catalogue() -> Vec<PropertySpec> {
    connector_catalogue(OWN_PROPERTIES)
}
