//! The property catalogue a connector on these grants starts from.

use connectkit_core::PropertySpec;

use crate::authorize::AUTHORIZE_PROPERTIES;
use crate::config::GRANT_PROPERTIES;
use crate::credentials::CREDENTIAL_PROPERTIES;

/// The catalogue of a connector that authenticates with these grants: the
/// common properties, the grants' (with [`CREDENTIAL_PROPERTIES`]) and `authorize`'s, the connector's
/// `own`, and the shared HTTP layer's (retries, paging, proxy, TLS trust),
/// in that order.
pub fn connector_catalogue(own: &[PropertySpec]) -> Vec<PropertySpec> {
    connectkit_core::COMMON_PROPERTIES
        .iter()
        .chain(GRANT_PROPERTIES)
        .chain(CREDENTIAL_PROPERTIES)
        .chain(AUTHORIZE_PROPERTIES)
        .chain(own)
        .chain(connectkit_core::CLIENT_PROPERTIES)
        .copied()
        .collect()
}
