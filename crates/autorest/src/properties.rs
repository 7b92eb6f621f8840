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
        "None, OAuth2-RefreshToken, OAuth2-ClientCredentials, OAuth2-JWTBearer (the JWT bearer grant: JWTCertStore with ClaimsIssuer, or a service-account key file), OAuth2 (the refresh token grant when RefreshToken or TokenFile is set; the JWT bearer grant when ClaimsIssuer is set, or JWTCertStore without ClientID; else client credentials), HttpHeader, BearerToken, Basic or UrlParameter.",
    )
    .default_value("None"),
    PropertySpec::new("WSTimeout", "Request timeout in seconds; 0 for none.").default_value("120"),
    PropertySpec::new(
        "ColumnDiscoverySampleSize",
        "Rows a sampled table's schema is inferred from (Sample, and model-file tables without columns): pages are read, as the table pages, until this many rows; at least the first page. The pages read are reused by the first scan.",
    )
    .default_value("20480"),
    PropertySpec::new(
        "UnsampledFieldPolicy",
        "What a scan of a sampled table does with a field that first holds a value beyond the sample, when the scan would output it (no projection): Error (stop, naming the ColumnDiscoverySampleSize that covers it) or Ignore (leave it out, with one warning). Projections and aggregates that do not need it leave it out with one warning either way.",
    )
    .default_value("Error"),
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
