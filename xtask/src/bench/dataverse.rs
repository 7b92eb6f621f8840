//! What the benchmarks' Dataverse mocks serve alike: the Web API root, the
//! token endpoint, the service document and the `$metadata` of an
//! `accounts` entity set.

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;

use super::server::{json, respond};

/// The Web API root of the mocks.
pub(super) const ROOT: &str = "/api/data/v9.2/";

/// The CSDL of the `accounts` entity set: an `account` keyed by the GUID
/// `accountid`, with `properties` (name, EDM type) after it.
pub(super) fn csdl(properties: &[(&str, &str)]) -> Bytes {
    let properties: String = properties
        .iter()
        .map(|(name, edm)| format!("\n        <Property Name=\"{name}\" Type=\"{edm}\"/>"))
        .collect();
    Bytes::from(format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="account">
        <Key><PropertyRef Name="accountid"/></Key>
        <Property Name="accountid" Type="Edm.Guid" Nullable="false"/>{properties}
      </EntityType>
      <EntityContainer Name="System">
        <EntitySet Name="accounts" EntityType="Microsoft.Dynamics.CRM.account"/>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"#
    ))
}

/// The answer to a request every mock answers alike (a token, the service
/// document, `csdl` as `$metadata`); `None` for the mock's own paths.
pub(super) fn common(path: &str, csdl: &Bytes) -> Option<Response<Full<Bytes>>> {
    if path == "/token" {
        return Some(json(
            r#"{"access_token":"bench-access","token_type":"Bearer","expires_in":3600}"#,
        ));
    }
    if path == ROOT {
        return Some(json(
            r#"{"value":[{"name":"accounts","kind":"EntitySet","url":"accounts"}]}"#,
        ));
    }
    let metadata = path.strip_prefix(ROOT).is_some_and(|p| p == "$metadata");
    metadata.then(|| respond(http::StatusCode::OK, "application/xml", csdl.clone()))
}
