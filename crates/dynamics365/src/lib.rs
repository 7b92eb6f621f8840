//! Microsoft Dynamics 365 (the Dataverse Web API, OData v4) as connectkit
//! tables, authorized by the OAuth 2.0 refresh token grant, with the
//! behaviour of the DataDirect Dynamics 365 connector.
//!
//! ```
//! use connectkit_core::{Connector, Filter, FilterOp, ScanRequest};
//! use connectkit_dynamics365::Dynamics365DataSource;
//! use futures::TryStreamExt;
//! # use serde_json::json;
//! # use wiremock::{Mock, MockServer, ResponseTemplate, matchers::{method, path}};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), connectkit_core::Error> {
//! # // A token endpoint and a Dataverse Web API with one table, on 127.0.0.1.
//! # let server = MockServer::builder().start().await;
//! # let ok = |body| ResponseTemplate::new(200).set_body_json(body);
//! # Mock::given(method("POST")).and(path("/token")).respond_with(ok(json!(
//! #     {"access_token": "at-1", "token_type": "Bearer", "expires_in": 3600}))).mount(&server).await;
//! # Mock::given(path("/api/data/v9.2/")).respond_with(ok(json!(
//! #     {"value": [{"name": "accounts", "kind": "EntitySet", "url": "accounts"}]}))).mount(&server).await;
//! # Mock::given(path("/api/data/v9.2/$metadata")).respond_with(ResponseTemplate::new(200).set_body_raw(r#"
//! #   <edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>
//! #   <Schema Namespace="Microsoft.Dynamics.CRM" xmlns="http://docs.oasis-open.org/odata/ns/edm">
//! #   <EntityType Name="account"><Key><PropertyRef Name="accountid"/></Key>
//! #     <Property Name="accountid" Type="Edm.Guid"/><Property Name="name" Type="Edm.String"/>
//! #     <Property Name="revenue" Type="Edm.Money"/></EntityType>
//! #   <EntityContainer Name="System"><EntitySet Name="accounts" EntityType="Microsoft.Dynamics.CRM.account"/>
//! #   </EntityContainer></Schema></edmx:DataServices></edmx:Edmx>"#, "application/xml")).mount(&server).await;
//! # Mock::given(path("/api/data/v9.2/accounts")).respond_with(ok(json!({"value": [
//! #     {"accountid": "a0000000-0000-0000-0000-000000000001", "name": "Contoso", "revenue": 1000.5}]})))
//! #     .mount(&server).await;
//! // In production: https://<org>.api.crm.dynamics.com/api/data/v9.2/ and
//! // https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token.
//! let connector = Dynamics365DataSource::new()
//!     .service_url(format!("{}/api/data/v9.2/", server.uri()))
//!     .client_id("29453d6f-6789-25gh-gd8g-44tk3c527831")
//!     .client_secret("my-client-secret")
//!     .token_uri(format!("{}/token", server.uri()))
//!     .refresh_token("my-refresh-token")
//!     .build()?;
//!
//! for table in connector.tables().await? {
//!     println!("{}", table.name);
//! }
//! let request = ScanRequest::new()
//!     .with_projection(["accountid", "name", "revenue"])
//!     .with_filter(Filter::new("name", FilterOp::Eq, "Contoso"))
//!     .with_limit(100);
//! let scan = connector.scan("accounts", request).await?;
//! let batches: Vec<_> = scan.batches.try_collect().await?;
//! assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
//! # // The filter and the limit went to the server.
//! # let sent = server.received_requests().await.unwrap();
//! # let query = sent.iter().find(|r| r.url.path().ends_with("/accounts")).unwrap().url.query_pairs();
//! # let query: Vec<_> = query.map(|(k, v)| format!("{k}={v}")).collect();
//! # assert!(query.contains(&"$filter=name eq 'Contoso'".to_owned()), "{query:?}");
//! # Ok(()) }
//! ```
//!
//! The same connector comes from a connection URL through the registry:
//! `jdbc:datadirect:dynamics365:ServiceURL=...;ClientID=...;ClientSecret=...;TokenURI=...;RefreshToken=...;`
//! (see [`register`]).
//!
//! # Behaviour
//!
//! - **Authentication**: `AuthenticationMethod=OAuth2` (the default and only
//!   value), the refresh token grant of `connectkit-oauth-refresh`. The token
//!   request is always a POST whose form body carries the client credentials
//!   (`ClientCredentialsMode=Post` unless given). Scope defaults to
//!   [`default_scope`]. A 401 from the API makes the grant refresh once and
//!   the request is retried once; a second 401 is an
//!   [`ErrorKind::Auth`] error.
//! - **Headers**: every request carries `OData-Version: 4.0` and
//!   `OData-MaxVersion: 4.0`; data requests carry `Accept: application/json`
//!   and scans `Prefer: odata.maxpagesize=<PageSize>` (default 5000). The
//!   `$metadata` request asks for `Accept: application/xml`, because the
//!   connector reads CSDL XML and an OData 4.01 server could otherwise answer
//!   with JSON CSDL.
//! - **Tables**: the entity sets of the service document (`GET ServiceURL`).
//!   A table is named by its entity set name (`accounts`) or its entity's
//!   logical name (`account`), in any case.
//! - **`$metadata` cache**: a customized organization's CSDL is 4–30+ MB.
//!   With `MetadataCache=true` (the default) a document the server sent with
//!   an `ETag` or `Last-Modified` is kept in `MetadataCacheDir` (default
//!   `<user cache dir>/connectkit/dynamics365-metadata`, e.g.
//!   `~/.cache/connectkit/dynamics365-metadata` on Linux), one file per
//!   ServiceURL, written atomically (a temporary file renamed over the old
//!   one). The next connector sends `If-None-Match`/`If-Modified-Since` and
//!   reads the file on `304 Not Modified`; a `200` replaces it. Without a
//!   validator nothing is stored; a cache that cannot be read or written is
//!   skipped with a warning. `MetadataCache=false` always downloads.
//! - **Schemas**: from `$metadata`, fetched once per connector and cached.
//!   Navigation properties are not columns; inherited properties come first.
//!   Key properties are non-nullable and carry [`KEY_METADATA_KEY`]`="true"`
//!   in their field metadata; every field carries its OData type under
//!   [`TYPE_METADATA_KEY`].
//! - **Scans**: `GET <set>?$select=..&$filter=..&$top=..`, then
//!   `@odata.nextLink` until it is absent, one record batch per page.
//!   `@odata.*` annotations in rows are ignored. With a limit, no page after
//!   the one that reaches it is requested.
//! - **Small limits are small**: Dataverse ignores `$top` when
//!   `Prefer: odata.maxpagesize` is also sent, so a limit of at most
//!   PageSize rows is sent as `$top=N` *without* a page size (one response
//!   of at most N rows); a larger limit is paged without `$top`, each page
//!   asking for `odata.maxpagesize=min(PageSize, rows still wanted)`. Should
//!   a server page a `$top` request anyway, its next pages also ask for no
//!   more than the rows still wanted. A next link that repeats a page
//!   already read, or leaves the ServiceURL's origin, ends the scan with an
//!   error after the batches read so far.
//! - **Filters**: `eq ne gt ge lt le` on strings (single-quoted, quotes
//!   doubled), numbers and decimals, booleans (`eq`/`ne`), GUIDs, dates and
//!   timestamps; `eq null`/`ne null` on any column; `in (...)`,
//!   `startswith(...)`, `contains(...)`; and AND/OR of those (parenthesised;
//!   an AND keeps the operands OData can say) are pushed into `$filter`.
//!   String comparisons, `ne` on a nullable column and a partly pushed AND
//!   are inexact (the server compares strings case-insensitively, and `ne`
//!   keeps nulls): they are pushed *and* returned in
//!   [`Scan::unapplied_filters`](connectkit_core::Scan::unapplied_filters),
//!   as is any filter not pushed. [`odata_query`] shows the query options a
//!   request becomes.
//! - **Counting**: [`Connector::count`]
//!   is `GET <set>/$count` (`Accept: text/plain`). Dataverse counts "up to
//!   5,000", so a count of [`COUNT_CAP`] or more is no answer (`None`) and
//!   SQL's `count(*)` falls back to a scan of the key column.
//! - **Throttling**: 429 and 503 are retried after `Retry-After` (seconds or
//!   an HTTP date; 1 s doubling when absent; at most 5 minutes), at most 5
//!   times by default ([`Dynamics365DataSource::max_retries`]).
//! - **Errors**: OData error bodies become [`ApiError`](connectkit_core::client::ApiError)s with
//!   the code and message; every error converts into
//!   [`connectkit_core::Error`] with its [`ErrorKind`].
//!   No secret ever appears in an error, `Debug` output or a log.
//!
//! # Labels
//!
//! With `IncludeFormattedValues=true` (the name CData's drivers use; off by
//! default, so plain scans stay lean) a table gets *label columns* beside
//! its value columns, filled from the annotations Dataverse sends when asked
//! with `Prefer: odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname"`:
//!
//! | column | labels |
//! |---|---|
//! | choice, status, status reason, yes/no `c` | `c_label` (`Utf8`): the localized label |
//! | lookup, customer, owner `_x_value` | `_x_value_label` (`Utf8`): the related row's primary name; `_x_value_entity` (`Utf8`): its table's logical name (`systemuser`, `team`, ...) |
//! | multi-select choice `c` | `c` becomes `List<Int32>` (from `"1,9"`); `c_label` is `List<Utf8>` (from `"Hiking; Swimming"`) |
//!
//! Which columns are which is not in `$metadata` (a choice is an
//! `Edm.Int32`, a multi-select choice an `Edm.String`): the table's
//! attribute definitions are read once per connector,
//! `GET EntityDefinitions(LogicalName='<name>')/Attributes?$select=LogicalName,AttributeType,AttributeTypeName`.
//! Label fields carry [`ANNOTATES_METADATA_KEY`] (the property they label).
//! A label column can be projected (its property is selected) but never
//! filters on the server. A label whose name a property already has is
//! left out.
//!
//! # Changes
//!
//! [`Dynamics365Connector::changes`] reads a table through Dataverse change
//! tracking. Without a token the first request carries
//! `Prefer: odata.track-changes` and returns every row; the last page's
//! `@odata.deltaLink` holds the `$deltatoken` that
//! [`Changes::finish`] returns. With a token, `GET <set>?$deltatoken=<token>`
//! returns the rows created or updated since (as batches, page by page) and
//! the ids of deleted rows (`$deletedEntity` entries), and the next token;
//! an answer without a delta link keeps the token given. A table whose
//! change tracking is off (no delta link, or the server saying so) is a
//! [`Dynamics365Error::ChangeTrackingNotEnabled`] naming the table. The
//! `connectkit changes` command prints the same.
//!
//! # Partitions
//!
//! [`Connector::partitions`] splits a scan without a limit into at
//! most `ScanPartitions` ranges of `createdon` (or of `PartitionColumn`: an
//! integer, `Edm.Date` or `Edm.DateTimeOffset` column), each read by
//! [`Connector::scan_partition`] as its own `@odata.nextLink` chain with
//! `$filter=(<filter>) and (<range>)`. The bounds come from two one-row
//! requests (`$orderby=<col> asc|desc&$top=1`, among the rows the filters
//! select, nulls excluded); the ranges are half-open, the first unbounded
//! below and holding the nulls, the last unbounded above, so each row is in
//! exactly one whatever the bounds. Why `createdon` (set once, never
//! updated) and not `versionnumber` or the key: see the README. The ranges
//! share `MaxConcurrentRequests` and the one HTTP client, whose throttling
//! (AIMD on 429/503, `Retry-After` for every request) holds for all. A
//! server that refuses the bounds requests (`Api` or `Protocol` errors)
//! gives one partition and a warning.
//!
//! # Types
//!
//! | OData | Arrow |
//! |---|---|
//! | `Edm.String`, `Edm.Guid`, `Edm.Duration` | `Utf8` |
//! | `Edm.Boolean` | `Boolean` |
//! | `Edm.Byte`, `Edm.SByte`, `Edm.Int16`, `Edm.Int32`, `Edm.Int64` | `UInt8`, `Int8`, `Int16`, `Int32`, `Int64` |
//! | `Edm.Single`, `Edm.Double` | `Float32`, `Float64` |
//! | `Edm.Decimal` | `Decimal128(p, s)` |
//! | `Edm.Money` | `Decimal128(19, 4)` |
//! | `Edm.DateTimeOffset` | `Timestamp(Microsecond, "UTC")` |
//! | `Edm.Date` | `Date32` |
//! | `Edm.TimeOfDay` | `Time64(Microsecond)` |
//! | `Edm.Binary` | `Binary` (from base64url) |
//! | anything else (enums, complex types, collections) | `Utf8`: the string, or the value's JSON text |
//!
//! **Decimals are `Decimal128`, not `Float64`**: Dataverse money and decimal
//! columns are exact, and so are the connector's values (numbers are decoded
//! from their JSON text, never through a float). `Precision` and a numeric
//! `Scale` are kept (precision capped at 38); `Scale="Variable"` or no Scale
//! gives `Decimal128(38, 10)`, 10 being the most decimal places Dataverse
//! allows ([`VARIABLE_DECIMAL_SCALE`]). Digits beyond the scale are rounded
//! half away from zero; a value too large for the precision is an error.

mod cache;
mod changes;
mod connector;
mod decode;
mod error;
mod http;
mod labels;
mod metadata;
mod odata;
mod page;
mod partition;
mod scan;
mod service_url;
mod source;
mod types;

pub use changes::{ChangeSummary, Changes};
// What a user of this connector needs from the other crates, so one
// dependency is enough to connect, scan and match errors.
pub use connectkit_core::{Connector, Error, ErrorKind, Report, ScanRequest};
// Where the client credentials go in the token request.
pub use connectkit_oauth_refresh::ClientCredentialsMode;
pub use connector::{COUNT_CAP, Dynamics365Connector, schemas_from_csdl};
pub use error::Dynamics365Error;
pub use labels::{ENTITY_SUFFIX, LABEL_SUFFIX};
pub use odata::{odata_query, odata_request};
pub use service_url::default_scope;
pub use source::{
    DEFAULT_PAGE_SIZE, DEFAULT_WS_TIMEOUT, Dynamics365DataSource, SUBPROTOCOL, catalogue,
    grant_defaults, register,
};
pub use types::{
    ANNOTATES_METADATA_KEY, KEY_METADATA_KEY, TYPE_METADATA_KEY, VARIABLE_DECIMAL_SCALE,
};
